// The model-independent evolutionary search (DESIGN.md §1, LongRoPE2 Alg. 1–2, LongRoPE v1):
// operator invariants over many seeds, a synthetic fitness with a known optimum, determinism,
// deduplication, run-log resume and budgets. No model: fitness functions are synthetic.
#include "error.h"
#include "factorfamilies.h"
#include "ropegeometry.h"
#include "search.h"

#include <QFile>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include <cmath>
#include <map>
#include <set>
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
    return s;
}

std::vector<double> hiddenTarget()
{
    const double s = 16.0;
    std::vector<double> upper;
    for (int k = 0; k < 64 - 30; ++k)
        upper.push_back(s * (1.1 + 0.4 * k / 33.0));
    return longrope2Factors(128, 30, upper, s, 8192).lambda;
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

} // namespace

class TestSearch : public QObject {
    Q_OBJECT

private:
    void checkMember(const EvolutionSearch &es, const SearchGenome &g, const char *what, uint64_t seed)
    {
        const SearchSettings &s = es.settings();
        const std::vector<double> lambda = es.lambdaOf(g);
        const double scale = es.scale();
        const auto violations = checkConstraints(lambda, s.rotaryDims / 2, scale, g.dRcd);
        if (!violations.empty())
            QFAIL(qPrintable(QStringLiteral("%1 (seed %2): %3").arg(QLatin1String(what)).arg(seed).arg(violations.front().message)));
        QVERIFY2(g.dRcd >= s.dRcdMin && g.dRcd <= s.dRcdMax, what);
        QCOMPARE(int(g.upper.size()), s.rotaryDims / 2 - g.dRcd);
        for (double v : lambda)
            QVERIFY2(v <= scale * s.upperBoundFactor * (1 + 1e-12), what);
        const double top = lambda[size_t(g.dRcd)];
        for (int i = 0; i < g.dRcd; ++i) {
            const double expected = std::pow(top, double(i) / g.dRcd);
            QVERIFY2(std::abs(lambda[size_t(i)] - expected) <= 1e-9 * expected, what);
        }
    }

private Q_SLOTS:
    void defaultsResolve()
    {
        EvolutionSearch es(llama3Settings());
        QCOMPARE(es.settings().dRcdMin, 24);
        QCOMPARE(es.settings().dRcdMax, 35);
        QCOMPARE(es.settings().parents, 32);
        QCOMPARE(es.settings().mutations, 16);
        QCOMPARE(es.settings().crossovers, 16);
        QCOMPARE(es.scale(), 16.0);
        SearchSettings bad = llama3Settings();
        bad.rotaryDims = 7;
        QVERIFY_THROWS_EXCEPTION(Error, EvolutionSearch{bad});
    }

    void operatorsKeepConstraints()
    {
        EvolutionSearch es(llama3Settings());
        const int n = es.settings().population;
        for (uint64_t seed = 1; seed <= 200; ++seed) {
            SearchRng rng(seed);
            std::vector<SearchGenome> pop;
            for (int i = 0; i < n; ++i) {
                pop.push_back(es.initialMember(i, rng));
                checkMember(es, pop.back(), "initial", seed);
                if (QTest::currentTestFailed())
                    return;
            }
            // Every d_rcd candidate is seeded.
            std::set<int> seeded;
            for (const auto &g : pop)
                seeded.insert(g.dRcd);
            QCOMPARE(int(seeded.size()), 35 - 24 + 1);
            for (int k = 0; k < 16; ++k) {
                SearchGenome m = es.mutate(pop[size_t(rng.below(n))], rng);
                checkMember(es, m, "mutation", seed);
                m = es.mutate(m, rng);
                checkMember(es, m, "mutation of a mutation", seed);
                pop.push_back(m);
                if (QTest::currentTestFailed())
                    return;
            }
            for (int k = 0; k < 16; ++k) {
                const SearchGenome &a = pop[size_t(rng.below(int(pop.size())))];
                std::vector<const SearchGenome *> mates;
                for (const auto &g : pop)
                    if (g.dRcd == a.dRcd && &g != &a)
                        mates.push_back(&g);
                if (mates.empty())
                    continue;
                const SearchGenome c = es.crossover(a, *mates[size_t(rng.below(int(mates.size())))], rng);
                checkMember(es, c, "crossover", seed);
                if (QTest::currentTestFailed())
                    return;
            }
        }
    }

