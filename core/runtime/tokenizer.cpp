#include "tokenizer.h"

#include "error.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonValue>
#include <QRegularExpression>

#include <algorithm>
#include <array>
#include <cstdint>
#include <mutex>
#include <queue>
#include <string>
#include <unordered_map>

namespace rs {

// ------------------------------------------------------------------------------------------------
// Tokenizer

Tokenizer::~Tokenizer() = default;

std::vector<int> Tokenizer::encode(const QString &text, bool addBos) const
{
    std::vector<int> ids;
    if (addBos) {
        const int bos = bosId();
        if (bos < 0)
            throw Error(source(), QStringLiteral("no BOS token is known (the model config should name it)"));
        ids.push_back(bos);
    }
    const std::vector<int> body = encodeText(text);
    ids.insert(ids.end(), body.begin(), body.end());
    return ids;
}

bool Tokenizer::setBosToken(const QString &token)
{
    const int id = tokenToId(token);
    if (id < 0)
        return false;
    m_bosId = id;
    return true;
}

namespace {

// ------------------------------------------------------------------------------------------------
// Small helpers

inline int utf8Length(unsigned char lead)
{
    if (lead < 0x80) return 1;
    if ((lead >> 5) == 0x6) return 2;
    if ((lead >> 4) == 0xE) return 3;
    if ((lead >> 3) == 0x1E) return 4;
    return 1;
}

// Strict UTF-8 validation (what Rust's String::from_utf8 accepts).
bool isValidUtf8(const std::string &s)
{
    size_t i = 0;
    const size_t n = s.size();
    while (i < n) {
        const unsigned char c = s[i];
        if (c < 0x80) { ++i; continue; }
        int len;
        uint32_t cp;
        if ((c >> 5) == 0x6) { len = 2; cp = c & 0x1F; }
        else if ((c >> 4) == 0xE) { len = 3; cp = c & 0x0F; }
        else if ((c >> 3) == 0x1E) { len = 4; cp = c & 0x07; }
        else return false;
        if (i + len > n) return false;
        for (int k = 1; k < len; ++k) {
            const unsigned char cc = s[i + k];
            if ((cc >> 6) != 0x2) return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return false;
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += len;
    }
    return true;
}

// Rust's String::from_utf8_lossy: each maximal invalid subsequence becomes one U+FFFD (Qt's
// decoder writes one per byte of a truncated sequence).
QString fromUtf8Lossy(const QByteArray &bytes)
{
    const std::string s(bytes.constData(), size_t(bytes.size()));
    if (isValidUtf8(s))
        return QString::fromUtf8(bytes);
    QString out;
    out.reserve(bytes.size());
    const size_t n = s.size();
    size_t i = 0;
    auto cont = [&](size_t k, unsigned lo, unsigned hi) {
        return k < n && uchar(s[k]) >= lo && uchar(s[k]) <= hi;
    };
    while (i < n) {
        const unsigned c = uchar(s[i]);
        if (c < 0x80) { out += QChar(char16_t(c)); ++i; continue; }
        int need;
        unsigned lo = 0x80, hi = 0xBF;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) { need = 1; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2; cp = c & 0x0F;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3; cp = c & 0x07;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            out += QChar(0xFFFD);
            ++i;
            continue;
        }
        size_t k = i + 1;
        bool ok = true;
        for (int j = 0; j < need; ++j, ++k) {
            if (!cont(k, j == 0 ? lo : 0x80, j == 0 ? hi : 0xBF)) { ok = false; break; }
            cp = (cp << 6) | (uchar(s[k]) & 0x3F);
        }
        if (!ok) {
            out += QChar(0xFFFD);
            i = k;   // resume at the byte that broke the sequence
            continue;
        }
        if (cp >= 0x10000) {
            out += QChar(QChar::highSurrogate(cp));
            out += QChar(QChar::lowSurrogate(cp));
        } else {
            out += QChar(char16_t(cp));
        }
        i = k;
    }
    return out;
}

inline std::string toStd(const QString &s)
{
    const QByteArray u = s.toUtf8();
    return std::string(u.constData(), size_t(u.size()));
}

// "<0xE6>": the byte-fallback token of a byte.
QString byteTokenName(int b)
{
    return QStringLiteral("<0x%1>").arg(QString::number(b, 16).toUpper().rightJustified(2, QLatin1Char('0')));
}

inline QString fromStd(const std::string &s) { return QString::fromUtf8(s.data(), qsizetype(s.size())); }

// The GPT-2 byte <-> unicode table: printable bytes map to themselves, the others to U+0100…
struct ByteMap {
    std::array<char16_t, 256> toChar{};
    std::array<int, 0x144> toByte{};
    ByteMap()
    {
        toByte.fill(-1);
        std::array<bool, 256> direct{};
        for (int b = '!'; b <= '~'; ++b) direct[b] = true;
        for (int b = 0xA1; b <= 0xAC; ++b) direct[b] = true;
        for (int b = 0xAE; b <= 0xFF; ++b) direct[b] = true;
        int n = 0;
        for (int b = 0; b < 256; ++b) {
            const int c = direct[b] ? b : 256 + n++;
            toChar[b] = char16_t(c);
            toByte[c] = b;
        }
    }
    int byteOf(QChar c) const { return c.unicode() < toByte.size() ? toByte[c.unicode()] : -1; }
};

const ByteMap &byteMap()
{
    static const ByteMap map;
    return map;
}

QString byteLevelMap(const QString &s)
{
    const QByteArray utf8 = s.toUtf8();
    QString out(utf8.size(), Qt::Uninitialized);
    QChar *o = out.data();
    const ByteMap &m = byteMap();
    for (qsizetype i = 0; i < utf8.size(); ++i)
        o[i] = QChar(m.toChar[uchar(utf8[i])]);
    return out;
}

// Oniguruma (what `tokenizers` uses) treats U+0085 as \s; PCRE2 with UCP does not. Rewrite \s and
// \S so both engines agree; everything else in the patterns tokenizers use is common syntax.
QString onigToPcre(const QString &p)
{
    QString out;
    out.reserve(p.size() + 32);
    int depth = 0;
    for (qsizetype i = 0; i < p.size(); ++i) {
        const QChar c = p[i];
        if (c == QLatin1Char('\\') && i + 1 < p.size()) {
            const QChar n = p[i + 1];
            ++i;
            if (n == QLatin1Char('s')) {
                out += depth > 0 ? QStringLiteral("\\s\\x{85}") : QStringLiteral("[\\s\\x{85}]");
                continue;
            }
            if (n == QLatin1Char('S') && depth == 0) {
                out += QStringLiteral("[^\\s\\x{85}]");
                continue;
            }
            out += c;
            out += n;
            continue;
        }
        if (c == QLatin1Char('[')) {
            ++depth;
            out += c;
            if (depth == 1) {   // a leading ^ and a leading ] are literal parts of the class
                if (i + 1 < p.size() && p[i + 1] == QLatin1Char('^')) { out += p[++i]; }
                if (i + 1 < p.size() && p[i + 1] == QLatin1Char(']')) { out += p[++i]; }
            }
            continue;
        }
        if (c == QLatin1Char(']') && depth > 0)
            --depth;
        out += c;
    }
    return out;
}

QRegularExpression compileRegex(const QString &pattern, const QString &source, const QString &where)
{
    QRegularExpression re(onigToPcre(pattern), QRegularExpression::UseUnicodePropertiesOption);
    if (!re.isValid())
        throw Error(source, QStringLiteral("%1: invalid regex \"%2\": %3").arg(where, pattern, re.errorString()));
    re.optimize();
    return re;
}

// ------------------------------------------------------------------------------------------------
// Splitting, as tokenizers' NormalizedString::split does it

struct Span {
    qsizetype start, end;
    bool match;
};

enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

std::vector<Span> regexSpans(const QRegularExpression &re, const QString &s)
{
    std::vector<Span> spans;
    if (s.isEmpty())
        return spans;
    qsizetype prev = 0;
    QRegularExpressionMatchIterator it = re.globalMatch(s);
    while (it.hasNext()) {
        const QRegularExpressionMatch m = it.next();
        const qsizetype a = m.capturedStart(), b = m.capturedEnd();
        if (prev != a)
            spans.push_back({prev, a, false});
        spans.push_back({a, b, true});
        prev = b;
    }
    if (prev != s.size())
        spans.push_back({prev, s.size(), false});
    return spans;
}

// Each code point for which `pred` holds is its own match.
template <typename Pred>
std::vector<Span> charSpans(const QString &s, Pred pred)
{
    std::vector<Span> spans;
    qsizetype last = 0;
    qsizetype i = 0;
    while (i < s.size()) {
        char32_t cp = s[i].unicode();
        qsizetype len = 1;
        if (s[i].isHighSurrogate() && i + 1 < s.size() && s[i + 1].isLowSurrogate()) {
            cp = QChar::surrogateToUcs4(s[i], s[i + 1]);
            len = 2;
        }
        if (pred(cp)) {
            if (last < i)
                spans.push_back({last, i, false});
            spans.push_back({i, i + len, true});
            last = i + len;
        }
        i += len;
    }
    if (i > last)
        spans.push_back({last, i, false});
    return spans;
}

std::vector<std::pair<qsizetype, qsizetype>> applyBehavior(std::vector<Span> spans, SplitBehavior behavior, bool invert)
{
    if (invert)
        for (Span &s : spans) s.match = !s.match;
    std::vector<std::pair<qsizetype, qsizetype>> out;
    out.reserve(spans.size());
    switch (behavior) {
    case SplitBehavior::Isolated:
        for (const Span &s : spans) out.emplace_back(s.start, s.end);
        break;
    case SplitBehavior::Removed:
        for (const Span &s : spans)
            if (!s.match) out.emplace_back(s.start, s.end);
        break;
    case SplitBehavior::MergedWithPrevious: {
        bool previousMatch = false;
        for (const Span &s : spans) {
            if (s.match && !previousMatch && !out.empty())
                out.back().second = s.end;
            else
                out.emplace_back(s.start, s.end);
            previousMatch = s.match;
        }
        break;
    }
    case SplitBehavior::MergedWithNext: {
        bool previousMatch = false;
        for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
            if (it->match && !previousMatch && !out.empty())
                out.back().first = it->start;
            else
                out.emplace_back(it->start, it->end);
            previousMatch = it->match;
        }
        std::reverse(out.begin(), out.end());
        break;
    }
    case SplitBehavior::Contiguous: {
        bool previousMatch = false;
        for (const Span &s : spans) {
            if (s.match == previousMatch && !out.empty())
                out.back().second = s.end;
            else
                out.emplace_back(s.start, s.end);
            previousMatch = s.match;
        }
        break;
    }
    }
    return out;
}

struct Piece {
    QString text;
    bool atStart = false;   // begins at offset 0 of the original input
};

void splitInto(std::vector<Piece> &out, const Piece &piece, const std::vector<Span> &spans, SplitBehavior behavior,
               bool invert = false)
{
    for (const auto &[a, b] : applyBehavior(spans, behavior, invert)) {
        if (b <= a)
            continue;
        out.push_back({piece.text.mid(a, b - a), piece.atStart && a == 0});
    }
}

// ------------------------------------------------------------------------------------------------
// JSON access

QString typeOf(const QJsonObject &o) { return o.value(QLatin1String("type")).toString(); }

struct Pattern {
    bool isRegex = false;
    QString literal;
    QRegularExpression re;
};

Pattern readPattern(const QJsonValue &v, const QString &source, const QString &where)
{
    const QJsonObject o = v.toObject();
    Pattern p;
    if (o.contains(QLatin1String("String"))) {
        p.literal = o.value(QLatin1String("String")).toString();
        p.re = QRegularExpression(QRegularExpression::escape(p.literal), QRegularExpression::UseUnicodePropertiesOption);
    } else if (o.contains(QLatin1String("Regex"))) {
        p.isRegex = true;
        p.re = compileRegex(o.value(QLatin1String("Regex")).toString(), source, where);
    } else {
        throw Error(source, QStringLiteral("%1: the pattern is neither a String nor a Regex").arg(where));
    }
    return p;
}

// ------------------------------------------------------------------------------------------------
// Normalizers

struct Normalizer {
    enum Kind { Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Lowercase } kind = Sequence;
    std::vector<Normalizer> children;
    QString text;      // Prepend: what; Replace: the replacement
    Pattern pattern;   // Replace

