// Held-out validation inside the search, the baselines every run scores, family seeding and the
// run-log lock, on synthetic fitness functions (no model):
// - the answer is the validated candidate with the best validation fitness, recomputed here from
//   the validation calls themselves, on a fitness whose search and validation optima differ;
// - the families' projections are in generation 0, obey the constraints and are the nearest
//   members (checked against a brute-force search written here); with them a search never ends
//   worse on its own samples than the best seeded member;
// - a run stopped by a budget anywhere (baselines, a race, a validation step) and resumed ends as
//   the uninterrupted one, with no evaluation of any kind made twice;
// - the aggregates are the formulas; a second writer of a log is refused, naming the holder.
#include "common/error.h"
#include "rope/factorfamilies.h"
#include "search/search.h"

#include <QCoreApplication>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLockFile>
#include <QSysInfo>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <tuple>
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
    s.population = 16;
    s.iterations = 6;
    return s;
}

std::vector<double> hiddenTarget()
{
    std::vector<double> upper;
    for (int k = 0; k < 64 - 30; ++k)
        upper.push_back(16.0 * (1.1 + 0.4 * k / 33.0));
    return longrope2Factors(128, 30, upper, 16.0, 8192).lambda;
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

std::vector<QJsonObject> logEvents(const QString &path, const QString &event)
{
    std::vector<QJsonObject> out;
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return out;
    for (const QByteArray &line : f.readAll().split('\n')) {
        const QJsonObject o = QJsonDocument::fromJson(line).object();
        if (o.value(QStringLiteral("event")).toString() == event)
            out.push_back(o);
    }
    return out;
}

// One call of either fitness: which set, the candidate and the sample.
struct Call {
    char set;  // 's' search, 'v' validation
    std::vector<double> lambda;
    double attention;
    int sample;
    bool operator<(const Call &o) const
    {
        return std::tie(set, lambda, attention, sample) < std::tie(o.set, o.lambda, o.attention, o.sample);
    }
    bool operator==(const Call &o) const
    {
        return std::tie(set, lambda, attention, sample) == std::tie(o.set, o.lambda, o.attention, o.sample);
    }
};

// Per-sample scores distorted per sample, so that the aggregate matters and samples are not copies.
double sampleWeight(int k) { return 1.0 + 0.15 * k; }

} // namespace

