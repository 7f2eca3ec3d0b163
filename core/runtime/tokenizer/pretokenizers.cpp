// Pre-tokenizers: how a tokenizer.json cuts normalized text into pieces for the BPE model (Sequence,
// Split, ByteLevel, Metaspace, Digits), on the splitting rules of tokenizers' NormalizedString.
#include "runtime/tokenizer/tokenizer_p.h"

#include "common/error.h"

#include <QJsonArray>

#include <algorithm>
#include <utility>

namespace rs::tokenizer_detail {

// ------------------------------------------------------------------------------------------------
// Splitting, as tokenizers' NormalizedString::split does it

namespace {

struct Span {
    qsizetype start, end;
    bool match;
};

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

void splitInto(std::vector<Piece> &out, const Piece &piece, const std::vector<Span> &spans, SplitBehavior behavior,
               bool invert = false)
{
    for (const auto &[a, b] : applyBehavior(spans, behavior, invert)) {
        if (b <= a)
            continue;
        out.push_back({piece.text.mid(a, b - a), piece.atStart && a == 0});
    }
}

} // namespace

// ------------------------------------------------------------------------------------------------
// Pre-tokenizers

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

namespace {

const QRegularExpression &gpt2Regex()
{
    static const QRegularExpression re = compileRegex(
        QStringLiteral("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"), QString(),
        QStringLiteral("ByteLevel"));
    return re;
}

} // namespace

bool PreTokenizer::containsByteLevel() const
{
    if (kind == ByteLevel) return true;
    for (const PreTokenizer &c : children)
        if (c.containsByteLevel()) return true;
    return false;
}

void PreTokenizer::apply(std::vector<Piece> &pieces) const
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

namespace {

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

} // namespace

PreTokenizer readPreTokenizer(const QJsonObject &o, const QString &source)
{
    PreTokenizer p;
    const QString type = typeOf(o);
    if (type == QLatin1String("Sequence")) {
        p.kind = PreTokenizer::Sequence;
        for (const QJsonObject &c : readObjectList(o, QStringLiteral("pretokenizers"), source, QStringLiteral("Sequence pre-tokenizer")))
            p.children.push_back(readPreTokenizer(c, source));
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

} // namespace rs::tokenizer_detail
