#include "factorsplot.h"

#include "factordocument.h"
#include "plotstyle.h"

#include <algorithm>
#include <cmath>

namespace rs {

namespace {

constexpr double kPickRadiusPixels = 10.0;
// Dragging a factor to zero or below is meaningless (λ multiplies the period); this is the floor.
constexpr double kSmallestFactor = 1e-3;
// Below this height the value axis has no room for "rescale factor λ_i  (drag points to edit)".
constexpr int kEditHintMinimumHeight = 380;

QCPItemStraightLine *addLine(QCustomPlot *plot, const QPen &pen)
{
    auto *line = new QCPItemStraightLine(plot);
    line->setPen(pen);
    return line;
}

QCPItemText *addLabel(QCustomPlot *plot, const QColor &color, Qt::Alignment alignment)
{
    auto *label = new QCPItemText(plot);
    label->setColor(color);
    label->setPositionAlignment(alignment);
    label->setPadding(QMargins(4, 2, 4, 2));
    label->setBrush(QColor(255, 255, 255, 220));
    return label;
}

} // namespace

FactorsPlot::FactorsPlot(FactorDocument *document, QWidget *parent)
    : QCustomPlot(parent), m_document(document), m_replot(new CoalescedReplot(this))
{
    setMouseTracking(true);
    setAntialiasedElements(QCP::aeAll);
    setMinimumSize(200, 200);
    setAutoAddPlottableToLegend(false);
    styleAxisRect(axisRect());
    xAxis->setLabel(tr("dimension i"));
    setEditHintVisible(true);
    setToolTip(tr("Drag a point to edit its λ_i (one undo step per drag)"));
    useLogAxis(yAxis);

    m_forbiddenRegion = new QCPItemRect(this);
    m_forbiddenRegion->setLayer(QStringLiteral("background"));
    m_forbiddenRegion->bottomRight->setTypeY(QCPItemPosition::ptAxisRectRatio);
    m_forbiddenRegion->setPen(Qt::NoPen);
    m_forbiddenRegion->setBrush(QBrush(plotcolors::forbiddenShade));
    m_forbiddenLabel = addLabel(this, plotcolors::violation, Qt::AlignHCenter | Qt::AlignBottom);
    m_forbiddenLabel->setBrush(Qt::NoBrush);
    m_forbiddenLabel->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
    m_forbiddenLabel->setText(tr("λ < s forbidden"));

    m_scaleLine = addLine(this, QPen(plotcolors::targetLength, 1.5, Qt::DashDotLine));
    m_scaleLabel = addLabel(this, plotcolors::targetLength, Qt::AlignLeft | Qt::AlignBottom);
    m_scaleLabel->position->setTypeX(QCPItemPosition::ptAxisRectRatio);
    m_dTcdMarker = addLine(this, QPen(plotcolors::dTcd, 1.5, Qt::DashLine));
    m_dRcdMarker = addLine(this, QPen(plotcolors::dRcd, 1.5, Qt::DashLine));
    m_dTcdLabel = addLabel(this, plotcolors::dTcd, Qt::AlignLeft | Qt::AlignTop);
    m_dRcdLabel = addLabel(this, plotcolors::dRcd, Qt::AlignRight | Qt::AlignTop);
    for (QCPItemText *label : {m_dTcdLabel, m_dRcdLabel})
        label->position->setTypeY(QCPItemPosition::ptAxisRectRatio);

    m_lambdaGraph = addGraph();
    m_lambdaGraph->setName(tr("λ (edited)"));
    m_lambdaGraph->setPen(QPen(plotcolors::rescaled, 2.2));
    m_lambdaGraph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, plotcolors::rescaled, plotcolors::rescaled, 6));
    m_lambdaGraph->addToLegend();

    m_violationGraph = addGraph();
    m_violationGraph->setName(tr("constraint violated"));
    m_violationGraph->setLineStyle(QCPGraph::lsNone);
    m_violationGraph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(plotcolors::violation, 1.8), Qt::NoBrush, 13));
    m_violationGraph->addToLegend();

    m_dragLabel = addLabel(this, plotcolors::rescaled, Qt::AlignLeft | Qt::AlignBottom);
    m_dragLabel->setVisible(false);

    placeLegendAbove(this, tr("Factors"));
    connect(this, &QCustomPlot::afterLayout, this, [this] {
        separateLabels(axisRect(), {m_scaleLabel, m_forbiddenLabel, m_dragLabel}, {m_dRcdLabel, m_dTcdLabel});
    });

    connect(m_document, &FactorDocument::configChanged, this, &FactorsPlot::rebuildAll);
    connect(m_document, &FactorDocument::targetLengthChanged, this, &FactorsPlot::rebuildAll);
    connect(m_document, &FactorDocument::lambdaChanged, this, [this] {
        updateLambda();
        updateConstraintItems();
        updateRanges();
        m_replot->request();
    });
    connect(m_document, &FactorDocument::dRcdChanged, this, [this] {
        updateConstraintItems();
        m_replot->request();
    });
    connect(m_document, &FactorDocument::familiesChanged, this, [this] {
        updateFamilies();
        updateRanges();
        m_replot->request();
    });
    // A drag holds the value axis still (updateRanges); it rescales once the drag is over.
    connect(m_document, &FactorDocument::draggingChanged, this, [this](bool dragging) {
        if (dragging)
            return;
        updateRanges();
        m_replot->request();
    });
    connect(m_document, &FactorDocument::visibleFamiliesChanged, this, [this] {
        updateFamilyVisibility();
        updateRanges();
        m_replot->request();
    });
    rebuildAll();
}

