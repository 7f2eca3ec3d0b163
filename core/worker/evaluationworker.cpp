#include "worker/evaluationworker.h"

#include "eval/candidatescorer.h"
#include "eval/evaluator.h"
#include "eval/sweep.h"
#include "job/searchjob.h"
#include "worker/searcharithmetic.h"

#include "common/cancellation.h"
#include "common/error.h"
#include "rope/factorfamilies.h"
#include "runtime/embeddedmodel.h"
#include "runtime/model.h"
#include "runtime/modelcost.h"
#include "runtime/tokenizer.h"

#include <QElapsedTimer>
#include <QMetaMethod>
#include <QFileInfo>
#include <QMutexLocker>
#include <QThread>

#include <algorithm>
#include <cmath>
#include <limits>
#include <new>
#include <numeric>
#include <optional>
#include <stdexcept>

namespace rs {

namespace {

bool sameSamples(const NeedleEvalSettings &a, const NeedleEvalSettings &b)
{
    return a.length == b.length && a.samples == b.samples && a.depth == b.depth && a.seed == b.seed && a.corpus == b.corpus;
}

// Bounds the per-sample cache: a long session of hand tuning stays far below a megabyte.
constexpr size_t kCachedSamples = 1 << 14;

// One sample (the seed names it: a set with seed s holds the samples of seeds s, s + 1, …) of one
// λ and attention factor, bit for bit.
std::string sampleKey(const RopeOverride &rope, const NeedleEvalSettings &samples, int index)
{
    std::string key(reinterpret_cast<const char *>(rope.lambda.data()), rope.lambda.size() * sizeof(double));
    key.append(reinterpret_cast<const char *>(&rope.attentionFactor), sizeof(double));
    key.append(reinterpret_cast<const char *>(&samples.depth), sizeof(double));
    key += QStringLiteral("|%1|%2|").arg(samples.length).arg(samples.seed + uint64_t(index)).toStdString();
    key += samples.corpus.toStdString();
    return key;
}

QString messageOf(const QString &source, const std::exception &e)
{
    if (const auto *error = dynamic_cast<const Error *>(&e))
        return error->message();
    // An allocation the memory estimates let through and the machine refused: the worker and its
    // model stay as they were, and the GUI says so.
    if (dynamic_cast<const std::bad_alloc *>(&e) || dynamic_cast<const std::length_error *>(&e))
        return QStringLiteral("%1: out of memory: this machine could not allocate what this needs (a shorter length or "
                              "fewer samples need less)").arg(source);
    return source.isEmpty() ? QString::fromLocal8Bit(e.what()) : source + QStringLiteral(": ") + QString::fromLocal8Bit(e.what());
}

} // namespace

struct EvaluationWorker::Loaded {
    std::unique_ptr<CausalLM> model;
    std::unique_ptr<Tokenizer> tokenizer;
    int bosId = -1;
    ModelInfo info;
};

EvaluationWorker::EvaluationWorker(QObject *parent) : EvaluationSignals(parent) { registerEvaluationMetaTypes(); }

EvaluationWorker::~EvaluationWorker()
{
    // The scoring evaluator refers to the model: it goes first.
    m_scoring.reset();
    m_loaded.reset();
}

void EvaluationWorker::stop()
{
    QMutexLocker lock(&m_mutex);
    m_stop = true;
    m_wake.wakeAll();
}

void EvaluationWorker::pause() { m_paused = true; }

void EvaluationWorker::resume()
{
    QMutexLocker lock(&m_mutex);
    m_paused = false;
    m_wake.wakeAll();
}

void EvaluationWorker::abort()
{
    QMutexLocker lock(&m_mutex);
    m_abort = true;
    m_stop = true;
    m_wake.wakeAll();
}

void EvaluationWorker::noteModelRequested() { ++m_pendingLoads; }

bool EvaluationWorker::superseded() const { return m_abort.load() || m_pendingLoads.load() > 0; }

void EvaluationWorker::requestScore(quint64 requestId, const std::vector<double> &lambda, double attentionFactor,
                                    const NeedleEvalSettings &samples, int sampleCount)
{
    QMutexLocker lock(&m_mutex);
    const int count = sampleCount > 0 ? std::min(sampleCount, samples.samples) : samples.samples;
    m_pendingScore = ScoreRequest{requestId, lambda, attentionFactor, samples, count};
    m_wake.wakeAll();
    postServeRequest();
}

void EvaluationWorker::requestReferences(quint64 requestId, const NeedleEvalSettings &samples)
{
    QMutexLocker lock(&m_mutex);
    m_pendingReferences = ReferenceRequest{requestId, samples};
    m_wake.wakeAll();
    postServeRequest();
}

void EvaluationWorker::cancelSweep(quint64 requestId)
{
    quint64 seen = m_cancelledSweep.load();
    while (seen < requestId && !m_cancelledSweep.compare_exchange_weak(seen, requestId)) {
    }
}

void EvaluationWorker::postServeRequest()
{
    // Called with m_mutex held. One queued call serves every request pending when it runs, so
    // a burst of requests costs one call, and only the latest of each kind is computed.
    if (m_servePosted)
        return;
    m_servePosted = true;
    QMetaObject::invokeMethod(this, &EvaluationWorker::servePendingRequests, Qt::QueuedConnection);
}

void EvaluationWorker::servePendingRequests()
{
    {
        QMutexLocker lock(&m_mutex);
        m_servePosted = false;
    }
    serveWhatIsPending();
}

void EvaluationWorker::serveWhatIsPending()
{
    for (;;) {
        std::optional<ScoreRequest> score;
        std::optional<ReferenceRequest> references;
        {
            QMutexLocker lock(&m_mutex);
            if (m_abort)
                return;
            score.swap(m_pendingScore);
            if (!score)
                references.swap(m_pendingReferences);
        }
        // The hand-tuned score first: it is what the user is waiting for while dragging.
        if (score)
            serveScore(std::move(*score));
        else if (references)
            serveReferences(*references);
        else
            return;
    }
}

const NeedleEvaluator &EvaluationWorker::scoringEvaluator(const NeedleEvalSettings &samples)
{
    if (!m_scoring || !sameSamples(m_scoring->settings(), samples))
        m_scoring = std::make_unique<NeedleEvaluator>(*m_loaded->model, *m_loaded->tokenizer, m_loaded->bosId, samples);
    return *m_scoring;
}

double EvaluationWorker::samplePpl(const RopeOverride &rope, const NeedleEvalSettings &samples, int index)
{
    const std::string key = sampleKey(rope, samples, index);
    if (const auto found = m_samplePpl.find(key); found != m_samplePpl.end())
        return found->second;
    // As NeedleEvaluator::evaluate: exp of the mean NLL over the sample's answer tokens.
    const double ppl = std::exp(scoringEvaluator(samples).sampleNll(index, &rope));
    if (m_samplePpl.size() >= kCachedSamples)
        m_samplePpl.clear();
    m_samplePpl.emplace(key, ppl);
    return ppl;
}

// The throughput `samples` needle samples of `length` tokens showed in `seconds` (building the
// samples included, so a price errs long), for the prices that follow.
void EvaluationWorker::emitThroughput(int length, double samples, double seconds)
{
    const ForwardCostFigures &cost = m_loaded->info.cost;
    const double flops = measuredThroughput(cost, length, samples, seconds);
    if (flops <= 0)
        return;
    Q_EMIT throughputMeasured(MeasuredThroughput{
        cost.device, flops,
        tr("throughput %1 GFLOP/s, measured on a live score of %2 tokens here")
            .arg(flops / 1e9, 0, 'g', 3)
            .arg(length)});
}

void EvaluationWorker::serveScoreIfPending()
{
    std::optional<ScoreRequest> score;
    {
        QMutexLocker lock(&m_mutex);
        score.swap(m_pendingScore);
    }
    if (score)
        serveScore(std::move(*score));
}

void EvaluationWorker::serveScore(ScoreRequest request)
{
    if (!m_loaded) {
        Q_EMIT failed(WorkerTask::Score, tr("no model is loaded: choose a model folder first"));
        return;
    }
    // A newer request, another model, quitting, or a stop of the search this score is served in
    // cancel the forward from inside (common/cancellation.h): a 1M-token score gives up within a
    // chunk, not after its end.
    const CancelScope scope([this] {
        if (superseded() || (m_searching.load() && m_stop.load()))
            return true;
        QMutexLocker lock(&m_mutex);
        return m_pendingScore.has_value();
    });
    try {
        QElapsedTimer clock;
        clock.start();
        (void)scoringEvaluator(request.samples);  // builds the samples (and checks the settings) once
        const RopeOverride rope{std::move(request.lambda), request.attentionFactor};
        ScoreResult out;
        out.requestId = request.id;
        out.samples = request.samples;
        out.model = m_loaded->info.directory;
        out.attentionFactor = request.attentionFactor;
        out.samplesWanted = request.count;
        for (int i = 0; i < request.count; ++i) {
            {
                // A newer request makes this one stale: give up between samples and serve that one.
                QMutexLocker lock(&m_mutex);
                if (superseded() || m_pendingScore)
                    return;
            }
            out.perSamplePpl.push_back(samplePpl(rope, request.samples, i));
            out.ppl = std::accumulate(out.perSamplePpl.begin(), out.perSamplePpl.end(), 0.0) / double(out.perSamplePpl.size());
            out.seconds = clock.nsecsElapsed() / 1e9;
            emitThroughput(request.samples.length, double(out.perSamplePpl.size()), out.seconds);
            if (!out.isComplete())
                Q_EMIT scoreProgress(out);
        }
        Q_EMIT scoreReady(out);
    } catch (const Cancelled &) {
        // Whoever cancelled it has a newer request pending, or wants the worker idle.
    } catch (const std::exception &e) {
        Q_EMIT failed(WorkerTask::Score, messageOf(tr("needle score"), e));
    }
}

void EvaluationWorker::serveReferences(const ReferenceRequest &request)
{
    if (!m_loaded) {
        Q_EMIT failed(WorkerTask::References, tr("no model is loaded: choose a model folder first"));
        return;
    }
    try {
        const RopeConfig &config = m_loaded->model->ropeConfig();
        const int length = request.samples.length;
        // At or below L_train every family is the identity; the comparison needs s ≥ 1.
        const double target = std::max<double>(length, config.trainLength);
        const std::map<QString, FactorSet> families = standardFamilies(config, target);
        ReferenceScores out;
        out.requestId = request.id;
        out.length = length;
        out.samples = request.samples;
        out.model = m_loaded->info.directory;
        const FactorSet identity = identityFactors(config.rotaryDims);
        out.scores.push_back({QStringLiteral("original"), identity.lambda, 1.0, 0.0});
        for (const char *name : {"pi", "ntk", "yarn"}) {
            const auto found = families.find(QLatin1String(name));
            if (found != families.end())
                out.scores.push_back({found->first, found->second.lambda, found->second.attentionFactor, 0.0});
        }
        (void)scoringEvaluator(request.samples);
        // Sample by sample, every family on a sample before the next one: a quick score (sample 0)
        // finds its comparison after one round. A pending hand-tuned score interrupts the forward
        // (and is served before it runs again); newer references, another model or quitting end it.
        const auto stale = [this] {
            QMutexLocker lock(&m_mutex);
            return superseded() || m_pendingReferences.has_value();
        };
        const CancelScope scope([this, stale] {
            if (stale())
                return true;
            QMutexLocker lock(&m_mutex);
            return m_pendingScore.has_value();
        });
        for (int i = 0; i < request.samples.samples; ++i) {
            for (ReferenceScore &reference : out.scores) {
                const RopeOverride rope{reference.lambda, reference.attentionFactor};
                std::optional<double> ppl;
                while (!ppl) {
                    if (stale())
                        return;
                    try {
                        ppl = samplePpl(rope, request.samples, i);
                    } catch (const Cancelled &) {
                        serveScoreIfPending();  // then this sample again, unless it went stale
                    }
                }
                reference.perSamplePpl.push_back(*ppl);
                reference.ppl = std::accumulate(reference.perSamplePpl.begin(), reference.perSamplePpl.end(), 0.0)
                                / double(reference.perSamplePpl.size());
                serveScoreIfPending();
            }
            out.samplesScored = i + 1;
            if (!out.isComplete())
                Q_EMIT referencesProgress(out);
        }
        Q_EMIT referencesReady(out);
    } catch (const std::exception &e) {
        Q_EMIT failed(WorkerTask::References, messageOf(tr("reference scores"), e));
    }
}

bool EvaluationWorker::holdBetweenEvaluations()
{
    bool announced = false;
    for (;;) {
        serveWhatIsPending();
        QMutexLocker lock(&m_mutex);
        if (m_stop || m_abort)
            break;
        if (!m_paused)
            break;
        if (!announced) {
            lock.unlock();
            Q_EMIT searchPausedChanged(true);
            announced = true;
            continue;
        }
        if (!m_pendingScore && !m_pendingReferences)
            m_wake.wait(&m_mutex);
    }
    if (announced)
        Q_EMIT searchPausedChanged(false);
    return m_stop || m_abort;
}

void EvaluationWorker::loadModel(const QString &modelDir, const QString &tokenizerPath, const ModelLoadSettings &settings)
{
    // This request is being served: it no longer cancels what runs (noteModelRequested).
    for (int n = m_pendingLoads.load(); n > 0 && !m_pendingLoads.compare_exchange_weak(n, n - 1);) {
    }
    if (m_abort)
        return;
    QElapsedTimer clock;
    clock.start();
    try {
        auto loaded = std::make_unique<Loaded>();
        Q_EMIT loadProgress(tr("Loading the model in %1 (device: %2)…").arg(modelDir, settings.device));
        ModelOptions options;
        options.device = settings.device;
        options.dtype = settings.dtype;
        loaded->model = CausalLM::load(modelDir, options);
        Q_EMIT loadProgress(tr("Loading the tokenizer…"));
        if (tokenizerPath.isEmpty()) {
            ModelTokenizer modelTokenizer = loadModelTokenizer(modelDir);
            loaded->tokenizer = std::move(modelTokenizer.tokenizer);
            loaded->bosId = modelTokenizer.bosId;
        } else {
            loaded->tokenizer = loadTokenizer(tokenizerPath);
            loaded->bosId = loaded->tokenizer->bosId();
        }
        ModelInfo &info = loaded->info;
        info.directory = QFileInfo(modelDir).absoluteFilePath();
        info.name = modelDisplayName(info.directory);
        info.architecture = loaded->model->architecture();
        info.device = loaded->model->device();
        info.dtype = loaded->model->dtype();
        info.tokenizer = loaded->tokenizer->description();
        info.layers = loaded->model->numLayers();
        info.hiddenSize = loaded->model->hiddenSize();
        info.vocabSize = loaded->model->vocabSize();
        info.ropeConfig = loaded->model->ropeConfig();
        info.warnings = loaded->model->warnings();
        info.cost = costFigures(*loaded->model);
        info.seconds = clock.nsecsElapsed() / 1e9;
        // Only a complete load replaces the current model: a failure leaves the worker as it was.
        m_scoring.reset();
        m_samplePpl.clear();
        m_loaded = std::move(loaded);
        Q_EMIT modelLoaded(info);
    } catch (const std::exception &e) {
        Q_EMIT failed(WorkerTask::LoadModel, messageOf(modelDir, e));
    }
}

void EvaluationWorker::startSearch(const SearchSettings &settings, const NeedleEvalSettings &samples,
                                   const QString &logPath, bool resume, const NeedleEvalSettings &validation)
{
    if (m_abort)
        return;
    if (!m_loaded) {
        Q_EMIT failed(WorkerTask::Search, tr("no model is loaded: choose a model folder first"));
        return;
    }
    {
        // A stop or pause meant for an earlier run must not end or hold this one.
        QMutexLocker lock(&m_mutex);
        m_stop = false;
        m_paused = false;
    }
    try {
        // The search job the CLI starts its searches through: the loaded model is its only
        // replica (batched forwards of 8 candidates on a GPU; one at a time on the CPU, so the plot
        // moves per candidate).
        SearchJobSettings jobSettings;
        jobSettings.search = settings;
        jobSettings.samples = samples;
        jobSettings.validationSamples = validation.samples;
        jobSettings.validationSeed = qint64(validation.seed);
        jobSettings.device = m_loaded->info.device;
        jobSettings.dtype = m_loaded->info.dtype;
        jobSettings.logPath = logPath;
        jobSettings.resume = resume;
        SearchJob job(jobSettings, m_loaded->model->ropeConfig());
        job.useModel(*m_loaded->model, *m_loaded->tokenizer, m_loaded->bosId, m_loaded->info.directory);
        const SearchSettings &resolved = job.engine().settings();
        const int sampleCount = samples.samples;

        SearchHooks hooks = job.hooks();
        // Stop and abort are seen before every batch of real evaluations (one candidate on one
        // sample on the CPU, up to 8 candidates on a GPU), pause holds there; stop, abort and
        // another model also cancel the running evaluation from inside its forward, which the
        // search drops unlogged (common/cancellation.h).
        hooks.cancelled = [this] { return holdBetweenEvaluations(); };
        const CancelScope scope([this] { return m_stop.load() || superseded(); });
        m_searching = true;

        int generation = 0;
        int newInGeneration = 0;
        int evaluations = 0;
        CandidateScoreBook book;
        book.setAggregate(resolved.fitness);
        // The search scores its baselines first with the same fitness; they are not candidates.
        bool baselinesDone = false;
        hooks.onBaselines = [&](const std::vector<BaselineScore> &scores) {
            baselinesDone = true;
            Q_EMIT baselinesScored(SearchBaselines{scores, resolved.fitness});
        };
        hooks.onGeneration = [&](const GenerationReport &report) {
            Q_EMIT generationFinished(report);
            generation = report.generation + 1;
            newInGeneration = 0;
        };
        // Wrapping the fitness sees every real evaluation (cache hits never reach it).
        SampledFitness fitness = job.searchFitness();
        const BatchSampleFitness scoreBatch = fitness.batch;
        const auto report = [&](const Candidate &c, int sample, double ppl, double seconds) {
            const CandidateScoreBook::Entry entry = book.add(c.lambda, c.attentionFactor, sample, ppl);
            CandidateEvaluation candidate;
            candidate.candidate = entry.candidate;
            candidate.generation = generation;
            candidate.indexInGeneration = entry.isNew ? newInGeneration++ : -1;
            candidate.evaluation = ++evaluations;
            candidate.dRcd = inferDRcd(c.lambda, resolved);
            candidate.lambda = c.lambda;
            candidate.attentionFactor = c.attentionFactor;
            candidate.sample = sample;
            candidate.samples = sampleCount;
            candidate.samplesScored = entry.samplesScored;
            candidate.samplePpl = ppl;
            candidate.ppl = entry.meanPpl;
            candidate.seconds = seconds;
            Q_EMIT candidateEvaluated(candidate);
        };
        fitness.batch = [&, scoreBatch](const std::vector<Candidate> &cs, int sample) {
            QElapsedTimer clock;
            clock.start();
            std::vector<double> ppl = scoreBatch(cs, sample);
            const double seconds = clock.nsecsElapsed() / 1e9 / double(std::max<size_t>(1, cs.size()));
            for (size_t i = 0; i < cs.size(); ++i) {
                if (!std::isfinite(ppl[i]))
                    ppl[i] = std::numeric_limits<double>::infinity();
                if (baselinesDone)
                    report(cs[i], sample, ppl[i], seconds);
            }
            return ppl;
        };
        Q_EMIT searchStarted(job.plan());
        const SearchResult result = job.engine().run(fitness, job.validationFitness(), hooks);
        Q_EMIT searchFinished(SearchOutcome{result, samples.length, logPath});
    } catch (const Cancelled &) {
        // Cut short outside an evaluation the search itself guards (setting up): say so.
        Q_EMIT failed(WorkerTask::Search, tr("search: stopped before it started"));
    } catch (const std::exception &e) {
        Q_EMIT failed(WorkerTask::Search, messageOf(tr("search"), e));
    }
    m_searching = false;
    m_paused = false;
}

void EvaluationWorker::startSweep(quint64 requestId, const SweepSettings &settings, const std::vector<SweepMethodSpec> &methods)
{
    if (m_abort)
        return;
    if (!m_loaded) {
        Q_EMIT failed(WorkerTask::Sweep, tr("no model is loaded: choose a model folder first"));
        return;
    }
    try {
        // Other model folders a method names load on the same device, in the same dtype.
        ModelOptions options;
        options.device = m_loaded->info.device;
        options.dtype = m_loaded->info.dtype;
        const ResolvedSweepMethods resolved = resolveSweepMethods(methods, *m_loaded->model, settings.targetLength, options,
                                                                  parseEngine(settings.engine, QStringLiteral("workbench")));
        SweepPlan plan;
        plan.requestId = requestId;
        plan.settings = settings;
        plan.methods = methods;
        plan.model = m_loaded->info.name;
        plan.trainLength = int(m_loaded->info.ropeConfig.trainLength);
        int done = 0;
        SweepCallbacks callbacks;
        callbacks.started = [&](int cells) {
            plan.cells = cells;
            Q_EMIT sweepStarted(plan);
        };
        callbacks.cancelled = [this, requestId] { return superseded() || m_cancelledSweep.load() >= requestId; };
        // The same check inside each forward: a cancelled sweep stops within a chunk.
        const CancelScope scope(callbacks.cancelled);
        callbacks.cellDone = [&](const SweepCell &cell) {
            Q_EMIT sweepCellReady(SweepCellReport{requestId, cell, ++done, plan.cells});
            // Keep hand tuning live while the sweep runs: the score requests wait a cell at most.
            serveWhatIsPending();
        };
        SweepResult result = runSweep(resolved.methods, methods, *m_loaded->tokenizer, m_loaded->bosId, settings, callbacks);
        result.model = m_loaded->info.name;
        Q_EMIT sweepFinished(SweepOutcome{requestId, std::move(result)});
    } catch (const Cancelled &) {
        Q_EMIT failed(WorkerTask::Sweep, tr("sweep: stopped before its first cell"));
    } catch (const std::exception &e) {
        Q_EMIT failed(WorkerTask::Sweep, messageOf(tr("sweep"), e));
    }
}

namespace {

// Connects every signal EvaluationSignals declares on `from` to the same signal on `to`.
void relaySignals(const EvaluationSignals *from, const EvaluationSignals *to)
{
    const QMetaObject &signalList = EvaluationSignals::staticMetaObject;
    for (int i = signalList.methodOffset(); i < signalList.methodCount(); ++i) {
        const QMetaMethod method = signalList.method(i);
        if (method.methodType() == QMetaMethod::Signal)
            QObject::connect(from, method, to, method);
    }
}

} // namespace

EvaluationThread::EvaluationThread(QObject *parent)
    : EvaluationService(parent), m_thread(new QThread(this)), m_worker(new EvaluationWorker)
{
    m_thread->setObjectName(QStringLiteral("RopeScope evaluation"));
    m_worker->moveToThread(m_thread);
    // The worker (and the model it owns) is destroyed on its own thread as the thread ends.
    connect(m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
    // The service's signals relay the worker's: queued from the worker's thread to this object's,
    // then emitted on to whoever listens, in the order the worker sent them.
    relaySignals(m_worker, this);
    m_thread->start();
}

EvaluationThread::~EvaluationThread() { shutdown(); }

void EvaluationThread::requestShutdown()
{
    if (!m_worker || m_closing)
        return;
    m_closing = true;
    // Whatever runs gives up at its next cancellation point (inside the forward); the thread's
    // event loop then ends and the worker is deleted on it. Nothing here waits.
    m_worker->abort();
    m_thread->quit();
}

void EvaluationThread::shutdown()
{
    if (!m_worker)
        return;
    requestShutdown();
    m_thread->wait();
    // The thread's finished() has run the worker's deleteLater by now.
    m_worker = nullptr;
}

bool EvaluationThread::isIdle() const { return !m_worker || m_thread->isFinished(); }

QStringList EvaluationThread::availableDevices() const
{
    QStringList devices{QStringLiteral("cpu")};
    const int gpus = cudaDeviceCount();  // 0 without CUDA; the count is cached by LibTorch
    for (int i = 0; i < gpus; ++i)
        devices << QStringLiteral("cuda:%1").arg(i);
    return devices;
}

void EvaluationThread::loadModel(const QString &modelDir, const QString &tokenizerPath, const ModelLoadSettings &settings)
{
    if (!accepting())
        return;
    // What runs belongs to the model being replaced: it stops within a chunk of its forward.
    m_worker->noteModelRequested();
    QMetaObject::invokeMethod(m_worker, [worker = m_worker, modelDir, tokenizerPath, settings] {
        worker->loadModel(modelDir, tokenizerPath, settings);
    }, Qt::QueuedConnection);
}

void EvaluationThread::startSearch(const SearchSettings &settings, const NeedleEvalSettings &samples,
                                   const QString &logPath, bool resume, const NeedleEvalSettings &validation)
{
    if (!accepting())
        return;
    QMetaObject::invokeMethod(m_worker, [worker = m_worker, settings, samples, logPath, resume, validation] {
        worker->startSearch(settings, samples, logPath, resume, validation);
    }, Qt::QueuedConnection);
}

void EvaluationThread::score(quint64 requestId, const std::vector<double> &lambda, double attentionFactor,
                             const NeedleEvalSettings &samples, int sampleCount)
{
    if (accepting())
        m_worker->requestScore(requestId, lambda, attentionFactor, samples, sampleCount);
}

void EvaluationThread::scoreReferences(quint64 requestId, const NeedleEvalSettings &samples)
{
    if (accepting())
        m_worker->requestReferences(requestId, samples);
}

void EvaluationThread::startSweep(quint64 requestId, const SweepSettings &settings, const std::vector<SweepMethodSpec> &methods)
{
    if (!accepting())
        return;
    QMetaObject::invokeMethod(m_worker, [worker = m_worker, requestId, settings, methods] {
        worker->startSweep(requestId, settings, methods);
    }, Qt::QueuedConnection);
}

void EvaluationThread::cancelSweep(quint64 requestId)
{
    if (accepting())
        m_worker->cancelSweep(requestId);
}

void EvaluationThread::pause()
{
    if (accepting())
        m_worker->pause();
}

void EvaluationThread::resume()
{
    if (accepting())
        m_worker->resume();
}

void EvaluationThread::stop()
{
    if (accepting())
        m_worker->stop();
}

} // namespace rs
