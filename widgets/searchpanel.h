#pragma once
// The search dock: runs the LongRoPE2 evolutionary search on the background evaluation thread
// (start / pause / resume / stop), follows the run log of a headless search, plots both live, and
// scores hand tuning: every edit of the factor document is scored in the background after a short
// debounce, next to the original RoPE, PI, NTK and YaRN on the same needle samples.
//
// The needle samples have the document's target length L (the length field edits it), so the
// hand-tuned λ, the references and the searched λ all answer the same question; "Apply best"
// puts the search's answer (and its d_rcd and L) into the document as one undo step.
//
// Live scores never outlive what they were computed for: every change of the model, the document's
// config, L, the samples or the attention factor clears the figures it invalidates at once (answers
// to older requests are dropped), and the row says what its figures are on (model, L, samples and
// seeds, attention factor). Scores arrive sample by sample ("2/4 samples: 31.2…"); by default an
// edit is scored quickly on the first sample only, next to the families on that same sample, and
// "Score fully" scores it on all of them.
//
// A run (local or followed) says what it was computed on — model, L, samples and seeds, the
// validation samples — and the plot compares it only with figures on those samples: the run's
// own baselines (scored at its start) for the search and validation sets, and the live scores
// only when the dock's samples are the run's.
#include "worker/evaluationservice.h"
#include "worker/runlogfollower.h"

#include <QElapsedTimer>
#include <QMap>
#include <QWidget>

#include <deque>
#include <utility>
#include <vector>
#include <optional>

class QComboBox;
class QGridLayout;
class QGroupBox;
class QHBoxLayout;
class QCheckBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;
class QTableWidget;
class QTimer;
class QToolButton;

namespace rs {

class FactorDocument;
class SearchPlot;

class SearchPanel : public QWidget {
    Q_OBJECT

public:
    // The shipped model's cache folder and what to call it instead ("embedded model").
    QString modelLabelText() const;
    void setEmbeddedModel(const QString &directory, const QString &name);
    enum class State { Idle, Starting, Searching, Paused, Following };
    static constexpr int kScoreDebounceMs = 300;
    // The references and the hand-tuned λ as shown in the panel and on the plot.
    static const QStringList &referenceNames();

    SearchPanel(FactorDocument *document, EvaluationService *evaluation, QWidget *parent = nullptr);

    State state() const { return m_state; }
    bool hasModel() const { return m_model.has_value(); }
    const std::optional<ModelInfo> &model() const { return m_model; }

    // The needle samples every score and search uses now.
    NeedleEvalSettings sampleSettings() const;
    // The search the Start button launches, from the fields and the loaded model's RoPE.
    SearchSettings searchSettings() const;
    // Its held-out samples (samples == 0: no validation): the sample settings with the validation
    // count and seed (auto: the seeds right after the search's).
    NeedleEvalSettings validationSettings() const;

    // Each reports errorOccurred and returns false when it cannot start.
    bool startSearch();
    void togglePause();
    void stopSearch();
    // Replays the log and follows it live. Throws rs::Error (naming the file) when it is not a run
    // log; the plots are left as they were then.
    void followLog(const QString &path);
    // One undo step; false (and errorOccurred) when there is nothing that fits the document.
    bool applyBest();

    bool hasBest() const { return m_best.has_value(); }
    std::vector<double> bestLambda() const { return m_best ? m_best->lambda : std::vector<double>{}; }
    double bestPpl() const { return m_best ? m_best->ppl : 0.0; }
    int bestDRcd() const { return m_best ? m_best->dRcd : -1; }
    double bestAttentionFactor() const { return m_best ? m_best->attentionFactor : 1.0; }
    // Needle PPL of the document's λ, once scored on the row's samples (NaN before).
    double handTunedPpl() const { return m_handTunedPpl; }
    // The live row's figures are on this many samples (the first of sampleSettings()): 1 for a
    // quick score, all of them for a full one.
    int liveSampleCount() const;
    // What the live row's figures were computed on (model, L, samples and seeds, attention
    // factor); empty while there is nothing to show.
    QString liveScoreText() const { return m_liveText; }
    // Scores the document's λ on every sample now (a quick score is on the first only).
    void scoreFully();
    double referencePpl(const QString &name) const { return m_referencePpl.value(name, qQNaN()); }
    QString statusText() const { return m_statusText; }
    int candidateCount() const { return m_candidateCount; }

