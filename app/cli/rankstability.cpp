// ropescope-cli rank-stability: how well a fitness aggregate's ranking of one generation's
// candidates on one needle-sample set predicts their ranking on a disjoint set (Spearman), for the
// paper's mean of per-sample PPL, exp(mean NLL) and the median. Every candidate is scored once on
// N samples; then many random pairs of disjoint K-sample sets are drawn from them and each
// aggregate's two rankings compared, so all aggregates meet the same pairs (a paired comparison).
#include "commands.h"
#include "options.h"

#include "common/statistics.h"
#include "eval/candidatescorer.h"
#include "rope/ropeconfig.h"
#include "runtime/model.h"
#include "search/search.h"
#include "worker/messages.h"
#include "worker/searcharithmetic.h"
#include "worker/runlogfollower.h"
#include "job/searchfitness.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTextStream>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace rs::cli {

namespace {

double percentile(std::vector<double> x, double q)
{
    std::sort(x.begin(), x.end());
    const double pos = q * double(x.size() - 1);
    const size_t lo = size_t(std::floor(pos)), hi = size_t(std::ceil(pos));
    return x[lo] + (x[hi] - x[lo]) * (pos - double(lo));
}

double mean(const std::vector<double> &x) { return std::accumulate(x.begin(), x.end(), 0.0) / double(x.size()); }

// The candidates first evaluated in generations first … last of a run log (as the GUI replays it).
std::vector<Candidate> candidatesFromLog(const QString &path, int first, int last)
{
    RunLogFollower follower;
    std::vector<Candidate> out;
    QObject::connect(&follower, &RunLogFollower::candidateEvaluated, [&](const CandidateEvaluation &c) {
        if (c.generation >= first && c.generation <= last && c.indexInGeneration >= 0)
            out.push_back({c.lambda, c.attentionFactor});
    });
    follower.follow(path);
    follower.stopFollowing();
    if (out.empty())
        throw Error(path, QStringLiteral("no candidates of generations %1 … %2 in this run log").arg(first).arg(last));
    return out;
}

} // namespace

