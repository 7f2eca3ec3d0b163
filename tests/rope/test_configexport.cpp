// Export of edited factors as a Hugging Face config.json (rope type "longrope", transformers 4.x
// `rope_scaling` or 5.x `rope_parameters`) that keeps every other key untouched, and as CSV.
// The exported config is read back with parseRopeConfig and compared field by field; the CSV is
// compared with the formulas of DESIGN.md §1.
#include "rope/configexport.h"
#include "common/error.h"
#include "rope/factorfile.h"
#include "rope/ropeconfig.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

using namespace rs;

namespace {

QString fixture(const QString &relative)
{
    return QStringLiteral(ROPESCOPE_FIXTURES "/") + relative;
}

QJsonObject readObject(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        qFatal("cannot open %s", qPrintable(path));
    return QJsonDocument::fromJson(f.readAll()).object();
}

QByteArray toBytes(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Indented);
}

// The source config with keys no RoPE code knows about; they must come through untouched.
RopeConfig sourceWithCustomKeys(const QString &file)
{
    QJsonObject o = readObject(fixture(QStringLiteral("configs/") + file));
    o[QStringLiteral("my_custom_key")] = QJsonObject{{QStringLiteral("nested"), QJsonArray{1, 2.5, QJsonObject{{QStringLiteral("x"), QStringLiteral("y")}}}},
                                                     {QStringLiteral("flag"), true}};
    o[QStringLiteral("zzz_note")] = QStringLiteral("keep me");
    o[QStringLiteral("auto_map")] = QJsonObject{{QStringLiteral("AutoConfig"), QStringLiteral("configuration_custom.CustomConfig")}};
    o[QStringLiteral("quantization_config")] = QJsonValue::Null;
    o[QStringLiteral("precise_number")] = 0.1 + 0.2;
    return parseRopeConfig(toBytes(o), QStringLiteral("source-") + file);
}

// Keys the export may legitimately write, move or rewrite (transformers_version to match the form,
// _name_or_path dropped: see versionAndNameMatchTheExport).
const QSet<QString> kRopeKeys = {QStringLiteral("rope_scaling"), QStringLiteral("rope_parameters"), QStringLiteral("rope_theta"),
                                 QStringLiteral("partial_rotary_factor"), QStringLiteral("max_position_embeddings"),
                                 QStringLiteral("original_max_position_embeddings"), QStringLiteral("transformers_version"),
                                 QStringLiteral("_name_or_path")};

std::vector<double> awkwardFactors(int n, double scale)
{
    // Monotone, ≥ 1, with values that need all 17 digits.
    std::vector<double> v(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i)
        v[size_t(i)] = std::pow(scale * 1.3, double(i) / (n - 1)) * (1.0 + 1.0 / 3.0 * 1e-3) + i * 1e-13;
    return v;
}

} // namespace

class TestConfigExport : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void roundTrip_data();
    void roundTrip();
    void writeAndLoad();
    void invalidFactors_data();
    void invalidFactors();
    void csv_data();
    void csv();
    void writeErrorsNamePath();
    void versionAndNameMatchTheExport_data();
    void versionAndNameMatchTheExport();
    void phi3Hf5KeepsItsTrainLength();
    void phi3ExportsPassPhi3ConfigValidation();
    void multimodalTextConfigRefused();
};

void TestConfigExport::roundTrip_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<bool>("hf5");
    QTest::addColumn<bool>("withAttention");
    QTest::addColumn<bool>("withShort");
    QTest::addColumn<double>("target");
    const char *files[] = {"llama3-8b.json", "llama3.1-8b.json", "phi3-mini-128k-instruct-su.json", "llama3-8b-longrope2-128k.json",
                           "qwen2.5-7b-instruct-yarn.json", "hf5-phi3-longrope.json", "hf5-llama-plain.json", "hf5-qwen2-longrope.json"};
    for (const char *file : files) {
        for (bool hf5 : {false, true}) {
            const QByteArray base = QByteArray(file) + (hf5 ? " -> HF5" : " -> HF4");
            QTest::newRow((base + ", defaults").constData()) << QString::fromLatin1(file) << hf5 << false << false << 0.0;
            QTest::newRow((base + ", attention + short").constData()) << QString::fromLatin1(file) << hf5 << true << true << 0.0;
        }
    }
    // Partial rotary factor at top level (4.x) must survive a move to 5.x.
    QTest::newRow("partial rotary -> HF5") << QStringLiteral("@partial") << true << false << false << 8192.0;
    QTest::newRow("partial rotary -> HF4") << QStringLiteral("@partial") << false << true << false << 8192.0;
}

