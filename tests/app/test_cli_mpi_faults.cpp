// Faults at scale, the CI-sized run (issue 28; bench/mpi-simulated-scaling.sh faults does it with
// 64 ranks): `ropescope-cli search --simulate-fitness` under `mpirun --enable-recovery -np 8`; two
// scorer ranks are SIGKILLed at moments drawn from a seeded generator (after so many logged
// evaluations), then, once the log names both lost ranks, rank 0 is SIGKILLed (mpirun ends the
// job) and the run is resumed on 3 ranks. The finished log holds exactly the evaluations of an
// undisturbed one-process run (none lost, none repeated) and the same answer. Skipped without mpirun.
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonObject>
#include <QMap>
#include <QProcess>
#include <QRandomGenerator>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QThread>
#include "mpirunner.h"
#include "runlogentries.h"

#include <QTest>

#include <csignal>
#include <sys/types.h>

using rs::testing::countOf;
using rs::testing::evaluations;
using rs::testing::lastOf;
using rs::testing::readLog;

namespace {

QString g_model;  // a folder with the fixture's config.json only: the simulated fitness reads no weights

QStringList searchArgs(const QString &log, const QString &simulate)
{
    return {"search", "--model", g_model, "--length", "4096", "--samples", "2", "--validation-samples", "2",
            "--population", "16", "--iterations", "4", "--seed", "13", "--simulate-fitness", simulate, "--log", log};
}

QProcessEnvironment environment() { return rs::testing::mpiEnvironment(); }

// {rank: pid} of the ropescope-cli processes whose command line names `log` (from /proc).
QMap<int, qint64> rankPids(const QString &log)
{
    QMap<int, qint64> out;
    for (const QString &pid : QDir(QStringLiteral("/proc")).entryList(QDir::Dirs)) {
        bool numeric = false;
        const qint64 id = pid.toLongLong(&numeric);
        QFile cmdline(QStringLiteral("/proc/%1/cmdline").arg(pid)), environ(QStringLiteral("/proc/%1/environ").arg(pid));
        if (!numeric || !cmdline.open(QIODevice::ReadOnly))
            continue;
        const QList<QByteArray> args = cmdline.readAll().split('\0');
        if (args.isEmpty() || !args.first().endsWith("ropescope-cli") || !args.contains(log.toUtf8()) || !environ.open(QIODevice::ReadOnly))
            continue;
        for (const QByteArray &e : environ.readAll().split('\0'))
            if (e.startsWith("OMPI_COMM_WORLD_RANK="))
                out.insert(e.mid(21).toInt(), id);
    }
    return out;
}

} // namespace

class TestCliMpiFaults : public QObject {
    Q_OBJECT

    QTemporaryDir m_tmp;
    QString m_mpirun;
    QList<QJsonObject> m_reference;