class TestSearchValidation : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void aggregatesAreTheirFormulas()
    {
        const std::vector<double> x{2.0, 8.0, 4.0, 1.0};
        QCOMPARE(aggregateScores(FitnessAggregate::MeanPpl, x), 15.0 / 4.0);
        // exp(mean ln x) = (2·8·4·1)^(1/4) = 64^(1/4) = 2·sqrt(2).
        QVERIFY(std::abs(aggregateScores(FitnessAggregate::ExpMeanNll, x) - 2.0 * std::sqrt(2.0)) < 1e-15);
        QCOMPARE(aggregateScores(FitnessAggregate::MedianPpl, x), 3.0);
        QCOMPARE(aggregateScores(FitnessAggregate::MedianPpl, std::vector<double>{5.0, 1.0, 3.0}), 3.0);
        QVERIFY(std::isnan(aggregateScores(FitnessAggregate::ExpMeanNll, std::vector<double>{1.0, 0.0})));
        QVERIFY(std::isinf(aggregateScores(FitnessAggregate::ExpMeanNll, std::vector<double>{1.0, qInf()})));
        for (FitnessAggregate a : {FitnessAggregate::MeanPpl, FitnessAggregate::ExpMeanNll, FitnessAggregate::MedianPpl})
            QCOMPARE(fitnessAggregateFromName(fitnessAggregateName(a)), std::optional<FitnessAggregate>(a));
        QCOMPARE(fitnessAggregateFromName(QStringLiteral("exp-mean-nll")), std::optional<FitnessAggregate>(FitnessAggregate::ExpMeanNll));
        QVERIFY(!fitnessAggregateFromName(QStringLiteral("mean")));
    }

    // LongRoPE2 projections: constraints, and the nearest feasible member by brute force on a tiny
    // space (d/2 = 4, d_rcd = 2: two searched factors, on a fine grid of [s, 2s]²).
    void projectionIsTheNearestFeasibleMember()
    {
        SearchSettings s;
        s.rotaryDims = 8;
        s.base = 10000;
        s.trainLength = 1000;
        s.targetLength = 3000;  // s = 3
        s.dRcdMin = 1;
        s.dRcdMax = 2;
        const EvolutionSearch es(s);
        const double scale = 3.0;
        const std::vector<std::vector<double>> families{{1.0, 1.4, 2.5, 4.0}, {6.0, 6.5, 5.0, 9.0}, {1.0, 1.0, 1.0, 1.0},
                                                        {3.0, 3.0, 3.0, 3.0}};
        for (const std::vector<double> &family : families) {
            const SearchGenome g = es.project({family, 1.2}, 2);
            QCOMPARE(g.dRcd, 2);
            QCOMPARE(g.attentionFactor, es.fixedAttentionFactor());
            const std::vector<double> lambda = es.lambdaOf(g);
            QVERIFY(checkConstraints(lambda, 4, scale, 2).empty());
            QVERIFY(lambda[3] <= 2 * scale + 1e-12);
            const double projected = logDistance(lambda, family);
            double best = std::numeric_limits<double>::infinity();
            const int steps = 600;
            for (int a = 0; a <= steps; ++a) {
                const double u0 = scale * (1.0 + double(a) / steps);
                for (int b = a; b <= steps; ++b) {
                    const double u1 = scale * (1.0 + double(b) / steps);
                    const std::vector<double> l{1.0, std::sqrt(u0), u0, u1};  // λ_1 = u0^(1/2)
                    best = std::min(best, logDistance(l, family));
                }
            }
            QVERIFY2(projected <= best + 1e-9, qPrintable(QStringLiteral("%1 vs brute force %2").arg(projected).arg(best)));
        }
        // The attention gene takes the family's factor, clamped to its bounds.
        s.searchAttentionFactor = true;
        const EvolutionSearch withGene(s);
        QCOMPARE(withGene.project({families[0], 1.2}, 2).attentionFactor, 1.2);
        QCOMPARE(withGene.project({families[0], 1.9}, 2).attentionFactor, 1.5);
    }

    // v1: monotone on the 0.01 grid in [1, s·2]; brute force over every monotone grid triple.
    void v1ProjectionIsTheNearestGridMember()
    {
        SearchSettings s;
        s.method = SearchMethod::LongRoPEv1;
        s.rotaryDims = 6;
        s.base = 10000;
        s.trainLength = 1000;
        s.targetLength = 1500;  // s = 1.5, λ ∈ [1, 3]
        const EvolutionSearch es(s);
        const std::vector<std::vector<double>> families{{1.0, 1.2345, 1.5}, {2.0, 1.1, 2.9}, {0.5, 4.0, 1.7}};
        for (const std::vector<double> &family : families) {
            const std::vector<double> lambda = es.lambdaOf(es.project({family, 1.0}));
            QVERIFY(checkConstraints(lambda, 3, 1.0, 0).empty());
            for (double v : lambda) {
                QVERIFY(v >= 1.0 - 1e-12 && v <= 3.0 + 1e-12);
                QVERIFY(std::abs(v * 100 - std::round(v * 100)) < 1e-6);
            }
            double best = std::numeric_limits<double>::infinity();
            for (int a = 100; a <= 300; ++a)
                for (int b = a; b <= 300; ++b)
                    for (int c = b; c <= 300; ++c)
                        best = std::min(best, logDistance({a / 100.0, b / 100.0, c / 100.0}, family));
            // Rounding to the grid after the exact projection costs at most half a grid step.
            QVERIFY2(logDistance(lambda, family) <= best + 3 * std::pow(std::log(1.005), 2),
                     qPrintable(QStringLiteral("%1 vs %2").arg(logDistance(lambda, family)).arg(best)));
        }
        // PI, NTK and YaRN are on the grid or within half a step of it: seeded as they are.
        const SearchGenome pi = es.project({piFactors(6, 1.5).lambda, 1.0});
        QCOMPARE(pi.upper, (std::vector<double>{1.5, 1.5, 1.5}));
    }

    // Generation 0 holds every distinct seed (LongRoPE2 and v1), and the seeds obey the constraints.
    void seedsAreInGenerationZero_data()
    {
        QTest::addColumn<bool>("v1");
        QTest::addRow("longrope2") << false;
        QTest::addRow("v1") << true;
    }

    void seedsAreInGenerationZero()
    {
        QFETCH(bool, v1);
        SearchSettings s = llama3Settings();
        s.population = 32;
        s.iterations = 0;
        if (v1)
            s.method = SearchMethod::LongRoPEv1;
        const EvolutionSearch es(s);
        const std::vector<SearchBaseline> families = es.defaultBaselines();
        QCOMPARE(int(families.size()), 5);
        const std::vector<SearchGenome> seeds = es.familySeeds(families);
        QVERIFY(!seeds.empty());
        QVERIFY(int(seeds.size()) <= (v1 ? s.population : std::max(5, s.population / 4)));
        std::set<std::vector<double>> seedLambdas;
        for (const SearchGenome &g : seeds) {
            const std::vector<double> lambda = es.lambdaOf(g);
            QVERIFY(checkConstraints(lambda, 64, v1 ? 1.0 : 16.0, v1 ? 0 : g.dRcd).empty());
            seedLambdas.insert(lambda);
        }
        QCOMPARE(seedLambdas.size(), seeds.size());  // distinct
        if (v1) {
            // PI, NTK and YaRN, as the original LongRoPE starts (the original RoPE and Llama 3.1 too).
            QVERIFY(seedLambdas.count(std::vector<double>(64, 16.0)));
            QCOMPARE(int(seeds.size()), 5);
        } else {
            // Every family's nearest member over all d_rcd candidates is there.
            for (const SearchBaseline &f : families) {
                double nearest = std::numeric_limits<double>::infinity();
                std::vector<double> nearestLambda;
                for (int c = es.settings().dRcdMin; c <= es.settings().dRcdMax; ++c) {
                    const std::vector<double> l = es.lambdaOf(es.project(f.candidate, c));
                    if (logDistance(l, f.candidate.lambda) < nearest) {
                        nearest = logDistance(l, f.candidate.lambda);
                        nearestLambda = l;
                    }
                }
                QVERIFY2(seedLambdas.count(nearestLambda), qPrintable(f.name));
            }
        }
        std::vector<std::vector<double>> evaluated;
        runSearch(s, [&](const std::vector<double> &l) {
            evaluated.push_back(l);
            return logDistance(l, hiddenTarget());
        });
        QCOMPARE(int(evaluated.size()), s.population);
        for (const std::vector<double> &l : seedLambdas)
            QVERIFY(std::find(evaluated.begin(), evaluated.end(), l) != evaluated.end());
        // Without seeding none of them is (the random members never hit a projection exactly).
        s.seedFamilies = false;
        evaluated.clear();
        runSearch(s, [&](const std::vector<double> &l) {
            evaluated.push_back(l);
            return 1.0;
        });
        int found = 0;
        for (const std::vector<double> &l : seedLambdas)
            found += std::find(evaluated.begin(), evaluated.end(), l) != evaluated.end();
        QVERIFY(found <= 1);  // v1's unseeded member 0 is PI
    }

    // With elitism a seeded search never ends worse on its own samples than its best seed. The
    // fitness is the distance to one family (YaRN, then NTK), which random members are far from.
    void neverWorseThanTheBestSeed_data()
    {
        QTest::addColumn<bool>("v1");
        QTest::addColumn<QString>("family");
        QTest::addColumn<int>("seed");
        for (int seed = 1; seed <= 4; ++seed) {
            QTest::addRow("longrope2 yarn %d", seed) << false << QStringLiteral("yarn") << seed;
            QTest::addRow("v1 ntk %d", seed) << true << QStringLiteral("ntk") << seed;
        }
    }

    void neverWorseThanTheBestSeed()
    {
        QFETCH(bool, v1);
        QFETCH(QString, family);
        QFETCH(int, seed);
        SearchSettings s = llama3Settings();
        s.seed = uint64_t(seed);
        s.iterations = 3;
        if (v1)
            s.method = SearchMethod::LongRoPEv1;
        const EvolutionSearch es(s);
        std::vector<double> target;
        for (const SearchBaseline &b : es.defaultBaselines())
            if (b.name == family)
                target = b.candidate.lambda;
        QVERIFY(!target.empty());
        auto fitness = [&](const std::vector<double> &l) { return logDistance(l, target); };
        double bestSeed = std::numeric_limits<double>::infinity();
        for (const SearchGenome &g : es.familySeeds(es.defaultBaselines()))
            bestSeed = std::min(bestSeed, fitness(es.lambdaOf(g)));
        const SearchResult seeded = runSearch(s, fitness);
        QVERIFY2(seeded.bestFitness <= bestSeed, qPrintable(QStringLiteral("%1 > %2").arg(seeded.bestFitness).arg(bestSeed)));
        s.seedFamilies = false;
        const SearchResult unseeded = runSearch(s, fitness);
        qInfo("%s: best seed %.4g, seeded search %.4g, unseeded %.4g", qPrintable(family), bestSeed, seeded.bestFitness,
              unseeded.bestFitness);
        QVERIFY(seeded.bestFitness < unseeded.bestFitness);
    }

    // Search samples pull towards the hidden target, validation samples towards flat λ = s above
    // d_rcd (what the PI-like seeds are): the two optima differ. The answer is the validated
    // candidate with the lowest validation fitness, recomputed here from the validation calls.
    void choosesByValidation()
    {
        SearchSettings s = llama3Settings();
        s.seed = 5;
        const std::vector<double> searchTarget = hiddenTarget();
        const std::vector<double> validationTarget = longrope2Factors(128, 28, {16.0}, 16.0, 8192).lambda;
        std::map<std::pair<std::vector<double>, int>, int> validationCalls;
        std::map<std::vector<double>, std::map<int, double>> validationScores;
        const SampledFitness search{[&](const Candidate &c, int k) { return sampleWeight(k) * (1 + logDistance(c.lambda, searchTarget)); }, 2};
        const SampledFitness validation{[&](const Candidate &c, int k) {
                                            ++validationCalls[{c.lambda, k}];
                                            const double f = sampleWeight(k) * (1 + logDistance(c.lambda, validationTarget));
                                            validationScores[c.lambda][k] = f;
                                            return f;
                                        },
                                        3};
        std::vector<GenerationReport> reports;
        SearchHooks hooks;
        hooks.onGeneration = [&](const GenerationReport &r) { reports.push_back(r); };
        const SearchResult r = runSearch(s, search, validation, hooks);
        QCOMPARE(r.stopReason, StopReason::Done);
        QVERIFY(r.chosenByValidation);
        for (const auto &[call, count] : validationCalls)
            QCOMPARE(count, 1);  // no (candidate, sample) validated twice
        // The choice, recomputed: the lowest mean over the three validation samples.
        double lowest = std::numeric_limits<double>::infinity();
        std::vector<double> lowestLambda;
        for (const auto &[lambda, scores] : validationScores) {
            QCOMPARE(int(scores.size()), 3);
            const double mean = (scores.at(0) + scores.at(1) + scores.at(2)) / 3.0;
            if (mean < lowest) {
                lowest = mean;
                lowestLambda = lambda;
            }
        }
        QCOMPARE(r.bestLambda, lowestLambda);
        QVERIFY(std::abs(r.bestValidationFitness - lowest) <= 1e-12 * lowest);
        // The search's own best is another candidate: better on the search samples, worse held out.
        QVERIFY(r.searchBestLambda != r.bestLambda);
        QVERIFY(r.searchBestFitness < r.bestFitness);
        QVERIFY(r.bestValidationFitness < r.searchBestValidationFitness);
        QCOMPARE(r.searchBestFitness, (sampleWeight(0) + sampleWeight(1)) / 2 * (1 + logDistance(r.searchBestLambda, searchTarget)));
        // At most validationTop new candidates per generation after the first (which adds the seeds).
        QCOMPARE(int(reports.size()), 7);
        const int seeds = int(EvolutionSearch(s).familySeeds(EvolutionSearch(s).defaultBaselines()).size());
        QVERIFY(reports[0].validationEvaluations <= 3 * (s.validationTop + seeds));
        for (size_t g = 1; g < reports.size(); ++g) {
            QVERIFY(reports[g].validationEvaluations - reports[g - 1].validationEvaluations <= 3 * s.validationTop);
            QVERIFY(reports[g].searchBestFitness <= reports[g - 1].searchBestFitness);
            QVERIFY(reports[g].bestValidationFitness <= reports[g - 1].bestValidationFitness);
            QVERIFY(std::isfinite(reports[g].searchBestValidationFitness));  // the elite is always validated
        }
        QCOMPARE(r.validationEvaluations, reports.back().validationEvaluations);
        QCOMPARE(reports.back().bestValidationFitness, r.bestValidationFitness);

        // Chosen by search instead: the answer is the search's best, its validation fitness known.
        s.chooseByValidation = false;
        const SearchResult bySearch = runSearch(s, search, validation);
        QVERIFY(!bySearch.chosenByValidation);
        QCOMPARE(bySearch.bestLambda, bySearch.searchBestLambda);
        QCOMPARE(bySearch.bestLambda, r.searchBestLambda);
        QCOMPARE(bySearch.bestValidationFitness, r.searchBestValidationFitness);
    }

    // Stopped by a budget inside the baselines, a race, or a validation step, then resumed: the
    // same answer, baselines and counts as the uninterrupted run, and no evaluation made twice.
    void resumeWithValidationIsExact_data()
    {
        QTest::addColumn<QString>("where");
        QTest::addRow("baselines") << QStringLiteral("baselines");
        QTest::addRow("race") << QStringLiteral("race");
        QTest::addRow("validation") << QStringLiteral("validation");
    }

    void resumeWithValidationIsExact()
    {
        QFETCH(QString, where);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        SearchSettings s = llama3Settings();
        s.seed = 11;
        s.iterations = 4;
        s.racing = true;
        const std::vector<double> searchTarget = hiddenTarget();
        const std::vector<double> validationTarget = longrope2Factors(128, 28, {16.0}, 16.0, 8192).lambda;
        std::vector<Call> calls;
        const SampledFitness search{[&](const Candidate &c, int k) {
                                        calls.push_back({'s', c.lambda, c.attentionFactor, k});
                                        return sampleWeight(k) * (1 + logDistance(c.lambda, searchTarget));
                                    },
                                    3};
        SampledFitness validation;
        validation.samples = 2;
        validation.maxBatch = 4;  // the batched path for validation
        validation.batch = [&](const std::vector<Candidate> &cs, int k) {
            std::vector<double> out;
            for (const Candidate &c : cs) {
                calls.push_back({'v', c.lambda, c.attentionFactor, k});
                out.push_back(sampleWeight(k) * (1 + logDistance(c.lambda, validationTarget)));
            }
            return out;
        };
        SearchHooks hooks;
        const EvolutionSearch es(s);
        for (const SearchBaseline &b : es.defaultBaselines())
            if (b.name != QLatin1String("llama3"))
                hooks.baselines.push_back(b);
        const SearchResult full = runSearch(s, search, validation, hooks);
        const std::vector<Call> fullCalls = calls;
        QCOMPARE(full.stopReason, StopReason::Done);
        QCOMPARE(full.baselineEvaluations, 4 * (3 + 2));
        QCOMPARE(int(full.baselines.size()), 4);

        // Where to cut: the index of a call of the wanted kind with another of the same kind after it.
        const int baselineCalls = full.baselineEvaluations;
        int cut = 0;
        if (where == QLatin1String("baselines")) {
            cut = baselineCalls / 2;
        } else {
            const char set = where == QLatin1String("race") ? 's' : 'v';
            int seenOfSet = 0;
            for (int i = baselineCalls + 1; i + 1 < int(fullCalls.size()); ++i) {
                // The second block of this kind after the baselines (a later generation's).
                if (fullCalls[size_t(i)].set == set && fullCalls[size_t(i - 1)].set != set && ++seenOfSet == 2) {
                    cut = i + 1;
                    break;
                }
            }
            QVERIFY(cut > 0 && fullCalls[size_t(cut)].set == set);
        }

        calls.clear();
        hooks.logPath = dir.filePath(QStringLiteral("run.jsonl"));
        SearchSettings budgeted = s;
        budgeted.maxEvaluations = cut;
        const SearchResult r1 = runSearch(budgeted, search, validation, hooks);
        QCOMPARE(r1.stopReason, StopReason::Budget);
        QCOMPARE(int(calls.size()), cut);
        const std::vector<Call> first = calls;

        calls.clear();
        hooks.resume = true;
        std::vector<BaselineScore> replayed;
        hooks.onBaselines = [&](const std::vector<BaselineScore> &b) { replayed = b; };
        const SearchResult r2 = runSearch(s, search, validation, hooks);
        QCOMPARE(r2.stopReason, StopReason::Done);
        QCOMPARE(r2.bestLambda, full.bestLambda);
        QCOMPARE(r2.bestFitness, full.bestFitness);
        QCOMPARE(r2.bestValidationFitness, full.bestValidationFitness);
        QCOMPARE(r2.searchBestLambda, full.searchBestLambda);
        QCOMPARE(r2.searchBestValidationFitness, full.searchBestValidationFitness);
        QCOMPARE(r2.generations, full.generations);
        QCOMPARE(r2.candidates, full.candidates);
        QCOMPARE(r2.sampleEvaluations, full.sampleEvaluations);
        QCOMPARE(int(replayed.size()), 4);
        for (size_t j = 0; j < replayed.size(); ++j) {
            QCOMPARE(replayed[j].name, full.baselines[j].name);
            QCOMPARE(replayed[j].searchScores, full.baselines[j].searchScores);
            QCOMPARE(replayed[j].validationScores, full.baselines[j].validationScores);
        }
        // Together the two runs made exactly the uninterrupted run's calls, none twice.
        QCOMPARE(first.size() + calls.size(), fullCalls.size());
        std::set<Call> all(first.begin(), first.end());
        QCOMPARE(all.size(), first.size());
        for (const Call &c : calls)
            QVERIFY(all.insert(c).second);
        QVERIFY(all == std::set<Call>(fullCalls.begin(), fullCalls.end()));
        QCOMPARE(r2.evaluations + r2.validationEvaluations + r2.baselineEvaluations, int(calls.size()));

        // The log: one finish per run, carrying both fitnesses of the answer.
        const std::vector<QJsonObject> finishes = logEvents(hooks.logPath, QStringLiteral("finish"));
        QCOMPARE(finishes.size(), size_t(2));
        QCOMPARE(finishes.back().value(QStringLiteral("best_fitness")).toDouble(), full.bestFitness);
        QCOMPARE(finishes.back().value(QStringLiteral("best_validation_fitness")).toDouble(), full.bestValidationFitness);
        QCOMPARE(finishes.back().value(QStringLiteral("chosen_by")).toString(), QStringLiteral("validation"));
        QCOMPARE(finishes.back().value(QStringLiteral("search_best_fitness")).toDouble(), full.searchBestFitness);
        QVERIFY(!logEvents(hooks.logPath, QStringLiteral("baselines")).empty());
        QCOMPARE(int(logEvents(hooks.logPath, QStringLiteral("validation_eval")).size()),
                 full.validationEvaluations);
        QCOMPARE(int(logEvents(hooks.logPath, QStringLiteral("baseline_eval")).size()), full.baselineEvaluations);

        // What the log was written with must match: the validation set size and the aggregate.
        hooks.onBaselines = {};
        SampledFitness smaller = validation;
        smaller.samples = 1;
        try {
            runSearch(s, search, smaller, hooks);
            QFAIL("resume with another validation set must fail");
        } catch (const Error &e) {
            QVERIFY2(e.message().contains(QLatin1String("validation_samples")), qPrintable(e.message()));
        }
        SearchSettings geometric = s;
        geometric.fitness = FitnessAggregate::ExpMeanNll;
        try {
            runSearch(geometric, search, validation, hooks);
            QFAIL("resume with another aggregate must fail");
        } catch (const Error &e) {
            QVERIFY2(e.message().contains(QLatin1String("fitness")), qPrintable(e.message()));
        }
    }

    // While a run writes its log, a second writer (a resume from another process, or a new run on
    // the same file) is refused, and the message names the holder's pid and host.
    void aSecondWriterIsRefused()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString path = dir.filePath(QStringLiteral("locked.jsonl"));
        SearchSettings s = llama3Settings();
        s.iterations = 1;
        SearchHooks hooks;
        hooks.logPath = path;
        QString refusal;
        int generations = 0;
        hooks.onGeneration = [&](const GenerationReport &) {
            if (generations++ > 0)
                return;
            QVERIFY(QFile::exists(path + QStringLiteral(".lock")));
            SearchHooks second;
            second.logPath = path;
            second.resume = true;
            try {
                runSearch(s, [](const std::vector<double> &) { return 1.0; }, second);
            } catch (const Error &e) {
                refusal = e.message();
            }
        };
        const SearchResult r = runSearch(s, [](const std::vector<double> &l) { return l.back(); }, hooks);
        QCOMPARE(r.stopReason, StopReason::Done);
        QVERIFY2(refusal.contains(path), qPrintable(refusal));
        QVERIFY2(refusal.contains(QString::number(QCoreApplication::applicationPid())), qPrintable(refusal));
        QVERIFY2(refusal.contains(QSysInfo::machineHostName()), qPrintable(refusal));
        QCOMPARE(logEvents(path, QStringLiteral("finish")).size(), size_t(1));  // the refused one wrote nothing
        QVERIFY(!QFile::exists(path + QStringLiteral(".lock")));  // released at the end

        // A lock held elsewhere (here: this test, as another process would) refuses a resume before
        // anything is read or written; once released the resume goes ahead.
        QLockFile held(path + QStringLiteral(".lock"));
        QVERIFY(held.tryLock(0));
        const qint64 size = QFileInfo(path).size();
        hooks.onGeneration = {};
        hooks.resume = true;
        QVERIFY_THROWS_EXCEPTION(Error, runSearch(s, [](const std::vector<double> &l) { return l.back(); }, hooks));
        QCOMPARE(QFileInfo(path).size(), size);
        held.unlock();
        QCOMPARE(runSearch(s, [](const std::vector<double> &l) { return l.back(); }, hooks).bestLambda, r.bestLambda);
    }
};

QTEST_GUILESS_MAIN(TestSearchValidation)
#include "test_searchvalidation.moc"
