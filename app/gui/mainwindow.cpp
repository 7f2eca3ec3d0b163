#include "mainwindow.h"
#include "mainwindow_p.h"

#include "controlpanel.h"
#include "common/error.h"
#include "common/savefile.h"
#include "worker/evaluationworker.h"
#include "factordocument.h"
#include "rope/factorfile.h"
#include "factorsplot.h"
#include "factorsview.h"
#include "periodsplot.h"
#include "plotstyle.h"
#include "rope/presets.h"
#include "searchpanel.h"
#include "glossary.h"
#include "helpmenu.h"
#include "workbenchpanel.h"
#include "searchplot.h"
#include "rope/session.h"
#include "finetunedmodels.h"
#include "runtime/embeddedmodel.h"
#include "runtime/modelfolder.h"
#include "search/runlogstart.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDockWidget>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QPdfWriter>
#include <QSaveFile>
#include <QScreen>
#include <QScrollArea>
#include <QScrollBar>
#include <QSettings>
#include <QSplitter>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTimer>
#include <QTabWidget>
#include <QTableView>
#include <QUndoStack>
#include <cmath>


using namespace mainwindow_detail;

namespace {

// A dock's panel in a vertical scroller: a short screen scrolls the panel instead of squeezing it
// below its minimum height, and the scroller is never narrower than the panel's minimum (as the
// panel's layout says now), so nothing is cut off at the right (the horizontal bar stays off).
class PanelScroller : public QScrollArea {
public:
    PanelScroller(QWidget *panel, QWidget *parent) : QScrollArea(parent)
    {
        setWidget(panel);
        setWidgetResizable(true);
        setFrameShape(QFrame::NoFrame);
        setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
        panel->installEventFilter(this);
    }

    QSize minimumSizeHint() const override
    {
        QSize hint = QScrollArea::minimumSizeHint();
        if (const QWidget *panel = widget()) {
            const int panelWidth = std::max(panel->minimumWidth(), panel->minimumSizeHint().width());
            hint.setWidth(std::max(hint.width(), panelWidth + verticalScrollBar()->sizeHint().width()));
        }
        return hint;
    }

protected:
    bool eventFilter(QObject *watched, QEvent *event) override
    {
        // The panel's layout changed (rows added, a wider label): the dock may need more room.
        if (watched == widget() && event->type() == QEvent::LayoutRequest)
            updateGeometry();
        return QScrollArea::eventFilter(watched, event);
    }
};

} // namespace

