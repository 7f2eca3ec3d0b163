// The shipped tiny model (resources/embedded-model): it is in the binary, small, loads through the
// runtime, and shows the phenomenon RopeScope exists for. Needle PPL here is the perplexity of
// the 7-digit value's tokens; a model that cannot use the context at all still knows a digit
// follows, so 10^(7/8) ≈ 7.5 (one of ten digits, over the space and 7 digits) is the
// no-information reference.
#include "runtime/embeddedmodel.h"
#include "eval/evaluator.h"
#include "rope/factorfamilies.h"
#include "runtime/model.h"
#include "runtime/tokenizer.h"

#include <QDir>
#include <QFileInfo>
#include <QTest>

#include <map>
#include <memory>
#include <optional>
#include <tuple>

using namespace rs;

class TestEmbeddedModel : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void shippedAndSmall()
    {
        QVERIFY(hasEmbeddedModel());
        const QString dir = embeddedModelDir();
        qint64 bytes = 0;
        for (const QString &f : {QStringLiteral("config.json"), QStringLiteral("model.safetensors"), QStringLiteral("tokenizer.json")}) {
            const QFileInfo info(QDir(dir).filePath(f));
            QVERIFY2(info.exists(), qPrintable(info.filePath()));
            bytes += info.size();
        }
        QVERIFY2(bytes < 8 * 1024 * 1024, qPrintable(QString::number(bytes)));
        QCOMPARE(embeddedModelDir(), dir);  // the second call finds the cached copy
    }

    // Trained at L_train = 512 with d_tcd = 18 of 32 pairs (LLaMA3-8B: 35 of 64).
    void geometryAsDocumented()
    {
        const auto lm = CausalLM::load(embeddedModelDir());
        const RopeConfig &c = lm->ropeConfig();
        QCOMPARE(c.trainLength, 512.0);
        QCOMPARE(c.rotaryDims, 64);
        QCOMPARE(c.base, 3000.0);
        // d_tcd = ceil(32 · ln(512 / 2π) / ln 3000) = ceil(17.59) = 18.
        QCOMPARE(int(std::ceil(32 * std::log(512 / (2 * M_PI)) / std::log(3000.0))), 18);
        QVERIFY(lm->numLayers() == 3 && lm->hiddenSize() == 256 && lm->vocabSize() == 256);
    }

    // Within L_train the model retrieves: the value's 7 digits are random, so only a copy from the
    // needle predicts them. Guessing a digit uniformly gives a needle PPL of 10^(7/8) ≈ 7.5 over
    // the 8 answer tokens (" " + 7 digits, the space being certain); below 2 the geometric-mean
    // probability of each answer token is above 1/2, i.e. the copy is right far more often than
    // chance (1/10). Passkey: greedy decoding must give all 7 digits right in most samples.
    // Samples: seed 1000, away from the search's samples 0 … 3. (Each question is its own test
    // function, so that none comes near QtTest's 300 s watchdog on a busy machine; the passkeys are
    // decoded from the needle forward's KV cache.)
    void retrievesWithinTrainingLength()
    {
        const NeedleEvalResult &inside = evaluate(Model::Base, 512, Rope::Original);
        qInfo("original RoPE at 512: needle PPL %.3f, passkey %.0f%%", inside.meanPpl, 100 * inside.passkeyAccuracy);
        QVERIFY2(inside.meanPpl < 2.0, qPrintable(QString::number(inside.meanPpl)));
        QVERIFY2(inside.passkeyAccuracy >= 0.6, qPrintable(QString::number(inside.passkeyAccuracy)));
    }

    // At 2 × and 8 × L_train the original RoPE breaks (its high dimensions meet rotation angles never
    // trained on): no passkey is retrieved and the needle PPL is worse than a uniform guess.
    void breaksAtTwiceTrainingLength()
    {
        const double twice = evaluate(Model::Base, 1024, Rope::Original).meanPpl;
        qInfo("original RoPE at 1024: needle PPL %.2f", twice);
        QVERIFY(twice > 7.5);  // worse than guessing a digit
    }

    void breaksAtEightTimesTrainingLength()
    {
        const double inside = evaluate(Model::Base, 512, Rope::Original).meanPpl;
        const NeedleEvalResult &outside = evaluate(Model::Base, 4096, Rope::Original);
        qInfo("original RoPE at 4096: needle PPL %.2f, passkey %.0f%%", outside.meanPpl, 100 * outside.passkeyAccuracy);
        QVERIFY(outside.meanPpl > 7.5);  // worse than guessing a digit
        QVERIFY(outside.meanPpl > 10 * inside);
        QCOMPARE(outside.passkeyAccuracy, 0.0);
    }

    // Reported, not asserted: static PI without fine-tuning is no better on this model (see the
    // README's table), unlike the expectation.
    void piAtEightTimesTrainingLength()
    {
        const double piOutside = evaluate(Model::Base, 4096, Rope::Pi).meanPpl;
        qInfo("PI at 4096: needle PPL %.2f", piOutside);
        QVERIFY(std::isfinite(piOutside));
    }

    // LongRoPE2's mixed context window fine-tuning with the searched factors (the recipe's step 3,
    // committed under results/miniature-8x/finetuned) keeps retrieval within L_train (its
    // config uses the short factors up to 512 tokens) …
    void fineTunedRetrievesWithinTrainingLength()
    {
        const double tunedInside = evaluate(Model::FineTuned, 512, Rope::Config).meanPpl;
        qInfo("fine-tuned at 512: needle PPL %.3f", tunedInside);
        QVERIFY(tunedInside < 2.0);
    }

    // … and brings it back at 8 × L_train, where it switches to the long factors.
    void fineTuningRepairsEightTimesTrainingLength()
    {
        const double tunedOutside = evaluate(Model::FineTuned, 4096, Rope::Config).meanPpl;
        // The base model's config is plain: its own RoPE is the original (shared with the test above).
        const double baseOutside = evaluate(Model::Base, 4096, Rope::Original).meanPpl;
        qInfo("needle PPL at 4096: base %.2f, fine-tuned %.3f", baseOutside, tunedOutside);
        QVERIFY(tunedOutside < 3.75);  // retrieval back: below half a uniform guess's 7.5
        QVERIFY(tunedOutside < baseOutside / 5);
    }

