#pragma once
// The search dock's settings form: method, population, generations, samples, L, seeds,
// validation, fitness, the answer's choice, device and precision, corpus, run log, the search's
// options, and what Start would cost in evaluations. Every default is the search job's
// (worker/searchjobsettings.h), the CLI's too; device and precision are remembered in QSettings.
// Its fields sit two per row when the dock is wide enough and one per row when it is narrow.
#include "worker/messages.h"

#include <QGroupBox>

#include <optional>
#include <utility>
#include <vector>

class QCheckBox;
class QComboBox;
class QGridLayout;
class QHBoxLayout;
class QLabel;
class QLineEdit;
class QSpinBox;

namespace rs {

class EvaluationService;

class SearchSettingsForm : public QGroupBox {
    Q_OBJECT

public:
    static constexpr int kLongestLength = 1 << 24;

    SearchSettingsForm(EvaluationService *evaluation, QWidget *parent = nullptr);

    // The needle samples every score and search uses now.
    NeedleEvalSettings sampleSettings() const;
    // The search Start launches, on `rope` (the loaded model's RoPE; none: the settings' defaults).
    SearchSettings searchSettings(const std::optional<RopeConfig> &rope) const;
    // Its held-out samples (samples == 0: no validation): the sample settings with the validation
    // count and seed (auto: the seeds right after the search's).
    NeedleEvalSettings validationSettings() const;
    ModelLoadSettings modelLoadSettings() const;
    QString logPath() const;
    bool resume() const;

    // Shows L without announcing an edit (the document's target changed).
    void showLength(int length);
    // What Start would cost on `rope`, split as the run's budget counts it, and, with the loaded
    // model's figures (`cost` valid), its price: memory and time of every evaluation one after
    // another at L on that device (common/forwardcost.h, the live score's estimate too).
    void updateBudget(const RopeConfig &rope, const ForwardCostFigures &cost = {});
    // The last price updateBudget() made; empty without a model's figures or with invalid settings.
    const std::optional<CostEstimate> &price() const { return m_price; }
    // While a search runs its settings cannot change.
    void setRunning(bool running);
    // While a run is followed the form shows its settings, read-only (logPath: the followed log);
    // the user's own come back with showOwn(). Meanwhile sampleSettings(), searchSettings() and
    // validationSettings() still answer with the user's.
    void showRun(const SearchPlan &plan, const QString &logPath);
    void showOwn();
    bool showsRun() const { return m_own.has_value(); }

    QComboBox *methodCombo() const { return m_method; }
    QSpinBox *populationSpinBox() const { return m_population; }
    QSpinBox *iterationsSpinBox() const { return m_iterations; }
    QSpinBox *samplesSpinBox() const { return m_samples; }
    QSpinBox *lengthSpinBox() const { return m_length; }
    QSpinBox *seedSpinBox() const { return m_seed; }
    QLineEdit *corpusEdit() const { return m_corpus; }
    QLineEdit *logPathEdit() const { return m_logPath; }
    QCheckBox *resumeCheckBox() const { return m_resume; }
    QCheckBox *racingCheckBox() const { return m_racing; }
    QCheckBox *searchAttentionCheckBox() const { return m_searchAttention; }
    QSpinBox *validationSamplesSpinBox() const { return m_validationSamples; }
    QSpinBox *validationSeedSpinBox() const { return m_validationSeed; }
    QComboBox *fitnessCombo() const { return m_fitness; }
    QComboBox *chooseByCombo() const { return m_chooseBy; }
    QCheckBox *familySeedsCheckBox() const { return m_familySeeds; }
    QComboBox *methodComboBox() const { return m_method; }
    QCheckBox *decoupleAnchorCheckBox() const { return m_decoupleAnchor; }
    QCheckBox *dRcdAboveTcdCheckBox() const { return m_dRcdAboveTcd; }
    QSpinBox *keepOriginalDimsSpinBox() const { return m_keepOriginalDims; }
    QComboBox *deviceCombo() const { return m_device; }
    QComboBox *dtypeCombo() const { return m_dtype; }
    QLabel *budgetLabel() const { return m_budget; }

    // As narrow as one column allows (two are used whenever they fit).
    QSize minimumSizeHint() const override;

signals:
    // The user edited L (the document's target length).
    void lengthEdited(int length);
    // The needle samples changed (count, seed, corpus): live scores are stale.
    void samplesChanged();
    // A field the cost depends on changed.
    void budgetInputsChanged();
    // The user chose another device or precision.
    void modelSettingsChosen(const rs::ModelLoadSettings &settings);

protected:
    void resizeEvent(QResizeEvent *event) override;

private:
    // What the fields hold.
    struct Values {
        int method = 0;
        int population = 0, iterations = 0, samples = 0, length = 0, seed = 0;
        int validationSamples = 0, validationSeed = 0;
        QString corpus, logPath;
        bool resume = false, racing = false, searchAttention = false, familySeeds = false;
        bool decoupleAnchor = false, dRcdAboveTcd = false;  // the search space's extensions
        int keepOriginalDims = 0;
        int fitness = 0;
        bool chooseByValidation = true;
    };
    Values read() const;
    static SearchSettings settingsOf(const Values &values, const std::optional<RopeConfig> &rope);
    void write(const Values &values);
    // The user's values: read from the fields, or held while a followed run's are shown.
    Values own() const { return m_own ? *m_own : read(); }
    void applyEnabled();

    QWidget *createFields();
    void createChoices();
    void pairFields(QWidget *browseLog);
    void connectFields();
    void arrangeSettings(bool twoColumns);

    EvaluationService *m_evaluation;
    bool m_running = false;
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
    QSpinBox *m_validationSamples;
    QSpinBox *m_validationSeed;
    QComboBox *m_fitness;
    QComboBox *m_chooseBy;
    QCheckBox *m_familySeeds;
    QCheckBox *m_decoupleAnchor;
    QCheckBox *m_dRcdAboveTcd;
    QSpinBox *m_keepOriginalDims;
    QComboBox *m_device;
    QComboBox *m_dtype;
    QLabel *m_budget;
    QGridLayout *m_grid = nullptr;
    std::vector<std::pair<QLabel *, QWidget *>> m_pairedFields;
    QLabel *m_corpusLabel = nullptr;
    QLabel *m_logLabel = nullptr;
    QHBoxLayout *m_logRow = nullptr;
    QLabel *m_budgetLabel = nullptr;
    bool m_twoColumns = false;
    int m_twoColumnWidth = 0;  // the minimum width in each arrangement
    int m_oneColumnWidth = 0;
    std::optional<CostEstimate> m_price;
    std::optional<Values> m_own;  // the user's, while a followed run's settings are shown
};

} // namespace rs
