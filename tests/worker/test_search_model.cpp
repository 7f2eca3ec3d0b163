// The search with a real model as its fitness: a short LongRoPE2 search on the tiny fixture model
// (llama-longrope: d = 16, b = 1e4, L_train = 128) at L = 1024 (s = 8) ends with a needle PPL
// below PI's and the original RoPE's on the same samples, with and without racing.
//
// The fixture's weights are random, so nothing here says the model "retrieves" the needle (its
// PPL is in the thousands, worse than a uniform guess over 320 tokens). What the test relies on
// is only that the RoPE changes the answer tokens' PPL and that at s = 8 the original RoPE is
// clearly worse than PI on these samples (checked below as a premise: at L = 512, s = 4, the
// original is sometimes better than PI and than a short search, so that length would not make a
// meaningful comparison). The search optimizes these very samples, so its best is an in-sample
// figure: the test checks that the search engine, fed the evaluator's per-sample NLL, finds
// factors in the LongRoPE2 space that beat both baselines, not that they generalize.
#include "eval/evaluator.h"
#include "rope/factorfamilies.h"
#include "runtime/model.h"
#include "search/search.h"
#include "runtime/tokenizer.h"

#include <QTest>

#include <cmath>
#include <memory>
#include <vector>

using namespace rs;

class TestSearchModel : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        m_model = CausalLM::load(QStringLiteral(ROPESCOPE_FIXTURES "/models/llama-longrope"));
        m_tokenizer = loadTokenizer(QStringLiteral(ROPESCOPE_FIXTURES "/tokenizers/bytes-256-tokenizer.json"));
    }

    void searchBeatsPiAndOriginal_data()
    {
        QTest::addColumn<bool>("racing");
        QTest::newRow("full evaluation") << false;
        QTest::newRow("racing") << true;
    }

    void searchBeatsPiAndOriginal()
    {
        QFETCH(bool, racing);
        const RopeConfig &config = m_model->ropeConfig();
        QCOMPARE(config.rotaryDims, 16);
        QCOMPARE(config.trainLength, 128);
        const int length = 1024;
        const double s = double(length) / config.trainLength;  // 8
        // Two samples of 1024 byte tokens (the needle template alone is 364 bytes).
        const NeedleEvaluator evaluator(*m_model, *m_tokenizer, -1, {length, 2, 0.0, 3, {}});

        // Baselines, each with its own attention factor (1 for both), and PI with the attention
        // factor the search's candidates get, sqrt(1 + ln 8 / ln 128) = sqrt(1 + 3/7).
        const double longropeAttention = std::sqrt(1.0 + 3.0 / 7.0);
        const RopeOverride original{std::vector<double>(8, 1.0), 1.0};
        const RopeOverride pi{std::vector<double>(8, s), 1.0};
        const RopeOverride piLongropeAttention{std::vector<double>(8, s), longropeAttention};
        const double originalPpl = evaluator.evaluate(&original).meanPpl;
        const double piPpl = evaluator.evaluate(&pi).meanPpl;
        const double piLongropePpl = evaluator.evaluate(&piLongropeAttention).meanPpl;
        QVERIFY2(piPpl < originalPpl, "premise: at s = 8 scaling matters on this model");

        SearchSettings settings;
        settings.rotaryDims = config.rotaryDims;
        settings.base = config.base;
        settings.trainLength = config.trainLength;
        settings.targetLength = length;
        settings.population = 8;
        settings.iterations = 2;
        settings.seed = 3;
        settings.racing = racing;
        EvolutionSearch search(settings);
        QVERIFY(std::abs(search.fixedAttentionFactor() - longropeAttention) < 1e-12);
        const SearchResult r = search.run(SampledFitness{[&](const Candidate &c, int sample) {
                                                             const RopeOverride rope{c.lambda, c.attentionFactor};
                                                             return std::exp(evaluator.sampleNll(sample, &rope));
                                                         },
                                                         2});
        qInfo("L = %d, 2 samples: original %.1f, PI %.1f (with longrope's attention factor %.1f), search best %.1f "
              "(d_rcd %d, %d of %d sample evaluations, saved %d)",
              length, originalPpl, piPpl, piLongropePpl, r.bestFitness, r.bestDRcd, r.sampleEvaluations,
              r.samples * r.candidates, r.savedEvaluations());

        QCOMPARE(r.stopReason, StopReason::Done);
        QVERIFY(checkConstraints(r.bestLambda, 8, s, r.bestDRcd).empty());
        // The fitness the search reports is the evaluator's mean needle PPL of that candidate.
        const RopeOverride best{r.bestLambda, r.bestAttentionFactor};
        const double bestPpl = evaluator.evaluate(&best).meanPpl;
        QVERIFY2(std::abs(bestPpl - r.bestFitness) <= 1e-9 * bestPpl, qPrintable(QString::number(bestPpl)));
        QVERIFY(r.bestFitness < originalPpl);
        QVERIFY(r.bestFitness < piPpl);
        QVERIFY(r.bestFitness < piLongropePpl);
        if (racing)
            QVERIFY(r.savedEvaluations() > 0);
        else
            QCOMPARE(r.sampleEvaluations, 2 * r.candidates);
    }

private:
    std::unique_ptr<CausalLM> m_model;
    std::unique_ptr<Tokenizer> m_tokenizer;
};

QTEST_GUILESS_MAIN(TestSearchModel)
#include "test_search_model.moc"
