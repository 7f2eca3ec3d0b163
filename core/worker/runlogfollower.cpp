#include "worker/runlogfollower.h"

#include "common/error.h"

#include <QFile>
#include <QFileInfo>
#include <QFileSystemWatcher>
#include <QTimer>

#include <algorithm>
#include <limits>

namespace rs {

namespace {

// The plan a start record describes (the log holds the settings with their defaults resolved, so
// the plan follows directly).
SearchPlan planOf(const StartRecord &start, const QString &path)
{
    const RunContext context = RunContext::fromJson(start.settings.context);
    const RecordDefaults defaults = recordDefaults(start);
    SearchPlan plan;
    plan.settings = start.settings.search;
    const SearchSettings &settings = plan.settings;
    plan.samples = start.settings.samples;
    const long long candidates = settings.population + (long long)(settings.iterations) * std::max(0, settings.mutations + settings.crossovers);
    const long long full = candidates * plan.samples;
    const long long capped = settings.maxEvaluations > 0 ? std::min<long long>(full, settings.maxEvaluations) : full;
    plan.expectedEvaluations = int(std::min<long long>(capped, std::numeric_limits<int>::max()));
    plan.targetLength = context.length > 0 ? context.length : int(settings.targetLength);
    plan.attentionFactor = defaults.attentionFactor;
    plan.settings.attentionFactor = plan.attentionFactor;
    plan.logPath = path;
    plan.resumed = start.resume;
    // The samples, as the context records them (the CLI and the GUI seed samples and search alike).
    plan.model = context.model;
    plan.searchSamples.length = plan.targetLength;
    plan.searchSamples.samples = context.samples > 0 ? context.samples : plan.samples;
    plan.searchSamples.depth = context.depth;
    plan.searchSamples.seed = settings.seed;
    plan.searchSamples.corpus = context.corpus;
    if (start.settings.validationSamples > 0) {
        plan.validationSamples = plan.searchSamples;
        plan.validationSamples.samples = start.settings.validationSamples;
        plan.validationSamples.seed = context.validationSeed;
    }
    return plan;
}

RankStatistics rankStatisticsOf(const RankStatsRecord &record)
{
    RankStatistics statistics;
    for (const RankStatsRecord::Rank &r : record.ranks)
        statistics.ranks.push_back(RankStat{r.rank, r.host, r.devices, r.evaluations, r.evaluationsPerSecond, r.idlePercent, r.lost});
    return statistics;
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
    try {
        return Line{number, parseRunLogLine(raw)};
    } catch (const Error &e) {
        throw Error(m_path, tr("line %1: %2").arg(number).arg(e.problem()));
    }
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
            if (backlog.size() == 1 && !std::holds_alternative<StartRecord>(recordOf(backlog.front()))) {
                const QString event = backlog.front().object.value(QStringLiteral("event")).toString();
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
    m_defaults = RecordDefaults{};
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

RunLogRecord RunLogFollower::recordOf(const Line &line) const
{
    try {
        return recordFromJson(line.object, m_defaults);
    } catch (const Error &e) {
        throw Error(m_path, tr("line %1: %2").arg(line.number).arg(e.problem()));
    }
}

void RunLogFollower::dispatch(const Line &line, bool live)
{
    const RunLogRecord record = recordOf(line);
    if (const auto *start = std::get_if<StartRecord>(&record)) {
        resetRunState();
        m_plan = planOf(*start, m_path);
        m_defaults = recordDefaults(*start);
        m_book.setAggregate(m_plan.settings.fitness);
        Q_EMIT searchStarted(m_plan);
    } else if (const auto *baselines = std::get_if<BaselinesRecord>(&record)) {
        Q_EMIT baselinesScored(SearchBaselines{baselines->baselines, baselines->fitness.value_or(m_plan.settings.fitness)});
    } else if (const auto *e = std::get_if<EvaluationRecord>(&record)) {
        CandidateEvaluation c;
        c.lambda = e->lambda;
        c.attentionFactor = e->attentionFactor;
        c.sample = e->sample;
        c.samples = m_plan.samples;
        c.samplePpl = e->fitness;
        const CandidateScoreBook::Entry entry = m_book.add(c.lambda, c.attentionFactor, c.sample, c.samplePpl);
        c.candidate = entry.candidate;
        c.samplesScored = entry.samplesScored;
        c.ppl = entry.meanPpl;
        c.generation = m_generation;
        c.indexInGeneration = entry.isNew ? m_newInGeneration++ : -1;
        c.evaluation = ++m_evaluations;
        c.dRcd = e->dRcd;
        c.live = live;
        Q_EMIT candidateEvaluated(c);
    } else if (const auto *g = std::get_if<GenerationRecord>(&record)) {
        m_generation = g->report.generation + 1;
        m_newInGeneration = 0;
        Q_EMIT generationFinished(g->report);
    } else if (const auto *finish = std::get_if<FinishRecord>(&record)) {
        Q_EMIT searchFinished(SearchOutcome{finish->result, m_plan.targetLength, m_path});
    } else if (const auto *stats = std::get_if<RankStatsRecord>(&record)) {
        Q_EMIT rankStatistics(rankStatisticsOf(*stats));
    } else if (const auto *lost = std::get_if<RankLostRecord>(&record)) {
        Q_EMIT rankLost(lost->rank, lost->host, lost->reason);
    }
    // Other records (baseline_eval, validation_eval: summed up by "baselines" and "generation"; a
    // newer writer's additions) carry nothing the plots show.
}

} // namespace rs