    QString apply(QString s) const
    {
        switch (kind) {
        case Sequence:
            for (const Normalizer &n : children) s = n.apply(std::move(s));
            return s;
        case Prepend:
            return s.isEmpty() ? s : text + s;
        case Replace:
            if (!pattern.isRegex)
                return pattern.literal.isEmpty() ? s : s.replace(pattern.literal, text);
            else {
                QString out;
                qsizetype prev = 0;
                QRegularExpressionMatchIterator it = pattern.re.globalMatch(s);
                while (it.hasNext()) {
                    const QRegularExpressionMatch m = it.next();
                    if (m.capturedLength() == 0)
                        continue;
                    out += QStringView(s).mid(prev, m.capturedStart() - prev);
                    out += text;
                    prev = m.capturedEnd();
                }
                out += QStringView(s).mid(prev);
                return out;
            }
        case NFC: return s.normalized(QString::NormalizationForm_C);
        case NFD: return s.normalized(QString::NormalizationForm_D);
        case NFKC: return s.normalized(QString::NormalizationForm_KC);
        case NFKD: return s.normalized(QString::NormalizationForm_KD);
        case Lowercase: return s.toLower();
        }
        return s;
    }
};

Normalizer readNormalizer(const QJsonObject &o, const QString &source)
{
    Normalizer n;
    const QString type = typeOf(o);
    if (type == QLatin1String("Sequence")) {
        n.kind = Normalizer::Sequence;
        for (const QJsonValue &c : o.value(QLatin1String("normalizers")).toArray())
            n.children.push_back(readNormalizer(c.toObject(), source));
    } else if (type == QLatin1String("Prepend")) {
        n.kind = Normalizer::Prepend;
        n.text = o.value(QLatin1String("prepend")).toString();
    } else if (type == QLatin1String("Replace")) {
        n.kind = Normalizer::Replace;
        n.pattern = readPattern(o.value(QLatin1String("pattern")), source, QStringLiteral("Replace normalizer"));
        n.text = o.value(QLatin1String("content")).toString();
    } else if (type == QLatin1String("NFC")) {
        n.kind = Normalizer::NFC;
    } else if (type == QLatin1String("NFD")) {
        n.kind = Normalizer::NFD;
    } else if (type == QLatin1String("NFKC")) {
        n.kind = Normalizer::NFKC;
    } else if (type == QLatin1String("NFKD")) {
        n.kind = Normalizer::NFKD;
    } else if (type == QLatin1String("Lowercase")) {
        n.kind = Normalizer::Lowercase;
    } else {
        throw Error(source, QStringLiteral("unsupported normalizer type \"%1\"").arg(type));
    }
    return n;
}

// ------------------------------------------------------------------------------------------------
// Pre-tokenizers

enum class PrependScheme { Always, First, Never };

PrependScheme readPrependScheme(const QJsonObject &o, const QString &source, const QString &where)
{
    if (o.contains(QLatin1String("prepend_scheme"))) {
        const QString s = o.value(QLatin1String("prepend_scheme")).toString();
        if (s == QLatin1String("always")) return PrependScheme::Always;
        if (s == QLatin1String("first")) return PrependScheme::First;
        if (s == QLatin1String("never")) return PrependScheme::Never;
        throw Error(source, QStringLiteral("%1: unknown prepend_scheme \"%2\"").arg(where, s));
    }
    return o.value(QLatin1String("add_prefix_space")).toBool(true) ? PrependScheme::Always : PrependScheme::Never;
}

const QRegularExpression &gpt2Regex()
{
    static const QRegularExpression re = compileRegex(
        QStringLiteral("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"), QString(),
        QStringLiteral("ByteLevel"));
    return re;
}

struct PreTokenizer {
    enum Kind { Sequence, Split, ByteLevel, Metaspace, Digits } kind = Sequence;
    std::vector<PreTokenizer> children;
    QRegularExpression re;                       // Split
    SplitBehavior behavior = SplitBehavior::Isolated;
    bool invert = false;
    bool addPrefixSpace = false;                 // ByteLevel
    bool useRegex = true;
    QString replacement;                         // Metaspace
    char32_t replacementChar = 0x2581;
    PrependScheme prepend = PrependScheme::Always;
    bool split = true;
    bool individualDigits = false;               // Digits

