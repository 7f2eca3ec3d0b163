#include "mainwindow.h"

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
#include <QTableView>
#include <QUndoStack>
#include <cmath>

namespace {

const QString kLastDirectoryKey = QStringLiteral("lastDirectory");
const QString kSessionFilter = QStringLiteral("RopeScope sessions (*.ropescope);;All files (*)");
const QString kConfigFilter = QStringLiteral("Model configs (*.json);;All files (*)");
const QString kFactorFilter = QStringLiteral("Factor files (*.txt *.csv);;All files (*)");
const QString kRunLogFilter = QStringLiteral("Run logs (*.jsonl);;All files (*)");
const QString kSearchBestCurve = QStringLiteral("searchBest");
constexpr int kStatusTimeoutMs = 6000;
// The search dock as it opens: wide enough for the search fields and a readable plot.
constexpr int kSearchDockWidth = 540;
// A config that is not scaled says nothing about the context it should reach; 16× is the
// LongRoPE2 paper's LLaMA3-8B extension (8k → 128k).
constexpr double kDefaultExtension = 16.0;
// The embedded model was trained at a short context; at 8 × that its high dimensions go out of
// distribution, which is what the tool is for.
constexpr double kEmbeddedModelExtension = 8.0;
const QString kSessionSuffix = QStringLiteral("ropescope");

// The application's own cache (where the embedded model's files are unpacked) is no user's folder.
bool isInApplicationCache(const QString &path)
{
    const QString cache = QStandardPaths::writableLocation(QStandardPaths::CacheLocation);
    if (cache.isEmpty() || path.isEmpty())
        return false;
    const QString canonicalCache = QFileInfo(cache).canonicalFilePath();
    const QString canonicalPath = QFileInfo(path).canonicalFilePath();
    const QString cachePath = canonicalCache.isEmpty() ? QDir::cleanPath(cache) : canonicalCache;
    const QString candidate = canonicalPath.isEmpty() ? QDir::cleanPath(QFileInfo(path).absoluteFilePath()) : canonicalPath;
    return candidate == cachePath || candidate.startsWith(cachePath + QLatin1Char('/'));
}

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

bool isSessionFile(const QString &path)
{
    if (QFileInfo(path).suffix().compare(QLatin1String("ropescope"), Qt::CaseInsensitive) == 0)
        return true;
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return false;
    return QJsonDocument::fromJson(file.readAll()).object().value(QLatin1String("format")).toString() ==
           QLatin1String("ropescope-session");
}

} // namespace

MainWindow::MainWindow(QWidget *parent)
    : QMainWindow(parent), m_document(new rs::FactorDocument(this)),
      m_periodsPlot(new rs::PeriodsPlot(m_document, this)), m_factorsView(new rs::FactorsView(m_document, this)),
      m_controlPanel(new rs::ControlPanel(m_document, this)), m_viewSplitter(new QSplitter(Qt::Vertical, this)),
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
    setCentralWidget(m_viewSplitter);

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
        m_workbench->setSearchBest(m_searchPanel->bestLambda(), m_searchPanel->bestAttentionFactor());
    });
    editedToWorkbench();
}

void MainWindow::showWorkbenchDock()
{
    m_workbenchDock->show();
    m_workbenchDock->raise();
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
        m_searchDock->show();
        if (!m_searchDock->isFloating())
            resizeDocks({m_searchDock}, {kSearchDockWidth}, Qt::Horizontal);
    }
    m_searchDock->raise();
}

void MainWindow::updateBestOverlay()
{
    const std::vector<double> best = m_searchPanel->bestLambda();
    rs::FactorsPlot *plot = m_factorsView->plot();
    if (best.empty() || int(best.size()) != m_document->pairs()) {
        plot->removeOverlayCurve(kSearchBestCurve);
        return;
    }
    plot->setOverlayCurve(kSearchBestCurve, tr("search best (PPL %1)").arg(rs::formatNumber(m_searchPanel->bestPpl())),
                          best, rs::plotcolors::searchBest);
}

