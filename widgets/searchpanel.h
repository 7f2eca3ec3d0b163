#pragma once
// The search dock, composed of its parts: the settings form (searchsettingsform.h), the run
// controller (searchruncontroller.h: start / pause / resume / stop a search on the background
// evaluation thread, follow the run log of a headless one), the live scores of hand tuning
// (livescores.h: every edit of the factor document scored after a short debounce, next to the
// original RoPE, PI, NTK and YaRN on the same needle samples) and the plot (searchplot.h) that
// shows both.
//
// The needle samples have the document's target length L (the length field edits it), so the
// hand-tuned λ, the references and the searched λ all answer the same question; "Apply best"
// puts the search's answer (and its d_rcd and L) into the document as one undo step.
//
// A run (local or followed) says what it was computed on — model, L, samples and seeds, the
// validation samples — and the plot compares it only with figures on those samples: the run's
// own baselines (scored at its start) for the search and validation sets, and the live scores
// only when the dock's samples are the run's.
#include "livescores.h"
#include "searchruncontroller.h"
#include "searchsettingsform.h"

#include <QMap>
#include <QWidget>

#include <optional>

class QCheckBox;
class QComboBox;
class QHBoxLayout;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;
class QTableWidget;

namespace rs {

class FactorDocument;
class SearchPlot;

class SearchPanel : public QWidget {
    Q_OBJECT

public:
    using State = SearchRunController::State;
    static constexpr int kScoreDebounceMs = LiveScores::kDebounceMs;
    // The references and the hand-tuned λ as shown in the panel and on the plot.
    static const QStringList &referenceNames() { return LiveScores::names(); }

    SearchPanel(FactorDocument *document, EvaluationService *evaluation, QWidget *parent = nullptr);

    // The shipped model's cache folder and what to call it instead ("embedded model").
    QString modelLabelText() const;
    void setEmbeddedModel(const QString &directory, const QString &name);

    State state() const { return m_run->state(); }
    bool hasModel() const { return m_live->model().has_value(); }
    const std::optional<ModelInfo> &model() const { return m_live->model(); }

    SearchSettingsForm *form() const { return m_form; }
    SearchRunController *runController() const { return m_run; }
    LiveScores *liveScores() const { return m_live; }

    // The needle samples every score and search uses now.
    NeedleEvalSettings sampleSettings() const { return m_form->sampleSettings(); }
    // The search the Start button launches, from the fields and the loaded model's RoPE.
    SearchSettings searchSettings() const;
    // Its held-out samples (samples == 0: no validation).
    NeedleEvalSettings validationSettings() const { return m_form->validationSettings(); }

    // Each reports errorOccurred and returns false when it cannot start.
    bool startSearch();
    // Why Start cannot run now (no model; a document whose RoPE is not the model's, so the answer
    // would not fit it); empty when it can. Start's tooltip says it.
    QString startBlockedReason() const;
    // Start asks first (a dialog) when the price is over an hour or half the device's memory;
    // empty when it is not. Tests turn the dialog off and read the warning.
    QString priceWarning() const;
    void setPromptsEnabled(bool enabled) { m_promptsEnabled = enabled; }
    void togglePause() { m_run->togglePause(); }
    void stopSearch();
    // Replays the log and follows it live. Throws rs::Error (naming the file) when it is not a run
    // log; the plots are left as they were then.
    void followLog(const QString &path) { m_run->follow(path); }
    // One undo step; false (and errorOccurred) when there is nothing that fits the document.
    bool applyBest();

    bool hasBest() const { return m_run->best().has_value(); }
    // Why the search's answer does not belong to what is open now (another model, RoPE or target
    // length than it was found for); empty when it does or there is none. Apply best is then off,
    // the status says so, and bestApplies() is false (the window drops its overlay).
    QString bestContextMismatch() const;
    // There is an answer, it fits the document and belongs to the present context.
    bool bestApplies() const;
    std::vector<double> bestLambda() const { return hasBest() ? m_run->best()->lambda : std::vector<double>{}; }
    double bestPpl() const { return hasBest() ? m_run->best()->ppl : 0.0; }
    int bestDRcd() const { return hasBest() ? m_run->best()->dRcd : -1; }
    double bestAttentionFactor() const { return hasBest() ? m_run->best()->attentionFactor : 1.0; }
    double bestValidationPpl() const { return hasBest() ? m_run->best()->validationPpl : qQNaN(); }
    // Needle PPL of the document's λ, once scored on the row's samples (NaN before).
    double handTunedPpl() const { return m_live->handTunedPpl(); }
    // The live row's figures are on this many samples (the first of sampleSettings()).
    int liveSampleCount() const { return m_live->sampleCount(); }
    // What the live row's figures were computed on; empty while there is nothing to show.
    QString liveScoreText() const { return m_live->caption(); }
    // Scores the document's λ on every sample now (a quick score is on the first only).
    void scoreFully() { m_live->scoreFully(); }
    double referencePpl(const QString &name) const { return m_live->referencePpl(name); }
    QString statusText() const { return m_run->statusText(); }
    int candidateCount() const { return m_run->candidateCount(); }

