#pragma once
// The evaluation workbench dock: the validation half of a context-extension workflow. Choose
// methods (the original RoPE, PI, NTK, YaRN, Llama 3.1, the model's own config, the edited λ, the
// search's best, any factor file), context lengths and needle depths; a sweep then runs on the
// background evaluation thread (progress, cancellable) and its plots grow cell by cell: needle PPL
// and held-out perplexity against context length with 95 % interval bands, and the
// needle-in-a-haystack heatmap per method. Results save as JSON or CSV and open again; either plot
// exports to PNG or PDF.
#include "eval/sweepresult.h"
#include "worker/evaluationservice.h"

#include <QSize>
#include <QWidget>

#include <optional>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTabWidget;

namespace rs {

class SweepCurvePlot;
class SweepHeatmapPlot;

class WorkbenchPanel : public QWidget {
    Q_OBJECT

public:
    enum class State { Idle, Running, Cancelling };
    enum class Plot { Curves, Heatmap };
    // Method rows offered besides the families when their factors are known.
    static inline const QString kEditedName = QStringLiteral("edited λ");
    static inline const QString kSearchBestName = QStringLiteral("search best");

    WorkbenchPanel(EvaluationService *evaluation, QWidget *parent = nullptr);

    State state() const { return m_state; }
    bool hasModel() const { return m_model.has_value(); }

    // The hand-tuned factors and the search's best as methods (deployed as longrope: the original
    // RoPE up to L_train); empty λ removes the row.
    void setEditedFactors(const std::vector<double> &lambda, double attentionFactor);
    void setSearchBest(const std::vector<double> &lambda, double attentionFactor);
    // The target the families are set up for and the longest default length.
    void setTargetLength(int length);
    int targetLength() const;
    // Adds a factor file as a method; false (and errorOccurred, naming the file) when it does not fit
    // the loaded model.
    bool addFactorFile(const QString &path);

    // What the Run button would start now.
    SweepSettings sweepSettings() const;
    std::vector<SweepMethodSpec> sweepMethods() const;

    // Each reports errorOccurred and returns false when it cannot.
    bool startSweep();
    // The sweep's price on the loaded model's device (common/forwardcost.h, the live score's and
    // the search's estimate too): one forward per sample of every cell at its length; memory at
    // the longest length. Empty without a model's figures.
    std::optional<CostEstimate> sweepPrice(const SweepSettings &settings, int methods) const;
    // startSweep asks first (a dialog) above an hour or half the device's memory; tests turn it off.
    void setPromptsEnabled(bool enabled) { m_promptsEnabled = enabled; }
    void cancelSweep();
    bool saveResult(const QString &path);
    // A saved result (JSON or CSV) replaces the shown one; rs::Error's message on failure.
    bool openResult(const QString &path);
    // PNG or PDF by the suffix; at `size` (pixels; PDF: points) or, when empty, as shown.
    bool exportPlot(const QString &path, Plot plot, QSize size = {});
    // Every plot at `size`: PATH's base name with -lengths and -heatmap before the suffix
    // (sweep.pdf → sweep-lengths.pdf, sweep-heatmap.pdf).
    bool exportAllPlots(const QString &path, QSize size = {});
    // The paths exportAllPlots writes for `path`.
    static QStringList allPlotPaths(const QString &path);

    const SweepResult &result() const { return m_result; }

    SweepCurvePlot *curvePlot() const { return m_curves; }
    SweepHeatmapPlot *heatmapPlot() const { return m_heatmap; }
    QListWidget *methodList() const { return m_methods; }
    QLineEdit *lengthsEdit() const { return m_lengths; }
    QLineEdit *depthsEdit() const { return m_depths; }
    QSpinBox *samplesSpinBox() const { return m_samples; }
    QSpinBox *seedSpinBox() const { return m_seed; }
    QCheckBox *passkeyCheckBox() const { return m_passkey; }
    QCheckBox *heldOutCheckBox() const { return m_heldOut; }
    QComboBox *referenceCombo() const { return m_reference; }
    QComboBox *engineCombo() const { return m_engine; }
    QComboBox *heatmapMethodCombo() const { return m_heatmapMethod; }
    QComboBox *heatmapMetricCombo() const { return m_heatmapMetric; }
    QPushButton *runButton() const { return m_run; }
    QPushButton *cancelButton() const { return m_cancel; }
    QProgressBar *progressBar() const { return m_progress; }
    QTabWidget *tabs() const { return m_tabs; }

Q_SIGNALS:
    void sweepStarted(const rs::SweepPlan &plan);
    void cellAdded(const rs::SweepCell &cell);
    void sweepFinished(const rs::SweepResult &result);
    void stateChanged(rs::WorkbenchPanel::State state);
    void errorOccurred(const QString &message);
    void statusMessage(const QString &text);

private:
    // The Export plot… button: size and which plots, then the file.
    void askExport();
    struct FactorSource {
        QString name;
        std::vector<double> lambda;
        double attentionFactor = 0;
        QString source;
    };
    void buildUi();
    void setState(State state);
    void updateButtons();
    void refreshMethodRows();
    void rebuildReferences();
    void setFactorRow(const QString &name, const std::vector<double> &lambda, double attentionFactor, const QString &source);
    void defaultLengths();
    void showResult();
    void refreshHeatmapMethods();

    void onModelLoaded(const ModelInfo &info);
    void onSweepStarted(const SweepPlan &plan);
    void onCell(const SweepCellReport &report);
    void onFinished(const SweepOutcome &outcome);
    void onFailed(WorkerTask task, const QString &message);

    EvaluationService *m_evaluation;
    std::optional<ModelInfo> m_model;
    std::vector<FactorSource> m_factorSources;  // edited λ, search best, factor files
    int m_targetLength = 0;

    QLabel *m_modelLabel;
    QListWidget *m_methods;
    QPushButton *m_addFactors;
    QLineEdit *m_lengths;
    QLineEdit *m_depths;
    QSpinBox *m_samples;
    QSpinBox *m_seed;
    QCheckBox *m_passkey;
    QCheckBox *m_heldOut;
    QComboBox *m_reference;
    QComboBox *m_engine;  // whose reading of the exported config factor sets are scored with
    QPushButton *m_run;
    QPushButton *m_cancel;
    QPushButton *m_open;
    QPushButton *m_save;
    QPushButton *m_export;
    QProgressBar *m_progress;
    QLabel *m_status;
    QTabWidget *m_tabs;
    SweepCurvePlot *m_curves;
    SweepHeatmapPlot *m_heatmap;
    QComboBox *m_heatmapMethod;
    QComboBox *m_heatmapMetric;

    State m_state = State::Idle;
    bool m_promptsEnabled = true;
    quint64 m_request = 0;  // the latest sweep's id; reports of other ids are ignored
    SweepResult m_result;
};

} // namespace rs

Q_DECLARE_METATYPE(rs::WorkbenchPanel::State)