QString MainWindow::searchStatusText() const { return m_searchStatus->text(); }

void MainWindow::createMenus()
{
    QMenu *fileMenu = menuBar()->addMenu(tr("&File"));
    QAction *openConfigAction = fileMenu->addAction(tr("&Open config.json…"), this, [this] {
        if (!maybeSaveChanges())
            return;
        const QString path = askOpenPath(tr("Open model config"), kConfigFilter);
        if (!path.isEmpty())
            openConfig(path);
    });
    openConfigAction->setShortcut(QKeySequence::Open);

    QMenu *presetMenu = fileMenu->addMenu(tr("Open &Preset"));
    for (const rs::PresetInfo &preset : rs::presetList()) {
        QAction *action = presetMenu->addAction(preset.title, this, [this, name = preset.name] {
            if (maybeSaveChanges())
                openPreset(name);
        });
        action->setToolTip(preset.description);
        action->setStatusTip(preset.description);
    }
    m_recentMenu = fileMenu->addMenu(tr("Open &Recent"));
    m_recent = new rs::RecentFiles(m_recentMenu, this);
    connect(m_recent, &rs::RecentFiles::openRequested, this, [this](const QString &entry) {
        if (maybeSaveChanges())
            openRecent(entry);
    });
    QMenu *embeddedMenu = fileMenu->addMenu(tr("Open &Embedded Model"));
    embeddedMenu->setObjectName(QStringLiteral("embeddedModelMenu"));
    QAction *embeddedAction = embeddedMenu->addAction(tr("&Base model (8 ×)"), this, [this] {
        if (maybeSaveChanges())
            openEmbeddedModel();
    });
    embeddedAction->setStatusTip(tr("The tiny Llama shipped with RopeScope (L_train = 512), at 8 × its training "
                                    "length, loaded for live needle PPL and the search"));
    embeddedAction->setEnabled(rs::hasEmbeddedModel());
    // The fair miniature's models: the base fine-tuned alike with each method's factors, so a user
    // sees live what fine-tuning did to each.
    QString indexProblem;
    const QList<FineTunedModel> tuned = readFineTunedModels(fineTunedModelsDirectory(), &indexProblem);
    if (!tuned.isEmpty())
        embeddedMenu->addSection(tr("Fine-tuned alike (README: the fair miniature)"));
    for (const FineTunedModel &model : tuned) {
        QAction *action = embeddedMenu->addAction(model.name, this, [this, model] {
            if (maybeSaveChanges())
                openFineTunedModel(model.dir, model.name);
        });
        action->setStatusTip(tr("%1, at its fine-tuning length: %2").arg(model.name, QDir::toNativeSeparators(model.dir)));
    }
    if (!indexProblem.isEmpty())
        statusBar()->showMessage(tr("Fine-tuned models not all listed: %1").arg(indexProblem), kStatusTimeoutMs);

    fileMenu->addSeparator();
    fileMenu->addAction(tr("Open &Session…"), this, [this] {
        if (!maybeSaveChanges())
            return;
        const QString path = askOpenPath(tr("Open session"), kSessionFilter);
        if (!path.isEmpty())
            loadSession(path);
    });
    fileMenu->addAction(tr("&Save Session"), this, [this] { saveSessionInteractively(false); })
        ->setShortcut(QKeySequence::Save);
    fileMenu->addAction(tr("Save Session &As…"), this, [this] { saveSessionInteractively(true); })
        ->setShortcut(QKeySequence::SaveAs);

    fileMenu->addSeparator();
    QMenu *exportMenu = fileMenu->addMenu(tr("&Export"));
    exportMenu->addAction(tr("HF config (transformers &4.x, rope_scaling)…"), this, [this] {
        const QString path = askSavePath(tr("Export config (transformers 4.x)"), suggestedBaseName() + QStringLiteral("-longrope.json"),
                                         kConfigFilter, QStringLiteral("json"));
        if (!path.isEmpty())
            exportConfig(path, rs::ConfigForm::Hf4);
    });
    exportMenu->addAction(tr("HF config (transformers &5.x, rope_parameters)…"), this, [this] {
        const QString path = askSavePath(tr("Export config (transformers 5.x)"), suggestedBaseName() + QStringLiteral("-longrope-v5.json"),
                                         kConfigFilter, QStringLiteral("json"));
        if (!path.isEmpty())
            exportConfig(path, rs::ConfigForm::Hf5);
    });
    exportMenu->addAction(tr("&CSV table…"), this, [this] {
        const QString path = askSavePath(tr("Export CSV"), suggestedBaseName() + QStringLiteral("-factors.csv"), tr("CSV (*.csv)"),
                                         QStringLiteral("csv"));
        if (!path.isEmpty())
            exportCsv(path);
    });
    exportMenu->addAction(tr("&LongRoPE factor file…"), this, [this] {
        const QString path = askSavePath(tr("Export factor file"), suggestedBaseName() + QStringLiteral("-long-factors.txt"),
                                         kFactorFilter, QStringLiteral("txt"));
        if (!path.isEmpty())
            exportFactorFile(path);
    });
    exportMenu->addSeparator();
    const QString plotFilter = tr("PNG image (*.png);;PDF document (*.pdf)");
    exportMenu->addAction(tr("&Periods plot as PNG/PDF…"), this, [this, plotFilter] {
        const QString path = askSavePath(tr("Export periods plot"), suggestedBaseName() + QStringLiteral("-periods.png"), plotFilter,
                                         QStringLiteral("png"));
        if (!path.isEmpty())
            exportPlot(path, Plot::Periods);
    });
    exportMenu->addAction(tr("&Factors plot as PNG/PDF…"), this, [this, plotFilter] {
        const QString path = askSavePath(tr("Export factors plot"), suggestedBaseName() + QStringLiteral("-factors.png"), plotFilter,
                                         QStringLiteral("png"));
        if (!path.isEmpty())
            exportPlot(path, Plot::Factors);
    });
    exportMenu->addAction(tr("&Search plot as PNG/PDF…"), this, [this, plotFilter] {
        const QString path = askSavePath(tr("Export search plot"), suggestedBaseName() + QStringLiteral("-search.png"), plotFilter,
                                         QStringLiteral("png"));
        if (!path.isEmpty())
            exportPlot(path, Plot::Search);
    })->setObjectName(QStringLiteral("exportSearchPlotAction"));
    fileMenu->addAction(tr("&Import Factor File…"), this, [this] {
        const QString path = askOpenPath(tr("Import LongRoPE factor file"), kFactorFilter);
        if (!path.isEmpty())
            importFactors(path);
    });

    fileMenu->addSeparator();
    fileMenu->addAction(tr("Load &Model…"), this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Hugging Face model folder"), dialogDirectory());
        if (dir.isEmpty())
            return;
        rememberDirectory(QFileInfo(dir).absolutePath());
        loadModel(dir);
    })->setStatusTip(tr("Load a model folder (config.json, safetensors, tokenizer.json) to score factors and search"));
    fileMenu->addAction(tr("&Follow Search Log…"), this, [this] {
        const QString path = askOpenPath(tr("Follow a search's run log"), kRunLogFilter);
        if (!path.isEmpty())
            followSearchLog(path);
    })->setStatusTip(tr("Watch a headless search (ropescope-cli search --log) as it runs"));

    fileMenu->addSeparator();
    QAction *quitAction = fileMenu->addAction(tr("&Quit"), this, &QWidget::close);
    quitAction->setShortcut(QKeySequence::Quit);
    quitAction->setMenuRole(QAction::QuitRole);

    QMenu *editMenu = menuBar()->addMenu(tr("&Edit"));
    QAction *undoAction = m_document->undoStack()->createUndoAction(this, tr("&Undo"));
    undoAction->setShortcut(QKeySequence::Undo);
    QAction *redoAction = m_document->undoStack()->createRedoAction(this, tr("&Redo"));
    redoAction->setShortcut(QKeySequence::Redo);
    editMenu->addAction(undoAction);
    editMenu->addAction(redoAction);

    QMenu *viewMenu = menuBar()->addMenu(tr("&View"));
    QAction *rotationsAction = viewMenu->addAction(tr("&Rotations Plot"));
    rotationsAction->setCheckable(true);
    rotationsAction->setChecked(m_periodsPlot->rotationsVisible());
    connect(rotationsAction, &QAction::toggled, m_periodsPlot, &rs::PeriodsPlot::setRotationsVisible);
    QAction *logAction = viewMenu->addAction(tr("&Logarithmic λ Axis"));
    logAction->setCheckable(true);
    logAction->setChecked(m_factorsView->plot()->isLogScale());
    connect(logAction, &QAction::toggled, m_factorsView->plot(), &rs::FactorsPlot::setLogScale);
    QAction *tableAction = viewMenu->addAction(tr("Factor &Table"));
    tableAction->setCheckable(true);
    tableAction->setChecked(true);
    connect(tableAction, &QAction::toggled, m_factorsView->table(), &QWidget::setVisible);
    QAction *panelAction = m_panelDock->toggleViewAction();
    panelAction->setText(tr("&Side Panel"));
    viewMenu->addAction(panelAction);
    QAction *searchAction = m_searchDock->toggleViewAction();
    searchAction->setText(tr("Search &Dock"));
    viewMenu->addAction(searchAction);
    QAction *workbenchAction = m_workbenchDock->toggleViewAction();
    workbenchAction->setText(tr("Evaluation &Workbench"));
    workbenchAction->setShortcut(QKeySequence(tr("Ctrl+Shift+W")));
    viewMenu->addAction(workbenchAction);

    rs::addHelpMenu(this);
}

