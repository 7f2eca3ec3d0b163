// Token counts as the GUI's target box and every length option of ropescope-cli read them
// (rope/tokencount.h): k = 1024 and M = 1048576, as "128k context" means 131072 in transformers and
// vLLM; anything that is not a whole positive number of tokens is refused.
#include "rope/tokencount.h"

#include <QTest>

#include <optional>

class TestTokenCount : public QObject {
    Q_OBJECT

private slots:
    void parsesTokenCounts_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<qint64>("tokens");  // 0: refused
        QTest::newRow("plain") << QStringLiteral("131072") << qint64(131072);
        QTest::newRow("128k") << QStringLiteral("128k") << qint64(128 * 1024);
        QTest::newRow("128K") << QStringLiteral("128K") << qint64(128 * 1024);
        QTest::newRow("1M") << QStringLiteral("1M") << qint64(1024 * 1024);
        QTest::newRow("1m") << QStringLiteral("1m") << qint64(1024 * 1024);
        QTest::newRow("1.5k") << QStringLiteral("1.5k") << qint64(1536);
        QTest::newRow("spaces") << QStringLiteral("  64 k ") << qint64(65536);
        QTest::newRow("digit groups") << QStringLiteral("131,072") << qint64(131072);
        QTest::newRow("underscores") << QStringLiteral("131_072") << qint64(131072);
        QTest::newRow("one token") << QStringLiteral("1") << qint64(1);
        QTest::newRow("fraction of a token") << QStringLiteral("1.3k") << qint64(0);
        QTest::newRow("zero") << QStringLiteral("0") << qint64(0);
        QTest::newRow("zero k") << QStringLiteral("0k") << qint64(0);
        QTest::newRow("empty") << QString() << qint64(0);
        QTest::newRow("suffix alone") << QStringLiteral("k") << qint64(0);
        QTest::newRow("negative") << QStringLiteral("-4096") << qint64(0);
        QTest::newRow("plus sign") << QStringLiteral("+4096") << qint64(0);
        QTest::newRow("words") << QStringLiteral("lots") << qint64(0);
        QTest::newRow("two suffixes") << QStringLiteral("1kk") << qint64(0);
        QTest::newRow("G is not a suffix") << QStringLiteral("1G") << qint64(0);
        QTest::newRow("exponent") << QStringLiteral("1e5") << qint64(0);
        QTest::newRow("hexadecimal") << QStringLiteral("0x100") << qint64(0);
        QTest::newRow("too large to hold") << QStringLiteral("99999999999999999999M") << qint64(0);
    }

    void parsesTokenCounts()
    {
        QFETCH(QString, text);
        QFETCH(qint64, tokens);
        const std::optional<qint64> parsed = rs::parseTokenCount(text);
        if (tokens == 0)
            QVERIFY2(!parsed, qPrintable(QString::number(parsed.value_or(-1))));
        else
            QCOMPARE(parsed, std::optional<qint64>(tokens));
    }

    // The form lets through what the user may still be typing toward a count ("1.3k" is refused on
    // commit, with a reason), and nothing that can never become one.
    void formOfATokenCount()
    {
        QVERIFY(rs::hasTokenCountForm(QStringLiteral("1.3k")));
        QVERIFY(rs::hasTokenCountForm(QStringLiteral("0")));
        QVERIFY(rs::hasTokenCountForm(QStringLiteral("128K")));
        QVERIFY(!rs::hasTokenCountForm(QStringLiteral("-1")));
        QVERIFY(!rs::hasTokenCountForm(QStringLiteral("1kk")));
        QVERIFY(!rs::hasTokenCountForm(QStringLiteral("lots")));
    }
};

QTEST_GUILESS_MAIN(TestTokenCount)
#include "test_tokencount.moc"