MainWindow::MainWindow(QWidget *parent)
    : QMainWindow(parent), m_document(new rs::FactorDocument(this)),
      m_periodsPlot(new rs::PeriodsPlot(m_document, this)), m_factorsView(new rs::FactorsView(m_document, this)),
      m_controlPanel(new rs::ControlPanel(m_document, this)), m_viewSplitter(new QSplitter(Qt::Vertical, this)),
      m_centralTabs(new QTabWidget(this)),
      m_panelDock(new QDockWidget(tr("Model and controls"), this)), m_evaluation(new rs::EvaluationThread(this)),
      m_searchPanel(new rs::SearchPanel(m_document, m_evaluation, this)),
      m_searchDock(new QDockWidget(tr("Search and live needle PPL"), this)),
      m_workbench(new rs::WorkbenchPanel(m_evaluation, this)),
      m_workbenchDock(new QDockWidget(tr("Evaluation workbench"), this)), m_searchStatus(new QLabel(this))
{
    m_viewSplitter->addWidget(m_periodsPlot);
    m_viewSplitter->addWidget(m_factorsView);
    m_viewSplitter->setStretchFactor(0, 11);
    m_viewSplitter->setStretchFactor(1, 10);
    m_viewSplitter->setChildrenCollapsible(false);
    m_centralTabs->setObjectName(QStringLiteral("centralTabs"));
    m_centralTabs->setDocumentMode(true);
    m_centralTabs->addTab(m_viewSplitter, tr("Factors"));
    // The search's plot in a view of its own, as large as the factor views; the dock keeps its settings.
    m_centralTabs->addTab(m_searchPanel->releasePlot(), tr("Search"));
    m_centralTabs->setTabToolTip(1, tr("The search as it runs: needle PPL and d_rcd by generation"));
    setCentralWidget(m_centralTabs);

    m_panelDock->setObjectName(QStringLiteral("controlPanelDock"));
    m_panelDock->setWidget(new PanelScroller(m_controlPanel, m_panelDock));
    m_panelDock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetClosable);
    addDockWidget(Qt::LeftDockWidgetArea, m_panelDock);
    createSearchDock();
    createWorkbenchDock();

    m_lastDirectory = QSettings().value(kLastDirectoryKey).toString();
    if (isInApplicationCache(m_lastDirectory))  // written by versions that remembered the model's folder
        m_lastDirectory.clear();
    createMenus();

    connect(m_document->undoStack(), &QUndoStack::cleanChanged, this, [this](bool clean) { setWindowModified(!clean); });
    connect(m_factorsView, &rs::FactorsView::errorOccurred, this, &MainWindow::reportError);
    connect(m_factorsView, &rs::FactorsView::statusMessage, this,
            [this](const QString &message) { statusBar()->showMessage(message, kStatusTimeoutMs); });
    connect(m_periodsPlot, &rs::PeriodsPlot::hoveredDimensionChanged, this, &MainWindow::showHoveredDimension);
    // The hover line describes λ as it is now: an edit, undo or redo under a resting cursor
    // rewrites it, and an undo or redo then says what it restored.
    connect(m_document, &rs::FactorDocument::lambdaChanged, this, [this] {
        if (m_periodsPlot->hoveredDimension() >= 0)
            showHoveredDimension(m_periodsPlot->hoveredDimension());
    });
    connect(m_document, &rs::FactorDocument::stepReplayed, this,
            [this](const QString &message) { statusBar()->showMessage(message, kStatusTimeoutMs); });
    // Every label that names a term (d_tcd, population, racing …) explains it (widgets/glossary.h).
    rs::applyGlossaryTooltips(this);
    resize(1400, 900);
}

void MainWindow::showHoveredDimension(int index)
{
    if (index < 0 || index >= m_document->pairs())
        return;
    const double lambda = m_document->lambda()[index];
    statusBar()->showMessage(tr("dimension %1: T = %2, λ = %3, λ·T = %4%5")
                                 .arg(index)
                                 .arg(m_document->geometry().period[index], 0, 'f', 1)
                                 .arg(lambda, 0, 'g', 6)
                                 .arg(lambda * m_document->geometry().period[index], 0, 'f', 1)
                                 .arg(m_document->outOfDistribution()[index] ? tr(" — out of distribution at L") : QString()),
                             kStatusTimeoutMs);
}

