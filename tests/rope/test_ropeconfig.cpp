// Reading a model's RoPE description from Hugging Face config.json in the transformers 4.x form
// (rope_theta + rope_scaling, legacy `type`, "su") and the 5.x form (rope_parameters), and the
// errors bad input gets. Real configs live in tests/fixtures/configs (see its README.md).
#include "common/error.h"
#include "rope/presets.h"
#include "rope/ropeconfig.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <vector>

using namespace rs;

namespace {

QString fixture(const QString &relative)
{
    return QStringLiteral(ROPESCOPE_FIXTURES "/configs/") + relative;
}

QByteArray readFile(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        qFatal("cannot open fixture %s", qPrintable(path));
    return f.readAll();
}

QJsonObject fixtureObject(const QString &name)
{
    return QJsonDocument::fromJson(readFile(fixture(name))).object();
}

QByteArray toBytes(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

std::vector<double> toVector(const QJsonArray &a)
{
    std::vector<double> out;
    for (const QJsonValue &v : a)
        out.push_back(v.toDouble());
    return out;
}

const std::vector<double> kFixtureLong = {1.0, 1.6, 2.2, 2.8, 3.4, 4.0, 4.6, 5.2};
const std::vector<double> kFixtureShort = {1.0, 1.05, 1.1, 1.15, 1.2, 1.25, 1.3, 1.35};

} // namespace

class TestRopeConfig : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void hf5ReferenceFixtures_data();
    void hf5ReferenceFixtures();
    void llama3Plain();
    void llama31Llama3Scaling();
    void mistral();
    void phi3Mini4k();
    void phi3Mini128kLegacySu();
    void llama3LongRope2Nnscaler();
    void qwenYarnLegacyType();
    void yarnAllParameters_data();
    void yarnAllParameters();
    void linearAndDynamic_data();
    void linearAndDynamic();
    void longropeExplicitFactorAndAttention();
    void hf5RopeParametersInline();
    void longropeWithPartialRotary();
    void headDim_data();
    void headDim();
    void partialRotaryFactor_data();
    void partialRotaryFactor();
    void missingRopeThetaDefaults();
    void unscaledForms_data();
    void unscaledForms();
    void badInput_data();
    void badInput();
    void badFiles();
    void ordinaryConfigsHaveNoWarnings();
    void bothFormsRopeScalingWins();
    void phi3OriginalOnlyInDictUsesPhi3Default();
    void phi3YarnIsLongrope();
    void longropeAttentionScale_data();
    void longropeAttentionScale();
    void yarnFactorAgainstRatioWarns();
    void headDimZeroFallsBackWithWarning();
    void familyRotaryKeys_data();
    void familyRotaryKeys();
    void gemma3GlobalLayers();
    void notRopeRefused_data();
    void notRopeRefused();
    void limitsShowValuesAsWritten_data();
    void limitsShowValuesAsWritten();
};

void TestRopeConfig::hf5ReferenceFixtures_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("modelType");
    QTest::addColumn<bool>("longrope");
    for (const char *arch : {"llama", "mistral", "qwen2", "phi3"}) {
        for (bool lr : {false, true}) {
            const QString file = QStringLiteral("hf5-%1-%2.json").arg(QLatin1String(arch), lr ? QStringLiteral("longrope") : QStringLiteral("plain"));
            QTest::newRow(qPrintable(file)) << file << QString::fromLatin1(arch) << lr;
        }
    }
}

void TestRopeConfig::hf5ReferenceFixtures()
{
    QFETCH(QString, file);
    QFETCH(QString, modelType);
    QFETCH(bool, longrope);
    const QString path = fixture(file);
    const RopeConfig c = loadRopeConfig(path);
    QCOMPARE(c.source, path);
    QCOMPARE(c.modelType, modelType);
    QCOMPARE(c.form, ConfigForm::Hf5);
    QCOMPARE(c.base, 10000.0);
    QCOMPARE(c.headDim, 16); // explicit for llama/mistral/qwen2, 64 / 4 for phi3
    QCOMPARE(c.partialRotaryFactor, 1.0);
    QCOMPARE(c.rotaryDims, 16);
    QCOMPARE(c.pairs(), 8);
    QCOMPARE(c.maxPositionEmbeddings, 1024);
    QCOMPARE(c.json, fixtureObject(file)); // kept untouched
    if (longrope) {
        QVERIFY(c.isScaled());
        QCOMPARE(c.scaling.type, QStringLiteral("longrope"));
        QCOMPARE(c.trainLength, 128);
        QCOMPARE(c.scaling.longFactor, kFixtureLong);
        QCOMPARE(c.scaling.shortFactor, kFixtureShort);
        QCOMPARE(c.scaling.factor, 8.0); // derived: 1024 / 128
        QVERIFY(!c.scaling.attentionFactor.has_value());
        QCOMPARE(c.defaultTargetLength(), 1024.0);
    } else {
        QVERIFY(!c.isScaled());
        QCOMPARE(c.scaling.type, QStringLiteral("default"));
        // phi3-plain keeps original_max_position_embeddings 128 at top level, and that is L_train.
        QCOMPARE(c.trainLength, modelType == QStringLiteral("phi3") ? 128 : 1024);
        QCOMPARE(c.defaultTargetLength(), 1024.0);
    }
}

void TestRopeConfig::llama3Plain()
{
    const RopeConfig c = loadRopeConfig(fixture(QStringLiteral("llama3-8b.json")));
    QCOMPARE(c.form, ConfigForm::Hf4);
    QCOMPARE(c.modelType, QStringLiteral("llama"));
    QCOMPARE(c.base, 500000.0);
    QCOMPARE(c.headDim, 128);
    QCOMPARE(c.rotaryDims, 128);
    QCOMPARE(c.maxPositionEmbeddings, 8192);
    QCOMPARE(c.trainLength, 8192);
    QVERIFY(!c.isScaled());
    QCOMPARE(c.defaultTargetLength(), 8192.0);
}

void TestRopeConfig::llama31Llama3Scaling()
{
    // original_max_position_embeddings inside rope_scaling (Llama-3.1 style).
    const RopeConfig c = loadRopeConfig(fixture(QStringLiteral("llama3.1-8b.json")));
    QCOMPARE(c.form, ConfigForm::Hf4);
    QCOMPARE(c.base, 500000.0);
    QCOMPARE(c.rotaryDims, 128);
    QCOMPARE(c.maxPositionEmbeddings, 131072);
    QCOMPARE(c.trainLength, 8192);
    QCOMPARE(c.scaling.type, QStringLiteral("llama3"));
    QCOMPARE(c.scaling.factor, 8.0);
    QCOMPARE(c.scaling.lowFreqFactor, 1.0);
    QCOMPARE(c.scaling.highFreqFactor, 4.0);
    QCOMPARE(c.defaultTargetLength(), 131072.0);

    // Non-default band parameters are read as written.
    QJsonObject o = fixtureObject(QStringLiteral("llama3.1-8b.json"));
    QJsonObject rs = o.value(QStringLiteral("rope_scaling")).toObject();
    rs[QStringLiteral("low_freq_factor")] = 2.0;
    rs[QStringLiteral("high_freq_factor")] = 8.0;
    rs[QStringLiteral("factor")] = 16.0;
    o[QStringLiteral("rope_scaling")] = rs;
    const RopeConfig d = parseRopeConfig(toBytes(o), QStringLiteral("edited.json"));
    QCOMPARE(d.scaling.lowFreqFactor, 2.0);
    QCOMPARE(d.scaling.highFreqFactor, 8.0);
    QCOMPARE(d.scaling.factor, 16.0);
    QCOMPARE(d.source, QStringLiteral("edited.json"));
}

