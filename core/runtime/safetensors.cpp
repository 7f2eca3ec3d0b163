#include "runtime/safetensors.h"
#include "common/error.h"
#include "common/savefile.h"
#include "runtime/modelfolder.h"

#include <QDir>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSaveFile>
#include <QSet>
#include <QtEndian>

#include <algorithm>
#include <cmath>
#include <limits>

namespace rs {
namespace {

// A header this large is not a model: refuse before allocating for it.
constexpr int64_t kMaxHeaderBytes = 100 * 1024 * 1024;
// Shapes and offsets arrive as JSON numbers (doubles); anything from 2^62 up is refused before it
// is converted, so the conversion and the byte arithmetic below cannot overflow.
constexpr double kMaxIndex = 4611686018427387904.0;  // 2^62

enum class Index { Ok, NotAnInteger, TooLarge };

// A JSON value that must be a non-negative integer (a dimension or an offset).
Index toIndex(const QJsonValue &value, int64_t &out)
{
    if (!value.isDouble())
        return Index::NotAnInteger;
    const double v = value.toDouble();
    if (!std::isfinite(v) || v < 0 || std::floor(v) != v)
        return Index::NotAnInteger;
    if (v >= kMaxIndex)
        return Index::TooLarge;
    out = int64_t(v);
    return Index::Ok;
}

} // namespace

int dtypeSize(const QString &dtype)
{
    static const std::map<QString, int> sizes = {
        {QStringLiteral("BOOL"), 1}, {QStringLiteral("U8"), 1},      {QStringLiteral("I8"), 1},
        {QStringLiteral("F8_E4M3"), 1}, {QStringLiteral("F8_E5M2"), 1}, {QStringLiteral("U16"), 2},
        {QStringLiteral("I16"), 2},  {QStringLiteral("F16"), 2},     {QStringLiteral("BF16"), 2},
        {QStringLiteral("U32"), 4},  {QStringLiteral("I32"), 4},     {QStringLiteral("F32"), 4},
        {QStringLiteral("U64"), 8},  {QStringLiteral("I64"), 8},     {QStringLiteral("F64"), 8}};
    const auto it = sizes.find(dtype);
    return it == sizes.end() ? 0 : it->second;
}

int64_t TensorInfo::elementCount() const
{
    int64_t n = 1;
    for (int64_t d : shape)
        n *= d;
    return n;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const QString &path)
{
    std::unique_ptr<SafetensorsFile> f(new SafetensorsFile);
    f->m_path = path;
    auto fail = [&](const QString &problem) { throw Error(path, problem); };

    f->m_file.setFileName(path);
    if (!f->m_file.open(QIODevice::ReadOnly))
        fail(QStringLiteral("cannot open: %1").arg(f->m_file.errorString()));
    const int64_t fileSize = f->m_file.size();
    if (fileSize < 8)
        fail(QStringLiteral("too short to be a safetensors file (%1 bytes)").arg(fileSize));
    f->m_map = f->m_file.map(0, fileSize);
    if (!f->m_map)
        fail(QStringLiteral("cannot map: %1").arg(f->m_file.errorString()));

    const uint64_t headerLength = qFromLittleEndian<quint64>(f->m_map);
    if (headerLength > uint64_t(fileSize - 8))
        fail(QStringLiteral("header length %1 exceeds the file (%2 bytes)").arg(headerLength).arg(fileSize));
    if (headerLength > uint64_t(kMaxHeaderBytes))
        fail(QStringLiteral("header length %1 is absurdly large (over %2 bytes)").arg(headerLength).arg(kMaxHeaderBytes));
    f->m_dataStart = 8 + int64_t(headerLength);
    const int64_t dataSize = fileSize - f->m_dataStart;

    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(
        QByteArray::fromRawData(reinterpret_cast<const char *>(f->m_map + 8), qsizetype(headerLength)).trimmed(),
        &parseError);
    if (parseError.error != QJsonParseError::NoError)
        fail(QStringLiteral("header is not valid JSON: %1").arg(parseError.errorString()));
    if (!doc.isObject())
        fail(QStringLiteral("header is not a JSON object"));

    const QJsonObject header = doc.object();
    std::vector<std::pair<int64_t, int64_t>> ranges;  // [begin, end) per tensor, for the overlap check
    std::vector<QString> rangeNames;
    for (auto it = header.begin(); it != header.end(); ++it) {
        const QString name = it.key();
        if (name == QLatin1String("__metadata__")) {
            if (!it.value().isObject())
                fail(QStringLiteral("__metadata__ is not an object"));
            const QJsonObject meta = it.value().toObject();
            for (auto m = meta.begin(); m != meta.end(); ++m)
                if (!m.value().isString())
                    fail(QStringLiteral("__metadata__ value \"%1\" is not a string").arg(m.key()));
            f->m_metadata = meta;
            continue;
        }
        auto failTensor = [&](const QString &problem) { fail(QStringLiteral("tensor \"%1\": %2").arg(name, problem)); };
        if (!it.value().isObject())
            failTensor(QStringLiteral("entry is not an object"));
        const QJsonObject entry = it.value().toObject();
        for (const char *key : {"dtype", "shape", "data_offsets"})
            if (!entry.contains(QLatin1String(key)))
                failTensor(QStringLiteral("missing \"%1\"").arg(QLatin1String(key)));

        TensorInfo info;
        info.name = name;
        info.dtype = entry.value(QLatin1String("dtype")).toString();
        const int elementSize = dtypeSize(info.dtype);
        if (elementSize == 0)
            failTensor(QStringLiteral("unknown dtype \"%1\"").arg(entry.value(QLatin1String("dtype")).toVariant().toString()));

        const QJsonValue shape = entry.value(QLatin1String("shape"));
        if (!shape.isArray())
            failTensor(QStringLiteral("shape is not a list"));
        int64_t elements = 1;
        for (const QJsonValue &d : shape.toArray()) {
            int64_t dim = 0;
            const Index parsed = toIndex(d, dim);
            if (parsed == Index::NotAnInteger)
                failTensor(QStringLiteral("shape holds something that is not a non-negative integer"));
            if (parsed == Index::TooLarge || (dim != 0 && elements > std::numeric_limits<int64_t>::max() / elementSize / dim))
                failTensor(QStringLiteral("shape is too large"));
            elements *= dim;
            info.shape.push_back(dim);
        }

        const QJsonValue offsetsValue = entry.value(QLatin1String("data_offsets"));
        const QJsonArray offsets = offsetsValue.toArray();
        if (!offsetsValue.isArray() || offsets.size() != 2)
            failTensor(QStringLiteral("data_offsets is not two integers"));
        int64_t begin = 0, end = 0;
        const Index parsedBegin = toIndex(offsets[0], begin);
        const Index parsedEnd = toIndex(offsets[1], end);
        if (parsedBegin == Index::NotAnInteger || parsedEnd == Index::NotAnInteger)
            failTensor(QStringLiteral("data_offsets is not two integers"));
        if (parsedBegin == Index::TooLarge || parsedEnd == Index::TooLarge)
            failTensor(QStringLiteral("data_offsets [%1, %2] reach beyond the data section (%3 bytes)")
                           .arg(offsets[0].toDouble(), 0, 'g', 17).arg(offsets[1].toDouble(), 0, 'g', 17).arg(dataSize));
        if (end < begin)
            failTensor(QStringLiteral("data_offsets [%1, %2] are not an ordered pair (begin > end)").arg(begin).arg(end));
        if (end > dataSize)
            failTensor(QStringLiteral("data_offsets end %1 is beyond the data section (%2 bytes)").arg(end).arg(dataSize));
        info.byteSize = end - begin;
        if (info.byteSize != elements * elementSize)
            failTensor(QStringLiteral("holds %1 bytes but its shape and dtype need %2")
                           .arg(info.byteSize).arg(elements * elementSize));
        ranges.emplace_back(begin, end);
        rangeNames.push_back(name);
        f->m_offsets[name] = begin;
        f->m_tensors.emplace(name, std::move(info));
    }

    std::vector<size_t> order(ranges.size());
    for (size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ranges[a] < ranges[b]; });
    // Empty tensors occupy no bytes; every other range must start at or after the furthest end so far.
    int64_t furthestEnd = 0;
    size_t furthest = 0;
    for (size_t i : order) {
        const auto &[begin, end] = ranges[i];
        if (begin == end)
            continue;
        if (begin < furthestEnd)
            fail(QStringLiteral("tensors \"%1\" and \"%2\" overlap").arg(rangeNames[furthest], rangeNames[i]));
        furthestEnd = end;
        furthest = i;
    }
    return f;
}

