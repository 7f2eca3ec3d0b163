#pragma once
// The search dock's run, without widgets: the state machine of a local search on the evaluation
// thread (start, pause, resume, stop) and of a followed run log (follow, stop following), the
// run's plan, baselines and best answer so far, and its progress as text (generations,
// evaluations, rate, ETA, the best so far). The dock (searchpanel.h) draws what it reports; a test
// drives it with a scripted service and a fake clock.
//
// States: Idle → Starting (start: the worker builds its samples) → Searching ⇄ Paused → Idle (the
// worker's searchFinished, or its failure); Idle → Following (follow) → Idle (stop). A local run
// cannot start while another runs; starting one stops following.
#include "worker/evaluationservice.h"
#include "worker/runlogfollower.h"

#include <QObject>

#include <deque>
#include <functional>
#include <optional>
#include <vector>

namespace rs {

class SearchRunController : public QObject {
    Q_OBJECT

public:
    enum class State { Idle, Starting, Searching, Paused, Following };
    Q_ENUM(State)

    // The answer so far: with validation the one the run's reports name (it may have a worse search
    // fitness), otherwise the best complete candidate.
    struct Best {
        std::vector<double> lambda;
        double ppl = 0;
        int dRcd = -1;
        double attentionFactor = 1.0;
        int targetLength = 0;
        double validationPpl = qQNaN();
    };

    // What start() hands the evaluation service.
    struct StartRequest {
        SearchSettings settings;
        NeedleEvalSettings samples;
        NeedleEvalSettings validation{0, 0};
        QString logPath;
        bool resume = false;
    };

    // Milliseconds on any steady clock; the rate and the ETA come from differences of it.
    using Clock = std::function<qint64()>;

    explicit SearchRunController(EvaluationService *evaluation, QObject *parent = nullptr);

    State state() const { return m_state; }
    // A local run: starting, searching or paused.
    bool isRunning() const { return m_state == State::Starting || m_state == State::Searching || m_state == State::Paused; }
    // Stop was asked and the run has not finished yet.
    bool isStopping() const { return m_stopping; }

    // Checks the settings (naming the problem) and that the validation samples do not overlap the
    // search's, then starts; false (and errorOccurred) when it cannot.
    bool start(const StartRequest &request);
    void togglePause();
    // A local run stops after its running evaluation; following stops at once.
    void stop();
    // Replays the log and follows it live. Throws rs::Error (naming the file) when it is not a run
    // log or a local search is running.
    void follow(const QString &path);
    // Whether a model is loaded (the idle status says "Ready." then).
    void setModelLoaded(bool loaded);
    void setClock(Clock clock) { m_now = std::move(clock); }

    RunLogFollower *follower() const { return m_follower; }
    const SearchPlan &plan() const { return m_plan; }
    bool hasRun() const { return m_plan.targetLength > 0; }
    bool validates() const { return m_plan.validationSamples.samples > 0; }
    const SearchBaselines &baselines() const { return m_baselines; }
    const std::optional<Best> &best() const { return m_best; }
    int candidateCount() const { return m_candidateCount; }
    int generationsDone() const { return m_generationsDone; }
    // The progress in one line (the status bar), and as the dock shows it: progress and ETA first,
    // the best so far and the extra evaluations on a second line.
    QString statusText() const { return m_statusText; }
    QString statusDisplay() const { return m_statusDisplay; }

signals:
    void stateChanged(rs::SearchRunController::State state);
    void runStarted(const rs::SearchPlan &plan);
    void candidateAdded(const rs::CandidateEvaluation &candidate);
    void generationAdded(const rs::GenerationReport &report);
    void baselinesScored(const rs::SearchBaselines &baselines);
    void runFinished(const rs::SearchOutcome &outcome);
    // The followed log was replaced: its run starts over (the plots clear).
    void runCleared();
    // best() changed; it is empty when a new run begins.
    void bestChanged();
    // statusDisplay() changed.
    void statusChanged();
    // The progress for the status bar.
    void statusMessage(const QString &text);
    void rankStatistics(const rs::RankStatistics &statistics);
    // A sentence for the user (a malformed line in a followed log, a lost rank).
    void noteChanged(const QString &text);
    void errorOccurred(const QString &message);

private:
    void setState(State state);
    void onRunStarted(const SearchPlan &plan);
    void onCandidate(const CandidateEvaluation &candidate);
    void onGeneration(const GenerationReport &report);
    void onBaselines(const SearchBaselines &baselines);
    void onRunFinished(const SearchOutcome &outcome);
    void offerBest(const std::vector<double> &lambda, double ppl, int dRcd, double attentionFactor);
    void takeBest(const std::vector<double> &lambda, double ppl, int dRcd, double attentionFactor, double validationPpl);
    void setStatus(const QString &oneLine, const QString &display, bool announce);
    void updateStatus();
    QStringList progressParts() const;
    QStringList detailParts() const;

    EvaluationService *m_evaluation;
    RunLogFollower *m_follower;
    Clock m_now;
    State m_state = State::Idle;
    bool m_stopping = false;
    bool m_modelLoaded = false;
    SearchPlan m_plan;
    SearchBaselines m_baselines;
    std::optional<Best> m_best;
    int m_candidateCount = 0;
    int m_cacheHits = 0;
    int m_generationsDone = 0;
    int m_validationEvaluations = 0;  // of the run so far, from its latest generation report
    int m_baselineEvaluations = 0;
    std::deque<qint64> m_recentArrivals;  // m_now() of the latest live candidates
    QString m_statusText;
    QString m_statusDisplay;
};

} // namespace rs