void TestRopeConfig::mistral()
{
    const RopeConfig c = loadRopeConfig(fixture(QStringLiteral("mistral-7b-v0.1.json")));
    QCOMPARE(c.base, 10000.0);
    QCOMPARE(c.rotaryDims, 128);
    QCOMPARE(c.maxPositionEmbeddings, 32768);
    QCOMPARE(c.trainLength, 32768);
    QVERIFY(!c.isScaled());
}

void TestRopeConfig::phi3Mini4k()
{
    const RopeConfig c = loadRopeConfig(fixture(QStringLiteral("phi3-mini-4k-instruct.json")));
    QCOMPARE(c.modelType, QStringLiteral("phi3"));
    QCOMPARE(c.headDim, 96);
    QCOMPARE(c.rotaryDims, 96);
    QCOMPARE(c.trainLength, 4096);
    QCOMPARE(c.maxPositionEmbeddings, 4096);
    QVERIFY(!c.isScaled());
}

void TestRopeConfig::phi3Mini128kLegacySu()
{
    // rope_scaling.type "su" is the old name of longrope; original_max_position_embeddings top level.
    const QJsonObject o = fixtureObject(QStringLiteral("phi3-mini-128k-instruct-su.json"));
    const RopeConfig c = loadRopeConfig(fixture(QStringLiteral("phi3-mini-128k-instruct-su.json")));
    QCOMPARE(c.form, ConfigForm::Hf4);
    QCOMPARE(c.scaling.type, QStringLiteral("longrope"));
    QCOMPARE(c.rotaryDims, 96);
    QCOMPARE(c.trainLength, 4096);
    QCOMPARE(c.maxPositionEmbeddings, 131072);
    QCOMPARE(c.scaling.factor, 32.0); // derived 131072 / 4096
    const QJsonObject rs = o.value(QStringLiteral("rope_scaling")).toObject();
    QCOMPARE(c.scaling.longFactor.size(), size_t(48));
    QCOMPARE(c.scaling.shortFactor.size(), size_t(48));
    QCOMPARE(c.scaling.longFactor, toVector(rs.value(QStringLiteral("long_factor")).toArray()));
    QCOMPARE(c.scaling.shortFactor, toVector(rs.value(QStringLiteral("short_factor")).toArray()));
    QCOMPARE(c.scaling.longFactor.front(), 1.0299999713897705);
    QCOMPARE(c.scaling.longFactor.back(), 64.81001281738281);
    QCOMPARE(c.scaling.shortFactor.front(), 1.05);
    QCOMPARE(c.scaling.shortFactor.back(), 2.9499999999999975);
    QCOMPARE(c.defaultTargetLength(), 131072.0);
}

void TestRopeConfig::llama3LongRope2Nnscaler()
{
    const RopeConfig c = loadRopeConfig(fixture(QStringLiteral("llama3-8b-longrope2-128k.json")));
    QCOMPARE(c.scaling.type, QStringLiteral("longrope"));
    QCOMPARE(c.rotaryDims, 128);
    QCOMPARE(c.base, 500000.0);
    QCOMPARE(c.trainLength, 8192);
    QCOMPARE(c.maxPositionEmbeddings, 131072);
    QCOMPARE(c.scaling.factor, 16.0);
    QCOMPARE(c.scaling.longFactor.size(), size_t(64));
    QCOMPARE(c.scaling.longFactor[0], 1.0);
    QCOMPARE(c.scaling.longFactor[33], 21.81);
    QCOMPARE(c.scaling.longFactor[63], 26.05);
    QCOMPARE(c.scaling.shortFactor, std::vector<double>(64, 1.0));
    QVERIFY(!c.scaling.attentionFactor.has_value());
    QCOMPARE(c.defaultTargetLength(), 131072.0);
}

void TestRopeConfig::qwenYarnLegacyType()
{
    const RopeConfig c = loadRopeConfig(fixture(QStringLiteral("qwen2.5-7b-instruct-yarn.json")));
    QCOMPARE(c.scaling.type, QStringLiteral("yarn"));
    QCOMPARE(c.scaling.factor, 4.0);
    QCOMPARE(c.base, 1e6);
    QCOMPARE(c.headDim, 128); // 3584 / 28
    QCOMPARE(c.rotaryDims, 128);
    QCOMPARE(c.trainLength, 32768);
    QCOMPARE(c.maxPositionEmbeddings, 32768);
    QCOMPARE(c.scaling.betaFast, 32.0);
    QCOMPARE(c.scaling.betaSlow, 1.0);
    QVERIFY(c.scaling.truncate);
    QVERIFY(!c.scaling.mscale.has_value());
    QVERIFY(!c.scaling.mscaleAllDim.has_value());
    QVERIFY(!c.scaling.attentionFactor.has_value());
    // max_position_embeddings does not exceed L_train: the config is meant for L_train · factor.
    QCOMPARE(c.defaultTargetLength(), 131072.0);
}

void TestRopeConfig::yarnAllParameters_data()
{
    QTest::addColumn<bool>("hf5");
    QTest::newRow("4.x rope_scaling") << false;
    QTest::newRow("5.x rope_parameters") << true;
}

void TestRopeConfig::yarnAllParameters()
{
    QFETCH(bool, hf5);
    QJsonObject rope{{QStringLiteral("rope_type"), QStringLiteral("yarn")},
                     {QStringLiteral("factor"), 40.0},
                     {QStringLiteral("original_max_position_embeddings"), 4096},
                     {QStringLiteral("beta_fast"), 16.0},
                     {QStringLiteral("beta_slow"), 2.0},
                     {QStringLiteral("mscale"), 0.707},
                     {QStringLiteral("mscale_all_dim"), 0.5},
                     {QStringLiteral("attention_factor"), 1.2},
                     {QStringLiteral("truncate"), false}};
    QJsonObject o{{QStringLiteral("model_type"), QStringLiteral("deepseek_v3")},
                  {QStringLiteral("hidden_size"), 7168},
                  {QStringLiteral("num_attention_heads"), 128},
                  {QStringLiteral("head_dim"), 64},
                  {QStringLiteral("max_position_embeddings"), 163840}};
    if (hf5) {
        rope[QStringLiteral("rope_theta")] = 10000.0;
        o[QStringLiteral("rope_parameters")] = rope;
    } else {
        o[QStringLiteral("rope_theta")] = 10000.0;
        o[QStringLiteral("rope_scaling")] = rope;
    }
    const RopeConfig c = parseRopeConfig(toBytes(o), QStringLiteral("yarn.json"));
    QCOMPARE(c.form, hf5 ? ConfigForm::Hf5 : ConfigForm::Hf4);
    QCOMPARE(c.scaling.type, QStringLiteral("yarn"));
    QCOMPARE(c.headDim, 64);
    QCOMPARE(c.rotaryDims, 64);
    QCOMPARE(c.trainLength, 4096);
    QCOMPARE(c.scaling.factor, 40.0);
    QCOMPARE(c.scaling.betaFast, 16.0);
    QCOMPARE(c.scaling.betaSlow, 2.0);
    QCOMPARE(c.scaling.mscale, std::optional<double>(0.707));
    QCOMPARE(c.scaling.mscaleAllDim, std::optional<double>(0.5));
    QCOMPARE(c.scaling.attentionFactor, std::optional<double>(1.2));
    QVERIFY(!c.scaling.truncate);
    QCOMPARE(c.defaultTargetLength(), 163840.0);
}

