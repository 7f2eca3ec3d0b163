#pragma once
// Runtime-internal: what the model's three source files share. model.cpp loads and builds a
// CausalLM, modelmemory.cpp sizes it against the machine, modelinference.cpp runs its public
// evaluation calls; all three reach the model through CausalLM's pimpl body, declared here. The
// evaluator and trainer use model_p.h, never this.
#include "runtime/model_p.h"

#include "common/error.h"

#include <QString>
#include <QStringList>

#include <new>
#include <vector>

namespace rs {

namespace detail {

// The dtype's name as ModelOptions spells it (model.cpp).
QString dtypeName(torch::ScalarType t);
// A device's total memory, 0 where this build cannot tell (modelmemory.cpp).
int64_t deviceMemoryBytes(const torch::Device &device);

} // namespace detail

struct CausalLM::Impl {
    detail::TorchModel m;
    QStringList warnings;  // from loading

    // Refuses, with the figures, a forward the device cannot hold (detail::requireMemory), before
    // anything is allocated for it. In modelmemory.cpp.
    void requireForward(double tokens, double rows, double hostBytes = 0) const;

    // Turns LibTorch failures into rs::Error naming the model folder.
    template <class F>
    auto guarded(F &&f) const -> decltype(f())
    {
        try {
            return f();
        } catch (const Error &) {
            throw;
        } catch (const c10::OutOfMemoryError &e) {
            throw MemoryError(m.directory, QStringLiteral("out of memory on %1: %2")
                                         .arg(QString::fromStdString(m.device.str()),
                                              QString::fromStdString(e.what_without_backtrace())));
        } catch (const c10::Error &e) {
            const QString what = QString::fromStdString(e.what_without_backtrace());
            if (what.contains(QLatin1String("out of memory"), Qt::CaseInsensitive))
                throw MemoryError(m.directory, QStringLiteral("out of memory on %1: %2")
                                             .arg(QString::fromStdString(m.device.str()), what));
            throw Error(m.directory, QStringLiteral("LibTorch error: %1").arg(what));
        } catch (const std::bad_alloc &) {
            throw MemoryError(m.directory, QStringLiteral("out of host memory"));
        }
    }

    // The evaluation steps behind the public calls (modelinference.cpp).
    void checkIds(const std::vector<int> &ids, size_t minimum) const;
    detail::RopeTable table(int seqLen, const RopeOverride *rope) const;
    // Hidden states (before the final norm) of ids[0 … count) with the RoPE chosen for `seqLen`: [count, H],
    // or of the last keepLast of them only (detail::forwardHidden): [keepLast, H].
    torch::Tensor hidden(const std::vector<int> &ids, int64_t count, int seqLen, const RopeOverride *rope,
                         int64_t keepLast = 0) const;
    // Runs ids[from, to) on top of the cache (whose length must be `from`) with the cache's RoPE:
    // hidden states [to − from, H], or of the last keepLast positions only (every key and value is
    // cached either way).
    torch::Tensor extend(detail::KvCache &cache, const std::vector<int> &ids, int64_t from, int64_t to,
                         int64_t keepLast = 0) const;
    int argmaxToken(const torch::Tensor &hiddenRow) const;
    static bool sameRope(const RopeOverride &a, const RopeOverride &b);
    // Greedy decoding from `cache`, which holds seq[0 … cache.length) with `last` the hidden state
    // of its final position; appends `count` tokens to seq and returns them. Without an explicit
    // rope the RoPE follows the growing length: when the config's choice changes (the longrope
    // switch past original_max_position_embeddings), the cache is refilled from scratch with the
    // new factors — what transformers' Phi3 prepare_inputs_for_generation does by dropping its
    // cache there, and what re-running the whole sequence for every token computes.
    std::vector<int> decode(detail::KvCache &cache, std::vector<int> &seq, torch::Tensor last, int count,
                            const RopeOverride *rope) const;
    std::vector<int> greedyCached(const std::vector<int> &ids, int newTokens, const RopeOverride *rope) const;
    std::vector<int> greedyUncached(const std::vector<int> &ids, int newTokens, const RopeOverride *rope) const;
    CausalLM::AnswerScore scoreAnswer(const std::vector<int> &ids, int answerStart, bool greedy, const RopeOverride *rope) const;
    // Checks every target position (1 ≤ p < L) and returns the largest: the forward stops before it.
    int lastTarget(const std::vector<int> &ids, const std::vector<int> &targets) const;
    // −log p(ids[p]) for each target from hidden states [K, T, H] (one row per RoPE variant) of the
    // positions firstRow, firstRow + 1, …: the final norm and LM head run only at the rows p − 1.
    // One vector per row.
    std::vector<std::vector<double>> answerNll(const torch::Tensor &hidden, const std::vector<int> &ids,
                                               const std::vector<int> &targets, int64_t firstRow = 0) const;
    std::vector<double> targetNll(const std::vector<int> &ids, const std::vector<int> &targets, const RopeOverride *rope) const;
    std::vector<std::vector<double>> targetNllBatch(const std::vector<int> &ids, const std::vector<int> &targets,
                                                    const std::vector<RopeOverride> &ropes) const;
};

} // namespace rs
