// One run of the evolutionary search (searchrun_p.h): the baselines scored first, then each
// generation raced over the samples through the fitness cache, its best validated on held-out
// samples, reported and bred into the next, every real evaluation logged and the budgets kept.
#include "search/searchrun_p.h"
#include "search/spacebounds.h"

#include "common/cancellation.h"
#include "common/error.h"

#include <QJsonObject>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace rs::search_detail {

namespace {

// A fitness that scores several candidates per call.
bool grouped(const SampledFitness &f) { return bool(f.batch) || bool(f.stream); }

} // namespace

SearchRun::SearchRun(const EvolutionSearch &search, bool attentionGiven, const SampledFitness &sampled,
                     const SampledFitness &validation, const SearchHooks &hooks)
    : m_search(search), m_settings(search.settings()), m_attentionGiven(attentionGiven), m_sampled(sampled),
      m_validation(validation), m_hooks(hooks), m_samples(sampled.samples), m_validating(validation.fitness || grouped(validation)),
      m_validationSamples(m_validating ? validation.samples : 0), m_racing(m_settings.racing && sampled.samples > 1),
      m_chooseByValidation(m_validating && m_settings.chooseByValidation), m_lr2(m_settings.method == SearchMethod::LongRoPE2),
      m_aggregate(m_settings.fitness), m_rng(m_settings.seed)
{
    if (!sampled.fitness && !grouped(sampled))
        throw Error(kSettingsSource, QStringLiteral("no fitness function"));
    if (sampled.samples < 1)
        throw Error(kSettingsSource, QStringLiteral("a sampled fitness needs at least one sample (got %1)").arg(sampled.samples));
    if (m_validating && validation.samples < 1)
        throw Error(kSettingsSource, QStringLiteral("a validation fitness needs at least one sample (got %1)").arg(validation.samples));
    const int pairs = m_settings.rotaryDims / 2;
    for (const SearchBaseline &b : hooks.baselines)
        if (int(b.candidate.lambda.size()) != pairs)
            throw Error(kSettingsSource, QStringLiteral("baseline %1 has %2 factors, the search %3")
                                             .arg(b.name).arg(b.candidate.lambda.size()).arg(pairs));
}

SearchResult SearchRun::run()
{
    openLog();
    m_timer.start();
    m_result.bestFitness = std::numeric_limits<double>::infinity();
    m_result.searchBestFitness = std::numeric_limits<double>::infinity();
    m_result.bestAttentionFactor = m_settings.attentionFactor;
    m_result.searchBestAttentionFactor = m_settings.attentionFactor;
    m_result.samples = m_samples;
    if (!m_hooks.baselines.empty())
        scoreBaselines();
    if (!m_stop && seed())
        report(0, m_pop);
    for (int it = 1; it <= m_settings.iterations && !m_stop; ++it) {
        Population next = breed();
        if (!race(next) || !validate(next, false))
            break;
        m_pop = std::move(next);
        report(it, m_pop);
    }
    return finish();
}

// ---------------------------------------------------------------------------------------------
// Phases

// The start record (a resume first reads the log back into the caches, under the log's lock).
void SearchRun::openLog()
{
    if (m_hooks.logPath.isEmpty())
        return;
    RunSettings settings;
    settings.search = m_settings;
    settings.attentionGiven = m_attentionGiven;
    settings.samples = m_samples;
    settings.validationSamples = m_validationSamples;
    settings.baselines = m_hooks.baselines;
    settings.context = m_hooks.context;
    m_log.lock(m_hooks.logPath);
    if (m_hooks.resume) {
        LoadedLog loaded = loadLog(m_hooks.logPath, settings, m_settings.rotaryDims / 2, m_samples, m_validationSamples,
                                   m_settings.attentionFactor);
        m_cache = std::move(loaded.cache);
        m_validationCache = std::move(loaded.validationCache);
    }
    m_log.open(m_hooks.logPath, m_hooks.resume);
    StartRecord start;
    start.resume = m_hooks.resume;
    start.settings = settings;
    start.cachedEvaluations = qint64(m_cache.size() + m_validationCache.size());
    m_log.write(start);
}