    void v1OperatorsStayOnGrid()
    {
        SearchSettings s = llama3Settings();
        s.method = SearchMethod::LongRoPEv1;
        EvolutionSearch es(s);
        auto onGrid = [](double v) { return std::abs(v * 100 - std::round(v * 100)) < 1e-6; };
        for (uint64_t seed = 1; seed <= 50; ++seed) {
            SearchRng rng(seed);
            std::vector<SearchGenome> pop;
            for (int i = 0; i < 8; ++i)
                pop.push_back(es.initialMember(i, rng));
            for (int k = 0; k < 8; ++k)
                pop.push_back(es.mutate(pop[size_t(rng.below(8))], rng));
            for (int k = 0; k < 8; ++k)
                pop.push_back(es.crossover(pop[size_t(rng.below(16))], pop[size_t(rng.below(16))], rng));
            for (const auto &g : pop) {
                const auto lambda = es.lambdaOf(g);
                QVERIFY(checkConstraints(lambda, 64, 16.0, -1).empty());
                for (double v : lambda) {
                    QVERIFY(v >= 1.0 && v <= 32.0);
                    QVERIFY(onGrid(v));
                }
            }
        }
    }

    void findsKnownOptimum_data()
    {
        QTest::addColumn<int>("seed");
        for (int seed = 1; seed <= 8; ++seed)
            QTest::addRow("seed %d", seed) << seed;
    }

    void findsKnownOptimum()
    {
        const std::vector<double> target = hiddenTarget();
        // Squared log distance plus a penalty for leaving the OOD constraint at the true d_rcd.
        auto fitness = [&](const std::vector<double> &l) {
            double f = logDistance(l, target);
            for (size_t i = 30; i < l.size(); ++i)
                if (l[i] < 16.0)
                    f += 1.0;
            return f;
        };
        SearchSettings s = llama3Settings();
        s.population = 16;
        s.iterations = 10;
        QFETCH(int, seed);
        s.seed = uint64_t(seed);
        std::vector<GenerationReport> reports;
        SearchHooks hooks;
        hooks.onGeneration = [&](const GenerationReport &r) { reports.push_back(r); };
        const SearchResult r = runSearch(s, fitness, hooks);
        QCOMPARE(r.stopReason, StopReason::Done);
        QCOMPARE(r.generations, 11);
        QCOMPARE(int(reports.size()), 11);
        QCOMPARE(int(reports.front().memberDRcd.size()), 16);
        QVERIFY(r.bestFitness < reports.front().bestFitness);
        QVERIFY(reports.back().medianFitness < reports.front().medianFitness);
        QVERIFY2(std::abs(r.bestDRcd - 30) <= 3, qPrintable(QString::number(r.bestDRcd)));
        QVERIFY(r.bestFitness < fitness(piFactors(128, 16.0).lambda));
        QVERIFY(r.bestFitness < fitness(identityFactors(128).lambda));
        QCOMPARE(fitness(r.bestLambda), r.bestFitness);
    }

    void deterministic()
    {
        SearchSettings s = llama3Settings();
        s.population = 16;
        s.iterations = 5;
        s.seed = 42;
        const auto target = hiddenTarget();
        auto fitness = [&](const std::vector<double> &l) { return logDistance(l, target); };
        const SearchResult a = runSearch(s, fitness);
        const SearchResult b = runSearch(s, fitness);
        QCOMPARE(a.bestLambda, b.bestLambda);
        QCOMPARE(a.bestFitness, b.bestFitness);
        QCOMPARE(a.bestDRcd, b.bestDRcd);
        QCOMPARE(a.evaluations, b.evaluations);
        s.seed = 43;
        const SearchResult c = runSearch(s, fitness);
        QVERIFY(c.bestLambda != a.bestLambda);
    }

    void neverEvaluatesTwice()
    {
        // A tiny v1 space (2 factors on a 0.5 grid in [1, 4]) makes repeats unavoidable.
        SearchSettings s;
        s.method = SearchMethod::LongRoPEv1;
        s.rotaryDims = 4;
        s.base = 10000;
        s.trainLength = 1000;
        s.targetLength = 2000;
        s.grid = 0.5;
        s.population = 16;
        s.iterations = 10;
        std::set<std::vector<double>> called;
        int calls = 0;
        auto fitness = [&](const std::vector<double> &l) {
            ++calls;
            if (!called.insert(l).second)
                QTest::qFail("fitness called twice for the same lambda", __FILE__, __LINE__);
            return std::abs(l[0] - 1.5) + std::abs(l[1] - 3.0);
        };
        const SearchResult r = runSearch(s, fitness);
        QVERIFY(!QTest::currentTestFailed());
        QCOMPARE(r.evaluations, calls);
        QVERIFY(r.cacheHits > 0);
        QCOMPARE(r.bestFitness, 0.0);
    }

    void resumeMatchesUninterrupted()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        SearchSettings s = llama3Settings();
        s.population = 16;
        s.iterations = 6;
        s.seed = 9;
        const auto target = hiddenTarget();
        std::vector<std::vector<double>> fullCalls, calls1, calls2;
        auto fitnessInto = [&](std::vector<std::vector<double>> &calls) {
            return [&](const std::vector<double> &l) {
                calls.push_back(l);
                return logDistance(l, target);
            };
        };
        const SearchResult full = runSearch(s, fitnessInto(fullCalls));
        QCOMPARE(full.stopReason, StopReason::Done);

