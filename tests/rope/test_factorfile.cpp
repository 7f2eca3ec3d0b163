// LongRoPE factor files: one float per line or comma-separated, '#' comments; every bad value is
// refused with a message that names the file and where the value is; write → read is exact.
#include "common/error.h"
#include "rope/factorfile.h"

#include <QFile>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QDir>
#include <QTest>

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <utility>

#include <cmath>
#include <limits>
#include <vector>

using namespace rs;

class TestFactorFile : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void parseValid_data();
    void parseValid();
    void parseExpectedLength();
    void parseErrors_data();
    void parseErrors();
    void parseEmpty_data();
    void parseEmpty();
    void wrongLength_data();
    void wrongLength();
    void formatRoundTrip();
    void fileRoundTrip();
    void readFixture();
    void readErrorsNamePath();
    void writeErrorNamesPath();
    void writeRefusesNonRegularTargets();
};

void TestFactorFile::parseValid_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<std::vector<double>>("expected");
    const std::vector<double> v = {1.0, 1.5, 2.25, 21.81};
    QTest::newRow("one per line") << QByteArray("1.0\n1.5\n2.25\n21.81\n") << v;
    QTest::newRow("one per line, no final newline") << QByteArray("1.0\n1.5\n2.25\n21.81") << v;
    QTest::newRow("CRLF") << QByteArray("1.0\r\n1.5\r\n2.25\r\n21.81\r\n") << v;
    QTest::newRow("comma separated") << QByteArray("1.0,1.5,2.25,21.81") << v;
    QTest::newRow("comma and space") << QByteArray("1.0, 1.5, 2.25, 21.81\n") << v;
    QTest::newRow("commas across lines") << QByteArray("1.0, 1.5,\n2.25 ,21.81\n") << v;
    QTest::newRow("whitespace separated") << QByteArray("1.0 1.5\t2.25   21.81") << v;
    QTest::newRow("comments and blank lines")
        << QByteArray("# LLaMA3-8B long factors\n\n1.0   # first\n1.5\n\n   # indented comment\n2.25\n21.81 # last\n\n") << v;
    QTest::newRow("integers and exponents") << QByteArray("1\n1.5e0\n225e-2\n2.181E+1\n") << v;
    QTest::newRow("leading plus and spaces") << QByteArray("  +1.0\n +1.5\n2.25\n21.81  \n") << v;
    QTest::newRow("single value") << QByteArray("26.05\n") << std::vector<double>{26.05};
}

void TestFactorFile::parseValid()
{
    QFETCH(QByteArray, text);
    QFETCH(std::vector<double>, expected);
    QCOMPARE(parseFactorText(text, QStringLiteral("factors.txt")), expected);
}

void TestFactorFile::parseExpectedLength()
{
    QCOMPARE(parseFactorText("1,2,3,4", QStringLiteral("f.txt"), 4), std::vector<double>({1, 2, 3, 4}));
    QCOMPARE(parseFactorText("1,2,3,4", QStringLiteral("f.txt"), -1).size(), size_t(4));
}

void TestFactorFile::parseErrors_data()
{
    QTest::addColumn<QByteArray>("text");
    // Every bad value sits on line 5 as the third value (index 2); comments and blank lines shift
    // the line number away from the index on purpose.
    auto lines = [](const QByteArray &bad) { return QByteArray("# factors\n1.0\n\n2.0\n") + bad + "\n3.0\n"; };
    QTest::newRow("nan") << lines("nan");
    QTest::newRow("NaN") << lines("NaN");
    QTest::newRow("inf") << lines("inf");
    QTest::newRow("+inf") << lines("+inf");
    QTest::newRow("-inf") << lines("-inf");
    QTest::newRow("Infinity") << lines("Infinity");
    QTest::newRow("overflow to inf") << lines("1e999");
    QTest::newRow("negative") << lines("-7.25");
    QTest::newRow("zero") << lines("0");
    QTest::newRow("zero float") << lines("0.0");
    QTest::newRow("negative zero") << lines("-0.0");
    QTest::newRow("word") << lines("abc");
    QTest::newRow("two dots") << lines("7.7.7");
    QTest::newRow("trailing garbage") << lines("7.75x");
    // Issue 15: finite and positive, but no rescale factor (θ/λ overflows float32 in the model).
    QTest::newRow("denormal-sized 1e-300") << lines("1e-300");
    QTest::newRow("smallest double") << lines("4.9e-324");
    QTest::newRow("below 1e-9") << lines("1e-10");
    QTest::newRow("absurdly large 1e300") << lines("1e300");
}