void TestRopeConfig::linearAndDynamic_data()
{
    QTest::addColumn<QString>("typeKey");
    QTest::addColumn<QString>("type");
    QTest::newRow("linear rope_type") << QStringLiteral("rope_type") << QStringLiteral("linear");
    QTest::newRow("linear legacy type") << QStringLiteral("type") << QStringLiteral("linear");
    QTest::newRow("dynamic rope_type") << QStringLiteral("rope_type") << QStringLiteral("dynamic");
    QTest::newRow("dynamic legacy type") << QStringLiteral("type") << QStringLiteral("dynamic");
}

void TestRopeConfig::linearAndDynamic()
{
    QFETCH(QString, typeKey);
    QFETCH(QString, type);
    QJsonObject o = fixtureObject(QStringLiteral("llama3-8b.json"));
    o[QStringLiteral("max_position_embeddings")] = 4096;
    o[QStringLiteral("rope_theta")] = 10000.0;
    o[QStringLiteral("rope_scaling")] = QJsonObject{{typeKey, type}, {QStringLiteral("factor"), 4.0}};
    const RopeConfig c = parseRopeConfig(toBytes(o), QStringLiteral("scaled.json"));
    QCOMPARE(c.scaling.type, type);
    QCOMPARE(c.scaling.factor, 4.0);
    QVERIFY(c.isScaled());
    QCOMPARE(c.base, 10000.0);
    QCOMPARE(c.trainLength, 4096); // no original_max_position_embeddings: max_position_embeddings
    QCOMPARE(c.defaultTargetLength(), 16384.0);
}

void TestRopeConfig::longropeExplicitFactorAndAttention()
{
    // Phi-3 style with both an explicit factor and an attention factor; original inside the dict.
    QJsonObject o = fixtureObject(QStringLiteral("hf5-llama-longrope.json"));
    QJsonObject rp = o.value(QStringLiteral("rope_parameters")).toObject();
    rp[QStringLiteral("factor")] = 6.0;
    rp[QStringLiteral("attention_factor")] = 1.3;
    o[QStringLiteral("rope_parameters")] = rp;
    const RopeConfig c = parseRopeConfig(toBytes(o), QStringLiteral("lr.json"));
    QCOMPARE(c.scaling.factor, 6.0); // as written
    QCOMPARE(c.scaling.attentionFactor, std::optional<double>(1.3));
    QCOMPARE(c.trainLength, 128);
    QCOMPARE(c.scaling.longFactor, kFixtureLong);
}

void TestRopeConfig::hf5RopeParametersInline()
{
    // 5.x: rope_theta and partial_rotary_factor inside rope_parameters, none at top level.
    const QByteArray json = R"({"model_type":"llama","hidden_size":2048,"num_attention_heads":16,"head_dim":128,
        "max_position_embeddings":131072,
        "rope_parameters":{"rope_type":"llama3","rope_theta":500000.0,"partial_rotary_factor":0.5,
          "factor":32.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192}})";
    const RopeConfig c = parseRopeConfig(json, QStringLiteral("llama3.2-like.json"));
    QCOMPARE(c.form, ConfigForm::Hf5);
    QCOMPARE(c.base, 500000.0);
    QCOMPARE(c.headDim, 128);
    QCOMPARE(c.partialRotaryFactor, 0.5);
    QCOMPARE(c.rotaryDims, 64);
    QCOMPARE(c.pairs(), 32);
    QCOMPARE(c.scaling.type, QStringLiteral("llama3"));
    QCOMPARE(c.scaling.factor, 32.0);
    QCOMPARE(c.trainLength, 8192);
    QCOMPARE(c.maxPositionEmbeddings, 131072);
}

void TestRopeConfig::longropeWithPartialRotary()
{
    // Phi-4-mini style: head_dim 128 with partial_rotary_factor 0.75 → d = 96, so the longrope lists
    // have d/2 = 48 entries (not head_dim/2 = 64).
    auto config = [](int n) {
        QJsonArray longF, shortF;
        for (int i = 0; i < n; ++i) {
            longF.append(1.0 + i);
            shortF.append(1.0);
        }
        QJsonObject o{{QStringLiteral("model_type"), QStringLiteral("phi3")},
                      {QStringLiteral("hidden_size"), 3072},
                      {QStringLiteral("num_attention_heads"), 24},
                      {QStringLiteral("partial_rotary_factor"), 0.75},
                      {QStringLiteral("rope_theta"), 10000.0},
                      {QStringLiteral("max_position_embeddings"), 131072},
                      {QStringLiteral("original_max_position_embeddings"), 4096},
                      {QStringLiteral("rope_scaling"), QJsonObject{{QStringLiteral("type"), QStringLiteral("longrope")},
                                                                   {QStringLiteral("long_factor"), longF},
                                                                   {QStringLiteral("short_factor"), shortF}}}};
        return toBytes(o);
    };
    const RopeConfig c = parseRopeConfig(config(48), QStringLiteral("phi4-mini.json"));
    QCOMPARE(c.headDim, 128);
    QCOMPARE(c.rotaryDims, 96);
    QCOMPARE(c.scaling.longFactor.size(), size_t(48));
    QCOMPARE(c.scaling.longFactor.back(), 48.0);
    QCOMPARE(c.scaling.factor, 32.0);
    QVERIFY_THROWS_EXCEPTION(Error, parseRopeConfig(config(64), QStringLiteral("phi4-mini-64.json")));
}

void TestRopeConfig::headDim_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<int>("headDim");
    QTest::newRow("explicit head_dim differs from hidden/heads (Gemma-like)")
        << QByteArray(R"({"hidden_size":3072,"num_attention_heads":16,"head_dim":256,"max_position_embeddings":8192,"rope_theta":10000.0})")
        << 256;
    QTest::newRow("derived from hidden_size / num_attention_heads")
        << QByteArray(R"({"hidden_size":3072,"num_attention_heads":32,"max_position_embeddings":4096,"rope_theta":10000.0})") << 96;
    QTest::newRow("head_dim null: derived")
        << QByteArray(R"({"hidden_size":4096,"num_attention_heads":32,"head_dim":null,"max_position_embeddings":4096,"rope_theta":10000.0})")
        << 128;
    QTest::newRow("head_dim only")
        << QByteArray(R"({"head_dim":64,"max_position_embeddings":2048,"rope_theta":10000.0})") << 64;
}

