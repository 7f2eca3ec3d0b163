#pragma once
// Part search (core/search, ropescope_search): the LongRoPE2 / LongRoPE evolutionary search and
// its JSON Lines run log. May use rope and common; never runtime, eval or LibTorch: the fitness is
// a function passed in, so the algorithm is tested on synthetic fitness and runs unchanged on any
// model or cluster.
//
// Model-independent evolutionary search for RoPE rescale factors (DESIGN.md §1, LongRoPE2 Alg. 1–2
// and LongRoPE v1). The fitness is injected (lower is better), so the GUI worker and the CLI pass
// the needle-driven perplexity evaluator while tests pass synthetic functions. Every real
// evaluation goes to an append-only JSON Lines run log; a run resumed from its log re-runs the
// deterministic algorithm with every logged evaluation served from the fitness cache.
//
// A verdict needs held-out samples: a second, validation fitness re-scores each generation's best
// few candidates and picks the answer, and every run scores its baselines (the known families) on
// both sample sets at its start, so that its figures are compared with theirs on the same samples.
#include "rope/ropeoverride.h"

#include <QJsonObject>
#include <QString>
#include <QStringList>

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <vector>

namespace rs {

enum class SearchMethod {
    LongRoPE2,   // d_rcd gene in [dRcdMin, dRcdMax], factors ≥ d_rcd searched, NTK-left below
    LongRoPEv1,  // all d/2 factors searched, monotone, on the grid, in [1, s·upperBoundFactor]
};

// How a candidate's per-sample scores (needle PPL of each sample) become its fitness.
// MeanPpl is the paper's mean of per-sample perplexities; ExpMeanNll is exp of the mean per-sample
// NLL (the geometric mean of the per-sample PPLs: one sample whose needle is lost cannot outweigh
// the rest); MedianPpl the median. Lower is better for all three.
enum class FitnessAggregate { MeanPpl, ExpMeanNll, MedianPpl };
QString fitnessAggregateName(FitnessAggregate a);  // "mean_ppl", "exp_mean_nll", "median_ppl"
std::optional<FitnessAggregate> fitnessAggregateFromName(const QString &name);
// The aggregate the CLI and the GUI use unless told otherwise: the one whose ranking of a
// generation's candidates on one sample set best predicts their ranking on another (README, "A
// fitness that ranks stably"; `ropescope-cli rank-stability` measures it).
inline constexpr FitnessAggregate kRecommendedFitness = FitnessAggregate::ExpMeanNll;
// The aggregate of scores[0 … n − 1] (n ≥ 1). ExpMeanNll of a non-positive score is NaN.
double aggregateScores(FitnessAggregate a, const double *scores, int n);
inline double aggregateScores(FitnessAggregate a, const std::vector<double> &scores)
{
    return scores.empty() ? std::numeric_limits<double>::quiet_NaN() : aggregateScores(a, scores.data(), int(scores.size()));
}

struct SearchSettings {
    SearchMethod method = SearchMethod::LongRoPE2;
    int rotaryDims = 0;
    double base = 0;
    double trainLength = 0;   // L_train
    double targetLength = 0;  // L (s = L / L_train ≥ 1)
    int population = 64;
    int iterations = 40;      // generations after the initial one
    int parents = 0;          // 0 = population / 2 (v1: 32 of 64)
    int mutations = -1;       // -1 = (population − parents) / 2 (v1: 16)
    int crossovers = -1;      // -1 = population − parents − mutations (v1: 16)
    double mutationProbability = 0.3;     // per searched dimension
    double dRcdMutationProbability = 0.2; // LongRoPE2: chance that a mutation shifts d_rcd by ±1
    double lowerBoundFactor = 1.0;        // LongRoPE2: λ_{≥d_rcd} ∈ [s·lower, s·upper]
    double upperBoundFactor = 2.0;        // v1: λ ∈ [1, s·upper]
    int dRcdMin = -1;         // -1 = d_10 (tenPeriodDimension)
    int dRcdMax = -1;         // -1 = d_tcd (theoreticalCriticalDimension), at most d/2 − 1
    double grid = 0.01;       // v1 factor grid step
    uint64_t seed = 1;
    int maxEvaluations = 0;   // real (sample) calls of either fitness in this run, baselines included; 0 = unlimited
    double maxSeconds = 0;    // wall clock of this run; 0 = unlimited

