// The evaluation workbench dock on a tiny model, offscreen, with a real evaluation thread behind its
// service interface: cells arrive one by one and grow both plots, the GUI thread keeps processing a
// timer while a sweep runs, cancel ends a sweep between samples and keeps its finished cells, the
// edited λ and factor files become methods, results save and open again as JSON and CSV (a bad
// file is named and leaves the shown result alone), and both plots export to PNG and PDF.
#include "worker/evaluationworker.h"
#include "workbenchpanel.h"
#include "workbenchplots.h"
#include "taborder.h"

#include <QCheckBox>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QSet>
#include <QLineEdit>
#include <QListWidget>
#include <QProgressBar>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <cmath>

using namespace rs;

namespace {

// llama-longrope: d = 16, L_train = 128; with the byte tokenizer a needle sample needs 373 tokens,
// so lengths of 400 and 512 tokens are 3.1 × and 4 × L_train.
const QString kModel = QStringLiteral(ROPESCOPE_FIXTURES "/models/llama-longrope");
const QString kTokenizer = QStringLiteral(ROPESCOPE_FIXTURES "/tokenizers/bytes-256-tokenizer.json");
constexpr int kWaitMs = 120000;

void checkOnly(QListWidget *list, const QStringList &names)
{
    for (int i = 0; i < list->count(); ++i)
        list->item(i)->setCheckState(names.contains(list->item(i)->text()) ? Qt::Checked : Qt::Unchecked);
}

} // namespace

