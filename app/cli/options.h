#pragma once
// What the subcommands of ropescope-cli share: the output streams, the common options and their
// parsing, and the exit-code contract every command keeps: 0 success, 1 bad input (a file or model
// that cannot be used; the message on stderr), 2 usage error (a command-line mistake; the message
// on stderr). Helpers only one command uses stay in that command's file.
#include "common/error.h"
#include "common/memoryerror.h"
#include "eval/evaluator.h"
#include "rope/engine.h"
#include "rope/ropeconfig.h"
#include "rope/ropegeometry.h"
#include "runtime/model.h"
#include "runtime/tokenizer.h"  // EvaluationSetup owns the model's Tokenizer

#include <QCommandLineParser>
#include <QString>
#include <QStringList>
#include <QTextStream>

#include <exception>
#include <memory>
#include <new>
#include <stdexcept>
#include <vector>

namespace rs::cli {

inline constexpr int kOk = 0;
inline constexpr int kBadInput = 1;
inline constexpr int kUsage = 2;

QTextStream &out();
QTextStream &err();

// Thrown for command-line mistakes (exit code 2), as opposed to rs::Error for bad files (1).
struct UsageError {
    QString message;
};

extern const QCommandLineOption kConfigOption;   // -c, --config PATH
extern const QCommandLineOption kPresetOption;   // -p, --preset NAME
extern const QCommandLineOption kTargetOption;   // -t, --target L
extern const QCommandLineOption kJsonOption;     // --json
extern const QCommandLineOption kFactorsOption;  // -f, --factors FILE
extern const QCommandLineOption kDrcdOption;     // --d-rcd N
extern const QCommandLineOption kOutputOption;   // -o, --output OUT

// Sets the description, adds --help and parses; prints the help and exits 0 on --help, throws
// UsageError on a parse error or a positional argument.
void parseOrThrow(QCommandLineParser &parser, const QStringList &args, const QString &description);

// --config, --preset and --target.
void addModelOptions(QCommandLineParser &parser);
// The model of --config or --preset (exactly one of them); its reader's warnings go to stderr.
RopeConfig loadModel(const QCommandLineParser &parser);
// "ropescope-cli: warning: SOURCE: …" on stderr for each of the config reader's warnings.
void printWarnings(const RopeConfig &config);
// --device and --dtype as the model loader spells them; UsageError (exit 2) for anything else.
QString checkedDevice(const QString &device);
QString checkedDtype(const QString &dtype);
// Flushes stdout; false when anything written to it was lost (a full disk, /dev/full, a closed pipe).
bool flushOutput();
// `code`, or kBadInput with a message on stderr when standard output could not be written.
int checkedOutput(int code);
// Runs `build` (which builds needle samples) and turns "the length cannot hold the needle template"
// into a usage error naming --length: the length is what the user chose on the command line.
template <typename Build>
auto needleSamples(Build build) -> decltype(build())
{
    try {
        return build();
    } catch (const Error &e) {
        if (e.problem().contains(QLatin1String("cannot hold the needle template")))
            throw UsageError{QStringLiteral("--length is too short: %1").arg(e.problem())};
        throw;
    }
}
double positiveNumber(const QCommandLineParser &parser, const QCommandLineOption &option);
// A length in tokens, read as the GUI's target box reads it (rope/tokencount.h: 131072, 128k or 1M,
// k = 1024), from `minimum` to kMaxPositions; UsageError naming the option for 0, negatives, junk
// and lengths out of range. Every option that takes a length goes through these two.
int tokenLength(const QString &text, const QCommandLineOption &option, int minimum = 1);
int lengthOption(const QCommandLineParser &parser, const QCommandLineOption &option, int minimum = 1);
// A comma-separated list of such lengths, in the order given (at least one).
std::vector<int> lengthListOption(const QCommandLineParser &parser, const QCommandLineOption &option, int minimum = 1);
// --target, else the preset's suggested target, else the config's own context.
double targetLength(const QCommandLineParser &parser, const RopeConfig &config);
// --d-rcd, else d_tcd.
int criticalDimension(const QCommandLineParser &parser, const RopeGeometry &g);

QString number(double v, int precision = 6);

// Options shared by the commands that score factors with a model (eval, search; some also by
// bench, table and train).
extern const QCommandLineOption kModelOption;   // --model DIR
extern const QCommandLineOption kCorpusOption;  // --corpus PATH
extern const QCommandLineOption kSeedOption;    // --seed S
extern const QCommandLineOption kDeviceOption;  // --device DEV
extern const QCommandLineOption kDtypeOption;   // --dtype T

// --model, --length, --samples, --depth, --corpus, --seed, --device and --dtype.
void addEvaluationOptions(QCommandLineParser &parser);

int wholeNumber(const QCommandLineParser &parser, const QCommandLineOption &option, int minimum);

// A loaded model, its tokenizer and the needle samples' settings, from the shared options.
struct EvaluationSetup {
    QString modelDir;
    std::unique_ptr<CausalLM> model;
    ModelTokenizer tokenizer;
    NeedleEvalSettings settings;
};

EvaluationSetup loadEvaluationSetup(const QCommandLineParser &parser);
// Its pieces, for a process that loads no model (rank 0 of an MPI search): the needle samples'
// settings, --device/--dtype, and the model folder (--model, else the embedded model).
NeedleEvalSettings evaluationSettings(const QCommandLineParser &parser);
ModelOptions modelOptions(const QCommandLineParser &parser);
QString modelDir(const QCommandLineParser &parser);

// Prints what loading the model warned about (e.g. weights that are not finite) on stderr.
void printWarnings(const CausalLM &model);

// " (ADVICE)" for a memory message, or nothing without advice.
inline QString adviceSuffix(const QString &advice)
{
    return advice.isEmpty() ? QString() : QStringLiteral(" (%1)").arg(advice);
}

// Runs `f`; a memory refusal from it gets `advice` (the options that sized that part, e.g.
// "fewer --validation-samples need less") in place of the command's own.
template <typename F>
auto withMemoryAdvice(const QString &advice, F f) -> decltype(f())
{
    try {
        return f();
    } catch (const MemoryError &e) {
        throw Error(e.source(), e.problem() + adviceSuffix(advice));
    }
}

// Runs a command body, mapping errors to messages and exit codes. `memoryAdvice` names the
// command's own options that make it need less memory ("a shorter --length, fewer --samples or a
// smaller --dtype need less"); it closes every memory refusal and out-of-memory message.
template <typename Body>
int run(Body body, const QString &memoryAdvice = QString())
{
    try {
        return checkedOutput(body());
    } catch (const UsageError &e) {
        err() << "ropescope-cli: " << e.message << "\n";
        return kUsage;
    } catch (const MemoryError &e) {
        err() << "ropescope-cli: " << e.message() << adviceSuffix(memoryAdvice) << "\n";
        return kBadInput;
    } catch (const Error &e) {
        err() << "ropescope-cli: " << e.message() << "\n";
        return kBadInput;
    } catch (const std::bad_alloc &) {
        // An allocation the memory estimates let through (they err low) and the machine refused.
        err() << "ropescope-cli: out of memory: this machine could not allocate what the command needs"
              << adviceSuffix(memoryAdvice) << "\n";
        return kBadInput;
    } catch (const std::length_error &) {
        err() << "ropescope-cli: out of memory: a buffer larger than this program can hold was asked for"
              << adviceSuffix(memoryAdvice) << "\n";
        return kBadInput;
    } catch (const std::exception &e) {
        // LibTorch's errors outside the model's own guard, its out-of-memory errors among them.
        const QString what = QString::fromLocal8Bit(e.what()).section(QLatin1Char('\n'), 0, 0);
        const bool memory = what.contains(QLatin1String("out of memory"), Qt::CaseInsensitive);
        err() << "ropescope-cli: " << (memory ? "out of memory: " : "error: ") << what
              << (memory ? adviceSuffix(memoryAdvice) : QString()) << "\n";
        return kBadInput;
    }
}

} // namespace rs::cli

namespace rs::cli {

// --engine NAME: whose reading of an exported longrope config a factor set is scored and exported
// for (rope/engine.h); transformers by default.
extern const QCommandLineOption kEngineOption;
// The engine of --engine; UsageError (exit 2) naming the option for an unknown name.
Engine engineOption(const QCommandLineParser &parser);

} // namespace rs::cli
