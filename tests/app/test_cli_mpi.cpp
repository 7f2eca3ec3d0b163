// `ropescope-cli search` under `mpirun --oversubscribe -np 3` on CPU replicas of the tiniest
// fixture model (rank 0 runs the search and loads no model, ranks 1 and 2 score): the same best
// and exactly the same evaluations as the one-process run with the same seed; a scorer rank
// SIGKILLed mid-run (mpirun --enable-recovery) costs nothing but time and the log names it; rank 0
// SIGKILLed (mpirun then ends the job) leaves a log that `--resume` under 2 ranks finishes with the
// same best and no evaluation repeated. Skipped when mpirun is not installed.
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include "mpirunner.h"
#include "runlogentries.h"

#include <QTest>
#include <QThread>

#include <csignal>
#include <sys/types.h>

using rs::testing::countOf;
using rs::testing::evaluations;
using rs::testing::lastOf;
using rs::testing::readLog;

namespace {

// The tiniest fixture (2 layers, hidden 64, L_train 1024) with the byte tokenizer, in a folder
// made by initTestCase.
QString g_model;

QStringList searchArgs(const QString &log)
{
    return {"search", "--model", g_model, "--length", "1536", "--samples", "2", "--validation-samples", "2",
            "--population", "4", "--iterations", "3", "--seed", "5", "--log", log};
}

QProcessEnvironment environment()
{
    QProcessEnvironment env = rs::testing::mpiEnvironment();
    // One thread per process: three ranks share two cores, and every process computes alike.
    env.insert(QStringLiteral("OMP_NUM_THREADS"), QStringLiteral("1"));
    return env;
}

} // namespace

class TestCliMpi : public QObject {
    Q_OBJECT

    QTemporaryDir m_tmp;
    QString m_mpirun;
    QList<QJsonObject> m_reference;

