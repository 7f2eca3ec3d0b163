// Factor families (DESIGN.md §1 "Peers") checked against their defining formulas and against
// tests/reference/hf_rope_reference.py, a float64 transcription of transformers'
// modeling_rope_utils.py (λ_i = inv_freq_default_i / inv_freq_scaled_i). NTK-left detection and the
// constraint checker are checked on synthetic vectors and on the published LLaMA3-8B LongRoPE2
// factors (tests/fixtures/factors).
#include "common/error.h"
#include "rope/factorfamilies.h"
#include "rope/factorfile.h"
#include "rope/ropeconfig.h"

#include <QFile>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <limits>
#include <vector>

using namespace rs;

namespace {

constexpr double kRelTol = 1e-9;

bool relClose(double actual, double expected, double tol = kRelTol)
{
    if (actual == expected)
        return true;
    return std::abs(actual - expected) <= tol * std::max(std::abs(expected), 1e-300);
}

QByteArray describe(const QByteArray &what, int i, double actual, double expected)
{
    return what + "[" + QByteArray::number(i) + "]: got " + QByteArray::number(actual, 'g', 17) + ", expected "
        + QByteArray::number(expected, 'g', 17);
}

#define COMPARE_REL(actual, expected, what, i)                                                      \
    QVERIFY2(relClose((actual), (expected)), describe((what), (i), (actual), (expected)).constData())

#define COMPARE_VECTOR(actual, expected, what)                                                      \
    do {                                                                                            \
        const std::vector<double> &a_ = (actual);                                                   \
        const std::vector<double> &e_ = (expected);                                                 \
        QCOMPARE(a_.size(), e_.size());                                                             \
        for (size_t i_ = 0; i_ < e_.size(); ++i_)                                                   \
            COMPARE_REL(a_[i_], e_[i_], QByteArray(what), int(i_));                                 \
    } while (false)

QString fixture(const QString &relative)
{
    return QStringLiteral(ROPESCOPE_FIXTURES "/") + relative;
}

QByteArray readFixture(const QString &relative)
{
    QFile f(fixture(relative));
    if (!f.open(QIODevice::ReadOnly))
        qFatal("cannot open fixture %s", qPrintable(f.fileName()));
    return f.readAll();
}

// ---- Numbers printed by tests/reference/hf_rope_reference.py (transformers' formulas, float64) ----

// llama3: Llama-3.1-8B, d=128 b=5e5 factor=8 low=1 high=4 L_train=8192
const std::vector<double> kLlama31Factor8 = {
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1.207483871283662, 1.5534146285049255, 2.0263132059050553,
    2.6945296878947329, 3.6842525277457185, 5.2573265887084668, 8,
    8, 8, 8, 8,
    8, 8, 8, 8,
    8, 8, 8, 8,
    8, 8, 8, 8,
    8, 8, 8, 8,
    8, 8, 8, 8,
    8, 8, 8, 8,
};
// llama3: d=128 b=5e5 factor=4 low=1 high=4 L_train=8192 (llama3 family at s=4)
const std::vector<double> kLlama3Factor4 = {
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1.1727236924749793, 1.4396008870609012, 1.7672114303862332,
    2.1693764346476399, 2.6630622880115373, 3.2690964263106994, 4,
    4, 4, 4, 4,
    4, 4, 4, 4,
    4, 4, 4, 4,
    4, 4, 4, 4,
    4, 4, 4, 4,
    4, 4, 4, 4,
    4, 4, 4, 4,
};
// llama3: d=128 b=5e5 factor=16 low=1 high=4 L_train=8192 (llama3 family at s=16)
const std::vector<double> kLlama3Factor16 = {
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1.2256483182771227, 1.6173477651189674, 2.1866093526770527,
    3.0655809712056756, 4.5582084183931126, 7.5546586788606556, 16,
    16, 16, 16, 16,
    16, 16, 16, 16,
    16, 16, 16, 16,
    16, 16, 16, 16,
    16, 16, 16, 16,
    16, 16, 16, 16,
    16, 16, 16, 16,
};
// llama3: d=128 b=5e5 factor=16 low=2 high=8 L_train=8192
const std::vector<double> kLlama3Factor16Low2High8 = {
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1.0414110282178715, 1.3589193920462712, 1.8079459577607291,
    2.4738366674842314, 3.5342262521411643, 5.4304115101370547, 9.6465010709306434,
    16, 16, 16, 16,
    16, 16, 16, 16,
    16, 16, 16, 16,
    16, 16, 16, 16,
    16, 16, 16, 16,
    16, 16, 16, 16,
    16, 16, 16, 16,
    16, 16, 16, 16,
};
// yarn: Qwen2.5-style, d=128 b=1e6 factor=4 original=32768 beta 32/1 truncate
const std::vector<double> kYarnQwenTruncate = {
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1.0461538461538462, 1.096774193548387, 1.152542372881356, 1.2142857142857144,
    1.2830188679245282, 1.3599999999999999, 1.4468085106382977, 1.5454545454545456,
    1.6585365853658538, 1.7894736842105263, 1.9428571428571431, 2.125,
    2.3448275862068964, 2.615384615384615, 2.9565217391304346, 3.3999999999999999,
    4, 4, 4, 4,
    4, 4, 4, 4,
    4, 4, 4, 4,
    4, 4, 4, 4,
    4, 4, 4, 4,
    4, 4, 4, 4,
};
// yarn: Qwen2.5-style, d=128 b=1e6 factor=4 original=32768 beta 32/1, truncate=False
const std::vector<double> kYarnQwenNoTruncate = {
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1.0192382768341239, 1.0701937573482576, 1.126512259913995, 1.1890874961681923,
    1.2590234316088873, 1.3376999795592688, 1.4268649682944519, 1.5287655155435345,
    1.6463400256020784, 1.7835061648047659, 1.9456058784793251, 2.1401173506676825,
    2.37784147053164, 2.6749778677839231, 3.0569797653955786, 3.566262063392712,
    4, 4, 4, 4,
    4, 4, 4, 4,
    4, 4, 4, 4,
    4, 4, 4, 4,
    4, 4, 4, 4,
    4, 4, 4, 4,
};
// yarn: d=128 b=1e6 factor=4 original=32768 beta_fast=16 beta_slow=2 truncate
const std::vector<double> kYarnQwenBeta16x2 = {
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1.0731707317073171,
    1.1578947368421053, 1.2571428571428571, 1.375, 1.5172413793103448,
    1.6923076923076923, 1.9130434782608694, 2.2000000000000002, 2.5882352941176472,
    3.1428571428571428, 4, 4, 4,
    4, 4, 4, 4,
    4, 4, 4, 4,
    4, 4, 4, 4,
    4, 4, 4, 4,
    4, 4, 4, 4,
    4, 4, 4, 4,
};
// yarn: LLaMA3-8B-style, d=128 b=5e5 factor=16 original=8192 beta 32/1 truncate
const std::vector<double> kYarnLlama3S16 = {
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1.058365758754864,
    1.1239669421487604, 1.1982378854625551, 1.2830188679245285, 1.3807106598984771,
    1.4945054945054947, 1.6287425149700601, 1.7894736842105265, 1.9854014598540144,
    2.2295081967213117, 2.5420560747663554, 2.956521739130435, 3.5324675324675319,
    4.387096774193548, 5.787234042553191, 8.4999999999999982, 16,
    16, 16, 16, 16,
    16, 16, 16, 16,
    16, 16, 16, 16,
    16, 16, 16, 16,
    16, 16, 16, 16,
    16, 16, 16, 16,
    16, 16, 16, 16,
};
// ntk: d=128 b=5e5 s=16 (base change b*s^(d/(d-2)))
const std::vector<double> kNtkLlama3S16 = {
    1, 1.0449921200825232, 1.0920085310345662, 1.1411403099940127,
    1.192482631852271, 1.2461349536208917, 1.3022012070932318, 1.3607900001743769,
    1.4220148272693192, 1.485994289136948, 1.5528523226357414, 1.6227184408061932,
    1.6957279837550703, 1.7720223808274729, 1.8517494245745807, 1.9350635570477834,
    2.022126168973791, 2.1131059123902722, 2.2081790273476245, 2.3075296833097578,
    2.4113503359152166, 2.5198420997897464, 2.6332151381324835, 2.7516890698304568,
    2.8754933948900345, 3.0048679390094297, 3.140063318153465, 3.2813414240305514,
    3.4289759314122916, 3.5832528282784741, 3.7444709698144187, 3.9129426573338297,
    4.0889942432486217, 4.2729667632576085, 4.4652165969787241, 4.6661161583044652,
    4.8760546168179006, 5.0954386516667132, 5.3246932393556303, 5.564262476983318,
    5.8146104425184273, 6.0762220937813085, 6.3496042078727966, 6.6352863628699028,
    6.9338219636900726, 7.2457893141112528, 7.571792737024408, 7.9124637450885853,
    8.2684622640562218, 8.6404779111384489, 9.0292313308867769, 9.4354755911789105,
    9.8599976420129494, 10.30361983993579, 10.767201541058846, 11.251640765746894,
    11.757875938204789, 12.286887704331905, 12.839700831365684, 13.417386192994158,
    14.021062843782936, 14.651900186935022, 15.311120239582738, 15.999999999999995,
};
// dynamic: d=128 b=5e5 factor=2 max_position_embeddings=4096 seq_len=16384
const std::vector<double> kDynamicLlama3 = {
    1, 1.0313694298072771, 1.0637229007409876, 1.0970912816101748,
    1.1315064095608209, 1.1670011204520232, 1.2036092801850564, 1.2413658170152087,
    1.2803067548772202, 1.3204692477561235, 1.3618916151362772, 1.4046133785624138,
    1.4486752993475895, 1.4941194174640098, 1.5409890916538365, 1.5893290407982512,
    1.6391853865842383, 1.6906056975098072, 1.7436390342696233, 1.7983359965643726,
    1.8547487713784983, 1.9129311827723892, 1.9729387432365191, 2.0348287066565338,
    2.0986601229398278, 2.1644938943557204, 2.2323928336429915, 2.3024217239402236,
    2.3746473805961164, 2.4491387149187602, 2.5259667999246891, 2.6052049381504374,
    2.68692873159132, 2.7712161538341293, 2.8581476244526205, 2.947806085736723,
    3.0402770818287048, 3.1356488403418035, 3.234012356539175, 3.335461480153497,
    3.440093004930048, 3.5480067609787058, 3.6593057100229713, 3.7740960436369049,
    3.8924872845636944, 4.014592391212533, 4.1405278654335032, 4.2704138636732933,
    4.4043743116178149, 4.5425370224310848, 4.685033818703193, 4.8320006582237207,
    4.9835777637005867, 5.1399097565480991, 5.3011457948718714, 5.4674397157822465,
    5.6389501821719961, 5.8158408340983714, 5.9982804449139167, 6.1864430822950052,
    6.3805082743217723, 6.5806611807678594, 6.7870927697634276, 6.9999999999999991,
};
// dynamic: d=96 b=1e4 factor=4 max_position_embeddings=2048 seq_len=3000
const std::vector<double> kDynamicPhi3 = {
    1, 1.022604962826587, 1.0457209099975655, 1.0693593922950451,
    1.0935322216061358, 1.1182514768252176, 1.1435295098896279, 1.1693789519517881,
    1.1958127196908515, 1.2228440217670227, 1.2504863654217806, 1.2787535632272937,
    1.3076597399884125, 1.3372193398006749, 1.3674471332678622, 1.3983582248827049,
    1.4299680605744307, 1.462292435426922, 1.4953475015713473, 1.5291497762571968,
    1.5637161501057748, 1.5990638955502499, 1.6352106754665006, 1.6721745519990587,
    1.7099739955865623, 1.7486278941912268, 1.7881555627369521, 1.8285767527607759,
    1.8699116622824943, 1.9121809458973915, 1.9554057250971097, 1.9996075988238255,
    2.0448086542629982, 2.0910314778800974, 2.1382991667067999, 2.1866353398823288,
    2.2360641504556704, 2.2866102974545846, 2.338299038227436, 2.3911562010640113,
    2.4452081981016258, 2.5004820385229793, 2.5570053420523395, 2.6148063527568168,
    2.6739139531596079, 2.7343576786722732, 2.7961677323532523, 2.8593749999999991,
};

// Published LLaMA3-8B LongRoPE2 128k long factors, indices 34…63 (the searched part).
const std::vector<double> kPublishedUpper = {21.81, 21.87, 21.88, 22.23, 22.28, 22.53, 22.65, 22.73, 22.89, 22.92,
    23.18, 23.23, 23.36, 23.42, 23.47, 23.51, 23.52, 23.75, 23.82, 23.89, 24.06, 24.13, 24.14, 24.3, 24.53,
    24.67, 24.75, 24.97, 25.49, 26.01, 26.05};

bool hasViolation(const std::vector<ConstraintViolation> &v, ConstraintViolation::Kind kind, int index)
{
    for (const ConstraintViolation &c : v)
        if (c.kind == kind && c.index == index)
            return true;
    return false;
}

QString listViolations(const std::vector<ConstraintViolation> &v)
{
    QStringList out;
    for (const ConstraintViolation &c : v)
        out << QStringLiteral("(kind %1, index %2: %3)").arg(int(c.kind)).arg(c.index).arg(c.message);
    return out.join(QStringLiteral(", "));
}

} // namespace