    bool containsByteLevel() const
    {
        if (kind == ByteLevel) return true;
        for (const PreTokenizer &c : children)
            if (c.containsByteLevel()) return true;
        return false;
    }

    void apply(std::vector<Piece> &pieces) const
    {
        if (kind == Sequence) {
            for (const PreTokenizer &c : children) c.apply(pieces);
            return;
        }
        std::vector<Piece> out;
        out.reserve(pieces.size());
        for (Piece &p : pieces) {
            switch (kind) {
            case Sequence:
                break;
            case Split:
                splitInto(out, p, regexSpans(re, p.text), behavior, invert);
                break;
            case ByteLevel: {
                if (addPrefixSpace && !p.text.startsWith(QLatin1Char(' ')))
                    p.text.prepend(QLatin1Char(' '));
                const size_t first = out.size();
                if (useRegex)
                    splitInto(out, p, regexSpans(gpt2Regex(), p.text), SplitBehavior::Isolated);
                else
                    out.push_back(p);
                for (size_t k = first; k < out.size(); ++k)
                    out[k].text = byteLevelMap(out[k].text);
                break;
            }
            case Metaspace: {
                p.text.replace(QLatin1Char(' '), replacement);
                const bool add = (prepend == PrependScheme::Always || (prepend == PrependScheme::First && p.atStart))
                    && !p.text.startsWith(replacement);
                if (add)
                    p.text.prepend(replacement);
                if (split) {
                    const char32_t r = replacementChar;
                    splitInto(out, p, charSpans(p.text, [r](char32_t c) { return c == r; }),
                              SplitBehavior::MergedWithNext);
                } else if (!p.text.isEmpty()) {
                    out.push_back(p);
                }
                break;
            }
            case Digits:
                splitInto(out, p, charSpans(p.text, [](char32_t c) { return QChar::isNumber(c); }),
                          individualDigits ? SplitBehavior::Isolated : SplitBehavior::Contiguous);
                break;
            }
        }
        pieces = std::move(out);
    }
};

SplitBehavior readBehavior(const QJsonObject &o, const QString &source)
{
    const QString b = o.value(QLatin1String("behavior")).toString();
    if (b == QLatin1String("Isolated")) return SplitBehavior::Isolated;
    if (b == QLatin1String("Removed")) return SplitBehavior::Removed;
    if (b == QLatin1String("MergedWithPrevious")) return SplitBehavior::MergedWithPrevious;
    if (b == QLatin1String("MergedWithNext")) return SplitBehavior::MergedWithNext;
    if (b == QLatin1String("Contiguous")) return SplitBehavior::Contiguous;
    throw Error(source, QStringLiteral("Split pre-tokenizer: unknown behavior \"%1\"").arg(b));
}

PreTokenizer readPreTokenizer(const QJsonObject &o, const QString &source)
{
    PreTokenizer p;
    const QString type = typeOf(o);
    if (type == QLatin1String("Sequence")) {
        p.kind = PreTokenizer::Sequence;
        for (const QJsonValue &c : o.value(QLatin1String("pretokenizers")).toArray())
            p.children.push_back(readPreTokenizer(c.toObject(), source));
    } else if (type == QLatin1String("Split")) {
        p.kind = PreTokenizer::Split;
        p.re = readPattern(o.value(QLatin1String("pattern")), source, QStringLiteral("Split pre-tokenizer")).re;
        p.behavior = readBehavior(o, source);
        p.invert = o.value(QLatin1String("invert")).toBool(false);
    } else if (type == QLatin1String("ByteLevel")) {
        p.kind = PreTokenizer::ByteLevel;
        p.addPrefixSpace = o.value(QLatin1String("add_prefix_space")).toBool(true);
        p.useRegex = o.value(QLatin1String("use_regex")).toBool(true);
    } else if (type == QLatin1String("Metaspace")) {
        p.kind = PreTokenizer::Metaspace;
        p.replacement = o.value(QLatin1String("replacement")).toString(QStringLiteral("\u2581"));
        const QList<uint> ucs4 = p.replacement.toUcs4();
        if (ucs4.size() != 1)
            throw Error(source, QStringLiteral("Metaspace pre-tokenizer: the replacement must be one character"));
        p.replacementChar = ucs4.first();
        p.prepend = readPrependScheme(o, source, QStringLiteral("Metaspace pre-tokenizer"));
        p.split = o.value(QLatin1String("split")).toBool(true);
    } else if (type == QLatin1String("Digits")) {
        p.kind = PreTokenizer::Digits;
        p.individualDigits = o.value(QLatin1String("individual_digits")).toBool(false);
    } else {
        throw Error(source, QStringLiteral("unsupported pre-tokenizer type \"%1\"").arg(type));
    }
    return p;
}

// ------------------------------------------------------------------------------------------------
// Decoders

struct Decoder {
    enum Kind { Sequence, ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace } kind = Sequence;
    std::vector<Decoder> children;
    Pattern pattern;             // Replace
    QString text;                // Replace: content; Strip: content; Metaspace: replacement
    int start = 0, stop = 0;     // Strip
    bool metaspaceStripFirst = true;