void FactorsPlot::setLogScale(bool logarithmic)
{
    if (logarithmic == isLogScale())
        return;
    if (logarithmic)
        useLogAxis(yAxis);
    else
        useLinearAxis(yAxis);
    updateRanges();
    m_replot->request();
}

bool FactorsPlot::isLogScale() const { return yAxis->scaleType() == QCPAxis::stLogarithmic; }

void FactorsPlot::flushReplot() { m_replot->flush(); }

QCPGraph *FactorsPlot::familyGraph(const QString &name) const
{
    const auto found = m_familyGraphs.find(name);
    return found == m_familyGraphs.end() ? nullptr : found->second;
}

void FactorsPlot::setEditHintVisible(bool visible)
{
    m_editHintVisible = visible;
    // A short plot (a small window) keeps the label whole by dropping the hint; the tooltip keeps it.
    const bool fits = height() >= kEditHintMinimumHeight;
    yAxis->setLabel(visible && fits ? tr("rescale factor λ_i  (drag points to edit)") : tr("rescale factor λ_i"));
}

void FactorsPlot::resizeEvent(QResizeEvent *event)
{
    setEditHintVisible(m_editHintVisible);
    QCustomPlot::resizeEvent(event);
}

void FactorsPlot::setOverlayCurve(const QString &key, const QString &title, const std::vector<double> &lambda,
                                  const QColor &color)
{
    QCPGraph *&graph = m_overlayCurves[key];
    if (!graph) {
        graph = addGraph();
        graph->setLayer(QStringLiteral("grid"));
        graph->addToLegend();
    }
    graph->setName(title);
    graph->setPen(QPen(color, 2.0, Qt::DashDotLine));
    graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDiamond, color, Qt::white, 6));
    QVector<double> dims, values;
    for (int i = 0; i < int(lambda.size()); ++i) {
        dims << i;
        values << lambda[size_t(i)];
    }
    graph->setData(dims, values, true);
    updateRanges();
    m_replot->request();
}

void FactorsPlot::removeOverlayCurve(const QString &key)
{
    const auto found = m_overlayCurves.find(key);
    if (found == m_overlayCurves.end())
        return;
    removeGraph(found->second);
    m_overlayCurves.erase(found);
    updateRanges();
    m_replot->request();
}

QCPGraph *FactorsPlot::overlayCurve(const QString &key) const
{
    const auto found = m_overlayCurves.find(key);
    return found == m_overlayCurves.end() ? nullptr : found->second;
}

