// The main window's menus: File (configs, presets, recent files, the embedded model and its
// fine-tuned variants, sessions, exports, models, run logs), Edit, View and Help.
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
#include <QTableView>
#include <QUndoStack>
#include <cmath>


using namespace mainwindow_detail;

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
        embeddedMenu->addSection(tr("Fine-tuned alike (the fair miniature)"));
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
    exportMenu->addAction(tr("HF config for &vLLM (rope_scaling with long_mscale)…"), this, [this] {
        const QString path = askSavePath(tr("Export config (vLLM)"), suggestedBaseName() + QStringLiteral("-longrope-vllm.json"),
                                         kConfigFilter, QStringLiteral("json"));
        if (!path.isEmpty())
            exportConfig(path, rs::ConfigForm::Hf4, rs::Engine::Vllm);
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
    // The central Search tab (the search's plots) in front; it also comes forward by itself when
    // a run starts or is followed.
    QAction *searchViewAction = viewMenu->addAction(tr("Search &Plots"));
    searchViewAction->setShortcut(QKeySequence(tr("Ctrl+Shift+P")));
    connect(searchViewAction, &QAction::triggered, this, &MainWindow::showSearchView);
    QAction *searchAction = m_searchDock->toggleViewAction();
    searchAction->setText(tr("Search &Dock"));
    viewMenu->addAction(searchAction);
    QAction *workbenchAction = m_workbenchDock->toggleViewAction();
    workbenchAction->setText(tr("Evaluation &Workbench"));
    workbenchAction->setShortcut(QKeySequence(tr("Ctrl+Shift+W")));
    // Opening it shows it: brought in front of the search dock it shares a tab group with.
    connect(workbenchAction, &QAction::triggered, this, [this](bool shown) {
        if (shown)
            showWorkbenchDock();
    });
    viewMenu->addAction(workbenchAction);

    rs::addHelpMenu(this);
}
