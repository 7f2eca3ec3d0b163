// The model-independent evolutionary search (DESIGN.md §1, LongRoPE2 Alg. 1–2, LongRoPE v1):
// operator invariants over many seeds, a synthetic fitness with a known optimum, determinism,
// deduplication, run-log resume and budgets. No model: fitness functions are synthetic.
#include "common/error.h"
#include "rope/factorfamilies.h"
#include "rope/ropegeometry.h"
#include "search/search.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include <cmath>
#include <functional>
#include <map>
#include <numeric>
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

// A score of candidate c on sample k with per-candidate noise, so that samples rank candidates
// differently (racing's eliminations matter).
double noisySampleScore(const Candidate &c, int k, const std::vector<double> &target)
{
    SearchRng rng(uint64_t(std::llround(c.lambda.back() * 1e6)) * 31 + uint64_t(k));
    return logDistance(c.lambda, target) * (1 + 0.2 * (2 * rng.uniform() - 1));
}

using ScoredPairs = std::set<std::pair<std::vector<double>, int>>;  // (λ, sample) scored

// The search the batched and streaming tests run, 4 samples.
SearchSettings groupedSearchSettings(bool racing)
{
    SearchSettings s = llama3Settings();
    s.population = 16;
    s.iterations = 6;
    s.seed = 11;
    s.racing = racing;
    return s;
}

