// Side panel: the target length takes "128k" / "1M" as transformers and vLLM users write them
// (k = 1024), says why it refuses a value and warns when L < L_train; the attention factor is an
// editable, undoable field that shows longrope's default until one is set.
#include "controlpanel.h"
#include "factordocument.h"
#include "rope/presets.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QLabel>
#include <QLineEdit>
#include <QStandardPaths>
#include <QTest>
#include <QToolButton>
#include <QUndoStack>
#include <cmath>

using namespace rs;

class TestControlPanel : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void init()
    {
        m_document = std::make_unique<FactorDocument>();
        m_document->open(loadPreset(QStringLiteral("llama3-8b")), 131072);  // L_train = 8192, s = 16
        m_panel = std::make_unique<ControlPanel>(m_document.get());
        m_panel->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_panel.get()));
    }

    void cleanup()
    {
        m_panel.reset();
        m_document.reset();
    }

    void typedTargetWithSuffixSetsTheLength_data()
    {
        QTest::addColumn<QString>("typed");
        QTest::addColumn<double>("length");
        QTest::newRow("64k") << QStringLiteral("64k") << 65536.0;
        QTest::newRow("1M") << QStringLiteral("1M") << 1048576.0;
        QTest::newRow("256K") << QStringLiteral("256K") << 262144.0;
    }

    void typedTargetWithSuffixSetsTheLength()
    {
        QFETCH(QString, typed);
        QFETCH(double, length);
        QLineEdit *edit = m_panel->targetLengthCombo()->lineEdit();
        edit->selectAll();
        QTest::keyClicks(edit, typed);
        QTest::keyClick(edit, Qt::Key_Return);
        QCOMPARE(m_document->targetLength(), length);
        QCOMPARE(m_panel->targetLengthCombo()->currentText(), QString::number(qint64(length)));
        QVERIFY(!m_panel->targetLengthNote()->isVisibleTo(m_panel.get()));
        QCOMPARE(m_document->undoStack()->count(), 1);
    }

    void refusedTargetSaysWhy_data()
    {
        QTest::addColumn<QString>("typed");
        QTest::addColumn<QString>("reason");
        QTest::newRow("beyond 16M") << QStringLiteral("32M") << QStringLiteral("16M");
        QTest::newRow("fraction") << QStringLiteral("1.3k") << QStringLiteral("whole number");
    }

    void refusedTargetSaysWhy()
    {
        QFETCH(QString, typed);
        QFETCH(QString, reason);
        QLineEdit *edit = m_panel->targetLengthCombo()->lineEdit();
        edit->selectAll();
        QTest::keyClicks(edit, typed);
        QTest::keyClick(edit, Qt::Key_Return);
        QCOMPARE(m_document->targetLength(), 131072.0);
        QCOMPARE(m_document->undoStack()->count(), 0);
        QCOMPARE(m_panel->targetLengthCombo()->currentText(), QStringLiteral("131072"));
        QLabel *note = m_panel->targetLengthNote();
        QVERIFY(note->isVisibleTo(m_panel.get()));
        QVERIFY2(note->text().contains(typed) && note->text().contains(reason), qPrintable(note->text()));
    }

    void warnsWhenTargetIsBelowTrainingLength()
    {
        QLabel *note = m_panel->targetLengthNote();
        QVERIFY(!note->isVisibleTo(m_panel.get()));
        m_document->setTargetLength(4096);
        QVERIFY(note->isVisibleTo(m_panel.get()));
        QVERIFY2(note->text().contains(QStringLiteral("L_train")) && note->text().contains(QStringLiteral("8,192")),
                 qPrintable(note->text()));
        m_document->undoStack()->undo();
        QVERIFY(!note->isVisibleTo(m_panel.get()));
        // L = L_train extends nothing but is not below it.
        m_document->setTargetLength(8192);
        QVERIFY(!note->isVisibleTo(m_panel.get()));
    }

    void attentionFactorShowsTheDefaultUntilSet()
    {
        QDoubleSpinBox *spin = m_panel->attentionFactorSpinBox();
        QToolButton *reset = m_panel->attentionDefaultButton();
        const double fallback = std::sqrt(1.0 + std::log(16.0) / std::log(8192.0));
        QCOMPARE(spin->decimals(), 4);
        QCOMPARE(spin->value(), std::round(fallback * 1e4) / 1e4);
        // The greyed Default button and the hover text say it is the default (no suffix: it would
        // not fit the side panel at 1024 px).
        QCOMPARE(spin->text(), QString::number(fallback, 'f', 4));
        QVERIFY(spin->toolTip().contains(QString::number(fallback, 'f', 4)));
        QVERIFY2(spin->toolTip().contains(QStringLiteral("In use: the default")), qPrintable(spin->toolTip()));
        QVERIFY(!reset->isEnabled());

        // Typed and confirmed: one undoable step.
        spin->selectAll();
        QTest::keyClicks(spin, QStringLiteral("1.25"));
        QTest::keyClick(spin, Qt::Key_Return);
        QCOMPARE(m_document->attentionFactor(), std::optional<double>(1.25));
        QCOMPARE(spin->value(), 1.25);
        QVERIFY2(spin->toolTip().contains(QStringLiteral("Set here: 1.2500")), qPrintable(spin->toolTip()));
        QVERIFY(!spin->toolTip().contains(QStringLiteral("In use: the default")));
        QVERIFY(reset->isEnabled());
        QCOMPARE(m_document->undoStack()->count(), 1);

        m_document->undoStack()->undo();
        QVERIFY(!m_document->attentionFactor());
        QVERIFY(spin->toolTip().contains(QStringLiteral("In use: the default")));
        QCOMPARE(spin->value(), std::round(fallback * 1e4) / 1e4);
        QVERIFY(!reset->isEnabled());
        m_document->undoStack()->redo();
        QCOMPARE(spin->value(), 1.25);

        // Default puts the default back, as its own step.
        QTest::mouseClick(reset, Qt::LeftButton);
        QVERIFY(!m_document->attentionFactor());
        QCOMPARE(m_document->undoStack()->count(), 2);
        QVERIFY(spin->toolTip().contains(QStringLiteral("In use: the default")));
    }

    void shownDefaultFollowsTheTarget()
    {
        QDoubleSpinBox *spin = m_panel->attentionFactorSpinBox();
        m_document->setTargetLength(32768);  // s = 4
        const double fallback = std::sqrt(1.0 + std::log(4.0) / std::log(8192.0));
        QCOMPARE(spin->value(), std::round(fallback * 1e4) / 1e4);
        QVERIFY(spin->text().contains(QString::number(fallback, 'f', 4)));
        QCOMPARE(m_document->undoStack()->count(), 1);  // showing the new default is no edit
    }

private:
    std::unique_ptr<FactorDocument> m_document;
    std::unique_ptr<ControlPanel> m_panel;
};

QTEST_MAIN(TestControlPanel)
#include "test_controlpanel.moc"
