#pragma once
// The factors as a table: one row per dimension with its λ (editable, each edit one undo step),
// period and rescaled period. Rows that break the OOD bound are tinted.
#include <QAbstractTableModel>

namespace rs {

class FactorDocument;

class FactorTableModel : public QAbstractTableModel {
    Q_OBJECT

public:
    enum Column { DimensionColumn, LambdaColumn, PeriodColumn, RescaledPeriodColumn, ColumnCount };

    explicit FactorTableModel(FactorDocument *document, QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;
    Qt::ItemFlags flags(const QModelIndex &index) const override;
    // Rows are selected whole, so the current cell may be the dimension or a period: typing, F2
    // or a double click there edits the row's λ, the only editable column.
    QModelIndex buddy(const QModelIndex &index) const override;
    // Accepts a finite positive number (C or the user's locale); anything else is rejected with
    // valueRejected, which says why.
    bool setData(const QModelIndex &index, const QVariant &value, int role = Qt::EditRole) override;
    // Why `text` is no λ ("λ must be a positive finite number: …"), or empty when it is one.
    static QString rejectionReason(const QString &text, double *value = nullptr);

signals:
    void valueRejected(int row, const QString &reason);

private:
    void refreshValues();

    FactorDocument *m_document;
};

} // namespace rs
