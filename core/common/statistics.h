#pragma once
// Part common: the statistics every verdict needs, header-only and pure math so that eval, the
// search, the worker and the widgets can all use it: bootstrap intervals of an aggregate of
// per-sample values, the paired bootstrap of two methods scored on the same samples (difference and
// ratio of their aggregates), the Wilson interval of an accuracy, and Spearman's rank correlation.
//
// Choices, and why:
// - Paired resampling. Two factor sets scored on the same needle samples share each sample's
//   difficulty (a far needle, a hard key); resampling the pairs keeps that correlation, so the
//   interval is that of the difference the samples actually show, far narrower than two separate
//   intervals would suggest.
// - BCa (bias-corrected and accelerated, Efron & Tibshirani 1993, ch. 14) rather than the plain
//   percentile interval. Per-sample needle PPL is strongly right-skewed (one failed retrieval gives
//   30 beside a row of 1.0s), and a ratio of means is a biased, skewed statistic; BCa corrects the
//   median bias (z0, from the bootstrap distribution) and the skewness (a, from the jackknife),
//   which the percentile interval ignores. Its cost, n jackknife statistics, is nothing here.
// - Difference and ratio. Both are reported. The ratio reads better for perplexity: PPL is the
//   exponential of a mean NLL, so ratios are comparable across lengths whose values differ by
//   orders of magnitude (1.003 within L_train, 50 beyond it), and for the exp-of-mean-NLL
//   aggregate the ratio is exactly exp of the paired mean NLL difference. An interval that
//   excludes 1 (or 0 for the difference) is a difference the samples support at that level.
// - Seeded, portable resampling: std::mt19937_64 (its sequence is fixed by the standard) and
//   indices by modulo (a bias below n / 2^64), so the same seed gives the same interval with any
//   standard library.
// - The standard library has erf but no inverse; normalQuantile inverts the CDF by Newton steps
//   rather than adding a dependency for one function.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <numbers>
#include <numeric>
#include <random>
#include <vector>

