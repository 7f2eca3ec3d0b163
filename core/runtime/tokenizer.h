#pragma once
// Tokenizers: Hugging Face `tokenizer.json` files (matching the `tokenizers` library token for
// token) and a plain byte tokenizer for the embedded tiny model, behind one interface.
//
// Supported tokenizer.json content (what current Llama-family models use):
//   model:         BPE (merges as "a b" strings or ["a","b"] pairs; byte_fallback, unk_token,
//                  fuse_unk, ignore_merges, continuing_subword_prefix, end_of_word_suffix)
//   normalizer:    Sequence, Prepend, Replace (String or Regex), NFC/NFD/NFKC/NFKD, Lowercase, or null
//   pre_tokenizer: Sequence, Split (String or Regex; Isolated/Removed/MergedWithPrevious/
//                  MergedWithNext/Contiguous; invert), ByteLevel (add_prefix_space, use_regex),
//                  Metaspace (prepend_scheme always/first/never or add_prefix_space; split),
//                  Digits, or null
//   decoder:       Sequence, ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, or null
//   added_tokens:  split out of the input first (leftmost-longest), honouring normalized,
//                  lstrip, rstrip and single_word
//   post_processor: only read for the BOS token (TemplateProcessing, alone or in a Sequence)
// Anything else (another model type, normalizer, pre-tokenizer or decoder) is refused with an
// rs::Error naming the file.
#include <QString>
#include <QStringList>

#include <memory>
#include <vector>

namespace rs {

class Tokenizer {
public:
    virtual ~Tokenizer();

    // The ids of `text`; with `addBos`, bosId() first (throws rs::Error when no BOS is known).
    // No other special tokens are added.
    std::vector<int> encode(const QString &text, bool addBos = false) const;
    // The text of `ids`; unknown ids are skipped, and special tokens too with `skipSpecial`.
    virtual QString decode(const std::vector<int> &ids, bool skipSpecial = false) const = 0;

    // One past the largest id (the embedding rows a model needs).
    virtual int vocabSize() const = 0;
    // -1 when `token` is not in the vocabulary.
    virtual int tokenToId(const QString &token) const = 0;
    // Empty when `id` is not in the vocabulary.
    virtual QString idToToken(int id) const = 0;
    virtual bool isSpecial(int id) const = 0;
    // e.g. `byte-level BPE, 128256 tokens (/models/llama3/tokenizer.json)`.
    virtual QString description() const = 0;
    // The file it came from (what errors name); a short name for built-in tokenizers.
    virtual QString source() const = 0;

    // The BOS id: the caller's (setBosId/setBosToken, from the model config), else the one the
    // tokenizer file names (TemplateProcessing), else -1.
    int bosId() const { return m_bosId >= 0 ? m_bosId : m_fileBosId; }
    int fileBosId() const { return m_fileBosId; }
    void setBosId(int id) { m_bosId = id; }     // -1 falls back to the file's
    bool setBosToken(const QString &token);     // false (and unchanged) when not in the vocabulary

protected:
    virtual std::vector<int> encodeText(const QString &text) const = 0;
    int m_fileBosId = -1;
    int m_bosId = -1;
};

// A Hugging Face tokenizer.json tokenizer. Thread-safe: encode/decode may run concurrently.
class HfTokenizer final : public Tokenizer {
public:
    static std::unique_ptr<HfTokenizer> fromFile(const QString &path);                  // throws rs::Error
    static std::unique_ptr<HfTokenizer> fromJson(const QByteArray &json, const QString &source); // throws rs::Error
    ~HfTokenizer() override;

    QString decode(const std::vector<int> &ids, bool skipSpecial = false) const override;
    int vocabSize() const override;
    int tokenToId(const QString &token) const override;
    QString idToToken(int id) const override;
    bool isSpecial(int id) const override;
    QString description() const override;
    QString source() const override;

    bool isByteLevel() const;       // a ByteLevel pre-tokenizer (GPT-2 / Llama 3 / Qwen2 style)
    bool hasByteFallback() const;   // SentencePiece-style BPE with <0xXX> byte tokens
    QStringList addedTokens() const;  // the added_tokens contents, in id order

protected:
    std::vector<int> encodeText(const QString &text) const override;

private:
    HfTokenizer();
    struct Impl;
    std::unique_ptr<Impl> d;
};

// UTF-8 bytes as ids 0..255, then the special tokens as 256, 257, … (split out of the input and
// decoded back to their text). Tokens are written "<0xXX>" for bytes.
class ByteTokenizer final : public Tokenizer {
public:
    explicit ByteTokenizer(const QStringList &specialTokens = {});

    QString decode(const std::vector<int> &ids, bool skipSpecial = false) const override;
    int vocabSize() const override { return 256 + int(m_specials.size()); }
    int tokenToId(const QString &token) const override;
    QString idToToken(int id) const override;
    bool isSpecial(int id) const override { return id >= 256 && id < vocabSize(); }
    QString description() const override;
    QString source() const override { return QStringLiteral("byte tokenizer"); }

protected:
    std::vector<int> encodeText(const QString &text) const override;

private:
    QStringList m_specials;
};

// A tokenizer.json file, or a folder holding one. Throws rs::Error naming the file.
std::unique_ptr<Tokenizer> loadTokenizer(const QString &pathToTokenizerJson);

} // namespace rs
