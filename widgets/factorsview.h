#pragma once
// The factors view: the draggable λ plot beside the editable factor table. Copy and paste in the
// table exchange λ as one value per line (LongRoPE's factor-file text); a paste is one undo step.
// Keyboard: typing on any cell of a selected row edits its λ, Tab moves on to the next widget
// (not the next cell), and a rejected value says why (statusMessage and a tooltip at the cell).
#include <QWidget>

class QTableView;
class QSplitter;

namespace rs {

class FactorDocument;
class FactorsPlot;
class FactorTableModel;

class FactorsView : public QWidget {
    Q_OBJECT

public:
    explicit FactorsView(FactorDocument *document, QWidget *parent = nullptr);

    FactorsPlot *plot() const { return m_plot; }
    QTableView *table() const { return m_table; }
    FactorTableModel *tableModel() const { return m_model; }
    QSplitter *splitter() const { return m_splitter; }

    // Pastes factor text at the current row (or replaces all λ when it holds d/2 values).
    // Returns false and reports errorOccurred when the text is not a valid factor list.
    bool pasteFactorText(const QByteArray &text);
    QByteArray selectedFactorText() const;

signals:
    void errorOccurred(const QString &message);
    // Passing news for the status bar (a typed λ that was rejected, and why).
    void statusMessage(const QString &message);

private:
    FactorDocument *m_document;
    FactorsPlot *m_plot;
    QTableView *m_table;
    FactorTableModel *m_model;
    QSplitter *m_splitter;
};

} // namespace rs
