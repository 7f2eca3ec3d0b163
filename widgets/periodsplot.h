#pragma once
// Periods view: the period T_i of every rotary dimension before (λ = 1) and after rescaling
// (λ_i·T_i) against L_train and the target length L, with d_tcd / d_rcd markers and the
// dimensions that go out of distribution at L shaded; below it, optionally, the rotations each
// dimension completes in L_train and (rescaled) in L.
#include <qcustomplot.h>

namespace rs {

class CoalescedReplot;
class FactorDocument;

class PeriodsPlot : public QCustomPlot {
    Q_OBJECT

public:
    explicit PeriodsPlot(FactorDocument *document, QWidget *parent = nullptr);
    ~PeriodsPlot() override;

    void setRotationsVisible(bool visible);
    bool rotationsVisible() const;
    // Replots now instead of waiting for the coalescing timer (before grabbing or exporting).
    void flushReplot();

    // The numbers of one dimension as rich text (the hover tooltip).
    QString dimensionSummary(int index) const;
    // The dimension under the cursor, -1 when none.
    int hoveredDimension() const { return m_hoveredDimension; }

    QCPAxisRect *periodsRect() const { return m_periodsRect; }
    QCPAxisRect *rotationsRect() const { return m_rotationsRect; }
    // The rotations' legend, in a strip above their rect (outside the data).
    QCPLegend *rotationsLegend() const { return m_rotationsLegend; }
    QCPGraph *originalGraph() const { return m_originalGraph; }
    QCPGraph *rescaledGraph() const { return m_rescaledGraph; }
    QCPItemStraightLine *dRcdMarker() const { return m_dRcdMarker; }
    QCPItemStraightLine *dTcdMarker() const { return m_dTcdMarker; }
    QCPItemText *trainLengthLabel() const { return m_trainLabel; }
    QCPItemText *targetLengthLabel() const { return m_targetLabel; }
    // One translucent rectangle per contiguous run of out-of-distribution dimensions.
    const QList<QCPItemRect *> &oodShades() const { return m_oodShades; }

signals:
    void hoveredDimensionChanged(int index); // -1 when the cursor leaves the dimensions

protected:
    void mouseMoveEvent(QMouseEvent *event) override;
    void leaveEvent(QEvent *event) override;

private:
    void rebuildAll();
    // Appends the rotations legend strip and rect below the periods.
    void placeRotations();
    void updateCurves();
    void updateLengthLines();
    void updateDimensionMarkers();
    void updateOodShading();
    void updateRanges();
    void setHoveredDimension(int index);
    // An edit, undo or redo under a resting cursor: the open tooltip shows the new numbers.
    void refreshHoverText();

    FactorDocument *m_document;
    CoalescedReplot *m_replot;
    QCPAxisRect *m_periodsRect;
    QCPAxisRect *m_rotationsRect;
    QCPLayoutGrid *m_rotationsLegendStrip;
    QCPLegend *m_rotationsLegend;
    QCPGraph *m_originalGraph;
    QCPGraph *m_rescaledGraph;
    QCPGraph *m_rotationsTrainGraph;
    QCPGraph *m_rotationsTargetGraph;
    QCPItemStraightLine *m_trainLine;
    QCPItemStraightLine *m_targetLine;
    QCPItemText *m_trainLabel;
    QCPItemText *m_targetLabel;
    QCPItemStraightLine *m_dTcdMarker;
    QCPItemStraightLine *m_dRcdMarker;
    QCPItemText *m_dTcdLabel;
    QCPItemText *m_dRcdLabel;
    QCPItemStraightLine *m_oneRotationLine;
    QCPItemText *m_oneRotationLabel;
    QCPItemTracer *m_hoverTracer;
    QList<QCPItemRect *> m_oodShades;
    QCPItemText *m_oodLabel;
    int m_hoveredDimension = -1;
    QPoint m_hoverGlobalPosition;
};

} // namespace rs
