#include "plotstyle.h"

#include <QLocale>
#include <QTimer>
#include <algorithm>
#include <cmath>
#include <qcustomplot.h>

namespace rs {

namespace {

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
        QVector<double> ticks;
        for (double decade = std::pow(10.0, std::floor(std::log10(range.lower))); decade <= range.upper; decade *= 10) {
            for (double mantissa : {1.0, 2.0, 5.0})
                ticks << mantissa * decade;
        }
        return ticks;
    }

    QVector<double> createSubTickVector(int subTickCount, const QVector<double> &ticks) override
    {
        if (!m_fewDecades || ticks.isEmpty())
            return QCPAxisTickerLog::createSubTickVector(subTickCount, ticks);
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
        if (!plot->isVisible())
            return;  // a hidden plot has no real width yet; it is arranged when it shows
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

} // namespace rs
