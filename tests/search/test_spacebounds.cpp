// Where a LongRoPE2 answer sits on its search space's bounds (search/spacebounds.h). The critical
// dimensions come from the paper's formulas computed here, and the answer under test is the fair
// miniature's committed LongRoPE2 factor file (d_rcd = 18, λ_18 = 4 = s).
#include "search/runlogcodec.h"
#include "search/spacebounds.h"

#include <QFile>
#include <QJsonArray>
#include <QTest>

#include <cmath>

using namespace rs;

namespace {

// The embedded model: d = 64, b = 3000, L_train = 512; target 2048 (s = 4).
SearchSettings embedded()
{
    SearchSettings s;
    s.method = SearchMethod::LongRoPE2;
    s.rotaryDims = 64;
    s.base = 3000;
    s.trainLength = 512;
    s.targetLength = 2048;
    return s;
}

// Paper Eq. 7 and Alg. 1: d_tcd = ceil(d/2 · log_b(L_train / 2π)), d_10 with 2π·10.
int dTcd() { return int(std::ceil(32 * std::log(512 / (2 * M_PI)) / std::log(3000.0))); }
int d10() { return int(std::ceil(32 * std::log(512 / (20 * M_PI)) / std::log(3000.0))); }

std::vector<double> ntkLeft(int dRcd, const std::vector<double> &upper)
{
    std::vector<double> l;
    for (int i = 0; i < dRcd; ++i)
        l.push_back(std::pow(upper.front(), double(i) / dRcd));
    l.insert(l.end(), upper.begin(), upper.end());
    return l;
}

} // namespace

class TestSpaceBounds : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void theFairMiniaturesAnswerSitsOnTwoBounds()
    {
        QCOMPARE(dTcd(), 18);
        QFile f(QStringLiteral(ROPESCOPE_SOURCE_DIR "/results/fair-4x/factors/longrope2.txt"));
        QVERIFY(f.open(QIODevice::ReadOnly));
        std::vector<double> lambda;
        for (const QByteArray &line : f.readAll().split('\n'))
            if (!line.trimmed().isEmpty())
                lambda.push_back(line.trimmed().toDouble());
        QCOMPARE(int(lambda.size()), 32);
        const QStringList bounds = searchSpaceBounds(embedded(), 18, lambda);
        QCOMPARE(bounds, (QStringList{QStringLiteral("d_rcd = 18 at its upper limit 18 (d_tcd)"),
                                      QStringLiteral("λ at d_rcd = 4 = s, its lower bound")}));
    }

    void anAnswerInsideTouchesNothing()
    {
        const int inside = (d10() + dTcd()) / 2;
        QVERIFY(inside > d10() && inside < dTcd());
        const std::vector<double> lambda = ntkLeft(inside, std::vector<double>(size_t(32 - inside), 5.5));
        QVERIFY(searchSpaceBounds(embedded(), inside, lambda).isEmpty());
    }

    void lowerLimitAndUpperBound()
    {
        std::vector<double> upper(size_t(32 - d10()), 6.0);
        for (size_t i = upper.size() - 4; i < upper.size(); ++i)
            upper[i] = 8.0;  // 2s on the last four dimensions
        const QStringList bounds = searchSpaceBounds(embedded(), d10(), ntkLeft(d10(), upper));
        QCOMPARE(bounds, (QStringList{QStringLiteral("d_rcd = %1 at its lower limit %1 (d_10)").arg(d10()),
                                      QStringLiteral("λ = 8 = 2s, its upper bound, from dimension 28")}));
    }

    void heldOrV1SaysNothingAboutDRcd()
    {
        SearchSettings held = embedded();
        held.dRcdMin = held.dRcdMax = 18;  // --fix-d-rcd tcd: no range to sit on
        const std::vector<double> lambda = ntkLeft(18, std::vector<double>(14, 5.0));
        QVERIFY(searchSpaceBounds(held, 18, lambda).isEmpty());
        SearchSettings v1 = embedded();
        v1.method = SearchMethod::LongRoPEv1;
        QVERIFY(searchSpaceBounds(v1, 18, lambda).isEmpty());
        // Factors of the wrong length or a d_rcd outside the pairs are no answer of this space.
        QVERIFY(searchSpaceBounds(embedded(), 18, std::vector<double>(5, 4.0)).isEmpty());
        QVERIFY(searchSpaceBounds(embedded(), 40, lambda).isEmpty());
    }

    // `finish` logs them as "space_bounds" (only when there is one), and reads them back.
    void finishLogsTheBounds()
    {
        FinishRecord r;
        r.result.bestLambda = {1.0, 2.0};
        QVERIFY(!r.toJson().contains(QStringLiteral("space_bounds")));
        r.result.spaceBounds = {QStringLiteral("d_rcd = 18 at its upper limit 18 (d_tcd)"), QStringLiteral("λ at d_rcd = 4 = s, its lower bound")};
        const QJsonObject json = r.toJson();
        QCOMPARE(json.value(QStringLiteral("space_bounds")).toArray().size(), 2);
        QCOMPARE(FinishRecord::fromJson(json).result.spaceBounds, r.result.spaceBounds);
    }
};

QTEST_GUILESS_MAIN(TestSpaceBounds)
#include "test_spacebounds.moc"
