#pragma once
// safetensors checkpoints, memory-mapped (QFile::map). Every header length, dtype, shape and
// offset is validated when a file is opened, before any tensor data is touched; problems raise
// rs::Error naming the file (and the tensor).
// Format: 8-byte little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then the data;
// offsets are relative to the end of the header. Sharded checkpoints add
// model.safetensors.index.json with a "weight_map" {tensor name: shard file name}.
#include <QFile>
#include <QJsonObject>
#include <QString>
#include <QStringList>

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

namespace rs {

struct TensorInfo {
    QString name;
    QString dtype;               // safetensors dtype name: "F32", "F16", "BF16", "I64", ...
    std::vector<int64_t> shape;
    int64_t byteSize = 0;
    int64_t elementCount() const;
};

// Bytes per element of a safetensors dtype name; 0 for an unknown name.
int dtypeSize(const QString &dtype);

class SafetensorsFile {
public:
    static std::unique_ptr<SafetensorsFile> open(const QString &path);  // throws rs::Error
    ~SafetensorsFile();

    QString path() const { return m_path; }
    const std::map<QString, TensorInfo> &tensors() const { return m_tensors; }
    bool contains(const QString &name) const { return m_tensors.count(name) != 0; }
    QJsonObject metadata() const { return m_metadata; }
    const TensorInfo &info(const QString &name) const;  // throws rs::Error when missing
    // The tensor's bytes inside the mapping (info(name).byteSize of them), valid while this lives.
    const uchar *data(const QString &name) const;

private:
    SafetensorsFile() = default;
    QString m_path;
    QFile m_file;
    const uchar *m_map = nullptr;
    int64_t m_dataStart = 0;
    std::map<QString, TensorInfo> m_tensors;
    std::map<QString, int64_t> m_offsets;  // begin of each tensor relative to m_dataStart
    QJsonObject m_metadata;
};

// A model folder: model.safetensors, or the shards named by model.safetensors.index.json.
class SafetensorsCheckpoint {
public:
    static std::unique_ptr<SafetensorsCheckpoint> open(const QString &directory);  // throws rs::Error

    QString directory() const { return m_directory; }
    QStringList names() const;
    bool contains(const QString &name) const { return m_owner.count(name) != 0; }
    const TensorInfo &info(const QString &name) const;    // throws rs::Error naming the folder when missing
    const uchar *data(const QString &name) const;
    QString fileOf(const QString &name) const;

private:
    QString m_directory;
    std::vector<std::unique_ptr<SafetensorsFile>> m_files;
    std::map<QString, SafetensorsFile *> m_owner;
};

// One tensor for writeSafetensors: raw little-endian bytes of `dtype` (a safetensors dtype name)
// laid out row-major in `shape`. `data` must stay valid during the call.
struct TensorBytes {
    QString name;
    QString dtype;
    std::vector<int64_t> shape;
    const void *data = nullptr;
    int64_t byteSize = 0;
};

// Writes a safetensors file atomically (QSaveFile: the old file survives a failure), tensors in
// the given order, the header padded with spaces to a multiple of 8 bytes as the reference
// implementation does, and `metadata` (string values) as "__metadata__". Throws rs::Error naming
// the path for an empty or duplicate name, an unknown dtype, a byte count that does not match the
// shape, or a failed write.
void writeSafetensors(const QString &path, const std::vector<TensorBytes> &tensors, const QJsonObject &metadata = {});

} // namespace rs
