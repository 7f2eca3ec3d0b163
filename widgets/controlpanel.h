#pragma once
// The side panel: what the open config says (model, d, base, L_train, d_tcd, d_10, …), the
// target length, d_rcd and attention factor controls, the family overlays (show / apply) and the
// constraint check.
#include "common/forwardcost.h"

#include <QMap>
#include <QWidget>

#include <optional>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QGridLayout;
class QLabel;
class QPushButton;
class QSpinBox;
class QToolButton;

namespace rs {

class FactorDocument;

class ControlPanel : public QWidget {
    Q_OBJECT

public:
    explicit ControlPanel(FactorDocument *document, QWidget *parent = nullptr);

    QSpinBox *dRcdSpinBox() const { return m_dRcd; }
    QComboBox *targetLengthCombo() const { return m_targetLength; }
    // Says why a typed target was refused, or warns when L < L_train; hidden otherwise.
    QLabel *targetLengthNote() const { return m_targetNote; }
    // The explicit attention factor, or the longrope default it shows with a "default" suffix.
    QDoubleSpinBox *attentionFactorSpinBox() const { return m_attention; }
    QToolButton *attentionDefaultButton() const { return m_attentionDefault; }
    QCheckBox *familyCheckBox(const QString &name) const { return m_familyChecks.value(name); }
    QPushButton *applyButton(const QString &name) const { return m_applyButtons.value(name); }
    QLabel *violationLabel() const { return m_violations; }
    // The model live scores run on: named in the Model box ("Live scores"), and priced before a
    // target length is set (common/forwardcost.h). A Target L whose forward cannot fit is refused at
    // the field, naming the largest that fits; one above kAskSeconds per forward or half the
    // device's memory is asked about (or, with prompts off, set with a warning at the field).
    void setLoadedModel(const QString &name, const ForwardCostFigures &cost);
    // Prices of live scores at a new Target L use the throughput measured on the loaded model.
    void setMeasuredThroughput(double flopsPerSecond, const QString &device, const QString &source);
    void clearLoadedModel();
    QLabel *loadedModelLabel() const { return m_loadedModel; }
    // Whether a question may be asked (off for tests and screenshots: the answer is yes).
    void setPromptsEnabled(bool enabled) { m_promptsEnabled = enabled; }
    static constexpr double kAskSeconds = 60;

private:
    void refreshSummary();
    void refreshTargetChoices();
    void rebuildFamilyRows();
    void refreshFamilyChecks();
    void refreshTabOrder();
    void refreshViolations();
    void commitTargetLength();
    void refreshTargetNote();
    void refreshAttentionFactor();
    // Empty when the loaded model's live scores can run at `length`; else why not, naming Target L.
    QString priceRefusal(double length) const;
    // Empty, or the warning for a length above the ask threshold.
    QString priceWarning(double length) const;
    bool confirmPrice(const QString &warning);

    FactorDocument *m_document;
    QLabel *m_model;
    QLabel *m_source;
    QLabel *m_rotaryDims;
    QLabel *m_base;
    QLabel *m_trainLength;
    QLabel *m_scale;
    QLabel *m_dTcd;
    QLabel *m_d10;
    QLabel *m_ntkLeft; // NTK-left boundary of the config's own long factors, if they have that shape
    QDoubleSpinBox *m_attention;
    QToolButton *m_attentionDefault;
    QSpinBox *m_dRcd;
    QComboBox *m_targetLength;
    QLabel *m_targetNote;
    QString m_refusedTarget;  // the last typed target that was refused, with the reason
    QString m_targetWarning;  // the price of live scores at the current target, when high
    QLabel *m_loadedModel;
    ForwardCostFigures m_cost;  // of the loaded model; invalid when none
    bool m_promptsEnabled = true;
    QGridLayout *m_familyGrid;
    QMap<QString, QCheckBox *> m_familyChecks;
    QMap<QString, QPushButton *> m_applyButtons;
    QLabel *m_constraintSummary;
    QLabel *m_violations;
};

} // namespace rs