QStringList MainWindow::recentFiles() const { return m_recent->entries(); }

void MainWindow::addRecentFile(const QString &path)
{
    m_recent->add(path);
    rememberDirectory(QFileInfo(path).absolutePath());
}

void MainWindow::rememberDirectory(const QString &directory)
{
    if (directory.isEmpty() || isInApplicationCache(directory))
        return;
    m_lastDirectory = directory;
    QSettings().setValue(kLastDirectoryKey, directory);
}

QString MainWindow::dialogDirectory() const
{
    if (!m_lastDirectory.isEmpty() && QFileInfo(m_lastDirectory).isDir())
        return m_lastDirectory;
    return QDir::homePath();
}

bool MainWindow::openRecent(const QString &entry)
{
    const QString preset = rs::RecentFiles::presetName(entry);
    if (!preset.isEmpty())
        return openPreset(preset);
    if (openFile(entry))
        return true;
    if (!QFileInfo::exists(entry))
        m_recent->remove(entry);
    return false;
}

double MainWindow::defaultTargetLength(const rs::RopeConfig &config) const
{
    const double own = config.defaultTargetLength();
    return own > config.trainLength ? own : kDefaultExtension * config.trainLength;
}

bool MainWindow::openConfig(const QString &path)
{
    QStringList warnings;
    if (!attempt([&] {
            const rs::RopeConfig config = rs::loadRopeConfig(path);
            m_document->open(config, defaultTargetLength(config));
            warnings = config.warnings;
        }))
        return false;
    m_sessionPath.clear();
    m_displayName = QFileInfo(path).fileName();
    addRecentFile(path);
    updateTitle();
    showOpened(tr("Opened %1").arg(QDir::toNativeSeparators(path)), warnings);
    return true;
}