    // Racing over the samples of a sampled fitness (no effect with one sample). Each generation
    // (parents and children together; what a member already knows is reused) is scored on sample 0,
    // the best ceil(racingKeepFraction · n) by mean over the samples so far go on to the next
    // sample, until the survivors have all K. Ranking: members that reached more samples rank above
    // members eliminated earlier, ties broken by the mean over the samples they reached. So an
    // eliminated member ranks below every survivor, and parents are chosen from that ranking.
    bool racing = false;
    double racingKeepFraction = 0.5;  // (0, 1]

    // The attention factor (cos and sin multiplied by it, LongRoPE/YaRN mscale). Not searched:
    // every candidate gets `attentionFactor` (0 = longrope's sqrt(1 + ln s / ln L_train), which both
    // methods' exported longrope configs use). Searched: a gene in [attentionFactorMin, Max];
    // mutation (probability mutationProbability) draws it uniformly within a quarter of the range
    // either side of the parent's value, crossover inherits it from either parent, initial member 0
    // starts at the default factor clamped to the bounds and the others uniformly in the bounds.
    bool searchAttentionFactor = false;
    double attentionFactor = 0;
    double attentionFactorMin = 1.0;
    double attentionFactorMax = 1.5;

    // How per-sample scores combine (the library default is the paper's mean, which also suits
    // synthetic fitnesses of any sign; the CLI and the GUI default to what ranks more stably).
    FitnessAggregate fitness = FitnessAggregate::MeanPpl;

    // Start from the best known points: generation 0 holds the families (the hooks' baselines, or
    // original, PI, NTK, YaRN and Llama 3.1 at s) projected into the search space (familySeeds()).
    // LongRoPE v1 then fills the population with mutations of them, as the original LongRoPE does;
    // LongRoPE2 with its random members. With elitism the answer is never worse on the search's
    // samples than the best seeded member.
    bool seedFamilies = true;

    // With a validation fitness (run's second SampledFitness): after each generation its best
    // `validationTop` distinct fully scored members (generation 0: also every fully scored seeded
    // member, so the answer is never worse on the validation samples than those) are
    // scored on the validation samples; a candidate validated before is not scored again, so an
    // elite that stays on top costs nothing. Three: the search fitness's ranking is noisy enough
    // that the held-out best is often the second or third, while 3·K_v per generation stays a
    // small share of a generation's cost (32 children · K at the paper's settings).
    int validationTop = 3;
    // The run's answer: the validated candidate with the best validation fitness (true), or the
    // best search fitness (false). Without a validation fitness always the latter.
    bool chooseByValidation = true;

    // Extensions of LongRoPE2's space beyond the paper (issue 25: the answers at 2×, 4× and 8× sat
    // on its bounds), each off by default; the run log records those that are on.
    //  - decoupleAnchor: the NTK-left curve below d_rcd is anchored at a searched index a ≥ d_rcd
    //    (λ_i = min(λ_a^(i/a), λ_d_rcd), as the published LLaMA3-8B factors anchor at 33 while
    //    λ ≥ s holds from 30) instead of at d_rcd itself;
    //  - dRcdAboveTcd: the d_rcd range's default top is d/2 − 1 instead of d_tcd;
    //  - keepOriginalDims: the first k dimensions keep λ = 1 (k ≤ the d_rcd range's bottom).
    bool decoupleAnchor = false;
    bool dRcdAboveTcd = false;
    int keepOriginalDims = 0;

