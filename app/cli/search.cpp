// ropescope-cli search: LongRoPE2 (or LongRoPE) evolutionary search of the rescale factors with
// needle PPL as the fitness, logged to (and resumable from) a JSONL run log. Held-out validation
// samples pick the answer; the families are scored on both sample sets first and seed generation 0.
// The search itself is set up by the search job (job/searchjob.h), as the GUI's is; this file reads
// the options (their defaults from SearchJobSettings), prints the progress and the answer, and, under
// MPI, wires rank 0's coordinator and the scorer ranks to the job.
#include "commands.h"
#include "options.h"

#include "common/savefile.h"
#include "job/searchjob.h"
#include "rope/configexport.h"
#include "rope/factorfile.h"
#include "rope/ropeconfig.h"
#include "rope/ropegeometry.h"
#include "runtime/embeddedmodel.h"
#include "runtime/model.h"
#include "runtime/modelfolder.h"
#include "search/runlogstart.h"
#include "search/search.h"
#include "worker/searchjobsettings.h"
#ifdef ROPESCOPE_HAVE_MPI
#include "distributed/mpisearch.h"
#endif

#include <QElapsedTimer>
#include <QDir>
#include <QFileInfo>

#include <algorithm>
#include <cmath>
#include <optional>
#include <variant>

namespace rs::cli {

namespace {

// How --fitness spells the aggregates: the default first.
QString optionName(FitnessAggregate a) { return fitnessAggregateName(a).replace(QLatin1Char('_'), QLatin1Char('-')); }

// "A (default), B or C" with the default first.
QString fitnessHelp(FitnessAggregate defaultAggregate)
{
    QStringList others;
    for (FitnessAggregate a : {FitnessAggregate::MeanPpl, FitnessAggregate::ExpMeanNll, FitnessAggregate::MedianPpl})
        if (a != defaultAggregate)
            others << optionName(a);
    return QStringLiteral("How per-sample needle PPLs combine: %1 (default), %2 or %3.")
        .arg(optionName(defaultAggregate), others.value(0), others.value(1));
}

QString methodOptionName(SearchMethod m) { return m == SearchMethod::LongRoPE2 ? QStringLiteral("longrope2") : QStringLiteral("longrope"); }

#ifdef ROPESCOPE_HAVE_MPI
using mpi::Coordinator;
using mpi::Environment;
#else
class Coordinator;
class Environment;
#endif

// Where this process stands: a plain run (both null), rank 0 of an MPI run (coordinator), or one
// of its scorer ranks (scorer).
struct Role {
    Coordinator *coordinator = nullptr;
    const Environment *scorer = nullptr;
};

// The command's own options, their defaults and help read from SearchJobSettings.
struct SearchOptions {
    explicit SearchOptions(const SearchJobSettings &d);
    void addTo(QCommandLineParser &parser) const;

