#pragma once
// Part runtime (core/runtime, ropescope_runtime): running a model — safetensors (read and write),
// Hugging Face tokenizers, the LibTorch causal LM and the embedded model. The part whose job is
// LibTorch: its headers appear only in .cpp files and *_p.h internal headers. May use rope and
// common; never eval, search, train or worker.
//
// A decoder-only Llama-family causal language model (llama, mistral, qwen2, phi3) loaded from a
// Hugging Face folder (config.json + model.safetensors or shards) and run with LibTorch; its
// logits match transformers' eager implementation. The RoPE can be overridden per call with a
// λ vector and an attention factor: that is what the factor search evaluates.
//
// Plain C++/Qt types only: LibTorch stays behind model_p.h.
#include "rope/ropeconfig.h"
#include "rope/ropeoverride.h"  // replaces the config's RoPE for one call

#include <QJsonObject>
#include <QString>
#include <QStringList>

#include <cstdint>
#include <memory>
#include <vector>

namespace rs {

namespace detail {
struct TorchModel;
}

struct ModelOptions {
    QString device = QStringLiteral("cpu");  // "cpu", "cuda", "cuda:N", or "auto" (cuda when available, else cpu)
    QString dtype;                           // "float32", "bfloat16", "float16"; empty: float32 on CPU, bfloat16 on CUDA
};

// Whether this LibTorch build can use a CUDA GPU right now.
bool cudaAvailable();
// How many CUDA GPUs it sees (0 without CUDA).
int cudaDeviceCount();
// This machine's physical memory in bytes (sysconf); 0 when unknown.
int64_t physicalMemoryBytes();

class CausalLM {
public:
    // Throws rs::Error naming the folder (and the tensor or key) when the folder, its config or
    // its checkpoint is missing, unsupported or inconsistent with the declared architecture
    // (missing tensor, unexpected tensor, wrong shape or dtype), when a file the folder names is
    // not a regular file inside it (runtime/modelfolder.h: refused before it is opened), when the
    // config's shapes need more memory than the device has (refused before anything is read), or
    // when the device is unavailable or out of memory. Weights that are not finite load, with a
    // warning (warnings()).
    static std::unique_ptr<CausalLM> load(const QString &dir, const ModelOptions &options = {});
    // A model of the architecture a config.json object describes, with fresh weights as
    // transformers initialises them (normal with std initializer_range, default 0.02; norms 1;
    // biases 0). The same seed gives the same weights on the CPU. `name` stands in for the folder
    // in errors. For pretraining from scratch and for benchmarks of shapes nobody has on disk.
    static std::unique_ptr<CausalLM> createRandom(const QJsonObject &config, const ModelOptions &options = {},
                                                  uint64_t seed = 0, const QString &name = QStringLiteral("(random model)"));
    ~CausalLM();
    CausalLM(const CausalLM &) = delete;
    CausalLM &operator=(const CausalLM &) = delete;

    QString directory() const;
    const RopeConfig &ropeConfig() const;
    QString architecture() const;  // "llama", "mistral", "qwen2", "phi3"
    int vocabSize() const;
    int numLayers() const;
    int hiddenSize() const;
    QString device() const;  // e.g. "cpu", "cuda:0"
    QString dtype() const;   // "float32", "bfloat16", "float16"

    // Floating-point operations of one forward over `tokens` tokens that computes the final norm
    // and LM head at `headRows` positions only, counted as benchmarks count model FLOPs (2 per
    // multiply-add): the q/k/v/o projections, the MLP, attention scores and values over the keys
    // each query may see (the causal half; a sliding window where the config has one) and the LM
    // head. Norms, RoPE and softmax are left out: they are a rounding error next to these.
    double forwardFlops(int64_t tokens, int64_t headRows) const;
    // Bytes of the weights as held on the device.
    int64_t weightBytes() const;
    // Bytes one forward over `tokens` tokens in `rows` rows needs besides the weights, at least: the
    // residual stream, q/k/v, the rotated q and k, the attention output and the rotary tables, which
    // live together in every layer, and one chunk each of attention scores and token-wise work.
    double forwardBytes(int64_t tokens, int64_t rows = 1) const;
    // Throws rs::Error naming the model, with the figures ("needs ~N GiB …, this machine has M GiB"),
    // when the weights and forwardBytes(tokens, rows) exceed the memory of the model's device, or
    // the caller's `hostBytes` that of this machine (on the CPU they share it). The forward calls
    // below check this before they allocate; callers check it before preparing that much input.
    void requireMemoryFor(int64_t tokens, int64_t rows = 1, double hostBytes = 0) const;
    // What loading warned about, one sentence each naming the folder and the tensors (weights that
    // are NaN or infinite, as loaded in this dtype).
    QStringList warnings() const;
    // Peak bytes the CUDA caching allocator has handed out on this model's device since the last
    // reset; -1 on the CPU or when this LibTorch build offers no allocator statistics.
    int64_t peakDeviceMemory() const;
    void resetPeakDeviceMemory();
    // Whether targetNll and scoreAnswer run the last decoder layer only at the rows they score (on
    // by default: keys and values for every position, queries, o projection and MLP for the answer
    // rows). Off runs it at every row; `ropescope-cli bench --untrimmed` times both side by side.
    void setTrimLastLayer(bool on);
    bool trimsLastLayer() const;
    // Elements of one query chunk's attention scores on the plain (chunked) attention path; load()
    // picks the device's best (model_p.h). `ropescope-cli bench --attention-chunks` times others.
    void setAttentionChunkElements(int64_t elements);
    int64_t attentionChunkElements() const;