void TestConfigExport::roundTrip()
{
    QFETCH(QString, file);
    QFETCH(bool, hf5);
    QFETCH(bool, withAttention);
    QFETCH(bool, withShort);
    QFETCH(double, target);

    RopeConfig source;
    if (file == QStringLiteral("@partial")) {
        source = parseRopeConfig(R"({"model_type":"phi","hidden_size":2560,"num_attention_heads":32,"max_position_embeddings":2048,
            "rope_theta":10000.0,"partial_rotary_factor":0.4,"custom":"x"})", QStringLiteral("phi-2.json"));
        QCOMPARE(source.rotaryDims, 32);
    } else {
        source = sourceWithCustomKeys(file);
    }
    const int n = source.pairs();
    if (target == 0)
        target = 16.0 * source.trainLength;

    LongropeExport what;
    what.longFactor = awkwardFactors(n, target / source.trainLength);
    what.targetLength = target;
    what.form = hf5 ? ConfigForm::Hf5 : ConfigForm::Hf4;
    std::vector<double> expectedShort;
    if (withShort) {
        expectedShort = awkwardFactors(n, 1.5);
        what.shortFactor = expectedShort;
    } else if (source.scaling.type == QStringLiteral("longrope")) {
        expectedShort = source.scaling.shortFactor; // the config's own
    } else {
        expectedShort = std::vector<double>(size_t(n), 1.0);
    }
    if (withAttention)
        what.attentionFactor = 1.0 + 1.0 / 7.0;
    // transformers 4.x's Phi3Config accepts exactly type, short_factor and long_factor: an
    // attention factor cannot be written in that form, and the export says so.
    const bool phi3Hf4 = !hf5 && source.modelType == QLatin1String("phi3");
    if (phi3Hf4 && withAttention) {
        QVERIFY_THROWS_EXCEPTION(Error, exportLongropeConfig(source, what));
        return;
    }

    const QJsonObject out = exportLongropeConfig(source, what);

    // Read back through text, as transformers would.
    const RopeConfig back = parseRopeConfig(toBytes(out), QStringLiteral("exported.json"));
    QCOMPARE(back.scaling.type, QStringLiteral("longrope"));
    QCOMPARE(back.scaling.longFactor, what.longFactor); // exact
    QCOMPARE(back.scaling.shortFactor, expectedShort);
    QCOMPARE(back.maxPositionEmbeddings, int(target));
    QCOMPARE(back.trainLength, source.trainLength);
    QCOMPARE(back.base, source.base);
    QCOMPARE(back.headDim, source.headDim);
    QCOMPARE(back.rotaryDims, source.rotaryDims);
    QCOMPARE(back.partialRotaryFactor, source.partialRotaryFactor);
    QCOMPARE(back.form, what.form);
    QCOMPARE(back.scaling.attentionFactor, what.attentionFactor);
    QCOMPARE(back.scaling.factor, target / source.trainLength);
    QCOMPARE(back.defaultTargetLength(), target);

    // The rope dict itself.
    const QString ropeKey = hf5 ? QStringLiteral("rope_parameters") : QStringLiteral("rope_scaling");
    const QString otherKey = hf5 ? QStringLiteral("rope_scaling") : QStringLiteral("rope_parameters");
    QVERIFY2(out.value(ropeKey).isObject(), qPrintable(ropeKey));
    QVERIFY2(!out.contains(otherKey), qPrintable(QStringLiteral("export still has ") + otherKey));
    const QJsonObject rope = out.value(ropeKey).toObject();
    QCOMPARE(rope.value(phi3Hf4 ? QStringLiteral("type") : QStringLiteral("rope_type")).toString(), QStringLiteral("longrope"));
    if (hf5) {
        QCOMPARE(rope.value(QStringLiteral("rope_theta")).toDouble(), source.base);
    } else {
        QCOMPARE(out.value(QStringLiteral("rope_theta")).toDouble(), source.base);
    }
    QCOMPARE(rope.contains(QStringLiteral("attention_factor")), withAttention);
    if (withAttention)
        QCOMPARE(rope.value(QStringLiteral("attention_factor")).toDouble(), 1.0 + 1.0 / 7.0);
    // Nothing of a previous llama3 / yarn scaling may be left behind in a longrope dict.
    for (const char *stale : {"low_freq_factor", "high_freq_factor", "beta_fast", "beta_slow", "mscale", "mscale_all_dim", "truncate"})
        QVERIFY2(!rope.contains(QString::fromLatin1(stale)), stale);
    // transformers prefers `factor` over max/original for the attention factor: if written it must agree.
    if (rope.contains(QStringLiteral("factor")))
        QCOMPARE(rope.value(QStringLiteral("factor")).toDouble(), target / source.trainLength);
    // Phi-3 style top-level original_max_position_embeddings wins in transformers: it must be L_train.
    if (out.contains(QStringLiteral("original_max_position_embeddings")))
        QCOMPARE(out.value(QStringLiteral("original_max_position_embeddings")).toInt(), source.trainLength);
    if (rope.contains(QStringLiteral("original_max_position_embeddings")))
        QCOMPARE(rope.value(QStringLiteral("original_max_position_embeddings")).toInt(), source.trainLength);
    QVERIFY(out.contains(QStringLiteral("original_max_position_embeddings")) || rope.contains(QStringLiteral("original_max_position_embeddings")));
    QCOMPARE(out.value(QStringLiteral("max_position_embeddings")).toDouble(), target);

    // Every other key of the source is preserved untouched, and nothing unrelated is added.
    for (auto it = source.json.constBegin(); it != source.json.constEnd(); ++it) {
        if (kRopeKeys.contains(it.key()))
            continue;
        QVERIFY2(out.contains(it.key()), qPrintable(QStringLiteral("key dropped: ") + it.key()));
        QVERIFY2(out.value(it.key()) == it.value(), qPrintable(QStringLiteral("key changed: ") + it.key()));
    }
    for (auto it = out.constBegin(); it != out.constEnd(); ++it)
        QVERIFY2(source.json.contains(it.key()) || kRopeKeys.contains(it.key()), qPrintable(QStringLiteral("key added: ") + it.key()));
    // The source config object itself is not modified.
    if (file != QStringLiteral("@partial"))
        QCOMPARE(source.json.value(QStringLiteral("zzz_note")).toString(), QStringLiteral("keep me"));
}

