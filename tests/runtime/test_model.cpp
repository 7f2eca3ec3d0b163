// The causal LM runtime against Hugging Face transformers: tiny fp32 llama / mistral / qwen2 / phi3
// checkpoints (plain RoPE and longrope) with transformers' own loss and logits in reference.json
// (tests/fixtures/models, made with transformers 5.17, eager attention; tests/fixtures/models/
// make_fixtures.py regenerates them).
// Also: self-consistency of the scoring primitives, RoPE overrides, the longrope short/long
// switch, mistral's sliding window, and checkpoints that do not match their config; and the
// LibTorch-level pieces (model_p.h) against a naive computation written here.
#include "runtime/model_p.h"  // LibTorch first (the target builds with QT_NO_KEYWORDS)

#include "common/error.h"
#include "runtime/model.h"
#include "rope/ropeconfig.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <map>
#include <set>
#include <thread>

using namespace rs;

namespace {

QString modelDir(const QString &name) { return QStringLiteral(ROPESCOPE_FIXTURES "/models/") + name; }

QJsonObject readJson(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        qFatal("cannot open %s", qPrintable(path));
    return QJsonDocument::fromJson(f.readAll()).object();
}

std::vector<int> intList(const QJsonArray &a)
{
    std::vector<int> out;
    for (const QJsonValue &v : a)
        out.push_back(v.toInt());
    return out;
}

std::vector<double> doubleList(const QJsonArray &a)
{
    std::vector<double> out;
    for (const QJsonValue &v : a)
        out.push_back(v.toDouble());
    return out;
}

double logSumExp(const std::vector<float> &row)
{
    double m = -INFINITY;
    for (float x : row)
        m = std::max(m, double(x));
    double s = 0;
    for (float x : row)
        s += std::exp(double(x) - m);
    return m + std::log(s);
}

// A safetensors file as the test's own reader/writer sees it (independent of core's reader).
struct RawTensor {
    QString dtype;
    QJsonArray shape;
    QByteArray bytes;
};

std::map<QString, RawTensor> readSafetensors(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        qFatal("cannot open %s", qPrintable(path));
    const QByteArray all = f.readAll();
    quint64 n = 0;
    for (int i = 7; i >= 0; --i)
        n = (n << 8) | quint8(all[i]);
    const QJsonObject header = QJsonDocument::fromJson(all.mid(8, qsizetype(n))).object();
    std::map<QString, RawTensor> out;
    for (auto it = header.begin(); it != header.end(); ++it) {
        if (it.key() == QLatin1String("__metadata__"))
            continue;
        const QJsonObject o = it.value().toObject();
        const QJsonArray off = o.value(QLatin1String("data_offsets")).toArray();
        const qint64 b = off[0].toInteger(), e = off[1].toInteger();
        out[it.key()] = {o.value(QLatin1String("dtype")).toString(), o.value(QLatin1String("shape")).toArray(),
                         all.mid(qsizetype(8 + n + quint64(b)), qsizetype(e - b))};
    }
    return out;
}

void writeSafetensors(const QString &path, const std::map<QString, RawTensor> &tensors)
{
    QJsonObject header;
    QByteArray data;
    for (const auto &[name, t] : tensors) {
        QJsonObject o;
        o[QStringLiteral("dtype")] = t.dtype;
        o[QStringLiteral("shape")] = t.shape;
        o[QStringLiteral("data_offsets")] = QJsonArray{qint64(data.size()), qint64(data.size() + t.bytes.size())};
        header[name] = o;
        data += t.bytes;
    }
    QByteArray json = QJsonDocument(header).toJson(QJsonDocument::Compact);
    while (json.size() % 8 != 0)
        json += ' ';
    QByteArray out(8, '\0');
    const quint64 n = quint64(json.size());
    for (int i = 0; i < 8; ++i)
        out[i] = char((n >> (8 * i)) & 0xff);
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly))
        qFatal("cannot write %s", qPrintable(path));
    f.write(out + json + data);
}

// A copy of a fixture folder in `tmp` whose checkpoint (and optionally config) was edited.
QString modifiedCopy(const QTemporaryDir &tmp, const QString &fixture, const std::map<QString, RawTensor> &tensors,
                     const QJsonObject &config = {})
{
    const QString dir = tmp.filePath(fixture);
    QDir().mkpath(dir);
    const QJsonObject cfg = config.isEmpty() ? readJson(modelDir(fixture) + QStringLiteral("/config.json")) : config;
    QFile c(dir + QStringLiteral("/config.json"));
    if (!c.open(QIODevice::WriteOnly))
        qFatal("cannot write config");
    c.write(QJsonDocument(cfg).toJson());
    c.close();
    writeSafetensors(dir + QStringLiteral("/model.safetensors"), tensors);
    return dir;
}

const QStringList kFixtures = {QStringLiteral("llama-plain"),   QStringLiteral("llama-longrope"),
                               QStringLiteral("mistral-plain"), QStringLiteral("mistral-longrope"),
                               QStringLiteral("qwen2-plain"),   QStringLiteral("qwen2-longrope"),
                               QStringLiteral("phi3-plain"),    QStringLiteral("phi3-longrope")};

} // namespace

