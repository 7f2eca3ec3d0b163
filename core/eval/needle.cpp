#include "eval/needle.h"
#include "common/error.h"
#include "common/utf8.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <string_view>

namespace rs {
namespace {

// std::mt19937_64's output sequence is fixed by the standard; the distributions are not, so draws
// are made by hand to keep samples identical across compilers.
class Rng {
public:
    explicit Rng(uint64_t seed) : m_engine(seed) {}
    uint64_t below(uint64_t n) { return m_engine() % n; }
    template <size_t N>
    const char *pick(const char *const (&words)[N]) { return words[below(N)]; }

private:
    std::mt19937_64 m_engine;
};

const char *const kKeyAdjectives[] = {
    "numerous", "quiet", "bright", "ancient", "curious", "gentle", "hollow", "jagged", "lively", "modest",
    "nimble", "orange", "patient", "rapid", "silent", "tender", "vivid", "wooden", "yellow", "brave",
    "calm", "distant", "eager", "fragile", "golden", "humble", "icy", "jolly", "keen", "lucky"};
const char *const kKeyNouns[] = {
    "kite", "river", "lantern", "meadow", "harbor", "falcon", "violin", "compass", "orchard", "glacier",
    "pebble", "canyon", "beacon", "thistle", "walrus", "anchor", "ribbon", "saddle", "tunnel", "maple",
    "otter", "quill", "prism", "garnet", "hammock", "island", "jigsaw", "kettle", "ladder", "marble"};

// Filler vocabulary: enough variety that a model sees language-like structure, not a loop.
const char *const kSubjects[] = {
    "the farmer", "a traveler", "the old teacher", "my neighbor", "the young engineer", "a quiet child",
    "the captain", "the baker", "an artist", "the committee", "the scientist", "a merchant", "the gardener",
    "her brother", "the mayor", "a stranger", "the doctor", "our guide", "the poet", "the students"};
const char *const kVerbs[] = {
    "carried", "noticed", "painted", "repaired", "described", "followed", "borrowed", "discovered",
    "measured", "visited", "remembered", "planted", "questioned", "collected", "admired", "opened",
    "explained", "studied", "returned", "built"};
const char *const kObjects[] = {
    "the wooden bridge", "a small boat", "the northern road", "an old map", "the village square",
    "a basket of apples", "the stone wall", "the winter garden", "a letter from home", "the broken clock",
    "the long corridor", "a field of barley", "the harbor lights", "a pair of boots", "the narrow stairs",
    "the evening market", "a jar of honey", "the mountain path", "the library books", "a red umbrella"};
const char *const kAdverbs[] = {"slowly", "carefully", "once again", "before dawn", "after the storm",
                                "without a word", "with great care", "in the afternoon", "at last", "quite happily"};
const char *const kConnectives[] = {"Later,", "Meanwhile,", "After that,", "In the morning,", "For a while,",
                                    "Even so,", "By evening,", "Years ago,", "Soon after,", "That spring,"};
const char *const kReasons[] = {"because the weather had changed", "since nobody else would do it",
                                "so that the others could rest", "although it was getting late",
                                "while the rain kept falling", "as the bells rang in the distance"};

QString capitalized(QString s)
{
    if (!s.isEmpty())
        s[0] = s[0].toUpper();
    return s;
}

QString sentence(Rng &rng)
{
    switch (rng.below(4)) {
    case 0:
        return capitalized(QStringLiteral("%1 %2 %3 %4.").arg(QLatin1String(rng.pick(kSubjects)),
                                                              QLatin1String(rng.pick(kVerbs)),
                                                              QLatin1String(rng.pick(kObjects)),
                                                              QLatin1String(rng.pick(kAdverbs))));
    case 1:
        return QStringLiteral("%1 %2 %3 %4.").arg(QLatin1String(rng.pick(kConnectives)), QLatin1String(rng.pick(kSubjects)),
                                                 QLatin1String(rng.pick(kVerbs)), QLatin1String(rng.pick(kObjects)));
    case 2:
        return capitalized(QStringLiteral("%1 %2 %3 %4.").arg(QLatin1String(rng.pick(kSubjects)),
                                                              QLatin1String(rng.pick(kVerbs)),
                                                              QLatin1String(rng.pick(kObjects)),
                                                              QLatin1String(rng.pick(kReasons))));
    default:
        return capitalized(QStringLiteral("%1 and %2 %3 %4.").arg(QLatin1String(rng.pick(kSubjects)),
                                                                   QLatin1String(rng.pick(kSubjects)),
                                                                   QLatin1String(rng.pick(kVerbs)),
                                                                   QLatin1String(rng.pick(kObjects))));
    }
}

// A corpus .txt file's text. A UTF-8 byte-order mark at its very start is a file marker and goes;
// every other U+FEFF is text and stays (QString::fromUtf8 would drop a leading one of any string).
QString readText(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        throw Error(path, QStringLiteral("cannot open: %1").arg(f.errorString()));
    return fromUtf8Exact(withoutUtf8Bom(f.readAll()));
}

} // namespace

QString generateFillerText(int minChars, uint64_t seed)
{
    Rng rng(seed ^ 0x5eed'f111'e7ull);
    QString text;
    text.reserve(minChars + 200);
    int sentencesInParagraph = 0;
    while (text.size() < minChars) {
        text += sentence(rng);
        if (++sentencesInParagraph >= 4 + int(rng.below(4))) {
            text += QStringLiteral("\n\n");
            sentencesInParagraph = 0;
        } else {
            text += QLatin1Char(' ');
        }
    }
    return text;
}

Haystack Haystack::builtin()
{
    Haystack h;
    h.m_description = h.m_source = QStringLiteral("built-in generated prose");
    return h;
}

Haystack Haystack::fromFolder(const QString &folder)
{
    const QDir dir(folder);
    if (!dir.exists())
        throw Error(folder, QStringLiteral("no such folder"));
    Haystack h;
    const QStringList files = dir.entryList({QStringLiteral("*.txt")}, QDir::Files, QDir::Name);
    for (const QString &name : files) {
        const QString text = readText(dir.filePath(name)).trimmed();
        if (!text.isEmpty())
            h.m_documents.append(text);
    }
    if (h.m_documents.isEmpty())
        throw Error(folder, QStringLiteral("contains no non-empty .txt files"));
    h.m_source = folder;
    h.m_description = QStringLiteral("%1 (%2 documents)").arg(folder).arg(h.m_documents.size());
    return h;
}

Haystack Haystack::fromJsonl(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        throw Error(path, QStringLiteral("cannot open: %1").arg(f.errorString()));
    Haystack h;
    // simdjson, not QJsonDocument: Qt decodes JSON strings with QString::fromUtf8, which drops a
    // leading U+FEFF of a document's text (common/utf8.h).
    simdjson::dom::parser parser;
    int lineNo = 0;
    while (!f.atEnd()) {
        QByteArray line = f.readLine().trimmed();
        ++lineNo;
        if (lineNo == 1 && startsWithUtf8Bom(line))
            line = line.sliced(3);   // the file's byte-order mark, as Qt's JSON parser allowed
        if (line.isEmpty())
            continue;
        if (!simdjson::validate_utf8(line.constData(), size_t(line.size())))
            throw Error(path, QStringLiteral("line %1 is not valid UTF-8").arg(lineNo));
        simdjson::dom::element doc;
        simdjson::dom::object object;
        if (parser.parse(line.constData(), size_t(line.size())).get(doc) || doc.get_object().get(object))
            throw Error(path, QStringLiteral("line %1 is not a JSON object").arg(lineNo));
        std::string_view text;
        if (object["text"].get_string().get(text))
            throw Error(path, QStringLiteral("line %1 has no \"text\" string").arg(lineNo));
        const QString document = fromUtf8Exact(QByteArrayView(text.data(), qsizetype(text.size()))).trimmed();
        if (!document.isEmpty())
            h.m_documents.append(document);
    }
    if (h.m_documents.isEmpty())
        throw Error(path, QStringLiteral("contains no documents with text"));
    h.m_source = path;
    h.m_description = QStringLiteral("%1 (%2 documents)").arg(path).arg(h.m_documents.size());
    return h;
}

Haystack Haystack::fromPath(const QString &path)
{
    const QFileInfo info(path);
    if (info.isDir())
        return fromFolder(path);
    if (!info.exists())
        throw Error(path, QStringLiteral("no such file or folder"));
    return fromJsonl(path);
}

QString Haystack::text(int minChars, uint64_t seed) const
{
    if (isBuiltin())
        return generateFillerText(minChars, seed);
    QString text;
    const int n = int(m_documents.size());
    for (int i = int(seed % uint64_t(n)); text.size() < minChars; i = (i + 1) % n) {
        if (!text.isEmpty())
            text += QStringLiteral("\n\n");
        text += m_documents[i];
    }
    return text;
}

void needleKeyValue(uint64_t seed, QString *key, QString *value)
{
    Rng rng(seed);
    *key = QStringLiteral("%1-%2").arg(QLatin1String(rng.pick(kKeyAdjectives)), QLatin1String(rng.pick(kKeyNouns)));
    *value = QString::number(1000000 + rng.below(9000000));  // always 7 digits
}

std::vector<int> tokensAfterCommonPrefix(const std::vector<int> &whole, const std::vector<int> &prefix)
{
    size_t k = 0;
    while (k < whole.size() && k < prefix.size() && whole[k] == prefix[k])
        ++k;
    return std::vector<int>(whole.begin() + long(k), whole.end());
}

std::vector<int> haystackTokens(const NeedleBuilder::Encoder &encode, const Haystack &haystack, int count, uint64_t seed)
{
    std::vector<int> tokens;
    if (count <= 0)
        return tokens;
    // About 6 characters per token to start with; doubled until the text yields enough. A tokenizer
    // that writes this corpus in fewer than one token per kMaxCharsPerToken characters (none, when
    // it drops every character) would double forever: refuse it instead.
    constexpr int64_t kMaxCharsPerToken = 1024;
    const int64_t limit = std::min<int64_t>(kMaxCharsPerToken * count + 65536, std::numeric_limits<int>::max() / 4);
    for (int64_t chars = std::max<int64_t>(64, int64_t(count) * 6);; chars *= 2) {
        chars = std::min(chars, limit);
        tokens = encode(haystack.text(int(chars), seed));
        if (int64_t(tokens.size()) >= count)
            break;
        if (tokens.empty())
            throw Error(haystack.source(), QStringLiteral("the tokenizer gives no tokens for this corpus's text (%1 "
                                                          "characters), so it cannot fill a sample")
                                               .arg(chars));
        if (chars >= limit)
            throw Error(haystack.source(), QStringLiteral("the tokenizer gives only %1 tokens for %2 characters of this "
                                                          "corpus; a sample needs %3 filler tokens")
                                               .arg(tokens.size()).arg(chars).arg(count));
    }
    tokens.resize(size_t(count));
    return tokens;
}

QString NeedleBuilder::instruction()
{
    return QStringLiteral("A special magic number is hidden within the following text. Make sure to memorize it. "
                          "I will quiz you about the number afterwards.\n");
}

QString NeedleBuilder::needleSentence(const QString &key, const QString &value)
{
    return QStringLiteral("\nOne of the special magic numbers for %1 is: %2.\n").arg(key, value);
}

QString NeedleBuilder::question(const QString &key)
{
    return QStringLiteral("\nWhat is the special magic number for %1 mentioned in the provided text? "
                          "The special magic number for %1 mentioned in the provided text is").arg(key);
}

QString NeedleBuilder::answer(const QString &value)
{
    return QStringLiteral(" ") + value;
}

NeedleBuilder::NeedleBuilder(Encoder encode, Haystack haystack, QString tokenizerSource)
    : m_encode(std::move(encode)), m_haystack(std::move(haystack)), m_tokenizerSource(std::move(tokenizerSource))
{
}

NeedleSample NeedleBuilder::build(const NeedleOptions &options) const
{
    NeedleSample s;
    s.seed = options.seed;
    needleKeyValue(options.seed, &s.key, &s.value);

    const std::vector<int> intro = m_encode(instruction());
    const std::vector<int> needle = m_encode(needleSentence(s.key, s.value));
    // The answer's tokens are what the question+answer text adds beyond the question alone, so they
    // are tokenized as they appear in context.
    const std::vector<int> questionIds = m_encode(question(s.key));
    const std::vector<int> tail = m_encode(question(s.key) + answer(s.value));
    const std::vector<int> answerIds = tokensAfterCommonPrefix(tail, questionIds);
    // The digits must add tokens beyond the space before them: a tokenizer that drops what it
    // cannot write would otherwise leave no answer, or only the space, to score.
    if (answerIds.empty() || tail == m_encode(question(s.key) + QStringLiteral(" ")))
        throw Error(m_tokenizerSource.isEmpty() ? QStringLiteral("needle") : m_tokenizerSource,
                    QStringLiteral("the tokenizer cannot encode the digits of the needle's value \"%1\" (they give "
                                   "no tokens), so there is no answer to score; a tokenizer with digits is needed")
                        .arg(s.value));
    const std::vector<int> questionPart(tail.begin(), tail.end() - long(answerIds.size()));

    const int bos = options.bosId >= 0 ? 1 : 0;
    const int fixed = bos + int(intro.size() + needle.size() + tail.size());
    const int fillerCount = options.length - fixed;
    if (fillerCount < 0)
        throw Error(QStringLiteral("needle"), QStringLiteral("a length of %1 tokens cannot hold the needle template "
                                                             "(%2 tokens without filler)").arg(options.length).arg(fixed));

    // Encode enough filler text, growing the estimate until it yields fillerCount tokens.
    const std::vector<int> filler = haystackTokens(m_encode, m_haystack, fillerCount, options.seed);

    const int split = int(std::lround(std::clamp(options.depth, 0.0, 1.0) * fillerCount));
    s.ids.reserve(size_t(options.length));
    if (bos)
        s.ids.push_back(options.bosId);
    s.ids.insert(s.ids.end(), intro.begin(), intro.end());
    s.ids.insert(s.ids.end(), filler.begin(), filler.begin() + split);
    s.needlePosition = int(s.ids.size());
    s.ids.insert(s.ids.end(), needle.begin(), needle.end());
    s.ids.insert(s.ids.end(), filler.begin() + split, filler.end());
    s.ids.insert(s.ids.end(), questionPart.begin(), questionPart.end());
    for (int id : answerIds) {
        s.answerPositions.push_back(int(s.ids.size()));
        s.ids.push_back(id);
    }
    return s;
}

int NeedleBuilder::templateTokens(uint64_t seed, int bosId) const
{
    QString key, value;
    needleKeyValue(seed, &key, &value);
    return (bosId >= 0 ? 1 : 0) + int(m_encode(instruction()).size() + m_encode(needleSentence(key, value)).size() +
                                      m_encode(question(key) + answer(value)).size());
}

std::vector<NeedleSample> NeedleBuilder::buildMany(int count, const NeedleOptions &options) const
{
    std::vector<NeedleSample> out;
    out.reserve(size_t(std::max(count, 0)));
    for (int i = 0; i < count; ++i) {
        NeedleOptions o = options;
        o.seed = options.seed + uint64_t(i);
        out.push_back(build(o));
    }
    return out;
}

} // namespace rs