void TestConfigExport::writeAndLoad()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const RopeConfig source = loadRopeConfig(fixture(QStringLiteral("configs/llama3-8b.json")));
    LongropeExport what;
    what.longFactor = readFactorFile(fixture(QStringLiteral("factors/llama3_8b_longrope2_128k_long_factor.txt")), 64);
    what.targetLength = 131072;
    for (ConfigForm form : {ConfigForm::Hf4, ConfigForm::Hf5}) {
        what.form = form;
        const QString path = dir.filePath(form == ConfigForm::Hf4 ? QStringLiteral("hf4/config.json") : QStringLiteral("config5.json"));
        if (form == ConfigForm::Hf4)
            QVERIFY(QDir().mkpath(dir.filePath(QStringLiteral("hf4"))));
        writeJsonFile(path, exportLongropeConfig(source, what));
        const RopeConfig back = loadRopeConfig(path);
        QCOMPARE(back.source, path);
        QCOMPARE(back.scaling.type, QStringLiteral("longrope"));
        QCOMPARE(back.scaling.longFactor, what.longFactor);
        QCOMPARE(back.scaling.shortFactor, std::vector<double>(64, 1.0));
        QCOMPARE(back.trainLength, 8192);
        QCOMPARE(back.maxPositionEmbeddings, 131072);
        QCOMPARE(back.form, form);
    }
    // writeBytesFile writes exactly the bytes.
    const QString csvPath = dir.filePath(QStringLiteral("f.csv"));
    const QByteArray bytes("a,b\n1,2\n");
    writeBytesFile(csvPath, bytes);
    QFile f(csvPath);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QCOMPARE(f.readAll(), bytes);
}