    void start(QProcess &p, int ranks, const QStringList &mpirunOptions, const QStringList &args)
    {
        rs::testing::startMpiJob(p, m_mpirun, environment(), ranks, mpirunOptions, args);
    }
    static bool finish(QProcess &p, int ms = 240000) { return rs::testing::finishJob(p, ms); }
    // Waits until the log holds an entry satisfying `ready` (false after 3 minutes or when the run ended).
    template <typename Ready>
    static bool waitForLog(const QString &log, QProcess &p, Ready ready)
    {
        return rs::testing::waitForLog(log, p, 180000, ready);
    }
    void compareWithReference(const QList<QJsonObject> &log)
    {
        const QJsonObject got = lastOf(log, QStringLiteral("finish")), want = lastOf(m_reference, QStringLiteral("finish"));
        QVERIFY2(!got.isEmpty(), "no finish entry");
        for (const char *key : {"best_lambda", "best_fitness", "best_validation_fitness", "best_d_rcd", "generations",
                                "candidates", "sample_evaluations"})
            QVERIFY2(got.value(QLatin1String(key)) == want.value(QLatin1String(key)), key);
        const QStringList a = evaluations(log), b = evaluations(m_reference);
        QCOMPARE(a.size(), b.size());  // also: none repeated
        QVERIFY(a == b);
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_tmp.isValid());
        m_mpirun = QStandardPaths::findExecutable(QStringLiteral("mpirun"));
        if (m_mpirun.isEmpty())
            QSKIP("mpirun is not installed (scripts/install-deps.sh installs openmpi-bin): the MPI tests are skipped");
        g_model = m_tmp.filePath(QStringLiteral("model"));
        QVERIFY(QDir().mkpath(g_model));
        const QString fixture = QStringLiteral(ROPESCOPE_FIXTURES "/models/llama-plain");
        for (const char *name : {"config.json", "model.safetensors"})
            QVERIFY(QFile::copy(fixture + QLatin1Char('/') + QLatin1String(name), g_model + QLatin1Char('/') + QLatin1String(name)));
        QVERIFY(QFile::copy(QStringLiteral(ROPESCOPE_FIXTURES "/tokenizers/bytes-256-tokenizer.json"),
                            g_model + QStringLiteral("/tokenizer.json")));
        const QString log = m_tmp.filePath(QStringLiteral("one.jsonl"));
        QProcess p;
        p.setProcessEnvironment(environment());
        p.setProcessChannelMode(QProcess::MergedChannels);
        p.start(QStringLiteral(ROPESCOPE_CLI), searchArgs(log));
        QVERIFY(finish(p));
        QVERIFY2(p.exitCode() == 0, p.readAll().constData());
        m_reference = readLog(log);
    }

    void sameAsOneProcess()
    {
        const QString log = m_tmp.filePath(QStringLiteral("three.jsonl"));
        QProcess p;
        start(p, 3, {}, searchArgs(log));
        QVERIFY(finish(p));
        const QByteArray output = p.readAll();
        QVERIFY2(p.exitCode() == 0, output.constData());
        QVERIFY2(output.contains("2 scorer rank(s)"), output.constData());
        const QList<QJsonObject> entries = readLog(log);
        compareWithReference(entries);
        // The same start entry: a log of either kind resumes under the other.
        QCOMPARE(entries.first().value(QStringLiteral("settings")), m_reference.first().value(QStringLiteral("settings")));
        const QJsonArray ranks = lastOf(entries, QStringLiteral("rank_stats")).value(QStringLiteral("ranks")).toArray();
        QCOMPARE(ranks.size(), 2);
        for (const QJsonValue &r : ranks)
            QCOMPARE(r.toObject().value(QStringLiteral("devices")).toArray().first().toString(), QStringLiteral("cpu"));
    }

    void killedScorerRank()
    {
        const QString log = m_tmp.filePath(QStringLiteral("killed-worker.jsonl"));
        QProcess p;
        start(p, 3, {"--enable-recovery"}, searchArgs(log) + QStringList{"--rank-timeout", "8"});
        // Generation 0's statistics name rank 1's pid.
        qint64 pid = 0;
        QVERIFY(waitForLog(log, p, [&](const QList<QJsonObject> &entries) {
            for (const QJsonValue &r : lastOf(entries, QStringLiteral("rank_stats")).value(QStringLiteral("ranks")).toArray())
                if (r.toObject().value(QStringLiteral("rank")).toInt() == 1)
                    pid = r.toObject().value(QStringLiteral("pid")).toInteger();
            return pid > 0;
        }));
        QCOMPARE(::kill(pid_t(pid), SIGKILL), 0);
        QVERIFY(finish(p));
        const QByteArray output = p.readAll();
        QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0, output.constData());
        const QList<QJsonObject> entries = readLog(log);
        compareWithReference(entries);
        const QJsonObject lost = lastOf(entries, QStringLiteral("rank_lost"));
        QCOMPARE(lost.value(QStringLiteral("rank")).toInt(), 1);
        QVERIFY(!lost.value(QStringLiteral("host")).toString().isEmpty());
        QVERIFY2(output.contains("rank 1 on"), output.constData());
    }

    void killedRootResumedWithTwoRanks()
    {
        const QString log = m_tmp.filePath(QStringLiteral("killed-root.jsonl"));
        QProcess p;
        start(p, 3, {}, searchArgs(log));
        QVERIFY(waitForLog(log, p, [](const QList<QJsonObject> &entries) { return countOf(entries, QStringLiteral("generation")) >= 1; }));
        // Rank 0 holds the log's lock; the lock file names its pid.
        QFile lock(log + QStringLiteral(".lock"));
        QVERIFY(lock.open(QIODevice::ReadOnly));
        const qint64 pid = lock.readLine().trimmed().toLongLong();
        QVERIFY(pid > 0);
        QCOMPARE(::kill(pid_t(pid), SIGKILL), 0);
        QVERIFY(finish(p));  // mpirun ends the job
        QVERIFY(lastOf(readLog(log), QStringLiteral("finish")).isEmpty());

        QProcess resumed;
        start(resumed, 2, {}, searchArgs(log) + QStringList{"--resume"});
        QVERIFY(finish(resumed));
        const QByteArray output = resumed.readAll();
        QVERIFY2(resumed.exitCode() == 0, output.constData());
        const QList<QJsonObject> entries = readLog(log);
        QCOMPARE(countOf(entries, QStringLiteral("resume")), 1);
        compareWithReference(entries);
    }
};

QTEST_GUILESS_MAIN(TestCliMpi)
#include "test_cli_mpi.moc"
