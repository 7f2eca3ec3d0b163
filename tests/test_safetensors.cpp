// safetensors: every malformed header is refused before data is read, with the file and the
// problem named; valid single-file and sharded checkpoints give back exactly the bytes written.
#include "error.h"
#include "safetensors.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>
#include <QtEndian>

#include <cstring>

using namespace rs;

namespace {

// Writes a safetensors file from a header (JSON text) and raw data; `declaredLength` overrides the
// 8-byte length prefix to fake truncated or lying files.
void writeRaw(const QString &path, const QByteArray &header, const QByteArray &data, qint64 declaredLength = -1)
{
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly))
        qFatal("cannot write %s", qPrintable(path));
    uchar prefix[8];
    qToLittleEndian<quint64>(quint64(declaredLength >= 0 ? declaredLength : header.size()), prefix);
    f.write(reinterpret_cast<const char *>(prefix), 8);
    f.write(header);
    f.write(data);
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

float halfToFloat(quint16 h)  // IEEE binary16 → float, normal numbers only (what the test writes)
{
    const int sign = h >> 15, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    const float value = std::ldexp(1.0f + mantissa / 1024.0f, exponent - 15);
    return sign ? -value : value;
}

float bf16ToFloat(quint16 b)
{
    const quint32 bits = quint32(b) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

} // namespace