    double scale() const { return trainLength > 0 ? targetLength / trainLength : 0.0; }
};

// Small deterministic generator (splitmix64), identical on every platform and standard library.
class SearchRng {
public:
    explicit SearchRng(uint64_t seed = 1) : m_state(seed) {}
    uint64_t next();
    double uniform();                    // [0, 1)
    double uniform(double lo, double hi);  // [lo, hi]
    int below(int n);                    // [0, n)

private:
    uint64_t m_state;
};

// LongRoPE2: the d_rcd gene and the factors at and above it (d/2 − d_rcd entries).
// v1: dRcd = 0 and all d/2 factors.
struct SearchGenome {
    int dRcd = 0;
    std::vector<double> upper;
    double attentionFactor = 1.0;  // the fixed factor unless searchAttentionFactor
    int anchor = -1;  // SearchSettings::decoupleAnchor: the NTK-left anchor, in [dRcd, d/2 − 1]; else -1
};

// What a fitness scores: the factors and the attention factor they run with — the same struct a
// model runs, so that the caller's fitness passes candidates straight to its evaluator.
using Candidate = RopeOverride;

// A reference factor set every run scores at its start on both sample sets (original, PI, NTK,
// YaRN, Llama 3.1, the model's own), each with its own attention factor.
struct SearchBaseline {
    QString name;
    Candidate candidate;
};

struct BaselineScore {
    QString name;
    Candidate candidate;
    std::vector<double> searchScores;      // per search sample
    std::vector<double> validationScores;  // per validation sample (empty without validation)
    double searchFitness = std::numeric_limits<double>::quiet_NaN();
    double validationFitness = std::numeric_limits<double>::quiet_NaN();
};

struct GenerationReport {
    int generation = 0;  // 0 = initial population
    // The run's answer so far: with validation (and chooseByValidation) the validated candidate
    // with the best validation fitness, else the best full (all-sample) search fitness so far.
    double bestFitness = 0;         // its search fitness
    double medianFitness = 0;       // over the members scored on every sample (all without racing)
    std::vector<double> bestLambda;
    int bestDRcd = -1;              // -1 for v1
    double bestAttentionFactor = 1.0;
    std::vector<int> memberDRcd;    // every member of this generation
    int evaluations = 0;            // real (sample) fitness calls so far in this run
    int cacheHits = 0;
    // Whole search so far (a resumed log included), see SearchResult.
    int samples = 1;
    int candidates = 0;
    int sampleEvaluations = 0;
    int fullyEvaluated = 0;         // members of this generation scored on every sample
    // Validation (NaN without it): the answer's validation fitness; and the candidate with the best
    // search fitness so far — the "training" curve — with its validation fitness (NaN until it is
    // validated), the held-out curve beside it.
    double bestValidationFitness = std::numeric_limits<double>::quiet_NaN();
    double searchBestFitness = 0;
    double searchBestValidationFitness = std::numeric_limits<double>::quiet_NaN();
    int validationEvaluations = 0;  // real validation-fitness calls so far in this run (baselines' excluded)
    int baselineEvaluations = 0;    // real calls for the baselines (both sets) in this run
};

enum class StopReason { Done, Budget, Cancelled };
QString stopReasonName(StopReason r);

struct SearchResult {
    // The answer (see GenerationReport): chosen by validation fitness when there is one.
    std::vector<double> bestLambda;
    // The bounds of LongRoPE2's space the answer sits on, one sentence each (search/spacebounds.h);
    // logged in `finish` as "space_bounds" when there is one.
    QStringList spaceBounds;
    double bestFitness = 0;  // its search fitness
    double bestValidationFitness = std::numeric_limits<double>::quiet_NaN();
    int bestDRcd = -1;
    double bestAttentionFactor = 1.0;
    bool chosenByValidation = false;  // the answer is the validation choice
    // The best search fitness of the run (= the answer when chosen by search).
    std::vector<double> searchBestLambda;
    double searchBestFitness = 0;
    double searchBestValidationFitness = std::numeric_limits<double>::quiet_NaN();
    int searchBestDRcd = -1;
    double searchBestAttentionFactor = 1.0;
    std::vector<BaselineScore> baselines;  // scored at the start (empty when none were given)
    int evaluations = 0;  // real (sample) search-fitness calls for candidates in this run
    int validationEvaluations = 0;  // real validation-fitness calls for candidates in this run
    int baselineEvaluations = 0;    // real calls (both fitnesses) for the baselines in this run
    int cacheHits = 0;    // sample scores served from the cache (earlier in the run or the resumed log)
    int generations = 0;  // completed generations, the initial one included
    StopReason stopReason = StopReason::Done;
    // The cost of the whole search, the part replayed from a resumed log included (so an
    // interrupted and resumed run reports what an uninterrupted one does): K, the distinct
    // candidates scored on at least one sample, and the distinct (candidate, sample) scores used.
    // Without racing every candidate costs K; savedEvaluations() is what racing saved.
    int samples = 1;
    int candidates = 0;
    int sampleEvaluations = 0;
    int savedEvaluations() const { return samples * candidates - sampleEvaluations; }
};

// Whole fitness of the factors alone (the attention factor is the fixed one).
using Fitness = std::function<double(const std::vector<double> &lambda)>;
// Whole fitness of a candidate (needed when the attention factor is searched).
using CandidateFitness = std::function<double(const Candidate &candidate)>;
// Fitness of a candidate on one sample, 0 ≤ sample < K.
using SampleFitness = std::function<double(const Candidate &candidate, int sample)>;

// Fitness of several candidates on the same sample in one call (one score per candidate, in
// order): a batched forward, or the candidates spread over model replicas on several devices.
using BatchSampleFitness = std::function<std::vector<double>(const std::vector<Candidate> &candidates, int sample)>;

// Takes one score of a streaming call as it arrives: the candidate's index in the call, its score.
// Returns whether the call may go on sending work (false: cancelled or out of time; the call then
// starts nothing new and returns once what is running has answered).
using ScoreSink = std::function<bool(size_t index, double score)>;
// A batch fitness that hands each score over as soon as it has it, in any order, instead of all at
// the end: every candidate's score exactly once, unless the sink asked it to stop.
using StreamingSampleFitness =
    std::function<void(const std::vector<Candidate> &candidates, int sample, const ScoreSink &each)>;

// A per-sample fitness and its sample count K; a candidate's fitness is the mean of its K scores.
struct SampledFitness {
    SampleFitness fitness;
    int samples = 1;
    // Optional. When set, the search scores a generation sample by sample (sample k of every member
    // that needs it, then k + 1 …) and hands the real evaluations of each sample to `batch` in
    // groups of at most maxBatch, in member order; `fitness` is then not needed. Scores, ranking
    // and result are those of the one-at-a-time order (racing already goes sample by sample;
    // without it only the log's order differs, and where a budget cuts the run short).
    BatchSampleFitness batch;
    int maxBatch = 8;
    // Optional, beside `batch`: used in its place, with no maxBatch cut. The search hands a whole
    // round of a sample (every member still to score on it, within the budget) to one call and
    // logs each score as it arrives. For a queue over many ranks (core/distributed): no barrier
    // inside a round, where cutting a round into maxBatch calls made every rank wait at each cut
    // for the slowest, and a lost rank 0 loses only the evaluations that were running.
    StreamingSampleFitness stream;
    // A whole fitness as a sampled one with K = 1.
    static SampledFitness whole(const CandidateFitness &fitness);
};

struct SearchHooks {
    std::function<bool()> cancelled;  // polled before every real (sample) evaluation
    std::function<void(const GenerationReport &)> onGeneration;
    // Scored at the start on the search samples and (with validation) the validation samples, and
    // logged; also the families SearchSettings::seedFamilies projects. Empty: none are scored, and
    // seeding uses defaultBaselines().
    std::vector<SearchBaseline> baselines;
    // Called once the baselines are scored (or replayed from a resumed log), before any candidate
    // is evaluated: every search-fitness call before it is a baseline's.
    std::function<void(const std::vector<BaselineScore> &)> onBaselines;
    // Empty = no log; a new log must not exist yet (or be empty). The log is locked (QLockFile
    // PATH.lock) while the run writes it: a second process resuming it is refused, naming the
    // holder's pid and host.
    QString logPath;
    // What the fitness measures (model, corpus, samples, length …): written into the log's start
    // event and, like the settings, required to match when resuming.
    QJsonObject context;
    bool resume = false;  // continue the existing log at logPath (same settings, budgets aside)
    // Informational entries the caller adds to the log (each with its own "event" name, e.g. the
    // MPI coordinator's "rank_lost" and "rank_stats"; a resume skips them): polled after every
    // batch of real evaluations (atGeneration false) and just before each "generation" and the
    // "finish" entry (true), so the log stays the one record a follower reads.
    std::function<std::vector<QJsonObject>(bool atGeneration)> logEvents;
};

class EvolutionSearch {
public:
    // Validates and resolves the defaults; throws rs::Error.
    explicit EvolutionSearch(const SearchSettings &settings);