// That search with `score` one candidate at a time, the reference; what it scored goes to `scored`.
SearchResult runOneAtATime(const SearchSettings &s, const std::function<double(const Candidate &, int)> &score,
                           ScoredPairs &scored)
{
    const SampledFitness oneAtATime{[&](const Candidate &c, int k) {
                                        scored.insert({c.lambda, k});
                                        return score(c, k);
                                    },
                                    4};
    return runSearch(s, oneAtATime);
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
        checkAttention(es, g, what, seed);
    }

    void checkAttention(const EvolutionSearch &es, const SearchGenome &g, const char *what, uint64_t seed)
    {
        const SearchSettings &s = es.settings();
        const QString where = QStringLiteral("%1 (seed %2): attention factor %3").arg(QLatin1String(what)).arg(seed).arg(g.attentionFactor);
        if (s.searchAttentionFactor)
            QVERIFY2(g.attentionFactor >= s.attentionFactorMin && g.attentionFactor <= s.attentionFactorMax, qPrintable(where));
        else
            QVERIFY2(g.attentionFactor == es.fixedAttentionFactor(), qPrintable(where));
        QCOMPARE(es.candidateOf(g).attentionFactor, g.attentionFactor);
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
        for (double keep : {0.0, -0.5, 1.5}) {
            bad = llama3Settings();
            bad.racingKeepFraction = keep;
            QVERIFY_THROWS_EXCEPTION(Error, EvolutionSearch{bad});
        }
        bad = llama3Settings();
        bad.searchAttentionFactor = true;
        bad.attentionFactorMin = 1.4;
        bad.attentionFactorMax = 1.2;
        QVERIFY_THROWS_EXCEPTION(Error, EvolutionSearch{bad});
        bad = llama3Settings();
        bad.attentionFactor = -1;
        QVERIFY_THROWS_EXCEPTION(Error, EvolutionSearch{bad});
        // A sampled fitness needs a function and at least one sample.
        EvolutionSearch es2(llama3Settings());
        QVERIFY_THROWS_EXCEPTION(Error, es2.run(SampledFitness{[](const Candidate &, int) { return 0.0; }, 0}));
        QVERIFY_THROWS_EXCEPTION(Error, es2.run(SampledFitness{}));
        // The fixed attention factor: longrope's sqrt(1 + ln s / ln L_train) unless given.
        QVERIFY(std::abs(es.fixedAttentionFactor() - std::sqrt(1.0 + std::log(16.0) / std::log(8192.0))) < 1e-15);
        SearchSettings given = llama3Settings();
        given.attentionFactor = 1.25;
        QCOMPARE(EvolutionSearch(given).fixedAttentionFactor(), 1.25);
    }

    void operatorsKeepConstraints_data()
    {
        QTest::addColumn<bool>("searchAttention");
        QTest::newRow("fixed attention factor") << false;
        QTest::newRow("attention factor searched") << true;
    }

    void operatorsKeepConstraints()
    {
        QFETCH(bool, searchAttention);
        SearchSettings settings = llama3Settings();
        settings.searchAttentionFactor = searchAttention;
        settings.attentionFactorMin = 1.05;
        settings.attentionFactorMax = 1.4;
        EvolutionSearch es(settings);
        std::set<double> attentionValues;
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
                const SearchGenome &b = *mates[size_t(rng.below(int(mates.size())))];
                const SearchGenome c = es.crossover(a, b, rng);
                checkMember(es, c, "crossover", seed);
                // Crossover inherits the attention factor from one of the parents.
                QVERIFY(c.attentionFactor == a.attentionFactor || c.attentionFactor == b.attentionFactor);
                if (QTest::currentTestFailed())
                    return;
            }
            for (const auto &g : pop)
                attentionValues.insert(g.attentionFactor);
        }
        // Searched, the gene takes many values; fixed, exactly one: longrope's default for s = 16,
        // L_train = 8192, sqrt(1 + ln 16 / ln 8192) = sqrt(1 + 4/13).
        if (searchAttention) {
            QVERIFY(attentionValues.size() > 1000);
        } else {
            QCOMPARE(int(attentionValues.size()), 1);
            QVERIFY(std::abs(*attentionValues.begin() - std::sqrt(1.0 + 4.0 / 13.0)) < 1e-12);
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
        // v1 with the attention factor searched: the gene stays in its bounds (it is not on the grid).
        s.searchAttentionFactor = true;
        s.attentionFactorMin = 0.9;
        s.attentionFactorMax = 1.2;
        EvolutionSearch withAttention(s);
        for (uint64_t seed = 1; seed <= 50; ++seed) {
            SearchRng rng(seed);
            std::vector<SearchGenome> pop;
            for (int i = 0; i < 8; ++i)
                pop.push_back(withAttention.initialMember(i, rng));
            for (int k = 0; k < 8; ++k)
                pop.push_back(withAttention.mutate(pop[size_t(rng.below(int(pop.size())))], rng));
            for (int k = 0; k < 8; ++k)
                pop.push_back(withAttention.crossover(pop[size_t(rng.below(16))], pop[size_t(rng.below(16))], rng));
            for (const auto &g : pop) {
                QVERIFY(checkConstraints(withAttention.lambdaOf(g), 64, 16.0, -1).empty());
                checkAttention(withAttention, g, "v1", seed);
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

    // Samples that distort one underlying function F by a per-sample affine map,
    // f_k = (1 + a_k)·F + b_k with 1 + a_k > 0: every mean over samples 0 … k is a strictly
    // increasing function of F, so racing eliminates exactly the members a full evaluation ranks
    // lowest, and its ranking (survivors first, then by samples reached) is the full ranking. Same
    // ranking → same parents → same random stream → the same candidates and the same best, for
    // fewer sample evaluations.
    void racingKeepsTheRanking()
    {
        const auto target = hiddenTarget();
        const double a[] = {0.3, -0.2, 0.1, 0.5};
        const double b[] = {0.7, -0.4, 1.1, 0.2};
        const int samples = 4;
        int fullCalls = 0, racedCalls = 0;
        auto sampled = [&](int &calls) {
            return SampledFitness{[&](const Candidate &c, int k) {
                                      ++calls;
                                      return (1 + a[k]) * logDistance(c.lambda, target) + b[k];
                                  },
                                  samples};
        };
        SearchSettings s = llama3Settings();
        s.population = 16;
        s.iterations = 10;
        s.seed = 5;
        std::vector<GenerationReport> racedReports;
        const SearchResult full = runSearch(s, sampled(fullCalls));
        s.racing = true;
        SearchHooks hooks;
        hooks.onGeneration = [&](const GenerationReport &r) { racedReports.push_back(r); };
        const SearchResult raced = runSearch(s, sampled(racedCalls), hooks);
        qInfo("affine samples, K = 4, population 16, 10 iterations: %d candidates; without racing %d sample "
              "evaluations, with racing %d (saved %d); best fitness %.9g vs %.9g",
              raced.candidates, full.sampleEvaluations, raced.sampleEvaluations, raced.savedEvaluations(),
              raced.bestFitness, full.bestFitness);

        QCOMPARE(raced.stopReason, StopReason::Done);
        QCOMPARE(raced.bestLambda, full.bestLambda);
        QCOMPARE(raced.bestDRcd, full.bestDRcd);
        QCOMPARE(raced.bestFitness, full.bestFitness);
        QCOMPARE(raced.candidates, full.candidates);
        // The full fitness is the mean of the four samples: (1 + mean a)·F + mean b, mean a = 0.175, mean b = 0.4.
        const double f = logDistance(full.bestLambda, target);
        QVERIFY(std::abs(full.bestFitness - (1.175 * f + 0.4)) < 1e-12 * (1 + full.bestFitness));
        // Without racing every candidate costs K; a fresh run evaluates each distinct score once.
        QCOMPARE(full.samples, samples);
        QCOMPARE(full.sampleEvaluations, samples * full.candidates);
        QCOMPARE(full.savedEvaluations(), 0);
        QCOMPARE(full.evaluations, fullCalls);
        QCOMPARE(raced.evaluations, racedCalls);
        QCOMPARE(raced.sampleEvaluations, racedCalls);
        QCOMPARE(raced.savedEvaluations(), samples * raced.candidates - racedCalls);
        // Generation 0 races 16 → 8 → 4 → 2 (30 sample evaluations instead of 64); a later
        // generation (8 parents, 8 children) pays 8 for the children's sample 0 and at most
        // 8 + 4 + 2 more for survivors that lack samples 1–3: at most 30 + 22 · 10 in all.
        QVERIFY2(racedCalls <= 30 + 22 * 10, qPrintable(QString::number(racedCalls)));
        QVERIFY(racedCalls < fullCalls);
        QCOMPARE(int(racedReports.size()), 11);
        for (const GenerationReport &r : racedReports) {
            QCOMPARE(r.fullyEvaluated, 2);
            QCOMPARE(r.samples, samples);
        }
        QCOMPARE(racedReports.back().sampleEvaluations, raced.sampleEvaluations);
    }

    // A batch fitness (several candidates of one sample per call: a batched forward or several
    // model replicas) changes only how the evaluations are grouped: with and without racing, the
    // search evaluates the same (candidate, sample) scores, each once, and ends with the same best,
    // and no call holds more than maxBatch candidates or mixes samples. The per-candidate noise
    // makes samples rank candidates differently, so racing's eliminations matter.
    void batchedMatchesOneAtATime_data()
    {
        QTest::addColumn<bool>("racing");
        QTest::newRow("all samples") << false;
        QTest::newRow("racing") << true;
    }
    void batchedMatchesOneAtATime()
    {
        QFETCH(bool, racing);
        const auto target = hiddenTarget();
        const auto score = [&](const Candidate &c, int k) { return noisySampleScore(c, k, target); };
        ScoredPairs single, batched;
        std::vector<int> batchSizes;
        int duplicateCalls = 0;
        SampledFitness inBatches;
        inBatches.samples = 4;
        inBatches.maxBatch = 5;
        inBatches.batch = [&](const std::vector<Candidate> &cs, int k) {
            batchSizes.push_back(int(cs.size()));
            std::vector<double> out;
            for (const Candidate &c : cs) {
                if (!batched.insert({c.lambda, k}).second)
                    ++duplicateCalls;
                out.push_back(score(c, k));
            }
            return out;
        };
        const SearchSettings s = groupedSearchSettings(racing);
        const SearchResult a = runOneAtATime(s, score, single);
        const SearchResult b = runSearch(s, inBatches);
        qInfo("%d sample evaluations in %d calls (largest %d); best %.9g", b.evaluations, int(batchSizes.size()),
              *std::max_element(batchSizes.begin(), batchSizes.end()), b.bestFitness);
        QCOMPARE(b.bestLambda, a.bestLambda);
        QCOMPARE(b.bestDRcd, a.bestDRcd);
        QCOMPARE(b.bestFitness, a.bestFitness);
        QCOMPARE(b.evaluations, a.evaluations);
        QCOMPARE(b.cacheHits, a.cacheHits);
        QCOMPARE(b.candidates, a.candidates);
        QCOMPARE(b.sampleEvaluations, a.sampleEvaluations);
        QVERIFY(batched == single);
        QCOMPARE(duplicateCalls, 0);
        QCOMPARE(std::accumulate(batchSizes.begin(), batchSizes.end(), 0), b.evaluations);
        for (int n : batchSizes)
            QVERIFY(n >= 1 && n <= 5);
        // Generation 0 scores 16 members on sample 0: batches of 5, 5, 5, 1.
        QCOMPARE(std::vector<int>(batchSizes.begin(), batchSizes.begin() + 4), (std::vector<int>{5, 5, 5, 1}));
    }

    // A streaming fitness (the MPI queue: core/distributed) gets each round of a sample whole, in
    // one call, whatever maxBatch says, and may answer in any order: the search still evaluates the
    // same (candidate, sample) scores, each once, and ends with the same best as one at a time.
    void streamingMatchesOneAtATime_data() { batchedMatchesOneAtATime_data(); }
    void streamingMatchesOneAtATime()
    {
        QFETCH(bool, racing);
        const auto target = hiddenTarget();
        const auto score = [&](const Candidate &c, int k) { return noisySampleScore(c, k, target); };
        ScoredPairs single, streamed;
        std::vector<int> callSizes;
        int duplicates = 0;
        SampledFitness streaming;
        streaming.samples = 4;
        streaming.maxBatch = 5;  // not a cut for a stream
        streaming.stream = [&](const std::vector<Candidate> &cs, int k, const ScoreSink &each) {
            callSizes.push_back(int(cs.size()));
            for (size_t j = cs.size(); j-- > 0;) {  // last first: arrival order is not member order
                if (!streamed.insert({cs[j].lambda, k}).second)
                    ++duplicates;
                each(j, score(cs[j], k));
            }
        };
        const SearchSettings s = groupedSearchSettings(racing);
        const SearchResult a = runOneAtATime(s, score, single);
        const SearchResult b = runSearch(s, streaming);
        QCOMPARE(b.bestLambda, a.bestLambda);
        QCOMPARE(b.bestFitness, a.bestFitness);
        QCOMPARE(b.evaluations, a.evaluations);
        QCOMPARE(b.cacheHits, a.cacheHits);
        QCOMPARE(b.sampleEvaluations, a.sampleEvaluations);
        QVERIFY(streamed == single);
        QCOMPARE(duplicates, 0);
        QCOMPARE(std::accumulate(callSizes.begin(), callSizes.end(), 0), b.evaluations);
        // Generation 0: all 16 members on sample 0 in one call; one call per sample round, so
        // never more calls than rounds (samples × (generations)).
        QCOMPARE(callSizes.front(), 16);
        QVERIFY(int(callSizes.size()) <= 4 * (s.iterations + 1));
    }

    // A stream stops when the run is cancelled mid-round: what had been handed over is logged, what
    // was "running" still arrives and is logged, nothing more is asked for, and a resume finishes
    // as the uninterrupted run with no evaluation repeated.
    void streamingStopsMidRoundAndResumes()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const auto target = hiddenTarget();
        SearchSettings s = llama3Settings();
        s.population = 16;
        s.iterations = 3;
        s.seed = 4;
        std::vector<std::vector<double>> fullCalls, calls1, calls2;
        auto streamInto = [&](std::vector<std::vector<double>> &calls) {
            SampledFitness f;
            f.stream = [&](const std::vector<Candidate> &cs, int, const ScoreSink &each) {
                int stillRunning = -1;  // after a "stop": the two jobs that were running answer
                for (size_t j = 0; j < cs.size() && stillRunning != 0; ++j) {
                    calls.push_back(cs[j].lambda);
                    const bool goOn = each(j, logDistance(cs[j].lambda, target));
                    if (stillRunning > 0)
                        --stillRunning;
                    else if (!goOn && stillRunning < 0)
                        stillRunning = 2;
                }
            };
            return f;
        };
        const SearchResult full = runSearch(s, streamInto(fullCalls));
        QCOMPARE(full.stopReason, StopReason::Done);

        const QString logPath = dir.filePath(QStringLiteral("run.jsonl"));
        SearchHooks h1;
        h1.logPath = logPath;
        h1.cancelled = [&] { return calls1.size() >= 7; };
        const SearchResult r1 = runSearch(s, streamInto(calls1), h1);
        QCOMPARE(r1.stopReason, StopReason::Cancelled);
        QCOMPARE(int(calls1.size()), 9);  // 7, then the 2 running
        QCOMPARE(r1.evaluations, 9);
        int logged = 0;
        {
            QFile f(logPath);
            QVERIFY(f.open(QIODevice::ReadOnly));
            for (const QByteArray &line : f.readAll().split('\n'))
                logged += line.contains("\"event\":\"eval\"") ? 1 : 0;
        }
        QCOMPARE(logged, 9);

        SearchHooks hr;
        hr.logPath = logPath;
        hr.resume = true;
        const SearchResult r2 = runSearch(s, streamInto(calls2), hr);
        QCOMPARE(r2.stopReason, StopReason::Done);
        QCOMPARE(r2.bestLambda, full.bestLambda);
        QCOMPARE(r2.bestFitness, full.bestFitness);
        QCOMPARE(calls1.size() + calls2.size(), fullCalls.size());
        const std::set<std::vector<double>> first(calls1.begin(), calls1.end());
        for (const auto &l : calls2)
            QVERIFY(!first.count(l));

        // A stream that answers a candidate twice is an error, not a silent double count.
        SampledFitness twice;
        twice.stream = [](const std::vector<Candidate> &cs, int, const ScoreSink &each) {
            for (size_t j = 0; j < cs.size(); ++j)
                each(0, 1.0);
        };
        QVERIFY_THROWS_EXCEPTION(Error, runSearch(s, twice));
        // One that returns without every score (and was not told to stop) too.
        SampledFitness short_;
        short_.stream = [](const std::vector<Candidate> &cs, int, const ScoreSink &each) {
            for (size_t j = 0; j + 1 < cs.size(); ++j)
                each(j, 1.0);
        };
        QVERIFY_THROWS_EXCEPTION(Error, runSearch(s, short_));
    }

    // The evaluation budget is exact with batches too: the last batch is cut to what is left.
    void batchedBudgetStops()
    {
        SearchSettings s = llama3Settings();
        s.population = 16;
        s.iterations = 10;
        s.maxEvaluations = 13;
        std::vector<int> batchSizes;
        SampledFitness f;
        f.maxBatch = 5;
        f.batch = [&](const std::vector<Candidate> &cs, int) {
            batchSizes.push_back(int(cs.size()));
            return std::vector<double>(cs.size(), 1.0);
        };
        const SearchResult r = runSearch(s, f);
        QCOMPARE(r.stopReason, StopReason::Budget);
        QCOMPARE(r.evaluations, 13);
        QCOMPARE(batchSizes, (std::vector<int>{5, 5, 3}));
        // A batch fitness that returns the wrong number of scores is an error, not a silent skip.
        f.batch = [](const std::vector<Candidate> &cs, int) { return std::vector<double>(cs.size() - 1, 1.0); };
        QVERIFY_THROWS_EXCEPTION(Error, runSearch(s, f));
    }

    // The caller's informational entries (the MPI coordinator's rank_lost / rank_stats) go into the
    // log after each batch and just before each generation and the finish entry, and a resume
    // skips them: it ends as the uninterrupted run.
    void callerEventsGoToTheLog()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("run.jsonl"));
        SearchSettings s = llama3Settings();
        s.population = 8;
        s.iterations = 2;
        SampledFitness f;
        f.samples = 2;
        f.maxBatch = 3;
        const auto target = hiddenTarget();
        f.batch = [&](const std::vector<Candidate> &cs, int k) {
            std::vector<double> out;
            for (const Candidate &c : cs)
                out.push_back(logDistance(c.lambda, target) + k);
            return out;
        };
        int batches = 0, generations = 0;
        SearchHooks hooks;
        hooks.logPath = path;
        hooks.logEvents = [&](bool atGeneration) {
            (atGeneration ? generations : batches) += 1;
            return std::vector<QJsonObject>{{{QStringLiteral("event"), atGeneration ? QStringLiteral("caller_generation")
                                                                                    : QStringLiteral("caller_batch")}}};
        };
        const SearchResult full = EvolutionSearch(s).run(f, hooks);
        QStringList events;
        QFile log(path);
        QVERIFY(log.open(QIODevice::ReadOnly));
        for (const QByteArray &line : log.readAll().split('\n'))
            if (!line.isEmpty())
                events << QJsonDocument::fromJson(line).object().value(QStringLiteral("event")).toString();
        QCOMPARE(generations, full.generations + 1);  // every generation and the finish
        QCOMPARE(int(events.count(QStringLiteral("caller_generation"))), generations);
        QCOMPARE(int(events.count(QStringLiteral("caller_batch"))), batches);
        for (qsizetype i = 0; i < events.size(); ++i)
            if (events[i] == QLatin1String("generation") || events[i] == QLatin1String("finish"))
                QCOMPARE(events[i - 1], QStringLiteral("caller_generation"));
        for (qsizetype i = 1; i < events.size(); ++i)
            if (events[i] == QLatin1String("caller_batch"))
                QVERIFY2(events[i - 1] == QLatin1String("eval") || events[i - 1] == QLatin1String("caller_batch"),
                         qPrintable(events[i - 1]));

        hooks.resume = true;
        const SearchResult resumed = EvolutionSearch(s).run(f, hooks);
        QCOMPARE(resumed.bestLambda, full.bestLambda);
        QCOMPARE(resumed.evaluations, 0);
    }

    // Noise that differs per candidate can reorder candidates between samples, so racing may take
    // another path; it still costs less and still improves on its first generation.
    void racingWithNoisySamples()
    {
        const auto target = hiddenTarget();
        auto noise = [](const std::vector<double> &l, int k) {  // deterministic, in [−1, 1)
            SearchRng rng(uint64_t(std::llround(l.back() * 1e6)) * 31 + uint64_t(std::llround(l[40] * 1e6)) * 7 + uint64_t(k));
            return 2 * rng.uniform() - 1;
        };
        const SampledFitness sampled{[&](const Candidate &c, int k) {
                                         return logDistance(c.lambda, target) * (1 + 0.2 * noise(c.lambda, k));
                                     },
                                     4};
        SearchSettings s = llama3Settings();
        s.population = 16;
        s.iterations = 10;
        s.seed = 3;
        const SearchResult full = runSearch(s, sampled);
        s.racing = true;
        std::vector<GenerationReport> reports;
        SearchHooks hooks;
        hooks.onGeneration = [&](const GenerationReport &r) { reports.push_back(r); };
        const SearchResult raced = runSearch(s, sampled, hooks);
        qInfo("noisy samples (±20%%), K = 4: without racing %d sample evaluations, best %.6g (distance %.6g); with "
              "racing %d of %d (saved %d), best %.6g (distance %.6g)",
              full.sampleEvaluations, full.bestFitness, logDistance(full.bestLambda, target), raced.sampleEvaluations,
              raced.samples * raced.candidates, raced.savedEvaluations(), raced.bestFitness,
              logDistance(raced.bestLambda, target));
        QVERIFY(raced.sampleEvaluations < full.sampleEvaluations);
        QVERIFY(raced.savedEvaluations() > 0);
        QVERIFY(raced.bestFitness < reports.front().bestFitness);
    }

    // A fitness whose optimum needs attention factor 1.23 inside bounds [1, 1.5], plus the factor
    // distance of findsKnownOptimum. Weight 200: 0.03 off the optimum costs 0.18, as much as a
    // sizeable step in the factors, so selection has to care about the gene. (The fixed default,
    // longrope's 1.1436, would cost 200 · 0.0864² ≈ 1.49.)
    void findsTheAttentionFactor_data()
    {
        QTest::addColumn<int>("seed");
        for (int seed = 1; seed <= 12; ++seed)
            QTest::addRow("seed %d", seed) << seed;
    }

    void findsTheAttentionFactor()
    {
        QFETCH(int, seed);
        const std::vector<double> target = hiddenTarget();
        const double optimum = 1.23;
        auto score = [&](const Candidate &c) {
            const double d = c.attentionFactor - optimum;
            return logDistance(c.lambda, target) + 200 * d * d;
        };
        SearchSettings s = llama3Settings();
        s.population = 16;
        s.iterations = 20;
        s.seed = uint64_t(seed);
        s.searchAttentionFactor = true;
        s.attentionFactorMin = 1.0;
        s.attentionFactorMax = 1.5;
        std::set<double> seen;
        const SearchResult r = runSearch(s, SampledFitness::whole([&](const Candidate &c) {
            seen.insert(c.attentionFactor);
            if (c.attentionFactor < 1.0 || c.attentionFactor > 1.5)
                QTest::qFail("attention factor out of its bounds", __FILE__, __LINE__);
            return score(c);
        }));
        qInfo("seed %d: best attention factor %.4f (optimum %.2f), %d distinct values tried", seed,
              r.bestAttentionFactor, optimum, int(seen.size()));
        QVERIFY(!QTest::currentTestFailed());
        QCOMPARE(r.stopReason, StopReason::Done);
        QCOMPARE(score({r.bestLambda, r.bestAttentionFactor}), r.bestFitness);
        QVERIFY2(std::abs(r.bestAttentionFactor - optimum) < 0.03, qPrintable(QString::number(r.bestAttentionFactor)));

        // Not searched, every candidate runs with the fixed factor (longrope's default here).
        s.searchAttentionFactor = false;
        const double fixed = std::sqrt(1.0 + std::log(16.0) / std::log(8192.0));
        seen.clear();
        const SearchResult f = runSearch(s, SampledFitness::whole([&](const Candidate &c) {
            seen.insert(c.attentionFactor);
            return score(c);
        }));
        QCOMPARE(int(seen.size()), 1);
        QVERIFY(std::abs(*seen.begin() - fixed) < 1e-15);
        QCOMPARE(f.bestAttentionFactor, *seen.begin());
        // Searching the gene pays: the fixed run carries the 200 · (1.1436 − 1.23)² penalty.
        QVERIFY(r.bestFitness < f.bestFitness);
    }

    // Racing with the attention factor searched, cancelled mid-race and resumed from its log, ends
    // like an uninterrupted run, with no (candidate, sample) evaluated twice.
    void racingResumeMatchesUninterrupted()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        SearchSettings s = llama3Settings();
        s.population = 16;
        s.iterations = 6;
        s.seed = 9;
        s.racing = true;
        s.searchAttentionFactor = true;
        const auto target = hiddenTarget();
        using Call = std::pair<std::pair<std::vector<double>, double>, int>;
        std::vector<Call> fullCalls, calls1, calls2;
        auto fitnessInto = [&](std::vector<Call> &calls) {
            return SampledFitness{[&](const Candidate &c, int k) {
                                      calls.push_back({{c.lambda, c.attentionFactor}, k});
                                      const double d = c.attentionFactor - 1.3;
                                      return (1 + 0.1 * k) * logDistance(c.lambda, target) + 5 * d * d + 0.01 * k * c.lambda[50];
                                  },
                                  3};
        };
        const SearchResult full = runSearch(s, fitnessInto(fullCalls));
        QCOMPARE(full.stopReason, StopReason::Done);
        QVERIFY(full.savedEvaluations() > 0);

        const QString logPath = dir.filePath(QStringLiteral("race.jsonl"));
        SearchHooks h1;
        h1.logPath = logPath;
        const int k = 41;  // inside generation 1's race (generation 0 costs 16 + 8 + 4 = 28)
        h1.cancelled = [&] { return int(calls1.size()) >= k; };
        const SearchResult r1 = runSearch(s, fitnessInto(calls1), h1);
        QCOMPARE(r1.stopReason, StopReason::Cancelled);
        QCOMPARE(int(calls1.size()), k);

        SearchHooks hr;
        hr.logPath = logPath;
        hr.resume = true;
        // Racing is part of what the log was written with.
        SearchSettings other = s;
        other.racing = false;
        try {
            runSearch(other, fitnessInto(calls2), hr);
            QFAIL("resume without racing must fail");
        } catch (const Error &e) {
            QVERIFY2(e.message().contains(QLatin1String("racing")), qPrintable(e.message()));
        }
        QVERIFY(calls2.empty());

        const SearchResult r2 = runSearch(s, fitnessInto(calls2), hr);
        qInfo("racing resume: %d + %d sample evaluations (uninterrupted %d), %d of %d saved", int(calls1.size()),
              int(calls2.size()), int(fullCalls.size()), r2.savedEvaluations(), r2.samples * r2.candidates);
        QCOMPARE(r2.stopReason, StopReason::Done);
        QCOMPARE(r2.bestLambda, full.bestLambda);
        QCOMPARE(r2.bestFitness, full.bestFitness);
        QCOMPARE(r2.bestAttentionFactor, full.bestAttentionFactor);
        QCOMPARE(r2.generations, full.generations);
        QCOMPARE(r2.candidates, full.candidates);
        QCOMPARE(r2.sampleEvaluations, full.sampleEvaluations);
        QCOMPARE(r2.savedEvaluations(), full.savedEvaluations());
        QCOMPARE(calls1.size() + calls2.size(), fullCalls.size());
        const std::set<Call> first(calls1.begin(), calls1.end());
        QCOMPARE(first.size(), calls1.size());
        for (const Call &c : calls2)
            QVERIFY(!first.count(c));
        QCOMPARE(r2.evaluations, int(calls2.size()));
        QCOMPARE(r2.cacheHits, k);  // the resumed run replays exactly the logged evaluations

        // The log's finish event carries the cost figures and the best attention factor.
        QFile f(logPath);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QList<QByteArray> lines = f.readAll().trimmed().split('\n');
        const QJsonObject finish = QJsonDocument::fromJson(lines.last()).object();
        QCOMPARE(finish.value("event").toString(), QStringLiteral("finish"));
        QCOMPARE(finish.value("saved_evaluations").toInt(), full.savedEvaluations());
        QCOMPARE(finish.value("sample_evaluations").toInt(), full.sampleEvaluations);
        QCOMPARE(finish.value("samples").toInt(), 3);
        QCOMPARE(finish.value("best_attention_factor").toDouble(), full.bestAttentionFactor);
        int evalLines = 0;
        for (const QByteArray &line : lines) {
            const QJsonObject o = QJsonDocument::fromJson(line).object();
            if (o.value("event").toString() != QLatin1String("eval"))
                continue;
            ++evalLines;
            QVERIFY(o.value("sample").isDouble());
            QVERIFY(o.value("attention_factor").isDouble());
        }
        QCOMPARE(evalLines, int(fullCalls.size()));
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