    SearchPlot *plot() const { return m_plot; }
    // Takes the plot out of the panel (which keeps feeding it) for a window that shows it in a view
    // of its own; the panel's rows then keep to the top.
    SearchPlot *releasePlot();
    RunLogFollower *follower() const { return m_run->follower(); }
    QTableWidget *rankTable() const { return m_rankTable; }  // a followed MPI run's ranks
    QComboBox *methodCombo() const { return m_form->methodCombo(); }
    QSpinBox *populationSpinBox() const { return m_form->populationSpinBox(); }
    QSpinBox *iterationsSpinBox() const { return m_form->iterationsSpinBox(); }
    QSpinBox *samplesSpinBox() const { return m_form->samplesSpinBox(); }
    QSpinBox *lengthSpinBox() const { return m_form->lengthSpinBox(); }
    QSpinBox *seedSpinBox() const { return m_form->seedSpinBox(); }
    QLineEdit *logPathEdit() const { return m_form->logPathEdit(); }
    QCheckBox *resumeCheckBox() const { return m_form->resumeCheckBox(); }
    QCheckBox *racingCheckBox() const { return m_form->racingCheckBox(); }
    QCheckBox *searchAttentionCheckBox() const { return m_form->searchAttentionCheckBox(); }
    QSpinBox *validationSamplesSpinBox() const { return m_form->validationSamplesSpinBox(); }  // −1: auto
    QSpinBox *validationSeedSpinBox() const { return m_form->validationSeedSpinBox(); }  // −1: auto
    QComboBox *fitnessCombo() const { return m_form->fitnessCombo(); }
    QComboBox *chooseByCombo() const { return m_form->chooseByCombo(); }
    QCheckBox *familySeedsCheckBox() const { return m_form->familySeedsCheckBox(); }
    // Where and in what precision models load ("auto" / "cpu" / "cuda:N"; "" auto, "float32" …),
    // chosen here so that no one needs the CLI for it; remembered in QSettings.
    QComboBox *deviceCombo() const { return m_form->deviceCombo(); }
    QComboBox *dtypeCombo() const { return m_form->dtypeCombo(); }
    ModelLoadSettings modelLoadSettings() const { return m_form->modelLoadSettings(); }
    // What Start would cost in evaluations, explained (search samples, validation, baselines).
    QLabel *budgetLabel() const { return m_form->budgetLabel(); }
    QLabel *statusLabel() const { return m_status; }
    // What the displayed run was computed on (empty before a run).
    QString runText() const;
    bool hasRun() const { return m_run->hasRun(); }
    // The run's baselines (empty until it has scored them).
    const SearchBaselines &runBaselines() const { return m_run->baselines(); }
    QPushButton *startButton() const { return m_start; }
    QPushButton *pauseButton() const { return m_pause; }
    QPushButton *stopButton() const { return m_stop; }
    QPushButton *applyBestButton() const { return m_applyBest; }
    QLabel *scoreLabel(const QString &name) const { return m_scoreLabels.value(name); }
    QCheckBox *quickScoreCheckBox() const { return m_quickScore; }
    QPushButton *scoreFullyButton() const { return m_scoreFully; }
    QLabel *liveCaption() const { return m_liveCaption; }

signals:
    void searchStarted(const rs::SearchPlan &plan);
    void candidateAdded(const rs::CandidateEvaluation &candidate);
    void generationAdded(const rs::GenerationReport &report);
    void searchFinished(const rs::SearchOutcome &outcome);
    void stateChanged(rs::SearchRunController::State state);
    // The best factors found so far changed (bestLambda()), or whether they apply (bestApplies());
    // empty when a new run begins.
    void bestChanged();
    // Needle PPL of the document's λ arrived (handTunedPpl()).
    void handTunedScored(double ppl);
    void referencesScored();
    // Evaluations per second, ETA and progress, for the status bar.
    void statusMessage(const QString &text);
    void errorOccurred(const QString &message);
    // The user chose another device or precision while a model is loaded: load it again so.
    void modelSettingsChanged(const rs::ModelLoadSettings &settings);

private:
    void buildUi();
    QHBoxLayout *buildRunButtons();
    QWidget *buildScoresBox();
    QTableWidget *buildRankTable();
    void connectParts();
    void connectRun();
    void updateButtons();
    void updateModelLabel();
    void updateBudget();
    void syncLengthFromDocument();
    void commitLength(int length);
    QString modelName(const QString &directory) const;
    // Writes the live row (figures, tooltips, caption) and the plot's reference lines.
    void showLiveRow();
    void showNote(const QString &text);
    void showRankStatistics(const RankStatistics &statistics);
    void onModelLoaded(const ModelInfo &info);
    void onContextChanged();
    void showStatus();
    void onRunStarted(const SearchPlan &plan);
    // True when the live scores (the dock's samples on the loaded model) are on the run's samples.
    bool liveScoresMatchRun() const;
    // Puts the live references and the hand-tuned λ on the plot only where they compare with the run.
    void updatePlotReferences();
    void updateRunLabel();

    FactorDocument *m_document;
    EvaluationService *m_evaluation;
    SearchSettingsForm *m_form;
    SearchRunController *m_run;
    LiveScores *m_live;
    SearchPlot *m_plot;

    QString m_embeddedModelDir, m_embeddedModelName;
    bool m_promptsEnabled = true;
    QString m_loadingMessage;
    bool m_bestApplied = false;  // bestApplies() as last announced by bestChanged
    QLabel *m_modelLabel;
    QLabel *m_runLabel;
    QPushButton *m_start;
    QPushButton *m_pause;
    QPushButton *m_stop;
    QPushButton *m_applyBest;
    QLabel *m_status;
    QLabel *m_note;
    QTableWidget *m_rankTable = nullptr;
    QMap<QString, QLabel *> m_scoreLabels;
    QCheckBox *m_quickScore;
    QPushButton *m_scoreFully;
    QLabel *m_liveCaption;
};

} // namespace rs