bool MainWindow::openPreset(const QString &name)
{
    QStringList warnings;
    if (!attempt([&] {
            const rs::RopeConfig config = rs::loadPreset(name);
            const rs::PresetInfo info = rs::presetInfo(name);
            m_document->open(config, info.targetLength > 0 ? info.targetLength : defaultTargetLength(config));
            m_displayName = info.title;
            warnings = config.warnings;
        }))
        return false;
    m_sessionPath.clear();
    m_recent->add(rs::RecentFiles::presetEntry(name));
    updateTitle();
    showOpened(tr("Opened preset %1").arg(name), warnings);
    return true;
}

bool MainWindow::openEmbeddedModel()
{
    QString dir;
    rs::RopeConfig config;
    if (!attempt([&] {
            dir = rs::embeddedModelDir();
            config = rs::loadRopeConfig(QDir(dir).filePath(QStringLiteral("config.json")));
        }))
        return false;
    // Named for what it is, not for the cache folder its files were unpacked into.
    config.source = embeddedModelName();
    m_embeddedModelDir = dir;
    m_searchPanel->setEmbeddedModel(dir, embeddedModelName());
    m_document->open(config, kEmbeddedModelExtension * config.trainLength);
    m_sessionPath.clear();
    m_displayName = embeddedModelName();
    updateTitle();
    showOpened(tr("Opened the %1 at L = %2 (%3 × L_train)")
                   .arg(embeddedModelName())
                   .arg(m_document->targetLength(), 0, 'f', 0)
                   .arg(kEmbeddedModelExtension, 0, 'f', 0),
               config.warnings);
    m_evaluation->loadModel(dir, {});
    showSearchDock();
    return true;
}