class TestFactorFamilies : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void identity();
    void pi_data();
    void pi();
    void ntkFormula_data();
    void ntkFormula();
    void ntkMatchesTransformersBaseChange();
    void dynamicNtk();
    void yarnMatchesTransformers_data();
    void yarnMatchesTransformers();
    void yarnMatchesDesignRampAwayFromEdges();
    void yarnAttention();
    void llama3MatchesTransformers();
    void llama3Bands();
    void longrope2Structure();
    void longrope2ReproducesPublishedFactors();
    void attentionFactors_data();
    void attentionFactors();
    void yarnAttentionFactors_data();
    void yarnAttentionFactors();
    void configFactorsLongrope();
    void configFactorsOtherTypes();
    void configFactorsUnscaled();
    void standardFamiliesUnscaledConfig();
    void standardFamiliesScaledConfigs();
    void configFactorsLongropeWrittenFactor();
    void yarnOverlayTakesConfigAttention();
    void constraintsOutOfRange();
    void detectNtkLeftSynthetic();
    void detectNtkLeftPublished();
    void detectNtkLeftNotFound();
    void constraintsValid();
    void constraintsViolations_data();
    void constraintsViolations();
    void constraintsWrongLength();
    void constraintsOodCheckSkipped();
};

void TestFactorFamilies::identity()
{
    const FactorSet f = identityFactors(96);
    QCOMPARE(f.name, QStringLiteral("identity"));
    QCOMPARE(f.lambda, std::vector<double>(48, 1.0));
    QCOMPARE(f.attentionFactor, 1.0);
}