    void start(QProcess &p, int ranks, const QStringList &mpirunOptions, const QStringList &args)
    {
        rs::testing::startMpiJob(p, m_mpirun, environment(), ranks, mpirunOptions, args);
    }
    static bool finish(QProcess &p, int ms = 120000) { return rs::testing::finishJob(p, ms); }
    // Waits until the log satisfies `ready` (false after 2 minutes or when the run ended first).
    template <typename Ready>
    static bool waitForLog(const QString &log, QProcess &p, Ready ready)
    {
        return rs::testing::waitForLog(log, p, 120000, ready);
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_tmp.isValid());
        m_mpirun = QStandardPaths::findExecutable(QStringLiteral("mpirun"));
        if (m_mpirun.isEmpty())
            QSKIP("no mpirun: mpirun is not installed (scripts/install-deps.sh installs openmpi-bin); "
                  "the MPI fault test is skipped");
        g_model = m_tmp.filePath(QStringLiteral("model"));
        QVERIFY(QDir().mkpath(g_model));
        QVERIFY(QFile::copy(QStringLiteral(ROPESCOPE_FIXTURES "/models/llama-plain/config.json"), g_model + "/config.json"));
        // The undisturbed run: one process, no sleep.
        const QString log = m_tmp.filePath(QStringLiteral("reference.jsonl"));
        QProcess p;
        p.setProcessChannelMode(QProcess::MergedChannels);
        p.start(QStringLiteral(ROPESCOPE_CLI), searchArgs(log, QStringLiteral("0s")));
        QVERIFY(finish(p));
        QVERIFY2(p.exitCode() == 0, p.readAll().constData());
        m_reference = readLog(log);
        QVERIFY(!lastOf(m_reference, QStringLiteral("finish")).isEmpty());
    }

    void killedRanksThenRootResumed()
    {
        const QString log = m_tmp.filePath(QStringLiteral("faults.jsonl"));
        const int total = evaluations(m_reference).size();
        // The moments, in logged evaluations, from a fixed seed: the run is the same every time.
        QRandomGenerator random(28);
        const int firstKill = 10 + int(random.bounded(total / 5)), secondKill = firstKill + 5 + int(random.bounded(total / 5));
        const QList<int> victims{2 + int(random.bounded(3)), 5 + int(random.bounded(3))};  // two of ranks 2 … 7
        qInfo("%d evaluations; killing ranks %d and %d after %d and %d logged", total, victims[0], victims[1], firstKill,
              secondKill);
        QElapsedTimer clock;
        clock.start();
        QProcess p;
        start(p, 8, {"--enable-recovery"}, searchArgs(log, QStringLiteral("0.05s")) + QStringList{"--rank-timeout", "2"});
        for (int i = 0; i < 2; ++i) {
            const int after = i == 0 ? firstKill : secondKill;
            QVERIFY2(waitForLog(log, p, [&](const QList<QJsonObject> &e) { return evaluations(e).size() >= after; }),
                     p.readAll().constData());
            const qint64 pid = rankPids(log).value(victims[i]);
            QVERIFY(pid > 0);
            QCOMPARE(::kill(pid_t(pid), SIGKILL), 0);
            qInfo("%.1f s: rank %d killed", clock.elapsed() / 1000.0, victims[i]);
        }
        // Both losses in the log, then rank 0 (which holds the log's lock) goes too.
        QVERIFY2(waitForLog(log, p, [](const QList<QJsonObject> &e) { return countOf(e, QStringLiteral("rank_lost")) >= 2; }),
                 p.readAll().constData());
        const QList<QJsonObject> before = readLog(log);
        QVERIFY2(lastOf(before, QStringLiteral("finish")).isEmpty(), "the run ended before rank 0 could be killed");
        const qint64 root = rankPids(log).value(0);
        QVERIFY(root > 0);
        QCOMPARE(::kill(pid_t(root), SIGKILL), 0);
        qInfo("%.1f s: rank 0 killed", clock.elapsed() / 1000.0);
        QVERIFY(finish(p));  // mpirun ends the job
        qInfo("%.1f s: mpirun ended", clock.elapsed() / 1000.0);
        const QList<QJsonObject> killed = readLog(log);
        QVERIFY(lastOf(killed, QStringLiteral("finish")).isEmpty());
        QList<int> lost;
        for (const QJsonObject &o : killed)
            if (o.value(QStringLiteral("event")).toString() == QLatin1String("rank_lost"))
                lost << o.value(QStringLiteral("rank")).toInt();
        std::sort(lost.begin(), lost.end());
        QCOMPARE(lost, victims);

        QProcess resumed;
        start(resumed, 3, {}, searchArgs(log, QStringLiteral("0.05s")) + QStringList{"--resume"});
        QVERIFY(finish(resumed));
        qInfo("%.1f s: the resumed run ended", clock.elapsed() / 1000.0);
        const QByteArray output = resumed.readAll();
        QVERIFY2(resumed.exitCode() == 0, output.constData());
        const QList<QJsonObject> entries = readLog(log);
        QCOMPARE(countOf(entries, QStringLiteral("resume")), 1);
        // No evaluation lost or repeated: the set (with its multiplicity) is the undisturbed run's.
        const QStringList got = evaluations(entries), want = evaluations(m_reference);
        QCOMPARE(got.size(), want.size());
        QVERIFY(got == want);
        const QJsonObject a = lastOf(entries, QStringLiteral("finish")), b = lastOf(m_reference, QStringLiteral("finish"));
        for (const char *key : {"best_lambda", "best_fitness", "best_validation_fitness", "best_d_rcd", "generations",
                                "candidates", "sample_evaluations"})
            QVERIFY2(a.value(QLatin1String(key)) == b.value(QLatin1String(key)), key);
    }
};

QTEST_GUILESS_MAIN(TestCliMpiFaults)
#include "test_cli_mpi_faults.moc"