SafetensorsFile::~SafetensorsFile()
{
    if (m_map)
        m_file.unmap(const_cast<uchar *>(m_map));
}

const TensorInfo &SafetensorsFile::info(const QString &name) const
{
    const auto it = m_tensors.find(name);
    if (it == m_tensors.end())
        throw Error(m_path, QStringLiteral("no tensor \"%1\"").arg(name));
    return it->second;
}

const uchar *SafetensorsFile::data(const QString &name) const
{
    info(name);  // throws for a missing name
    return m_map + m_dataStart + m_offsets.at(name);
}

std::unique_ptr<SafetensorsCheckpoint> SafetensorsCheckpoint::open(const QString &directory)
{
    std::unique_ptr<SafetensorsCheckpoint> c(new SafetensorsCheckpoint);
    c->m_directory = directory;
    if (!QDir(directory).exists())
        throw Error(directory, QStringLiteral("no such folder"));
    // Every file below is resolved by the folder first: nothing outside it is ever opened.
    const ModelFolder folder(directory);
    const std::optional<QString> indexPath = folder.optionalFile(QStringLiteral("model.safetensors.index.json"));
    const std::optional<QString> singlePath = folder.optionalFile(QStringLiteral("model.safetensors"));
    // Both layouts at once mean two models in one folder (a train written over a sharded
    // checkpoint, a half-finished conversion), and either choice would silently score one of them.
    // transformers loads the single file (modeling_utils.py, _get_resolved_checkpoint_files: a
    // local folder's model.safetensors is tried before model.safetensors.index.json); this loader
    // used to take the index. Neither is safe to guess: refuse, naming both.
    if (indexPath && singlePath)
        throw Error(directory, QStringLiteral("holds both model.safetensors and model.safetensors.index.json, two "
                                              "checkpoints in one folder (transformers would load model.safetensors "
                                              "and ignore the index); remove the one that is not this model's"));

    auto adopt = [&](std::unique_ptr<SafetensorsFile> file) {
        for (const auto &[name, info] : file->tensors()) {
            if (c->m_owner.count(name))
                throw Error(directory, QStringLiteral("tensor \"%1\" is in both %2 and %3")
                                           .arg(name, QFileInfo(c->m_owner[name]->path()).fileName(),
                                                QFileInfo(file->path()).fileName()));
            c->m_owner[name] = file.get();
        }
        c->m_files.push_back(std::move(file));
    };

    if (indexPath) {
        QFile f(*indexPath);
        if (!f.open(QIODevice::ReadOnly))
            throw Error(*indexPath, QStringLiteral("cannot open: %1").arg(f.errorString()));
        QJsonParseError err;
        const QJsonDocument doc = QJsonDocument::fromJson(f.readAll(), &err);
        if (err.error != QJsonParseError::NoError)
            throw Error(*indexPath, QStringLiteral("malformed JSON: %1").arg(err.errorString()));
        if (!doc.isObject())
            throw Error(*indexPath, QStringLiteral("malformed index: not a JSON object"));
        const QJsonValue map = doc.object().value(QLatin1String("weight_map"));
        if (!map.isObject())
            throw Error(*indexPath, QStringLiteral("missing \"weight_map\" object"));
        std::map<QString, QStringList> tensorsByShard;
        const QJsonObject weightMap = map.toObject();
        for (auto it = weightMap.begin(); it != weightMap.end(); ++it) {
            if (!it.value().isString())
                throw Error(*indexPath, QStringLiteral("weight_map entry \"%1\" is not a file name").arg(it.key()));
            tensorsByShard[it.value().toString()].append(it.key());
        }
        // Every shard is checked before the first is opened.
        std::vector<std::pair<QString, QString>> shardPaths;  // name in the index, path to open
        for (const auto &[shard, names] : tensorsByShard)
            shardPaths.emplace_back(shard, folder.file(shard, *indexPath, QStringLiteral("weight_map entry \"%1\"").arg(names.first())));
        for (const auto &[shard, shardPath] : shardPaths) {
            std::unique_ptr<SafetensorsFile> file = SafetensorsFile::open(shardPath);
            for (const QString &name : tensorsByShard.at(shard))
                if (!file->contains(name))
                    throw Error(*indexPath, QStringLiteral("maps \"%1\" to %2, which does not hold it").arg(name, shard));
            adopt(std::move(file));
        }
    } else if (singlePath) {
        adopt(SafetensorsFile::open(*singlePath));
    } else {
        throw Error(directory, QStringLiteral("no model.safetensors or model.safetensors.index.json in this folder"));
    }
    return c;
}