class TestWorkbenchPanel : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QVERIFY(m_temp.isValid());
        m_thread = std::make_unique<EvaluationThread>();
        m_panel = std::make_unique<WorkbenchPanel>(m_thread.get());
        m_panel->resize(640, 900);
        m_panel->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_panel.get()));
        QVERIFY(!m_panel->runButton()->isEnabled());
        // Without a model nothing runs, and the panel says why.
        QSignalSpy errors(m_panel.get(), &WorkbenchPanel::errorOccurred);
        QVERIFY(!m_panel->startSweep());
        QCOMPARE(errors.count(), 1);

        m_thread->loadModel(kModel, kTokenizer);
        QTRY_VERIFY_WITH_TIMEOUT(m_panel->hasModel(), kWaitMs);
        QVERIFY(m_panel->runButton()->isEnabled());
        // Default lengths: L_train / 2 to the target (8 × L_train), log-spaced.
        QCOMPARE(m_panel->lengthsEdit()->text(), QStringLiteral("64, 128, 256, 512, 1024"));
    }

    void cleanupTestCase()
    {
        m_panel.reset();
        m_thread.reset();
    }

    // The edited λ and factor files are methods; a file that does not fit is named.
    void factorSourcesBecomeMethods()
    {
        m_panel->setEditedFactors(std::vector<double>(8, 3.0), 0);
        QVERIFY(!m_panel->methodList()->findItems(WorkbenchPanel::kEditedName, Qt::MatchExactly).isEmpty());
        const QString good = m_temp.filePath(QStringLiteral("triple.txt"));
        const QString bad = m_temp.filePath(QStringLiteral("short.txt"));
        for (const auto &[path, text] : {std::pair{good, QByteArray("3\n3\n3\n3\n3\n3\n3\n3\n")}, std::pair{bad, QByteArray("1\n2\n")}}) {
            QFile f(path);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(text);
        }
        QVERIFY(m_panel->addFactorFile(good));
        QVERIFY(!m_panel->methodList()->findItems(QStringLiteral("triple"), Qt::MatchExactly).isEmpty());
        QSignalSpy errors(m_panel.get(), &WorkbenchPanel::errorOccurred);
        QVERIFY(!m_panel->addFactorFile(bad));
        QCOMPARE(errors.count(), 1);
        QVERIFY(errors.at(0).at(0).toString().contains(bad));
        bool found = false;
        for (const SweepMethodSpec &m : m_panel->sweepMethods())
            if (m.name == QLatin1String("triple")) {
                found = true;
                QCOMPARE(m.kind, QStringLiteral("factors"));
                QCOMPARE(m.lambda, std::vector<double>(8, 3.0));
            }
        QVERIFY(found);
    }

    // A sweep is priced before it runs (issue 30): one forward per sample of every cell at its
    // length, memory at the longest length, on the loaded model's figures; a length whose forward
    // cannot fit in this machine's memory is refused, naming Lengths, before anything starts.
    void sweepIsPricedBeforeItRuns()
    {
        checkOnly(m_panel->methodList(), {QStringLiteral("original"), QStringLiteral("YaRN")});
        m_panel->lengthsEdit()->setText(QStringLiteral("400, 512"));
        m_panel->depthsEdit()->setText(QStringLiteral("0, 1"));
        m_panel->samplesSpinBox()->setValue(3);
        m_panel->heldOutCheckBox()->setChecked(true);
        const std::optional<CostEstimate> price = m_panel->sweepPrice(m_panel->sweepSettings(), 2);
        QVERIFY(price.has_value());
        // Per length and method: depths 0 and 1 (the length curve's depth 0 among them) and the
        // held-out curve, 3 cells of 3 samples: 2 lengths × 2 methods × 3 × 3 forwards.
        QCOMPARE(price->forwards, 2.0 * 2 * 3 * 3);
        QCOMPARE(price->tokens, 512.0);
        QVERIFY(price->fits);
        QVERIFY(price->seconds > 0);

        m_panel->lengthsEdit()->setText(QStringLiteral("268435456"));  // 2^28: about 390 GiB
        QSignalSpy errors(m_panel.get(), &WorkbenchPanel::errorOccurred);
        QVERIFY(!m_panel->startSweep());
        QCOMPARE(errors.count(), 1);
        const QString message = errors.at(0).at(0).toString();
        QVERIFY2(message.startsWith(QLatin1String("Lengths: a forward at 268,435,456 tokens")) &&
                     message.contains(QLatin1String("choose shorter lengths")),
                 qPrintable(message));
        QCOMPARE(m_panel->state(), WorkbenchPanel::State::Idle);
    }

    // Cells arrive one at a time and grow both plots while a 5 ms timer on this thread keeps firing.
    void cellsArriveAndTheGuiStaysResponsive()
    {
        checkOnly(m_panel->methodList(), {QStringLiteral("original"), QStringLiteral("YaRN"), QStringLiteral("triple")});
        m_panel->lengthsEdit()->setText(QStringLiteral("400, 512"));
        m_panel->depthsEdit()->setText(QStringLiteral("0, 1"));
        m_panel->samplesSpinBox()->setValue(1);
        m_panel->passkeyCheckBox()->setChecked(true);
        m_panel->heldOutCheckBox()->setChecked(true);

        int ticks = 0, ticksBetweenCells = 0, cellsSeen = 0;
        QTimer timer;
        timer.setInterval(5);
        connect(&timer, &QTimer::timeout, this, [&] {
            ++ticks;
            if (cellsSeen > 0 && m_panel->state() == WorkbenchPanel::State::Running)
                ++ticksBetweenCells;
        });
        QSignalSpy cells(m_panel.get(), &WorkbenchPanel::cellAdded);
        QSignalSpy finished(m_panel.get(), &WorkbenchPanel::sweepFinished);
        connect(m_panel.get(), &WorkbenchPanel::cellAdded, &timer, [&] { ++cellsSeen; });  // gone with the timer
        timer.start();
        QVERIFY(m_panel->startSweep());
        QCOMPARE(m_panel->state(), WorkbenchPanel::State::Running);
        QVERIFY(!m_panel->runButton()->isEnabled() && m_panel->cancelButton()->isEnabled());
        QVERIFY(finished.wait(kWaitMs));
        timer.stop();
        // 2 lengths × (depths 0 and 1 + held-out) × 3 methods.
        QCOMPARE(cells.count(), 18);
        const SweepResult result = finished.at(0).at(0).value<SweepResult>();
        QCOMPARE(int(result.cells.size()), 18);
        QVERIFY(!result.cancelled);
        QCOMPARE(m_panel->progressBar()->value(), 18);
        QCOMPARE(m_panel->state(), WorkbenchPanel::State::Idle);
        qInfo("%d timer ticks during the sweep, %d of them between its cells", ticks, ticksBetweenCells);
        QVERIFY(ticksBetweenCells >= 3);  // the event loop ran while the worker computed

        // The curves: a point per length for each method and measure, with its band.
        SweepCurvePlot *curves = m_panel->curvePlot();
        for (const QString &method : {"original", "YaRN", "triple"}) {
            QCOMPARE(curves->curve(SweepMeasure::Needle, method)->dataCount(), 2);
            QCOMPARE(curves->curve(SweepMeasure::HeldOut, method)->dataCount(), 2);
            QVERIFY(curves->bandLower(SweepMeasure::Needle, method)->channelFillGraph() ==
                    curves->bandUpper(SweepMeasure::Needle, method));
        }
        QVERIFY(curves->needleRect()->axis(QCPAxis::atBottom)->scaleType() == QCPAxis::stLogarithmic);
        // The heatmap: passkey accuracy per depth × length, one colour map per method.
        SweepHeatmapPlot *heatmap = m_panel->heatmapPlot();
        for (const QString &method : {"original", "YaRN", "triple"}) {
            QVERIFY(heatmap->colorMap(method));
            for (int length : {400, 512})
                for (double depth : {0.0, 1.0}) {
                    const double v = heatmap->valueAt(method, length, depth);
                    const SweepCell *cell = result.find(SweepMeasure::Needle, method, length, depth);
                    QVERIFY(cell && cell->passkeyAccuracy >= 0);
                    QCOMPARE(v, cell->passkeyAccuracy);
                }
        }
        heatmap->setShownMethod(QStringLiteral("YaRN"));
        QVERIFY(heatmap->colorMap(QStringLiteral("YaRN")) && !heatmap->colorMap(QStringLiteral("original")));
        heatmap->setMetric(SweepHeatmapPlot::Metric::NeedlePpl);
        QCOMPARE(heatmap->valueAt(QStringLiteral("YaRN"), 512, 1.0), result.find(SweepMeasure::Needle, QStringLiteral("YaRN"), 512, 1.0)->value);
        heatmap->setShownMethod({});
        heatmap->setMetric(SweepHeatmapPlot::Metric::Passkey);
        // Comparisons with the reference (the first method) ride along.
        const SweepCell *yarn = result.find(SweepMeasure::Needle, QStringLiteral("YaRN"), 400, 0.0);
        QCOMPARE(yarn->reference, QStringLiteral("original"));

        // Save, open, export.
        const QString json = m_temp.filePath(QStringLiteral("sweep.json"));
        const QString csv = m_temp.filePath(QStringLiteral("sweep.csv"));
        QVERIFY(m_panel->saveResult(json));
        QVERIFY(m_panel->saveResult(csv));
        for (const QString &path : {json, csv}) {
            WorkbenchPanel reopened(m_thread.get());
            QVERIFY(reopened.openResult(path));
            QCOMPARE(reopened.result().cells.size(), result.cells.size());
            QCOMPARE(reopened.curvePlot()->curve(SweepMeasure::Needle, QStringLiteral("triple"))->dataCount(), 2);
            QCOMPARE(reopened.heatmapPlot()->valueAt(QStringLiteral("original"), 400, 0.0),
                     result.find(SweepMeasure::Needle, QStringLiteral("original"), 400, 0.0)->passkeyAccuracy);
        }
        for (const QString &name : {"curves.png", "curves.pdf", "heatmap.png", "heatmap.pdf"}) {
            const QString path = m_temp.filePath(name);
            QVERIFY(m_panel->exportPlot(path, name.startsWith(QLatin1String("curves")) ? WorkbenchPanel::Plot::Curves
                                                                                     : WorkbenchPanel::Plot::Heatmap));
            QVERIFY2(QFileInfo(path).size() > 1000, qPrintable(path));
        }
    }

    // The engine the factor sets are scored for travels with the sweep, its result and its file,
    // and the panel says it (issue 25: each figure says which engine it assumes).
    void engineChoiceTravelsWithTheResult()
    {
        QCOMPARE(m_panel->engineCombo()->currentText(), QStringLiteral("transformers"));
        m_panel->engineCombo()->setCurrentText(QStringLiteral("vllm"));
        checkOnly(m_panel->methodList(), {QStringLiteral("triple")});
        m_panel->lengthsEdit()->setText(QStringLiteral("400"));
        m_panel->depthsEdit()->setText(QString());
        m_panel->samplesSpinBox()->setValue(1);
        m_panel->passkeyCheckBox()->setChecked(false);
        m_panel->heldOutCheckBox()->setChecked(false);
        QSignalSpy finished(m_panel.get(), &WorkbenchPanel::sweepFinished);
        QVERIFY(m_panel->startSweep());
        QVERIFY(finished.wait(kWaitMs));
        const SweepResult result = finished.at(0).at(0).value<SweepResult>();
        QCOMPARE(result.settings.engine, QStringLiteral("vllm"));
        const QString json = m_temp.filePath(QStringLiteral("vllm.json"));
        QVERIFY(m_panel->saveResult(json));
        WorkbenchPanel reopened(m_thread.get());
        QVERIFY(reopened.openResult(json));
        QCOMPARE(reopened.engineCombo()->currentText(), QStringLiteral("vllm"));
        QCOMPARE(reopened.result().settings.engine, QStringLiteral("vllm"));
        m_panel->engineCombo()->setCurrentText(QStringLiteral("transformers"));
    }

    // What --export-sweep-plots does: a panel never shown saves its curves at a size of its own.
    // Nine methods (the fair miniature's) get nine distinct colours and a legend whose entries
    // are whole and apart (before, a hidden plot kept its legend on one squeezed row).
    void hiddenPanelExportsNineMethodsLegibly()
    {
        WorkbenchPanel hidden(m_thread.get());
        QVERIFY(hidden.openResult(QStringLiteral(ROPESCOPE_FIXTURES "/sweep/nine-methods.json")));
        QCustomPlot *plot = hidden.curvePlot();
        plot->resize(960, 720);
        const QString path = m_temp.filePath(QStringLiteral("nine.png"));
        QVERIFY(savePlot(plot, path));
        QCOMPARE(QImage(path).size(), QSize(960, 720));
        QCPLegend *legend = plot->legend;
        QCOMPARE(legend->itemCount(), 9);
        QSet<QRgb> colours;
        QList<QRect> boxes;
        for (int i = 0; i < legend->itemCount(); ++i) {
            auto *item = qobject_cast<QCPPlottableLegendItem *>(legend->item(i));
            QVERIFY(item);
            colours.insert(item->plottable()->pen().color().rgb());
            const QRect box = item->outerRect();
            QVERIFY2(box.width() >= static_cast<QCPLayoutElement *>(item)->minimumOuterSizeHint().width(),
                     qPrintable(item->plottable()->name()));
            QVERIFY2(plot->viewport().contains(box), qPrintable(item->plottable()->name()));
            for (const QRect &other : std::as_const(boxes))
                QVERIFY2(!box.intersects(other), qPrintable(item->plottable()->name()));
            boxes << box;
        }
        QCOMPARE(colours.size(), 9);
    }

    void badResultFileIsNamedAndChangesNothing()
    {
        const QString path = m_temp.filePath(QStringLiteral("broken.json"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("{\"format\": \"ropescope-sweep\", \"version\": 1}");
        f.close();
        const size_t before = m_panel->result().cells.size();
        QSignalSpy errors(m_panel.get(), &WorkbenchPanel::errorOccurred);
        QVERIFY(!m_panel->openResult(path));
        QCOMPARE(errors.count(), 1);
        QVERIFY(errors.at(0).at(0).toString().contains(path));
        QCOMPARE(m_panel->result().cells.size(), before);
    }

    // Cancel after the first cell: the sweep ends between samples, keeps what it finished, and the
    // panel can run again.
    void cancelEndsTheSweep()
    {
        checkOnly(m_panel->methodList(), {QStringLiteral("original"), QStringLiteral("PI"), QStringLiteral("NTK"),
                                          QStringLiteral("YaRN")});
        m_panel->lengthsEdit()->setText(QStringLiteral("400, 512, 640, 768"));
        m_panel->depthsEdit()->setText(QStringLiteral("0, 0.5, 1"));
        m_panel->samplesSpinBox()->setValue(4);
        QSignalSpy cells(m_panel.get(), &WorkbenchPanel::cellAdded);
        QSignalSpy finished(m_panel.get(), &WorkbenchPanel::sweepFinished);
        QVERIFY(m_panel->startSweep());
        QVERIFY(cells.wait(kWaitMs));
        m_panel->cancelSweep();
        QCOMPARE(m_panel->state(), WorkbenchPanel::State::Cancelling);
        QVERIFY(finished.wait(kWaitMs));
        const SweepResult result = finished.at(0).at(0).value<SweepResult>();
        QVERIFY(result.cancelled);
        QVERIFY(int(result.cells.size()) < 4 * 4 * 4);
        QCOMPARE(int(result.cells.size()), cells.count());
        QCOMPARE(m_panel->state(), WorkbenchPanel::State::Idle);
        QVERIFY(m_panel->runButton()->isEnabled());
    }

    // After a cancelled sweep the bar stood part way; a result opened then shows its own (full)
    // progress, not the old one.
    void aReopenedResultShowsNoStaleProgress()
    {
        QProgressBar *bar = m_panel->progressBar();
        QVERIFY(bar->value() < bar->maximum());  // the cancelled sweep of the test before
        QVERIFY(m_panel->openResult(QStringLiteral(ROPESCOPE_FIXTURES "/sweep/nine-methods.json")));
        QCOMPARE(bar->maximum(), 27);
        QCOMPARE(bar->value(), 27);
    }

    // Export at a chosen size, as PNG or PDF, every plot in one go.
    void exportsAllPlotsAtAChosenSize()
    {
        WorkbenchPanel panel(m_thread.get());
        QVERIFY(panel.openResult(QStringLiteral(ROPESCOPE_FIXTURES "/sweep/nine-methods.json")));
        const QString png = m_temp.filePath(QStringLiteral("all.png"));
        QVERIFY(panel.exportAllPlots(png, QSize(1300, 700)));
        const QStringList pngs = WorkbenchPanel::allPlotPaths(png);
        QCOMPARE(pngs, QStringList({m_temp.filePath(QStringLiteral("all-lengths.png")), m_temp.filePath(QStringLiteral("all-heatmap.png"))}));
        for (const QString &path : pngs)
            QCOMPARE(QImage(path).size(), QSize(1300, 700));
        const QString pdf = m_temp.filePath(QStringLiteral("all.pdf"));
        QVERIFY(panel.exportAllPlots(pdf, QSize(1300, 700)));
        for (const QString &path : WorkbenchPanel::allPlotPaths(pdf)) {
            QFile f(path);
            QVERIFY2(f.open(QIODevice::ReadOnly), qPrintable(path));
            QVERIFY(f.read(5) == "%PDF-");
        }
        // The shown panel's plot at a size of its own, then back to the screen's size.
        const QSize shown = m_panel->curvePlot()->viewport().size();
        QVERIFY(m_panel->exportPlot(m_temp.filePath(QStringLiteral("one.png")), WorkbenchPanel::Plot::Curves, QSize(800, 600)));
        QCOMPARE(QImage(m_temp.filePath(QStringLiteral("one.png"))).size(), QSize(800, 600));
        QCOMPARE(m_panel->curvePlot()->viewport().size(), shown);
    }

    // Side by side, the maps share one length title under the row: no map's own title runs into
    // its neighbour's.
    void heatmapAxisTitlesDoNotCollide()
    {
        WorkbenchPanel panel(m_thread.get());
        QVERIFY(panel.openResult(QStringLiteral(ROPESCOPE_FIXTURES "/sweep/nine-methods.json")));
        QCustomPlot *plot = panel.heatmapPlot();
        QVERIFY(savePlot(plot, m_temp.filePath(QStringLiteral("heat.png")), QSize(1600, 500)));
        int maps = 0;
        for (int i = 0; i < plot->plottableCount(); ++i)
            if (auto *map = qobject_cast<QCPColorMap *>(plot->plottable(i))) {
                ++maps;
                QVERIFY(map->keyAxis()->label().isEmpty());
            }
        QCOMPARE(maps, 9);
        QList<QCPTextElement *> titles;
        for (int i = 0; i < plot->plotLayout()->elementCount(); ++i)
            if (auto *t = qobject_cast<QCPTextElement *>(plot->plotLayout()->elementAt(i)))
                titles << t;
        int lengthTitles = 0;
        for (QCPTextElement *t : std::as_const(titles))
            lengthTitles += t->text() == QLatin1String("context length (tokens)");
        QCOMPARE(lengthTitles, 1);
    }

    // Tab walks the workbench as it reads and reaches every control.
    void tabFollowsTheVisualOrder()
    {
        m_panel->activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(m_panel.get()));
        const std::vector<QWidget *> controls = testing::controlsInVisualOrder(m_panel.get());
        QVERIFY(controls.size() >= 12);
        QCOMPARE(testing::describeControls(testing::walkTabOrder(m_panel.get(), controls)),
                 testing::describeControls(controls));
    }

private:
    QTemporaryDir m_temp;
    std::unique_ptr<EvaluationThread> m_thread;
    std::unique_ptr<WorkbenchPanel> m_panel;
};

QTEST_MAIN(TestWorkbenchPanel)
#include "test_workbenchpanel.moc"
