#include "factorsview.h"

#include "common/error.h"
#include "factordocument.h"
#include "rope/factorfile.h"
#include "factorsplot.h"
#include "factortablemodel.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QSplitter>
#include <QTableView>
#include <QToolTip>
#include <set>

namespace rs {


FactorsView::FactorsView(FactorDocument *document, QWidget *parent)
    : QWidget(parent), m_document(document), m_plot(new FactorsPlot(document, this)),
      m_table(new QTableView(this)), m_model(new FactorTableModel(document, this)),
      m_splitter(new QSplitter(Qt::Horizontal, this))
{
    m_table->setModel(m_model);
    m_table->verticalHeader()->setVisible(false);
    m_table->verticalHeader()->setDefaultSectionSize(m_table->fontMetrics().height() + 6);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    m_table->horizontalHeader()->setSectionResizeMode(FactorTableModel::DimensionColumn, QHeaderView::ResizeToContents);
    m_table->setAlternatingRowColors(false);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed |
                             QAbstractItemView::AnyKeyPressed);
    // Narrow enough for a 1024-pixel window beside the side panel and the search dock; it opens wider.
    m_table->setMinimumWidth(170);
    // Tab leaves the table for the next widget; the arrows move between rows.
    m_table->setTabKeyNavigation(false);
    connect(m_model, &FactorTableModel::valueRejected, this, [this](int row, const QString &reason) {
        const QRect cell = m_table->visualRect(m_model->index(row, FactorTableModel::LambdaColumn));
        QToolTip::showText(m_table->viewport()->mapToGlobal(cell.bottomLeft()), reason, m_table->viewport());
        emit statusMessage(reason);
    });

    auto *copyAction = new QAction(tr("Copy λ"), m_table);
    copyAction->setShortcut(QKeySequence::Copy);
    copyAction->setShortcutContext(Qt::WidgetShortcut);
    connect(copyAction, &QAction::triggered, this,
            [this] { QApplication::clipboard()->setText(QString::fromUtf8(selectedFactorText())); });
    auto *pasteAction = new QAction(tr("Paste λ"), m_table);
    pasteAction->setShortcut(QKeySequence::Paste);
    pasteAction->setShortcutContext(Qt::WidgetShortcut);
    connect(pasteAction, &QAction::triggered, this,
            [this] { pasteFactorText(QApplication::clipboard()->text().toUtf8()); });
    m_table->addActions({copyAction, pasteAction});
    m_table->setContextMenuPolicy(Qt::ActionsContextMenu);

    m_splitter->addWidget(m_plot);
    m_splitter->addWidget(m_table);
    m_splitter->setStretchFactor(0, 1);
    m_splitter->setStretchFactor(1, 0);
    constexpr int kTableWidth = 280;
    m_splitter->setSizes({3 * kTableWidth, kTableWidth});
    m_splitter->setChildrenCollapsible(false);
    auto *layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_splitter);
}

bool FactorsView::pasteFactorText(const QByteArray &text)
{
    std::vector<double> values;
    try {
        values = parseFactorText(text, tr("pasted text"));
    } catch (const Error &error) {
        emit errorOccurred(error.message());
        return false;
    }
    std::vector<double> lambda = m_document->lambda();
    const int pairs = int(lambda.size());
    const int start = int(values.size()) == pairs ? 0 : std::max(0, m_table->currentIndex().row());
    if (start + int(values.size()) > pairs) {
        emit errorOccurred(tr("pasted text: %1 values do not fit from row %2 (the table has %3 rows)")
                               .arg(values.size()).arg(start).arg(pairs));
        return false;
    }
    std::copy(values.begin(), values.end(), lambda.begin() + start);
    m_document->setAllLambda(lambda, m_document->attentionFactor(), tr("Paste %1 factors").arg(values.size()));
    return true;
}

QByteArray FactorsView::selectedFactorText() const
{
    std::set<int> rows;
    for (const QModelIndex &index : m_table->selectionModel()->selectedIndexes())
        rows.insert(index.row());
    const std::vector<double> &lambda = m_document->lambda();
    if (rows.empty())
        return formatFactorText(lambda);
    std::vector<double> selected;
    for (int row : rows)
        selected.push_back(lambda[row]);
    return formatFactorText(selected);
}

} // namespace rs