    // The factors and attention factor the model uses by default for a sequence of `seqLen`
    // tokens, as transformers would (longrope: short factors up to original_max_position_embeddings,
    // long beyond). Identity λ for an unscaled config.
    RopeOverride defaultRope(int seqLen) const;

    // All methods below are usable from any thread (one call at a time per thread; several
    // threads may share a model). They take InferenceMode themselves. Token ids must lie in
    // [0, vocabSize); bad arguments and device failures throw rs::Error.

    // transformers' loss with labels = ids: mean of −log p(ids[p] | ids[<p]) over p = 1 … L−1.
    double meanNextTokenLoss(const std::vector<int> &ids, const RopeOverride *rope = nullptr);
    // Full logits rows (vocabSize floats) at the given positions.
    std::vector<std::vector<float>> logitsAt(const std::vector<int> &ids, const std::vector<int> &positions,
                                             const RopeOverride *rope = nullptr);
    // −log p(ids[p] | ids[<p]) for each p in targetPositions (1 ≤ p < L). The forward stops at
    // max(p) − 1 and the final norm + LM head run only at positions p − 1. The default RoPE is
    // chosen for the whole length of `ids`.
    std::vector<double> targetNll(const std::vector<int> &ids, const std::vector<int> &targetPositions,
                                  const RopeOverride *rope = nullptr);
    // targetNll for several RoPE variants of the same sequence in one batched forward (row k uses
    // ropes[k]): how a search scores many candidates at once so that a small model fills the GPU.
    // Returns one vector per rope, each equal to what targetNll gives for it alone.
    std::vector<std::vector<double>> targetNllBatch(const std::vector<int> &ids, const std::vector<int> &targetPositions,
                                                    const std::vector<RopeOverride> &ropes);
    // Greedy decoding of `newTokens` tokens; returns only the new tokens. With the KV cache (the
    // default) the prompt runs once and each new token attends to the cached keys and values;
    // without it every token re-runs the whole sequence (the reference the cache is tested against,
    // and the benchmark's baseline). Both give the same tokens. Without `rope` the RoPE follows the
    // growing length as transformers does: for a longrope config, once the sequence passes
    // original_max_position_embeddings every key is recomputed with the long factors (transformers'
    // Phi3 drops its cache at that point for the same reason), so a cached key never carries the
    // short factors beside long-factor queries.
    std::vector<int> greedyContinue(const std::vector<int> &ids, int newTokens, const RopeOverride *rope = nullptr,
                                    bool useKvCache = true);
    // A needle sample's two figures from one forward: the NLL of each answer token ids[p],
    // p ≥ answerStart, exactly as targetNll gives them (same forward, RoPE chosen for the whole
    // length), and, when `greedy` is set, the greedy continuation of ids[0 … answerStart) for as
    // many tokens as the answer has, decoded from that forward's cached keys and values (the
    // prompt runs again only when its own length selects other longrope factors).
    struct AnswerScore {
        std::vector<double> nll;
        std::vector<int> greedy;  // empty unless asked for
    };
    AnswerScore scoreAnswer(const std::vector<int> &ids, int answerStart, bool greedy, const RopeOverride *rope = nullptr);

    // The LibTorch-level model (model_p.h) for the evaluator and the trainer.
    detail::TorchModel &torchModel();
    const detail::TorchModel &torchModel() const;

private:
    CausalLM();
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace rs