void TestFactorFamilies::pi_data()
{
    QTest::addColumn<int>("d");
    QTest::addColumn<double>("scale");
    QTest::newRow("d128 s16") << 128 << 16.0;
    QTest::newRow("d96 s32") << 96 << 32.0;
    QTest::newRow("d96 s64") << 96 << 64.0;
    QTest::newRow("d16 s8") << 16 << 8.0;
    QTest::newRow("d128 s3.0517578125") << 128 << 3.0517578125;
}

void TestFactorFamilies::pi()
{
    QFETCH(int, d);
    QFETCH(double, scale);
    const FactorSet f = piFactors(d, scale);
    QCOMPARE(f.name, QStringLiteral("pi"));
    QCOMPARE(f.lambda, std::vector<double>(size_t(d / 2), scale)); // transformers' linear: inv_freq / factor
    QCOMPARE(f.attentionFactor, 1.0);
}

void TestFactorFamilies::ntkFormula_data()
{
    pi_data();
}

void TestFactorFamilies::ntkFormula()
{
    QFETCH(int, d);
    QFETCH(double, scale);
    const FactorSet f = ntkFactors(d, scale);
    QCOMPARE(f.name, QStringLiteral("ntk"));
    QCOMPARE(int(f.lambda.size()), d / 2);
    for (int i = 0; i < d / 2; ++i)
        COMPARE_REL(f.lambda[size_t(i)], std::pow(scale, 2.0 * i / (d - 2)), "ntk", i);
    // λ_0 = 1 (highest frequency untouched), λ_{d/2-1} = s (lowest frequency fully interpolated).
    COMPARE_REL(f.lambda.front(), 1.0, "ntk", 0);
    COMPARE_REL(f.lambda.back(), scale, "ntk", d / 2 - 1);
    QCOMPARE(f.attentionFactor, 1.0);
}

void TestFactorFamilies::ntkMatchesTransformersBaseChange()
{
    // b' = b·s^(d/(d−2)) with d=128, b=5e5, s=16.
    COMPARE_VECTOR(ntkFactors(128, 16.0).lambda, kNtkLlama3S16, "ntk");
}

void TestFactorFamilies::dynamicNtk()
{
    // transformers' "dynamic": factor 2, max_position_embeddings 4096, seq_len 16384 (d=128).
    FactorSet f = dynamicNtkFactors(128, 2.0, 4096, 16384);
    QCOMPARE(f.name, QStringLiteral("dynamic"));
    COMPARE_VECTOR(f.lambda, kDynamicLlama3, "dynamic");
    QCOMPARE(f.attentionFactor, 1.0);
    // Effective scale 2·16384/4096 − 1 = 7 = λ_63.
    COMPARE_REL(f.lambda.back(), 7.0, "dynamic", 63);
    // factor 4, max 2048, seq 3000 (d=96): effective scale 4·3000/2048 − 3 = 2.859375.
    f = dynamicNtkFactors(96, 4.0, 2048, 3000);
    COMPARE_VECTOR(f.lambda, kDynamicPhi3, "dynamic");
    COMPARE_REL(f.lambda.back(), 2.859375, "dynamic", 47);
    // Identity while seq_len ≤ max_position_embeddings.
    QCOMPARE(dynamicNtkFactors(96, 4.0, 2048, 1000).lambda, std::vector<double>(48, 1.0));
    QCOMPARE(dynamicNtkFactors(96, 4.0, 2048, 2048).lambda, std::vector<double>(48, 1.0));
}

void TestFactorFamilies::yarnMatchesTransformers_data()
{
    QTest::addColumn<int>("d");
    QTest::addColumn<double>("base");
    QTest::addColumn<double>("trainLength");
    QTest::addColumn<double>("scale");
    QTest::addColumn<double>("betaFast");
    QTest::addColumn<double>("betaSlow");
    QTest::addColumn<bool>("truncate");
    QTest::addColumn<std::vector<double>>("expected");
    QTest::newRow("Qwen2.5 yarn x4, truncate") << 128 << 1e6 << 32768.0 << 4.0 << 32.0 << 1.0 << true << kYarnQwenTruncate;
    QTest::newRow("Qwen2.5 yarn x4, no truncate") << 128 << 1e6 << 32768.0 << 4.0 << 32.0 << 1.0 << false << kYarnQwenNoTruncate;
    QTest::newRow("Qwen2.5 yarn x4, beta 16/2") << 128 << 1e6 << 32768.0 << 4.0 << 16.0 << 2.0 << true << kYarnQwenBeta16x2;
    QTest::newRow("LLaMA3-8B yarn x16") << 128 << 5e5 << 8192.0 << 16.0 << 32.0 << 1.0 << true << kYarnLlama3S16;
}