private:
    enum class Model { Base, FineTuned };
    enum class Rope { Original, Pi, Config };
    struct Loaded {
        std::unique_ptr<CausalLM> model;
        ModelTokenizer tokenizer;
    };

    Loaded &model(Model which)
    {
        std::unique_ptr<Loaded> &slot = which == Model::Base ? m_base : m_tuned;
        if (!slot) {
            const QString dir = which == Model::Base ? embeddedModelDir()
                                                     : QStringLiteral(ROPESCOPE_SOURCE_DIR "/results/miniature-8x/finetuned");
            slot = std::make_unique<Loaded>(Loaded{CausalLM::load(dir), loadModelTokenizer(dir)});
        }
        return *slot;
    }

    // 8 samples of seed 1000 at `length`, needle PPL and passkeys from one forward each. Each figure
    // is computed once per run and shared by the functions that need it, so that every function
    // stays small even when it runs alone.
    const NeedleEvalResult &evaluate(Model which, int length, Rope rope)
    {
        const auto key = std::make_tuple(int(which), length, int(rope));
        const auto found = m_results.find(key);
        if (found != m_results.end())
            return found->second;
        Loaded &m = model(which);
        std::optional<RopeOverride> override;
        if (rope == Rope::Original)
            override = RopeOverride{std::vector<double>(32, 1.0), 1.0};
        else if (rope == Rope::Pi) {
            const FactorSet pi = standardFamilies(m.model->ropeConfig(), 4096).at(QStringLiteral("pi"));
            override = RopeOverride{pi.lambda, pi.attentionFactor};
        }
        NeedleEvalSettings s;
        s.length = length;
        s.samples = 8;
        s.seed = 1000;
        const NeedleEvaluator evaluator(*m.model, *m.tokenizer.tokenizer, m.tokenizer.bosId, s);
        return m_results[key] = evaluator.evaluate(override ? &*override : nullptr, {}, {}, /*passkey=*/true);
    }

    std::unique_ptr<Loaded> m_base, m_tuned;
    std::map<std::tuple<int, int, int>, NeedleEvalResult> m_results;
};

QTEST_GUILESS_MAIN(TestEmbeddedModel)
#include "test_embeddedmodel.moc"
