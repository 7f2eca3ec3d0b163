#include "eval/verdict.h"

namespace rs {

Verdict ratioVerdict(const Interval &ratio)
{
    if (!ratio.valid())
        return Verdict::Unknown;
    if (ratio.upper < 1)
        return Verdict::Better;
    if (ratio.lower > 1)
        return Verdict::Worse;
    return Verdict::WithinNoise;
}

ScoreVerdict scoreVerdict(const std::vector<double> &values,
                          const std::vector<std::pair<QString, std::vector<double>>> &references, int basis,
                          const BootstrapOptions &options)
{
    ScoreVerdict out;
    if (basis < 2 || int(values.size()) < basis)
        return out;
    const std::vector<double> own(values.begin(), values.begin() + basis);
    out.samples = basis;
    out.own = bootstrapAggregate(own, Aggregate::Mean, options);
    if (!out.own.valid())
        return out;
    for (const auto &[name, perSample] : references) {
        if (int(perSample.size()) < basis)
            continue;
        const std::vector<double> other(perSample.begin(), perSample.begin() + basis);
        ReferenceVerdict r{name, pairedBootstrap(own, other, Aggregate::Mean, options), Verdict::Unknown};
        r.verdict = ratioVerdict(r.comparison.ratio);
        if (r.verdict != Verdict::Unknown)
            out.references.push_back(std::move(r));
    }
    return out;
}

} // namespace rs