void MainWindow::createSearchDock()
{
    m_searchDock->setObjectName(QStringLiteral("searchDock"));
    m_searchDock->setWidget(new PanelScroller(m_searchPanel, m_searchDock));
    m_searchDock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetClosable |
                              QDockWidget::DockWidgetFloatable);
    addDockWidget(Qt::RightDockWidgetArea, m_searchDock);
    // Out of the way until there is something to evaluate: loading a model or following a run log
    // brings it up (so does View › Search Dock).
    m_searchDock->hide();

    statusBar()->addPermanentWidget(m_searchStatus);
    connect(m_searchPanel, &rs::SearchPanel::statusMessage, m_searchStatus, &QLabel::setText);
    connect(m_searchPanel, &rs::SearchPanel::errorOccurred, this, &MainWindow::reportError);
    connect(m_searchPanel, &rs::SearchPanel::bestChanged, this, &MainWindow::updateBestOverlay);
    // A run that starts (here or in a followed log) is what there is to watch: its view comes forward.
    connect(m_searchPanel, &rs::SearchPanel::searchStarted, this, &MainWindow::showSearchView);
    // Another device or precision chosen in the dock: the loaded model loads again with it.
    connect(m_searchPanel, &rs::SearchPanel::modelSettingsChanged, this, [this] {
        if (!m_loadedModelDir.isEmpty())
            loadModel(m_loadedModelDir, m_requestedTokenizer);
    });
    connect(m_document, &rs::FactorDocument::configChanged, this, &MainWindow::updateBestOverlay);

    rs::EvaluationService *worker = m_evaluation;
    connect(worker, &rs::EvaluationService::loadProgress, this, [this](const QString &message) {
        statusBar()->showMessage(message);
    });
    connect(worker, &rs::EvaluationService::modelLoaded, this, [this](const rs::ModelInfo &info) {
        m_loadedModelDir = info.directory;
        const bool embedded = !m_embeddedModelDir.isEmpty() && rs::samePath(info.directory, m_embeddedModelDir);
        // The side panel names the model live scores run on (after Load Model the config's source
        // may still be another one's) and prices Target L with its figures.
        m_controlPanel->setLoadedModel(embedded ? embeddedModelName()
                                                : QDir::toNativeSeparators(info.name.isEmpty() ? info.directory : info.name),
                                       info.cost);
        statusBar()->showMessage(tr("Loaded %1 (%2, %3 on %4) in %5 s")
                                     .arg(embedded ? embeddedModelName() : tr("model %1").arg(QDir::toNativeSeparators(info.directory)),
                                          info.architecture, info.dtype, info.device)
                                     .arg(info.seconds, 0, 'f', 1),
                                 kStatusTimeoutMs);
        // Weights that are not finite make every score NaN: worth more than a status line.
        if (!info.warnings.isEmpty()) {
            const QString warning = info.warnings.join(QLatin1Char('\n'));
            statusBar()->showMessage(warning);
            if (m_promptsEnabled)
                QMessageBox::warning(this, tr("RopeScope"), warning);
        }
    });
    connect(worker, &rs::EvaluationService::throughputMeasured, this, [this](const rs::MeasuredThroughput &t) {
        m_controlPanel->setMeasuredThroughput(t.flopsPerSecond, t.device, t.source);
    });
    connect(worker, &rs::EvaluationService::failed, this, [this](rs::WorkerTask task, const QString &message) {
        // Search, score and reference failures are the search dock's to show; a model that does
        // not load is reported like any other file that does not open.
        if (task == rs::WorkerTask::LoadModel)
            reportError(message);
    });
}

void MainWindow::createWorkbenchDock()
{
    m_workbenchDock->setObjectName(QStringLiteral("workbenchDock"));
    m_workbenchDock->setWidget(new PanelScroller(m_workbench, m_workbenchDock));
    m_workbenchDock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetClosable |
                                 QDockWidget::DockWidgetFloatable);
    addDockWidget(Qt::RightDockWidgetArea, m_workbenchDock);
    tabifyDockWidget(m_searchDock, m_workbenchDock);
    m_workbenchDock->hide();  // View › Evaluation Workbench brings it up

    connect(m_workbench, &rs::WorkbenchPanel::errorOccurred, this, &MainWindow::reportError);
    connect(m_workbench, &rs::WorkbenchPanel::statusMessage, this,
            [this](const QString &text) { statusBar()->showMessage(text, kStatusTimeoutMs); });
    // The editor's λ and the search's best are methods the workbench can sweep; the families are
    // set up for the document's target length.
    const auto editedToWorkbench = [this] {
        m_workbench->setEditedFactors(m_document->lambda(), m_document->attentionFactor().value_or(0.0));
        m_workbench->setTargetLength(int(std::lround(m_document->targetLength())));
    };
    connect(m_document, &rs::FactorDocument::lambdaChanged, this, editedToWorkbench);
    connect(m_document, &rs::FactorDocument::attentionFactorChanged, this, editedToWorkbench);
    connect(m_document, &rs::FactorDocument::targetLengthChanged, this, editedToWorkbench);
    connect(m_document, &rs::FactorDocument::configChanged, this, editedToWorkbench);
    connect(m_searchPanel, &rs::SearchPanel::bestChanged, this, [this] {
        // Only an answer found for what is open now (model, RoPE, target length).
        m_workbench->setSearchBest(m_searchPanel->bestApplies() ? m_searchPanel->bestLambda() : std::vector<double>{},
                                   m_searchPanel->bestAttentionFactor());
    });
    editedToWorkbench();
}

