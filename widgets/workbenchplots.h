#pragma once
// The evaluation workbench's plots (fed by sweep cells, eval/sweepresult.h):
// - SweepCurvePlot: perplexity against context length, one curve per method on log axes, each with
//   its 95 % interval as a band — needle PPL above, held-out perplexity below — and L_train and the
//   target marked;
// - SweepHeatmapPlot: the needle-in-a-haystack heatmap, needle depth (0–100 %) × context length →
//   passkey accuracy or needle PPL, one QCPColorMap per method, side by side or one at a time.
// Both grow cell by cell as a sweep reports them and replot through the coalescing timer.
#include "eval/sweepresult.h"

#include <qcustomplot.h>

#include <QColor>
#include <QMap>
#include <QString>
#include <QStringList>

namespace rs {

class CoalescedReplot;

// A method's colour: the family colours of the other views for the families, then a fixed palette.
QColor sweepMethodColor(const SweepMethodSpec &method, int index);

class SweepCurvePlot : public QCustomPlot {
    Q_OBJECT

public:
    explicit SweepCurvePlot(QWidget *parent = nullptr);

    // Starts over with these methods (legend order and colours), the model's L_train and the target.
    void begin(const std::vector<SweepMethodSpec> &methods, int trainLength, int targetLength, double curveDepth);
    // A needle cell at the curve's depth or a held-out cell adds a point and widens the band.
    void addCell(const SweepCell &cell);
    void setResult(const SweepResult &result);

    void flushReplot();
    bool isReplotPending() const;

    QCPAxisRect *needleRect() const { return m_needleRect; }
    QCPAxisRect *heldOutRect() const { return m_heldOutRect; }
    // The curve of a method (nullptr if none), and the two edges of its band.
    QCPGraph *curve(SweepMeasure measure, const QString &method) const;
    QCPGraph *bandLower(SweepMeasure measure, const QString &method) const;
    QCPGraph *bandUpper(SweepMeasure measure, const QString &method) const;

private:
    struct Curve {
        QCPGraph *line = nullptr, *lower = nullptr, *upper = nullptr;
    };
    Curve &curveFor(SweepMeasure measure, const QString &method);
    void updateRanges();

    CoalescedReplot *m_replot;
    QCPAxisRect *m_needleRect;
    QCPAxisRect *m_heldOutRect;
    QCPItemText *m_emptyLabel;
    QList<QCPItemStraightLine *> m_markers;
    std::vector<SweepMethodSpec> m_methods;
    QMap<QString, Curve> m_curves;  // key: measure name + "\n" + method
    double m_curveDepth = 0;
    int m_trainLength = 0;
    int m_targetLength = 0;
};

class SweepHeatmapPlot : public QCustomPlot {
    Q_OBJECT

public:
    enum class Metric { Passkey, NeedlePpl };

    explicit SweepHeatmapPlot(QWidget *parent = nullptr);

    // Starts over: lengths (columns) and depths (rows) of the grid, and the methods.
    void begin(const std::vector<SweepMethodSpec> &methods, const std::vector<int> &lengths, const std::vector<double> &depths);
    void addCell(const SweepCell &cell);
    void setResult(const SweepResult &result);
    // Which figure the colours show (passkey accuracy falls back to needle PPL when not measured).
    void setMetric(Metric metric);
    Metric metric() const { return m_metric; }
    // Empty: every method side by side; else only that one.
    void setShownMethod(const QString &method);
    QString shownMethod() const { return m_shown; }

    void flushReplot();
    bool isReplotPending() const;

    // The colour map of a method (nullptr when it is not shown) and its value at a cell (NaN before
    // the cell arrives).
    QCPColorMap *colorMap(const QString &method) const;
    double valueAt(const QString &method, int length, double depth) const;
    QCPColorScale *colorScale() const { return m_scale; }

private:
    struct Cell {
        double passkey = qQNaN();
        double ppl = qQNaN();
        Interval passkeyInterval, pplInterval;
    };
    void rebuild();
    void fillMaps();
    double shownValue(const Cell &cell) const;

    CoalescedReplot *m_replot;
    QCPColorScale *m_scale = nullptr;
    std::vector<SweepMethodSpec> m_methods;
    std::vector<int> m_lengths;
    std::vector<double> m_depths;
    QMap<QString, QCPColorMap *> m_maps;
    QMap<QString, QList<QCPItemText *>> m_labels;
    QMap<QString, QMap<QPair<int, int>, Cell>> m_cells;  // method → (length index, depth index) → cell
    Metric m_metric = Metric::Passkey;
    QString m_shown;
    bool m_havePasskey = false;
};

// Writes a plot to PNG or PDF (by the file's suffix) at `size` (laid out for it), or at its
// on-screen size when `size` is empty; false on failure.
bool savePlot(QCustomPlot *plot, const QString &path, QSize size = {});

} // namespace rs
