#pragma once
// Factors view plot: λ per dimension with draggable points (one undo step per drag), the
// comparison families as overlays, the region λ < s above d_rcd shaded as forbidden, constraint
// violations circled, and the d_tcd / d_rcd markers.
#include <qcustomplot.h>

#include <map>

namespace rs {

class CoalescedReplot;
class FactorDocument;

class FactorsPlot : public QCustomPlot {
    Q_OBJECT

public:
    explicit FactorsPlot(FactorDocument *document, QWidget *parent = nullptr);

    void setLogScale(bool logarithmic);
    bool isLogScale() const;
    // Replots now instead of waiting for the coalescing timer (before grabbing or exporting).
    void flushReplot();

    QCPGraph *lambdaGraph() const { return m_lambdaGraph; }
    QCPGraph *violationGraph() const { return m_violationGraph; }
    QCPGraph *familyGraph(const QString &name) const;
    QCPItemStraightLine *dRcdMarker() const { return m_dRcdMarker; }
    QCPItemStraightLine *dTcdMarker() const { return m_dTcdMarker; }
    QCPItemRect *forbiddenRegion() const { return m_forbiddenRegion; }
    int draggedDimension() const { return m_dragIndex; }

protected:
    void mousePressEvent(QMouseEvent *event) override;
    void mouseMoveEvent(QMouseEvent *event) override;
    void mouseReleaseEvent(QMouseEvent *event) override;

private:
    void rebuildAll();
    void updateLambda();
    void updateFamilies();
    void updateFamilyVisibility();
    void updateConstraintItems();
    void updateRanges();
    int pointNear(const QPointF &pixel) const;
    void endDrag();

    FactorDocument *m_document;
    CoalescedReplot *m_replot;
    QCPGraph *m_lambdaGraph;
    QCPGraph *m_violationGraph;
    std::map<QString, QCPGraph *> m_familyGraphs;
    QCPItemRect *m_forbiddenRegion;
    QCPItemText *m_forbiddenLabel;
    QCPItemStraightLine *m_scaleLine;
    QCPItemText *m_scaleLabel;
    QCPItemStraightLine *m_dTcdMarker;
    QCPItemStraightLine *m_dRcdMarker;
    QCPItemText *m_dTcdLabel;
    QCPItemText *m_dRcdLabel;
    QCPItemText *m_dragLabel;
    int m_dragIndex = -1;
    int m_dragId = -1;
};

} // namespace rs
