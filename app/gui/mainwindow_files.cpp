// The main window's file operations, each a public method taking a path (the menus only ask for
// it): configs, presets, the embedded model and its fine-tuned variants, sessions, exports of
// factors and plots, model folders and followed run logs; and the folders the dialogs start in.
#include "mainwindow.h"
#include "mainwindow_p.h"

#include "controlpanel.h"
#include "common/error.h"
#include "common/savefile.h"
#include "worker/evaluationworker.h"
#include "factordocument.h"
#include "rope/deployment.h"
#include "rope/factorfile.h"
#include "factorsplot.h"
#include "factorsview.h"
#include "periodsplot.h"
#include "plotstyle.h"
#include "rope/presets.h"
#include "searchpanel.h"
#include "glossary.h"
#include "helpmenu.h"
#include "modelfolders.h"
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


namespace mainwindow_detail {

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

} // namespace mainwindow_detail

using namespace mainwindow_detail;

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
    return rs::suggestedTargetLength(config);  // the CLI's default too (rope/presets.h)
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
            const rs::EditingSession session = rs::loadSession(path);
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

bool MainWindow::exportConfig(const QString &path, rs::ConfigForm form, rs::Engine engine)
{
    QString deployed;
    if (!attempt([&] {
            rs::FactorDeployment what;
            what.longFactor = m_document->lambda();
            what.targetLength = m_document->targetLength();
            what.attentionFactor = m_document->attentionFactor();
            what.form = form;
            what.engine = engine;
            // Written as the engine will read it back: say what it runs on each side of L_train.
            const rs::DeployedFactors d(m_document->config(), what);
            rs::writeJsonFile(path, d.exportedJson());
            const rs::RopeConfig &c = d.exportedConfig();
            deployed = tr("%1 runs it with attention factor %2 up to %3 tokens and %4 beyond")
                           .arg(rs::engineName(engine))
                           .arg(d.at(c.trainLength).attentionFactor, 0, 'g', 5)
                           .arg(c.trainLength)
                           .arg(d.at(what.targetLength).attentionFactor, 0, 'g', 5);
        }))
        return false;
    statusBar()->showMessage(tr("Exported %1 config to %2; %3")
                                 .arg(form == rs::ConfigForm::Hf4 ? tr("transformers 4.x") : tr("transformers 5.x"),
                                      QDir::toNativeSeparators(path), deployed),
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
    showSearchView();
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
    // The same model by content counts as loaded: the CLI unpacks the embedded model into its own cache.
    if (start.model.isEmpty() || rs::sameModelFolder(start.model, m_loadedModelDir))
        return;
    QString embedded;
    try {
        if (rs::hasEmbeddedModel())
            embedded = rs::embeddedModelDir();
    } catch (const rs::Error &) {
    }
    const bool isEmbedded = !embedded.isEmpty() && rs::sameModelFolder(start.model, embedded);
    const QString model = isEmbedded ? tr("the %1").arg(embeddedModelName())
                                     : tr("the model in %1").arg(QDir::toNativeSeparators(start.model));
    if (!m_promptsEnabled) {
        statusBar()->showMessage(tr("The followed run scored %1, which is not loaded (%2)")
                                     .arg(model, isEmbedded ? tr("File › Open Embedded Model") : tr("File › Load Model…")),
                                 kStatusTimeoutMs);
        return;
    }
    const QString corpus = start.corpus.isEmpty() ? tr("the built-in prose") : QDir::toNativeSeparators(start.corpus);
    const auto answer = QMessageBox::question(
        this, tr("Load the run's model?"),
        tr("The search in %1 scored\n%2\non %3.\n\nLoad that model here, to score factors on it? "
           "Following the log does not need it.")
            .arg(QDir::toNativeSeparators(logPath), model, corpus),
        QMessageBox::Yes | QMessageBox::No, QMessageBox::No);
    if (answer == QMessageBox::Yes && isEmbedded) {
        if (maybeSaveChanges())
            openEmbeddedModel();
    } else if (answer == QMessageBox::Yes)
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