void TestConfigExport::invalidFactors_data()
{
    QTest::addColumn<int>("length");
    QTest::addColumn<int>("index");
    QTest::addColumn<double>("value");
    QTest::addColumn<bool>("inShort");
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    QTest::newRow("long too short") << 63 << -1 << 0.0 << false;
    QTest::newRow("long too long") << 65 << -1 << 0.0 << false;
    QTest::newRow("long empty") << 0 << -1 << 0.0 << false;
    QTest::newRow("long NaN") << 64 << 10 << nan << false;
    QTest::newRow("long inf") << 64 << 63 << inf << false;
    QTest::newRow("long zero") << 64 << 0 << 0.0 << false;
    QTest::newRow("long negative") << 64 << 40 << -20.0 << false;
    QTest::newRow("short too short") << 32 << -1 << 0.0 << true;
    QTest::newRow("short NaN") << 64 << 3 << nan << true;
    QTest::newRow("short negative") << 64 << 3 << -1.0 << true;
    QTest::newRow("long 1e-300") << 64 << 5 << 1e-300 << false;
    QTest::newRow("short 1e300") << 64 << 5 << 1e300 << true;
}

void TestConfigExport::invalidFactors()
{
    QFETCH(int, length);
    QFETCH(int, index);
    QFETCH(double, value);
    QFETCH(bool, inShort);
    const RopeConfig source = loadRopeConfig(fixture(QStringLiteral("configs/llama3-8b.json")));
    LongropeExport what;
    what.targetLength = 131072;
    what.longFactor = std::vector<double>(64, 16.0);
    std::vector<double> bad(size_t(length), 16.0);
    if (index >= 0)
        bad[size_t(index)] = value;
    if (inShort)
        what.shortFactor = bad;
    else
        what.longFactor = bad;
    QVERIFY_THROWS_EXCEPTION(Error, exportLongropeConfig(source, what));
}

void TestConfigExport::csv_data()
{
    QTest::addColumn<QString>("lambdaKind");
    QTest::addColumn<double>("target");
    QTest::newRow("published LongRoPE2 factors at 128k") << QStringLiteral("published") << 131072.0;
    QTest::newRow("identity at 128k") << QStringLiteral("identity") << 131072.0;
    QTest::newRow("identity at 8k") << QStringLiteral("identity") << 8192.0;
}

void TestConfigExport::csv()
{
    QFETCH(QString, lambdaKind);
    QFETCH(double, target);
    const RopeConfig config = loadRopeConfig(fixture(QStringLiteral("configs/llama3-8b.json")));
    const std::vector<double> lambda = lambdaKind == QStringLiteral("published")
        ? readFactorFile(fixture(QStringLiteral("factors/llama3_8b_longrope2_128k_long_factor.txt")), 64)
        : std::vector<double>(64, 1.0);
    const QByteArray csv = exportFactorsCsv(config, lambda, target);
    QList<QByteArray> lines = csv.split('\n');
    while (!lines.isEmpty() && lines.last().trimmed().isEmpty())
        lines.removeLast();
    QCOMPARE(lines.size(), 65);
    QCOMPARE(lines[0].trimmed(), QByteArray("dim,theta,period,lambda,rescaled_period,rotations_train,rotations_target,rescaled_rotations_target,ood"));
    const double b = 5e5, lTrain = 8192, d = 128;
    int oodCount = 0;
    for (int i = 0; i < 64; ++i) {
        const QList<QByteArray> f = lines[i + 1].trimmed().split(',');
        QCOMPARE(f.size(), 9);
        bool ok = false;
        QCOMPARE(f[0].toInt(&ok), i);
        QVERIFY(ok);
        const double T = 2 * std::numbers::pi * std::pow(b, 2.0 * i / d);
        // Columns as RopeGeometry names them: rotations_train = L_train / T_i and rotations_target = L / T_i
        // (RopeGeometry::rotationsTarget, "original RoPE"; the CLI's `rope` JSON uses the same name for it).
        // rescaled_rotations_target = L / (λ_i · T_i): rotations of the rescaled dimension within L.
        const double expected[] = {std::pow(b, -2.0 * i / d), T, lambda[size_t(i)], lambda[size_t(i)] * T, lTrain / T, target / T,
                                   target / (lambda[size_t(i)] * T)};
        const char *names[] = {"theta", "period", "lambda", "rescaled_period", "rotations_train", "rotations_target",
                               "rescaled_rotations_target"};
        for (int k = 0; k < 7; ++k) {
            const double v = f[k + 1].toDouble(&ok);
            QVERIFY2(ok, f[k + 1].constData());
            QVERIFY2(std::abs(v - expected[k]) <= 1e-9 * std::abs(expected[k]),
                     qPrintable(QStringLiteral("row %1 %2: %3 vs %4").arg(i).arg(QLatin1String(names[k])).arg(v, 0, 'g', 17).arg(expected[k], 0, 'g', 17)));
        }
        const QByteArray oodText = f[8].trimmed().toLower();
        QVERIFY2(oodText == "1" || oodText == "0" || oodText == "true" || oodText == "false", oodText.constData());
        const bool ood = oodText == "1" || oodText == "true";
        const bool expectedOod = T > lTrain && target / lambda[size_t(i)] > lTrain;
        QVERIFY2(ood == expectedOod, qPrintable(QStringLiteral("row %1: ood %2").arg(i).arg(QString::fromLatin1(oodText))));
        oodCount += ood;
    }
    if (lambdaKind == QStringLiteral("identity") && target > lTrain)
        QCOMPARE(oodCount, 64 - 35); // i ≥ d_tcd = 35
    else
        QCOMPARE(oodCount, 0);
}

