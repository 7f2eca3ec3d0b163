#pragma once
// Shared look of RopeScope's plots and the replot discipline they all follow.
#include <QColor>
#include <QObject>
#include <QString>

class QCustomPlot;
class QCPAxis;
class QCPAxisRect;
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

// Fonts, grids and tick labels common to every axis rect.
void styleAxisRect(QCPAxisRect *rect);
// Moves the plot's legend into a strip above the axis rects, after a bold title.
QCPLegend *placeLegendAbove(QCustomPlot *plot, const QString &title);
void useLogAxis(QCPAxis *axis);
void useLinearAxis(QCPAxis *axis);

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
