#pragma once
// Part eval (core/eval, ropescope_eval): measuring factors on a model — needle samples, the
// evaluators (needle PPL, sliding perplexity, passkey), the comparison table and the candidate
// scorer. May use runtime, rope, common and LibTorch in its .cpp files; never search, train or
// worker (the search meets the scorer in job/searchfitness.h).
//
// The evaluation engine every caller shares (the GUI's worker thread, the CLI, the search and the
// benchmarks): needle-driven perplexity over a fixed, seeded set of samples, ordinary perplexity
// of a text, and passkey accuracy by greedy decoding.
#include "runtime/model.h"
#include "eval/needle.h"
#include "eval/needlesettings.h"

#include <QString>

#include <functional>
#include <memory>
#include <vector>

namespace rs {

class Tokenizer;

struct NeedleEvalResult {
    int length = 0;
    std::vector<double> perSamplePpl;  // exp(mean NLL over the sample's answer tokens)
    std::vector<double> perSampleNll;
    double meanPpl = 0;                // mean of the per-sample perplexities
    std::vector<int> perSamplePasskey; // 1 where greedy decoding reproduced the answer; empty unless asked
    double passkeyAccuracy = -1;       // share of perSamplePasskey; -1 when not measured
    double seconds = 0;
    QString device;
    bool cancelled = false;            // stopped between samples; the vectors hold what was done
};

// The tokenizer of a model folder and the BOS id to start samples with (-1: none), as the folder
// asks: tokenizer_config.json's add_bos_token (with config.json's bos_token_id) when present, else
// what tokenizer.json's post-processor adds. Throws rs::Error naming the file.
struct ModelTokenizer {
    std::unique_ptr<Tokenizer> tokenizer;
    int bosId = -1;
};
ModelTokenizer loadModelTokenizer(const QString &modelDir);

class NeedleEvaluator {
public:
    using Cancelled = std::function<bool()>;
    using Progress = std::function<void(int done, int total)>;

    // Builds the samples once (same seed → same samples). Throws rs::Error for a bad corpus or a
    // length too short for the template.
    NeedleEvaluator(CausalLM &model, const Tokenizer &tokenizer, int bosId, const NeedleEvalSettings &settings);

    const NeedleEvalSettings &settings() const { return m_settings; }
    const std::vector<NeedleSample> &samples() const { return m_samples; }

    // rope == nullptr: the model's own RoPE for this length. `cancelled` is polled between samples.
    // With `passkey`, each sample's greedy continuation after the question is decoded from the
    // same forward's KV cache (CausalLM::scoreAnswer): the NLLs are the same, the passkey costs a
    // few single-token steps instead of a second forward per token.
    NeedleEvalResult evaluate(const RopeOverride *rope, const Cancelled &cancelled = {},
                              const Progress &progress = {}, bool passkey = false) const;
    // Mean NLL over one sample's answer tokens (the unit the search's racing works with).
    double sampleNll(int index, const RopeOverride *rope) const;
    // sampleNll for several candidates in one batched forward (CausalLM::targetNllBatch).
    std::vector<double> sampleNllBatch(int index, const std::vector<RopeOverride> &ropes) const;

    // Fraction of samples whose greedy continuation after the question reproduces the answer
    // tokens exactly.
    double passkeyAccuracy(const RopeOverride *rope, const Cancelled &cancelled = {}) const;

private:
    CausalLM &m_model;
    NeedleEvalSettings m_settings;
    std::vector<NeedleSample> m_samples;
};

// Perplexity of `ids` with a sliding window: each window of `window` tokens scores only the tokens
// not scored by the previous one (stride = window gives disjoint, truncated windows).
double slidingPerplexity(CausalLM &model, const std::vector<int> &ids, int window, int stride,
                         const RopeOverride *rope = nullptr);

// The same scoring, window by window: the summed NLL and the number of tokens each window scored
// (the units a bootstrap over windows resamples). exp(Σ nllSum / Σ tokens) is slidingPerplexity.
struct SlidingWindowScore {
    std::vector<double> nllSum;
    std::vector<int> tokens;
    double meanNll() const;  // over all scored tokens
};
SlidingWindowScore slidingWindowNll(CausalLM &model, const std::vector<int> &ids, int window, int stride,
                                    const RopeOverride *rope = nullptr, const NeedleEvaluator::Cancelled &cancelled = {});

} // namespace rs
