// RoPE geometry (DESIGN.md §1): periods, rotations, the critical dimensions of the LongRoPE2 paper
// and the out-of-distribution rule. Expected values are the paper's (d_tcd) or come straight from
// the defining formulas, printed by tests/reference/hf_rope_reference.py where not trivial.
#include "common/error.h"
#include "rope/ropeconfig.h"
#include "rope/ropegeometry.h"

#include <QTest>

#include <cmath>
#include <numbers>
#include <vector>

using namespace rs;

namespace {

constexpr double kTwoPi = 2.0 * std::numbers::pi;
constexpr double kRelTol = 1e-9;

bool relClose(double actual, double expected, double tol = kRelTol)
{
    if (actual == expected)
        return true;
    return std::abs(actual - expected) <= tol * std::max(std::abs(expected), 1e-300);
}

QByteArray describe(const char *what, int i, double actual, double expected)
{
    return QByteArray(what) + "[" + QByteArray::number(i) + "]: got " + QByteArray::number(actual, 'g', 17)
        + ", expected " + QByteArray::number(expected, 'g', 17);
}

#define COMPARE_REL(actual, expected, what, i)                                                      \
    QVERIFY2(relClose((actual), (expected)), describe((what), (i), (actual), (expected)).constData())

// The paper's configurations plus two more, with d_tcd = ceil((d/2)·log_b(L_train/2π)) and
// d_10 = ceil((d/2)·log_b(L_train/(2π·10))) worked out by hand (the unrounded values, from
// hf_rope_reference.py, are in the comments; none is within 0.01 of an integer).
struct Model {
    const char *name;
    int d;
    double base;
    double trainLength;
    int dTcd;
    int d10;
};
const Model kModels[] = {
    {"LLaMA3-8B", 128, 5e5, 8192, 35, 24},        // 34.984119, 23.754020 (paper: 35)
    {"Phi3-mini (paper, 2k)", 96, 1e4, 2048, 31, 19}, // 30.157801, 18.157801 (paper: 31)
    {"Phi-3-mini-4k", 96, 1e4, 4096, 34, 22},     // 33.770161, 21.770161 (DESIGN: 34)
    {"Mistral-7B", 128, 1e4, 32768, 60, 44},      // 59.476321, 43.476321
    {"Qwen2.5-7B", 128, 1e6, 32768, 40, 29},      // 39.650881, 28.984214
};

} // namespace

class TestRopeGeometry : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void criticalDimensions_data();
    void criticalDimensions();
    void criticalDimensionsClamped();
    void geometryVectors_data();
    void geometryVectors();
    void knownPeriods();
    void geometryFromConfig();
    void oodIdentityIsExactlyAboveTcd_data();
    void oodIdentityIsExactlyAboveTcd();
    void oodNoneWithinTrainingLength();
    void oodNoneWhenLambdaAtLeastScale_data();
    void oodNoneWhenLambdaAtLeastScale();
    void oodSingleDimensionBelowScale();
    void oodNeedsNeverRotatedDimension();
    void rescaledPeriodsAndRotations();
};

void TestRopeGeometry::criticalDimensions_data()
{
    QTest::addColumn<int>("d");
    QTest::addColumn<double>("base");
    QTest::addColumn<double>("trainLength");
    QTest::addColumn<int>("dTcd");
    QTest::addColumn<int>("d10");
    for (const Model &m : kModels)
        QTest::newRow(m.name) << m.d << m.base << m.trainLength << m.dTcd << m.d10;
}

void TestRopeGeometry::criticalDimensions()
{
    QFETCH(int, d);
    QFETCH(double, base);
    QFETCH(double, trainLength);
    QFETCH(int, dTcd);
    QFETCH(int, d10);
    QCOMPARE(theoreticalCriticalDimension(d, base, trainLength), dTcd);
    QCOMPARE(tenPeriodDimension(d, base, trainLength), d10);
    const RopeGeometry g = computeGeometry(d, base, trainLength, 16 * trainLength);
    QCOMPARE(g.dTcd, dTcd);
    QCOMPARE(g.d10, d10);
}