// The baselines, on both sample sets, before anything else. False when a budget or cancellation
// stops it first.
bool SearchRun::scoreBaselines()
{
    std::vector<Candidate> candidates;
    for (const SearchBaseline &b : m_hooks.baselines)
        candidates.push_back(b.candidate);
    const auto entry = [this](SampleSetName set) -> RecordOf {
        return [this, set](size_t j, int k, double f) {
            const SearchBaseline &b = m_hooks.baselines[j];
            return BaselineEvaluationRecord{b.name, set, b.candidate.lambda, b.candidate.attentionFactor, k, f};
        };
    };
    Scores searchScores, validationScores;
    if (!scoreFully(m_sampled, m_cache, candidates, searchScores, entry(SampleSetName::Search), m_result.baselineEvaluations))
        return false;
    if (m_validating
        && !scoreFully(m_validation, m_validationCache, candidates, validationScores, entry(SampleSetName::Validation),
                       m_result.baselineEvaluations))
        return false;
    for (size_t j = 0; j < candidates.size(); ++j) {
        BaselineScore b;
        b.name = m_hooks.baselines[j].name;
        b.candidate = candidates[j];
        b.searchScores = searchScores[j];
        b.searchFitness = aggregateScores(m_aggregate, b.searchScores);
        if (m_validating) {
            b.validationScores = validationScores[j];
            b.validationFitness = aggregateScores(m_aggregate, b.validationScores);
        }
        m_result.baselines.push_back(std::move(b));
    }
    m_log.write(BaselinesRecord{m_aggregate, m_result.baselines});
    if (m_hooks.onBaselines)
        m_hooks.onBaselines(m_result.baselines);
    return true;
}

// Generation 0: the families' projections first, then random members (LongRoPE2) or mutations of
// the projections (v1, as the original LongRoPE); raced and validated. False when stopped.
bool SearchRun::seed()
{
    const std::vector<SearchGenome> seeds =
        m_settings.seedFamilies
            ? m_search.familySeeds(m_hooks.baselines.empty() ? m_search.defaultBaselines() : m_hooks.baselines)
            : std::vector<SearchGenome>{};
    for (const SearchGenome &g : seeds) {
        if (int(m_pop.size()) >= m_settings.population)
            break;
        m_pop.push_back(makeMember(g));
        m_pop.back().seeded = true;
        m_seen.insert(m_pop.back().key);
    }
    const size_t seeded = m_pop.size();
    for (int i = int(m_pop.size()); i < m_settings.population; ++i) {
        if (!m_lr2 && seeded > 0) {
            m_pop.push_back(fresh([&] { return m_search.mutate(m_pop[size_t(i) % seeded].genome, m_rng); }));
        } else {
            m_pop.push_back(makeMember(m_search.initialMember(i, m_rng)));
            m_seen.insert(m_pop.back().key);
        }
    }
    return race(m_pop) && validate(m_pop, true);
}

