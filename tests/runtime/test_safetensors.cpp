// safetensors: every malformed header is refused before data is read, with the file (and the
// tensor) named; valid single-file and sharded checkpoints give back exactly the bytes written.
// Expected values are written here by hand (IEEE bit patterns), not produced by the code under test.
#include "common/error.h"
#include "runtime/safetensors.h"

#include <QDir>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>
#include <QtEndian>

#include <cmath>
#include <cstring>
#include <functional>

using namespace rs;

namespace {

// Writes a safetensors file from a header (JSON text) and raw data; `declaredLength` overrides the
// 8-byte length prefix to fake truncated or lying files.
void writeRaw(const QString &path, const QByteArray &header, const QByteArray &data, qint64 declaredLength = -1)
{
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate))
        qFatal("cannot write %s", qPrintable(path));
    uchar prefix[8];
    qToLittleEndian<quint64>(quint64(declaredLength >= 0 ? declaredLength : header.size()), prefix);
    f.write(reinterpret_cast<const char *>(prefix), 8);
    f.write(header);
    f.write(data);
}

void writeText(const QString &path, const QByteArray &text)
{
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate))
        qFatal("cannot write %s", qPrintable(path));
    f.write(text);
}

QByteArray floatsF32(std::initializer_list<float> values)
{
    QByteArray out;
    for (float v : values) {
        uchar b[4];
        qToLittleEndian<float>(v, b);
        out.append(reinterpret_cast<const char *>(b), 4);
    }
    return out;
}

QByteArray u16s(std::initializer_list<quint16> values)
{
    QByteArray out;
    for (quint16 v : values) {
        uchar b[2];
        qToLittleEndian<quint16>(v, b);
        out.append(reinterpret_cast<const char *>(b), 2);
    }
    return out;
}

QByteArray i64s(std::initializer_list<qint64> values)
{
    QByteArray out;
    for (qint64 v : values) {
        uchar b[8];
        qToLittleEndian<qint64>(v, b);
        out.append(reinterpret_cast<const char *>(b), 8);
    }
    return out;
}

float halfToFloat(quint16 h)  // IEEE binary16 → float, normal numbers only (what the test writes)
{
    const int sign = h >> 15, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    const float value = std::ldexp(1.0f + mantissa / 1024.0f, exponent - 15);
    return sign ? -value : value;
}

float bf16ToFloat(quint16 b)  // bfloat16 is the top half of a float32
{
    const quint32 bits = quint32(b) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

QByteArray bytesOf(const uchar *p, int64_t n)
{
    return QByteArray(reinterpret_cast<const char *>(p), qsizetype(n));
}

// Runs `open` and checks it throws rs::Error whose message holds every one of `words`.
void expectError(const std::function<void()> &open, const QStringList &words)
{
    try {
        open();
        QFAIL(qPrintable(QStringLiteral("no error; expected one naming %1").arg(words.join(QStringLiteral(" / ")))));
    } catch (const Error &e) {
        for (const QString &w : words)
            QVERIFY2(e.message().contains(w), qPrintable(QStringLiteral("\"%1\" lacks \"%2\"").arg(e.message(), w)));
    }
}

} // namespace