void TestRopeGeometry::criticalDimensionsClamped()
{
    // L_train < 2π: the logarithm is negative, clamped to 0.
    QCOMPARE(theoreticalCriticalDimension(128, 5e5, 4.0), 0);
    QCOMPARE(tenPeriodDimension(128, 5e5, 4.0), 0);
    QCOMPARE(tenPeriodDimension(96, 1e4, 50.0), 0); // 50 < 20π
    // A training length so long that every dimension has rotated: clamped to d/2.
    QCOMPARE(theoreticalCriticalDimension(8, 10.0, 1e40), 4);
    QCOMPARE(tenPeriodDimension(8, 10.0, 1e40), 4);
}

void TestRopeGeometry::geometryVectors_data()
{
    QTest::addColumn<int>("d");
    QTest::addColumn<double>("base");
    QTest::addColumn<double>("trainLength");
    QTest::addColumn<double>("targetLength");
    for (const Model &m : kModels) {
        QTest::newRow((QByteArray(m.name) + " x16").constData()) << m.d << m.base << m.trainLength << 16 * m.trainLength;
        QTest::newRow((QByteArray(m.name) + " x1").constData()) << m.d << m.base << m.trainLength << m.trainLength;
    }
    QTest::newRow("d=16 b=1e4 128->1024") << 16 << 1e4 << 128.0 << 1024.0;
}

void TestRopeGeometry::geometryVectors()
{
    QFETCH(int, d);
    QFETCH(double, base);
    QFETCH(double, trainLength);
    QFETCH(double, targetLength);
    const RopeGeometry g = computeGeometry(d, base, trainLength, targetLength);
    QCOMPARE(g.rotaryDims, d);
    QCOMPARE(g.pairs(), d / 2);
    QCOMPARE(g.base, base);
    QCOMPARE(g.trainLength, trainLength);
    QCOMPARE(g.targetLength, targetLength);
    COMPARE_REL(g.scale, targetLength / trainLength, "scale", 0);
    QCOMPARE(int(g.theta.size()), d / 2);
    QCOMPARE(int(g.period.size()), d / 2);
    QCOMPARE(int(g.rotationsTrain.size()), d / 2);
    QCOMPARE(int(g.rotationsTarget.size()), d / 2);
    for (int i = 0; i < d / 2; ++i) {
        const double theta = std::pow(base, -2.0 * i / d);
        const double period = kTwoPi * std::pow(base, 2.0 * i / d);
        COMPARE_REL(g.theta[i], theta, "theta", i);
        COMPARE_REL(g.period[i], period, "period", i);
        COMPARE_REL(g.rotationsTrain[i], trainLength / period, "rotationsTrain", i);
        COMPARE_REL(g.rotationsTarget[i], targetLength / period, "rotationsTarget", i);
    }
}

void TestRopeGeometry::knownPeriods()
{
    // T_0 = 2π; T_{d/4} = 2π·sqrt(b); θ_{d/4} = 1/sqrt(b).
    const RopeGeometry a = computeGeometry(96, 1e4, 4096, 131072);
    COMPARE_REL(a.period[0], kTwoPi, "period", 0);
    COMPARE_REL(a.theta[0], 1.0, "theta", 0);
    COMPARE_REL(a.period[24], kTwoPi * 100.0, "period", 24);
    COMPARE_REL(a.theta[24], 0.01, "theta", 24);
    COMPARE_REL(a.rotationsTrain[24], 4096.0 / (kTwoPi * 100.0), "rotationsTrain", 24);
    COMPARE_REL(a.rotationsTarget[24], 131072.0 / (kTwoPi * 100.0), "rotationsTarget", 24);

    const RopeGeometry b = computeGeometry(128, 5e5, 8192, 131072);
    COMPARE_REL(b.period[32], kTwoPi * std::sqrt(5e5), "period", 32);
    // Last pair: T_63 = 2π·b^(126/128).
    COMPARE_REL(b.period[63], kTwoPi * std::pow(5e5, 126.0 / 128.0), "period", 63);
    // The critical dimension is the first whose period exceeds L_train (35 for LLaMA3-8B).
    QVERIFY(b.period[34] < 8192.0);
    QVERIFY(b.period[35] > 8192.0);
    QVERIFY(b.rotationsTrain[34] > 1.0);
    QVERIFY(b.rotationsTrain[35] < 1.0);
}

