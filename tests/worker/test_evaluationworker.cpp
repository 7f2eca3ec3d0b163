// The background evaluation thread: a score equals the evaluator's own computation, references are
// the families on the same samples, stale scores are dropped, a search's events arrive in order and
// agree with its run log, stop takes effect within one evaluation, pause holds between evaluations
// (while still serving scores), racing with the attention gene reports per-sample evaluations that
// add up to the candidates' fitness, the CLI resumes the worker's log, a failed load leaves the
// worker usable, the CLI and the worker write the same log for the same settings, and destroying
// the thread mid-search joins cleanly.
#include "runlogentries.h"

#include "common/error.h"
#include "worker/searcharithmetic.h"
#include "worker/evaluationworker.h"
#include "eval/evaluator.h"
#include "rope/factorfamilies.h"
#include "runtime/model.h"
#include "runtime/tokenizer.h"

#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QMetaMethod>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QFileInfo>
#include <QTest>

#include <atomic>
#include <cmath>
#include <map>
#include <numeric>

using namespace rs;

namespace {

const QString kModel = QStringLiteral(ROPESCOPE_FIXTURES "/models/llama-plain");
const QString kTokenizer = QStringLiteral(ROPESCOPE_FIXTURES "/tokenizers/bytes-256-tokenizer.json");
constexpr int kWaitMs = 120000;
// The tiny model: d = 16, base 1e4, L_train = 1024, so d_10 = 3 and d_tcd = 5. 1280 tokens make
// s = 1.25 while keeping every evaluation a few milliseconds on a CPU.
constexpr int kSearchLength = 1280;

NeedleEvalSettings needleSamples(int length, int count, uint64_t seed)
{
    NeedleEvalSettings s;
    s.length = length;
    s.samples = count;
    s.seed = seed;
    return s;
}

SearchSettings tinySearch(int population, int iterations, uint64_t seed)
{
    SearchSettings s;
    s.rotaryDims = 16;
    s.base = 10000;
    s.trainLength = 1024;
    s.targetLength = kSearchLength;
    s.population = population;
    s.iterations = iterations;
    s.seed = seed;
    return s;
}

bool nearlyEqual(double a, double b) { return std::abs(a - b) <= 1e-9 * std::max(std::abs(a), std::abs(b)); }

std::vector<QJsonObject> logEvents(const QString &path, const QString &event)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        qFatal("cannot open %s", qPrintable(path));
    std::vector<QJsonObject> out;
    for (const QByteArray &line : f.readAll().split('\n')) {
        if (line.trimmed().isEmpty())
            continue;
        QJsonParseError error;
        const QJsonObject o = QJsonDocument::fromJson(line, &error).object();
        if (error.error != QJsonParseError::NoError)
            qFatal("malformed log line %s", line.constData());
        if (o.value(QStringLiteral("event")).toString() == event)
            out.push_back(o);
    }
    return out;
}

// QSignalSpy records through a direct connection, which for the worker's signals would run on the
// worker's thread, racing with this one (a signal could even be recorded before wait() starts).
// The tests spy on the EvaluationThread instead: the service the GUI uses, which lives on this
// thread and relays the worker's signals queued, in order: both are EvaluationSignals
// (worker/evaluationservice.h), the one signal list, which this relay type is. A test that needs
// the exact moment a signal is emitted connects to the worker itself.
using WorkerRelay = EvaluationSignals;

} // namespace

