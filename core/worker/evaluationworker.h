#pragma once
// Part worker (core/worker, ropescope_worker): the GUI's evaluation thread, which owns the model
// and starts searches through the search job (job/searchjob.h), as the CLI does. May use every part of core; never
// widgets or app, and no LibTorch headers (models are reached through runtime/model.h).
//
// The GUI's background evaluation thread (DESIGN.md §2): one QObject worker that owns the model,
// its tokenizer and the needle evaluators, living on its own QThread so that the GUI never waits
// on LibTorch. Requests arrive as queued calls; results leave as queued signals carrying the plain
// structs below. Stop, pause and the superseding of hand-tuning scores are thread-safe flags the
// worker polls between evaluations (and between samples), because while a search runs the worker's
// event loop is busy inside it and queued calls would only be seen after the search. The same flags
// are the check each computation installs for its forward (common/cancellation.h), so a stop, a
// newer score, another model or quitting ends even a million-token forward within a chunk.
//
// QtCore and plain C++ types only: LibTorch stays in the .cpp files behind model.h / evaluator.h.
// The widgets see it only as an EvaluationService (worker/evaluationservice.h).
#include "worker/evaluationservice.h"
#include "worker/messages.h"
#include "rope/ropeoverride.h"

#include <QMetaType>
#include <QMutex>
#include <QObject>
#include <QString>
#include <QWaitCondition>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

class QThread;

namespace rs {

class CausalLM;
class NeedleEvaluator;
class Tokenizer;

// Its signals are EvaluationSignals' (worker/evaluationservice.h): the one list the service relays.
// An rs::Error reported by `failed` leaves the worker and its model unharmed.
class EvaluationWorker : public EvaluationSignals {
    Q_OBJECT

public:
    explicit EvaluationWorker(QObject *parent = nullptr);
    ~EvaluationWorker() override;

    // Thread-safe: callable from any thread while the worker is busy. stop() ends a running search
    // inside its running evaluation's forward (that evaluation is dropped unlogged, so the run log
    // stays exact and resumable); pause() blocks the search between evaluations until resume() or stop().
    void stop();
    void pause();
    void resume();
    bool isPaused() const { return m_paused.load(); }
    // Thread-safe: ends whatever runs as soon as possible (a search, a score, the references or a
    // sweep, from inside the running forward: common/cancellation.h) and refuses later requests.
    // For shutdown.
    void abort();
    // Thread-safe: a loadModel call is on its way (queued). Until the worker starts serving it,
    // whatever runs for the current model is cancelled from inside its forward.
    void noteModelRequested();

    // Thread-safe: only the latest pending request of each kind is kept. The scores are computed by
    // the worker as soon as it is free, or between two evaluations of a running search; a newer
    // request also cancels a stale one that is being computed (between samples). Scores and
    // references go sample by sample: each finished sample is reported (scoreProgress,
    // referencesProgress), a pending score is served between two samples of the references, and
    // `sampleCount` > 0 scores only the first samples (a quick score). Per-sample results are kept
    // (keyed by λ, attention factor and the sample itself) until another model loads, so that a
    // full score after a quick one, an undo or a larger sample set repeat no forward.
    void requestScore(quint64 requestId, const std::vector<double> &lambda, double attentionFactor,
                      const NeedleEvalSettings &samples, int sampleCount = 0);
    void requestReferences(quint64 requestId, const NeedleEvalSettings &samples);
    // Thread-safe: the sweep of this request (and any earlier one) stops between samples.
    void cancelSweep(quint64 requestId);

public Q_SLOTS:
    // Queued from the owner's thread; they run on the worker's thread.
    void loadModel(const QString &modelDir, const QString &tokenizerPath, const rs::ModelLoadSettings &settings);
    void startSearch(const rs::SearchSettings &settings, const rs::NeedleEvalSettings &samples,
                     const QString &logPath, bool resume, const rs::NeedleEvalSettings &validation = NeedleEvalSettings{0, 0});
    void startSweep(quint64 requestId, const rs::SweepSettings &settings, const std::vector<rs::SweepMethodSpec> &methods);

private:
    struct Loaded;
    struct ScoreRequest {
        quint64 id = 0;
        std::vector<double> lambda;
        double attentionFactor = 1.0;
        NeedleEvalSettings samples;
        int count = 0;  // samples to score: the first `count` of `samples`
    };
    struct ReferenceRequest {
        quint64 id = 0;
        NeedleEvalSettings samples;
    };

