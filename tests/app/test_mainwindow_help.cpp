// The main window's help and comfort: Help › About names the version CMake declares, the paper
// and the licence; F1 opens "How to read the plots"; every label that names a glossary term
// explains it in a tooltip; the search plot exports like the other plots; exported figures carry
// no on-screen hints; and at 1024 × 700 the window keeps every widget at its minimum size, no
// sibling over another, the legends outside the data (screenshot to $ROPESCOPE_SMALL_SCREENSHOT).
#include "mainwindow.h"

#include "factorsplot.h"
#include "factorsview.h"
#include "glossary.h"
#include "helpdialog.h"
#include "periodsplot.h"
#include "searchpanel.h"
#include "searchplot.h"

#include <QAbstractButton>
#include <QAbstractSpinBox>
#include <QAbstractScrollArea>
#include <QAction>
#include <QApplication>
#include <QDockWidget>
#include <QComboBox>
#include <QFile>
#include <QGroupBox>
#include <QImage>
#include <QLabel>
#include <QLayout>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QProcess>
#include <QSettings>
#include <QScrollArea>
#include <QSplitter>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTabBar>
#include <QTest>
#include <QTabWidget>
#include "taborder.h"
#include <QTextBrowser>

#include <set>
#include <tuple>

namespace {

QString fixture(const QString &name) { return QStringLiteral(ROPESCOPE_FIXTURES "/gui/") + name; }

QAction *namedAction(QWidget *window, const QString &name)
{
    for (QAction *action : window->findChildren<QAction *>()) {
        if (action->objectName() == name)
            return action;
    }
    return nullptr;
}

// The size a layout must leave a widget: its minimum size, else its minimum size hint where its
// policy does not ignore the hint.
QSize requiredSize(const QWidget *w)
{
    QSize required = w->minimumSizeHint().expandedTo(QSize(0, 0));
    const QSizePolicy policy = w->sizePolicy();
    if (policy.horizontalPolicy() == QSizePolicy::Ignored)
        required.setWidth(0);
    if (policy.verticalPolicy() == QSizePolicy::Ignored)
        required.setHeight(0);
    if (w->minimumWidth() > 0)
        required.setWidth(w->minimumWidth());
    if (w->minimumHeight() > 0)
        required.setHeight(w->minimumHeight());
    return required;
}

QString describe(const QWidget *w)
{
    QString text;
    if (auto *label = qobject_cast<const QLabel *>(w))
        text = label->text().left(40);
    else if (auto *button = qobject_cast<const QAbstractButton *>(w))
        text = button->text();
    return QStringLiteral("%1 '%2' '%3' %4×%5 at (%6, %7)").arg(QString::fromLatin1(w->metaObject()->className()), w->objectName(), text)
        .arg(w->width()).arg(w->height()).arg(w->x()).arg(w->y());
}

// Dark pixels in the left strip of an image, where a plot draws its value axis label.
int darkPixelsInLeftStrip(const QImage &image, int width)
{
    int dark = 0;
    for (int y = 0; y < image.height(); ++y) {
        for (int x = 0; x < std::min(width, image.width()); ++x)
            dark += qGray(image.pixel(x, y)) < 128;
    }
    return dark;
}

// What is wrong with the window's layout now: a laid-out widget below its minimum size, clipped
// by its parent or over a sibling, or a panel cut at the right of its scroller.
QStringList layoutProblems(QWidget *window)
{
    QStringList problems;
    for (QWidget *w : window->findChildren<QWidget *>()) {
        if (!w->isVisibleTo(window) || w->isWindow())
            continue;
        // Widgets a layout or splitter places (the parts of a spin box, a header or a dock's
        // title bar are placed by their owner and sized by its style).
        QWidget *parent = w->parentWidget();
        const bool scrolled = parent && qobject_cast<QAbstractScrollArea *>(parent->parentWidget());
        const bool laidOut = parent && ((parent->layout() && parent->layout()->indexOf(w) >= 0) ||
                                        qobject_cast<QSplitter *>(parent));
        if ((!laidOut && !qobject_cast<QDockWidget *>(w)) || w->objectName().startsWith(QLatin1String("qt_")))
            continue;  // qt_*: Qt's own parts (a dock's title buttons), sized by the style at any window size
        // A dock behind another in a tabbed dock area is moved out of the window, whole.
        if (qobject_cast<QDockWidget *>(w) && !window->rect().intersects(w->geometry()))
            continue;
        const QSize required = requiredSize(w);
        if (w->width() + 1 < required.width() || w->height() + 1 < required.height())
            problems << QStringLiteral("%1 below its minimum %2×%3").arg(describe(w)).arg(required.width()).arg(required.height());
        if (laidOut && !scrolled && !parent->rect().contains(w->geometry()))
            problems << QStringLiteral("%1 clipped by its parent %2").arg(describe(w), describe(parent));
        if (!laidOut || scrolled)
            continue;
        for (QObject *object : parent->children()) {
            auto *sibling = qobject_cast<QWidget *>(object);
            if (!sibling || sibling <= w || !sibling->isVisibleTo(window) || sibling->isWindow())
                continue;
            const bool siblingLaidOut = (parent->layout() && parent->layout()->indexOf(sibling) >= 0) ||
                                        qobject_cast<QSplitter *>(parent);
            if (siblingLaidOut && w->geometry().intersects(sibling->geometry()))
                problems << QStringLiteral("%1 overlaps %2").arg(describe(w), describe(sibling));
        }
    }
    // A panel in a scroller without a horizontal bar must not be wider than what shows of it.
    for (QScrollArea *scroll : window->findChildren<QScrollArea *>()) {
        if (scroll->isVisibleTo(window) && scroll->widget() &&
            scroll->horizontalScrollBarPolicy() == Qt::ScrollBarAlwaysOff &&
            scroll->widget()->width() > scroll->viewport()->width())
            problems << QStringLiteral("%1 cut at the right of its scroller (%2 > %3)")
                            .arg(describe(scroll->widget())).arg(scroll->widget()->width()).arg(scroll->viewport()->width());
    }
    return problems;
}

} // namespace

