#pragma once
// The GUI's background evaluation thread (DESIGN.md §2): one QObject worker that owns the model,
// its tokenizer and the needle evaluators, living on its own QThread so that the GUI never waits
// on LibTorch. Requests arrive as queued calls; results leave as queued signals carrying the plain
// structs below. Stop, pause and the superseding of hand-tuning scores are thread-safe flags the
// worker polls between evaluations (and between samples), because while a search runs the worker's
// event loop is busy inside it and queued calls would only be seen after the search.
//
// QtCore and plain C++ types only: LibTorch stays in the .cpp files behind model.h / evaluator.h.
#include "evaluator.h"
#include "ropeconfig.h"
#include "search.h"

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
class Tokenizer;

// What loading a model needs besides its folder.
struct ModelLoadSettings {
    QString device = QStringLiteral("auto");  // "auto": CUDA when available, else CPU
    QString dtype;                            // empty: float32 on CPU, bfloat16 on CUDA
};

// What a loaded model is, for the GUI to show and to build search settings from.
struct ModelInfo {
    QString directory;
    QString architecture;
    QString device;
    QString dtype;
    QString tokenizer;  // the tokenizer's description
    int layers = 0;
    int hiddenSize = 0;
    int vocabSize = 0;
    RopeConfig ropeConfig;
    double seconds = 0;  // load time
};

// One real evaluation of the search: one candidate (λ and attention factor) scored on one needle
// sample (the search scores samples one by one; cache hits are not evaluations). It also carries
// the candidate's fitness so far: the mean PPL over the samples it has been scored on in this run,
// which is its fitness once samplesScored == samples (racing may stop a candidate earlier).
struct CandidateEvaluation {
    int candidate = 0;   // 1-based id of the candidate in this run (or log), in order of first evaluation
    int generation = 0;  // the generation being evaluated (0 = initial population)
    // 0-based among the candidates first evaluated in this generation; -1 when this evaluation
    // scores another sample of a candidate met before (its point is refined, not added).
    int indexInGeneration = 0;
    int evaluation = 0;  // 1-based count of real evaluations in this run
    int dRcd = -1;       // LongRoPE2's d_rcd gene; -1 for v1 or when unknown
    std::vector<double> lambda;
    double attentionFactor = 1.0;
    int sample = 0;         // the sample this evaluation scored
    int samples = 1;        // K: the samples a full evaluation takes
    int samplesScored = 1;  // samples of this candidate scored so far, this one included
    double samplePpl = 0;   // needle PPL on this sample; +inf for a non-finite one
    double ppl = 0;         // mean needle PPL over the samples scored so far
    double seconds = 0;     // wall time of this evaluation; 0 when unknown (read from a log)
    bool live = true;       // false for entries replayed from the backlog of a followed log

    bool isComplete() const { return samplesScored >= samples; }
};

// Groups per-sample evaluations by candidate (exact λ and attention factor): what the worker and
// a followed log both need to turn sample scores into candidate fitness.
class CandidateScoreBook {
public:
    struct Entry {
        int candidate = 0;   // 1-based id
        bool isNew = false;  // first evaluation of this candidate
        int samplesScored = 0;
        double meanPpl = 0;
    };
    Entry add(const std::vector<double> &lambda, double attentionFactor, int sample, double ppl);
    void clear();
    int candidateCount() const { return int(m_candidates.size()); }

private:
    struct Scores {
        int id = 0;
        std::map<int, double> bySample;
    };
    std::map<std::string, Scores> m_candidates;
};

// A search as it begins: the settings with their defaults resolved and how many real evaluations a
// full run takes (the ETA's denominator; an upper bound with racing).
struct SearchPlan {
    SearchSettings settings;
    int samples = 1;               // K
    int expectedEvaluations = 0;
    int targetLength = 0;          // needle sample length (= settings.targetLength)
    double attentionFactor = 1.0;  // the fixed attention factor (unless it is searched)
    QString logPath;
    bool resumed = false;
};

struct SearchOutcome {
    SearchResult result;  // result.bestAttentionFactor goes with result.bestLambda
    int targetLength = 0;
    QString logPath;
};

struct ScoreResult {
    quint64 requestId = 0;
    double ppl = 0;
    std::vector<double> perSamplePpl;
    double seconds = 0;
};

// Needle PPL of the standard families on the same samples, at s = length / L_train.
struct ReferenceScore {
    QString name;  // "original", "pi", "ntk", "yarn"
    std::vector<double> lambda;
    double attentionFactor = 1.0;
    double ppl = 0;
};

struct ReferenceScores {
    quint64 requestId = 0;
    int length = 0;
    std::vector<ReferenceScore> scores;
};

// Which request a failure belongs to.
enum class WorkerTask { LoadModel, Score, References, Search };

// How many real evaluations a full run of `settings` with K samples takes at most (budgets
// included): K per candidate of the initial population and of each iteration's mutations and
// crossovers (racing and repeated children take fewer). Throws rs::Error for invalid settings.
int expectedEvaluations(const SearchSettings &settings, int samples = 1);

// The d_rcd gene of a LongRoPE2 candidate recovered from its λ: the largest c in [dRcdMin, dRcdMax]
// whose NTK-left reconstruction from λ[c…] reproduces λ exactly (a smaller c reproduces the
// NTK-left part too, a larger one would need searched factors on the NTK curve). -1 when none fits.
int inferDRcd(const std::vector<double> &lambda, const SearchSettings &resolved);

