#pragma once
// Search-internal: one run of the evolutionary search (EvolutionSearch::run) as an object whose
// phases are methods and whose state is members. In order: open the log (its start record and,
// resuming, the cache), score the baselines, seed generation 0, then per generation race it over
// the samples, validate its best, report it and breed the next; finish with the answer. Every real
// evaluation goes through the cache, the budget and the log on the way (the scoring helpers).
#include "search/search.h"
#include "search/search_p.h"

#include <QElapsedTimer>

#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace rs::search_detail {

class SearchRun {
public:
    // Checks the fitnesses and the baselines; throws rs::Error.
    SearchRun(const EvolutionSearch &search, bool attentionGiven, const SampledFitness &sampled, const SampledFitness &validation,
              const SearchHooks &hooks);
    SearchResult run();

private:
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
    using Population = std::vector<Member>;
    using Ranking = std::vector<size_t>;
    using Store = std::unordered_map<std::string, double>;
    using Scores = std::vector<std::vector<double>>;
    using RecordOf = std::function<RunLogRecord(size_t index, int sample, double fitness)>;

    // The phases.
    void openLog();
    bool scoreBaselines();
    bool seed();
    bool race(Population &pop);
    bool validate(const Population &pop, bool withSeeds);
    Population breed();
    void report(int generation, const Population &pop);
    SearchResult finish();

    // Scoring: every real evaluation is checked, cached, counted, logged and accepted here.
    double checked(double f) const;
    void accept(Member &m, const std::string &key, double f);
    bool fromCache(Member &m);
    int allowance();
    bool cancellable(const std::function<void()> &call);
    void evaluated(Member &m, double f);
    bool scoreFully(const SampledFitness &fitness, Store &store, const std::vector<Candidate> &candidates, Scores &scores,
                    const RecordOf &record, int &counter);
    bool scoreNext(Member &m);
    void rank(Member &m, int n) const;
    bool scoreUpTo(Member &m, int n);
    bool scoreRound(Population &pop, const std::vector<size_t> &members, int n);
    bool scoreBatch(Population &pop, const std::vector<size_t> &pending, int n);
    size_t groupSize(const SampledFitness &fitness, size_t pending, int allowed) const;
    bool scoreGroup(const SampledFitness &fitness, const std::vector<Candidate> &group, int sample,
                    const std::function<void(size_t index, double score)> &take);
    bool mayGoOn();

    // The answer, members, the log's caller events.
    Pick answer() const;
    double validationOf(const Pick &p) const;
    Member makeMember(SearchGenome g) const;
    Member fresh(const std::function<SearchGenome()> &produce);
    SearchGenome crossoverChild(const Population &parents);
    int dRcdOf(const Member &m) const { return m_lr2 ? m.genome.dRcd : -1; }
    void writeCallerEvents(bool atGeneration);

    const EvolutionSearch &m_search;
    const SearchSettings &m_settings;  // the search's, defaults resolved
    const bool m_attentionGiven;
    const SampledFitness &m_sampled;
    const SampledFitness &m_validation;
    const SearchHooks &m_hooks;
    const int m_samples;             // K
    const bool m_validating;
    const int m_validationSamples;   // 0 without validation
    const bool m_racing;             // racing over more than one sample
    const bool m_chooseByValidation;
    const bool m_lr2;
    const FitnessAggregate m_aggregate;

    RunLog m_log;
    Store m_cache;            // search samples, (candidate, sample) → score
    Store m_validationCache;  // validation samples
    QElapsedTimer m_timer;
    SearchResult m_result;
    std::optional<StopReason> m_stop;
    std::unordered_set<std::string> m_seen;  // candidates generated in this run
    std::unordered_set<std::string> m_used;  // (candidate, sample) scores this search has used
    SearchRng m_rng;
    Pick m_searchBest;  // the best full search fitness so far
    Pick m_chosen;      // the best validation fitness so far
    std::unordered_map<std::string, double> m_validated;  // candidate key → validation fitness
    Population m_pop;   // the current generation
    Ranking m_ranking;  // its ranking, best first
};

} // namespace rs::search_detail
