#pragma once
// Part job: a simulated fitness for scale tests (`search --simulate-fitness`). It needs no model:
// each evaluation sleeps a given time (optionally jittered) and scores the candidate by a known
// function of λ, so the queue runs unchanged and the search's answer can be checked.
//
// Score of candidate λ on sample k of a set (k from 0):
//   D = (1 / n) Σ_i (ln λ_i − ln t_i)²          over the n = rotaryDims / 2 pairs
//   score = exp(D) · (1 + 0.01 k)                (a "needle PPL": 1 at the target on sample 0)
// with the target t a LongRoPE2 member: d* = ⌊(d_10 + d_tcd) / 2⌋, t_i = s · (1 + 0.5 (i − d*) /
// max(1, n − 1 − d*)) for i ≥ d* (s to 1.5 s), t_i = t_d*^(i / d*) below (NTK-left), s = L / L_train.
// A failure rate p makes an evaluation NaN (a diverged model) when a hash of (λ, set, sample)
// falls below p: the same evaluations fail in every run, with any number of ranks.
#include "search/runlogcodec.h"
#include "search/search.h"

#include <QString>

#include <vector>

namespace rs {

struct SimulatedFitnessSpec {
    double seconds = 0;   // per evaluation
    double jitter = 0;    // relative: each evaluation sleeps seconds · U(1 − jitter, 1 + jitter)
    double failRate = 0;  // share of evaluations that give NaN, in [0, 1]
};

// Parses "DURATION[,jitter=F][,fail=P]" (DURATION: 0.5s, 100ms or plain seconds; F and P in
// [0, 1]). Returns the problem, or an empty string with `out` filled.
QString parseSimulatedFitness(const QString &text, SimulatedFitnessSpec &out);

// The simulated fitness for a search of these settings (their RoPE fields and target length).
class SimulatedFitness {
public:
    SimulatedFitness(const SimulatedFitnessSpec &spec, const SearchSettings &resolved);

    const SimulatedFitnessSpec &spec() const { return m_spec; }
    const std::vector<double> &target() const { return m_target; }
    // The score without the sleep (NaN for a failing evaluation).
    double value(const Candidate &c, SampleSetName set, int sample) const;
    // The scores of `candidates`, one after another, each after its sleep.
    std::vector<double> score(SampleSetName set, const std::vector<Candidate> &candidates, int sample) const;
    // As the search's batch fitness, `perJob` candidates per call. Must outlive the fitness.
    SampledFitness fitness(SampleSetName set, int samples, int perJob) const;

private:
    SimulatedFitnessSpec m_spec;
    std::vector<double> m_target;
};

} // namespace rs
