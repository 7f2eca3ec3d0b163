// The search dock's run controller without any widget (widgets/searchruncontroller.h), against a
// scripted evaluation service and a fake clock: the state machine (start, pause, resume, stop,
// follow, stop following, failure), what start refuses before asking the service, the best answer
// so far (the best complete candidate, or with validation the one the reports name), and the
// progress arithmetic: 11 live evaluations 100 ms apart are 10 evaluations per second, so the 89
// left of 100 take 8.9 s ("ETA 9 s").
#include "common/error.h"
#include "searchruncontroller.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace rs;
using State = SearchRunController::State;

namespace {

class ScriptedEvaluation : public EvaluationService {
public:
    int starts = 0, pauses = 0, resumes = 0, stops = 0;
    SearchSettings lastSettings;
    NeedleEvalSettings lastSamples, lastValidation;
    QString lastLog;

    void loadModel(const QString &, const QString &, const ModelLoadSettings &) override {}
    void startSearch(const SearchSettings &settings, const NeedleEvalSettings &samples, const QString &log, bool,
                     const NeedleEvalSettings &validation) override
    {
        ++starts;
        lastSettings = settings;
        lastSamples = samples;
        lastLog = log;
        lastValidation = validation;
    }
    void score(quint64, const std::vector<double> &, double, const NeedleEvalSettings &, int) override {}
    void scoreReferences(quint64, const NeedleEvalSettings &) override {}
    void pause() override { ++pauses; }
    void resume() override { ++resumes; }
    void stop() override { ++stops; }
};

SearchSettings validSettings()
{
    SearchSettings s;
    s.rotaryDims = 16;
    s.base = 10000;
    s.trainLength = 1024;
    s.targetLength = 2048;
    s.population = 4;
    s.iterations = 2;
    return s;
}

SearchRunController::StartRequest request(int validationSamples = 0)
{
    SearchRunController::StartRequest r;
    r.settings = validSettings();
    r.samples = NeedleEvalSettings{2048, 2, 0.0, 0, {}};
    r.validation = NeedleEvalSettings{2048, validationSamples, 0.0, 2, {}};
    r.logPath = QStringLiteral("/tmp/run.jsonl");
    return r;
}

SearchPlan plan(int expected, int validationSamples = 0)
{
    SearchPlan p;
    p.settings = validSettings();
    p.samples = 1;
    p.expectedEvaluations = expected;
    p.targetLength = 2048;
    p.searchSamples = NeedleEvalSettings{2048, 1, 0.0, 0, {}};
    p.validationSamples = NeedleEvalSettings{2048, validationSamples, 0.0, 1, {}};
    return p;
}

CandidateEvaluation candidate(double ppl, double lambda, bool complete = true)
{
    CandidateEvaluation c;
    c.lambda = std::vector<double>(8, lambda);
    c.ppl = ppl;
    c.samplePpl = ppl;
    c.samples = complete ? 1 : 2;
    c.samplesScored = 1;
    return c;
}

QString plain(QString text) { return text.replace(QChar::Nbsp, QLatin1Char(' ')); }

QByteArray jsonLine(const QJsonObject &o) { return QJsonDocument(o).toJson(QJsonDocument::Compact) + '\n'; }

} // namespace

class TestSearchRunController : public QObject {
    Q_OBJECT

private:
    ScriptedEvaluation m_service;
    std::unique_ptr<SearchRunController> m_run;
    qint64 m_now = 0;

private slots:
    void init()
    {
        m_service.starts = m_service.pauses = m_service.resumes = m_service.stops = 0;
        m_run = std::make_unique<SearchRunController>(&m_service);
        m_now = 0;
        m_run->setClock([this] { return m_now; });
    }

    void cleanup() { m_run.reset(); }