void TestFactorFamilies::yarnMatchesTransformers()
{
    QFETCH(int, d);
    QFETCH(double, base);
    QFETCH(double, trainLength);
    QFETCH(double, scale);
    QFETCH(double, betaFast);
    QFETCH(double, betaSlow);
    QFETCH(bool, truncate);
    QFETCH(std::vector<double>, expected);
    YarnParams p;
    p.betaFast = betaFast;
    p.betaSlow = betaSlow;
    p.truncate = truncate;
    const FactorSet f = yarnFactors(d, base, trainLength, scale, p);
    QCOMPARE(f.name, QStringLiteral("yarn"));
    COMPARE_VECTOR(f.lambda, expected, "yarn");
    COMPARE_REL(f.attentionFactor, 0.1 * std::log(scale) + 1.0, "yarn attention", 0);
}

void TestFactorFamilies::yarnMatchesDesignRampAwayFromEdges()
{
    // DESIGN.md: γ_i = clamp((r_i − β_slow)/(β_fast − β_slow), 0, 1) with r_i = L_train / T_i,
    // λ_i = 1 / ((1−γ_i)/s + γ_i). Where γ is 0 or 1 (outside the ramp) it must agree exactly with the
    // dimension-index ramp transformers uses.
    struct Case { int d; double base, trainLength, scale; };
    for (const Case c : {Case{128, 1e6, 32768, 4}, Case{128, 5e5, 8192, 16}, Case{96, 1e4, 4096, 32}, Case{96, 1e4, 2048, 64}}) {
        const FactorSet f = yarnFactors(c.d, c.base, c.trainLength, c.scale);
        QCOMPARE(int(f.lambda.size()), c.d / 2);
        int checked = 0;
        for (int i = 0; i < c.d / 2; ++i) {
            const double r = c.trainLength / (2 * std::numbers::pi * std::pow(c.base, 2.0 * i / c.d));
            const double gamma = std::clamp((r - 1.0) / (32.0 - 1.0), 0.0, 1.0);
            if (gamma != 0.0 && gamma != 1.0)
                continue;
            ++checked;
            COMPARE_REL(f.lambda[size_t(i)], 1.0 / ((1.0 - gamma) / c.scale + gamma), "yarn vs DESIGN ramp", i);
        }
        QVERIFY(checked > c.d / 4);
        // Monotone non-decreasing from 1 to s.
        for (int i = 1; i < c.d / 2; ++i)
            QVERIFY(f.lambda[size_t(i)] >= f.lambda[size_t(i - 1)]);
    }
}

void TestFactorFamilies::yarnAttention()
{
    YarnParams p;
    p.mscale = 1.0;
    p.mscaleAllDim = 0.5;
    // get_mscale(16, 1) / get_mscale(16, 0.5) = (0.1 ln16 + 1)/(0.05 ln16 + 1)
    COMPARE_REL(yarnFactors(128, 5e5, 8192, 16, p).attentionFactor, 1.1217511437130581, "yarn mscale ratio", 0);
    p.attentionFactor = 1.5;
    QCOMPARE(yarnFactors(128, 5e5, 8192, 16, p).attentionFactor, 1.5); // explicit override wins
    // The attention factor does not change λ.
    COMPARE_VECTOR(yarnFactors(128, 5e5, 8192, 16, p).lambda, kYarnLlama3S16, "yarn");
}

void TestFactorFamilies::llama3MatchesTransformers()
{
    // Llama-3.1-8B: factor 8, low_freq_factor 1, high_freq_factor 4, original 8192, d=128, b=5e5.
    FactorSet f = llama3Factors(128, 5e5, 8192);
    QCOMPARE(f.name, QStringLiteral("llama3"));
    COMPARE_VECTOR(f.lambda, kLlama31Factor8, "llama3");
    QCOMPARE(f.attentionFactor, 1.0);
    Llama3Params p;
    p.factor = 4.0;
    f = llama3Factors(128, 5e5, 8192, p);
    COMPARE_VECTOR(f.lambda, kLlama3Factor4, "llama3 factor 4");
}

void TestFactorFamilies::llama3Bands()
{
    // By the defining rule: wavelength T_i < L_train/high → 1; T_i > L_train/low → factor;
    // between: 1 / ((1−σ)/factor + σ) with σ = (L_train/T_i − low)/(high − low).
    Llama3Params p;
    p.factor = 8.0;
    p.lowFreqFactor = 1.0;
    p.highFreqFactor = 4.0;
    const FactorSet f = llama3Factors(128, 5e5, 8192, p);
    int low = 0, mid = 0, high = 0;
    for (int i = 0; i < 64; ++i) {
        const double T = 2 * std::numbers::pi * std::pow(5e5, 2.0 * i / 128);
        double expected;
        if (T < 8192.0 / 4.0) {
            expected = 1.0;
            ++low;
        } else if (T > 8192.0 / 1.0) {
            expected = 8.0;
            ++high;
        } else {
            const double sigma = (8192.0 / T - 1.0) / (4.0 - 1.0);
            expected = 1.0 / ((1.0 - sigma) / 8.0 + sigma);
            ++mid;
        }
        COMPARE_REL(f.lambda[size_t(i)], expected, "llama3 band", i);
    }
    QCOMPARE(low, 29);  // i = 0…28
    QCOMPARE(mid, 6);   // i = 29…34
    QCOMPARE(high, 29); // i = 35…63 (d_tcd = 35)
}

void TestFactorFamilies::longrope2Structure()
{
    // Single upper value: λ_i = u for i ≥ c, λ_i = u^(i/c) below.
    const int d = 96, c = 25;
    const double s = 32.0, u = 40.0;
    FactorSet f = longrope2Factors(d, c, {u}, s, 4096);
    QCOMPARE(f.name, QStringLiteral("longrope2"));
    QCOMPARE(int(f.lambda.size()), 48);
    for (int i = 0; i < 48; ++i)
        COMPARE_REL(f.lambda[size_t(i)], i >= c ? u : std::pow(u, double(i) / c), "longrope2", i);
    QCOMPARE(f.lambda[0], 1.0);
    // Attention as HF longrope: sqrt(1 + ln s / ln L_train) = sqrt(1 + ln 32 / ln 4096).
    COMPARE_REL(f.attentionFactor, 1.1902380714238083, "longrope2 attention", 0);

    // One value per dimension above c.
    std::vector<double> upper;
    for (int i = c; i < 48; ++i)
        upper.push_back(33.0 + 0.5 * (i - c));
    f = longrope2Factors(d, c, upper, s, 4096);
    for (int i = 0; i < 48; ++i)
        COMPARE_REL(f.lambda[size_t(i)], i >= c ? upper[size_t(i - c)] : std::pow(upper[0], double(i) / c), "longrope2", i);
}