bool MainWindow::openFineTunedModel(const QString &dir, const QString &name)
{
    rs::RopeConfig config;
    if (!attempt([&] {
            config = rs::loadRopeConfig(rs::ModelFolder(dir).file(QStringLiteral("config.json")));
        }))
        return false;
    config.source = name;
    // At the length it was fine-tuned for, with its own factors as the edited λ.
    m_document->open(config, defaultTargetLength(config));
    m_embeddedModelDir.clear();
    m_searchPanel->setEmbeddedModel(dir, name);
    m_sessionPath.clear();
    m_displayName = name;
    updateTitle();
    showOpened(tr("Opened %1 at L = %2").arg(name).arg(m_document->targetLength(), 0, 'f', 0), config.warnings);
    m_requestedTokenizer.clear();
    m_evaluation->loadModel(dir, {}, m_searchPanel->modelLoadSettings());
    showSearchDock();
    return true;
}

bool MainWindow::loadSession(const QString &path)
{
    QStringList warnings;
    if (!attempt([&] {
            const rs::Session session = rs::loadSession(path);
            rs::RopeConfig config = rs::parseRopeConfig(QJsonDocument(session.configJson).toJson(QJsonDocument::Compact), path);
            if (!session.configSource.isEmpty())
                config.source = session.configSource;
            m_document->openSession(session, config);
            warnings = config.warnings;
        }))
        return false;
    m_sessionPath = path;
    m_displayName = QFileInfo(path).fileName();
    addRecentFile(path);
    updateTitle();
    showOpened(tr("Opened session %1").arg(QDir::toNativeSeparators(path)), warnings);
    return true;
}

bool MainWindow::openFile(const QString &path)
{
    return isSessionFile(path) ? loadSession(path) : openConfig(path);
}

bool MainWindow::saveSession(const QString &requestedPath)
{
    QString path = requestedPath;
    if (QFileInfo(path).suffix().compare(kSessionSuffix, Qt::CaseInsensitive) != 0)
        path += QLatin1Char('.') + kSessionSuffix;
    if (!attempt([&] {
            rs::saveSession(path, m_document->toSession());
        }))
        return false;
    m_sessionPath = path;
    m_displayName = QFileInfo(path).fileName();
    m_document->undoStack()->setClean();
    addRecentFile(path);
    updateTitle();
    statusBar()->showMessage(tr("Saved session %1").arg(QDir::toNativeSeparators(path)), kStatusTimeoutMs);
    return true;
}

