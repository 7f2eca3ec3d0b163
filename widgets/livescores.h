#pragma once
// The live scores of hand tuning, as a model without widgets: every edit of the factor document is
// scored in the background after a short debounce, next to the original RoPE, PI, NTK and YaRN on
// the same needle samples, and the row of figures says what it was computed on.
//
// Provenance and staleness: a figure never outlives what it was computed for. Every change of the
// model, the document's config, L, the samples or the attention factor clears the figures it
// invalidates at once (schedule()), and answers to older requests are dropped (request ids). Scores
// arrive sample by sample ("2/4 samples: 31.2…"); a quick score is on the first sample only, next
// to the families on that same sample, and scoreFully() scores every sample.
//
// The search dock (searchpanel.h) shows the row (figure(), caption()) and draws it on its plot.
#include "worker/evaluationservice.h"

#include <QElapsedTimer>
#include <QMap>
#include <QObject>

#include <functional>
#include <optional>
#include <vector>

class QTimer;

namespace rs {

class FactorDocument;

class LiveScores : public QObject {
    Q_OBJECT

public:
    static constexpr int kDebounceMs = 300;
    // The edited λ's key (SearchPlot::kHandTunedReference on the plot).
    static inline const QString kHandTuned = QStringLiteral("edited");
    // The edited λ, then the references, in the row's order; and their titles ("edited λ", "PI" …).
    static const QStringList &names();
    static QString title(const QString &name);

    // `samples` gives the needle samples every score uses now (the search form's).
    using SampleSource = std::function<NeedleEvalSettings()>;
    LiveScores(FactorDocument *document, EvaluationService *evaluation, SampleSource samples, QObject *parent = nullptr);

    // The model the scores are on: a new one is scored at once (after the debounce).
    void setModel(const ModelInfo &info);
    const std::optional<ModelInfo> &model() const { return m_model; }
    // A throughput measured on the model: its prices use it from now on.
    void setMeasuredThroughput(const MeasuredThroughput &t)
    {
        if (m_model)
            m_model->cost.setMeasured(t.device, t.flopsPerSecond, t.source);
    }
    // What to call a model folder in the row (default: its folder name).
    void setModelNamer(std::function<QString(const QString &)> namer);
    // Quick: each edit on the first sample only. Takes effect with the next schedule().
    void setQuick(bool quick) { m_quick = quick; }
    bool quick() const { return m_quick; }

    // The document, the samples or the model changed: drop what no longer holds now and score again
    // after the debounce (a newer call restarts it).
    void schedule();
    // Scores the document's λ on every sample now.
    void scoreFully();
    // Writes the row again (after the model's name changed).
    void refresh() { rebuildRow(); }

    // One figure of the row: "33.1", "2/4 samples: 31.2…", "…" (asked), "—" (none), with a tooltip
    // that says what it is on.
    struct Figure {
        QString text = QStringLiteral("—");
        QString toolTip;
    };
    Figure figure(const QString &name) const { return m_figures.value(name); }
    // True when the document's λ can be scored on the loaded model.
    bool scoreable() const { return m_model && mismatchReason().isEmpty(); }
    // What the row's figures were computed on; empty while there is nothing to show.
    QString caption() const { return m_caption; }
    bool canScoreFully() const;
    // The row's figures are on this many samples (the first of the samples): 1 for a quick score.
    int sampleCount() const;
    // The edited λ's mean over the row's samples once complete (NaN before), its per-sample values
    // as far as scored, and each reference's complete mean (NaN before).
    double handTunedPpl() const { return m_handTunedPpl; }
    std::vector<double> handTunedSamples() const;
    double attentionFactor() const { return m_scoreAttention; }
    double referencePpl(const QString &name) const { return m_referencePpl.value(name, qQNaN()); }
    // Why the document's λ cannot be scored on the loaded model (another geometry); empty when it can.
    QString mismatchReason() const;
    // True when the row's figures are on these samples of this model (a run's, say).
    bool isOn(const QString &model, const NeedleEvalSettings &samples) const;

signals:
    // The row changed: its figures, tooltips or caption.
    void changed();
    // A sentence for the user (a mismatch, a failed score); empty clears it.
    void noteChanged(const QString &text);
    void handTunedScored(double ppl);
    void referencesScored();

private:
    void requestScores();
    void requestScoresOn(int sampleCount);
    // Model, L, samples, depth and corpus of the live scores now.
    QString liveKey() const;
    void invalidate();
    void rebuildRow();
    void addUncertainty(int basis);
    void onScoreArrived(const ScoreResult &score);
    void onReferencesArrived(const ReferenceScores &references);
    void onFailed(WorkerTask task, const QString &message);
    QString modelName(const QString &directory) const;

    FactorDocument *m_document;
    EvaluationService *m_evaluation;
    SampleSource m_samples;
    QTimer *m_timer;
    std::function<QString(const QString &)> m_namer;
    std::optional<ModelInfo> m_model;
    bool m_quick = true;

    quint64 m_scoreRequest = 0;       // the latest hand-tuning request; older answers are ignored
    quint64 m_referencesRequest = 0;
    QString m_referencesKey;          // what the shown references were computed for
    double m_handTunedPpl = qQNaN();  // complete: the mean over the m_scoreWanted samples
    std::vector<double> m_handTunedPerSample;  // of the latest request, as far as scored
    int m_scoreWanted = 0;            // samples the latest request scores; 0: none requested
    double m_scoreAttention = 1.0;    // the attention factor it runs with
    ReferenceScores m_references;     // as far as scored, for m_referencesKey
    QMap<QString, double> m_referencePpl;  // complete figures on the row's samples
    QMap<QString, Figure> m_figures;
    QString m_caption;
    // ROPESCOPE_LIVE_TIMING=1 prints the time from an edit to its first and its complete figure.
    bool m_printTiming = false;
    QElapsedTimer m_editClock;
    bool m_firstFigureShown = false;
};

} // namespace rs