void TestRopeConfig::headDim()
{
    QFETCH(QByteArray, json);
    QFETCH(int, headDim);
    const RopeConfig c = parseRopeConfig(json, QStringLiteral("head.json"));
    QCOMPARE(c.headDim, headDim);
    QCOMPARE(c.rotaryDims, headDim);
}

void TestRopeConfig::partialRotaryFactor_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<double>("factor");
    QTest::addColumn<int>("rotaryDims");
    // Phi-2 / StableLM style, 4.x: partial_rotary_factor at top level.
    QTest::newRow("4.x top level 0.4 (phi-2)")
        << QByteArray(R"({"hidden_size":2560,"num_attention_heads":32,"max_position_embeddings":2048,"rope_theta":10000.0,"partial_rotary_factor":0.4})")
        << 0.4 << 32;
    QTest::newRow("4.x top level 0.25 (stablelm)")
        << QByteArray(R"({"hidden_size":2560,"num_attention_heads":32,"max_position_embeddings":4096,"rope_theta":10000,"partial_rotary_factor":0.25})")
        << 0.25 << 20;
    QTest::newRow("5.x inside rope_parameters")
        << QByteArray(R"({"hidden_size":2560,"num_attention_heads":32,"max_position_embeddings":2048,"rope_parameters":{"rope_type":"default","rope_theta":10000.0,"partial_rotary_factor":0.5}})")
        << 0.5 << 40;
    QTest::newRow("absent: 1.0")
        << QByteArray(R"({"hidden_size":2560,"num_attention_heads":32,"max_position_embeddings":2048,"rope_theta":10000.0})")
        << 1.0 << 80;
}

void TestRopeConfig::partialRotaryFactor()
{
    QFETCH(QByteArray, json);
    QFETCH(double, factor);
    QFETCH(int, rotaryDims);
    const RopeConfig c = parseRopeConfig(json, QStringLiteral("partial.json"));
    QCOMPARE(c.headDim, 80);
    QCOMPARE(c.partialRotaryFactor, factor);
    QCOMPARE(c.rotaryDims, rotaryDims);
    QCOMPARE(c.pairs(), rotaryDims / 2);
}

void TestRopeConfig::missingRopeThetaDefaults()
{
    // transformers' default_theta is 10000 when a config omits rope_theta (the header's default too).
    RopeConfig c = parseRopeConfig(R"({"hidden_size":4096,"num_attention_heads":32,"max_position_embeddings":4096})",
                                   QStringLiteral("no-theta.json"));
    QCOMPARE(c.base, 10000.0);
    c = parseRopeConfig(R"({"hidden_size":4096,"num_attention_heads":32,"max_position_embeddings":4096,
        "rope_parameters":{"rope_type":"default"}})", QStringLiteral("no-theta5.json"));
    QCOMPARE(c.base, 10000.0);
    QCOMPARE(c.form, ConfigForm::Hf5);
}

void TestRopeConfig::unscaledForms_data()
{
    QTest::addColumn<QByteArray>("json");
    const QByteArray head = R"({"hidden_size":4096,"num_attention_heads":32,"max_position_embeddings":4096,"rope_theta":10000.0)";
    QTest::newRow("no rope_scaling") << head + "}";
    QTest::newRow("rope_scaling null") << head + R"(,"rope_scaling":null})";
    QTest::newRow("rope_scaling default") << head + R"(,"rope_scaling":{"rope_type":"default"}})";
    QTest::newRow("rope_parameters default")
        << QByteArray(R"({"hidden_size":4096,"num_attention_heads":32,"max_position_embeddings":4096,"rope_parameters":{"rope_type":"default","rope_theta":10000.0}})");
}

void TestRopeConfig::unscaledForms()
{
    QFETCH(QByteArray, json);
    const RopeConfig c = parseRopeConfig(json, QStringLiteral("plain.json"));
    QVERIFY(!c.isScaled());
    QCOMPARE(c.scaling.type, QStringLiteral("default"));
    QCOMPARE(c.base, 10000.0);
    QCOMPARE(c.rotaryDims, 128);
    QCOMPARE(c.trainLength, 4096);
}

