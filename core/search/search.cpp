// The search's generation loop (EvolutionSearch::run): the baselines scored first, then each
// generation raced over the samples through the fitness cache, its best validated on held-out
// samples, bred into the next, every real evaluation logged and the budgets kept; plus the fitness
// aggregates and the runSearch entry points. The genome operations are in genome.cpp, the run
// log's writer and loader in runlog.cpp.
#include "search/search.h"
#include "search/search_p.h"
#include "search/runlogcodec.h"
#include "common/jsonarray.h"

#include "common/error.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonObject>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace rs {

using search_detail::candidateKey;
using search_detail::kSettingsSource;
using search_detail::LoadedLog;
using search_detail::loadLog;
using search_detail::RunLog;
using search_detail::scoreKey;

QString stopReasonName(StopReason r)
{
    switch (r) {
    case StopReason::Done: return QStringLiteral("done");
    case StopReason::Budget: return QStringLiteral("budget");
    case StopReason::Cancelled: return QStringLiteral("cancelled");
    }
    return {};
}

QString fitnessAggregateName(FitnessAggregate a)
{
    switch (a) {
    case FitnessAggregate::MeanPpl: return QStringLiteral("mean_ppl");
    case FitnessAggregate::ExpMeanNll: return QStringLiteral("exp_mean_nll");
    case FitnessAggregate::MedianPpl: return QStringLiteral("median_ppl");
    }
    return {};
}

std::optional<FitnessAggregate> fitnessAggregateFromName(const QString &name)
{
    QString n = name.trimmed().toLower();
    n.replace(QLatin1Char('-'), QLatin1Char('_'));
    for (FitnessAggregate a : {FitnessAggregate::MeanPpl, FitnessAggregate::ExpMeanNll, FitnessAggregate::MedianPpl})
        if (n == fitnessAggregateName(a))
            return a;
    return std::nullopt;
}

double aggregateScores(FitnessAggregate a, const double *scores, int n)
{
    if (n < 1)
        return std::numeric_limits<double>::quiet_NaN();
    switch (a) {
    case FitnessAggregate::MeanPpl: {
        double sum = 0;  // summed in sample order, as NeedleEvaluator::evaluate sums its mean
        for (int k = 0; k < n; ++k)
            sum += scores[k];
        return sum / double(n);
    }
    case FitnessAggregate::ExpMeanNll: {
        double sum = 0;  // per-sample NLL = ln(per-sample PPL)
        for (int k = 0; k < n; ++k) {
            if (!(scores[k] > 0))
                return std::numeric_limits<double>::quiet_NaN();
            sum += std::log(scores[k]);
        }
        return std::exp(sum / double(n));
    }
    case FitnessAggregate::MedianPpl: {
        std::vector<double> sorted(scores, scores + n);
        std::sort(sorted.begin(), sorted.end());
        return n % 2 ? sorted[size_t(n / 2)] : 0.5 * (sorted[size_t(n / 2 - 1)] + sorted[size_t(n / 2)]);
    }
    }
    return std::numeric_limits<double>::quiet_NaN();
}

namespace {

struct Member {
    SearchGenome genome;
    Candidate candidate;
    std::string key;             // candidateKey(candidate)
    std::vector<double> scores;  // samples 0 … scores.size() − 1 (always a prefix)
    int reached = 0;             // samples it was ranked on in the latest race
    double fitness = std::numeric_limits<double>::infinity();  // aggregate over those samples
    bool seeded = false;         // a family's projection (generation 0)
};

// A candidate the run may answer with.
struct Pick {
    bool have = false;
    std::string key;
    Candidate candidate;
    int dRcd = -1;
    double fitness = std::numeric_limits<double>::infinity();  // search fitness
    double validation = std::numeric_limits<double>::quiet_NaN();
};

} // namespace

SampledFitness SampledFitness::whole(const CandidateFitness &fitness)
{
    if (!fitness)
        return {};
    return {[fitness](const Candidate &c, int) { return fitness(c); }, 1};
}