    QStringList apply(QStringList tokens) const
    {
        switch (kind) {
        case Sequence:
            for (const Decoder &d : children) tokens = d.apply(std::move(tokens));
            return tokens;
        case ByteLevel: {
            const ByteMap &m = byteMap();
            QByteArray bytes;
            for (const QString &t : tokens) {
                const qsizetype mark = bytes.size();
                bool ok = true;
                for (QChar c : t) {
                    const int b = m.byteOf(c);
                    if (b < 0) { ok = false; break; }
                    bytes.append(char(b));
                }
                if (!ok) {
                    bytes.truncate(mark);
                    bytes.append(t.toUtf8());
                }
            }
            return {fromUtf8Lossy(bytes)};
        }
        case Replace:
            for (QString &t : tokens) {
                if (pattern.isRegex) {
                    QString out;
                    qsizetype prev = 0;
                    QRegularExpressionMatchIterator it = pattern.re.globalMatch(t);
                    while (it.hasNext()) {
                        const QRegularExpressionMatch m = it.next();
                        if (m.capturedLength() == 0) continue;
                        out += QStringView(t).mid(prev, m.capturedStart() - prev);
                        out += text;
                        prev = m.capturedEnd();
                    }
                    out += QStringView(t).mid(prev);
                    t = out;
                } else if (!pattern.literal.isEmpty()) {
                    t.replace(pattern.literal, text);
                }
            }
            return tokens;
        case ByteFallback: {
            QStringList out;
            std::string pending;
            auto flush = [&]() {
                if (pending.empty()) return;
                if (isValidUtf8(pending))
                    out.push_back(fromStd(pending));
                else
                    for (size_t k = 0; k < pending.size(); ++k) out.push_back(QString(QChar(0xFFFD)));
                pending.clear();
            };
            for (const QString &t : tokens) {
                bool isByte = false;
                if (t.size() == 6 && t.startsWith(QLatin1String("<0x")) && t.endsWith(QLatin1Char('>'))) {
                    bool ok = false;
                    const uint b = t.mid(3, 2).toUInt(&ok, 16);
                    if (ok && b < 256) {
                        pending.push_back(char(b));
                        isByte = true;
                    }
                }
                if (!isByte) {
                    flush();
                    out.push_back(t);
                }
            }
            flush();
            return out;
        }
        case Fuse:
            return {tokens.join(QString())};
        case Strip:
            for (QString &t : tokens) {
                qsizetype from = 0, to = t.size();
                for (int k = 0; k < start && !text.isEmpty() && QStringView(t).mid(from).startsWith(text); ++k)
                    from += text.size();
                for (int k = 0; k < stop && !text.isEmpty() && to - text.size() >= from
                                && QStringView(t).mid(0, to).endsWith(text); ++k)
                    to -= text.size();
                t = t.mid(from, to - from);
            }
            return tokens;
        case Metaspace:
            for (qsizetype i = 0; i < tokens.size(); ++i) {
                if (i == 0 && metaspaceStripFirst)
                    tokens[i].remove(text);
                else
                    tokens[i].replace(text, QStringLiteral(" "));
            }
            return tokens;
        }
        return tokens;
    }
};

Decoder readDecoder(const QJsonObject &o, const QString &source)
{
    Decoder d;
    const QString type = typeOf(o);
    if (type == QLatin1String("Sequence")) {
        d.kind = Decoder::Sequence;
        for (const QJsonValue &c : o.value(QLatin1String("decoders")).toArray())
            d.children.push_back(readDecoder(c.toObject(), source));
    } else if (type == QLatin1String("ByteLevel")) {
        d.kind = Decoder::ByteLevel;
    } else if (type == QLatin1String("Replace")) {
        d.kind = Decoder::Replace;
        d.pattern = readPattern(o.value(QLatin1String("pattern")), source, QStringLiteral("Replace decoder"));
        d.text = o.value(QLatin1String("content")).toString();
    } else if (type == QLatin1String("ByteFallback")) {
        d.kind = Decoder::ByteFallback;
    } else if (type == QLatin1String("Fuse")) {
        d.kind = Decoder::Fuse;
    } else if (type == QLatin1String("Strip")) {
        d.kind = Decoder::Strip;
        d.text = o.value(QLatin1String("content")).toString(QStringLiteral(" "));
        d.start = o.value(QLatin1String("start")).toInt(0);
        d.stop = o.value(QLatin1String("stop")).toInt(0);
    } else if (type == QLatin1String("Metaspace")) {
        d.kind = Decoder::Metaspace;
        d.text = o.value(QLatin1String("replacement")).toString(QStringLiteral("\u2581"));
        d.metaspaceStripFirst = readPrependScheme(o, source, QStringLiteral("Metaspace decoder")) != PrependScheme::Never;
    } else {
        throw Error(source, QStringLiteral("unsupported decoder type \"%1\"").arg(type));
    }
    return d;
}

// ------------------------------------------------------------------------------------------------
// Added tokens: leftmost-longest matching, like tokenizers' aho-corasick automaton

struct AddedToken {
    int id = -1;
    QString content;
    bool special = false, lstrip = false, rstrip = false, singleWord = false, normalized = false;
};

struct Segment {
    QString text;
    int addedId = -1;       // ≥ 0: this segment is that added token
    bool atStart = false;
};

class AddedMatcher {
public:
    void add(const QString &pattern, int tokenIndex)
    {
        if (pattern.isEmpty())
            return;
        auto &bucket = m_byFirst[pattern[0].unicode()];
        bucket.push_back({pattern, tokenIndex});
        std::stable_sort(bucket.begin(), bucket.end(),
                         [](const Entry &a, const Entry &b) { return a.pattern.size() > b.pattern.size(); });
    }
    bool isEmpty() const { return m_byFirst.isEmpty(); }

