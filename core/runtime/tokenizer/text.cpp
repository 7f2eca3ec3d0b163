// Text helpers shared by the tokenizer stages: strict and lossy UTF-8, byte-fallback token names,
// the GPT-2 byte map, regexes translated from Oniguruma, and patterns read from tokenizer.json.
#include "runtime/tokenizer/tokenizer_p.h"

#include "common/error.h"

#include <QJsonArray>

namespace rs::tokenizer_detail {

// ------------------------------------------------------------------------------------------------
// Small helpers

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
// decoder writes one per byte of a truncated sequence), and a leading U+FEFF stays.
QString fromUtf8Lossy(const QByteArray &bytes)
{
    const std::string s(bytes.constData(), size_t(bytes.size()));
    if (isValidUtf8(s))
        return fromUtf8Exact(bytes);
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

// "<0xE6>": the byte-fallback token of a byte.
QString byteTokenName(int b)
{
    return QStringLiteral("<0x%1>").arg(QString::number(b, 16).toUpper().rightJustified(2, QLatin1Char('0')));
}

ByteMap::ByteMap()
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

namespace {

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

} // namespace

QRegularExpression compileRegex(const QString &pattern, const QString &source, const QString &where)
{
    QRegularExpression re(onigToPcre(pattern), QRegularExpression::UseUnicodePropertiesOption);
    if (!re.isValid())
        throw Error(source, QStringLiteral("%1: invalid regex \"%2\": %3").arg(where, pattern, re.errorString()));
    re.optimize();
    return re;
}

// ------------------------------------------------------------------------------------------------
// JSON access

QString typeOf(const QJsonObject &o) { return o.value(QLatin1String("type")).toString(); }

std::vector<QJsonObject> readObjectList(const QJsonObject &o, const QString &key, const QString &source, const QString &where)
{
    const QJsonValue v = o.value(key);
    if (v.isUndefined())
        throw Error(source, QStringLiteral("%1: no \"%2\" list").arg(where, key));
    if (!v.isArray())
        throw Error(source, QStringLiteral("%1: \"%2\" is not a list").arg(where, key));
    std::vector<QJsonObject> out;
    const QJsonArray a = v.toArray();
    for (qsizetype k = 0; k < a.size(); ++k) {
        if (!a.at(k).isObject())
            throw Error(source, QStringLiteral("%1: entry %2 of \"%3\" is not an object").arg(where).arg(k + 1).arg(key));
        out.push_back(a.at(k).toObject());
    }
    return out;
}

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

} // namespace rs::tokenizer_detail