void TestRopeConfig::badInput_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("keyword"); // the problem must mention one of these ('|'-separated, any case); empty: any

    const QByteArray okHead = R"({"hidden_size":64,"num_attention_heads":4,"max_position_embeddings":1024,"rope_theta":10000.0,)";
    auto longrope = [&](const QByteArray &longFactor, const QByteArray &shortFactor) {
        return okHead + R"("original_max_position_embeddings":128,"rope_scaling":{"rope_type":"longrope","long_factor":)" + longFactor
            + R"(,"short_factor":)" + shortFactor + "}}";
    };
    const QByteArray eight = "[1,1,1,1,1,1,1,1]";

    QTest::newRow("malformed JSON") << QByteArray(R"({"hidden_size":64,"num_attention_heads":4,)") << QString();
    QTest::newRow("empty file") << QByteArray() << QString();
    QTest::newRow("top level is an array") << QByteArray("[1, 2, 3]") << QStringLiteral("object");
    QTest::newRow("top level is a number") << QByteArray("42") << QString();
    QTest::newRow("no head_dim and no hidden_size")
        << QByteArray(R"({"num_attention_heads":32,"max_position_embeddings":4096,"rope_theta":10000.0})") << QStringLiteral("head_dim|hidden_size");
    QTest::newRow("no head_dim and no num_attention_heads")
        << QByteArray(R"({"hidden_size":4096,"max_position_embeddings":4096,"rope_theta":10000.0})") << QStringLiteral("head");
    QTest::newRow("missing max_position_embeddings")
        << QByteArray(R"({"hidden_size":4096,"num_attention_heads":32,"rope_theta":10000.0})") << QStringLiteral("max_position_embeddings");
    QTest::newRow("long_factor too short") << longrope("[1,1,1,1,1,1,1]", eight) << QStringLiteral("long_factor");
    QTest::newRow("long_factor too long") << longrope("[1,1,1,1,1,1,1,1,1]", eight) << QStringLiteral("long_factor");
    QTest::newRow("short_factor wrong length") << longrope(eight, "[1,1,1,1]") << QStringLiteral("short_factor");
    QTest::newRow("negative long factor") << longrope("[1,1,1,-2,1,1,1,1]", eight) << QStringLiteral("long_factor");
    QTest::newRow("zero long factor") << longrope("[1,1,1,0,1,1,1,1]", eight) << QStringLiteral("long_factor");
    QTest::newRow("negative short factor") << longrope(eight, "[1,1,1,1,1,1,1,-1]") << QStringLiteral("short_factor");
    // Python's json writes NaN as a bare literal; that is not JSON and must still be refused.
    QTest::newRow("NaN long factor") << longrope("[1,1,NaN,1,1,1,1,1]", eight) << QString();
    QTest::newRow("non-numeric long factor") << longrope(R"([1,1,"abc",1,1,1,1,1])", eight) << QStringLiteral("long_factor");
    QTest::newRow("null long factor") << longrope("[1,1,null,1,1,1,1,1]", eight) << QStringLiteral("long_factor");
    QTest::newRow("long_factor not a list") << longrope("2.0", eight) << QStringLiteral("long_factor");
    QTest::newRow("longrope without long_factor")
        << okHead + R"("original_max_position_embeddings":128,"rope_scaling":{"rope_type":"longrope","short_factor":[1,1,1,1,1,1,1,1]}})"
        << QStringLiteral("long_factor");
    // Issue 15: silent fallbacks, overflowing conversions and absurd values.
    const QByteArray base = R"("max_position_embeddings":1024,"rope_theta":10000.0)";
    QTest::newRow("head_dim -16") << "{\"hidden_size\":64,\"num_attention_heads\":4,\"head_dim\":-16," + base + "}"
                                  << QStringLiteral("head_dim");
    QTest::newRow("head_dim 2^31") << "{\"head_dim\":2147483648," + base + "}" << QStringLiteral("2147483648");
    QTest::newRow("head_dim 1e308") << "{\"head_dim\":1e308," + base + "}" << QStringLiteral("1e+308");
    QTest::newRow("hidden_size 2^31") << "{\"hidden_size\":2147483648,\"num_attention_heads\":4," + base + "}"
                                      << QStringLiteral("2147483648");
    QTest::newRow("hidden_size 1e308") << "{\"hidden_size\":1e308,\"num_attention_heads\":4," + base + "}"
                                       << QStringLiteral("1e+308");
    QTest::newRow("head_dim 1e9 (geometry of 5e8 pairs)") << "{\"head_dim\":1000000000," + base + "}"
                                                          << QStringLiteral("head_dim");
    QTest::newRow("max_position_embeddings 1e308")
        << QByteArray(R"({"head_dim":64,"max_position_embeddings":1e308})") << QStringLiteral("max_position_embeddings");
    QTest::newRow("max_position_embeddings 2^31")
        << QByteArray(R"({"head_dim":64,"max_position_embeddings":2147483648})") << QStringLiteral("2147483648");
    QTest::newRow("original_max_position_embeddings 1e308")
        << QByteArray(R"({"head_dim":64,"max_position_embeddings":4096,"original_max_position_embeddings":1e308})")
        << QStringLiteral("original_max_position_embeddings");
    QTest::newRow("original_max_position_embeddings 2^31")
        << QByteArray(R"({"head_dim":64,"max_position_embeddings":4096,"original_max_position_embeddings":2147483648})")
        << QStringLiteral("2147483648");
    QTest::newRow("longrope factor 0") << okHead + R"("original_max_position_embeddings":128,"rope_scaling":{"rope_type":"longrope","factor":0,"long_factor":)" + eight + R"(,"short_factor":)" + eight + "}}"
                                       << QStringLiteral("factor");
    QTest::newRow("longrope factor -2") << okHead + R"("original_max_position_embeddings":128,"rope_scaling":{"rope_type":"longrope","factor":-2,"long_factor":)" + eight + R"(,"short_factor":)" + eight + "}}"
                                        << QStringLiteral("factor");
    QTest::newRow("yarn factor 1e308")
        << okHead + R"("rope_scaling":{"rope_type":"yarn","factor":1e308,"original_max_position_embeddings":128}})" << QStringLiteral("factor");
    QTest::newRow("linear factor 1e10 (context beyond 2^30)")
        << okHead + R"("rope_scaling":{"rope_type":"linear","factor":1e10}})" << QStringLiteral("factor");
    QTest::newRow("long factor 1e-300") << longrope("[1,1,1,1e-300,1,1,1,1]", eight) << QStringLiteral("long_factor");
    QTest::newRow("short factor 1e300") << longrope(eight, "[1,1,1,1e300,1,1,1,1]") << QStringLiteral("short_factor");
    QTest::newRow("rope_theta 1e308") << QByteArray(R"({"head_dim":64,"max_position_embeddings":4096,"rope_theta":1e308})")
                                      << QStringLiteral("rope_theta");
    QTest::newRow("rope_type a number") << okHead + R"("rope_scaling":{"rope_type":3,"factor":2.0}})" << QStringLiteral("rope_type");
    QTest::newRow("legacy type a list") << okHead + R"("rope_scaling":{"type":["linear"],"factor":2.0}})" << QStringLiteral("type");
    QTest::newRow("5.x rope_type a boolean")
        << QByteArray(R"({"head_dim":64,"max_position_embeddings":4096,"rope_parameters":{"rope_type":true,"rope_theta":10000.0}})")
        << QStringLiteral("rope_type");
    QTest::newRow("5.x long_factor wrong length")
        << QByteArray(R"({"hidden_size":64,"num_attention_heads":4,"max_position_embeddings":1024,
            "rope_parameters":{"rope_type":"longrope","rope_theta":10000.0,"original_max_position_embeddings":128,
            "long_factor":[1,2,3],"short_factor":[1,1,1,1,1,1,1,1]}})")
        << QStringLiteral("long_factor");
}

void TestRopeConfig::badInput()
{
    QFETCH(QByteArray, json);
    QFETCH(QString, keyword);
    const QString source = QStringLiteral("/models/bad-config.json");
    try {
        const RopeConfig c = parseRopeConfig(json, source);
        QFAIL(qPrintable(QStringLiteral("no error; parsed rotaryDims=%1 type=%2").arg(c.rotaryDims).arg(c.scaling.type)));
    } catch (const Error &e) {
        QCOMPARE(e.source(), source);
        QVERIFY2(e.message().contains(source), qPrintable(e.message()));
        QVERIFY2(!e.problem().trimmed().isEmpty(), qPrintable(e.message()));
        if (!keyword.isEmpty()) {
            bool mentioned = false;
            for (const QString &k : keyword.split(QLatin1Char('|')))
                mentioned = mentioned || e.problem().contains(k, Qt::CaseInsensitive);
            QVERIFY2(mentioned, qPrintable(QStringLiteral("'%1' does not mention %2").arg(e.message(), keyword)));
        }
    }
}

void TestRopeConfig::badFiles()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    // Missing file.
    const QString missing = dir.filePath(QStringLiteral("does-not-exist/config.json"));
    try {
        loadRopeConfig(missing);
        QFAIL("no error for a missing file");
    } catch (const Error &e) {
        QVERIFY2(e.message().contains(missing), qPrintable(e.message()));
    }
    // Malformed file: the message names the path.
    const QString bad = dir.filePath(QStringLiteral("config.json"));
    {
        QFile f(bad);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("{\"hidden_size\": 64,\n  \"num_attention_heads\": }\n");
    }
    try {
        loadRopeConfig(bad);
        QFAIL("no error for malformed JSON");
    } catch (const Error &e) {
        QVERIFY2(e.message().contains(bad), qPrintable(e.message()));
    }
    // A directory is not a config file.
    try {
        loadRopeConfig(dir.path());
        QFAIL("no error for a directory");
    } catch (const Error &e) {
        QVERIFY2(e.message().contains(dir.path()), qPrintable(e.message()));
    }
}

