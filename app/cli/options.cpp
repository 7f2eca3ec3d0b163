// The options, parsing and errors the subcommands share (see options.h).
#include "options.h"

#include "rope/presets.h"
#include "rope/tokencount.h"
#include "runtime/embeddedmodel.h"

#include <QRegularExpression>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

namespace rs::cli {

QTextStream &out()
{
    static QTextStream s(stdout);
    return s;
}

QTextStream &err()
{
    static QTextStream s(stderr);
    return s;
}

const QCommandLineOption kConfigOption({QStringLiteral("c"), QStringLiteral("config")},
                                       QStringLiteral("Hugging Face config.json to read."), QStringLiteral("PATH"));
const QCommandLineOption kPresetOption({QStringLiteral("p"), QStringLiteral("preset")},
                                       QStringLiteral("Shipped preset (see 'ropescope-cli presets')."),
                                       QStringLiteral("NAME"));
const QCommandLineOption kTargetOption({QStringLiteral("t"), QStringLiteral("target")},
                                       QStringLiteral("Target context length L in tokens: 131072, 128k or 1M, k = 1024 (default: the config's own)."),
                                       QStringLiteral("L"));
const QCommandLineOption kJsonOption(QStringLiteral("json"), QStringLiteral("Print JSON instead of text."));
const QCommandLineOption kFactorsOption({QStringLiteral("f"), QStringLiteral("factors")},
                                        QStringLiteral("LongRoPE factor file (one value per line or comma-separated)."),
                                        QStringLiteral("FILE"));
const QCommandLineOption kDrcdOption(QStringLiteral("d-rcd"),
                                     QStringLiteral("Real critical dimension d_rcd (default: d_tcd)."), QStringLiteral("N"));
const QCommandLineOption kOutputOption({QStringLiteral("o"), QStringLiteral("output")},
                                       QStringLiteral("Output file."), QStringLiteral("OUT"));

void parseOrThrow(QCommandLineParser &parser, const QStringList &args, const QString &description)
{
    parser.setApplicationDescription(description);
    parser.addHelpOption();
    if (!parser.parse(args))
        throw UsageError{parser.errorText()};
    if (parser.isSet(QStringLiteral("help"))) {
        out() << parser.helpText();
        out().flush();
        std::exit(kOk);
    }
    if (!parser.positionalArguments().isEmpty())
        throw UsageError{QStringLiteral("unexpected argument '%1'").arg(parser.positionalArguments().first())};
    // An engine name is checked before any model loads, in every command that takes one.
    if (parser.optionNames().contains(QLatin1String("engine")))
        engineOption(parser);
}

void addModelOptions(QCommandLineParser &parser)
{
    parser.addOption(kConfigOption);
    parser.addOption(kPresetOption);
    parser.addOption(kTargetOption);
}

RopeConfig loadModel(const QCommandLineParser &parser)
{
    const bool hasConfig = parser.isSet(kConfigOption);
    const bool hasPreset = parser.isSet(kPresetOption);
    if (hasConfig == hasPreset)
        throw UsageError{QStringLiteral("give exactly one of --config PATH or --preset NAME")};
    RopeConfig config = hasConfig ? loadRopeConfig(parser.value(kConfigOption)) : loadPreset(parser.value(kPresetOption));
    printWarnings(config);
    return config;
}

void printWarnings(const RopeConfig &config)
{
    for (const QString &w : config.warnings)
        err() << "ropescope-cli: warning: " << config.source << ": " << w << "\n";
    err().flush();
}

bool flushOutput()
{
    out().flush();
    // QTextStream keeps the first failed write in its status; fflush/ferror catch what stdio buffered.
    return out().status() == QTextStream::Ok && std::fflush(stdout) == 0 && !std::ferror(stdout);
}

int checkedOutput(int code)
{
    if (flushOutput())
        return code;
    err() << "ropescope-cli: writing to standard output failed (" << std::strerror(errno) << ")\n";
    return kBadInput;
}

QString checkedDevice(const QString &device)
{
    static const QRegularExpression valid(QStringLiteral("^(cpu|cuda(:[0-9]+)?)$"));
    const QString d = device.trimmed().toLower();
    if (!valid.match(d).hasMatch())
        throw UsageError{QStringLiteral("--device needs cpu, cuda or cuda:N, got '%1'").arg(device)};
    return d;
}

QString checkedDtype(const QString &dtype)
{
    static const QStringList valid = {QStringLiteral("float32"), QStringLiteral("fp32"),     QStringLiteral("float"),
                                      QStringLiteral("bfloat16"), QStringLiteral("bf16"),    QStringLiteral("float16"),
                                      QStringLiteral("fp16"),    QStringLiteral("half")};
    const QString d = dtype.trimmed().toLower();
    if (!d.isEmpty() && !valid.contains(d))
        throw UsageError{QStringLiteral("--dtype needs float32, bfloat16 or float16, got '%1'").arg(dtype)};
    return d;
}

double positiveNumber(const QCommandLineParser &parser, const QCommandLineOption &option)
{
    bool ok = false;
    const QString text = parser.value(option);
    const double v = text.toDouble(&ok);
    if (!ok || !std::isfinite(v) || v <= 0)
        throw UsageError{QStringLiteral("--%1 needs a positive number, got '%2'").arg(option.names().last(), text)};
    return v;
}

int tokenLength(const QString &text, const QCommandLineOption &option, int minimum)
{
    const QString name = option.names().last();
    const std::optional<qint64> tokens = parseTokenCount(text);
    if (!tokens)
        throw UsageError{QStringLiteral("--%1 needs a length in tokens such as 131072, 128k or 1M (k = 1024), got '%2'")
                             .arg(name, text)};
    if (*tokens > kMaxPositions)
        throw UsageError{QStringLiteral("--%1 needs a length of at most %2 tokens, got '%3'").arg(name).arg(kMaxPositions).arg(text)};
    if (*tokens < minimum)
        throw UsageError{QStringLiteral("--%1 needs a length of at least %2 tokens, got '%3'").arg(name).arg(minimum).arg(text)};
    return int(*tokens);
}

int lengthOption(const QCommandLineParser &parser, const QCommandLineOption &option, int minimum)
{
    return tokenLength(parser.value(option), option, minimum);
}

std::vector<int> lengthListOption(const QCommandLineParser &parser, const QCommandLineOption &option, int minimum)
{
    std::vector<int> lengths;
    // Commas separate the lengths, so a length in a list has no digit-group commas.
    for (const QString &part : parser.value(option).split(QLatin1Char(','), Qt::SkipEmptyParts))
        lengths.push_back(tokenLength(part.trimmed(), option, minimum));
    if (lengths.empty())
        throw UsageError{QStringLiteral("--%1 needs at least one length").arg(option.names().last())};
    return lengths;
}

// --target, else the preset's suggested target, else the one the GUI opens the config at
// (rs::suggestedTargetLength, rope/presets.h).
double targetLength(const QCommandLineParser &parser, const RopeConfig &config)
{
    if (parser.isSet(kTargetOption))
        return lengthOption(parser, kTargetOption);
    if (parser.isSet(kPresetOption))
        return presetInfo(parser.value(kPresetOption)).targetLength;
    return suggestedTargetLength(config);
}

int criticalDimension(const QCommandLineParser &parser, const RopeGeometry &g)
{
    if (!parser.isSet(kDrcdOption))
        return g.dTcd;
    bool ok = false;
    const int d = parser.value(kDrcdOption).toInt(&ok);
    if (!ok || d < 0 || d > g.pairs())
        throw UsageError{QStringLiteral("--d-rcd needs a whole number between 0 and %1").arg(g.pairs())};
    return d;
}

QString number(double v, int precision)
{
    return QString::number(v, 'g', precision);
}

// Options shared by the commands that score factors with a model (eval, search).
const QCommandLineOption kModelOption(QStringLiteral("model"), QStringLiteral("Hugging Face model folder (default: the embedded model)."),
                                      QStringLiteral("DIR"));

namespace {
// Used only by addEvaluationOptions and loadEvaluationSetup.
const QCommandLineOption kLengthOption(QStringLiteral("length"), QStringLiteral("Tokens per sample (131072, 128k or 1M)."),
                                       QStringLiteral("L"));
const QCommandLineOption kSamplesOption(QStringLiteral("samples"), QStringLiteral("Number of samples (default 4)."),
                                        QStringLiteral("N"), QStringLiteral("4"));
const QCommandLineOption kDepthOption(QStringLiteral("depth"),
                                      QStringLiteral("Needle depth in the filler, 0…1 (default 0: near the start)."),
                                      QStringLiteral("F"), QStringLiteral("0"));
} // namespace

const QCommandLineOption kCorpusOption(QStringLiteral("corpus"),
                                       QStringLiteral("Folder of .txt files or a JSONL file with a \"text\" field "
                                                      "(default: built-in prose)."),
                                       QStringLiteral("PATH"));
const QCommandLineOption kSeedOption(QStringLiteral("seed"), QStringLiteral("Sample seed (default 0)."),
                                     QStringLiteral("S"), QStringLiteral("0"));
const QCommandLineOption kDeviceOption(QStringLiteral("device"), QStringLiteral("cpu or cuda (default cpu)."),
                                       QStringLiteral("DEV"), QStringLiteral("cpu"));
const QCommandLineOption kDtypeOption(QStringLiteral("dtype"),
                                      QStringLiteral("float32, bfloat16 or float16 (default: float32 on CPU, "
                                                     "bfloat16 on CUDA)."),
                                      QStringLiteral("T"));

void addEvaluationOptions(QCommandLineParser &parser)
{
    parser.addOptions({kModelOption, kLengthOption, kSamplesOption, kDepthOption, kCorpusOption, kSeedOption,
                       kDeviceOption, kDtypeOption});
}

int wholeNumber(const QCommandLineParser &parser, const QCommandLineOption &option, int minimum)
{
    bool ok = false;
    const int v = parser.value(option).toInt(&ok);
    if (!ok || v < minimum)
        throw UsageError{QStringLiteral("--%1 needs a whole number ≥ %2").arg(option.names().last()).arg(minimum)};
    return v;
}

NeedleEvalSettings evaluationSettings(const QCommandLineParser &parser)
{
    if (!parser.isSet(kLengthOption))
        throw UsageError{QStringLiteral("--length is required")};
    NeedleEvalSettings settings;
    settings.length = lengthOption(parser, kLengthOption, 2);
    settings.samples = wholeNumber(parser, kSamplesOption, 1);
    settings.seed = uint64_t(wholeNumber(parser, kSeedOption, 0));
    settings.corpus = parser.value(kCorpusOption);
    bool depthOk = false;
    settings.depth = parser.value(kDepthOption).toDouble(&depthOk);
    if (!depthOk || !(settings.depth >= 0 && settings.depth <= 1))  // NaN fails both
        throw UsageError{QStringLiteral("--depth needs a number between 0 and 1, got '%1'").arg(parser.value(kDepthOption))};
    return settings;
}

ModelOptions modelOptions(const QCommandLineParser &parser)
{
    ModelOptions options;
    options.device = checkedDevice(parser.value(kDeviceOption));
    options.dtype = checkedDtype(parser.value(kDtypeOption));
    return options;
}

QString modelDir(const QCommandLineParser &parser)
{
    // Without --model: the embedded tiny model, so every command works out of the box.
    return parser.isSet(kModelOption) ? parser.value(kModelOption) : embeddedModelDir();
}

EvaluationSetup loadEvaluationSetup(const QCommandLineParser &parser)
{
    EvaluationSetup setup;
    setup.settings = evaluationSettings(parser);
    const ModelOptions options = modelOptions(parser);
    setup.modelDir = modelDir(parser);
    setup.model = CausalLM::load(setup.modelDir, options);
    printWarnings(setup.model->ropeConfig());
    printWarnings(*setup.model);
    setup.tokenizer = loadModelTokenizer(setup.modelDir);
    return setup;
}

void printWarnings(const CausalLM &model)
{
    for (const QString &warning : model.warnings())
        err() << "ropescope-cli: warning: " << warning << "\n";
    err().flush();
}

} // namespace rs::cli

namespace rs::cli {

const QCommandLineOption kEngineOption(
    QStringList{QStringLiteral("engine")},
    QStringLiteral("Score and export factors as ENGINE runs the exported config: transformers (one attention factor at "
                   "every length, the default) or vllm (short_mscale / long_mscale)."),
    QStringLiteral("ENGINE"), QStringLiteral("transformers"));

Engine engineOption(const QCommandLineParser &parser)
{
    try {
        return parseEngine(parser.value(kEngineOption), QStringLiteral("--engine"));
    } catch (const Error &e) {
        throw UsageError{QStringLiteral("--engine: %1").arg(e.problem())};
    }
}

} // namespace rs::cli