    // The pieces of `seg`: text between matches, and the matches as added tokens.
    void split(const Segment &seg, const std::vector<AddedToken> &tokens, std::vector<Segment> &out) const
    {
        if (seg.text.isEmpty())
            return;
        if (m_byFirst.isEmpty()) {
            out.push_back(seg);
            return;
        }
        const QString &s = seg.text;
        const QStringView view(s);
        qsizetype startOffset = 0;
        qsizetype i = 0;
        auto emitText = [&](qsizetype a, qsizetype b) {
            if (b > a)
                out.push_back({s.mid(a, b - a), -1, seg.atStart && a == 0});
        };
        while (i < s.size()) {
            const auto it = m_byFirst.constFind(s[i].unicode());
            const Entry *hit = nullptr;
            if (it != m_byFirst.constEnd())
                for (const Entry &e : *it)
                    if (view.mid(i).startsWith(e.pattern)) { hit = &e; break; }
            if (!hit) {
                ++i;
                continue;
            }
            const AddedToken &tok = tokens[size_t(hit->tokenIndex)];
            qsizetype start = i, stop = i + hit->pattern.size();
            if (tok.singleWord) {
                const bool startOk = start == 0 || !isWordChar(s, start - 1, true);
                const bool stopOk = stop == s.size() || !isWordChar(s, stop, false);
                if (!startOk || !stopOk) {
                    i = stop;   // the automaton moves on past a rejected match
                    continue;
                }
            }
            if (tok.lstrip) {
                qsizetype ns = start;
                while (ns > 0 && s[ns - 1].isSpace()) --ns;
                start = std::max(ns, startOffset);
            }
            if (tok.rstrip)
                while (stop < s.size() && s[stop].isSpace()) ++stop;
            emitText(startOffset, start);
            out.push_back({s.mid(start, stop - start), tok.id, seg.atStart && start == 0});
            startOffset = stop;
            i = stop;
        }
        emitText(startOffset, s.size());
    }

private:
    static bool isWordChar(const QString &s, qsizetype pos, bool before)
    {
        char32_t cp = s[pos].unicode();
        if (before && s[pos].isLowSurrogate() && pos > 0 && s[pos - 1].isHighSurrogate())
            cp = QChar::surrogateToUcs4(s[pos - 1], s[pos]);
        else if (!before && s[pos].isHighSurrogate() && pos + 1 < s.size() && s[pos + 1].isLowSurrogate())
            cp = QChar::surrogateToUcs4(s[pos], s[pos + 1]);
        return QChar::isLetterOrNumber(cp) || QChar::isMark(cp) || cp == U'_';
    }