class TestMainWindowHelp : public QObject {
    Q_OBJECT

private slots:
    // `ropescope --help` answers without a display (no QT_QPA_PLATFORM, no DISPLAY) and lists the
    // options that write pictures.
    void helpNeedsNoDisplay()
    {
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        for (const char *name : {"QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"})
            env.remove(QString::fromLatin1(name));
        p.setProcessEnvironment(env);
        p.start(QStringLiteral(ROPESCOPE_GUI_BINARY), {QStringLiteral("--help")});
        QVERIFY(p.waitForFinished(60000));
        const QString out = QString::fromUtf8(p.readAllStandardOutput());
        QCOMPARE(p.exitStatus(), QProcess::NormalExit);
        QVERIFY2(p.exitCode() == 0, qPrintable(QString::fromUtf8(p.readAllStandardError())));
        for (const char *option : {"--screenshot", "--export-sweep-plots", "--sweep-result", "--follow-log"})
            QVERIFY2(out.contains(QLatin1String(option)), qPrintable(out));
    }

    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName(QStringLiteral("RopeScopeTest"));
        QCoreApplication::setApplicationName(QStringLiteral("test_mainwindow_help"));
        QVERIFY(m_temp.isValid());
    }

    void init()
    {
        QSettings().clear();
        m_window = std::make_unique<MainWindow>();
        m_window->setPromptsEnabled(false);
        QVERIFY(m_window->openConfig(fixture(QStringLiteral("llama3.1-8b-config.json"))));
    }

    void cleanup() { m_window.reset(); }

    void aboutNamesVersionPaperAndLicence()
    {
        QAction *about = namedAction(m_window.get(), QStringLiteral("aboutAction"));
        QVERIFY(about);
        QVERIFY(m_window->menuBar()->actions().last()->menu()->actions().contains(about));  // the Help menu, last
        about->trigger();
        QMessageBox *box = nullptr;
        QTRY_VERIFY((box = m_window->findChild<QMessageBox *>(QStringLiteral("aboutBox"))) && box->isVisible());
        const QString text = box->text();
        QVERIFY2(text.contains(QStringLiteral("RopeScope " ROPESCOPE_EXPECTED_VERSION)), qPrintable(text));
        QVERIFY(text.contains(QStringLiteral("LongRoPE2: Near-Lossless LLM Context Window Scaling")));
        QVERIFY(text.contains(QStringLiteral("arXiv:2502.20082")));
        QVERIFY(text.contains(QStringLiteral("Licence")));
        QVERIFY(text.contains(QStringLiteral("GNU General Public License, version 3")));
        QVERIFY(text.contains(QStringLiteral("LICENSE")));
        box->close();
        // The grant About states is the one the repository carries.
        QFile licence(QStringLiteral(ROPESCOPE_FIXTURES "/../../LICENSE"));
        QVERIFY(licence.open(QIODevice::ReadOnly));
        const QByteArray head = licence.read(400);
        QVERIFY(head.contains("GNU GENERAL PUBLIC LICENSE") && head.contains("Version 3, 29 June 2007"));
    }

    void f1OpensHowToReadThePlots()
    {
        m_window->show();
        m_window->activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(m_window.get()));
        QAction *help = namedAction(m_window.get(), QStringLiteral("helpPlotsAction"));
        QVERIFY(help);
        QCOMPARE(help->shortcut(), QKeySequence(Qt::Key_F1));
        QTest::keyClick(m_window.get(), Qt::Key_F1);
        rs::HelpDialog *dialog = nullptr;
        QTRY_VERIFY((dialog = m_window->findChild<rs::HelpDialog *>()) && dialog->isVisible());
        QVERIFY(!dialog->isModal());
        const QString page = dialog->browser()->toPlainText();
        QVERIFY(page.contains(QStringLiteral("How to read the plots")));
        QVERIFY(page.contains(rs::glossaryDefinition(QStringLiteral("d_tcd"))));
        // A second F1 raises the same page.
        QTest::keyClick(m_window.get(), Qt::Key_F1);
        QCOMPARE(m_window->findChildren<rs::HelpDialog *>().size(), 1);
        dialog->close();
    }

    void everyLabelledTermHasItsDefinition()
    {
        m_window->searchDock()->show();
        m_window->showWorkbenchDock();
        QSet<QString> found;
        const auto check = [&](QWidget *w, const QString &text) {
            const rs::GlossaryTerm *term = rs::glossaryTermForLabel(text);
            if (!term)
                return;
            found.insert(term->key);
            QVERIFY2(!w->toolTip().isEmpty(), qPrintable(describe(w)));
            if (qobject_cast<QLabel *>(w) || qobject_cast<QGroupBox *>(w))
                QVERIFY2(w->toolTip().contains(term->definition) || w->toolTip() == term->definition, qPrintable(describe(w)));
            if (auto *label = qobject_cast<QLabel *>(w); label && label->buddy())
                QVERIFY2(!label->buddy()->toolTip().isEmpty(), qPrintable(describe(label->buddy())));
        };
        for (QLabel *label : m_window->findChildren<QLabel *>())
            check(label, label->text());
        for (QAbstractButton *button : m_window->findChildren<QAbstractButton *>())
            check(button, button->text());
        for (QGroupBox *box : m_window->findChildren<QGroupBox *>())
            check(box, box->title());
        // The terms the issue names, each on some label of the window.
        for (const char *key : {"d_tcd", "d_10", "d_rcd", "ntk_left", "attention_factor", "s", "population", "generations",
                                "racing", "validation_samples", "fitness", "samples", "device", "dtype", "budget"})
            QVERIFY2(found.contains(QString::fromLatin1(key)), key);
    }

    void searchPlotExportsLikeTheOthers()
    {
        QVERIFY(namedAction(m_window.get(), QStringLiteral("exportSearchPlotAction")));
        m_window->searchDock()->show();
        m_window->showSearchView();
        m_window->resize(1400, 900);
        m_window->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
        const QString png = m_temp.filePath(QStringLiteral("search.png"));
        const QString pdf = m_temp.filePath(QStringLiteral("search.pdf"));
        QVERIFY(m_window->exportPlot(png, MainWindow::Plot::Search));
        QVERIFY(m_window->exportPlot(pdf, MainWindow::Plot::Search));
        const QImage image(png);
        QVERIFY(!image.isNull());
        // Twice the plot's size on screen, as the other plots export.
        QCOMPARE(image.size(), m_window->searchPanel()->plot()->size() * 2);
        QFile pdfFile(pdf);
        QVERIFY(pdfFile.open(QIODevice::ReadOnly));
        QVERIFY(pdfFile.read(5) == "%PDF-");
        // A hidden plot (the factors' tab in front) still exports, at a usable size.
        m_window->centralTabs()->setCurrentIndex(0);
        QVERIFY(m_window->exportPlot(png, MainWindow::Plot::Search));
        QVERIFY(QImage(png).width() >= 2 * 640);
    }

    void exportedFactorsHaveNoDragHint()
    {
        m_window->resize(1400, 900);
        m_window->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
        rs::FactorsPlot *plot = m_window->factorsView()->plot();
        plot->flushReplot();
        QVERIFY(plot->yAxis->label().contains(QStringLiteral("drag points to edit")));
        const QImage onScreen = plot->toPixmap(plot->width(), plot->height(), 2.0).toImage();
        const QString png = m_temp.filePath(QStringLiteral("factors.png"));
        QVERIFY(m_window->exportPlot(png, MainWindow::Plot::Factors));
        const QImage exported(png);
        QCOMPARE(exported.size(), onScreen.size());
        // The value axis label is shorter without the hint: fewer dark pixels where it is drawn.
        const int strip = 2 * 30;
        const int withHint = darkPixelsInLeftStrip(onScreen, strip);
        const int exportedDark = darkPixelsInLeftStrip(exported, strip);
        QVERIFY2(exportedDark < withHint * 0.8, qPrintable(QStringLiteral("%1 vs %2").arg(exportedDark).arg(withHint)));
        // The screen keeps its hint.
        QVERIFY(plot->yAxis->label().contains(QStringLiteral("drag points to edit")));
    }

    void layoutHoldsAt1024x700()
    {
        m_window->resize(1024, 700);
        m_window->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
        m_window->showSearchDock();  // as at start-up with a model
        QCOMPARE(m_window->size(), QSize(1024, 700));  // the minimum sizes allow it
        // A plot whose legend wraps asks for more height at its first replot; the scrolled dock
        // follows in the next pass of the event loop, as on screen.
        QTest::qWait(50);
        const QImage shot = m_window->grabWindowImage();
        if (const QString path = qEnvironmentVariable("ROPESCOPE_SMALL_SCREENSHOT"); !path.isEmpty())
            QVERIFY(shot.save(path));

        // Each side panel in front in turn (on a small screen they share one dock area as tabs).
        QStringList problems = layoutProblems(m_window.get());
        m_window->findChild<QDockWidget *>(QStringLiteral("controlPanelDock"))->raise();
        QTest::qWait(50);
        problems += layoutProblems(m_window.get());
        QVERIFY2(problems.isEmpty(), qPrintable(problems.join(QLatin1Char('\n'))));

        // The plots' text labels (L, L_train, s, d_tcd, d_rcd, "one full rotation", …): whole inside
        // their axis rects and none over another, with llama3.1-8b's d_rcd = d_tcd = 35 of 64.
        for (QCustomPlot *plot : {static_cast<QCustomPlot *>(m_window->periodsPlot()),
                                  static_cast<QCustomPlot *>(m_window->factorsView()->plot())}) {
            QList<std::pair<QString, QRectF>> boxes;
            for (int i = 0; i < plot->itemCount(); ++i) {
                auto *label = qobject_cast<QCPItemText *>(plot->item(i));
                if (!label || !label->visible() || label->text().isEmpty())
                    continue;
                const QRectF box = QRectF(label->topLeft->pixelPosition(), label->bottomRight->pixelPosition()).normalized();
                QVERIFY2(QRectF(label->clipAxisRect()->rect()).adjusted(-1, -1, 1, 1).contains(box),
                         qPrintable(QStringLiteral("\"%1\" leaves its plot").arg(label->text())));
                for (const auto &[text, other] : std::as_const(boxes))
                    QVERIFY2(!box.adjusted(1, 1, -1, -1).intersects(other),
                             qPrintable(QStringLiteral("\"%1\" covers \"%2\"").arg(label->text(), text)));
                boxes.append({label->text(), box});
            }
            QVERIFY(boxes.size() >= 4);
        }

        // The search plot as its view shows it (a tab of its own).
        m_window->showSearchView();
        QTest::qWait(50);
        m_window->searchPanel()->plot()->flushReplot();
        // The plots' legends: inside the plot, outside every axis rect (never over the data).
        rs::PeriodsPlot *periods = m_window->periodsPlot();
        const QList<std::pair<QCustomPlot *, QCPLegend *>> legends{
            {periods, periods->legend}, {periods, periods->rotationsLegend()},
            {m_window->factorsView()->plot(), m_window->factorsView()->plot()->legend},
            {m_window->searchPanel()->plot(), m_window->searchPanel()->plot()->legend}};
        for (const auto &[plot, legend] : legends) {
            const QRect box = legend->outerRect();
            QVERIFY2(plot->viewport().contains(box), qPrintable(plot->metaObject()->className()));
            for (QCPAxisRect *rect : plot->axisRects())
                QVERIFY2(!box.intersects(rect->rect()), qPrintable(plot->metaObject()->className()));
            for (int i = 0; i < legend->itemCount(); ++i)
                QVERIFY2(box.contains(legend->item(i)->outerRect()), qPrintable(plot->metaObject()->className()));
        }

        // Titles and legend entries whole: each given at least the size its text needs (a squeezed
        // one is cut, as "Rotations" and "in L_train, original" were).
        for (QCustomPlot *plot : {static_cast<QCustomPlot *>(periods), static_cast<QCustomPlot *>(m_window->factorsView()->plot()),
                                  static_cast<QCustomPlot *>(m_window->searchPanel()->plot())}) {
            for (QCPLayoutElement *element : plot->plotLayout()->elements(true)) {
                QString text;
                if (auto *title = qobject_cast<QCPTextElement *>(element))
                    text = title->text();
                else if (auto *item = dynamic_cast<QCPPlottableLegendItem *>(element))
                    text = item->plottable()->name();
                else
                    continue;
                const QSize needed = element->minimumOuterSizeHint();
                QVERIFY2(element->outerRect().width() + 1 >= needed.width(),
                         qPrintable(QStringLiteral("\"%1\" cut: %2 of %3 px").arg(text).arg(element->outerRect().width()).arg(needed.width())));
                QVERIFY2(element->outerRect().height() + 1 >= needed.height(),
                         qPrintable(QStringLiteral("\"%1\" squeezed: %2 of %3 px high in %4").arg(text).arg(element->outerRect().height())
                                        .arg(needed.height()).arg(plot->metaObject()->className())));
            }
        }

        // Spin boxes show their whole value (the attention factor's read "1.1547 (def"), also with
        // the attention factor back at its default (this config sets one).
        auto *attentionDefault = m_window->findChild<QAbstractButton *>(QStringLiteral("attentionDefaultButton"));
        QVERIFY(attentionDefault && attentionDefault->isEnabled());
        attentionDefault->click();
        QVERIFY(!attentionDefault->isEnabled());
        for (QAbstractSpinBox *spin : m_window->findChildren<QAbstractSpinBox *>()) {
            if (!spin->isVisibleTo(m_window.get()))
                continue;
            auto *edit = spin->findChild<QLineEdit *>();
            QVERIFY(edit);
            const int textWidth = edit->fontMetrics().horizontalAdvance(spin->text());
            QVERIFY2(edit->width() >= textWidth + 4,
                     qPrintable(QStringLiteral("%1 shows \"%2\" in %3 px, needs %4").arg(describe(spin), spin->text())
                                    .arg(edit->width()).arg(textWidth + 4)));
        }
    }

    // At start-up on a small screen with a run followed from the command line, as main() does it
    // (the log followed before the window is first shown, then the window sized and shown): the
    // search dock is the side tab in front, not "Model and controls", and the search plot has laid
    // out this log's reference labels (their stacking once looped for ever on them at this size).
    void followedAtStartUpOnASmallScreen()
    {
        m_window->resize(1024, 700);
        QVERIFY(m_window->followSearchLog(
            QStringLiteral(ROPESCOPE_SOURCE_DIR "/results/fair-4x/logs/search-longrope2.jsonl")));
        m_window->resize(1024, 700);
        m_window->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
        QTest::qWait(50);
        QDockWidget *panelDock = m_window->findChild<QDockWidget *>(QStringLiteral("controlPanelDock"));
        QVERIFY(m_window->tabifiedDockWidgets(panelDock).contains(m_window->searchDock()));
        QTabBar *sideTabs = nullptr;
        for (QTabBar *bar : m_window->findChildren<QTabBar *>())
            if (bar->parent() == m_window.get() && bar->isVisible())
                sideTabs = bar;
        QVERIFY(sideTabs);
        QCOMPARE(sideTabs->tabText(sideTabs->currentIndex()), m_window->searchDock()->windowTitle());
        QVERIFY(!m_window->searchDock()->visibleRegion().isEmpty());
        QCOMPARE(m_window->centralTabs()->currentWidget(), m_window->searchPanel()->plot());
        rs::SearchPlot *plot = m_window->searchPanel()->plot();
        plot->flushReplot();
        QStringList labels;
        for (int i = 0; i < plot->itemCount(); ++i)
            if (auto *label = qobject_cast<QCPItemText *>(plot->item(i)); label && label->visible() && !label->text().isEmpty())
                labels << label->text();
        QVERIFY2(labels.size() >= 8, qPrintable(labels.join(QStringLiteral(" | "))));  // 5 baselines, search and validation
    }

    // The keyboard reaches every control of the window: from the first, Tab visits every visible,
    // enabled control of the side panels, the central tabs and the search dock (each dock in its
    // visual order, which the panels' own tests walk) before it comes back round, and the focus never
    // lands on something hidden.
    void everyControlIsReachableByTab()
    {
        m_window->resize(1600, 1000);
        m_window->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
        m_window->showSearchDock();
        m_window->activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(m_window.get()));
        QTest::qWait(50);
        // Every focusable control, a composite one (a spin box, a combo box) once.
        std::vector<QWidget *> controls;
        for (QWidget *w : m_window->findChildren<QWidget *>()) {
            if (!w->isVisible() || !w->isEnabled() || !(w->focusPolicy() & Qt::TabFocus) || w->visibleRegion().isEmpty()
                || qobject_cast<QTabWidget *>(w))  // a tab widget passes its focus to its tab bar
                continue;
            bool part = false;
            for (QWidget *p = w->parentWidget(); p && p != m_window.get(); p = p->parentWidget())
                part = part || qobject_cast<QAbstractSpinBox *>(p) || qobject_cast<QComboBox *>(p);
            if (!part)
                controls.push_back(w);
        }
        QVERIFY(controls.size() >= 30);
        std::set<QWidget *> unvisited(controls.begin(), controls.end());
        controls.front()->setFocus(Qt::TabFocusReason);
        QTest::qWait(1);
        QStringList hidden;
        for (size_t i = 0; i < 3 * controls.size() && !unvisited.empty(); ++i) {
            QWidget *focus = QApplication::focusWidget();
            QVERIFY2(focus, "the focus left the window");
            if (!focus->isVisible())
                hidden << rs::testing::describeControl(focus);
            for (QWidget *c : controls)
                if (c == focus || c->isAncestorOf(focus))
                    unvisited.erase(c);
            QTest::keyClick(focus, Qt::Key_Tab);
        }
        QVERIFY2(hidden.isEmpty(), qPrintable(QStringLiteral("the focus landed on hidden controls: ") + hidden.join(QStringLiteral(", "))));
        QStringList missed;
        for (QWidget *w : unvisited)
            missed << rs::testing::describeControl(w);
        QVERIFY2(missed.isEmpty(), qPrintable(QStringLiteral("Tab never reaches: ") + missed.join(QStringLiteral(", "))));
    }

    void searchViewAndFactorsAtBothSizes_data()
    {
        QTest::addColumn<QSize>("size");
        QTest::newRow("1024x700") << QSize(1024, 700);
        QTest::newRow("1600x1000") << QSize(1600, 1000);
    }

    // As at start-up with a model (the search dock brought up as the app does), then a run that
    // starts: the side panels whole, the factors plot large enough to drag a point, and the search
    // in its own view, brought forward, large, with the legend beside its plots, the d_rcd plot
    // whole and no two reference labels over each other (close baselines, as in the issue).
    void searchViewAndFactorsAtBothSizes()
    {
        QFETCH(QSize, size);
        m_window->resize(size);
        m_window->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
        m_window->showSearchDock();
        QTest::qWait(50);
        QCOMPARE(m_window->size(), size);
        // Both side panels at hand: side by side, or (a small screen) as tabs of one dock area.
        QDockWidget *panelDock = m_window->findChild<QDockWidget *>(QStringLiteral("controlPanelDock"));
        QVERIFY(m_window->searchDock()->isVisible());
        QVERIFY(panelDock->isVisible() || m_window->tabifiedDockWidgets(panelDock).contains(m_window->searchDock()));
        rs::FactorsPlot *factors = m_window->factorsView()->plot();
        QVERIFY2(factors->isVisible() && factors->width() >= 300 && factors->height() >= 300,
                 qPrintable(QStringLiteral("factors plot %1×%2").arg(factors->width()).arg(factors->height())));
        QStringList problems = layoutProblems(m_window.get());
        QVERIFY2(problems.isEmpty(), qPrintable(problems.join(QLatin1Char('\n'))));

        rs::SearchPlot *plot = m_window->searchPanel()->plot();
        rs::SearchPlan plan;
        plan.settings.method = rs::SearchMethod::LongRoPE2;
        plan.settings.population = 8;
        plan.settings.mutations = 4;
        plan.settings.crossovers = 4;
        plan.settings.iterations = 6;
        plan.settings.dRcdMin = 20;
        plan.settings.dRcdMax = 40;
        // View › Search Plots (Ctrl+Shift+P) brings the view forward by hand.
        QAction *searchPlots = nullptr;
        for (QAction *a : m_window->findChildren<QAction *>())
            if (a->text() == QLatin1String("Search &Plots"))
                searchPlots = a;
        QVERIFY(searchPlots);
        QCOMPARE(searchPlots->shortcut(), QKeySequence(QStringLiteral("Ctrl+Shift+P")));
        m_window->centralTabs()->setCurrentIndex(0);
        searchPlots->trigger();
        QCOMPARE(m_window->centralTabs()->currentWidget(), plot);
        m_window->centralTabs()->setCurrentIndex(0);
        Q_EMIT m_window->searchPanel()->searchStarted(plan);  // as a run starts: its view comes forward
        QCOMPARE(m_window->centralTabs()->currentWidget(), plot);
        plot->beginRun(plan);
        rs::SearchBaselines baselines;
        for (const auto &[name, search, validation] : {std::tuple{"yarn", 9.10, 9.09}, std::tuple{"llama3", 9.12, 9.14},
                                                       std::tuple{"original", 14.0, 14.3}}) {
            rs::BaselineScore score;
            score.name = QString::fromLatin1(name);
            score.searchFitness = search;
            score.validationFitness = validation;
            baselines.scores.push_back(score);
        }
        plot->setRunBaselines(baselines);
        for (int g = 0; g < 3; ++g) {
            rs::GenerationReport report;
            report.generation = g;
            report.searchBestFitness = 9.0 - g * 0.2;
            report.bestFitness = report.searchBestFitness;
            report.medianFitness = 10.0 - g * 0.3;
            report.bestDRcd = 30 + g;
            report.memberDRcd = {25, 28, 30 + g, 33, 36};
            plot->addGeneration(report);
        }
        QTest::qWait(50);
        plot->flushReplot();
        if (const QString dir = qEnvironmentVariable("ROPESCOPE_SEARCH_SCREENSHOT_DIR"); !dir.isEmpty())
            QVERIFY(m_window->grabWindowImage().save(QStringLiteral("%1/search-%2x%3.png").arg(dir).arg(size.width()).arg(size.height())));
        problems = layoutProblems(m_window.get());
        QVERIFY2(problems.isEmpty(), qPrintable(problems.join(QLatin1Char('\n'))));

        // Large: the whole central area, wider than either side panel and most of the height.
        QVERIFY(plot->isVisible());
        QVERIFY2(plot->width() >= 420 && plot->height() >= size.height() * 0.7,
                 qPrintable(QStringLiteral("search plot %1×%2").arg(plot->width()).arg(plot->height())));
        const QRect legend = plot->legend->outerRect();
        QVERIFY(plot->viewport().contains(legend));
        for (QCPAxisRect *rect : plot->axisRects())
            QVERIFY2(legend.left() >= rect->outerRect().right(), "the legend beside the plots");
        const auto rectText = [](const QRect &r) { return QStringLiteral("%1,%2 %3×%4").arg(r.x()).arg(r.y()).arg(r.width()).arg(r.height()); };
        QVERIFY2(plot->viewport().adjusted(0, 0, 1, 1).contains(plot->dRcdRect()->outerRect()),  // layouts round to 1 px
                 qPrintable(rectText(plot->dRcdRect()->outerRect()) + QStringLiteral(" in ") + rectText(plot->viewport())));
        QVERIFY(plot->dRcdRect()->rect().height() >= 100);
        QList<QRectF> boxes;
        for (int i = 0; i < plot->itemCount(); ++i) {
            auto *label = qobject_cast<QCPItemText *>(plot->item(i));
            if (!label || !label->visible() || label->text().isEmpty())
                continue;
            const QRectF box = QRectF(label->topLeft->pixelPosition(), label->bottomRight->pixelPosition()).normalized();
            QVERIFY2(QRectF(plot->pplRect()->rect()).adjusted(-1, -1, 1, 1).contains(box),
                     qPrintable(QStringLiteral("\"%1\" leaves its plot").arg(label->text())));
            for (const QRectF &other : std::as_const(boxes))
                QVERIFY2(!box.intersects(other), qPrintable(label->text()));
            boxes << box;
        }
        QCOMPARE(boxes.size(), 6);
        // Back to the factors: the tab is there to pick.
        m_window->centralTabs()->setCurrentIndex(0);
        QVERIFY(factors->isVisible());
    }

private:
    QTemporaryDir m_temp;
    std::unique_ptr<MainWindow> m_window;
};

QTEST_MAIN(TestMainWindowHelp)
#include "test_mainwindow_help.moc"