    void startPauseResumeStopFinish()
    {
        QSignalSpy states(m_run.get(), &SearchRunController::stateChanged);
        QCOMPARE(m_run->state(), State::Idle);
        QVERIFY(m_run->start(request()));
        QCOMPARE(m_run->state(), State::Starting);
        QCOMPARE(m_service.starts, 1);
        QCOMPARE(m_service.lastSettings.population, 4);
        QCOMPARE(m_service.lastLog, QStringLiteral("/tmp/run.jsonl"));
        QVERIFY(m_run->statusText().contains(QStringLiteral("Starting")));
        // A second start while one runs is refused without asking the service.
        QVERIFY(!m_run->start(request()));
        QCOMPARE(m_service.starts, 1);

        Q_EMIT m_service.searchStarted(plan(100));
        QCOMPARE(m_run->state(), State::Searching);
        QVERIFY(m_run->hasRun());
        m_run->togglePause();
        QCOMPARE(m_run->state(), State::Paused);
        QCOMPARE(m_service.pauses, 1);
        QVERIFY(m_run->statusText().contains(QStringLiteral("paused")));
        m_run->togglePause();
        QCOMPARE(m_run->state(), State::Searching);
        QCOMPARE(m_service.resumes, 1);

        m_run->stop();
        QCOMPARE(m_service.stops, 1);
        QVERIFY(m_run->isStopping());
        QVERIFY(m_run->statusDisplay().contains(QStringLiteral("Stopping")));
        m_run->stop();  // asked once only
        QCOMPARE(m_service.stops, 1);

        SearchOutcome outcome;
        outcome.result.bestLambda = std::vector<double>(8, 1.5);
        outcome.result.bestFitness = 12.5;
        outcome.result.evaluations = 7;
        outcome.result.generations = 1;
        outcome.result.stopReason = StopReason::Cancelled;
        Q_EMIT m_service.searchFinished(outcome);
        QCOMPARE(m_run->state(), State::Idle);
        QVERIFY(!m_run->isStopping());
        QVERIFY2(m_run->statusText().contains(QStringLiteral("best needle PPL 12.5")), qPrintable(m_run->statusText()));
        QVERIFY(m_run->statusText().contains(QStringLiteral("after 7 evaluations")));
        QCOMPARE(m_run->best()->ppl, 12.5);
        const QList<State> expected{State::Starting, State::Searching, State::Paused, State::Searching, State::Idle};
        QCOMPARE(states.size(), expected.size());
        for (int i = 0; i < expected.size(); ++i)
            QCOMPARE(states[i][0].value<State>(), expected[i]);
    }

    // What cannot run is refused by name before the service hears of it.
    void startRefusesWhatCannotRun()
    {
        QSignalSpy errors(m_run.get(), &SearchRunController::errorOccurred);
        SearchRunController::StartRequest bad = request();
        bad.settings.population = 1;
        QVERIFY(!m_run->start(bad));
        QCOMPARE(errors.size(), 1);
        QVERIFY(!errors[0][0].toString().isEmpty());
        // Validation seeds 1 … 2 overlap the search's 0 … 1.
        SearchRunController::StartRequest overlapping = request(2);
        overlapping.validation.seed = 1;
        QVERIFY(!m_run->start(overlapping));
        QCOMPARE(errors.size(), 2);
        QVERIFY2(errors[1][0].toString().contains(QStringLiteral("seeds 1 … 2")), qPrintable(errors[1][0].toString()));
        QCOMPARE(m_service.starts, 0);
        QCOMPARE(m_run->state(), State::Idle);
    }

    void aFailedSearchReturnsToIdle()
    {
        QSignalSpy errors(m_run.get(), &SearchRunController::errorOccurred);
        QVERIFY(m_run->start(request()));
        Q_EMIT m_service.failed(WorkerTask::Score, QStringLiteral("not the search's"));
        QCOMPARE(m_run->state(), State::Starting);
        Q_EMIT m_service.failed(WorkerTask::Search, QStringLiteral("out of memory"));
        QCOMPARE(m_run->state(), State::Idle);
        QCOMPARE(errors.size(), 1);
        QCOMPARE(errors[0][0].toString(), QStringLiteral("out of memory"));
    }

    // 11 live evaluations 100 ms apart: 10 intervals in 1 s, 10 evaluations per second; 89 of 100 left.
    void progressRateAndEta()
    {
        QVERIFY(m_run->start(request()));
        Q_EMIT m_service.searchStarted(plan(100));
        for (int i = 0; i < 11; ++i) {
            m_now = 1000 + 100 * i;
            Q_EMIT m_service.candidateEvaluated(candidate(50 - i, 1 + 0.01 * i));
        }
        const QString status = plain(m_run->statusText());
        QVERIFY2(status.contains(QStringLiteral("generation 0/2 running")), qPrintable(status));
        QVERIFY2(status.contains(QStringLiteral("11 of 100 evaluations")), qPrintable(status));
        QVERIFY2(status.contains(QStringLiteral("10 eval/s")), qPrintable(status));
        QVERIFY2(status.contains(QStringLiteral("ETA 9 s")), qPrintable(status));
        QVERIFY2(status.contains(QStringLiteral("best PPL 40")), qPrintable(status));
        // The dock shows the best on a second line.
        QVERIFY(m_run->statusDisplay().contains(QLatin1Char('\n')));
        GenerationReport report;
        report.generation = 0;
        report.bestFitness = 40;
        report.bestLambda = std::vector<double>(8, 1.1);
        report.cacheHits = 3;
        Q_EMIT m_service.generationFinished(report);
        QVERIFY2(plain(m_run->statusText()).contains(QStringLiteral("generation 0/2 done")), qPrintable(m_run->statusText()));
        QVERIFY(plain(m_run->statusText()).contains(QStringLiteral("3 from the cache")));
        // Paused: no ETA.
        m_run->togglePause();
        QVERIFY(!m_run->statusText().contains(QStringLiteral("ETA")));
    }