class TestModel : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void metadata()
    {
        const auto lm = CausalLM::load(modelDir(QStringLiteral("phi3-longrope")));
        QCOMPARE(lm->architecture(), QStringLiteral("phi3"));
        QCOMPARE(lm->vocabSize(), 320);
        QCOMPARE(lm->numLayers(), 2);
        QCOMPARE(lm->hiddenSize(), 64);
        QCOMPARE(lm->device(), QStringLiteral("cpu"));
        QCOMPARE(lm->dtype(), QStringLiteral("float32"));
        QCOMPARE(lm->ropeConfig().rotaryDims, 16);
        QCOMPARE(lm->ropeConfig().trainLength, 128);
    }

    // transformers' per-family defaults where a config leaves rms_norm_eps out: Phi3Config 1e-5,
    // LlamaConfig / MistralConfig / Qwen2Config 1e-6.
    void rmsNormEpsDefaults_data()
    {
        QTest::addColumn<QString>("modelType");
        QTest::addColumn<double>("eps");
        QTest::newRow("phi3") << QStringLiteral("phi3") << 1e-5;
        QTest::newRow("llama") << QStringLiteral("llama") << 1e-6;
        QTest::newRow("mistral") << QStringLiteral("mistral") << 1e-6;
        QTest::newRow("qwen2") << QStringLiteral("qwen2") << 1e-6;
    }

    void rmsNormEpsDefaults()
    {
        QFETCH(QString, modelType);
        QFETCH(double, eps);
        const QJsonObject config{{QStringLiteral("model_type"), modelType}, {QStringLiteral("vocab_size"), 320},
                                 {QStringLiteral("hidden_size"), 64},       {QStringLiteral("num_hidden_layers"), 2},
                                 {QStringLiteral("num_attention_heads"), 4}, {QStringLiteral("intermediate_size"), 160},
                                 {QStringLiteral("max_position_embeddings"), 1024}};
        const RopeConfig rope = parseRopeConfig(QJsonDocument(config).toJson(), QStringLiteral("eps.json"));
        QCOMPARE(rs::detail::parseModelSpec(config, rope, QStringLiteral("eps.json")).rmsNormEps, eps);
        QJsonObject written = config;
        written[QStringLiteral("rms_norm_eps")] = 3e-6;
        QCOMPARE(rs::detail::parseModelSpec(written, rope, QStringLiteral("eps.json")).rmsNormEps, 3e-6);
    }

    void parity_data()
    {
        QTest::addColumn<QString>("fixture");
        QTest::addColumn<int>("length");
        for (const QString &f : kFixtures)
            for (int L : {64, 300})
                QTest::newRow(qPrintable(QStringLiteral("%1 L=%2").arg(f).arg(L))) << f << L;
    }

    // Loss, logits and logsumexp against transformers; the scoring primitives against each other.
    void parity()
    {
        QFETCH(QString, fixture);
        QFETCH(int, length);
        const auto lm = CausalLM::load(modelDir(fixture));
        const QJsonObject ref = readJson(modelDir(fixture) + QStringLiteral("/reference.json"))
                                    .value(QString::number(length)).toObject();
        const std::vector<int> ids = intList(ref.value(QLatin1String("input_ids")).toArray());
        QCOMPARE(int(ids.size()), length);

        const double refLoss = ref.value(QLatin1String("loss")).toDouble();
        const double loss = lm->meanNextTokenLoss(ids);
        QVERIFY2(std::abs(loss - refLoss) <= 1e-4 * std::abs(refLoss),
                 qPrintable(QStringLiteral("loss %1 vs transformers %2").arg(loss, 0, 'g', 10).arg(refLoss, 0, 'g', 10)));

        const std::vector<int> positions = {0, length / 2, length - 2, length - 1};
        const auto rows = lm->logitsAt(ids, positions);
        QCOMPARE(int(rows.size()), 4);
        double maxLogit = 0, maxLse = 0;
        for (size_t k = 0; k < positions.size(); ++k) {
            const QString p = QString::number(positions[k]);
            QCOMPARE(int(rows[k].size()), 320);
            const std::vector<double> want = doubleList(ref.value(QLatin1String("logits_at")).toObject().value(p).toArray());
            QCOMPARE(int(want.size()), 16);
            for (size_t j = 0; j < want.size(); ++j)
                maxLogit = std::max(maxLogit, std::abs(double(rows[k][j]) - want[j]));
            const double lse = ref.value(QLatin1String("logsumexp_at")).toObject().value(p).toDouble();
            maxLse = std::max(maxLse, std::abs(logSumExp(rows[k]) - lse));
        }
        qInfo("%s L=%d: |Δloss| %.2e (loss %.6f), max |Δlogit| %.2e, max |Δlogsumexp| %.2e", qPrintable(fixture), length,
              std::abs(loss - refLoss), refLoss, maxLogit, maxLse);
        QVERIFY2(maxLogit <= 1e-4, qPrintable(QStringLiteral("max |Δlogit| %1").arg(maxLogit)));
        QVERIFY2(maxLse <= 1e-4, qPrintable(QStringLiteral("max |Δlogsumexp| %1").arg(maxLse)));

        // targetNll at p is −log softmax(logits at p − 1)[ids[p]].
        const std::vector<int> targets = {1, length / 2 + 1, length - 1};
        const std::vector<double> nll = lm->targetNll(ids, targets);
        QCOMPARE(int(nll.size()), 3);
        const int rowOf[3] = {0, 1, 2};  // logits rows at positions 0, L/2, L−2
        for (int k = 0; k < 3; ++k) {
            const auto &row = rows[size_t(rowOf[k])];
            const double expected = logSumExp(row) - double(row[size_t(ids[size_t(targets[size_t(k)])])]);
            QVERIFY2(std::abs(nll[size_t(k)] - expected) <= 1e-4,
                     qPrintable(QStringLiteral("targetNll(%1) %2 vs %3").arg(targets[size_t(k)]).arg(nll[size_t(k)]).arg(expected)));
        }
        // Answer tokens at the end only (a needle sample's case): the last layer runs at those rows
        // alone, and the NLLs are still those of the full forward's logits.
        const std::vector<double> tail = lm->targetNll(ids, {length / 2 + 1, length - 1});
        for (int k = 0; k < 2; ++k) {
            const auto &row = rows[size_t(k + 1)];
            const double expected = logSumExp(row) - double(row[size_t(ids[size_t(targets[size_t(k + 1)])])]);
            QVERIFY2(std::abs(tail[size_t(k)] - expected) <= 1e-4,
                     qPrintable(QStringLiteral("trimmed targetNll(%1) %2 vs %3").arg(targets[size_t(k + 1)]).arg(tail[size_t(k)]).arg(expected)));
        }
        // The loss is the mean of targetNll over 1 … L−1.
        std::vector<int> all;
        for (int p = 1; p < length; ++p)
            all.push_back(p);
        const std::vector<double> everyNll = lm->targetNll(ids, all);
        double sum = 0;
        for (double x : everyNll)
            sum += x;
        QVERIFY(std::abs(sum / everyNll.size() - loss) <= 1e-6 * std::abs(loss));
    }

    // transformers: short factors while the sequence fits in original_max_position_embeddings,
    // long beyond; the attention factor sqrt(1 + ln(1024/128) / ln 128) for both.
    void longropeSwitch()
    {
        const auto lm = CausalLM::load(modelDir(QStringLiteral("llama-longrope")));
        const RopeScaling &sc = lm->ropeConfig().scaling;
        const double af = std::sqrt(1 + std::log(8.0) / std::log(128.0));
        const RopeOverride s = lm->defaultRope(64), s128 = lm->defaultRope(128), l = lm->defaultRope(300);
        QCOMPARE(s.lambda, sc.shortFactor);
        QCOMPARE(s128.lambda, sc.shortFactor);
        QCOMPARE(l.lambda, sc.longFactor);
        QCOMPARE(lm->defaultRope(129).lambda, sc.longFactor);
        QVERIFY(std::abs(s.attentionFactor - af) < 1e-12);
        QVERIFY(std::abs(l.attentionFactor - af) < 1e-12);
        // At 64 tokens the long factors would give another loss: the switch matters.
        const QJsonObject ref = readJson(modelDir(QStringLiteral("llama-longrope")) + QStringLiteral("/reference.json"));
        const std::vector<int> ids = intList(ref.value(QLatin1String("64")).toObject().value(QLatin1String("input_ids")).toArray());
        QVERIFY(std::abs(lm->meanNextTokenLoss(ids, &l) - lm->meanNextTokenLoss(ids)) > 1e-3);
    }

    void overrides()
    {
        {
            const auto lm = CausalLM::load(modelDir(QStringLiteral("phi3-longrope")));
            const QJsonObject ref = readJson(modelDir(QStringLiteral("phi3-longrope")) + QStringLiteral("/reference.json"));
            const std::vector<int> ids = intList(ref.value(QLatin1String("300")).toObject().value(QLatin1String("input_ids")).toArray());
            const RopeOverride own{lm->ropeConfig().scaling.longFactor, std::sqrt(1 + std::log(8.0) / std::log(128.0))};
            const double base = lm->meanNextTokenLoss(ids);
            QVERIFY(std::abs(lm->meanNextTokenLoss(ids, &own) - base) <= 1e-6 * base);
            // Another factor set changes the result.
            const RopeOverride pi{std::vector<double>(8, 300.0 / 128.0), 1.0};
            QVERIFY(std::abs(lm->meanNextTokenLoss(ids, &pi) - base) > 1e-3);
            // targetNll and logitsAt follow the override too.
            const std::vector<double> a = lm->targetNll(ids, {299}, &own), b = lm->targetNll(ids, {299});
            QVERIFY(std::abs(a[0] - b[0]) <= 1e-5);
        }
        {
            const auto lm = CausalLM::load(modelDir(QStringLiteral("qwen2-plain")));
            const QJsonObject ref = readJson(modelDir(QStringLiteral("qwen2-plain")) + QStringLiteral("/reference.json"));
            const std::vector<int> ids = intList(ref.value(QLatin1String("300")).toObject().value(QLatin1String("input_ids")).toArray());
            const RopeOverride identity{std::vector<double>(8, 1.0), 1.0};
            QCOMPARE(lm->defaultRope(300).lambda, identity.lambda);
            QVERIFY(std::abs(lm->meanNextTokenLoss(ids, &identity) - lm->meanNextTokenLoss(ids)) <= 1e-7);
            const RopeOverride wrong{std::vector<double>(7, 1.0), 1.0};
            QVERIFY_THROWS_EXCEPTION(Error, lm->meanNextTokenLoss(ids, &wrong));
            const RopeOverride negative{std::vector<double>(8, -1.0), 1.0};
            QVERIFY_THROWS_EXCEPTION(Error, lm->meanNextTokenLoss(ids, &negative));
        }
    }

    // mistral-*: the parity above exercises the window: transformers lets query i see key j iff
    // i − j < sliding_window. Windows one shorter or longer, or none, miss its logits at 298/299;
    // within the window nothing changes.
    void slidingWindowConvention_data()
    {
        QTest::addColumn<QJsonValue>("window");
        QTest::newRow("none") << QJsonValue(QJsonValue::Null);
        QTest::newRow("199") << QJsonValue(199);
        QTest::newRow("201") << QJsonValue(201);
    }

    void slidingWindowConvention()
    {
        QFETCH(QJsonValue, window);
        const QString fixture = QStringLiteral("mistral-plain");
        QTemporaryDir tmp;
        QJsonObject cfg = readJson(modelDir(fixture) + QStringLiteral("/config.json"));
        cfg[QStringLiteral("sliding_window")] = window;
        const QString dir = modifiedCopy(tmp, fixture, readSafetensors(modelDir(fixture) + QStringLiteral("/model.safetensors")), cfg);
        const auto other = CausalLM::load(dir);
        const auto lm = CausalLM::load(modelDir(fixture));
        const QJsonObject ref = readJson(modelDir(fixture) + QStringLiteral("/reference.json"));
        const auto ids = [&](const char *L) { return intList(ref.value(QLatin1String(L)).toObject().value(QLatin1String("input_ids")).toArray()); };
        const QJsonObject at300 = ref.value(QLatin1String("300")).toObject().value(QLatin1String("logits_at")).toObject();
        const auto rows = other->logitsAt(ids("300"), {298, 299});
        double maxDiff = 0;
        for (int k = 0; k < 2; ++k) {
            const std::vector<double> want = doubleList(at300.value(QString::number(298 + k)).toArray());
            for (size_t j = 0; j < want.size(); ++j)
                maxDiff = std::max(maxDiff, std::abs(double(rows[size_t(k)][j]) - want[j]));
        }
        QVERIFY2(maxDiff > 1e-2, qPrintable(QString::number(maxDiff)));
        QCOMPARE(other->meanNextTokenLoss(ids("64")), lm->meanNextTokenLoss(ids("64")));
    }

    // The one attention function against a naive computation: grouped heads repeated, a full
    // [S, S] mask, queries as the last T keys; and small query chunks change nothing.
    void attentionFunction_data()
    {
        QTest::addColumn<int>("window");
        QTest::addColumn<int>("queries");
        QTest::addColumn<qint64>("chunk");
        QTest::newRow("causal") << 0 << 37 << (qint64(1) << 26);
        QTest::newRow("causal, chunks") << 0 << 37 << qint64(600);
        QTest::newRow("window, chunks") << 7 << 37 << qint64(600);
        QTest::newRow("window, one-row chunks") << 7 << 37 << qint64(1);
        QTest::newRow("last 5 queries, window") << 9 << 5 << qint64(300);
    }

    void attentionFunction()
    {
        QFETCH(int, window);
        QFETCH(int, queries);
        QFETCH(qint64, chunk);
        torch::manual_seed(3);
        const int64_t B = 2, nh = 6, nkv = 2, S = 37, hd = 8, T = queries;
        const torch::Tensor q = torch::randn({B, nh, T, hd}), k = torch::randn({B, nkv, S, hd}), v = torch::randn({B, nkv, S, hd});
        const torch::Tensor got = rs::detail::attention(q, k, v, {}, window, chunk);
        const torch::Tensor kr = k.repeat_interleave(nh / nkv, 1), vr = v.repeat_interleave(nh / nkv, 1);
        const torch::Tensor i = torch::arange(S - T, S).unsqueeze(1), j = torch::arange(S).unsqueeze(0);
        torch::Tensor allowed = j <= i;
        if (window > 0)
            allowed = allowed.logical_and((i - j) < window);
        const torch::Tensor scores = torch::matmul(q, kr.transpose(-1, -2)) / std::sqrt(double(hd));
        const torch::Tensor want = torch::matmul(torch::softmax(scores.masked_fill(allowed.logical_not(), -INFINITY), -1), vr);
        QVERIFY2(torch::allclose(got, want, 1e-5, 1e-5), qPrintable(QString::number((got - want).abs().max().item<double>())));
        // The same through an explicit mask.
        const torch::Tensor viaMask = rs::detail::attention(q, k, v, allowed, 0, chunk);
        QVERIFY(torch::allclose(viaMask, want, 1e-5, 1e-5));
    }

    // Small attention chunks inside the whole model change nothing (mistral: with the window).
    void chunkedModel()
    {
        for (const QString fixture : {QStringLiteral("mistral-longrope"), QStringLiteral("phi3-plain")}) {
            const QJsonObject ref = readJson(modelDir(fixture) + QStringLiteral("/reference.json")).value(QLatin1String("300")).toObject();
            const std::vector<int> ids = intList(ref.value(QLatin1String("input_ids")).toArray());
            const auto lm = CausalLM::load(modelDir(fixture));
            const auto whole = lm->logitsAt(ids, {150, 299});
            lm->torchModel().attentionChunkElements = 4 * 300 * 11;  // about 11 query rows per chunk
            const auto chunked = lm->logitsAt(ids, {150, 299});
            for (int k = 0; k < 2; ++k)
                for (size_t j = 0; j < whole[size_t(k)].size(); ++j)
                    QVERIFY(std::abs(whole[size_t(k)][j] - chunked[size_t(k)][j]) <= 1e-5);
        }
    }

    // Token-wise chunks (norms, projections, MLP) change nothing, in evaluation (residual updated
    // in place) and with autograd on (out of place), with and without a sliding window.
    void tokenwiseChunks()
    {
        for (const QString fixture : {QStringLiteral("llama-longrope"), QStringLiteral("mistral-longrope")}) {
            const QJsonObject ref = readJson(modelDir(fixture) + QStringLiteral("/reference.json")).value(QLatin1String("300")).toObject();
            const std::vector<int> ids = intList(ref.value(QLatin1String("input_ids")).toArray());
            const auto lm = CausalLM::load(modelDir(fixture));
            rs::detail::TorchModel &m = lm->torchModel();
            const auto whole = lm->logitsAt(ids, {7, 150, 299});
            const int64_t widest = std::max<int64_t>(2 * int64_t(m.spec.intermediateSize),
                                                     int64_t(m.spec.numHeads + 2 * m.spec.numKvHeads) * m.spec.headDim);
            m.tokenwiseChunkElements = widest * 37;  // 37 tokens per chunk: the last chunk is partial
            const auto chunked = lm->logitsAt(ids, {7, 150, 299});
            // Matrix products over fewer rows may round differently (BLAS blocking): float32 noise only.
            float worst = 0;
            for (int k = 0; k < 3; ++k)
                for (size_t j = 0; j < whole[size_t(k)].size(); ++j)
                    worst = std::max(worst, std::abs(whole[size_t(k)][j] - chunked[size_t(k)][j]));
            qInfo("%s: largest logit difference with 37-token chunks %.3g", qPrintable(fixture), double(worst));
            QVERIFY(worst <= 1e-4);

            // With autograd on, the out-of-place form gives the same hidden states and gradients flow.
            const RopeOverride f = lm->defaultRope(int(ids.size()));
            const torch::Tensor tokens = torch::tensor(at::ArrayRef<int>(ids), torch::dtype(torch::kInt32)).to(torch::kInt64).unsqueeze(0);
            const torch::Tensor positions = torch::arange(int64_t(ids.size()), torch::dtype(torch::kInt64));
            m.layers[0].gateUp.set_requires_grad(true);
            const torch::Tensor h = rs::detail::forwardHidden(m, tokens, positions, rs::detail::makeRopeTable(m, f.lambda, f.attentionFactor));
            h.sum().backward();
            QVERIFY(m.layers[0].gateUp.grad().defined());
            QVERIFY(m.layers[0].gateUp.grad().abs().sum().item<double>() > 0);
            m.layers[0].gateUp.set_requires_grad(false);
            const torch::Tensor logits = rs::detail::logitsFromHidden(m, h.detach().squeeze(0).index_select(0, torch::tensor({299})));
            for (int64_t j = 0; j < logits.size(1); ++j)
                QVERIFY(std::abs(logits[0][j].item<float>() - whole[2][size_t(j)]) <= 1e-4);
        }
    }

    // Several RoPE variants in one batched forward give each variant exactly what a forward of its
    // own gives (different λ per row, attention factors, a sliding window, partial rotary).
    void batchedCandidates()
    {
        for (const QString fixture : {QStringLiteral("llama-longrope"), QStringLiteral("mistral-longrope"),
                                      QStringLiteral("phi3-longrope"), QStringLiteral("qwen2-plain")}) {
            const QJsonObject ref = readJson(modelDir(fixture) + QStringLiteral("/reference.json")).value(QLatin1String("300")).toObject();
            const std::vector<int> ids = intList(ref.value(QLatin1String("input_ids")).toArray());
            const auto lm = CausalLM::load(modelDir(fixture));
            lm->torchModel().batchCandidates = true;  // the GPU's path, checked on the CPU
            const size_t pairs = size_t(lm->ropeConfig().pairs());
            std::vector<RopeOverride> ropes;
            ropes.push_back({std::vector<double>(pairs, 1.0), 1.0});
            ropes.push_back({std::vector<double>(pairs, 4.0), 1.2});
            std::vector<double> rising(pairs);
            for (size_t i = 0; i < pairs; ++i)
                rising[i] = 1.0 + 0.5 * double(i);
            ropes.push_back({rising, 1.0});
            const std::vector<int> targets = {5, 120, 250, 299};
            const auto batched = lm->targetNllBatch(ids, targets, ropes);
            QCOMPARE(batched.size(), ropes.size());
            for (size_t k = 0; k < ropes.size(); ++k) {
                const std::vector<double> alone = lm->targetNll(ids, targets, &ropes[k]);
                QCOMPARE(batched[k].size(), alone.size());
                for (size_t j = 0; j < alone.size(); ++j)
                    QVERIFY2(std::abs(batched[k][j] - alone[j]) < 1e-4,
                             qPrintable(QStringLiteral("%1 rope %2 target %3: %4 vs %5").arg(fixture).arg(k).arg(j)
                                            .arg(batched[k][j]).arg(alone[j])));
            }
            // The rows really differ: the variants change the answer.
            QVERIFY(std::abs(batched[0][3] - batched[1][3]) > 1e-3);
        }
    }

    // Random initialisation as transformers does it: the same seed gives the same weights on the
    // CPU, another seed others; norms are 1; weights have the configured standard deviation.
    void createRandom()
    {
        QJsonObject config = readJson(modelDir(QStringLiteral("qwen2-plain")) + QStringLiteral("/config.json"));
        config.insert(QStringLiteral("initializer_range"), 0.05);
        const auto a = CausalLM::createRandom(config, {}, 7);
        const auto b = CausalLM::createRandom(config, {}, 7);
        const auto c = CausalLM::createRandom(config, {}, 8);
        QCOMPARE(a->architecture(), QStringLiteral("qwen2"));
        const rs::detail::TorchModel &ma = a->torchModel(), &mb = b->torchModel(), &mc = c->torchModel();
        QVERIFY(torch::equal(ma.layers[1].gateUp, mb.layers[1].gateUp));
        QVERIFY(torch::equal(ma.lmHead, mb.lmHead));
        QVERIFY(!torch::equal(ma.layers[1].gateUp, mc.layers[1].gateUp));
        QVERIFY(torch::equal(ma.finalNorm, torch::ones_like(ma.finalNorm)));
        QVERIFY(ma.layers[0].qkvBias.defined() && ma.layers[0].qkvBias.abs().sum().item<double>() == 0);
        const double sd = ma.layers[0].gateUp.std().item<double>();
        QVERIFY2(std::abs(sd - 0.05) < 0.005, qPrintable(QString::number(sd)));
        const std::vector<int> ids = {1, 5, 9, 200, 17, 3};
        QCOMPARE(a->meanNextTokenLoss(ids), b->meanNextTokenLoss(ids));
        // A config the runtime cannot run is an error naming the source.
        QJsonObject bad = config;
        bad.insert(QStringLiteral("num_key_value_heads"), 3);
        try {
            CausalLM::createRandom(bad, {}, 0, QStringLiteral("shape.json"));
            QFAIL("expected an error");
        } catch (const rs::Error &e) {
            QVERIFY2(e.message().contains(QLatin1String("shape.json")), qPrintable(e.message()));
        }
    }

    // Model FLOPs counted by hand for a small shape: per token per layer the q/k/v/o projections
    // and the MLP are one multiply-add per weight, attention costs 4·(heads·head_dim) FLOPs per
    // (query, visible key) pair, the LM head 2·H·V per scored row.
    void forwardFlops()
    {
        QJsonObject tiny = readJson(modelDir(QStringLiteral("llama-plain")) + QStringLiteral("/config.json"));
        tiny.insert(QStringLiteral("num_hidden_layers"), 1);
        tiny.insert(QStringLiteral("vocab_size"), 16);
        tiny.insert(QStringLiteral("hidden_size"), 64);
        tiny.insert(QStringLiteral("intermediate_size"), 96);
        tiny.insert(QStringLiteral("num_attention_heads"), 4);
        tiny.insert(QStringLiteral("num_key_value_heads"), 2);
        tiny.remove(QStringLiteral("head_dim"));
        const auto small = CausalLM::createRandom(tiny);
        // H 64, head 16: q 64, k and v 32 each → 64·(64+32+32) + 64·64 + 3·64·96 = 30,720 MACs.
        const double T = 10;
        QCOMPARE(small->forwardFlops(10, 2), 2 * 30720 * T + 4 * 64 * (T * (T + 1) / 2) + 2 * 64 * 16 * 2);
        // Sliding window of 4: query i sees min(i + 1, 4) keys.
        QJsonObject windowed = tiny;
        windowed.insert(QStringLiteral("model_type"), QStringLiteral("mistral"));
        windowed.insert(QStringLiteral("sliding_window"), 4);
        const auto win = CausalLM::createRandom(windowed);
        QCOMPARE(win->forwardFlops(10, 0), 2 * 30720 * T + 4 * 64 * double(1 + 2 + 3 + 4 + 4 * 6));
        // Weights: (16·64 embedding + 16·64 head) + 2·64 norms + 128·64 qkv + 64·64 o + 192·64 gate/up
        // + 64·96 down + 64 final norm, in float32.
        QCOMPARE(small->weightBytes(), int64_t(4) * (2 * 16 * 64 + 2 * 64 + 128 * 64 + 64 * 64 + 192 * 64 + 64 * 96 + 64));
        QCOMPARE(small->peakDeviceMemory(), int64_t(-1));  // CPU: no allocator statistics
    }

    // On a GPU: an allocation that cannot fit is an rs::Error naming the source, and the device
    // stays usable for the next model.
    void cudaOutOfMemory()
    {
        if (!cudaAvailable())
            QSKIP("LibTorch has no CUDA device here");
        QJsonObject huge = readJson(modelDir(QStringLiteral("llama-plain")) + QStringLiteral("/config.json"));
        huge.insert(QStringLiteral("vocab_size"), 4000000);
        huge.insert(QStringLiteral("hidden_size"), 65536);  // a 2^38-byte embedding in bf16: 512 GiB
        huge.insert(QStringLiteral("num_attention_heads"), 512);
        huge.insert(QStringLiteral("num_key_value_heads"), 512);
        huge.remove(QStringLiteral("head_dim"));
        try {
            CausalLM::createRandom(huge, {QStringLiteral("cuda"), {}}, 0, QStringLiteral("huge.json"));
            QFAIL("expected out of memory");
        } catch (const rs::Error &e) {
            qInfo("%s", qPrintable(e.message()));
            QVERIFY2(e.message().contains(QLatin1String("huge.json")) && e.message().contains(QLatin1String("out of memory")),
                     qPrintable(e.message()));
        }
        const auto lm = CausalLM::load(modelDir(QStringLiteral("llama-plain")), {QStringLiteral("cuda"), {}});
        QVERIFY(std::isfinite(lm->meanNextTokenLoss({1, 2, 3, 4, 5})));
        lm->resetPeakDeviceMemory();
        lm->meanNextTokenLoss({1, 2, 3, 4, 5});
        qInfo("peak device memory after reset: %lld bytes (weights %lld)", (long long)lm->peakDeviceMemory(),
              (long long)lm->weightBytes());
    }

    // CUDA bf16 against CPU fp32 on the same weights: logits within bf16 tolerance.
    void cudaLogitsMatchCpu()
    {
        if (!cudaAvailable())
            QSKIP("LibTorch has no CUDA device here");
        for (const QString &fixture : kFixtures) {
            const QJsonObject ref = readJson(modelDir(fixture) + QStringLiteral("/reference.json")).value(QLatin1String("300")).toObject();
            const std::vector<int> ids = intList(ref.value(QLatin1String("input_ids")).toArray());
            const auto cpu = CausalLM::load(modelDir(fixture));
            const auto gpu = CausalLM::load(modelDir(fixture), {QStringLiteral("cuda"), {}});
            const auto want = cpu->logitsAt(ids, {10, 299});
            const auto got = gpu->logitsAt(ids, {10, 299});
            double num = 0, den = 0;
            for (int k = 0; k < 2; ++k)
                for (size_t j = 0; j < want[size_t(k)].size(); ++j) {
                    const double e = double(got[size_t(k)][j]) - want[size_t(k)][j];
                    num += e * e;
                    den += double(want[size_t(k)][j]) * want[size_t(k)][j];
                }
            const double rel = std::sqrt(num / den);
            qInfo("%s cuda bf16 vs cpu fp32 logits: relative error %.2e", qPrintable(fixture), rel);
            // bf16 keeps 8 significant bits (rounding 2^-9 ≈ 2e-3 per operation) and these random tiny
            // models have logits near zero, so relative error accumulates over the layers; 4.1e-2
            // was measured on an H200 (llama-plain). A wrong kernel or mask gives errors of order 1.
            QVERIFY2(rel < 8e-2, qPrintable(QString::number(rel)));
        }
    }

    // Mixed context window training's packing: two documents in one sequence with a per-document
    // mask and positions restarting at 0 give each document exactly its own hidden states.
    void packedDocuments()
    {
        const auto lm = CausalLM::load(modelDir(QStringLiteral("qwen2-longrope")));
        const rs::detail::TorchModel &m = lm->torchModel();
        c10::InferenceMode guard;
        const RopeOverride f = lm->defaultRope(64);
        const rs::detail::RopeTable table = rs::detail::makeRopeTable(m, f.lambda, f.attentionFactor);
        torch::manual_seed(5);
        const int64_t a = 23, b = 41;
        const torch::Tensor ids = torch::randint(0, 320, {1, a + b}, torch::kInt64);
        const torch::Tensor positions = torch::cat({torch::arange(a), torch::arange(b)});
        const torch::Tensor doc = torch::cat({torch::zeros({a}, torch::kInt64), torch::ones({b}, torch::kInt64)});
        const torch::Tensor idx = torch::arange(a + b);
        const torch::Tensor allowed = (idx.unsqueeze(0) <= idx.unsqueeze(1)).logical_and(doc.unsqueeze(0) == doc.unsqueeze(1));
        const torch::Tensor packed = rs::detail::forwardHidden(m, ids, positions, table, allowed);
        const torch::Tensor first = rs::detail::forwardHidden(m, ids.narrow(1, 0, a), torch::arange(a), table);
        const torch::Tensor second = rs::detail::forwardHidden(m, ids.narrow(1, a, b), torch::arange(b), table);
        // Equal up to float32 rounding: the BLAS may block a 64-row product differently from a
        // 23-row one (OpenBLAS does), so compare relative to the hidden states' scale.
        const double scale = first.abs().max().item<double>();
        const double diffFirst = (packed.narrow(1, 0, a) - first).abs().max().item<double>();
        const double diffSecond = (packed.narrow(1, a, b) - second).abs().max().item<double>();
        qInfo("packed vs separate: max |Δ| %.3g and %.3g at scale %.3g", diffFirst, diffSecond, scale);
        QVERIFY(diffFirst <= 1e-5 * scale);
        QVERIFY(diffSecond <= 1e-5 * scale);
        // Without the document mask the second document sees the first.
        const torch::Tensor leaky = rs::detail::forwardHidden(m, ids, positions, table);
        QVERIFY(!torch::allclose(leaky.narrow(1, a, b), second, 1e-3, 1e-3));
    }

    void greedy()
    {
        const auto lm = CausalLM::load(modelDir(QStringLiteral("llama-plain")));
        const QJsonObject ref = readJson(modelDir(QStringLiteral("llama-plain")) + QStringLiteral("/reference.json"));
        std::vector<int> ids = intList(ref.value(QLatin1String("64")).toObject().value(QLatin1String("input_ids")).toArray());
        const std::vector<int> out = lm->greedyContinue(ids, 3);
        QCOMPARE(int(out.size()), 3);
        for (int next : out) {
            const auto row = lm->logitsAt(ids, {int(ids.size()) - 1})[0];
            QCOMPARE(int(std::max_element(row.begin(), row.end()) - row.begin()), next);
            ids.push_back(next);
        }
    }

    // The KV cache against the uncached path, token by token, on every architecture, plain and
    // longrope. The prompts cover the cases a cache can get wrong: a short one; one of 120 tokens
    // decoding 16 (the longrope fixtures switch to the long factors past 128, so the sequence
    // crosses original_max_position_embeddings while decoding); one of 250 (mistral's sliding
    // window of 200 then masks cached keys). An explicit RoPE override too (PI at s = 2).
    void kvCacheGreedyMatchesUncached_data()
    {
        QTest::addColumn<QString>("fixture");
        for (const QString &f : kFixtures)
            QTest::newRow(qPrintable(f)) << f;
    }

    void kvCacheGreedyMatchesUncached()
    {
        QFETCH(QString, fixture);
        const auto lm = CausalLM::load(modelDir(fixture));
        const std::vector<int> ids = intList(readJson(modelDir(fixture) + QStringLiteral("/reference.json"))
                                                 .value(QLatin1String("300")).toObject().value(QLatin1String("input_ids")).toArray());
        const RopeOverride pi{std::vector<double>(size_t(lm->ropeConfig().pairs()), 2.0), 1.0};
        int distinct = 0;
        for (const auto &[prompt, count] : {std::pair{40, 8}, std::pair{120, 16}, std::pair{250, 8}}) {
            const std::vector<int> p(ids.begin(), ids.begin() + prompt);
            for (const RopeOverride *rope : {static_cast<const RopeOverride *>(nullptr), &pi}) {
                const std::vector<int> cached = lm->greedyContinue(p, count, rope);
                const std::vector<int> uncached = lm->greedyContinue(p, count, rope, /*useKvCache=*/false);
                QCOMPARE(int(cached.size()), count);
                QVERIFY2(cached == uncached, qPrintable(QStringLiteral("%1, prompt %2%3").arg(fixture).arg(prompt)
                                                            .arg(rope ? QStringLiteral(", PI") : QString())));
                distinct = std::max<int>(distinct, int(std::set<int>(cached.begin(), cached.end()).size()));
            }
        }
        QVERIFY(distinct > 1);  // the continuations are not one token repeated: the check has teeth
    }

    // scoreAnswer: the answer NLLs of one forward are targetNll's exactly, and its greedy answer is
    // the uncached greedy continuation of the prompt. The longrope fixtures with 126 + 6 tokens
    // put the short/long switch inside the answer (prompt at 126 ≤ 128 uses the short factors,
    // the whole sample the long ones).
    void scoreAnswerMatchesSeparateCalls()
    {
        for (const QString &fixture : kFixtures) {
            const auto lm = CausalLM::load(modelDir(fixture));
            const std::vector<int> all = intList(readJson(modelDir(fixture) + QStringLiteral("/reference.json"))
                                                     .value(QLatin1String("300")).toObject().value(QLatin1String("input_ids")).toArray());
            for (const auto &[length, answerStart] : {std::pair{60, 52}, std::pair{132, 126}, std::pair{300, 292}}) {
                const std::vector<int> ids(all.begin(), all.begin() + length);
                std::vector<int> targets;
                for (int t = answerStart; t < length; ++t)
                    targets.push_back(t);
                const CausalLM::AnswerScore score = lm->scoreAnswer(ids, answerStart, true);
                QCOMPARE(score.nll, lm->targetNll(ids, targets));
                const std::vector<int> prompt(ids.begin(), ids.begin() + answerStart);
                QCOMPARE(score.greedy, lm->greedyContinue(prompt, length - answerStart, nullptr, false));
                QVERIFY(lm->scoreAnswer(ids, answerStart, false).greedy.empty());
            }
        }
    }

    // The cache at the tensor level: a prefix, then one token at a time, gives the hidden states of
    // one full forward (float32 on the CPU: agreement to rounding).
    void kvCacheHiddenStates()
    {
        for (const QString fixture : {QStringLiteral("mistral-plain"), QStringLiteral("qwen2-longrope"), QStringLiteral("phi3-plain")}) {
            const auto lm = CausalLM::load(modelDir(fixture));
            const rs::detail::TorchModel &m = lm->torchModel();
            torch::InferenceMode guard;
            const int64_t T = 260;
            const torch::Tensor ids = torch::randint(0, 320, {1, T}, torch::dtype(torch::kInt64));
            const rs::detail::RopeTable table = rs::detail::makeRopeTable(m, lm->defaultRope(int(T)).lambda, lm->defaultRope(int(T)).attentionFactor);
            const torch::Tensor full = rs::detail::forwardHidden(m, ids, torch::arange(T), table);
            rs::detail::KvCache cache = rs::detail::makeKvCache(m, 1, T);
            std::vector<torch::Tensor> parts{rs::detail::forwardHidden(m, ids.narrow(1, 0, 100), torch::arange(100), table, {}, &cache)};
            QCOMPARE(cache.length, int64_t(100));
            parts.push_back(rs::detail::forwardHidden(m, ids.narrow(1, 100, 60), torch::arange(100, 160), table, {}, &cache));
            for (int64_t t = 160; t < T; ++t)
                parts.push_back(rs::detail::forwardHidden(m, ids.narrow(1, t, 1), torch::arange(t, t + 1), table, {}, &cache));
            QCOMPARE(cache.length, T);
            const torch::Tensor pieced = torch::cat(parts, 1);
            // Matrix products of 1 and of 260 rows sum in different orders: float32 rounding, relative
            // to the size of the hidden states (the fixtures' random weights make them large).
            const double diff = (pieced - full).abs().max().item<double>();
            const double scale = full.abs().max().item<double>();
            qInfo("%s: largest hidden-state difference, cached vs full forward: %.3g (largest value %.3g)",
                  qPrintable(fixture), diff, scale);
            QVERIFY(diff <= 1e-5 * scale);
            // A full cache refuses more tokens instead of writing past its end.
            QVERIFY_THROWS_EXCEPTION(Error, rs::detail::forwardHidden(m, ids.narrow(1, 0, 1), torch::arange(1), table, {}, &cache));
        }
    }

    // The last layer at the last rows only (forwardHidden's keepLast): those rows of the full
    // forward, with the causal mask, a sliding window (mistral), partial rotary (phi3), a packed
    // documents mask and a cache; and targetNll with and without the trim agree.
    void lastLayerAtTheLastRowsOnly()
    {
        for (const QString fixture : {QStringLiteral("mistral-plain"), QStringLiteral("qwen2-longrope"), QStringLiteral("phi3-plain")}) {
            const auto lm = CausalLM::load(modelDir(fixture));
            const rs::detail::TorchModel &m = lm->torchModel();
            torch::InferenceMode guard;
            torch::manual_seed(11);
            const int64_t T = 260, keep = 9;
            const torch::Tensor ids = torch::randint(0, 320, {1, T}, torch::dtype(torch::kInt64));
            const RopeOverride rope = lm->defaultRope(int(T));
            const rs::detail::RopeTable table = rs::detail::makeRopeTable(m, rope.lambda, rope.attentionFactor);
            const torch::Tensor positions = torch::arange(T);
            const torch::Tensor full = rs::detail::forwardHidden(m, ids, positions, table);
            const double scale = full.abs().max().item<double>();
            const torch::Tensor tail = rs::detail::forwardHidden(m, ids, positions, table, {}, nullptr, keep);
            QCOMPARE(tail.size(1), keep);
            const double diff = (tail - full.narrow(1, T - keep, keep)).abs().max().item<double>();
            qInfo("%s: last layer at the last %lld rows vs the full forward: max |Δ| %.3g at scale %.3g", qPrintable(fixture),
                  (long long)keep, diff, scale);
            QVERIFY(diff <= 1e-5 * scale);
            // A mask of two packed documents.
            const torch::Tensor idx = torch::arange(T);
            const torch::Tensor doc = (idx >= 100).to(torch::kInt64);
            const torch::Tensor allowed = (idx.unsqueeze(0) <= idx.unsqueeze(1)).logical_and(doc.unsqueeze(0) == doc.unsqueeze(1));
            const torch::Tensor maskedFull = rs::detail::forwardHidden(m, ids, positions, table, allowed);
            const torch::Tensor maskedTail = rs::detail::forwardHidden(m, ids, positions, table, allowed, nullptr, keep);
            QVERIFY((maskedTail - maskedFull.narrow(1, T - keep, keep)).abs().max().item<double>() <= 1e-5 * scale);
            // With a cache: every key and value is still cached.
            rs::detail::KvCache cache = rs::detail::makeKvCache(m, 1, T);
            const torch::Tensor cachedTail = rs::detail::forwardHidden(m, ids, positions, table, {}, &cache, keep);
            QCOMPARE(cache.length, T);
            QVERIFY((cachedTail - tail).abs().max().item<double>() <= 1e-5 * scale);
            rs::detail::KvCache reference = rs::detail::makeKvCache(m, 1, T);
            (void)rs::detail::forwardHidden(m, ids, positions, table, {}, &reference);
            for (size_t l = 0; l < cache.keys.size(); ++l) {
                QVERIFY(torch::equal(cache.keys[l], reference.keys[l]));
                QVERIFY(torch::equal(cache.values[l], reference.values[l]));
            }

            // targetNll trims to the answer rows by default; untrimmed it runs every row.
            const std::vector<int> tokens(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + T);
            const std::vector<int> targets = {int(T) - 6, int(T) - 3, int(T) - 1};
            QVERIFY(lm->trimsLastLayer());
            const std::vector<double> trimmed = lm->targetNll(tokens, targets);
            lm->setTrimLastLayer(false);
            const std::vector<double> untrimmed = lm->targetNll(tokens, targets);
            lm->setTrimLastLayer(true);
            for (size_t k = 0; k < targets.size(); ++k)
                QVERIFY2(std::abs(trimmed[k] - untrimmed[k]) <= 1e-5 * std::max(1.0, std::abs(untrimmed[k])),
                         qPrintable(QStringLiteral("%1 target %2: %3 vs %4").arg(fixture).arg(targets[k]).arg(trimmed[k]).arg(untrimmed[k])));
        }
    }

    void badArguments()
    {
        const auto lm = CausalLM::load(modelDir(QStringLiteral("llama-plain")));
        QVERIFY_THROWS_EXCEPTION(Error, lm->meanNextTokenLoss({1}));
        QVERIFY_THROWS_EXCEPTION(Error, lm->meanNextTokenLoss({1, 320}));
        QVERIFY_THROWS_EXCEPTION(Error, lm->meanNextTokenLoss({1, -1}));
        QVERIFY_THROWS_EXCEPTION(Error, lm->targetNll({1, 2, 3}, {0}));
        QVERIFY_THROWS_EXCEPTION(Error, lm->targetNll({1, 2, 3}, {3}));
        QVERIFY_THROWS_EXCEPTION(Error, lm->logitsAt({1, 2, 3}, {3}));
        QVERIFY_THROWS_EXCEPTION(Error, CausalLM::load(modelDir(QStringLiteral("llama-plain")), {QStringLiteral("tpu"), {}}));
        QVERIFY_THROWS_EXCEPTION(Error, CausalLM::load(modelDir(QStringLiteral("llama-plain")), {QStringLiteral("cpu"), QStringLiteral("int8")}));
    }

    void badCheckpoints_data()
    {
        QTest::addColumn<QString>("fixture");
        QTest::addColumn<QString>("edit");
        QTest::addColumn<QString>("tensor");
        QTest::newRow("llama missing") << "llama-plain" << "rename" << "model.layers.1.self_attn.k_proj.weight";
        QTest::newRow("qwen2 missing bias") << "qwen2-plain" << "remove" << "model.layers.0.self_attn.q_proj.bias";
        QTest::newRow("phi3 missing fused") << "phi3-plain" << "remove" << "model.layers.0.mlp.gate_up_proj.weight";
        QTest::newRow("llama extra") << "llama-plain" << "extra" << "model.layers.0.self_attn.q_proj.bias";
        QTest::newRow("mistral wrong shape") << "mistral-plain" << "shape" << "model.layers.0.mlp.up_proj.weight";
        QTest::newRow("phi3 wrong shape") << "phi3-longrope" << "shape" << "model.layers.1.self_attn.qkv_proj.weight";
        QTest::newRow("lm_head missing") << "qwen2-longrope" << "remove" << "lm_head.weight";
    }

    void badCheckpoints()
    {
        QFETCH(QString, fixture);
        QFETCH(QString, edit);
        QFETCH(QString, tensor);
        QTemporaryDir tmp;
        auto tensors = readSafetensors(modelDir(fixture) + QStringLiteral("/model.safetensors"));
        if (edit == QLatin1String("rename")) {
            QVERIFY(tensors.count(tensor));
            tensors[tensor + QStringLiteral("_renamed")] = tensors[tensor];
            tensors.erase(tensor);
        } else if (edit == QLatin1String("remove")) {
            QVERIFY(tensors.erase(tensor) == 1);
        } else if (edit == QLatin1String("extra")) {
            QVERIFY(!tensors.count(tensor));
            tensors[tensor] = {QStringLiteral("F32"), QJsonArray{64}, QByteArray(64 * 4, '\0')};
        } else if (edit == QLatin1String("shape")) {
            RawTensor &t = tensors.at(tensor);
            const int rows = t.shape[0].toInt() - 1, cols = t.shape[1].toInt();
            t.shape = QJsonArray{rows, cols};
            t.bytes.truncate(rows * cols * 4);
        }
        const QString dir = modifiedCopy(tmp, fixture, tensors);
        try {
            CausalLM::load(dir);
            QFAIL("loaded a checkpoint that does not match its config");
        } catch (const Error &e) {
            QVERIFY2(e.message().contains(dir), qPrintable(e.message()));
            QVERIFY2(e.message().contains(tensor), qPrintable(e.message()));
        }
    }

    void missingFolder()
    {
        QTemporaryDir tmp;
        const QString dir = tmp.filePath(QStringLiteral("no-such-model"));
        try {
            CausalLM::load(dir);
            QFAIL("loaded a folder that does not exist");
        } catch (const Error &e) {
            QVERIFY2(e.message().contains(dir), qPrintable(e.message()));
        }
        // A folder with a config but no checkpoint.
        QDir().mkpath(dir);
        QFile::copy(modelDir(QStringLiteral("llama-plain")) + QStringLiteral("/config.json"), dir + QStringLiteral("/config.json"));
        try {
            CausalLM::load(dir);
            QFAIL("loaded a folder without weights");
        } catch (const Error &e) {
            QVERIFY2(e.message().contains(dir), qPrintable(e.message()));
        }
    }

    void unsupportedArchitecture()
    {
        QTemporaryDir tmp;
        QJsonObject cfg = readJson(modelDir(QStringLiteral("llama-plain")) + QStringLiteral("/config.json"));
        cfg[QStringLiteral("model_type")] = QStringLiteral("gpt2");
        const QString dir = modifiedCopy(tmp, QStringLiteral("llama-plain"),
                                         readSafetensors(modelDir(QStringLiteral("llama-plain")) + QStringLiteral("/model.safetensors")), cfg);
        try {
            CausalLM::load(dir);
            QFAIL("loaded an unsupported architecture");
        } catch (const Error &e) {
            QVERIFY2(e.message().contains(QLatin1String("gpt2")), qPrintable(e.message()));
        }
    }

    // Weights stored as BF16 load into float32, and float32 weights run in bfloat16 on the CPU.
    void reducedPrecision()
    {
        const QString fixture = QStringLiteral("llama-longrope");
        const QJsonObject ref = readJson(modelDir(fixture) + QStringLiteral("/reference.json")).value(QLatin1String("300")).toObject();
        const std::vector<int> ids = intList(ref.value(QLatin1String("input_ids")).toArray());
        const double refLoss = ref.value(QLatin1String("loss")).toDouble();
        const auto bf16 = CausalLM::load(modelDir(fixture), {QStringLiteral("cpu"), QStringLiteral("bfloat16")});
        QCOMPARE(bf16->dtype(), QStringLiteral("bfloat16"));
        const double lossBf16 = bf16->meanNextTokenLoss(ids);
        QVERIFY2(std::abs(lossBf16 - refLoss) < 0.05 * refLoss, qPrintable(QString::number(lossBf16)));

        // A BF16 checkpoint (float32 truncated to its high half) read as float32.
        auto tensors = readSafetensors(modelDir(fixture) + QStringLiteral("/model.safetensors"));
        for (auto &[name, t] : tensors) {
            QByteArray half;
            for (qsizetype i = 0; i < t.bytes.size(); i += 4)
                half += t.bytes.mid(i + 2, 2);  // little-endian: the high 16 bits
            t.dtype = QStringLiteral("BF16");
            t.bytes = half;
        }
        QTemporaryDir tmp;
        const auto fromBf16 = CausalLM::load(modifiedCopy(tmp, fixture, tensors));
        QCOMPARE(fromBf16->dtype(), QStringLiteral("float32"));
        const double lossFromBf16 = fromBf16->meanNextTokenLoss(ids);
        QVERIFY2(std::abs(lossFromBf16 - refLoss) < 0.05 * refLoss, qPrintable(QString::number(lossFromBf16)));
        QVERIFY(lossFromBf16 != refLoss);
    }

    // Several models, used from worker threads at the same time, give the same numbers.
    void threads()
    {
        const QJsonObject ref = readJson(modelDir(QStringLiteral("phi3-plain")) + QStringLiteral("/reference.json")).value(QLatin1String("300")).toObject();
        const std::vector<int> ids = intList(ref.value(QLatin1String("input_ids")).toArray());
        const auto a = CausalLM::load(modelDir(QStringLiteral("phi3-plain")));
        const auto b = CausalLM::load(modelDir(QStringLiteral("qwen2-plain")));
        const double expectA = a->meanNextTokenLoss(ids), expectB = b->meanNextTokenLoss(ids);
        double gotA = 0, gotB = 0, gotA2 = 0;
        std::thread t1([&] { gotA = a->meanNextTokenLoss(ids); });
        std::thread t2([&] { gotB = b->meanNextTokenLoss(ids); });
        std::thread t3([&] { gotA2 = a->meanNextTokenLoss(ids); });
        t1.join();
        t2.join();
        t3.join();
        QCOMPARE(gotA, expectA);
        QCOMPARE(gotA2, expectA);
        QCOMPARE(gotB, expectB);
    }

    void cuda()
    {
        if (!cudaAvailable())
            QSKIP("LibTorch has no CUDA device here");
        for (const QString &fixture : kFixtures) {
            const QJsonObject ref = readJson(modelDir(fixture) + QStringLiteral("/reference.json")).value(QLatin1String("300")).toObject();
            const std::vector<int> ids = intList(ref.value(QLatin1String("input_ids")).toArray());
            const double refLoss = ref.value(QLatin1String("loss")).toDouble();
            const auto gpu = CausalLM::load(modelDir(fixture), {QStringLiteral("cuda"), {}});
            QCOMPARE(gpu->dtype(), QStringLiteral("bfloat16"));
            QVERIFY(gpu->device().startsWith(QLatin1String("cuda")));
            const double loss = gpu->meanNextTokenLoss(ids);
            qInfo("%s cuda bf16 loss %.5f vs transformers fp32 %.5f", qPrintable(fixture), loss, refLoss);
            QVERIFY2(std::abs(loss - refLoss) < 0.05 * refLoss, qPrintable(QString::number(loss)));
            const auto gpu32 = CausalLM::load(modelDir(fixture), {QStringLiteral("cuda"), QStringLiteral("float32")});
            const double loss32 = gpu32->meanNextTokenLoss(ids);
            QVERIFY2(std::abs(loss32 - refLoss) < 2e-3 * refLoss, qPrintable(QString::number(loss32)));
        }
    }
};

QTEST_GUILESS_MAIN(TestModel)
#include "test_model.moc"