void TestConfigExport::writeErrorsNamePath()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(QStringLiteral("missing/dir/config.json"));
    try {
        writeJsonFile(path, QJsonObject{{QStringLiteral("a"), 1}});
        QFAIL("no error");
    } catch (const Error &e) {
        QVERIFY2(e.message().contains(path), qPrintable(e.message()));
    }
    try {
        writeBytesFile(path, "x");
        QFAIL("no error");
    } catch (const Error &e) {
        QVERIFY2(e.message().contains(path), qPrintable(e.message()));
    }
}

void TestConfigExport::versionAndNameMatchTheExport_data()
{
    QTest::addColumn<QString>("sourceVersion");  // empty: no key
    QTest::addColumn<bool>("hf5");
    QTest::addColumn<QString>("expected");       // empty: no key
    // Issue 14: a 5.x-form export kept "4.43.0.dev0", which names a release that ignores rope_parameters.
    QTest::newRow("4.x source, 5.x export") << QStringLiteral("4.43.0.dev0") << true << QStringLiteral("5.0.0");
    QTest::newRow("4.x source, 4.x export") << QStringLiteral("4.43.0.dev0") << false << QStringLiteral("4.43.0.dev0");
    QTest::newRow("5.x source, 5.x export") << QStringLiteral("5.17.0") << true << QStringLiteral("5.17.0");
    QTest::newRow("5.x source, 4.x export") << QStringLiteral("5.17.0") << false << QString();
    QTest::newRow("no version, 5.x export") << QString() << true << QStringLiteral("5.0.0");
    QTest::newRow("no version, 4.x export") << QString() << false << QString();
}

void TestConfigExport::versionAndNameMatchTheExport()
{
    QFETCH(QString, sourceVersion);
    QFETCH(bool, hf5);
    QFETCH(QString, expected);
    QJsonObject o = readObject(fixture(QStringLiteral("configs/llama3-8b.json")));
    o.remove(QStringLiteral("transformers_version"));
    if (!sourceVersion.isEmpty())
        o[QStringLiteral("transformers_version")] = sourceVersion;
    o[QStringLiteral("_name_or_path")] = QStringLiteral("Phi-3-mini (LongRoPE2 paper setting, L_train 2048)");
    const RopeConfig source = parseRopeConfig(toBytes(o), QStringLiteral("versioned.json"));
    LongropeExport what;
    what.longFactor = std::vector<double>(64, 16.0);
    what.targetLength = 131072;
    what.form = hf5 ? ConfigForm::Hf5 : ConfigForm::Hf4;
    const QJsonObject out = exportLongropeConfig(source, what);
    QCOMPARE(out.value(QStringLiteral("transformers_version")).toString(), expected);
    QCOMPARE(out.contains(QStringLiteral("transformers_version")), !expected.isEmpty());
    QVERIFY(!out.contains(QStringLiteral("_name_or_path")));
    QCOMPARE(source.json.value(QStringLiteral("_name_or_path")).toString(), o.value(QStringLiteral("_name_or_path")).toString());
}

