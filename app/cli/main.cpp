// ropescope-cli: the headless twin of the GUI, calling the same core classes.
#include "runtime/hostallocator.h"
#include "commands.h"

#include <QCoreApplication>
#include <QTextStream>

#include <algorithm>
#include <cstring>
#include <iterator>

namespace {

// The usage text, its command list from the command table.
QString usage()
{
    QString text = QStringLiteral("Usage: ropescope-cli <command> [options]\n"
                                  "\n"
                                  "Commands:\n");
    // The summaries in one column, two spaces after the longest name ("rank-stability").
    qsizetype width = 0;
    for (const rs::cli::Command &c : rs::cli::kCommands)
        width = std::max(width, qsizetype(std::strlen(c.name)));
    for (const rs::cli::Command &c : rs::cli::kCommands)
        text += QStringLiteral("  ") + QString::fromUtf8(c.name).leftJustified(width + 2) + QString::fromUtf8(c.summary)
                + QLatin1Char('\n');
    text += QStringLiteral("\n"
                           "Run 'ropescope-cli <command> --help' for a command's options.\n");
    return text;
}

} // namespace

int main(int argc, char **argv)
{
    rs::tuneHostAllocator();  // before LibTorch allocates anything
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("ropescope-cli"));
    QCoreApplication::setApplicationVersion(QStringLiteral(ROPESCOPE_VERSION));

    QStringList args = app.arguments();
    QTextStream out(stdout);
    QTextStream err(stderr);
    if (args.size() < 2 || args[1] == QLatin1String("--help") || args[1] == QLatin1String("-h") ||
        args[1] == QLatin1String("help")) {
        (args.size() < 2 ? err : out) << usage();
        return args.size() < 2 ? 2 : 0;
    }
    if (args[1] == QLatin1String("--version")) {
        out << "ropescope-cli " << ROPESCOPE_VERSION << "\n";
        return 0;
    }
    const auto command = std::find_if(std::begin(rs::cli::kCommands), std::end(rs::cli::kCommands),
                                      [&](const rs::cli::Command &c) { return args[1] == QLatin1String(c.name); });
    if (command == std::end(rs::cli::kCommands)) {
        err << "ropescope-cli: unknown command '" << args[1] << "'\n\n" << usage();
        return 2;
    }
    // QCommandLineParser expects the program name first: "ropescope-cli rope --preset …".
    args.removeAt(1);
    args[0] = QStringLiteral("ropescope-cli ") + QLatin1String(command->name);
    return command->run(args);
}
