// The statistics every verdict rests on (common/statistics.h), checked against published values,
// hand-computed cases and their defining property: over many synthetic data sets with a known
// answer, a 95 % interval covers it about 95 % of the time.
#include "common/statistics.h"

#include <QTest>

#include <cmath>
#include <random>

using namespace rs;

namespace {

// How often the paired bootstrap's intervals (difference and ratio) cover the true values over
// `datasets` synthetic data sets of n pairs drawn by `draw` (which fills a and b).
struct Coverage {
    double difference = 0;
    double ratio = 0;
};

template <class Draw>
Coverage coverage(int datasets, int n, double level, double trueDifference, double trueRatio, Aggregate how, Draw draw)
{
    std::mt19937_64 rng(12345);
    BootstrapOptions options;
    options.resamples = 1000;
    options.level = level;
    int diffHits = 0, ratioHits = 0;
    std::vector<double> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
    for (int k = 0; k < datasets; ++k) {
        draw(rng, a, b);
        options.seed = uint64_t(k) + 1;
        const PairedComparison c = pairedBootstrap(a, b, how, options);
        diffHits += c.difference.contains(trueDifference) ? 1 : 0;
        ratioHits += c.ratio.contains(trueRatio) ? 1 : 0;
    }
    return {double(diffHits) / datasets, double(ratioHits) / datasets};
}

// The acceptance band for an observed coverage over M data sets. A correct bootstrap interval of a
// smooth statistic of n = 40 samples covers a little less than its level: to first order it is
// the plug-in z-interval (variance with divisor n), whose coverage is
// P(|T_39| ≤ z·sqrt(39/40)) = 0.940 for z = 1.960 and 0.793 for z = 1.282 (the 80 % level), and a
// skewed statistic adds an error of order 1/n; the band allows the true coverage to lie up to
// 0.025 below the level. The observed share is binomial around it with σ = sqrt(p(1 − p)/M)
// (≤ 0.0055 for p ≥ 0.925, M = 2000); the band adds 5σ on both sides, which a correct
// implementation leaves with probability below 10⁻⁶, while a wrong level (a 90 % interval sold as
// 95 %: coverage ≈ 0.885) or a standard error off by a fifth falls outside it.
bool withinBand(double observed, double level, int datasets)
{
    const double p = level - 0.025;
    const double sigma = std::sqrt(p * (1 - p) / datasets);
    return observed >= p - 5 * sigma && observed <= level + 5 * sigma;
}

} // namespace

