// ropescope-cli: the headless twin of the GUI, calling the same core classes.
#include "hostallocator.h"
#include "clicommands.h"

#include <QCoreApplication>
#include <QTextStream>

#include <functional>
#include <map>

namespace {

const char *kUsage =
    "Usage: ropescope-cli <command> [options]\n"
    "\n"
    "Commands:\n"
    "  presets   list the shipped model presets\n"
    "  rope      print a model's RoPE geometry, critical dimensions and factor families\n"
    "  factors   write the factors of a family (pi, ntk, yarn, llama3, longrope2, config) to a file\n"
    "  check     check a factor file against a model's constraints\n"
    "  export    write factors as a Hugging Face config.json (hf4, hf5), CSV or LongRoPE factor file\n"
    "  eval      needle-driven perplexity (and passkey accuracy) of a model with given factors\n"
    "  search    LongRoPE2 (or LongRoPE) evolutionary search of the factors, logged to a JSONL run log\n"
    "  table     the paper's comparison in miniature: methods x lengths, needle PPL and passkey accuracy\n"
    "  train     pretrain a small model on built-in text with needles, or mixed-window fine-tune one\n"
    "  bench     time needle-PPL evaluation: ms per sample, TFLOP/s, % of peak, peak device memory\n"
    "\n"
    "Run 'ropescope-cli <command> --help' for a command's options.\n";

} // namespace

int main(int argc, char **argv)
{
    rs::tuneHostAllocator();  // before LibTorch allocates anything
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("ropescope-cli"));
    QCoreApplication::setApplicationVersion(QStringLiteral(ROPESCOPE_VERSION));

    const std::map<QString, std::function<int(const QStringList &)>> commands = {
        {QStringLiteral("presets"), rs::cli::presets}, {QStringLiteral("rope"), rs::cli::rope},
        {QStringLiteral("factors"), rs::cli::factors}, {QStringLiteral("check"), rs::cli::check},
        {QStringLiteral("export"), rs::cli::exportFactors}, {QStringLiteral("eval"), rs::cli::eval},
        {QStringLiteral("search"), rs::cli::search}, {QStringLiteral("bench"), rs::cli::bench},
        {QStringLiteral("table"), rs::cli::table}, {QStringLiteral("train"), rs::cli::train},
    };

    QStringList args = app.arguments();
    QTextStream out(stdout);
    QTextStream err(stderr);
    if (args.size() < 2 || args[1] == QLatin1String("--help") || args[1] == QLatin1String("-h") ||
        args[1] == QLatin1String("help")) {
        (args.size() < 2 ? err : out) << kUsage;
        return args.size() < 2 ? 2 : 0;
    }
    if (args[1] == QLatin1String("--version")) {
        out << "ropescope-cli " << ROPESCOPE_VERSION << "\n";
        return 0;
    }
    const auto command = commands.find(args[1]);
    if (command == commands.end()) {
        err << "ropescope-cli: unknown command '" << args[1] << "'\n\n" << kUsage;
        return 2;
    }
    // QCommandLineParser expects the program name first: "ropescope-cli rope --preset …".
    args.removeAt(1);
    args[0] = QStringLiteral("ropescope-cli ") + command->first;
    return command->second(args);
}