void FactorsPlot::rebuildAll()
{
    endDrag();
    for (auto it = m_overlayCurves.begin(); it != m_overlayCurves.end();) {
        if (it->second->dataCount() == m_document->pairs()) {
            ++it;
        } else {
            removeGraph(it->second);
            it = m_overlayCurves.erase(it);
        }
    }
    updateLambda();
    updateFamilies();
    updateConstraintItems();
    updateRanges();
    m_replot->request();
}

void FactorsPlot::updateLambda()
{
    const std::vector<double> &lambda = m_document->lambda();
    QVector<double> dims, values;
    for (int i = 0; i < int(lambda.size()); ++i) {
        dims << i;
        values << lambda[i];
    }
    m_lambdaGraph->setData(dims, values, true);
    if (m_dragIndex >= 0 && m_dragIndex < int(lambda.size())) {
        m_dragLabel->position->setCoords(m_dragIndex, lambda[m_dragIndex]);
        m_dragLabel->setText(tr("λ_%1 = %2").arg(m_dragIndex).arg(lambda[m_dragIndex], 0, 'g', 5));
    }
}

void FactorsPlot::updateFamilies()
{
    const auto &families = m_document->families();
    for (auto it = m_familyGraphs.begin(); it != m_familyGraphs.end();) {
        if (families.count(it->first)) {
            ++it;
        } else {
            removeGraph(it->second);
            it = m_familyGraphs.erase(it);
        }
    }
    for (const auto &[name, family] : families) {
        QCPGraph *&graph = m_familyGraphs[name];
        if (!graph) {
            graph = addGraph();
            graph->setName(familyTitle(name));
            const QColor color = plotcolors::family(name);
            graph->setPen(QPen(color, 1.6, name == FactorDocument::kLongrope2Family ? Qt::DashLine : Qt::SolidLine));
            graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssNone));
            // Overlays sit under the edited curve so its points stay on top for dragging.
            graph->setLayer(QStringLiteral("grid"));
        }
        QVector<double> dims, values;
        for (int i = 0; i < int(family.lambda.size()); ++i) {
            dims << i;
            values << family.lambda[i];
        }
        graph->setData(dims, values, true);
    }
    updateFamilyVisibility();
}

void FactorsPlot::updateFamilyVisibility()
{
    const QStringList visible = m_document->visibleFamilies();
    for (const auto &[name, graph] : m_familyGraphs) {
        const bool shown = visible.contains(name);
        graph->setVisible(shown);
        if (shown)
            graph->addToLegend();
        else
            graph->removeFromLegend();
    }
}

void FactorsPlot::updateConstraintItems()
{
    const RopeGeometry &g = m_document->geometry();
    const int pairs = m_document->pairs();
    const int dRcd = m_document->dRcd();
    const double s = g.scale;

    m_forbiddenRegion->setVisible(dRcd < pairs && s > 0);
    m_forbiddenRegion->topLeft->setCoords(dRcd - 0.5, s);
    m_forbiddenRegion->bottomRight->setCoords(pairs - 0.5, 1.0);
    m_forbiddenLabel->setVisible(m_forbiddenRegion->visible());
    placeCentredLabel(m_forbiddenLabel, (dRcd + pairs - 1) / 2.0, 0.97);

    m_scaleLine->point1->setCoords(0, s);
    m_scaleLine->point2->setCoords(1, s);
    m_scaleLabel->position->setCoords(0.01, s);
    m_scaleLabel->setText(tr("s = L / L_train = %1").arg(formatNumber(s)));

    m_dTcdMarker->point1->setCoords(g.dTcd, 1);
    m_dTcdMarker->point2->setCoords(g.dTcd, 2);
    m_dRcdMarker->point1->setCoords(dRcd, 1);
    m_dRcdMarker->point2->setCoords(dRcd, 2);
    m_dTcdLabel->setText(tr("d_tcd = %1").arg(g.dTcd));
    m_dRcdLabel->setText(tr("d_rcd = %1").arg(dRcd));
    // Labels point away from each other so neighbouring markers stay readable.
    const bool rcdLeft = dRcd <= g.dTcd;
    // Heights and edges: separateLabels after each layout (below the length lines' labels near the
    // top, stacked on one dimension, turned inwards at the plot's edge).
    placeMarkerLabel(m_dRcdLabel, dRcd, rcdLeft ? Qt::AlignRight : Qt::AlignLeft);
    placeMarkerLabel(m_dTcdLabel, g.dTcd, rcdLeft ? Qt::AlignLeft : Qt::AlignRight);

    QVector<double> dims, values;
    const std::vector<double> &lambda = m_document->lambda();
    for (const ConstraintViolation &violation : m_document->constraintViolations()) {
        if (violation.index < 0 || violation.index >= int(lambda.size()) || dims.contains(violation.index))
            continue;
        dims << violation.index;
        values << lambda[violation.index];
    }
    m_violationGraph->setData(dims, values);
}