void TestRopeGeometry::geometryFromConfig()
{
    // Phi-3-mini-128k style: L_train from original_max_position_embeddings, d from hidden/heads.
    const QByteArray json = R"({"model_type":"phi3","hidden_size":3072,"num_attention_heads":32,
        "rope_theta":10000.0,"max_position_embeddings":131072,"original_max_position_embeddings":4096})";
    const RopeConfig config = parseRopeConfig(json, QStringLiteral("inline-phi3.json"));
    const RopeGeometry g = computeGeometry(config, 131072);
    QCOMPARE(g.rotaryDims, 96);
    QCOMPARE(g.base, 1e4);
    QCOMPARE(g.trainLength, 4096.0);
    QCOMPARE(g.targetLength, 131072.0);
    COMPARE_REL(g.scale, 32.0, "scale", 0);
    QCOMPARE(g.dTcd, 34);
    QCOMPARE(g.d10, 22);
    COMPARE_REL(g.period[10], kTwoPi * std::pow(1e4, 20.0 / 96.0), "period", 10);
}

void TestRopeGeometry::oodIdentityIsExactlyAboveTcd_data()
{
    QTest::addColumn<int>("d");
    QTest::addColumn<double>("base");
    QTest::addColumn<double>("trainLength");
    QTest::addColumn<double>("targetLength");
    QTest::addColumn<int>("dTcd");
    for (const Model &m : kModels) {
        QTest::newRow((QByteArray(m.name) + " x2").constData()) << m.d << m.base << m.trainLength << 2 * m.trainLength << m.dTcd;
        QTest::newRow((QByteArray(m.name) + " x16").constData()) << m.d << m.base << m.trainLength << 16 * m.trainLength << m.dTcd;
        QTest::newRow((QByteArray(m.name) + " +1").constData()) << m.d << m.base << m.trainLength << m.trainLength + 1 << m.dTcd;
    }
}

void TestRopeGeometry::oodIdentityIsExactlyAboveTcd()
{
    QFETCH(int, d);
    QFETCH(double, base);
    QFETCH(double, trainLength);
    QFETCH(double, targetLength);
    QFETCH(int, dTcd);
    const RopeGeometry g = computeGeometry(d, base, trainLength, targetLength);
    const std::vector<double> ones(size_t(d / 2), 1.0);
    const std::vector<bool> ood = outOfDistribution(g, ones);
    QCOMPARE(int(ood.size()), d / 2);
    for (int i = 0; i < d / 2; ++i)
        QVERIFY2(ood[i] == (i >= dTcd), qPrintable(QStringLiteral("dimension %1: ood=%2, d_tcd=%3").arg(i).arg(ood[i]).arg(dTcd)));
}

void TestRopeGeometry::oodNoneWithinTrainingLength()
{
    for (const Model &m : kModels) {
        for (double target : {m.trainLength, m.trainLength / 2}) {
            const RopeGeometry g = computeGeometry(m.d, m.base, m.trainLength, target);
            const std::vector<bool> ood = outOfDistribution(g, std::vector<double>(size_t(m.d / 2), 1.0));
            for (int i = 0; i < m.d / 2; ++i)
                QVERIFY2(!ood[i], qPrintable(QStringLiteral("%1 at L=%2: dimension %3 flagged").arg(m.name).arg(target).arg(i)));
        }
    }
}

void TestRopeGeometry::oodNoneWhenLambdaAtLeastScale_data()
{
    QTest::addColumn<int>("d");
    QTest::addColumn<double>("base");
    QTest::addColumn<double>("trainLength");
    QTest::addColumn<double>("targetLength");
    QTest::addColumn<double>("multiplier"); // λ_i = s · multiplier · (1 + step·i)
    QTest::addColumn<double>("step");
    QTest::newRow("llama3 16x, lambda = s exactly") << 128 << 5e5 << 8192.0 << 131072.0 << 1.0 << 0.0;
    QTest::newRow("llama3 16x, lambda rising above s") << 128 << 5e5 << 8192.0 << 131072.0 << 1.0 << 0.01;
    QTest::newRow("phi3 2k->128k, lambda = s exactly") << 96 << 1e4 << 2048.0 << 131072.0 << 1.0 << 0.0;
    QTest::newRow("phi3 4k->128k, lambda = 1.3 s") << 96 << 1e4 << 4096.0 << 131072.0 << 1.3 << 0.0;
    QTest::newRow("qwen 32k->100k (s not a power of 2), lambda = s") << 128 << 1e6 << 32768.0 << 100000.0 << 1.0 << 0.0;
    QTest::newRow("mistral 32k->70001, lambda = 1.01 s") << 128 << 1e4 << 32768.0 << 70001.0 << 1.01 << 0.0;
    // L / (L / L_train) rounds to just above L_train in double here (29787 → 60322): λ = s exactly
    // must still count as in range.
    QTest::newRow("L/s rounds above L_train, lambda = s") << 128 << 1e4 << 29787.0 << 60322.0 << 1.0 << 0.0;
}

