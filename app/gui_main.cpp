// RopeScope GUI: `ropescope [config.json | session.ropescope]`, or `--preset NAME`; with neither,
// the LLaMA3-8B preset at its suggested 128k target.
#include "mainwindow.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QImage>
#include <QTimer>
#include <cstdio>

int main(int argc, char *argv[])
{
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("RopeScope"));
    QApplication::setApplicationName(QStringLiteral("RopeScope"));
    QApplication::setApplicationVersion(QStringLiteral(ROPESCOPE_VERSION));

    QCommandLineParser parser;
    parser.setApplicationDescription(QObject::tr("Explore RoPE rescale factors the LongRoPE2 way."));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument(QStringLiteral("file"), QObject::tr("A Hugging Face config.json or a RopeScope session."),
                                 QStringLiteral("[file]"));
    const QCommandLineOption presetOption(QStringLiteral("preset"), QObject::tr("Open a built-in model preset."),
                                          QStringLiteral("name"));
    // For documentation: render the window once and save it instead of running interactively.
    QCommandLineOption screenshotOption(QStringLiteral("screenshot"), QObject::tr("Save a screenshot and quit."),
                                        QStringLiteral("png"));
    screenshotOption.setFlags(QCommandLineOption::HiddenFromHelp);
    parser.addOptions({presetOption, screenshotOption});
    parser.process(app);

    MainWindow window;
    const QString screenshotPath = parser.value(screenshotOption);
    window.setPromptsEnabled(screenshotPath.isEmpty());
    const QStringList files = parser.positionalArguments();
    bool opened = false;
    if (!files.isEmpty())
        opened = window.openFile(files.first());
    else if (parser.isSet(presetOption))
        opened = window.openPreset(parser.value(presetOption));
    if (!opened && !window.openPreset(QStringLiteral("llama3-8b")))
        return 1;
    window.show();

    if (!screenshotPath.isEmpty()) {
        // After the first pass of the event loop the window is laid out at its final size.
        QTimer::singleShot(0, &window, [&window, &screenshotPath] {
            const bool saved = window.grabWindowImage().save(screenshotPath);
            if (!saved)
                std::fprintf(stderr, "ropescope: cannot write %s\n", qPrintable(screenshotPath));
            QApplication::exit(saved ? 0 : 1);
        });
    }
    return app.exec();
}