    SearchPlot *plot() const { return m_plot; }
    RunLogFollower *follower() const { return m_follower; }
    QTableWidget *rankTable() const { return m_rankTable; }  // a followed MPI run's ranks
    QComboBox *methodCombo() const { return m_method; }
    QSpinBox *populationSpinBox() const { return m_population; }
    QSpinBox *iterationsSpinBox() const { return m_iterations; }
    QSpinBox *samplesSpinBox() const { return m_samples; }
    QSpinBox *lengthSpinBox() const { return m_length; }
    QSpinBox *seedSpinBox() const { return m_seed; }
    QLineEdit *logPathEdit() const { return m_logPath; }
    QCheckBox *resumeCheckBox() const { return m_resume; }
    QCheckBox *racingCheckBox() const { return m_racing; }
    QCheckBox *searchAttentionCheckBox() const { return m_searchAttention; }
    QSpinBox *validationSamplesSpinBox() const { return m_validationSamples; }  // −1: auto (2 × samples)
    QSpinBox *validationSeedSpinBox() const { return m_validationSeed; }  // −1: auto
    QComboBox *fitnessCombo() const { return m_fitness; }
    QComboBox *chooseByCombo() const { return m_chooseBy; }
    QCheckBox *familySeedsCheckBox() const { return m_familySeeds; }
    // Where and in what precision models load ("auto" / "cpu" / "cuda:N"; "" auto, "float32" …),
    // chosen here so that no one needs the CLI for it; remembered in QSettings.
    QComboBox *deviceCombo() const { return m_device; }
    QComboBox *dtypeCombo() const { return m_dtype; }
    ModelLoadSettings modelLoadSettings() const;
    // What Start would cost in evaluations, explained (search samples, validation, baselines).
    QLabel *budgetLabel() const { return m_budget; }
    QLabel *statusLabel() const { return m_status; }
    // What the displayed run was computed on (empty before a run).
    QString runText() const;
    bool hasRun() const { return m_plan.targetLength > 0; }
    // The run's baselines (empty until it has scored them).
    const SearchBaselines &runBaselines() const { return m_runBaselines; }
    double bestValidationPpl() const { return m_best ? m_best->validationPpl : qQNaN(); }
    QPushButton *startButton() const { return m_start; }
    QPushButton *pauseButton() const { return m_pause; }
    QPushButton *stopButton() const { return m_stop; }
    QPushButton *applyBestButton() const { return m_applyBest; }
    QLabel *scoreLabel(const QString &name) const { return m_scoreLabels.value(name); }
    QCheckBox *quickScoreCheckBox() const { return m_quickScore; }
    QPushButton *scoreFullyButton() const { return m_scoreFully; }
    QLabel *liveCaption() const { return m_liveCaption; }

    // As narrow as the settings in one column allow (they take two when the panel is wide enough).
    QSize minimumSizeHint() const override;

protected:
    void resizeEvent(QResizeEvent *event) override;

signals:
    void searchStarted(const rs::SearchPlan &plan);
    void candidateAdded(const rs::CandidateEvaluation &candidate);
    void generationAdded(const rs::GenerationReport &report);
    void searchFinished(const rs::SearchOutcome &outcome);
    void stateChanged(rs::SearchPanel::State state);
    // The best factors found so far changed (bestLambda()); empty when a new run begins.
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
    struct Best {
        std::vector<double> lambda;
        double ppl = 0;
        int dRcd = -1;
        double attentionFactor = 1.0;
        int targetLength = 0;
        double validationPpl = qQNaN();
    };

    void buildUi();
    QToolButton *createSettingsFields(QGroupBox *box);
    QGroupBox *buildSettingsBox();
    QHBoxLayout *buildRunButtons();
    QGroupBox *buildScoresBox();
    void connectFields();
    void arrangeSettings(bool twoColumns);
    void setState(State state);
    void updateButtons();
    void updateModelLabel();
    void syncLengthFromDocument();
    void commitLength();
    void scheduleScoring();
    void requestScores();
    void requestScoresOn(int sampleCount);
    // Why the document's λ cannot be scored on the loaded model (another geometry); empty when it can.
    QString mismatchReason() const;
    // Model, L, samples, depth and corpus of the live scores now.
    QString liveKey() const;
    // Drops the shown hand-tuned score (and the references when liveKey() moved on); answers to
    // the requests that made them are ignored from now on.
    void invalidateLiveScores();
    // Writes the row, its caption and tooltips, and the plot's reference lines from what arrived.
    QString modelName(const QString &directory) const;
    void addUncertainty(int basis);
    void refreshLiveRow();
    void onScoreArrived(const ScoreResult &score);
    void onReferencesArrived(const ReferenceScores &references);
    void showNote(const QString &text);

