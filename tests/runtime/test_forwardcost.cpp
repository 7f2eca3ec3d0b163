// The one price of a forward (common/forwardcost.h) from the engine's figures (runtime/
// modelcost.h): its memory is the formula of the forward's live tensors written out here from the
// fixture's config, its FLOPs the benchmark's count, its time FLOPs over the documented or measured
// throughput, and it refuses exactly what CausalLM::requireMemoryFor refuses.
#include "common/error.h"
#include "common/forwardcost.h"
#include "runtime/model.h"
#include "runtime/modelcost.h"

#include <QTest>

#include <cmath>

using namespace rs;

namespace {
const QString kModel = QStringLiteral(ROPESCOPE_FIXTURES "/models/llama-plain");
}

class TestForwardCost : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { m_model = CausalLM::load(kModel); }

    // llama-plain: float32, hidden 64, 4 heads and 2 KV heads of 16, MLP 160, 2 layers, d = 16,
    // vocab 320.
    void memoryIsTheForwardsLiveTensors()
    {
        const ForwardCostFigures f = costFigures(*m_model);
        QCOMPARE(f.device, QStringLiteral("cpu"));
        QVERIFY(f.isCpu());
        QCOMPARE(f.weightBytes, double(m_model->weightBytes()));
        QCOMPARE(f.deviceBytes, double(physicalMemoryBytes()));
        const double e = 4, H = 64, q = 4 * 16, kv = 2 * 16, d = 16, I = 160;
        const double perToken = e * (H + (q + 2 * kv) + (q + kv) + q + 2 * d) + 16;
        const double chunk = double(m_model->attentionChunkElements());
        for (const double T : {100.0, 4096.0, 131072.0}) {
            const double scores = std::min(chunk, 4 * T * T) * (4 + e);
            const double tokenwise = std::min(double(int64_t(1) << 28), T * std::max(2 * I, q + 2 * kv)) * e;
            const double expected = T * perToken + scores + tokenwise;
            QCOMPARE(forwardBytes(f, T), expected);
            QCOMPARE(m_model->forwardBytes(int64_t(T)), expected);
        }
    }

    void timeIsFlopsOverTheThroughput()
    {
        const ForwardCostFigures f = costFigures(*m_model);
        const double T = 4096;
        // The benchmark's count (test_model checks it against the formula).
        const double flops = m_model->forwardFlops(int64_t(T), 64);
        const CostEstimate documented = estimateForwards(f, T, 10);
        QCOMPARE(documented.flopsPerSecond, kDocumentedCpuFlopsPerSecond);
        QCOMPARE(documented.secondsPerForward, flops / 37e9);
        QCOMPARE(documented.seconds, 10 * flops / 37e9);
        QVERIFY2(documented.summary().contains(QLatin1String("37 GFLOP/s")), qPrintable(documented.summary()));
        const CostEstimate measured = estimateForwards(f, T, 1, 1, 64, 1e9, QStringLiteral("measured: 1 GFLOP/s"));
        QCOMPARE(measured.secondsPerForward, flops / 1e9);
        QVERIFY(measured.summary().contains(QLatin1String("measured: 1 GFLOP/s")));
        QCOMPARE(measured.peakBytes, f.weightBytes + m_model->forwardBytes(int64_t(T)));
    }

    // A throughput measured on finished forwards (measuredThroughput) and kept in the figures
    // prices those forwards again at the seconds they took, and others by the FLOP count: twice
    // the forwards, twice the time; the source says it was measured.
    void measuredThroughputPricesWhatItMeasured()
    {
        ForwardCostFigures f = costFigures(*m_model);
        const double T = 2048;
        const double flops = m_model->forwardFlops(int64_t(T), 64);  // the model's own count
        const double throughput = measuredThroughput(f, T, 3, 1.5);
        QCOMPARE(throughput, 3 * flops / 1.5);
        QCOMPARE(measuredThroughput(f, T, 3, 0), 0.0);
        QCOMPARE(measuredThroughput(ForwardCostFigures{}, T, 3, 1.5), 0.0);
        f.measuredFlopsPerSecond = throughput;
        f.measuredSource = QStringLiteral("measured on a live score here");
        const CostEstimate same = estimateForwards(f, T, 3);
        QVERIFY(std::abs(same.seconds - 1.5) < 1e-12);
        QVERIFY(std::abs(estimateForwards(f, T, 6).seconds - 3.0) < 1e-12);
        QVERIFY2(same.summary().contains(QLatin1String("measured on a live score here")), qPrintable(same.summary()));
        // A throughput given with the call still wins.
        QCOMPARE(estimateForwards(f, T, 1, 1, 64, 1e9).secondsPerForward, flops / 1e9);
    }

    // The estimate says "does not fit" exactly where the forward is refused.
    void refusesWhatTheModelRefuses()
    {
        const ForwardCostFigures f = costFigures(*m_model);
        if (f.deviceBytes <= 0)
            QSKIP("this machine does not tell its memory");
        const double perToken = f.bytesPerToken;
        // Around the largest length that fits: weights + T · perToken + the two chunks ≤ memory.
        const double fixed = f.weightBytes + f.attentionChunkElements * f.scoreBytesPerElement
                             + f.tokenwiseChunkElements * f.elementBytes;
        const int64_t largest = int64_t(std::floor((f.deviceBytes - fixed) / perToken));
        for (const int64_t T : {largest - 1000, largest + 1000}) {
            const CostEstimate e = estimateForwards(f, double(T), 1);
            bool refused = false;
            try {
                m_model->requireMemoryFor(T);
            } catch (const Error &) {
                refused = true;
            }
            QCOMPARE(!e.fits, refused);
            QCOMPARE(e.fits, T < largest);
        }
    }

private:
    std::unique_ptr<CausalLM> m_model;
};

QTEST_GUILESS_MAIN(TestForwardCost)
#include "test_forwardcost.moc"
