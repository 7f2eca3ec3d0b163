#include "eval/candidatescorer.h"

#include "common/cancellation.h"
#include "common/error.h"

#include <cmath>
#include <future>

namespace rs {

CandidateScorer::CandidateScorer(CausalLM &model, const Tokenizer &tokenizer, int bosId,
                                 const NeedleEvalSettings &settings, const QString &modelDir,
                                 const QStringList &extraDevices)
{
    m_evaluators.push_back(std::make_unique<NeedleEvaluator>(model, tokenizer, bosId, settings));
    m_devices << model.device();
    for (const QString &device : extraDevices) {
        if (modelDir.isEmpty())
            throw Error(QStringLiteral("candidate scorer"), QStringLiteral("replicas on %1 need the model folder").arg(device));
        ModelOptions options;
        options.device = device;
        options.dtype = model.dtype();
        m_ownedReplicas.push_back(CausalLM::load(modelDir, options));
        m_evaluators.push_back(std::make_unique<NeedleEvaluator>(*m_ownedReplicas.back(), tokenizer, bosId, settings));
        m_devices << m_ownedReplicas.back()->device();
    }
}

int CandidateScorer::samples() const
{
    return int(evaluator().samples().size());
}

std::vector<double> CandidateScorer::samplePpl(const std::vector<RopeOverride> &candidates, int sample) const
{
    const size_t n = candidates.size();
    const size_t r = std::min(n, m_evaluators.size());
    std::vector<double> out(n);
    if (n == 0)
        return out;
    // Replica j scores candidates [begin(j), begin(j + 1)): shares differ by at most one.
    auto begin = [&](size_t j) { return j * (n / r) + std::min(j, n % r); };
    auto share = [&](size_t j) {
        const std::vector<RopeOverride> ropes(candidates.begin() + long(begin(j)), candidates.begin() + long(begin(j + 1)));
        const std::vector<double> nll = m_evaluators[j]->sampleNllBatch(sample, ropes);
        for (size_t i = 0; i < nll.size(); ++i)
            out[begin(j) + i] = std::exp(nll[i]);
    };
    std::vector<std::future<void>> others;
    // The other replicas' threads stop when this one is told to (common/cancellation.h).
    const CancelCheck check = currentCancelCheck();
    for (size_t j = 1; j < r; ++j)
        others.push_back(std::async(std::launch::async, [&share, check](size_t k) {
            const CancelScope scope(check);
            share(k);
        }, j));
    // Replica 0 on this thread; every other share is waited for (and its error rethrown) even when
    // this one throws, so no thread outlives the call.
    std::exception_ptr error;
    try {
        share(0);
    } catch (...) {
        error = std::current_exception();
    }
    for (std::future<void> &f : others) {
        try {
            f.get();
        } catch (...) {
            if (!error)
                error = std::current_exception();
        }
    }
    if (error)
        std::rethrow_exception(error);
    return out;
}

int CandidateScorer::defaultBatch(const CausalLM &model)
{
    return model.device().startsWith(QLatin1String("cuda")) ? 8 : 1;
}

QStringList CandidateScorer::defaultDevices(const QString &device)
{
    if (!device.startsWith(QLatin1String("cuda")))
        return {device};
    QStringList out{device};
    for (int i = 0; i < cudaDeviceCount(); ++i) {
        const QString d = QStringLiteral("cuda:%1").arg(i);
        if (!out.contains(d) && !(i == 0 && device == QLatin1String("cuda")))
            out << d;
    }
    return out;
}

} // namespace rs
