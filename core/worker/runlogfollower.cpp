#include "worker/runlogfollower.h"

#include "common/error.h"
#include "rope/factorfamilies.h"

#include <QFile>
#include <QFileInfo>
#include <QFileSystemWatcher>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>
#include <QTimer>

#include <algorithm>
#include <limits>

namespace rs {

namespace {

double fitnessOf(const QJsonValue &v)
{
    // The log writes a non-finite fitness as null.
    return v.isDouble() ? v.toDouble() : std::numeric_limits<double>::infinity();
}

// A validation figure: null (non-finite) or absent (no validation) are both "not known" here.
double nanUnlessNumber(const QJsonValue &v) { return v.isDouble() ? v.toDouble() : std::numeric_limits<double>::quiet_NaN(); }

std::vector<double> doublesOf(const QJsonValue &v)
{
    std::vector<double> out;
    for (const QJsonValue &x : v.toArray())
        out.push_back(x.toDouble());
    return out;
}

std::vector<int> intsOf(const QJsonValue &v)
{
    std::vector<int> out;
    for (const QJsonValue &x : v.toArray())
        out.push_back(x.toInt(-1));
    return out;
}

StopReason stopReasonOf(const QString &name)
{
    if (name == stopReasonName(StopReason::Budget))
        return StopReason::Budget;
    if (name == stopReasonName(StopReason::Cancelled))
        return StopReason::Cancelled;
    return StopReason::Done;
}

SearchPlan planOf(const QJsonObject &event, const QString &path)
{
    const QJsonObject s = event.value(QStringLiteral("settings")).toObject();
    const QJsonObject context = s.value(QStringLiteral("context")).toObject();
    SearchPlan plan;
    SearchSettings &settings = plan.settings;
    settings.method = s.value(QStringLiteral("method")).toString() == QLatin1String("longrope") ? SearchMethod::LongRoPEv1
                                                                                                 : SearchMethod::LongRoPE2;
    settings.rotaryDims = s.value(QStringLiteral("rotary_dims")).toInt();
    settings.base = s.value(QStringLiteral("base")).toDouble();
    settings.trainLength = s.value(QStringLiteral("train_length")).toDouble();
    settings.targetLength = s.value(QStringLiteral("target_length")).toDouble();
    settings.population = s.value(QStringLiteral("population")).toInt();
    settings.iterations = s.value(QStringLiteral("iterations")).toInt();
    settings.parents = s.value(QStringLiteral("parents")).toInt();
    settings.mutations = s.value(QStringLiteral("mutations")).toInt();
    settings.crossovers = s.value(QStringLiteral("crossovers")).toInt();
    settings.mutationProbability = s.value(QStringLiteral("mutation_probability")).toDouble();
    settings.dRcdMutationProbability = s.value(QStringLiteral("d_rcd_mutation_probability")).toDouble();
    settings.lowerBoundFactor = s.value(QStringLiteral("lower_bound_factor")).toDouble();
    settings.upperBoundFactor = s.value(QStringLiteral("upper_bound_factor")).toDouble();
    settings.dRcdMin = s.value(QStringLiteral("d_rcd_min")).toInt();
    settings.dRcdMax = s.value(QStringLiteral("d_rcd_max")).toInt();
    settings.grid = s.value(QStringLiteral("grid")).toDouble();
    settings.seed = s.value(QStringLiteral("seed")).toString().toULongLong();
    settings.maxEvaluations = event.value(QStringLiteral("max_evaluations")).toInt();
    settings.maxSeconds = event.value(QStringLiteral("max_seconds")).toDouble();
    settings.racing = s.value(QStringLiteral("racing")).toBool();
    settings.racingKeepFraction = s.value(QStringLiteral("racing_keep_fraction")).toDouble(settings.racingKeepFraction);
    settings.searchAttentionFactor = s.value(QStringLiteral("search_attention_factor")).toBool();
    settings.attentionFactorMin = s.value(QStringLiteral("attention_factor_min")).toDouble(settings.attentionFactorMin);
    settings.attentionFactorMax = s.value(QStringLiteral("attention_factor_max")).toDouble(settings.attentionFactorMax);
    // Written only when they differ from what logs before them meant (the mean, no seeding).
    settings.fitness = fitnessAggregateFromName(s.value(QStringLiteral("fitness")).toString()).value_or(FitnessAggregate::MeanPpl);
    settings.seedFamilies = s.value(QStringLiteral("seed_families")).toBool(false);
    settings.validationTop = s.value(QStringLiteral("validation_top")).toInt(settings.validationTop);
    settings.chooseByValidation = s.value(QStringLiteral("choose_by")).toString() != QLatin1String("search");
    // A sampled search writes its K; a whole-fitness one scores each candidate once.
    plan.samples = std::max(1, s.value(QStringLiteral("samples")).toInt(1));
    // The log holds the settings with their defaults resolved, so the plan follows directly.
    const long long candidates = settings.population + (long long)(settings.iterations) * std::max(0, settings.mutations + settings.crossovers);
    const long long full = candidates * plan.samples;
    const long long capped = settings.maxEvaluations > 0 ? std::min<long long>(full, settings.maxEvaluations) : full;
    plan.expectedEvaluations = int(std::min<long long>(capped, std::numeric_limits<int>::max()));
    plan.targetLength = context.value(QStringLiteral("length")).toInt(int(settings.targetLength));
    // Written explicitly, or in the context, or the longrope default the search resolves 0 to.
    const double defaultAttention = longropeAttentionFactor(settings.scale(), settings.trainLength);
    plan.attentionFactor = s.value(QStringLiteral("attention_factor"))
                               .toDouble(context.value(QStringLiteral("attention_factor")).toDouble(defaultAttention));
    settings.attentionFactor = plan.attentionFactor;
    plan.logPath = path;
    plan.resumed = event.value(QStringLiteral("event")).toString() == QLatin1String("resume");
    // The samples, as the context records them (the CLI and the GUI seed samples and search alike).
    plan.model = context.value(QStringLiteral("model")).toString();
    plan.searchSamples.length = plan.targetLength;
    plan.searchSamples.samples = context.value(QStringLiteral("samples")).toInt(plan.samples);
    plan.searchSamples.depth = context.value(QStringLiteral("depth")).toDouble(0.0);
    plan.searchSamples.seed = settings.seed;
    plan.searchSamples.corpus = context.value(QStringLiteral("corpus")).toString();
    const QJsonObject validation = context.value(QStringLiteral("validation")).toObject();
    const int validationSamples = s.value(QStringLiteral("validation_samples")).toInt(0);
    if (validationSamples > 0) {
        plan.validationSamples = plan.searchSamples;
        plan.validationSamples.samples = validationSamples;
        plan.validationSamples.seed = validation.value(QStringLiteral("seed")).toString().toULongLong();
    }
    return plan;
}

} // namespace

RunLogFollower::RunLogFollower(QObject *parent)
    : QObject(parent), m_watcher(new QFileSystemWatcher(this)), m_pollTimer(new QTimer(this))
{
    m_pollTimer->setInterval(kDefaultPollIntervalMs);
    connect(m_pollTimer, &QTimer::timeout, this, &RunLogFollower::readAppended);
    connect(m_watcher, &QFileSystemWatcher::fileChanged, this, &RunLogFollower::readAppended);
}

void RunLogFollower::setPollInterval(int milliseconds) { m_pollTimer->setInterval(milliseconds); }

RunLogFollower::Line RunLogFollower::parseLine(const QByteArray &raw, int number) const
{
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(raw, &error);
    if (error.error != QJsonParseError::NoError || !doc.isObject())
        throw Error(m_path, tr("line %1: not a run-log entry (%2)").arg(number).arg(error.errorString()));
    const QJsonObject object = doc.object();
    if (!object.value(QStringLiteral("event")).isString())
        throw Error(m_path, tr("line %1: run-log entry without \"event\"").arg(number));
    return Line{number, object};
}

void RunLogFollower::follow(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        throw Error(path, tr("cannot open the run log: %1").arg(file.errorString()));
    const QByteArray all = file.readAll();
    const qsizetype complete = all.lastIndexOf('\n') + 1;

    // Everything already there is checked before anything is emitted, so a file that is not a
    // run log changes nothing.
    const QString previousPath = m_path;
    m_path = path;
    std::vector<Line> backlog;
    int number = 0;
    try {
        for (const QByteArray &raw : all.left(complete).split('\n')) {
            ++number;
            const QByteArray trimmed = raw.trimmed();
            if (trimmed.isEmpty())
                continue;
            backlog.push_back(parseLine(trimmed, number));
            if (backlog.size() == 1) {
                const QString event = backlog.front().object.value(QStringLiteral("event")).toString();
                if (event != QLatin1String("start") && event != QLatin1String("resume"))
                    throw Error(path, tr("line %1: a run log begins with a \"start\" entry, not \"%2\"").arg(number).arg(event));
            }
        }
    } catch (const Error &) {
        m_path = previousPath;
        throw;
    }

    if (!previousPath.isEmpty())
        m_watcher->removePath(previousPath);
    m_offset = complete;
    m_linesRead = complete > 0 ? int(all.left(complete).count('\n')) : 0;
    resetRunState();
    for (const Line &line : backlog)
        dispatch(line, false);
    m_watcher->addPath(path);
    m_pollTimer->start();
}

void RunLogFollower::stopFollowing()
{
    if (!m_path.isEmpty())
        m_watcher->removePath(m_path);
    m_pollTimer->stop();
    m_path.clear();
    m_offset = 0;
    m_linesRead = 0;
}

void RunLogFollower::resetRunState()
{
    m_plan = SearchPlan{};
    m_generation = 0;
    m_newInGeneration = 0;
    m_evaluations = 0;
    m_book.clear();
}

void RunLogFollower::readAppended()
{
    if (m_path.isEmpty())
        return;
    // Editors and log rotation replace the file, which drops it from the watcher.
    if (!m_watcher->files().contains(m_path) && QFileInfo::exists(m_path))
        m_watcher->addPath(m_path);
    QFile file(m_path);
    if (!file.open(QIODevice::ReadOnly))
        return;  // gone for a moment (being replaced); the timer tries again
    if (file.size() < m_offset) {
        m_offset = 0;
        m_linesRead = 0;
        resetRunState();
        Q_EMIT restarted();
    }
    if (file.size() == m_offset || !file.seek(m_offset))
        return;
    const QByteArray chunk = file.read(file.size() - m_offset);
    // Only complete lines: the writer may be in the middle of one.
    const qsizetype complete = chunk.lastIndexOf('\n') + 1;
    if (complete == 0)
        return;
    m_offset += complete;
    for (const QByteArray &raw : chunk.left(complete - 1).split('\n')) {
        const int number = ++m_linesRead;
        const QByteArray trimmed = raw.trimmed();
        if (trimmed.isEmpty())
            continue;
        try {
            dispatch(parseLine(trimmed, number), true);
        } catch (const Error &e) {
            Q_EMIT failed(e.message());
        }
    }
}

void RunLogFollower::dispatch(const Line &line, bool live)
{
    const QJsonObject &o = line.object;
    const QString event = o.value(QStringLiteral("event")).toString();
    if (event == QLatin1String("start") || event == QLatin1String("resume")) {
        resetRunState();
        m_plan = planOf(o, m_path);
        m_book.setAggregate(m_plan.settings.fitness);
        Q_EMIT searchStarted(m_plan);
    } else if (event == QLatin1String("baselines")) {
        SearchBaselines baselines;
        baselines.fitness = fitnessAggregateFromName(o.value(QStringLiteral("fitness")).toString()).value_or(m_plan.settings.fitness);
        for (const QJsonValue &v : o.value(QStringLiteral("baselines")).toArray()) {
            const QJsonObject b = v.toObject();
            BaselineScore score;
            score.name = b.value(QStringLiteral("name")).toString();
            score.candidate.lambda = doublesOf(b.value(QStringLiteral("lambda")));
            score.candidate.attentionFactor = b.value(QStringLiteral("attention_factor")).toDouble(1.0);
            score.searchScores = doublesOf(b.value(QStringLiteral("search_scores")));
            score.validationScores = doublesOf(b.value(QStringLiteral("validation_scores")));
            score.searchFitness = fitnessOf(b.value(QStringLiteral("search_fitness")));
            score.validationFitness = b.value(QStringLiteral("validation_fitness")).isDouble()
                                          ? b.value(QStringLiteral("validation_fitness")).toDouble()
                                          : std::numeric_limits<double>::quiet_NaN();
            if (score.name.isEmpty())
                throw Error(m_path, tr("line %1: a baseline without a name").arg(line.number));
            baselines.scores.push_back(std::move(score));
        }
        Q_EMIT baselinesScored(baselines);
    } else if (event == QLatin1String("eval")) {
        if (!o.value(QStringLiteral("lambda")).isArray())
            throw Error(m_path, tr("line %1: eval entry without a \"lambda\" array").arg(line.number));
        CandidateEvaluation c;
        c.lambda = doublesOf(o.value(QStringLiteral("lambda")));
        c.attentionFactor = o.value(QStringLiteral("attention_factor")).toDouble(m_plan.attentionFactor);
        c.sample = o.value(QStringLiteral("sample")).toInt(0);
        c.samples = m_plan.samples;
        c.samplePpl = fitnessOf(o.value(QStringLiteral("fitness")));
        const CandidateScoreBook::Entry entry = m_book.add(c.lambda, c.attentionFactor, c.sample, c.samplePpl);
        c.candidate = entry.candidate;
        c.samplesScored = entry.samplesScored;
        c.ppl = entry.meanPpl;
        c.generation = m_generation;
        c.indexInGeneration = entry.isNew ? m_newInGeneration++ : -1;
        c.evaluation = ++m_evaluations;
        c.dRcd = o.value(QStringLiteral("d_rcd")).toInt(-1);
        c.live = live;
        Q_EMIT candidateEvaluated(c);
    } else if (event == QLatin1String("generation")) {
        GenerationReport r;
        r.generation = o.value(QStringLiteral("generation")).toInt();
        r.bestFitness = fitnessOf(o.value(QStringLiteral("best_fitness")));
        r.medianFitness = fitnessOf(o.value(QStringLiteral("median_fitness")));
        r.bestLambda = doublesOf(o.value(QStringLiteral("best_lambda")));
        r.bestDRcd = o.value(QStringLiteral("best_d_rcd")).toInt(-1);
        r.memberDRcd = intsOf(o.value(QStringLiteral("member_d_rcd")));
        r.evaluations = o.value(QStringLiteral("evaluations")).toInt();
        r.cacheHits = o.value(QStringLiteral("cache_hits")).toInt();
        r.bestAttentionFactor = o.value(QStringLiteral("best_attention_factor")).toDouble(m_plan.attentionFactor);
        r.samples = m_plan.samples;
        r.candidates = o.value(QStringLiteral("candidates")).toInt();
        r.sampleEvaluations = o.value(QStringLiteral("sample_evaluations")).toInt();
        r.fullyEvaluated = o.value(QStringLiteral("fully_evaluated")).toInt();
        // Validation (absent without it: NaN, and the search's best is the answer).
        r.bestValidationFitness = nanUnlessNumber(o.value(QStringLiteral("best_validation_fitness")));
        r.searchBestFitness = o.contains(QStringLiteral("search_best_fitness")) ? fitnessOf(o.value(QStringLiteral("search_best_fitness")))
                                                                               : r.bestFitness;
        r.searchBestValidationFitness = nanUnlessNumber(o.value(QStringLiteral("search_best_validation_fitness")));
        r.validationEvaluations = o.value(QStringLiteral("validation_evaluations")).toInt();
        r.baselineEvaluations = o.value(QStringLiteral("baseline_evaluations")).toInt();
        m_generation = r.generation + 1;
        m_newInGeneration = 0;
        Q_EMIT generationFinished(r);
    } else if (event == QLatin1String("finish")) {
        SearchOutcome outcome;
        outcome.result.bestLambda = doublesOf(o.value(QStringLiteral("best_lambda")));
        outcome.result.bestFitness = fitnessOf(o.value(QStringLiteral("best_fitness")));
        outcome.result.bestDRcd = o.value(QStringLiteral("best_d_rcd")).toInt(-1);
        outcome.result.evaluations = o.value(QStringLiteral("evaluations")).toInt();
        outcome.result.cacheHits = o.value(QStringLiteral("cache_hits")).toInt();
        outcome.result.generations = o.value(QStringLiteral("generations")).toInt();
        outcome.result.stopReason = stopReasonOf(o.value(QStringLiteral("reason")).toString());
        outcome.result.bestAttentionFactor = o.value(QStringLiteral("best_attention_factor")).toDouble(m_plan.attentionFactor);
        outcome.result.samples = o.value(QStringLiteral("samples")).toInt(m_plan.samples);
        outcome.result.candidates = o.value(QStringLiteral("candidates")).toInt();
        outcome.result.sampleEvaluations = o.value(QStringLiteral("sample_evaluations")).toInt();
        outcome.result.bestValidationFitness = nanUnlessNumber(o.value(QStringLiteral("best_validation_fitness")));
        outcome.result.chosenByValidation = o.value(QStringLiteral("chosen_by")).toString() == QLatin1String("validation");
        const bool searchBestLogged = o.contains(QStringLiteral("search_best_lambda"));
        outcome.result.searchBestLambda = searchBestLogged ? doublesOf(o.value(QStringLiteral("search_best_lambda"))) : outcome.result.bestLambda;
        outcome.result.searchBestFitness =
            searchBestLogged ? fitnessOf(o.value(QStringLiteral("search_best_fitness"))) : outcome.result.bestFitness;
        outcome.result.searchBestValidationFitness = nanUnlessNumber(o.value(QStringLiteral("search_best_validation_fitness")));
        outcome.result.searchBestDRcd = o.value(QStringLiteral("search_best_d_rcd")).toInt(outcome.result.bestDRcd);
        outcome.result.searchBestAttentionFactor =
            o.value(QStringLiteral("search_best_attention_factor")).toDouble(outcome.result.bestAttentionFactor);
        outcome.result.validationEvaluations = o.value(QStringLiteral("validation_evaluations")).toInt();
        outcome.result.baselineEvaluations = o.value(QStringLiteral("baseline_evaluations")).toInt();
        outcome.targetLength = m_plan.targetLength;
        outcome.logPath = m_path;
        Q_EMIT searchFinished(outcome);
    } else if (event == QLatin1String("rank_stats")) {
        RankStatistics statistics;
        for (const QJsonValue &v : o.value(QStringLiteral("ranks")).toArray()) {
            const QJsonObject r = v.toObject();
            RankStat stat;
            stat.rank = r.value(QStringLiteral("rank")).toInt();
            stat.host = r.value(QStringLiteral("host")).toString();
            for (const QJsonValue &d : r.value(QStringLiteral("devices")).toArray())
                stat.devices << d.toString();
            stat.evaluations = qint64(r.value(QStringLiteral("evaluations")).toDouble());
            stat.evaluationsPerSecond = r.value(QStringLiteral("evaluations_per_second")).toDouble();
            stat.idlePercent = r.value(QStringLiteral("idle_percent")).toDouble();
            stat.lost = r.value(QStringLiteral("lost")).toString();
            statistics.ranks.push_back(stat);
        }
        Q_EMIT rankStatistics(statistics);
    } else if (event == QLatin1String("rank_lost")) {
        Q_EMIT rankLost(o.value(QStringLiteral("rank")).toInt(), o.value(QStringLiteral("host")).toString(),
                        o.value(QStringLiteral("reason")).toString());
    }
    // Other events (baseline_eval, validation_eval: summed up by "baselines" and "generation"; a
    // newer writer's additions) carry nothing the plots show.
}

} // namespace rs