void TestRopeConfig::ordinaryConfigsHaveNoWarnings()
{
    for (const char *file : {"llama3-8b.json", "llama3.1-8b.json", "mistral-7b-v0.1.json", "phi3-mini-4k-instruct.json",
                             "phi3-mini-128k-instruct-su.json", "hf5-phi3-longrope.json", "hf5-llama-longrope.json"}) {
        const RopeConfig c = loadRopeConfig(fixture(QString::fromLatin1(file)));
        QVERIFY2(c.warnings.isEmpty(), qPrintable(QStringLiteral("%1: %2").arg(QLatin1String(file), c.warnings.join(QLatin1Char('|')))));
    }
}

void TestRopeConfig::bothFormsRopeScalingWins()
{
    // transformers reads `rope_scaling or rope_parameters`: the linear factor 4 is what a model loaded
    // by transformers runs with, and base 10000 (the top level), not the dict's 5e5.
    const QByteArray json = R"({"hidden_size":4096,"num_attention_heads":32,"max_position_embeddings":4096,"rope_theta":10000.0,
        "rope_scaling":{"rope_type":"linear","factor":4.0},
        "rope_parameters":{"rope_type":"dynamic","factor":2.0,"rope_theta":500000.0}})";
    const RopeConfig c = parseRopeConfig(json, QStringLiteral("both.json"));
    QCOMPARE(c.scaling.type, QStringLiteral("linear"));
    QCOMPARE(c.scaling.factor, 4.0);
    QCOMPARE(c.base, 10000.0);
    QCOMPARE(c.form, ConfigForm::Hf4);
    QCOMPARE(c.warnings.size(), 1);
    QVERIFY2(c.warnings[0].contains(QLatin1String("rope_parameters")) && c.warnings[0].contains(QLatin1String("ignored")),
             qPrintable(c.warnings[0]));

    // An empty or null rope_scaling beside rope_parameters is no conflict.
    const RopeConfig d = parseRopeConfig(R"({"hidden_size":4096,"num_attention_heads":32,"max_position_embeddings":4096,
        "rope_scaling":null,"rope_parameters":{"rope_type":"linear","factor":2.0,"rope_theta":500000.0}})", QStringLiteral("null.json"));
    QCOMPARE(d.scaling.type, QStringLiteral("linear"));
    QCOMPARE(d.base, 500000.0);
    QCOMPARE(d.form, ConfigForm::Hf5);
    QVERIFY(d.warnings.isEmpty());
}

void TestRopeConfig::phi3OriginalOnlyInDictUsesPhi3Default()
{
    // The hf5 phi3 fixture without its top-level original_max_position_embeddings: transformers'
    // Phi3Config (4.x and 5.x) replaces the dict's 128 with its own default 4096.
    QJsonObject o = fixtureObject(QStringLiteral("hf5-phi3-longrope.json"));
    o.remove(QStringLiteral("original_max_position_embeddings"));
    RopeConfig c = parseRopeConfig(toBytes(o), QStringLiteral("phi3.json"));
    QCOMPARE(c.trainLength, 4096);
    QCOMPARE(c.warnings.size(), 1);
    for (const char *word : {"128", "4096", "Phi3Config", "top level"})
        QVERIFY2(c.warnings[0].contains(QLatin1String(word)), qPrintable(c.warnings[0]));
    // A llama config reads the dict's value (transformers 5.x standardization).
    o[QStringLiteral("model_type")] = QStringLiteral("llama");
    c = parseRopeConfig(toBytes(o), QStringLiteral("llama.json"));
    QCOMPARE(c.trainLength, 128);
    QVERIFY(c.warnings.isEmpty());
    // A phi3 longrope config with no original length anywhere: the default, with a warning.
    o[QStringLiteral("model_type")] = QStringLiteral("phi3");
    QJsonObject rp = o.value(QStringLiteral("rope_parameters")).toObject();
    rp.remove(QStringLiteral("original_max_position_embeddings"));
    o[QStringLiteral("rope_parameters")] = rp;
    c = parseRopeConfig(toBytes(o), QStringLiteral("phi3-none.json"));
    QCOMPARE(c.trainLength, 4096);
    QCOMPARE(c.warnings.size(), 1);
}

void TestRopeConfig::phi3YarnIsLongrope()
{
    QJsonObject o = fixtureObject(QStringLiteral("hf5-phi3-longrope.json"));
    QJsonObject rp = o.value(QStringLiteral("rope_parameters")).toObject();
    rp[QStringLiteral("rope_type")] = QStringLiteral("yarn");
    o[QStringLiteral("rope_parameters")] = rp;
    const RopeConfig c = parseRopeConfig(toBytes(o), QStringLiteral("phi3-yarn.json"));
    QCOMPARE(c.scaling.type, QStringLiteral("longrope"));
    QCOMPARE(c.scaling.longFactor, kFixtureLong);
    QCOMPARE(c.warnings.size(), 1);
    QVERIFY2(c.warnings[0].contains(QLatin1String("longrope")), qPrintable(c.warnings[0]));
    // Other families keep yarn.
    o[QStringLiteral("model_type")] = QStringLiteral("llama");
    rp[QStringLiteral("factor")] = 8.0;
    o[QStringLiteral("rope_parameters")] = rp;
    QCOMPARE(parseRopeConfig(toBytes(o), QStringLiteral("llama-yarn.json")).scaling.type, QStringLiteral("yarn"));
}

void TestRopeConfig::longropeAttentionScale_data()
{
    // The s of the default attention factor sqrt(1 + ln s / ln L_train): transformers 5.x takes a
    // written `factor`, else max_position_embeddings / original (1024 / 128 = 8); 4.x, with the
    // original length at the top level, always the ratio.
    QTest::addColumn<bool>("hf5");
    QTest::addColumn<bool>("originalAtTop");
    QTest::addColumn<double>("factor");  // 0: not written
    QTest::addColumn<double>("scale");
    QTest::addColumn<int>("warnings");
    QTest::newRow("5.x factor 3") << true << false << 3.0 << 3.0 << 0;
    QTest::newRow("5.x factor 3, original also at top") << true << true << 3.0 << 3.0 << 0;
    QTest::newRow("5.x no factor") << true << false << 0.0 << 8.0 << 0;
    QTest::newRow("4.x factor 3, original at top (Phi-3 layout)") << false << true << 3.0 << 8.0 << 1;
    QTest::newRow("4.x factor 3, original in the dict") << false << false << 3.0 << 3.0 << 0;
    QTest::newRow("4.x no factor") << false << true << 0.0 << 8.0 << 0;
}

