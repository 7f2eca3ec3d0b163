// RopeScope GUI: `ropescope [config.json | session.ropescope]`, `--preset NAME` or `--model DIR`;
// with none of them, the embedded tiny model at 8 × its training length, loaded for live needle PPL
// and the search. `--follow-log RUN.jsonl` watches a headless search.
#include "runtime/hostallocator.h"
#include "mainwindow.h"

#include "runtime/embeddedmodel.h"
#include "worker/evaluationworker.h"
#include "workbenchpanel.h"
#include "workbenchplots.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QImage>
#include <QRegularExpression>
#include <QSize>
#include <QTimer>
#include <cstdio>
#include <memory>
#include <utility>

namespace {

// --help and --version print and exit: they are answered without a display, by a core application
// (a QApplication needs a display, or an explicit QT_QPA_PLATFORM, to start at all).
bool onlyPrints(int argc, char *argv[])
{
    for (int i = 1; i < argc; ++i) {
        const QByteArray arg(argv[i]);
        if (arg == "-h" || arg == "--help" || arg == "-?" || arg == "--help-all" || arg == "-v" || arg == "--version")
            return true;
    }
    return false;
}

} // namespace

int main(int argc, char *argv[])
{
    rs::tuneHostAllocator();  // before LibTorch allocates anything
    const std::unique_ptr<QCoreApplication> application =
        onlyPrints(argc, argv) ? std::make_unique<QCoreApplication>(argc, argv) : std::make_unique<QApplication>(argc, argv);
    QCoreApplication &app = *application;
    QApplication::setOrganizationName(QStringLiteral("RopeScope"));
    QApplication::setApplicationName(QStringLiteral("RopeScope"));
    QApplication::setApplicationVersion(QStringLiteral(ROPESCOPE_VERSION));
    // The installed desktop entry (ropescope.desktop): its name and icon for this window.
    QApplication::setDesktopFileName(QStringLiteral("ropescope"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QObject::tr("Explore RoPE rescale factors the LongRoPE2 way."));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument(QStringLiteral("file"), QObject::tr("A Hugging Face config.json or a RopeScope session."),
                                 QStringLiteral("[file]"));
    const QCommandLineOption presetOption(QStringLiteral("preset"), QObject::tr("Open a built-in model preset."),
                                          QStringLiteral("name"));
    // For documentation: render the window once and save it instead of running interactively.
    const QCommandLineOption screenshotOption(QStringLiteral("screenshot"),
                                              QObject::tr("Save a screenshot of the window (once the model has loaded) "
                                                          "and quit."),
                                        QStringLiteral("png"));
    const QCommandLineOption modelOption(QStringLiteral("model"),
                                         QObject::tr("Load a Hugging Face model folder for live needle PPL and the search."),
                                         QStringLiteral("dir"));
    const QCommandLineOption tokenizerOption(QStringLiteral("tokenizer"),
                                             QObject::tr("The model's tokenizer.json when its folder has none."),
                                             QStringLiteral("file"));
    const QCommandLineOption followOption(QStringLiteral("follow-log"),
                                          QObject::tr("Follow the run log of a search (ropescope-cli search --log)."),
                                          QStringLiteral("jsonl"));
    const QCommandLineOption sweepOption(QStringLiteral("sweep-result"),
                                         QObject::tr("Open a saved sweep result (ropescope-cli sweep -o) in the "
                                                     "evaluation workbench."),
                                         QStringLiteral("file"));
    // For documentation: write the workbench's plots of --sweep-result as PREFIX-lengths.png and
    // PREFIX-heatmap.png and quit.
    const QCommandLineOption exportSweepOption(QStringLiteral("export-sweep-plots"),
                                               QObject::tr("With --sweep-result: save the sweep's plots as "
                                                           "PREFIX-lengths.png and PREFIX-heatmap.png and quit."),
                                         QStringLiteral("prefix"));
    // For documentation and small screens: the window's size (e.g. 1024x700 for a screenshot).
    const QCommandLineOption windowSizeOption(QStringLiteral("window-size"),
                                              QObject::tr("The window's size in pixels, e.g. 1024x700."),
                                              QStringLiteral("WxH"));
    parser.addOptions({presetOption, modelOption, tokenizerOption, followOption, screenshotOption, sweepOption,
                       exportSweepOption, windowSizeOption});
    parser.process(app);
    QSize windowSize;
    if (parser.isSet(windowSizeOption)) {
        const QRegularExpressionMatch match =
            QRegularExpression(QStringLiteral("^(\\d{3,5})x(\\d{3,5})$")).match(parser.value(windowSizeOption));
        if (!match.hasMatch()) {
            std::fprintf(stderr, "ropescope: --window-size: expected WIDTHxHEIGHT in pixels (e.g. 1024x700), got \"%s\"\n",
                         qPrintable(parser.value(windowSizeOption)));
            return 2;
        }
        windowSize = QSize(match.captured(1).toInt(), match.captured(2).toInt());
    }

    if (parser.isSet(exportSweepOption)) {
        // Headless: the workbench's plots of a saved result, at a fixed size, without a model.
        rs::EvaluationThread service;
        rs::WorkbenchPanel bench(&service);
        if (!bench.openResult(parser.value(sweepOption))) {
            std::fprintf(stderr, "ropescope: cannot open the sweep result %s\n", qPrintable(parser.value(sweepOption)));
            return 1;
        }
        const QString prefix = parser.value(exportSweepOption);
        const int methods = int(bench.result().methods.size());
        // Through savePlot, which lays the plots out at these sizes first (the legend's rows).
        bench.curvePlot()->resize(960, 720);
        bench.heatmapPlot()->resize(140 + 270 * methods, 400);
        const bool saved = rs::savePlot(bench.curvePlot(), prefix + QStringLiteral("-lengths.png")) &&
                           rs::savePlot(bench.heatmapPlot(), prefix + QStringLiteral("-heatmap.png"));
        if (!saved)
            std::fprintf(stderr, "ropescope: cannot write %s-*.png\n", qPrintable(prefix));
        return saved ? 0 : 1;
    }

    MainWindow window;
    if (windowSize.isValid())
        window.resize(windowSize);  // before the docks come up, so they fit into it
    const QString screenshotPath = parser.value(screenshotOption);
    window.setPromptsEnabled(screenshotPath.isEmpty());
    const QStringList files = parser.positionalArguments();
    bool opened = false;
    bool modelRequested = false;  // a model is loading on the evaluation thread
    if (!files.isEmpty())
        opened = window.openFile(files.first());
    else if (parser.isSet(presetOption))
        opened = window.openPreset(parser.value(presetOption));
    // Failures are reported like any file that does not open; the window stays usable.
    if (parser.isSet(modelOption)) {
        modelRequested = window.loadModel(parser.value(modelOption), parser.value(tokenizerOption));
        opened = modelRequested || opened;
    } else if (!opened && rs::hasEmbeddedModel()) {
        // Out of the box: the model trained at a short context, asked to work at 8 × that length,
        // where its high dimensions go out of distribution.
        modelRequested = opened = window.openEmbeddedModel();
        if (!opened)
            std::fprintf(stderr, "ropescope: %s\n", qPrintable(window.lastError()));
    }
    if (!opened && !window.openPreset(QStringLiteral("llama3-8b")))
        return 1;
    if (parser.isSet(followOption))
        window.followSearchLog(parser.value(followOption));
    if (parser.isSet(sweepOption)) {
        window.showWorkbenchDock();
        window.workbenchPanel()->openResult(parser.value(sweepOption));
    }
    if (windowSize.isValid())
        window.resize(windowSize);
    window.show();

    if (!screenshotPath.isEmpty()) {
        // The window is laid out after the first pass of the event loop; a model loads on the
        // evaluation thread, so the picture waits for it to load or fail (at most a minute) and
        // then half a second for the first live scores.
        const auto shoot = [&window, &screenshotPath] {
            static bool taken = false;  // the load, a failure or the time limit: whichever is first
            if (std::exchange(taken, true))
                return;
            const bool saved = window.grabWindowImage().save(screenshotPath);
            if (!saved)
                std::fprintf(stderr, "ropescope: cannot write %s\n", qPrintable(screenshotPath));
            QApplication::exit(saved ? 0 : 1);
        };
        if (modelRequested) {
            rs::EvaluationService *worker = window.evaluationThread();
            const auto later = [&window, shoot] { QTimer::singleShot(500, &window, shoot); };
            QObject::connect(worker, &rs::EvaluationService::modelLoaded, &window, later, Qt::SingleShotConnection);
            QObject::connect(worker, &rs::EvaluationService::failed, &window, later, Qt::SingleShotConnection);
            QTimer::singleShot(60000, &window, shoot);
        } else {
            QTimer::singleShot(0, &window, shoot);
        }
    }
    return QApplication::exec();
}