void TestConfigExport::phi3Hf5KeepsItsTrainLength()
{
    // A Phi-3 source without a top-level original length: a 5.x export must still write L_train at
    // the top level, or transformers' Phi3Config would run it with its default 4096.
    const QByteArray json = R"({"model_type":"phi3","hidden_size":3072,"num_attention_heads":32,"max_position_embeddings":2048,
        "rope_theta":10000.0})";
    const RopeConfig source = parseRopeConfig(json, QStringLiteral("phi3-2k.json"));
    QCOMPARE(source.trainLength, 2048);
    LongropeExport what;
    what.longFactor = std::vector<double>(48, 32.0);
    what.targetLength = 65536;
    what.form = ConfigForm::Hf5;
    const QJsonObject out = exportLongropeConfig(source, what);
    QCOMPARE(out.value(QStringLiteral("original_max_position_embeddings")).toInt(), 2048);
    const RopeConfig back = parseRopeConfig(toBytes(out), QStringLiteral("phi3-2k-export.json"));
    QCOMPARE(back.trainLength, 2048);
    QVERIFY2(back.warnings.isEmpty(), qPrintable(back.warnings.join(QLatin1Char('|'))));
}

// transformers' Phi3Config validation, re-read from its sources and written here independently of
// the exporter: 4.x (_rope_scaling_validation after _rope_scaling_adjustment) wants rope_scaling
// to be exactly {type, short_factor, long_factor} with type "longrope" (su and yarn are renamed
// first) and each factor list of hidden_size / num_attention_heads / 2 numbers; 5.x (validate_rope)
// wants rope_parameters' rope_type in {default, longrope} and each given factor list of
// int(head_dim · partial_rotary_factor) / 2 numbers. Returns the refusal, or an empty string.
static QString phi3Hf4Refusal(const QJsonObject &config)
{
    const QJsonValue scaling = config.value(QLatin1String("rope_scaling"));
    if (scaling.isNull() || scaling.isUndefined())
        return {};
    QJsonObject r = scaling.toObject();
    if (!scaling.isObject() || r.size() != 3)
        return QStringLiteral("`rope_scaling` must be a dictionary with three fields, `type`, `short_factor` and `long_factor`");
    QString type = r.value(QLatin1String("type")).toString();
    if (type == QLatin1String("su") || type == QLatin1String("yarn"))
        type = QStringLiteral("longrope");
    if (type != QLatin1String("longrope"))
        return QStringLiteral("`rope_scaling`'s type field must be one of ['longrope']");
    const int want = config.value(QLatin1String("hidden_size")).toInt() / config.value(QLatin1String("num_attention_heads")).toInt() / 2;
    for (const char *key : {"short_factor", "long_factor"}) {
        const QJsonValue v = r.value(QLatin1String(key));
        if (!v.isArray() || v.toArray().size() != want)
            return QStringLiteral("`rope_scaling`'s %1 field must be a list of %2 numbers").arg(QLatin1String(key)).arg(want);
        for (const QJsonValue &x : v.toArray())
            if (!x.isDouble())
                return QStringLiteral("`rope_scaling`'s %1 field must be a list of numbers").arg(QLatin1String(key));
    }
    return {};
}

static QString phi3Hf5Refusal(const QJsonObject &config)
{
    const QJsonObject r = config.value(QLatin1String("rope_parameters")).toObject();
    const QString type = r.value(QLatin1String("rope_type")).toString();
    if (type != QLatin1String("default") && type != QLatin1String("longrope"))
        return QStringLiteral("`rope_parameters`'s type field must be one of ['longrope']");
    const double partial = r.value(QLatin1String("partial_rotary_factor")).toDouble(
        config.value(QLatin1String("partial_rotary_factor")).toDouble(1.0));
    const int headDim = config.value(QLatin1String("hidden_size")).toInt() / config.value(QLatin1String("num_attention_heads")).toInt();
    const int want = int(headDim * partial) / 2;
    for (const char *key : {"short_factor", "long_factor"})
        if (r.contains(QLatin1String(key)) && r.value(QLatin1String(key)).toArray().size() != want)
            return QStringLiteral("`rope_parameters`'s %1 field must have length %2").arg(QLatin1String(key)).arg(want);
    return {};
}

