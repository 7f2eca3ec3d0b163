// Saved editing sessions: versioned JSON that round-trips exactly, refuses a wrong version,
// missing keys and invalid factors with an error naming the source, and is written atomically.
#include "common/error.h"
#include "rope/session.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <functional>

using namespace rs;

namespace {

QJsonObject fixtureConfig()
{
    QFile f(QStringLiteral(ROPESCOPE_FIXTURES "/configs/hf5-phi3-longrope.json"));
    if (!f.open(QIODevice::ReadOnly))
        qFatal("cannot open fixture");
    return QJsonDocument::fromJson(f.readAll()).object();
}

EditingSession sampleSession(bool withAttention = true)
{
    EditingSession s;
    s.configSource = QStringLiteral(ROPESCOPE_FIXTURES "/configs/hf5-phi3-longrope.json");
    s.configJson = fixtureConfig();
    s.targetLength = 1024;
    s.dRcd = 5;
    // 8 pairs (d = 16): NTK-left below 5, then values needing all 17 digits.
    for (int i = 0; i < 8; ++i)
        s.lambda.push_back(i < 5 ? std::pow(9.5, i / 5.0) : 9.5 + i / 3.0);
    if (withAttention)
        s.attentionFactor = 1.0 + 1.0 / 7.0;
    s.visibleFamilies = {QStringLiteral("pi"), QStringLiteral("yarn"), QStringLiteral("config")};
    return s;
}

void compareSessions(const EditingSession &a, const EditingSession &b)
{
    QCOMPARE(a.configSource, b.configSource);
    QCOMPARE(a.configJson, b.configJson);
    QCOMPARE(a.targetLength, b.targetLength);
    QCOMPARE(a.dRcd, b.dRcd);
    QCOMPARE(a.lambda, b.lambda); // exact
    QCOMPARE(a.attentionFactor, b.attentionFactor);
    QCOMPARE(a.visibleFamilies, b.visibleFamilies);
}

// Keys are located by their values so that the test does not depend on the key names.
QString keyWhere(const QJsonObject &o, const std::function<bool(const QString &, const QJsonValue &)> &pred)
{
    for (auto it = o.constBegin(); it != o.constEnd(); ++it)
        if (pred(it.key(), it.value()))
            return it.key();
    return {};
}

QString versionKey(const QJsonObject &o)
{
    return keyWhere(o, [](const QString &k, const QJsonValue &v) {
        return k.contains(QStringLiteral("version"), Qt::CaseInsensitive) && v.toDouble(-1) == EditingSession::kVersion;
    });
}

QString lambdaKey(const QJsonObject &o, const EditingSession &s)
{
    return keyWhere(o, [&](const QString &, const QJsonValue &v) {
        if (!v.isArray() || v.toArray().size() != qsizetype(s.lambda.size()))
            return false;
        for (qsizetype i = 0; i < v.toArray().size(); ++i)
            if (v.toArray().at(i).toDouble() != s.lambda[size_t(i)])
                return false;
        return true;
    });
}

void expectError(const QJsonObject &o, const QString &source, const char *what)
{
    try {
        EditingSession::fromJson(o, source);
        QFAIL(qPrintable(QStringLiteral("no error for ") + QLatin1String(what)));
    } catch (const Error &e) {
        QVERIFY2(e.message().contains(source), qPrintable(e.message()));
    }
}

void writeText(const QString &path, const QByteArray &bytes)
{
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly))
        qFatal("cannot write %s", qPrintable(path));
    f.write(bytes);
}

} // namespace

class TestSession : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void roundTripInMemory();
    void roundTripThroughText();
    void withoutAttentionFactor();
    void wrongVersion();
    void missingKeys();
    void invalidFactors_data();
    void invalidFactors();
    void notASession();
    void saveAndLoad();
    void loadErrorsNamePath();
    void saveErrorNamesPath();
};

void TestSession::roundTripInMemory()
{
    QCOMPARE(EditingSession::kVersion, 1);
    const EditingSession s = sampleSession();
    const QJsonObject o = s.toJson();
    QVERIFY2(!versionKey(o).isEmpty(), "no version key holding kVersion");
    compareSessions(EditingSession::fromJson(o, QStringLiteral("memory")), s);
}

void TestSession::roundTripThroughText()
{
    const EditingSession s = sampleSession();
    const QByteArray text = QJsonDocument(s.toJson()).toJson();
    const EditingSession back = EditingSession::fromJson(QJsonDocument::fromJson(text).object(), QStringLiteral("text"));
    compareSessions(back, s);
}

void TestSession::withoutAttentionFactor()
{
    EditingSession s = sampleSession(false);
    s.visibleFamilies.clear();
    const EditingSession back = EditingSession::fromJson(s.toJson(), QStringLiteral("memory"));
    QVERIFY(!back.attentionFactor.has_value());
    compareSessions(back, s);
}

void TestSession::wrongVersion()
{
    const QString source = QStringLiteral("/sessions/old.ropescope");
    QJsonObject o = sampleSession().toJson();
    const QString key = versionKey(o);
    QVERIFY(!key.isEmpty());
    o[key] = EditingSession::kVersion + 1;
    expectError(o, source, "a newer version");
    o[key] = 0;
    expectError(o, source, "version 0");
    o[key] = QStringLiteral("one");
    expectError(o, source, "a non-numeric version");
    o.remove(key);
    expectError(o, source, "a missing version");
}

