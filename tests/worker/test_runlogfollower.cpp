// Following a search's run log: the backlog replays as the same events a live search emits
// (checked against a real search's own calls, per sample for a racing one), appended lines arrive as they are completed, a
// partial line waits for its newline, a malformed appended line is reported and skipped, a
// rewritten file starts over, a file that is not a run log changes nothing, and every run log
// committed in the repository replays.
#include "committedlogs.h"

#include "common/error.h"
#include "worker/searcharithmetic.h"
#include "worker/runlogfollower.h"
#include "search/search.h"

#include <QFile>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <map>

using namespace rs;

namespace {

SearchSettings tinySearch()
{
    SearchSettings s;
    s.rotaryDims = 16;
    s.base = 10000;
    s.trainLength = 1024;
    s.targetLength = 4096;
    s.population = 6;
    s.iterations = 3;
    s.seed = 3;
    return s;
}

// A smooth synthetic fitness with its optimum near λ = 3 everywhere.
double syntheticFitness(const std::vector<double> &lambda)
{
    double sum = 0;
    for (double v : lambda)
        sum += (std::log(v) - std::log(3.0)) * (std::log(v) - std::log(3.0));
    return 1.0 + sum;
}

void append(const QString &path, const QByteArray &bytes)
{
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Append));
    QCOMPARE(f.write(bytes), bytes.size());
}

QByteArray fileBytes(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

} // namespace

