#include "runtime/tokenizer.h"

#include "common/error.h"
#include "common/utf8.h"
#include "runtime/modelfolder.h"
#include "runtime/tokenizer/tokenizer_p.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonValue>
#include <QLocale>

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
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

// The pipeline's stages (tokenizer/*.cpp).
using tokenizer_detail::AddedMatcher;
using tokenizer_detail::AddedToken;
using tokenizer_detail::Bpe;
using tokenizer_detail::Decoder;
using tokenizer_detail::Normalizer;
using tokenizer_detail::Piece;
using tokenizer_detail::PreTokenizer;
using tokenizer_detail::Segment;
using tokenizer_detail::byteTokenName;
using tokenizer_detail::fromStd;
using tokenizer_detail::pairKey;
using tokenizer_detail::readDecoder;
using tokenizer_detail::readNormalizer;
using tokenizer_detail::readPreTokenizer;
using tokenizer_detail::toStd;
using tokenizer_detail::typeOf;

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
    if (QFileInfo(path).isDir())
        throw Error(path, QStringLiteral("is a directory, not a tokenizer file"));
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

// The largest vocabulary accepted: 64 times the largest published one (Gemma 3's 262,144 ids). An
// id beyond it is a damaged or hostile file, not a tokenizer: every model built on it would need
// as many embedding rows, and the id table here alone would take gigabytes.
constexpr int64_t kMaxVocabSize = int64_t(1) << 24;

// 2,147,483,648: an id's size at a glance, whatever the user's locale.
QString groupedNumber(int64_t n) { return QLocale(QLocale::English, QLocale::UnitedStates).toString(qlonglong(n)); }

[[noreturn]] void refuseId(const QString &source, const QString &what, int64_t id, size_t entries)
{
    const int64_t size = id == std::numeric_limits<int64_t>::max() ? id : id + 1;
    const double gib = double(size) * double(sizeof(QString)) / double(int64_t(1) << 30);
    throw Error(source, QStringLiteral("%1 has id %2, which would make the vocabulary %3 ids long for %4 tokens: not "
                                       "credible (the largest published vocabularies have about 262,000 ids, and up "
                                       "to %5 are accepted), and its id table alone would need %6 GiB")
                            .arg(what, groupedNumber(id), groupedNumber(size), groupedNumber(int64_t(entries)),
                                 groupedNumber(kMaxVocabSize), QString::number(gib, 'f', 1)));
}

// A JSON number that is a whole number ≥ 0 (as tokenizers' u32 ids are), saturated at int64's
// maximum; false for anything else.
bool wholeNumber(simdjson::dom::element e, int64_t *out)
{
    switch (e.type()) {
    case simdjson::dom::element_type::INT64:
        *out = e.get_int64().value_unsafe();
        return *out >= 0;
    case simdjson::dom::element_type::UINT64:
        *out = std::numeric_limits<int64_t>::max();
        return true;
    case simdjson::dom::element_type::DOUBLE: {
        const double d = e.get_double().value_unsafe();
        if (!(d >= 0) || d != std::floor(d))
            return false;
        *out = d >= 9.2e18 ? std::numeric_limits<int64_t>::max() : int64_t(d);
        return true;
    }
    default:
        return false;
    }
}

QString fromView(std::string_view s) { return fromUtf8Exact(QByteArrayView(s.data(), qsizetype(s.size()))); }

// A parsed JSON value as a QJsonValue whose strings keep every code point (see common/utf8.h):
// for the small parts of the file (the pipeline, the added tokens), read with Qt's JSON types.
QJsonValue toQJson(simdjson::dom::element e)
{
    switch (e.type()) {
    case simdjson::dom::element_type::ARRAY: {
        QJsonArray a;
        const simdjson::dom::array array = e.get_array().value_unsafe();   // a copy: the result is a temporary
        for (simdjson::dom::element c : array)
            a.append(toQJson(c));
        return a;
    }
    case simdjson::dom::element_type::OBJECT: {
        QJsonObject o;
        const simdjson::dom::object object = e.get_object().value_unsafe();
        for (simdjson::dom::key_value_pair kv : object)
            o.insert(fromView(kv.key), toQJson(kv.value));
        return o;
    }
    case simdjson::dom::element_type::INT64:
        return QJsonValue(qint64(e.get_int64().value_unsafe()));
    case simdjson::dom::element_type::UINT64:
        return QJsonValue(double(e.get_uint64().value_unsafe()));
    case simdjson::dom::element_type::DOUBLE:
        return QJsonValue(e.get_double().value_unsafe());
    case simdjson::dom::element_type::STRING:
        return QJsonValue(fromView(e.get_string().value_unsafe()));
    case simdjson::dom::element_type::BOOL:
        return QJsonValue(e.get_bool().value_unsafe());
    case simdjson::dom::element_type::NULL_VALUE:
        break;
    }
    return QJsonValue(QJsonValue::Null);
}