class TestSafetensors : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void dtypeSizes_data()
    {
        QTest::addColumn<QString>("dtype");
        QTest::addColumn<int>("size");
        for (const char *d : {"BOOL", "U8", "I8", "F8_E4M3", "F8_E5M2"})
            QTest::newRow(d) << QString::fromLatin1(d) << 1;
        for (const char *d : {"U16", "I16", "F16", "BF16"})
            QTest::newRow(d) << QString::fromLatin1(d) << 2;
        for (const char *d : {"U32", "I32", "F32"})
            QTest::newRow(d) << QString::fromLatin1(d) << 4;
        for (const char *d : {"U64", "I64", "F64"})
            QTest::newRow(d) << QString::fromLatin1(d) << 8;
        QTest::newRow("lower-case f32") << QStringLiteral("f32") << 0;
        QTest::newRow("F24") << QStringLiteral("F24") << 0;
        QTest::newRow("empty") << QString() << 0;
    }

    void dtypeSizes()
    {
        QFETCH(QString, dtype);
        QFETCH(int, size);
        QCOMPARE(dtypeSize(dtype), size);
    }

    void readsValues()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("ok.safetensors");
        // F32 [2,2] at 0..16, F16 [2] at 16..20, BF16 [2] at 20..24, I64 [2] at 24..40, an empty
        // U8 [0] and an F32 scalar [] at 40..44. The header is listed out of data order and padded
        // with spaces, as real writers pad it to an 8-byte boundary.
        QByteArray header = R"({"n":{"dtype":"I64","shape":[2],"data_offsets":[24,40]},)"
                            R"("a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
                            R"("h":{"dtype":"F16","shape":[2],"data_offsets":[16,20]},)"
                            R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[20,24]},)"
                            R"("e":{"dtype":"U8","shape":[0],"data_offsets":[40,40]},)"
                            R"("s":{"dtype":"F32","shape":[],"data_offsets":[40,44]},)"
                            R"("__metadata__":{"format":"pt","note":"hand-made"}})";
        header += QByteArray(8 - header.size() % 8, ' ');
        const QByteArray a = floatsF32({1.0f, -2.5f, 3.25f, 0.5f});
        const QByteArray h = u16s({0x3C00, 0xC000, /* F16 1.0, -2.0 */});
        const QByteArray b = u16s({0x3F80, 0x4049, /* BF16 1.0, 3.140625 */});
        const QByteArray n = i64s({-7, 0x123456789ALL});
        const QByteArray s = floatsF32({42.0f});
        writeRaw(path, header, a + h + b + n + s + QByteArray(5, '\xAB'));  // unused trailing bytes are allowed

        const auto f = SafetensorsFile::open(path);
        QCOMPARE(f->path(), path);
        QCOMPARE(int(f->tensors().size()), 6);
        QVERIFY(f->contains("a") && !f->contains("__metadata__"));
        QCOMPARE(f->metadata().value("format").toString(), QStringLiteral("pt"));
        QCOMPARE(f->metadata().value("note").toString(), QStringLiteral("hand-made"));

        QCOMPARE(f->info("a").dtype, QStringLiteral("F32"));
        QCOMPARE(f->info("a").shape, (std::vector<int64_t>{2, 2}));
        QCOMPARE(f->info("a").elementCount(), int64_t(4));
        QCOMPARE(f->info("a").byteSize, int64_t(16));
        QCOMPARE(bytesOf(f->data("a"), 16), a);
        float af[4];
        std::memcpy(af, f->data("a"), 16);
        QCOMPARE(af[0], 1.0f);
        QCOMPARE(af[1], -2.5f);
        QCOMPARE(af[2], 3.25f);
        QCOMPARE(af[3], 0.5f);

        QCOMPARE(f->info("h").dtype, QStringLiteral("F16"));
        QCOMPARE(bytesOf(f->data("h"), 4), h);
        QCOMPARE(halfToFloat(qFromLittleEndian<quint16>(f->data("h"))), 1.0f);
        QCOMPARE(halfToFloat(qFromLittleEndian<quint16>(f->data("h") + 2)), -2.0f);

        QCOMPARE(f->info("b").dtype, QStringLiteral("BF16"));
        QCOMPARE(bytesOf(f->data("b"), 4), b);
        QCOMPARE(bf16ToFloat(qFromLittleEndian<quint16>(f->data("b"))), 1.0f);
        QCOMPARE(bf16ToFloat(qFromLittleEndian<quint16>(f->data("b") + 2)), 3.140625f);

        QCOMPARE(f->info("n").dtype, QStringLiteral("I64"));
        QCOMPARE(f->info("n").byteSize, int64_t(16));
        QCOMPARE(qFromLittleEndian<qint64>(f->data("n")), qint64(-7));
        QCOMPARE(qFromLittleEndian<qint64>(f->data("n") + 8), qint64(0x123456789ALL));

        QCOMPARE(f->info("e").elementCount(), int64_t(0));
        QCOMPARE(f->info("e").byteSize, int64_t(0));
        QCOMPARE(f->info("s").shape, std::vector<int64_t>{});
        QCOMPARE(f->info("s").elementCount(), int64_t(1));
        QCOMPARE(qFromLittleEndian<float>(f->data("s")), 42.0f);

        expectError([&] { f->data("missing"); }, {path, "missing"});
        expectError([&] { f->info("missing"); }, {path, "missing"});
    }

    void emptyFile()
    {
        // A header "{}" and no data: a valid file with no tensors.
        QTemporaryDir dir;
        const QString path = dir.filePath("empty.safetensors");
        writeRaw(path, "{}", {});
        const auto f = SafetensorsFile::open(path);
        QVERIFY(f->tensors().empty());
        QVERIFY(f->metadata().isEmpty());
    }

    void malformed_data()
    {
        QTest::addColumn<QByteArray>("header");
        QTest::addColumn<int>("dataBytes");
        QTest::addColumn<qint64>("declaredLength");  // -1: the header's own length; -2: a 3-byte file
        QTest::addColumn<QString>("tensor");         // the name the message must hold, if any
        QTest::addColumn<QString>("problem");
        auto row = [](const char *name, const QByteArray &header, int dataBytes, const QString &tensor, const QString &problem) {
            QTest::newRow(name) << header << dataBytes << qint64(-1) << tensor << problem;
        };
        const QByteArray ok = R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
        const QString t = QStringLiteral("\"t\"");

        QTest::newRow("3-byte file") << QByteArray() << 0 << qint64(-2) << QString() << "too short";
        QTest::newRow("header longer than file") << ok << 8 << qint64(4096) << QString() << "exceeds the file";
        QTest::newRow("header length 2^64-1") << ok << 8 << qint64(-3) << QString() << "exceeds the file";
        QTest::newRow("header length 0") << QByteArray() << 8 << qint64(0) << QString() << "not valid JSON";
        row("header not JSON", "{\"t\": [", 0, {}, "not valid JSON");
        row("header not an object", "[1,2]", 0, {}, "not a JSON object");
        row("entry not an object", R"({"t":5})", 0, t, "entry is not an object");
        row("missing dtype", R"({"t":{"shape":[2],"data_offsets":[0,8]}})", 8, t, "missing \"dtype\"");
        row("missing shape", R"({"t":{"dtype":"F32","data_offsets":[0,8]}})", 8, t, "missing \"shape\"");
        row("missing data_offsets", R"({"t":{"dtype":"F32","shape":[2]}})", 8, t, "missing \"data_offsets\"");
        row("unknown dtype", R"({"t":{"dtype":"F24","shape":[2],"data_offsets":[0,6]}})", 8, t, "unknown dtype \"F24\"");
        row("dtype not a string", R"({"t":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", 8, t, "unknown dtype");
        row("shape not a list", R"({"t":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", 8, t, "shape is not a list");
        row("negative dimension", R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8, t,
            "not a non-negative integer");
        row("fractional dimension", R"({"t":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", 8, t,
            "not a non-negative integer");
        row("string dimension", R"({"t":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}})", 8, t,
            "not a non-negative integer");
        row("element count overflows", R"({"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8,
            t, "too large");
        row("bytes overflow", R"({"t":{"dtype":"F64","shape":[1152921504606846976,8],"data_offsets":[0,8]}})", 8, t,
            "too large");
        row("dimension 1e300", R"({"t":{"dtype":"F32","shape":[1e300],"data_offsets":[0,8]}})", 8, t, "too large");
        row("one offset", R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8]}})", 8, t, "data_offsets is not two integers");
        row("three offsets", R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8,16]}})", 16, t,
            "data_offsets is not two integers");
        row("offsets not a list", R"({"t":{"dtype":"F32","shape":[2],"data_offsets":"0-8"}})", 8, t,
            "data_offsets is not two integers");
        row("string offsets", R"({"t":{"dtype":"F32","shape":[2],"data_offsets":["0","8"]}})", 8, t,
            "data_offsets is not two integers");
        row("fractional offset", R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8.5]}})", 16, t,
            "data_offsets is not two integers");
        row("negative offset", R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", 8, t,
            "data_offsets is not two integers");
        row("offsets reversed", R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8, t, "not an ordered pair");
        row("offsets beyond data", R"({"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8, t,
            "beyond the data section");
        row("offsets 1e30", R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[1e30,1e30]}})", 8, t,
            "beyond the data section");
        row("size mismatch", R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8, t, "shape and dtype need 12");
        row("overlap", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                       R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
            12, "\"b\"", "overlap");
        row("overlap nested", R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                              R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
            16, "\"a\"", "overlap");
        // An empty tensor between two overlapping ones must not hide the overlap.
        row("overlap behind empty tensor", R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                                           R"("e":{"dtype":"F32","shape":[0],"data_offsets":[6,6]},)"
                                           R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
            16, "\"b\"", "overlap");
        row("metadata not an object", R"({"__metadata__":["pt"]})", 0, {}, "__metadata__ is not an object");
        row("metadata not strings", R"({"__metadata__":{"x":1}})", 0, "\"x\"", "is not a string");
    }

    void malformed()
    {
        QFETCH(QByteArray, header);
        QFETCH(int, dataBytes);
        QFETCH(qint64, declaredLength);
        QFETCH(QString, tensor);
        QFETCH(QString, problem);
        QTemporaryDir dir;
        const QString path = dir.filePath("bad.safetensors");
        if (declaredLength == -2) {
            writeText(path, "abc");
        } else if (declaredLength == -3) {
            writeRaw(path, header, QByteArray(dataBytes, '\0'));
            QFile f(path);
            QVERIFY(f.open(QIODevice::ReadWrite));
            f.write(QByteArray(8, '\xFF'));
        } else {
            writeRaw(path, header, QByteArray(dataBytes, '\0'), declaredLength);
        }
        QStringList words{path, problem};
        if (!tensor.isEmpty())
            words << tensor;
        expectError([&] { SafetensorsFile::open(path); }, words);
    }

    void absurdHeaderLength()
    {
        // A header over 100 MB that the file does hold: refused before parsing. The file is
        // sparse, so this costs no disk space.
        QTemporaryDir dir;
        const QString path = dir.filePath("huge-header.safetensors");
        const qint64 length = 100 * 1024 * 1024 + 1;
        writeRaw(path, "{}", {}, length);
        {
            QFile f(path);
            QVERIFY(f.resize(8 + length));
        }
        expectError([&] { SafetensorsFile::open(path); }, {path, "absurdly large"});
    }

    void missingFile()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("nothing.safetensors");
        expectError([&] { SafetensorsFile::open(path); }, {path, "cannot open"});
    }

    void singleFileCheckpoint()
    {
        QTemporaryDir dir;
        writeRaw(dir.filePath("model.safetensors"), R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                 floatsF32({0.25f, -0.75f}));
        const auto c = SafetensorsCheckpoint::open(dir.path());
        QCOMPARE(c->directory(), dir.path());
        QCOMPARE(c->names(), QStringList{"w"});
        QVERIFY(c->contains("w") && !c->contains("v"));
        QCOMPARE(c->fileOf("w"), dir.filePath("model.safetensors"));
        QCOMPARE(c->info("w").shape, std::vector<int64_t>{2});
        QCOMPARE(bytesOf(c->data("w"), 8), floatsF32({0.25f, -0.75f}));
        expectError([&] { c->info("v"); }, {dir.path(), "\"v\""});
        expectError([&] { c->data("v"); }, {dir.path(), "\"v\""});
        expectError([&] { c->fileOf("v"); }, {dir.path(), "\"v\""});
    }

    void shardedCheckpoint()
    {
        QTemporaryDir dir;
        const QString shard1 = "model-00001-of-00002.safetensors", shard2 = "model-00002-of-00002.safetensors";
        writeRaw(dir.filePath(shard1),
                 R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                 R"("z":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]}})",
                 floatsF32({1.5f}) + u16s({0x3F80, 0xC040}));  // BF16 1.0, -3.0
        writeRaw(dir.filePath(shard2),
                 R"({"y":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                 R"("ids":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}})",
                 floatsF32({2.5f, 3.5f}) + i64s({31999}));
        const QString indexPath = dir.filePath("model.safetensors.index.json");
        writeText(indexPath, R"({"metadata":{"total_size":28},"weight_map":{"x":"model-00001-of-00002.safetensors",)"
                             R"("z":"model-00001-of-00002.safetensors","y":"model-00002-of-00002.safetensors",)"
                             R"("ids":"model-00002-of-00002.safetensors"}})");
        const auto c = SafetensorsCheckpoint::open(dir.path());
        QCOMPARE(c->names(), (QStringList{"ids", "x", "y", "z"}));
        QCOMPARE(c->fileOf("x"), dir.filePath(shard1));
        QCOMPARE(c->fileOf("z"), dir.filePath(shard1));
        QCOMPARE(c->fileOf("y"), dir.filePath(shard2));
        QCOMPARE(c->fileOf("ids"), dir.filePath(shard2));
        QCOMPARE(qFromLittleEndian<float>(c->data("x")), 1.5f);
        QCOMPARE(bf16ToFloat(qFromLittleEndian<quint16>(c->data("z"))), 1.0f);
        QCOMPARE(bf16ToFloat(qFromLittleEndian<quint16>(c->data("z") + 2)), -3.0f);
        QCOMPARE(bytesOf(c->data("y"), 8), floatsF32({2.5f, 3.5f}));
        QCOMPARE(qFromLittleEndian<qint64>(c->data("ids")), qint64(31999));
        QCOMPARE(c->info("z").dtype, QStringLiteral("BF16"));
        // A model.safetensors beside the index makes two checkpoints in one folder: refused, not
        // silently resolved to the index (issue 26; test_modelfolder checks the message).
        writeRaw(dir.filePath("model.safetensors"), R"({"stray":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})",
                 QByteArray(1, '\0'));
        QVERIFY_THROWS_EXCEPTION(Error, SafetensorsCheckpoint::open(dir.path()));
    }

    void indexErrors_data()
    {
        QTest::addColumn<QByteArray>("index");
        QTest::addColumn<QString>("problem");
        QTest::newRow("not JSON") << QByteArray("{\"weight_map\": ") << "malformed JSON";
        QTest::newRow("not an object") << QByteArray("[]") << "not a JSON object";
        QTest::newRow("no weight_map") << QByteArray(R"({"no_map":{}})") << "missing \"weight_map\"";
        QTest::newRow("weight_map not an object") << QByteArray(R"({"weight_map":["a.safetensors"]})")
                                                  << "missing \"weight_map\"";
        QTest::newRow("entry not a string") << QByteArray(R"({"weight_map":{"x":1}})") << "\"x\" is not a file name";
        QTest::newRow("missing shard") << QByteArray(R"({"weight_map":{"x":"model-00003-of-00002.safetensors"}})")
                                       << "model-00003-of-00002.safetensors\", which does not exist";
        QTest::newRow("tensor missing from shard") << QByteArray(R"({"weight_map":{"q":"a.safetensors"}})")
                                                   << "maps \"q\" to a.safetensors, which does not hold it";
    }

    void indexErrors()
    {
        QFETCH(QByteArray, index);
        QFETCH(QString, problem);
        QTemporaryDir dir;
        writeRaw(dir.filePath("a.safetensors"), R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                 floatsF32({1.0f}));
        const QString indexPath = dir.filePath("model.safetensors.index.json");
        writeText(indexPath, index);
        expectError([&] { SafetensorsCheckpoint::open(dir.path()); }, {indexPath, problem});
    }

    void checkpointErrors()
    {
        QTemporaryDir dir;
        // A tensor in two shards.
        writeRaw(dir.filePath("a.safetensors"), R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                 floatsF32({1.0f}));
        writeRaw(dir.filePath("b.safetensors"),
                 R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                 R"("y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                 floatsF32({2.0f, 3.0f}));
        const QString indexPath = dir.filePath("model.safetensors.index.json");
        writeText(indexPath, R"({"weight_map":{"x":"a.safetensors","y":"b.safetensors"}})");
        expectError([&] { SafetensorsCheckpoint::open(dir.path()); },
                    {dir.path(), "\"x\" is in both a.safetensors and b.safetensors"});

        // A malformed shard: the shard's own error, naming the shard.
        writeRaw(dir.filePath("b.safetensors"), R"({"y":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", {});
        expectError([&] { SafetensorsCheckpoint::open(dir.path()); },
                    {dir.filePath("b.safetensors"), "\"y\"", "beyond the data section"});

        // No index and no model.safetensors.
        QFile::remove(indexPath);
        expectError([&] { SafetensorsCheckpoint::open(dir.path()); },
                    {dir.path(), "no model.safetensors or model.safetensors.index.json"});

        // No such folder.
        const QString gone = dir.filePath("gone");
        expectError([&] { SafetensorsCheckpoint::open(gone); }, {gone, "no such folder"});
    }

    void referenceFile()
    {
        // The tiny Llama written by transformers (save_pretrained), copied from the shared
        // reference fixtures. Shapes below were read from its header with Python's json module.
        const QString path = QStringLiteral(ROPESCOPE_FIXTURES "/safetensors/llama-plain.safetensors");
        const auto f = SafetensorsFile::open(path);
        QCOMPARE(int(f->tensors().size()), 21);
        QCOMPARE(f->metadata().value("format").toString(), QStringLiteral("pt"));
        const std::vector<std::pair<const char *, std::vector<int64_t>>> expected = {
            {"model.embed_tokens.weight", {320, 64}},
            {"model.layers.0.self_attn.q_proj.weight", {64, 64}},
            {"model.layers.0.self_attn.k_proj.weight", {32, 64}},
            {"lm_head.weight", {320, 64}},
        };
        for (const auto &[name, shape] : expected) {
            QVERIFY2(f->contains(name), name);
            QCOMPARE(f->info(name).shape, shape);
            QCOMPARE(f->info(name).byteSize, f->info(name).elementCount() * 4);
        }
        for (const auto &[name, info] : f->tensors())
            QCOMPARE(info.dtype, QStringLiteral("F32"));

        // The mapped bytes equal those read from the file independently: embed_tokens spans data
        // bytes [81920, 163840) after the 8 + N byte header.
        QFile raw(path);
        QVERIFY(raw.open(QIODevice::ReadOnly));
        const QByteArray all = raw.readAll();
        const qint64 dataStart = 8 + qint64(qFromLittleEndian<quint64>(all.constData()));
        QCOMPARE(bytesOf(f->data("model.embed_tokens.weight"), 81920), all.mid(dataStart + 81920, 81920));
    }

    void referenceCheckpoint()
    {
        // The same model as a folder, the way the model loader opens it.
        const QString folder = QStringLiteral(ROPESCOPE_FIXTURES "/models/llama-plain");
        if (!QFileInfo::exists(folder + "/model.safetensors"))
            QSKIP("models/llama-plain fixture not present");
        const auto c = SafetensorsCheckpoint::open(folder);
        QCOMPARE(c->names().size(), 21);
        QCOMPARE(c->info("model.embed_tokens.weight").shape, (std::vector<int64_t>{320, 64}));
        QCOMPARE(c->info("lm_head.weight").dtype, QStringLiteral("F32"));
        QCOMPARE(QFileInfo(c->fileOf("lm_head.weight")).fileName(), QStringLiteral("model.safetensors"));
    }
};

QTEST_GUILESS_MAIN(TestSafetensors)
#include "test_safetensors.moc"
