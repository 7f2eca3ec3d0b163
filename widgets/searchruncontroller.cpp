#include "searchruncontroller.h"

#include "common/error.h"
#include "plotstyle.h"

#include <QElapsedTimer>
#include <QFileInfo>

#include <algorithm>
#include <cmath>

namespace rs {

namespace {

// Arrival times of this many recent evaluations give the rate: long enough to smooth, short
// enough to follow a change of speed (another job on the GPU, a longer d_rcd).
constexpr size_t kRateWindow = 32;

QString formatDuration(double seconds)
{
    if (!std::isfinite(seconds) || seconds < 0)
        return QStringLiteral("—");
    const qint64 s = qint64(std::llround(seconds));
    if (s < 60)
        return QObject::tr("%1 s").arg(s);
    if (s < 3600)
        return QObject::tr("%1 min %2 s").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
    return QObject::tr("%1 h %2 min").arg(s / 3600).arg((s % 3600) / 60, 2, 10, QLatin1Char('0'));
}

// A status part that must not wrap inside itself ("ETA 3 min 05 s"): its spaces do not break.
QString unbroken(QString text) { return text.replace(QLatin1Char(' '), QChar::Nbsp); }

} // namespace

SearchRunController::SearchRunController(EvaluationService *evaluation, QObject *parent)
    : QObject(parent), m_evaluation(evaluation), m_follower(new RunLogFollower(this))
{
    auto clock = std::make_shared<QElapsedTimer>();
    clock->start();
    m_now = [clock] { return clock->elapsed(); };

    connect(evaluation, &EvaluationService::searchStarted, this, [this](const SearchPlan &plan) {
        setState(State::Searching);
        onRunStarted(plan);
    });
    connect(evaluation, &EvaluationService::candidateEvaluated, this, &SearchRunController::onCandidate);
    connect(evaluation, &EvaluationService::generationFinished, this, &SearchRunController::onGeneration);
    connect(evaluation, &EvaluationService::baselinesScored, this, &SearchRunController::onBaselines);
    connect(evaluation, &EvaluationService::searchPausedChanged, this, [this](bool) { updateStatus(); });
    connect(evaluation, &EvaluationService::searchFinished, this, [this](const SearchOutcome &outcome) {
        setState(State::Idle);
        onRunFinished(outcome);
    });
    connect(evaluation, &EvaluationService::failed, this, [this](WorkerTask task, const QString &message) {
        if (task != WorkerTask::Search)
            return;
        setState(State::Idle);
        Q_EMIT errorOccurred(message);
    });

    connect(m_follower, &RunLogFollower::searchStarted, this, &SearchRunController::onRunStarted);
    connect(m_follower, &RunLogFollower::candidateEvaluated, this, &SearchRunController::onCandidate);
    connect(m_follower, &RunLogFollower::generationFinished, this, &SearchRunController::onGeneration);
    connect(m_follower, &RunLogFollower::baselinesScored, this, &SearchRunController::onBaselines);
    connect(m_follower, &RunLogFollower::searchFinished, this, &SearchRunController::onRunFinished);
    connect(m_follower, &RunLogFollower::restarted, this, [this] {
        m_baselines = {};
        m_best.reset();
        Q_EMIT runCleared();
        Q_EMIT bestChanged();
    });
    connect(m_follower, &RunLogFollower::failed, this, &SearchRunController::noteChanged);
    connect(m_follower, &RunLogFollower::rankStatistics, this, &SearchRunController::rankStatistics);
    connect(m_follower, &RunLogFollower::rankLost, this, [this](int rank, const QString &host, const QString &reason) {
        Q_EMIT noteChanged(tr("Rank %1 on %2 was lost (%3); its jobs went to the other ranks.").arg(rank).arg(host, reason));
    });
}

bool SearchRunController::start(const StartRequest &request)
{
    if (isRunning())
        return false;
    try {
        (void)EvolutionSearch(request.settings);  // validates, naming the problem
    } catch (const Error &e) {
        Q_EMIT errorOccurred(e.message());
        return false;
    }
    const NeedleEvalSettings &samples = request.samples, &validation = request.validation;
    if (samplesOverlap(samples, validation)) {
        Q_EMIT errorOccurred(tr("The validation samples (seeds %1 … %2) overlap the search's (seeds %3 … %4): choose "
                                "another validation seed.")
                                 .arg(validation.seed).arg(validation.seed + validation.samples - 1)
                                 .arg(samples.seed).arg(samples.seed + samples.samples - 1));
        return false;
    }
    if (m_state == State::Following)
        m_follower->stopFollowing();
    setState(State::Starting);
    m_evaluation->startSearch(request.settings, samples, request.logPath, request.resume, validation);
    return true;
}

void SearchRunController::togglePause()
{
    if (m_state == State::Searching) {
        m_evaluation->pause();
        setState(State::Paused);
    } else if (m_state == State::Paused) {
        m_evaluation->resume();
        setState(State::Searching);
    }
}

void SearchRunController::stop()
{
    if (m_state == State::Following) {
        m_follower->stopFollowing();
        setState(State::Idle);
        return;
    }
    if (isRunning() && !m_stopping) {
        m_evaluation->stop();
        m_stopping = true;
        m_statusDisplay = tr("Stopping after the running evaluation…");
        Q_EMIT statusChanged();
    }
}

void SearchRunController::follow(const QString &path)
{
    if (isRunning())
        throw Error(path, tr("a search is running here: stop it before following a run log"));
    m_follower->follow(path);
    setState(State::Following);
    updateStatus();
}

void SearchRunController::setModelLoaded(bool loaded)
{
    m_modelLoaded = loaded;
    updateStatus();
}

void SearchRunController::setState(State state)
{
    if (state == m_state)
        return;
    m_state = state;
    if (!isRunning())
        m_stopping = false;
    updateStatus();
    Q_EMIT stateChanged(state);
}

void SearchRunController::onRunStarted(const SearchPlan &plan)
{
    m_plan = plan;
    Q_EMIT rankStatistics({});  // a run under MPI fills it again
    if (!plan.resumed) {
        m_candidateCount = 0;
        m_cacheHits = 0;
        m_generationsDone = 0;
        m_validationEvaluations = 0;
        m_baselineEvaluations = 0;
        if (m_best) {
            m_best.reset();
            Q_EMIT bestChanged();
        }
    }
    m_recentArrivals.clear();
    // The run's baselines come with it (a resumed run replays them).
    m_baselines = {};
    Q_EMIT runStarted(plan);
    updateStatus();
}

void SearchRunController::onBaselines(const SearchBaselines &baselines)
{
    m_baselines = baselines;
    Q_EMIT baselinesScored(baselines);
}

void SearchRunController::onCandidate(const CandidateEvaluation &candidate)
{
    ++m_candidateCount;
    if (candidate.live) {
        m_recentArrivals.push_back(m_now());
        while (m_recentArrivals.size() > kRateWindow)
            m_recentArrivals.pop_front();
    }
    // A candidate's fitness is only comparable once it has every sample; with validation the
    // answer comes from the generation reports.
    if (candidate.isComplete() && !validates())
        offerBest(candidate.lambda, candidate.ppl, candidate.dRcd, candidate.attentionFactor);
    Q_EMIT candidateAdded(candidate);
    updateStatus();
}

void SearchRunController::onGeneration(const GenerationReport &report)
{
    m_generationsDone = std::max(m_generationsDone, report.generation + 1);
    m_cacheHits = report.cacheHits;
    m_validationEvaluations = report.validationEvaluations;
    m_baselineEvaluations = report.baselineEvaluations;
    if (validates())
        takeBest(report.bestLambda, report.bestFitness, report.bestDRcd, report.bestAttentionFactor, report.bestValidationFitness);
    else
        offerBest(report.bestLambda, report.bestFitness, report.bestDRcd, report.bestAttentionFactor);
    Q_EMIT generationAdded(report);
    updateStatus();
}

void SearchRunController::onRunFinished(const SearchOutcome &outcome)
{
    const SearchResult &r = outcome.result;
    if (validates())
        takeBest(r.bestLambda, r.bestFitness, r.bestDRcd, r.bestAttentionFactor, r.bestValidationFitness);
    else
        offerBest(r.bestLambda, r.bestFitness, r.bestDRcd, r.bestAttentionFactor);
    m_cacheHits = r.cacheHits;
    const QString validation =
        validates() && std::isfinite(r.bestValidationFitness)
            ? tr(" on the search samples, %1 on the validation samples (chosen by %2)")
                  .arg(formatNumber(r.bestValidationFitness), r.chosenByValidation ? tr("validation") : tr("search"))
            : QString();
    // An answer on a bound of the space says the fitness wanted a point outside it (issue 25).
    const QString bounds = r.spaceBounds.isEmpty()
                               ? QString()
                               : tr(" On a bound of the search space: %1.").arg(r.spaceBounds.join(QStringLiteral("; ")));
    const QString summary = tr("Search %1: best needle PPL %2%7%3 after %4 evaluations (+%5 from the cache), %6 generations.%8")
                                .arg(stopReasonName(r.stopReason))
                                .arg(formatNumber(r.bestFitness))
                                .arg(r.bestDRcd >= 0 ? tr(", d_rcd %1").arg(r.bestDRcd) : QString())
                                .arg(r.evaluations)
                                .arg(r.cacheHits)
                                .arg(r.generations)
                                .arg(validation)
                                .arg(bounds);
    setStatus(summary, summary, true);
    Q_EMIT runFinished(outcome);
}

void SearchRunController::offerBest(const std::vector<double> &lambda, double ppl, int dRcd, double attentionFactor)
{
    if (lambda.empty() || !std::isfinite(ppl) || (m_best && !(ppl < m_best->ppl)))
        return;
    m_best = Best{lambda, ppl, dRcd, attentionFactor, m_plan.targetLength};
    Q_EMIT bestChanged();
}

void SearchRunController::takeBest(const std::vector<double> &lambda, double ppl, int dRcd, double attentionFactor,
                                   double validationPpl)
{
    if (lambda.empty())
        return;
    if (m_best && m_best->lambda == lambda && m_best->attentionFactor == attentionFactor && m_best->validationPpl == validationPpl)
        return;
    m_best = Best{lambda, ppl, dRcd, attentionFactor, m_plan.targetLength, validationPpl};
    Q_EMIT bestChanged();
}

void SearchRunController::setStatus(const QString &oneLine, const QString &display, bool announce)
{
    m_statusText = oneLine;
    m_statusDisplay = display;
    Q_EMIT statusChanged();
    if (announce)
        Q_EMIT statusMessage(oneLine);
}

// Progress and ETA first, each part unbroken, so the ETA stays on one line.
QStringList SearchRunController::progressParts() const
{
    QStringList parts;
    // Numbered as the CLI prints them ("generation 3/6"): 0 is the initial population, then
    // settings.iterations bred ones; the latest finished one, or 0 while the initial is scored.
    const int last = m_plan.settings.iterations;
    parts << unbroken(m_generationsDone > 0
                          ? tr("generation %1/%2 done").arg(std::min(m_generationsDone - 1, last)).arg(last)
                          : tr("generation 0/%1 running").arg(last));
    // Racing drops candidates early, so a full run's count is only an upper bound then.
    const bool racing = m_plan.settings.racing && m_plan.samples > 1;
    parts << unbroken(tr("%1 of %2%3 evaluations")
                          .arg(formatNumber(m_candidateCount), racing ? QStringLiteral("≤ ") : QString(),
                               formatNumber(m_plan.expectedEvaluations)));
    double rate = 0;
    if (m_recentArrivals.size() >= 2 && m_recentArrivals.back() > m_recentArrivals.front())
        rate = double(m_recentArrivals.size() - 1) * 1000.0 / double(m_recentArrivals.back() - m_recentArrivals.front());
    if (rate > 0) {
        parts << unbroken(tr("%1 eval/s").arg(rate, 0, 'g', 3));
        const int remaining = std::max(0, m_plan.expectedEvaluations - m_candidateCount);
        if (remaining > 0 && (m_state == State::Searching || m_state == State::Following))
            parts << unbroken(tr("ETA %1%2").arg(racing ? QStringLiteral("≤ ") : QString(), formatDuration(remaining / rate)));
    }
    if (m_state == State::Paused)
        parts << tr("paused");
    if (m_state == State::Following)
        parts.prepend(unbroken(tr("following %1").arg(QFileInfo(m_follower->path()).fileName())));
    return parts;
}

// The best so far, then the counts of validation, baselines and cache.
QStringList SearchRunController::detailParts() const
{
    QStringList details;
    if (m_best)
        details << unbroken(tr("best PPL %1%2%3")
                                .arg(formatNumber(m_best->ppl))
                                .arg(std::isfinite(m_best->validationPpl) ? tr(", validation %1").arg(formatNumber(m_best->validationPpl)) : QString())
                                .arg(m_best->dRcd >= 0 ? tr(" (d_rcd %1)").arg(m_best->dRcd) : QString()));
    // Counted apart from the search's evaluations above, as the run's budget counts them.
    QStringList extra;
    if (m_validationEvaluations > 0)
        extra << tr("%1 validation").arg(formatNumber(m_validationEvaluations));
    if (m_baselineEvaluations > 0)
        extra << tr("%1 baselines").arg(formatNumber(m_baselineEvaluations));
    if (m_cacheHits > 0)
        extra << tr("%1 from the cache").arg(formatNumber(m_cacheHits));
    if (!extra.isEmpty())
        details << unbroken(QStringLiteral("+ ") + extra.join(QStringLiteral(", ")));
    return details;
}

void SearchRunController::updateStatus()
{
    if (m_state == State::Idle && m_candidateCount == 0 && m_generationsDone == 0) {
        const QString ready = m_modelLoaded ? tr("Ready.") : QString();
        setStatus(ready, ready, false);
        return;
    }
    if (m_state == State::Starting) {
        const QString starting = tr("Starting the search (building the needle samples)…");
        setStatus(starting, starting, true);
        return;
    }
    const QStringList parts = progressParts(), details = detailParts();
    const QString separator = QStringLiteral(" · ");
    setStatus((parts + details).join(separator),
              details.isEmpty() ? parts.join(separator) : parts.join(separator) + QLatin1Char('\n') + details.join(separator),
              true);
}

} // namespace rs
