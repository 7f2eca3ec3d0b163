// The factor table from the keyboard: typing on a selected row edits its λ (whichever cell of the
// row is current), Tab moves on to the next widget instead of the next cell, and a rejected value
// says why (status message and the reason's text), leaving λ and the undo stack alone.
#include "factordocument.h"
#include "factorsview.h"
#include "factortablemodel.h"
#include "common/error.h"
#include "rope/configexport.h"
#include "rope/factorvalue.h"
#include "rope/presets.h"

#include <QAbstractItemDelegate>
#include <QLineEdit>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTableView>
#include <QTest>
#include <QUndoStack>
#include <QVBoxLayout>

#include <algorithm>

using namespace rs;

class TestFactorTableKeyboard : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void init()
    {
        m_document = std::make_unique<FactorDocument>();
        m_document->open(loadPreset(QStringLiteral("llama3-8b")), 131072);
        m_window = std::make_unique<QWidget>();
        auto *layout = new QVBoxLayout(m_window.get());
        m_view = new FactorsView(m_document.get(), m_window.get());
        m_next = new QLineEdit(m_window.get());
        layout->addWidget(m_view);
        layout->addWidget(m_next);
        m_window->resize(1100, 560);
        m_window->show();
        m_window->activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(m_window.get()));
        m_table = m_view->table();
    }

    void cleanup()
    {
        m_window.reset();
        m_document.reset();
    }

    void typingOnASelectedRowEditsItsLambda()
    {
        // The row selected by its dimension cell, as a click on the row's first cell leaves it.
        const QModelIndex dimensionCell = m_table->model()->index(5, FactorTableModel::DimensionColumn);
        m_table->setFocus();
        m_table->setCurrentIndex(dimensionCell);
        QVERIFY(m_table->selectionModel()->isRowSelected(5, {}));
        const int steps = m_document->undoStack()->count();
        QTest::keyClick(m_table, Qt::Key_2);
        // An editor opened on the row's λ, holding the key typed.
        QVERIFY(m_table->isPersistentEditorOpen(m_table->model()->index(5, FactorTableModel::LambdaColumn)) ||
                qobject_cast<QLineEdit *>(QApplication::focusWidget()));
        QWidget *editor = QApplication::focusWidget();
        QVERIFY(editor && editor != m_table);
        QTest::keyClicks(editor, QStringLiteral(".5"));
        QTest::keyClick(editor, Qt::Key_Return);
        // The delegate commits on the next pass of the event loop.
        QTRY_COMPARE(m_document->lambda()[5], 2.5);  // the typed text replaced the old value
        QCOMPARE(m_document->undoStack()->count(), steps + 1);
    }

    void tabLeavesTheTable()
    {
        m_table->setFocus();
        m_table->setCurrentIndex(m_table->model()->index(3, FactorTableModel::LambdaColumn));
        QTRY_VERIFY(m_table->hasFocus());
        QTest::keyClick(m_table, Qt::Key_Tab);
        QVERIFY(!m_table->hasFocus());
        // Still on the same cell: Tab did not walk the table.
        QCOMPARE(m_table->currentIndex().row(), 3);
        QTRY_VERIFY(m_next->hasFocus());
    }

    void rejectedValuesSayWhy_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("why");
        QTest::newRow("word") << QStringLiteral("abc") << QStringLiteral("\"abc\" is not a number");
        QTest::newRow("zero") << QStringLiteral("0") << QStringLiteral("0 is not positive");
        QTest::newRow("negative") << QStringLiteral("-3") << QStringLiteral("-3 is not positive");
        QTest::newRow("infinite") << QStringLiteral("inf") << QStringLiteral("inf is not finite");
        QTest::newRow("empty") << QString() << QStringLiteral("left empty");
        // Positive and finite, yet refused by the exports: the same rule refuses them here.
        QTest::newRow("tiny") << QStringLiteral("1e-12") << QStringLiteral("1e-12 is outside [1e-09, 1e+09]");
        QTest::newRow("huge") << QStringLiteral("1e12") << QStringLiteral("1e12 is outside [1e-09, 1e+09]");
    }

    // One rule (rope/factorvalue.h factorValueProblem): what the table refuses, the export
    // refuses with the same words, and what the table accepts, the export accepts.
    void theTableAndTheExportShareOneRule()
    {
        for (const double v : {1e-12, 1e-9, 0.5, 1e9, 2e9}) {
            const QString problem = factorValueProblem(v);
            const QString tableReason = FactorTableModel::rejectionReason(QString::number(v, 'g', 17));
            QCOMPARE(tableReason.isEmpty(), problem.isEmpty());
            std::vector<double> lambda = m_document->lambda();
            std::sort(lambda.begin(), lambda.end());
            lambda[0] = std::min(v, lambda[0]);
            lambda.back() = std::max(v, lambda.back());
            LongropeExport what;
            what.longFactor = lambda;
            what.targetLength = 131072;
            QString exportError;
            try {
                exportLongropeConfig(m_document->config(), what);
            } catch (const Error &e) {
                exportError = e.message();
            }
            QCOMPARE(exportError.isEmpty(), problem.isEmpty());
            if (!problem.isEmpty()) {
                QVERIFY2(tableReason.contains(problem) && exportError.contains(problem),
                         qPrintable(tableReason + QLatin1String(" | ") + exportError));
            }
        }
    }

    void rejectedValuesSayWhy()
    {
        QFETCH(QString, text);
        QFETCH(QString, why);
        QSignalSpy status(m_view, &FactorsView::statusMessage);
        const std::vector<double> before = m_document->lambda();
        const int steps = m_document->undoStack()->count();
        const QModelIndex cell = m_table->model()->index(7, FactorTableModel::LambdaColumn);
        QVERIFY(!m_table->model()->setData(cell, text));
        QCOMPARE(status.count(), 1);
        const QString message = status.at(0).at(0).toString();
        QVERIFY2(message.contains(QStringLiteral("λ must be a positive finite number")), qPrintable(message));
        QVERIFY2(message.contains(why), qPrintable(message));
        QVERIFY2(message.contains(QStringLiteral("λ_7")), qPrintable(message));
        QCOMPARE(m_document->lambda(), before);
        QCOMPARE(m_document->undoStack()->count(), steps);
        // A valid value says nothing.
        QVERIFY(m_table->model()->setData(cell, QStringLiteral("3.25")));
        QCOMPARE(status.count(), 1);
        QCOMPARE(FactorTableModel::rejectionReason(QStringLiteral(" 1e3 ")), QString());
    }

    void typedRejectionReachesTheStatus()
    {
        QSignalSpy status(m_view, &FactorsView::statusMessage);
        m_table->setFocus();
        m_table->setCurrentIndex(m_table->model()->index(2, FactorTableModel::LambdaColumn));
        QTest::keyClick(m_table, Qt::Key_X);
        QWidget *editor = QApplication::focusWidget();
        QVERIFY(editor && editor != m_table);
        QTest::keyClick(editor, Qt::Key_Return);
        QTRY_COMPARE(status.count(), 1);
        QVERIFY(status.at(0).at(0).toString().contains(QStringLiteral("\"x\" is not a number")));
    }

private:
    std::unique_ptr<FactorDocument> m_document;
    std::unique_ptr<QWidget> m_window;
    FactorsView *m_view = nullptr;
    QLineEdit *m_next = nullptr;
    QTableView *m_table = nullptr;
};

QTEST_MAIN(TestFactorTableKeyboard)
#include "test_factortablekeyboard.moc"
