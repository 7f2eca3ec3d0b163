#include "plotstyle.h"

#include <QLocale>
#include <QTimer>
#include <algorithm>
#include <cmath>
#include <qcustomplot.h>

namespace rs {

namespace {
// The minimum height a plot was given before its legend strip asked for more.
constexpr char kOwnMinimumHeight[] = "rsOwnMinimumHeight";

constexpr int kReplotDelayMs = 40;
// Below this ratio of upper to lower bound a log axis has too few decades to label only powers of 10.
constexpr double kFewDecades = 300.0;
constexpr int kMostLegendColumns = 8;

// A log ticker that labels 1, 2, 5 × 10^k when the range spans only a couple of decades (λ between
// 1 and 30 would otherwise get just two labels), and plain decades otherwise.
class LogTicker : public QCPAxisTickerLog {
protected:
    QVector<double> createTickVector(double tickStep, const QCPRange &range) override
    {
        m_fewDecades = range.lower > 0 && range.upper / range.lower < kFewDecades;
        if (!m_fewDecades)
            return QCPAxisTickerLog::createTickVector(tickStep, range);
        // Within a factor of 4 (held-out perplexities of 1.3 to 2.9, say) 1-2-5 would leave one
        // labelled tick; finer steps keep a few.
        m_narrow = range.upper / range.lower < 4;
        static const QVector<double> wide{1.0, 2.0, 5.0}, narrow{1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0};
        QVector<double> ticks;
        for (double decade = std::pow(10.0, std::floor(std::log10(range.lower))); decade <= range.upper; decade *= 10) {
            for (double mantissa : m_narrow ? narrow : wide)
                ticks << mantissa * decade;
        }
        return ticks;
    }

    QVector<double> createSubTickVector(int subTickCount, const QVector<double> &ticks) override
    {
        if (!m_fewDecades || ticks.isEmpty())
            return QCPAxisTickerLog::createSubTickVector(subTickCount, ticks);
        if (m_narrow)
            return {};  // the ticks are already close together
        QVector<double> subTicks;
        for (double decade = ticks.front(); decade <= ticks.back(); decade *= 10) {
            for (double mantissa : {3.0, 4.0, 6.0, 7.0, 8.0, 9.0})
                subTicks << mantissa * decade;
        }
        return subTicks;
    }