// QWidget::raise() tells a tabified dock's group to show it only when the raise changes the
// z-order: a dock already on top (raised before its group had a tab bar, or raised and then left
// behind) stayed behind its tab neighbour. So the neighbours go on top first, then the dock.
void MainWindow::bringDockForward(QDockWidget *dock)
{
    for (QDockWidget *other : tabifiedDockWidgets(dock))
        other->raise();
    dock->raise();
}

void MainWindow::showWorkbenchDock()
{
    m_workbenchDock->show();
    bringDockForward(m_workbenchDock);
    // A dock shown into a tab group becomes its current tab only once the group has it back: again
    // after this pass of the event loop, so it is not left behind the search dock.
    QTimer::singleShot(0, this, [this] { bringDockForward(m_workbenchDock); });
}

void MainWindow::showSearchView()
{
    m_centralTabs->setCurrentWidget(m_searchPanel->plot());
}

void MainWindow::showSearchDock()
{
    if (m_searchDock->isHidden()) {
        // Room for the dock beside the factor views: the window grows as far as the screen allows.
        if (!m_searchDock->isFloating() && !isMaximized() && !isFullScreen()) {
            const int wanted = std::min(width() + kSearchDockWidth, screen()->availableGeometry().width());
            if (wanted > width())
                resize(wanted, height());
        }
        const int dockWidth = std::max(m_searchDock->minimumSizeHint().width(), kSearchDockWidth);
        const int panelWidth = m_panelDock->isVisible() ? m_panelDock->width() : m_panelDock->sizeHint().width();
        // Beside the factor views where the window leaves them room to work in (the factors plot
        // large enough to drag a point), else a tab beside the model's panel (a small screen).
        const bool besideViews = m_searchDock->isFloating() || width() >= panelWidth + dockWidth + kCentralMinimumWidth;
        if (!besideViews && dockWidgetArea(m_searchDock) != dockWidgetArea(m_panelDock))
            tabifyDockWidget(m_panelDock, m_searchDock);
        m_searchDock->show();
        if (besideViews)
            resizeDocks({m_searchDock}, {dockWidth}, Qt::Horizontal);
    }
    bringDockForward(m_searchDock);
    if (!isVisible())
        m_raiseSearchDockWhenShown = true;
}

void MainWindow::showEvent(QShowEvent *event)
{
    QMainWindow::showEvent(event);
    if (std::exchange(m_raiseSearchDockWhenShown, false))  // once the layout has made the tab bar
        QTimer::singleShot(0, this, [this] { bringDockForward(m_searchDock); });
}

void MainWindow::updateBestOverlay()
{
    // Only an answer found for what is open now (model, RoPE, target length): the panel says why not.
    const std::vector<double> best = m_searchPanel->bestApplies() ? m_searchPanel->bestLambda() : std::vector<double>{};
    rs::FactorsPlot *plot = m_factorsView->plot();
    if (best.empty() || int(best.size()) != m_document->pairs()) {
        plot->removeOverlayCurve(kSearchBestCurve);
        return;
    }
    plot->setOverlayCurve(kSearchBestCurve, tr("search best (PPL %1)").arg(rs::formatNumber(m_searchPanel->bestPpl())),
                          best, rs::plotcolors::searchBest);
}

QString MainWindow::searchStatusText() const { return m_searchStatus->text(); }


QImage MainWindow::grabWindowImage()
{
    m_periodsPlot->flushReplot();
    m_factorsView->plot()->flushReplot();
    m_searchPanel->plot()->flushReplot();
    return grab().toImage();
}