    struct Entry {
        QString pattern;
        int tokenIndex;
    };
    QHash<char16_t, std::vector<Entry>> m_byFirst;
};

// ------------------------------------------------------------------------------------------------
// The BPE model

struct MergeInfo {
    int rank;
    int newId;
};

inline uint64_t pairKey(int a, int b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

struct Bpe {
    std::unordered_map<std::string, int> vocab;
    std::vector<QString> idToQString;     // by id (empty where unused)
    std::unordered_map<uint64_t, MergeInfo> merges;
    int unkId = -1;
    bool fuseUnk = false;
    bool byteFallback = false;
    bool ignoreMerges = false;
    std::string prefix, suffix;            // continuing_subword_prefix, end_of_word_suffix
    std::array<int, 256> byteTokenId{};    // <0xXX> ids, -1 where missing

    mutable std::mutex cacheMutex;
    mutable std::unordered_map<std::string, std::vector<int>> cache;
    static constexpr size_t kCacheCapacity = 200000;

    int lookup(const std::string &s) const
    {
        const auto it = vocab.find(s);
        return it == vocab.end() ? -1 : it->second;
    }

    struct Symbol {
        int id;
        int prev, next;
        int len;   // bytes of the word it covers; 0 once merged away
    };

    struct QueueItem {
        int rank;
        int pos;
        int newId;
        bool operator<(const QueueItem &o) const   // std::priority_queue is a max-heap: invert
        {
            return rank != o.rank ? rank > o.rank : pos > o.pos;
        }
    };

    std::vector<int> tokenize(const std::string &word) const
    {
        if (word.empty())
            return {};
        {
            std::lock_guard<std::mutex> lock(cacheMutex);
            const auto it = cache.find(word);
            if (it != cache.end())
                return it->second;
        }
        std::vector<int> ids = tokenizeUncached(word);
        {
            std::lock_guard<std::mutex> lock(cacheMutex);
            if (cache.size() >= kCacheCapacity)
                cache.clear();
            cache.emplace(word, ids);
        }
        return ids;
    }

    std::vector<int> tokenizeUncached(const std::string &word) const
    {
        if (ignoreMerges) {
            const int id = lookup(word);
            if (id >= 0)
                return {id};
        }
        std::vector<Symbol> symbols;
        symbols.reserve(word.size());
        auto add = [&](int id, int len) {
            const int n = int(symbols.size());
            symbols.push_back({id, n - 1, -1, len});
            if (n > 0)
                symbols[size_t(n - 1)].next = n;
        };
        int pendingUnkId = -1, pendingUnkLen = 0;
        std::string s;
        for (size_t i = 0; i < word.size();) {
            const int len = std::min<int>(utf8Length(uchar(word[i])), int(word.size() - i));
            const bool isFirst = i == 0, isLast = i + size_t(len) >= word.size();
            s.assign(word, i, size_t(len));
            if (!isFirst && !prefix.empty()) s.insert(0, prefix);
            if (isLast && !suffix.empty()) s.append(suffix);
            i += size_t(len);
            const int id = lookup(s);
            if (id >= 0) {
                if (pendingUnkId >= 0) {
                    add(pendingUnkId, pendingUnkLen);
                    pendingUnkId = -1;
                }
                add(id, len);
                continue;
            }
            if (byteFallback) {
                bool all = true;
                for (unsigned char b : s)
                    if (byteTokenId[b] < 0) { all = false; break; }
                if (all) {
                    for (unsigned char b : s) add(byteTokenId[b], 1);
                    continue;
                }
            }
            if (unkId >= 0) {
                if (pendingUnkId >= 0 && fuseUnk) {
                    pendingUnkLen += len;
                } else {
                    if (pendingUnkId >= 0) add(pendingUnkId, pendingUnkLen);
                    pendingUnkId = unkId;
                    pendingUnkLen = len;
                }
            }
        }
        if (pendingUnkId >= 0)
            add(pendingUnkId, pendingUnkLen);

        if (symbols.size() > 1 && !merges.empty()) {
            std::priority_queue<QueueItem> queue;
            for (size_t k = 0; k + 1 < symbols.size(); ++k) {
                const auto it = merges.find(pairKey(symbols[k].id, symbols[k + 1].id));
                if (it != merges.end())
                    queue.push({it->second.rank, int(k), it->second.newId});
            }
            while (!queue.empty()) {
                const QueueItem top = queue.top();
                queue.pop();
                Symbol &cur = symbols[size_t(top.pos)];
                if (cur.len == 0 || cur.next < 0)
                    continue;
                const int nextPos = cur.next;
                const Symbol right = symbols[size_t(nextPos)];
                const auto it = merges.find(pairKey(cur.id, right.id));
                if (it == merges.end() || it->second.newId != top.newId)
                    continue;   // stale entry
                cur.id = top.newId;
                cur.len += right.len;
                cur.next = right.next;
                symbols[size_t(nextPos)].len = 0;
                if (right.next >= 0)
                    symbols[size_t(right.next)].prev = top.pos;
                if (cur.prev >= 0) {
                    const auto p = merges.find(pairKey(symbols[size_t(cur.prev)].id, cur.id));
                    if (p != merges.end())
                        queue.push({p->second.rank, cur.prev, p->second.newId});
                }
                if (cur.next >= 0) {
                    const auto n = merges.find(pairKey(cur.id, symbols[size_t(cur.next)].id));
                    if (n != merges.end())
                        queue.push({n->second.rank, top.pos, n->second.newId});
                }
            }
        }
        std::vector<int> ids;
        ids.reserve(symbols.size());
        for (const Symbol &sym : symbols)
            if (sym.len != 0)
                ids.push_back(sym.id);
        return ids;
    }
};

} // namespace

// ------------------------------------------------------------------------------------------------
// HfTokenizer

struct HfTokenizer::Impl {
    QString source;
    Bpe bpe;
    std::vector<AddedToken> added;                 // in file order
    std::unordered_map<int, size_t> addedById;     // id -> index in `added`
    QHash<QString, int> addedByContent;
    AddedMatcher rawMatcher, normalizedMatcher;
    bool hasNormalizer = false;
    Normalizer normalizer;
    bool hasPreTokenizer = false;
    PreTokenizer preTokenizer;
    bool hasDecoder = false;
    Decoder decoder;
    bool byteLevel = false;
    int maxId = -1;
};

HfTokenizer::HfTokenizer() : d(std::make_unique<Impl>()) {}
HfTokenizer::~HfTokenizer() = default;

std::unique_ptr<HfTokenizer> HfTokenizer::fromFile(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        throw Error(path, QStringLiteral("cannot open the tokenizer file: %1").arg(file.errorString()));
    return fromJson(file.readAll(), path);
}

namespace {

int findTemplateBos(const QJsonObject &pp)
{
    const QString type = typeOf(pp);
    if (type == QLatin1String("Sequence")) {
        for (const QJsonValue &c : pp.value(QLatin1String("processors")).toArray()) {
            const int id = findTemplateBos(c.toObject());
            if (id >= 0)
                return id;
        }
        return -1;
    }
    if (type != QLatin1String("TemplateProcessing"))
        return -1;
    const QJsonArray single = pp.value(QLatin1String("single")).toArray();
    if (single.isEmpty())
        return -1;
    const QJsonObject first = single.first().toObject();
    if (!first.contains(QLatin1String("SpecialToken")))
        return -1;   // the sequence comes first: no BOS
    const QString name = first.value(QLatin1String("SpecialToken")).toObject().value(QLatin1String("id")).toString();
    const QJsonArray ids = pp.value(QLatin1String("special_tokens")).toObject().value(name).toObject()
                               .value(QLatin1String("ids")).toArray();
    return ids.isEmpty() ? -1 : ids.first().toInt(-1);
}

} // namespace

std::unique_ptr<HfTokenizer> HfTokenizer::fromJson(const QByteArray &json, const QString &source)
{
    QJsonParseError err;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &err);
    if (err.error != QJsonParseError::NoError)
        throw Error(source, QStringLiteral("malformed tokenizer.json: %1 at offset %2").arg(err.errorString()).arg(err.offset));
    if (!doc.isObject())
        throw Error(source, QStringLiteral("malformed tokenizer.json: the top level is not an object"));
    const QJsonObject root = doc.object();

    std::unique_ptr<HfTokenizer> tok(new HfTokenizer);
    Impl &d = *tok->d;
    d.source = source;

    // The model.
    const QJsonValue modelValue = root.value(QLatin1String("model"));
    if (!modelValue.isObject())
        throw Error(source, QStringLiteral("malformed tokenizer.json: no \"model\" object"));
    const QJsonObject model = modelValue.toObject();
    QString modelType = typeOf(model);
    if (modelType.isEmpty() && model.contains(QLatin1String("merges")))
        modelType = QStringLiteral("BPE");   // older files leave the type out
    if (modelType != QLatin1String("BPE"))
        throw Error(source, QStringLiteral("unsupported model type \"%1\" (only BPE is supported)").arg(modelType));
    const QJsonValue vocabValue = model.value(QLatin1String("vocab"));
    if (!vocabValue.isObject())
        throw Error(source, QStringLiteral("malformed tokenizer.json: the model has no \"vocab\" object"));
    const QJsonObject vocab = vocabValue.toObject();
    if (vocab.isEmpty())
        throw Error(source, QStringLiteral("malformed tokenizer.json: the model's vocab is empty"));

    Bpe &bpe = d.bpe;
    bpe.vocab.reserve(size_t(vocab.size()) * 2);
    for (auto it = vocab.constBegin(); it != vocab.constEnd(); ++it) {
        const QJsonValue v = it.value();
        if (!v.isDouble() || v.toDouble() < 0 || v.toDouble() != double(v.toInt()))
            throw Error(source, QStringLiteral("malformed tokenizer.json: vocab entry \"%1\" has no valid id").arg(it.key()));
        const int id = v.toInt();
        bpe.vocab[toStd(it.key())] = id;
        d.maxId = std::max(d.maxId, id);
    }
    bpe.idToQString.assign(size_t(d.maxId) + 1, QString());
    for (const auto &[token, id] : bpe.vocab) {
        bpe.idToQString[size_t(id)] = fromStd(token);
    }