SearchResult EvolutionSearch::run(const Fitness &fitness, const SearchHooks &hooks)
{
    if (!fitness)
        throw Error(kSettingsSource, QStringLiteral("no fitness function"));
    return run(SampledFitness{[fitness](const Candidate &c, int) { return fitness(c.lambda); }, 1}, hooks);
}

SearchResult EvolutionSearch::run(const SampledFitness &sampled, const SearchHooks &hooks)
{
    SampledFitness none;  // no validation
    none.samples = 0;
    return run(sampled, none, hooks);
}

SearchResult EvolutionSearch::run(const SampledFitness &sampled, const SampledFitness &validation, const SearchHooks &hooks)
{
    if (!sampled.fitness && !sampled.batch)
        throw Error(kSettingsSource, QStringLiteral("no fitness function"));
    if (sampled.samples < 1)
        throw Error(kSettingsSource, QStringLiteral("a sampled fitness needs at least one sample (got %1)").arg(sampled.samples));
    const bool validating = validation.fitness || validation.batch;
    if (validating && validation.samples < 1)
        throw Error(kSettingsSource, QStringLiteral("a validation fitness needs at least one sample (got %1)").arg(validation.samples));
    const int samples = sampled.samples;
    const int validationSamples = validating ? validation.samples : 0;
    const bool racing = m_s.racing && samples > 1;
    const bool chooseByValidation = validating && m_s.chooseByValidation;
    RunSettings runSettings;
    runSettings.search = m_s;
    runSettings.attentionGiven = m_attentionGiven;
    runSettings.samples = samples;
    runSettings.validationSamples = validationSamples;
    for (const SearchBaseline &b : hooks.baselines)
        if (int(b.candidate.lambda.size()) != m_pairs)
            throw Error(kSettingsSource, QStringLiteral("baseline %1 has %2 factors, the search %3")
                                             .arg(b.name).arg(b.candidate.lambda.size()).arg(m_pairs));
    runSettings.baselines = hooks.baselines;
    runSettings.context = hooks.context;
    std::unordered_map<std::string, double> cache;            // search samples
    std::unordered_map<std::string, double> validationCache;  // validation samples
    RunLog log;
    if (!hooks.logPath.isEmpty()) {
        log.lock(hooks.logPath);
        if (hooks.resume) {
            LoadedLog loaded = loadLog(hooks.logPath, runSettings, m_pairs, samples, validationSamples, m_s.attentionFactor);
            cache = std::move(loaded.cache);
            validationCache = std::move(loaded.validationCache);
        }
        log.open(hooks.logPath, hooks.resume);
        StartRecord start;
        start.resume = hooks.resume;
        start.settings = runSettings;
        start.cachedEvaluations = qint64(cache.size() + validationCache.size());
        log.write(start);
    }
    auto writeCallerEvents = [&](bool atGeneration) {
        if (hooks.logEvents)
            for (const QJsonObject &e : hooks.logEvents(atGeneration))
                log.write(e);
    };

    const bool lr2 = m_s.method == SearchMethod::LongRoPE2;
    const FitnessAggregate aggregate = m_s.fitness;
    QElapsedTimer timer;
    timer.start();
    SearchResult result;
    result.bestFitness = std::numeric_limits<double>::infinity();
    result.searchBestFitness = std::numeric_limits<double>::infinity();
    result.bestAttentionFactor = m_s.attentionFactor;
    result.searchBestAttentionFactor = m_s.attentionFactor;
    result.samples = samples;
    std::optional<StopReason> stop;
    std::unordered_set<std::string> seen;  // candidates generated in this run
    std::unordered_set<std::string> used;  // (candidate, sample) scores this search has used
    SearchRng rng(m_s.seed);
    Pick searchBest;  // the best full search fitness so far
    Pick chosen;      // the best validation fitness so far
    std::unordered_map<std::string, double> validated;  // candidate key → validation fitness

    // A score as the search uses it: NaN counts as +∞; a geometric mean needs positive scores.
    auto checked = [&](double f) {
        if (std::isnan(f))
            f = std::numeric_limits<double>::infinity();
        if (aggregate == FitnessAggregate::ExpMeanNll && !(f > 0))
            throw Error(kSettingsSource, QStringLiteral("the %1 fitness needs positive per-sample scores (got %2)")
                                             .arg(fitnessAggregateName(aggregate)).arg(f));
        return f;
    };
    // Takes score f of `m` on its next sample: the counts of distinct scores and the best so far.
    auto accept = [&](Member &m, const std::string &key, double f) {
        const int k = int(m.scores.size());
        m.scores.push_back(checked(f));
        if (used.insert(key).second) {
            ++result.sampleEvaluations;
            if (k == 0)
                ++result.candidates;
        }
        if (int(m.scores.size()) == samples) {
            const double full = aggregateScores(aggregate, m.scores);
            if (!searchBest.have || full < searchBest.fitness)
                searchBest = Pick{true, m.key, m.candidate, lr2 ? m.genome.dRcd : -1, full, std::numeric_limits<double>::quiet_NaN()};
        }
    };
    // Serves `m`'s next sample from the cache; false when it is not there.
    auto fromCache = [&](Member &m) {
        const std::string key = scoreKey(m.key, int(m.scores.size()));
        const auto it = cache.find(key);
        if (it == cache.end())
            return false;
        ++result.cacheHits;
        accept(m, key, it->second);
        return true;
    };
    // How many real evaluations may still run (0 = stop, with the reason set). The budget counts
    // every real evaluation: candidates, validation and baselines.
    auto allowance = [&]() -> int {
        if (hooks.cancelled && hooks.cancelled()) {
            stop = StopReason::Cancelled;
            return 0;
        }
        const int spent = result.evaluations + result.validationEvaluations + result.baselineEvaluations;
        if ((m_s.maxEvaluations > 0 && spent >= m_s.maxEvaluations)
            || (m_s.maxSeconds > 0 && double(timer.elapsed()) / 1000.0 >= m_s.maxSeconds)) {
            stop = StopReason::Budget;
            return 0;
        }
        return m_s.maxEvaluations > 0 ? m_s.maxEvaluations - spent : std::numeric_limits<int>::max();
    };
    // Records a real evaluation of `m`'s next sample: cached, counted, logged, accepted.
    auto evaluated = [&](Member &m, double f) {
        const int k = int(m.scores.size());
        const std::string key = scoreKey(m.key, k);
        f = checked(f);
        ++result.evaluations;
        cache.emplace(key, f);
        EvaluationRecord record;
        record.lambda = m.candidate.lambda;
        record.attentionFactor = m.candidate.attentionFactor;
        record.dRcd = lr2 ? m.genome.dRcd : -1;
        record.sample = k;
        record.fitness = f;
        record.logsSample = samples > 1;
        record.logsAttention = m_s.searchAttentionFactor;
        log.write(record);
        accept(m, key, f);
    };
    // Scores every candidate on every sample of `fitness` (sample by sample; in batches when it has
    // one; the cache first, a repeated candidate evaluated once), for the baselines and validation.
    // Each real evaluation is cached, counted in `counter` and logged as entry(index, sample, f).
    // False when a budget or cancellation stops it first.
    auto scoreFully = [&](const SampledFitness &fitness, std::unordered_map<std::string, double> &store,
                          const std::vector<Candidate> &candidates, std::vector<std::vector<double>> &scores,
                          const std::function<RunLogRecord(size_t, int, double)> &entry, int &counter) -> bool {
        std::vector<std::string> keys;
        for (const Candidate &c : candidates)
            keys.push_back(candidateKey(c));
        scores.assign(candidates.size(), {});
        for (int k = 0; k < fitness.samples; ++k) {
            std::vector<size_t> pending;
            std::unordered_set<std::string> pendingKeys;
            for (size_t i = 0; i < candidates.size(); ++i) {
                const auto it = store.find(scoreKey(keys[i], k));
                if (it != store.end()) {
                    ++result.cacheHits;
                    scores[i].push_back(it->second);
                } else if (pendingKeys.insert(keys[i]).second) {
                    pending.push_back(i);
                }
            }
            for (size_t done = 0; done < pending.size();) {
                const int allowed = allowance();
                if (allowed == 0)
                    return false;
                std::vector<double> got;
                size_t count = 1;
                if (fitness.batch) {
                    count = std::min({pending.size() - done, size_t(std::max(1, fitness.maxBatch)), size_t(allowed)});
                    std::vector<Candidate> group;
                    for (size_t j = done; j < done + count; ++j)
                        group.push_back(candidates[pending[j]]);
                    got = fitness.batch(group, k);
                    if (got.size() != count)
                        throw Error(kSettingsSource, QStringLiteral("the batch fitness returned %1 scores for %2 candidates")
                                                         .arg(got.size()).arg(count));
                } else {
                    got = {fitness.fitness(candidates[pending[done]], k)};
                }
                for (size_t j = 0; j < count; ++j) {
                    const size_t i = pending[done + j];
                    const double f = checked(got[j]);
                    store.emplace(scoreKey(keys[i], k), f);
                    ++counter;
                    log.write(entry(i, k, f));
                    scores[i].push_back(f);
                }
                writeCallerEvents(false);
                done += count;
            }
            for (size_t i = 0; i < candidates.size(); ++i) {
                if (int(scores[i].size()) <= k) {  // a repeat of a candidate just evaluated
                    ++result.cacheHits;
                    scores[i].push_back(store.at(scoreKey(keys[i], k)));
                }
            }
        }
        return true;
    };
    auto scoreNext = [&](Member &m) -> bool {
        if (fromCache(m))
            return true;
        if (allowance() == 0)
            return false;
        evaluated(m, sampled.fitness(m.candidate, int(m.scores.size())));
        return true;
    };
    auto rank = [&](Member &m, int n) {
        m.reached = n;
        m.fitness = aggregateScores(aggregate, m.scores.data(), n);
    };
    // Scores `m` on samples 0 … n − 1 (what it already knows is reused) and ranks it on them.
    auto scoreUpTo = [&](Member &m, int n) -> bool {
        while (int(m.scores.size()) < n)
            if (!scoreNext(m))
                return false;
        rank(m, n);
        return true;
    };
    // Brings every listed member to n scores, where each has at least n − 1: the cache first, then
    // the missing sample n − 1 of each distinct candidate through the batch fitness, maxBatch at a
    // time in member order (a repeated candidate is evaluated once and served to the others from
    // the cache, as one at a time).
    auto scoreRound = [&](std::vector<Member> &pop, const std::vector<size_t> &members, int n) -> bool {
        if (!sampled.batch) {
            for (size_t i : members)
                if (!scoreUpTo(pop[i], n))
                    return false;
            return true;
        }
        std::vector<size_t> pending;
        std::unordered_set<std::string> pendingKeys;
        for (size_t i : members) {
            Member &m = pop[i];
            if (int(m.scores.size()) >= n || fromCache(m))
                continue;
            if (pendingKeys.insert(m.key).second)
                pending.push_back(i);
        }
        for (size_t done = 0; done < pending.size();) {
            const int allowed = allowance();
            if (allowed == 0)
                return false;
            const size_t count = std::min({pending.size() - done, size_t(std::max(1, sampled.maxBatch)), size_t(allowed)});
            std::vector<Candidate> group;
            for (size_t j = done; j < done + count; ++j)
                group.push_back(pop[pending[j]].candidate);
            const std::vector<double> scores = sampled.batch(group, n - 1);
            if (scores.size() != count)
                throw Error(kSettingsSource, QStringLiteral("the batch fitness returned %1 scores for %2 candidates").arg(scores.size()).arg(count));
            for (size_t j = 0; j < count; ++j)
                evaluated(pop[pending[done + j]], scores[j]);
            writeCallerEvents(false);
            done += count;
        }
        for (size_t i : members) {
            if (int(pop[i].scores.size()) < n && !fromCache(pop[i]))
                throw Error(kSettingsSource, QStringLiteral("internal: a member missed its batch evaluation"));
            rank(pop[i], n);
        }
        return true;
    };
    // Scores a generation and returns its ranking (best first). Without racing every member gets
    // all K samples: one member after the other, or sample by sample with a batch fitness. With
    // racing, see SearchSettings::racing.
    auto race = [&](std::vector<Member> &pop, std::vector<size_t> &ranking) -> bool {
        std::vector<size_t> alive(pop.size());
        std::iota(alive.begin(), alive.end(), size_t(0));
        if (!racing && !sampled.batch) {
            for (Member &m : pop)
                if (!scoreUpTo(m, samples))
                    return false;
        } else {
            for (int k = 0; k < samples; ++k) {
                // In member order, so a replay meets the same sequence.
                if (!scoreRound(pop, alive, k + 1))
                    return false;
                if (k + 1 == samples || !racing)
                    continue;
                std::stable_sort(alive.begin(), alive.end(), [&](size_t a, size_t b) { return pop[a].fitness < pop[b].fitness; });
                const size_t keep = std::clamp(size_t(std::ceil(double(alive.size()) * m_s.racingKeepFraction - 1e-9)), size_t(1), alive.size());
                alive.resize(keep);
                std::sort(alive.begin(), alive.end());
            }
        }
        ranking.resize(pop.size());
        std::iota(ranking.begin(), ranking.end(), size_t(0));
        std::stable_sort(ranking.begin(), ranking.end(), [&](size_t a, size_t b) {
            if (pop[a].reached != pop[b].reached)
                return pop[a].reached > pop[b].reached;
            return pop[a].fitness < pop[b].fitness;
        });
        return true;
    };
    // Scores the generation's best validationTop distinct fully scored members (and in generation 0
    // every seeded one) on the validation samples, those not validated before, and updates the
    // validation choice. False when a budget or cancellation stops it first.
    auto validate = [&](const std::vector<Member> &pop, const std::vector<size_t> &ranking, bool withSeeds) -> bool {
        if (!validating)
            return true;
        std::vector<size_t> picked;
        std::unordered_set<std::string> keys;
        for (size_t i : ranking) {
            if (int(picked.size()) >= m_s.validationTop || pop[i].reached < samples)
                break;
            if (keys.insert(pop[i].key).second)
                picked.push_back(i);
        }
        if (withSeeds)
            for (size_t i = 0; i < pop.size(); ++i)
                if (pop[i].seeded && pop[i].reached == samples && keys.insert(pop[i].key).second)
                    picked.push_back(i);
        std::vector<size_t> fresh;
        std::vector<Candidate> candidates;
        for (size_t i : picked) {
            if (!validated.count(pop[i].key)) {
                fresh.push_back(i);
                candidates.push_back(pop[i].candidate);
            }
        }
        std::vector<std::vector<double>> scores;
        const bool done = scoreFully(validation, validationCache, candidates, scores, [&](size_t j, int k, double f) {
            const Member &m = pop[fresh[j]];
            return ValidationEvaluationRecord{m.candidate.lambda, m.candidate.attentionFactor, lr2 ? m.genome.dRcd : -1, k, f};
        }, result.validationEvaluations);
        if (!done)
            return false;
        for (size_t j = 0; j < fresh.size(); ++j) {
            const Member &m = pop[fresh[j]];
            const double v = aggregateScores(aggregate, scores[j]);
            validated.emplace(m.key, v);
            if (!chosen.have || v < chosen.validation)
                chosen = Pick{true, m.key, m.candidate, lr2 ? m.genome.dRcd : -1, m.fitness, v};
        }
        return true;
    };
    auto validationOf = [&](const Pick &p) {
        const auto it = validated.find(p.key);
        return it == validated.end() ? std::numeric_limits<double>::quiet_NaN() : it->second;
    };
    // The run's answer so far.
    auto answer = [&]() -> Pick {
        if (chooseByValidation && chosen.have)
            return chosen;
        Pick p = searchBest;
        p.validation = validationOf(p);
        return p;
    };
    auto makeMember = [&](SearchGenome g) {
        Member m;
        m.candidate = candidateOf(g);
        m.key = candidateKey(m.candidate);
        m.genome = std::move(g);
        return m;
    };
    auto report = [&](int generation, const std::vector<Member> &pop) {
        GenerationReport r;
        r.generation = generation;
        const Pick best = answer();
        r.bestFitness = best.have ? best.fitness : std::numeric_limits<double>::infinity();
        // The median over the members scored on every sample (all of them without racing).
        std::vector<double> fs;
        for (const Member &m : pop) {
            if (m.reached == samples)
                fs.push_back(m.fitness);
            r.memberDRcd.push_back(lr2 ? m.genome.dRcd : -1);
        }
        std::sort(fs.begin(), fs.end());
        const size_t n = fs.size();
        r.medianFitness = n == 0 ? 0 : (n % 2 ? fs[n / 2] : 0.5 * (fs[n / 2 - 1] + fs[n / 2]));
        r.bestLambda = best.candidate.lambda;
        r.bestDRcd = best.have ? best.dRcd : -1;
        r.bestAttentionFactor = best.have ? best.candidate.attentionFactor : m_s.attentionFactor;
        r.bestValidationFitness = best.validation;
        r.searchBestFitness = searchBest.have ? searchBest.fitness : std::numeric_limits<double>::infinity();
        r.searchBestValidationFitness = validationOf(searchBest);
        r.evaluations = result.evaluations;
        r.validationEvaluations = result.validationEvaluations;
        r.baselineEvaluations = result.baselineEvaluations;
        r.cacheHits = result.cacheHits;
        r.samples = samples;
        r.candidates = result.candidates;
        r.sampleEvaluations = result.sampleEvaluations;
        r.fullyEvaluated = int(n);
        result.generations = generation + 1;
        writeCallerEvents(true);
        log.write(GenerationRecord{r, validating, !hooks.baselines.empty()});
        if (hooks.onGeneration)
            hooks.onGeneration(r);
    };
    // Produces an offspring not yet generated in this run (a few retries, then accepts a repeat,
    // which the cache serves without evaluating).
    auto fresh = [&](auto produce) {
        SearchGenome g = produce();
        for (int tries = 0; tries < 20 && seen.count(candidateKey(candidateOf(g))); ++tries)
            g = produce();
        Member m = makeMember(std::move(g));
        seen.insert(m.key);
        return m;
    };

    // The baselines, on both sample sets, before anything else.
    if (!hooks.baselines.empty()) {
        std::vector<Candidate> candidates;
        for (const SearchBaseline &b : hooks.baselines)
            candidates.push_back(b.candidate);
        auto entry = [&](SampleSetName set) {
            return [&, set](size_t j, int k, double f) {
                const SearchBaseline &b = hooks.baselines[j];
                return BaselineEvaluationRecord{b.name, set, b.candidate.lambda, b.candidate.attentionFactor, k, f};
            };
        };
        std::vector<std::vector<double>> searchScores, validationScores;
        bool done = scoreFully(sampled, cache, candidates, searchScores, entry(SampleSetName::Search), result.baselineEvaluations);
        if (done && validating)
            done = scoreFully(validation, validationCache, candidates, validationScores, entry(SampleSetName::Validation),
                              result.baselineEvaluations);
        if (done) {
            for (size_t j = 0; j < candidates.size(); ++j) {
                BaselineScore b;
                b.name = hooks.baselines[j].name;
                b.candidate = candidates[j];
                b.searchScores = searchScores[j];
                b.searchFitness = aggregateScores(aggregate, b.searchScores);
                if (validating) {
                    b.validationScores = validationScores[j];
                    b.validationFitness = aggregateScores(aggregate, b.validationScores);
                }
                result.baselines.push_back(std::move(b));
            }
            log.write(BaselinesRecord{aggregate, result.baselines});
            if (hooks.onBaselines)
                hooks.onBaselines(result.baselines);
        }
    }

    std::vector<Member> pop;
    std::vector<size_t> ranking;
    if (!stop) {
        // Generation 0: the families' projections first, then random members (LongRoPE2) or
        // mutations of the projections (v1, as the original LongRoPE).
        const std::vector<SearchGenome> seeds =
            m_s.seedFamilies ? familySeeds(hooks.baselines.empty() ? defaultBaselines() : hooks.baselines) : std::vector<SearchGenome>{};
        for (const SearchGenome &g : seeds) {
            if (int(pop.size()) >= m_s.population)
                break;
            pop.push_back(makeMember(g));
            pop.back().seeded = true;
            seen.insert(pop.back().key);
        }
        const size_t seeded = pop.size();
        for (int i = int(pop.size()); i < m_s.population; ++i) {
            if (!lr2 && seeded > 0) {
                pop.push_back(fresh([&] { return mutate(pop[size_t(i) % seeded].genome, rng); }));
            } else {
                pop.push_back(makeMember(initialMember(i, rng)));
                seen.insert(pop.back().key);
            }
        }
        if (race(pop, ranking) && validate(pop, ranking, true))
            report(0, pop);
    }

    for (int it = 1; it <= m_s.iterations && !stop; ++it) {
        std::vector<Member> next;
        for (int k = 0; k < m_s.parents && k < int(ranking.size()); ++k)
            next.push_back(pop[ranking[size_t(k)]]);
        const int np = int(next.size());
        // The parents sit at the front of `next`; children are appended after all are produced.
        std::vector<Member> children;
        for (int k = 0; k < m_s.mutations; ++k)
            children.push_back(fresh([&] { return mutate(next[size_t(rng.below(np))].genome, rng); }));
        for (int k = 0; k < m_s.crossovers; ++k) {
            children.push_back(fresh([&] {
                const Member &a = next[size_t(rng.below(np))];
                std::vector<int> mates;
                for (int j = 0; j < np; ++j)
                    if (&next[size_t(j)] != &a && next[size_t(j)].genome.dRcd == a.genome.dRcd)
                        mates.push_back(j);
                if (mates.empty())
                    return mutate(a.genome, rng);
                return crossover(a.genome, next[size_t(mates[size_t(rng.below(int(mates.size())))])].genome, rng);
            }));
        }
        for (Member &m : children)
            next.push_back(std::move(m));
        if (!race(next, ranking) || !validate(next, ranking, false))
            break;
        pop = std::move(next);
        report(it, pop);
    }

    result.stopReason = stop ? *stop : StopReason::Done;
    const Pick best = answer();
    result.chosenByValidation = chooseByValidation && chosen.have;
    if (best.have) {
        result.bestLambda = best.candidate.lambda;
        result.bestFitness = best.fitness;
        result.bestValidationFitness = best.validation;
        result.bestDRcd = best.dRcd;
        result.bestAttentionFactor = best.candidate.attentionFactor;
    }
    if (searchBest.have) {
        result.searchBestLambda = searchBest.candidate.lambda;
        result.searchBestFitness = searchBest.fitness;
        result.searchBestValidationFitness = validationOf(searchBest);
        result.searchBestDRcd = searchBest.dRcd;
        result.searchBestAttentionFactor = searchBest.candidate.attentionFactor;
    }
    writeCallerEvents(true);
    log.write(FinishRecord{result, validating, validationSamples, !hooks.baselines.empty()});
    return result;
}

SearchResult runSearch(const SearchSettings &settings, const Fitness &fitness, const SearchHooks &hooks)
{
    return EvolutionSearch(settings).run(fitness, hooks);
}

SearchResult runSearch(const SearchSettings &settings, const SampledFitness &fitness, const SearchHooks &hooks)
{
    return EvolutionSearch(settings).run(fitness, hooks);
}

SearchResult runSearch(const SearchSettings &settings, const SampledFitness &fitness, const SampledFitness &validation,
                       const SearchHooks &hooks)
{
    return EvolutionSearch(settings).run(fitness, validation, hooks);
}

} // namespace rs
