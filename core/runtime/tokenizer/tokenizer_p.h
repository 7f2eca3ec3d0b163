#pragma once
// Runtime-internal: the stages of a tokenizer.json pipeline (normalizer, pre-tokenizer, BPE model,
// decoder, added-token matcher) and the text helpers they share, put together by tokenizer.cpp.
#include "common/utf8.h"

#include <QByteArray>
#include <QChar>
#include <QHash>
#include <QJsonObject>
#include <QJsonValue>
#include <QRegularExpression>
#include <QString>
#include <QStringList>

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rs::tokenizer_detail {

// ------------------------------------------------------------------------------------------------
// Small helpers (text.cpp)

inline int utf8Length(unsigned char lead)
{
    if (lead < 0x80) return 1;
    if ((lead >> 5) == 0x6) return 2;
    if ((lead >> 4) == 0xE) return 3;
    if ((lead >> 3) == 0x1E) return 4;
    return 1;
}

bool isValidUtf8(const std::string &s);
QString fromUtf8Lossy(const QByteArray &bytes);

inline std::string toStd(const QString &s)
{
    const QByteArray u = s.toUtf8();
    return std::string(u.constData(), size_t(u.size()));
}

QString byteTokenName(int b);

// Exact: a leading U+FEFF stays (QString::fromUtf8 would drop it; common/utf8.h).
inline QString fromStd(const std::string &s) { return fromUtf8Exact(QByteArrayView(s.data(), qsizetype(s.size()))); }

// The GPT-2 byte <-> unicode table: printable bytes map to themselves, the others to U+0100…
struct ByteMap {
    std::array<char16_t, 256> toChar{};
    std::array<int, 0x144> toByte{};
    ByteMap();
    int byteOf(QChar c) const { return c.unicode() < toByte.size() ? toByte[c.unicode()] : -1; }
};

const ByteMap &byteMap();
QString byteLevelMap(const QString &s);   // each UTF-8 byte of `s` as its ByteMap character

QRegularExpression compileRegex(const QString &pattern, const QString &source, const QString &where);

// ------------------------------------------------------------------------------------------------
// JSON access (text.cpp)

QString typeOf(const QJsonObject &o);
// The objects of the list `o[key]`; throws rs::Error naming `where` and the key when it is missing,
// not a list, or holds something other than objects.
std::vector<QJsonObject> readObjectList(const QJsonObject &o, const QString &key, const QString &source, const QString &where);

struct Pattern {
    bool isRegex = false;
    QString literal;
    QRegularExpression re;
};

Pattern readPattern(const QJsonValue &v, const QString &source, const QString &where);

// ------------------------------------------------------------------------------------------------
// Pieces of the input: what pre-tokenizers split and the BPE model encodes one by one

enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

struct Piece {
    QString text;
    bool atStart = false;   // begins at offset 0 of the original input
};

// ------------------------------------------------------------------------------------------------
// Normalizers (normalizers.cpp)

struct Normalizer {
    enum Kind { Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Lowercase } kind = Sequence;
    std::vector<Normalizer> children;
    QString text;      // Prepend: what; Replace: the replacement
    Pattern pattern;   // Replace

    QString apply(QString s) const;
};

Normalizer readNormalizer(const QJsonObject &o, const QString &source);

// ------------------------------------------------------------------------------------------------
// Pre-tokenizers (pretokenizers.cpp)

enum class PrependScheme { Always, First, Never };

PrependScheme readPrependScheme(const QJsonObject &o, const QString &source, const QString &where);

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

    bool containsByteLevel() const;
    void apply(std::vector<Piece> &pieces) const;
};

PreTokenizer readPreTokenizer(const QJsonObject &o, const QString &source);

// ------------------------------------------------------------------------------------------------
// Decoders (decoders.cpp)

struct Decoder {
    enum Kind { Sequence, ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace } kind = Sequence;
    std::vector<Decoder> children;
    Pattern pattern;             // Replace
    QString text;                // Replace: content; Strip: content; Metaspace: replacement
    int start = 0, stop = 0;     // Strip
    bool metaspaceStripFirst = true;

    QStringList apply(QStringList tokens) const;
};

Decoder readDecoder(const QJsonObject &o, const QString &source);

// ------------------------------------------------------------------------------------------------
// Added tokens (addedtokens.cpp)

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
    // add() every pattern, then finish() once before splitting.
    void add(const QString &pattern, int tokenIndex);
    void finish();
    bool isEmpty() const { return m_byFirst.isEmpty(); }

    // The pieces of `seg`: text between matches, and the matches as added tokens.
    void split(const Segment &seg, const std::vector<AddedToken> &tokens, std::vector<Segment> &out) const;

private:
    static bool isWordChar(const QString &s, qsizetype pos, bool before);

    struct Entry {
        QString pattern;
        int tokenIndex;
    };
    QHash<char16_t, std::vector<Entry>> m_byFirst;
};

// ------------------------------------------------------------------------------------------------
// The BPE model (bpe.cpp)

struct MergeInfo {
    int rank;
    int newId;
};

inline uint64_t pairKey(int a, int b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

// std::hash of a std::string and of its std::string_view agree, so the vocabulary can be searched
// with views into the parsed file (loading) as well as with strings (encoding).
struct TransparentStringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

struct Bpe {
    std::unordered_map<std::string, int, TransparentStringHash, std::equal_to<>> vocab;
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

    int lookup(std::string_view s) const
    {
        const auto it = vocab.find(s);
        return it == vocab.end() ? -1 : it->second;
    }

    struct Symbol;
    struct QueueItem;

    std::vector<int> tokenize(const std::string &word) const;
    std::vector<int> tokenizeUncached(const std::string &word) const;
};

} // namespace rs::tokenizer_detail