void TestRopeConfig::longropeAttentionScale()
{
    QFETCH(bool, hf5);
    QFETCH(bool, originalAtTop);
    QFETCH(double, factor);
    QFETCH(double, scale);
    QFETCH(int, warnings);
    QJsonObject rope{{QStringLiteral("rope_type"), QStringLiteral("longrope")},
                     {QStringLiteral("long_factor"), QJsonArray{1.0, 1.6, 2.2, 2.8, 3.4, 4.0, 4.6, 5.2}},
                     {QStringLiteral("short_factor"), QJsonArray{1, 1, 1, 1, 1, 1, 1, 1}},
                     {QStringLiteral("original_max_position_embeddings"), 128}};
    if (factor > 0)
        rope[QStringLiteral("factor")] = factor;
    QJsonObject o{{QStringLiteral("model_type"), QStringLiteral("llama")}, {QStringLiteral("head_dim"), 16},
                  {QStringLiteral("max_position_embeddings"), 1024}};
    if (originalAtTop)
        o[QStringLiteral("original_max_position_embeddings")] = 128;
    if (hf5) {
        rope[QStringLiteral("rope_theta")] = 10000.0;
        o[QStringLiteral("rope_parameters")] = rope;
    } else {
        o[QStringLiteral("rope_theta")] = 10000.0;
        o[QStringLiteral("rope_scaling")] = rope;
    }
    const RopeConfig c = parseRopeConfig(toBytes(o), QStringLiteral("longrope.json"));
    QCOMPARE(c.trainLength, 128);
    QCOMPARE(c.scaling.attentionScale, scale);
    QCOMPARE(c.scaling.factor, factor > 0 ? factor : 8.0);  // as written, else derived
    QCOMPARE(int(c.warnings.size()), warnings);
}

void TestRopeConfig::yarnFactorAgainstRatioWarns()
{
    // Qwen2.5's recipe: max_position_embeddings equals the original 32768, factor 4. transformers 5.x
    // scales by 4; 4.x releases that derive the factor from the ratio would scale by 1.
    const RopeConfig c = loadRopeConfig(fixture(QStringLiteral("qwen2.5-7b-instruct-yarn.json")));
    QCOMPARE(c.scaling.factor, 4.0);
    QCOMPARE(c.warnings.size(), 1);
    QVERIFY2(c.warnings[0].contains(QLatin1String("5.x")), qPrintable(c.warnings[0]));
    // Factor and ratio agreeing (DeepSeek-V3: 163840 / 4096 = 40) is no ambiguity.
    QVERIFY(loadPreset(QStringLiteral("deepseek-v3")).warnings.isEmpty());
}

void TestRopeConfig::headDimZeroFallsBackWithWarning()
{
    // transformers: `head_dim or hidden_size // num_attention_heads`.
    const RopeConfig c = parseRopeConfig(R"({"hidden_size":4096,"num_attention_heads":32,"head_dim":0,"max_position_embeddings":4096})",
                                         QStringLiteral("zero.json"));
    QCOMPARE(c.headDim, 128);
    QCOMPARE(c.warnings.size(), 1);
}

void TestRopeConfig::familyRotaryKeys_data()
{
    // Expected d and b straight from the config values: d = head × the rotated share, b = its base key.
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<int>("headDim");
    QTest::addColumn<int>("d");
    QTest::addColumn<double>("base");
    QTest::addColumn<int>("trainLength");
    QTest::newRow("GPT-NeoX rotary_pct 0.25, rotary_emb_base 50000 (head 4096/32 = 128 → d = 32)")
        << QByteArray(R"({"model_type":"gpt_neox","hidden_size":4096,"num_attention_heads":32,"max_position_embeddings":2048,
                         "rotary_pct":0.25,"rotary_emb_base":50000})") << 128 << 32 << 50000.0 << 2048;
    QTest::newRow("Pythia-160m rotary_pct 0.25 (768/12 = 64 → 16)")
        << QByteArray(R"({"model_type":"gpt_neox","hidden_size":768,"num_attention_heads":12,"max_position_embeddings":2048,
                         "rotary_pct":0.25,"rotary_emb_base":10000})") << 64 << 16 << 10000.0 << 2048;
    QTest::newRow("GPT-J rotary_dim 64 of n_embd 4096 / n_head 16 = 256")
        << QByteArray(R"({"model_type":"gptj","n_embd":4096,"n_head":16,"n_positions":2048,"rotary_dim":64})")
        << 256 << 64 << 10000.0 << 2048;
    QTest::newRow("Gemma-7B head_dim 256 ≠ 3072/16")
        << QByteArray(R"({"model_type":"gemma","hidden_size":3072,"num_attention_heads":16,"head_dim":256,
                         "max_position_embeddings":8192,"rope_theta":10000.0})") << 256 << 256 << 10000.0 << 8192;
    QTest::newRow("Gemma-2-9B head_dim 256 ≠ 3584/16")
        << QByteArray(R"({"model_type":"gemma2","hidden_size":3584,"num_attention_heads":16,"head_dim":256,
                         "max_position_embeddings":8192,"rope_theta":10000.0,"sliding_window":4096})") << 256 << 256 << 10000.0 << 8192;
    QTest::newRow("Qwen3-0.6B head_dim 128 ≠ 1024/16")
        << QByteArray(R"({"model_type":"qwen3","hidden_size":1024,"num_attention_heads":16,"head_dim":128,
                         "max_position_embeddings":40960,"rope_theta":1000000})") << 128 << 128 << 1e6 << 40960;
    QTest::newRow("Mixtral-8x7B 4096/32")
        << QByteArray(R"({"model_type":"mixtral","hidden_size":4096,"num_attention_heads":32,"num_key_value_heads":8,
                         "max_position_embeddings":32768,"rope_theta":1000000.0})") << 128 << 128 << 1e6 << 32768;
    QTest::newRow("DeepSeek-V3 qk_rope_head_dim 64, yarn over 4096")
        << QByteArray(R"({"model_type":"deepseek_v3","hidden_size":7168,"num_attention_heads":128,"qk_nope_head_dim":128,
                         "qk_rope_head_dim":64,"v_head_dim":128,"max_position_embeddings":163840,"rope_theta":10000,
                         "rope_scaling":{"type":"yarn","factor":40,"original_max_position_embeddings":4096,"beta_fast":32,
                         "beta_slow":1,"mscale":1.0,"mscale_all_dim":1.0}})") << 64 << 64 << 10000.0 << 4096;
    QTest::newRow("DeepSeek-V2-Lite qk_rope_head_dim 64")
        << QByteArray(R"({"model_type":"deepseek_v2","hidden_size":2048,"num_attention_heads":16,"qk_nope_head_dim":128,
                         "qk_rope_head_dim":64,"max_position_embeddings":163840,"rope_theta":10000})") << 64 << 64 << 10000.0 << 163840;
    QTest::newRow("Phi-4-mini partial_rotary_factor 0.75 (3072/24 = 128 → 96)")
        << QByteArray(R"({"model_type":"phi3","hidden_size":3072,"num_attention_heads":24,"partial_rotary_factor":0.75,
                         "max_position_embeddings":4096,"rope_theta":10000.0})") << 128 << 96 << 10000.0 << 4096;
    QTest::newRow("Falcon-7B rotary (alibi false), 4544/71 = 64")
        << QByteArray(R"({"model_type":"falcon","hidden_size":4544,"num_attention_heads":71,"alibi":false,
                         "max_position_embeddings":2048,"rope_theta":10000.0})") << 64 << 64 << 10000.0 << 2048;
    QTest::newRow("Cohere Command-R 8192/64, base 8e6")
        << QByteArray(R"({"model_type":"cohere","hidden_size":8192,"num_attention_heads":64,"max_position_embeddings":131072,
                         "rope_theta":8000000.0})") << 128 << 128 << 8e6 << 131072;
    QTest::newRow("StableLM-2 partial_rotary_factor 0.25 (2048/32 = 64 → 16)")
        << QByteArray(R"({"model_type":"stablelm","hidden_size":2048,"num_attention_heads":32,"partial_rotary_factor":0.25,
                         "max_position_embeddings":4096,"rope_theta":10000})") << 64 << 16 << 10000.0 << 4096;
    QTest::newRow("StableLM-3B-4E1T rope_pct 0.25 (2560/32 = 80 → 20)")
        << QByteArray(R"({"model_type":"stablelm_epoch","hidden_size":2560,"num_attention_heads":32,"rope_pct":0.25,
                         "max_position_embeddings":4096,"rope_theta":10000})") << 80 << 20 << 10000.0 << 4096;
}