// Scores a generation and ranks it (m_ranking, best first). Without racing every member gets all
// K samples: one member after the other, or sample by sample with a batch fitness. With racing,
// see SearchSettings::racing. False when a budget or cancellation stops it first.
bool SearchRun::race(Population &pop)
{
    std::vector<size_t> alive(pop.size());
    std::iota(alive.begin(), alive.end(), size_t(0));
    if (!m_racing && !grouped(m_sampled)) {
        for (Member &m : pop)
            if (!scoreUpTo(m, m_samples))
                return false;
    } else {
        for (int k = 0; k < m_samples; ++k) {
            // In member order, so a replay meets the same sequence.
            if (!scoreRound(pop, alive, k + 1))
                return false;
            if (k + 1 == m_samples || !m_racing)
                continue;
            std::stable_sort(alive.begin(), alive.end(), [&](size_t a, size_t b) { return pop[a].fitness < pop[b].fitness; });
            const size_t keep =
                std::clamp(size_t(std::ceil(double(alive.size()) * m_settings.racingKeepFraction - 1e-9)), size_t(1), alive.size());
            alive.resize(keep);
            std::sort(alive.begin(), alive.end());
        }
    }
    m_ranking.resize(pop.size());
    std::iota(m_ranking.begin(), m_ranking.end(), size_t(0));
    std::stable_sort(m_ranking.begin(), m_ranking.end(), [&](size_t a, size_t b) {
        if (pop[a].reached != pop[b].reached)
            return pop[a].reached > pop[b].reached;
        return pop[a].fitness < pop[b].fitness;
    });
    return true;
}

// Scores the generation's best validationTop distinct fully scored members (and in generation 0
// every seeded one) on the validation samples, those not validated before, and updates the
// validation choice. False when a budget or cancellation stops it first.
bool SearchRun::validate(const Population &pop, bool withSeeds)
{
    if (!m_validating)
        return true;
    std::vector<size_t> picked;
    std::unordered_set<std::string> keys;
    for (size_t i : m_ranking) {
        if (int(picked.size()) >= m_settings.validationTop || pop[i].reached < m_samples)
            break;
        if (keys.insert(pop[i].key).second)
            picked.push_back(i);
    }
    if (withSeeds)
        for (size_t i = 0; i < pop.size(); ++i)
            if (pop[i].seeded && pop[i].reached == m_samples && keys.insert(pop[i].key).second)
                picked.push_back(i);
    std::vector<size_t> unvalidated;
    std::vector<Candidate> candidates;
    for (size_t i : picked) {
        if (!m_validated.count(pop[i].key)) {
            unvalidated.push_back(i);
            candidates.push_back(pop[i].candidate);
        }
    }
    Scores scores;
    const RecordOf record = [&](size_t j, int k, double f) {
        const Member &m = pop[unvalidated[j]];
        return ValidationEvaluationRecord{m.candidate.lambda, m.candidate.attentionFactor, dRcdOf(m), k, f};
    };
    if (!scoreFully(m_validation, m_validationCache, candidates, scores, record, m_result.validationEvaluations))
        return false;
    for (size_t j = 0; j < unvalidated.size(); ++j) {
        const Member &m = pop[unvalidated[j]];
        const double v = aggregateScores(m_aggregate, scores[j]);
        m_validated.emplace(m.key, v);
        if (!m_chosen.have || v < m_chosen.validation)
            m_chosen = Pick{true, m.key, m.candidate, dRcdOf(m), m.fitness, v};
    }
    return true;
}

// The next generation, unscored: the best `parents` of this one (by m_ranking) at the front, then
// the mutations and crossovers bred from them.
SearchRun::Population SearchRun::breed()
{
    Population next;
    for (int k = 0; k < m_settings.parents && k < int(m_ranking.size()); ++k)
        next.push_back(m_pop[m_ranking[size_t(k)]]);
    const int np = int(next.size());
    // Children are appended after all are produced: they are bred from the parents only.
    Population children;
    for (int k = 0; k < m_settings.mutations; ++k)
        children.push_back(fresh([&] { return m_search.mutate(next[size_t(m_rng.below(np))].genome, m_rng); }));
    for (int k = 0; k < m_settings.crossovers; ++k)
        children.push_back(fresh([&] { return crossoverChild(next); }));
    for (Member &m : children)
        next.push_back(std::move(m));
    return next;
}

