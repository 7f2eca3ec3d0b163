// The forward pass of the Llama-family model (model_p.h): RoPE tables and caches, the attention
// (plain math in query chunks, or fused SDPA where LibTorch has it), RMSNorm, the decoder stack and
// the LM head, written against transformers' eager implementation. The model's loading is in
// model.cpp, its public evaluation calls in modelinference.cpp.
#include "runtime/model_p.h"

#include "common/cancellation.h"
#include "common/error.h"
#include "rope/factorfamilies.h"

#include <torch/version.h>

#include <algorithm>
#include <cmath>

namespace rs::detail {
namespace {

// Query rows per chunk so that one chunk's scores stay near `budget` elements.
int64_t queryChunk(int64_t budget, int64_t batchHeads, int64_t keys, int64_t queries)
{
    return std::clamp<int64_t>(budget / std::max<int64_t>(1, batchHeads * keys), 1, std::max<int64_t>(1, queries));
}

} // namespace

RopeTable makeRopeTable(const TorchModel &m, const std::vector<double> &lambda, double attentionFactor)
{
    const int d = m.spec.rotaryDims;
    if (int(lambda.size()) != d / 2)
        throw Error(m.directory, QStringLiteral("the RoPE factors have %1 values but the model has %2 rotary pairs (d/2)")
                                     .arg(lambda.size()).arg(d / 2));
    for (size_t i = 0; i < lambda.size(); ++i)
        if (!std::isfinite(lambda[i]) || lambda[i] <= 0)
            throw Error(m.directory, QStringLiteral("RoPE factor λ[%1] = %2 must be finite and positive").arg(i).arg(lambda[i]));
    if (!std::isfinite(attentionFactor) || attentionFactor <= 0)
        throw Error(m.directory, QStringLiteral("the attention factor %1 must be finite and positive").arg(attentionFactor));
    // transformers: base ** (arange(0, d, 2).float() / d) and 1 / (ext_factors * that), in float32.
    const auto f32 = torch::dtype(torch::kFloat32);
    const torch::Tensor exponent = torch::arange(0, d, 2, torch::dtype(torch::kInt64)).to(torch::kFloat32) / float(d);
    const torch::Tensor powers = torch::pow(torch::scalar_tensor(m.rope.base, f32), exponent);
    const torch::Tensor lam = torch::tensor(at::ArrayRef<double>(lambda), torch::dtype(torch::kFloat64)).to(torch::kFloat32);
    RopeTable t;
    t.invFreq = (1.0 / (lam * powers)).to(m.device);
    t.attentionFactor = attentionFactor;
    return t;
}

RopeOverride defaultRopeFactors(const TorchModel &m, int seqLen)
{
    if (const auto f = configFactors(m.rope, double(seqLen)))
        return RopeOverride{f->lambda, f->attentionFactor};
    return RopeOverride{std::vector<double>(size_t(m.spec.rotaryDims / 2), 1.0), 1.0};
}

RotaryCache rotaryCache(const TorchModel &m, const RopeTable &table, const torch::Tensor &positions)
{
    // freqs = position · inv_freq in float32, emb = cat(freqs, freqs), cos/sin · attention factor.
    const torch::Tensor freqs = positions.to(m.device, torch::kFloat32).unsqueeze(-1) * table.invFreq;
    const torch::Tensor emb = torch::cat({freqs, freqs}, -1);
    RotaryCache rc;
    rc.cos = (emb.cos() * table.attentionFactor).to(m.dtype);
    rc.sin = (emb.sin() * table.attentionFactor).to(m.dtype);
    return rc;
}

torch::Tensor applyRotary(const torch::Tensor &x, const RotaryCache &rc)
{
    torch::Tensor cos = rc.cos, sin = rc.sin;
    if (cos.dim() == 3) {  // [B, T, d] → [B, 1, T, d]
        cos = cos.unsqueeze(1);
        sin = sin.unsqueeze(1);
    }
    const int64_t d = cos.size(-1);
    const int64_t hd = x.size(-1);
    const torch::Tensor rot = d < hd ? x.narrow(-1, 0, d) : x;
    const torch::Tensor x1 = rot.narrow(-1, 0, d / 2);
    const torch::Tensor x2 = rot.narrow(-1, d / 2, d / 2);
    const torch::Tensor out = rot * cos + torch::cat({-x2, x1}, -1) * sin;
    if (d < hd)
        return torch::cat({out, x.narrow(-1, d, hd - d)}, -1);
    return out;
}

torch::Tensor attention(const torch::Tensor &q, const torch::Tensor &k, const torch::Tensor &v,
                        const torch::Tensor &allowed, int window, int64_t chunkElements)
{
    const int64_t B = q.size(0), nh = q.size(1), T = q.size(2), hd = q.size(3);
    const int64_t nkv = k.size(1), S = k.size(2);
    const int64_t rep = nh / nkv;
    const int64_t offset = S - T;  // query i sits at key position offset + i
    const auto idx = torch::dtype(torch::kInt64).device(q.device());

#if TORCH_VERSION_MAJOR >= 2
    // Fused path: flash / memory-efficient kernels for plain causal attention.
    const torch::Tensor kf = rep > 1 ? k.repeat_interleave(rep, 1) : k;
    const torch::Tensor vf = rep > 1 ? v.repeat_interleave(rep, 1) : v;
    if (!allowed.defined() && window <= 0 && T == S)
        return at::scaled_dot_product_attention(q, kf, vf, {}, 0.0, true);
#endif

    const double scale = 1.0 / std::sqrt(double(hd));
    const int64_t chunk = queryChunk(chunkElements, B * nh, S, T);
    std::vector<torch::Tensor> outs;
    for (int64_t a = 0; a < T; a += chunk) {
        // A cancellation point per chunk (common/cancellation.h): at 128k tokens one layer's
        // attention is thousands of chunks, and a stop must not wait for all of them.
        checkCancelled([&] { return "attention rows " + std::to_string(a) + " of " + std::to_string(T); });
        const int64_t b = std::min(T, a + chunk);
        // Keys this chunk can see: causal up to its last query, the window from its first.
        int64_t lo = 0, hi = S;
        if (!allowed.defined())
            hi = offset + b;
        if (window > 0)
            lo = std::max<int64_t>(0, offset + a - window + 1);
        const torch::Tensor qi = torch::arange(offset + a, offset + b, idx).unsqueeze(1);
        const torch::Tensor kj = torch::arange(lo, hi, idx).unsqueeze(0);
        torch::Tensor ok;
        if (allowed.defined())
            ok = allowed.narrow(-2, a, b - a).narrow(-1, lo, hi - lo).to(torch::kBool);
        else
            ok = kj <= qi;
        if (window > 0)
            ok = torch::logical_and(ok, (qi - kj) < window);
        if (ok.dim() == 3)
            ok = ok.unsqueeze(1);  // [B, c, s] → [B, 1, c, s]
        while (ok.dim() < 4)
            ok = ok.unsqueeze(0);  // [c, s] → [1, 1, c, s]
#if TORCH_VERSION_MAJOR >= 2
        outs.push_back(at::scaled_dot_product_attention(q.narrow(2, a, b - a), kf.narrow(2, lo, hi - lo),
                                                        vf.narrow(2, lo, hi - lo), ok, 0.0, false));
#else
        // Grouped heads without copying keys: q [B, nkv, rep, c, hd] against k [B, nkv, 1, s, hd].
        const torch::Tensor qc = q.narrow(2, a, b - a).reshape({B, nkv, rep, b - a, hd});
        const torch::Tensor kc = k.narrow(2, lo, hi - lo).unsqueeze(2);
        const torch::Tensor vc = v.narrow(2, lo, hi - lo).unsqueeze(2);
        torch::Tensor scores = torch::matmul(qc, kc.transpose(-1, -2)) * scale;
        const double lowest = scores.scalar_type() == torch::kFloat32 ? double(std::numeric_limits<float>::lowest())
                              : scores.scalar_type() == torch::kFloat64 ? std::numeric_limits<double>::lowest()
                              : scores.scalar_type() == torch::kFloat16 ? -65504.0
                                                                        : -3.3895313892515355e38;
        scores = scores.masked_fill(ok.unsqueeze(2).logical_not(), lowest);
        const torch::Tensor probs = torch::softmax(scores, -1, torch::kFloat32).to(q.scalar_type());
        outs.push_back(torch::matmul(probs, vc).reshape({B, nh, b - a, hd}));
#endif
    }
    (void)scale;
    return outs.size() == 1 ? outs.front() : torch::cat(outs, 2);
}

torch::Tensor rmsNorm(const torch::Tensor &x, const torch::Tensor &weight, double eps)
{
    const torch::Tensor h = x.to(torch::kFloat32);
    const torch::Tensor variance = h.pow(2).mean(-1, true);
    return weight * (h * torch::rsqrt(variance + eps)).to(x.scalar_type());
}

KvCache makeKvCache(const TorchModel &m, int64_t batch, int64_t capacity)
{
    KvCache cache;
    cache.capacity = capacity;
    const auto opts = torch::dtype(m.dtype).device(m.device);
    for (int l = 0; l < m.spec.numLayers; ++l) {
        cache.keys.push_back(torch::empty({batch, m.spec.numKvHeads, capacity, m.spec.headDim}, opts));
        cache.values.push_back(torch::empty({batch, m.spec.numKvHeads, capacity, m.spec.headDim}, opts));
    }
    return cache;
}

torch::Tensor forwardHidden(const TorchModel &m, const torch::Tensor &ids, const RotaryCache &rc,
                            const torch::Tensor &allowed, KvCache *cache, int64_t keepLast)
{
    const ModelSpec &s = m.spec;
    const int64_t B = ids.size(0), T = ids.size(1);
    // Rows the last layer computes beyond its keys and values: all, or the last keepLast.
    const int64_t kept = keepLast > 0 ? std::min(keepLast, T) : T;
    const int64_t past = cache ? cache->length : 0;
    if (cache) {
        if (allowed.defined())
            throw Error(m.directory, QStringLiteral("a KV cache cannot be combined with an attention mask"));
        if (past + T > cache->capacity || int(cache->keys.size()) != s.numLayers || cache->keys.front().size(0) != B)
            throw Error(m.directory, QStringLiteral("the KV cache holds %1 positions of %2 rows; %3 + %4 tokens of %5 rows do not fit")
                                         .arg(cache->capacity).arg(cache->keys.empty() ? 0 : cache->keys.front().size(0))
                                         .arg(past).arg(T).arg(B));
    }
    const int64_t qRows = int64_t(s.numHeads) * s.headDim, kvRows = int64_t(s.numKvHeads) * s.headDim;
    // Token-wise work in chunks of tokens (see TorchModel::tokenwiseChunkElements).
    const int64_t widest = std::max<int64_t>({2 * int64_t(s.intermediateSize), qRows + 2 * kvRows, 1});
    int64_t chunkTokens = std::max<int64_t>(1, m.tokenwiseChunkElements / (widest * B));
    // On the CPU also few enough tokens that a chunk's widest product stays near 2^31 FLOPs (a
    // tenth of a second or so), since each chunk is a cancellation point: at 128k tokens the
    // embedded model's MLP in one piece took several seconds. At least 256 tokens, so that a large
    // model's weights are not re-read for a handful of rows.
    if (m.device.is_cpu())
        chunkTokens = std::min(chunkTokens, std::max<int64_t>(256, (int64_t(1) << 31) / (2 * int64_t(s.hiddenSize) * widest * B)));
    // Without autograd (evaluation) the residual stream is updated in place; training keeps the
    // out-of-place form that autograd needs.
    const bool inPlace = !at::GradMode::is_enabled();
    const auto overChunks = [&](const std::function<torch::Tensor(int64_t, int64_t)> &f) {
        if (T <= chunkTokens)
            return f(0, T);
        std::vector<torch::Tensor> parts;
        for (int64_t a = 0; a < T; a += chunkTokens) {
            checkCancelled([&] { return "token-wise chunk at " + std::to_string(a) + " of " + std::to_string(T); });
            parts.push_back(f(a, std::min(chunkTokens, T - a)));
        }
        return torch::cat(parts, 1);
    };
    const auto mlp = [&](const LayerWeights &w, const torch::Tensor &x) {
        const torch::Tensor gu = torch::linear(rmsNorm(x, w.postNorm, s.rmsNormEps), w.gateUp, w.gateUpBias);
        const torch::Tensor gate = gu.narrow(-1, 0, s.intermediateSize);
        const torch::Tensor up = gu.narrow(-1, s.intermediateSize, s.intermediateSize);
        return torch::linear(torch::silu(gate) * up, w.down, w.downBias);
    };

    torch::Tensor x = torch::embedding(m.embed, ids.to(m.device));
    for (int l = 0; l < s.numLayers; ++l) {
        // Cancellation points between layers and inside them (attention and token-wise chunks).
        checkCancelled([&] { return "layer " + std::to_string(l + 1) + " of " + std::to_string(s.numLayers); });
        const LayerWeights &w = m.layers[size_t(l)];
        const torch::Tensor qkv = overChunks([&](int64_t a, int64_t n) {
            return torch::linear(rmsNorm(x.narrow(1, a, n), w.inputNorm, s.rmsNormEps), w.qkv, w.qkvBias);
        });
        torch::Tensor q = qkv.narrow(-1, 0, qRows).view({B, T, s.numHeads, s.headDim}).transpose(1, 2);
        torch::Tensor k = qkv.narrow(-1, qRows, kvRows).view({B, T, s.numKvHeads, s.headDim}).transpose(1, 2);
        const torch::Tensor v = qkv.narrow(-1, qRows + kvRows, kvRows).view({B, T, s.numKvHeads, s.headDim}).transpose(1, 2);
        // The last layer's output is only wanted at the last `kept` rows: those alone go through its
        // attention, o projection and MLP, as queries at the end of all keys. Each row's arithmetic
        // is the same as in the full layer; only the rows nobody reads are left out.
        const bool trimmed = l == s.numLayers - 1 && kept < T;
        const int64_t rows = trimmed ? kept : T;
        if (trimmed) {
            q = applyRotary(q.narrow(2, T - kept, kept), RotaryCache{rc.cos.narrow(-2, T - kept, kept), rc.sin.narrow(-2, T - kept, kept)});
        } else {
            q = applyRotary(q, rc);
        }
        k = applyRotary(k, rc);
        torch::Tensor keys = k, values = v;
        if (cache) {
            cache->keys[size_t(l)].narrow(2, past, T).copy_(k);
            cache->values[size_t(l)].narrow(2, past, T).copy_(v);
            // With an empty cache the fresh tensors are the whole context: the same call, and the
            // same numbers, as without a cache.
            if (past > 0) {
                keys = cache->keys[size_t(l)].narrow(2, 0, past + T);
                values = cache->values[size_t(l)].narrow(2, 0, past + T);
            }
        }
        const torch::Tensor rowsAllowed = trimmed && allowed.defined() ? allowed.narrow(-2, T - kept, kept) : allowed;
        const torch::Tensor a = attention(q, keys, values, rowsAllowed, s.slidingWindow[size_t(l)], m.attentionChunkElements)
                                    .transpose(1, 2)
                                    .reshape({B, rows, qRows});
        if (trimmed)
            x = x.narrow(1, T - kept, kept);
        if (inPlace) {
            for (int64_t c = 0; c < rows; c += chunkTokens) {
                checkCancelled([&] { return "MLP rows " + std::to_string(c) + " of " + std::to_string(rows); });
                const int64_t n = std::min(chunkTokens, rows - c);
                torch::Tensor xc = x.narrow(1, c, n);
                xc.add_(torch::linear(a.narrow(1, c, n), w.o, w.oBias));
                xc.add_(mlp(w, xc));
            }
        } else if (trimmed) {
            x = x + torch::linear(a, w.o, w.oBias);
            x = x + mlp(w, x);
        } else {
            x = x + torch::linear(a, w.o, w.oBias);
            x = x + overChunks([&](int64_t c, int64_t n) { return mlp(w, x.narrow(1, c, n)); });
        }
    }
    if (cache)
        cache->length = past + T;
    return x;
}

torch::Tensor forwardHidden(const TorchModel &m, const torch::Tensor &ids, const torch::Tensor &positions,
                            const RopeTable &table, const torch::Tensor &allowed, KvCache *cache, int64_t keepLast)
{
    return forwardHidden(m, ids, rotaryCache(m, table, positions), allowed, cache, keepLast);
}

torch::Tensor logitsFromHidden(const TorchModel &m, const torch::Tensor &hidden)
{
    return torch::linear(rmsNorm(hidden, m.finalNorm, m.spec.rmsNormEps), m.lmHead).to(torch::kFloat32);
}

torch::Tensor nllFromHidden(const TorchModel &m, const torch::Tensor &hidden, const torch::Tensor &targets)
{
    const int64_t n = hidden.size(0);
    const int64_t chunk = std::max<int64_t>(1, (int64_t(1) << 24) / std::max(1, m.spec.vocabSize));
    const torch::Tensor t = targets.to(m.device, torch::kInt64);
    std::vector<torch::Tensor> parts;
    for (int64_t a = 0; a < n; a += chunk) {
        const int64_t c = std::min(chunk, n - a);
        const torch::Tensor logits = logitsFromHidden(m, hidden.narrow(0, a, c));
        const torch::Tensor target = logits.gather(1, t.narrow(0, a, c).unsqueeze(1)).squeeze(1);
        parts.push_back(torch::logsumexp(logits, -1) - target);
    }
    if (parts.empty())
        return torch::empty({0}, torch::dtype(torch::kFloat32).device(m.device));
    return parts.size() == 1 ? parts.front() : torch::cat(parts);
}

} // namespace rs::detail
