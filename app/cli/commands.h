#pragma once
// The subcommands of ropescope-cli and their table. Each takes the arguments after the subcommand
// name and returns the process exit code: 0 success, 1 bad input (message on stderr), 2 usage
// error (see options.h).
#include <QStringList>

namespace rs::cli {

int presets(const QStringList &args);
int rope(const QStringList &args);
int factors(const QStringList &args);
int check(const QStringList &args);
int exportFactors(const QStringList &args);
int eval(const QStringList &args);
int search(const QStringList &args);
int rankStability(const QStringList &args);
int bench(const QStringList &args);
int table(const QStringList &args);
int sweep(const QStringList &args);
int train(const QStringList &args);

struct Command {
    const char *name;     // as typed: ropescope-cli <name> …
    const char *summary;  // its line in the usage text
    int (*run)(const QStringList &args);
};

// Every command, in the order of the usage text.
inline constexpr Command kCommands[] = {
    {"presets", "list the shipped model presets", presets},
    {"rope", "print a model's RoPE geometry, critical dimensions and factor families", rope},
    {"factors", "write the factors of a family (pi, ntk, yarn, llama3, longrope2, config) to a file", factors},
    {"check", "check a factor file against a model's constraints", check},
    {"export", "write factors as a Hugging Face config.json (hf4, hf5), CSV or LongRoPE factor file", exportFactors},
    {"eval", "needle-driven perplexity (and passkey accuracy) of a model with given factors", eval},
    {"search", "LongRoPE2 (or LongRoPE) evolutionary search of the factors, logged to a JSONL run log", search},
    {"rank-stability", "how stably each fitness aggregate ranks candidates across disjoint needle-sample sets", rankStability},
    {"table", "the paper's comparison in miniature: methods x lengths, needle PPL and passkey accuracy", table},
    {"sweep", "evaluation workbench: PPL vs context length per method, needle-in-a-haystack heatmap, with intervals", sweep},
    {"train", "pretrain a small model on built-in text with needles, or mixed-window fine-tune one", train},
    {"bench", "time needle-PPL evaluation: ms per sample, TFLOP/s, % of peak, peak device memory", bench},
};

} // namespace rs::cli