// A crossover of a random parent with a random other parent of the same d_rcd (a mutation when it
// has none).
SearchGenome SearchRun::crossoverChild(const Population &parents)
{
    const int np = int(parents.size());
    const Member &a = parents[size_t(m_rng.below(np))];
    std::vector<int> mates;
    for (int j = 0; j < np; ++j)
        if (&parents[size_t(j)] != &a && parents[size_t(j)].genome.dRcd == a.genome.dRcd)
            mates.push_back(j);
    if (mates.empty())
        return m_search.mutate(a.genome, m_rng);
    return m_search.crossover(a.genome, parents[size_t(mates[size_t(m_rng.below(int(mates.size())))])].genome, m_rng);
}

// The generation's report: to the log (after the caller's entries) and the hook.
void SearchRun::report(int generation, const Population &pop)
{
    GenerationReport r;
    r.generation = generation;
    const Pick best = answer();
    r.bestFitness = best.have ? best.fitness : std::numeric_limits<double>::infinity();
    // The median over the members scored on every sample (all of them without racing).
    std::vector<double> fs;
    for (const Member &m : pop) {
        if (m.reached == m_samples)
            fs.push_back(m.fitness);
        r.memberDRcd.push_back(dRcdOf(m));
    }
    std::sort(fs.begin(), fs.end());
    const size_t n = fs.size();
    r.medianFitness = n == 0 ? 0 : (n % 2 ? fs[n / 2] : 0.5 * (fs[n / 2 - 1] + fs[n / 2]));
    r.bestLambda = best.candidate.lambda;
    r.bestDRcd = best.have ? best.dRcd : -1;
    r.bestAttentionFactor = best.have ? best.candidate.attentionFactor : m_settings.attentionFactor;
    r.bestValidationFitness = best.validation;
    r.searchBestFitness = m_searchBest.have ? m_searchBest.fitness : std::numeric_limits<double>::infinity();
    r.searchBestValidationFitness = validationOf(m_searchBest);
    r.evaluations = m_result.evaluations;
    r.validationEvaluations = m_result.validationEvaluations;
    r.baselineEvaluations = m_result.baselineEvaluations;
    r.cacheHits = m_result.cacheHits;
    r.samples = m_samples;
    r.candidates = m_result.candidates;
    r.sampleEvaluations = m_result.sampleEvaluations;
    r.fullyEvaluated = int(n);
    m_result.generations = generation + 1;
    writeCallerEvents(true);
    m_log.write(GenerationRecord{r, m_validating, !m_hooks.baselines.empty()});
    if (m_hooks.onGeneration)
        m_hooks.onGeneration(r);
}

// The answer and why the run ended, logged last.
SearchResult SearchRun::finish()
{
    m_result.stopReason = m_stop ? *m_stop : StopReason::Done;
    const Pick best = answer();
    m_result.chosenByValidation = m_chooseByValidation && m_chosen.have;
    if (best.have) {
        m_result.bestLambda = best.candidate.lambda;
        m_result.bestFitness = best.fitness;
        m_result.bestValidationFitness = best.validation;
        m_result.bestDRcd = best.dRcd;
        m_result.bestAttentionFactor = best.candidate.attentionFactor;
    }
    if (m_searchBest.have) {
        m_result.searchBestLambda = m_searchBest.candidate.lambda;
        m_result.searchBestFitness = m_searchBest.fitness;
        m_result.searchBestValidationFitness = validationOf(m_searchBest);
        m_result.searchBestDRcd = m_searchBest.dRcd;
        m_result.searchBestAttentionFactor = m_searchBest.candidate.attentionFactor;
    }
    m_result.spaceBounds = searchSpaceBounds(m_settings, m_result.bestDRcd, m_result.bestLambda);
    writeCallerEvents(true);
    m_log.write(FinishRecord{m_result, m_validating, m_validationSamples, !m_hooks.baselines.empty()});
    return m_result;
}

// ---------------------------------------------------------------------------------------------
// Scoring

