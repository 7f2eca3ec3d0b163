#pragma once
// The edited state shared by every view: the model's RoPE config, the target length, the real
// critical dimension d_rcd, the rescale factors λ being tuned and the attention factor that goes
// with them, plus the undo stack that records every edit. Views read from it and write through its
// undoable setters only.
#include "rope/factorfamilies.h"
#include "rope/ropeconfig.h"
#include "rope/ropegeometry.h"
#include "rope/session.h"

#include <QObject>
#include <QStringList>
#include <QUndoStack>
#include <map>
#include <optional>
#include <vector>

namespace rs {

class FactorDocument : public QObject {
    Q_OBJECT

public:
    // The overlay name of the LongRoPE2 structure derived from the current λ and d_rcd.
    static inline const QString kLongrope2Family = QStringLiteral("longrope2");
    // Attention factors are shown with 4 decimals everywhere (1.1547), enough to tell the default
    // at one target from the default at another.
    static constexpr int kAttentionDecimals = 4;

    explicit FactorDocument(QObject *parent = nullptr);

    // Replaces the whole document (opening a file): not undoable, clears the undo stack.
    // Starts from the config's own factors when it has them, else from λ ≡ 1, with d_rcd = d_tcd.
    void open(const RopeConfig &config, double targetLength);
    void openSession(const EditingSession &session, const RopeConfig &config);
    EditingSession toSession() const;

    const RopeConfig &config() const { return m_config; }
    const RopeGeometry &geometry() const { return m_geometry; }
    double targetLength() const { return m_geometry.targetLength; }
    double scale() const { return m_geometry.scale; }
    int pairs() const { return m_config.pairs(); }
    int dRcd() const { return m_dRcd; }
    const std::vector<double> &lambda() const { return m_lambda; }
    // The explicit attention factor; empty means longrope's default (defaultAttentionFactor()).
    std::optional<double> attentionFactor() const { return m_attentionFactor; }
    // HF longrope's default at the current target: sqrt(1 + ln s / ln L_train) for s > 1, else 1.
    double defaultAttentionFactor() const;
    // The attention factor scores and exports use: the explicit one, else the default.
    double effectiveAttentionFactor() const;

    std::vector<double> rescaledPeriods() const;
    std::vector<bool> outOfDistribution() const;
    std::vector<ConstraintViolation> constraintViolations() const;
    // The comparison families at the current target (pi, ntk, yarn, llama3, config if present)
    // and the LongRoPE2 structure built from the current λ at and above d_rcd.
    const std::map<QString, FactorSet> &families() const { return m_families; }

    QStringList visibleFamilies() const { return m_visibleFamilies; }
    void setFamilyVisible(const QString &name, bool visible);

    QUndoStack *undoStack() const { return m_undoStack; }
    bool isClean() const { return m_undoStack->isClean(); }

    // Undoable edits. A non-negative dragId merges consecutive edits of the same drag into one step.
    void setLambdaAt(int index, double value, int dragId = -1);
    void setAllLambda(const std::vector<double> &lambda, std::optional<double> attentionFactor,
                      const QString &description);
    void applyFamily(const QString &name);
    void setDRcd(int dRcd);
    void setTargetLength(double targetLength);
    // An explicit attention factor (finite, > 0), or empty to go back to longrope's default.
    void setAttentionFactor(std::optional<double> attentionFactor);
    void resetAttentionFactor() { setAttentionFactor(std::nullopt); }
    // A fresh id for one mouse drag, so all its moves collapse into a single undo step. Views keep
    // their axes still between beginDrag() and endDrag() (the cursor keeps meaning the same value).
    int beginDrag();
    void endDrag();
    bool isDragging() const { return m_dragging; }

signals:
    void configChanged();                  // a new config was opened (everything changed)
    void lambdaChanged();
    void dRcdChanged(int dRcd);
    void targetLengthChanged(double targetLength);
    void attentionFactorChanged();         // the explicit factor was set or reset
    // The factor scores and exports use changed: an explicit edit, or a default that moved with s.
    void effectiveAttentionFactorChanged(double attentionFactor);
    void draggingChanged(bool dragging);
    // An undo or redo replayed a step; `message` names the step and the value it restored, for the
    // status bar (the first do of an edit is not announced: its view already shows it).
    void stepReplayed(const QString &message);
    void familiesChanged();
    void visibleFamiliesChanged();

private:
    friend class SetLambdaCommand;
    friend class SetAllLambdaCommand;
    friend class SetDRcdCommand;
    friend class SetTargetLengthCommand;
    friend class SetAttentionFactorCommand;
    friend class DocumentCommand;

    void assignLambdaAt(int index, double value);
    void assignLambda(const std::vector<double> &lambda, std::optional<double> attentionFactor);
    void assignDRcd(int dRcd);
    void assignTargetLength(double targetLength);
    void assignAttentionFactor(std::optional<double> attentionFactor);
    void recomputeFamilies();
    void notifyEffectiveAttentionFactor();
    QString describeAttentionFactor(std::optional<double> attentionFactor) const;

    RopeConfig m_config;
    RopeGeometry m_geometry;
    int m_dRcd = 0;
    std::vector<double> m_lambda;
    std::optional<double> m_attentionFactor;
    std::map<QString, FactorSet> m_families;
    QStringList m_visibleFamilies;
    QUndoStack *m_undoStack;
    int m_lastDragId = 0;
    bool m_dragging = false;
    double m_lastEffectiveAttention = 0;
};

} // namespace rs
