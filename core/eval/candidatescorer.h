#pragma once
// Scores many factor candidates on the seeded needle samples for the search: needle PPL of each
// candidate on one sample, the candidates of a call spread over one model replica per device
// (several GPUs) and, on each replica, scored in one batched forward (CausalLM::targetNllBatch,
// each row with its own λ), so a small model fills its GPU and several GPUs share a generation.
// The GUI's worker and `ropescope-cli search` both score through it (their search job); job/
// searchfitness.h makes it the search's fitness (eval and search stay strangers: they meet there).
#include "eval/evaluator.h"
#include "runtime/model.h"

#include <QStringList>

#include <memory>
#include <vector>

namespace rs {

class CandidateScorer {
public:
    // Replica 0 is `model` (already loaded, not owned). Each entry of extraDevices ("cuda:1",
    // "cpu" …) loads one more replica from modelDir with `model`'s dtype. Every replica builds the
    // same samples from `settings`. Throws rs::Error naming the folder or device.
    CandidateScorer(CausalLM &model, const Tokenizer &tokenizer, int bosId, const NeedleEvalSettings &settings,
                    const QString &modelDir = {}, const QStringList &extraDevices = {});

    int replicas() const { return int(m_evaluators.size()); }
    QStringList devices() const { return m_devices; }
    int samples() const;
    const NeedleEvaluator &evaluator() const { return *m_evaluators.front(); }

    // Needle PPL (exp of the mean answer-token NLL) of every candidate on sample `sample`, in
    // order. The candidates are cut into contiguous shares, one per replica (sizes differing by at
    // most one), and the replicas run at the same time, each on its own thread.
    std::vector<double> samplePpl(const std::vector<RopeOverride> &candidates, int sample) const;

    // Candidates per forward and replica that suit the device: 8 on a GPU, 1 on the CPU, where
    // targetNllBatch runs candidates one after another anyway.
    static int defaultBatch(const CausalLM &model);
    // The devices of the replicas `ropescope-cli search` uses for a model on `device`: every
    // visible GPU for CUDA ("cuda:0" … "cuda:N−1", `device` first), `device` alone otherwise.
    static QStringList defaultDevices(const QString &device);

private:
    // Declared before the evaluators that refer to them, so they are destroyed after them.
    std::vector<std::unique_ptr<CausalLM>> m_ownedReplicas;
    std::vector<std::unique_ptr<NeedleEvaluator>> m_evaluators;
    QStringList m_devices;
};

} // namespace rs