// A score as the search uses it: NaN counts as +∞; a geometric mean needs positive scores.
double SearchRun::checked(double f) const
{
    if (std::isnan(f))
        f = std::numeric_limits<double>::infinity();
    if (m_aggregate == FitnessAggregate::ExpMeanNll && !(f > 0))
        throw Error(kSettingsSource, QStringLiteral("the %1 fitness needs positive per-sample scores (got %2)")
                                         .arg(fitnessAggregateName(m_aggregate)).arg(f));
    return f;
}

// Takes score f of `m` on its next sample: the counts of distinct scores and the best so far.
void SearchRun::accept(Member &m, const std::string &key, double f)
{
    const int k = int(m.scores.size());
    m.scores.push_back(checked(f));
    if (m_used.insert(key).second) {
        ++m_result.sampleEvaluations;
        if (k == 0)
            ++m_result.candidates;
    }
    if (int(m.scores.size()) == m_samples) {
        const double full = aggregateScores(m_aggregate, m.scores);
        if (!m_searchBest.have || full < m_searchBest.fitness)
            m_searchBest = Pick{true, m.key, m.candidate, dRcdOf(m), full, std::numeric_limits<double>::quiet_NaN()};
    }
}

// Serves `m`'s next sample from the cache; false when it is not there.
bool SearchRun::fromCache(Member &m)
{
    const std::string key = scoreKey(m.key, int(m.scores.size()));
    const auto it = m_cache.find(key);
    if (it == m_cache.end())
        return false;
    ++m_result.cacheHits;
    accept(m, key, it->second);
    return true;
}

// How many real evaluations may still run (0 = stop, with the reason set). The budget counts every
// real evaluation: candidates, validation and baselines.
int SearchRun::allowance()
{
    if (!mayGoOn())
        return 0;
    const int spent = m_result.evaluations + m_result.validationEvaluations + m_result.baselineEvaluations;
    if (m_settings.maxEvaluations > 0 && spent >= m_settings.maxEvaluations) {
        m_stop = StopReason::Budget;
        return 0;
    }
    return m_settings.maxEvaluations > 0 ? m_settings.maxEvaluations - spent : std::numeric_limits<int>::max();
}

// Runs one call of the fitness; false when it was cancelled from inside (rs::Cancelled, thrown by
// a forward whose thread was told to stop: common/cancellation.h). Nothing of that evaluation is
// cached or logged, so the log stays exact and resumable, as after a stop between evaluations.
bool SearchRun::cancellable(const std::function<void()> &call)
{
    try {
        call();
        return true;
    } catch (const Cancelled &) {
        m_stop = StopReason::Cancelled;
        return false;
    }
}

// Records a real evaluation of `m`'s next sample: cached, counted, logged, accepted.
void SearchRun::evaluated(Member &m, double f)
{
    const int k = int(m.scores.size());
    const std::string key = scoreKey(m.key, k);
    f = checked(f);
    ++m_result.evaluations;
    m_cache.emplace(key, f);
    EvaluationRecord record;
    record.lambda = m.candidate.lambda;
    record.attentionFactor = m.candidate.attentionFactor;
    record.dRcd = dRcdOf(m);
    record.sample = k;
    record.fitness = f;
    record.logsSample = m_samples > 1;
    record.logsAttention = m_settings.searchAttentionFactor;
    m_log.write(record);
    accept(m, key, f);
}