class TestSafetensors : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void readsValues()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("ok.safetensors");
        // F32 [2,2] at 0..16, F16 [2] at 16..20, BF16 [2] at 20..24, I64 [1] at 24..32.
        const QByteArray header = R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
                                  R"("h":{"dtype":"F16","shape":[2],"data_offsets":[16,20]},)"
                                  R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[20,24]},)"
                                  R"("n":{"dtype":"I64","shape":[1],"data_offsets":[24,32]},)"
                                  R"("__metadata__":{"format":"pt"}})";
        QByteArray data = floatsF32({1.0f, -2.5f, 3.25f, 0.5f});
        data += u16s({0x3C00, 0xC000});   // F16 1.0, -2.0
        data += u16s({0x3F80, 0x4049});   // BF16 1.0, 3.140625
        qint64 n = -7;
        data.append(reinterpret_cast<const char *>(&n), 8);
        writeRaw(path, header, data + QByteArray(5, '\0'));  // trailing bytes are allowed

        const auto f = SafetensorsFile::open(path);
        QCOMPARE(int(f->tensors().size()), 4);
        QCOMPARE(f->metadata().value("format").toString(), QStringLiteral("pt"));
        QCOMPARE(f->info("a").shape, (std::vector<int64_t>{2, 2}));
        QCOMPARE(f->info("a").elementCount(), int64_t(4));
        float a[4];
        std::memcpy(a, f->data("a"), 16);
        QCOMPARE(a[1], -2.5f);
        QCOMPARE(a[3], 0.5f);
        quint16 h[2], b[2];
        std::memcpy(h, f->data("h"), 4);
        std::memcpy(b, f->data("b"), 4);
        QCOMPARE(halfToFloat(h[0]), 1.0f);
        QCOMPARE(halfToFloat(h[1]), -2.0f);
        QCOMPARE(bf16ToFloat(b[0]), 1.0f);
        QCOMPARE(bf16ToFloat(b[1]), 3.140625f);
        qint64 back;
        std::memcpy(&back, f->data("n"), 8);
        QCOMPARE(back, qint64(-7));
        try {
            f->data("missing");
            QFAIL("no error");
        } catch (const Error &e) {
            QVERIFY(e.message().contains(path) && e.message().contains("missing"));
        }
    }

    void malformed_data()
    {
        QTest::addColumn<QByteArray>("header");
        QTest::addColumn<int>("dataBytes");
        QTest::addColumn<qint64>("declaredLength");
        QTest::addColumn<QString>("problem");
        const QByteArray ok = R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
        QTest::newRow("truncated file") << QByteArray() << 0 << qint64(-2) << "too short";
        QTest::newRow("header longer than file") << ok << 8 << qint64(4096) << "exceeds the file";
        QTest::newRow("header not JSON") << QByteArray("{\"t\": [") << 0 << qint64(-1) << "not valid JSON";
        QTest::newRow("header not an object") << QByteArray("[1,2]") << 0 << qint64(-1) << "not a JSON object";
        QTest::newRow("entry not an object") << QByteArray(R"({"t":5})") << 0 << qint64(-1) << "entry is not an object";
        QTest::newRow("missing data_offsets") << QByteArray(R"({"t":{"dtype":"F32","shape":[2]}})") << 8 << qint64(-1)
                                              << "missing \"data_offsets\"";
        QTest::newRow("unknown dtype") << QByteArray(R"({"t":{"dtype":"F24","shape":[2],"data_offsets":[0,6]}})") << 8
                                       << qint64(-1) << "unknown dtype";
        QTest::newRow("negative dimension") << QByteArray(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})")
                                            << 8 << qint64(-1) << "not a non-negative integer";
        QTest::newRow("huge shape") << QByteArray(R"({"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})")
                                    << 8 << qint64(-1) << "too large";
        QTest::newRow("offsets reversed") << QByteArray(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})")
                                          << 8 << qint64(-1) << "not an ordered pair";
        QTest::newRow("offsets beyond data") << QByteArray(R"({"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})")
                                             << 8 << qint64(-1) << "beyond the data section";
        QTest::newRow("size mismatch") << QByteArray(R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})") << 8
                                       << qint64(-1) << "shape and dtype need 12";
        QTest::newRow("overlap") << QByteArray(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                               R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})")
                                 << 12 << qint64(-1) << "overlap";
        QTest::newRow("metadata not strings") << QByteArray(R"({"__metadata__":{"x":1}})") << 0 << qint64(-1)
                                              << "is not a string";
    }

    void malformed()
    {
        QFETCH(QByteArray, header);
        QFETCH(int, dataBytes);
        QFETCH(qint64, declaredLength);
        QFETCH(QString, problem);
        QTemporaryDir dir;
        const QString path = dir.filePath("bad.safetensors");
        if (declaredLength == -2) {
            QFile f(path);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("abc");
        } else {
            writeRaw(path, header, QByteArray(dataBytes, '\0'), declaredLength);
        }
        try {
            SafetensorsFile::open(path);
            QFAIL("no error");
        } catch (const Error &e) {
            QVERIFY2(e.message().contains(path) && e.message().contains(problem), qPrintable(e.message()));
        }
    }

    void shardedCheckpoint()
    {
        QTemporaryDir dir;
        writeRaw(dir.filePath("model-00001-of-00002.safetensors"),
                 R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", floatsF32({1.5f}));
        writeRaw(dir.filePath("model-00002-of-00002.safetensors"),
                 R"({"y":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", floatsF32({2.5f, 3.5f}));
        const QString indexPath = dir.filePath("model.safetensors.index.json");
        auto writeIndex = [&](const QByteArray &json) {
            QFile f(indexPath);
            QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
            f.write(json);
        };
        writeIndex(R"({"metadata":{},"weight_map":{"x":"model-00001-of-00002.safetensors","y":"model-00002-of-00002.safetensors"}})");
        const auto c = SafetensorsCheckpoint::open(dir.path());
        QCOMPARE(c->names(), (QStringList{"x", "y"}));
        float y[2];
        std::memcpy(y, c->data("y"), 8);
        QCOMPARE(y[1], 3.5f);
        QVERIFY(c->fileOf("x").endsWith("model-00001-of-00002.safetensors"));

        auto expectError = [&](const QString &words) {
            try {
                SafetensorsCheckpoint::open(dir.path());
                QFAIL("no error");
            } catch (const Error &e) {
                QVERIFY2(e.message().contains(words), qPrintable(e.message()));
            }
        };
        writeIndex(R"({"weight_map":{"x":"model-00003-of-00002.safetensors"}})");
        expectError("does not exist");
        writeIndex(R"({"weight_map":{"z":"model-00001-of-00002.safetensors"}})");
        expectError("which does not hold it");
        writeIndex(R"({"no_map":{}})");
        expectError("weight_map");
        QFile::remove(indexPath);
        expectError("no model.safetensors");
    }

    void referenceCheckpoint()
    {
        const auto c = SafetensorsCheckpoint::open(QStringLiteral(ROPESCOPE_FIXTURES "/models/llama-plain"));
        QCOMPARE(c->info("model.embed_tokens.weight").shape, (std::vector<int64_t>{320, 64}));
        QCOMPARE(c->info("model.layers.0.self_attn.q_proj.weight").shape, (std::vector<int64_t>{64, 64}));
        QCOMPARE(c->info("model.layers.0.self_attn.k_proj.weight").shape, (std::vector<int64_t>{32, 64}));
        QCOMPARE(c->info("lm_head.weight").dtype, QStringLiteral("F32"));
    }
};

QTEST_GUILESS_MAIN(TestSafetensors)
#include "test_safetensors.moc"