    const SearchSettings &settings() const { return m_settings; }  // defaults resolved
    double scale() const { return m_scale; }
    double lowerBound() const { return m_lo; }  // of the searched factors
    double upperBound() const { return m_hi; }

    // The attention factor candidates get when it is not searched (the resolved default).
    double fixedAttentionFactor() const { return m_settings.attentionFactor; }

    std::vector<double> lambdaOf(const SearchGenome &g) const;
    Candidate candidateOf(const SearchGenome &g) const { return {lambdaOf(g), g.attentionFactor}; }
    // Initial member `index` of the population (LongRoPE2: d_rcd candidates spread over the
    // population, λ_{≥d_rcd} = s' random in bounds; v1: PI, then random monotone vectors).
    SearchGenome initialMember(int index, SearchRng &rng) const;
    SearchGenome mutate(const SearchGenome &g, SearchRng &rng) const;
    // Both parents must share d_rcd; per-dimension mix, then running max and clamp.
    SearchGenome crossover(const SearchGenome &a, const SearchGenome &b, SearchRng &rng) const;

    // Original, PI, NTK, YaRN (β 32/1) and Llama 3.1 (bands 1/4) at s, each with its own attention
    // factor: what seeding uses when the caller gives no baselines.
    std::vector<SearchBaseline> defaultBaselines() const;
    // The member nearest to `family` (least squares in log λ over every dimension) that the search
    // space allows: LongRoPE2 at d_rcd `dRcd` (NTK-left below, monotone in [s·lower, s·upper] from
    // d_rcd on), v1 monotone on the grid in [1, s·upper] (dRcd ignored). Exact: a weighted
    // isotonic regression (pool adjacent violators) clamped to the bounds. The attention factor is
    // the fixed one, or the family's clamped to the gene's bounds when it is searched.
    SearchGenome project(const Candidate &family, int dRcd = 0) const;
    // Generation 0's seeds, distinct, in order. v1: each family's projection. LongRoPE2: every
    // family's nearest member over all d_rcd candidates first, then the other (family, d_rcd)
    // projections by distance up to a quarter of the population (the rest stays random: the spread
    // the search explores from; more seeds crowd it out and trap small runs near the families).
    std::vector<SearchGenome> familySeeds(const std::vector<SearchBaseline> &families) const;