// Scores every candidate on every sample of `fitness` (sample by sample; in batches when it has
// one; the cache first, a repeated candidate evaluated once), for the baselines and validation.
// Each real evaluation is cached, counted in `counter` and logged as record(index, sample, f).
// False when a budget or cancellation stops it first.
bool SearchRun::scoreFully(const SampledFitness &fitness, Store &store, const std::vector<Candidate> &candidates,
                           Scores &scores, const RecordOf &record, int &counter)
{
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
                ++m_result.cacheHits;
                scores[i].push_back(it->second);
            } else if (pendingKeys.insert(keys[i]).second) {
                pending.push_back(i);
            }
        }
        for (size_t done = 0; done < pending.size();) {
            const int allowed = allowance();
            if (allowed == 0)
                return false;
            const size_t count = groupSize(fitness, pending.size() - done, allowed);
            std::vector<Candidate> group;
            for (size_t j = done; j < done + count; ++j)
                group.push_back(candidates[pending[j]]);
            const bool whole = scoreGroup(fitness, group, k, [&](size_t j, double f) {
                const size_t i = pending[done + j];
                f = checked(f);
                store.emplace(scoreKey(keys[i], k), f);
                ++counter;
                m_log.write(record(i, k, f));
                scores[i].push_back(f);
            });
            writeCallerEvents(false);
            if (!whole)
                return false;
            done += count;
        }
        for (size_t i = 0; i < candidates.size(); ++i) {
            if (int(scores[i].size()) <= k) {  // a repeat of a candidate just evaluated
                ++m_result.cacheHits;
                scores[i].push_back(store.at(scoreKey(keys[i], k)));
            }
        }
    }
    return true;
}

bool SearchRun::scoreNext(Member &m)
{
    if (fromCache(m))
        return true;
    if (allowance() == 0)
        return false;
    double f = 0;
    if (!cancellable([&] { f = m_sampled.fitness(m.candidate, int(m.scores.size())); }))
        return false;
    evaluated(m, f);
    return true;
}

void SearchRun::rank(Member &m, int n) const
{
    m.reached = n;
    m.fitness = aggregateScores(m_aggregate, m.scores.data(), n);
}

// Scores `m` on samples 0 … n − 1 (what it already knows is reused) and ranks it on them.
bool SearchRun::scoreUpTo(Member &m, int n)
{
    while (int(m.scores.size()) < n)
        if (!scoreNext(m))
            return false;
    rank(m, n);
    return true;
}

