// The three extensions of LongRoPE2's search space (issue 25 item 4), each off by default: a
// decoupled NTK-left anchor, d_rcd above d_tcd, and the first k dimensions kept at λ = 1.
// Expected factors are computed here from the formulas (pow, min), not by the library; "the
// paper's space cannot reach it" is shown with the space's exact least-squares projection
// (EvolutionSearch::project, tested against brute force in test_search) taken over every d_rcd.
#include "common/error.h"
#include "rope/factorfamilies.h"
#include "search/runlogcodec.h"
#include "search/search.h"
#include "search/spacebounds.h"

#include <QTest>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

using namespace rs;

namespace {

// LLaMA3-8B: d = 128, b = 5e5, L_train = 8192 → 128k (s = 16); d_10 = 24, d_tcd = 35.
SearchSettings llama3Settings()
{
    SearchSettings s;
    s.rotaryDims = 128;
    s.base = 500000.0;
    s.trainLength = 8192;
    s.targetLength = 131072;
    s.population = 24;
    s.iterations = 30;
    return s;
}

double logDistance(const std::vector<double> &lambda, const std::vector<double> &target)
{
    double sum = 0;
    for (size_t i = 0; i < lambda.size(); ++i) {
        const double d = std::log(lambda[i]) - std::log(target[i]);
        sum += d * d;
    }
    return sum;
}

// The factors of a LongRoPE2 member written out from the formula: λ_i = upper for i ≥ dRcd, below
// min(λ_anchor^(i/anchor), λ_dRcd), then the first `keep` at 1.
std::vector<double> byFormula(int pairs, int dRcd, int anchor, double upperValue, double slope, int keep)
{
    std::vector<double> lambda(static_cast<size_t>(pairs));
    for (int i = dRcd; i < pairs; ++i)
        lambda[size_t(i)] = upperValue * (1.0 + slope * (i - dRcd));
    const int a = anchor < 0 ? dRcd : anchor;
    for (int i = 0; i < dRcd; ++i)
        lambda[size_t(i)] = std::min(std::pow(lambda[size_t(a)], double(i) / a), lambda[size_t(dRcd)]);
    for (int i = 0; i < keep; ++i)
        lambda[size_t(i)] = 1.0;
    return lambda;
}

// The best any member of `es`'s space (the paper's, when no extension is on) gets on a squared log
// distance to `target`: the exact projection at every d_rcd the space allows.
double bestOfSpace(const EvolutionSearch &es, const std::vector<double> &target)
{
    double best = std::numeric_limits<double>::infinity();
    for (int d = es.settings().dRcdMin; d <= es.settings().dRcdMax; ++d)
        best = std::min(best, logDistance(es.lambdaOf(es.project(Candidate{target, 1.0}, d)), target));
    return best;
}

} // namespace