void TestRopeConfig::familyRotaryKeys()
{
    QFETCH(QByteArray, json);
    QFETCH(int, headDim);
    QFETCH(int, d);
    QFETCH(double, base);
    QFETCH(int, trainLength);
    const RopeConfig c = parseRopeConfig(json, QStringLiteral("family.json"));
    QCOMPARE(c.headDim, headDim);
    QCOMPARE(c.rotaryDims, d);
    QCOMPARE(c.base, base);
    QCOMPARE(c.trainLength, trainLength);
    QVERIFY2(c.warnings.isEmpty(), qPrintable(c.warnings.join(QLatin1Char('|'))));
}

void TestRopeConfig::gemma3GlobalLayers()
{
    // Gemma 3 (multimodal: the language model in text_config): the geometry is the full-attention
    // layers' (rope_theta 1e6, linear 8), said in a warning naming the sliding layers' base 10000.
    const QByteArray json = R"({"model_type":"gemma3","vision_config":{"hidden_size":1152},
        "text_config":{"model_type":"gemma3_text","hidden_size":2560,"num_attention_heads":8,"head_dim":256,
          "max_position_embeddings":131072,"rope_theta":1000000.0,"rope_local_base_freq":10000.0,"sliding_window":1024,
          "rope_scaling":{"rope_type":"linear","factor":8.0}}})";
    const RopeConfig c = parseRopeConfig(json, QStringLiteral("gemma3.json"));
    QCOMPARE(c.section, QStringLiteral("text_config"));
    QCOMPARE(c.modelType, QStringLiteral("gemma3_text"));
    QCOMPARE(c.headDim, 256);
    QCOMPARE(c.rotaryDims, 256);
    QCOMPARE(c.base, 1e6);
    QCOMPARE(c.scaling.type, QStringLiteral("linear"));
    QCOMPARE(c.scaling.factor, 8.0);
    QCOMPARE(c.warnings.size(), 1);
    QVERIFY2(c.warnings[0].contains(QLatin1String("10000")) && c.warnings[0].contains(QLatin1String("full-attention")),
             qPrintable(c.warnings[0]));
    // transformers 5.x: rope_parameters per layer type.
    const RopeConfig d = parseRopeConfig(R"({"model_type":"gemma3_text","hidden_size":1152,"num_attention_heads":4,"head_dim":256,
        "max_position_embeddings":32768,"rope_parameters":{"full_attention":{"rope_type":"default","rope_theta":1000000.0},
        "sliding_attention":{"rope_type":"default","rope_theta":10000.0}}})", QStringLiteral("gemma3-5x.json"));
    QCOMPARE(d.base, 1e6);
    QCOMPARE(d.warnings.size(), 1);
}

void TestRopeConfig::notRopeRefused_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("keyword");
    QTest::newRow("gpt2") << QByteArray(R"({"model_type":"gpt2","n_embd":768,"n_head":12,"n_positions":1024})") << QStringLiteral("gpt2");
    QTest::newRow("bloom") << QByteArray(R"({"model_type":"bloom","hidden_size":1024,"n_head":16})") << QStringLiteral("bloom");
    QTest::newRow("falcon with alibi") << QByteArray(R"({"model_type":"falcon","hidden_size":4544,"num_attention_heads":71,"alibi":true,
        "max_position_embeddings":2048})") << QStringLiteral("alibi");
    QTest::newRow("GPT-NeoX rotary_pct 0") << QByteArray(R"({"model_type":"gpt_neox","hidden_size":4096,"num_attention_heads":32,
        "max_position_embeddings":2048,"rotary_pct":0})") << QStringLiteral("rotary_pct");
    QTest::newRow("GPT-J rotary_dim beyond the head") << QByteArray(R"({"model_type":"gptj","n_embd":4096,"n_head":16,
        "n_positions":2048,"rotary_dim":512})") << QStringLiteral("rotary_dim");
    QTest::newRow("no head keys at all") << QByteArray(R"({"model_type":"mamba","max_position_embeddings":2048})") << QStringLiteral("head");
}

void TestRopeConfig::notRopeRefused()
{
    QFETCH(QByteArray, json);
    QFETCH(QString, keyword);
    try {
        parseRopeConfig(json, QStringLiteral("not-rope.json"));
        QFAIL("no error");
    } catch (const Error &e) {
        QVERIFY2(e.problem().contains(keyword, Qt::CaseInsensitive), qPrintable(e.message()));
        QCOMPARE(e.source(), QStringLiteral("not-rope.json"));
    }
}

void TestRopeConfig::limitsShowValuesAsWritten_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("shown");
    QTest::newRow("head_dim 2^31") << QByteArray(R"({"head_dim":2147483648,"max_position_embeddings":4096})") << QStringLiteral("2147483648");
    QTest::newRow("hidden_size 1e308") << QByteArray(R"({"hidden_size":1e308,"num_attention_heads":4,"max_position_embeddings":4096})")
                                       << QStringLiteral("1e+308");
    QTest::newRow("num_attention_heads 2^32") << QByteArray(R"({"hidden_size":4096,"num_attention_heads":4294967296,"max_position_embeddings":4096})")
                                              << QStringLiteral("4294967296");
}

void TestRopeConfig::limitsShowValuesAsWritten()
{
    // The issue: 2^31 was reported as "-2.14748e+09". The value as written, and no wrapped one.
    QFETCH(QByteArray, json);
    QFETCH(QString, shown);
    try {
        parseRopeConfig(json, QStringLiteral("big.json"));
        QFAIL("no error");
    } catch (const Error &e) {
        QVERIFY2(e.problem().contains(shown), qPrintable(e.message()));
        QVERIFY2(!e.problem().contains(QLatin1String("-2")), qPrintable(e.message()));
    }
}

QTEST_GUILESS_MAIN(TestRopeConfig)
#include "test_ropeconfig.moc"