QStringList SafetensorsCheckpoint::names() const
{
    QStringList out;
    for (const auto &[name, file] : m_owner)
        out.append(name);
    return out;
}

const TensorInfo &SafetensorsCheckpoint::info(const QString &name) const
{
    const auto it = m_owner.find(name);
    if (it == m_owner.end())
        throw Error(m_directory, QStringLiteral("the checkpoint has no tensor \"%1\"").arg(name));
    return it->second->info(name);
}

const uchar *SafetensorsCheckpoint::data(const QString &name) const
{
    info(name);
    return m_owner.at(name)->data(name);
}

QString SafetensorsCheckpoint::fileOf(const QString &name) const
{
    info(name);
    return m_owner.at(name)->path();
}

void writeSafetensors(const QString &path, const std::vector<TensorBytes> &tensors, const QJsonObject &metadata)
{
    const auto fail = [&](const QString &problem) { throw Error(path, problem); };
    QJsonObject header;
    QSet<QString> seen;
    int64_t offset = 0;
    for (const TensorBytes &t : tensors) {
        if (t.name.isEmpty() || t.name == QLatin1String("__metadata__"))
            fail(QStringLiteral("cannot write a tensor named \"%1\"").arg(t.name));
        if (seen.contains(t.name))
            fail(QStringLiteral("tensor \"%1\" given twice").arg(t.name));
        seen.insert(t.name);
        const int size = dtypeSize(t.dtype);
        if (size == 0)
            fail(QStringLiteral("tensor \"%1\" has unknown dtype \"%2\"").arg(t.name, t.dtype));
        int64_t elements = 1;
        QJsonArray shape;
        for (int64_t d : t.shape) {
            if (d < 0)
                fail(QStringLiteral("tensor \"%1\" has a negative dimension").arg(t.name));
            elements *= d;
            shape.append(qint64(d));
        }
        if (t.byteSize != elements * size || (t.byteSize > 0 && !t.data))
            fail(QStringLiteral("tensor \"%1\" has %2 bytes but its shape and dtype need %3")
                     .arg(t.name).arg(t.byteSize).arg(elements * size));
        header.insert(t.name, QJsonObject{{QStringLiteral("dtype"), t.dtype},
                                          {QStringLiteral("shape"), shape},
                                          {QStringLiteral("data_offsets"), QJsonArray{qint64(offset), qint64(offset + t.byteSize)}}});
        offset += t.byteSize;
    }
    QJsonObject meta;
    for (auto it = metadata.begin(); it != metadata.end(); ++it) {
        if (!it.value().isString())
            fail(QStringLiteral("metadata \"%1\" must be a string").arg(it.key()));
        meta.insert(it.key(), it.value());
    }
    if (!meta.isEmpty())
        header.insert(QStringLiteral("__metadata__"), meta);
    QByteArray json = QJsonDocument(header).toJson(QJsonDocument::Compact);
    // The data section starts 8-byte aligned, so readers may map tensors in place.
    while (json.size() % 8 != 0)
        json.append(' ');
    uchar lengthBytes[8];
    qToLittleEndian<quint64>(quint64(json.size()), lengthBytes);

    saveFileAtomically(path, [&](QSaveFile &f) {
        bool ok = f.write(reinterpret_cast<const char *>(lengthBytes), 8) == 8 && f.write(json) == json.size();
        for (const TensorBytes &t : tensors) {
            // QIODevice::write takes qint64 but large buffers go in pieces to stay clear of any
            // platform limit on one write.
            const char *p = static_cast<const char *>(t.data);
            for (int64_t done = 0; ok && done < t.byteSize;) {
                const int64_t n = std::min<int64_t>(t.byteSize - done, int64_t(1) << 30);
                ok = f.write(p + done, n) == n;
                done += n;
            }
        }
        return ok;
    });
}

} // namespace rs
