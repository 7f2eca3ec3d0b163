#pragma once
// Needle-driven perplexity samples (LongRoPE2 §3.2, App. C): a long document truncated to the
// target length with a needle ("One of the special magic numbers for numerous-kite is: 6716097.")
// planted near the start and a retrieval question at the end; only the answer tokens (the value)
// are scored. Samples are exact in length and deterministic for a seed.
#include <QString>
#include <QStringList>

#include <cstdint>
#include <functional>
#include <vector>

namespace rs {

// Where the filler text comes from: a folder of .txt files, a JSON Lines file with a "text" field,
// or a built-in generator of English-like prose (for users without a corpus).
class Haystack {
public:
    static Haystack fromFolder(const QString &folder);   // throws rs::Error
    static Haystack fromJsonl(const QString &path);      // throws rs::Error
    // A folder or a .jsonl file, by what `path` is.
    static Haystack fromPath(const QString &path);       // throws rs::Error
    static Haystack builtin();

    bool isBuiltin() const { return m_documents.isEmpty(); }
    QString description() const { return m_description; }
    // What errors about its text name: the folder or file, or "built-in generated prose".
    QString source() const { return m_source; }
    int documentCount() const { return int(m_documents.size()); }
    // At least `minChars` characters of text for sample `seed`: documents from a seed-chosen start,
    // wrapping around, separated by blank lines; generated prose for the built-in source.
    QString text(int minChars, uint64_t seed) const;

private:
    QStringList m_documents;
    QString m_source;
    QString m_description;
};

// Deterministic English-like prose: sentences from fixed word lists, seeded.
QString generateFillerText(int minChars, uint64_t seed);

struct NeedleSample {
    std::vector<int> ids;              // exactly `length` token ids
    std::vector<int> answerPositions;  // indices into ids of the answer (value) tokens; all at the end
    int needlePosition = 0;            // index of the first needle token
    QString key;                       // adjective-noun, e.g. "numerous-kite"
    QString value;                     // 7 digits, e.g. "6716097"
    uint64_t seed = 0;
};

struct NeedleOptions {
    int length = 0;        // total tokens, BOS included
    double depth = 0.0;    // where the needle sits in the filler: 0 = right after the instruction, 1 = just before the question
    uint64_t seed = 0;
    int bosId = -1;        // prepended when ≥ 0
};

class NeedleBuilder {
public:
    using Encoder = std::function<std::vector<int>(const QString &)>;
    // `tokenizerSource` names the tokenizer (its tokenizer.json) in the errors it causes.
    NeedleBuilder(Encoder encode, Haystack haystack, QString tokenizerSource = QString());

    // Throws rs::Error when the length cannot hold the instruction, needle and question.
    NeedleSample build(const NeedleOptions &options) const;
    // `count` samples with seeds seed, seed+1, …
    std::vector<NeedleSample> buildMany(int count, const NeedleOptions &options) const;
    // The tokens sample `seed` needs besides its filler (BOS, instruction, needle, question and
    // answer): the shortest length build() accepts for it.
    int templateTokens(uint64_t seed, int bosId) const;

    // The paper's template pieces for a key/value (exposed for tests and the docs).
    static QString instruction();
    static QString needleSentence(const QString &key, const QString &value);
    static QString question(const QString &key);
    static QString answer(const QString &value);

private:
    Encoder m_encode;
    Haystack m_haystack;
    QString m_tokenizerSource;
};

// The key and value a seed gives: an adjective-noun pair and a 7-digit number.
void needleKeyValue(uint64_t seed, QString *key, QString *value);

// The tokens of `whole` after its longest common prefix with `prefix`: what an answer adds to its
// question, tokenized as it appears in context.
std::vector<int> tokensAfterCommonPrefix(const std::vector<int> &whole, const std::vector<int> &prefix);
// The first `count` tokens of the haystack's text for `seed` (more text is encoded until enough).
std::vector<int> haystackTokens(const NeedleBuilder::Encoder &encode, const Haystack &haystack, int count, uint64_t seed);

} // namespace rs
