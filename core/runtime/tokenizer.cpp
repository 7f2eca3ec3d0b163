#include "runtime/tokenizer.h"

#include "common/error.h"
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

#include <algorithm>
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

std::unique_ptr<Tokenizer> loadTokenizer(const QString &pathToTokenizerJson)
{
    QString path = pathToTokenizerJson;
    // A folder is a model folder: its tokenizer.json must be a regular file inside it.
    if (QFileInfo(path).isDir())
        path = ModelFolder(path).file(QStringLiteral("tokenizer.json"));
    else if (!QFileInfo::exists(path))
        throw Error(path, QStringLiteral("no such tokenizer file"));
    return HfTokenizer::fromFile(path);
}

} // namespace rs
