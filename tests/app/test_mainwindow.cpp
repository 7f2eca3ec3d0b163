// Main window: opening a config, the title's modified marker, bad input that leaves the edits
// alone, the export → re-open round trip, sessions (and their extension), the attention factor in
// exports and sessions, the embedded model named as such, recent files with presets, dialogs that
// start in the user's last folder, undo and redo in the status bar, and a non-trivial screenshot.
// QSettings live in a temporary folder, so the tests never touch the user's settings.
#include "mainwindow.h"

#include "controlpanel.h"
#include "factordocument.h"
#include "searchpanel.h"
#include "rope/presets.h"
#include "runtime/embeddedmodel.h"
#include "worker/evaluationworker.h"
#include "rope/factorfamilies.h"
#include "rope/factorfile.h"
#include "rope/ropeconfig.h"

#include <QAction>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFile>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QMenu>
#include <QSet>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QElapsedTimer>
#include <QDockWidget>
#include <QFileInfo>
#include <QTest>
#include <QToolButton>
#include <QUndoStack>
#include <cmath>

namespace {

QString fixture(const QString &name) { return QStringLiteral(ROPESCOPE_FIXTURES "/gui/") + name; }

} // namespace

class TestMainWindow : public QObject {
    Q_OBJECT

private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName(QStringLiteral("RopeScopeTest"));
        QCoreApplication::setApplicationName(QStringLiteral("test_mainwindow"));
        QVERIFY(m_temp.isValid());
        QVERIFY(m_settings.isValid());
        QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, m_settings.path());
        QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, m_settings.path());
    }

    void init()
    {
        QSettings().clear();
        m_window = std::make_unique<MainWindow>();
        m_window->setPromptsEnabled(false);
        QVERIFY(m_window->openConfig(fixture(QStringLiteral("llama3.1-8b-config.json"))));
    }

    void cleanup() { m_window.reset(); }

    void opensConfigWithItsOwnFactors()
    {
        rs::FactorDocument *document = m_window->document();
        QCOMPARE(document->config().modelType, QStringLiteral("llama"));
        QCOMPARE(document->pairs(), 64);
        // max_position_embeddings 131072 over original 8192: the config's own target, s = 16.
        QCOMPARE(document->targetLength(), 131072.0);
        QCOMPARE(document->dRcd(), 35);
        QCOMPARE(document->lambda(), rs::configFactors(document->config(), 131072)->lambda);
        QVERIFY(m_window->windowTitle().contains(QStringLiteral("llama3.1-8b-config.json")));
        QVERIFY(!m_window->isWindowModified());
        QCOMPARE(m_window->recentFiles().value(0), QFileInfo(fixture(QStringLiteral("llama3.1-8b-config.json"))).absoluteFilePath());
    }

    void titleTracksUnsavedEdits()
    {
        QVERIFY(m_window->windowTitle().contains(QStringLiteral("[*]")));
        m_window->document()->setLambdaAt(50, 18.0);
        QVERIFY(m_window->isWindowModified());
        const QString path = m_temp.filePath(QStringLiteral("edited.ropescope"));
        QVERIFY(m_window->saveSession(path));
        QVERIFY(!m_window->isWindowModified());
        QVERIFY(m_window->document()->isClean());
        QVERIFY(m_window->windowTitle().contains(QStringLiteral("edited.ropescope")));
        // Undoing past the save point is an unsaved change again.
        m_window->document()->undoStack()->undo();
        QVERIFY(m_window->isWindowModified());
    }

    void sessionRoundTrip()
    {
        m_window->document()->setLambdaAt(60, 30.5);
        m_window->document()->setDRcd(31);
        const std::vector<double> edited = m_window->document()->lambda();
        const QString path = m_temp.filePath(QStringLiteral("round-trip.ropescope"));
        QVERIFY(m_window->saveSession(path));

        MainWindow other;
        other.setPromptsEnabled(false);
        QVERIFY(other.openFile(path));
        QCOMPARE(other.document()->lambda(), edited);
        QCOMPARE(other.document()->dRcd(), 31);
        QCOMPARE(other.sessionPath(), path);
        QVERIFY(!other.isWindowModified());
    }

    void badInputKeepsTheEdits_data()
    {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("kind");
        QTest::addColumn<QString>("problem");
        QTest::newRow("malformed JSON") << QStringLiteral("malformed.json") << QStringLiteral("config") << QStringLiteral("JSON");
        QTest::newRow("no head size") << QStringLiteral("missing-head-size.json") << QStringLiteral("config") << QStringLiteral("head");
        QTest::newRow("factor NaN") << QStringLiteral("factors-nan.txt") << QStringLiteral("factors") << QString();
        QTest::newRow("factor negative") << QStringLiteral("factors-negative.txt") << QStringLiteral("factors") << QString();
        QTest::newRow("factor wrong length") << QStringLiteral("factors-wrong-length.txt") << QStringLiteral("factors") << QStringLiteral("64");
        QTest::newRow("missing file") << QStringLiteral("does-not-exist.json") << QStringLiteral("config") << QString();
        QTest::newRow("config as session") << QStringLiteral("llama3.1-8b-config.json") << QStringLiteral("session") << QString();
    }

    void badInputKeepsTheEdits()
    {
        QFETCH(QString, file);
        QFETCH(QString, kind);
        QFETCH(QString, problem);
        rs::FactorDocument *document = m_window->document();
        document->setLambdaAt(45, 19.0);
        const std::vector<double> edited = document->lambda();
        const int undoSteps = document->undoStack()->count();
        const QString title = m_window->windowTitle();

        QSignalSpy errors(m_window.get(), &MainWindow::errorOccurred);
        const QString path = fixture(file);
        bool ok = true;
        if (kind == QLatin1String("config"))
            ok = m_window->openConfig(path);
        else if (kind == QLatin1String("factors"))
            ok = m_window->importFactors(path);
        else
            ok = m_window->loadSession(path);
        QVERIFY(!ok);
        QCOMPARE(errors.count(), 1);
        const QString message = errors.first().at(0).toString();
        QCOMPARE(m_window->lastError(), message);
        QVERIFY2(message.contains(file), qPrintable(message));
        if (!problem.isEmpty())
            QVERIFY2(message.contains(problem, Qt::CaseInsensitive), qPrintable(message));

        QCOMPARE(document->lambda(), edited);
        QCOMPARE(document->undoStack()->count(), undoSteps);
        QCOMPARE(m_window->windowTitle(), title);
        QVERIFY(m_window->isWindowModified());
    }

    void importFactorsIsOneUndoStep()
    {
        const std::vector<double> before = m_window->document()->lambda();
        QVERIFY(m_window->importFactors(fixture(QStringLiteral("factors-valid.txt"))));
        QCOMPARE(m_window->document()->lambda(), rs::readFactorFile(fixture(QStringLiteral("factors-valid.txt")), 64));
        QCOMPARE(m_window->document()->undoStack()->count(), 1);
        m_window->document()->undoStack()->undo();
        QCOMPARE(m_window->document()->lambda(), before);
    }

    void exportedConfigReopensWithTheSameFactors_data()
    {
        QTest::addColumn<int>("formIndex");
        QTest::newRow("transformers 4.x") << int(rs::ConfigForm::Hf4);
        QTest::newRow("transformers 5.x") << int(rs::ConfigForm::Hf5);
    }

    void exportedConfigReopensWithTheSameFactors()
    {
        QFETCH(int, formIndex);
        const auto form = rs::ConfigForm(formIndex);
        rs::FactorDocument *document = m_window->document();
        document->applyFamily(rs::FactorDocument::kLongrope2Family);
        document->setLambdaAt(63, 31.25);
        const std::vector<double> edited = document->lambda();
        const QString path = m_temp.filePath(form == rs::ConfigForm::Hf4 ? QStringLiteral("hf4.json") : QStringLiteral("hf5.json"));
        QVERIFY(m_window->exportConfig(path, form));

        QFile file(path);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QJsonObject json = QJsonDocument::fromJson(file.readAll()).object();
        const QString key = form == rs::ConfigForm::Hf4 ? QStringLiteral("rope_scaling") : QStringLiteral("rope_parameters");
        QCOMPARE(json.value(key).toObject().value(QStringLiteral("rope_type")).toString(), QStringLiteral("longrope"));
        QCOMPARE(json.value(key).toObject().value(QStringLiteral("long_factor")).toArray().size(), 64);

        MainWindow reopened;
        reopened.setPromptsEnabled(false);
        QVERIFY(reopened.openConfig(path));
        QCOMPARE(reopened.document()->config().scaling.type, QStringLiteral("longrope"));
        QCOMPARE(reopened.document()->config().scaling.longFactor, edited);
        QCOMPARE(reopened.document()->targetLength(), 131072.0);
        QCOMPARE(reopened.document()->lambda(), edited);
    }

    // File > Export > HF config for vLLM: the attention factor also as long_mscale (vLLM ignores
    // attention_factor), and the status bar says what the engine runs on each side of L_train.
    void exportForVllmCarriesItsScale()
    {
        rs::FactorDocument *document = m_window->document();
        document->applyFamily(rs::FactorDocument::kLongrope2Family);
        const double attention = document->attentionFactor().value_or(0);
        const QString path = m_temp.filePath(QStringLiteral("vllm.json"));
        QVERIFY(m_window->exportConfig(path, rs::ConfigForm::Hf4, rs::Engine::Vllm));
        QFile file(path);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QJsonObject rope = QJsonDocument::fromJson(file.readAll()).object().value(QStringLiteral("rope_scaling")).toObject();
        QCOMPARE(rope.contains(QStringLiteral("long_mscale")), attention > 0);
        if (attention > 0)
            QCOMPARE(rope.value(QStringLiteral("long_mscale")).toDouble(), attention);
        QVERIFY2(m_window->statusBar()->currentMessage().contains(QStringLiteral("vllm runs it")),
                 qPrintable(m_window->statusBar()->currentMessage()));
    }

    void exportsCsvFactorFileAndPlots()
    {
        const QString csv = m_temp.filePath(QStringLiteral("factors.csv"));
        const QString factors = m_temp.filePath(QStringLiteral("factors.txt"));
        QVERIFY(m_window->exportCsv(csv));
        QVERIFY(m_window->exportFactorFile(factors));
        QCOMPARE(rs::readFactorFile(factors, 64), m_window->document()->lambda());
        QFile csvFile(csv);
        QVERIFY(csvFile.open(QIODevice::ReadOnly));
        QCOMPARE(csvFile.readAll().count('\n'), 65);

        m_window->resize(1400, 900);
        m_window->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
        const QString png = m_temp.filePath(QStringLiteral("periods.png"));
        const QString pdf = m_temp.filePath(QStringLiteral("factors.pdf"));
        QVERIFY(m_window->exportPlot(png, MainWindow::Plot::Periods));
        QVERIFY(m_window->exportPlot(pdf, MainWindow::Plot::Factors));
        const QImage image(png);
        QVERIFY(!image.isNull());
        QVERIFY(image.width() > 400);
        QFile pdfFile(pdf);
        QVERIFY(pdfFile.open(QIODevice::ReadOnly));
        QVERIFY(pdfFile.read(5) == "%PDF-");
        QVERIFY(!m_window->exportPlot(m_temp.filePath(QStringLiteral("no-such-dir/plot.png")), MainWindow::Plot::Periods));
    }

    void screenshotIsNotBlank()
    {
        m_window->resize(1400, 900);
        m_window->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
        const QImage shot = m_window->grabWindowImage();
        QCOMPARE(shot.size() / shot.devicePixelRatio(), QSize(1400, 900));
        const QString path = QDir::current().filePath(QStringLiteral("test_mainwindow-screenshot.png"));
        QVERIFY(shot.save(path));
        QSet<QRgb> colors;
        for (int y = 0; y < shot.height(); y += 3) {
            for (int x = 0; x < shot.width(); x += 3)
                colors.insert(shot.pixel(x, y));
        }
        // Plots, shading, markers and antialiased text give hundreds of colours; a blank or
        // unpainted window has a handful.
        QVERIFY2(colors.size() > 200, qPrintable(QString::number(colors.size())));
    }

    void recentFilesAreCappedAndDeduplicated()
    {
        for (int i = 0; i < MainWindow::kMaxRecentFiles + 3; ++i) {
            const QString path = m_temp.filePath(QStringLiteral("recent-%1.ropescope").arg(i));
            QVERIFY(m_window->saveSession(path));
        }
        QVERIFY(m_window->saveSession(m_temp.filePath(QStringLiteral("recent-4.ropescope"))));
        const QStringList recent = m_window->recentFiles();
        QCOMPARE(recent.size(), MainWindow::kMaxRecentFiles);
        QCOMPARE(QFileInfo(recent.first()).fileName(), QStringLiteral("recent-4.ropescope"));
        QCOMPARE(recent.count(recent.first()), 1);
    }

    void presetOpensAtSuggestedTarget()
    {
        QVERIFY(m_window->openPreset(QStringLiteral("llama3-8b")));
        QCOMPARE(m_window->document()->targetLength(), 131072.0);
        QCOMPARE(m_window->document()->lambda(), std::vector<double>(64, 1.0));
        QVERIFY(!m_window->openPreset(QStringLiteral("no-such-model")));
        QVERIFY(m_window->lastError().contains(QStringLiteral("no-such-model")));
    }

    void reportsNtkLeftBoundaryOfLongropeConfig()
    {
        // The published LongRoPE2 LLaMA3-8B factors are NTK-left up to c = 33 with λ_33 = 21.81.
        QVERIFY(m_window->openPreset(QStringLiteral("llama3-8b-longrope2-128k")));
        auto *label = m_window->findChild<QLabel *>(QStringLiteral("ntkLeftLabel"));
        QVERIFY(label);
        QVERIFY2(label->text().contains(QStringLiteral("c = 33")) && label->text().contains(QStringLiteral("21.81")),
                 qPrintable(label->text()));
        QVERIFY(m_window->openPreset(QStringLiteral("llama3-8b")));
        QVERIFY(!label->text().contains(QStringLiteral("c =")));
    }

    // Issue 15: what the reader decided for an ambiguous config is shown, not swallowed.
    void configWarningsShowInTheStatusBar()
    {
        const QString path = m_temp.filePath(QStringLiteral("both-forms.json"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(R"({"model_type":"llama","hidden_size":4096,"num_attention_heads":32,"max_position_embeddings":4096,
            "rope_theta":10000.0,"rope_scaling":{"rope_type":"linear","factor":4.0},
            "rope_parameters":{"rope_type":"linear","factor":2.0,"rope_theta":10000.0}})");
        f.close();
        QVERIFY(m_window->openConfig(path));
        QCOMPARE(m_window->document()->config().scaling.factor, 4.0);
        const QString message = m_window->statusBar()->currentMessage();
        QVERIFY2(message.contains(QLatin1String("warning")) && message.contains(QLatin1String("rope_parameters")), qPrintable(message));
        // A config without warnings shows the plain message.
        QVERIFY(m_window->openConfig(fixture(QStringLiteral("llama3.1-8b-config.json"))));
        QVERIFY2(!m_window->statusBar()->currentMessage().contains(QLatin1String("warning")),
                 qPrintable(m_window->statusBar()->currentMessage()));
    }

    void closingWithoutPromptsDiscards()
    {
        m_window->document()->setLambdaAt(1, 3.0);
        m_window->show();
        QVERIFY(m_window->close());
    }

    // Quit never waits on the worker: closing tells it to stop and returns; the thread ends on its
    // own (test_cancellation measures that within a forward).
    void closingDoesNotWaitForTheWorker()
    {
        m_window->show();
        QVERIFY(m_window->evaluationThread()->isRunning());
        QElapsedTimer clock;
        clock.start();
        QVERIFY(m_window->close());
        QVERIFY(clock.elapsed() < 1000);
        QVERIFY(!m_window->evaluationThread()->isRunning());
        QTRY_VERIFY(m_window->evaluationThread()->isIdle());
    }

    // Issue 30: after Load Model the side panel names the model live scores run on, not the
    // config's source.
    void loadedModelIsNamedInTheSidePanel()
    {
        const QString dir = QStringLiteral(ROPESCOPE_FIXTURES "/models/llama-plain");
        QSignalSpy loaded(m_window->evaluationThread(), &rs::EvaluationService::modelLoaded);
        QLabel *label = m_window->controlPanel()->loadedModelLabel();
        QVERIFY2(label->text().contains(QLatin1String("none")), qPrintable(label->text()));
        QVERIFY(m_window->loadModel(dir, QStringLiteral(ROPESCOPE_FIXTURES "/tokenizers/bytes-256-tokenizer.json")));
        QVERIFY(loaded.wait(60000));
        QVERIFY2(label->text().contains(QDir::toNativeSeparators(QFileInfo(dir).absoluteFilePath())), qPrintable(label->text()));
        m_window->evaluationThread()->shutdown();
    }

    // View › Evaluation Workbench (Ctrl+Shift+W) brings the dock in front of the search dock it
    // shares a tab group with.
    void openingTheWorkbenchShowsIt()
    {
        m_window->resize(1400, 900);
        m_window->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
        auto *search = m_window->findChild<QDockWidget *>(QStringLiteral("searchDock"));
        QVERIFY(search);
        search->show();
        search->raise();
        QTRY_VERIFY(!search->visibleRegion().isEmpty());
        auto *workbench = m_window->findChild<QDockWidget *>(QStringLiteral("workbenchDock"));
        QVERIFY(workbench);
        QVERIFY(workbench->isHidden());
        QAction *action = workbench->toggleViewAction();
        QCOMPARE(action->shortcut(), QKeySequence(QStringLiteral("Ctrl+Shift+W")));
        action->trigger();
        QTRY_VERIFY(workbench->isVisible() && !workbench->visibleRegion().isEmpty());
        QTest::qWait(50);  // and it stays in front after the event loop has run
        QVERIFY(!workbench->visibleRegion().isEmpty());
        QVERIFY(workbench->widget()->isVisible());
        QVERIFY(search->visibleRegion().isEmpty());  // behind it, in the same tab group
    }

    // Issue 14: the attention factor is part of what an export and a session carry.
    void attentionFactorIsExportedAndSaved_data()
    {
        QTest::addColumn<int>("formIndex");
        QTest::newRow("transformers 4.x") << int(rs::ConfigForm::Hf4);
        QTest::newRow("transformers 5.x") << int(rs::ConfigForm::Hf5);
    }

    void attentionFactorIsExportedAndSaved()
    {
        QFETCH(int, formIndex);
        const auto form = rs::ConfigForm(formIndex);
        const QString key = form == rs::ConfigForm::Hf4 ? QStringLiteral("rope_scaling") : QStringLiteral("rope_parameters");
        QVERIFY(m_window->openPreset(QStringLiteral("llama3-8b")));  // unscaled: the default until edited
        rs::FactorDocument *document = m_window->document();
        QVERIFY(!document->attentionFactor());
        // Factors an export accepts (λ ≥ s from d_rcd on), with the default attention factor.
        document->applyFamily(rs::FactorDocument::kLongrope2Family);
        document->setAttentionFactor(std::nullopt);

        // Edited in the side panel, as a user does.
        QDoubleSpinBox *spin = m_window->controlPanel()->attentionFactorSpinBox();
        spin->setValue(1.3125);
        QCOMPARE(document->attentionFactor(), std::optional<double>(1.3125));
        const auto exported = [&](const QString &name) {
            const QString path = m_temp.filePath(name);
            if (!m_window->exportConfig(path, form))
                return QJsonObject();
            QFile file(path);
            if (!file.open(QIODevice::ReadOnly))
                return QJsonObject();
            return QJsonDocument::fromJson(file.readAll()).object().value(key).toObject();
        };
        QCOMPARE(exported(QStringLiteral("attention-edited.json")).value(QStringLiteral("attention_factor")).toDouble(), 1.3125);

        // Undone: the export leaves the factor to the loader, which computes longrope's default
        // sqrt(1 + ln s / ln L_train) from the lengths it writes; reopened, the document shows it.
        document->undoStack()->undo();
        const QJsonObject byDefault = exported(QStringLiteral("attention-default.json"));
        QVERIFY(!byDefault.isEmpty());
        QVERIFY(!byDefault.contains(QStringLiteral("attention_factor")));
        MainWindow reopened;
        reopened.setPromptsEnabled(false);
        QVERIFY(reopened.openConfig(m_temp.filePath(QStringLiteral("attention-default.json"))));
        QCOMPARE(reopened.document()->effectiveAttentionFactor(), std::sqrt(1.0 + std::log(16.0) / std::log(8192.0)));

        // Redone and saved: the session brings it back.
        document->undoStack()->redo();
        const QString session = m_temp.filePath(QStringLiteral("attention.ropescope"));
        QVERIFY(m_window->saveSession(session));
        MainWindow other;
        other.setPromptsEnabled(false);
        QVERIFY(other.openFile(session));
        QCOMPARE(other.document()->attentionFactor(), std::optional<double>(1.3125));
        QCOMPARE(other.controlPanel()->attentionFactorSpinBox()->value(), 1.3125);
        QVERIFY(other.controlPanel()->attentionDefaultButton()->isEnabled());  // set, not the default
    }

    void sessionWithoutAttentionFactorOpensAtTheDefault()
    {
        m_window->document()->setAttentionFactor(1.2);
        const QString path = m_temp.filePath(QStringLiteral("older.ropescope"));
        QVERIFY(m_window->saveSession(path));
        QFile file(path);
        QVERIFY(file.open(QIODevice::ReadOnly));
        QJsonObject json = QJsonDocument::fromJson(file.readAll()).object();
        file.close();
        QVERIFY(json.contains(QStringLiteral("attention_factor")));
        json.remove(QStringLiteral("attention_factor"));
        QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
        file.write(QJsonDocument(json).toJson());
        file.close();

        MainWindow other;
        other.setPromptsEnabled(false);
        QVERIFY(other.openFile(path));
        QVERIFY(!other.document()->attentionFactor());
        QVERIFY(!other.controlPanel()->attentionDefaultButton()->isEnabled());
        QCOMPARE(other.document()->lambda(), m_window->document()->lambda());
    }

    // What the app opens without arguments: the attention factor that makes "edited λ" (λ ≡ 1)
    // score differently from the original RoPE is on screen, and no cache path is shown.
    void embeddedModelIsNamedAndShowsItsAttentionFactor()
    {
        if (!rs::hasEmbeddedModel())
            QSKIP("this build carries no embedded model");
        const QString cacheDir = rs::embeddedModelDir();
        QSignalSpy loaded(m_window->evaluationThread(), &rs::EvaluationService::modelLoaded);
        QVERIFY(m_window->openEmbeddedModel());
        rs::FactorDocument *document = m_window->document();
        // The README's embedded model: L_train = 512, opened at 8 × that.
        QCOMPARE(document->geometry().trainLength, 512.0);
        QCOMPARE(document->targetLength(), 4096.0);
        QCOMPARE(document->lambda(), std::vector<double>(document->pairs(), 1.0));
        QCOMPARE(document->undoStack()->count(), 0);
        const double fallback = std::sqrt(1.0 + std::log(8.0) / std::log(512.0));  // 1.1547
        QCOMPARE(document->effectiveAttentionFactor(), fallback);
        const QString shown = m_window->controlPanel()->attentionFactorSpinBox()->text();
        QCOMPARE(shown, QStringLiteral("1.1547"));
        QVERIFY(!m_window->controlPanel()->attentionDefaultButton()->isEnabled());  // greyed: the default

        QVERIFY2(m_window->windowTitle().contains(QStringLiteral("embedded model")), qPrintable(m_window->windowTitle()));
        QVERIFY(!m_window->windowTitle().contains(cacheDir));
        auto *source = m_window->findChild<QLabel *>(QStringLiteral("sourceLabel"));
        QVERIFY(source);
        QCOMPARE(source->text(), QStringLiteral("embedded model"));
        for (const QString &entry : m_window->recentFiles())
            QVERIFY2(!entry.startsWith(cacheDir), qPrintable(entry));
        // The dialogs still start where the user's last file was.
        QCOMPARE(m_window->dialogDirectory(), QFileInfo(fixture(QString())).absolutePath());
        // A session saved from it is named after the model, not after the cache folder.
        const QString session = m_temp.filePath(QStringLiteral("embedded"));
        QVERIFY(m_window->saveSession(session));
        QVERIFY(QFile::exists(session + QStringLiteral(".ropescope")));

        // The status line of the load names it too. Then the thread stops before live scoring
        // (seconds per sample here) begins.
        QVERIFY(loaded.count() == 1 || loaded.wait(60000));
        const QString message = m_window->statusBar()->currentMessage();
        QVERIFY2(message.contains(QStringLiteral("embedded model")) && !message.contains(cacheDir), qPrintable(message));
        // So does the search dock's model line, not the cache folder's name.
        const QString modelLine = m_window->searchPanel()->modelLabelText();
        QVERIFY2(modelLine.contains(QStringLiteral("embedded model")) && !modelLine.contains(QFileInfo(cacheDir).fileName()),
                 qPrintable(modelLine));
        m_window->evaluationThread()->shutdown();
    }

    void sessionNameGetsTheExtension_data()
    {
        QTest::addColumn<QString>("typed");
        QTest::addColumn<QString>("written");
        QTest::newRow("no suffix") << QStringLiteral("plain") << QStringLiteral("plain.ropescope");
        QTest::newRow("other suffix") << QStringLiteral("run.v2") << QStringLiteral("run.v2.ropescope");
        QTest::newRow("has it") << QStringLiteral("done.ropescope") << QStringLiteral("done.ropescope");
        QTest::newRow("upper case") << QStringLiteral("LOUD.ROPESCOPE") << QStringLiteral("LOUD.ROPESCOPE");
    }

    void sessionNameGetsTheExtension()
    {
        QFETCH(QString, typed);
        QFETCH(QString, written);
        QVERIFY(m_window->saveSession(m_temp.filePath(typed)));
        QVERIFY(QFile::exists(m_temp.filePath(written)));
        QCOMPARE(m_window->sessionPath(), m_temp.filePath(written));
        QVERIFY(m_window->windowTitle().contains(written));
        QCOMPARE(m_window->recentFiles().value(0), m_temp.filePath(written));
        if (typed != written)
            QVERIFY(!QFile::exists(m_temp.filePath(typed)));
    }

    void dialogsStartInTheLastFolder()
    {
        const QString fixtures = QFileInfo(fixture(QStringLiteral("llama3.1-8b-config.json"))).absolutePath();
        QCOMPARE(m_window->dialogDirectory(), fixtures);
        QVERIFY(m_window->saveSession(m_temp.filePath(QStringLiteral("here.ropescope"))));
        QCOMPARE(m_window->dialogDirectory(), QFileInfo(m_temp.path()).absoluteFilePath());
        {
            MainWindow next;  // remembered across runs
            QCOMPARE(next.dialogDirectory(), QFileInfo(m_temp.path()).absoluteFilePath());
        }
        // A folder inside the application's cache (where the embedded model is unpacked), as an
        // older version may have remembered it, is never where a dialog opens.
        const QString cache = QStandardPaths::writableLocation(QStandardPaths::CacheLocation) + QStringLiteral("/embedded-model-test");
        QVERIFY(QDir().mkpath(cache));
        QSettings().setValue(QStringLiteral("lastDirectory"), cache);
        MainWindow fresh;
        QCOMPARE(fresh.dialogDirectory(), QDir::homePath());
        QVERIFY(QDir(cache).removeRecursively());
    }

    void openRecentListsPresetsWithFullPaths()
    {
        const QString config = QFileInfo(fixture(QStringLiteral("llama3.1-8b-config.json"))).absoluteFilePath();
        QVERIFY(m_window->openPreset(QStringLiteral("llama3-8b")));
        QCOMPARE(m_window->recentFiles(), QStringList({QStringLiteral("preset:llama3-8b"), config}));

        QMenu *menu = m_window->recentMenu();
        QVERIFY(menu->toolTipsVisible());
        const QList<QAction *> actions = menu->actions();
        QVERIFY(actions.size() >= 3);  // two entries, a separator, Clear List
        QVERIFY2(actions[0]->text().contains(rs::presetInfo(QStringLiteral("llama3-8b")).title), qPrintable(actions[0]->text()));
        QCOMPARE(actions[1]->text(), QStringLiteral("llama3.1-8b-config.json"));
        QCOMPARE(actions[1]->toolTip(), QDir::toNativeSeparators(config));

        // Kept in the settings: a new window lists the same.
        MainWindow next;
        next.setPromptsEnabled(false);
        QCOMPARE(next.recentFiles(), m_window->recentFiles());
        // Each entry opens what it names.
        next.recentMenu()->actions().at(0)->trigger();
        QCOMPARE(next.document()->config().source, QStringLiteral("preset:llama3-8b"));
        next.recentMenu()->actions().at(1)->trigger();
        QCOMPARE(next.document()->config().modelType, QStringLiteral("llama"));
        QVERIFY(next.windowTitle().contains(QStringLiteral("llama3.1-8b-config.json")));

        auto *clear = menu->findChild<QAction *>(QStringLiteral("clearRecentAction"));
        QVERIFY(clear);
        QVERIFY(clear->isEnabled());
        clear->trigger();
        QVERIFY(m_window->recentFiles().isEmpty());
        QCOMPARE(m_window->recentMenu()->actions().size(), 1);
        QVERIFY(!m_window->recentMenu()->actions().at(0)->isEnabled());
    }

    void recentFileThatIsGoneLeavesTheList()
    {
        const QString path = m_temp.filePath(QStringLiteral("gone.ropescope"));
        QVERIFY(m_window->saveSession(path));
        QVERIFY(m_window->recentFiles().contains(path));
        QVERIFY(QFile::remove(path));
        QVERIFY(!m_window->openRecent(path));
        QVERIFY(!m_window->recentFiles().contains(path));
    }

    void statusBarFollowsUndoAndRedo()
    {
        rs::FactorDocument *document = m_window->document();
        const double original = document->lambda()[50];
        document->setLambdaAt(50, 18.0);
        document->undoStack()->undo();
        const QString undone = m_window->statusBar()->currentMessage();
        QVERIFY2(undone.contains(QStringLiteral("λ_50 = %1").arg(original, 0, 'g', 6)), qPrintable(undone));
        document->undoStack()->redo();
        const QString redone = m_window->statusBar()->currentMessage();
        QVERIFY2(redone.contains(QStringLiteral("λ_50 = 18")), qPrintable(redone));
    }

private:
    QTemporaryDir m_settings;
    QTemporaryDir m_temp;
    std::unique_ptr<MainWindow> m_window;
};

QTEST_MAIN(TestMainWindow)
#include "test_mainwindow.moc"