// The fields of `o` but those named in `skip`, as exact QJsonValues.
QJsonObject toQJsonExcept(simdjson::dom::object o, std::initializer_list<std::string_view> skip)
{
    QJsonObject out;
    for (simdjson::dom::key_value_pair kv : o)
        if (std::find(skip.begin(), skip.end(), kv.key) == skip.end())
            out.insert(fromView(kv.key), toQJson(kv.value));
    return out;
}

// Why simdjson refused `json`: Qt's parser's message and offset where it refuses too (they are
// clearer), simdjson's otherwise.
QString parseProblem(simdjson::error_code code, QByteArrayView json)
{
    if (code == simdjson::UTF8_ERROR)
        return QStringLiteral("the file is not valid UTF-8");
    QJsonParseError err;
    QJsonDocument::fromJson(json.toByteArray(), &err);
    if (err.error != QJsonParseError::NoError)
        return QStringLiteral("%1 at offset %2").arg(err.errorString()).arg(err.offset);
    return QString::fromLatin1(simdjson::error_message(code));
}

} // namespace

std::unique_ptr<HfTokenizer> HfTokenizer::fromJson(const QByteArray &json, const QString &source)
{
    // simdjson, not QJsonDocument: Qt decodes each JSON string with QString::fromUtf8, which drops a
    // leading U+FEFF, so vocabulary keys and merges that start with one (Gemma 3 has six and seven)
    // would collide or vanish. It is also the fastest of the parsers measured on Gemma 3's 33 MB
    // file (docs/formats.md). A UTF-8 byte-order mark before the top-level value is a file
    // marker, as in Qt's parser.
    const QByteArrayView text = withoutUtf8Bom(json);
    simdjson::dom::parser parser;
    const simdjson::padded_string padded(text.data(), size_t(text.size()));
    simdjson::dom::element rootElement;
    if (const simdjson::error_code code = parser.parse(padded).get(rootElement))
        throw Error(source, QStringLiteral("malformed tokenizer.json: %1").arg(parseProblem(code, text)));
    simdjson::dom::object rootObject;
    if (rootElement.get_object().get(rootObject))
        throw Error(source, QStringLiteral("malformed tokenizer.json: the top level is not an object"));
    const QJsonObject root = toQJsonExcept(rootObject, {"model"});

    std::unique_ptr<HfTokenizer> tok(new HfTokenizer);
    Impl &d = *tok->d;
    d.source = source;

    // The model: its vocab and merges straight from the parsed document (hundreds of thousands of
    // entries), the rest as QJsonValues.
    simdjson::dom::object modelObject;
    if (rootObject["model"].get_object().get(modelObject))
        throw Error(source, QStringLiteral("malformed tokenizer.json: no \"model\" object"));
    const QJsonObject model = toQJsonExcept(modelObject, {"vocab", "merges"});
    QString modelType = typeOf(model);
    if (modelType.isEmpty() && modelObject["merges"].error() == simdjson::SUCCESS)
        modelType = QStringLiteral("BPE");   // older files leave the type out
    if (modelType != QLatin1String("BPE"))
        throw Error(source, QStringLiteral("unsupported model type \"%1\" (only BPE is supported)").arg(modelType));
    simdjson::dom::object vocab;
    if (modelObject["vocab"].get_object().get(vocab))
        throw Error(source, QStringLiteral("malformed tokenizer.json: the model has no \"vocab\" object"));
    if (vocab.size() == 0)
        throw Error(source, QStringLiteral("malformed tokenizer.json: the model's vocab is empty"));

    Bpe &bpe = d.bpe;
    std::vector<std::pair<std::string_view, int>> entries;   // in file order
    entries.reserve(vocab.size());
    for (simdjson::dom::key_value_pair kv : vocab) {
        int64_t id = 0;
        if (!wholeNumber(kv.value, &id))
            throw Error(source, QStringLiteral("malformed tokenizer.json: vocab entry \"%1\" has no valid id").arg(fromView(kv.key)));
        if (id >= kMaxVocabSize)
            refuseId(source, QStringLiteral("vocab entry \"%1\"").arg(fromView(kv.key)), id, vocab.size());
        entries.emplace_back(kv.key, int(id));
        d.maxId = std::max(d.maxId, int(id));
    }
    bpe.vocab.reserve(entries.size() * 2);
    bpe.idToQString.assign(size_t(d.maxId) + 1, QString());
    std::vector<bool> taken(size_t(d.maxId) + 1, false);
    for (const auto &[token, id] : entries) {
        if (taken[size_t(id)])
            throw Error(source, QStringLiteral("malformed tokenizer.json: vocab entries \"%1\" and \"%2\" both have id %3; "
                                               "an id names one token")
                                    .arg(bpe.idToQString[size_t(id)], fromView(token)).arg(id));
        taken[size_t(id)] = true;
        bpe.vocab.insert_or_assign(std::string(token), id);
        bpe.idToQString[size_t(id)] = fromView(token);
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

    // Merges: absent or null is none (a vocab-only BPE).
    simdjson::dom::element mergesElement;
    simdjson::dom::array merges;
    const bool hasMerges = modelObject["merges"].get(mergesElement) == simdjson::SUCCESS && !mergesElement.is_null();
    if (hasMerges && mergesElement.get_array().get(merges))
        throw Error(source, QStringLiteral("malformed tokenizer.json: the model's \"merges\" is not a list"));
    if (hasMerges) {
        bpe.merges.reserve(merges.size() * 2);
        int rank = 0;
        qsizetype k = 0;
        std::string merged;
        for (simdjson::dom::element m : merges) {
            ++k;
            std::string_view a, b, line;
            simdjson::dom::array pair;
            if (m.get_string().get(line) == simdjson::SUCCESS) {
                if (line.starts_with("#version"))
                    continue;
                const size_t space = line.find(' ');
                if (space == std::string_view::npos || line.find(' ', space + 1) != std::string_view::npos)
                    throw Error(source, QStringLiteral("merge %1 (\"%2\") is not two tokens separated by one space")
                                            .arg(k).arg(fromView(line)));
                a = line.substr(0, space);
                b = line.substr(space + 1);
            } else if (m.get_array().get(pair) != simdjson::SUCCESS || pair.size() != 2
                       || pair.at(0).get_string().get(a) != simdjson::SUCCESS
                       || pair.at(1).get_string().get(b) != simdjson::SUCCESS) {
                throw Error(source, QStringLiteral("merge %1 is neither \"a b\" nor [\"a\", \"b\"]").arg(k));
            }
            const int aId = bpe.lookup(a), bId = bpe.lookup(b);
            if (aId < 0)
                throw Error(source, QStringLiteral("merge %1 (\"%2 %3\") refers to the unknown token \"%2\"")
                                        .arg(k).arg(fromView(a), fromView(b)));
            if (bId < 0)
                throw Error(source, QStringLiteral("merge %1 (\"%2 %3\") refers to the unknown token \"%3\"")
                                        .arg(k).arg(fromView(a), fromView(b)));
            // With a continuing_subword_prefix, the right part loses it in the merged token.
            const bool dropPrefix = !bpe.prefix.empty() && b.starts_with(bpe.prefix);
            merged.assign(a);
            merged.append(dropPrefix ? b.substr(bpe.prefix.size()) : b);
            const int newId = bpe.lookup(merged);
            if (newId < 0)
                throw Error(source, QStringLiteral("merge %1 (\"%2 %3\") makes \"%4\", which is not in the vocab")
                                        .arg(k).arg(fromView(a), fromView(b), fromStd(merged)));
            bpe.merges[pairKey(aId, bId)] = {rank++, newId};
        }
    }

    // Added tokens.
    const QJsonValue addedValue = root.value(QLatin1String("added_tokens"));
    if (!addedValue.isUndefined() && !addedValue.isNull() && !addedValue.isArray())
        throw Error(source, QStringLiteral("malformed tokenizer.json: \"added_tokens\" is not a list"));
    for (const QJsonValue &v : addedValue.toArray()) {
        const QJsonObject o = v.toObject();
        AddedToken t;
        const QJsonValue idValue = o.value(QLatin1String("id"));
        const double id = idValue.toDouble(-1);
        t.content = o.value(QLatin1String("content")).toString();
        if (!idValue.isDouble() || !(id >= 0) || id != std::floor(id) || t.content.isEmpty())
            throw Error(source, QStringLiteral("malformed tokenizer.json: an added token has no id or content"));
        if (id >= double(kMaxVocabSize))
            refuseId(source, QStringLiteral("added token \"%1\"").arg(t.content),
                     id >= 9.2e18 ? std::numeric_limits<int64_t>::max() : int64_t(id), entries.size());
        t.id = int(id);
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
    d.normalizedMatcher.finish();
    d.rawMatcher.finish();
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

std::unique_ptr<Tokenizer> loadTokenizer(const QString &pathToTokenizerJson)
{
    QString path = pathToTokenizerJson;
    // A folder is a model folder: its tokenizer.json must be a regular file inside it.
    const QFileInfo given(path);
    if (given.isDir()) {
        const QString inside = QDir(path).filePath(QStringLiteral("tokenizer.json"));
        // A folder named like the file itself (a failed download, a wrong path) is not a model
        // folder missing its tokenizer: say what it is.
        if (!QFileInfo::exists(inside) && given.fileName().endsWith(QLatin1String(".json"), Qt::CaseInsensitive))
            throw Error(path, QStringLiteral("is a directory, not a tokenizer file"));
        const QString name = QStringLiteral("tokenizer.json");
        const std::optional<QString> found = ModelFolder(path).optionalFile(name, path, name);
        if (!found)
            throw Error(inside, QStringLiteral("no such tokenizer file"));
        path = *found;
    } else if (!QFileInfo::exists(path))
        throw Error(path, QStringLiteral("no such tokenizer file"));
    return HfTokenizer::fromFile(path);
}

} // namespace rs