    // The queued call postServeRequest() makes; serveWhatIsPending() also runs between evaluations.
    void servePendingRequests();
    void serveWhatIsPending();
    void postServeRequest();
    // Blocks between evaluations while paused (serving scores meanwhile); true when the search
    // must stop.
    bool holdBetweenEvaluations();
    const NeedleEvaluator &scoringEvaluator(const NeedleEvalSettings &samples);
    void serveScore(ScoreRequest request);
    void emitThroughput(int length, double samples, double seconds);
    void serveReferences(const ReferenceRequest &request);
    // Needle PPL of λ on sample `index` of `samples`, from the per-sample cache or one forward.
    double samplePpl(const RopeOverride &rope, const NeedleEvalSettings &samples, int index);
    // Serves a pending score request, if any (between two samples of something else).
    void serveScoreIfPending();
    // Quitting, or another model on its way: everything that runs now is stale.
    bool superseded() const;

    std::unique_ptr<Loaded> m_loaded;           // worker thread only
    std::unique_ptr<NeedleEvaluator> m_scoring;  // worker thread only; samples for scores
    std::atomic<bool> m_stop{false};
    std::atomic<bool> m_abort{false};
    std::atomic<bool> m_paused{false};
    std::atomic<bool> m_searching{false};  // inside startSearch: a stop also cancels scores served there
    std::atomic<int> m_pendingLoads{0};    // loadModel calls queued and not yet started
    std::atomic<quint64> m_cancelledSweep{0};  // sweeps with this request id or lower stop

    mutable QMutex m_mutex;  // guards the pending requests and the pause wait
    QWaitCondition m_wake;
    std::optional<ScoreRequest> m_pendingScore;
    std::optional<ReferenceRequest> m_pendingReferences;
    bool m_servePosted = false;
    std::map<std::string, double> m_samplePpl;  // worker thread only; see requestScore
};

// Owns the worker's thread: creates it, moves a fresh worker onto it and, on destruction, aborts
// whatever runs, quits the thread and joins it. The request methods forward as queued calls (or,
// for the thread-safe ones, directly).
class EvaluationThread final : public EvaluationService {
    Q_OBJECT

public:
    explicit EvaluationThread(QObject *parent = nullptr);
    ~EvaluationThread() override;

    // The worker itself, for tests that watch it directly (its signals arrive queued on the
    // receiver's thread). Null after shutdown(). Everyone else connects to the service's signals,
    // which relay the worker's in order.
    EvaluationWorker *worker() const { return m_worker; }

    // Aborts whatever runs (inside its forward, within a chunk), quits the thread and joins it; the
    // worker and its model are gone afterwards and later requests are ignored. The destructor does
    // this too.
    void shutdown();
    // The same without waiting, for a window that closes at once: the worker is told to abort and
    // its thread to end, later requests are ignored, and the worker and its model are deleted on
    // their own thread as it ends (typically within a second, inside a running forward). A later
    // shutdown() or the destructor joins what is left.
    void requestShutdown();
    bool isRunning() const { return m_worker != nullptr && !m_closing; }
    // True once the worker's thread has ended (after requestShutdown) or when there is none.
    bool isIdle() const;

    void loadModel(const QString &modelDir, const QString &tokenizerPath = {},
                   const ModelLoadSettings &settings = {}) override;
    void startSearch(const SearchSettings &settings, const NeedleEvalSettings &samples, const QString &logPath = {},
                     bool resume = false, const NeedleEvalSettings &validation = NeedleEvalSettings{0, 0}) override;
    void score(quint64 requestId, const std::vector<double> &lambda, double attentionFactor,
               const NeedleEvalSettings &samples, int sampleCount = 0) override;
    void scoreReferences(quint64 requestId, const NeedleEvalSettings &samples) override;
    void pause() override;
    void resume() override;
    void stop() override;
    void startSweep(quint64 requestId, const SweepSettings &settings, const std::vector<SweepMethodSpec> &methods) override;
    void cancelSweep(quint64 requestId) override;
    QStringList availableDevices() const override;

private:
    bool accepting() const { return m_worker != nullptr && !m_closing; }

    QThread *m_thread;
    EvaluationWorker *m_worker;
    bool m_closing = false;  // requestShutdown() was called
};

} // namespace rs
