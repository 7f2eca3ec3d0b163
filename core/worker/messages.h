#pragma once
// Part worker_api (core/worker, ropescope_worker_api): what the GUI side sees of the worker — these
// messages, the EvaluationService interface and the run-log follower. May use search's and rope's
// plain types and eval/needlesettings.h; never runtime, eval, train or LibTorch, so the widgets
// that include it cannot reach a model.
//
// The worker's messages: the plain structs that cross the evaluation thread's boundary as queued
// signal arguments (model info, per-sample candidate evaluations, scores, search plans and
// outcomes); plain types only. The figures both the worker and a followed run log compute from
// them are in worker/searcharithmetic.h. QtCore, rope and search settings only: what the widgets
// may see.
#include "common/forwardcost.h"
#include "eval/needlesettings.h"
#include "eval/sweepresult.h"
#include "rope/ropeconfig.h"
#include "search/search.h"
#include "worker/searchjobsettings.h"

#include <QMetaType>
#include <QString>
#include <QStringList>

#include <vector>

namespace rs {

// What loading a model needs besides its folder.
struct ModelLoadSettings {
    // "cpu", "cuda:N", or "auto" (CUDA when available, else the CPU). The default is a search's
    // (SearchJobSettings: the CPU, in the GUI as in the CLI; it says why).
    QString device = SearchJobSettings::defaultDevice();
    QString dtype;  // empty: float32 on CPU, bfloat16 on CUDA
};

// A throughput the evaluation thread measured on the loaded model: FLOPs per second of a finished
// live score (common/forwardcost.h: measuredThroughput), on `device`, with a line saying what it
// was measured on. Prices made after it use it (ForwardCostFigures::measuredFlopsPerSecond).
struct MeasuredThroughput {
    QString device;
    double flopsPerSecond = 0;
    QString source;
};

// What a loaded model is, for the GUI to show and to build search settings from.
struct ModelInfo {
    QString directory;
    QString name;  // "embedded model" for the embedded one, else the folder (runtime/embeddedmodel.h)
    QString architecture;
    QString device;
    QString dtype;
    QString tokenizer;  // the tokenizer's description
    int layers = 0;
    int hiddenSize = 0;
    int vocabSize = 0;
    RopeConfig ropeConfig;
    double seconds = 0;  // load time
    QStringList warnings;  // what loading warned about (weights that are not finite …), one sentence each
    // The engine's figures for pricing a forward on this model's device before it starts
    // (common/forwardcost.h: estimateForwards).
    ForwardCostFigures cost;
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
    // What the run scores on, so that its figures are shown with their provenance and compared only
    // with figures on the same samples. searchSamples.seed is the search's seed (the CLI and the
    // GUI seed samples and search alike); validationSamples.samples == 0: no validation.
    QString model;  // the model folder; empty when the log does not say
    NeedleEvalSettings searchSamples;
    NeedleEvalSettings validationSamples{0, 0};
};

// The baselines a run scored at its start (original, PI, NTK, YaRN, Llama 3.1, the model's own) on
// its search samples and its validation samples, each with its own attention factor.
struct SearchBaselines {
    std::vector<BaselineScore> scores;
    FitnessAggregate fitness = FitnessAggregate::MeanPpl;  // how their per-sample scores combine
};

// A search spread over MPI ranks (`ropescope-cli search` under mpirun or srun): each scorer rank's
// share so far, from the run log's "rank_stats" entries (rank 0 coordinates and scores nothing).
struct RankStat {
    int rank = 0;
    QString host;
    QStringList devices;
    qint64 evaluations = 0;       // (candidate, sample) scores it returned
    double evaluationsPerSecond = 0;
    double idlePercent = 0;       // share of the run's wall time it spent not scoring
    QString lost;                 // why it was lost; empty while it serves
};
struct RankStatistics {
    std::vector<RankStat> ranks;
};

struct SearchOutcome {
    SearchResult result;  // result.bestAttentionFactor goes with result.bestLambda
    int targetLength = 0;
    QString logPath;
};

// Needle PPL of hand-tuned λ. Scores arrive sample by sample (EvaluationService::scoreProgress)
// until the request's `samplesWanted` are done (scoreReady).
struct ScoreResult {
    quint64 requestId = 0;
    double ppl = 0;                    // mean of perSamplePpl (the samples scored so far)
    std::vector<double> perSamplePpl;  // samples 0 … n−1 of `samples` (seeds seed … seed + n − 1)
    double seconds = 0;
    // The sample set the score was computed on and the model folder, so that it is only ever
    // compared with figures of the very same samples (paired, sample by sample).
    NeedleEvalSettings samples;
    QString model;
    double attentionFactor = 1.0;  // the attention factor the λ ran with
    int samplesWanted = 0;         // how many of `samples` the request scores (a quick score: 1)

