// writeSafetensors: what it writes reads back through SafetensorsFile byte for byte, the header
// follows the format (little-endian length, 8-byte aligned data, offsets in order), and bad input
// is refused without touching an existing file. Expected bytes are IEEE patterns written by hand.
#include "common/error.h"
#include "runtime/safetensors.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>
#include <QtEndian>

#include <cstring>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

using namespace rs;

class TestSafetensorsWriter : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void roundTrip()
    {
        QTemporaryDir tmp;
        const QString path = tmp.filePath(QStringLiteral("t.safetensors"));
        // 1.0f, -2.0f, 0.5f, 3.0f as IEEE float32; 1.0 and -2.0 as bfloat16 (0x3F80, 0xC000).
        const quint32 f32[] = {0x3F800000u, 0xC0000000u, 0x3F000000u, 0x40400000u};
        const quint16 bf16[] = {0x3F80u, 0xC000u};
        const qint64 i64[] = {7, -9, 1ll << 40};
        std::vector<TensorBytes> tensors = {
            {QStringLiteral("b.matrix"), QStringLiteral("F32"), {2, 2}, f32, 16},
            {QStringLiteral("a.vector"), QStringLiteral("BF16"), {2}, bf16, 4},
            {QStringLiteral("c.ints"), QStringLiteral("I64"), {3}, i64, 24},
            {QStringLiteral("d.empty"), QStringLiteral("F32"), {0, 4}, nullptr, 0},
        };
        writeSafetensors(path, tensors, QJsonObject{{QStringLiteral("format"), QStringLiteral("pt")}});

        const auto f = SafetensorsFile::open(path);
        QCOMPARE(int(f->tensors().size()), 4);
        QCOMPARE(f->metadata().value(QLatin1String("format")).toString(), QStringLiteral("pt"));
        for (const TensorBytes &t : tensors) {
            const TensorInfo &info = f->info(t.name);
            QCOMPARE(info.dtype, t.dtype);
            QCOMPARE(info.shape, t.shape);
            QCOMPARE(info.byteSize, t.byteSize);
            if (t.byteSize)
                QVERIFY(std::memcmp(f->data(t.name), t.data, size_t(t.byteSize)) == 0);
        }

        // The raw layout: the prefix is the header length, the data starts 8-byte aligned and the
        // tensors follow in the order given (b, a, c), as the offsets say.
        QFile raw(path);
        QVERIFY(raw.open(QIODevice::ReadOnly));
        const QByteArray bytes = raw.readAll();
        const quint64 n = qFromLittleEndian<quint64>(reinterpret_cast<const uchar *>(bytes.constData()));
        QCOMPARE(n % 8, quint64(0));
        QCOMPARE(quint64(bytes.size()), 8 + n + 16 + 4 + 24);
        const QJsonObject header = QJsonDocument::fromJson(bytes.mid(8, int(n))).object();
        QCOMPARE(header.value(QLatin1String("b.matrix")).toObject().value(QLatin1String("data_offsets")).toArray(),
                 (QJsonArray{0, 16}));
        QCOMPARE(header.value(QLatin1String("a.vector")).toObject().value(QLatin1String("data_offsets")).toArray(),
                 (QJsonArray{16, 20}));
        QCOMPARE(header.value(QLatin1String("c.ints")).toObject().value(QLatin1String("data_offsets")).toArray(),
                 (QJsonArray{20, 44}));
        quint32 first;
        std::memcpy(&first, bytes.constData() + 8 + n, 4);
        QCOMPARE(qFromLittleEndian(first), 0x3F800000u);
    }

    void badInputKeepsTheOldFile_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QString>("dtype");
        QTest::addColumn<qint64>("bytes");
        QTest::addColumn<bool>("duplicate");
        QTest::newRow("wrong byte count") << "w" << "F32" << qint64(12) << false;
        QTest::newRow("unknown dtype") << "w" << "F31" << qint64(16) << false;
        QTest::newRow("empty name") << "" << "F32" << qint64(16) << false;
        QTest::newRow("metadata name") << "__metadata__" << "F32" << qint64(16) << false;
        QTest::newRow("duplicate") << "w" << "F32" << qint64(16) << true;
    }

    void badInputKeepsTheOldFile()
    {
        QFETCH(QString, name);
        QFETCH(QString, dtype);
        QFETCH(qint64, bytes);
        QFETCH(bool, duplicate);
        QTemporaryDir tmp;
        const QString path = tmp.filePath(QStringLiteral("t.safetensors"));
        const float values[4] = {1, 2, 3, 4};
        writeSafetensors(path, {{QStringLiteral("old"), QStringLiteral("F32"), {4}, values, 16}});
        QFile before(path);
        QVERIFY(before.open(QIODevice::ReadOnly));
        const QByteArray old = before.readAll();
        before.close();

        std::vector<TensorBytes> tensors = {{name, dtype, {4}, values, bytes}};
        if (duplicate)
            tensors.push_back(tensors.front());
        try {
            writeSafetensors(path, tensors);
            QFAIL("bad input was written");
        } catch (const Error &e) {
            QCOMPARE(e.source(), path);
        }
        QFile after(path);
        QVERIFY(after.open(QIODevice::ReadOnly));
        QCOMPARE(after.readAll(), old);
    }

    // Issue 15: a checkpoint written to a FIFO, a device or a folder is refused before any byte,
    // and the FIFO stays a FIFO. (The device is a private mknod copy as root, so a regression
    // could never replace the machine's /dev/full.)
    void nonRegularTargetsRefused()
    {
        QTemporaryDir tmp;
        QStringList targets{tmp.path()};
        const QString fifo = tmp.filePath(QStringLiteral("fifo"));
        QCOMPARE(::mkfifo(QFile::encodeName(fifo).constData(), 0600), 0);
        targets << fifo;
        const QString full = tmp.filePath(QStringLiteral("full"));
        if (::mknod(QFile::encodeName(full).constData(), S_IFCHR | 0666, makedev(1, 7)) == 0)
            targets << full;
        else if (::geteuid() != 0)
            targets << QStringLiteral("/dev/full");
        const float values[4] = {1, 2, 3, 4};
        for (const QString &target : targets) {
            try {
                writeSafetensors(target, {{QStringLiteral("w"), QStringLiteral("F32"), {4}, values, 16}});
                QFAIL(qPrintable(QStringLiteral("wrote to ") + target));
            } catch (const Error &e) {
                QCOMPARE(e.source(), target);
            }
        }
        struct stat st {};
        QCOMPARE(::stat(QFile::encodeName(fifo).constData(), &st), 0);
        QVERIFY(S_ISFIFO(st.st_mode));
    }
};

QTEST_GUILESS_MAIN(TestSafetensorsWriter)
#include "test_safetensors_writer.moc"