        const QString logPath = dir.filePath(QStringLiteral("run.jsonl"));
        SearchHooks h1;
        h1.logPath = logPath;
        const int k = 37;
        h1.cancelled = [&] { return int(calls1.size()) >= k; };
        const SearchResult r1 = runSearch(s, fitnessInto(calls1), h1);
        QCOMPARE(r1.stopReason, StopReason::Cancelled);
        QCOMPARE(int(calls1.size()), k);

        // A crash mid-write leaves a truncated last line: ignored on resume.
        {
            QFile f(logPath);
            QVERIFY(f.open(QIODevice::Append));
            f.write("{\"event\":\"eval\",\"lamb");
        }

        // Settings mismatch names the file.
        SearchSettings other = s;
        other.seed = 10;
        SearchHooks hr;
        hr.logPath = logPath;
        hr.resume = true;
        try {
            runSearch(other, fitnessInto(calls2), hr);
            QFAIL("resume with other settings must fail");
        } catch (const Error &e) {
            QVERIFY(e.message().contains(logPath));
            QVERIFY(e.message().contains(QLatin1String("seed")));
        }
        QVERIFY(calls2.empty());

        const SearchResult r2 = runSearch(s, fitnessInto(calls2), hr);
        QCOMPARE(r2.stopReason, StopReason::Done);
        QCOMPARE(r2.bestLambda, full.bestLambda);
        QCOMPARE(r2.bestFitness, full.bestFitness);
        QCOMPARE(r2.bestDRcd, full.bestDRcd);
        QCOMPARE(r2.generations, full.generations);
        QCOMPARE(calls1.size() + calls2.size(), fullCalls.size());
        std::set<std::vector<double>> first(calls1.begin(), calls1.end());
        for (const auto &l : calls2)
            QVERIFY(!first.count(l));
        QCOMPARE(r2.evaluations, int(calls2.size()));

        // The log stays valid JSON Lines after the resume, and a malformed middle line is an error.
        QFile f(logPath);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QList<QByteArray> lines = f.readAll().split('\n');
        f.close();
        QVERIFY(lines.last().isEmpty());
        QVERIFY(lines.first().contains("\"event\":\"start\""));
        QVERIFY(lines.at(lines.size() - 2).contains("\"event\":\"finish\""));
        lines[2] = "{not json";
        const QString badPath = dir.filePath(QStringLiteral("bad.jsonl"));
        QFile bad(badPath);
        QVERIFY(bad.open(QIODevice::WriteOnly));
        bad.write(lines.join('\n'));
        bad.close();
        hr.logPath = badPath;
        try {
            runSearch(s, fitnessInto(calls2), hr);
            QFAIL("malformed log must fail");
        } catch (const Error &e) {
            QVERIFY(e.message().contains(badPath));
            QVERIFY2(e.message().contains(QLatin1String("line 3")), qPrintable(e.message()));
        }

        // A fresh run refuses to overwrite an existing log.
        SearchHooks fresh;
        fresh.logPath = logPath;
        QVERIFY_THROWS_EXCEPTION(Error, runSearch(s, fitnessInto(calls2), fresh));
    }

    void paperDefaultsCount()
    {
        // LongRoPE v1 defaults: 64 initial + 40 × (16 mutations + 16 crossovers) = 1,344 candidates.
        SearchSettings s = llama3Settings();
        s.method = SearchMethod::LongRoPEv1;
        const auto target = hiddenTarget();
        const SearchResult r = runSearch(s, [&](const std::vector<double> &l) { return logDistance(l, target); });
        QCOMPARE(r.stopReason, StopReason::Done);
        QCOMPARE(r.generations, 41);
        QCOMPARE(r.evaluations + r.cacheHits, 64 + 40 * 32);
        QCOMPARE(r.bestDRcd, -1);
    }

    void budgetStops()
    {
        SearchSettings s = llama3Settings();
        s.population = 16;
        s.iterations = 10;
        s.maxEvaluations = 20;
        int calls = 0;
        const SearchResult r = runSearch(s, [&](const std::vector<double> &) { return double(++calls); });
        QCOMPARE(r.stopReason, StopReason::Budget);
        QCOMPARE(r.evaluations, 20);
        QCOMPARE(calls, 20);
        QCOMPARE(r.generations, 1);
        QCOMPARE(r.bestFitness, 1.0);

        s.maxEvaluations = 0;
        s.maxSeconds = 0.05;
        const SearchResult t = runSearch(s, [&](const std::vector<double> &) {
            QThread::msleep(20);
            return 1.0;
        });
        QCOMPARE(t.stopReason, StopReason::Budget);
        QVERIFY(t.evaluations >= 1 && t.evaluations < 16);
    }
};

QTEST_GUILESS_MAIN(TestSearch)
#include "test_search.moc"