    int samplesScored() const { return int(perSamplePpl.size()); }
    bool isComplete() const { return samplesScored() >= samplesWanted; }
};

// Needle PPL of the standard families on the same samples, at s = length / L_train.
struct ReferenceScore {
    QString name;  // "original", "pi", "ntk", "yarn"
    std::vector<double> lambda;
    double attentionFactor = 1.0;
    double ppl = 0;
    std::vector<double> perSamplePpl;  // sample i is sample i of a ScoreResult on the same samples
};

// The references are scored sample by sample, every family on sample 0 first, so that a quick
// figure (sample 0) can be compared early (EvaluationService::referencesProgress).
struct ReferenceScores {
    quint64 requestId = 0;
    int length = 0;
    std::vector<ReferenceScore> scores;
    NeedleEvalSettings samples;  // the sample set (length, count, depth, seed, corpus)
    QString model;               // the model folder
    int samplesScored = 0;       // each score's perSamplePpl holds this many samples (ppl: their mean)

    bool isComplete() const { return samplesScored >= samples.samples; }
};

// A workbench sweep as it begins: what it runs and how many cells it will report.
struct SweepPlan {
    quint64 requestId = 0;
    SweepSettings settings;
    std::vector<SweepMethodSpec> methods;
    int cells = 0;
    QString model;
    int trainLength = 0;
};

// One finished cell of a sweep (cells arrive in the engine's order; see eval/sweep.h).
struct SweepCellReport {
    quint64 requestId = 0;
    SweepCell cell;
    int done = 0;   // cells finished so far, this one included
    int total = 0;
};

// The whole result of a sweep (cancelled: the cells finished before the cancel).
struct SweepOutcome {
    quint64 requestId = 0;
    SweepResult result;
};

// Which request a failure belongs to.
enum class WorkerTask { LoadModel, Score, References, Search, Sweep };

// Registers the structs above for queued connections (idempotent).
void registerEvaluationMetaTypes();

} // namespace rs

Q_DECLARE_METATYPE(rs::ModelLoadSettings)
Q_DECLARE_METATYPE(rs::ModelInfo)
Q_DECLARE_METATYPE(rs::CandidateEvaluation)
Q_DECLARE_METATYPE(rs::SearchPlan)
Q_DECLARE_METATYPE(rs::SearchOutcome)
Q_DECLARE_METATYPE(rs::RankStatistics)
Q_DECLARE_METATYPE(rs::ScoreResult)
Q_DECLARE_METATYPE(rs::MeasuredThroughput)
Q_DECLARE_METATYPE(rs::ReferenceScores)
Q_DECLARE_METATYPE(rs::WorkerTask)
Q_DECLARE_METATYPE(rs::SearchSettings)
Q_DECLARE_METATYPE(rs::NeedleEvalSettings)
Q_DECLARE_METATYPE(rs::GenerationReport)
Q_DECLARE_METATYPE(rs::SearchBaselines)
Q_DECLARE_METATYPE(rs::SweepSettings)
Q_DECLARE_METATYPE(rs::SweepCell)
Q_DECLARE_METATYPE(rs::SweepResult)
Q_DECLARE_METATYPE(rs::SweepPlan)
Q_DECLARE_METATYPE(rs::SweepCellReport)
Q_DECLARE_METATYPE(rs::SweepOutcome)