int rankStability(const QStringList &args)
{
    return run([&] {
        QCommandLineParser parser;
        const QCommandLineOption method(QStringLiteral("method"),
                                        QStringLiteral("Generation 0 of longrope2 (default) or longrope (v1)."),
                                        QStringLiteral("NAME"), QStringLiteral("longrope2"));
        const QCommandLineOption population(QStringLiteral("population"),
                                            QStringLiteral("Candidates of generation 0 (default 32)."), QStringLiteral("P"),
                                            QStringLiteral("32"));
        const QCommandLineOption fromLog(QStringLiteral("from-log"),
                                         QStringLiteral("Take the candidates of one generation of this run log instead."),
                                         QStringLiteral("RUN.jsonl"));
        const QCommandLineOption generation(QStringLiteral("generation"),
                                            QStringLiteral("With --from-log: the generation, or a range G-H of them "
                                                           "(their new candidates together; default 0)."),
                                            QStringLiteral("G[-H]"), QStringLiteral("0"));
        const QCommandLineOption setSize(QStringLiteral("set-size"),
                                         QStringLiteral("Samples per set, K (default 4, the search's default)."),
                                         QStringLiteral("K"), QStringLiteral("4"));
        const QCommandLineOption splits(QStringLiteral("splits"),
                                        QStringLiteral("Random pairs of disjoint sets drawn from the samples (default 500)."),
                                        QStringLiteral("R"), QStringLiteral("500"));
        addEvaluationOptions(parser);
        parser.addOptions({method, population, fromLog, generation, setSize, splits, kJsonOption});
        parseOrThrow(parser, args,
                     QStringLiteral("How stably each fitness aggregate ranks one generation's candidates: Spearman "
                                    "between their rankings on two disjoint sets of K needle samples, over many such "
                                    "pairs drawn from --samples N (at least 2K) scored samples."));
        EvaluationSetup setup = loadEvaluationSetup(parser);
        const int k = wholeNumber(parser, setSize, 1);
        const int pairs = wholeNumber(parser, splits, 1);
        const int n = setup.settings.samples;
        if (n < 2 * k)
            throw UsageError{QStringLiteral("--samples must be at least twice --set-size (got %1 and %2)").arg(n).arg(k)};
        const RopeConfig &config = setup.model->ropeConfig();

        std::vector<Candidate> candidates;
        QString source;
        if (parser.isSet(fromLog)) {
            const QStringList range = parser.value(generation).split(QLatin1Char('-'));
            bool okFirst = false, okLast = false;
            const int first = range.value(0).toInt(&okFirst);
            const int last = range.size() == 2 ? range.value(1).toInt(&okLast) : (okLast = okFirst, first);
            if (range.size() > 2 || !okFirst || !okLast || first < 0 || last < first)
                throw UsageError{QStringLiteral("--generation needs G or G-H with 0 ≤ G ≤ H")};
            candidates = candidatesFromLog(parser.value(fromLog), first, last);
            source = first == last ? QStringLiteral("generation %1 of %2").arg(first).arg(parser.value(fromLog))
                                   : QStringLiteral("generations %1-%2 of %3").arg(first).arg(last).arg(parser.value(fromLog));
        } else {
            // Generation 0 of the search as `search` would start it (families seeded), generated
            // without a model: a constant fitness only records the members.
            SearchSettings settings;
            settings.method = parser.value(method) == QLatin1String("longrope") ? SearchMethod::LongRoPEv1 : SearchMethod::LongRoPE2;
            settings.rotaryDims = config.rotaryDims;
            settings.base = config.base;
            settings.trainLength = config.trainLength;
            settings.targetLength = setup.settings.length;
            settings.population = wholeNumber(parser, population, 2);
            settings.iterations = 0;
            settings.seed = setup.settings.seed;
            SearchHooks hooks;
            hooks.baselines = searchBaselines(config, setup.settings.length);
            // The baselines' own scores are not wanted here: only generation 0's members.
            bool members = false;
            hooks.onBaselines = [&](const std::vector<BaselineScore> &) { members = true; };
            EvolutionSearch(settings).run(SampledFitness::whole([&](const Candidate &c) {
                if (members)
                    candidates.push_back(c);
                return 1.0;
            }), hooks);
            source = QStringLiteral("generation 0 of a %1 search (population %2, seed %3)")
                         .arg(parser.value(method)).arg(settings.population).arg(settings.seed);
        }
        const int c = int(candidates.size());
        if (c < 3)
            throw Error(source, QStringLiteral("needs at least 3 candidates (got %1)").arg(c));

        // Every candidate on every sample: per-sample needle PPL.
        const CandidateScorer scorer(*setup.model, *setup.tokenizer.tokenizer, setup.tokenizer.bosId, setup.settings);
        const SampledFitness fitness = searchFitness(scorer, CandidateScorer::defaultBatch(*setup.model));
        std::vector<std::vector<double>> ppl(static_cast<size_t>(c), std::vector<double>(static_cast<size_t>(n)));
        QElapsedTimer clock;
        clock.start();
        for (int s = 0; s < n; ++s) {
            for (int first = 0; first < c; first += fitness.maxBatch) {
                const std::vector<Candidate> group(candidates.begin() + first,
                                                   candidates.begin() + std::min(c, first + fitness.maxBatch));
                const std::vector<double> scores = fitness.batch(group, s);
                for (size_t j = 0; j < scores.size(); ++j)
                    ppl[size_t(first) + j][size_t(s)] = std::isfinite(scores[j]) ? scores[j] : std::numeric_limits<double>::infinity();
            }
            err() << "sample " << s + 1 << "/" << n << " scored (" << number(clock.nsecsElapsed() / 1e9, 3) << " s)\n";
            err().flush();
        }

        // Pairs of disjoint K-sets: a seeded shuffle of the samples, the first K against the next K.
        const FitnessAggregate aggregates[] = {FitnessAggregate::MeanPpl, FitnessAggregate::ExpMeanNll, FitnessAggregate::MedianPpl};
        std::vector<std::vector<double>> rho(3);
        std::vector<int> sameWinner(3, 0);
        SearchRng rng(setup.settings.seed ^ 0x5a17ull);
        std::vector<int> order(static_cast<size_t>(n));
        std::iota(order.begin(), order.end(), 0);
        std::vector<double> a(static_cast<size_t>(c)), b(static_cast<size_t>(c)), sa(static_cast<size_t>(k)),
            sb(static_cast<size_t>(k));
        for (int p = 0; p < pairs; ++p) {
            for (int i = n - 1; i > 0; --i)
                std::swap(order[size_t(i)], order[size_t(rng.below(i + 1))]);
            for (int m = 0; m < 3; ++m) {
                for (int j = 0; j < c; ++j) {
                    for (int q = 0; q < k; ++q) {
                        sa[size_t(q)] = ppl[size_t(j)][size_t(order[size_t(q)])];
                        sb[size_t(q)] = ppl[size_t(j)][size_t(order[size_t(k + q)])];
                    }
                    a[size_t(j)] = aggregateScores(aggregates[m], sa);
                    b[size_t(j)] = aggregateScores(aggregates[m], sb);
                }
                rho[size_t(m)].push_back(rs::spearman(a, b));
                sameWinner[size_t(m)] += std::min_element(a.begin(), a.end()) - a.begin() == std::min_element(b.begin(), b.end()) - b.begin();
            }
        }
        // Paired: each aggregate against the paper's mean on the same pairs.
        const bool json = parser.isSet(kJsonOption);
        QString text;
        QTextStream table(&text);
        QJsonArray rows;
        table << "rank stability of " << c << " candidates (" << source << "), L = " << setup.settings.length
              << ", " << n << " samples (seeds " << setup.settings.seed << "…" << setup.settings.seed + n - 1 << "), "
              << pairs << " pairs of disjoint " << k << "-sample sets\n";
        table << "aggregate       Spearman mean [2.5%, 97.5%]   vs mean_ppl: mean difference [2.5%, 97.5%]  same winner\n";
        for (int m = 0; m < 3; ++m) {
            std::vector<double> diff;
            for (int p = 0; p < pairs; ++p)
                diff.push_back(rho[size_t(m)][size_t(p)] - rho[0][size_t(p)]);
            const double lo = percentile(rho[size_t(m)], 0.025), hi = percentile(rho[size_t(m)], 0.975);
            const double dlo = percentile(diff, 0.025), dhi = percentile(diff, 0.975);
            table << fitnessAggregateName(aggregates[m]).leftJustified(15) << " " << number(mean(rho[size_t(m)]), 3)
                  << " [" << number(lo, 3) << ", " << number(hi, 3) << "]          "
                  << (m == 0 ? QStringLiteral("—") : QStringLiteral("%1 [%2, %3]").arg(number(mean(diff), 3), number(dlo, 3), number(dhi, 3)))
                  << "   " << number(100.0 * sameWinner[size_t(m)] / pairs, 3) << "%\n";
            rows.append(QJsonObject{{QStringLiteral("aggregate"), fitnessAggregateName(aggregates[m])},
                                    {QStringLiteral("spearman_mean"), mean(rho[size_t(m)])},
                                    {QStringLiteral("spearman_low"), lo},
                                    {QStringLiteral("spearman_high"), hi},
                                    {QStringLiteral("difference_to_mean_ppl"), mean(diff)},
                                    {QStringLiteral("difference_low"), dlo},
                                    {QStringLiteral("difference_high"), dhi},
                                    {QStringLiteral("same_winner"), double(sameWinner[size_t(m)]) / pairs}});
        }
        table << "(mean NLL ranks exactly as exp(mean NLL); the interval is over the random pairs of sets)\n";
        table.flush();
        if (!json)
            out() << text;
        else {
            QJsonArray perCandidate;
            for (const std::vector<double> &row : ppl) {
                QJsonArray r;
                for (double v : row)
                    r.append(std::isfinite(v) ? QJsonValue(v) : QJsonValue(QJsonValue::Null));
                perCandidate.append(r);
            }
            const QJsonObject o{{QStringLiteral("source"), source},
                                {QStringLiteral("length"), setup.settings.length},
                                {QStringLiteral("samples"), n},
                                {QStringLiteral("seed"), QString::number(setup.settings.seed)},
                                {QStringLiteral("set_size"), k},
                                {QStringLiteral("pairs"), pairs},
                                {QStringLiteral("candidates"), c},
                                {QStringLiteral("aggregates"), rows},
                                {QStringLiteral("table"), text},
                                {QStringLiteral("per_candidate_sample_ppl"), perCandidate}};
            out() << QJsonDocument(o).toJson(QJsonDocument::Indented);
        }
        return kOk;
    }, QStringLiteral("a shorter --length, fewer --samples or a smaller --dtype need less"));
}

} // namespace rs::cli