void TestFactorFamilies::longrope2ReproducesPublishedFactors()
{
    // The published LLaMA3-8B 128k long factors are exactly this structure with c = 33:
    // indices 0…33 are 21.81^(i/33) (given to 10 significant digits), 34…63 the searched values.
    const std::vector<double> published =
        readFactorFile(fixture(QStringLiteral("factors/llama3_8b_longrope2_128k_long_factor.txt")), 64);
    const FactorSet f = longrope2Factors(128, 33, kPublishedUpper, 16.0, 8192);
    QCOMPARE(int(f.lambda.size()), 64);
    for (int i = 0; i < 64; ++i)
        QVERIFY2(relClose(f.lambda[size_t(i)], published[size_t(i)], 2e-9),
                 describe("longrope2 vs published", i, f.lambda[size_t(i)], published[size_t(i)]).constData());
    // sqrt(1 + ln 16 / ln 8192)
    COMPARE_REL(f.attentionFactor, 1.1435437497937313, "longrope2 attention", 0);
}

void TestFactorFamilies::attentionFactors_data()
{
    QTest::addColumn<double>("scale");
    QTest::addColumn<double>("trainLength");
    QTest::addColumn<double>("expected");
    // sqrt(1 + ln s / ln L_train), from hf_rope_reference.py
    QTest::newRow("LLaMA3 8k x16") << 16.0 << 8192.0 << 1.1435437497937313;
    QTest::newRow("Phi-3 4k x32") << 32.0 << 4096.0 << 1.1902380714238083;
    QTest::newRow("fixture 128 x8") << 8.0 << 128.0 << 1.1952286093343936;
    QTest::newRow("Phi3 paper 2k x64") << 64.0 << 2048.0 << 1.243163121016122;
    QTest::newRow("s = 1") << 1.0 << 4096.0 << 1.0;
    QTest::newRow("s < 1") << 0.5 << 4096.0 << 1.0;
}

void TestFactorFamilies::attentionFactors()
{
    QFETCH(double, scale);
    QFETCH(double, trainLength);
    QFETCH(double, expected);
    COMPARE_REL(longropeAttentionFactor(scale, trainLength), expected, "longropeAttentionFactor", 0);
    if (scale > 1)
        COMPARE_REL(longropeAttentionFactor(scale, trainLength), std::sqrt(1 + std::log(scale) / std::log(trainLength)),
                    "longropeAttentionFactor formula", 0);
}

void TestFactorFamilies::yarnAttentionFactors_data()
{
    QTest::addColumn<double>("scale");
    QTest::addColumn<double>("mscale");        // 0: not given
    QTest::addColumn<double>("mscaleAllDim");  // 0: not given
    QTest::addColumn<double>("expected");
    QTest::newRow("s=4") << 4.0 << 0.0 << 0.0 << 1.1386294361119891;
    QTest::newRow("s=16") << 16.0 << 0.0 << 0.0 << 1.2772588722239782;
    QTest::newRow("s=1") << 1.0 << 0.0 << 0.0 << 1.0;
    QTest::newRow("s=0.5") << 0.5 << 0.0 << 0.0 << 1.0;
    QTest::newRow("s=16 mscale 1 / 0.5") << 16.0 << 1.0 << 0.5 << 1.1217511437130581;
    QTest::newRow("s=40 mscale 0.707 / 0.707 (DeepSeek style)") << 40.0 << 0.707 << 0.707 << 1.0;
}

void TestFactorFamilies::yarnAttentionFactors()
{
    QFETCH(double, scale);
    QFETCH(double, mscale);
    QFETCH(double, mscaleAllDim);
    QFETCH(double, expected);
    std::optional<double> m, mad;
    if (mscale != 0)
        m = mscale;
    if (mscaleAllDim != 0)
        mad = mscaleAllDim;
    COMPARE_REL(yarnAttentionFactor(scale, m, mad), expected, "yarnAttentionFactor", 0);
    if (scale > 1 && !m)
        COMPARE_REL(yarnAttentionFactor(scale), 0.1 * std::log(scale) + 1.0, "yarnAttentionFactor formula", 0);
}

void TestFactorFamilies::configFactorsLongrope()
{
    // HF 5.x fixture: longrope, d = 16, L_train 128, max_position_embeddings 1024.
    const RopeConfig config = loadRopeConfig(fixture(QStringLiteral("configs/hf5-phi3-longrope.json")));
    const std::vector<double> longF = {1.0, 1.6, 2.2, 2.8, 3.4, 4.0, 4.6, 5.2};
    const std::vector<double> shortF = {1.0, 1.05, 1.1, 1.15, 1.2, 1.25, 1.3, 1.35};
    std::optional<FactorSet> f = configFactors(config, 300);
    QVERIFY(f.has_value());
    QCOMPARE(f->lambda, longF);
    // sqrt(1 + ln 8 / ln 128): the factor is max_position_embeddings / original = 8.
    COMPARE_REL(f->attentionFactor, 1.1952286093343936, "longrope attention", 0);
    f = configFactors(config, 1024);
    QVERIFY(f.has_value());
    QCOMPARE(f->lambda, longF);
    COMPARE_REL(f->attentionFactor, 1.1952286093343936, "longrope attention", 0);
    // Within L_train transformers uses the short factors.
    f = configFactors(config, 64);
    QVERIFY(f.has_value());
    QCOMPARE(f->lambda, shortF);
    f = configFactors(config, 128);
    QVERIFY(f.has_value());
    QCOMPARE(f->lambda, shortF);

    // An explicit attention_factor is used as written.
    const QByteArray json = R"({"hidden_size":64,"num_attention_heads":4,"max_position_embeddings":1024,
        "rope_theta":10000.0,"rope_scaling":{"rope_type":"longrope","attention_factor":1.25,
        "original_max_position_embeddings":128,
        "long_factor":[1,2,3,4,5,6,7,8],"short_factor":[1,1,1,1,1,1,1,1]}})";
    f = configFactors(parseRopeConfig(json, QStringLiteral("inline-longrope.json")), 1024);
    QVERIFY(f.has_value());
    QCOMPARE(f->lambda, std::vector<double>({1, 2, 3, 4, 5, 6, 7, 8}));
    QCOMPARE(f->attentionFactor, 1.25);
}

