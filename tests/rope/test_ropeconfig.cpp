// Reading a model's RoPE description from Hugging Face config.json in the transformers 4.x form
// (rope_theta + rope_scaling, legacy `type`, "su") and the 5.x form (rope_parameters), and the
// errors bad input gets. Real configs live in tests/fixtures/configs (see its README.md).
#include "common/error.h"
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

QTEST_GUILESS_MAIN(TestRopeConfig)
#include "test_ropeconfig.moc"
