// The MPI work queue (core/distributed) on a synthetic fitness, no model: `mpirun -np 3` of this
// executable (its --child mode: rank 0 runs the search through the Coordinator, ranks 1 and 2
// serve jobs) must give the one-process run's best and exactly its set of evaluations (search,
// validation and baselines; the log's order aside), also when a scorer rank is SIGKILLed mid-run
// (under `mpirun --enable-recovery`) or hangs in a job past --job-timeout: the log then names the
// lost rank and its jobs are scored by the other. Skipped when mpirun is not installed.
#include "common/error.h"
#include "distributed/mpisearch.h"
#include "search/search.h"

#include <QCoreApplication>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include "runlogentries.h"

#include <QTest>

#include <csignal>
#include <cmath>
#include <cstdio>
#include <set>
#include <thread>

using namespace rs;

using rs::testing::evaluations;
using rs::testing::lastOf;
using rs::testing::readLog;

namespace {

SearchSettings smallSettings()
{
    SearchSettings s;
    s.rotaryDims = 32;
    s.base = 10000.0;
    s.trainLength = 1024;
    s.targetLength = 4096;
    s.population = 8;
    s.iterations = 3;
    s.seed = 11;
    s.validationTop = 2;
    return s;
}

// A pure function of (candidate, sample): the distance in log λ to a smooth target, scaled per
// sample (validation samples scale differently), so the ranking is non-trivial but exact.
double syntheticScore(const Candidate &c, int sample, bool validation)
{
    const size_t n = c.lambda.size();
    double d = 0;
    for (size_t i = 0; i < n; ++i) {
        const double target = 4.0 * (1.0 + double(i) / double(n));
        d += std::pow(std::log(c.lambda[i] / target), 2);
    }
    return (1.0 + d / double(n)) * (validation ? 1.0 + 0.02 * (sample + 1) : 1.0 + 0.03 * sample)
           + 0.001 * std::abs(c.attentionFactor - 1.1);
}

SampledFitness localFitness(bool validation, int samples)
{
    SampledFitness f;
    f.samples = samples;
    f.maxBatch = 4;
    f.batch = [validation](const std::vector<Candidate> &cs, int sample) {
        std::vector<double> out;
        for (const Candidate &c : cs)
            out.push_back(syntheticScore(c, sample, validation));
        return out;
    };
    return f;
}

constexpr int kSamples = 2;
constexpr int kValidationSamples = 3;

// 40 distinct candidates, one per index.
std::vector<Candidate> fortyCandidates()
{
    std::vector<Candidate> cs;
    for (int i = 0; i < 40; ++i)
        cs.push_back(Candidate{std::vector<double>(16, 1.0 + 0.1 * i), 1.0});
    return cs;
}

// Rank 0 of --stream-stop N: one streaming round of 40 candidates whose sink asks to stop after N
// scores, then a plain round of the same 40 on the same coordinator. Writes to OUT what came back:
// {"handed": [indices in arrival order], "wrong": scores that differ from the synthetic ones,
//  "nan_after_stop": unscored entries of the first call's result, "second_ok": the second call's
//  scores all right}.
int streamStop(mpi::Coordinator &coordinator, const QString &out, int stopAfter)
{
    const std::vector<Candidate> cs = fortyCandidates();
    QJsonArray handed;
    int wrong = 0;
    const std::vector<double> first = coordinator.score(mpi::SampleSet::Search, cs, 0, [&](size_t i, double f) {
        handed.append(int(i));
        wrong += f == syntheticScore(cs[i], 0, false) ? 0 : 1;
        return handed.size() < stopAfter;
    });
    int nan = 0;
    for (double f : first)
        nan += std::isnan(f) ? 1 : 0;
    const std::vector<double> second = coordinator.score(mpi::SampleSet::Search, cs, 0);
    bool secondOk = second.size() == cs.size();
    for (size_t i = 0; secondOk && i < cs.size(); ++i)
        secondOk = second[i] == syntheticScore(cs[i], 0, false);
    QFile f(out);
    if (!f.open(QIODevice::WriteOnly))
        return 1;
    f.write(QJsonDocument(QJsonObject{{"handed", handed}, {"wrong", wrong}, {"nan_after_stop", nan}, {"second_ok", secondOk}})
                .toJson());
    return 0;
}

// --child LOG [--stream-stop N] [--kill-rank R --kill-after N] [--sleep-rank R --sleep-after N --sleep-ms MS]
//         [--job-timeout S] [--rank-timeout S]
int childMain(const QStringList &args)
{
    auto value = [&](const char *name, double fallback) {
        const int i = int(args.indexOf(QLatin1String(name)));
        return i >= 0 && i + 1 < args.size() ? args[i + 1].toDouble() : fallback;
    };
    const QString log = args.value(int(args.indexOf(QStringLiteral("--child"))) + 1);
    mpi::Environment world;
    world.setExitCode(0);  // a finalize stuck on the dead peer: exit anyway, as the CLI does
    mpi::Timeouts timeouts;
    timeouts.silenceSeconds = value("--rank-timeout", 30);
    timeouts.jobSeconds = value("--job-timeout", 0);
    try {
        if (world.rank() == 0) {
            mpi::Coordinator coordinator(world);
            coordinator.setTimeouts(timeouts);
            coordinator.setOnLost([](const QString &line) { std::fprintf(stderr, "%s\n", qPrintable(line)); });
            coordinator.start();
            if (args.contains(QStringLiteral("--stream-stop")))
                return streamStop(coordinator, log, int(value("--stream-stop", 0)));
            EvolutionSearch engine(smallSettings());
            SearchHooks hooks;
            hooks.logPath = log;
            hooks.baselines = engine.defaultBaselines();
            hooks.logEvents = [&](bool atGeneration) { return coordinator.takeLogEvents(atGeneration); };
            engine.run(coordinator.fitness(mpi::SampleSet::Search, kSamples),
                       coordinator.fitness(mpi::SampleSet::Validation, kValidationSamples), hooks);
            return 0;
        }
        const int killRank = int(value("--kill-rank", -1)), killAfter = int(value("--kill-after", 0));
        const int sleepRank = int(value("--sleep-rank", -1)), sleepAfter = int(value("--sleep-after", 0));
        const int sleepMs = int(value("--sleep-ms", 0));
        int jobs = 0;
        const auto setup = []() -> std::variant<mpi::ScorerHello, mpi::SetupFailure> {
            return mpi::ScorerHello{{QStringLiteral("synthetic")}, QStringLiteral("float64"), 2};
        };
        const auto score = [&](mpi::SampleSet set, const std::vector<Candidate> &cs, int sample) {
            ++jobs;
            if (world.rank() == killRank && jobs == killAfter)
                std::raise(SIGKILL);
            if (world.rank() == sleepRank && jobs == sleepAfter)
                std::this_thread::sleep_for(std::chrono::milliseconds(sleepMs));
            std::vector<double> out;
            for (const Candidate &c : cs)
                out.push_back(syntheticScore(c, sample, set == mpi::SampleSet::Validation));
            std::this_thread::sleep_for(std::chrono::milliseconds(2));  // so both scorer ranks get jobs
            return out;
        };
        mpi::serveJobs(world, timeouts, setup, score);
        return 0;
    } catch (const Error &e) {
        std::fprintf(stderr, "rank %d: %s\n", world.rank(), qPrintable(e.message()));
        return 1;
    }
}

} // namespace