void TestRopeGeometry::oodNoneWhenLambdaAtLeastScale()
{
    QFETCH(int, d);
    QFETCH(double, base);
    QFETCH(double, trainLength);
    QFETCH(double, targetLength);
    QFETCH(double, multiplier);
    QFETCH(double, step);
    const RopeGeometry g = computeGeometry(d, base, trainLength, targetLength);
    const double s = targetLength / trainLength;
    std::vector<double> lambda(size_t(d / 2));
    for (int i = 0; i < d / 2; ++i)
        lambda[size_t(i)] = s * multiplier * (1.0 + step * i);
    const std::vector<bool> ood = outOfDistribution(g, lambda);
    QCOMPARE(int(ood.size()), d / 2);
    for (int i = 0; i < d / 2; ++i)
        QVERIFY2(!ood[i], qPrintable(QStringLiteral("dimension %1 flagged with lambda %2 >= s %3").arg(i).arg(lambda[size_t(i)], 0, 'g', 17).arg(s, 0, 'g', 17)));
}

void TestRopeGeometry::oodSingleDimensionBelowScale()
{
    // LLaMA3-8B to 128k (s = 16): λ = s everywhere except one dimension above d_tcd = 35.
    const RopeGeometry g = computeGeometry(128, 5e5, 8192, 131072);
    std::vector<double> lambda(64, 16.0);
    lambda[50] = 15.0;
    std::vector<bool> ood = outOfDistribution(g, lambda);
    for (int i = 0; i < 64; ++i)
        QVERIFY2(ood[i] == (i == 50), qPrintable(QStringLiteral("dimension %1: ood=%2").arg(i).arg(ood[i])));
}

void TestRopeGeometry::oodNeedsNeverRotatedDimension()
{
    // Dimensions below d_tcd completed a rotation in pretraining: never OOD, even with λ = 1 at 16x.
    const RopeGeometry g = computeGeometry(128, 5e5, 8192, 131072);
    std::vector<double> lambda(64, 16.0);
    for (int i = 0; i < 35; ++i)
        lambda[size_t(i)] = 1.0;
    const std::vector<bool> ood = outOfDistribution(g, lambda);
    for (int i = 0; i < 64; ++i)
        QVERIFY2(!ood[i], qPrintable(QStringLiteral("dimension %1 flagged").arg(i)));
}

void TestRopeGeometry::rescaledPeriodsAndRotations()
{
    const int d = 96;
    const double base = 1e4, trainLength = 4096, target = 131072;
    const RopeGeometry g = computeGeometry(d, base, trainLength, target);
    std::vector<double> lambda(48);
    for (int i = 0; i < 48; ++i)
        lambda[size_t(i)] = 1.0 + 0.75 * i; // arbitrary, non-uniform
    const std::vector<double> periods = rescaledPeriods(g, lambda);
    const std::vector<double> rotations = rescaledRotationsTarget(g, lambda);
    QCOMPARE(int(periods.size()), 48);
    QCOMPARE(int(rotations.size()), 48);
    for (int i = 0; i < 48; ++i) {
        const double T = kTwoPi * std::pow(base, 2.0 * i / d);
        COMPARE_REL(periods[size_t(i)], lambda[size_t(i)] * T, "rescaledPeriod", i);
        COMPARE_REL(rotations[size_t(i)], target / (lambda[size_t(i)] * T), "rescaledRotationsTarget", i);
    }
    // λ ≡ 1 leaves the periods unchanged.
    const std::vector<double> same = rescaledPeriods(g, std::vector<double>(48, 1.0));
    for (int i = 0; i < 48; ++i)
        COMPARE_REL(same[size_t(i)], g.period[size_t(i)], "rescaledPeriod(identity)", i);
}

QTEST_GUILESS_MAIN(TestRopeGeometry)
#include "test_ropegeometry.moc"
