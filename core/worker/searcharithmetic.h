#pragma once
// Part worker_api (core/worker, ropescope_worker_api): the arithmetic the worker, the search job and
// a followed run log share over the plain messages (worker/messages.h): how many evaluations a run
// takes and what its budget counts, its reference families, the d_rcd gene recovered from λ, and
// per-sample scores grouped into candidate fitness. Plain C++, rope and search only.
#include "rope/ropeconfig.h"
#include "search/search.h"

#include <map>
#include <string>
#include <vector>

namespace rs {

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
    // How Entry::meanPpl combines the samples (the search's aggregate; the mean by default).
    void setAggregate(FitnessAggregate aggregate) { m_aggregate = aggregate; }
    int candidateCount() const { return int(m_candidates.size()); }

private:
    struct Scores {
        int id = 0;
        std::map<int, double> bySample;
    };
    std::map<std::string, Scores> m_candidates;
    FitnessAggregate m_aggregate = FitnessAggregate::MeanPpl;
};

// How many real evaluations a full run of `settings` with K samples takes at most (budgets
// included): K per candidate of the initial population and of each iteration's mutations and
// crossovers (racing and repeated children take fewer). Throws rs::Error for invalid settings.
int expectedEvaluations(const SearchSettings &settings, int samples = 1);

// What a run costs in real evaluations (one candidate on one sample), split as its budget
// (SearchSettings::maxEvaluations) counts them: the search samples (expectedEvaluations), at most
// validationTop candidates per generation on the validation samples (generation 0 also every
// seeded family), and every baseline on both sample sets.
struct EvaluationBudget {
    int search = 0;
    int validationAtMost = 0;
    int baselines = 0;
    long long total() const { return (long long)search + validationAtMost + baselines; }
};
// `validationSamples` 0: no validation. Throws rs::Error for invalid settings.
EvaluationBudget evaluationBudget(const SearchSettings &settings, int samples, int validationSamples, int baselineCount);

// The d_rcd gene of a LongRoPE2 candidate recovered from its λ: the largest c in [dRcdMin, dRcdMax]
// whose NTK-left reconstruction from λ[c…] reproduces λ exactly (a smaller c reproduces the
// NTK-left part too, a larger one would need searched factors on the NTK curve). -1 when none fits.
int inferDRcd(const std::vector<double> &lambda, const SearchSettings &resolved);

// The search's reference families for a model at a sample length: original, then PI, NTK, YaRN,
// Llama 3.1 and, if the config carries factors, its own ("config"), each with its own attention
// factor, at s = length / L_train (at least 1). The GUI's worker and `ropescope-cli search` score
// the same list, so either can resume the other's log.
std::vector<SearchBaseline> searchBaselines(const RopeConfig &config, int length);

} // namespace rs
