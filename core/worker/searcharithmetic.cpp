// The arithmetic over the worker's messages: candidate bookkeeping, the evaluation count and budget
// of a search plan, d_rcd recovered from λ and the search's reference families.
#include "worker/searcharithmetic.h"

#include "rope/factorfamilies.h"

#include <QString>

#include <algorithm>
#include <cmath>
#include <limits>

namespace rs {

int expectedEvaluations(const SearchSettings &settings, int samples)
{
    const SearchSettings resolved = EvolutionSearch(settings).settings();
    const long long candidates =
        resolved.population + (long long)(resolved.iterations) * (resolved.mutations + resolved.crossovers);
    const long long full = candidates * std::max(1, samples);
    const long long capped = resolved.maxEvaluations > 0 ? std::min<long long>(full, resolved.maxEvaluations) : full;
    return int(std::min<long long>(capped, std::numeric_limits<int>::max()));
}

EvaluationBudget evaluationBudget(const SearchSettings &settings, int samples, int validationSamples, int baselineCount)
{
    const SearchSettings resolved = EvolutionSearch(settings).settings();
    const auto clamp = [](long long n) { return int(std::min<long long>(n, std::numeric_limits<int>::max())); };
    EvaluationBudget budget;
    budget.search = expectedEvaluations(settings, samples);
    if (validationSamples > 0) {
        const long long generations = (long long)(resolved.iterations) + 1;
        const long long seeded = resolved.seedFamilies ? baselineCount : 0;
        budget.validationAtMost = clamp((resolved.validationTop * generations + seeded) * validationSamples);
    }
    budget.baselines = clamp((long long)(baselineCount) * (std::max(1, samples) + std::max(0, validationSamples)));
    return budget;
}

CandidateScoreBook::Entry CandidateScoreBook::add(const std::vector<double> &lambda, double attentionFactor, int sample,
                                                  double ppl)
{
    // The exact bits of λ and the attention factor: the search's candidates are exact copies.
    std::string key(reinterpret_cast<const char *>(lambda.data()), lambda.size() * sizeof(double));
    key.append(reinterpret_cast<const char *>(&attentionFactor), sizeof attentionFactor);
    Entry entry;
    auto [it, inserted] = m_candidates.try_emplace(std::move(key));
    if (inserted)
        it->second.id = int(m_candidates.size());
    it->second.bySample[sample] = ppl;
    entry.candidate = it->second.id;
    entry.isNew = inserted;
    entry.samplesScored = int(it->second.bySample.size());
    std::vector<double> scores;
    for (const auto &[k, value] : it->second.bySample)
        scores.push_back(value);
    entry.meanPpl = aggregateScores(m_aggregate, scores);
    return entry;
}

void CandidateScoreBook::clear() { m_candidates.clear(); }

int inferDRcd(const std::vector<double> &lambda, const SearchSettings &resolved)
{
    if (resolved.method != SearchMethod::LongRoPE2)
        return -1;
    const int pairs = int(lambda.size());
    if (pairs != resolved.rotaryDims / 2)
        return -1;
    for (int c = std::min(resolved.dRcdMax, pairs - 1); c >= std::max(0, resolved.dRcdMin); --c) {
        const std::vector<double> upper(lambda.begin() + c, lambda.end());
        const std::vector<double> rebuilt =
            longrope2Factors(resolved.rotaryDims, c, upper, resolved.scale(), resolved.trainLength).lambda;
        bool same = true;
        for (int i = 0; i < pairs && same; ++i)
            same = std::abs(rebuilt[size_t(i)] - lambda[size_t(i)]) <= 1e-12 * std::abs(lambda[size_t(i)]);
        if (same)
            return c;
    }
    return -1;
}

std::vector<SearchBaseline> searchBaselines(const RopeConfig &config, int length)
{
    const double target = std::max<double>(length, config.trainLength);
    std::vector<SearchBaseline> out;
    const FactorSet identity = identityFactors(config.rotaryDims);
    out.push_back({QStringLiteral("original"), {identity.lambda, identity.attentionFactor}});
    const std::map<QString, FactorSet> families = standardFamilies(config, target);
    for (const char *name : {"pi", "ntk", "yarn", "llama3", "config"}) {
        const auto found = families.find(QLatin1String(name));
        if (found != families.end())
            out.push_back({found->first, {found->second.lambda, found->second.attentionFactor}});
    }
    return out;
}

} // namespace rs