void TestFactorFamilies::configFactorsOtherTypes()
{
    // llama3 (Llama-3.1-8B, HF 4.x form)
    RopeConfig config = loadRopeConfig(fixture(QStringLiteral("configs/llama3.1-8b.json")));
    std::optional<FactorSet> f = configFactors(config, 131072);
    QVERIFY(f.has_value());
    COMPARE_VECTOR(f->lambda, kLlama31Factor8, "config llama3");
    QCOMPARE(f->attentionFactor, 1.0);

    // yarn (Qwen2.5 long-context recipe: factor 4, original 32768)
    config = loadRopeConfig(fixture(QStringLiteral("configs/qwen2.5-7b-instruct-yarn.json")));
    f = configFactors(config, 131072);
    QVERIFY(f.has_value());
    COMPARE_VECTOR(f->lambda, kYarnQwenTruncate, "config yarn");
    COMPARE_REL(f->attentionFactor, 1.1386294361119891, "config yarn attention", 0);

    // linear
    const QByteArray linear = R"({"hidden_size":4096,"num_attention_heads":32,"max_position_embeddings":4096,
        "rope_theta":10000.0,"rope_scaling":{"rope_type":"linear","factor":4.0}})";
    f = configFactors(parseRopeConfig(linear, QStringLiteral("inline-linear.json")), 16384);
    QVERIFY(f.has_value());
    QCOMPARE(f->lambda, std::vector<double>(64, 4.0));
    QCOMPARE(f->attentionFactor, 1.0);

    // dynamic: factor 2, max_position_embeddings 4096, at 16384 (d=128, b=5e5)
    const QByteArray dynamic = R"({"hidden_size":4096,"num_attention_heads":32,"max_position_embeddings":4096,
        "rope_theta":500000.0,"rope_scaling":{"type":"dynamic","factor":2.0}})";
    f = configFactors(parseRopeConfig(dynamic, QStringLiteral("inline-dynamic.json")), 16384);
    QVERIFY(f.has_value());
    COMPARE_VECTOR(f->lambda, kDynamicLlama3, "config dynamic");
}

void TestFactorFamilies::configFactorsUnscaled()
{
    const RopeConfig config = loadRopeConfig(fixture(QStringLiteral("configs/llama3-8b.json")));
    QVERIFY(!configFactors(config, 131072).has_value());
    QVERIFY(!configFactors(loadRopeConfig(fixture(QStringLiteral("configs/hf5-llama-plain.json"))), 4096).has_value());
}

void TestFactorFamilies::standardFamiliesUnscaledConfig()
{
    const RopeConfig config = loadRopeConfig(fixture(QStringLiteral("configs/llama3-8b.json")));
    // s = 4
    std::map<QString, FactorSet> fam = standardFamilies(config, 32768);
    for (const char *name : {"pi", "ntk", "yarn", "llama3"})
        QVERIFY2(fam.count(QString::fromLatin1(name)), name);
    QVERIFY(!fam.count(QStringLiteral("config")));
    QCOMPARE(fam.at(QStringLiteral("pi")).lambda, std::vector<double>(64, 4.0));
    for (int i = 0; i < 64; ++i)
        COMPARE_REL(fam.at(QStringLiteral("ntk")).lambda[size_t(i)], std::pow(4.0, 2.0 * i / 126), "ntk family", i);
    // llama3 without config parameters: low 1, high 4, factor s = 4.
    COMPARE_VECTOR(fam.at(QStringLiteral("llama3")).lambda, kLlama3Factor4, "llama3 family");
    COMPARE_REL(fam.at(QStringLiteral("yarn")).attentionFactor, 0.1 * std::log(4.0) + 1, "yarn family attention", 0);
    QCOMPARE(fam.at(QStringLiteral("yarn")).lambda.front(), 1.0);
    COMPARE_REL(fam.at(QStringLiteral("yarn")).lambda.back(), 4.0, "yarn family", 63);

    // s = 16: yarn over LLaMA3-8B geometry.
    fam = standardFamilies(config, 131072);
    COMPARE_VECTOR(fam.at(QStringLiteral("yarn")).lambda, kYarnLlama3S16, "yarn family");
    QCOMPARE(fam.at(QStringLiteral("pi")).lambda, std::vector<double>(64, 16.0));
    COMPARE_VECTOR(fam.at(QStringLiteral("ntk")).lambda, kNtkLlama3S16, "ntk family");
}

void TestFactorFamilies::standardFamiliesScaledConfigs()
{
    // Llama-3.1-8B at 128k (s = 16): "config" is the config's own llama3 factors (factor 8); the llama3
    // peer family is taken at the target scale (factor s = 16) with the config's low/high band factors.
    // (factorfamilies.h: "with the config's llama3 parameters when it has them, else 1/4 and factor s".)
    RopeConfig config = loadRopeConfig(fixture(QStringLiteral("configs/llama3.1-8b.json")));
    std::map<QString, FactorSet> fam = standardFamilies(config, 131072);
    QVERIFY(fam.count(QStringLiteral("config")));
    COMPARE_VECTOR(fam.at(QStringLiteral("config")).lambda, kLlama31Factor8, "config family");
    COMPARE_VECTOR(fam.at(QStringLiteral("llama3")).lambda, kLlama3Factor16, "llama3 family");
    QCOMPARE(fam.at(QStringLiteral("pi")).lambda, std::vector<double>(64, 16.0));

    // The config's band factors are used when they differ from the defaults (low 2, high 8).
    QFile f(fixture(QStringLiteral("configs/llama3.1-8b.json")));
    QVERIFY(f.open(QIODevice::ReadOnly));
    QByteArray edited = f.readAll();
    edited.replace("\"low_freq_factor\": 1.0", "\"low_freq_factor\": 2.0");
    edited.replace("\"high_freq_factor\": 4.0", "\"high_freq_factor\": 8.0");
    config = parseRopeConfig(edited, QStringLiteral("llama3.1-8b-edited.json"));
    QCOMPARE(config.scaling.lowFreqFactor, 2.0);
    QCOMPARE(config.scaling.highFreqFactor, 8.0);
    fam = standardFamilies(config, 131072);
    COMPARE_VECTOR(fam.at(QStringLiteral("llama3")).lambda, kLlama3Factor16Low2High8, "llama3 family (low 2, high 8)");

    // A longrope config: "config" carries its long factors beyond L_train.
    config = loadRopeConfig(fixture(QStringLiteral("configs/hf5-llama-longrope.json")));
    fam = standardFamilies(config, 1024);
    QVERIFY(fam.count(QStringLiteral("config")));
    QCOMPARE(fam.at(QStringLiteral("config")).lambda, std::vector<double>({1.0, 1.6, 2.2, 2.8, 3.4, 4.0, 4.6, 5.2}));
    QCOMPARE(fam.at(QStringLiteral("pi")).lambda, std::vector<double>(8, 8.0));
    for (const char *name : {"pi", "ntk", "yarn", "llama3"})
        QCOMPARE(int(fam.at(QString::fromLatin1(name)).lambda.size()), 8);
}