    QCommandLineOption method, population, iterations, maxEvaluations, log, resume, outFile, racing, racingKeep,
        searchAttention, attentionMin, attentionMax, replicaDevices, candidateBatch, validationSamples, validationSeed,
        validationTop, chooseBy, fitness, noSeeds, fixDrcd, rankTimeout, jobTimeout, decoupleAnchor, dRcdAboveTcd,
        keepOriginalDims, simulateFitness;
};

SearchOptions::SearchOptions(const SearchJobSettings &d)
    : method(QStringLiteral("method"),
             QStringLiteral("longrope2 (d_rcd searched, NTK-left below) or longrope (v1: every dimension searched); "
                            "default %1.").arg(methodOptionName(d.search.method)),
             QStringLiteral("NAME"), methodOptionName(d.search.method)),
      population(QStringLiteral("population"), QStringLiteral("Population (default %1).").arg(d.search.population),
                 QStringLiteral("P"), QString::number(d.search.population)),
      iterations(QStringLiteral("iterations"), QStringLiteral("Generations after the first (default %1).").arg(d.search.iterations),
                 QStringLiteral("N"), QString::number(d.search.iterations)),
      maxEvaluations(QStringLiteral("max-evaluations"),
                     QStringLiteral("Stop after this many sample evaluations (one candidate on one sample; default: no limit)."),
                     QStringLiteral("N"), QString::number(d.search.maxEvaluations)),
      log(QStringLiteral("log"), QStringLiteral("Run log (JSON Lines) to write or resume."), QStringLiteral("RUN.jsonl")),
      resume(QStringLiteral("resume"), QStringLiteral("Continue the run in --log: logged evaluations are not repeated.")),
      outFile({QStringLiteral("o"), QStringLiteral("out")},
              QStringLiteral("Write the best factors to this LongRoPE factor file (with --search-attention-factor, the "
                             "factor follows as a comment)."),
              QStringLiteral("FACTORS_FILE")),
      racing(QStringLiteral("racing"),
             QStringLiteral("Race each generation over the samples (successive halving): only the better part of the "
                            "candidates goes on to the next sample, so fewer sample evaluations are needed.")),
      racingKeep(QStringLiteral("racing-keep"),
                 QStringLiteral("With --racing: fraction kept after each sample (default %1).").arg(d.search.racingKeepFraction),
                 QStringLiteral("F"), QString::number(d.search.racingKeepFraction)),
      searchAttention(QStringLiteral("search-attention-factor"),
                      QStringLiteral("Search the attention factor (cos and sin multiplied by it) too, instead of "
                                     "longrope's sqrt(1 + ln s / ln L_train).")),
      attentionMin(QStringLiteral("attention-min"),
                   QStringLiteral("Lower bound of the searched attention factor (default %1).").arg(d.search.attentionFactorMin),
                   QStringLiteral("A"), QString::number(d.search.attentionFactorMin)),
      attentionMax(QStringLiteral("attention-max"),
                   QStringLiteral("Upper bound of the searched attention factor (default %1).").arg(d.search.attentionFactorMax),
                   QStringLiteral("A"), QString::number(d.search.attentionFactorMax)),
      replicaDevices(QStringLiteral("devices"),
                     QStringLiteral("Comma-separated devices, one model replica each, over which every generation's "
                                    "candidates are spread (default: with --device cuda every visible GPU, else --device)."),
                     QStringLiteral("LIST")),
      candidateBatch(QStringLiteral("candidate-batch"),
                     QStringLiteral("Candidates per batched forward on each replica, each row with its own factors "
                                    "(default 8 on a GPU, 1 on the CPU)."),
                     QStringLiteral("N")),
      validationSamples(QStringLiteral("validation-samples"),
                        QStringLiteral("Held-out needle samples that pick the answer (default: twice --samples; 0: none, "
                                       "the answer is the best on the search's own samples)."),
                        QStringLiteral("N")),
      validationSeed(QStringLiteral("validation-seed"),
                     QStringLiteral("Seed of the validation samples (default: --seed plus --samples, the seeds right "
                                    "after the search's)."),
                     QStringLiteral("S")),
      validationTop(QStringLiteral("validation-top"),
                    QStringLiteral("Best distinct candidates of each generation scored on the validation samples "
                                   "(default %1).").arg(d.search.validationTop),
                    QStringLiteral("N"), QString::number(d.search.validationTop)),
      chooseBy(QStringLiteral("choose-by"),
               QStringLiteral("validation (the validated candidate with the best validation fitness) or search (the "
                              "best on the search's samples); default %1.")
                   .arg(d.search.chooseByValidation ? QStringLiteral("validation") : QStringLiteral("search")),
               QStringLiteral("SET"), d.search.chooseByValidation ? QStringLiteral("validation") : QStringLiteral("search")),
      fitness(QStringLiteral("fitness"), fitnessHelp(d.search.fitness), QStringLiteral("NAME"), optionName(d.search.fitness)),
      noSeeds(QStringLiteral("no-family-seeds"),
              QStringLiteral("Start from random members only, not from the families projected into the search space.")),
      fixDrcd(QStringLiteral("fix-d-rcd"),
              QStringLiteral("LongRoPE2: hold d_rcd at N instead of searching it (tcd: the theoretical d_tcd, the "
                             "paper's ablation; d10 likewise)."),
              QStringLiteral("N|tcd|d10")),
      rankTimeout(QStringLiteral("rank-timeout"),
                  QStringLiteral("Under MPI: a scorer rank silent (no heartbeat, no result) this many seconds is lost "
                                 "and its jobs go to the others (default 120)."),
                  QStringLiteral("S"), QStringLiteral("120")),
      jobTimeout(QStringLiteral("job-timeout"),
                 QStringLiteral("Under MPI: a job (a few candidates on one sample) running longer than this many seconds "
                                "loses its rank (default: no limit)."),
                 QStringLiteral("S")),
      decoupleAnchor(QStringLiteral("decouple-anchor"),
                     QStringLiteral("Extension, not in the paper (LongRoPE2): anchor the NTK-left curve below d_rcd at a "
                                    "searched dimension a ≥ d_rcd (λ_i = min(λ_a^(i/a), λ_d_rcd)), as the published "
                                    "LLaMA3-8B factors do, instead of at d_rcd itself.")),
      dRcdAboveTcd(QStringLiteral("d-rcd-above-tcd"),
                   QStringLiteral("Extension, not in the paper (LongRoPE2): let d_rcd range up to d/2 − 1 instead of "
                                  "stopping at d_tcd.")),
      keepOriginalDims(QStringLiteral("keep-original-dims"),
                       QStringLiteral("Extension, not in the paper (LongRoPE2): the first K (fastest-rotating) dimensions "
                                      "keep λ = 1, as YaRN leaves them (default %1: none).").arg(d.search.keepOriginalDims),
                       QStringLiteral("K"), QString::number(d.search.keepOriginalDims)),
      simulateFitness(QStringLiteral("simulate-fitness"),
                      QStringLiteral("For scale tests: no model is loaded (only its config.json, for the RoPE shape); each "
                                     "evaluation sleeps DURATION (0.5s, 100ms), jittered by ±F of it, and scores a known "
                                     "function of λ (docs/cli.md); fail=P: that share of evaluations gives NaN."),
                      QStringLiteral("DURATION[,jitter=F][,fail=P]"))
{
}

void SearchOptions::addTo(QCommandLineParser &parser) const
{
    addEvaluationOptions(parser);
    parser.addOptions({rankTimeout, jobTimeout});
    parser.addOptions({method, population, iterations, maxEvaluations, log, resume, outFile, racing, racingKeep,
                       searchAttention, attentionMin, attentionMax, replicaDevices, candidateBatch, validationSamples,
                       validationSeed, validationTop, chooseBy, fitness, noSeeds, fixDrcd, decoupleAnchor, dRcdAboveTcd,
                       keepOriginalDims, simulateFitness});
}

// The log names a model and a corpus and may come from anyone: resuming loads only the model the
// user names, which must be the log's, checked before any model is looked at.
void checkResumedLog(const QCommandLineParser &parser, const SearchOptions &o)
{
    const RunLogStart resumed = readRunLogStart(parser.value(o.log));
    const bool named = parser.isSet(kModelOption);
    const QString chosen = named ? parser.value(kModelOption) : embeddedModelDir();
    if (!resumed.model.isEmpty() && !samePath(resumed.model, chosen))
        throw UsageError{QStringLiteral("%1 is the log of a search of the model in %2, and resuming it loads only "
                                        "the model you name: give --model %2 (%3)")
                             .arg(parser.value(o.log), resumed.model,
                                  named ? QStringLiteral("got --model %1").arg(chosen)
                                        : QStringLiteral("without --model it would be the embedded model"))};
    if (!samePath(resumed.corpus, parser.value(kCorpusOption)))
        throw UsageError{QStringLiteral("%1 is the log of a search on the corpus %2: give --corpus %2 to resume it (got %3)")
                             .arg(parser.value(o.log),
                                  resumed.corpus.isEmpty() ? QStringLiteral("\"\" (built-in prose)") : resumed.corpus,
                                  parser.isSet(kCorpusOption) ? QStringLiteral("--corpus %1").arg(parser.value(kCorpusOption))
                                                              : QStringLiteral("none"))};
}

// --simulate-fitness, if given.
std::optional<SimulatedFitnessSpec> simulatedSpec(const QCommandLineParser &parser, const SearchOptions &o)
{
    if (!parser.isSet(o.simulateFitness))
        return std::nullopt;
    SimulatedFitnessSpec spec;
    if (const QString problem = parseSimulatedFitness(parser.value(o.simulateFitness), spec); !problem.isEmpty())
        throw UsageError{QStringLiteral("--simulate-fitness %1").arg(problem)};
    if (parser.isSet(o.replicaDevices))
        throw UsageError{QStringLiteral("--simulate-fitness loads no model: --devices has nothing to place")};
    return spec;
}

// The command-line mistakes found before the model loads (and an unwritable --out, before the search).
void checkOptions(const QCommandLineParser &parser, const SearchOptions &o, Role role)
{
    if (!parser.isSet(o.log))
        throw UsageError{QStringLiteral("--log RUN.jsonl is required")};
    const QString methodName = parser.value(o.method);
    if (methodName != methodOptionName(SearchMethod::LongRoPE2) && methodName != methodOptionName(SearchMethod::LongRoPEv1))
        throw UsageError{QStringLiteral("--method needs longrope2 or longrope")};
    if (positiveNumber(parser, o.racingKeep) > 1)
        throw UsageError{QStringLiteral("--racing-keep needs a fraction in (0, 1], got '%1'").arg(parser.value(o.racingKeep))};
    if (positiveNumber(parser, o.attentionMax) < positiveNumber(parser, o.attentionMin))
        throw UsageError{QStringLiteral("--attention-max (%1) is below --attention-min (%2)")
                             .arg(parser.value(o.attentionMax), parser.value(o.attentionMin))};
    if (parser.isSet(o.replicaDevices))
        for (const QString &d : parser.value(o.replicaDevices).split(QLatin1Char(','), Qt::SkipEmptyParts))
            checkedDevice(d);
    if (parser.isSet(o.outFile) && !role.scorer)
        checkOutputPath(parser.value(o.outFile));
    positiveNumber(parser, o.rankTimeout);
    if (parser.isSet(o.jobTimeout))
        positiveNumber(parser, o.jobTimeout);
    if (parser.isSet(o.resume) && !role.scorer)
        checkResumedLog(parser, o);
    simulatedSpec(parser, o);
}

// --fix-d-rcd as a dimension of this model.
int fixedDRcd(const QCommandLineParser &parser, const SearchOptions &o, const RopeConfig &config)
{
    const QString value = parser.value(o.fixDrcd).toLower();
    const int pairs = config.rotaryDims / 2;
    bool ok = true;
    const int dRcd = value == QLatin1String("tcd")   ? theoreticalCriticalDimension(config.rotaryDims, config.base, config.trainLength)
                     : value == QLatin1String("d10") ? tenPeriodDimension(config.rotaryDims, config.base, config.trainLength)
                                                     : value.toInt(&ok);
    if (!ok || dRcd < 0 || dRcd >= pairs)
        throw UsageError{QStringLiteral("--fix-d-rcd needs tcd, d10 or a whole number from 0 to %1, got '%2'")
                             .arg(pairs - 1).arg(parser.value(o.fixDrcd))};
    return dRcd;
}

// The search job's settings from the options, for a model with `config`'s RoPE.
SearchJobSettings jobSettings(const QCommandLineParser &parser, const SearchOptions &o, const RopeConfig &config,
                              const NeedleEvalSettings &needle)
{
    SearchJobSettings job;
    SearchSettings &s = job.search;
    s.method = parser.value(o.method) == methodOptionName(SearchMethod::LongRoPE2) ? SearchMethod::LongRoPE2 : SearchMethod::LongRoPEv1;
    s.population = wholeNumber(parser, o.population, 2);
    s.iterations = wholeNumber(parser, o.iterations, 0);
    s.maxEvaluations = wholeNumber(parser, o.maxEvaluations, 0);
    s.seed = needle.seed;
    s.racing = parser.isSet(o.racing);
    s.racingKeepFraction = positiveNumber(parser, o.racingKeep);
    s.searchAttentionFactor = parser.isSet(o.searchAttention);
    s.attentionFactorMin = positiveNumber(parser, o.attentionMin);
    s.attentionFactorMax = positiveNumber(parser, o.attentionMax);
    if ((parser.isSet(o.racingKeep) && !s.racing)
        || ((parser.isSet(o.attentionMin) || parser.isSet(o.attentionMax)) && !s.searchAttentionFactor))
        throw UsageError{QStringLiteral("--racing-keep needs --racing; --attention-min/max need --search-attention-factor")};
    const std::optional<FitnessAggregate> aggregate = fitnessAggregateFromName(parser.value(o.fitness));
    if (!aggregate)
        throw UsageError{QStringLiteral("--fitness needs mean-ppl, exp-mean-nll or median-ppl")};
    s.fitness = *aggregate;
    s.seedFamilies = !parser.isSet(o.noSeeds);
    if (parser.isSet(o.fixDrcd)) {
        if (s.method != SearchMethod::LongRoPE2)
            throw UsageError{QStringLiteral("--fix-d-rcd needs --method longrope2")};
        s.dRcdMin = s.dRcdMax = fixedDRcd(parser, o, config);
    }
    s.decoupleAnchor = parser.isSet(o.decoupleAnchor);
    s.dRcdAboveTcd = parser.isSet(o.dRcdAboveTcd);
    s.keepOriginalDims = wholeNumber(parser, o.keepOriginalDims, 0);
    if ((s.decoupleAnchor || s.dRcdAboveTcd || s.keepOriginalDims > 0) && s.method != SearchMethod::LongRoPE2)
        throw UsageError{QStringLiteral("--decouple-anchor, --d-rcd-above-tcd and --keep-original-dims need --method longrope2")};
    if (s.dRcdAboveTcd && parser.isSet(o.fixDrcd))
        throw UsageError{QStringLiteral("--d-rcd-above-tcd widens the d_rcd range that --fix-d-rcd holds fixed: give one of them")};
    // The kept dimensions lie below every d_rcd the search may choose (the NTK-left part).
    const int dRcdBottom = s.dRcdMin >= 0 ? s.dRcdMin : tenPeriodDimension(config.rotaryDims, config.base, config.trainLength);
    if (s.keepOriginalDims > dRcdBottom)
        throw UsageError{QStringLiteral("--keep-original-dims %1 reaches past the lowest d_rcd the search may choose (%2)")
                             .arg(s.keepOriginalDims).arg(dRcdBottom)};
    s.validationTop = wholeNumber(parser, o.validationTop, 1);
    const QString chooseName = parser.value(o.chooseBy);
    if (chooseName != QLatin1String("validation") && chooseName != QLatin1String("search"))
        throw UsageError{QStringLiteral("--choose-by needs validation or search")};
    s.chooseByValidation = chooseName == QLatin1String("validation");
    job.samples = needle;
    if (parser.isSet(o.validationSamples))
        job.validationSamples = wholeNumber(parser, o.validationSamples, 0);
    if (parser.isSet(o.validationSeed))
        job.validationSeed = wholeNumber(parser, o.validationSeed, 0);
    if ((parser.isSet(o.validationSeed) || parser.isSet(o.chooseBy)) && job.validation().samples == 0)
        throw UsageError{QStringLiteral("--validation-seed and --choose-by need validation samples")};
    if (const QString problem = SearchJob::overlapProblem(job); !problem.isEmpty())
        throw UsageError{problem + QStringLiteral(": choose another --validation-seed")};
    job.device = parser.value(kDeviceOption);
    job.dtype = parser.value(kDtypeOption);
    job.candidateBatch = parser.isSet(o.candidateBatch) ? wholeNumber(parser, o.candidateBatch, 1) : 0;
    job.devices = parser.value(o.replicaDevices).split(QLatin1Char(','), Qt::SkipEmptyParts);
    if (parser.isSet(o.replicaDevices) && job.devices.isEmpty())
        throw UsageError{QStringLiteral("--devices needs at least one device")};
    job.logPath = parser.value(o.log);
    job.resume = parser.isSet(o.resume);
    return job;
}

// This process's model and its scorers, from the shared options.
void loadScorers(SearchJob &job, const QCommandLineParser &parser, std::optional<EvaluationSetup> &setup)
{
    if (!setup)
        setup.emplace(loadEvaluationSetup(parser));
    needleSamples([&] {
        job.loadScorers(std::move(setup->model), std::move(setup->tokenizer), setup->modelDir);
        return 0;
    });
    setup.reset();
}

#ifdef ROPESCOPE_HAVE_MPI
mpi::Timeouts timeoutsOf(const QCommandLineParser &parser, const SearchOptions &o)
{
    mpi::Timeouts timeouts;
    timeouts.silenceSeconds = positiveNumber(parser, o.rankTimeout);
    timeouts.jobSeconds = parser.isSet(o.jobTimeout) ? positiveNumber(parser, o.jobTimeout) : 0.0;
    return timeouts;
}

// A scorer rank: its model once per local device, then (candidates, sample) jobs until rank 0 stops it.
int serveJobs(SearchJob &job, const QCommandLineParser &parser, const SearchOptions &o, const Environment &world)
{
    std::optional<EvaluationSetup> setup;
    const std::optional<SimulatedFitnessSpec> simulated = simulatedSpec(parser, o);
    const auto setupScorer = [&]() -> std::variant<mpi::ScorerHello, mpi::SetupFailure> {
        try {
            if (simulated) {
                job.useSimulated(*simulated, modelDir(parser));
                return mpi::ScorerHello{job.devices(), QStringLiteral("none"), job.perReplica()};
            }
            loadScorers(job, parser, setup);
            return mpi::ScorerHello{job.devices(), job.model().dtype(), job.perReplica() * int(job.devices().size())};
        } catch (const UsageError &e) {
            return mpi::SetupFailure{e.message, true};
        } catch (const Error &e) {
            return mpi::SetupFailure{e.message(), false};
        }
    };
    const auto scoreJob = [&](mpi::SampleSet set, const std::vector<Candidate> &candidates, int sample) {
        return job.score(set == mpi::SampleSet::Search ? SampleSetName::Search : SampleSetName::Validation, candidates, sample);
    };
    if (const std::optional<mpi::SetupFailure> failure = mpi::serveJobs(world, timeoutsOf(parser, o), setupScorer, scoreJob)) {
        if (failure->usage)
            throw UsageError{failure->message};
        err() << "ropescope-cli: " << failure->message << "\n";
        return kBadInput;
    }
    return kOk;
}

// Rank 0: waits for the scorer ranks' models and makes them the job's scorers.
void startCoordinator(SearchJob &job, Coordinator &c, const QCommandLineParser &parser, const SearchOptions &o)
{
    c.setTimeouts(timeoutsOf(parser, o));
    c.setOnLost([](const QString &line) {
        err() << "ropescope-cli: " << line << "\n";
        err().flush();
    });
    try {
        c.start();
    } catch (const Coordinator::ScorerSetupError &e) {
        const QString message = QStringLiteral("rank %1 on %2: %3").arg(e.rank).arg(e.host, e.failure.message);
        if (e.failure.usage)
            throw UsageError{message};
        throw Error(QString(), message);
    }
    QString device, dtype;
    err() << "scoring on " << c.scorers().size() << " scorer rank(s) (rank 0 runs the search):\n";
    for (const Coordinator::ScorerRank &w : c.scorers()) {
        if (!w.lost && device.isEmpty()) {
            device = w.hello.devices.value(0);
            dtype = w.hello.dtype;
        }
        err() << "  rank " << w.rank << " on " << w.host << ": "
              << (w.lost ? QStringLiteral("lost (%1)").arg(w.lostReason)
                         : QStringLiteral("%1, %2 candidate(s) per job").arg(w.hello.devices.join(QStringLiteral(", "))).arg(w.hello.capacity))
              << "\n";
    }
    err().flush();
    const int validation = job.validationSamples().samples;
    job.useFitness(c.fitness(mpi::SampleSet::Search, job.searchSamples().samples),
                   validation > 0 ? c.fitness(mpi::SampleSet::Validation, validation) : SampledFitness{}, modelDir(parser),
                   device, dtype);
}
#endif

// The progress lines on stderr: the baselines, then one line per generation.
void addProgress(SearchHooks &hooks, const SearchJob &job, const QElapsedTimer &clock)
{
    const NeedleEvalSettings needle = job.searchSamples();
    const NeedleEvalSettings validation = job.validationSamples();
    const SearchSettings settings = job.engine().settings();
    hooks.onBaselines = [=](const std::vector<BaselineScore> &scores) {
        err() << "baselines (" << fitnessAggregateName(settings.fitness) << " needle PPL; search samples: seeds "
              << needle.seed << "…" << needle.seed + needle.samples - 1;
        if (validation.samples > 0)
            err() << "; validation samples: seeds " << validation.seed << "…" << validation.seed + validation.samples - 1;
        err() << ")\n";
        for (const BaselineScore &b : scores) {
            err() << "  " << b.name.leftJustified(9) << " search " << number(b.searchFitness);
            if (validation.samples > 0)
                err() << "  validation " << number(b.validationFitness);
            err() << "\n";
        }
        err().flush();
    };
    hooks.onGeneration = [=, &clock](const GenerationReport &g) {
        const double seconds = clock.nsecsElapsed() / 1e9;
        err() << "generation " << g.generation << "/" << settings.iterations << "  best PPL " << number(g.searchBestFitness)
              << (validation.samples > 0 ? QStringLiteral(" (validation %1)  chosen %2 (validation %3)")
                                               .arg(number(g.searchBestValidationFitness), number(g.bestFitness),
                                                    number(g.bestValidationFitness))
                                         : QString())
              << "  median " << number(g.medianFitness)
              << (g.bestDRcd >= 0 ? QStringLiteral("  d_rcd %1").arg(g.bestDRcd) : QString()) << "  evaluations "
              << g.evaluations << " (+" << g.cacheHits << " cached)  "
              << (settings.searchAttentionFactor ? QStringLiteral("attention %1  ").arg(number(g.bestAttentionFactor, 4)) : QString())
              << number(g.evaluations / std::max(seconds, 1e-9), 3) << "/s\n";
        err().flush();
    };
}

// The answer on stdout (and in --out); kBadInput when no candidate got a finite needle PPL.
int report(const SearchResult &result, const SearchJob &job, const QCommandLineParser &parser, const SearchOptions &o)
{
    const bool attentionSearched = job.engine().settings().searchAttentionFactor;
    const bool validating = job.validating();
    if (parser.isSet(o.outFile)) {
        QByteArray text = formatFactorText(result.bestLambda);
        if (attentionSearched)
            text += "# attention factor " + QByteArray::number(result.bestAttentionFactor, 'g', 17) + " (eval --attention-factor)\n";
        writeBytesFile(parser.value(o.outFile), text);
    }
    out() << "best needle PPL " << number(result.bestFitness)
          << (validating ? QStringLiteral(" (search samples), %1 (validation samples; chosen by %2)")
                               .arg(number(result.bestValidationFitness),
                                    result.chosenByValidation ? QStringLiteral("validation") : QStringLiteral("search"))
                         : QString())
          << (result.bestDRcd >= 0 ? QStringLiteral("  d_rcd %1").arg(result.bestDRcd) : QString())
          << (attentionSearched ? QStringLiteral("  attention factor %1").arg(number(result.bestAttentionFactor)) : QString())
          << "  (" << stopReasonName(result.stopReason) << ", " << result.evaluations << " evaluations, " << result.cacheHits
          << " from the cache, " << result.generations << " generations)\n";
    for (const QString &bound : result.spaceBounds)
        out() << "on a bound of the search space: " << bound << "\n";
    if (validating || !result.baselines.empty()) {
        out() << "search's own best: needle PPL " << number(result.searchBestFitness) << " (search samples), "
              << number(result.searchBestValidationFitness) << " (validation samples); " << result.validationEvaluations
              << " validation and " << result.baselineEvaluations << " baseline evaluations\n";
        for (const BaselineScore &b : result.baselines)
            out() << "baseline " << b.name << ": " << number(b.searchFitness) << " (search samples)"
                  << (validating ? QStringLiteral(", %1 (validation samples)").arg(number(b.validationFitness)) : QString()) << "\n";
    }
    const int full = result.samples * result.candidates;
    out() << "sample evaluations " << result.sampleEvaluations << " of " << full << " (" << result.candidates << " candidates × "
          << result.samples << " samples); saved " << result.savedEvaluations() << " ("
          << number(full > 0 ? 100.0 * result.savedEvaluations() / full : 0.0, 3) << "%)\n";
    if (parser.isSet(o.outFile))
        out() << "factors written to " << parser.value(o.outFile) << "\n";
    out().flush();
    // A run stopped before any candidate had all its samples has no best yet; one whose fully
    // scored candidates are all NaN or infinite has a broken model or RoPE.
    if (!result.bestLambda.empty() && !std::isfinite(result.bestFitness)) {
        err() << "ropescope-cli: no candidate got a finite needle PPL (best " << number(result.bestFitness)
              << "): the model's weights or the RoPE give NaN or infinite losses\n";
        return kBadInput;
    }
    return kOk;
}

int searchBody(const QStringList &args, Role role)
{
    return run([&] {
        QCommandLineParser parser;
        const SearchOptions o{SearchJobSettings{}};
        o.addTo(parser);
        parseOrThrow(parser, args,
                     QStringLiteral("Search rescale factors with needle-driven perplexity as the fitness. The last line "
                                    "of the run log holds the best factors and their needle PPL."));
        checkOptions(parser, o, role);
        // A plain run loads its model here; the ranks of an MPI run read only the model's
        // config.json (the scorer ranks load the model in their set-up, below).
        const NeedleEvalSettings needle = evaluationSettings(parser);
        std::optional<EvaluationSetup> local;
        RopeConfig config;
        const std::optional<SimulatedFitnessSpec> simulated = simulatedSpec(parser, o);
        if (role.coordinator || role.scorer || simulated) {
            modelOptions(parser);  // --device and --dtype checked here too
            config = loadRopeConfig(ModelFolder(QDir::cleanPath(modelDir(parser))).file(QStringLiteral("config.json")));
            if (!role.scorer)
                printWarnings(config);
        } else {
            local.emplace(loadEvaluationSetup(parser));
            config = local->model->ropeConfig();
        }
        if (needle.length < config.trainLength)
            throw UsageError{QStringLiteral("--length %1 is below the model's L_train %2: a search extends the context")
                                 .arg(needle.length).arg(config.trainLength)};
        SearchJob job(jobSettings(parser, o, config, needle), config);
        if (role.scorer) {
#ifdef ROPESCOPE_HAVE_MPI
            return serveJobs(job, parser, o, *role.scorer);
#endif
        } else if (role.coordinator) {
#ifdef ROPESCOPE_HAVE_MPI
            startCoordinator(job, *role.coordinator, parser, o);
#endif
        } else if (simulated) {
            job.useSimulated(*simulated, modelDir(parser));
            err() << "scoring on the simulated fitness: " << number(simulated->seconds, 3) << " s per evaluation\n";
            err().flush();
        } else {
            loadScorers(job, parser, local);
            err() << "scoring on " << job.devices().join(QStringLiteral(", ")) << ", " << job.perReplica()
                  << " candidate(s) per forward and replica\n";
        }
        SearchHooks hooks = job.hooks();
#ifdef ROPESCOPE_HAVE_MPI
        if (role.coordinator)
            hooks.logEvents = [&](bool atGeneration) { return role.coordinator->takeLogEvents(atGeneration); };
#endif
        QElapsedTimer clock;
        clock.start();
        addProgress(hooks, job, clock);
        return report(job.run(hooks), job, parser, o);
    }, QStringLiteral("a shorter --length, fewer --samples or --validation-samples, a smaller --candidate-batch or --dtype need less"));
}

} // namespace

int search(const QStringList &args)
{
#ifdef ROPESCOPE_HAVE_MPI
    // Under an MPI launcher with more than one rank: one search, rank 0 coordinating.
    if (mpi::launchedByMpi() && mpi::launchedWorldSize() > 1) {
        Environment world;
        int code = kOk;
        if (world.rank() != 0) {
            code = searchBody(args, Role{nullptr, &world});
        } else if (world.size() > 1) {
            Coordinator coordinator(world);  // stops the scorer ranks however the search ends
            code = searchBody(args, Role{&coordinator, nullptr});
        } else {
            code = searchBody(args, Role{});
        }
        world.setExitCode(code);
        return code;
    }
#else
    // Every rank would run its own search on the same log (the lock refuses all but one).
    if (qEnvironmentVariableIntValue("OMPI_COMM_WORLD_SIZE") > 1 || qEnvironmentVariableIntValue("PMI_SIZE") > 1) {
        err() << "ropescope-cli: this ropescope-cli was built without MPI (ROPESCOPE_MPI=OFF): run search with one "
                 "rank, or rebuild with libopenmpi-dev installed\n";
        return kUsage;
    }
#endif
    return searchBody(args, Role{});
}

} // namespace rs::cli