void TestFactorFile::parseErrors()
{
    QFETCH(QByteArray, text);
    const QString source = QStringLiteral("/data/llama_long_factor.txt");
    try {
        const std::vector<double> v = parseFactorText(text, source);
        QFAIL(qPrintable(QStringLiteral("no error; parsed %1 values").arg(v.size())));
    } catch (const Error &e) {
        QCOMPARE(e.source(), source);
        QVERIFY2(e.message().contains(source), qPrintable(e.message()));
        // Names where: line 5, or the value's index 2 / ordinal 3.
        static const QRegularExpression where(QStringLiteral("\\b[235]\\b"));
        QVERIFY2(where.match(e.problem()).hasMatch(), qPrintable(QStringLiteral("no line or index in: ") + e.message()));
    }
    // The same value inside a comma-separated list.
    const QByteArray bad = text.split('\n').at(4);
    const QByteArray csv = "1.0, 2.0, " + bad + ", 4.0";
    try {
        parseFactorText(csv, source);
        QFAIL("no error for the comma-separated form");
    } catch (const Error &e) {
        QVERIFY2(e.message().contains(source), qPrintable(e.message()));
        static const QRegularExpression where(QStringLiteral("\\b[123]\\b")); // line 1, index 2 or value 3
        QVERIFY2(where.match(e.problem()).hasMatch(), qPrintable(QStringLiteral("no line or index in: ") + e.message()));
    }
}

void TestFactorFile::parseEmpty_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::newRow("empty") << QByteArray();
    QTest::newRow("whitespace") << QByteArray("  \n\n\t\n");
    QTest::newRow("only comments") << QByteArray("# nothing here\n# 1.0\n");
}

void TestFactorFile::parseEmpty()
{
    QFETCH(QByteArray, text);
    QVERIFY_THROWS_EXCEPTION(Error, parseFactorText(text, QStringLiteral("empty.txt")));
    try {
        parseFactorText(text, QStringLiteral("empty.txt"));
    } catch (const Error &e) {
        QVERIFY2(e.message().contains(QStringLiteral("empty.txt")), qPrintable(e.message()));
    }
}

void TestFactorFile::wrongLength_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<int>("expectedLength");
    QTest::newRow("3 of 48") << QByteArray("1\n2\n3\n") << 48;
    QTest::newRow("65 of 64") << QByteArray(QByteArray("1.5,").repeated(64) + "1.5") << 64;
    QTest::newRow("empty of 8") << QByteArray("# none\n") << 8;
}

void TestFactorFile::wrongLength()
{
    QFETCH(QByteArray, text);
    QFETCH(int, expectedLength);
    try {
        parseFactorText(text, QStringLiteral("short.txt"), expectedLength);
        QFAIL("no error");
    } catch (const Error &e) {
        QVERIFY2(e.message().contains(QStringLiteral("short.txt")), qPrintable(e.message()));
        if (!text.trimmed().startsWith('#')) // "empty" is an equally good message for the last row
            QVERIFY2(e.problem().contains(QString::number(expectedLength)), qPrintable(e.message()));
    }
}

namespace {
std::vector<double> awkwardValues()
{
    return {1.0,
            0.1,
            1.0 / 3.0,
            21.81,
            2.000000000000001,
            1.0299999713897705,
            64.81001281738281,
            1e-7,
            123456789.12345679,
            std::nextafter(1.0, 2.0),
            std::nextafter(26.05, 0.0),
            std::sqrt(2.0),
            std::pow(21.81, 17.0 / 33.0)};
}
} // namespace

void TestFactorFile::formatRoundTrip()
{
    const std::vector<double> v = awkwardValues();
    const QByteArray text = formatFactorText(v);
    QCOMPARE(text.trimmed().split('\n').size(), qsizetype(v.size())); // one value per line
    const std::vector<double> back = parseFactorText(text, QStringLiteral("memory"), int(v.size()));
    QCOMPARE(back.size(), v.size());
    for (size_t i = 0; i < v.size(); ++i)
        QVERIFY2(back[i] == v[i], qPrintable(QStringLiteral("value %1: %2 came back as %3").arg(i).arg(v[i], 0, 'g', 17).arg(back[i], 0, 'g', 17)));
    // The extremes of double are written exactly too, but a factor file refuses them on reading:
    // they are no rescale factors (issue 15).
    for (double x : {std::numeric_limits<double>::min(), std::numeric_limits<double>::max()}) {
        const QByteArray t = formatFactorText({x});
        QCOMPARE(t.trimmed().toDouble(), x);
        QVERIFY_THROWS_EXCEPTION(Error, parseFactorText(t, QStringLiteral("memory")));
    }
}

