// CandidateScorer: a generation's candidates spread over model replicas (one per device) and
// batched per replica. The reference for every score is the one-candidate-at-a-time evaluator
// (NeedleEvaluator::sampleNll on the primary model), which has its own tests against transformers.
// On the CPU the replicas are CPU models: the split, the order and the threads are the same code
// that spreads candidates over several GPUs. The CUDA cases skip without a GPU.
#include "eval/candidatescorer.h"
#include "runtime/embeddedmodel.h"
#include "common/error.h"
#include "eval/evaluator.h"
#include "runtime/model.h"
#include "search/search.h"
#include "job/searchfitness.h"
#include "runtime/tokenizer.h"

#include <QTest>

#include <cmath>

using namespace rs;

namespace {

NeedleEvalSettings sampleSettings()
{
    NeedleEvalSettings s;
    s.length = 384;
    s.samples = 2;
    s.seed = 77;
    return s;
}

// Distinct candidates with clearly different scores: PI-like factors from 1 to 4.6 and two
// attention factors.
std::vector<Candidate> candidates(int n, int pairs)
{
    std::vector<Candidate> out;
    for (int k = 0; k < n; ++k)
        out.push_back({std::vector<double>(size_t(pairs), 1.0 + 0.6 * k), k % 2 ? 1.1 : 1.0});
    return out;
}

} // namespace

class TestCandidateScorer : public QObject {
    Q_OBJECT

    QString m_dir;
    std::unique_ptr<CausalLM> m_model;
    ModelTokenizer m_tok;

    // exp(mean answer NLL) of one candidate on one sample, one at a time on the primary model.
    double reference(const NeedleEvaluator &e, const Candidate &c, int sample)
    {
        const RopeOverride rope{c.lambda, c.attentionFactor};
        return std::exp(e.sampleNll(sample, &rope));
    }

    void checkAgainstReference(const CandidateScorer &scorer, int n)
    {
        const NeedleEvaluator reference1(*m_model, *m_tok.tokenizer, m_tok.bosId, sampleSettings());
        const auto cs = candidates(n, m_model->ropeConfig().pairs());
        for (int sample = 0; sample < 2; ++sample) {
            const std::vector<double> got = scorer.samplePpl(cs, sample);
            QCOMPARE(int(got.size()), n);
            for (int i = 0; i < n; ++i) {
                const double want = reference(reference1, cs[size_t(i)], sample);
                QVERIFY2(std::abs(got[size_t(i)] - want) <= 1e-4 * want,
                         qPrintable(QStringLiteral("sample %1 candidate %2: %3 vs %4").arg(sample).arg(i).arg(got[size_t(i)]).arg(want)));
            }
        }
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_dir = embeddedModelDir();
        m_model = CausalLM::load(m_dir);
        m_tok = loadModelTokenizer(m_dir);
    }

    // The candidates differ: the check below would catch a share scored with another's λ.
    void candidatesScoreDifferently()
    {
        const CandidateScorer scorer(*m_model, *m_tok.tokenizer, m_tok.bosId, sampleSettings());
        const std::vector<double> ppl = scorer.samplePpl(candidates(4, m_model->ropeConfig().pairs()), 0);
        for (size_t i = 1; i < ppl.size(); ++i)
            QVERIFY2(std::abs(ppl[i] - ppl[i - 1]) > 1e-3 * ppl[i], qPrintable(QString::number(ppl[i])));
    }

    // One replica, and three (the primary plus two loaded CPU replicas): 7 candidates are cut into
    // shares of 3, 2 and 2 scored on three threads; every score lands on its own candidate. Also 2
    // candidates over 3 replicas (one idle) and none at all.
    void replicasMatchOneAtATime_data()
    {
        QTest::addColumn<int>("extra");
        QTest::addColumn<int>("candidates");
        QTest::newRow("1 replica, 5 candidates") << 0 << 5;
        QTest::newRow("3 replicas, 7 candidates") << 2 << 7;
        QTest::newRow("3 replicas, 2 candidates") << 2 << 2;
    }
    void replicasMatchOneAtATime()
    {
        QFETCH(int, extra);
        QFETCH(int, candidates);
        QStringList devices;
        for (int i = 0; i < extra; ++i)
            devices << QStringLiteral("cpu");
        const CandidateScorer scorer(*m_model, *m_tok.tokenizer, m_tok.bosId, sampleSettings(), m_dir, devices);
        QCOMPARE(scorer.replicas(), 1 + extra);
        QCOMPARE(scorer.devices().size(), 1 + extra);
        QCOMPARE(scorer.samples(), 2);
        checkAgainstReference(scorer, candidates);
        QVERIFY(scorer.samplePpl({}, 0).empty());
    }

