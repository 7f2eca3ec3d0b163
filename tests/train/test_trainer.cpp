// The trainer (train/trainer.h, trainer_p.h) on a tiny Llama: training lowers the loss, runs are
// reproducible for a seed, the written folder is an HF checkpoint CausalLM::load reads back with the
// same loss, mixed-window batches carry the masks and RoPE of LongRoPE2 §3.3 (checked against
// cos/sin computed here from θ_i = b^(−2i/d) / λ_i), and the fine-tuned config switches at L_train.
#include "train/trainer_p.h"

#include "common/error.h"
#include "rope/factorfile.h"
#include "runtime/safetensors.h"
#include "runtime/tokenizer.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>

using namespace rs;

namespace {

const QString kTokenizer = QStringLiteral(ROPESCOPE_FIXTURES "/tokenizers/bytes-256-tokenizer.json");

// hidden 32, 2 heads of 16 sharing one KV head, L_train 64.
QJsonObject tinyConfig(bool tied = true, int maxPositions = 64)
{
    return QJsonObject{{QStringLiteral("architectures"), QJsonArray{QStringLiteral("LlamaForCausalLM")}},
                       {QStringLiteral("model_type"), QStringLiteral("llama")},
                       {QStringLiteral("vocab_size"), 256},
                       {QStringLiteral("hidden_size"), 32},
                       {QStringLiteral("intermediate_size"), 64},
                       {QStringLiteral("num_hidden_layers"), 2},
                       {QStringLiteral("num_attention_heads"), 2},
                       {QStringLiteral("num_key_value_heads"), 1},
                       {QStringLiteral("max_position_embeddings"), maxPositions},
                       {QStringLiteral("rope_theta"), 10000.0},
                       {QStringLiteral("rms_norm_eps"), 1e-5},
                       {QStringLiteral("tie_word_embeddings"), tied}};
}

TrainOptions tinyOptions(uint64_t seed = 0, int steps = 4)
{
    TrainOptions o;
    o.config = tinyConfig();
    o.tokenizerPath = kTokenizer;
    o.steps = steps;
    o.batch = 4;
    o.seqLen = 64;
    o.lr = 3e-3;
    o.warmup = 2;
    o.seed = seed;
    o.minDocTokens = 16;
    return o;
}

QByteArray fileHash(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return QCryptographicHash::hash(f.readAll(), QCryptographicHash::Sha256);
}

QJsonObject readJson(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return QJsonDocument::fromJson(f.readAll()).object();
}

std::vector<double> testFactors()
{
    // 8 rotary pairs (head_dim 16), monotone, ≥ 1: λ_i = 1 + i/2.
    std::vector<double> f;
    for (int i = 0; i < 8; ++i)
        f.push_back(1.0 + 0.5 * i);
    return f;
}

// A tiny base model pretrained a few steps at L_train = 32, saved to `dir`: what the fine-tuning
// tests start from.
void saveTinyBase(const QString &dir)
{
    TrainOptions o = tinyOptions(5, 2);
    o.config = tinyConfig(true, 32);
    o.seqLen = 32;
    Trainer t(o);
    t.run();
    t.save(dir);
}

// Fine-tuning of that base to 128 tokens (4 × L_train) with testFactors(); the window kind is the
// caller's.
TrainOptions fineTuneOptions(const QString &base)
{
    TrainOptions o;
    o.initDir = base;  // tokenizer: the folder's
    o.seqLen = 128;
    o.longFactors = testFactors();
    o.steps = 2;
    o.batch = 2;
    o.minDocTokens = 8;
    return o;
}

} // namespace