    bpe.byteFallback = model.value(QLatin1String("byte_fallback")).toBool(false);
    bpe.fuseUnk = model.value(QLatin1String("fuse_unk")).toBool(false);
    bpe.ignoreMerges = model.value(QLatin1String("ignore_merges")).toBool(false);
    bpe.prefix = toStd(model.value(QLatin1String("continuing_subword_prefix")).toString());
    bpe.suffix = toStd(model.value(QLatin1String("end_of_word_suffix")).toString());
    const QJsonValue unk = model.value(QLatin1String("unk_token"));
    if (unk.isString()) {
        bpe.unkId = bpe.lookup(toStd(unk.toString()));
        if (bpe.unkId < 0)
            throw Error(source, QStringLiteral("the unk_token \"%1\" is not in the vocab").arg(unk.toString()));
    }
    for (int b = 0; b < 256; ++b)
        bpe.byteTokenId[size_t(b)] = bpe.lookup(byteTokenName(b).toStdString());

    const QJsonValue mergesValue = model.value(QLatin1String("merges"));
    if (!mergesValue.isUndefined() && !mergesValue.isNull() && !mergesValue.isArray())
        throw Error(source, QStringLiteral("malformed tokenizer.json: the model's \"merges\" is not a list"));
    const QJsonArray merges = mergesValue.toArray();
    bpe.merges.reserve(size_t(merges.size()) * 2);
    int rank = 0;
    for (qsizetype k = 0; k < merges.size(); ++k) {
        const QJsonValue m = merges.at(k);
        QString a, b;
        if (m.isString()) {
            const QString line = m.toString();
            if (line.startsWith(QLatin1String("#version")))
                continue;
            const QStringList parts = line.split(QLatin1Char(' '));
            if (parts.size() != 2)
                throw Error(source, QStringLiteral("merge %1 (\"%2\") is not two tokens separated by one space").arg(k + 1).arg(line));
            a = parts[0];
            b = parts[1];
        } else if (m.isArray() && m.toArray().size() == 2 && m.toArray().at(0).isString() && m.toArray().at(1).isString()) {
            a = m.toArray().at(0).toString();
            b = m.toArray().at(1).toString();
        } else {
            throw Error(source, QStringLiteral("merge %1 is neither \"a b\" nor [\"a\", \"b\"]").arg(k + 1));
        }
        const std::string as = toStd(a), bs = toStd(b);
        const int aId = bpe.lookup(as), bId = bpe.lookup(bs);
        if (aId < 0)
            throw Error(source, QStringLiteral("merge %1 (\"%2 %3\") refers to the unknown token \"%2\"").arg(k + 1).arg(a, b));
        if (bId < 0)
            throw Error(source, QStringLiteral("merge %1 (\"%2 %3\") refers to the unknown token \"%3\"").arg(k + 1).arg(a, b));
        // With a continuing_subword_prefix, the right part loses it in the merged token.
        const bool dropPrefix = !bpe.prefix.empty() && bs.compare(0, bpe.prefix.size(), bpe.prefix) == 0;
        const std::string merged = as + (dropPrefix ? bs.substr(bpe.prefix.size()) : bs);
        const int newId = bpe.lookup(merged);
        if (newId < 0)
            throw Error(source, QStringLiteral("merge %1 (\"%2 %3\") makes \"%4\", which is not in the vocab")
                                    .arg(k + 1).arg(a, b, fromStd(merged)));
        bpe.merges[pairKey(aId, bId)] = {rank++, newId};
    }

    // Added tokens.
    const QJsonValue addedValue = root.value(QLatin1String("added_tokens"));
    if (!addedValue.isUndefined() && !addedValue.isNull() && !addedValue.isArray())
        throw Error(source, QStringLiteral("malformed tokenizer.json: \"added_tokens\" is not a list"));
    for (const QJsonValue &v : addedValue.toArray()) {
        const QJsonObject o = v.toObject();
        AddedToken t;
        t.id = o.value(QLatin1String("id")).toInt(-1);
        t.content = o.value(QLatin1String("content")).toString();
        if (t.id < 0 || t.content.isEmpty())
            throw Error(source, QStringLiteral("malformed tokenizer.json: an added token has no id or content"));
        t.special = o.value(QLatin1String("special")).toBool(false);
        t.lstrip = o.value(QLatin1String("lstrip")).toBool(false);
        t.rstrip = o.value(QLatin1String("rstrip")).toBool(false);
        t.singleWord = o.value(QLatin1String("single_word")).toBool(false);
        t.normalized = o.value(QLatin1String("normalized")).toBool(!t.special);
        d.addedById[t.id] = d.added.size();
        d.addedByContent.insert(t.content, t.id);
        d.maxId = std::max(d.maxId, t.id);
        d.added.push_back(t);
    }

    // The pipeline.
    const QJsonValue norm = root.value(QLatin1String("normalizer"));
    if (norm.isObject()) {
        d.hasNormalizer = true;
        d.normalizer = readNormalizer(norm.toObject(), source);
    } else if (!norm.isNull() && !norm.isUndefined()) {
        throw Error(source, QStringLiteral("malformed tokenizer.json: \"normalizer\" is not an object"));
    }
    const QJsonValue pre = root.value(QLatin1String("pre_tokenizer"));
    if (pre.isObject()) {
        d.hasPreTokenizer = true;
        d.preTokenizer = readPreTokenizer(pre.toObject(), source);
        d.byteLevel = d.preTokenizer.containsByteLevel();
    } else if (!pre.isNull() && !pre.isUndefined()) {
        throw Error(source, QStringLiteral("malformed tokenizer.json: \"pre_tokenizer\" is not an object"));
    }
    const QJsonValue dec = root.value(QLatin1String("decoder"));
    if (dec.isObject()) {
        d.hasDecoder = true;
        d.decoder = readDecoder(dec.toObject(), source);
    } else if (!dec.isNull() && !dec.isUndefined()) {
        throw Error(source, QStringLiteral("malformed tokenizer.json: \"decoder\" is not an object"));
    }
    const QJsonValue post = root.value(QLatin1String("post_processor"));
    if (post.isObject())
        tok->m_fileBosId = findTemplateBos(post.toObject());

    // Matchers: non-normalized tokens match the raw text, normalized ones the normalized text.
    for (size_t k = 0; k < d.added.size(); ++k) {
        const AddedToken &t = d.added[k];
        if (t.normalized)
            d.normalizedMatcher.add(d.hasNormalizer ? d.normalizer.apply(t.content) : t.content, int(k));
        else
            d.rawMatcher.add(t.content, int(k));
    }
    return tok;
}