    // A search through the scorer's batch fitness (2 replicas, 2 per replica) ends where the
    // one-at-a-time search through the evaluator ends.
    void searchThroughReplicas()
    {
        const CandidateScorer scorer(*m_model, *m_tok.tokenizer, m_tok.bosId, sampleSettings(), m_dir, {QStringLiteral("cpu")});
        const SampledFitness batched = searchFitness(scorer, 2);
        QCOMPARE(batched.maxBatch, 4);
        QCOMPARE(batched.samples, 2);
        const NeedleEvaluator single(*m_model, *m_tok.tokenizer, m_tok.bosId, sampleSettings());
        const SampledFitness oneAtATime{[&](const Candidate &c, int k) { return reference(single, c, k); }, 2};
        SearchSettings s;
        const RopeConfig &rc = m_model->ropeConfig();
        s.rotaryDims = rc.rotaryDims;
        s.base = rc.base;
        s.trainLength = rc.trainLength;
        s.targetLength = 4 * rc.trainLength;
        s.population = 6;
        s.iterations = 2;
        s.parents = 3;
        s.mutations = 2;
        s.crossovers = 1;
        s.seed = 3;
        s.racing = true;
        const SearchResult a = runSearch(s, oneAtATime);
        const SearchResult b = runSearch(s, batched);
        QCOMPARE(b.bestLambda, a.bestLambda);
        QCOMPARE(b.bestDRcd, a.bestDRcd);
        QVERIFY(std::abs(b.bestFitness - a.bestFitness) <= 1e-4 * a.bestFitness);
        QCOMPARE(b.evaluations, a.evaluations);
    }

    void badReplicas()
    {
        // A replica needs the folder to load from, and a device that exists.
        QVERIFY_THROWS_EXCEPTION(Error, CandidateScorer(*m_model, *m_tok.tokenizer, m_tok.bosId, sampleSettings(), {}, {QStringLiteral("cpu")}));
        if (cudaDeviceCount() < 8)
            QVERIFY_THROWS_EXCEPTION(Error, CandidateScorer(*m_model, *m_tok.tokenizer, m_tok.bosId, sampleSettings(), m_dir, {QStringLiteral("cuda:7")}));
        QCOMPARE(CandidateScorer::defaultDevices(QStringLiteral("cpu")), QStringList{QStringLiteral("cpu")});
        QCOMPARE(CandidateScorer::defaultBatch(*m_model), 1);
    }

    // Every GPU gets a replica; their scores (float32, batched) match the CPU's one-at-a-time
    // scores to 0.1 % (cuBLAS and the CPU sum in different orders).
    void gpuReplicas()
    {
        const int gpus = cudaDeviceCount();
        if (gpus == 0)
            QSKIP("no CUDA GPU");
        ModelOptions o;
        o.device = QStringLiteral("cuda:0");
        o.dtype = QStringLiteral("float32");
        const auto gpuModel = CausalLM::load(m_dir, o);
        QStringList devices = CandidateScorer::defaultDevices(QStringLiteral("cuda:0"));
        QCOMPARE(devices.size(), gpus);
        devices.removeFirst();
        const CandidateScorer scorer(*gpuModel, *m_tok.tokenizer, m_tok.bosId, sampleSettings(), m_dir, devices);
        QCOMPARE(scorer.replicas(), gpus);
        QCOMPARE(CandidateScorer::defaultBatch(*gpuModel), 8);
        const NeedleEvaluator single(*m_model, *m_tok.tokenizer, m_tok.bosId, sampleSettings());
        const auto cs = candidates(8 * gpus + 1, m_model->ropeConfig().pairs());
        const std::vector<double> got = scorer.samplePpl(cs, 1);
        for (size_t i = 0; i < cs.size(); ++i) {
            const double want = reference(single, cs[i], 1);
            QVERIFY2(std::abs(got[i] - want) <= 1e-3 * want, qPrintable(QStringLiteral("%1 vs %2").arg(got[i]).arg(want)));
        }
    }
};

QTEST_GUILESS_MAIN(TestCandidateScorer)
#include "test_candidatescorer.moc"