void TestFactorFamilies::configFactorsLongropeWrittenFactor()
{
    // Issue 15: a 5.x longrope config with `factor` written. transformers 5.x takes the default
    // attention factor from it, sqrt(1 + ln factor / ln L_train), not from max/original = 8.
    QFile f(fixture(QStringLiteral("configs/hf5-llama-longrope.json")));
    QVERIFY(f.open(QIODevice::ReadOnly));
    QByteArray json = f.readAll();
    QVERIFY(json.contains("\"rope_type\": \"longrope\""));
    json.replace("\"rope_type\": \"longrope\"", "\"rope_type\": \"longrope\", \"factor\": 3.0");
    RopeConfig config = parseRopeConfig(json, QStringLiteral("hf5-longrope-factor3.json"));
    std::optional<FactorSet> fs = configFactors(config, 1024);
    QVERIFY(fs.has_value());
    COMPARE_REL(fs->attentionFactor, std::sqrt(1 + std::log(3.0) / std::log(128.0)), "5.x longrope attention (factor)", 0);
    QVERIFY(!relClose(fs->attentionFactor, std::sqrt(1 + std::log(8.0) / std::log(128.0))));

    // The same dict in the 4.x form with original_max_position_embeddings at the top level (the
    // Phi-3 layout): transformers 4.x takes the ratio 1024 / 128 = 8.
    const QByteArray hf4 = R"({"model_type":"llama","head_dim":16,"max_position_embeddings":1024,"rope_theta":10000.0,
        "original_max_position_embeddings":128,"rope_scaling":{"rope_type":"longrope","factor":3.0,
        "long_factor":[1,2,3,4,5,6,7,8],"short_factor":[1,1,1,1,1,1,1,1]}})";
    fs = configFactors(parseRopeConfig(hf4, QStringLiteral("hf4-longrope-factor3.json")), 1024);
    QVERIFY(fs.has_value());
    COMPARE_REL(fs->attentionFactor, std::sqrt(1 + std::log(8.0) / std::log(128.0)), "4.x longrope attention (ratio)", 0);
}

void TestFactorFamilies::yarnOverlayTakesConfigAttention()
{
    // Issue 15: the yarn peer family at the target's s takes the config's attention_factor (1.25
    // where 0.1·ln 4 + 1 = 1.1386 was shown) and its mscale / mscale_all_dim.
    const QByteArray explicitAttention = R"({"head_dim":128,"max_position_embeddings":4096,"rope_theta":10000.0,
        "rope_scaling":{"rope_type":"yarn","factor":4.0,"attention_factor":1.25,"original_max_position_embeddings":4096}})";
    RopeConfig config = parseRopeConfig(explicitAttention, QStringLiteral("yarn-attention.json"));
    std::map<QString, FactorSet> fam = standardFamilies(config, 16384);
    QCOMPARE(fam.at(QStringLiteral("yarn")).attentionFactor, 1.25);
    QCOMPARE(fam.at(QStringLiteral("config")).attentionFactor, 1.25);

    const QByteArray mscales = R"({"head_dim":128,"max_position_embeddings":4096,"rope_theta":10000.0,
        "rope_scaling":{"rope_type":"yarn","factor":4.0,"mscale":1.0,"mscale_all_dim":0.5,"original_max_position_embeddings":4096}})";
    config = parseRopeConfig(mscales, QStringLiteral("yarn-mscale.json"));
    // At the overlay's s = 32768 / 4096 = 8: (0.1·1·ln 8 + 1) / (0.1·0.5·ln 8 + 1).
    fam = standardFamilies(config, 32768);
    COMPARE_REL(fam.at(QStringLiteral("yarn")).attentionFactor,
                (0.1 * std::log(8.0) + 1) / (0.05 * std::log(8.0) + 1), "yarn overlay mscale ratio", 0);
    // Without a yarn config the overlay keeps the paper's 0.1·ln s + 1.
    config = loadRopeConfig(fixture(QStringLiteral("configs/llama3-8b.json")));
    COMPARE_REL(standardFamilies(config, 32768).at(QStringLiteral("yarn")).attentionFactor, 0.1 * std::log(4.0) + 1,
                "yarn overlay default", 0);
}

void TestFactorFamilies::constraintsOutOfRange()
{
    std::vector<double> lambda(8, 1.0);
    lambda[3] = 1e-300;
    auto v = checkConstraints(lambda, 8, 1.0, -1);
    QVERIFY(std::any_of(v.begin(), v.end(), [](const ConstraintViolation &c) {
        return c.kind == ConstraintViolation::Kind::OutOfRange && c.index == 3;
    }));
    lambda[3] = 1e300;
    v = checkConstraints(lambda, 8, 1.0, -1);
    QVERIFY(std::any_of(v.begin(), v.end(), [](const ConstraintViolation &c) {
        return c.kind == ConstraintViolation::Kind::OutOfRange && c.index == 3;
    }));
}

void TestFactorFamilies::detectNtkLeftSynthetic()
{
    // NTK-left below c = 20 with λ_20 = 5, then flat: the largest consistent boundary is 20
    // (any c ≤ 20 also fits, c = 21 would need λ_20 = 5^(20/21)).
    std::vector<double> lambda(64);
    for (int i = 0; i < 64; ++i)
        lambda[size_t(i)] = i < 20 ? std::pow(5.0, i / 20.0) : 5.0;
    NtkLeftFit fit = detectNtkLeft(lambda);
    QVERIFY(fit.found);
    QCOMPARE(fit.boundary, 20);
    QCOMPARE(fit.lambdaAtBoundary, 5.0);
    QVERIFY(fit.maxRelativeError < 1e-12);

    // Then rising above c, as the LongRoPE2 search leaves it.
    for (int i = 20; i < 64; ++i)
        lambda[size_t(i)] = 5.0 + 0.1 * (i - 20);
    fit = detectNtkLeft(lambda);
    QVERIFY(fit.found);
    QCOMPARE(fit.boundary, 20);

    // Small noise within the tolerance is accepted; its size is reported.
    lambda[10] *= 1.002;
    fit = detectNtkLeft(lambda, 0.005);
    QVERIFY(fit.found);
    QCOMPARE(fit.boundary, 20);
    QVERIFY2(std::abs(fit.maxRelativeError - 0.002) < 1e-5, qPrintable(QString::number(fit.maxRelativeError, 'g', 17)));
    // With a tighter tolerance the noisy point cuts the NTK-left part below index 10.
    fit = detectNtkLeft(lambda, 0.001);
    QVERIFY(fit.found);
    QVERIFY2(fit.boundary <= 10, qPrintable(QString::number(fit.boundary)));
}

