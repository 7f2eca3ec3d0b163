// The verdict on a score beside its references (eval/verdict.h), against figures computed by hand:
// a method exactly twice (or half) a reference on every sample has a ratio interval of exactly
// [2, 2] (or [0.5, 0.5]) whatever the resampling, so it is worse (better) beyond the noise; two
// methods with equal means but opposite per-sample orders are within the noise; the interval of a
// mean of n values alternating 1 and 3 is close to the normal one, 2 ± 1.96 / √n; only the first
// `basis` samples count, and too few samples give no verdict at all.
#include "eval/verdict.h"

#include <QTest>

#include <cmath>

using namespace rs;

class TestVerdict : public QObject {
    Q_OBJECT

private slots:
    void ratioVerdictReadsTheInterval()
    {
        QCOMPARE(ratioVerdict(Interval{0.9, 0.8, 0.95}), Verdict::Better);
        QCOMPARE(ratioVerdict(Interval{1.2, 1.05, 1.3}), Verdict::Worse);
        QCOMPARE(ratioVerdict(Interval{1.0, 0.9, 1.1}), Verdict::WithinNoise);
        // An interval that touches 1 does not exclude it.
        QCOMPARE(ratioVerdict(Interval{0.95, 0.9, 1.0}), Verdict::WithinNoise);
        QCOMPARE(ratioVerdict(Interval{}), Verdict::Unknown);
    }

    // values = 2 × reference on every sample: every resample's ratio of means is exactly 2.
    void aConstantRatioIsBeyondTheNoise()
    {
        const std::vector<double> reference{3, 7, 1.5, 12, 4, 9};
        std::vector<double> twice, half;
        for (double v : reference) {
            twice.push_back(2 * v);
            half.push_back(v / 2);
        }
        const ScoreVerdict worse = scoreVerdict(twice, {{QStringLiteral("yarn"), reference}}, 6);
        QVERIFY(worse.valid());
        QCOMPARE(worse.references.size(), size_t(1));
        QCOMPARE(worse.references[0].name, QStringLiteral("yarn"));
        QCOMPARE(worse.references[0].comparison.ratio.estimate, 2.0);
        QCOMPARE(worse.references[0].comparison.ratio.lower, 2.0);
        QCOMPARE(worse.references[0].comparison.ratio.upper, 2.0);
        QCOMPARE(worse.references[0].verdict, Verdict::Worse);
        const ScoreVerdict better = scoreVerdict(half, {{QStringLiteral("yarn"), reference}}, 6);
        QCOMPARE(better.references[0].comparison.ratio.estimate, 0.5);
        QCOMPARE(better.references[0].verdict, Verdict::Better);
        // The method's own mean: (3 + 7 + 1.5 + 12 + 4 + 9) / 6 × 2 = 36.5 / 3.
        QCOMPARE(worse.own.estimate, 36.5 / 3);
        QVERIFY(worse.own.lower < worse.own.estimate && worse.own.estimate < worse.own.upper);
    }

    // Equal means (3.5 each), the per-sample order reversed: the ratio's estimate is exactly 1 and
    // its interval holds it.
    void equalMeansAreWithinTheNoise()
    {
        const std::vector<double> a{1, 2, 3, 4, 5, 6}, b{6, 5, 4, 3, 2, 1};
        const ScoreVerdict v = scoreVerdict(a, {{QStringLiteral("ntk"), b}}, 6);
        QCOMPARE(v.references.size(), size_t(1));
        QCOMPARE(v.references[0].comparison.ratio.estimate, 1.0);
        QVERIFY(v.references[0].comparison.ratio.lower < 1);
        QVERIFY(v.references[0].comparison.ratio.upper > 1);
        QCOMPARE(v.references[0].verdict, Verdict::WithinNoise);
    }

    // n = 400 values alternating 1 and 3: mean 2, standard deviation 1, so the 95 % interval of the
    // mean is about 2 ± 1.96 / √400 = 2 ± 0.098 (the bootstrap's plug-in standard error is exactly
    // 1 / √n here); 2,000 resamples keep the half-width within a few per cent of it.
    void theOwnIntervalIsTheMeansUncertainty()
    {
        std::vector<double> values;
        for (int i = 0; i < 400; ++i)
            values.push_back(i % 2 == 0 ? 1.0 : 3.0);
        const ScoreVerdict v = scoreVerdict(values, {}, 400);
        QVERIFY(v.valid());
        QCOMPARE(v.own.estimate, 2.0);
        const double normal = 1.959964 / std::sqrt(400.0);
        QVERIFY2(std::abs(v.halfWidth() - normal) < 0.1 * normal,
                 qPrintable(QStringLiteral("half-width %1, normal %2").arg(v.halfWidth()).arg(normal)));
        QVERIFY(v.references.empty());
    }

    // Only the first `basis` values count, of the method and of each reference; a reference with
    // fewer is left out; under two samples there is no interval and no verdict.
    void onlyTheBasisCounts()
    {
        const std::vector<double> values{2, 4, 6, 1000, 1000};
        const std::vector<double> shortReference{1, 2};
        const std::vector<double> reference{4, 8, 12, 1, 1};  // twice the values on the first three
        const ScoreVerdict v = scoreVerdict(values, {{QStringLiteral("pi"), shortReference}, {QStringLiteral("yarn"), reference}}, 3);
        QCOMPARE(v.samples, 3);
        QCOMPARE(v.own.estimate, 4.0);  // (2 + 4 + 6) / 3
        QCOMPARE(v.references.size(), size_t(1));
        QCOMPARE(v.references[0].name, QStringLiteral("yarn"));
        QCOMPARE(v.references[0].comparison.ratio.estimate, 0.5);
        QCOMPARE(v.references[0].verdict, Verdict::Better);

        QVERIFY(!scoreVerdict(values, {{QStringLiteral("yarn"), reference}}, 1).valid());
        QVERIFY(scoreVerdict(values, {{QStringLiteral("yarn"), reference}}, 1).references.empty());
        QVERIFY(!scoreVerdict({2.0, 4.0}, {}, 3).valid());  // fewer values than the basis
        // A non-finite value: no interval, so no verdict.
        QVERIFY(!scoreVerdict({2.0, qQNaN(), 3.0}, {{QStringLiteral("yarn"), reference}}, 3).valid());
    }
};

QTEST_GUILESS_MAIN(TestVerdict)
#include "test_verdict.moc"