void MainWindow::updateTitle()
{
    setWindowTitle(tr("%1[*] — RopeScope").arg(m_displayName));
    setWindowModified(!m_document->isClean());
}

void MainWindow::showOpened(const QString &message, const QStringList &warnings)
{
    if (warnings.isEmpty()) {
        statusBar()->showMessage(message, kStatusTimeoutMs);
        return;
    }
    // What the reader decided for an ambiguous config stays until the next message, and in the log.
    for (const QString &w : warnings)
        qWarning("%s: %s", qPrintable(m_document->config().source), qPrintable(w));
    statusBar()->showMessage(message + tr(" — warning: ") + warnings.join(QStringLiteral(" · ")));
}

bool MainWindow::attempt(const std::function<void()> &work)
{
    try {
        work();
    } catch (const rs::Error &error) {
        reportError(error.message());
        return false;
    }
    return true;
}

void MainWindow::reportError(const QString &message)
{
    m_lastError = message;
    statusBar()->showMessage(message, kStatusTimeoutMs);
    emit errorOccurred(message);
    if (m_promptsEnabled)
        QMessageBox::warning(this, tr("RopeScope"), message);
}

bool MainWindow::maybeSaveChanges()
{
    if (m_document->isClean() || !m_promptsEnabled)
        return true;
    const auto answer = QMessageBox::question(this, tr("Unsaved changes"),
                                              tr("The factors were edited. Save the session first?"),
                                              QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel,
                                              QMessageBox::Save);
    if (answer == QMessageBox::Save)
        return saveSessionInteractively(false);
    return answer == QMessageBox::Discard;
}

bool MainWindow::saveSessionInteractively(bool askForPath)
{
    QString path = m_sessionPath;
    if (askForPath || path.isEmpty())
        path = askSavePath(tr("Save session"), suggestedBaseName() + QStringLiteral(".ropescope"), kSessionFilter, kSessionSuffix);
    return !path.isEmpty() && saveSession(path);
}

QString MainWindow::askSavePath(const QString &caption, const QString &suggestedName, const QString &filter,
                                const QString &defaultSuffix)
{
    QFileDialog dialog(this, caption, QDir(dialogDirectory()).filePath(suggestedName), filter);
    dialog.setAcceptMode(QFileDialog::AcceptSave);
    // The dialog adds the suffix before it asks about overwriting, so it asks about the real file.
    dialog.setDefaultSuffix(defaultSuffix);
    if (dialog.exec() != QDialog::Accepted || dialog.selectedFiles().isEmpty())
        return {};
    const QString path = dialog.selectedFiles().constFirst();
    rememberDirectory(QFileInfo(path).absolutePath());
    return path;
}

QString MainWindow::askOpenPath(const QString &caption, const QString &filter)
{
    const QString path = QFileDialog::getOpenFileName(this, caption, dialogDirectory(), filter);
    if (!path.isEmpty())
        rememberDirectory(QFileInfo(path).absolutePath());
    return path;
}

QString MainWindow::suggestedBaseName() const
{
    const QString source = m_document->config().source;
    if (source.startsWith(QLatin1String("preset:")))
        return source.mid(7);
    if (m_sessionPath.isEmpty() && source == embeddedModelName())
        return QStringLiteral("embedded-model");
    const QFileInfo info(m_sessionPath.isEmpty() ? source : m_sessionPath);
    return info.completeBaseName().isEmpty() ? QStringLiteral("ropescope") : info.completeBaseName();
}

void MainWindow::setPromptsEnabled(bool enabled)
{
    m_promptsEnabled = enabled;
    m_controlPanel->setPromptsEnabled(enabled);
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    if (!maybeSaveChanges()) {
        event->ignore();
        return;
    }
    // The window closes at once: whatever runs is told to stop (it gives up inside its forward,
    // within a chunk) and the thread ends on its own; the evaluation thread's destructor, after the
    // window is gone, joins what is left, so no LibTorch computation outlives the application.
    m_evaluation->requestShutdown();
    event->accept();
}
