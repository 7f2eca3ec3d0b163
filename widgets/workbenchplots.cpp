#include "workbenchplots.h"

#include "plotstyle.h"

#include <QFileInfo>

#include <algorithm>
#include <cmath>
#include <limits>

namespace rs {
namespace {

const QString kEmptyText = QObject::tr("Run a sweep, or open a saved result");

QString curveKey(SweepMeasure measure, const QString &method) { return measureName(measure) + QLatin1Char('\n') + method; }

// Keeps a log axis' range around [lo, hi] with a margin of a factor `pad`.
void setLogRange(QCPAxis *axis, double lo, double hi, double pad)
{
    if (!(lo > 0) || !(hi >= lo))
        return;
    if (hi / lo < 1.5) {  // a flat curve still gets a readable span
        const double mid = std::sqrt(lo * hi);
        lo = mid / 1.25;
        hi = mid * 1.25;
    }
    axis->setRange(lo / pad, hi * pad);
}

QString percent(double x) { return QStringLiteral("%1%").arg(100 * x, 0, 'f', 0); }

} // namespace

QColor sweepMethodColor(const SweepMethodSpec &method, int index)
{
    if (method.kind == QLatin1String("none"))
        return QColor(0x2d, 0x34, 0x36);
    if (method.kind != QLatin1String("factors") && method.modelDir.isEmpty())
        return plotcolors::family(method.kind);
    // Factors and other models: colours no family uses, in order of appearance.
    // Ten, so a sweep of every fine-tuned model of the fair miniature (eight) draws no two alike.
    static const QColor palette[] = {plotcolors::searchBest, plotcolors::rescaled, QColor(0x27, 0xae, 0x60),
                                     QColor(0xb7, 0x95, 0x0b), QColor(0x6d, 0x4c, 0x41), QColor(0x00, 0xac, 0xc1),
                                     QColor(0x28, 0x35, 0x93), QColor(0xd8, 0x43, 0x15), QColor(0x7c, 0xb3, 0x42),
                                     QColor(0x8e, 0x24, 0xaa)};
    return palette[size_t(std::max(index, 0)) % std::size(palette)];
}

namespace {

// Colours of a sweep's methods: families by kind, the rest numbered among themselves.
std::vector<QColor> methodColors(const std::vector<SweepMethodSpec> &methods)
{
    std::vector<QColor> colors;
    int custom = 0;
    for (const SweepMethodSpec &m : methods) {
        const bool family = m.kind != QLatin1String("factors") && m.modelDir.isEmpty();
        colors.push_back(sweepMethodColor(m, family ? 0 : custom++));
    }
    return colors;
}

} // namespace

// ---------------------------------------------------------------------------------------------

SweepCurvePlot::SweepCurvePlot(QWidget *parent) : QCustomPlot(parent), m_replot(new CoalescedReplot(this))
{
    setNoAntialiasingOnDrag(true);
    m_needleRect = axisRect();
    placeLegendAbove(this, tr("Perplexity vs context length"));
    m_heldOutRect = new QCPAxisRect(this);
    plotLayout()->addElement(plotLayout()->rowCount(), 0, m_heldOutRect);
    auto *margins = new QCPMarginGroup(this);
    for (QCPAxisRect *rect : {m_needleRect, m_heldOutRect}) {
        styleAxisRect(rect);
        useLogAxis(rect->axis(QCPAxis::atBottom));
        useLogAxis(rect->axis(QCPAxis::atLeft));
        rect->axis(QCPAxis::atBottom)->setLabel(tr("context length (tokens)"));
        rect->setMarginGroup(QCP::msLeft | QCP::msRight, margins);
        rect->setRangeDrag(Qt::Horizontal | Qt::Vertical);
        rect->setRangeZoom(Qt::Horizontal | Qt::Vertical);
    }
    m_needleRect->axis(QCPAxis::atLeft)->setLabel(tr("needle PPL (95 % interval)"));
    m_heldOutRect->axis(QCPAxis::atLeft)->setLabel(tr("held-out PPL (95 % interval)"));
    // The two panels share the length axis.
    connect(m_needleRect->axis(QCPAxis::atBottom), qOverload<const QCPRange &>(&QCPAxis::rangeChanged),
            m_heldOutRect->axis(QCPAxis::atBottom), qOverload<const QCPRange &>(&QCPAxis::setRange));
    connect(m_heldOutRect->axis(QCPAxis::atBottom), qOverload<const QCPRange &>(&QCPAxis::rangeChanged),
            m_needleRect->axis(QCPAxis::atBottom), qOverload<const QCPRange &>(&QCPAxis::setRange));
    setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    m_emptyLabel = new QCPItemText(this);
    m_emptyLabel->setClipToAxisRect(false);
    m_emptyLabel->position->setType(QCPItemPosition::ptAxisRectRatio);
    m_emptyLabel->position->setAxisRect(m_needleRect);
    m_emptyLabel->position->setCoords(0.5, 0.5);
    m_emptyLabel->setText(kEmptyText);
    m_emptyLabel->setColor(QColor(0x7f, 0x8c, 0x9a));
    for (QCPAxisRect *rect : {m_needleRect, m_heldOutRect}) {
        rect->axis(QCPAxis::atBottom)->setRange(128, 8192);
        rect->axis(QCPAxis::atLeft)->setRange(1, 100);
    }
}

void SweepCurvePlot::begin(const std::vector<SweepMethodSpec> &methods, int trainLength, int targetLength, double curveDepth)
{
    clearGraphs();
    for (QCPItemStraightLine *line : m_markers)
        removeItem(line);
    m_markers.clear();
    m_curves.clear();
    m_methods = methods;
    m_trainLength = trainLength;
    m_targetLength = targetLength;
    m_curveDepth = curveDepth;
    for (QCPAxisRect *rect : {m_needleRect, m_heldOutRect})
        for (const auto &[length, color] : {std::pair{trainLength, plotcolors::trainLength}, std::pair{targetLength, plotcolors::targetLength}}) {
            if (length <= 0)
                continue;
            auto *line = new QCPItemStraightLine(this);
            line->setClipAxisRect(rect);
            for (QCPItemPosition *p : {line->point1, line->point2})
                p->setAxes(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
            line->point1->setCoords(length, 1);
            line->point2->setCoords(length, 10);
            line->setPen(QPen(color, 1.2, Qt::DashLine));
            m_markers << line;
        }
    // Curves in the methods' order (the legend's), empty until their cells arrive.
    for (const SweepMeasure measure : {SweepMeasure::Needle, SweepMeasure::HeldOut})
        for (const SweepMethodSpec &m : methods)
            curveFor(measure, m.name);
    m_emptyLabel->setVisible(true);
    updateRanges();
    m_replot->request();
}

SweepCurvePlot::Curve &SweepCurvePlot::curveFor(SweepMeasure measure, const QString &method)
{
    const QString key = curveKey(measure, method);
    auto it = m_curves.find(key);
    if (it != m_curves.end())
        return *it;
    int index = 0;
    while (index < int(m_methods.size()) && m_methods[size_t(index)].name != method)
        ++index;
    const bool known = index < int(m_methods.size());
    const QColor color = known ? methodColors(m_methods)[size_t(index)] : QColor(Qt::black);
    // The original RoPE, the baseline every extension departs from, dashed.
    const bool baseline = known && m_methods[size_t(index)].kind == QLatin1String("none");
    QCPAxisRect *rect = measure == SweepMeasure::Needle ? m_needleRect : m_heldOutRect;
    Curve c;
    c.upper = addGraph(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
    c.lower = addGraph(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
    c.line = addGraph(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
    for (QCPGraph *edge : {c.upper, c.lower}) {
        edge->setPen(Qt::NoPen);
        edge->removeFromLegend();
    }
    QColor fill = color;
    fill.setAlpha(45);
    c.lower->setBrush(fill);
    c.lower->setChannelFillGraph(c.upper);
    c.line->setPen(QPen(color, 2, baseline ? Qt::DashLine : Qt::SolidLine));
    c.line->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, color, Qt::white, 6));
    c.line->setName(method);
    // One legend entry per method, whichever panel draws it first.
    bool listed = false;
    for (auto other = m_curves.cbegin(); other != m_curves.cend(); ++other)
        listed = listed || other->line->name() == method;
    if (listed)
        c.line->removeFromLegend();
    return *m_curves.insert(key, c);
}

void SweepCurvePlot::addCell(const SweepCell &cell)
{
    if (cell.measure == SweepMeasure::Needle && std::abs(cell.depth - m_curveDepth) > 1e-9)
        return;  // a heatmap cell
    if (!std::isfinite(cell.value) || cell.value <= 0)
        return;
    Curve &c = curveFor(cell.measure, cell.method);
    c.line->addData(cell.length, cell.value);
    const bool band = cell.interval.valid() && cell.interval.lower > 0;
    c.lower->addData(cell.length, band ? cell.interval.lower : cell.value);
    c.upper->addData(cell.length, band ? cell.interval.upper : cell.value);
    m_emptyLabel->setVisible(false);
    updateRanges();
    m_replot->request();
}

void SweepCurvePlot::setResult(const SweepResult &result)
{
    begin(result.methods, result.trainLength, result.settings.targetLength, result.settings.curveDepth);
    for (const SweepCell &cell : result.cells)
        addCell(cell);
}

void SweepCurvePlot::updateRanges()
{
    double xLo = std::numeric_limits<double>::infinity(), xHi = 0;
    for (const int L : {m_trainLength, m_targetLength})
        if (L > 0) {
            xLo = std::min(xLo, double(L));
            xHi = std::max(xHi, double(L));
        }
    for (QCPAxisRect *rect : {m_needleRect, m_heldOutRect}) {
        double lo = std::numeric_limits<double>::infinity(), hi = 0;
        for (const Curve &c : m_curves) {
            if (c.line->valueAxis()->axisRect() != rect)
                continue;
            for (QCPGraph *g : {c.line, c.lower, c.upper})
                for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it) {
                    if (std::isfinite(it->value) && it->value > 0) {
                        lo = std::min(lo, it->value);
                        hi = std::max(hi, it->value);
                    }
                    xLo = std::min(xLo, it->key);
                    xHi = std::max(xHi, it->key);
                }
        }
        setLogRange(rect->axis(QCPAxis::atLeft), lo, hi, 1.15);
    }
    if (xHi > 0)
        setLogRange(m_needleRect->axis(QCPAxis::atBottom), xLo, xHi, 1.3);
}

QCPGraph *SweepCurvePlot::curve(SweepMeasure measure, const QString &method) const
{
    const auto it = m_curves.constFind(curveKey(measure, method));
    return it == m_curves.cend() ? nullptr : it->line;
}

QCPGraph *SweepCurvePlot::bandLower(SweepMeasure measure, const QString &method) const
{
    const auto it = m_curves.constFind(curveKey(measure, method));
    return it == m_curves.cend() ? nullptr : it->lower;
}

QCPGraph *SweepCurvePlot::bandUpper(SweepMeasure measure, const QString &method) const
{
    const auto it = m_curves.constFind(curveKey(measure, method));
    return it == m_curves.cend() ? nullptr : it->upper;
}

void SweepCurvePlot::flushReplot() { m_replot->flush(); }
bool SweepCurvePlot::isReplotPending() const { return m_replot->isPending(); }

// ---------------------------------------------------------------------------------------------

SweepHeatmapPlot::SweepHeatmapPlot(QWidget *parent) : QCustomPlot(parent), m_replot(new CoalescedReplot(this))
{
    rebuild();
}

void SweepHeatmapPlot::begin(const std::vector<SweepMethodSpec> &methods, const std::vector<int> &lengths,
                             const std::vector<double> &depths)
{
    m_methods = methods;
    m_lengths = lengths;
    m_depths = depths;
    m_cells.clear();
    m_havePasskey = false;
    if (!m_shown.isEmpty() && std::none_of(methods.begin(), methods.end(), [&](const SweepMethodSpec &m) { return m.name == m_shown; }))
        m_shown.clear();
    rebuild();
}

void SweepHeatmapPlot::setResult(const SweepResult &result)
{
    std::vector<double> depths = result.settings.depths;
    std::sort(depths.begin(), depths.end());
    begin(result.methods, result.settings.lengths, depths);
    for (const SweepCell &cell : result.cells)
        addCell(cell);
}

void SweepHeatmapPlot::addCell(const SweepCell &cell)
{
    if (cell.measure != SweepMeasure::Needle)
        return;
    const auto li = std::find(m_lengths.begin(), m_lengths.end(), cell.length);
    const auto di = std::find_if(m_depths.begin(), m_depths.end(), [&](double d) { return std::abs(d - cell.depth) < 1e-9; });
    if (li == m_lengths.end() || di == m_depths.end())
        return;  // the length curve's depth, not part of the grid
    Cell &c = m_cells[cell.method][{int(li - m_lengths.begin()), int(di - m_depths.begin())}];
    c.ppl = cell.value;
    c.pplInterval = cell.interval;
    c.passkey = cell.passkeyAccuracy >= 0 ? cell.passkeyAccuracy : qQNaN();
    c.passkeyInterval = cell.passkeyInterval;
    if (cell.passkeyAccuracy >= 0 && !m_havePasskey) {
        m_havePasskey = true;
        rebuild();  // the colour scale changes from PPL to accuracy
        return;
    }
    fillMaps();
    m_replot->request();
}

void SweepHeatmapPlot::setMetric(Metric metric)
{
    if (metric == m_metric)
        return;
    m_metric = metric;
    rebuild();
}

void SweepHeatmapPlot::setShownMethod(const QString &method)
{
    if (method == m_shown)
        return;
    m_shown = method;
    rebuild();
}

double SweepHeatmapPlot::shownValue(const Cell &cell) const
{
    return m_metric == Metric::Passkey && m_havePasskey ? cell.passkey : cell.ppl;
}

void SweepHeatmapPlot::rebuild()
{
    clearPlottables();
    clearItems();
    plotLayout()->clear();
    m_maps.clear();
    m_labels.clear();
    m_scale = nullptr;
    const bool passkey = m_metric == Metric::Passkey && m_havePasskey;
    QStringList shown;
    for (const SweepMethodSpec &m : m_methods)
        if (m_shown.isEmpty() || m.name == m_shown)
            shown << m.name;
    if (shown.isEmpty() || m_lengths.empty() || m_depths.empty()) {
        auto *rect = new QCPAxisRect(this);
        plotLayout()->addElement(0, 0, rect);
        styleAxisRect(rect);
        auto *text = new QCPItemText(this);
        text->position->setType(QCPItemPosition::ptAxisRectRatio);
        text->position->setAxisRect(rect);
        text->position->setCoords(0.5, 0.5);
        text->setText(tr("The heatmap needs needle depths (e.g. 0, 0.25, 0.5, 0.75, 1)"));
        text->setColor(QColor(0x7f, 0x8c, 0x9a));
        m_replot->request();
        return;
    }
    QFont titleFont = font();
    titleFont.setBold(true);
    plotLayout()->addElement(0, 0, new QCPTextElement(this, passkey ? tr("Passkey accuracy: needle depth × context length")
                                                                    : tr("Needle PPL: needle depth × context length"), titleFont));
    auto *row = new QCPLayoutGrid;
    plotLayout()->addElement(1, 0, row);
    plotLayout()->setRowStretchFactor(0, 0.001);
    auto *margins = new QCPMarginGroup(this);
    QSharedPointer<QCPAxisTickerText> lengthTicks(new QCPAxisTickerText);
    for (size_t i = 0; i < m_lengths.size(); ++i)
        lengthTicks->addTick(double(i), QString::number(m_lengths[i]));
    QSharedPointer<QCPAxisTickerText> depthTicks(new QCPAxisTickerText);
    for (size_t j = 0; j < m_depths.size(); ++j)
        depthTicks->addTick(double(j), percent(m_depths[j]));
    QCPColorGradient gradient(QCPColorGradient::gpThermal);
    // Good is green, bad red, whichever way the figure runs.
    gradient.clearColorStops();
    gradient.setColorStopAt(0.0, QColor(0xc0, 0x39, 0x2b));
    gradient.setColorStopAt(0.5, QColor(0xf1, 0xc4, 0x0f));
    gradient.setColorStopAt(1.0, QColor(0x27, 0xae, 0x60));
    if (!passkey)
        gradient = gradient.inverted();
    gradient.setNanHandling(QCPColorGradient::nhTransparent);
    m_scale = new QCPColorScale(this);
    m_scale->setType(QCPAxis::atRight);
    m_scale->setGradient(gradient);
    m_scale->axis()->setLabel(passkey ? tr("passkey accuracy") : tr("needle PPL"));
    if (passkey) {
        m_scale->setDataScaleType(QCPAxis::stLinear);
        m_scale->setDataRange(QCPRange(0, 1));
    } else {
        m_scale->setDataScaleType(QCPAxis::stLogarithmic);
        useLogAxis(m_scale->axis());
    }
    for (int k = 0; k < shown.size(); ++k) {
        auto *rect = new QCPAxisRect(this);
        auto *column = new QCPLayoutGrid;
        row->addElement(0, k, column);
        column->addElement(0, 0, new QCPTextElement(this, shown[k], font()));
        column->addElement(1, 0, rect);
        column->setRowStretchFactor(0, 0.001);
        styleAxisRect(rect);
        rect->setMarginGroup(QCP::msTop | QCP::msBottom, margins);
        QCPAxis *x = rect->axis(QCPAxis::atBottom), *y = rect->axis(QCPAxis::atLeft);
        x->setTicker(lengthTicks);
        y->setTicker(depthTicks);
        x->setRange(-0.5, double(m_lengths.size()) - 0.5);
        y->setRange(-0.5, double(m_depths.size()) - 0.5);
        y->setRangeReversed(true);  // 0 % (near the start of the document) at the top
        // One x title under the whole row: side by side, each map's own title ran into its
        // neighbours' (every map is narrower than the words).
        x->setLabel(shown.size() == 1 ? tr("context length (tokens)") : QString());
        QFont tickFont = font();
        tickFont.setPointSizeF(std::max(6.0, tickFont.pointSizeF() - 1));
        x->setTickLabelFont(tickFont);
        y->setLabel(k == 0 ? tr("needle depth") : QString());
        x->grid()->setVisible(false);
        y->grid()->setVisible(false);
        auto *map = new QCPColorMap(x, y);
        map->data()->setSize(int(m_lengths.size()), int(m_depths.size()));
        map->data()->setRange(QCPRange(0, double(m_lengths.size()) - 1), QCPRange(0, double(m_depths.size()) - 1));
        map->setColorScale(m_scale);
        map->setInterpolate(false);
        map->setTightBoundary(false);
        m_maps.insert(shown[k], map);
        QList<QCPItemText *> labels;
        for (size_t i = 0; i < m_lengths.size(); ++i)
            for (size_t j = 0; j < m_depths.size(); ++j) {
                auto *label = new QCPItemText(this);
                QFont small = font();
                small.setPointSizeF(std::max(6.0, small.pointSizeF() - 2));
                label->setFont(small);
                label->setClipAxisRect(rect);
                label->position->setAxes(x, y);
                label->position->setCoords(double(i), double(j));
                label->setColor(QColor(0x1b, 0x1b, 0x1b));
                labels << label;
            }
        m_labels.insert(shown[k], labels);
    }
    row->addElement(0, int(shown.size()), m_scale);
    m_scale->setMarginGroup(QCP::msTop | QCP::msBottom, margins);
    if (shown.size() > 1) {
        auto *xTitle = new QCPTextElement(this, tr("context length (tokens)"), font());
        xTitle->setObjectName(QStringLiteral("heatmapLengthTitle"));
        plotLayout()->addElement(2, 0, xTitle);
        plotLayout()->setRowStretchFactor(2, 0.001);
    }
    fillMaps();
    m_replot->request();
}

void SweepHeatmapPlot::fillMaps()
{
    const bool passkey = m_metric == Metric::Passkey && m_havePasskey;
    double lo = std::numeric_limits<double>::infinity(), hi = 0;
    for (auto it = m_maps.cbegin(); it != m_maps.cend(); ++it) {
        const QMap<QPair<int, int>, Cell> cells = m_cells.value(it.key());
        QCPColorMapData *data = it.value()->data();
        const QList<QCPItemText *> labels = m_labels.value(it.key());
        for (int i = 0; i < int(m_lengths.size()); ++i)
            for (int j = 0; j < int(m_depths.size()); ++j) {
                const auto found = cells.constFind({i, j});
                const double v = found == cells.cend() ? qQNaN() : shownValue(*found);
                data->setCell(i, j, v);
                QCPItemText *label = labels.value(i * int(m_depths.size()) + j);
                if (label)
                    label->setText(std::isfinite(v) ? (passkey ? percent(v) : QString::number(v, 'g', 3)) : QString());
                if (std::isfinite(v) && v > 0) {
                    lo = std::min(lo, v);
                    hi = std::max(hi, v);
                }
            }
    }
    if (m_scale && !passkey && hi > 0)
        m_scale->setDataRange(QCPRange(std::min(lo, 1.0), std::max(hi, lo * 2)));
}

QCPColorMap *SweepHeatmapPlot::colorMap(const QString &method) const { return m_maps.value(method, nullptr); }

double SweepHeatmapPlot::valueAt(const QString &method, int length, double depth) const
{
    const auto li = std::find(m_lengths.begin(), m_lengths.end(), length);
    const auto di = std::find_if(m_depths.begin(), m_depths.end(), [&](double d) { return std::abs(d - depth) < 1e-9; });
    if (li == m_lengths.end() || di == m_depths.end())
        return qQNaN();
    const auto cells = m_cells.value(method);
    const auto found = cells.constFind({int(li - m_lengths.begin()), int(di - m_depths.begin())});
    return found == cells.cend() ? qQNaN() : shownValue(*found);
}

void SweepHeatmapPlot::flushReplot() { m_replot->flush(); }
bool SweepHeatmapPlot::isReplotPending() const { return m_replot->isPending(); }

// ---------------------------------------------------------------------------------------------

bool savePlot(QCustomPlot *plot, const QString &path, QSize size)
{
    const bool sized = size.width() > 0 && size.height() > 0;
    const int width = sized ? size.width() : std::max(plot->width(), 200);
    const int height = sized ? size.height() : std::max(plot->height(), 150);
    // A plot never shown (--export-sweep-plots) has no viewport of its size yet, and one exported
    // at another size needs its layout for that size: the legend is arranged for the viewport's
    // width before each replot.
    const bool hidden = !plot->isVisible();
    const bool relayout = hidden || sized;
    if (relayout) {
        plot->setProperty(kExportingProperty, true);
        plot->setViewport(QRect(0, 0, width, height));
    }
    plot->replot(QCustomPlot::rpImmediateRefresh);
    const QString suffix = QFileInfo(path).suffix().toLower();
    const bool saved = suffix == QLatin1String("pdf")
                           ? plot->savePdf(path, width, height, QCP::epNoCosmetic, QStringLiteral("RopeScope"))
                           : plot->savePng(path, width, height);
    if (relayout) {
        plot->setProperty(kExportingProperty, false);
        if (!hidden) {  // back to the screen's size
            plot->setViewport(plot->rect());
            plot->replot(QCustomPlot::rpQueuedReplot);
        }
    }
    return saved;
}

} // namespace rs