class EvaluationWorker : public QObject {
    Q_OBJECT

public:
    explicit EvaluationWorker(QObject *parent = nullptr);
    ~EvaluationWorker() override;

    // Thread-safe: callable from any thread while the worker is busy. stop() ends a running search
    // before its next evaluation (the running one, a single sample, completes, so the run log stays
    // exact); pause() blocks the search between evaluations until resume() or stop().
    void stop();
    void pause();
    void resume();
    bool isPaused() const { return m_paused.load(); }
    // Thread-safe: ends whatever runs as soon as possible (a search, a score or the references, all
    // between samples) and refuses later requests. For shutdown.
    void abort();

    // Thread-safe: only the latest pending request of each kind is kept. The scores are computed by
    // the worker as soon as it is free, or between two evaluations of a running search; a newer
    // request also cancels a stale one that is being computed (between samples).
    void requestScore(quint64 requestId, const std::vector<double> &lambda, double attentionFactor,
                      const NeedleEvalSettings &samples);
    void requestReferences(quint64 requestId, const NeedleEvalSettings &samples);

public Q_SLOTS:
    // Queued from the owner's thread; they run on the worker's thread.
    void loadModel(const QString &modelDir, const QString &tokenizerPath, const rs::ModelLoadSettings &settings);
    void startSearch(const rs::SearchSettings &settings, const rs::NeedleEvalSettings &samples,
                     const QString &logPath, bool resume);

Q_SIGNALS:
    void loadProgress(const QString &message);
    void modelLoaded(const rs::ModelInfo &info);
    void searchStarted(const rs::SearchPlan &plan);
    void candidateEvaluated(const rs::CandidateEvaluation &candidate);
    void generationFinished(const rs::GenerationReport &report);
    void searchPausedChanged(bool paused);
    void searchFinished(const rs::SearchOutcome &outcome);
    void scoreReady(const rs::ScoreResult &score);
    void referencesReady(const rs::ReferenceScores &references);
    // An rs::Error's message (it names the file or source); the worker and its model are unharmed.
    void failed(rs::WorkerTask task, const QString &message);

private:
    struct Loaded;
    struct ScoreRequest {
        quint64 id = 0;
        std::vector<double> lambda;
        double attentionFactor = 1.0;
        NeedleEvalSettings samples;
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
    void serveReferences(const ReferenceRequest &request);

    std::unique_ptr<Loaded> m_loaded;           // worker thread only
    std::unique_ptr<NeedleEvaluator> m_scoring;  // worker thread only; samples for scores
    std::atomic<bool> m_stop{false};
    std::atomic<bool> m_abort{false};
    std::atomic<bool> m_paused{false};

    mutable QMutex m_mutex;  // guards the pending requests and the pause wait
    QWaitCondition m_wake;
    std::optional<ScoreRequest> m_pendingScore;
    std::optional<ReferenceRequest> m_pendingReferences;
    bool m_servePosted = false;
};

// Owns the worker's thread: creates it, moves a fresh worker onto it and, on destruction, aborts
// whatever runs, quits the thread and joins it. The request methods forward as queued calls (or,
// for the thread-safe ones, directly).
class EvaluationThread : public QObject {
    Q_OBJECT

public:
    explicit EvaluationThread(QObject *parent = nullptr);
    ~EvaluationThread() override;

    // Connect to its signals (they arrive queued on the receiver's thread). Null after shutdown().
    EvaluationWorker *worker() const { return m_worker; }

    // Aborts whatever runs (within one evaluation, or between samples of it), quits the thread and
    // joins it; the worker and its model are gone afterwards and later requests are ignored. The
    // destructor does this too.
    void shutdown();
    bool isRunning() const { return m_worker != nullptr; }

    void loadModel(const QString &modelDir, const QString &tokenizerPath = {}, const ModelLoadSettings &settings = {});
    void startSearch(const SearchSettings &settings, const NeedleEvalSettings &samples, const QString &logPath = {},
                     bool resume = false);
    void score(quint64 requestId, const std::vector<double> &lambda, double attentionFactor,
               const NeedleEvalSettings &samples);
    void scoreReferences(quint64 requestId, const NeedleEvalSettings &samples);
    void pause();
    void resume();
    void stop();

private:
    QThread *m_thread;
    EvaluationWorker *m_worker;
};

void registerEvaluationMetaTypes();

} // namespace rs

Q_DECLARE_METATYPE(rs::ModelLoadSettings)
Q_DECLARE_METATYPE(rs::ModelInfo)
Q_DECLARE_METATYPE(rs::CandidateEvaluation)
Q_DECLARE_METATYPE(rs::SearchPlan)
Q_DECLARE_METATYPE(rs::SearchOutcome)
Q_DECLARE_METATYPE(rs::ScoreResult)
Q_DECLARE_METATYPE(rs::ReferenceScores)
Q_DECLARE_METATYPE(rs::WorkerTask)
Q_DECLARE_METATYPE(rs::SearchSettings)
Q_DECLARE_METATYPE(rs::NeedleEvalSettings)
Q_DECLARE_METATYPE(rs::GenerationReport)