bool MainWindow::exportConfig(const QString &path, rs::ConfigForm form)
{
    if (!attempt([&] {
            rs::LongropeExport what;
            what.longFactor = m_document->lambda();
            what.targetLength = m_document->targetLength();
            what.attentionFactor = m_document->attentionFactor();
            what.form = form;
            rs::writeJsonFile(path, rs::exportLongropeConfig(m_document->config(), what));
        }))
        return false;
    statusBar()->showMessage(tr("Exported %1 config to %2")
                                 .arg(form == rs::ConfigForm::Hf4 ? tr("transformers 4.x") : tr("transformers 5.x"),
                                      QDir::toNativeSeparators(path)),
                             kStatusTimeoutMs);
    return true;
}

bool MainWindow::exportCsv(const QString &path)
{
    if (!attempt([&] {
            rs::writeBytesFile(path, rs::exportFactorsCsv(m_document->config(), m_document->lambda(), m_document->targetLength()));
        }))
        return false;
    statusBar()->showMessage(tr("Exported CSV to %1").arg(QDir::toNativeSeparators(path)), kStatusTimeoutMs);
    return true;
}

bool MainWindow::exportFactorFile(const QString &path)
{
    if (!attempt([&] {
            rs::writeFactorFile(path, m_document->lambda());
        }))
        return false;
    statusBar()->showMessage(tr("Exported factor file %1").arg(QDir::toNativeSeparators(path)), kStatusTimeoutMs);
    return true;
}

bool MainWindow::importFactors(const QString &path)
{
    if (!attempt([&] {
            const std::vector<double> lambda = rs::readFactorFile(path, m_document->pairs());
            m_document->setAllLambda(lambda, m_document->attentionFactor(),
                                     tr("Import factors from %1").arg(QFileInfo(path).fileName()));
        }))
        return false;
    statusBar()->showMessage(tr("Imported factors from %1").arg(QDir::toNativeSeparators(path)), kStatusTimeoutMs);
    return true;
}

bool MainWindow::loadModel(const QString &modelDir, const QString &tokenizerPath)
{
    // The embedded model's unpacked copy (e.g. picked in the folder dialog) opens as itself.
    if (tokenizerPath.isEmpty() && rs::hasEmbeddedModel() && isInApplicationCache(modelDir) &&
        QFileInfo(modelDir).fileName().startsWith(QLatin1String("embedded-model")))
        return maybeSaveChanges() && openEmbeddedModel();
    QString configPath;
    rs::RopeConfig modelConfig;
    if (!attempt([&] {
            if (!QFileInfo(modelDir).isDir())
                throw rs::Error(modelDir, tr("not a model folder"));
            // A regular file inside the folder, or refused before it is opened (runtime/modelfolder.h).
            configPath = rs::ModelFolder(modelDir).file(QStringLiteral("config.json"));
            modelConfig = rs::loadRopeConfig(configPath);
        }))
        return false;
    const rs::RopeConfig &current = m_document->config();
    const bool sameRope = current.rotaryDims == modelConfig.rotaryDims && current.base == modelConfig.base &&
                          current.trainLength == modelConfig.trainLength;
    if (!sameRope && (!maybeSaveChanges() || !openConfig(configPath)))
        return false;
    m_requestedTokenizer = tokenizerPath;
    m_evaluation->loadModel(modelDir, tokenizerPath, m_searchPanel->modelLoadSettings());
    showSearchDock();
    statusBar()->showMessage(tr("Loading model %1…").arg(QDir::toNativeSeparators(modelDir)));
    return true;
}

bool MainWindow::followSearchLog(const QString &path)
{
    if (!attempt([&] { m_searchPanel->followLog(path); }))
        return false;
    showSearchDock();
    statusBar()->showMessage(tr("Following %1").arg(QDir::toNativeSeparators(path)), kStatusTimeoutMs);
    offerRunModel(path);
    return true;
}