void TestFactorFamilies::detectNtkLeftPublished()
{
    const std::vector<double> published =
        readFactorFile(fixture(QStringLiteral("factors/llama3_8b_longrope2_128k_long_factor.txt")), 64);
    const NtkLeftFit fit = detectNtkLeft(published);
    QVERIFY(fit.found);
    QCOMPARE(fit.boundary, 33);
    QCOMPARE(fit.lambdaAtBoundary, 21.81);
    QVERIFY(fit.maxRelativeError < 1e-8);
}

void TestFactorFamilies::detectNtkLeftNotFound()
{
    // PI: λ_0 = s ≠ 1 = λ_c^0 for every c.
    QVERIFY(!detectNtkLeft(std::vector<double>(48, 32.0)).found);
    // λ_0 = 1, λ_1 = sqrt(λ_2), then no law: the boundary is 2.
    // (c = 1 would fit any vector with λ_0 = 1; the implementation does not report that degenerate
    // boundary although factorfamilies.h says 1 ≤ c < n.)
    NtkLeftFit fit = detectNtkLeft({1.0, 1.5, 2.25, 10.0, 11.0});
    QVERIFY(fit.found);
    QCOMPARE(fit.boundary, 2);
    QCOMPARE(fit.lambdaAtBoundary, 2.25);
    // Nothing fits when λ_1 is not sqrt(λ_2) either.
    fit = detectNtkLeft({1.0, 3.0, 2.0, 10.0, 11.0});
    QVERIFY(!fit.found || fit.boundary == 1);
}

void TestFactorFamilies::constraintsValid()
{
    // Published LLaMA3-8B 128k factors with the paper's d_rcd = 33 boundary: all ≥ s = 16 above it.
    const std::vector<double> published =
        readFactorFile(fixture(QStringLiteral("factors/llama3_8b_longrope2_128k_long_factor.txt")), 64);
    std::vector<ConstraintViolation> v = checkConstraints(published, 64, 16.0, 33);
    QVERIFY2(v.empty(), qPrintable(listViolations(v)));
    // A LongRoPE2-structured vector; λ = s exactly at the bound is allowed.
    const FactorSet f = longrope2Factors(96, 25, {32.0}, 32.0, 4096);
    v = checkConstraints(f.lambda, 48, 32.0, 25);
    QVERIFY2(v.empty(), qPrintable(listViolations(v)));
    v = checkConstraints(std::vector<double>(48, 1.0), 48, 1.0, 0);
    QVERIFY2(v.empty(), qPrintable(listViolations(v)));
}

void TestFactorFamilies::constraintsViolations_data()
{
    QTest::addColumn<int>("index");
    QTest::addColumn<double>("value");
    QTest::addColumn<int>("kind");
    using K = ConstraintViolation::Kind;
    // Base vector: λ_i = 1 + i (i < 30), then 40 + i: monotone, ≥ s = 32 from d_rcd = 30.
    QTest::newRow("NaN at 5") << 5 << std::numeric_limits<double>::quiet_NaN() << int(K::NotFinite);
    QTest::newRow("+inf at 47") << 47 << std::numeric_limits<double>::infinity() << int(K::NotFinite);
    QTest::newRow("-inf at 3") << 3 << -std::numeric_limits<double>::infinity() << int(K::NotFinite);
    QTest::newRow("negative at 3") << 3 << -1.0 << int(K::NotPositive);
    QTest::newRow("zero at 0") << 0 << 0.0 << int(K::NotPositive);
    QTest::newRow("decrease at 12") << 12 << 11.5 << int(K::NotMonotone);   // λ_11 = 12
    QTest::newRow("decrease at 40") << 40 << 70.0 << int(K::NotMonotone);   // λ_39 = 79
    QTest::newRow("below s at d_rcd") << 30 << 31.0 << int(K::BelowScale);  // still ≥ λ_29 = 30
}

void TestFactorFamilies::constraintsViolations()
{
    QFETCH(int, index);
    QFETCH(double, value);
    QFETCH(int, kind);
    std::vector<double> lambda(48);
    for (int i = 0; i < 48; ++i)
        lambda[size_t(i)] = i < 30 ? 1.0 + i : 40.0 + i;
    QVERIFY(checkConstraints(lambda, 48, 32.0, 30).empty());
    lambda[size_t(index)] = value;
    const std::vector<ConstraintViolation> v = checkConstraints(lambda, 48, 32.0, 30);
    QVERIFY2(hasViolation(v, ConstraintViolation::Kind(kind), index), qPrintable(listViolations(v)));
    for (const ConstraintViolation &c : v)
        QVERIFY2(!c.message.isEmpty(), "every violation carries a message");
    if (ConstraintViolation::Kind(kind) == ConstraintViolation::Kind::BelowScale) {
        QCOMPARE(int(v.size()), 1); // nothing else is wrong with that vector
    }
}

void TestFactorFamilies::constraintsWrongLength()
{
    const std::vector<ConstraintViolation> v = checkConstraints(std::vector<double>(47, 40.0), 48, 32.0, 30);
    QVERIFY2(hasViolation(v, ConstraintViolation::Kind::WrongLength, -1), qPrintable(listViolations(v)));
    QVERIFY(hasViolation(checkConstraints(std::vector<double>(49, 40.0), 48, 32.0, 30), ConstraintViolation::Kind::WrongLength, -1));
    QVERIFY(hasViolation(checkConstraints({}, 48, 32.0, 30), ConstraintViolation::Kind::WrongLength, -1));
}

void TestFactorFamilies::constraintsOodCheckSkipped()
{
    // λ below s everywhere is fine when the OOD check is disabled (dRcd < 0), an error otherwise.
    std::vector<double> lambda(48);
    for (int i = 0; i < 48; ++i)
        lambda[size_t(i)] = 1.0 + 0.1 * i;
    QVERIFY(checkConstraints(lambda, 48, 32.0, -1).empty());
    const std::vector<ConstraintViolation> v = checkConstraints(lambda, 48, 32.0, 40);
    for (int i = 40; i < 48; ++i)
        QVERIFY2(hasViolation(v, ConstraintViolation::Kind::BelowScale, i), qPrintable(listViolations(v)));
    for (int i = 0; i < 40; ++i)
        QVERIFY(!hasViolation(v, ConstraintViolation::Kind::BelowScale, i));
}

QTEST_GUILESS_MAIN(TestFactorFamilies)
#include "test_factorfamilies.moc"
