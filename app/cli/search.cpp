// ropescope-cli search: LongRoPE2 (or LongRoPE) evolutionary search of the rescale factors with
// needle PPL as the fitness, logged to (and resumable from) a JSONL run log. Held-out validation
// samples pick the answer; the families are scored on both sample sets first and seed generation 0.
#include "commands.h"
#include "options.h"

#include "common/savefile.h"
#include "eval/candidatescorer.h"
#include "rope/configexport.h"
#include "rope/factorfile.h"
#include "rope/ropeconfig.h"
#include "rope/ropegeometry.h"
#include "runtime/embeddedmodel.h"
#include "runtime/model.h"
#include "search/runlogstart.h"
#include "search/search.h"
#include "worker/messages.h"
#include "worker/searchfitness.h"
#ifdef ROPESCOPE_HAVE_MPI
#include "distributed/mpisearch.h"
#include "runtime/modelfolder.h"
#endif

#include <QElapsedTimer>
#include <QDir>
#include <QFileInfo>
#include <QJsonObject>

#include <algorithm>
#include <cmath>
#include <optional>
#include <variant>

namespace rs::cli {

namespace {

// How --fitness spells the aggregates: the recommended one first (search.h).
QString optionName(FitnessAggregate a) { return fitnessAggregateName(a).replace(QLatin1Char('_'), QLatin1Char('-')); }
const QString kDefaultFitnessName = optionName(kRecommendedFitness);
const QString kOtherFitnessNames[] = {
    optionName(kRecommendedFitness == FitnessAggregate::MeanPpl ? FitnessAggregate::ExpMeanNll : FitnessAggregate::MeanPpl),
    optionName(FitnessAggregate::MedianPpl)};

#ifdef ROPESCOPE_HAVE_MPI
using mpi::Coordinator;
using mpi::Session;
#else
class Coordinator;
class Session;
#endif

// Where this process stands: a plain run (both null), rank 0 of an MPI run (coordinator), or one
// of its workers (worker).
struct Role {
    Coordinator *coordinator = nullptr;
    const Session *worker = nullptr;
};

int searchBody(const QStringList &args, Role role)
{
    return run([&] {
        QCommandLineParser parser;
        const QCommandLineOption method(QStringLiteral("method"),
                                        QStringLiteral("longrope2 (d_rcd searched, NTK-left below; default) or "
                                                       "longrope (v1: every dimension searched)."),
                                        QStringLiteral("NAME"), QStringLiteral("longrope2"));
        const QCommandLineOption population(QStringLiteral("population"), QStringLiteral("Population (default 64)."),
                                            QStringLiteral("P"), QStringLiteral("64"));
        const QCommandLineOption iterations(QStringLiteral("iterations"),
                                            QStringLiteral("Generations after the first (default 40)."),
                                            QStringLiteral("N"), QStringLiteral("40"));
        const QCommandLineOption maxEvaluations(QStringLiteral("max-evaluations"),
                                                QStringLiteral("Stop after this many sample evaluations (one "
                                                               "candidate on one sample; default: no limit)."),
                                                QStringLiteral("N"), QStringLiteral("0"));
        const QCommandLineOption log(QStringLiteral("log"), QStringLiteral("Run log (JSON Lines) to write or resume."),
                                     QStringLiteral("RUN.jsonl"));
        const QCommandLineOption resume(QStringLiteral("resume"),
                                        QStringLiteral("Continue the run in --log: logged evaluations are not repeated."));
        const QCommandLineOption outFile({QStringLiteral("o"), QStringLiteral("out")},
                                         QStringLiteral("Write the best factors to this LongRoPE factor file (with "
                                                        "--search-attention-factor, the factor follows as a comment)."),
                                         QStringLiteral("FACTORS_FILE"));
        const QCommandLineOption racing(QStringLiteral("racing"),
                                        QStringLiteral("Race each generation over the samples (successive halving): "
                                                       "only the better part of the candidates goes on to the next "
                                                       "sample, so fewer sample evaluations are needed."));
        const QCommandLineOption racingKeep(QStringLiteral("racing-keep"),
                                            QStringLiteral("With --racing: fraction kept after each sample (default 0.5)."),
                                            QStringLiteral("F"), QStringLiteral("0.5"));
        const QCommandLineOption searchAttention(QStringLiteral("search-attention-factor"),
                                                 QStringLiteral("Search the attention factor (cos and sin multiplied by "
                                                                "it) too, instead of longrope's sqrt(1 + ln s / ln L_train)."));
        const QCommandLineOption attentionMin(QStringLiteral("attention-min"),
                                              QStringLiteral("Lower bound of the searched attention factor (default 1)."),
                                              QStringLiteral("A"), QStringLiteral("1"));
        const QCommandLineOption attentionMax(QStringLiteral("attention-max"),
                                              QStringLiteral("Upper bound of the searched attention factor (default 1.5)."),
                                              QStringLiteral("A"), QStringLiteral("1.5"));
        const QCommandLineOption replicaDevices(QStringLiteral("devices"),
                                                QStringLiteral("Comma-separated devices, one model replica each, over "
                                                               "which every generation's candidates are spread (default: "
                                                               "with --device cuda every visible GPU, else --device)."),
                                                QStringLiteral("LIST"));
        const QCommandLineOption candidateBatch(QStringLiteral("candidate-batch"),
                                                QStringLiteral("Candidates per batched forward on each replica, each "
                                                               "row with its own factors (default 8 on a GPU, 1 on the CPU)."),
                                                QStringLiteral("N"));
        const QCommandLineOption validationSamples(QStringLiteral("validation-samples"),
                                                   QStringLiteral("Held-out needle samples that pick the answer "
                                                                  "(default: twice --samples; 0: none, the answer is "
                                                                  "the best on the search's own samples)."),
                                                   QStringLiteral("N"));
        const QCommandLineOption validationSeed(QStringLiteral("validation-seed"),
                                                QStringLiteral("Seed of the validation samples (default: --seed plus "
                                                               "--samples, the seeds right after the search's)."),
                                                QStringLiteral("S"));
        const QCommandLineOption validationTop(QStringLiteral("validation-top"),
                                               QStringLiteral("Best distinct candidates of each generation scored on "
                                                              "the validation samples (default 3)."),
                                               QStringLiteral("N"), QStringLiteral("3"));
        const QCommandLineOption chooseBy(QStringLiteral("choose-by"),
                                          QStringLiteral("validation (default: the validated candidate with the "
                                                         "best validation fitness) or search (the best on the "
                                                         "search's samples)."),
                                          QStringLiteral("SET"), QStringLiteral("validation"));
        const QCommandLineOption fitnessOption(QStringLiteral("fitness"),
                                               QStringLiteral("How per-sample needle PPLs combine: %1 (default), %2 "
                                                              "or %3.")
                                                   .arg(kDefaultFitnessName, kOtherFitnessNames[0], kOtherFitnessNames[1]),
                                               QStringLiteral("NAME"), kDefaultFitnessName);
        const QCommandLineOption noSeeds(QStringLiteral("no-family-seeds"),
                                         QStringLiteral("Start from random members only, not from the families "
                                                        "projected into the search space."));
        const QCommandLineOption fixDrcd(QStringLiteral("fix-d-rcd"),
                                         QStringLiteral("LongRoPE2: hold d_rcd at N instead of searching it (tcd: the "
                                                        "theoretical d_tcd, the paper's ablation; d10 likewise)."),
                                         QStringLiteral("N|tcd|d10"));
        const QCommandLineOption rankTimeout(QStringLiteral("rank-timeout"),
                                             QStringLiteral("Under MPI: a worker rank silent (no heartbeat, no result) "
                                                            "this many seconds is lost and its jobs go to the others "
                                                            "(default 120)."),
                                             QStringLiteral("S"), QStringLiteral("120"));
        const QCommandLineOption jobTimeout(QStringLiteral("job-timeout"),
                                            QStringLiteral("Under MPI: a job (a few candidates on one sample) running "
                                                           "longer than this many seconds loses its rank (default: no limit)."),
                                            QStringLiteral("S"));
        addEvaluationOptions(parser);
        parser.addOptions({rankTimeout, jobTimeout});
        parser.addOptions({method, population, iterations, maxEvaluations, log, resume, outFile, racing, racingKeep,
                           searchAttention, attentionMin, attentionMax, replicaDevices, candidateBatch,
                           validationSamples, validationSeed, validationTop, chooseBy, fitnessOption, noSeeds, fixDrcd});
        parseOrThrow(parser, args,
                     QStringLiteral("Search rescale factors with needle-driven perplexity as the fitness. The last line "
                                    "of the run log holds the best factors and their needle PPL."));
        if (!parser.isSet(log))
            throw UsageError{QStringLiteral("--log RUN.jsonl is required")};
        const QString methodName = parser.value(method);
        if (methodName != QLatin1String("longrope2") && methodName != QLatin1String("longrope"))
            throw UsageError{QStringLiteral("--method needs longrope2 or longrope")};

        // Command-line mistakes and an unwritable --out are reported before the model loads, not
        // after the search.
        const double keepFraction = positiveNumber(parser, racingKeep);
        if (keepFraction > 1)
            throw UsageError{QStringLiteral("--racing-keep needs a fraction in (0, 1], got '%1'").arg(parser.value(racingKeep))};
        const double attentionLow = positiveNumber(parser, attentionMin);
        const double attentionHigh = positiveNumber(parser, attentionMax);
        if (attentionHigh < attentionLow)
            throw UsageError{QStringLiteral("--attention-max (%1) is below --attention-min (%2)")
                                 .arg(parser.value(attentionMax), parser.value(attentionMin))};
        if (parser.isSet(replicaDevices))
            for (const QString &d : parser.value(replicaDevices).split(QLatin1Char(','), Qt::SkipEmptyParts))
                checkedDevice(d);
        if (parser.isSet(outFile) && !role.worker)
            checkOutputPath(parser.value(outFile));
        const double silenceSeconds = positiveNumber(parser, rankTimeout);
        const double jobSeconds = parser.isSet(jobTimeout) ? positiveNumber(parser, jobTimeout) : 0.0;
        // A log names a model and a corpus, and may come from anyone: resuming loads only the model
        // the user names, which must be the log's, checked before any model is looked at.
        std::optional<RunLogStart> resumed;
        if (parser.isSet(resume) && !role.worker) {
            resumed = readRunLogStart(parser.value(log));
            const bool named = parser.isSet(kModelOption);
            const QString chosen = named ? parser.value(kModelOption) : embeddedModelDir();
            if (!resumed->model.isEmpty() && !samePath(resumed->model, chosen))
                throw UsageError{QStringLiteral("%1 is the log of a search of the model in %2, and resuming it loads only "
                                                "the model you name: give --model %2 (%3)")
                                     .arg(parser.value(log), resumed->model,
                                          named ? QStringLiteral("got --model %1").arg(chosen)
                                                : QStringLiteral("without --model it would be the embedded model"))};
            if (!samePath(resumed->corpus, parser.value(kCorpusOption)))
                throw UsageError{QStringLiteral("%1 is the log of a search on the corpus %2: give --corpus %2 to resume it (got %3)")
                                     .arg(parser.value(log),
                                          resumed->corpus.isEmpty() ? QStringLiteral("\"\" (built-in prose)") : resumed->corpus,
                                          parser.isSet(kCorpusOption) ? QStringLiteral("--corpus %1").arg(parser.value(kCorpusOption))
                                                                      : QStringLiteral("none"))};
        }

        // A plain run loads its model here; rank 0 of an MPI run reads only the model's config.json
        // (the workers load the model, in their set-up below).
        const NeedleEvalSettings needle = evaluationSettings(parser);
        std::optional<EvaluationSetup> local;
        RopeConfig config;
        if (role.coordinator || role.worker) {
#ifdef ROPESCOPE_HAVE_MPI
            modelOptions(parser);  // --device and --dtype checked here too
            config = loadRopeConfig(ModelFolder(QDir::cleanPath(modelDir(parser))).file(QStringLiteral("config.json")));
            if (role.coordinator)
                printWarnings(config);
#endif
        } else {
            local.emplace(loadEvaluationSetup(parser));
            config = local->model->ropeConfig();
        }
        if (needle.length < config.trainLength)
            throw UsageError{QStringLiteral("--length %1 is below the model's L_train %2: a search extends the context")
                                 .arg(needle.length).arg(config.trainLength)};
        SearchSettings settings;
        settings.method = methodName == QLatin1String("longrope2") ? SearchMethod::LongRoPE2 : SearchMethod::LongRoPEv1;
        settings.rotaryDims = config.rotaryDims;
        settings.base = config.base;
        settings.trainLength = config.trainLength;
        settings.targetLength = needle.length;
        settings.population = wholeNumber(parser, population, 2);
        settings.iterations = wholeNumber(parser, iterations, 0);
        settings.maxEvaluations = wholeNumber(parser, maxEvaluations, 0);
        settings.seed = needle.seed;
        settings.racing = parser.isSet(racing);
        settings.racingKeepFraction = keepFraction;
        settings.searchAttentionFactor = parser.isSet(searchAttention);
        settings.attentionFactorMin = attentionLow;
        settings.attentionFactorMax = attentionHigh;
        if ((parser.isSet(racingKeep) && !settings.racing)
            || ((parser.isSet(attentionMin) || parser.isSet(attentionMax)) && !settings.searchAttentionFactor))
            throw UsageError{QStringLiteral("--racing-keep needs --racing; --attention-min/max need --search-attention-factor")};
        const std::optional<FitnessAggregate> aggregate = fitnessAggregateFromName(parser.value(fitnessOption));
        if (!aggregate)
            throw UsageError{QStringLiteral("--fitness needs mean-ppl, exp-mean-nll or median-ppl")};
        settings.fitness = *aggregate;
        settings.seedFamilies = !parser.isSet(noSeeds);
        if (parser.isSet(fixDrcd)) {
            if (settings.method != SearchMethod::LongRoPE2)
                throw UsageError{QStringLiteral("--fix-d-rcd needs --method longrope2")};
            const QString value = parser.value(fixDrcd).toLower();
            const int pairs = config.rotaryDims / 2;
            bool ok = true;
            const int dRcd = value == QLatin1String("tcd")   ? theoreticalCriticalDimension(config.rotaryDims, config.base, config.trainLength)
                             : value == QLatin1String("d10") ? tenPeriodDimension(config.rotaryDims, config.base, config.trainLength)
                                                             : value.toInt(&ok);
            if (!ok || dRcd < 0 || dRcd >= pairs)
                throw UsageError{QStringLiteral("--fix-d-rcd needs tcd, d10 or a whole number from 0 to %1, got '%2'")
                                     .arg(pairs - 1).arg(parser.value(fixDrcd))};
            settings.dRcdMin = settings.dRcdMax = dRcd;
        }
        settings.validationTop = wholeNumber(parser, validationTop, 1);
        const QString chooseName = parser.value(chooseBy);
        if (chooseName != QLatin1String("validation") && chooseName != QLatin1String("search"))
            throw UsageError{QStringLiteral("--choose-by needs validation or search")};
        settings.chooseByValidation = chooseName == QLatin1String("validation");
        // The held-out samples: the search's length, depth and haystack, their own seeds.
        NeedleEvalSettings validation = needle;
        validation.samples = parser.isSet(validationSamples) ? wholeNumber(parser, validationSamples, 0) : 2 * needle.samples;
        validation.seed = parser.isSet(validationSeed) ? uint64_t(wholeNumber(parser, validationSeed, 0))
                                                       : needle.seed + uint64_t(needle.samples);
        if ((parser.isSet(validationSeed) || parser.isSet(chooseBy)) && validation.samples == 0)
            throw UsageError{QStringLiteral("--validation-seed and --choose-by need validation samples")};
        if (samplesOverlap(needle, validation))
            throw UsageError{QStringLiteral("the validation samples (seeds %1 … %2) overlap the search's (seeds %3 … %4): "
                                            "choose another --validation-seed")
                                 .arg(validation.seed).arg(validation.seed + validation.samples - 1)
                                 .arg(needle.seed).arg(needle.seed + needle.samples - 1)};
        // Unless searched, candidates are scored as an exported longrope config would run them: with
        // longrope's default attention factor for this scale (the search's default).
        EvolutionSearch engine(settings);
        const double attention = engine.fixedAttentionFactor();

        const int perReplicaOption = parser.isSet(candidateBatch) ? wholeNumber(parser, candidateBatch, 1) : 0;
        const QStringList devicesOption = parser.value(replicaDevices).split(QLatin1Char(','), Qt::SkipEmptyParts);
        if (parser.isSet(replicaDevices) && devicesOption.isEmpty())
            throw UsageError{QStringLiteral("--devices needs at least one device")};
        // The replicas of one process: the model on the first device, one more per further device.
        std::unique_ptr<CausalLM> model;
        ModelTokenizer tokenizer;
        std::optional<CandidateScorer> scorer, validationScorer;
        int perReplica = 1;
        auto loadScorers = [&](EvaluationSetup setup) {
            QStringList devices = parser.isSet(replicaDevices) ? devicesOption
                                                               : CandidateScorer::defaultDevices(setup.model->device());
            if (devices.front() != setup.model->device()) {
                ModelOptions first;
                first.device = devices.front();
                first.dtype = setup.model->dtype();
                setup.model.reset();  // one copy of the weights at a time
                setup.model = CausalLM::load(setup.modelDir, first);
            }
            devices.removeFirst();
            model = std::move(setup.model);
            tokenizer = std::move(setup.tokenizer);
            needleSamples([&] {
                scorer.emplace(*model, *tokenizer.tokenizer, tokenizer.bosId, needle, setup.modelDir, devices);
                return 0;
            });
            perReplica = perReplicaOption > 0 ? perReplicaOption : CandidateScorer::defaultBatch(*model);
            // Validation candidates are few per generation: one replica scores them.
            if (validation.samples > 0)
                withMemoryAdvice(QStringLiteral("the samples of --validation-samples %1; fewer need less").arg(validation.samples), [&] {
                    validationScorer.emplace(*model, *tokenizer.tokenizer, tokenizer.bosId, validation);
                    return 0;
                });
        };
#ifdef ROPESCOPE_HAVE_MPI
        mpi::Timeouts timeouts;
        timeouts.silenceSeconds = silenceSeconds;
        timeouts.jobSeconds = jobSeconds;
        if (role.worker) {
            // A worker rank: its model once per local device, then (candidates, sample) jobs until rank 0 stops it.
            const auto setupWorker = [&]() -> std::variant<mpi::WorkerHello, mpi::SetupFailure> {
                try {
                    loadScorers(loadEvaluationSetup(parser));
                    return mpi::WorkerHello{scorer->devices(), model->dtype(), perReplica * scorer->replicas()};
                } catch (const UsageError &e) {
                    return mpi::SetupFailure{e.message, true};
                } catch (const Error &e) {
                    return mpi::SetupFailure{e.message(), false};
                }
            };
            const auto scoreJob = [&](mpi::SampleSet set, const std::vector<Candidate> &candidates, int sample) {
                if (set == mpi::SampleSet::Search)
                    return scorer->samplePpl(candidates, sample);
                if (!validationScorer)
                    throw Error(QStringLiteral("mpi"), QStringLiteral("a validation job, but this run has no validation samples"));
                std::vector<double> out;
                for (size_t i = 0; i < candidates.size(); i += size_t(perReplica)) {
                    const std::vector<Candidate> part(candidates.begin() + long(i),
                                                      candidates.begin() + long(std::min(candidates.size(), i + size_t(perReplica))));
                    const std::vector<double> got = validationScorer->samplePpl(part, sample);
                    out.insert(out.end(), got.begin(), got.end());
                }
                return out;
            };
            if (const std::optional<mpi::SetupFailure> failure = mpi::serveJobs(*role.worker, timeouts, setupWorker, scoreJob)) {
                if (failure->usage)
                    throw UsageError{failure->message};
                err() << "ropescope-cli: " << failure->message << "\n";
                return kBadInput;
            }
            return kOk;
        }
#else
        Q_UNUSED(silenceSeconds);
        Q_UNUSED(jobSeconds);
#endif
        SampledFitness searchFitnessOfRun;
        SampledFitness validationFitness;
        validationFitness.samples = 0;
        QString device, dtype;
        if (role.coordinator) {
#ifdef ROPESCOPE_HAVE_MPI
            Coordinator &c = *role.coordinator;
            c.setTimeouts(timeouts);
            c.setOnLost([](const QString &line) {
                err() << "ropescope-cli: " << line << "\n";
                err().flush();
            });
            try {
                c.start();
            } catch (const Coordinator::WorkerSetupError &e) {
                const QString message = QStringLiteral("rank %1 on %2: %3").arg(e.rank).arg(e.host, e.failure.message);
                if (e.failure.usage)
                    throw UsageError{message};
                throw Error(QString(), message);
            }
            err() << "scoring on " << c.workers().size() << " worker rank(s) (rank 0 runs the search):\n";
            for (const Coordinator::Worker &w : c.workers()) {
                if (!w.lost && device.isEmpty()) {
                    device = w.hello.devices.value(0);
                    dtype = w.hello.dtype;
                }
                err() << "  rank " << w.rank << " on " << w.host << ": "
                      << (w.lost ? QStringLiteral("lost (%1)").arg(w.lostReason)
                                 : QStringLiteral("%1, %2 candidate(s) per job").arg(w.hello.devices.join(QStringLiteral(", ")))
                                       .arg(w.hello.capacity))
                      << "\n";
            }
            err().flush();
            searchFitnessOfRun = c.fitness(mpi::SampleSet::Search, needle.samples);
            if (validation.samples > 0)
                validationFitness = c.fitness(mpi::SampleSet::Validation, validation.samples);
#endif
        } else {
            loadScorers(std::move(*local));
            err() << "scoring on " << scorer->devices().join(QStringLiteral(", ")) << ", " << perReplica
                  << " candidate(s) per forward and replica\n";
            device = model->device();
            dtype = model->dtype();
            searchFitnessOfRun = searchFitness(*scorer, perReplica);
            if (validationScorer)
                validationFitness = searchFitness(*validationScorer, perReplica);
        }
        const QString modelFolder = modelDir(parser);
        SearchHooks hooks;
        hooks.logPath = parser.value(log);
        hooks.resume = parser.isSet(resume);
        hooks.baselines = searchBaselines(config, needle.length);
#ifdef ROPESCOPE_HAVE_MPI
        if (role.coordinator)
            hooks.logEvents = [&](bool atGeneration) { return role.coordinator->takeLogEvents(atGeneration); };
#endif
        hooks.onBaselines = [&](const std::vector<BaselineScore> &scores) {
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
        // A resumed run keeps the log's spelling of the same model and corpus (a symlink, a relative path).
        hooks.context = QJsonObject{{QStringLiteral("model"), resumed && !resumed->model.isEmpty()
                                                                  ? resumed->model
                                                                  : QFileInfo(modelFolder).absoluteFilePath()},
                                    {QStringLiteral("corpus"), resumed ? resumed->corpus : needle.corpus},
                                    {QStringLiteral("samples"), needle.samples},
                                    {QStringLiteral("depth"), needle.depth},
                                    {QStringLiteral("length"), needle.length},
                                    {QStringLiteral("device"), device},
                                    {QStringLiteral("dtype"), dtype}};
        if (!settings.searchAttentionFactor)
            hooks.context.insert(QStringLiteral("attention_factor"), attention);
        if (validation.samples > 0)
            hooks.context.insert(QStringLiteral("validation"), QJsonObject{{QStringLiteral("samples"), validation.samples},
                                                                           {QStringLiteral("seed"), QString::number(validation.seed)}});
        QElapsedTimer clock;
        clock.start();
        hooks.onGeneration = [&](const GenerationReport &g) {
            const double seconds = clock.nsecsElapsed() / 1e9;
            err() << "generation " << g.generation << "/" << settings.iterations << "  best PPL "
                  << number(g.searchBestFitness)
                  << (validation.samples > 0 ? QStringLiteral(" (validation %1)  chosen %2 (validation %3)")
                                                   .arg(number(g.searchBestValidationFitness), number(g.bestFitness),
                                                        number(g.bestValidationFitness))
                                             : QString())
                  << "  median " << number(g.medianFitness)
                  << (g.bestDRcd >= 0 ? QStringLiteral("  d_rcd %1").arg(g.bestDRcd) : QString()) << "  evaluations "
                  << g.evaluations << " (+" << g.cacheHits << " cached)  "
                  << (settings.searchAttentionFactor ? QStringLiteral("attention %1  ").arg(number(g.bestAttentionFactor, 4))
                                                     : QString())
                  << number(g.evaluations / std::max(seconds, 1e-9), 3) << "/s\n";
            err().flush();
        };
        // One sample's needle PPL; a candidate's fitness is the mean over the samples, which is
        // NeedleEvaluator::evaluate's mean PPL.
        const SearchResult result = engine.run(searchFitnessOfRun, validationFitness, hooks);
        if (parser.isSet(outFile)) {
            QByteArray text = formatFactorText(result.bestLambda);
            if (settings.searchAttentionFactor)
                text += "# attention factor " + QByteArray::number(result.bestAttentionFactor, 'g', 17)
                        + " (eval --attention-factor)\n";
            writeBytesFile(parser.value(outFile), text);
        }
        out() << "best needle PPL " << number(result.bestFitness)
              << (validation.samples > 0 ? QStringLiteral(" (search samples), %1 (validation samples; chosen by %2)")
                                               .arg(number(result.bestValidationFitness),
                                                    result.chosenByValidation ? QStringLiteral("validation") : QStringLiteral("search"))
                                         : QString())
              << (result.bestDRcd >= 0 ? QStringLiteral("  d_rcd %1").arg(result.bestDRcd) : QString())
              << (settings.searchAttentionFactor ? QStringLiteral("  attention factor %1").arg(number(result.bestAttentionFactor))
                                                 : QString())
              << "  (" << stopReasonName(result.stopReason) << ", " << result.evaluations << " evaluations, "
              << result.cacheHits << " from the cache, " << result.generations << " generations)\n";
        if (validation.samples > 0 || !result.baselines.empty()) {
            out() << "search's own best: needle PPL " << number(result.searchBestFitness) << " (search samples), "
                  << number(result.searchBestValidationFitness) << " (validation samples); "
                  << result.validationEvaluations << " validation and " << result.baselineEvaluations
                  << " baseline evaluations\n";
            for (const BaselineScore &b : result.baselines)
                out() << "baseline " << b.name << ": " << number(b.searchFitness) << " (search samples)"
                      << (validation.samples > 0 ? QStringLiteral(", %1 (validation samples)").arg(number(b.validationFitness))
                                                 : QString())
                      << "\n";
        }
        const int full = result.samples * result.candidates;
        out() << "sample evaluations " << result.sampleEvaluations << " of " << full << " (" << result.candidates
              << " candidates × " << result.samples << " samples); saved " << result.savedEvaluations() << " ("
              << number(full > 0 ? 100.0 * result.savedEvaluations() / full : 0.0, 3) << "%)\n";
        if (parser.isSet(outFile))
            out() << "factors written to " << parser.value(outFile) << "\n";
        out().flush();
        // A run stopped before any candidate had all its samples has no best yet; one whose fully
        // scored candidates are all NaN or infinite has a broken model or RoPE.
        if (!result.bestLambda.empty() && !std::isfinite(result.bestFitness)) {
            err() << "ropescope-cli: no candidate got a finite needle PPL (best " << number(result.bestFitness)
                  << "): the model's weights or the RoPE give NaN or infinite losses\n";
            return kBadInput;
        }
        return kOk;
    }, QStringLiteral("a shorter --length, fewer --samples or --validation-samples, a smaller --candidate-batch or --dtype need less"));
}

} // namespace

int search(const QStringList &args)
{
#ifdef ROPESCOPE_HAVE_MPI
    // Under an MPI launcher with more than one rank: one search, rank 0 coordinating.
    if (mpi::launchedByMpi() && mpi::launchedWorldSize() > 1) {
        Session session;
        int code = kOk;
        if (session.rank() != 0) {
            code = searchBody(args, Role{nullptr, &session});
        } else if (session.size() > 1) {
            Coordinator coordinator(session);  // stops the workers however the search ends
            code = searchBody(args, Role{&coordinator, nullptr});
        } else {
            code = searchBody(args, Role{});
        }
        session.setExitCode(code);
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