    // Decades read as 10ⁿ (the axis' beautiful powers turn "1e+06" into 10⁶).
    QString getTickLabel(double tick, const QLocale &locale, QChar formatChar, int precision) override
    {
        if (m_fewDecades)
            return QCPAxisTickerLog::getTickLabel(tick, locale, formatChar, precision);
        return locale.toString(tick, 'e', 0);
    }

private:
    bool m_fewDecades = false;
    bool m_narrow = false;
};

// The most legend columns (entries per row) that fit the plot's width beside the title, so a
// narrow plot wraps its legend onto more rows instead of clipping the names.
int fittingLegendColumns(QCPLegend *legend, int availableWidth)
{
    // Widths in fill order; a wrapped grid may hold empty cells, which are skipped.
    QVector<int> widths;
    for (int i = 0; i < legend->elementCount(); ++i) {
        if (QCPAbstractLegendItem *item = legend->item(i))
            widths << item->minimumOuterSizeHint().width();
    }
    const int count = int(widths.size());
    const QMargins margins = legend->margins();
    for (int columns = std::min(count, kMostLegendColumns); columns > 1; --columns) {
        int total = margins.left() + margins.right() + legend->columnSpacing() * (columns - 1);
        for (int column = 0; column < columns; ++column) {
            int widest = 0;
            for (int i = column; i < count; i += columns)
                widest = std::max(widest, widths[i]);
            total += widest;
        }
        if (total <= availableWidth)
            return columns;
    }
    return 1;
}

} // namespace

QColor plotcolors::family(const QString &name)
{
    static const QHash<QString, QColor> colors{
        {QStringLiteral("pi"), QColor(0x95, 0xa5, 0xa6)},
        {QStringLiteral("ntk"), QColor(0x16, 0xa0, 0x85)},
        {QStringLiteral("yarn"), QColor(0xd3, 0x54, 0x00)},
        {QStringLiteral("llama3"), QColor(0x8e, 0x44, 0xad)},
        {QStringLiteral("config"), QColor(0x2c, 0x3e, 0x50)},
        {QStringLiteral("longrope2"), QColor(0x27, 0xae, 0x60)},
        {QStringLiteral("dynamic"), QColor(0xb7, 0x95, 0x0b)},
    };
    return colors.value(name, QColor(0x34, 0x49, 0x5e));
}

QString familyTitle(const QString &name)
{
    static const QHash<QString, QString> titles{
        {QStringLiteral("identity"), QStringLiteral("identity (λ = 1)")},
        {QStringLiteral("pi"), QStringLiteral("PI (linear)")},
        {QStringLiteral("ntk"), QStringLiteral("NTK-aware")},
        {QStringLiteral("dynamic"), QStringLiteral("dynamic NTK")},
        {QStringLiteral("yarn"), QStringLiteral("YaRN")},
        {QStringLiteral("llama3"), QStringLiteral("Llama 3.1")},
        {QStringLiteral("config"), QStringLiteral("config's own")},
        {QStringLiteral("longrope2"), QStringLiteral("LongRoPE2 structure")},
    };
    return titles.value(name, name);
}

QString formatNumber(double value)
{
    if (!std::isfinite(value))
        return QString::number(value);
    if (std::abs(value) >= 1000 && std::abs(value) < 1e9)
        return QLocale(QLocale::English).toString(value, 'f', 0);
    return QLocale(QLocale::English).toString(value, 'g', 4);
}

QCPLegend *placeLegendAbove(QCustomPlot *plot, const QString &title)
{
    auto *strip = new QCPLayoutGrid;
    plot->plotLayout()->insertRow(0);
    plot->plotLayout()->addElement(0, 0, strip);
    plot->plotLayout()->setRowStretchFactor(0, 0.001);
    strip->setMargins(QMargins(0, 4, 8, 0));
    strip->setColumnSpacing(12);

    QFont titleFont = plot->font();
    titleFont.setBold(true);
    titleFont.setPointSizeF(titleFont.pointSizeF() + 1.5);
    auto *titleElement = new QCPTextElement(plot, title, titleFont);
    titleElement->setTextColor(QColor(0x22, 0x2b, 0x33));
    titleElement->setMargins(QMargins(10, 2, 10, 2));
    strip->addElement(0, 0, titleElement);

    plot->axisRect()->insetLayout()->take(plot->legend);
    strip->addElement(0, 1, plot->legend);
    plot->legend->setVisible(true);
    plot->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
    plot->legend->setWrap(kMostLegendColumns);
    plot->legend->setBorderPen(Qt::NoPen);
    plot->legend->setBrush(Qt::NoBrush);
    plot->legend->setColumnSpacing(14);
    plot->legend->setMargins(QMargins(2, 2, 2, 2));
    // The empty third column takes the spare width so the title and legend stay left-aligned.
    strip->addElement(0, 2, new QCPLayoutElement(plot));
    strip->setColumnStretchFactors({0.001, 0.001, 1.0});
    // Before every replot (the layout is updated right after), so resizing and entries added later
    // are both taken into account.
    QCPLayoutElement *titleCell = titleElement;  // its size hint is public as a layout element
    QObject::connect(plot, &QCustomPlot::beforeReplot, plot, [plot, titleCell, strip] {
        QCPLegend *legend = plot->legend;
        // A hidden plot has no real width yet (it is arranged when it shows), unless it is being
        // exported at a size of its own (savePlot).
        if (!plot->isVisible() && !plot->property(kExportingProperty).toBool())
            return;
        const QMargins margins = strip->margins();
        const int full = plot->viewport().width() - margins.left() - margins.right();
        const int beside = full - strip->columnSpacing() - titleCell->minimumOuterSizeHint().width();
        // Beside the title while its widest entry fits there, else on a row of its own below it
        // (a narrow plot), so no entry is ever cut off at the right.
        int widest = 0;
        for (int i = 0; i < legend->elementCount(); ++i) {  // a wrapped grid may hold empty cells
            if (QCPAbstractLegendItem *item = legend->item(i))
                widest = std::max(widest, item->minimumOuterSizeHint().width());
        }
        widest += legend->margins().left() + legend->margins().right();
        const bool below = widest > beside;
        const bool isBelow = strip->rowCount() > 1 && strip->hasElement(1, 0) && strip->element(1, 0) == legend;
        if (below != isBelow) {
            // The cells stay (no simplify), so the legend can always go back to (0, 1).
            strip->take(legend);
            strip->addElement(below ? 1 : 0, below ? 0 : 1, legend);
        }
        const int columns = fittingLegendColumns(legend, below ? full : beside);
        if (columns != legend->wrap()) {
            legend->setWrap(columns);
            legend->setFillOrder(QCPLayoutGrid::foColumnsFirst, true);
        }
        // Below the height its strips and axis rects need, QCustomPlot squeezes the legend strips
        // (their stretch is tiny) to a pixel: ask the widget's layout for that height instead (the
        // search dock scrolls). The plot's own minimum stays the floor.
        if (plot->property(kExportingProperty).toBool())
            return;
        if (!plot->property(kOwnMinimumHeight).isValid())
            plot->setProperty(kOwnMinimumHeight, plot->minimumHeight());
        const int needed = std::max(plot->property(kOwnMinimumHeight).toInt(), plot->plotLayout()->minimumOuterSizeHint().height());
        if (plot->minimumHeight() != needed)
            plot->setMinimumHeight(needed);
    });
    return plot->legend;
}

void styleAxisRect(QCPAxisRect *rect)
{
    QFont labelFont = rect->parentPlot()->font();
    labelFont.setPointSizeF(labelFont.pointSizeF() + 0.5);
    const QPen gridPen(QColor(0xdd, 0xe1, 0xe6), 0, Qt::SolidLine);
    const QPen subGridPen(QColor(0xee, 0xf0, 0xf3), 0, Qt::DotLine);
    for (QCPAxis *axis : rect->axes()) {
        axis->setLabelFont(labelFont);
        axis->setBasePen(QPen(QColor(0x55, 0x5f, 0x6b)));
        axis->setTickPen(QPen(QColor(0x55, 0x5f, 0x6b)));
        axis->setSubTickPen(QPen(QColor(0x88, 0x92, 0x9c)));
        axis->setTickLabelColor(QColor(0x33, 0x3d, 0x47));
        axis->setLabelColor(QColor(0x22, 0x2b, 0x33));
        axis->grid()->setPen(gridPen);
        axis->grid()->setSubGridPen(subGridPen);
    }
}

void useLogAxis(QCPAxis *axis)
{
    axis->setScaleType(QCPAxis::stLogarithmic);
    QSharedPointer<QCPAxisTickerLog> ticker(new LogTicker);
    ticker->setLogBase(10);
    ticker->setSubTickCount(8);
    axis->setTicker(ticker);
    axis->setNumberFormat(QStringLiteral("gb"));
    axis->setNumberPrecision(6);
    axis->grid()->setSubGridVisible(true);
}

void useLinearAxis(QCPAxis *axis)
{
    axis->setScaleType(QCPAxis::stLinear);
    axis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    axis->setNumberFormat(QStringLiteral("g"));
    axis->setNumberPrecision(6);
    axis->grid()->setSubGridVisible(false);
}

CoalescedReplot::CoalescedReplot(QCustomPlot *plot) : QObject(plot), m_plot(plot), m_timer(new QTimer(this))
{
    m_timer->setSingleShot(true);
    m_timer->setInterval(kReplotDelayMs);
    connect(m_timer, &QTimer::timeout, m_plot, [this] { m_plot->replot(QCustomPlot::rpQueuedRefresh); });
}

void CoalescedReplot::request()
{
    if (!m_timer->isActive())
        m_timer->start();
}

void CoalescedReplot::flush()
{
    m_timer->stop();
    m_plot->replot(QCustomPlot::rpImmediateRefresh);
}

bool CoalescedReplot::isPending() const { return m_timer->isActive(); }

namespace {

const char kPreferredSide[] = "rsPreferredSide";
const char kAnchorX[] = "rsAnchorX";

QRectF labelRect(const QCPItemText *label)
{
    return QRectF(label->topLeft->pixelPosition(), label->bottomRight->pixelPosition()).normalized();
}

} // namespace

void placeMarkerLabel(QCPItemText *label, double x, Qt::Alignment side)
{
    label->setProperty(kPreferredSide, int(side & Qt::AlignHorizontal_Mask));
    label->setProperty(kAnchorX, x);
    label->setPositionAlignment((side & Qt::AlignHorizontal_Mask) | Qt::AlignTop);
    label->position->setCoords(x, 0.0);
}

void placeCentredLabel(QCPItemText *label, double x, double y)
{
    label->setProperty(kAnchorX, x);
    label->position->setCoords(x, y);
}

void separateLabels(QCPAxisRect *rect, const QList<QCPItemText *> &fixed, const QList<QCPItemText *> &movable)
{
    const QRect area = rect->rect();
    if (area.height() < 4 || area.width() < 4)
        return;  // not laid out yet
    QCPAxis *xAxis = rect->axis(QCPAxis::atBottom);
    QList<QRectF> taken;
    for (QCPItemText *label : fixed) {
        if (!label->visible() || label->text().isEmpty())
            continue;
        QRectF r = labelRect(label);
        // A centred label (placeCentredLabel) too wide for its region slides inside the plot.
        if (const QVariant anchor = label->property(kAnchorX); anchor.isValid()) {
            label->position->setCoords(anchor.toDouble(), label->position->coords().y());
            r = labelRect(label);
            const double dx = r.left() < area.left() ? area.left() - r.left() : std::min(0.0, area.right() - r.right());
            if (dx != 0) {
                r.translate(dx, 0);
                label->position->setCoords(xAxis->pixelToCoord(r.center().x()), label->position->coords().y());
            }
        }
        taken << r;
    }
    for (QCPItemText *label : movable) {
        if (!label->visible() || !label->property(kAnchorX).isValid())
            continue;
        const double x = label->property(kAnchorX).toDouble();
        const Qt::Alignment preferred = Qt::Alignment(label->property(kPreferredSide).toInt());
        const Qt::Alignment other = preferred & Qt::AlignLeft ? Qt::AlignRight : Qt::AlignLeft;
        // Where the label would sit on one side of its marker: slid inside the plot when it sticks
        // out, then down past whatever it covers (each pass only moves down, so a few settle it).
        const auto settle = [&](Qt::Alignment side) {
            label->setPositionAlignment(side | Qt::AlignTop);
            label->position->setCoords(x, 0.0);
            QRectF r = labelRect(label);
            if (r.left() < area.left())
                r.translate(area.left() - r.left(), 0);
            else if (r.right() > area.right())
                r.translate(std::max(area.right() - r.right(), area.left() - r.left()), 0);
            for (int pass = 0; pass < 8; ++pass) {
                bool moved = false;
                for (const QRectF &placed : std::as_const(taken))
                    if (r.intersects(placed)) {
                        r.moveTop(placed.bottom() + 1);
                        moved = true;
                    }
                if (!moved)
                    break;
            }
            return r;
        };
        // The preferred side when it fits, else the other; with no room on either, the preferred
        // side at the top.
        Qt::Alignment side = preferred;
        QRectF r = settle(preferred);
        if (r.bottom() > area.bottom() + 1) {
            const QRectF flipped = settle(other);
            if (flipped.bottom() <= area.bottom() + 1) {
                side = other;
                r = flipped;
            } else {
                r = settle(preferred);
                r.moveTop(area.top());
            }
        }
        label->setPositionAlignment(side | Qt::AlignTop);
        const double anchorPixel = side & Qt::AlignLeft ? r.left() : r.right();
        label->position->setCoords(xAxis->pixelToCoord(anchorPixel), (r.top() - area.top()) / double(area.height()));
        taken << r;
    }
}

} // namespace rs