// Brings every listed member to n scores, where each has at least n − 1: the cache first, then the
// missing sample n − 1 of each distinct candidate through the batch fitness (a repeated candidate
// is evaluated once and served to the others from the cache, as one at a time).
bool SearchRun::scoreRound(Population &pop, const std::vector<size_t> &members, int n)
{
    if (!grouped(m_sampled)) {
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
    if (!scoreBatch(pop, pending, n))
        return false;
    for (size_t i : members) {
        if (int(pop[i].scores.size()) < n && !fromCache(pop[i]))
            throw Error(kSettingsSource, QStringLiteral("internal: a member missed its batch evaluation"));
        rank(pop[i], n);
    }
    return true;
}

// Sample n − 1 of the pending members through the batch fitness, maxBatch at a time in member order.
bool SearchRun::scoreBatch(Population &pop, const std::vector<size_t> &pending, int n)
{
    for (size_t done = 0; done < pending.size();) {
        const int allowed = allowance();
        if (allowed == 0)
            return false;
        const size_t count = groupSize(m_sampled, pending.size() - done, allowed);
        std::vector<Candidate> group;
        for (size_t j = done; j < done + count; ++j)
            group.push_back(pop[pending[j]].candidate);
        const bool whole = scoreGroup(m_sampled, group, n - 1, [&](size_t j, double f) { evaluated(pop[pending[done + j]], f); });
        writeCallerEvents(false);
        if (!whole)
            return false;
        done += count;
    }
    return true;
}

// How many of `pending` real evaluations the next call takes: one without a batch fitness, all that
// the budget allows with a streaming one, else up to maxBatch.
size_t SearchRun::groupSize(const SampledFitness &fitness, size_t pending, int allowed) const
{
    if (!grouped(fitness))
        return 1;
    const size_t cut = fitness.stream ? pending : size_t(std::max(1, fitness.maxBatch));
    return std::min({pending, cut, size_t(allowed)});
}

// Scores `group` on `sample` and hands each score to take(index in group, score): as each arrives
// through a streaming fitness (logged at once; the caller's events too, so a lost rank is named
// while the round goes on), else after the batch call or the one-candidate call, in order. False
// when stopped: cancelled from inside, or a streaming call that stopped early because the run was
// cancelled or ran out of time meanwhile (the scores it did hand over are kept and logged).
bool SearchRun::scoreGroup(const SampledFitness &fitness, const std::vector<Candidate> &group, int sample,
                           const std::function<void(size_t, double)> &take)
{
    if (fitness.stream) {
        std::vector<char> seen(group.size(), 0);
        size_t got = 0;
        const bool ran = cancellable([&] {
            fitness.stream(group, sample, [&](size_t j, double f) {
                if (j >= group.size() || seen[j])
                    throw Error(kSettingsSource, QStringLiteral("the streaming fitness answered candidate %1 of %2 twice or out of range")
                                                     .arg(j).arg(group.size()));
                seen[j] = 1;
                ++got;
                take(j, f);
                writeCallerEvents(false);
                return mayGoOn();
            });
        });
        if (!ran)
            return false;
        if (got == group.size())
            return true;
        if (!m_stop)
            throw Error(kSettingsSource, QStringLiteral("the streaming fitness returned %1 scores for %2 candidates").arg(got).arg(group.size()));
        return false;
    }
    std::vector<double> got;
    if (fitness.batch) {
        if (!cancellable([&] { got = fitness.batch(group, sample); }))
            return false;
    } else {
        if (!cancellable([&] { got = {fitness.fitness(group.front(), sample)}; }))
            return false;
    }
    if (got.size() != group.size())
        throw Error(kSettingsSource,
                    QStringLiteral("the batch fitness returned %1 scores for %2 candidates").arg(got.size()).arg(group.size()));
    for (size_t j = 0; j < got.size(); ++j)
        take(j, got[j]);
    return true;
}

// Whether a streaming call may start more work: not when the run was cancelled or its time budget
// is spent (the reason is set; the evaluation budget is kept by the call's size instead).
bool SearchRun::mayGoOn()
{
    if (m_hooks.cancelled && m_hooks.cancelled()) {
        m_stop = StopReason::Cancelled;
        return false;
    }
    if (m_settings.maxSeconds > 0 && double(m_timer.elapsed()) / 1000.0 >= m_settings.maxSeconds) {
        m_stop = StopReason::Budget;
        return false;
    }
    return true;
}

// ---------------------------------------------------------------------------------------------
// The answer, members, caller events

double SearchRun::validationOf(const Pick &p) const
{
    const auto it = m_validated.find(p.key);
    return it == m_validated.end() ? std::numeric_limits<double>::quiet_NaN() : it->second;
}

// The run's answer so far: the validation choice, else the best search fitness.
SearchRun::Pick SearchRun::answer() const
{
    if (m_chooseByValidation && m_chosen.have)
        return m_chosen;
    Pick p = m_searchBest;
    p.validation = validationOf(p);
    return p;
}

SearchRun::Member SearchRun::makeMember(SearchGenome g) const
{
    Member m;
    m.candidate = m_search.candidateOf(g);
    m.key = candidateKey(m.candidate);
    m.genome = std::move(g);
    return m;
}

// Produces an offspring not yet generated in this run (a few retries, then accepts a repeat, which
// the cache serves without evaluating).
SearchRun::Member SearchRun::fresh(const std::function<SearchGenome()> &produce)
{
    SearchGenome g = produce();
    for (int tries = 0; tries < 20 && m_seen.count(candidateKey(m_search.candidateOf(g))); ++tries)
        g = produce();
    Member m = makeMember(std::move(g));
    m_seen.insert(m.key);
    return m;
}

// The caller's informational entries (SearchHooks::logEvents), so the log stays the one record.
void SearchRun::writeCallerEvents(bool atGeneration)
{
    if (m_hooks.logEvents)
        for (const QJsonObject &e : m_hooks.logEvents(atGeneration))
            m_log.write(e);
}

} // namespace rs::search_detail
