// What a user deploys (rope/deployment.h, rope/engine.h): a factor set is scored exactly as the
// engine that loads its export runs it. The expected RoPE at each length comes from the engines'
// rules as their sources state them, re-read here from the exported JSON (not through the config
// reader); the round trip factors → export → config.json in a model folder → the runtime gives
// the same per-token NLL as the sweep's evaluation of the factors, bit for bit on the CPU.
#include "common/error.h"
#include "eval/sweep.h"
#include "rope/deployment.h"
#include "rope/engine.h"
#include "rope/factorfamilies.h"
#include "runtime/model.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <numeric>

using namespace rs;

namespace {

// llama-plain: d = 16 (8 pairs), rope_theta 1e4, L_train = max_position_embeddings = 1024.
const QString kModel = QStringLiteral(ROPESCOPE_FIXTURES "/models/llama-plain");
constexpr int kTrain = 1024;
constexpr int kTarget = 4096;  // s = 4

std::vector<double> testFactors()
{
    std::vector<double> l;
    for (int i = 0; i < 8; ++i)
        l.push_back(1.0 + 0.5 * i);  // 1 … 4.5, monotone
    return l;
}

// sqrt(1 + ln s / ln L_train), transformers' and vLLM's longrope default, from the formula.
double defaultAttention(double s, double trainLength) { return std::sqrt(1 + std::log(s) / std::log(trainLength)); }

std::vector<double> numbers(const QJsonValue &v)
{
    std::vector<double> out;
    for (const QJsonValue &x : v.toArray())
        out.push_back(x.toDouble());
    return out;
}

// transformers' longrope as modeling_rope_utils states it, applied to the written JSON (4.x form,
// L_train at the top level): short factors while seqLen ≤ original, one attention factor.
RopeOverride transformersReading(const QJsonObject &config, int seqLen)
{
    const QJsonObject r = config.value(QLatin1String("rope_scaling")).toObject();
    const double original = config.value(QLatin1String("original_max_position_embeddings")).toDouble();
    const double factor = config.value(QLatin1String("max_position_embeddings")).toDouble() / original;
    const double attention = r.contains(QLatin1String("attention_factor"))
                                 ? r.value(QLatin1String("attention_factor")).toDouble()
                                 : (factor <= 1 ? 1.0 : defaultAttention(factor, original));
    return {numbers(r.value(seqLen > original ? QLatin1String("long_factor") : QLatin1String("short_factor"))), attention};
}

// vLLM's Phi3LongRoPEScaledRotaryEmbedding: the long half of its cache once any position exceeds
// original (positions 0 … seqLen − 1), short_mscale / long_mscale defaulting to the same formula
// with s = max_position_embeddings / original; attention_factor is not read.
RopeOverride vllmReading(const QJsonObject &config, int seqLen)
{
    const QJsonObject r = config.value(QLatin1String("rope_scaling")).toObject();
    const double original = r.value(QLatin1String("original_max_position_embeddings")).toDouble();
    const double scale = config.value(QLatin1String("max_position_embeddings")).toDouble() / original;
    const double fallback = scale <= 1 ? 1.0 : defaultAttention(scale, original);
    const bool useLong = seqLen - 1 > original;
    const QLatin1String key = useLong ? QLatin1String("long_mscale") : QLatin1String("short_mscale");
    return {numbers(r.value(useLong ? QLatin1String("long_factor") : QLatin1String("short_factor"))),
            r.contains(key) ? r.value(key).toDouble() : fallback};
}

void compareRope(const RopeOverride &got, const RopeOverride &want)
{
    QCOMPARE(got.lambda, want.lambda);
    QCOMPARE(got.attentionFactor, want.attentionFactor);
}

} // namespace

