// The search space and its genome operations: the settings checked and their defaults resolved
// (bounds, the d_rcd range, the attention factor), the random stream, a genome's factors, the first
// generation's members, mutation and crossover, and the known families projected onto the genome
// to seed a run. The generation loop that applies them is in search.cpp.
#include "search/search_p.h"

#include "common/error.h"
#include "rope/factorfamilies.h"
#include "rope/ropegeometry.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_set>

namespace rs {

using search_detail::candidateKey;
using search_detail::kSettingsSource;

uint64_t SearchRng::next()
{
    uint64_t z = (m_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double SearchRng::uniform() { return double(next() >> 11) * 0x1.0p-53; }

double SearchRng::uniform(double lo, double hi) { return std::clamp(lo + (hi - lo) * uniform(), lo, hi); }

int SearchRng::below(int n) { return n <= 1 ? 0 : int(next() % uint64_t(n)); }

namespace {

// Weighted least squares under x_0 ≤ x_1 ≤ … (pool adjacent violators).
std::vector<double> isotonic(const std::vector<double> &y, const std::vector<double> &w)
{
    struct Block {
        double value, weight;
        size_t count;
    };
    std::vector<Block> blocks;
    for (size_t i = 0; i < y.size(); ++i) {
        blocks.push_back({y[i], w[i], 1});
        while (blocks.size() >= 2 && blocks[blocks.size() - 2].value > blocks.back().value) {
            const Block b = blocks.back();
            blocks.pop_back();
            Block &a = blocks.back();
            a.value = (a.value * a.weight + b.value * b.weight) / (a.weight + b.weight);
            a.weight += b.weight;
            a.count += b.count;
        }
    }
    std::vector<double> x;
    x.reserve(y.size());
    for (const Block &b : blocks)
        x.insert(x.end(), b.count, b.value);
    return x;
}

} // namespace

EvolutionSearch::EvolutionSearch(const SearchSettings &settings) : m_settings(settings)
{
    SearchSettings &s = m_settings;
    if (s.rotaryDims < 4 || s.rotaryDims % 2 != 0)
        throw Error(kSettingsSource, QStringLiteral("rotary dimensions must be even and at least 4 (got %1)").arg(s.rotaryDims));
    if (!(s.base > 1) || !std::isfinite(s.base))
        throw Error(kSettingsSource, QStringLiteral("rope base must be > 1 (got %1)").arg(s.base));
    if (!(s.trainLength > 0) || !(s.targetLength >= s.trainLength) || !std::isfinite(s.targetLength))
        throw Error(kSettingsSource, QStringLiteral("need 0 < L_train ≤ L (got %1, %2)").arg(s.trainLength).arg(s.targetLength));
    if (s.population < 2)
        throw Error(kSettingsSource, QStringLiteral("population must be at least 2 (got %1)").arg(s.population));
    if (s.iterations < 0)
        throw Error(kSettingsSource, QStringLiteral("iterations must be ≥ 0 (got %1)").arg(s.iterations));
    if (s.parents == 0)
        s.parents = std::max(1, s.population / 2);
    if (s.parents < 1 || s.parents > s.population)
        throw Error(kSettingsSource, QStringLiteral("parents must be in [1, population] (got %1)").arg(s.parents));
    if (s.mutations < 0)
        s.mutations = (s.population - s.parents) / 2;
    if (s.crossovers < 0)
        s.crossovers = std::max(0, s.population - s.parents - s.mutations);
    if (s.mutations + s.crossovers < 1 && s.iterations > 0)
        throw Error(kSettingsSource, QStringLiteral("each iteration needs at least one mutation or crossover"));
    if (!(s.mutationProbability >= 0 && s.mutationProbability <= 1))
        throw Error(kSettingsSource, QStringLiteral("mutation probability must be in [0, 1]"));
    if (!(s.dRcdMutationProbability >= 0 && s.dRcdMutationProbability <= 1))
        throw Error(kSettingsSource, QStringLiteral("d_rcd mutation probability must be in [0, 1]"));
    if (!(s.lowerBoundFactor > 0) || !(s.upperBoundFactor >= s.lowerBoundFactor) || !std::isfinite(s.upperBoundFactor))
        throw Error(kSettingsSource, QStringLiteral("need 0 < lower bound factor ≤ upper bound factor"));
    if (s.maxEvaluations < 0 || s.maxSeconds < 0)
        throw Error(kSettingsSource, QStringLiteral("budgets must be ≥ 0"));
    if (!(s.racingKeepFraction > 0 && s.racingKeepFraction <= 1))
        throw Error(kSettingsSource, QStringLiteral("racing keep fraction must be in (0, 1] (got %1)").arg(s.racingKeepFraction));
    if (!(s.attentionFactor >= 0) || !std::isfinite(s.attentionFactor))
        throw Error(kSettingsSource, QStringLiteral("attention factor must be > 0, or 0 for the default (got %1)").arg(s.attentionFactor));
    if (s.validationTop < 1)
        throw Error(kSettingsSource, QStringLiteral("validation needs at least one candidate per generation (got %1)").arg(s.validationTop));
    if (s.searchAttentionFactor
        && (!(s.attentionFactorMin > 0) || !(s.attentionFactorMax >= s.attentionFactorMin) || !std::isfinite(s.attentionFactorMax)))
        throw Error(kSettingsSource, QStringLiteral("need 0 < attention factor min ≤ max (got %1, %2)")
                                         .arg(s.attentionFactorMin).arg(s.attentionFactorMax));
    if (s.keepOriginalDims < 0)
        throw Error(kSettingsSource, QStringLiteral("the dimensions kept at λ = 1 must be ≥ 0 (got %1)").arg(s.keepOriginalDims));
    if (s.method != SearchMethod::LongRoPE2 && (s.decoupleAnchor || s.dRcdAboveTcd || s.keepOriginalDims > 0))
        throw Error(kSettingsSource, QStringLiteral("the extensions of the search space (a decoupled anchor, d_rcd above "
                                                    "d_tcd, dimensions kept at λ = 1) are LongRoPE2's"));
    m_pairs = s.rotaryDims / 2;
    m_scale = s.scale();
    m_attentionGiven = s.attentionFactor > 0;
    if (!m_attentionGiven)
        s.attentionFactor = longropeAttentionFactor(m_scale, s.trainLength);
    if (s.method == SearchMethod::LongRoPE2) {
        if (s.dRcdMin < 0)
            s.dRcdMin = tenPeriodDimension(s.rotaryDims, s.base, s.trainLength);
        if (s.dRcdMax < 0)
            s.dRcdMax = s.dRcdAboveTcd ? m_pairs - 1 : theoreticalCriticalDimension(s.rotaryDims, s.base, s.trainLength);
        s.dRcdMax = std::min(s.dRcdMax, m_pairs - 1);
        s.dRcdMin = std::min(s.dRcdMin, s.dRcdMax);
        if (s.dRcdMin < 0 || s.dRcdMax < s.dRcdMin)
            throw Error(kSettingsSource, QStringLiteral("invalid d_rcd range [%1, %2]").arg(s.dRcdMin).arg(s.dRcdMax));
        if (s.keepOriginalDims > s.dRcdMin)
            throw Error(kSettingsSource, QStringLiteral("%1 dimensions kept at λ = 1 reach past the bottom of the d_rcd range (%2)")
                                             .arg(s.keepOriginalDims).arg(s.dRcdMin));
        m_lo = m_scale * s.lowerBoundFactor;
        m_hi = m_scale * s.upperBoundFactor;
    } else {
        if (!(s.grid > 0))
            throw Error(kSettingsSource, QStringLiteral("factor grid step must be > 0"));
        s.dRcdMin = s.dRcdMax = 0;
        m_lo = std::ceil(1.0 / s.grid - 1e-9) * s.grid;
        m_hi = std::floor(m_scale * s.upperBoundFactor / s.grid + 1e-9) * s.grid;
        if (m_hi < m_lo)
            throw Error(kSettingsSource, QStringLiteral("no grid value in [1, s·upper]"));
    }
}

double EvolutionSearch::snap(double v, double lo, double hi) const
{
    v = std::clamp(v, lo, hi);
    if (m_settings.method != SearchMethod::LongRoPEv1)
        return v;
    const double g = m_settings.grid;
    const double kLo = std::ceil(lo / g - 1e-9), kHi = std::floor(hi / g + 1e-9);
    return std::clamp(std::round(v / g), kLo, std::max(kLo, kHi)) * g;
}

std::vector<double> EvolutionSearch::lambdaOf(const SearchGenome &g) const
{
    if (m_settings.method == SearchMethod::LongRoPEv1)
        return g.upper;
    return longrope2Factors(m_settings.rotaryDims, g.dRcd, g.upper, m_scale, m_settings.trainLength,
                            Longrope2Shape{g.anchor, m_settings.keepOriginalDims})
        .lambda;
}

SearchGenome EvolutionSearch::initialMember(int index, SearchRng &rng) const
{
    SearchGenome g;
    g.attentionFactor = m_settings.attentionFactor;
    if (m_settings.method == SearchMethod::LongRoPE2) {
        const int candidates = m_settings.dRcdMax - m_settings.dRcdMin + 1;
        g.dRcd = m_settings.dRcdMin + index % candidates;
        g.upper.assign(size_t(m_pairs - g.dRcd), rng.uniform(m_lo, m_hi));
    } else if (index == 0) {  // PI
        g.dRcd = 0;
        g.upper.assign(size_t(m_pairs), snap(m_scale, m_lo, m_hi));
    } else {
        g.dRcd = 0;
        g.upper.resize(size_t(m_pairs));
        for (double &v : g.upper)
            v = snap(rng.uniform(m_lo, m_hi), m_lo, m_hi);
        std::sort(g.upper.begin(), g.upper.end());
    }
    // Drawn after the factors, so runs that do not search it keep their random stream.
    if (m_settings.searchAttentionFactor)
        g.attentionFactor = index == 0 ? std::clamp(m_settings.attentionFactor, m_settings.attentionFactorMin, m_settings.attentionFactorMax)
                                       : rng.uniform(m_settings.attentionFactorMin, m_settings.attentionFactorMax);
    // Likewise last: member 0 starts coupled (the paper's shape; so do the seeded families), the
    // others anywhere from d_rcd up.
    if (m_settings.decoupleAnchor)
        g.anchor = index == 0 ? g.dRcd : g.dRcd + rng.below(m_pairs - g.dRcd);
    return g;
}

SearchGenome EvolutionSearch::mutate(const SearchGenome &parent, SearchRng &rng) const
{
    SearchGenome g = parent;
    bool changed = false;
    if (m_settings.method == SearchMethod::LongRoPE2 && m_settings.dRcdMax > m_settings.dRcdMin && rng.uniform() < m_settings.dRcdMutationProbability) {
        int step = rng.uniform() < 0.5 ? -1 : 1;
        if (g.dRcd + step < m_settings.dRcdMin || g.dRcd + step > m_settings.dRcdMax)
            step = -step;
        if (step < 0)  // one more searched dimension: it takes the old λ_dRcd (stays monotone, ≥ s)
            g.upper.insert(g.upper.begin(), g.upper.front());
        else
            g.upper.erase(g.upper.begin());
        g.dRcd += step;
        changed = true;
    }
    if (m_settings.decoupleAnchor)
        g.anchor = std::max(g.anchor, g.dRcd);
    const int n = int(g.upper.size());
    auto mutateAt = [&](int k) {
        const double lo = k > 0 ? std::max(m_lo, g.upper[size_t(k - 1)]) : m_lo;
        const double hi = k + 1 < n ? std::min(m_hi, g.upper[size_t(k + 1)]) : m_hi;
        g.upper[size_t(k)] = snap(rng.uniform(lo, std::max(lo, hi)), lo, std::max(lo, hi));
    };
    for (int k = 0; k < n; ++k) {
        if (rng.uniform() < m_settings.mutationProbability) {
            mutateAt(k);
            changed = true;
        }
    }
    const bool attention = m_settings.searchAttentionFactor;
    // Uniform within a quarter of the range either side of the parent's value (clamped to the
    // bounds): wide enough to cross the range in a few generations, local enough to refine.
    auto mutateAttention = [&] {
        const double w = 0.25 * (m_settings.attentionFactorMax - m_settings.attentionFactorMin);
        const double lo = std::max(m_settings.attentionFactorMin, g.attentionFactor - w);
        const double hi = std::min(m_settings.attentionFactorMax, g.attentionFactor + w);
        g.attentionFactor = rng.uniform(lo, std::max(lo, hi));
    };
    if (attention && rng.uniform() < m_settings.mutationProbability) {
        mutateAttention();
        changed = true;
    }
    // The anchor shifts by ±1 as d_rcd does, within [d_rcd, d/2 − 1]; drawn last (see initialMember).
    if (m_settings.decoupleAnchor && m_pairs - 1 > g.dRcd && rng.uniform() < m_settings.dRcdMutationProbability) {
        int step = rng.uniform() < 0.5 ? -1 : 1;
        if (g.anchor + step < g.dRcd || g.anchor + step > m_pairs - 1)
            step = -step;
        g.anchor += step;
        changed = true;
    }
    if (!changed && n + (attention ? 1 : 0) > 0) {
        const int k = rng.below(n + (attention ? 1 : 0));  // k == n: the attention gene
        if (k < n)
            mutateAt(k);
        else
            mutateAttention();
    }
    return g;
}

SearchGenome EvolutionSearch::crossover(const SearchGenome &a, const SearchGenome &b, SearchRng &rng) const
{
    if (a.dRcd != b.dRcd || a.upper.size() != b.upper.size())
        throw Error(kSettingsSource, QStringLiteral("crossover needs two parents with the same d_rcd"));
    SearchGenome g = a;
    double runningMax = m_lo;
    for (size_t k = 0; k < g.upper.size(); ++k) {
        const double v = rng.uniform() < 0.5 ? a.upper[k] : b.upper[k];
        runningMax = std::max(runningMax, v);
        g.upper[k] = snap(runningMax, m_lo, m_hi);
    }
    if (m_settings.searchAttentionFactor)
        g.attentionFactor = rng.uniform() < 0.5 ? a.attentionFactor : b.attentionFactor;
    if (m_settings.decoupleAnchor)
        g.anchor = rng.uniform() < 0.5 ? a.anchor : b.anchor;
    return g;
}

std::vector<SearchBaseline> EvolutionSearch::defaultBaselines() const
{
    const int d = m_settings.rotaryDims;
    const auto asBaseline = [](const QString &name, const FactorSet &f) {
        return SearchBaseline{name, Candidate{f.lambda, f.attentionFactor}};
    };
    return {asBaseline(QStringLiteral("original"), identityFactors(d)),
            asBaseline(QStringLiteral("pi"), piFactors(d, m_scale)),
            asBaseline(QStringLiteral("ntk"), ntkFactors(d, m_scale)),
            asBaseline(QStringLiteral("yarn"), yarnFactors(d, m_settings.base, m_settings.trainLength, m_scale)),
            asBaseline(QStringLiteral("llama3"), llama3Factors(d, m_settings.base, m_settings.trainLength, Llama3Params{m_scale, 1.0, 4.0}))};
}

SearchGenome EvolutionSearch::project(const Candidate &family, int dRcd) const
{
    if (int(family.lambda.size()) != m_pairs)
        throw Error(kSettingsSource, QStringLiteral("a family to seed has %1 factors, the search %2").arg(family.lambda.size()).arg(m_pairs));
    std::vector<double> t;  // ln λ of the family
    t.reserve(family.lambda.size());
    for (double v : family.lambda) {
        if (!(v > 0) || !std::isfinite(v))
            throw Error(kSettingsSource, QStringLiteral("a family to seed has a factor that is not finite and positive (%1)").arg(v));
        t.push_back(std::log(v));
    }
    SearchGenome g;
    g.attentionFactor = m_settings.searchAttentionFactor ? std::clamp(family.attentionFactor, m_settings.attentionFactorMin, m_settings.attentionFactorMax)
                                                  : m_settings.attentionFactor;
    const bool lr2 = m_settings.method == SearchMethod::LongRoPE2;
    const int c = lr2 ? std::clamp(dRcd, m_settings.dRcdMin, m_settings.dRcdMax) : 0;
    // x_k = ln upper_k. Below d_rcd, ln λ_i = (i/c)·x_0: those terms fold into x_0's weight and target.
    std::vector<double> y(t.begin() + c, t.end()), w(y.size(), 1.0);
    double numerator = y[0], weight = 1.0;
    for (int i = std::max(1, m_settings.keepOriginalDims); i < c; ++i) {  // the kept dimensions are 1 whatever x_0 is
        const double a = double(i) / c;
        numerator += a * t[size_t(i)];
        weight += a * a;
    }
    y[0] = numerator / weight;
    w[0] = weight;
    // The box constraint keeps the isotonic solution's shape: clamping it is the constrained optimum.
    std::vector<double> x = isotonic(y, w);
    g.dRcd = c;
    g.anchor = lr2 && m_settings.decoupleAnchor ? c : -1;  // the families project onto the coupled shape
    g.upper.reserve(x.size());
    for (double v : x)
        g.upper.push_back(snap(std::exp(std::clamp(v, std::log(m_lo), std::log(m_hi))), m_lo, m_hi));
    return g;
}

std::vector<SearchGenome> EvolutionSearch::familySeeds(const std::vector<SearchBaseline> &families) const
{
    std::vector<SearchGenome> out;
    std::unordered_set<std::string> keys;
    const auto add = [&](const SearchGenome &g) {
        if (keys.insert(candidateKey(candidateOf(g))).second)
            out.push_back(g);
    };
    if (m_settings.method == SearchMethod::LongRoPEv1) {
        for (const SearchBaseline &f : families)
            if (int(out.size()) < m_settings.population)
                add(project(f.candidate));
        return out;
    }
    struct Option {
        double distance;
        size_t family;
        SearchGenome genome;
    };
    std::vector<Option> options;
    for (size_t f = 0; f < families.size(); ++f) {
        for (int c = m_settings.dRcdMin; c <= m_settings.dRcdMax; ++c) {
            SearchGenome g = project(families[f].candidate, c);
            const std::vector<double> lambda = lambdaOf(g);
            double distance = 0;
            for (size_t i = 0; i < lambda.size(); ++i) {
                const double e = std::log(lambda[i]) - std::log(families[f].candidate.lambda[i]);
                distance += e * e;
            }
            options.push_back({distance, f, std::move(g)});
        }
    }
    // Every family's nearest member (the smallest d_rcd among equals) …
    for (size_t f = 0; f < families.size() && int(out.size()) < m_settings.population; ++f) {
        const Option *best = nullptr;
        for (const Option &o : options)
            if (o.family == f && (!best || o.distance < best->distance))
                best = &o;
        if (best)
            add(best->genome);
    }
    // … then the other projections, nearest first, up to a quarter of the population: the rest
    // stays random, the spread the search explores from (more seeds crowd it out in small runs).
    const size_t limit = std::max(out.size(), size_t(m_settings.population / 4));
    std::stable_sort(options.begin(), options.end(), [](const Option &a, const Option &b) { return a.distance < b.distance; });
    for (const Option &o : options) {
        if (out.size() >= limit)
            break;
        add(o.genome);
    }
    return out;
}

} // namespace rs