std::vector<int> HfTokenizer::encodeText(const QString &text) const
{
    std::vector<int> ids;
    if (text.isEmpty())
        return ids;
    ids.reserve(size_t(text.size()) / 3 + 8);

    std::vector<Segment> raw;
    d->rawMatcher.split({text, -1, true}, d->added, raw);
    std::vector<Segment> segments;
    std::vector<Piece> pieces;
    for (Segment &seg : raw) {
        if (seg.addedId >= 0) {
            ids.push_back(seg.addedId);
            continue;
        }
        if (d->hasNormalizer)
            seg.text = d->normalizer.apply(seg.text);
        segments.clear();
        d->normalizedMatcher.split(seg, d->added, segments);
        for (const Segment &s : segments) {
            if (s.addedId >= 0) {
                ids.push_back(s.addedId);
                continue;
            }
            pieces.clear();
            pieces.push_back({s.text, s.atStart});
            if (d->hasPreTokenizer)
                d->preTokenizer.apply(pieces);
            for (const Piece &p : pieces) {
                const std::vector<int> word = d->bpe.tokenize(toStd(p.text));
                ids.insert(ids.end(), word.begin(), word.end());
            }
        }
    }
    return ids;
}

QString HfTokenizer::decode(const std::vector<int> &ids, bool skipSpecial) const
{
    QStringList tokens;
    tokens.reserve(qsizetype(ids.size()));
    for (int id : ids) {
        const auto a = d->addedById.find(id);
        if (a != d->addedById.end()) {
            const AddedToken &t = d->added[a->second];
            if (!(skipSpecial && t.special))
                tokens.push_back(t.content);
            continue;
        }
        if (id >= 0 && size_t(id) < d->bpe.idToQString.size() && !d->bpe.idToQString[size_t(id)].isEmpty())
            tokens.push_back(d->bpe.idToQString[size_t(id)]);
    }
    if (!d->hasDecoder)
        return tokens.join(QLatin1Char(' '));
    return d->decoder.apply(tokens).join(QString());
}

int HfTokenizer::vocabSize() const { return d->maxId + 1; }

int HfTokenizer::tokenToId(const QString &token) const
{
    const auto a = d->addedByContent.constFind(token);
    if (a != d->addedByContent.constEnd())
        return a.value();
    return d->bpe.lookup(toStd(token));
}

QString HfTokenizer::idToToken(int id) const
{
    const auto a = d->addedById.find(id);
    if (a != d->addedById.end())
        return d->added[a->second].content;
    if (id >= 0 && size_t(id) < d->bpe.idToQString.size())
        return d->bpe.idToQString[size_t(id)];
    return QString();
}

bool HfTokenizer::isSpecial(int id) const
{
    const auto a = d->addedById.find(id);
    return a != d->addedById.end() && d->added[a->second].special;
}

QString HfTokenizer::description() const
{
    const QString family = d->byteLevel ? QStringLiteral("byte-level BPE")
        : d->bpe.byteFallback ? QStringLiteral("SentencePiece-style BPE")
                              : QStringLiteral("BPE");
    return QStringLiteral("%1, %2 tokens (%3)").arg(family).arg(vocabSize()).arg(d->source);
}

QString HfTokenizer::source() const { return d->source; }

bool HfTokenizer::isByteLevel() const { return d->byteLevel; }
bool HfTokenizer::hasByteFallback() const { return d->bpe.byteFallback; }

QStringList HfTokenizer::addedTokens() const
{
    std::vector<AddedToken> sorted = d->added;
    std::sort(sorted.begin(), sorted.end(), [](const AddedToken &a, const AddedToken &b) { return a.id < b.id; });
    QStringList out;
    for (const AddedToken &t : sorted) out << t.content;
    return out;
}

// ------------------------------------------------------------------------------------------------
// ByteTokenizer

ByteTokenizer::ByteTokenizer(const QStringList &specialTokens) : m_specials(specialTokens) {}

std::vector<int> ByteTokenizer::encodeText(const QString &text) const
{
    std::vector<int> ids;
    auto appendBytes = [&ids](QStringView part) {
        const QByteArray utf8 = part.toUtf8();
        for (char c : utf8) ids.push_back(int(uchar(c)));
    };
    if (m_specials.isEmpty()) {
        appendBytes(text);
        return ids;
    }
    qsizetype last = 0, i = 0;
    const QStringView view(text);
    while (i < text.size()) {
        int best = -1;
        for (int k = 0; k < m_specials.size(); ++k) {
            const QString &s = m_specials[k];
            if (!s.isEmpty() && view.mid(i).startsWith(s) && (best < 0 || s.size() > m_specials[best].size()))
                best = k;
        }
        if (best < 0) {
            ++i;
            continue;
        }
        appendBytes(view.mid(last, i - last));
        ids.push_back(256 + best);
        i += m_specials[best].size();
        last = i;
    }
    appendBytes(view.mid(last));
    return ids;
}

QString ByteTokenizer::decode(const std::vector<int> &ids, bool skipSpecial) const
{
    QString out;
    QByteArray bytes;
    for (int id : ids) {
        if (id >= 0 && id < 256) {
            bytes.append(char(id));
        } else if (isSpecial(id)) {
            out += QString::fromUtf8(bytes);
            bytes.clear();
            if (!skipSpecial)
                out += m_specials[id - 256];
        }
    }
    out += QString::fromUtf8(bytes);
    return out;
}

int ByteTokenizer::tokenToId(const QString &token) const
{
    const qsizetype k = m_specials.indexOf(token);
    if (k >= 0)
        return 256 + int(k);
    if (token.size() == 6 && token.startsWith(QLatin1String("<0x")) && token.endsWith(QLatin1Char('>'))) {
        bool ok = false;
        const uint b = token.mid(3, 2).toUInt(&ok, 16);
        if (ok && b < 256)
            return int(b);
    }
    if (token.size() == 1 && token[0].unicode() < 128)
        return token[0].unicode();
    return -1;
}

QString ByteTokenizer::idToToken(int id) const
{
    if (id >= 0 && id < 256)
        return byteTokenName(id);
    if (isSpecial(id))
        return m_specials[id - 256];
    return QString();
}

QString ByteTokenizer::description() const
{
    return QStringLiteral("bytes, %1 tokens").arg(vocabSize());
}

// ------------------------------------------------------------------------------------------------

std::unique_ptr<Tokenizer> loadTokenizer(const QString &pathToTokenizerJson)
{
    QString path = pathToTokenizerJson;
    if (QFileInfo(path).isDir())
        path = QDir(path).filePath(QStringLiteral("tokenizer.json"));
    if (!QFileInfo::exists(path))
        throw Error(path, QStringLiteral("no such tokenizer file"));
    return HfTokenizer::fromFile(path);
}

} // namespace rs