class TestMpiQueue : public QObject {
    Q_OBJECT

    QTemporaryDir m_tmp;
    QString m_mpirun;
    QList<QJsonObject> m_reference;

    // Runs this executable's child mode under mpirun with 3 ranks; the exit code, stderr on failure.
    int runMpi(const QStringList &mpirunOptions, const QStringList &childArgs, QString *err)
    {
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("OMPI_ALLOW_RUN_AS_ROOT"), QStringLiteral("1"));
        env.insert(QStringLiteral("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"), QStringLiteral("1"));
        env.insert(QStringLiteral("OMPI_MCA_btl_vader_single_copy_mechanism"), QStringLiteral("none"));
        p.setProcessEnvironment(env);
        p.start(m_mpirun, QStringList{QStringLiteral("--oversubscribe"), QStringLiteral("-np"), QStringLiteral("3")}
                              + mpirunOptions + QStringList{QCoreApplication::applicationFilePath(), QStringLiteral("--child")}
                              + childArgs);
        if (!p.waitForFinished(120000)) {
            p.kill();
            p.waitForFinished(10000);
            *err = QStringLiteral("mpirun hung: ") + QString::fromUtf8(p.readAllStandardError() + p.readAllStandardOutput());
            return -1;
        }
        *err = QString::fromUtf8(p.readAllStandardError() + p.readAllStandardOutput());
        return p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    }

    void compareWithReference(const QList<QJsonObject> &log)
    {
        const QJsonObject finish = lastOf(log, QStringLiteral("finish"));
        const QJsonObject expected = lastOf(m_reference, QStringLiteral("finish"));
        QVERIFY2(!finish.isEmpty(), "the MPI run has no finish entry");
        for (const char *key : {"best_lambda", "best_fitness", "best_validation_fitness", "search_best_lambda",
                                "evaluations", "validation_evaluations", "baseline_evaluations", "generations"})
            QVERIFY2(finish.value(QLatin1String(key)) == expected.value(QLatin1String(key)), key);
        const QStringList got = evaluations(log), want = evaluations(m_reference);
        QCOMPARE(got.size(), want.size());
        QVERIFY(got == want);
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_tmp.isValid());
        m_mpirun = QStandardPaths::findExecutable(QStringLiteral("mpirun"));
        if (m_mpirun.isEmpty())
            QSKIP("mpirun is not installed (scripts/install-deps.sh installs openmpi-bin): the MPI tests are skipped");
        // The one-process run: the same search on the same fitness, scored in this process.
        const QString log = m_tmp.filePath(QStringLiteral("reference.jsonl"));
        EvolutionSearch engine(smallSettings());
        SearchHooks hooks;
        hooks.logPath = log;
        hooks.baselines = engine.defaultBaselines();
        engine.run(localFitness(false, kSamples), localFitness(true, kValidationSamples), hooks);
        m_reference = readLog(log);
        QVERIFY(!lastOf(m_reference, QStringLiteral("finish")).isEmpty());
    }

    // Three ranks (rank 0 coordinating, two scorer ranks): the one-process run's result and evaluations,
    // both scorer ranks busy, and their statistics in the log.
    void sameAsOneProcess()
    {
        const QString log = m_tmp.filePath(QStringLiteral("mpi.jsonl"));
        QString err;
        QCOMPARE(runMpi({}, {log}, &err), 0);
        const QList<QJsonObject> entries = readLog(log);
        compareWithReference(entries);
        const QJsonArray ranks = lastOf(entries, QStringLiteral("rank_stats")).value(QStringLiteral("ranks")).toArray();
        QCOMPARE(ranks.size(), 2);
        qint64 total = 0;
        for (const QJsonValue &v : ranks) {
            const QJsonObject r = v.toObject();
            QVERIFY2(r.value(QStringLiteral("evaluations")).toInteger() > 0, "a scorer rank got no job");
            QVERIFY(!r.value(QStringLiteral("host")).toString().isEmpty());
            const double idle = r.value(QStringLiteral("idle_percent")).toDouble(-1);
            QVERIFY(idle >= 0 && idle <= 100);
            total += r.value(QStringLiteral("evaluations")).toInteger();
        }
        QCOMPARE(total, qint64(evaluations(entries).size()));  // every evaluation came from a scorer rank
    }

    // Rank 1 SIGKILLs itself in its third job. Under `mpirun --enable-recovery` the others live
    // on: rank 0 notices the silence, logs the lost rank and gives its job to rank 2; the result
    // and the evaluations are the one-process run's.
    void killedScorerRankIsReplaced()
    {
        const QString log = m_tmp.filePath(QStringLiteral("killed.jsonl"));
        QString err;
        const int code = runMpi({QStringLiteral("--enable-recovery")},
                                {log, "--kill-rank", "1", "--kill-after", "3", "--rank-timeout", "8"}, &err);
        QVERIFY2(code == 0, qPrintable(err));
        const QList<QJsonObject> entries = readLog(log);
        compareWithReference(entries);
        const QJsonObject lost = lastOf(entries, QStringLiteral("rank_lost"));
        QCOMPARE(lost.value(QStringLiteral("rank")).toInt(), 1);
        QVERIFY(!lost.value(QStringLiteral("host")).toString().isEmpty());
        QVERIFY2(lost.value(QStringLiteral("reason")).toString().contains(QLatin1String("silent")), qPrintable(err));
        QVERIFY2(err.contains(QLatin1String("rank 1 on")), qPrintable(err));
    }

    // A streaming round whose sink says stop after 5 scores: no job is sent after that, the jobs
    // already with the ranks still answer (each rank holds at most kJobsAhead = 2 jobs of up to
    // its capacity, 2 candidates: at most 2 × 2 × 2 = 8 more scores), every score handed over is
    // the right one, the rest stay NaN, and the coordinator serves a whole round afterwards.
    void streamStopsSendingWork()
    {
        const QString out = m_tmp.filePath(QStringLiteral("stream-stop.json"));
        QString err;
        QCOMPARE(runMpi({}, {out, "--stream-stop", "5"}, &err), 0);
        QFile f(out);
        QVERIFY2(f.open(QIODevice::ReadOnly), qPrintable(err));
        const QJsonObject r = QJsonDocument::fromJson(f.readAll()).object();
        const QJsonArray handed = r.value(QStringLiteral("handed")).toArray();
        qInfo("%lld scores handed over after a stop at 5", qint64(handed.size()));
        QVERIFY(handed.size() >= 5);
        QVERIFY2(handed.size() <= 5 + 8, "jobs were sent after the sink said stop");
        QCOMPARE(r.value(QStringLiteral("wrong")).toInt(), 0);
        QCOMPARE(r.value(QStringLiteral("nan_after_stop")).toInt(), 40 - int(handed.size()));
        std::set<int> distinct;
        for (const QJsonValue &v : handed)
            distinct.insert(v.toInt());
        QCOMPARE(int(distinct.size()), int(handed.size()));
        QVERIFY(r.value(QStringLiteral("second_ok")).toBool());
    }

    // Rank 2 hangs 4 s in a job (a device that stopped answering still heartbeats): --job-timeout 1.5
    // loses it, rank 1 scores the job, and the late answer is ignored.
    void hungJobTimesOut()
    {
        const QString log = m_tmp.filePath(QStringLiteral("hung.jsonl"));
        QString err;
        const int code = runMpi({}, {log, "--sleep-rank", "2", "--sleep-after", "2", "--sleep-ms", "4000", "--job-timeout",
                                     "1.5"},
                                &err);
        QVERIFY2(code == 0, qPrintable(err));
        const QList<QJsonObject> entries = readLog(log);
        compareWithReference(entries);
        const QJsonObject lost = lastOf(entries, QStringLiteral("rank_lost"));
        QCOMPARE(lost.value(QStringLiteral("rank")).toInt(), 2);
        QVERIFY(lost.value(QStringLiteral("reason")).toString().contains(QLatin1String("1.5 s")));
        QVERIFY(lost.value(QStringLiteral("requeued_evaluations")).toInt() > 0);
    }
};

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    if (args.contains(QStringLiteral("--child")))
        return childMain(args);
    TestMpiQueue test;
    return QTest::qExec(&test, argc, argv);
}

#include "test_mpiqueue.moc"
