#pragma once
// Factors view plot: λ per dimension with draggable points (one undo step per drag), the
// comparison families as overlays, the region λ < s above d_rcd shaded as forbidden, constraint
// violations circled, and the d_tcd / d_rcd markers.
#include <qcustomplot.h>

#include <map>
#include <vector>

namespace rs {

class CoalescedReplot;
class FactorDocument;

class FactorsPlot : public QCustomPlot {
    Q_OBJECT

public:
    explicit FactorsPlot(FactorDocument *document, QWidget *parent = nullptr);

    void setLogScale(bool logarithmic);
    // The λ axis label's "(drag points to edit)": on screen, not in exported figures.
    void setEditHintVisible(bool visible);
    bool isLogScale() const;
    // Replots now instead of waiting for the coalescing timer (before grabbing or exporting).
    void flushReplot();

    QCPGraph *lambdaGraph() const { return m_lambdaGraph; }
    QCPGraph *violationGraph() const { return m_violationGraph; }
    QCPGraph *familyGraph(const QString &name) const;

    // Curves that are not document families (e.g. the best factors of a running search): drawn
    // under the edited λ like the family overlays, counted in the value range and replaced by key.
    // A curve whose length no longer matches the document's d/2 is dropped when a config opens.
    void setOverlayCurve(const QString &key, const QString &title, const std::vector<double> &lambda,
                         const QColor &color);
    void removeOverlayCurve(const QString &key);
    QCPGraph *overlayCurve(const QString &key) const;
    QCPItemStraightLine *dRcdMarker() const { return m_dRcdMarker; }
    QCPItemStraightLine *dTcdMarker() const { return m_dTcdMarker; }
    QCPItemRect *forbiddenRegion() const { return m_forbiddenRegion; }
    int draggedDimension() const { return m_dragIndex; }

protected:
    void resizeEvent(QResizeEvent *event) override;
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
    std::map<QString, QCPGraph *> m_overlayCurves;
    QCPItemRect *m_forbiddenRegion;
    QCPItemText *m_forbiddenLabel;
    QCPItemStraightLine *m_scaleLine;
    QCPItemText *m_scaleLabel;
    QCPItemStraightLine *m_dTcdMarker;
    QCPItemStraightLine *m_dRcdMarker;
    QCPItemText *m_dTcdLabel;
    QCPItemText *m_dRcdLabel;
    QCPItemText *m_dragLabel;
    bool m_editHintVisible = true;
    int m_dragIndex = -1;
    int m_dragId = -1;
};

} // namespace rs
