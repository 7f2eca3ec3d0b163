// The shipped tiny model (resources/embedded-model): it is in the binary, small, loads through the
// runtime, and shows the phenomenon RopeScope exists for. Needle PPL here is the perplexity of
// the 7-digit value's tokens; a model that cannot use the context at all still knows a digit
// follows, so about 10 (one of ten digits) is the no-information reference.
#include "embeddedmodel.h"
#include "evaluator.h"
#include "factorfamilies.h"
#include "factorfile.h"
#include "model.h"
#include "tokenizer.h"

#include <QDir>
#include <QFileInfo>
#include <QTest>

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
        QVERIFY(lm->numLayers() == 4 && lm->hiddenSize() == 256 && lm->vocabSize() == 256);
    }

    // Within L_train the original RoPE works; at 8 × L_train it breaks (its high dimensions see
    // rotation angles never trained on), and rescaled RoPE (YaRN, and the LongRoPE2 factors the
    // recipe searched) repairs most of it. Same samples for all (seed 1000, away from the
    // search's samples 0 … 3).
    void breaksBeyondTrainingLengthAndRescalingRepairs()
    {
        const QString dir = embeddedModelDir();
        const auto lm = CausalLM::load(dir);
        const ModelTokenizer tok = loadModelTokenizer(dir);
        const auto ppl = [&](int length, const RopeOverride *rope) {
            NeedleEvalSettings s;
            s.length = length;
            s.samples = 4;
            s.seed = 1000;
            return NeedleEvaluator(*lm, *tok.tokenizer, tok.bosId, s).evaluate(rope).meanPpl;
        };
        const RopeOverride original{std::vector<double>(32, 1.0), 1.0};
        const double inside = ppl(512, &original);
        const double outside = ppl(4096, &original);
        const FactorSet yarn = standardFamilies(lm->ropeConfig(), 4096).at(QStringLiteral("yarn"));
        const RopeOverride yarnRope{yarn.lambda, yarn.attentionFactor};
        const double yarnOutside = ppl(4096, &yarnRope);
        const RopeOverride searched{readFactorFile(QStringLiteral(ROPESCOPE_SOURCE_DIR "/scripts/embedded-model/results/longrope2-factors.txt"), 32),
                                    longropeAttentionFactor(8, 512)};
        const double searchedOutside = ppl(4096, &searched);
        qInfo("needle PPL: original %.3f at 512, %.3f at 4096; YaRN %.3f, searched LongRoPE2 %.3f at 4096", inside,
              outside, yarnOutside, searchedOutside);
        QVERIFY2(inside < 10, "inside L_train the value must be better predicted than a uniform digit");
        QVERIFY(outside > 3 * inside);
        QVERIFY(yarnOutside < outside / 2);
        QVERIFY(searchedOutside < outside / 2);
    }
};

QTEST_GUILESS_MAIN(TestEmbeddedModel)
#include "test_embeddedmodel.moc"
