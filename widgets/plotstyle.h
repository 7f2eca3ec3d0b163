#pragma once
// Shared look of RopeScope's plots and the replot discipline they all follow.
#include <QColor>
#include <QList>
#include <QObject>
#include <QString>

class QCustomPlot;
class QCPAxis;
class QCPAxisRect;
class QCPItemText;
class QCPLegend;
class QTimer;

namespace rs {

namespace plotcolors {
inline const QColor original{0x7f, 0x8c, 0x9a};     // λ = 1 (slate grey)
inline const QColor rescaled{0x1f, 0x6f, 0xd1};     // the edited λ (strong blue)
inline const QColor trainLength{0x2e, 0x9e, 0x5b};  // L_train (green)
inline const QColor targetLength{0xc0, 0x39, 0x2b}; // L (red)
inline const QColor dTcd{0x8e, 0x44, 0xad};         // theoretical critical dimension (purple)
inline const QColor dRcd{0xe6, 0x7e, 0x22};         // real critical dimension (orange)
inline const QColor oodShade{0xe7, 0x4c, 0x3c, 0x30};
inline const QColor forbiddenShade{0xe7, 0x4c, 0x3c, 0x26};
inline const QColor violation{0xc0, 0x39, 0x2b};
inline const QColor searchBest{0xc2, 0x18, 0x5b};  // best factors / PPL of a search (magenta)
// One colour per comparison family, stable across views.
QColor family(const QString &name);
} // namespace plotcolors

// Human name of a factor family ("yarn" → "YaRN").
QString familyTitle(const QString &name);

// Compact human-readable numbers: thousands grouped for lengths, 4 significant digits otherwise.
QString formatNumber(double value);

// Set (true) on a plot while it is drawn for an export without being on screen, so that layout
// code that waits for a visible plot lays it out at the export's size.
inline constexpr char kExportingProperty[] = "rsExporting";

// Fonts, grids and tick labels common to every axis rect.
void styleAxisRect(QCPAxisRect *rect);
// Moves the plot's legend into a strip above the axis rects, after a bold title.
QCPLegend *placeLegendAbove(QCustomPlot *plot, const QString &title);
void useLogAxis(QCPAxis *axis);
void useLinearAxis(QCPAxis *axis);

// Keeps marker labels readable in a small plot (the 1024 × 700 window): each of `movable`, in
// order, starts at the top of `rect` where placeMarkerLabel put it, goes to the other side of its
// marker when it would leave the axis rect (or slides inside when neither side fits), and moves down past every label of `fixed` and
// every movable placed before it that it would cover. The movable labels' y must be of type
// ptAxisRectRatio. Call from QCustomPlot::afterLayout, when pixel positions are known.
void separateLabels(QCPAxisRect *rect, const QList<QCPItemText *> &fixed, const QList<QCPItemText *> &movable);
// Anchors a movable label at plot x `x` (a vertical marker), on the side of it `side` names
// (Qt::AlignLeft: the label starts at x; Qt::AlignRight: it ends there), which separateLabels
// starts from every time.
void placeMarkerLabel(QCPItemText *label, double x, Qt::Alignment side);
// Places a horizontally centred label of separateLabels' `fixed` at (x, y); when it is wider than
// the room it has, separateLabels slides it inside the axis rect.
void placeCentredLabel(QCPItemText *label, double x, double y);

// Coalesces bursts of data changes into one replot about 40 ms later (PlotJuggler's discipline):
// views call request() after updating their data and never replot() directly.
class CoalescedReplot : public QObject {
    Q_OBJECT
public:
    explicit CoalescedReplot(QCustomPlot *plot);
    void request();
    // Replots now, cancelling any pending replot (before grabbing or exporting the plot).
    void flush();
    bool isPending() const;

private:
    QCustomPlot *m_plot;
    QTimer *m_timer;
};

} // namespace rs