    void onModelLoaded(const ModelInfo &info);
    void onWorkerFailed(WorkerTask task, const QString &message);
    void onRunStarted(const SearchPlan &plan);
    void onCandidate(const CandidateEvaluation &candidate);
    void onGeneration(const GenerationReport &report);
    void onRunFinished(const SearchOutcome &outcome);
    void offerBest(const std::vector<double> &lambda, double ppl, int dRcd, double attentionFactor);
    // With validation the run's reports name its answer, which may have a worse search fitness.
    void takeBest(const std::vector<double> &lambda, double ppl, int dRcd, double attentionFactor, double validationPpl);
    void onBaselines(const SearchBaselines &baselines);
    void showRankStatistics(const RankStatistics &statistics);
    bool runValidates() const { return m_plan.validationSamples.samples > 0; }
    // True when the live scores (the dock's samples on the loaded model) are on the run's samples.
    bool liveScoresMatchRun() const;
    // Puts the live references and the hand-tuned λ on the plot only where they compare with the run.
    void updatePlotReferences();
    void updateRunLabel();
    void updateStatus();
    void updateBudget();

    FactorDocument *m_document;
    EvaluationService *m_evaluation;
    RunLogFollower *m_follower;
    SearchPlot *m_plot;
    QTimer *m_scoreTimer;

    QLabel *m_modelLabel;
    QComboBox *m_method;
    QSpinBox *m_population;
    QSpinBox *m_iterations;
    QSpinBox *m_samples;
    QSpinBox *m_length;
    QSpinBox *m_seed;
    QLineEdit *m_corpus;
    QLineEdit *m_logPath;
    QCheckBox *m_resume;
    QCheckBox *m_racing;
    QCheckBox *m_searchAttention;
    QString m_embeddedModelDir, m_embeddedModelName;
    QSpinBox *m_validationSamples;
    QSpinBox *m_validationSeed;
    QComboBox *m_fitness;
    QComboBox *m_chooseBy;
    QCheckBox *m_familySeeds;
    QComboBox *m_device;
    QComboBox *m_dtype;
    QLabel *m_budget;
    QGridLayout *m_settingsGrid = nullptr;
    std::vector<std::pair<QLabel *, QWidget *>> m_pairedFields;
    QLabel *m_corpusLabel = nullptr;
    QLabel *m_logLabel = nullptr;
    QHBoxLayout *m_logRow = nullptr;
    QLabel *m_budgetLabel = nullptr;
    bool m_twoColumns = false;
    int m_twoColumnWidth = 0;  // the settings box's minimum width in each arrangement
    int m_oneColumnWidth = 0;
    QWidget *m_settingsBox = nullptr;
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

    State m_state = State::Idle;
    std::optional<ModelInfo> m_model;
    QString m_loadingMessage;
    SearchPlan m_plan;
    SearchBaselines m_runBaselines;
    std::optional<Best> m_best;
    int m_candidateCount = 0;
    int m_cacheHits = 0;
    int m_generationsDone = 0;
    int m_validationEvaluations = 0;  // of the run so far, from its latest generation report
    int m_baselineEvaluations = 0;
    QElapsedTimer m_clock;
    std::deque<qint64> m_recentArrivals;  // ms on m_clock of the latest live candidates
    QString m_statusText;

    quint64 m_scoreRequest = 0;       // the latest hand-tuning request; older answers are ignored
    quint64 m_referencesRequest = 0;
    QString m_referencesKey;          // what the shown references were computed for
    double m_handTunedPpl = qQNaN();  // complete: the mean over the m_scoreWanted samples
    std::vector<double> m_handTunedPerSample;  // of the latest request, as far as scored
    int m_scoreWanted = 0;            // samples the latest request scores; 0: none requested
    double m_scoreAttention = 1.0;    // the attention factor it runs with
    double m_scoreSeconds = 0;
    ReferenceScores m_references;     // as far as scored, for m_referencesKey
    QMap<QString, double> m_referencePpl;  // complete figures on the row's samples
    QString m_liveText;
    // ROPESCOPE_LIVE_TIMING=1 prints the time from an edit to its first and its complete figure.
    bool m_printTiming = false;
    QElapsedTimer m_editClock;
    bool m_firstFigureShown = false;
};

} // namespace rs

Q_DECLARE_METATYPE(rs::SearchPanel::State)
