// The fitness aggregates, the stop reasons' names and the search's entry points (EvolutionSearch::run
// and runSearch). A run itself is a SearchRun (searchrun_p.h, searchrun.cpp), the genome
// operations are in genome.cpp, the run log's writer and loader in runlog.cpp and its records in
// runlogcodec.cpp.
#include "search/search.h"
#include "search/search_p.h"
#include "search/searchrun_p.h"

#include "common/error.h"


#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace rs {

using search_detail::kSettingsSource;

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
    return search_detail::SearchRun(*this, m_attentionGiven, sampled, validation, hooks).run();
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