class TestStatistics : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void normalQuantileAgainstTables()
    {
        // Published values of Φ⁻¹ and its round trip through Φ (std::erfc).
        QVERIFY(std::abs(normalQuantile(0.975) - 1.959963984540054) < 1e-12);
        QVERIFY(std::abs(normalQuantile(0.5)) < 1e-15);
        QVERIFY(std::abs(normalQuantile(0.9) - 1.2815515655446004) < 1e-12);
        QVERIFY(std::abs(normalQuantile(1e-10) + 6.361340902404056) < 1e-9);
        for (double p : {1e-12, 0.001, 0.2, 0.7, 0.999999})
            QVERIFY2(std::abs(normalCdf(normalQuantile(p)) - p) <= 1e-12 * p, qPrintable(QString::number(p)));
        // Deep in the tail Φ's slope relative to Φ is |x| ≈ 30: a last-ulp step in x moves Φ by 1e-13.
        QVERIFY(std::abs(normalCdf(normalQuantile(1e-200)) - 1e-200) <= 1e-9 * 1e-200);
        QVERIFY(std::isinf(normalQuantile(0)) && normalQuantile(0) < 0);
        QVERIFY(std::isnan(normalQuantile(1.5)));
    }

    // Intervals that need no simulation to check.
    void degenerateCases()
    {
        const std::vector<double> b{1.2, 3.4, 2.2, 9.0, 1.1};
        std::vector<double> a = b;
        for (double &x : a)
            x += 2;  // every pair differs by exactly 2: every resample's difference is 2
        const PairedComparison c = pairedBootstrap(a, b, Aggregate::Mean);
        QCOMPARE(c.samples, 5);
        QVERIFY(std::abs(c.difference.estimate - 2) < 1e-12);
        QVERIFY(std::abs(c.difference.lower - 2) < 1e-12 && std::abs(c.difference.upper - 2) < 1e-12);
        QVERIFY(std::abs(c.ratio.estimate - (16.9 + 10) / 16.9) < 1e-12);
        QVERIFY(c.ratio.lower < c.ratio.estimate && c.ratio.estimate < c.ratio.upper);

        const PairedComparison same = pairedBootstrap(b, b, Aggregate::ExpOfMean);
        QVERIFY(same.difference.lower == 0 && same.difference.upper == 0);
        QVERIFY(std::abs(same.ratio.lower - 1) < 1e-15 && std::abs(same.ratio.upper - 1) < 1e-15);

        // Too little or bad data: an estimate but no interval.
        QVERIFY(!bootstrapAggregate({3.0}, Aggregate::Mean).valid());
        QCOMPARE(bootstrapAggregate({3.0}, Aggregate::Mean).estimate, 3.0);
        QVERIFY(!bootstrapAggregate({1.0, INFINITY, 2.0}, Aggregate::Mean).valid());
        QVERIFY(!pairedBootstrap({1, 2}, {1, 2, 3}, Aggregate::Mean).difference.valid());
        QVERIFY(!pairedBootstrap({1, NAN}, {1, 2}, Aggregate::Mean).ratio.valid());
    }

    void seededAndReproducible()
    {
        const std::vector<double> a{1.0, 1.4, 9.0, 1.1, 2.5, 1.0, 30.0, 1.2}, b{1.1, 1.2, 3.0, 1.0, 2.0, 1.3, 7.0, 1.0};
        const PairedComparison x = pairedBootstrap(a, b, Aggregate::Mean), y = pairedBootstrap(a, b, Aggregate::Mean);
        QCOMPARE(x.difference.lower, y.difference.lower);
        QCOMPARE(x.ratio.upper, y.ratio.upper);
        BootstrapOptions other;
        other.seed = 7;
        const PairedComparison z = pairedBootstrap(a, b, Aggregate::Mean, other);
        QVERIFY(z.difference.lower != x.difference.lower);
        // The aggregates are the plain ones: mean PPL, and exp of the mean NLL.
        QVERIFY(std::abs(x.a - 47.2 / 8) < 1e-12 && std::abs(x.b - 17.6 / 8) < 1e-12);
        const PairedComparison e = pairedBootstrap({0.0, 1.0}, {0.5, 0.5}, Aggregate::ExpOfMean);
        QVERIFY(std::abs(e.a - std::exp(0.5)) < 1e-12 && std::abs(e.ratio.estimate - 1) < 1e-12);
    }

    // For a large sample the interval of a mean is the textbook mean ± 1.96 s/√n.
    void largeSampleMatchesNormalTheory()
    {
        std::mt19937_64 rng(3);
        std::normal_distribution<double> normal(5.0, 2.0);
        std::vector<double> x(400);
        double sum = 0, sq = 0;
        for (double &v : x) {
            v = normal(rng);
            sum += v;
        }
        const double mean = sum / 400;
        for (double v : x)
            sq += (v - mean) * (v - mean);
        const double half = 1.959964 * std::sqrt(sq / 400) / std::sqrt(400.0);
        const Interval i = bootstrapAggregate(x, Aggregate::Mean);
        QVERIFY(std::abs(i.estimate - mean) < 1e-12);
        // Monte Carlo error of a 2,000-resample endpoint is a few percent of the half-width.
        QVERIFY2(std::abs((i.upper - i.lower) / 2 - half) < 0.08 * half,
                 qPrintable(QStringLiteral("%1 vs %2").arg((i.upper - i.lower) / 2).arg(half)));
        QVERIFY(std::abs((i.upper + i.lower) / 2 - mean) < 0.1 * half);
    }

    // Paired data as needle PPLs look: a shared per-sample difficulty and a method effect. The
    // true mean difference is δ by construction; the true ratio of means is (μ + δ) / μ.
    void coverageOfTheMeanDifference()
    {
        const int datasets = 2000, n = 40;
        const double mu = 10, delta = 0.5;
        const auto draw = [&](std::mt19937_64 &rng, std::vector<double> &a, std::vector<double> &b) {
            std::normal_distribution<double> difficulty(mu, 3.0), effect(delta, 1.0);
            for (size_t i = 0; i < a.size(); ++i) {
                b[i] = difficulty(rng);
                a[i] = b[i] + effect(rng);
            }
        };
        for (double level : {0.95, 0.80}) {
            // The 80 % check needs fewer data sets to tell a wrong level apart (σ is larger, but so
            // is the gap to a 70 % or 90 % interval).
            const int m = level == 0.95 ? datasets : datasets / 2;
            const Coverage c = coverage(m, n, level, delta, (mu + delta) / mu, Aggregate::Mean, draw);
            qInfo("level %.2f: difference covered %.4f, ratio covered %.4f of %d data sets of %d pairs", level,
                  c.difference, c.ratio, m, n);
            QVERIFY2(withinBand(c.difference, level, m), qPrintable(QString::number(c.difference)));
            QVERIFY2(withinBand(c.ratio, level, m), qPrintable(QString::number(c.ratio)));
        }
    }

    // Right-skewed per-sample perplexities (log-normal: PPL = exp(NLL) with a normal NLL) and a
    // multiplicative effect: b = exp(N(1, 0.3)), a = b · exp(N(m, 0.3)). Then E[b] = e^(1 + 0.045),
    // E[a] = E[b] · e^(m + 0.045), so the true ratio of mean PPLs is e^(m + 0.045) and the true
    // difference E[b] (e^(m + 0.045) − 1).
    void coverageOnSkewedPerplexities()
    {
        const int datasets = 2000, n = 40;
        const double m = 0.2;
        const double meanB = std::exp(1.045), ratio = std::exp(m + 0.045);
        const auto ppl = [&](std::mt19937_64 &rng, std::vector<double> &a, std::vector<double> &b) {
            std::normal_distribution<double> base(1.0, 0.3), effect(m, 0.3);
            for (size_t i = 0; i < a.size(); ++i) {
                b[i] = std::exp(base(rng));
                a[i] = b[i] * std::exp(effect(rng));
            }
        };
        const Coverage c = coverage(datasets, n, 0.95, meanB * (ratio - 1), ratio, Aggregate::Mean, ppl);
        qInfo("skewed PPL: difference covered %.4f, ratio %.4f", c.difference, c.ratio);
        QVERIFY2(withinBand(c.difference, 0.95, datasets), qPrintable(QString::number(c.difference)));
        QVERIFY2(withinBand(c.ratio, 0.95, datasets), qPrintable(QString::number(c.ratio)));
    }

    // The same effect seen through the NLLs with the exp-of-mean aggregate (corpus perplexity):
    // the true ratio is e^m exactly and the true difference e^(1 + m) − e^1.
    void coverageOfExpMeanNll()
    {
        const int datasets = 2000, n = 40;
        const double m = 0.2;
        const auto nll = [&](std::mt19937_64 &rng, std::vector<double> &a, std::vector<double> &b) {
            std::normal_distribution<double> base(1.0, 0.3), effect(m, 0.3);
            for (size_t i = 0; i < a.size(); ++i) {
                b[i] = base(rng);
                a[i] = b[i] + effect(rng);
            }
        };
        const Coverage e = coverage(datasets, n, 0.95, std::exp(1.0 + m) - std::exp(1.0), std::exp(m), Aggregate::ExpOfMean, nll);
        qInfo("exp-of-mean NLL: difference covered %.4f, ratio %.4f", e.difference, e.ratio);
        QVERIFY2(withinBand(e.difference, 0.95, datasets), qPrintable(QString::number(e.difference)));
        QVERIFY2(withinBand(e.ratio, 0.95, datasets), qPrintable(QString::number(e.ratio)));
    }

    // Wilson 95 % intervals by hand (z² = 3.84146): 0/10 → upper z² / (n + z²) = 0.27753;
    // 5/10 → 0.5 ± z / (1 + z²/n) · √(0.025 + z²/400) = 0.5 ± 0.26341; n/n mirrors 0/n.
    void wilson()
    {
        const Interval zero = wilsonInterval(0, 10), half = wilsonInterval(5, 10), all = wilsonInterval(10, 10);
        QVERIFY(zero.lower < 1e-15 && std::abs(zero.upper - 0.27753) < 1e-5);
        QVERIFY(std::abs(half.lower - 0.2366) < 1e-4 && std::abs(half.upper - 0.7634) < 1e-4);
        QVERIFY(std::abs(all.lower - (1 - zero.upper)) < 1e-12 && std::abs(all.upper - 1) < 1e-15);
        QVERIFY(!wilsonInterval(0, 0).valid());
    }

    void ranksWithTies()
    {
        QCOMPARE(averageRanks({10, 20, 20, 30}), (std::vector<double>{1, 2.5, 2.5, 4}));
        QCOMPARE(averageRanks({3, 1, 3, 3}), (std::vector<double>{3, 1, 3, 3}));
    }

    // By hand: x = 1…5, y = 2 1 4 3 5: Σd² = 4, ρ = 1 − 6·4 / (5·24) = 0.8. With ties
    // (x = 1 2 2 3 → ranks 1 2.5 2.5 4; y = 1 3 2 4): Σ dx·dy = 4.5, Σ dx² = 4.5, Σ dy² = 5,
    // ρ = 4.5 / √22.5 = 3/√10.
    void spearmanByHand()
    {
        QVERIFY(std::abs(spearman({1, 2, 3, 4, 5}, {2, 1, 4, 3, 5}) - 0.8) < 1e-15);
        QVERIFY(std::abs(spearman({1, 2, 2, 3}, {1, 3, 2, 4}) - 3 / std::sqrt(10.0)) < 1e-15);
        // Only the order counts: any increasing transform gives 1, a decreasing one −1.
        QVERIFY(std::abs(spearman({0.1, 5, 2, 9}, {std::exp(0.1), std::exp(5.0), std::exp(2.0), std::exp(9.0)}) - 1) < 1e-15);
        QVERIFY(std::abs(spearman({0.1, 5, 2, 9}, {-1, -50, -20, -90}) + 1) < 1e-15);
        QVERIFY(std::isnan(spearman({1, 1, 1}, {1, 2, 3})));
        QVERIFY(std::isnan(spearman({1, 2}, {1, 2, 3})));
    }
};

QTEST_GUILESS_MAIN(TestStatistics)
#include "test_statistics.moc"