class TestSearchExtensions : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void shapeFollowsTheFormula()
    {
        std::vector<double> upper;
        for (int i = 20; i < 64; ++i)
            upper.push_back(16.0 * (1.0 + 0.01 * (i - 20)));
        const auto lambda = [&](int anchor, int keep) {
            return longrope2Factors(128, 20, upper, 16.0, 8192, Longrope2Shape{anchor, keep}).lambda;
        };
        for (int anchor : {-1, 20, 33, 63})
            for (int keep : {0, 4}) {
                const std::vector<double> expected = byFormula(64, 20, anchor, 16.0, 0.01, keep);
                const std::vector<double> got = lambda(anchor, keep);
                for (size_t i = 0; i < expected.size(); ++i)
                    QVERIFY2(std::abs(got[i] - expected[i]) <= 1e-12 * expected[i],
                             qPrintable(QStringLiteral("anchor %1, keep %2, λ_%3: %4 vs %5").arg(anchor).arg(keep).arg(i).arg(got[i]).arg(expected[i])));
            }
        // The defaults are the paper's shape, bit for bit.
        QCOMPARE(lambda(-1, 0), longrope2Factors(128, 20, upper, 16.0, 8192).lambda);
    }

    void settingsAreChecked()
    {
        SearchSettings s = llama3Settings();
        s.method = SearchMethod::LongRoPEv1;
        s.decoupleAnchor = true;
        QVERIFY_THROWS_EXCEPTION(Error, EvolutionSearch{s});
        s = llama3Settings();
        s.keepOriginalDims = 25;  // d_10 = 24
        QVERIFY_THROWS_EXCEPTION(Error, EvolutionSearch{s});
        s.keepOriginalDims = -1;
        QVERIFY_THROWS_EXCEPTION(Error, EvolutionSearch{s});
        s.keepOriginalDims = 24;
        QCOMPARE(EvolutionSearch(s).settings().dRcdMin, 24);
        s = llama3Settings();
        s.dRcdAboveTcd = true;
        QCOMPARE(EvolutionSearch(s).settings().dRcdMax, 63);  // d/2 − 1 instead of d_tcd = 35
        s.dRcdMax = 40;  // an explicit top still wins
        QCOMPARE(EvolutionSearch(s).settings().dRcdMax, 40);
    }

    // Every member the operators make stays in the extended space: the anchor in [d_rcd, d/2 − 1],
    // λ below d_rcd on the anchored curve, λ ≥ s from d_rcd on, monotone, the kept dimensions at 1.
    void operatorsKeepTheExtendedSpace()
    {
        SearchSettings s = llama3Settings();
        s.decoupleAnchor = true;
        s.dRcdAboveTcd = true;
        s.keepOriginalDims = 6;
        const EvolutionSearch es(s);
        bool sawDecoupled = false, sawAboveTcd = false;
        for (uint64_t seed = 1; seed <= 200; ++seed) {
            SearchRng rng(seed);
            SearchGenome a = es.initialMember(int(seed % 64), rng), b = es.initialMember(int(seed % 64), rng);
            b.dRcd = a.dRcd;
            b.upper = a.upper;
            b.anchor = std::clamp(a.anchor + 1, a.dRcd, 63);
            for (const SearchGenome &g : {a, es.mutate(a, rng), es.crossover(a, b, rng), es.mutate(es.mutate(a, rng), rng)}) {
                QVERIFY(g.dRcd >= 24 && g.dRcd <= 63);
                QVERIFY2(g.anchor >= g.dRcd && g.anchor <= 63, qPrintable(QStringLiteral("anchor %1, d_rcd %2").arg(g.anchor).arg(g.dRcd)));
                const std::vector<double> lambda = es.lambdaOf(g);
                for (int i = 0; i < 6; ++i)
                    QCOMPARE(lambda[size_t(i)], 1.0);
                for (int i = 6; i < g.dRcd; ++i) {
                    const double expected = std::min(std::pow(lambda[size_t(g.anchor)], double(i) / g.anchor), lambda[size_t(g.dRcd)]);
                    QVERIFY(std::abs(lambda[size_t(i)] - expected) <= 1e-12 * expected);
                }
                for (int i = g.dRcd; i < 64; ++i)
                    QVERIFY(lambda[size_t(i)] >= 16.0 - 1e-12 && lambda[size_t(i)] <= 32.0 + 1e-12);
                for (int i = 1; i < 64; ++i)
                    QVERIFY(lambda[size_t(i)] >= lambda[size_t(i - 1)] - 1e-12);
                sawDecoupled = sawDecoupled || g.anchor > g.dRcd;
                sawAboveTcd = sawAboveTcd || g.dRcd > 35;
            }
        }
        QVERIFY(sawDecoupled);
        QVERIFY(sawAboveTcd);
    }

    // A target with its NTK-left curve anchored well above its d_rcd (flatter below d_rcd than any
    // continuous curve with λ_d_rcd ≥ s): the paper's space stays far from it, the decoupled
    // search gets closer than the paper's space's best point.
    void decoupledAnchorReachesWhatThePaperSpaceCannot()
    {
        const std::vector<double> target = byFormula(64, 30, 50, 16.0, 0.01, 0);
        SearchSettings s = llama3Settings();
        const double paperBest = bestOfSpace(EvolutionSearch(s), target);
        QVERIFY2(paperBest > 0.5, qPrintable(QString::number(paperBest)));
        s.decoupleAnchor = true;
        const SearchResult r = runSearch(s, [&](const std::vector<double> &l) { return logDistance(l, target); });
        QVERIFY2(r.bestFitness < 0.5 * paperBest, qPrintable(QStringLiteral("%1 vs %2").arg(r.bestFitness).arg(paperBest)));
    }

    // A target whose λ ≥ s region starts at 45, above d_tcd = 35.
    void dRcdAboveTcdReachesWhatThePaperSpaceCannot()
    {
        const std::vector<double> target = byFormula(64, 45, -1, 16.0, 0.02, 0);
        SearchSettings s = llama3Settings();
        const double paperBest = bestOfSpace(EvolutionSearch(s), target);
        QVERIFY2(paperBest > 0.5, qPrintable(QString::number(paperBest)));
        s.dRcdAboveTcd = true;
        const SearchResult r = runSearch(s, [&](const std::vector<double> &l) { return logDistance(l, target); });
        QVERIFY2(r.bestFitness < 0.5 * paperBest, qPrintable(QStringLiteral("%1 vs %2").arg(r.bestFitness).arg(paperBest)));
        QVERIFY(r.bestDRcd > 35);
        QVERIFY(searchSpaceBounds(s, 63, r.bestLambda).join(QLatin1Char(';')).contains(QLatin1String("upper limit 63")));
    }

    // The paper's space already has λ_0 = 1; keeping more dimensions at 1 is the extension, and a
    // fitness that punishes any interpolation of the first 8 is matched exactly only with it.
    void keptDimensionsStayOriginal()
    {
        std::vector<double> target = byFormula(64, 30, -1, 16.0, 0.01, 8);
        SearchSettings s = llama3Settings();
        const double paperBest = bestOfSpace(EvolutionSearch(s), target);
        s.keepOriginalDims = 8;
        const EvolutionSearch kept(s);
        const double keptBest = bestOfSpace(kept, target);
        QVERIFY2(keptBest < 1e-18, qPrintable(QString::number(keptBest)));  // the target is a member
        QVERIFY(paperBest > 1e-3);
        const SearchResult r = runSearch(s, [&](const std::vector<double> &l) { return logDistance(l, target); });
        for (int i = 0; i < 8; ++i)
            QCOMPARE(r.bestLambda[size_t(i)], 1.0);
    }

    // The run log records the extensions that are on, and only those: a log of the paper's space
    // reads and writes as before.
    void logRecordsTheExtensions()
    {
        RunSettings plain;
        plain.search = llama3Settings();
        const QJsonObject before = plain.toJson();
        for (const char *k : {"decouple_anchor", "d_rcd_above_tcd", "keep_original_dims"})
            QVERIFY2(!before.contains(QLatin1String(k)), k);
        RunSettings extended = plain;
        extended.search.decoupleAnchor = true;
        extended.search.dRcdAboveTcd = true;
        extended.search.keepOriginalDims = 5;
        const QJsonObject json = extended.toJson();
        QCOMPARE(json.value(QLatin1String("decouple_anchor")).toBool(), true);
        QCOMPARE(json.value(QLatin1String("d_rcd_above_tcd")).toBool(), true);
        QCOMPARE(json.value(QLatin1String("keep_original_dims")).toInt(), 5);
        const RunSettings back = RunSettings::fromJson(json);
        QVERIFY(back.search.decoupleAnchor && back.search.dRcdAboveTcd);
        QCOMPARE(back.search.keepOriginalDims, 5);
        QVERIFY(back.differences(json).isEmpty());
        // A resume with the extensions switched off is told which settings differ.
        QStringList differing = plain.differences(json);
        differing.sort();
        QCOMPARE(differing, (QStringList{"d_rcd_above_tcd", "decouple_anchor", "keep_original_dims"}));
        const RunSettings old = RunSettings::fromJson(before);
        QVERIFY(!old.search.decoupleAnchor && !old.search.dRcdAboveTcd);
        QCOMPARE(old.search.keepOriginalDims, 0);
    }
};

QTEST_GUILESS_MAIN(TestSearchExtensions)
#include "test_searchextensions.moc"