    // Without validation the best complete candidate; a partial one (1 of 2 samples) does not
    // count; a new run starts with none.
    void theBestIsTheBestCompleteCandidate()
    {
        QSignalSpy best(m_run.get(), &SearchRunController::bestChanged);
        QVERIFY(m_run->start(request()));
        Q_EMIT m_service.searchStarted(plan(10));
        Q_EMIT m_service.candidateEvaluated(candidate(30, 1.2));
        Q_EMIT m_service.candidateEvaluated(candidate(5, 1.3, false));
        Q_EMIT m_service.candidateEvaluated(candidate(40, 1.4));
        QCOMPARE(m_run->best()->ppl, 30.0);
        QCOMPARE(m_run->best()->lambda, std::vector<double>(8, 1.2));
        QCOMPARE(m_run->best()->targetLength, 2048);
        QCOMPARE(best.size(), 1);
        Q_EMIT m_service.searchFinished({});
        QVERIFY(m_run->start(request()));
        Q_EMIT m_service.searchStarted(plan(10));
        QVERIFY(!m_run->best());
        QCOMPARE(best.size(), 2);
    }

    // With validation the generation report names the answer, even with a worse search fitness.
    void withValidationTheReportNamesTheAnswer()
    {
        QVERIFY(m_run->start(request(2)));
        Q_EMIT m_service.searchStarted(plan(10, 2));
        Q_EMIT m_service.candidateEvaluated(candidate(20, 1.2));
        QVERIFY(!m_run->best());
        GenerationReport report;
        report.bestFitness = 25;
        report.bestValidationFitness = 22;
        report.bestLambda = std::vector<double>(8, 1.4);
        Q_EMIT m_service.generationFinished(report);
        QCOMPARE(m_run->best()->ppl, 25.0);
        QCOMPARE(m_run->best()->validationPpl, 22.0);
    }

    // Following: a log replays into the same reports; a local start stops following; following
    // is refused while a local run goes on.
    void followAndStopFollowing()
    {
        QTemporaryDir temp;
        const QString path = temp.filePath(QStringLiteral("run.jsonl"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        const QJsonObject settings{{"method", "longrope2"}, {"rotary_dims", 16}, {"base", 10000.0},
                                   {"train_length", 1024.0}, {"target_length", 2048.0}, {"population", 4},
                                   {"iterations", 3}, {"d_rcd_min", 3}, {"d_rcd_max", 5}, {"seed", "1"}};
        f.write(jsonLine({{"event", "start"}, {"settings", settings}, {"max_evaluations", 0}}));
        f.write(jsonLine({{"event", "eval"}, {"lambda", QJsonArray{1, 1, 1, 1, 1.5, 1.5, 1.5, 1.5}}, {"d_rcd", 4}, {"fitness", 30.0}}));
        f.close();
        QSignalSpy candidates(m_run.get(), &SearchRunController::candidateAdded);
        m_run->follow(path);
        QCOMPARE(m_run->state(), State::Following);
        QCOMPARE(candidates.size(), 1);
        QCOMPARE(m_run->best()->ppl, 30.0);
        QVERIFY(plain(m_run->statusText()).contains(QStringLiteral("following run.jsonl")));
        QVERIFY(plain(m_run->statusText()).contains(QStringLiteral("generation 0/3 running")));

        QVERIFY(m_run->start(request()));
        QCOMPARE(m_run->state(), State::Starting);
        QVERIFY(!m_run->follower()->isFollowing());
        QVERIFY_THROWS_EXCEPTION(Error, m_run->follow(path));

        Q_EMIT m_service.searchFinished({});
        m_run->follow(path);
        QCOMPARE(m_run->state(), State::Following);
        m_run->stop();
        QCOMPARE(m_run->state(), State::Idle);
        QVERIFY(!m_run->follower()->isFollowing());
        QCOMPARE(m_service.stops, 0);  // stopping to follow asks nothing of the service
    }
};

QTEST_GUILESS_MAIN(TestSearchRunController)
#include "test_searchruncontroller.moc"