void FactorsPlot::updateRanges()
{
    xAxis->setRange(-0.5, std::max(1, m_document->pairs()) - 0.5);
    // Keep the value axis still while a point is dragged, so the cursor keeps meaning the same λ.
    if (m_dragIndex >= 0 || m_document->isDragging())
        return;
    double lowest = m_document->scale();
    double highest = m_document->scale();
    const auto include = [&](const std::vector<double> &values) {
        for (double value : values) {
            lowest = std::min(lowest, value);
            highest = std::max(highest, value);
        }
    };
    include(m_document->lambda());
    const QStringList visible = m_document->visibleFamilies();
    for (const auto &[name, family] : m_document->families()) {
        if (visible.contains(name))
            include(family.lambda);
    }
    for (const auto &[key, graph] : m_overlayCurves) {
        for (auto point = graph->data()->constBegin(); point != graph->data()->constEnd(); ++point)
            include({point->value});
    }
    if (isLogScale())
        yAxis->setRange(lowest / 2.0, highest * 4.0);
    else
        yAxis->setRange(0, highest * 1.25);
}

int FactorsPlot::pointNear(const QPointF &pixel) const
{
    const std::vector<double> &lambda = m_document->lambda();
    int nearest = -1;
    double nearestDistance = kPickRadiusPixels;
    for (int i = 0; i < int(lambda.size()); ++i) {
        const double dx = xAxis->coordToPixel(i) - pixel.x();
        const double dy = yAxis->coordToPixel(lambda[i]) - pixel.y();
        const double distance = std::hypot(dx, dy);
        if (distance <= nearestDistance) {
            nearest = i;
            nearestDistance = distance;
        }
    }
    return nearest;
}

void FactorsPlot::mousePressEvent(QMouseEvent *event)
{
    const int picked = event->button() == Qt::LeftButton ? pointNear(event->position()) : -1;
    if (picked < 0) {
        QCustomPlot::mousePressEvent(event);
        return;
    }
    m_dragIndex = picked;
    m_dragId = m_document->beginDrag();
    m_dragLabel->setVisible(true);
    updateLambda();
    setCursor(Qt::SizeVerCursor);
    m_replot->request();
    event->accept();
}

void FactorsPlot::mouseMoveEvent(QMouseEvent *event)
{
    if (m_dragIndex < 0) {
        QCustomPlot::mouseMoveEvent(event);
        setCursor(pointNear(event->position()) >= 0 ? Qt::OpenHandCursor : Qt::ArrowCursor);
        return;
    }
    const double value = std::max(kSmallestFactor, yAxis->pixelToCoord(event->position().y()));
    m_document->setLambdaAt(m_dragIndex, value, m_dragId);
    event->accept();
}

void FactorsPlot::mouseReleaseEvent(QMouseEvent *event)
{
    if (m_dragIndex < 0 || event->button() != Qt::LeftButton) {
        QCustomPlot::mouseReleaseEvent(event);
        return;
    }
    endDrag();
    updateRanges();
    m_replot->request();
    event->accept();
}

void FactorsPlot::endDrag()
{
    if (m_dragIndex >= 0)
        m_document->endDrag();
    m_dragIndex = -1;
    m_dragId = -1;
    m_dragLabel->setVisible(false);
    unsetCursor();
}

} // namespace rs
