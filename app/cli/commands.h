#pragma once
// The subcommands of ropescope-cli. Each takes the arguments after the subcommand name and
// returns the process exit code: 0 success, 1 bad input (message on stderr), 2 usage error.
#include <QStringList>

namespace rs::cli {

int presets(const QStringList &args);
int rope(const QStringList &args);
int factors(const QStringList &args);
int check(const QStringList &args);
int exportFactors(const QStringList &args);
int eval(const QStringList &args);
int search(const QStringList &args);
int bench(const QStringList &args);
int table(const QStringList &args);

int train(const QStringList &args);

} // namespace rs::cli
