#include "periodsplot.h"

#include "factordocument.h"
#include "plotstyle.h"

#include <QToolTip>
#include <algorithm>
#include <cmath>

namespace rs {

namespace {

QCPItemStraightLine *addVerticalMarker(QCustomPlot *plot, QCPAxisRect *rect, const QColor &color)
{
    auto *line = new QCPItemStraightLine(plot);
    line->setClipAxisRect(rect);
    for (QCPItemPosition *position : {line->point1, line->point2})
        position->setAxes(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
    line->setPen(QPen(color, 1.5, Qt::DashLine));
    return line;
}

QCPItemStraightLine *addHorizontalLine(QCustomPlot *plot, QCPAxisRect *rect, const QColor &color)
{
    auto *line = addVerticalMarker(plot, rect, color);
    line->setPen(QPen(color, 1.5, Qt::DashDotLine));
    return line;
}

// A label anchored at plot x and at the top of the axis rect, for a vertical marker.
QCPItemText *addMarkerLabel(QCustomPlot *plot, QCPAxisRect *rect, const QColor &color)
{
    auto *label = new QCPItemText(plot);
    label->setClipAxisRect(rect);
    label->position->setAxes(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
    label->position->setAxisRect(rect);
    label->position->setTypeX(QCPItemPosition::ptPlotCoords);
    label->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
    label->setColor(color);
    label->setPadding(QMargins(4, 2, 4, 2));
    label->setBrush(QColor(255, 255, 255, 220));
    return label;
}

// A label anchored at the left edge of the axis rect and at plot y, for a horizontal line.
QCPItemText *addLineLabel(QCustomPlot *plot, QCPAxisRect *rect, const QColor &color)
{
    auto *label = addMarkerLabel(plot, rect, color);
    label->position->setTypeX(QCPItemPosition::ptAxisRectRatio);
    label->position->setTypeY(QCPItemPosition::ptPlotCoords);
    label->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
    return label;
}

void placeVertical(QCPItemStraightLine *line, double x)
{
    line->point1->setCoords(x, 1);
    line->point2->setCoords(x, 2);
}

void placeHorizontal(QCPItemStraightLine *line, double y)
{
    line->point1->setCoords(0, y);
    line->point2->setCoords(1, y);
}

QCPGraph *addCurve(QCPAxisRect *rect, const QColor &color, const QString &name, QCPScatterStyle::ScatterShape shape,
                   Qt::PenStyle style = Qt::SolidLine)
{
    QCPGraph *graph = rect->parentPlot()->addGraph(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
    graph->setName(name);
    graph->setPen(QPen(color, 2, style));
    graph->setScatterStyle(QCPScatterStyle(shape, color, Qt::white, 5));
    return graph;
}

} // namespace

PeriodsPlot::PeriodsPlot(FactorDocument *document, QWidget *parent)
    : QCustomPlot(parent), m_document(document), m_replot(new CoalescedReplot(this))
{
    setMouseTracking(true);
    setAntialiasedElements(QCP::aeAll);
    setMinimumSize(200, 240);
    setAutoAddPlottableToLegend(false);

    m_periodsRect = axisRect();
    m_rotationsRect = new QCPAxisRect(this);
    plotLayout()->addElement(1, 0, m_rotationsRect);
    auto *margins = new QCPMarginGroup(this);
    for (QCPAxisRect *rect : {m_periodsRect, m_rotationsRect}) {
        rect->setMarginGroup(QCP::msLeft | QCP::msRight, margins);
        styleAxisRect(rect);
        useLogAxis(rect->axis(QCPAxis::atLeft));
        rect->axis(QCPAxis::atBottom)->setLabel(tr("dimension i"));
    }
    // The stacked rects share the dimension axis.
    connect(m_periodsRect->axis(QCPAxis::atBottom), qOverload<const QCPRange &>(&QCPAxis::rangeChanged),
            m_rotationsRect->axis(QCPAxis::atBottom), qOverload<const QCPRange &>(&QCPAxis::setRange));
    m_periodsRect->axis(QCPAxis::atLeft)->setLabel(tr("period (tokens)"));
    m_rotationsRect->axis(QCPAxis::atLeft)->setLabel(tr("rotations"));
    // The rotations rect is short: a label every few decades keeps the tick labels apart.
    m_rotationsRect->axis(QCPAxis::atLeft)->ticker()->setTickCount(3);

    m_originalGraph = addCurve(m_periodsRect, plotcolors::original, tr("original T_i  (λ = 1)"), QCPScatterStyle::ssCircle);
    m_rescaledGraph = addCurve(m_periodsRect, plotcolors::rescaled, tr("rescaled λ_i·T_i"), QCPScatterStyle::ssDisc);
    m_rotationsTrainGraph = addCurve(m_rotationsRect, plotcolors::original, tr("in L_train, original"), QCPScatterStyle::ssCircle);
    m_rotationsTargetGraph = addCurve(m_rotationsRect, plotcolors::rescaled, tr("in L, rescaled"), QCPScatterStyle::ssDisc);

    m_originalGraph->addToLegend(legend);
    m_rescaledGraph->addToLegend(legend);
    placeLegendAbove(this, tr("Periods"));
    // The rotations' legend in a strip of its own above their rect, never over the data: with
    // the dimension axis shared, the rect cannot give up width to a legend beside it.
    m_rotationsLegendStrip = new QCPLayoutGrid;
    m_rotationsLegendStrip->setMargins(QMargins(0, 2, 8, 0));
    plotLayout()->take(m_rotationsRect);
    plotLayout()->simplify();
    placeRotations();  // in the plot now, so the legend below belongs to it
    // Titled like the periods' strip above it.
    QFont titleFont = font();
    titleFont.setBold(true);
    titleFont.setPointSizeF(titleFont.pointSizeF() + 1.5);
    auto *rotationsTitle = new QCPTextElement(this, tr("Rotations"), titleFont);
    rotationsTitle->setTextColor(QColor(0x22, 0x2b, 0x33));
    rotationsTitle->setMargins(QMargins(10, 2, 10, 2));
    m_rotationsLegendStrip->setColumnSpacing(12);
    m_rotationsLegendStrip->addElement(0, 0, rotationsTitle);
    auto *rotationsLegend = new QCPLegend;
    m_rotationsLegendStrip->addElement(0, 1, rotationsLegend);
    m_rotationsLegendStrip->addElement(0, 2, new QCPLayoutElement(this));  // takes the spare width
    m_rotationsLegendStrip->setColumnStretchFactors({0.001, 0.001, 1.0});
    rotationsLegend->setLayer(QStringLiteral("legend"));
    rotationsLegend->setBrush(Qt::NoBrush);
    rotationsLegend->setBorderPen(Qt::NoPen);
    // Entries stacked: side by side they cut the title and themselves at 1024 px (re-wrapping
    // them by width, as the periods' legend is, left both strips squeezed to one line).
    rotationsLegend->setFillOrder(QCPLayoutGrid::foRowsFirst);
    rotationsLegend->setColumnSpacing(14);
    rotationsLegend->setMargins(QMargins(2, 0, 2, 0));
    m_rotationsTrainGraph->addToLegend(rotationsLegend);
    m_rotationsTargetGraph->addToLegend(rotationsLegend);
    m_rotationsLegend = rotationsLegend;

    m_trainLine = addHorizontalLine(this, m_periodsRect, plotcolors::trainLength);
    m_targetLine = addHorizontalLine(this, m_periodsRect, plotcolors::targetLength);
    m_trainLabel = addLineLabel(this, m_periodsRect, plotcolors::trainLength);
    m_targetLabel = addLineLabel(this, m_periodsRect, plotcolors::targetLength);
    m_dTcdMarker = addVerticalMarker(this, m_periodsRect, plotcolors::dTcd);
    m_dRcdMarker = addVerticalMarker(this, m_periodsRect, plotcolors::dRcd);
    m_dTcdLabel = addMarkerLabel(this, m_periodsRect, plotcolors::dTcd);
    m_dRcdLabel = addMarkerLabel(this, m_periodsRect, plotcolors::dRcd);

    m_oneRotationLine = addHorizontalLine(this, m_rotationsRect, plotcolors::trainLength);
    m_oneRotationLabel = addLineLabel(this, m_rotationsRect, plotcolors::trainLength);
    m_oneRotationLabel->setText(tr("one full rotation"));
    placeHorizontal(m_oneRotationLine, 1.0);
    m_oneRotationLabel->position->setCoords(0.01, 1.0);

    m_oodLabel = new QCPItemText(this);
    m_oodLabel->setClipAxisRect(m_periodsRect);
    m_oodLabel->position->setAxes(m_periodsRect->axis(QCPAxis::atBottom), m_periodsRect->axis(QCPAxis::atLeft));
    m_oodLabel->position->setAxisRect(m_periodsRect);
    m_oodLabel->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
    m_oodLabel->setPositionAlignment(Qt::AlignHCenter | Qt::AlignBottom);
    m_oodLabel->setColor(plotcolors::violation);
    m_oodLabel->setText(tr("out of distribution at L"));
    connect(this, &QCustomPlot::afterLayout, this, [this] {
        separateLabels(m_periodsRect, {m_targetLabel, m_trainLabel, m_oodLabel}, {m_dRcdLabel, m_dTcdLabel});
    });

    m_hoverTracer = new QCPItemTracer(this);
    m_hoverTracer->setClipAxisRect(m_periodsRect);
    m_hoverTracer->setStyle(QCPItemTracer::tsCircle);
    m_hoverTracer->setSize(12);
    m_hoverTracer->setPen(QPen(plotcolors::rescaled, 2));
    m_hoverTracer->setVisible(false);

    connect(m_document, &FactorDocument::configChanged, this, &PeriodsPlot::rebuildAll);
    connect(m_document, &FactorDocument::targetLengthChanged, this, &PeriodsPlot::rebuildAll);
    connect(m_document, &FactorDocument::lambdaChanged, this, [this] {
        updateCurves();
        updateOodShading();
        // While a point is dragged in the factors view the period axis holds still, so the curve
        // moves against a fixed scale; it rescales when the drag ends.
        if (!m_document->isDragging())
            updateRanges();
        refreshHoverText();
        m_replot->request();
    });
    connect(m_document, &FactorDocument::draggingChanged, this, [this](bool dragging) {
        if (dragging)
            return;
        updateRanges();
        m_replot->request();
    });
    connect(m_document, &FactorDocument::dRcdChanged, this, [this] {
        updateDimensionMarkers();
        m_replot->request();
    });
    rebuildAll();
}

PeriodsPlot::~PeriodsPlot()
{
    // A hidden rotations rect lives outside the layout; hand it back so QCustomPlot deletes it
    // together with its axes and graphs.
    if (!rotationsVisible())
        placeRotations();
}

void PeriodsPlot::placeRotations()
{
    // Rows: the periods' legend strip, the periods, the rotations' legend strip, the rotations.
    const int row = plotLayout()->rowCount();
    plotLayout()->addElement(row, 0, m_rotationsLegendStrip);
    plotLayout()->addElement(row + 1, 0, m_rotationsRect);
    plotLayout()->setRowStretchFactors({0.001, 1.6, 0.001, 1.0});
}

void PeriodsPlot::setRotationsVisible(bool visible)
{
    if (visible == rotationsVisible())
        return;
    if (visible) {
        placeRotations();
    } else {
        plotLayout()->take(m_rotationsLegendStrip);
        plotLayout()->take(m_rotationsRect);
        plotLayout()->simplify();
    }
    m_replot->request();
}

bool PeriodsPlot::rotationsVisible() const { return m_rotationsRect->layout() == plotLayout(); }

void PeriodsPlot::flushReplot() { m_replot->flush(); }

void PeriodsPlot::rebuildAll()
{
    updateCurves();
    updateLengthLines();
    updateDimensionMarkers();
    updateOodShading();
    updateRanges();
    m_replot->request();
}

void PeriodsPlot::updateCurves()
{
    const RopeGeometry &g = m_document->geometry();
    const std::vector<double> rescaled = m_document->rescaledPeriods();
    QVector<double> dims, original, scaled, rotationsTrain, rotationsTarget;
    for (int i = 0; i < g.pairs(); ++i) {
        dims << i;
        original << g.period[i];
        scaled << rescaled[i];
        rotationsTrain << g.rotationsTrain[i];
        rotationsTarget << g.targetLength / rescaled[i];
    }
    m_originalGraph->setData(dims, original, true);
    m_rescaledGraph->setData(dims, scaled, true);
    m_rotationsTrainGraph->setData(dims, rotationsTrain, true);
    m_rotationsTargetGraph->setData(dims, rotationsTarget, true);
}

void PeriodsPlot::updateLengthLines()
{
    const RopeGeometry &g = m_document->geometry();
    placeHorizontal(m_trainLine, g.trainLength);
    placeHorizontal(m_targetLine, g.targetLength);
    m_trainLabel->setText(tr("L_train = %1").arg(formatNumber(g.trainLength)));
    m_targetLabel->setText(tr("L = %1  (s = %2)").arg(formatNumber(g.targetLength), formatNumber(g.scale)));
    m_trainLabel->position->setCoords(0.01, g.trainLength);
    m_targetLabel->position->setCoords(0.01, g.targetLength);
    // The higher line's label sits above it and the lower one's below, so the two never cover
    // each other, not even at L = L_train or at L below L_train.
    const bool targetAbove = g.targetLength >= g.trainLength;
    m_trainLabel->setPositionAlignment(Qt::AlignLeft | (targetAbove ? Qt::AlignTop : Qt::AlignBottom));
    m_targetLabel->setPositionAlignment(Qt::AlignLeft | (targetAbove ? Qt::AlignBottom : Qt::AlignTop));
}

void PeriodsPlot::updateDimensionMarkers()
{
    const int dTcd = m_document->geometry().dTcd;
    const int dRcd = m_document->dRcd();
    placeVertical(m_dTcdMarker, dTcd);
    placeVertical(m_dRcdMarker, dRcd);
    m_dTcdLabel->setText(tr("d_tcd = %1").arg(dTcd));
    m_dRcdLabel->setText(tr("d_rcd = %1").arg(dRcd));
    // The left marker's label goes left of its line and the right one's right of it, so the two
    // never cover each other; on the same dimension they stack; at the plot's edge a label turns
    // inwards.
    const bool rcdLeft = dRcd <= dTcd;
    // Heights and edges: separateLabels after each layout (below the length lines' labels near the
    // top, stacked on one dimension, turned inwards at the plot's edge).
    placeMarkerLabel(m_dRcdLabel, dRcd, rcdLeft ? Qt::AlignRight : Qt::AlignLeft);
    placeMarkerLabel(m_dTcdLabel, dTcd, rcdLeft ? Qt::AlignLeft : Qt::AlignRight);
}

void PeriodsPlot::updateOodShading()
{
    for (QCPItemRect *shade : std::as_const(m_oodShades))
        removeItem(shade);
    m_oodShades.clear();

    const std::vector<bool> ood = m_document->outOfDistribution();
    int widestStart = -1, widestLength = 0;
    for (int start = 0; start < int(ood.size());) {
        if (!ood[start]) {
            ++start;
            continue;
        }
        int end = start;
        while (end + 1 < int(ood.size()) && ood[end + 1])
            ++end;
        auto *shade = new QCPItemRect(this);
        shade->setLayer(QStringLiteral("background"));
        shade->setClipAxisRect(m_periodsRect);
        for (QCPItemPosition *corner : {shade->topLeft, shade->bottomRight}) {
            corner->setAxes(m_periodsRect->axis(QCPAxis::atBottom), m_periodsRect->axis(QCPAxis::atLeft));
            corner->setAxisRect(m_periodsRect);
            corner->setTypeY(QCPItemPosition::ptAxisRectRatio);
        }
        shade->topLeft->setCoords(start - 0.5, 0.0);
        shade->bottomRight->setCoords(end + 0.5, 1.0);
        shade->setPen(Qt::NoPen);
        shade->setBrush(plotcolors::oodShade);
        m_oodShades << shade;
        if (end - start + 1 > widestLength) {
            widestStart = start;
            widestLength = end - start + 1;
        }
        start = end + 1;
    }
    m_oodLabel->setVisible(widestStart >= 0);
    if (widestStart >= 0)
        placeCentredLabel(m_oodLabel, widestStart + (widestLength - 1) / 2.0, 0.98);
}

void PeriodsPlot::updateRanges()
{
    const RopeGeometry &g = m_document->geometry();
    const std::vector<double> rescaled = m_document->rescaledPeriods();
    const QCPRange dims(-0.5, std::max(1, g.pairs()) - 0.5);
    m_periodsRect->axis(QCPAxis::atBottom)->setRange(dims);

    double lowest = g.period.empty() ? 1.0 : g.period.front();
    double highest = std::max(g.trainLength, g.targetLength);
    for (int i = 0; i < g.pairs(); ++i) {
        lowest = std::min({lowest, g.period[i], rescaled[i]});
        highest = std::max({highest, g.period[i], rescaled[i]});
    }
    // Headroom above for the marker labels, below for the OOD label.
    m_periodsRect->axis(QCPAxis::atLeft)->setRange(lowest / 4, highest * 6);

    bool found = false;
    QCPRange rotations = m_rotationsTrainGraph->getValueRange(found);
    rotations.expand(m_rotationsTargetGraph->getValueRange(found));
    rotations.expand(1.0);
    m_rotationsRect->axis(QCPAxis::atLeft)->setRange(std::max(rotations.lower / 3, 1e-12), rotations.upper * 3);
}

QString PeriodsPlot::dimensionSummary(int index) const
{
    const RopeGeometry &g = m_document->geometry();
    if (index < 0 || index >= g.pairs())
        return {};
    const double lambda = m_document->lambda()[index];
    const double rescaledPeriod = lambda * g.period[index];
    const bool ood = m_document->outOfDistribution()[index];
    const auto row = [](const QString &name, const QString &value) {
        return QStringLiteral("<tr><td>%1</td><td align='right'>&nbsp;&nbsp;%2</td></tr>").arg(name, value);
    };
    QString text = tr("<b>dimension i = %1</b>").arg(index);
    text += QStringLiteral("<table>");
    text += row(tr("θ_i"), QString::number(g.theta[index], 'g', 5));
    text += row(tr("T_i"), formatNumber(g.period[index]));
    text += row(tr("λ_i"), QString::number(lambda, 'g', 6));
    text += row(tr("T̂_i = λ_i·T_i"), formatNumber(rescaledPeriod));
    text += row(tr("rotations in L_train"), formatNumber(g.rotationsTrain[index]));
    text += row(tr("rotations in L (rescaled)"), formatNumber(g.targetLength / rescaledPeriod));
    text += QStringLiteral("</table>");
    text += ood ? tr("<b><font color='#c0392b'>out of distribution at L</font></b>") : tr("in distribution at L");
    return text;
}

void PeriodsPlot::mouseMoveEvent(QMouseEvent *event)
{
    QCustomPlot::mouseMoveEvent(event);
    QCPAxisRect *rect = axisRectAt(event->position());
    if (!rect) {
        setHoveredDimension(-1);
        return;
    }
    const int index = int(std::lround(rect->axis(QCPAxis::atBottom)->pixelToCoord(event->position().x())));
    const int shown = index >= 0 && index < m_document->pairs() ? index : -1;
    setHoveredDimension(shown);
    m_hoverGlobalPosition = event->globalPosition().toPoint();
    if (shown >= 0)
        QToolTip::showText(m_hoverGlobalPosition, dimensionSummary(shown), this);
    else
        QToolTip::hideText();
}

void PeriodsPlot::leaveEvent(QEvent *event)
{
    QCustomPlot::leaveEvent(event);
    setHoveredDimension(-1);
}

void PeriodsPlot::refreshHoverText()
{
    if (m_hoveredDimension < 0 || m_hoveredDimension >= m_document->pairs() || !QToolTip::isVisible())
        return;
    QToolTip::showText(m_hoverGlobalPosition, dimensionSummary(m_hoveredDimension), this);
}

void PeriodsPlot::setHoveredDimension(int index)
{
    if (index == m_hoveredDimension)
        return;
    m_hoveredDimension = index;
    m_hoverTracer->setVisible(index >= 0);
    if (index >= 0) {
        m_hoverTracer->setGraph(m_rescaledGraph);
        m_hoverTracer->setGraphKey(index);
    }
    emit hoveredDimensionChanged(index);
    m_replot->request();
}

} // namespace rs