    SearchResult run(const Fitness &fitness, const SearchHooks &hooks = {});
    // Every evaluation of one sample is logged and cached on its own: a resumed run replays them
    // and evaluates none twice. K and racing are part of the settings a resume must match.
    SearchResult run(const SampledFitness &fitness, const SearchHooks &hooks = {});
    // With held-out validation samples (SearchSettings::validationTop, chooseByValidation): its
    // evaluations are logged ("validation_eval") and replayed on resume like the search's.
    SearchResult run(const SampledFitness &fitness, const SampledFitness &validation, const SearchHooks &hooks = {});

private:
    double snap(double v, double lo, double hi) const;
    SearchSettings m_settings;
    double m_scale = 1;
    double m_lo = 1;
    double m_hi = 2;
    int m_pairs = 0;
    bool m_attentionGiven = false;  // attentionFactor was set explicitly (logged only then)
};

// Convenience: EvolutionSearch(settings).run(fitness, hooks).
SearchResult runSearch(const SearchSettings &settings, const Fitness &fitness, const SearchHooks &hooks = {});
SearchResult runSearch(const SearchSettings &settings, const SampledFitness &fitness, const SearchHooks &hooks = {});
SearchResult runSearch(const SearchSettings &settings, const SampledFitness &fitness, const SampledFitness &validation,
                       const SearchHooks &hooks = {});

} // namespace rs
