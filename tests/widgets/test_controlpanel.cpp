// Side panel: the target length takes "128k" / "1M" as transformers and vLLM users write them
// (k = 1024), says why it refuses a value and warns when L < L_train; the attention factor is an
// editable, undoable field that shows longrope's default until one is set.
#include "controlpanel.h"
#include "factordocument.h"
#include "rope/presets.h"
#include "taborder.h"

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
        QTest::newRow("zero") << QStringLiteral("0") << QStringLiteral("positive whole number");
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
        // Marked at the field itself, the reason in its tooltip.
        QComboBox *combo = m_panel->targetLengthCombo();
        QVERIFY(combo->property("invalid").toBool());
        QVERIFY2(combo->toolTip().contains(reason), qPrintable(combo->toolTip()));
        QVERIFY(!combo->styleSheet().isEmpty());
        // A valid value clears the mark.
        edit->selectAll();
        QTest::keyClicks(edit, QStringLiteral("64k"));
        QTest::keyClick(edit, Qt::Key_Return);
        QVERIFY(!combo->property("invalid").toBool());
        QVERIFY(combo->styleSheet().isEmpty());
        QVERIFY(combo->toolTip().contains(QLatin1String("Target context length")));
    }

    // Typing "abc" or "-1" into Target L: the field takes no such character at all.
    void junkCannotBeTyped()
    {
        QLineEdit *edit = m_panel->targetLengthCombo()->lineEdit();
        edit->selectAll();
        QTest::keyClicks(edit, QStringLiteral("-abc"));
        QVERIFY2(!edit->text().contains(QLatin1Char('-')) && !edit->text().contains(QLatin1Char('a')), qPrintable(edit->text()));
    }

    // A model whose figures (common/forwardcost.h) make a forward over L cost ~8 kB per token on a
    // device of 8 GiB with 1 GiB of weights: 1M tokens (8.4 GB + 1 GiB) cannot fit and are refused
    // at the field, naming Target L and a length that fits (512k: 4.2 GB + 1 GiB ≤ 8 GiB).
    void targetWhoseLiveScoreCannotFitIsRefused()
    {
        m_panel->setLoadedModel(QStringLiteral("test model"), figures());
        QVERIFY(m_panel->loadedModelLabel()->text().contains(QLatin1String("test model")));
        QLineEdit *edit = m_panel->targetLengthCombo()->lineEdit();
        edit->selectAll();
        QTest::keyClicks(edit, QStringLiteral("1M"));
        QTest::keyClick(edit, Qt::Key_Return);
        QCOMPARE(m_document->targetLength(), 131072.0);
        QCOMPARE(m_document->undoStack()->count(), 0);
        const QString tip = m_panel->targetLengthCombo()->toolTip();
        QVERIFY2(tip.contains(QLatin1String("Target L")) && tip.contains(QLatin1String("524,288 fits"))
                     && tip.contains(QLatin1String("of 8.0 GiB")),
                 qPrintable(tip));
        QVERIFY(m_panel->targetLengthNote()->isVisibleTo(m_panel.get()));
        QVERIFY(m_panel->targetLengthCombo()->property("invalid").toBool());
        // Without a model nothing is priced: the geometry may go anywhere.
        m_panel->clearLoadedModel();
        edit->selectAll();
        QTest::keyClicks(edit, QStringLiteral("1M"));
        QTest::keyClick(edit, Qt::Key_Return);
        QCOMPARE(m_document->targetLength(), 1048576.0);
    }

    // Above a minute per forward (by the documented 37 GFLOP/s of the CPU) the user is asked; with
    // prompts off the target is set and the price stays at the field.
    void costlyTargetIsSetWithItsPrice()
    {
        ForwardCostFigures f = figures();
        f.flopsPerToken = 1e7;  // 256k tokens: 2.6e12 FLOPs, 71 s at 37 GFLOP/s
        m_panel->setPromptsEnabled(false);
        m_panel->setLoadedModel(QStringLiteral("test model"), f);
        QVERIFY(!m_panel->targetLengthNote()->isVisibleTo(m_panel.get()));  // 128k: 35 s
        QLineEdit *edit = m_panel->targetLengthCombo()->lineEdit();
        edit->selectAll();
        QTest::keyClicks(edit, QStringLiteral("256k"));
        QTest::keyClick(edit, Qt::Key_Return);
        QCOMPARE(m_document->targetLength(), 262144.0);
        const QString note = m_panel->targetLengthNote()->text();
        QVERIFY(m_panel->targetLengthNote()->isVisibleTo(m_panel.get()));
        QVERIFY2(note.contains(QLatin1String("costly")) && note.contains(QLatin1String("71 s per forward"))
                     && note.contains(QLatin1String("37 GFLOP/s")),
                 qPrintable(note));
        m_document->undoStack()->undo();
        QVERIFY(!m_panel->targetLengthNote()->isVisibleTo(m_panel.get()));
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

private slots:
    // Tab walks the panel as it reads — Target L, d_rcd, the attention factor, then each overlay's
    // Show and Apply — and reaches every control, also after the overlay rows were made again.
    void tabFollowsTheVisualOrder()
    {
        for (int pass = 0; pass < 2; ++pass) {
            if (pass == 1)
                m_document->open(loadPreset(QStringLiteral("phi3-mini-4k")), 65536);  // new overlay rows
            m_document->setAttentionFactor(1.2);  // Default enabled: one more control
            m_panel->activateWindow();
            QVERIFY(QTest::qWaitForWindowActive(m_panel.get()));
            // Rows made again show on the next pass of the event loop.
            QTRY_VERIFY(testing::controlsInVisualOrder(m_panel.get()).size() >= 8);
            const std::vector<QWidget *> controls = testing::controlsInVisualOrder(m_panel.get());
            QCOMPARE(controls.front(), static_cast<QWidget *>(m_panel->targetLengthCombo()));
            QCOMPARE(testing::describeControls(testing::walkTabOrder(m_panel.get(), controls)),
                     testing::describeControls(controls));
        }
    }

private:
    static ForwardCostFigures figures()
    {
        ForwardCostFigures f;
        f.device = QStringLiteral("cpu");
        f.weightBytes = double(int64_t(1) << 30);
        f.deviceBytes = 8.0 * double(int64_t(1) << 30);
        f.bytesPerToken = 8000;
        f.flopsPerToken = 1000;
        return f;
    }

    std::unique_ptr<FactorDocument> m_document;
    std::unique_ptr<ControlPanel> m_panel;
};

QTEST_MAIN(TestControlPanel)
#include "test_controlpanel.moc"