class TestTrainer : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void learningRateSchedule()
    {
        TrainOptions o = tinyOptions(0, 12);
        o.warmup = 4;
        o.minLrRatio = 0.1;
        Trainer t(o);
        // Linear warmup: lr·(s+1)/warmup; then cosine from lr (step 4) down to lr·0.1 (last step 11).
        QCOMPARE(t.learningRate(0), 3e-3 / 4);
        QCOMPARE(t.learningRate(3), 3e-3);
        QCOMPARE(t.learningRate(4), 3e-3);
        const double mid = 3e-4 + 0.5 * (3e-3 - 3e-4) * (1 + std::cos(M_PI * 3.0 / 7.0));
        QVERIFY(std::abs(t.learningRate(7) - mid) < 1e-12);
        QVERIFY(std::abs(t.learningRate(11) - 3e-4) < 1e-12);
    }

    void lossGoesDown()
    {
        Trainer t(tinyOptions(0, 40));
        const std::vector<PackedRow> fixed = t.batchRows(0);
        const double before = t.loss(fixed);
        // Fresh weights (std 0.02) give nearly uniform predictions over the 256 tokens: ln 256.
        QVERIFY2(std::abs(before - std::log(256.0)) < 0.05, qPrintable(QString::number(before)));
        const TrainResult r = t.run();
        QCOMPARE(r.steps, 40);
        QVERIFY(!r.cancelled);
        const double after = t.loss(fixed);
        qInfo("loss on a fixed batch %.3f -> %.3f, %.0f tokens/s", before, after, r.tokensPerSecond);
        // English-like bytes: the unigram entropy alone is ~4.1 nats below ln 256's 5.55.
        QVERIFY2(after < before - 1.0, qPrintable(QString::number(after)));
        QVERIFY(r.losses.back() < r.losses.front());
    }

    void sameSeedSameWeights()
    {
        QTemporaryDir tmp;
        const auto train = [&](uint64_t seed, const QString &name) {
            Trainer t(tinyOptions(seed, 3));
            t.run();
            t.save(tmp.filePath(name));
            return fileHash(tmp.filePath(name + QStringLiteral("/model.safetensors")));
        };
        const QByteArray a = train(1, QStringLiteral("a")), b = train(1, QStringLiteral("b")), c = train(2, QStringLiteral("c"));
        QVERIFY(!a.isEmpty());
        QCOMPARE(a, b);
        QVERIFY(a != c);
    }

    void savedFolderLoadsWithTheSameLoss_data()
    {
        QTest::addColumn<bool>("tied");
        QTest::addColumn<QString>("dtype");
        QTest::newRow("tied float32") << true << "float32";
        QTest::newRow("untied float32") << false << "float32";
        QTest::newRow("tied bfloat16") << true << "bfloat16";
    }

    void savedFolderLoadsWithTheSameLoss()
    {
        QFETCH(bool, tied);
        QFETCH(QString, dtype);
        TrainOptions o = tinyOptions(3, 3);
        o.config = tinyConfig(tied);
        Trainer t(o);
        t.run();
        QTemporaryDir tmp;
        const QString dir = tmp.filePath(QStringLiteral("model"));
        t.save(dir, dtype);

        const QJsonObject config = readJson(dir + QStringLiteral("/config.json"));
        QCOMPARE(config.value(QLatin1String("architectures")).toArray().first().toString(), QStringLiteral("LlamaForCausalLM"));
        QCOMPARE(config.value(QLatin1String("model_type")).toString(), QStringLiteral("llama"));
        QCOMPARE(config.value(QLatin1String("torch_dtype")).toString(), dtype);
        QCOMPARE(config.value(QLatin1String("tie_word_embeddings")).toBool(), tied);
        QCOMPARE(config.value(QLatin1String("num_key_value_heads")).toInt(), 1);
        QCOMPARE(config.value(QLatin1String("rope_theta")).toDouble(), 10000.0);
        QCOMPARE(fileHash(dir + QStringLiteral("/tokenizer.json")), fileHash(kTokenizer));

        const auto st = SafetensorsFile::open(dir + QStringLiteral("/model.safetensors"));
        const QString expectDtype = dtype == QLatin1String("float32") ? QStringLiteral("F32") : QStringLiteral("BF16");
        // transformers' names and shapes: q 2·16 rows, k and v 16 rows each, gate/up 64 rows.
        QCOMPARE(st->info(QStringLiteral("model.layers.1.self_attn.q_proj.weight")).shape, (std::vector<int64_t>{32, 32}));
        QCOMPARE(st->info(QStringLiteral("model.layers.1.self_attn.k_proj.weight")).shape, (std::vector<int64_t>{16, 32}));
        QCOMPARE(st->info(QStringLiteral("model.layers.1.self_attn.v_proj.weight")).shape, (std::vector<int64_t>{16, 32}));
        QCOMPARE(st->info(QStringLiteral("model.layers.0.mlp.gate_proj.weight")).shape, (std::vector<int64_t>{64, 32}));
        QCOMPARE(st->info(QStringLiteral("model.layers.0.mlp.up_proj.weight")).shape, (std::vector<int64_t>{64, 32}));
        QCOMPARE(st->info(QStringLiteral("model.norm.weight")).dtype, expectDtype);
        QCOMPARE(st->contains(QStringLiteral("lm_head.weight")), !tied);
        // 1 embedding + 2 layers × 9 + final norm (+ LM head).
        QCOMPARE(int(st->tensors().size()), 1 + 2 * 9 + 1 + (tied ? 0 : 1));

        const auto loaded = CausalLM::load(dir);
        const std::vector<PackedRow> rows = t.batchRows(7);
        const double inMemory = t.loss(rows);
        const double fromDisk = packedLoss(*loaded, rows, loaded->defaultRope(64), loaded->defaultRope(64));
        qInfo("loss in memory %.6f, from the %s folder %.6f", inMemory, qPrintable(dtype), fromDisk);
        // float32 files hold the same numbers; bf16 rounds each weight to 8 bits of mantissa.
        QVERIFY(std::abs(inMemory - fromDisk) <= (dtype == QLatin1String("float32") ? 1e-5 : 2e-2) * inMemory);
        // The runtime's own loss on one whole row agrees with the packed loss of that row as one document.
        PackedRow whole = rows.front();
        whole.docs = {DocSpan{0, int(whole.ids.size()), false}};
        const double packed = packedLoss(*loaded, {whole}, loaded->defaultRope(64), loaded->defaultRope(64));
        QVERIFY(std::abs(packed - loaded->meanNextTokenLoss(whole.ids)) < 1e-5 * packed);
    }

    void answerTokensWeighted()
    {
        TrainOptions o = tinyOptions(3, 1);
        o.config = tinyConfig(true, 512);
        o.seqLen = 512;
        o.batch = 2;
        o.corpus.needleFraction = 1;
        o.corpus.drillFraction = 0.5;
        Trainer t(o);
        const rs::detail::TorchModel &m = t.model().torchModel();
        std::vector<PackedRow> rows;
        for (int k = 0; k < 2; ++k)
            for (const PackedRow &r : t.batchRows(k))
                rows.push_back(r);

        c10::InferenceMode guard;
        const RopeOverride sr = t.shortRope();
        const rs::detail::RopeTable table = rs::detail::makeRopeTable(m, sr.lambda, sr.attentionFactor);
        const rs::detail::TrainBatch plain = rs::detail::makeTrainBatch(m, rows, table, table, 1.0);
        const rs::detail::TrainBatch weighted = rs::detail::makeTrainBatch(m, rows, table, table, 5.0);
        const rs::detail::BatchLoss l1 = rs::detail::batchLoss(m, plain), l5 = rs::detail::batchLoss(m, weighted);

        // Independently: every next-token log-probability within each document, summed over all
        // targets and over the targets that are answer tokens (listed by the rows, checked to be
        // the space and digits of values).
        const torch::Tensor logp = torch::log_softmax(
            rs::detail::logitsFromHidden(m, rs::detail::forwardHidden(m, plain.ids, plain.rope, plain.allowed)).to(torch::kFloat64), -1)
                                       .contiguous();
        const int64_t T = 512, V = logp.size(-1);
        const double *lp = logp.data_ptr<double>();
        double all = 0, answers = 0;
        int targets = 0, answerTargets = 0;
        for (size_t b = 0; b < rows.size(); ++b) {
            const PackedRow &row = rows[b];
            const QSet<int> answerAt(row.answerPositions.begin(), row.answerPositions.end());
            for (const DocSpan &s : row.docs)
                for (int p = s.start; p + 1 < s.start + s.length; ++p) {
                    const double nll = -lp[(int64_t(b) * T + p) * V + row.ids[size_t(p + 1)]];
                    all += nll;
                    ++targets;
                    if (answerAt.contains(p + 1)) {
                        const int byte = row.ids[size_t(p + 1)];
                        QVERIFY2(byte == ' ' || (byte >= '0' && byte <= '9'), qPrintable(QString::number(byte)));
                        answers += nll;
                        ++answerTargets;
                    }
                }
        }
        QCOMPARE(answerTargets, [&] { int n = 0; for (const PackedRow &r : rows) n += int(r.answerPositions.size()); return n; }());
        QVERIFY(answerTargets >= 4 * 8);  // at least one needle per row, several with drills
        const double w = 5.0;
        const double expectedPlain = all / targets, expectedAnswer = answers / answerTargets;
        const double expectedWeighted = (all + (w - 1) * answers) / (targets + (w - 1) * answerTargets);
        qInfo("%d targets, %d answer targets: loss %.5f, answer loss %.5f, weighted %.5f", targets, answerTargets,
              expectedPlain, expectedAnswer, expectedWeighted);
        QVERIFY(std::abs(l1.loss.item<double>() - expectedPlain) < 1e-5 * expectedPlain);
        QVERIFY(std::abs(l1.answerLoss.item<double>() - expectedAnswer) < 1e-5 * expectedAnswer);
        QVERIFY(std::abs(l5.answerLoss.item<double>() - expectedAnswer) < 1e-5 * expectedAnswer);
        QVERIFY(std::abs(l5.loss.item<double>() - expectedWeighted) < 1e-5 * expectedWeighted);
        // Without needles there is no answer loss to report.
        std::vector<PackedRow> plainRows = rows;
        for (PackedRow &r : plainRows)
            r.answerPositions.clear();
        QVERIFY(std::isnan(rs::detail::batchLoss(m, rs::detail::makeTrainBatch(m, plainRows, table, table, 5.0)).answerLoss.item<double>()));
    }

    void mixedWindowBatch_data()
    {
        QTest::addColumn<bool>("originalShort");
        QTest::newRow("runtime short RoPE") << false;
        QTest::newRow("original short RoPE") << true;
    }

    void mixedWindowBatch()
    {
        QFETCH(bool, originalShort);
        TrainOptions o = tinyOptions(4, 2);
        o.config = tinyConfig(true, 32);  // L_train 32
        o.mixedWindow = true;
        o.seqLen = 128;                    // L = 4 · L_train
        o.longFactors = testFactors();
        o.minDocTokens = 8;
        o.originalShortRope = originalShort;
        o.batch = 6;
        Trainer t(o);
        const rs::detail::TorchModel &m = t.model().torchModel();
        // Formulas: s = 128/32 = 4; longrope's attention factor sqrt(1 + ln s / ln L_train).
        const double attention = std::sqrt(1 + std::log(4.0) / std::log(32.0));
        const double shortAttention = originalShort ? 1.0 : attention;

        std::vector<PackedRow> rows;
        for (int k = 0; k < 4; ++k)
            for (const PackedRow &r : t.batchRows(k))
                rows.push_back(r);
        int longDocs = 0, shortDocs = 0;
        for (const PackedRow &r : rows)
            for (const DocSpan &s : r.docs)
                (s.longRope ? longDocs : shortDocs) += 1;
        QVERIFY2(longDocs >= 2 && shortDocs >= 4, "the batches should mix long and short documents");

        c10::InferenceMode guard;
        const RopeOverride sr = t.shortRope(), lr = t.longRope();
        const rs::detail::TrainBatch batch = rs::detail::makeTrainBatch(
            m, rows, rs::detail::makeRopeTable(m, sr.lambda, sr.attentionFactor), rs::detail::makeRopeTable(m, lr.lambda, lr.attentionFactor));
        const int64_t B = int64_t(rows.size()), T = 128;
        QCOMPARE(batch.allowed.sizes().vec(), (std::vector<int64_t>{B, T, T}));
        QCOMPARE(batch.rope.cos.sizes().vec(), (std::vector<int64_t>{B, T, 16}));

        const torch::Tensor allowed = batch.allowed.to(torch::kCPU).contiguous();
        const torch::Tensor cosT = batch.rope.cos.to(torch::kCPU, torch::kFloat64).contiguous();
        const torch::Tensor sinT = batch.rope.sin.to(torch::kCPU, torch::kFloat64).contiguous();
        const torch::Tensor targets = batch.targets.to(torch::kCPU).contiguous();
        const bool *ok = allowed.data_ptr<bool>();
        const double *cs = cosT.data_ptr<double>(), *sn = sinT.data_ptr<double>();
        const int64_t *tg = targets.data_ptr<int64_t>();
        const std::vector<double> lambda = testFactors();
        double worst = 0;
        for (int64_t b = 0; b < B; ++b) {
            const PackedRow &row = rows[size_t(b)];
            std::vector<int> docOf(T), offset(T);
            std::vector<bool> isLong(T);
            for (size_t k = 0; k < row.docs.size(); ++k)
                for (int p = 0; p < row.docs[k].length; ++p) {
                    docOf[size_t(row.docs[k].start + p)] = int(k);
                    offset[size_t(row.docs[k].start + p)] = p;
                    isLong[size_t(row.docs[k].start + p)] = row.docs[k].longRope;
                }
            for (int64_t i = 0; i < T; ++i) {
                // Block-diagonal causal mask: a token sees exactly the earlier tokens of its document.
                for (int64_t j = 0; j < T; ++j)
                    if (ok[(b * T + i) * T + j] != (j <= i && docOf[size_t(j)] == docOf[size_t(i)]))
                        QFAIL(qPrintable(QStringLiteral("mask wrong at row %1, query %2, key %3").arg(b).arg(i).arg(j)));
                // Next token within the document, nothing across its end.
                const bool last = i + 1 == T || docOf[size_t(i + 1)] != docOf[size_t(i)];
                QCOMPARE(tg[b * T + i], last ? int64_t(rs::detail::kIgnoreTarget) : int64_t(row.ids[size_t(i + 1)]));
                // cos/sin at the position within the document: θ_k = b^(−2k/d) / λ_k, times the factor.
                const double p = offset[size_t(i)];
                for (int k = 0; k < 8; ++k) {
                    const double theta = std::pow(10000.0, -2.0 * k / 16.0) / (isLong[size_t(i)] ? lambda[size_t(k)] : 1.0);
                    const double a = isLong[size_t(i)] ? attention : shortAttention;
                    for (int half : {0, 8}) {
                        worst = std::max(worst, std::abs(cs[(b * T + i) * 16 + k + half] - a * std::cos(p * theta)));
                        worst = std::max(worst, std::abs(sn[(b * T + i) * 16 + k + half] - a * std::sin(p * theta)));
                    }
                }
            }
        }
        qInfo("max |cos/sin - formula| = %.3g over %d long and %d short documents", worst, longDocs, shortDocs);
        QVERIFY(worst < 2e-5);  // float32 angles up to 127 rad
    }

    void fineTunedConfigSwitchesAtTrainLength()
    {
        QTemporaryDir tmp;
        const QString base = tmp.filePath(QStringLiteral("base"));
        saveTinyBase(base);
        TrainOptions o = fineTuneOptions(base);
        o.mixedWindow = true;
        Trainer t(o);
        const TrainResult r = t.run();
        QCOMPARE(r.steps, 2);
        const QString tuned = tmp.filePath(QStringLiteral("tuned"));
        t.save(tuned, QStringLiteral("bfloat16"));

        const QJsonObject config = readJson(tuned + QStringLiteral("/config.json"));
        QCOMPARE(config.value(QLatin1String("max_position_embeddings")).toInt(), 128);
        const QJsonObject scaling = config.value(QLatin1String("rope_scaling")).toObject();
        QCOMPARE(scaling.value(QLatin1String("rope_type")).toString(), QStringLiteral("longrope"));
        QCOMPARE(scaling.value(QLatin1String("original_max_position_embeddings")).toInt(), 32);
        QCOMPARE(scaling.value(QLatin1String("short_factor")).toArray(), (QJsonArray{1, 1, 1, 1, 1, 1, 1, 1}));
        QCOMPARE(scaling.value(QLatin1String("long_factor")).toArray(), (QJsonArray{1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5}));
        QVERIFY(!scaling.contains(QLatin1String("attention_factor")));  // the default is implied

        const auto lm = CausalLM::load(tuned);
        const double attention = std::sqrt(1 + std::log(4.0) / std::log(32.0));
        const RopeOverride atTrain = lm->defaultRope(32), beyond = lm->defaultRope(33);
        QCOMPARE(atTrain.lambda, std::vector<double>(8, 1.0));
        QCOMPARE(beyond.lambda, testFactors());
        QVERIFY(std::abs(beyond.attentionFactor - attention) < 1e-12);
        // The trainer used exactly what the runtime picks.
        QCOMPARE(t.longRope().lambda, beyond.lambda);
        QCOMPARE(t.longRope().attentionFactor, beyond.attentionFactor);
        QCOMPARE(t.shortRope().attentionFactor, atTrain.attentionFactor);

        // Errors name the setting: a target within L_train, factors of the wrong length.
        o.seqLen = 32;
        QVERIFY_THROWS_EXCEPTION(Error, Trainer{o});
        o.seqLen = 128;
        o.longFactors.pop_back();
        QVERIFY_THROWS_EXCEPTION(Error, Trainer{o});
    }

    // Plain long-window fine-tuning (how PI, NTK, YaRN and LongRoPE v1 are fine-tuned in the fair
    // miniature) differs from mixed windows only in the RoPE of the short documents: the same rows
    // from the same seed, every document rescaled, and a config whose short factors are the long
    // ones, so the saved model runs the rescaled RoPE at every length (a static PI / YaRN).
    void plainWindowRescalesEveryDocument()
    {
        QTemporaryDir tmp;
        const QString base = tmp.filePath(QStringLiteral("base"));
        saveTinyBase(base);
        TrainOptions o = fineTuneOptions(base);
        o.batch = 3;
        o.seed = 11;
        o.mixedWindow = true;
        Trainer mixed(o);
        o.mixedWindow = false;
        o.plainWindow = true;
        Trainer plain(o);
        // Formula: longrope's attention factor sqrt(1 + ln s / ln L_train) at s = 128 / 32.
        const double attention = std::sqrt(1 + std::log(4.0) / std::log(32.0));
        for (int k = 0; k < 3; ++k) {
            const std::vector<PackedRow> a = mixed.batchRows(k), b = plain.batchRows(k);
            QCOMPARE(a.size(), b.size());
            for (size_t r = 0; r < a.size(); ++r) {
                QCOMPARE(a[r].ids, b[r].ids);
                QCOMPARE(a[r].docs.size(), b[r].docs.size());
            }
        }
        QCOMPARE(plain.shortRope().lambda, testFactors());
        QCOMPARE(plain.longRope().lambda, testFactors());
        QVERIFY(std::abs(plain.shortRope().attentionFactor - attention) < 1e-12);
        QVERIFY(std::abs(plain.longRope().attentionFactor - attention) < 1e-12);
        QCOMPARE(mixed.shortRope().lambda, std::vector<double>(8, 1.0));
        // Different RoPE on the short documents, so a different loss on the same rows.
        const std::vector<PackedRow> rows = plain.batchRows(0);
        QVERIFY(std::abs(mixed.loss(rows) - plain.loss(rows)) > 1e-6);

        QCOMPARE(plain.run().steps, 2);
        const QString tuned = tmp.filePath(QStringLiteral("plain"));
        plain.save(tuned);
        const QJsonObject scaling = readJson(tuned + QStringLiteral("/config.json")).value(QLatin1String("rope_scaling")).toObject();
        QCOMPARE(scaling.value(QLatin1String("short_factor")).toArray(), (QJsonArray{1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5}));
        QCOMPARE(scaling.value(QLatin1String("long_factor")).toArray(), (QJsonArray{1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5}));
        const auto lm = CausalLM::load(tuned);
        QCOMPARE(lm->defaultRope(16).lambda, testFactors());
        QCOMPARE(lm->defaultRope(128).lambda, testFactors());
        QVERIFY(std::abs(lm->defaultRope(16).attentionFactor - attention) < 1e-12);

        // Not both at once.
        o.mixedWindow = true;
        QVERIFY_THROWS_EXCEPTION(Error, Trainer{o});
    }

    void cancel()
    {
        Trainer t(tinyOptions(0, 50));
        std::atomic<bool> stop{false};
        int calls = 0;
        const TrainResult r = t.run([&](const TrainProgress &p) {
            ++calls;
            QCOMPARE(p.step, calls);
            QVERIFY(p.tokensPerSecond > 0);
            if (p.step == 2)
                stop = true;
        }, &stop);
        QVERIFY(r.cancelled);
        QCOMPARE(r.steps, 2);
        QCOMPARE(t.stepsDone(), 2);
    }

    void badSetup()
    {
        TrainOptions o = tinyOptions();
        o.tokenizerPath.clear();
        QVERIFY_THROWS_EXCEPTION(Error, Trainer{o});
        o = tinyOptions();
        QJsonObject small = tinyConfig();
        small.insert(QStringLiteral("vocab_size"), 100);  // the byte tokenizer needs 256 rows
        o.config = small;
        try {
            Trainer t(o);
            QFAIL("a vocabulary smaller than the tokenizer's was accepted");
        } catch (const Error &e) {
            QCOMPARE(e.source(), kTokenizer);
        }
    }
};

QTEST_GUILESS_MAIN(TestTrainer)
#include "test_trainer.moc"