class TestEvaluationWorker : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_temp.isValid());
        m_thread = std::make_unique<EvaluationThread>();
        m_relay = m_thread.get();
        QSignalSpy loaded(m_relay, &WorkerRelay::modelLoaded);
        QSignalSpy progress(m_relay, &WorkerRelay::loadProgress);
        m_thread->loadModel(kModel, kTokenizer);
        QVERIFY(loaded.wait(kWaitMs));
        const ModelInfo info = loaded.at(0).at(0).value<ModelInfo>();
        QCOMPARE(info.ropeConfig.pairs(), 8);
        QCOMPARE(info.architecture, QStringLiteral("llama"));
        // A model loads on the search job's default device, the CLI's: the CPU, also where CUDA is.
        QCOMPARE(info.device, QStringLiteral("cpu"));
        QVERIFY(progress.count() >= 2);
    }

    void cleanupTestCase()
    {
        m_relay = nullptr;
        m_thread.reset();
    }

    void scoreEqualsTheEvaluatorComputedDirectly()
    {
        const std::vector<double> lambda = ntkFactors(16, 2.0).lambda;
        const NeedleEvalSettings samples = needleSamples(400, 2, 5);
        QSignalSpy scores(m_relay, &WorkerRelay::scoreReady);
        QSignalSpy throughputs(m_relay, &WorkerRelay::throughputMeasured);
        m_thread->score(7, lambda, 1.1, samples);
        QVERIFY(scores.wait(kWaitMs));
        const ScoreResult r = scores.at(0).at(0).value<ScoreResult>();
        // Each sample also told the prices what it cost: the FLOPs of the samples so far over
        // their seconds, on the model's device.
        QCOMPARE(throughputs.count(), 2);
        const MeasuredThroughput t = throughputs.at(1).at(0).value<MeasuredThroughput>();
        QCOMPARE(t.device, QStringLiteral("cpu"));
        QVERIFY(t.flopsPerSecond > 0 && std::isfinite(t.flopsPerSecond));
        QVERIFY2(t.source.contains(QLatin1String("measured")) && t.source.contains(QLatin1String("400 tokens")), qPrintable(t.source));
        QCOMPARE(r.requestId, quint64(7));
        QCOMPARE(int(r.perSamplePpl.size()), 2);
        // The score names the sample set and the model it was computed on.
        QCOMPARE(r.samples.length, 400);
        QCOMPARE(r.samples.samples, 2);
        QCOMPARE(r.samples.seed, uint64_t(5));
        QCOMPARE(r.model, QFileInfo(kModel).absoluteFilePath());

        // Independently: another model instance, the tokenizer file, the evaluator on this thread.
        const std::unique_ptr<CausalLM> model = CausalLM::load(kModel, {SearchJobSettings::defaultDevice(), {}});
        const std::unique_ptr<Tokenizer> tokenizer = loadTokenizer(kTokenizer);
        const NeedleEvaluator evaluator(*model, *tokenizer, tokenizer->bosId(), samples);
        const RopeOverride rope{lambda, 1.1};
        const NeedleEvalResult expected = evaluator.evaluate(&rope);
        QVERIFY2(nearlyEqual(r.ppl, expected.meanPpl), qPrintable(QStringLiteral("%1 vs %2").arg(r.ppl).arg(expected.meanPpl)));
        for (int i = 0; i < 2; ++i)
            QVERIFY(nearlyEqual(r.perSamplePpl[size_t(i)], expected.perSamplePpl[size_t(i)]));
    }

    void referencesAreTheFamiliesOnTheSameSamples()
    {
        const NeedleEvalSettings samples = needleSamples(kSearchLength, 1, 9);
        QSignalSpy references(m_relay, &WorkerRelay::referencesReady);
        m_thread->scoreReferences(11, samples);
        QVERIFY(references.wait(kWaitMs));
        const ReferenceScores r = references.at(0).at(0).value<ReferenceScores>();
        QCOMPARE(r.requestId, quint64(11));
        QCOMPARE(r.samples.length, samples.length);
        QCOMPARE(r.samples.samples, samples.samples);
        QCOMPARE(r.samples.seed, samples.seed);
        QCOMPARE(r.samples.depth, samples.depth);
        QCOMPARE(r.samples.corpus, samples.corpus);
        QCOMPARE(r.model, QFileInfo(kModel).absoluteFilePath());
        QStringList names;
        for (const ReferenceScore &s : r.scores) {
            names << s.name;
            QVERIFY(std::isfinite(s.ppl) && s.ppl > 0);
            // Per-sample values for paired comparisons; their mean is the reference's PPL.
            QCOMPARE(int(s.perSamplePpl.size()), samples.samples);
            QVERIFY(nearlyEqual(std::accumulate(s.perSamplePpl.begin(), s.perSamplePpl.end(), 0.0) / samples.samples, s.ppl));
        }
        QCOMPARE(names, (QStringList{"original", "pi", "ntk", "yarn"}));
        QCOMPARE(r.scores[0].lambda, std::vector<double>(8, 1.0));

        // Each reference is exactly what scoring its factors gives.
        const double scale = double(kSearchLength) / 1024.0;
        const FactorSet pi = piFactors(16, scale);
        QCOMPARE(r.scores[1].lambda, pi.lambda);
        QSignalSpy scores(m_relay, &WorkerRelay::scoreReady);
        m_thread->score(12, pi.lambda, pi.attentionFactor, samples);
        QVERIFY(scores.wait(kWaitMs));
        QVERIFY(nearlyEqual(scores.at(0).at(0).value<ScoreResult>().ppl, r.scores[1].ppl));
        QVERIFY(r.scores[0].ppl != r.scores[1].ppl);
    }

    // Scores grow sample by sample; a quick score is the first sample of the full one, which then
    // repeats no forward; the references arrive sample by sample (every family on a sample first)
    // and a hand-tuned score requested meanwhile overtakes them.
    void scoresArriveSampleBySample()
    {
        const std::vector<double> lambda = ntkFactors(16, 1.6).lambda;
        const NeedleEvalSettings samples = needleSamples(400, 3, 21);
        const std::unique_ptr<CausalLM> model = CausalLM::load(kModel, {SearchJobSettings::defaultDevice(), {}});
        const std::unique_ptr<Tokenizer> tokenizer = loadTokenizer(kTokenizer);
        const NeedleEvaluator evaluator(*model, *tokenizer, tokenizer->bosId(), samples);
        const RopeOverride rope{lambda, 1.05};
        const NeedleEvalResult expected = evaluator.evaluate(&rope);

        QSignalSpy progress(m_relay, &WorkerRelay::scoreProgress);
        QSignalSpy scores(m_relay, &WorkerRelay::scoreReady);
        m_thread->score(201, lambda, 1.05, samples, 1);
        QVERIFY(scores.wait(kWaitMs));
        const ScoreResult quick = scores.at(0).at(0).value<ScoreResult>();
        QCOMPARE(progress.count(), 0);
        QCOMPARE(quick.samplesWanted, 1);
        QCOMPARE(quick.samplesScored(), 1);
        QCOMPARE(quick.attentionFactor, 1.05);
        QCOMPARE(quick.samples.samples, 3);
        QVERIFY(nearlyEqual(quick.ppl, expected.perSamplePpl[0]));

        QElapsedTimer clock;
        clock.start();
        m_thread->score(202, lambda, 1.05, samples);
        QVERIFY(scores.wait(kWaitMs));
        const ScoreResult full = scores.at(1).at(0).value<ScoreResult>();
        QCOMPARE(full.requestId, quint64(202));
        QCOMPARE(full.samplesWanted, 3);
        QCOMPARE(progress.count(), 2);
        for (int i = 0; i < 2; ++i) {
            const ScoreResult partial = progress.at(i).at(0).value<ScoreResult>();
            QCOMPARE(partial.requestId, quint64(202));
            QCOMPARE(partial.samplesScored(), i + 1);
            QVERIFY(!partial.isComplete());
            QVERIFY(nearlyEqual(partial.ppl, std::accumulate(expected.perSamplePpl.begin(), expected.perSamplePpl.begin() + i + 1, 0.0) / (i + 1)));
        }
        for (int i = 0; i < 3; ++i)
            QVERIFY(nearlyEqual(full.perSamplePpl[size_t(i)], expected.perSamplePpl[size_t(i)]));
        QVERIFY(nearlyEqual(full.ppl, expected.meanPpl));

        // References on fresh samples, and a score asked for just after them: the score comes first.
        const NeedleEvalSettings fresh = needleSamples(400, 2, 40);
        QStringList order;
        QObject receiver;
        connect(m_relay, &WorkerRelay::scoreReady, &receiver, [&](const ScoreResult &r) { order << QStringLiteral("score %1").arg(r.requestId); });
        connect(m_relay, &WorkerRelay::referencesProgress, &receiver, [&](const ReferenceScores &r) {
            order << QStringLiteral("references %1/%2").arg(r.samplesScored).arg(r.samples.samples);
            for (const ReferenceScore &s : r.scores)
                QCOMPARE(int(s.perSamplePpl.size()), r.samplesScored);
        });
        connect(m_relay, &WorkerRelay::referencesReady, &receiver, [&](const ReferenceScores &r) { order << QStringLiteral("references done %1").arg(r.samplesScored); });
        m_thread->scoreReferences(203, fresh);
        m_thread->score(204, lambda, 1.0, fresh, 1);
        QTRY_VERIFY_WITH_TIMEOUT(order.contains(QStringLiteral("references done 2")), kWaitMs);
        QCOMPARE(order, (QStringList{"score 204", "references 1/2", "references done 2"}));
    }

    void staleScoresAreDropped()
    {
        QSignalSpy scores(m_relay, &WorkerRelay::scoreReady);
        const NeedleEvalSettings samples = needleSamples(kSearchLength, 2, 1);
        for (int k = 1; k <= 20; ++k)
            m_thread->score(100 + k, std::vector<double>(8, 1.0 + 0.05 * k), 1.0, samples);
        QTRY_VERIFY_WITH_TIMEOUT(!scores.isEmpty() && scores.last().at(0).value<ScoreResult>().requestId == 120, kWaitMs);
        QTest::qWait(200);
        // At most the request the worker had already picked up, then the newest one.
        QVERIFY2(scores.count() <= 2, qPrintable(QString::number(scores.count())));
        QCOMPARE(scores.last().at(0).value<ScoreResult>().requestId, quint64(120));
    }

    void searchEventsArriveInOrderAndMatchTheLog()
    {
        const QString logPath = m_temp.filePath(QStringLiteral("ordered.jsonl"));
        QSignalSpy started(m_relay, &WorkerRelay::searchStarted);
        QSignalSpy finished(m_relay, &WorkerRelay::searchFinished);
        QSignalSpy generations(m_relay, &WorkerRelay::generationFinished);
        // One receiver for both kinds, so their relative order is recorded.
        std::vector<CandidateEvaluation> candidates;
        QStringList sequence;
        QObject receiver;
        connect(m_thread->worker(), &EvaluationWorker::candidateEvaluated, &receiver, [&](const CandidateEvaluation &c) {
            candidates.push_back(c);
            sequence << QStringLiteral("c%1").arg(c.generation);
        });
        connect(m_thread->worker(), &EvaluationWorker::generationFinished, &receiver, [&](const GenerationReport &g) {
            sequence << QStringLiteral("G%1").arg(g.generation);
        });

        m_thread->startSearch(tinySearch(6, 2, 4), needleSamples(kSearchLength, 1, 2), logPath);
        QVERIFY(finished.wait(kWaitMs));
        QCOMPARE(started.count(), 1);
        const SearchPlan plan = started.at(0).at(0).value<SearchPlan>();
        const SearchOutcome outcome = finished.at(0).at(0).value<SearchOutcome>();
        QCOMPARE(outcome.result.stopReason, StopReason::Done);
        QCOMPARE(outcome.logPath, logPath);
        // Children that repeat an earlier candidate come from the cache; everything else is real.
        QVERIFY(plan.expectedEvaluations >= outcome.result.evaluations);
        QVERIFY(plan.expectedEvaluations - outcome.result.evaluations <= outcome.result.cacheHits);
        QCOMPARE(plan.samples, 1);
        QCOMPARE(plan.settings.dRcdMin, 3);
        QCOMPARE(plan.settings.dRcdMax, 5);

        QCOMPARE(generations.count(), 3);
        double bestSoFar = std::numeric_limits<double>::infinity();
        int seenGenerations = 0;
        size_t next = 0;
        for (const QString &event : sequence) {
            if (event.startsWith(QLatin1Char('G'))) {
                QCOMPARE(event, QStringLiteral("G%1").arg(seenGenerations));
                const GenerationReport g = generations.at(seenGenerations).at(0).value<GenerationReport>();
                QCOMPARE(g.bestFitness, bestSoFar);
                ++seenGenerations;
            } else {
                QCOMPARE(event, QStringLiteral("c%1").arg(seenGenerations));
                bestSoFar = std::min(bestSoFar, candidates[next++].ppl);
            }
        }
        QCOMPARE(int(candidates.size()), outcome.result.evaluations);
        QCOMPARE(outcome.result.bestFitness, bestSoFar);

        // Every candidate is the log's evaluation: same λ, same value, and the d_rcd recovered from
        // λ is the gene the search logged.
        const std::vector<QJsonObject> evals = logEvents(logPath, QStringLiteral("eval"));
        QCOMPARE(evals.size(), candidates.size());
        for (size_t k = 0; k < evals.size(); ++k) {
            const CandidateEvaluation &c = candidates[k];
            QCOMPARE(c.evaluation, int(k) + 1);
            QCOMPARE(c.dRcd, evals[k].value(QStringLiteral("d_rcd")).toInt());
            QCOMPARE(c.ppl, evals[k].value(QStringLiteral("fitness")).toDouble());
            const QJsonArray lambda = evals[k].value(QStringLiteral("lambda")).toArray();
            QCOMPARE(int(c.lambda.size()), lambda.size());
            for (int i = 0; i < lambda.size(); ++i)
                QCOMPARE(c.lambda[size_t(i)], lambda[i].toDouble());
        }
        // The context matches the CLI's, so `ropescope-cli search --resume` continues this log.
        const QJsonObject context =
            logEvents(logPath, QStringLiteral("start")).front().value(QStringLiteral("settings")).toObject().value(QStringLiteral("context")).toObject();
        QCOMPARE(context.value(QStringLiteral("length")).toInt(), kSearchLength);
        QCOMPARE(context.value(QStringLiteral("samples")).toInt(), 1);
        QCOMPARE(logEvents(logPath, QStringLiteral("finish")).size(), size_t(1));
    }

    void racingOverSamplesWithTheAttentionGene()
    {
        const QString logPath = m_temp.filePath(QStringLiteral("racing.jsonl"));
        QSignalSpy started(m_relay, &WorkerRelay::searchStarted);
        QSignalSpy candidates(m_relay, &WorkerRelay::candidateEvaluated);
        QSignalSpy finished(m_relay, &WorkerRelay::searchFinished);
        SearchSettings settings = tinySearch(6, 1, 8);
        settings.racing = true;
        settings.searchAttentionFactor = true;
        m_thread->startSearch(settings, needleSamples(kSearchLength, 3, 2), logPath);
        QVERIFY(finished.wait(kWaitMs));
        const SearchPlan plan = started.at(0).at(0).value<SearchPlan>();
        QCOMPARE(plan.samples, 3);
        QCOMPARE(plan.expectedEvaluations, 3 * (6 + 3));
        const SearchOutcome outcome = finished.at(0).at(0).value<SearchOutcome>();
        QCOMPARE(candidates.count(), outcome.result.evaluations);
        QVERIFY2(outcome.result.savedEvaluations() > 0, "racing scored every candidate on every sample");

        // Each evaluation is one logged sample; the events add up the candidates' mean PPL.
        const std::vector<QJsonObject> evals = logEvents(logPath, QStringLiteral("eval"));
        QCOMPARE(int(evals.size()), candidates.count());
        std::map<int, std::map<int, double>> scores;
        std::map<int, CandidateEvaluation> first;
        double bestComplete = std::numeric_limits<double>::infinity();
        for (int k = 0; k < candidates.count(); ++k) {
            const CandidateEvaluation c = candidates.at(k).at(0).value<CandidateEvaluation>();
            QCOMPARE(c.sample, evals[size_t(k)].value(QStringLiteral("sample")).toInt());
            QCOMPARE(c.samplePpl, evals[size_t(k)].value(QStringLiteral("fitness")).toDouble());
            QCOMPARE(c.attentionFactor, evals[size_t(k)].value(QStringLiteral("attention_factor")).toDouble());
            QVERIFY(c.attentionFactor >= 1.0 && c.attentionFactor <= 1.5);
            QCOMPARE(c.samples, 3);
            if (!first.count(c.candidate)) {
                QVERIFY(c.indexInGeneration >= 0);
                first[c.candidate] = c;
            } else {
                QCOMPARE(c.indexInGeneration, -1);
                QCOMPARE(c.lambda, first[c.candidate].lambda);
                QCOMPARE(c.attentionFactor, first[c.candidate].attentionFactor);
            }
            scores[c.candidate][c.sample] = c.samplePpl;
            QCOMPARE(c.samplesScored, int(scores[c.candidate].size()));
            double sum = 0;
            for (const auto &[sample, ppl] : scores[c.candidate])
                sum += ppl;
            QVERIFY(nearlyEqual(c.ppl, sum / c.samplesScored));
            if (c.isComplete())
                bestComplete = std::min(bestComplete, c.ppl);
        }
        QVERIFY(nearlyEqual(outcome.result.bestFitness, bestComplete));
        QVERIFY(outcome.result.bestAttentionFactor >= 1.0 && outcome.result.bestAttentionFactor <= 1.5);
    }

    // A search with validation samples: the run's baselines (the families on both sample sets)
    // arrive before its first candidate and equal the evaluator's own figures, the plan names both
    // sample sets, and the answer's validation PPL is the evaluator's mean on the validation samples.
    void searchScoresItsBaselinesAndValidates()
    {
        const QString logPath = m_temp.filePath(QStringLiteral("validated.jsonl"));
        QSignalSpy started(m_relay, &WorkerRelay::searchStarted);
        QSignalSpy finished(m_relay, &WorkerRelay::searchFinished);
        QStringList sequence;
        std::vector<SearchBaselines> baselines;
        QObject receiver;
        connect(m_thread->worker(), &EvaluationWorker::baselinesScored, &receiver, [&](const SearchBaselines &b) {
            baselines.push_back(b);
            sequence << QStringLiteral("B");
        });
        connect(m_thread->worker(), &EvaluationWorker::candidateEvaluated, &receiver,
                [&](const CandidateEvaluation &) { sequence << QStringLiteral("c"); });
        const NeedleEvalSettings samples = needleSamples(kSearchLength, 1, 2);
        const NeedleEvalSettings validation = needleSamples(kSearchLength, 2, 3);
        m_thread->startSearch(tinySearch(6, 1, 2), samples, logPath, false, validation);
        QVERIFY(finished.wait(kWaitMs));
        const SearchPlan plan = started.at(0).at(0).value<SearchPlan>();
        QCOMPARE(plan.searchSamples.samples, 1);
        QCOMPARE(plan.validationSamples.samples, 2);
        QCOMPARE(plan.validationSamples.seed, uint64_t(3));
        QCOMPARE(plan.model, QFileInfo(kModel).absoluteFilePath());
        QCOMPARE(baselines.size(), size_t(1));
        QCOMPARE(sequence.first(), QStringLiteral("B"));
        QCOMPARE(sequence.count(QStringLiteral("B")), 1);

        const std::unique_ptr<CausalLM> model = CausalLM::load(kModel, {SearchJobSettings::defaultDevice(), {}});
        const std::unique_ptr<Tokenizer> tokenizer = loadTokenizer(kTokenizer);
        const NeedleEvaluator onSearch(*model, *tokenizer, tokenizer->bosId(), samples);
        const NeedleEvaluator onValidation(*model, *tokenizer, tokenizer->bosId(), validation);
        QStringList names;
        const double scale = double(kSearchLength) / 1024.0;
        for (const BaselineScore &b : baselines.front().scores) {
            names << b.name;
            const RopeOverride rope{b.candidate.lambda, b.candidate.attentionFactor};
            QVERIFY(nearlyEqual(b.searchFitness, onSearch.evaluate(&rope).meanPpl));
            QVERIFY(nearlyEqual(b.validationFitness, onValidation.evaluate(&rope).meanPpl));
            QCOMPARE(int(b.validationScores.size()), 2);
        }
        QCOMPARE(names, (QStringList{"original", "pi", "ntk", "yarn", "llama3"}));
        QCOMPARE(baselines.front().scores[3].candidate.lambda, yarnFactors(16, 10000, 1024, scale).lambda);
        QCOMPARE(baselines.front().scores[3].candidate.attentionFactor, yarnFactors(16, 10000, 1024, scale).attentionFactor);

        const SearchOutcome outcome = finished.at(0).at(0).value<SearchOutcome>();
        QVERIFY(outcome.result.chosenByValidation);
        const RopeOverride best{outcome.result.bestLambda, outcome.result.bestAttentionFactor};
        QVERIFY(nearlyEqual(outcome.result.bestValidationFitness, onValidation.evaluate(&best).meanPpl));
        QVERIFY(nearlyEqual(outcome.result.bestFitness, onSearch.evaluate(&best).meanPpl));
        QVERIFY(outcome.result.bestValidationFitness <= outcome.result.searchBestValidationFitness);
        // The context records the validation set, so the CLI can resume this log.
        const QJsonObject context =
            logEvents(logPath, QStringLiteral("start")).front().value(QStringLiteral("settings")).toObject().value(QStringLiteral("context")).toObject();
        QCOMPARE(context.value(QStringLiteral("validation")).toObject().value(QStringLiteral("samples")).toInt(), 2);

        // Validation samples that overlap the search's are refused before anything is scored.
        QSignalSpy failed(m_relay, &WorkerRelay::failed);
        m_thread->startSearch(tinySearch(6, 1, 2), samples, {}, false, needleSamples(kSearchLength, 2, 1));
        QVERIFY(failed.wait(kWaitMs));
        QVERIFY2(failed.at(0).at(1).toString().contains(QStringLiteral("overlap")), qPrintable(failed.at(0).at(1).toString()));
    }

    // One search, written once: the GUI's worker and `ropescope-cli search`, given the same settings
    // (the CLI's options and defaults, the worker's SearchJobSettings), start it through the same
    // search job and write the same log, record for record, on any machine (both default to the
    // CPU).
    void theCliAndTheWorkerWriteTheSameLog()
    {
        QTemporaryDir modelDir;
        for (const char *name : {"config.json", "model.safetensors"})
            QVERIFY(QFile::copy(kModel + QLatin1Char('/') + QLatin1String(name), modelDir.filePath(QLatin1String(name))));
        QVERIFY(QFile::copy(kTokenizer, modelDir.filePath(QStringLiteral("tokenizer.json"))));
        EvaluationThread thread;
        const WorkerRelay &relay = thread;
        QSignalSpy loaded(&relay, &WorkerRelay::modelLoaded);
        QSignalSpy finished(&relay, &WorkerRelay::searchFinished);
        thread.loadModel(modelDir.path());
        QVERIFY(loaded.wait(kWaitMs));

        SearchJobSettings job;  // the defaults the CLI's options have
        job.search.population = 4;
        job.search.iterations = 1;
        job.search.seed = 2;
        job.samples = needleSamples(kSearchLength, 1, 2);
        const QString workerLog = m_temp.filePath(QStringLiteral("same-worker.jsonl"));
        thread.startSearch(job.search, job.samples, workerLog, false, job.validation());
        QVERIFY(finished.wait(kWaitMs));

        const QString cliLog = m_temp.filePath(QStringLiteral("same-cli.jsonl"));
        QProcess cli;
        cli.start(QStringLiteral(ROPESCOPE_CLI),
                  {QStringLiteral("search"), QStringLiteral("--model"), modelDir.path(), QStringLiteral("--length"),
                   QString::number(kSearchLength), QStringLiteral("--samples"), QStringLiteral("1"), QStringLiteral("--seed"),
                   QStringLiteral("2"), QStringLiteral("--population"), QStringLiteral("4"), QStringLiteral("--iterations"),
                   QStringLiteral("1"), QStringLiteral("--log"), cliLog});
        QVERIFY(cli.waitForFinished(kWaitMs));
        QVERIFY2(cli.exitCode() == 0, cli.readAllStandardError().constData());

        const QList<QJsonObject> fromWorker = testing::readLog(workerLog);
        const QList<QJsonObject> fromCli = testing::readLog(cliLog);
        QVERIFY(fromWorker.size() > 10);
        QCOMPARE(fromWorker.size(), fromCli.size());
        for (qsizetype i = 0; i < fromWorker.size(); ++i)
            QVERIFY2(fromWorker[i] == fromCli[i],
                     qPrintable(QStringLiteral("record %1:\n  worker %2\n  cli    %3")
                                    .arg(i + 1)
                                    .arg(QString::fromUtf8(QJsonDocument(fromWorker[i]).toJson(QJsonDocument::Compact)),
                                         QString::fromUtf8(QJsonDocument(fromCli[i]).toJson(QJsonDocument::Compact)))));
        // What the run measured, in both: the model folder, the CPU, two validation samples from seed 3.
        const QJsonObject start = fromCli.front();
        QCOMPARE(start.value(QStringLiteral("event")).toString(), QStringLiteral("start"));
        const QJsonObject context = start.value(QStringLiteral("settings")).toObject().value(QStringLiteral("context")).toObject();
        QCOMPARE(context.value(QStringLiteral("device")).toString(), QStringLiteral("cpu"));
        QCOMPARE(context.value(QStringLiteral("model")).toString(), QFileInfo(modelDir.path()).absoluteFilePath());
        QCOMPARE(context.value(QStringLiteral("validation")).toObject().value(QStringLiteral("samples")).toInt(), 2);
        QCOMPARE(testing::lastOf(fromCli, QStringLiteral("finish")).value(QStringLiteral("reason")).toString(), QStringLiteral("done"));
    }

    void theCliResumesTheWorkersLog()
    {
        // A model folder the CLI can open: the tiny checkpoint with the byte tokenizer inside.
        QTemporaryDir modelDir;
        for (const char *name : {"config.json", "model.safetensors"})
            QVERIFY(QFile::copy(kModel + QLatin1Char('/') + QLatin1String(name), modelDir.filePath(QLatin1String(name))));
        QVERIFY(QFile::copy(kTokenizer, modelDir.filePath(QStringLiteral("tokenizer.json"))));
        EvaluationThread thread;
        const WorkerRelay &relay = thread;
        QSignalSpy loaded(&relay, &WorkerRelay::modelLoaded);
        QSignalSpy finished(&relay, &WorkerRelay::searchFinished);
        thread.loadModel(modelDir.path());
        QVERIFY(loaded.wait(kWaitMs));
        const QString logPath = m_temp.filePath(QStringLiteral("cli-resumes.jsonl"));
        SearchSettings settings = tinySearch(6, 2, 2);  // the CLI seeds samples and search alike
        settings.fitness = kRecommendedFitness;         // the CLI's default
        settings.maxEvaluations = 4;
        // The CLI's default validation set for --samples 1 --seed 2: two samples from seed 3.
        thread.startSearch(settings, needleSamples(kSearchLength, 1, 2), logPath, false, needleSamples(kSearchLength, 2, 3));
        QVERIFY(finished.wait(kWaitMs));
        QCOMPARE(finished.at(0).at(0).value<SearchOutcome>().result.stopReason, StopReason::Budget);

        QProcess cli;
        cli.start(QStringLiteral(ROPESCOPE_CLI),
                  {QStringLiteral("search"), QStringLiteral("--model"), modelDir.path(), QStringLiteral("--length"),
                   QString::number(kSearchLength), QStringLiteral("--samples"), QStringLiteral("1"), QStringLiteral("--seed"),
                   QStringLiteral("2"), QStringLiteral("--population"), QStringLiteral("6"), QStringLiteral("--iterations"),
                   QStringLiteral("2"), QStringLiteral("--log"), logPath, QStringLiteral("--resume")});
        QVERIFY(cli.waitForFinished(kWaitMs));
        QVERIFY2(cli.exitCode() == 0, cli.readAllStandardError().constData());
        const std::vector<QJsonObject> finishes = logEvents(logPath, QStringLiteral("finish"));
        QCOMPARE(finishes.size(), size_t(2));
        QCOMPARE(finishes.back().value(QStringLiteral("reason")).toString(), QStringLiteral("done"));
    }

    void stopTakesEffectWithinOneEvaluation()
    {
        std::atomic<int> emitted{0};
        // Without a context object the functor runs on the worker's thread as the signal is emitted:
        // the count is exact, not delayed by the queue to this thread.
        const QMetaObject::Connection counter = connect(m_thread->worker(), &EvaluationWorker::candidateEvaluated,
                                                        [&emitted](const CandidateEvaluation &) { ++emitted; });
        QSignalSpy finished(m_relay, &WorkerRelay::searchFinished);
        m_thread->startSearch(tinySearch(6, 200, 5), needleSamples(kSearchLength, 1, 2));
        QTRY_VERIFY_WITH_TIMEOUT(emitted.load() >= 3, kWaitMs);
        const int atStop = emitted.load();
        QElapsedTimer clock;
        clock.start();
        m_thread->stop();
        QVERIFY(finished.wait(kWaitMs));
        disconnect(counter);
        const int after = emitted.load() - atStop;
        qInfo("stop: %d further candidate(s), search finished %lld ms after stop()", after, clock.elapsed());
        QVERIFY2(after <= 1, qPrintable(QString::number(after)));
        QCOMPARE(finished.at(0).at(0).value<SearchOutcome>().result.stopReason, StopReason::Cancelled);
    }

    void pauseHoldsBetweenEvaluationsAndStillScores()
    {
        std::atomic<int> emitted{0};
        const QMetaObject::Connection counter = connect(m_thread->worker(), &EvaluationWorker::candidateEvaluated,
                                                        [&emitted](const CandidateEvaluation &) { ++emitted; });
        QSignalSpy paused(m_relay, &WorkerRelay::searchPausedChanged);
        QSignalSpy finished(m_relay, &WorkerRelay::searchFinished);
        m_thread->startSearch(tinySearch(6, 200, 6), needleSamples(kSearchLength, 1, 2));
        QTRY_VERIFY_WITH_TIMEOUT(emitted.load() >= 1, kWaitMs);
        m_thread->pause();
        QVERIFY(m_thread->worker()->isPaused());
        QTRY_VERIFY_WITH_TIMEOUT(!paused.isEmpty(), kWaitMs);
        QCOMPARE(paused.at(0).at(0).toBool(), true);
        const int atPause = emitted.load();
        // Hand tuning goes on while the search is held.
        QSignalSpy scores(m_relay, &WorkerRelay::scoreReady);
        m_thread->score(900, std::vector<double>(8, 1.0), 1.0, needleSamples(kSearchLength, 1, 2));
        QVERIFY(scores.wait(kWaitMs));
        QTest::qWait(300);
        QCOMPARE(emitted.load(), atPause);
        QVERIFY(finished.isEmpty());

        m_thread->resume();
        QTRY_VERIFY_WITH_TIMEOUT(emitted.load() > atPause, kWaitMs);
        QCOMPARE(paused.last().at(0).toBool(), false);
        m_thread->stop();
        QVERIFY(finished.wait(kWaitMs));
        disconnect(counter);
    }

    void failedLoadLeavesTheWorkerUsable()
    {
        QSignalSpy failed(m_relay, &WorkerRelay::failed);
        const QString missing = m_temp.filePath(QStringLiteral("no-such-model"));
        m_thread->loadModel(missing);
        QVERIFY(failed.wait(kWaitMs));
        QCOMPARE(failed.at(0).at(0).value<WorkerTask>(), WorkerTask::LoadModel);
        QVERIFY2(failed.at(0).at(1).toString().contains(missing), qPrintable(failed.at(0).at(1).toString()));

        // A folder with a config but weights that do not fit it.
        QTemporaryDir broken;
        QVERIFY(QFile::copy(QStringLiteral(ROPESCOPE_FIXTURES "/models/qwen2-plain/config.json"), broken.filePath("config.json")));
        QVERIFY(QFile::copy(kModel + QStringLiteral("/model.safetensors"), broken.filePath("model.safetensors")));
        m_thread->loadModel(broken.path(), kTokenizer);
        QVERIFY(failed.wait(kWaitMs));
        QCOMPARE(failed.at(1).at(0).value<WorkerTask>(), WorkerTask::LoadModel);

        // The model loaded before is still there.
        QSignalSpy scores(m_relay, &WorkerRelay::scoreReady);
        m_thread->score(31, std::vector<double>(8, 1.0), 1.0, needleSamples(400, 1, 1));
        QVERIFY(scores.wait(kWaitMs));
        QCOMPARE(scores.at(0).at(0).value<ScoreResult>().requestId, quint64(31));
    }

    // The service relays every signal of the one list, the sweep signals included: each emitted by
    // the worker (here on this thread, so the relay runs at once) arrives once from the service.
    void everySignalOfTheListIsRelayed()
    {
        EvaluationThread thread;
        const QMetaObject &list = EvaluationSignals::staticMetaObject;
        int signalCount = 0;
        for (int i = list.methodOffset(); i < list.methodCount(); ++i) {
            const QMetaMethod signal = list.method(i);
            if (signal.methodType() != QMetaMethod::Signal)
                continue;
            ++signalCount;
            QSignalSpy relayed(&thread, signal);
            QVERIFY2(signal.parameterCount() <= 2, signal.methodSignature().constData());
            std::vector<void *> values;
            std::vector<QGenericArgument> arguments(2);
            for (int p = 0; p < signal.parameterCount(); ++p) {
                values.push_back(QMetaType(signal.parameterType(p)).create());
                arguments[size_t(p)] = QGenericArgument(signal.parameterTypeName(p).constData(), values.back());
            }
            QVERIFY(signal.invoke(thread.worker(), Qt::DirectConnection, arguments[0], arguments[1]));
            for (int p = 0; p < signal.parameterCount(); ++p)
                QMetaType(signal.parameterType(p)).destroy(values[size_t(p)]);
            QVERIFY2(relayed.count() == 1, signal.methodSignature().constData());
        }
        // loadProgress … failed: the seventeen signals of worker/evaluationservice.h.
        QCOMPARE(signalCount, 17);
    }

    void requestsWithoutAModelFail()
    {
        EvaluationThread fresh;
        const WorkerRelay &relay = fresh;
        QSignalSpy failed(&relay, &WorkerRelay::failed);
        fresh.startSearch(tinySearch(6, 2, 1), needleSamples(kSearchLength, 1, 1));
        QVERIFY(failed.wait(kWaitMs));
        QCOMPARE(failed.at(0).at(0).value<WorkerTask>(), WorkerTask::Search);
        fresh.score(1, std::vector<double>(8, 1.0), 1.0, needleSamples(400, 1, 1));
        QVERIFY(failed.wait(kWaitMs));
        QCOMPARE(failed.at(1).at(0).value<WorkerTask>(), WorkerTask::Score);
    }

    // A score at a length no machine holds (before: std::bad_alloc on the worker's thread, or a
    // hang building text) and a config whose weights no machine holds: refused with the figures,
    // and the worker goes on with the model it has.
    void whatCannotFitIsRefusedAndTheWorkerStays()
    {
        QSignalSpy failed(m_relay, &WorkerRelay::failed);
        m_thread->score(41, std::vector<double>(8, 1.0), 1.0, needleSamples(1000000000, 1, 1));
        QVERIFY(failed.wait(kWaitMs));
        QCOMPARE(failed.at(0).at(0).value<WorkerTask>(), WorkerTask::Score);
        const QString message = failed.at(0).at(1).toString();
        QVERIFY2(message.contains(QLatin1String("1000000000")) && message.contains(QLatin1String("GiB"))
                     && message.contains(QLatin1String("this machine has")),
                 qPrintable(message));

        QTemporaryDir huge;
        QFile in(kModel + QStringLiteral("/config.json"));
        QVERIFY(in.open(QIODevice::ReadOnly));
        QJsonObject config = QJsonDocument::fromJson(in.readAll()).object();
        config.insert(QStringLiteral("num_hidden_layers"), 2e9);
        QFile out(huge.filePath("config.json"));
        QVERIFY(out.open(QIODevice::WriteOnly));
        out.write(QJsonDocument(config).toJson());
        out.close();
        QVERIFY(QFile::copy(kModel + QStringLiteral("/model.safetensors"), huge.filePath("model.safetensors")));
        m_thread->loadModel(huge.path(), kTokenizer);
        QVERIFY(failed.wait(kWaitMs));
        QCOMPARE(failed.at(1).at(0).value<WorkerTask>(), WorkerTask::LoadModel);
        QVERIFY2(failed.at(1).at(1).toString().contains(QLatin1String("GiB")), qPrintable(failed.at(1).at(1).toString()));

        QSignalSpy scores(m_relay, &WorkerRelay::scoreReady);
        m_thread->score(42, std::vector<double>(8, 1.0), 1.0, needleSamples(400, 1, 1));
        QVERIFY(scores.wait(kWaitMs));
        QCOMPARE(scores.at(0).at(0).value<ScoreResult>().requestId, quint64(42));
    }

    void destroyingTheThreadMidSearchJoinsCleanly()
    {
        auto thread = std::make_unique<EvaluationThread>();
        const WorkerRelay *relay = thread.get();
        QSignalSpy loaded(relay, &WorkerRelay::modelLoaded);
        thread->loadModel(kModel, kTokenizer);
        QVERIFY(loaded.wait(kWaitMs));
        QSignalSpy candidates(relay, &WorkerRelay::candidateEvaluated);
        const QString logPath = m_temp.filePath(QStringLiteral("interrupted.jsonl"));
        thread->startSearch(tinySearch(6, 500, 7), needleSamples(kSearchLength, 2, 2), logPath);
        QVERIFY(candidates.wait(kWaitMs));
        const double evaluationSeconds = candidates.at(0).at(0).value<CandidateEvaluation>().seconds;
        QElapsedTimer clock;
        clock.start();
        thread.reset();
        qInfo("destroying the thread mid-search took %lld ms (one evaluation: %.0f ms)", clock.elapsed(),
              evaluationSeconds * 1000);
        QVERIFY(clock.elapsed() < 10000);
        // The search stopped before its next evaluation: the log is complete and ends with the
        // cancellation, so it stays resumable.
        const std::vector<QJsonObject> evals = logEvents(logPath, QStringLiteral("eval"));
        QVERIFY(!evals.empty());
        for (const QJsonObject &e : evals)
            QVERIFY(e.value(QStringLiteral("fitness")).isDouble());
        const std::vector<QJsonObject> finishes = logEvents(logPath, QStringLiteral("finish"));
        QCOMPARE(finishes.size(), size_t(1));
        QCOMPARE(finishes.front().value(QStringLiteral("reason")).toString(), QStringLiteral("cancelled"));
    }

    void dRcdIsRecoveredFromTheFactors()
    {
        SearchSettings s = tinySearch(6, 2, 1);
        const SearchSettings resolved = EvolutionSearch(s).settings();
        for (int dRcd = 3; dRcd <= 5; ++dRcd) {
            std::vector<double> upper;
            for (int k = dRcd; k < 8; ++k)
                upper.push_back(1.3 + 0.02 * k);
            const std::vector<double> lambda = longrope2Factors(16, dRcd, upper, 1.25, 1024).lambda;
            QCOMPARE(inferDRcd(lambda, resolved), dRcd);
        }
        // Not the LongRoPE2 structure: unknown.
        QCOMPARE(inferDRcd(std::vector<double>{1, 1.9, 1.1, 1.5, 1.3, 1.4, 1.45, 1.5}, resolved), -1);
        s.method = SearchMethod::LongRoPEv1;
        QCOMPARE(inferDRcd(std::vector<double>(8, 1.25), EvolutionSearch(s).settings()), -1);
    }

private:
    QTemporaryDir m_temp;
    std::unique_ptr<EvaluationThread> m_thread;
    WorkerRelay *m_relay = nullptr;  // m_thread itself
};

QTEST_GUILESS_MAIN(TestEvaluationWorker)
#include "test_evaluationworker.moc"
