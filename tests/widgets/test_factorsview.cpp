// Factors view: dragging a point edits exactly that λ as one undo step, table edits are
// undoable and validated, Apply sets core's family values, and d_rcd moves the marker.
#include "controlpanel.h"
#include "factordocument.h"
#include "rope/factorfamilies.h"
#include "factorsplot.h"
#include "factorsview.h"
#include "factortablemodel.h"
#include "rope/presets.h"

#include <QCheckBox>
#include <QLabel>
#include <QComboBox>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTableView>
#include <QTest>
#include <QUndoStack>
#include <cmath>

using namespace rs;

class TestFactorsView : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void init()
    {
        m_document = std::make_unique<FactorDocument>();
        m_document->open(loadPreset(QStringLiteral("llama3-8b")), 131072);
        m_view = std::make_unique<FactorsView>(m_document.get());
        m_view->resize(1100, 520);
        m_view->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_view.get()));
        // Lay the axes out at the widget's size so coordToPixel matches what is drawn.
        m_view->plot()->flushReplot();
    }

    void cleanup()
    {
        m_view.reset();
        m_document.reset();
    }

    void dragMovesOnePointAndIsOneUndoStep_data()
    {
        QTest::addColumn<bool>("logarithmic");
        QTest::newRow("log axis") << true;
        QTest::newRow("linear axis") << false;
    }

    void dragMovesOnePointAndIsOneUndoStep()
    {
        QFETCH(bool, logarithmic);
        FactorsPlot *plot = m_view->plot();
        plot->setLogScale(logarithmic);
        plot->flushReplot();
        const std::vector<double> before = m_document->lambda();
        const int dim = 40;
        const auto pixel = [plot](double key, double value) {
            return QPoint(int(std::lround(plot->xAxis->coordToPixel(key))), int(std::lround(plot->yAxis->coordToPixel(value))));
        };
        const QPoint start = pixel(dim, before[dim]);
        const QPoint middle = pixel(dim, 6.0);
        // Slightly off the column: the drag is vertical, so x does not matter once a point is picked.
        const QPoint end = pixel(dim + 0.3, 20.0);

        QTest::mousePress(plot, Qt::LeftButton, {}, start);
        QCOMPARE(plot->draggedDimension(), dim);
        QTest::mouseMove(plot, middle);
        QTest::mouseMove(plot, end);
        QTest::mouseRelease(plot, Qt::LeftButton, {}, end);
        QCOMPARE(plot->draggedDimension(), -1);

        // One pixel of the axis is the tolerance of "the value under the cursor".
        const double onePixel = std::abs(plot->yAxis->pixelToCoord(end.y() + 1) - plot->yAxis->pixelToCoord(end.y()));
        QVERIFY2(std::abs(m_document->lambda()[dim] - 20.0) <= 1.5 * onePixel,
                 qPrintable(QStringLiteral("λ_%1 = %2").arg(dim).arg(m_document->lambda()[dim])));
        for (int i = 0; i < int(before.size()); ++i) {
            if (i != dim)
                QCOMPARE(m_document->lambda()[i], before[i]);
        }
        QCOMPARE(m_document->undoStack()->count(), 1);
        m_document->undoStack()->undo();
        QCOMPARE(m_document->lambda(), before);
    }

    void valueAxisHoldsStillUnderADrag()
    {
        FactorsPlot *plot = m_view->plot();
        const QCPRange before = plot->yAxis->range();
        const int dim = 50;
        const auto pixel = [plot](double key, double value) {
            return QPoint(int(std::lround(plot->xAxis->coordToPixel(key))), int(std::lround(plot->yAxis->coordToPixel(value))));
        };
        const QPoint start = pixel(dim, m_document->lambda()[dim]);
        QTest::mousePress(plot, Qt::LeftButton, {}, start);
        QVERIFY(m_document->isDragging());
        // Up to the top edge of the plot and beyond: the cursor keeps meaning the same λ.
        for (const double value : {0.6 * before.upper, 0.95 * before.upper, 1.5 * before.upper}) {
            QTest::mouseMove(plot, pixel(dim, value));
            QCOMPARE(plot->yAxis->range().lower, before.lower);
            QCOMPARE(plot->yAxis->range().upper, before.upper);
        }
        const double dragged = m_document->lambda()[dim];
        QVERIFY(dragged > 0.9 * before.upper);
        QTest::mouseRelease(plot, Qt::LeftButton, {}, pixel(dim, 1.5 * before.upper));
        QVERIFY(!m_document->isDragging());
        // Released: the axis rescales to show the new value with headroom (log axis: highest × 4).
        QVERIFY(plot->isLogScale());
        QCOMPARE(plot->yAxis->range().upper, 4.0 * std::max(dragged, m_document->scale()));
        QCOMPARE(m_document->undoStack()->count(), 1);
    }

    void pressAwayFromPointsDoesNotEdit()
    {
        FactorsPlot *plot = m_view->plot();
        const QPoint empty(int(plot->xAxis->coordToPixel(10)), int(plot->yAxis->coordToPixel(30.0)));
        QTest::mousePress(plot, Qt::LeftButton, {}, empty);
        QCOMPARE(plot->draggedDimension(), -1);
        QTest::mouseRelease(plot, Qt::LeftButton, {}, empty);
        QCOMPARE(m_document->undoStack()->count(), 0);
    }

    void tableEditIsUndoable()
    {
        FactorTableModel *model = m_view->tableModel();
        const QModelIndex cell = model->index(12, FactorTableModel::LambdaColumn);
        QVERIFY(model->flags(cell) & Qt::ItemIsEditable);
        QVERIFY(!(model->flags(model->index(12, FactorTableModel::PeriodColumn)) & Qt::ItemIsEditable));
        QVERIFY(model->setData(cell, QStringLiteral("3.75")));
        QCOMPARE(m_document->lambda()[12], 3.75);
        QCOMPARE(model->data(cell, Qt::EditRole).toString(), QStringLiteral("3.75"));
        QCOMPARE(m_document->undoStack()->count(), 1);
        m_document->undoStack()->undo();
        QCOMPARE(m_document->lambda()[12], 1.0);
    }

    void tableEditThroughTheEditor()
    {
        QTableView *table = m_view->table();
        const QModelIndex cell = m_view->tableModel()->index(7, FactorTableModel::LambdaColumn);
        table->setCurrentIndex(cell);
        table->edit(cell);
        auto *editor = table->viewport()->findChild<QLineEdit *>();
        QVERIFY(editor);
        editor->selectAll();
        QTest::keyClicks(editor, QStringLiteral("2.5"));
        QTest::keyClick(editor, Qt::Key_Return);
        // The delegate commits through a queued call.
        QTRY_COMPARE(m_document->lambda()[7], 2.5);
        QCOMPARE(m_document->undoStack()->count(), 1);
    }

    void invalidCellTextIsRejected_data()
    {
        QTest::addColumn<QString>("text");
        QTest::newRow("word") << QStringLiteral("fast");
        QTest::newRow("zero") << QStringLiteral("0");
        QTest::newRow("negative") << QStringLiteral("-3");
        QTest::newRow("nan") << QStringLiteral("nan");
        QTest::newRow("inf") << QStringLiteral("inf");
        QTest::newRow("empty") << QString();
    }

    void invalidCellTextIsRejected()
    {
        QFETCH(QString, text);
        const QModelIndex cell = m_view->tableModel()->index(3, FactorTableModel::LambdaColumn);
        QVERIFY(!m_view->tableModel()->setData(cell, text));
        QCOMPARE(m_document->lambda()[3], 1.0);
        QCOMPARE(m_document->undoStack()->count(), 0);
    }

    void pasteReplacesAllAsOneStep()
    {
        QByteArray text;
        std::vector<double> expected;
        for (int i = 0; i < 64; ++i) {
            expected.push_back(1.0 + i);
            text += QByteArray::number(1.0 + i) + '\n';
        }
        QVERIFY(m_view->pasteFactorText(text));
        QCOMPARE(m_document->lambda(), expected);
        QCOMPARE(m_document->undoStack()->count(), 1);
        QVERIFY(!m_view->pasteFactorText("1.0\nbanana\n"));
        QCOMPARE(m_document->lambda(), expected);
    }

    void applyButtonSetsFamilyValues_data()
    {
        QTest::addColumn<QString>("family");
        for (const char *name : {"pi", "ntk", "yarn", "llama3", "longrope2"})
            QTest::newRow(name) << QString::fromLatin1(name);
    }

    void applyButtonSetsFamilyValues()
    {
        QFETCH(QString, family);
        ControlPanel panel(m_document.get());
        const FactorSet expected = family == FactorDocument::kLongrope2Family
            ? longrope2Factors(128, 35, std::vector<double>(64 - 35, 16.0), 16.0, 8192)
            : standardFamilies(m_document->config(), 131072).at(family);
        QPushButton *apply = panel.applyButton(family);
        QVERIFY(apply);
        QTest::mouseClick(apply, Qt::LeftButton);
        QCOMPARE(m_document->lambda(), expected.lambda);
        QCOMPARE(m_document->attentionFactor().value_or(-1), expected.attentionFactor);
        QCOMPARE(m_document->undoStack()->count(), 1);
        QVERIFY(m_view->plot()->familyGraph(family));
    }

    void overlayCheckBoxTogglesTheGraph()
    {
        ControlPanel panel(m_document.get());
        QCheckBox *pi = panel.familyCheckBox(QStringLiteral("pi"));
        QVERIFY(pi);
        QVERIFY(!pi->isChecked());
        QVERIFY(!m_view->plot()->familyGraph(QStringLiteral("pi"))->visible());
        pi->click();
        QVERIFY(m_view->plot()->familyGraph(QStringLiteral("pi"))->visible());
        QVERIFY(m_document->visibleFamilies().contains(QStringLiteral("pi")));
        // Showing an overlay is a view setting, not an edit.
        QCOMPARE(m_document->undoStack()->count(), 0);
    }

    void dRcdSpinBoxMovesMarkerAndForbiddenRegion()
    {
        ControlPanel panel(m_document.get());
        FactorsPlot *plot = m_view->plot();
        QCOMPARE(panel.dRcdSpinBox()->value(), 35);
        QCOMPARE(plot->dRcdMarker()->point1->coords().x(), 35.0);
        panel.dRcdSpinBox()->setValue(30);
        QCOMPARE(m_document->dRcd(), 30);
        QCOMPARE(plot->dRcdMarker()->point1->coords().x(), 30.0);
        QCOMPARE(plot->dRcdMarker()->point2->coords().x(), 30.0);
        QCOMPARE(plot->forbiddenRegion()->topLeft->coords(), QPointF(29.5, 16.0));
        // λ ≡ 1 violates λ ≥ s in every dimension from d_rcd on: all 34 are circled.
        QCOMPARE(plot->violationGraph()->dataCount(), 34);
        QVERIFY2(panel.violationLabel()->text().contains(QStringLiteral("i = 30 … 63")), qPrintable(panel.violationLabel()->text()));
        m_document->applyFamily(QStringLiteral("pi"));
        QCOMPARE(plot->violationGraph()->dataCount(), 0);
        QVERIFY(panel.violationLabel()->isHidden());
        m_document->undoStack()->undo();
        m_document->undoStack()->undo();
        QCOMPARE(panel.dRcdSpinBox()->value(), 35);
        QCOMPARE(plot->dRcdMarker()->point1->coords().x(), 35.0);
    }

    void targetLengthComboSetsTarget()
    {
        ControlPanel panel(m_document.get());
        QComboBox *combo = panel.targetLengthCombo();
        QCOMPARE(combo->currentText(), QStringLiteral("131072"));
        const int index = combo->findData(qint64(65536));
        QVERIFY(index >= 0);
        combo->setCurrentIndex(index);
        emit combo->activated(index);
        QCOMPARE(m_document->targetLength(), 65536.0);
        QCOMPARE(m_document->scale(), 8.0);
        QCOMPARE(m_view->plot()->forbiddenRegion()->topLeft->coords().y(), 8.0);
        QCOMPARE(combo->currentText(), QStringLiteral("65536"));
        m_document->undoStack()->undo();
        QCOMPARE(combo->currentText(), QStringLiteral("131072"));
    }

    void replotIsCoalesced()
    {
        FactorsPlot *plot = m_view->plot();
        QSignalSpy replots(plot, &QCustomPlot::afterReplot);
        for (int i = 0; i < 20; ++i)
            m_document->setLambdaAt(i, 2.0 + i);
        QCOMPARE(replots.count(), 0);
        QVERIFY(replots.wait(1000));
        QCOMPARE(replots.count(), 1);
    }

private:
    std::unique_ptr<FactorDocument> m_document;
    std::unique_ptr<FactorsView> m_view;
};

QTEST_MAIN(TestFactorsView)
#include "test_factorsview.moc"
