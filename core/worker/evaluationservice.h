#pragma once
// What the GUI asks of the evaluation thread, as an interface: load a model, score hand-tuned λ
// and the reference families, run, pause and stop a search; results come back as signals carrying
// the plain messages (worker/messages.h). The widgets program against this and never see the
// worker, its model or LibTorch; EvaluationThread (worker/evaluationworker.h) implements it, and
// a test may put a fake in its place.
#include "worker/messages.h"

#include <QObject>
#include <QString>
#include <QStringList>

#include <vector>

namespace rs {

// The evaluation thread's signals, declared once: the worker (worker/evaluationworker.h) emits
// them on its thread, and the service below, which derives from this too, relays every one of them
// to the GUI's thread (EvaluationThread connects each signal this class declares, found through
// its meta-object, so a signal added here is relayed without another list). Tests spy on either
// through this type.
class EvaluationSignals : public QObject {
    Q_OBJECT

public:
    using QObject::QObject;
    ~EvaluationSignals() override;

Q_SIGNALS:
    void loadProgress(const QString &message);
    void modelLoaded(const rs::ModelInfo &info);
    void searchStarted(const rs::SearchPlan &plan);
    void candidateEvaluated(const rs::CandidateEvaluation &candidate);
    void generationFinished(const rs::GenerationReport &report);
    // The run's baselines, scored on its own samples before its first candidate.
    void baselinesScored(const rs::SearchBaselines &baselines);
    void searchPausedChanged(bool paused);
    void searchFinished(const rs::SearchOutcome &outcome);
    // Every sample of a score but its last (partial figures), then the complete score.
    void scoreProgress(const rs::ScoreResult &partial);
    void scoreReady(const rs::ScoreResult &score);
    // After each sample of a live score: the throughput it showed, for the prices that follow.
    void throughputMeasured(const rs::MeasuredThroughput &throughput);
    // After each sample of the references but the last, then the complete set.
    void referencesProgress(const rs::ReferenceScores &partial);
    void referencesReady(const rs::ReferenceScores &references);
    void sweepStarted(const rs::SweepPlan &plan);
    void sweepCellReady(const rs::SweepCellReport &report);
    void sweepFinished(const rs::SweepOutcome &outcome);
    // An rs::Error's message (it names the file or source).
    void failed(rs::WorkerTask task, const QString &message);
};

class EvaluationService : public EvaluationSignals {
    Q_OBJECT

public:
    using EvaluationSignals::EvaluationSignals;
    ~EvaluationService() override;

    // All requests return at once; none waits for the evaluation.
    virtual void loadModel(const QString &modelDir, const QString &tokenizerPath = {},
                           const ModelLoadSettings &settings = {}) = 0;
    // `validation`: held-out needle samples (same length, depth and corpus; its own seed and count)
    // that pick the answer; samples == 0 for none.
    virtual void startSearch(const SearchSettings &settings, const NeedleEvalSettings &samples,
                             const QString &logPath = {}, bool resume = false,
                             const NeedleEvalSettings &validation = NeedleEvalSettings{0, 0}) = 0;
    // Only the latest pending request of each kind counts; a newer one supersedes an older one,
    // and one being computed gives up at its next sample. `sampleCount` > 0 scores only the first
    // that many of `samples` (a quick score; the rest follows with a request for all of them).
    virtual void score(quint64 requestId, const std::vector<double> &lambda, double attentionFactor,
                       const NeedleEvalSettings &samples, int sampleCount = 0) = 0;
    virtual void scoreReferences(quint64 requestId, const NeedleEvalSettings &samples) = 0;
    virtual void pause() = 0;
    virtual void resume() = 0;
    virtual void stop() = 0;
    // The evaluation workbench: runs a sweep (eval/sweepresult.h) as soon as the worker is free,
    // reporting sweepStarted, a sweepCellReady per cell and sweepFinished; cancelSweep ends the
    // sweep of that request between samples (its finished cells still arrive in sweepFinished).
    // Hand-tuned scores are served between cells meanwhile. Services that cannot run sweeps (the
    // default) report failed(WorkerTask::Sweep).
    virtual void startSweep(quint64 requestId, const SweepSettings &settings, const std::vector<SweepMethodSpec> &methods);
    virtual void cancelSweep(quint64 requestId);
    // The devices loadModel's settings may name, as ModelLoadSettings::device spells them: "cpu",
    // then "cuda:0" … for every GPU this build can use. Answers at once (the default: "cpu" only).
    virtual QStringList availableDevices() const;
};

} // namespace rs