namespace rs {

// How a method's per-sample values combine into its figure.
enum class Aggregate {
    Mean,       // mean of the values: the paper's needle PPL (mean of per-sample perplexities)
    ExpOfMean,  // exp of the mean of the values, which are NLLs: corpus perplexity
};

struct BootstrapOptions {
    int resamples = 2000;
    double level = 0.95;
    uint64_t seed = 20250211;  // any fixed seed: the same samples give the same interval
};

struct Interval {
    double estimate = std::numeric_limits<double>::quiet_NaN();
    double lower = std::numeric_limits<double>::quiet_NaN();
    double upper = std::numeric_limits<double>::quiet_NaN();
    // False with fewer than two samples or non-finite values: there is no interval to give.
    bool valid() const { return std::isfinite(lower) && std::isfinite(upper); }
    bool contains(double x) const { return valid() && lower <= x && x <= upper; }
};

// Method A against method B on the same samples (A − B and A / B of their aggregates).
struct PairedComparison {
    int samples = 0;
    double a = std::numeric_limits<double>::quiet_NaN();  // aggregate of A
    double b = std::numeric_limits<double>::quiet_NaN();  // aggregate of B
    Interval difference;
    Interval ratio;
    BootstrapOptions options;
};

// Φ, the standard normal CDF.
inline double normalCdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// Φ⁻¹(p) for 0 < p < 1 (±inf at 0 and 1, NaN outside). Newton's method on log Φ(x) = log p, which
// is concave and increasing: started left of the root at −sqrt(−2 ln p) it climbs to it
// monotonically and quadratically, deep tails included; p > 1/2 by symmetry (1 − p is exact there).
inline double normalQuantile(double p)
{
    if (!(p >= 0 && p <= 1))
        return std::numeric_limits<double>::quiet_NaN();
    if (p == 0)
        return -std::numeric_limits<double>::infinity();
    if (p == 1)
        return std::numeric_limits<double>::infinity();
    if (p > 0.5)
        return -normalQuantile(1 - p);
    const double logP = std::log(p);
    double x = -std::sqrt(-2 * logP);
    for (int i = 0; i < 100; ++i) {
        const double cdf = normalCdf(x);
        const double density = std::exp(-0.5 * x * x) / std::sqrt(2 * std::numbers::pi);
        const double step = (std::log(cdf) - logP) * cdf / density;
        x -= step;
        if (std::abs(step) <= 1e-15 * std::max(1.0, std::abs(x)))
            break;
    }
    return x;
}

// The aggregate of `values` with per-value weights (resample counts; all 1 for the sample itself).
inline double weightedAggregate(const std::vector<double> &values, const std::vector<double> &weights, Aggregate how)
{
    double sum = 0, total = 0;
    for (size_t i = 0; i < values.size(); ++i) {
        sum += weights[i] * values[i];
        total += weights[i];
    }
    const double mean = sum / total;
    return how == Aggregate::Mean ? mean : std::exp(mean);
}

inline double aggregate(const std::vector<double> &values, Aggregate how)
{
    if (values.empty())
        return std::numeric_limits<double>::quiet_NaN();
    return weightedAggregate(values, std::vector<double>(values.size(), 1.0), how);
}

// The BCa interval of a statistic of n samples, given as a function of per-sample weights (the
// number of times each sample was drawn; all 1 for the estimate itself, one 0 for the jackknife).
inline Interval bootstrapInterval(int n, const std::function<double(const std::vector<double> &)> &statistic,
                                  const BootstrapOptions &options = {})
{
    Interval out;
    if (n < 1)
        return out;
    std::vector<double> weights(static_cast<size_t>(n), 1.0);
    out.estimate = statistic(weights);
    if (n < 2 || !std::isfinite(out.estimate) || options.resamples < 2 || !(options.level > 0 && options.level < 1))
        return out;

    std::mt19937_64 rng(options.seed);
    std::vector<double> replicates;
    replicates.reserve(size_t(options.resamples));
    for (int b = 0; b < options.resamples; ++b) {
        std::fill(weights.begin(), weights.end(), 0.0);
        for (int i = 0; i < n; ++i)
            weights[size_t(rng() % uint64_t(n))] += 1.0;
        const double theta = statistic(weights);
        if (!std::isfinite(theta))
            return out;
        replicates.push_back(theta);
    }
    std::sort(replicates.begin(), replicates.end());
    const double B = double(replicates.size());

    // Bias correction: the share of replicates below the estimate (ties count half).
    const auto below = std::lower_bound(replicates.begin(), replicates.end(), out.estimate) - replicates.begin();
    const auto notAbove = std::upper_bound(replicates.begin(), replicates.end(), out.estimate) - replicates.begin();
    const double share = std::clamp((double(below) + 0.5 * double(notAbove - below)) / B, 0.5 / B, 1 - 0.5 / B);
    const double z0 = normalQuantile(share);

    // Acceleration from the jackknife: a = Σ d³ / (6 (Σ d²)^1.5), d_i = mean − θ_(i).
    std::vector<double> jack(static_cast<size_t>(n));
    std::fill(weights.begin(), weights.end(), 1.0);
    for (int i = 0; i < n; ++i) {
        weights[size_t(i)] = 0.0;
        jack[size_t(i)] = statistic(weights);
        weights[size_t(i)] = 1.0;
        if (!std::isfinite(jack[size_t(i)]))
            return out;
    }
    const double jackMean = std::accumulate(jack.begin(), jack.end(), 0.0) / n;
    double s2 = 0, s3 = 0;
    for (double t : jack) {
        const double d = jackMean - t;
        s2 += d * d;
        s3 += d * d * d;
    }
    const double a = s2 > 0 ? s3 / (6 * std::pow(s2, 1.5)) : 0.0;

    // Linear interpolation between order statistics at the adjusted levels.
    const auto quantile = [&](double q) {
        const double pos = std::clamp(q, 0.0, 1.0) * (B - 1);
        const size_t i = size_t(std::floor(pos));
        const double frac = pos - double(i);
        return i + 1 < replicates.size() ? replicates[i] + frac * (replicates[i + 1] - replicates[i]) : replicates.back();
    };
    const auto adjusted = [&](double alpha) {
        const double z = normalQuantile(alpha);
        const double denominator = 1 - a * (z0 + z);
        if (denominator <= 0)  // beyond the range BCa is defined for: the extreme replicate
            return alpha < 0.5 ? 0.0 : 1.0;
        return normalCdf(z0 + (z0 + z) / denominator);
    };
    out.lower = quantile(adjusted((1 - options.level) / 2));
    out.upper = quantile(adjusted((1 + options.level) / 2));
    return out;
}

// The interval of one method's aggregate (its mean PPL, or exp of its mean NLL).
inline Interval bootstrapAggregate(const std::vector<double> &values, Aggregate how, const BootstrapOptions &options = {})
{
    for (double v : values)
        if (!std::isfinite(v)) {
            Interval out;
            out.estimate = aggregate(values, how);
            return out;
        }
    return bootstrapInterval(int(values.size()), [&](const std::vector<double> &w) { return weightedAggregate(values, w, how); },
                             options);
}

// A against B, sample i of A paired with sample i of B (the same needle sample). Both vectors must
// have the same length; otherwise, or with non-finite values, the intervals are not valid.
inline PairedComparison pairedBootstrap(const std::vector<double> &a, const std::vector<double> &b, Aggregate how,
                                        const BootstrapOptions &options = {})
{
    PairedComparison out;
    out.options = options;
    if (a.size() != b.size() || a.empty())
        return out;
    out.samples = int(a.size());
    out.a = aggregate(a, how);
    out.b = aggregate(b, how);
    bool finite = true;
    for (size_t i = 0; i < a.size(); ++i)
        finite = finite && std::isfinite(a[i]) && std::isfinite(b[i]);
    if (!finite) {
        out.difference.estimate = out.a - out.b;
        out.ratio.estimate = out.a / out.b;
        return out;
    }
    const int n = int(a.size());
    // The same seed for both: the ratio's and the difference's replicates come from the same draws.
    out.difference = bootstrapInterval(
        n, [&](const std::vector<double> &w) { return weightedAggregate(a, w, how) - weightedAggregate(b, w, how); }, options);
    out.ratio = bootstrapInterval(
        n,
        [&](const std::vector<double> &w) {
            if (how == Aggregate::ExpOfMean)  // exp(mean a) / exp(mean b), without overflow
                return std::exp(weightedAggregate(a, w, Aggregate::Mean) - weightedAggregate(b, w, Aggregate::Mean));
            return weightedAggregate(a, w, how) / weightedAggregate(b, w, how);
        },
        options);
    return out;
}

// Wilson score interval of a proportion (successes of trials): unlike a bootstrap it stays honest
// at 0 of n and n of n, where every resample agrees.
inline Interval wilsonInterval(int successes, int trials, double level = 0.95)
{
    Interval out;
    if (trials < 1 || successes < 0 || successes > trials)
        return out;
    const double n = trials, p = double(successes) / n;
    const double z = normalQuantile(0.5 + level / 2);
    const double centre = (p + z * z / (2 * n)) / (1 + z * z / n);
    const double half = z / (1 + z * z / n) * std::sqrt(p * (1 - p) / n + z * z / (4 * n * n));
    out.estimate = p;
    out.lower = std::max(0.0, centre - half);
    out.upper = std::min(1.0, centre + half);
    return out;
}

// Ranks 1 … n, tied values sharing the mean of the ranks they span.
inline std::vector<double> averageRanks(const std::vector<double> &x)
{
    std::vector<size_t> order(x.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(), [&](size_t i, size_t j) { return x[i] < x[j]; });
    std::vector<double> ranks(x.size());
    for (size_t i = 0; i < order.size();) {
        size_t j = i;
        while (j + 1 < order.size() && x[order[j + 1]] == x[order[i]])
            ++j;
        const double rank = (double(i) + double(j)) / 2 + 1;  // ranks i+1 … j+1, averaged
        for (size_t k = i; k <= j; ++k)
            ranks[order[k]] = rank;
        i = j + 1;
    }
    return ranks;
}

// Spearman's rank correlation: Pearson's correlation of the average ranks (the definition that
// stays exact with ties). NaN when the vectors differ in length, have fewer than two values, or
// either is constant.
inline double spearman(const std::vector<double> &x, const std::vector<double> &y)
{
    const double nan = std::numeric_limits<double>::quiet_NaN();
    if (x.size() != y.size() || x.size() < 2)
        return nan;
    const std::vector<double> rx = averageRanks(x), ry = averageRanks(y);
    const double mean = (double(x.size()) + 1) / 2;  // the mean rank, ties or not
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        sxy += (rx[i] - mean) * (ry[i] - mean);
        sxx += (rx[i] - mean) * (rx[i] - mean);
        syy += (ry[i] - mean) * (ry[i] - mean);
    }
    if (sxx == 0 || syy == 0)
        return nan;
    return sxy / std::sqrt(sxx * syy);
}

} // namespace rs