void MainWindow::offerRunModel(const QString &logPath)
{
    // The log names the model its search scored; a log may come from anyone, so that model is
    // loaded only when the user says so, and then through the same checks as any model folder.
    rs::RunLogStart start;
    try {
        start = rs::readRunLogStart(logPath);
    } catch (const rs::Error &) {
        return;  // a log that begins with a resume, or one without a model: the plots need none
    }
    if (start.model.isEmpty() || rs::samePath(start.model, m_loadedModelDir))
        return;
    const QString model = QDir::toNativeSeparators(start.model);
    if (!m_promptsEnabled) {
        statusBar()->showMessage(tr("The followed run scored the model in %1, which is not loaded (File › Load Model…)").arg(model),
                                 kStatusTimeoutMs);
        return;
    }
    const QString corpus = start.corpus.isEmpty() ? tr("the built-in prose") : QDir::toNativeSeparators(start.corpus);
    const auto answer = QMessageBox::question(
        this, tr("Load the run's model?"),
        tr("The search in %1 scored the model in\n%2\non %3.\n\nLoad that model here, to score factors on it? "
           "Following the log does not need it.")
            .arg(QDir::toNativeSeparators(logPath), model, corpus),
        QMessageBox::Yes | QMessageBox::No, QMessageBox::No);
    if (answer == QMessageBox::Yes)
        loadModel(start.model);
}

bool MainWindow::exportPlot(const QString &path, Plot plot)
{
    QCustomPlot *source = nullptr;
    switch (plot) {
    case Plot::Periods:
        m_periodsPlot->flushReplot();
        source = m_periodsPlot;
        break;
    case Plot::Factors:
        m_factorsView->plot()->flushReplot();
        source = m_factorsView->plot();
        break;
    case Plot::Search:
        m_searchPanel->plot()->flushReplot();
        source = m_searchPanel->plot();
        break;
    }
    // A figure for a paper or slide: "(drag points to edit)" is for the screen only.
    struct EditHintHidden {
        rs::FactorsPlot *plot;
        explicit EditHintHidden(rs::FactorsPlot *p) : plot(p) { plot->setEditHintVisible(false); }
        ~EditHintHidden() { plot->setEditHintVisible(true); }
    } hintHidden(m_factorsView->plot());

    // A plot in a hidden dock has no size of its own yet: render it at the dock's usual size.
    const int width = source->isVisible() ? source->width() : std::max(source->width(), 640);
    const int height = source->isVisible() ? source->height() : std::max(source->height(), 480);
    if (!attempt([&] { rs::checkOutputPath(path); }))  // no devices or FIFOs: a failed write must show
        return false;
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) {
        reportError(tr("%1: cannot write (%2)").arg(QDir::toNativeSeparators(path), file.errorString()));
        return false;
    }
    const bool pdf = QFileInfo(path).suffix().compare(QLatin1String("pdf"), Qt::CaseInsensitive) == 0;
    bool written = false;
    if (pdf) {
        // One PDF point per screen pixel, so the page matches what is on screen.
        QPdfWriter writer(&file);
        writer.setResolution(72);
        writer.setPageSize(QPageSize(QSizeF(width, height), QPageSize::Point));
        writer.setPageMargins(QMarginsF(0, 0, 0, 0));
        writer.setCreator(QStringLiteral("RopeScope"));
        QCPPainter painter;
        written = painter.begin(&writer);
        if (written) {
            source->toPainter(&painter, width, height);
            painter.end();
        }
    } else {
        // Twice the screen resolution keeps text crisp in documents and slides.
        written = source->toPixmap(width, height, 2.0).save(&file, "PNG");
    }
    if (!written || !file.commit()) {
        reportError(tr("%1: cannot write the plot (%2)").arg(QDir::toNativeSeparators(path), file.errorString()));
        return false;
    }
    statusBar()->showMessage(tr("Exported plot to %1").arg(QDir::toNativeSeparators(path)), kStatusTimeoutMs);
    return true;
}

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

void MainWindow::closeEvent(QCloseEvent *event)
{
    if (!maybeSaveChanges()) {
        event->ignore();
        return;
    }
    // A running search stops within its current evaluation and the thread is joined here, so the
    // application quits without leaving a LibTorch computation behind.
    m_evaluation->shutdown();
    event->accept();
}