class TestRunLogFollower : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_temp.isValid());
        // One real log shared by the tests: what the search evaluated and reported, in order.
        m_logPath = m_temp.filePath(QStringLiteral("run.jsonl"));
        SearchHooks hooks;
        hooks.logPath = m_logPath;
        hooks.onGeneration = [this](const GenerationReport &g) { m_reports.push_back(g); };
        m_result = runSearch(tinySearch(), [this](const std::vector<double> &lambda) {
            m_evaluated.push_back(lambda);
            return syntheticFitness(lambda);
        }, hooks);
    }

    void backlogReplaysTheSearchsEvents()
    {
        RunLogFollower follower;
        QSignalSpy started(&follower, &RunLogFollower::searchStarted);
        QSignalSpy candidates(&follower, &RunLogFollower::candidateEvaluated);
        QSignalSpy generations(&follower, &RunLogFollower::generationFinished);
        QSignalSpy finished(&follower, &RunLogFollower::searchFinished);
        follower.follow(m_logPath);
        QVERIFY(follower.isFollowing());

        QCOMPARE(started.count(), 1);
        const SearchPlan plan = started.at(0).at(0).value<SearchPlan>();
        const SearchSettings resolved = EvolutionSearch(tinySearch()).settings();
        QCOMPARE(plan.settings.population, resolved.population);
        QCOMPARE(plan.settings.mutations, resolved.mutations);
        QCOMPARE(plan.settings.crossovers, resolved.crossovers);
        QCOMPARE(plan.settings.dRcdMin, resolved.dRcdMin);
        QCOMPARE(plan.settings.seed, resolved.seed);
        QCOMPARE(plan.expectedEvaluations, expectedEvaluations(tinySearch()));
        QVERIFY(!plan.resumed);

        QCOMPARE(candidates.count(), int(m_evaluated.size()));
        int generation = 0;
        for (int k = 0; k < candidates.count(); ++k) {
            const CandidateEvaluation c = candidates.at(k).at(0).value<CandidateEvaluation>();
            QCOMPARE(c.lambda, m_evaluated[size_t(k)]);
            QCOMPARE(c.ppl, syntheticFitness(c.lambda));
            QCOMPARE(c.evaluation, k + 1);
            QVERIFY(!c.live);
            QVERIFY(c.dRcd >= resolved.dRcdMin && c.dRcd <= resolved.dRcdMax);
            QVERIFY(c.generation >= generation);
            generation = c.generation;
        }
        // The first generation is the initial population: all of it is evaluated.
        QCOMPARE(candidates.at(resolved.population - 1).at(0).value<CandidateEvaluation>().generation, 0);
        QCOMPARE(candidates.at(resolved.population).at(0).value<CandidateEvaluation>().generation, 1);

        QCOMPARE(generations.count(), int(m_reports.size()));
        for (int g = 0; g < generations.count(); ++g) {
            const GenerationReport r = generations.at(g).at(0).value<GenerationReport>();
            QCOMPARE(r.generation, m_reports[size_t(g)].generation);
            QCOMPARE(r.bestFitness, m_reports[size_t(g)].bestFitness);
            QCOMPARE(r.medianFitness, m_reports[size_t(g)].medianFitness);
            QCOMPARE(r.bestLambda, m_reports[size_t(g)].bestLambda);
            QCOMPARE(r.memberDRcd, m_reports[size_t(g)].memberDRcd);
            QCOMPARE(r.cacheHits, m_reports[size_t(g)].cacheHits);
        }
        QCOMPARE(finished.count(), 1);
        const SearchOutcome outcome = finished.at(0).at(0).value<SearchOutcome>();
        QCOMPARE(outcome.result.bestLambda, m_result.bestLambda);
        QCOMPARE(outcome.result.bestFitness, m_result.bestFitness);
        QCOMPARE(outcome.result.bestDRcd, m_result.bestDRcd);
        QCOMPARE(outcome.result.stopReason, StopReason::Done);
        QCOMPARE(outcome.result.generations, m_result.generations);
    }

    void sampledRacingLogAddsUpPerCandidate()
    {
        // A sampled search (K = 3) with racing and the attention gene: one log line per sample.
        SearchSettings settings = tinySearch();
        settings.racing = true;
        settings.searchAttentionFactor = true;
        const QString path = m_temp.filePath(QStringLiteral("racing.jsonl"));
        SearchHooks hooks;
        hooks.logPath = path;
        std::vector<GenerationReport> reports;
        hooks.onGeneration = [&](const GenerationReport &g) { reports.push_back(g); };
        int evaluations = 0;
        const SampleFitness perSample = [&](const Candidate &c, int sample) {
            ++evaluations;
            return syntheticFitness(c.lambda) * c.attentionFactor + 0.1 * sample;
        };
        const SearchResult result = EvolutionSearch(settings).run(SampledFitness{perSample, 3}, hooks);

        RunLogFollower follower;
        QSignalSpy started(&follower, &RunLogFollower::searchStarted);
        QSignalSpy candidates(&follower, &RunLogFollower::candidateEvaluated);
        QSignalSpy generations(&follower, &RunLogFollower::generationFinished);
        QSignalSpy finished(&follower, &RunLogFollower::searchFinished);
        follower.follow(path);
        const SearchPlan plan = started.at(0).at(0).value<SearchPlan>();
        QCOMPARE(plan.samples, 3);
        QVERIFY(plan.settings.racing);
        QVERIFY(plan.settings.searchAttentionFactor);
        QCOMPARE(candidates.count(), evaluations);
        std::map<int, std::map<int, double>> scores;
        for (const QList<QVariant> &event : candidates) {
            const CandidateEvaluation c = event.at(0).value<CandidateEvaluation>();
            QCOMPARE(c.samplePpl, syntheticFitness(c.lambda) * c.attentionFactor + 0.1 * c.sample);
            scores[c.candidate][c.sample] = c.samplePpl;
            QCOMPARE(c.samplesScored, int(scores[c.candidate].size()));
            QCOMPARE(c.samples, 3);
        }
        QCOMPARE(int(scores.size()), result.candidates);
        QCOMPARE(generations.count(), int(reports.size()));
        QCOMPARE(generations.last().at(0).value<GenerationReport>().bestAttentionFactor, reports.back().bestAttentionFactor);
        const SearchOutcome outcome = finished.at(0).at(0).value<SearchOutcome>();
        QCOMPARE(outcome.result.bestAttentionFactor, result.bestAttentionFactor);
        QCOMPARE(outcome.result.sampleEvaluations, result.sampleEvaluations);
        QCOMPARE(outcome.result.bestFitness, result.bestFitness);
    }

    // A run with validation and baselines: the followed run states what it was computed on (model,
    // L, samples and seeds of both sets), replays the baselines exactly as the search scored them,
    // and its generations and finish carry the search's and the validation's figures.
    void baselinesAndValidationAreReplayed()
    {
        SearchSettings settings = tinySearch();
        settings.fitness = FitnessAggregate::ExpMeanNll;
        const QString path = m_temp.filePath(QStringLiteral("validated.jsonl"));
        SearchHooks hooks;
        hooks.logPath = path;
        const EvolutionSearch engine(settings);
        hooks.baselines = engine.defaultBaselines();
        // What `ropescope-cli search --length 4096 --samples 2 --seed 3` writes (validation 4, seed 5).
        hooks.context = QJsonObject{{"model", "/models/elsewhere"}, {"corpus", ""}, {"samples", 2}, {"depth", 0.0},
                                    {"length", 4096}, {"validation", QJsonObject{{"samples", 4}, {"seed", "5"}}}};
        std::vector<GenerationReport> reports;
        hooks.onGeneration = [&](const GenerationReport &g) { reports.push_back(g); };
        std::vector<BaselineScore> scored;
        hooks.onBaselines = [&](const std::vector<BaselineScore> &b) { scored = b; };
        const SampledFitness search{[](const Candidate &c, int k) { return syntheticFitness(c.lambda) * (1 + 0.1 * k); }, 2};
        const SampledFitness validation{[](const Candidate &c, int k) { return 0.5 + syntheticFitness(c.lambda) * (1 + 0.2 * k); }, 4};
        const SearchResult result = EvolutionSearch(settings).run(search, validation, hooks);
        QCOMPARE(int(scored.size()), 5);

        RunLogFollower follower;
        QSignalSpy started(&follower, &RunLogFollower::searchStarted);
        QSignalSpy baselines(&follower, &RunLogFollower::baselinesScored);
        QSignalSpy candidates(&follower, &RunLogFollower::candidateEvaluated);
        QSignalSpy generations(&follower, &RunLogFollower::generationFinished);
        QSignalSpy finished(&follower, &RunLogFollower::searchFinished);
        follower.follow(path);

        const SearchPlan plan = started.at(0).at(0).value<SearchPlan>();
        QCOMPARE(plan.model, QStringLiteral("/models/elsewhere"));
        QCOMPARE(plan.targetLength, 4096);
        QCOMPARE(plan.searchSamples.length, 4096);
        QCOMPARE(plan.searchSamples.samples, 2);
        QCOMPARE(plan.searchSamples.seed, uint64_t(3));
        QCOMPARE(plan.validationSamples.samples, 4);
        QCOMPARE(plan.validationSamples.seed, uint64_t(5));
        QCOMPARE(plan.validationSamples.length, 4096);
        QCOMPARE(plan.settings.fitness, FitnessAggregate::ExpMeanNll);
        QVERIFY(plan.settings.seedFamilies);
        QVERIFY(plan.settings.chooseByValidation);

        // The baselines before any candidate, with the search's per-sample scores.
        QCOMPARE(baselines.count(), 1);
        const SearchBaselines b = baselines.at(0).at(0).value<SearchBaselines>();
        QCOMPARE(b.fitness, FitnessAggregate::ExpMeanNll);
        QCOMPARE(int(b.scores.size()), 5);
        for (size_t j = 0; j < scored.size(); ++j) {
            QCOMPARE(b.scores[j].name, scored[j].name);
            QCOMPARE(b.scores[j].candidate.lambda, scored[j].candidate.lambda);
            QCOMPARE(b.scores[j].candidate.attentionFactor, scored[j].candidate.attentionFactor);
            QCOMPARE(b.scores[j].searchScores, scored[j].searchScores);
            QCOMPARE(b.scores[j].validationScores, scored[j].validationScores);
            QCOMPARE(b.scores[j].searchFitness, scored[j].searchFitness);
            QCOMPARE(b.scores[j].validationFitness, scored[j].validationFitness);
            // exp(mean ln) of the synthetic per-sample scores, computed here.
            const double f = syntheticFitness(scored[j].candidate.lambda);
            QVERIFY(std::abs(b.scores[j].searchFitness - std::sqrt(f * f * 1.1)) <= 1e-12 * f);
        }
        // Baseline and validation evaluations are not candidates; each candidate's point is its
        // aggregate so far (the geometric mean over its samples).
        QCOMPARE(candidates.count(), result.evaluations);
        for (const QList<QVariant> &event : candidates) {
            const CandidateEvaluation c = event.at(0).value<CandidateEvaluation>();
            const double f = syntheticFitness(c.lambda);
            const double expected = c.samplesScored == 2 ? std::sqrt(f * f * 1.1) : f;
            QVERIFY(std::abs(c.ppl - expected) <= 1e-12 * expected);
        }
        QCOMPARE(generations.count(), int(reports.size()));
        for (int g = 0; g < generations.count(); ++g) {
            const GenerationReport r = generations.at(g).at(0).value<GenerationReport>();
            QCOMPARE(r.bestFitness, reports[size_t(g)].bestFitness);
            QCOMPARE(r.bestValidationFitness, reports[size_t(g)].bestValidationFitness);
            QCOMPARE(r.searchBestFitness, reports[size_t(g)].searchBestFitness);
            QCOMPARE(r.searchBestValidationFitness, reports[size_t(g)].searchBestValidationFitness);
            QCOMPARE(r.validationEvaluations, reports[size_t(g)].validationEvaluations);
            QCOMPARE(r.bestLambda, reports[size_t(g)].bestLambda);
        }
        const SearchOutcome outcome = finished.at(0).at(0).value<SearchOutcome>();
        QCOMPARE(outcome.result.bestLambda, result.bestLambda);
        QCOMPARE(outcome.result.bestFitness, result.bestFitness);
        QCOMPARE(outcome.result.bestValidationFitness, result.bestValidationFitness);
        QCOMPARE(outcome.result.searchBestLambda, result.searchBestLambda);
        QCOMPARE(outcome.result.searchBestFitness, result.searchBestFitness);
        QCOMPARE(outcome.result.chosenByValidation, result.chosenByValidation);
        QCOMPARE(outcome.result.validationEvaluations, result.validationEvaluations);
        QCOMPARE(outcome.result.baselineEvaluations, 5 * (2 + 4));

        // A log written before validation existed: no baselines, NaN validation figures, and the
        // search's best is the answer.
        RunLogFollower old;
        QSignalSpy oldBaselines(&old, &RunLogFollower::baselinesScored);
        QSignalSpy oldStarted(&old, &RunLogFollower::searchStarted);
        QSignalSpy oldGenerations(&old, &RunLogFollower::generationFinished);
        old.follow(m_logPath);
        QCOMPARE(oldBaselines.count(), 0);
        QCOMPARE(oldStarted.at(0).at(0).value<SearchPlan>().validationSamples.samples, 0);
        const GenerationReport last = oldGenerations.last().at(0).value<GenerationReport>();
        QVERIFY(std::isnan(last.bestValidationFitness));
        QCOMPARE(last.searchBestFitness, last.bestFitness);
    }

    void appendedLinesArriveWhenComplete()
    {
        const QList<QByteArray> lines = fileBytes(m_logPath).split('\n');
        const QString path = m_temp.filePath(QStringLiteral("growing.jsonl"));
        // The start line and two evaluations so far.
        append(path, lines[0] + '\n' + lines[1] + '\n' + lines[2] + '\n');
        RunLogFollower follower;
        follower.setPollInterval(20);
        QSignalSpy candidates(&follower, &RunLogFollower::candidateEvaluated);
        QSignalSpy generations(&follower, &RunLogFollower::generationFinished);
        follower.follow(path);
        QCOMPARE(candidates.count(), 2);

        append(path, lines[3] + '\n' + lines[4].left(10));
        QTRY_COMPARE(candidates.count(), 3);
        QTest::qWait(100);
        QCOMPARE(candidates.count(), 3);  // the half-written line waits
        append(path, lines[4].mid(10) + '\n');
        QTRY_COMPARE(candidates.count(), 4);
        QVERIFY(candidates.last().at(0).value<CandidateEvaluation>().live);

        // A malformed line is reported with its number and skipped; later lines still count.
        QSignalSpy failed(&follower, &RunLogFollower::failed);
        append(path, QByteArray("{not json\n") + lines[5] + '\n');
        QTRY_COMPARE(candidates.count(), 5);
        QCOMPARE(failed.count(), 1);
        QVERIFY2(failed.at(0).at(0).toString().contains(QStringLiteral("line 6")), qPrintable(failed.at(0).at(0).toString()));

        // The rest of the run, generations included.
        QByteArray rest;
        for (int k = 6; k < lines.size(); ++k)
            rest += lines[k].isEmpty() ? QByteArray() : lines[k] + '\n';
        append(path, rest);
        QTRY_COMPARE(candidates.count(), int(m_evaluated.size()));
        QCOMPARE(generations.count(), int(m_reports.size()));

        // A rewritten (shorter) file is replayed from its start.
        QSignalSpy restarted(&follower, &RunLogFollower::restarted);
        QSignalSpy started(&follower, &RunLogFollower::searchStarted);
        QFile rewrite(path);
        QVERIFY(rewrite.open(QIODevice::WriteOnly | QIODevice::Truncate));
        rewrite.write(lines[0] + '\n' + lines[1] + '\n');
        rewrite.close();
        QTRY_COMPARE(restarted.count(), 1);
        QTRY_COMPARE(started.count(), 1);
        QCOMPARE(candidates.last().at(0).value<CandidateEvaluation>().evaluation, 1);

        follower.stopFollowing();
        QVERIFY(!follower.isFollowing());
        const int before = candidates.count();
        append(path, lines[2] + '\n');
        QTest::qWait(100);
        QCOMPARE(candidates.count(), before);
    }

    void notARunLogChangesNothing_data()
    {
        QTest::addColumn<QByteArray>("content");
        QTest::addColumn<QString>("expected");
        QTest::newRow("text") << QByteArray("hello world\n") << QStringLiteral("line 1");
        QTest::newRow("json without event") << QByteArray("{\"a\": 1}\n") << QStringLiteral("event");
        QTest::newRow("eval before start") << QByteArray("{\"event\":\"eval\",\"lambda\":[1],\"fitness\":2}\n")
                                           << QStringLiteral("start");
        QTest::newRow("malformed later line")
            << QByteArray("{\"event\":\"start\",\"settings\":{}}\n{\"event\":\"eval\"\n") << QStringLiteral("line 2");
    }

    void notARunLogChangesNothing()
    {
        QFETCH(QByteArray, content);
        QFETCH(QString, expected);
        const QString bad = m_temp.filePath(QStringLiteral("bad-%1.jsonl").arg(QTest::currentDataTag()).replace(' ', '-'));
        append(bad, content);
        RunLogFollower follower;
        follower.follow(m_logPath);
        QSignalSpy anything(&follower, &RunLogFollower::searchStarted);
        QSignalSpy candidates(&follower, &RunLogFollower::candidateEvaluated);
        try {
            follower.follow(bad);
            QFAIL("a file that is not a run log was followed");
        } catch (const Error &e) {
            QVERIFY2(e.message().contains(bad) && e.message().contains(expected), qPrintable(e.message()));
        }
        QCOMPARE(anything.count(), 0);
        QCOMPARE(candidates.count(), 0);
        QCOMPARE(follower.path(), m_logPath);  // still following the good one

        QVERIFY_THROWS_EXCEPTION(Error, follower.follow(m_temp.filePath(QStringLiteral("missing.jsonl"))));
        QCOMPARE(follower.path(), m_logPath);
    }

    // Every run log committed in the repository (the recipes' results, wherever they are kept)
    // replays whole: one start, its evaluations and generations, one finish, nothing refused.
    void committedLogsReplay()
    {
        const QStringList logs = testing::committedRunLogs();
        QVERIFY2(!logs.isEmpty(), "no run log found below " ROPESCOPE_SOURCE_DIR);
        for (const QString &path : logs) {
            RunLogFollower follower;
            QSignalSpy started(&follower, &RunLogFollower::searchStarted);
            QSignalSpy candidates(&follower, &RunLogFollower::candidateEvaluated);
            QSignalSpy generations(&follower, &RunLogFollower::generationFinished);
            QSignalSpy finished(&follower, &RunLogFollower::searchFinished);
            QSignalSpy failed(&follower, &RunLogFollower::failed);
            try {
                follower.follow(path);
            } catch (const Error &e) {
                QFAIL(qPrintable(e.message()));
            }
            QVERIFY2(started.count() >= 1 && finished.count() >= 1, qPrintable(path));
            QVERIFY2(candidates.count() > 0 && generations.count() > 0, qPrintable(path));
            QCOMPARE(failed.count(), 0);
            const SearchOutcome outcome = finished.last().at(0).value<SearchOutcome>();
            QVERIFY2(!outcome.result.bestLambda.empty(), qPrintable(path));
        }
    }

    void emptyLogIsFollowedUntilItStarts()
    {
        const QString path = m_temp.filePath(QStringLiteral("empty.jsonl"));
        append(path, QByteArray());
        RunLogFollower follower;
        follower.setPollInterval(20);
        QSignalSpy started(&follower, &RunLogFollower::searchStarted);
        follower.follow(path);
        QCOMPARE(started.count(), 0);
        append(path, fileBytes(m_logPath).split('\n').first() + '\n');
        QTRY_COMPARE(started.count(), 1);
    }

private:
    QTemporaryDir m_temp;
    QString m_logPath;
    std::vector<std::vector<double>> m_evaluated;
    std::vector<GenerationReport> m_reports;
    SearchResult m_result;
};

QTEST_GUILESS_MAIN(TestRunLogFollower)
#include "test_runlogfollower.moc"