class TestDeployment : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { m_model = CausalLM::load(kModel); }

    void engineNames()
    {
        QCOMPARE(parseEngine(QStringLiteral("transformers"), QStringLiteral("--engine")), Engine::Transformers);
        QCOMPARE(parseEngine(QStringLiteral("vLLM"), QStringLiteral("--engine")), Engine::Vllm);
        try {
            parseEngine(QStringLiteral("tgi"), QStringLiteral("--engine"));
            QFAIL("an unknown engine was accepted");
        } catch (const Error &e) {
            // One sentence naming the option, the name and the engines there are.
            QVERIFY2(e.message().contains(QLatin1String("--engine")) && e.message().contains(QLatin1String("\"tgi\"")) &&
                         e.message().contains(QLatin1String("transformers, vllm")),
                     qPrintable(e.message()));
        }
    }

    // The short side is not the original RoPE with factor 1: transformers multiplies cos and sin by
    // its one attention factor at every length (1.1547 at 8x for L_train = 512; here s = 4).
    void transformersAppliesOneAttentionFactorEverywhere()
    {
        FactorDeployment d;
        d.longFactor = testFactors();
        d.targetLength = kTarget;
        const DeployedFactors deployed(m_model->ropeConfig(), d);
        const double a = defaultAttention(4.0, kTrain);
        QVERIFY(std::abs(a - 1.0) > 0.05);
        compareRope(deployed.at(kTrain), RopeOverride{std::vector<double>(8, 1.0), a});
        compareRope(deployed.at(kTrain + 1), RopeOverride{testFactors(), a});
        for (int length : {16, kTrain, kTrain + 1, kTarget})
            compareRope(deployed.at(length), transformersReading(deployed.exportedJson(), length));
        QVERIFY(!deployed.exportedJson().value(QLatin1String("rope_scaling")).toObject().contains(QLatin1String("short_mscale")));
    }

    // vLLM reads short_mscale / long_mscale, so there (and only there) the short side can be the
    // untouched pretraining RoPE; its switch is one token later than transformers'.
    void vllmReadsPerSideScales()
    {
        FactorDeployment d;
        d.longFactor = testFactors();
        d.targetLength = kTarget;
        d.engine = Engine::Vllm;
        d.shortAttentionFactor = 1.0;
        const DeployedFactors deployed(m_model->ropeConfig(), d);
        const QJsonObject rope = deployed.exportedJson().value(QLatin1String("rope_scaling")).toObject();
        QCOMPARE(rope.value(QLatin1String("short_mscale")).toDouble(), 1.0);
        QVERIFY(!rope.contains(QLatin1String("long_mscale")));  // left to vLLM's default
        compareRope(deployed.at(kTrain + 1), RopeOverride{std::vector<double>(8, 1.0), 1.0});
        compareRope(deployed.at(kTrain + 2), RopeOverride{testFactors(), defaultAttention(4.0, kTrain)});
        for (int length : {16, kTrain, kTrain + 1, kTrain + 2, kTarget})
            compareRope(deployed.at(length), vllmReading(deployed.exportedJson(), length));
        d.attentionFactor = 1.3;
        const DeployedFactors explicitLong(m_model->ropeConfig(), d);
        compareRope(explicitLong.at(kTarget), RopeOverride{testFactors(), 1.3});
        compareRope(explicitLong.at(kTarget), vllmReading(explicitLong.exportedJson(), kTarget));
    }

    // What an engine cannot express is refused in one sentence that says what to change.
    void inexpressibleDeploymentsAreRefused()
    {
        FactorDeployment d;
        d.longFactor = testFactors();
        d.targetLength = kTarget;
        d.shortAttentionFactor = 1.0;  // transformers has no short-side factor
        try {
            DeployedFactors(m_model->ropeConfig(), d);
            QFAIL("transformers was given a short-side attention factor");
        } catch (const Error &e) {
            QVERIFY2(e.message().contains(QLatin1String("one attention factor")) && e.message().contains(QLatin1String("vLLM")),
                     qPrintable(e.message()));
        }
        d.shortAttentionFactor = defaultAttention(4.0, kTrain);  // the same as the long side: expressible
        DeployedFactors same(m_model->ropeConfig(), d);
        QVERIFY(!same.exportedJson().value(QLatin1String("rope_scaling")).toObject().contains(QLatin1String("attention_factor")));
        d.longFactor.pop_back();
        QVERIFY_THROWS_EXCEPTION(Error, DeployedFactors(m_model->ropeConfig(), d));
    }

    // factors → export → a model folder with that config.json → the runtime's own RoPE gives the
    // same NLL per token as the sweep's "factors" method, at a short and a long length.
    void transformersRoundTripIsBitEqual()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        QVERIFY(QFile::copy(kModel + QStringLiteral("/model.safetensors"), dir.filePath(QStringLiteral("model.safetensors"))));
        FactorDeployment d;
        d.longFactor = testFactors();
        d.targetLength = kTarget;
        const QJsonObject exported = exportLongropeConfig(m_model->ropeConfig(), d);
        QFile f(dir.filePath(QStringLiteral("config.json")));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(QJsonDocument(exported).toJson());
        f.close();
        const std::unique_ptr<CausalLM> deployedModel = CausalLM::load(dir.path());

        const SweepMethodSpec spec{QStringLiteral("factors"), QStringLiteral("factors"), testFactors(), 0, {}, {}};
        const ResolvedSweepMethods methods = resolveSweepMethods({spec}, *m_model, kTarget, {}, Engine::Transformers);
        for (int length : {kTrain, kTrain + 200}) {
            std::vector<int> ids(static_cast<size_t>(length));
            for (int i = 0; i < length; ++i)
                ids[size_t(i)] = (i * 37 + 11) % 320;
            std::vector<int> positions(static_cast<size_t>(length - 1));
            std::iota(positions.begin(), positions.end(), 1);
            const RopeOverride scored = *methods.methods.front().rope(length);
            compareRope(scored, transformersReading(exported, length));
            QCOMPARE(m_model->targetNll(ids, positions, &scored), deployedModel->targetNll(ids, positions));
        }
    }

    // The same for vLLM, whose reading the runtime does not model as a config: the sweep's figure
    // equals the model run with the RoPE vLLM would build from the exported JSON.
    void vllmRoundTripIsBitEqual()
    {
        const SweepMethodSpec spec{QStringLiteral("factors"), QStringLiteral("factors"), testFactors(), 1.2, {}, {}};
        const ResolvedSweepMethods methods = resolveSweepMethods({spec}, *m_model, kTarget, {}, Engine::Vllm);
        FactorDeployment d;
        d.longFactor = testFactors();
        d.targetLength = kTarget;
        d.attentionFactor = 1.2;
        d.engine = Engine::Vllm;
        const QJsonObject exported = exportLongropeConfig(m_model->ropeConfig(), d);
        for (int length : {kTrain, kTrain + 200}) {
            std::vector<int> ids(static_cast<size_t>(length));
            for (int i = 0; i < length; ++i)
                ids[size_t(i)] = (i * 53 + 7) % 320;
            const std::vector<int> positions{length / 2, length - 1};
            const RopeOverride scored = *methods.methods.front().rope(length);
            const RopeOverride vllm = vllmReading(exported, length);
            compareRope(scored, vllm);
            QCOMPARE(m_model->targetNll(ids, positions, &scored), m_model->targetNll(ids, positions, &vllm));
        }
        // vLLM's short side keeps its default, not the 1.2 written for the long side.
        QCOMPARE(methods.methods.front().rope(kTrain)->attentionFactor, defaultAttention(4.0, kTrain));
        QCOMPARE(methods.methods.front().rope(kTarget)->attentionFactor, 1.2);
    }

private:
    std::unique_ptr<CausalLM> m_model;
};

QTEST_GUILESS_MAIN(TestDeployment)
#include "test_deployment.moc"