void TestFactorFile::fileRoundTrip()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(QStringLiteral("long_factor.txt"));
    const std::vector<double> v = awkwardValues();
    writeFactorFile(path, v);
    QCOMPARE(readFactorFile(path), v);
    QCOMPARE(readFactorFile(path, int(v.size())), v);
    // Overwriting replaces the whole content.
    const std::vector<double> w = {2.0, 3.0};
    writeFactorFile(path, w);
    QCOMPARE(readFactorFile(path), w);
}

void TestFactorFile::readFixture()
{
    const std::vector<double> v =
        readFactorFile(QStringLiteral(ROPESCOPE_FIXTURES "/factors/llama3_8b_longrope2_128k_long_factor.txt"), 64);
    QCOMPARE(v.size(), size_t(64));
    QCOMPARE(v[0], 1.0);
    QCOMPARE(v[1], 1.097906416);
    QCOMPARE(v[33], 21.81);
    QCOMPARE(v[63], 26.05);
}

void TestFactorFile::readErrorsNamePath()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString missing = dir.filePath(QStringLiteral("missing.txt"));
    try {
        readFactorFile(missing);
        QFAIL("no error for a missing file");
    } catch (const Error &e) {
        QVERIFY2(e.message().contains(missing), qPrintable(e.message()));
    }
    const QString bad = dir.filePath(QStringLiteral("bad.txt"));
    {
        QFile f(bad);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("1.0\n2.0\n-3.0\n");
    }
    try {
        readFactorFile(bad);
        QFAIL("no error for a negative value");
    } catch (const Error &e) {
        QVERIFY2(e.message().contains(bad), qPrintable(e.message()));
    }
    try {
        readFactorFile(dir.filePath(QStringLiteral("bad.txt")), 64);
        QFAIL("no error");
    } catch (const Error &e) {
        QVERIFY2(e.message().contains(bad), qPrintable(e.message()));
    }
}

void TestFactorFile::writeErrorNamesPath()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(QStringLiteral("no/such/folder/factors.txt"));
    try {
        writeFactorFile(path, {1.0, 2.0});
        QFAIL("no error writing into a missing folder");
    } catch (const Error &e) {
        QVERIFY2(e.message().contains(path), qPrintable(e.message()));
    }
}

void TestFactorFile::writeRefusesNonRegularTargets()
{
    // Issue 15: a write to /dev/full, /dev/null or a FIFO without a reader was reported as success.
    // Targets that are not regular files are refused before anything is written. The devices are
    // private copies (mknod, as root) so that a regression could never replace the machine's own.
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    QStringList targets;
    const QString fifo = dir.filePath(QStringLiteral("fifo"));
    QCOMPARE(::mkfifo(QFile::encodeName(fifo).constData(), 0600), 0);
    targets << fifo << dir.path();
    for (const auto &[name, minor] : {std::pair{"full", 7}, std::pair{"null", 3}}) {
        const QString node = dir.filePath(QString::fromLatin1(name));
        if (::mknod(QFile::encodeName(node).constData(), S_IFCHR | 0666, makedev(1, minor)) == 0)
            targets << node;
        else if (::geteuid() != 0)
            targets << QStringLiteral("/dev/") + QString::fromLatin1(name);  // cannot be replaced without root
    }
    for (const QString &target : targets) {
        try {
            writeFactorFile(target, {1.0, 2.0});
            QFAIL(qPrintable(QStringLiteral("no error writing to ") + target));
        } catch (const Error &e) {
            QCOMPARE(e.source(), target);
            QVERIFY2(e.problem().contains(QLatin1String("not a regular file")) || e.problem().contains(QLatin1String("folder")),
                     qPrintable(e.message()));
        }
    }
    struct stat st {};
    QCOMPARE(::stat(QFile::encodeName(fifo).constData(), &st), 0);
    QVERIFY(S_ISFIFO(st.st_mode));  // still the FIFO, not a file renamed over it
    QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden).size(), 0);  // no temporary files left
}

QTEST_GUILESS_MAIN(TestFactorFile)
#include "test_factorfile.moc"
