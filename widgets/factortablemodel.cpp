#include "factortablemodel.h"

#include "factordocument.h"
#include "plotstyle.h"
#include "rope/factorvalue.h"

#include <QBrush>
#include <QLocale>
#include <cmath>

namespace rs {

FactorTableModel::FactorTableModel(FactorDocument *document, QObject *parent)
    : QAbstractTableModel(parent), m_document(document)
{
    connect(m_document, &FactorDocument::configChanged, this, [this] {
        beginResetModel();
        endResetModel();
    });
    connect(m_document, &FactorDocument::lambdaChanged, this, &FactorTableModel::refreshValues);
    connect(m_document, &FactorDocument::dRcdChanged, this, &FactorTableModel::refreshValues);
    connect(m_document, &FactorDocument::targetLengthChanged, this, &FactorTableModel::refreshValues);
}

int FactorTableModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_document->lambda().size());
}

int FactorTableModel::columnCount(const QModelIndex &parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant FactorTableModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= rowCount())
        return {};
    const int i = index.row();
    const double lambda = m_document->lambda()[i];
    const double period = m_document->geometry().period[i];
    const bool forbidden = i >= m_document->dRcd() && lambda < m_document->scale();

    switch (role) {
    case Qt::DisplayRole:
        switch (index.column()) {
        case DimensionColumn: return i;
        case LambdaColumn: return QString::number(lambda, 'g', 6);
        case PeriodColumn: return formatNumber(period);
        case RescaledPeriodColumn: return formatNumber(lambda * period);
        }
        break;
    case Qt::EditRole:
        if (index.column() == LambdaColumn)
            return QString::number(lambda, 'g', 17);
        break;
    case Qt::TextAlignmentRole:
        return int(Qt::AlignRight | Qt::AlignVCenter);
    case Qt::BackgroundRole:
        if (forbidden)
            return QBrush(QColor(0xfa, 0xdb, 0xd8));
        if (i >= m_document->dRcd())
            return QBrush(QColor(0xfd, 0xf2, 0xe9));
        break;
    case Qt::ToolTipRole:
        if (forbidden)
            return tr("λ_%1 = %2 is below s = %3 although i ≥ d_rcd = %4")
                .arg(i).arg(lambda, 0, 'g', 6).arg(m_document->scale(), 0, 'g', 6).arg(m_document->dRcd());
        break;
    }
    return {};
}

QVariant FactorTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case DimensionColumn: return tr("i");
    case LambdaColumn: return tr("λ_i");
    case PeriodColumn: return tr("T_i");
    case RescaledPeriodColumn: return tr("λ_i·T_i");
    }
    return {};
}

Qt::ItemFlags FactorTableModel::flags(const QModelIndex &index) const
{
    Qt::ItemFlags flags = QAbstractTableModel::flags(index);
    if (index.column() == LambdaColumn)
        flags |= Qt::ItemIsEditable;
    return flags;
}

QModelIndex FactorTableModel::buddy(const QModelIndex &index) const
{
    return index.isValid() ? index.siblingAtColumn(LambdaColumn) : index;
}

bool FactorTableModel::setData(const QModelIndex &index, const QVariant &value, int role)
{
    if (role != Qt::EditRole || index.column() != LambdaColumn || index.row() >= rowCount())
        return false;
    double number = 0;
    const QString reason = rejectionReason(value.toString(), &number);
    if (!reason.isEmpty()) {
        emit valueRejected(index.row(), tr("λ_%1 not changed: %2").arg(index.row()).arg(reason));
        return false;
    }
    m_document->setLambdaAt(index.row(), number);
    return true;
}

QString FactorTableModel::rejectionReason(const QString &input, double *value)
{
    const QString text = input.trimmed();
    bool ok = false;
    double number = QLocale::c().toDouble(text, &ok);
    if (!ok)
        number = QLocale().toDouble(text, &ok);
    if (value)
        *value = number;
    // λ multiplies the period: zero, a negative period or an infinite one means nothing.
    const QString rule = tr("λ must be a positive finite number");
    if (text.isEmpty())
        return tr("%1, and the cell was left empty").arg(rule);
    if (!ok)
        return tr("%1; \"%2\" is not a number").arg(rule, text);
    if (!std::isfinite(number))
        return tr("%1; %2 is not finite").arg(rule, text);
    if (number <= 0)
        return tr("%1; %2 is not positive (λ multiplies the period)").arg(rule, text);
    // The exports' own rule (rope/factorvalue.h), so the table never holds what they refuse.
    if (const QString problem = factorValueProblem(number); !problem.isEmpty())
        return tr("%1; %2 %3, and the exports would refuse it").arg(rule, text, problem);
    return {};
}

void FactorTableModel::refreshValues()
{
    if (rowCount() > 0)
        emit dataChanged(this->index(0, 0), this->index(rowCount() - 1, ColumnCount - 1));
}

} // namespace rs