void TestSession::missingKeys()
{
    const QString source = QStringLiteral("/sessions/partial.ropescope");
    const EditingSession s = sampleSession();
    const QJsonObject full = s.toJson();
    // The factors, the config and the target length are essential.
    const QString lk = lambdaKey(full, s);
    const QString ck = keyWhere(full, [&](const QString &, const QJsonValue &v) { return v.isObject() && v.toObject() == s.configJson; });
    const QString tk = keyWhere(full, [&](const QString &, const QJsonValue &v) { return v.isDouble() && v.toDouble() == s.targetLength; });
    QVERIFY2(!lk.isEmpty(), "factors not found in toJson()");
    QVERIFY2(!ck.isEmpty(), "config not found in toJson()");
    QVERIFY2(!tk.isEmpty(), "target length not found in toJson()");
    for (const QString &key : {lk, ck, tk}) {
        QJsonObject o = full;
        o.remove(key);
        expectError(o, source, qPrintable(QStringLiteral("missing ") + key));
    }
}

void TestSession::invalidFactors_data()
{
    QTest::addColumn<QJsonArray>("lambda");
    QTest::newRow("negative") << QJsonArray{1, 1.2, -1.5, 2, 9.5, 10, 11, 12};
    QTest::newRow("zero") << QJsonArray{0, 1.2, 1.5, 2, 9.5, 10, 11, 12};
    QTest::newRow("1e-300") << QJsonArray{1e-300, 1.2, 1.5, 2, 9.5, 10, 11, 12};
    QTest::newRow("1e300") << QJsonArray{1, 1.2, 1.5, 2, 9.5, 10, 11, 1e300};
    QTest::newRow("string") << QJsonArray{1, 1.2, QStringLiteral("abc"), 2, 9.5, 10, 11, 12};
    QTest::newRow("null") << QJsonArray{1, 1.2, QJsonValue::Null, 2, 9.5, 10, 11, 12};
    QTest::newRow("not an array") << QJsonArray{};
    // The config has d/2 = 8 pairs.
    QTest::newRow("7 factors for 8 pairs") << QJsonArray{1, 1.2, 1.5, 2, 9.5, 10, 11};
    QTest::newRow("9 factors for 8 pairs") << QJsonArray{1, 1.2, 1.5, 2, 9.5, 10, 11, 12, 13};
}

void TestSession::invalidFactors()
{
    QFETCH(QJsonArray, lambda);
    const EditingSession s = sampleSession();
    QJsonObject o = s.toJson();
    const QString key = lambdaKey(o, s);
    QVERIFY(!key.isEmpty());
    if (lambda.isEmpty())
        o[key] = QStringLiteral("1,2,3");
    else
        o[key] = lambda;
    expectError(o, QStringLiteral("/sessions/bad.ropescope"), "invalid factors");
}

void TestSession::notASession()
{
    expectError(QJsonObject(), QStringLiteral("/sessions/empty.ropescope"), "an empty object");
    // A model config is not a session.
    expectError(fixtureConfig(), QStringLiteral("/models/config.json"), "a config.json");
}

void TestSession::saveAndLoad()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(QStringLiteral("work.ropescope"));
    const EditingSession s = sampleSession();
    saveSession(path, s);
    compareSessions(loadSession(path), s);
    // Saving again replaces the file.
    EditingSession t = sampleSession(false);
    t.dRcd = 6;
    t.targetLength = 2048;
    saveSession(path, t);
    compareSessions(loadSession(path), t);
    // The file is JSON.
    QFile f(path);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QJsonParseError err;
    QVERIFY(QJsonDocument::fromJson(f.readAll(), &err).isObject());
}

void TestSession::loadErrorsNamePath()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString missing = dir.filePath(QStringLiteral("missing.ropescope"));
    const QString malformed = dir.filePath(QStringLiteral("malformed.ropescope"));
    const QString array = dir.filePath(QStringLiteral("array.ropescope"));
    const QString newer = dir.filePath(QStringLiteral("newer.ropescope"));
    writeText(malformed, "{\"version\": 1, \"lambda\": [1, 2,");
    writeText(array, "[1, 2, 3]");
    QJsonObject o = sampleSession().toJson();
    o[versionKey(o)] = 99;
    writeText(newer, QJsonDocument(o).toJson());
    for (const QString &path : {missing, malformed, array, newer}) {
        try {
            loadSession(path);
            QFAIL(qPrintable(QStringLiteral("no error for ") + path));
        } catch (const Error &e) {
            QVERIFY2(e.message().contains(path), qPrintable(e.message()));
        }
    }
}

void TestSession::saveErrorNamesPath()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(QStringLiteral("no/such/dir/work.ropescope"));
    try {
        saveSession(path, sampleSession());
        QFAIL("no error");
    } catch (const Error &e) {
        QVERIFY2(e.message().contains(path), qPrintable(e.message()));
    }
}

QTEST_GUILESS_MAIN(TestSession)
#include "test_session.moc"
