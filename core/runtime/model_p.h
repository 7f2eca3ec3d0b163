#pragma once
// Core-internal: the LibTorch pieces of the causal LM (model.h), for the evaluator and trainer.
// Include this before any Qt header that could define the `slots` keyword (core builds with
// QT_NO_KEYWORDS).
#include "common/memoryerror.h"
#include "runtime/model.h"

#include <torch/torch.h>

#include <QString>
#include <functional>
#include <vector>

namespace rs::detail {

// LibTorch failures become rs::Error naming `source` (the trainer, the checkpoint writer).
template <class F>
auto guarded(const QString &source, F &&f) -> decltype(f())
{
    try {
        return f();
    } catch (const Error &) {
        throw;
    } catch (const c10::Error &e) {
        const QString what = QString::fromStdString(e.what_without_backtrace());
        if (what.contains(QLatin1String("out of memory"), Qt::CaseInsensitive))
            throw MemoryError(source, QStringLiteral("out of memory: %1").arg(what));
        throw Error(source, QStringLiteral("LibTorch error: %1").arg(what));
    } catch (const std::bad_alloc &) {
        throw MemoryError(source, QStringLiteral("out of host memory"));
    }
}
// Hyperparameters read from config.json.
struct ModelSpec {
    QString architecture;  // llama, mistral, qwen2, phi3
    int vocabSize = 0;
    int hiddenSize = 0;
    int numLayers = 0;
    int numHeads = 0;
    int numKvHeads = 0;
    int headDim = 0;
    int rotaryDims = 0;     // head_dim · partial_rotary_factor
    int intermediateSize = 0;
    double rmsNormEps = 1e-6;
    bool tiedEmbeddings = false;
    bool qkvBias = false;   // q/k/v projections carry biases (qwen2, attention_bias)
    bool oBias = false;     // o_proj bias (attention_bias on llama/mistral)
    bool mlpBias = false;   // gate/up/down biases (mlp_bias)
    std::vector<int> slidingWindow;  // per layer; 0 = full causal attention
};

struct LayerWeights {
    torch::Tensor inputNorm, postNorm;  // [H]
    torch::Tensor qkv, qkvBias;         // [(nh + 2·nkv)·hd, H], rows q;k;v (bias may be undefined)
    torch::Tensor o, oBias;             // [H, nh·hd]
    torch::Tensor gateUp, gateUpBias;   // [2·I, H], rows gate;up
    torch::Tensor down, downBias;       // [H, I]
};

// Elements of attention scores per query chunk (TorchModel::attentionChunkElements says why).
constexpr int64_t kCpuAttentionChunkElements = int64_t(1) << 22;
constexpr int64_t kCudaAttentionChunkElements = int64_t(1) << 26;

struct TorchModel {
    QString directory;
    ModelSpec spec;
    RopeConfig rope;
    torch::Device device = torch::kCPU;
    int64_t deviceMemory = 0;  // total bytes of `device` (0: this build cannot tell), set with it
    torch::ScalarType dtype = torch::kFloat32;
    torch::Tensor embed;      // [V, H]
    std::vector<LayerWeights> layers;
    torch::Tensor finalNorm;  // [H]
    torch::Tensor lmHead;     // [V, H] (the embedding when tied)
    // The plain attention path works in query chunks whose scores hold about this many elements.
    // On the CPU, chunks above glibc's 32 MiB mmap threshold are page-faulted in afresh for every
    // layer (measured: 4096 tokens on the 2-layer reference model took 8.0 s with 2^26-element
    // chunks, 0.79 s with 2^18), and since tuneHostAllocator keeps blocks up to that threshold in
    // the heap, larger chunks now win: `ropescope-cli bench --attention-chunks 18,20,22` on the
    // embedded model, interleaved on the busy 2-core box, 2^22 (16 MiB of float32 scores) took
    // 0.46× the time of 2^18 at 2048 and 4096 tokens (1224 against 2665 ms at 4096), level with
    // 2^20; NLLs within 1.2e-5 of each other. So the CPU's chunks hold 2^22 elements and a GPU's,
    // which wants large chunks for its kernels, 2^26: resolveDeviceAndDtype (load() and
    // createRandom()) sets it from the device; `bench --attention-chunks` and
    // CausalLM::setAttentionChunkElements change it.
    int64_t attentionChunkElements = kCpuAttentionChunkElements;
    // Norms, projections and the MLP act on each token alone and run over chunks of tokens whose
    // widest intermediate holds about this many elements: at 128k tokens an 8B model's gate/up
    // output alone would be 7 GiB, while 2^28-element chunks (0.5 GiB in bf16) keep the peak near
    // weights + a few GiB and still give matrix products large enough to run at full speed.
    int64_t tokenwiseChunkElements = int64_t(1) << 28;
    // Whether CausalLM::targetNllBatch runs its candidates as one batched forward. On a GPU that is
    // what fills a small model's kernels; on the CPU it only splits the cache-sized attention
    // chunks into smaller pieces (measured on the embedded model at 4096 tokens, 8 candidates:
    // batched 0.25× the speed of one by one), so there the candidates run one after another.
    // load() and createRandom() set it from the device.
    bool batchCandidates = false;
    // Whether targetNll runs the last layer only at the rows it scores (forwardHidden's keepLast).
    // Off only to measure what that saves (CausalLM::setTrimLastLayer, `ropescope-cli bench`).
    bool trimLastLayer = true;
};

// RoPE frequencies: inv_freq_i = 1 / (λ_i · b^(2i/d)) in float32 as transformers computes them,
// and the factor applied to cos and sin.
struct RopeTable {
    torch::Tensor invFreq;  // [d/2] float32 on the model's device
    double attentionFactor = 1.0;
};
RopeTable makeRopeTable(const TorchModel &m, const std::vector<double> &lambda, double attentionFactor);
// The config's default table for a sequence of seqLen tokens (see CausalLM::defaultRope).
RopeOverride defaultRopeFactors(const TorchModel &m, int seqLen);

// cos and sin for each position, [B, T, d] (or [T, d] for 1-D positions), already multiplied by
// the attention factor, in the model's dtype. Trainers with mixed windows may concatenate pieces
// made from different tables along T.
struct RotaryCache {
    torch::Tensor cos, sin;
};
RotaryCache rotaryCache(const TorchModel &m, const RopeTable &table, const torch::Tensor &positions);

// q, k: [B, heads, T, hd]. Rotates the first d dims of each head (rotate_half convention).
torch::Tensor applyRotary(const torch::Tensor &x, const RotaryCache &rc);

// The one attention function. q [B, nh, T, hd], k/v [B, nkv, S, hd] (grouped: head h uses kv head
// h / (nh/nkv)); queries are the last T of the S key positions. `allowed` (optional, bool,
// [T, S], [B, T, S] or [B|1, 1, T, S], true = may attend) replaces the causal mask; `window` > 0
// further restricts query i to keys j with i − j < window. Plain math (softmax in float32, like
// transformers' eager path) in query chunks whose scores hold about `chunkElements` elements (the
// model's attentionChunkElements); fused SDPA on LibTorch ≥ 2 where it applies.
torch::Tensor attention(const torch::Tensor &q, const torch::Tensor &k, const torch::Tensor &v,
                        const torch::Tensor &allowed, int window, int64_t chunkElements);

// RMSNorm in float32, result cast back to the input dtype and scaled by the weight.
torch::Tensor rmsNorm(const torch::Tensor &x, const torch::Tensor &weight, double eps);

// The keys and values of every position a forward has seen, per layer, so that decoding runs one
// new token at a time against them instead of re-running the prefix. Preallocated for `capacity`
// positions of which the first `length` are filled; lowering `length` rolls the cache back (the
// positions beyond are overwritten by the next forward). Keys are stored rotated, so the cache is
// only valid for the RoPE it was filled with (`rope`). Sliding windows need nothing special: the
// cache keeps every position and the attention's window masks the old ones, as in transformers'
// dynamic cache.
struct KvCache {
    std::vector<torch::Tensor> keys, values;  // per layer [B, nkv, capacity, hd]
    int64_t length = 0;
    int64_t capacity = 0;
    RopeOverride rope;
};
KvCache makeKvCache(const TorchModel &m, int64_t batch, int64_t capacity);

// Hidden states after the last decoder layer, before the final norm: ids [B, T] int64 → [B, T, H].
// With a cache, the T tokens sit at positions cache->length … cache->length + T − 1 (rc must be
// made for those positions): they attend causally to the cached positions and to each other, their
// keys and values are appended, and cache->length grows by T. A cache cannot be combined with an
// `allowed` mask. With an empty cache the result is bit-identical to the forward without one.
// keepLast > 0: only the last keepLast positions' hidden states are wanted ([B, keepLast, H]); the
// last layer computes its keys and values for every position but its queries, o projection and
// MLP only for those rows (what scoring a few answer tokens needs: on the 3-layer embedded model
// a third less work). The rows it returns are the full forward's up to float rounding.
torch::Tensor forwardHidden(const TorchModel &m, const torch::Tensor &ids, const RotaryCache &rc,
                            const torch::Tensor &allowed = {}, KvCache *cache = nullptr, int64_t keepLast = 0);
torch::Tensor forwardHidden(const TorchModel &m, const torch::Tensor &ids, const torch::Tensor &positions,
                            const RopeTable &table, const torch::Tensor &allowed = {}, KvCache *cache = nullptr,
                            int64_t keepLast = 0);
// Final norm + LM head: [..., H] → float32 logits [..., V].
torch::Tensor logitsFromHidden(const TorchModel &m, const torch::Tensor &hidden);
// −log p(target) for hidden rows [N, H] and targets [N] (int64), in chunks of rows so that only a
// few rows of vocabulary-sized logits exist at once. Returns float32 [N].
torch::Tensor nllFromHidden(const TorchModel &m, const torch::Tensor &hidden, const torch::Tensor &targets);

// Parses config.json into a spec; throws rs::Error naming the file, and the value as written for a
// size beyond int. `checkSize` sees the spec once everything that sizes the weights is read and
// before anything per layer is allocated, so a config of absurd size can be refused for free.
ModelSpec parseModelSpec(const QJsonObject &config, const RopeConfig &rope, const QString &source,
                         const std::function<void(const ModelSpec &)> &checkSize = {});

// Parameters of the weights a spec describes, counted in double so that no config can overflow it.
double parameterCount(const ModelSpec &s);
// Bytes of the weights as loaded (the tied LM head counted once).
int64_t weightBytes(const TorchModel &m);
// CausalLM::forwardBytes.
double forwardBytes(const TorchModel &m, double tokens, double rows);
// Bytes as GiB the way the memory refusals write them: "0.4", "7629", "1.2e+09".
QString gibText(double bytes);
// Throws rs::MemoryError(source, "<what> needs ~N GiB …, this machine has M GiB") when `deviceBytes`
// exceed the memory of m's device or `hostBytes` that of the machine (on the CPU their sum).
// A device whose memory this build cannot tell (0) passes.
void requireMemory(const TorchModel &m, const QString &source, const QString &what, double deviceBytes, double hostBytes);
// requireMemory for the weights of spec `s` in m's dtype: before a checkpoint is read or weights drawn.
void requireWeightMemory(const TorchModel &m, const ModelSpec &s, const QString &source);

} // namespace rs::detail