void TestConfigExport::phi3ExportsPassPhi3ConfigValidation()
{
    for (const char *file : {"phi3-mini-128k-instruct-su.json", "hf5-phi3-longrope.json"}) {
        const RopeConfig source = sourceWithCustomKeys(QString::fromLatin1(file));
        QCOMPARE(source.modelType, QStringLiteral("phi3"));
        LongropeExport what;
        what.longFactor = std::vector<double>(size_t(source.pairs()), 4.0);
        what.targetLength = 4.0 * source.trainLength;
        for (Engine engine : {Engine::Transformers, Engine::Vllm}) {
            what.engine = engine;
            what.form = ConfigForm::Hf4;
            const QJsonObject hf4 = exportLongropeConfig(source, what);
            QVERIFY2(phi3Hf4Refusal(hf4).isEmpty(), qPrintable(phi3Hf4Refusal(hf4)));
            // The original length Phi3Config reads, at the top level.
            QCOMPARE(hf4.value(QLatin1String("original_max_position_embeddings")).toInt(), source.trainLength);
            what.form = ConfigForm::Hf5;
            const QJsonObject hf5 = exportLongropeConfig(source, what);
            QVERIFY2(phi3Hf5Refusal(hf5).isEmpty(), qPrintable(phi3Hf5Refusal(hf5)));
        }
        // The validation above can fail: the 4-key dict this tool wrote before is refused by it.
        QJsonObject fourKeys = exportLongropeConfig(source, what);
        QJsonObject legacy{{QStringLiteral("rope_type"), QStringLiteral("longrope")},
                           {QStringLiteral("short_factor"), fourKeys.value(QLatin1String("rope_parameters")).toObject().value(QLatin1String("short_factor"))},
                           {QStringLiteral("long_factor"), fourKeys.value(QLatin1String("rope_parameters")).toObject().value(QLatin1String("long_factor"))},
                           {QStringLiteral("original_max_position_embeddings"), source.trainLength}};
        fourKeys.insert(QStringLiteral("rope_scaling"), legacy);
        QVERIFY(!phi3Hf4Refusal(fourKeys).isEmpty());
        // An attention factor or a short_mscale has no place in the 4.x form: refused in one sentence.
        what.form = ConfigForm::Hf4;
        what.attentionFactor = 1.2;
        try {
            exportLongropeConfig(source, what);
            QFAIL("a Phi-3 4.x export carried an attention factor");
        } catch (const Error &e) {
            QVERIFY2(e.message().contains(QLatin1String("Phi3Config")) && e.message().contains(QLatin1String("5.x")), qPrintable(e.message()));
        }
        what.form = ConfigForm::Hf5;
        const QJsonObject withFactor = exportLongropeConfig(source, what);
        QVERIFY(phi3Hf5Refusal(withFactor).isEmpty());
        what.attentionFactor.reset();
    }
}

void TestConfigExport::multimodalTextConfigRefused()
{
    const QByteArray json = R"({"model_type":"gemma3","text_config":{"model_type":"gemma3_text","hidden_size":2560,
        "num_attention_heads":8,"head_dim":256,"max_position_embeddings":131072,"rope_theta":1000000.0}})";
    const RopeConfig source = parseRopeConfig(json, QStringLiteral("gemma3.json"));
    LongropeExport what;
    what.longFactor = std::vector<double>(128, 2.0);
    what.targetLength = 262144;
    try {
        exportLongropeConfig(source, what);
        QFAIL("no error");
    } catch (const Error &e) {
        QVERIFY2(e.problem().contains(QLatin1String("text_config")), qPrintable(e.message()));
    }
}

QTEST_GUILESS_MAIN(TestConfigExport)
#include "test_configexport.moc"
