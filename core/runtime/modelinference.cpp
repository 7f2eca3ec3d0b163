// What a loaded model computes for its callers: the mean next-token loss, logits at positions, the
// NLL of target tokens (one RoPE or a batch of candidate RoPEs), greedy decoding with or without
// the KV cache, and a needle answer's score; each public call runs under InferenceMode with
// LibTorch's failures turned into rs::Error. The forward pass itself is in forward.cpp, loading in
// model.cpp.
#include "runtime/modelimpl_p.h"

#include <algorithm>

namespace rs {

void CausalLM::Impl::checkIds(const std::vector<int> &ids, size_t minimum) const
{
    if (ids.size() < minimum)
        throw Error(m.directory, QStringLiteral("needs at least %1 tokens, got %2").arg(minimum).arg(ids.size()));
    for (size_t i = 0; i < ids.size(); ++i)
        if (ids[i] < 0 || ids[i] >= m.spec.vocabSize)
            throw Error(m.directory, QStringLiteral("token id %1 at position %2 is outside the vocabulary [0, %3)")
                                         .arg(ids[i]).arg(i).arg(m.spec.vocabSize));
}

detail::RopeTable CausalLM::Impl::table(int seqLen, const RopeOverride *rope) const
{
    if (rope)
        return detail::makeRopeTable(m, rope->lambda, rope->attentionFactor);
    const RopeOverride f = detail::defaultRopeFactors(m, seqLen);
    return detail::makeRopeTable(m, f.lambda, f.attentionFactor);
}

torch::Tensor CausalLM::Impl::hidden(const std::vector<int> &ids, int64_t count, int seqLen, const RopeOverride *rope,
                                     int64_t keepLast) const
{
    requireForward(double(count), 1);
    const detail::RopeTable t = table(seqLen, rope);
    const torch::Tensor tokens = torch::tensor(at::ArrayRef<int>(ids.data(), size_t(count)), torch::dtype(torch::kInt32))
                                     .to(m.device, torch::kInt64)
                                     .unsqueeze(0);
    const torch::Tensor positions = torch::arange(count, torch::dtype(torch::kInt64).device(m.device));
    return detail::forwardHidden(m, tokens, positions, t, {}, nullptr, keepLast).squeeze(0);
}

torch::Tensor CausalLM::Impl::extend(detail::KvCache &cache, const std::vector<int> &ids, int64_t from, int64_t to,
                                     int64_t keepLast) const
{
    const detail::RopeTable t = detail::makeRopeTable(m, cache.rope.lambda, cache.rope.attentionFactor);
    const torch::Tensor tokens = torch::tensor(at::ArrayRef<int>(ids.data() + from, size_t(to - from)), torch::dtype(torch::kInt32))
                                     .to(m.device, torch::kInt64)
                                     .unsqueeze(0);
    const torch::Tensor positions = torch::arange(from, to, torch::dtype(torch::kInt64).device(m.device));
    return detail::forwardHidden(m, tokens, positions, t, {}, &cache, keepLast).squeeze(0);
}

int CausalLM::Impl::argmaxToken(const torch::Tensor &hiddenRow) const
{
    return int(detail::logitsFromHidden(m, hiddenRow.unsqueeze(0)).argmax(-1).item<int64_t>());
}

bool CausalLM::Impl::sameRope(const RopeOverride &a, const RopeOverride &b)
{
    return a.attentionFactor == b.attentionFactor && a.lambda == b.lambda;
}

std::vector<int> CausalLM::Impl::decode(detail::KvCache &cache, std::vector<int> &seq, torch::Tensor last, int count,
                                        const RopeOverride *rope) const
{
    std::vector<int> out;
    for (int n = 0; n < count; ++n) {
        const int next = argmaxToken(last);
        seq.push_back(next);
        out.push_back(next);
        if (n + 1 == count)
            break;
        const int64_t length = int64_t(seq.size());
        if (!rope) {
            RopeOverride wanted = detail::defaultRopeFactors(m, int(length));
            if (!sameRope(wanted, cache.rope)) {
                cache.length = 0;
                cache.rope = std::move(wanted);
                const torch::Tensor h = extend(cache, seq, 0, length);
                last = h[length - 1];
                continue;
            }
        }
        last = extend(cache, seq, length - 1, length)[0];
    }
    return out;
}

std::vector<int> CausalLM::Impl::greedyCached(const std::vector<int> &ids, int newTokens, const RopeOverride *rope) const
{
    if (newTokens <= 0)
        return {};
    std::vector<int> seq = ids;
    const int64_t prompt = int64_t(ids.size());
    detail::KvCache cache = detail::makeKvCache(m, 1, prompt + newTokens);
    cache.rope = rope ? *rope : detail::defaultRopeFactors(m, int(prompt));
    const torch::Tensor h = extend(cache, seq, 0, prompt);
    return decode(cache, seq, h[prompt - 1], newTokens, rope);
}

std::vector<int> CausalLM::Impl::greedyUncached(const std::vector<int> &ids, int newTokens, const RopeOverride *rope) const
{
    std::vector<int> seq = ids;
    std::vector<int> out;
    for (int n = 0; n < newTokens; ++n) {
        const torch::Tensor h = hidden(seq, int64_t(seq.size()), int(seq.size()), rope);
        const int next = argmaxToken(h[h.size(0) - 1]);
        seq.push_back(next);
        out.push_back(next);
    }
    return out;
}

CausalLM::AnswerScore CausalLM::Impl::scoreAnswer(const std::vector<int> &ids, int answerStart, bool greedy, const RopeOverride *rope) const
{
    checkIds(ids, 2);
    const int64_t L = int64_t(ids.size());
    if (answerStart < 1 || answerStart >= L)
        throw Error(m.directory, QStringLiteral("the answer start %1 is outside 1 … %2").arg(answerStart).arg(L - 1));
    std::vector<int> targets;
    for (int p = answerStart; p < L; ++p)
        targets.push_back(p);
    // The forward targetNll runs (up to the last answer token, RoPE chosen for the whole
    // length), keeping its keys and values.
    detail::KvCache cache = detail::makeKvCache(m, 1, L - 1);
    cache.rope = rope ? *rope : detail::defaultRopeFactors(m, int(L));
    // The rows targetNll reads (answerStart − 1 on, the prompt's last among them), computed as
    // targetNll computes them.
    const int64_t first = m.trimLastLayer ? answerStart - 1 : 0;
    const torch::Tensor h = extend(cache, ids, 0, L - 1, m.trimLastLayer ? L - 1 - first : 0);
    CausalLM::AnswerScore out;
    out.nll = answerNll(h.unsqueeze(0), ids, targets, first).front();
    if (!greedy)
        return out;
    // Greedy decoding of the answer from the prompt: the prompt's keys are already cached
    // unless the RoPE for the prompt's length differs (a longrope config whose switch falls
    // inside the answer), in which case the prompt runs again with its own factors.
    std::vector<int> seq(ids.begin(), ids.begin() + answerStart);
    const RopeOverride promptRope = rope ? *rope : detail::defaultRopeFactors(m, answerStart);
    torch::Tensor last;
    if (sameRope(promptRope, cache.rope)) {
        cache.length = answerStart;
        last = h[answerStart - 1 - first];
    } else {
        cache.length = 0;
        cache.rope = promptRope;
        last = extend(cache, seq, 0, answerStart)[answerStart - 1];
    }
    out.greedy = decode(cache, seq, last, int(L - answerStart), rope);
    return out;
}

int CausalLM::Impl::lastTarget(const std::vector<int> &ids, const std::vector<int> &targets) const
{
    const int L = int(ids.size());
    int last = 0;
    for (int p : targets) {
        if (p < 1 || p >= L)
            throw Error(m.directory, QStringLiteral("target position %1 is outside 1 … %2").arg(p).arg(L - 1));
        last = std::max(last, p);
    }
    return last;
}

std::vector<std::vector<double>> CausalLM::Impl::answerNll(const torch::Tensor &hidden, const std::vector<int> &ids,
                                                           const std::vector<int> &targets, int64_t firstRow) const
{
    std::vector<int64_t> rows, want;
    rows.reserve(targets.size());
    want.reserve(targets.size());
    for (int p : targets) {
        rows.push_back(p - 1 - firstRow);
        want.push_back(ids[size_t(p)]);
    }
    const auto idx = torch::dtype(torch::kInt64);
    const int64_t K = hidden.size(0), n = int64_t(rows.size());
    const torch::Tensor sel = hidden.index_select(1, torch::tensor(at::ArrayRef<int64_t>(rows), idx).to(m.device))
                                  .reshape({K * n, hidden.size(2)});
    const torch::Tensor wanted = torch::tensor(at::ArrayRef<int64_t>(want), idx).repeat({K});
    const torch::Tensor nll = detail::nllFromHidden(m, sel, wanted).to(torch::kCPU, torch::kFloat64).contiguous();
    std::vector<std::vector<double>> out(static_cast<size_t>(K));
    for (int64_t k = 0; k < K; ++k)
        out[size_t(k)].assign(nll.data_ptr<double>() + k * n, nll.data_ptr<double>() + (k + 1) * n);
    return out;
}

std::vector<double> CausalLM::Impl::targetNll(const std::vector<int> &ids, const std::vector<int> &targets, const RopeOverride *rope) const
{
    checkIds(ids, 1);
    if (targets.empty())
        return {};
    const int last = lastTarget(ids, targets);
    // Only the rows p − 1 are read: from the first of them on (the answer tokens at the end of a
    // needle sample: a handful), unless the model is asked to run every row.
    const int first = *std::min_element(targets.begin(), targets.end()) - 1;
    const int64_t keep = m.trimLastLayer ? int64_t(last - first) : 0;
    return answerNll(hidden(ids, last, int(ids.size()), rope, keep).unsqueeze(0), ids, targets, keep > 0 ? first : 0).front();
}

std::vector<std::vector<double>> CausalLM::Impl::targetNllBatch(const std::vector<int> &ids, const std::vector<int> &targets,
                                                                const std::vector<RopeOverride> &ropes) const
{
    checkIds(ids, 1);
    const int64_t K = int64_t(ropes.size());
    if (K == 0 || targets.empty())
        return std::vector<std::vector<double>>(ropes.size());
    if (!m.batchCandidates || K == 1) {
        std::vector<std::vector<double>> out;
        for (const RopeOverride &r : ropes)
            out.push_back(targetNll(ids, targets, &r));
        return out;
    }
    const int last = lastTarget(ids, targets);
    requireForward(double(last), double(K));
    // One rotary table per row: [K, T, d] cos and sin, the layout mixed-window training uses.
    const torch::Tensor positions = torch::arange(int64_t(last), torch::dtype(torch::kInt64).device(m.device));
    std::vector<torch::Tensor> cosRows, sinRows;
    for (const RopeOverride &r : ropes) {
        const detail::RotaryCache rc = detail::rotaryCache(m, detail::makeRopeTable(m, r.lambda, r.attentionFactor), positions);
        cosRows.push_back(rc.cos);
        sinRows.push_back(rc.sin);
    }
    const detail::RotaryCache rc{torch::stack(cosRows, 0), torch::stack(sinRows, 0)};
    const torch::Tensor tokens = torch::tensor(at::ArrayRef<int>(ids.data(), size_t(last)), torch::dtype(torch::kInt32))
                                     .to(m.device, torch::kInt64)
                                     .unsqueeze(0)
                                     .expand({K, int64_t(last)});
    return answerNll(detail::forwardHidden(m, tokens, rc), ids, targets);
}

RopeOverride CausalLM::defaultRope(int seqLen) const
{
    return detail::defaultRopeFactors(d->m, seqLen);
}

double CausalLM::meanNextTokenLoss(const std::vector<int> &ids, const RopeOverride *rope)
{
    return d->guarded([&] {
        c10::InferenceMode guard;
        d->checkIds(ids, 2);
        std::vector<int> targets(ids.size() - 1);
        for (size_t i = 0; i < targets.size(); ++i)
            targets[i] = int(i) + 1;
        const std::vector<double> nll = d->targetNll(ids, targets, rope);
        double sum = 0;
        for (double x : nll)
            sum += x;
        return sum / double(nll.size());
    });
}

std::vector<std::vector<float>> CausalLM::logitsAt(const std::vector<int> &ids, const std::vector<int> &positions,
                                                   const RopeOverride *rope)
{
    return d->guarded([&] {
        c10::InferenceMode guard;
        d->checkIds(ids, 1);
        std::vector<std::vector<float>> out;
        if (positions.empty())
            return out;
        const int L = int(ids.size());
        int last = 0;
        std::vector<int64_t> rows;
        for (int p : positions) {
            if (p < 0 || p >= L)
                throw Error(d->m.directory, QStringLiteral("position %1 is outside 0 … %2").arg(p).arg(L - 1));
            last = std::max(last, p);
            rows.push_back(p);
        }
        const torch::Tensor h = d->hidden(ids, last + 1, L, rope);
        const torch::Tensor sel = h.index_select(0, torch::tensor(at::ArrayRef<int64_t>(rows), torch::dtype(torch::kInt64)).to(d->m.device));
        const torch::Tensor logits = detail::logitsFromHidden(d->m, sel).to(torch::kCPU).contiguous();
        const int64_t V = logits.size(1);
        for (int64_t r = 0; r < logits.size(0); ++r) {
            const float *row = logits.data_ptr<float>() + r * V;
            out.emplace_back(row, row + V);
        }
        return out;
    });
}

std::vector<double> CausalLM::targetNll(const std::vector<int> &ids, const std::vector<int> &targetPositions,
                                        const RopeOverride *rope)
{
    return d->guarded([&] {
        c10::InferenceMode guard;
        return d->targetNll(ids, targetPositions, rope);
    });
}

std::vector<std::vector<double>> CausalLM::targetNllBatch(const std::vector<int> &ids,
                                                          const std::vector<int> &targetPositions,
                                                          const std::vector<RopeOverride> &ropes)
{
    return d->guarded([&] {
        c10::InferenceMode guard;
        return d->targetNllBatch(ids, targetPositions, ropes);
    });
}

std::vector<int> CausalLM::greedyContinue(const std::vector<int> &ids, int newTokens, const RopeOverride *rope,
                                          bool useKvCache)
{
    return d->guarded([&] {
        c10::InferenceMode guard;
        d->checkIds(ids, 1);
        return useKvCache ? d->greedyCached(ids, newTokens, rope) : d->greedyUncached(ids, newTokens, rope);
    });
}

CausalLM::AnswerScore CausalLM::scoreAnswer(const std::vector<int> &ids, int answerStart, bool greedy, const RopeOverride *rope)
{
    return d->guarded([&] {
        c10::InferenceMode guard;
        return d->scoreAnswer(ids, answerStart, greedy, rope);
    });
}

} // namespace rs
