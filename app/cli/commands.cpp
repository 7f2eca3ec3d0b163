#include "clicommands.h"

#include "candidatescorer.h"
#include "comparison.h"
#include "embeddedmodel.h"
#include "configexport.h"
#include "error.h"
#include "evaluator.h"
#include "factorfamilies.h"
#include "factorfile.h"
#include "jsonarray.h"
#include "presets.h"
#include "ropeconfig.h"
#include "ropegeometry.h"
#include "search.h"
#include "tokenizer.h"
#include "trainer.h"

#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTextStream>

#include <cmath>
#include <cstdio>
#include <algorithm>
#include <optional>
#include <random>
#include <unistd.h>

namespace rs::cli {
namespace {

constexpr int kOk = 0;
constexpr int kBadInput = 1;
constexpr int kUsage = 2;

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

// Thrown for command-line mistakes (exit code 2), as opposed to rs::Error for bad files (1).
struct UsageError {
    QString message;
};

const QCommandLineOption kConfigOption({QStringLiteral("c"), QStringLiteral("config")},
                                       QStringLiteral("Hugging Face config.json to read."), QStringLiteral("PATH"));
const QCommandLineOption kPresetOption({QStringLiteral("p"), QStringLiteral("preset")},
                                       QStringLiteral("Shipped preset (see 'ropescope-cli presets')."),
                                       QStringLiteral("NAME"));
const QCommandLineOption kTargetOption({QStringLiteral("t"), QStringLiteral("target")},
                                       QStringLiteral("Target context length L in tokens (default: the config's own)."),
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
    return hasConfig ? loadRopeConfig(parser.value(kConfigOption)) : loadPreset(parser.value(kPresetOption));
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

// --target, else the preset's suggested target, else the config's own context.
double targetLength(const QCommandLineParser &parser, const RopeConfig &config)
{
    if (parser.isSet(kTargetOption))
        return positiveNumber(parser, kTargetOption);
    if (parser.isSet(kPresetOption))
        return presetInfo(parser.value(kPresetOption)).targetLength;
    return config.defaultTargetLength();
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

QString number(double v, int precision = 6)
{
    return QString::number(v, 'g', precision);
}

// Options shared by the commands that score factors with a model (eval, search).
const QCommandLineOption kModelOption(QStringLiteral("model"), QStringLiteral("Hugging Face model folder (default: the embedded model)."),
                                      QStringLiteral("DIR"));
const QCommandLineOption kLengthOption(QStringLiteral("length"), QStringLiteral("Tokens per sample."),
                                       QStringLiteral("L"));
const QCommandLineOption kSamplesOption(QStringLiteral("samples"), QStringLiteral("Number of samples (default 4)."),
                                        QStringLiteral("N"), QStringLiteral("4"));
const QCommandLineOption kDepthOption(QStringLiteral("depth"),
                                      QStringLiteral("Needle depth in the filler, 0…1 (default 0: near the start)."),
                                      QStringLiteral("F"), QStringLiteral("0"));
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

// A loaded model, its tokenizer and the needle samples' settings, from the shared options.
struct EvaluationSetup {
    QString modelDir;
    std::unique_ptr<CausalLM> model;
    ModelTokenizer tokenizer;
    NeedleEvalSettings settings;
};

EvaluationSetup loadEvaluationSetup(const QCommandLineParser &parser)
{
    if (!parser.isSet(kLengthOption))
        throw UsageError{QStringLiteral("--length is required")};
    EvaluationSetup setup;
    setup.settings.length = wholeNumber(parser, kLengthOption, 2);
    setup.settings.samples = wholeNumber(parser, kSamplesOption, 1);
    setup.settings.seed = uint64_t(wholeNumber(parser, kSeedOption, 0));
    setup.settings.corpus = parser.value(kCorpusOption);
    bool depthOk = false;
    setup.settings.depth = parser.value(kDepthOption).toDouble(&depthOk);
    if (!depthOk || setup.settings.depth < 0 || setup.settings.depth > 1)
        throw UsageError{QStringLiteral("--depth needs a number between 0 and 1")};
    ModelOptions options;
    options.device = parser.value(kDeviceOption);
    options.dtype = parser.value(kDtypeOption);
    // Without --model: the embedded tiny model, so every command works out of the box.
    setup.modelDir = parser.isSet(kModelOption) ? parser.value(kModelOption) : embeddedModelDir();
    setup.model = CausalLM::load(setup.modelDir, options);
    setup.tokenizer = loadModelTokenizer(setup.modelDir);
    return setup;
}

// Runs a command body, mapping errors to messages and exit codes.
template <typename Body>
int run(Body body)
{
    try {
        return body();
    } catch (const UsageError &e) {
        err() << "ropescope-cli: " << e.message << "\n";
        return kUsage;
    } catch (const Error &e) {
        err() << "ropescope-cli: " << e.message() << "\n";
        return kBadInput;
    }
}

} // namespace

int presets(const QStringList &args)
{
    return run([&] {
        QCommandLineParser parser;
        parser.addOption(kJsonOption);
        parseOrThrow(parser, args, QStringLiteral("List the shipped model presets."));
        const QList<PresetInfo> list = presetList();
        if (parser.isSet(kJsonOption)) {
            QJsonArray a;
            for (const PresetInfo &p : list)
                a.append(QJsonObject{{QStringLiteral("name"), p.name},
                                     {QStringLiteral("title"), p.title},
                                     {QStringLiteral("description"), p.description},
                                     {QStringLiteral("target_length"), p.targetLength}});
            out() << QJsonDocument(a).toJson(QJsonDocument::Indented);
        } else {
            for (const PresetInfo &p : list)
                out() << p.name.leftJustified(26) << p.title << "\n";
        }
        return kOk;
    });
}

int rope(const QStringList &args)
{
    return run([&] {
        QCommandLineParser parser;
        addModelOptions(parser);
        parser.addOption(kJsonOption);
        parser.addOption(kFactorsOption);
        parseOrThrow(parser, args,
                     QStringLiteral("Print a model's RoPE geometry: periods, rotations, the critical dimensions "
                                    "d_tcd and d_10, and the λ of each factor family at the target length."));
        const RopeConfig config = loadModel(parser);
        const double L = targetLength(parser, config);
        const RopeGeometry g = computeGeometry(config, L);
        const std::map<QString, FactorSet> families = standardFamilies(config, L);
        // The factors whose effect is shown: a user's file, else the config's own, else none.
        std::vector<double> lambda(size_t(g.pairs()), 1.0);
        if (parser.isSet(kFactorsOption))
            lambda = readFactorFile(parser.value(kFactorsOption), g.pairs());
        else if (auto own = families.find(QStringLiteral("config")); own != families.end())
            lambda = own->second.lambda;
        const std::vector<bool> ood = outOfDistribution(g, lambda);
        const std::vector<bool> oodOriginal = outOfDistribution(g, std::vector<double>(size_t(g.pairs()), 1.0));
        const NtkLeftFit fit = config.scaling.longFactor.empty() ? NtkLeftFit{} : detectNtkLeft(config.scaling.longFactor);

        if (parser.isSet(kJsonOption)) {
            QJsonObject fam, attention;
            for (const auto &[name, f] : families) {
                fam.insert(name, toJsonArray(f.lambda));
                attention.insert(name, f.attentionFactor);
            }
            QJsonArray oodList, oodOriginalList;
            for (int i = 0; i < g.pairs(); ++i) {
                if (ood[size_t(i)])
                    oodList.append(i);
                if (oodOriginal[size_t(i)])
                    oodOriginalList.append(i);
            }
            QJsonObject o{{QStringLiteral("source"), config.source},
                          {QStringLiteral("model_type"), config.modelType},
                          {QStringLiteral("head_dim"), config.headDim},
                          {QStringLiteral("rotary_dims"), config.rotaryDims},
                          {QStringLiteral("pairs"), g.pairs()},
                          {QStringLiteral("base"), config.base},
                          {QStringLiteral("rope_type"), config.scaling.type},
                          {QStringLiteral("max_position_embeddings"), config.maxPositionEmbeddings},
                          {QStringLiteral("original_max_position_embeddings"), config.trainLength},
                          {QStringLiteral("target_length"), L},
                          {QStringLiteral("scale"), g.scale},
                          {QStringLiteral("theta"), toJsonArray(g.theta)},
                          {QStringLiteral("periods"), toJsonArray(g.period)},
                          {QStringLiteral("rotations_train"), toJsonArray(g.rotationsTrain)},
                          {QStringLiteral("rotations_target"), toJsonArray(g.rotationsTarget)},
                          {QStringLiteral("d_tcd"), g.dTcd},
                          {QStringLiteral("d_10"), g.d10},
                          {QStringLiteral("families"), fam},
                          {QStringLiteral("attention_factors"), attention},
                          {QStringLiteral("lambda"), toJsonArray(lambda)},
                          {QStringLiteral("rescaled_periods"), toJsonArray(rescaledPeriods(g, lambda))},
                          {QStringLiteral("ood_dims"), oodList},
                          {QStringLiteral("ood_dims_original"), oodOriginalList}};
            if (fit.found)
                o.insert(QStringLiteral("ntk_left"), QJsonObject{{QStringLiteral("boundary"), fit.boundary},
                                                                 {QStringLiteral("lambda"), fit.lambdaAtBoundary},
                                                                 {QStringLiteral("max_relative_error"), fit.maxRelativeError}});
            out() << QJsonDocument(o).toJson(QJsonDocument::Indented);
            return kOk;
        }

        out() << "model        " << config.source << (config.modelType.isEmpty() ? "" : "  (" + config.modelType + ")") << "\n"
              << "rotary dims  d = " << config.rotaryDims << " (head_dim " << config.headDim << "), " << g.pairs()
              << " pairs, base b = " << number(config.base) << "\n"
              << "rope type    " << config.scaling.type << "\n"
              << "L_train      " << config.trainLength << "    target L = " << number(L, 10) << "    s = " << number(g.scale) << "\n"
              << "d_tcd        " << g.dTcd << "    d_10 = " << g.d10 << "\n";
        if (fit.found)
            out() << "NTK-left     long factors follow λ_i = λ_c^(i/c) up to c = " << fit.boundary
                  << " (λ_c = " << number(fit.lambdaAtBoundary) << ")\n";
        out() << "\n";
        QStringList header{QStringLiteral("dim"), QStringLiteral("period"), QStringLiteral("rot@Ltrain"),
                           QStringLiteral("rot@L"), QStringLiteral("lambda")};
        for (const auto &[name, f] : families)
            header << name;
        header << QStringLiteral("OOD");
        for (const QString &h : header)
            out() << h.rightJustified(11);
        out() << "\n";
        for (int i = 0; i < g.pairs(); ++i) {
            const size_t k = size_t(i);
            QStringList row{QString::number(i), number(g.period[k]), number(g.rotationsTrain[k], 4),
                            number(g.rotationsTarget[k], 4), number(lambda[k], 5)};
            for (const auto &[name, f] : families)
                row << number(f.lambda[k], 5);
            row << (ood[k] ? QStringLiteral("OOD") : QString());
            for (const QString &c : row)
                out() << c.rightJustified(11);
            out() << "\n";
        }
        return kOk;
    });
}

int factors(const QStringList &args)
{
    return run([&] {
        QCommandLineParser parser;
        addModelOptions(parser);
        parser.addOption(kDrcdOption);
        parser.addOption(kOutputOption);
        const QCommandLineOption family(QStringLiteral("family"),
                                        QStringLiteral("identity, pi, ntk, yarn, llama3, longrope2 or config."),
                                        QStringLiteral("NAME"));
        const QCommandLineOption upper(QStringLiteral("upper"),
                                       QStringLiteral("longrope2: λ for every dimension ≥ d_rcd (default: s)."),
                                       QStringLiteral("X"));
        parser.addOption(family);
        parser.addOption(upper);
        parseOrThrow(parser, args, QStringLiteral("Write the λ of a factor family as a LongRoPE factor file "
                                                  "(to stdout without -o)."));
        const RopeConfig config = loadModel(parser);
        const double L = targetLength(parser, config);
        const RopeGeometry g = computeGeometry(config, L);
        const QString name = parser.value(family);
        FactorSet f;
        if (name == QLatin1String("identity")) {
            f = identityFactors(config.rotaryDims);
        } else if (name == QLatin1String("longrope2")) {
            const double x = parser.isSet(upper) ? positiveNumber(parser, upper) : g.scale;
            f = longrope2Factors(config.rotaryDims, criticalDimension(parser, g), {x}, g.scale, config.trainLength);
        } else {
            const std::map<QString, FactorSet> families = standardFamilies(config, L);
            const auto it = families.find(name);
            if (it == families.end())
                throw UsageError{name == QLatin1String("config")
                                     ? QStringLiteral("the config has no rope scaling factors of its own")
                                     : QStringLiteral("--family needs identity, pi, ntk, yarn, llama3, longrope2 or config")};
            f = it->second;
        }
        if (parser.isSet(kOutputOption)) {
            writeFactorFile(parser.value(kOutputOption), f.lambda);
            err() << "wrote " << f.lambda.size() << " factors (" << f.name << ", attention factor "
                  << number(f.attentionFactor, 10) << ") to " << parser.value(kOutputOption) << "\n";
        } else {
            out() << formatFactorText(f.lambda);
        }
        return kOk;
    });
}

int check(const QStringList &args)
{
    return run([&] {
        QCommandLineParser parser;
        addModelOptions(parser);
        parser.addOption(kFactorsOption);
        parser.addOption(kDrcdOption);
        parseOrThrow(parser, args, QStringLiteral("Check a factor file: right length, finite, positive, monotone "
                                                  "non-decreasing, and λ ≥ s from d_rcd on. Exit 1 on a violation."));
        if (!parser.isSet(kFactorsOption))
            throw UsageError{QStringLiteral("--factors FILE is required")};
        const RopeConfig config = loadModel(parser);
        const double L = targetLength(parser, config);
        const RopeGeometry g = computeGeometry(config, L);
        const std::vector<double> lambda = readFactorFile(parser.value(kFactorsOption));
        const int dRcd = criticalDimension(parser, g);
        const auto violations = checkConstraints(lambda, g.pairs(), g.scale, dRcd);
        for (const ConstraintViolation &v : violations)
            out() << parser.value(kFactorsOption) << ": " << v.message << "\n";
        if (violations.empty())
            out() << parser.value(kFactorsOption) << ": ok (" << lambda.size() << " factors, s = " << number(g.scale)
                  << ", d_rcd = " << dRcd << ")\n";
        return violations.empty() ? kOk : kBadInput;
    });
}

int exportFactors(const QStringList &args)
{
    return run([&] {
        QCommandLineParser parser;
        addModelOptions(parser);
        parser.addOption(kFactorsOption);
        parser.addOption(kOutputOption);
        const QCommandLineOption format(QStringLiteral("format"),
                                        QStringLiteral("hf4 (transformers 4.x rope_scaling), hf5 (rope_parameters), "
                                                       "csv, or longrope (factor file)."),
                                        QStringLiteral("FORMAT"));
        const QCommandLineOption attention(QStringLiteral("attention-factor"),
                                           QStringLiteral("Write this attention_factor (default: leave it to the "
                                                          "loader's longrope default)."),
                                           QStringLiteral("A"));
        parser.addOption(format);
        parser.addOption(attention);
        parseOrThrow(parser, args, QStringLiteral("Export factors as a config.json carrying them as longrope "
                                                  "long_factor (every other key of the source config kept), "
                                                  "as CSV, or as a LongRoPE factor file."));
        for (const QCommandLineOption *required : {&kFactorsOption, &kOutputOption, &format, &kTargetOption})
            if (!parser.isSet(*required))
                throw UsageError{QStringLiteral("--%1 is required").arg(required->names().last())};
        const RopeConfig config = loadModel(parser);
        const double L = targetLength(parser, config);
        const std::vector<double> lambda = readFactorFile(parser.value(kFactorsOption), config.pairs());
        const QString fmt = parser.value(format);
        const QString path = parser.value(kOutputOption);
        if (fmt == QLatin1String("hf4") || fmt == QLatin1String("hf5")) {
            LongropeExport what;
            what.longFactor = lambda;
            what.targetLength = L;
            what.form = fmt == QLatin1String("hf4") ? ConfigForm::Hf4 : ConfigForm::Hf5;
            if (parser.isSet(attention))
                what.attentionFactor = positiveNumber(parser, attention);
            writeJsonFile(path, exportLongropeConfig(config, what));
        } else if (fmt == QLatin1String("csv")) {
            writeBytesFile(path, exportFactorsCsv(config, lambda, L));
        } else if (fmt == QLatin1String("longrope")) {
            writeFactorFile(path, lambda);
        } else {
            throw UsageError{QStringLiteral("--format needs hf4, hf5, csv or longrope, got '%1'").arg(fmt)};
        }
        err() << "wrote " << path << "\n";
        return kOk;
    });
}

int eval(const QStringList &args)
{
    return run([&] {
        QCommandLineParser parser;
        const QCommandLineOption method(QStringLiteral("method"),
                                        QStringLiteral("none (original RoPE), pi, ntk, yarn, llama3, or config (the "
                                                       "model's own RoPE; default)."),
                                        QStringLiteral("NAME"), QStringLiteral("config"));
        const QCommandLineOption attention(QStringLiteral("attention-factor"),
                                           QStringLiteral("With --factors: the attention factor (default: "
                                                          "longrope's sqrt(1 + ln s / ln L_train))."),
                                           QStringLiteral("A"));
        const QCommandLineOption passkey(QStringLiteral("passkey"),
                                         QStringLiteral("Also report passkey accuracy by greedy decoding."));
        addEvaluationOptions(parser);
        parser.addOptions({method, attention, passkey});
        parser.addOption(kFactorsOption);
        parser.addOption(kJsonOption);
        parseOrThrow(parser, args,
                     QStringLiteral("Needle-driven perplexity: the perplexity of the answer tokens of a needle planted "
                                    "near the start of a long document, asked for at its end (LongRoPE2 §3.2)."));
        const EvaluationSetup setup = loadEvaluationSetup(parser);
        const NeedleEvalSettings &settings = setup.settings;
        const std::unique_ptr<CausalLM> &lm = setup.model;
        const QString &dir = setup.modelDir;
        const RopeConfig &config = lm->ropeConfig();
        const double scale = double(settings.length) / config.trainLength;

        // The RoPE under test: a factor file, a family, or the model's own.
        std::optional<RopeOverride> rope;
        QString ropeName = parser.value(method);
        if (parser.isSet(kFactorsOption)) {
            if (parser.isSet(method))
                throw UsageError{QStringLiteral("give --factors or --method, not both")};
            ropeName = parser.value(kFactorsOption);
            rope = RopeOverride{readFactorFile(parser.value(kFactorsOption), config.pairs()),
                                parser.isSet(attention) ? positiveNumber(parser, attention)
                                                        : longropeAttentionFactor(scale, config.trainLength)};
        } else if (ropeName == QLatin1String("none")) {
            rope = RopeOverride{std::vector<double>(size_t(config.pairs()), 1.0), 1.0};
        } else if (ropeName != QLatin1String("config")) {
            const std::map<QString, FactorSet> families = standardFamilies(config, settings.length);
            const auto it = families.find(ropeName);
            if (it == families.end() || ropeName == QLatin1String("config"))
                throw UsageError{QStringLiteral("--method needs none, pi, ntk, yarn, llama3 or config")};
            rope = RopeOverride{it->second.lambda, it->second.attentionFactor};
        }

        const NeedleEvaluator evaluator(*lm, *setup.tokenizer.tokenizer, setup.tokenizer.bosId, settings);
        const bool drawProgress = isatty(fileno(stderr));
        const NeedleEvalResult result = evaluator.evaluate(rope ? &*rope : nullptr, {}, [&](int done, int total) {
            if (!drawProgress)
                return;
            const int width = 30;
            const int filled = width * done / total;
            err() << "\r[" << QString(filled, QLatin1Char('#')) << QString(width - filled, QLatin1Char(' ')) << "] "
                  << done << "/" << total << " samples" << (done == total ? "\n" : "");
            err().flush();
        });
        std::optional<double> passkeyAccuracy;
        if (parser.isSet(passkey))
            passkeyAccuracy = evaluator.passkeyAccuracy(rope ? &*rope : nullptr);

        if (parser.isSet(kJsonOption)) {
            QJsonArray perSample;
            for (size_t i = 0; i < result.perSamplePpl.size(); ++i) {
                const NeedleSample &s = evaluator.samples()[i];
                perSample.append(QJsonObject{{QStringLiteral("ppl"), result.perSamplePpl[i]},
                                             {QStringLiteral("nll"), result.perSampleNll[i]},
                                             {QStringLiteral("key"), s.key},
                                             {QStringLiteral("value"), s.value},
                                             {QStringLiteral("seed"), qint64(s.seed)},
                                             {QStringLiteral("answer_tokens"), int(s.answerPositions.size())}});
            }
            QJsonObject o{{QStringLiteral("mean_ppl"), result.meanPpl},
                          {QStringLiteral("per_sample"), perSample},
                          {QStringLiteral("length"), result.length},
                          {QStringLiteral("device"), result.device},
                          {QStringLiteral("dtype"), lm->dtype()},
                          {QStringLiteral("seconds"), result.seconds},
                          {QStringLiteral("rope"), ropeName},
                          {QStringLiteral("depth"), settings.depth},
                          {QStringLiteral("seed"), qint64(settings.seed)}};
            if (passkeyAccuracy)
                o.insert(QStringLiteral("passkey_accuracy"), *passkeyAccuracy);
            out() << QJsonDocument(o).toJson(QJsonDocument::Indented);
            return kOk;
        }
        out() << "model   " << dir << " (" << lm->architecture() << ", " << lm->device() << ", " << lm->dtype() << ")\n"
              << "rope    " << ropeName << "\n"
              << "length  " << result.length << " tokens, " << result.perSamplePpl.size() << " samples, depth "
              << number(settings.depth) << "\n\n";
        for (size_t i = 0; i < result.perSamplePpl.size(); ++i) {
            const NeedleSample &s = evaluator.samples()[i];
            out() << "sample " << i << "  " << s.key.leftJustified(20) << " " << s.value << "  needle PPL "
                  << number(result.perSamplePpl[i]) << "\n";
        }
        out() << "\nmean needle PPL " << number(result.meanPpl) << "  (" << number(result.seconds, 4) << " s)\n";
        if (passkeyAccuracy)
            out() << "passkey accuracy " << number(*passkeyAccuracy) << "\n";
        return kOk;
    });
}

int search(const QStringList &args)
{
    return run([&] {
        QCommandLineParser parser;
        const QCommandLineOption method(QStringLiteral("method"),
                                        QStringLiteral("longrope2 (d_rcd searched, NTK-left below; default) or "
                                                       "longrope (v1: every dimension searched)."),
                                        QStringLiteral("NAME"), QStringLiteral("longrope2"));
        const QCommandLineOption population(QStringLiteral("population"), QStringLiteral("Population (default 64)."),
                                            QStringLiteral("P"), QStringLiteral("64"));
        const QCommandLineOption iterations(QStringLiteral("iterations"),
                                            QStringLiteral("Generations after the first (default 40)."),
                                            QStringLiteral("N"), QStringLiteral("40"));
        const QCommandLineOption maxEvaluations(QStringLiteral("max-evaluations"),
                                                QStringLiteral("Stop after this many sample evaluations (one "
                                                               "candidate on one sample; default: no limit)."),
                                                QStringLiteral("N"), QStringLiteral("0"));
        const QCommandLineOption log(QStringLiteral("log"), QStringLiteral("Run log (JSON Lines) to write or resume."),
                                     QStringLiteral("RUN.jsonl"));
        const QCommandLineOption resume(QStringLiteral("resume"),
                                        QStringLiteral("Continue the run in --log: logged evaluations are not repeated."));
        const QCommandLineOption outFile({QStringLiteral("o"), QStringLiteral("out")},
                                         QStringLiteral("Write the best factors to this LongRoPE factor file (with "
                                                        "--search-attention-factor, the factor follows as a comment)."),
                                         QStringLiteral("FACTORS_FILE"));
        const QCommandLineOption racing(QStringLiteral("racing"),
                                        QStringLiteral("Race each generation over the samples (successive halving): "
                                                       "only the better part of the candidates goes on to the next "
                                                       "sample, so fewer sample evaluations are needed."));
        const QCommandLineOption racingKeep(QStringLiteral("racing-keep"),
                                            QStringLiteral("With --racing: fraction kept after each sample (default 0.5)."),
                                            QStringLiteral("F"), QStringLiteral("0.5"));
        const QCommandLineOption searchAttention(QStringLiteral("search-attention-factor"),
                                                 QStringLiteral("Search the attention factor (cos and sin multiplied by "
                                                                "it) too, instead of longrope's sqrt(1 + ln s / ln L_train)."));
        const QCommandLineOption attentionMin(QStringLiteral("attention-min"),
                                              QStringLiteral("Lower bound of the searched attention factor (default 1)."),
                                              QStringLiteral("A"), QStringLiteral("1"));
        const QCommandLineOption attentionMax(QStringLiteral("attention-max"),
                                              QStringLiteral("Upper bound of the searched attention factor (default 1.5)."),
                                              QStringLiteral("A"), QStringLiteral("1.5"));
        const QCommandLineOption replicaDevices(QStringLiteral("devices"),
                                                QStringLiteral("Comma-separated devices, one model replica each, over "
                                                               "which every generation's candidates are spread (default: "
                                                               "with --device cuda every visible GPU, else --device)."),
                                                QStringLiteral("LIST"));
        const QCommandLineOption candidateBatch(QStringLiteral("candidate-batch"),
                                                QStringLiteral("Candidates per batched forward on each replica, each "
                                                               "row with its own factors (default 8 on a GPU, 1 on the CPU)."),
                                                QStringLiteral("N"));
        addEvaluationOptions(parser);
        parser.addOptions({method, population, iterations, maxEvaluations, log, resume, outFile, racing, racingKeep,
                           searchAttention, attentionMin, attentionMax, replicaDevices, candidateBatch});
        parseOrThrow(parser, args,
                     QStringLiteral("Search rescale factors with needle-driven perplexity as the fitness. The last line "
                                    "of the run log holds the best factors and their needle PPL."));
        if (!parser.isSet(log))
            throw UsageError{QStringLiteral("--log RUN.jsonl is required")};
        const QString methodName = parser.value(method);
        if (methodName != QLatin1String("longrope2") && methodName != QLatin1String("longrope"))
            throw UsageError{QStringLiteral("--method needs longrope2 or longrope")};

        EvaluationSetup setup = loadEvaluationSetup(parser);
        const RopeConfig &config = setup.model->ropeConfig();
        SearchSettings settings;
        settings.method = methodName == QLatin1String("longrope2") ? SearchMethod::LongRoPE2 : SearchMethod::LongRoPEv1;
        settings.rotaryDims = config.rotaryDims;
        settings.base = config.base;
        settings.trainLength = config.trainLength;
        settings.targetLength = setup.settings.length;
        settings.population = wholeNumber(parser, population, 2);
        settings.iterations = wholeNumber(parser, iterations, 0);
        settings.maxEvaluations = wholeNumber(parser, maxEvaluations, 0);
        settings.seed = setup.settings.seed;
        settings.racing = parser.isSet(racing);
        settings.racingKeepFraction = positiveNumber(parser, racingKeep);
        settings.searchAttentionFactor = parser.isSet(searchAttention);
        settings.attentionFactorMin = positiveNumber(parser, attentionMin);
        settings.attentionFactorMax = positiveNumber(parser, attentionMax);
        if ((parser.isSet(racingKeep) && !settings.racing)
            || ((parser.isSet(attentionMin) || parser.isSet(attentionMax)) && !settings.searchAttentionFactor))
            throw UsageError{QStringLiteral("--racing-keep needs --racing; --attention-min/max need --search-attention-factor")};
        // Unless searched, candidates are scored as an exported longrope config would run them: with
        // longrope's default attention factor for this scale (the search's default).
        EvolutionSearch engine(settings);
        const double attention = engine.fixedAttentionFactor();

        // The first device is the one the model was loaded on; each further one gets a replica.
        QStringList devices = parser.isSet(replicaDevices)
                                  ? parser.value(replicaDevices).split(QLatin1Char(','), Qt::SkipEmptyParts)
                                  : CandidateScorer::defaultDevices(setup.model->device());
        if (devices.isEmpty())
            throw UsageError{QStringLiteral("--devices needs at least one device")};
        if (devices.front() != setup.model->device()) {
            ModelOptions first;
            first.device = devices.front();
            first.dtype = setup.model->dtype();
            setup.model.reset();  // one copy of the weights at a time
            setup.model = CausalLM::load(setup.modelDir, first);
        }
        devices.removeFirst();
        const CandidateScorer scorer(*setup.model, *setup.tokenizer.tokenizer, setup.tokenizer.bosId, setup.settings,
                                     setup.modelDir, devices);
        const int perReplica = parser.isSet(candidateBatch) ? wholeNumber(parser, candidateBatch, 1)
                                                            : CandidateScorer::defaultBatch(*setup.model);
        err() << "scoring on " << scorer.devices().join(QStringLiteral(", ")) << ", " << perReplica
              << " candidate(s) per forward and replica\n";
        SearchHooks hooks;
        hooks.logPath = parser.value(log);
        hooks.resume = parser.isSet(resume);
        hooks.context = QJsonObject{{QStringLiteral("model"), QFileInfo(setup.modelDir).absoluteFilePath()},
                                    {QStringLiteral("corpus"), setup.settings.corpus},
                                    {QStringLiteral("samples"), setup.settings.samples},
                                    {QStringLiteral("depth"), setup.settings.depth},
                                    {QStringLiteral("length"), setup.settings.length},
                                    {QStringLiteral("device"), setup.model->device()},
                                    {QStringLiteral("dtype"), setup.model->dtype()}};
        if (!settings.searchAttentionFactor)
            hooks.context.insert(QStringLiteral("attention_factor"), attention);
        QElapsedTimer clock;
        clock.start();
        hooks.onGeneration = [&](const GenerationReport &g) {
            const double seconds = clock.nsecsElapsed() / 1e9;
            err() << "generation " << g.generation << "/" << settings.iterations << "  best PPL "
                  << number(g.bestFitness) << "  median " << number(g.medianFitness)
                  << (g.bestDRcd >= 0 ? QStringLiteral("  d_rcd %1").arg(g.bestDRcd) : QString()) << "  evaluations "
                  << g.evaluations << " (+" << g.cacheHits << " cached)  "
                  << (settings.searchAttentionFactor ? QStringLiteral("attention %1  ").arg(number(g.bestAttentionFactor, 4))
                                                     : QString())
                  << number(g.evaluations / std::max(seconds, 1e-9), 3) << "/s\n";
            err().flush();
        };
        // One sample's needle PPL; a candidate's fitness is the mean over the samples, which is
        // NeedleEvaluator::evaluate's mean PPL.
        const SearchResult result = engine.run(scorer.fitness(perReplica), hooks);
        if (parser.isSet(outFile)) {
            QByteArray text = formatFactorText(result.bestLambda);
            if (settings.searchAttentionFactor)
                text += "# attention factor " + QByteArray::number(result.bestAttentionFactor, 'g', 17)
                        + " (eval --attention-factor)\n";
            writeBytesFile(parser.value(outFile), text);
        }
        out() << "best needle PPL " << number(result.bestFitness)
              << (result.bestDRcd >= 0 ? QStringLiteral("  d_rcd %1").arg(result.bestDRcd) : QString())
              << (settings.searchAttentionFactor ? QStringLiteral("  attention factor %1").arg(number(result.bestAttentionFactor))
                                                 : QString())
              << "  (" << stopReasonName(result.stopReason) << ", " << result.evaluations << " evaluations, "
              << result.cacheHits << " from the cache, " << result.generations << " generations)\n";
        const int full = result.samples * result.candidates;
        out() << "sample evaluations " << result.sampleEvaluations << " of " << full << " (" << result.candidates
              << " candidates × " << result.samples << " samples); saved " << result.savedEvaluations() << " ("
              << number(full > 0 ? 100.0 * result.savedEvaluations() / full : 0.0, 3) << "%)\n";
        if (parser.isSet(outFile))
            out() << "factors written to " << parser.value(outFile) << "\n";
        return kOk;
    });
}

int bench(const QStringList &args)
{
    return run([&] {
        QCommandLineParser parser;
        const QCommandLineOption shape(QStringLiteral("config"),
                                       QStringLiteral("config.json of the shape to benchmark with random weights "
                                                      "(e.g. bench/shapes/llama3-8b.json)."),
                                       QStringLiteral("PATH"));
        const QCommandLineOption lengths(QStringLiteral("lengths"),
                                         QStringLiteral("Comma-separated sample lengths in tokens (default 8192)."),
                                         QStringLiteral("L,..."), QStringLiteral("8192"));
        const QCommandLineOption answers(QStringLiteral("answers"),
                                         QStringLiteral("Answer tokens scored per sample (LM head rows; default 64)."),
                                         QStringLiteral("N"), QStringLiteral("64"));
        const QCommandLineOption warmup(QStringLiteral("warmup"),
                                        QStringLiteral("Untimed runs per length (default 1)."), QStringLiteral("N"),
                                        QStringLiteral("1"));
        const QCommandLineOption repeats(QStringLiteral("repeats"),
                                         QStringLiteral("Timed runs per length; the median is reported (default 3)."),
                                         QStringLiteral("N"), QStringLiteral("3"));
        const QCommandLineOption peak(QStringLiteral("peak-tflops"),
                                      QStringLiteral("The device's dense matrix peak, for the % column (default 790, "
                                                     "an H100/H200's measured bf16 GEMM rate)."),
                                      QStringLiteral("TFLOPS"), QStringLiteral("790"));
        const QCommandLineOption candidates(QStringLiteral("candidates"),
                                            QStringLiteral("Also score K candidates (each its own λ) per length: in one "
                                                           "batched forward and one by one, side by side (default 1: "
                                                           "off)."),
                                            QStringLiteral("K"), QStringLiteral("1"));
        parser.addOptions({shape, lengths, answers, warmup, repeats, peak, candidates, kModelOption, kDeviceOption,
                           kDtypeOption, kSeedOption, kJsonOption});
        parseOrThrow(parser, args,
                     QStringLiteral("Time needle-PPL evaluation (forward to the last answer token, final norm and LM "
                                    "head only at the answer tokens) on random tokens: ms per sample, model TFLOP/s, "
                                    "% of peak and peak device memory. The same engine call the evaluator makes."));
        if (parser.isSet(shape) == parser.isSet(kModelOption))
            throw UsageError{QStringLiteral("give --config (random weights of that shape) or --model (a checkpoint)")};
        std::vector<int> lengthList;
        for (const QString &part : parser.value(lengths).split(QLatin1Char(','), Qt::SkipEmptyParts)) {
            bool ok = false;
            const int v = part.trimmed().toInt(&ok);
            if (!ok || v < 2)
                throw UsageError{QStringLiteral("--lengths needs whole numbers ≥ 2, got \"%1\"").arg(part)};
            lengthList.push_back(v);
        }
        const int answerCount = wholeNumber(parser, answers, 1);
        const int warmupRuns = wholeNumber(parser, warmup, 0);
        const int timedRuns = wholeNumber(parser, repeats, 1);
        const double peakTflops = positiveNumber(parser, peak);
        const uint64_t seed = uint64_t(wholeNumber(parser, kSeedOption, 0));
        const int candidateCount = wholeNumber(parser, candidates, 1);

        ModelOptions options;
        options.device = parser.value(kDeviceOption);
        options.dtype = parser.value(kDtypeOption);
        QElapsedTimer loadClock;
        loadClock.start();
        std::unique_ptr<CausalLM> lm;
        QString name;
        if (parser.isSet(shape)) {
            name = parser.value(shape);
            QFile file(name);
            if (!file.open(QIODevice::ReadOnly))
                throw Error(name, QStringLiteral("cannot open: %1").arg(file.errorString()));
            QJsonParseError parseError;
            const QJsonDocument doc = QJsonDocument::fromJson(file.readAll(), &parseError);
            if (!doc.isObject())
                throw Error(name, QStringLiteral("not a JSON object: %1").arg(parseError.errorString()));
            lm = CausalLM::createRandom(doc.object(), options, seed, name);
        } else {
            name = parser.value(kModelOption);
            lm = CausalLM::load(name, options);
        }
        const double loadSeconds = loadClock.nsecsElapsed() / 1e9;
        const double weightGiB = double(lm->weightBytes()) / double(int64_t(1) << 30);
        const bool json = parser.isSet(kJsonOption);
        if (!json)
            out() << "model   " << name << " (" << lm->architecture() << ", " << lm->numLayers() << " layers, hidden "
                  << lm->hiddenSize() << ", " << lm->device() << ", " << lm->dtype() << ", weights "
                  << number(weightGiB, 4) << " GiB, ready in " << number(loadSeconds, 3) << " s)\n\n"
                  << QStringLiteral("%1 %2 %3 %4 %5 %6\n")
                         .arg(QStringLiteral("tokens"), 8)
                         .arg(QStringLiteral("ms/sample"), 10)
                         .arg(QStringLiteral("min ms"), 9)
                         .arg(QStringLiteral("TFLOP/s"), 8)
                         .arg(QStringLiteral("% peak"), 7)
                         .arg(QStringLiteral("peak GiB"), 9);
        out().flush();

        // Milliseconds of each timed run after the warm-up runs, sorted; and their median.
        const auto timeRuns = [&](const std::function<void()> &work) {
            std::vector<double> ms;
            for (int r = 0; r < warmupRuns + timedRuns; ++r) {
                QElapsedTimer clock;
                clock.start();
                work();  // every call returns its NLL to the host, so the device is synchronised
                if (r >= warmupRuns)
                    ms.push_back(clock.nsecsElapsed() / 1e6);
            }
            std::sort(ms.begin(), ms.end());
            return ms;
        };
        const auto median = [](const std::vector<double> &sorted) {
            const size_t n = sorted.size();
            return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
        };

        std::mt19937_64 rng(seed);
        for (const int length : lengthList) {
            const int scored = std::min(answerCount, length - 1);
            std::vector<int> ids(static_cast<size_t>(length));
            std::uniform_int_distribution<int> token(0, lm->vocabSize() - 1);
            for (int &id : ids)
                id = token(rng);
            // The needle's answer sits at the end of the sample, as in the needle template.
            std::vector<int> targets;
            for (int p = length - scored; p < length; ++p)
                targets.push_back(p);
            QJsonObject row{{QStringLiteral("tokens"), length}, {QStringLiteral("answers"), scored},
                            {QStringLiteral("device"), lm->device()}, {QStringLiteral("dtype"), lm->dtype()},
                            {QStringLiteral("weights_gib"), weightGiB}};
            try {
                lm->resetPeakDeviceMemory();
                const std::vector<double> ms = timeRuns([&] {
                    const std::vector<double> nll = lm->targetNll(ids, targets);
                    if (nll.size() != targets.size() || !std::isfinite(nll.front()))
                        throw Error(name, QStringLiteral("the evaluation returned no finite NLL"));
                });
                const double medianMs = median(ms);
                // The forward runs up to the token before the last answer: length − 1 tokens.
                const double flops = lm->forwardFlops(length - 1, scored);
                const double tflops = flops / (medianMs / 1e3) / 1e12;
                const int64_t peakBytes = lm->peakDeviceMemory();
                row.insert(QStringLiteral("ms"), medianMs);
                row.insert(QStringLiteral("min_ms"), ms.front());
                row.insert(QStringLiteral("flops"), flops);
                row.insert(QStringLiteral("tflops"), tflops);
                row.insert(QStringLiteral("percent_of_peak"), 100 * tflops / peakTflops);
                if (peakBytes >= 0)
                    row.insert(QStringLiteral("peak_gib"), double(peakBytes) / double(int64_t(1) << 30));
                if (candidateCount > 1) {
                    // Distinct candidates: PI-like factors spread around s = 2, attention factor 1.
                    std::vector<RopeOverride> ropes;
                    const size_t pairs = size_t(lm->ropeConfig().pairs());
                    for (int k = 0; k < candidateCount; ++k)
                        ropes.push_back({std::vector<double>(pairs, 1.5 + double(k) / candidateCount), 1.0});
                    const double batchedMs = median(timeRuns([&] { lm->targetNllBatch(ids, targets, ropes); }));
                    const double oneByOneMs = median(timeRuns([&] {
                        for (const RopeOverride &r : ropes)
                            lm->targetNll(ids, targets, &r);
                    }));
                    row.insert(QStringLiteral("candidates"), candidateCount);
                    row.insert(QStringLiteral("batched_ms"), batchedMs);
                    row.insert(QStringLiteral("one_by_one_ms"), oneByOneMs);
                    row.insert(QStringLiteral("candidates_per_s"), candidateCount / (batchedMs / 1e3));
                    row.insert(QStringLiteral("one_by_one_candidates_per_s"), candidateCount / (oneByOneMs / 1e3));
                    if (!json)
                        err() << QStringLiteral("%1 tokens, %2 candidates: batched %3 candidates/s, one by one %4/s (%5×)\n")
                                     .arg(length)
                                     .arg(candidateCount)
                                     .arg(candidateCount / (batchedMs / 1e3), 0, 'f', 2)
                                     .arg(candidateCount / (oneByOneMs / 1e3), 0, 'f', 2)
                                     .arg(oneByOneMs / batchedMs, 0, 'f', 2);
                }
                if (!json)
                    out() << QStringLiteral("%1 %2 %3 %4 %5 %6\n")
                                 .arg(length, 8)
                                 .arg(medianMs, 10, 'f', 1)
                                 .arg(ms.front(), 9, 'f', 1)
                                 .arg(tflops, 8, 'f', 1)
                                 .arg(100 * tflops / peakTflops, 7, 'f', 1)
                                 .arg(peakBytes >= 0 ? QString::number(double(peakBytes) / double(int64_t(1) << 30), 'f', 2)
                                                     : QStringLiteral("n/a"),
                                      9);
            } catch (const Error &e) {
                // Out of memory at one length says something; the lengths after it still run.
                row.insert(QStringLiteral("error"), e.message());
                if (!json)
                    out() << QStringLiteral("%1 ").arg(length, 8) << e.message() << "\n";
            }
            if (json)
                out() << QJsonDocument(row).toJson(QJsonDocument::Compact) << "\n";
            out().flush();
        }
        return kOk;
    });
}

int table(const QStringList &args)
{
    return run([&] {
        QCommandLineParser parser;
        const QCommandLineOption factorsOption(QStringLiteral("factors"),
                                               QStringLiteral("LongRoPE2 factors searched for the target (factor file); "
                                                              "adds the 'LongRoPE2' row."),
                                               QStringLiteral("FILE"));
        const QCommandLineOption finetuned(QStringLiteral("finetuned"),
                                           QStringLiteral("Model folder after mixed context window fine-tuning (its "
                                                          "config carries the longrope factors); adds the last row."),
                                           QStringLiteral("DIR"));
        const QCommandLineOption multiples(QStringLiteral("multiples"),
                                           QStringLiteral("Sample lengths as multiples of L_train (default 1,2,4,8)."),
                                           QStringLiteral("M,..."), QStringLiteral("1,2,4,8"));
        const QCommandLineOption target(QStringLiteral("target-multiple"),
                                        QStringLiteral("The extension target s = L / L_train every method is set up for "
                                                       "(default: the largest multiple)."),
                                        QStringLiteral("S"));
        const QCommandLineOption noPasskey(QStringLiteral("no-passkey"), QStringLiteral("Skip passkey accuracy."));
        const QCommandLineOption samplesOption(QStringLiteral("samples"),
                                               QStringLiteral("Needle samples per cell (default 8)."),
                                               QStringLiteral("N"), QStringLiteral("8"));
        const QCommandLineOption seedOption(QStringLiteral("seed"),
                                            QStringLiteral("Seed of the needle samples (default 1000, away from the "
                                                           "search's samples)."),
                                            QStringLiteral("S"), QStringLiteral("1000"));
        parser.addOptions({kModelOption, factorsOption, finetuned, multiples, target, noPasskey, samplesOption,
                           seedOption, kDeviceOption, kDtypeOption, kCorpusOption, kJsonOption});
        parseOrThrow(parser, args,
                     QStringLiteral("The paper's comparison in miniature: needle PPL / passkey accuracy of the original "
                                    "RoPE, PI, NTK, YaRN, LongRoPE2 factors and LongRoPE2 + mixed-window fine-tuning at "
                                    "multiples of L_train, and short-context perplexity as a share of the original's. "
                                    "Prints a Markdown table."));
        ModelOptions options;
        options.device = parser.value(kDeviceOption);
        options.dtype = parser.value(kDtypeOption);
        const QString modelDir = parser.isSet(kModelOption) ? parser.value(kModelOption) : embeddedModelDir();
        const std::unique_ptr<CausalLM> base = CausalLM::load(modelDir, options);
        const ModelTokenizer tok = loadModelTokenizer(modelDir);
        const RopeConfig &config = base->ropeConfig();
        const int trainLength = int(config.trainLength);

        std::vector<int> lengths;
        for (const QString &part : parser.value(multiples).split(QLatin1Char(','), Qt::SkipEmptyParts)) {
            bool ok = false;
            const double m = part.trimmed().toDouble(&ok);
            if (!ok || m <= 0)
                throw UsageError{QStringLiteral("--multiples needs positive numbers, got \"%1\"").arg(part)};
            lengths.push_back(int(std::lround(m * trainLength)));
        }
        if (lengths.empty())
            throw UsageError{QStringLiteral("--multiples needs at least one value")};
        const double s = parser.isSet(target) ? positiveNumber(parser, target)
                                              : double(*std::max_element(lengths.begin(), lengths.end())) / trainLength;
        const double targetLength = s * trainLength;

        const std::vector<double> identity(size_t(config.pairs()), 1.0);
        const std::map<QString, FactorSet> families = standardFamilies(config, targetLength);
        std::vector<ComparedMethod> methods;
        const auto staticRope = [](std::vector<double> lambda, double attention) {
            return [lambda, attention](int) { return std::optional<RopeOverride>(RopeOverride{lambda, attention}); };
        };
        methods.push_back({QStringLiteral("original RoPE"), base.get(), staticRope(identity, 1.0)});
        for (const auto &[key, label] : {std::pair{"pi", "PI"}, std::pair{"ntk", "NTK"}, std::pair{"yarn", "YaRN"}}) {
            const FactorSet &f = families.at(QString::fromLatin1(key));
            methods.push_back({QString::fromLatin1(label), base.get(), staticRope(f.lambda, f.attentionFactor)});
        }
        if (parser.isSet(factorsOption)) {
            // Deployed as a longrope config: original RoPE up to L_train, the factors beyond.
            const std::vector<double> searched = readFactorFile(parser.value(factorsOption), config.pairs());
            const double attention = longropeAttentionFactor(s, config.trainLength);
            methods.push_back({QStringLiteral("LongRoPE2"), base.get(), [=](int length) {
                                   return std::optional<RopeOverride>(length <= trainLength ? RopeOverride{identity, 1.0}
                                                                                            : RopeOverride{searched, attention});
                               }});
        }
        std::unique_ptr<CausalLM> tuned;
        if (parser.isSet(finetuned)) {
            tuned = CausalLM::load(parser.value(finetuned), options);
            if (tuned->ropeConfig().pairs() != config.pairs())
                throw Error(parser.value(finetuned), QStringLiteral("has a different rotary size than the base model"));
            methods.push_back({QStringLiteral("LongRoPE2 + mixed-window FT"), tuned.get(), {}});
        }

        ComparisonSettings settings;
        settings.lengths = lengths;
        settings.samples = wholeNumber(parser, samplesOption, 1);
        settings.seed = uint64_t(wholeNumber(parser, seedOption, 0));
        settings.corpus = parser.value(kCorpusOption);
        settings.passkey = !parser.isSet(noPasskey);
        // Held-out short-context text: generated prose from a seed no needle sample uses.
        settings.heldOutIds = tok.tokenizer->encode(generateFillerText(8 * trainLength * 4, 987654321));
        settings.heldOutIds.resize(std::min<size_t>(settings.heldOutIds.size(), size_t(8 * trainLength)));
        settings.shortWindow = trainLength;
        const ComparisonTable result = compareMethods(methods, *tok.tokenizer, tok.bosId, settings, [](const QString &line) {
            err() << line << "\n";
            err().flush();
        });
        if (parser.isSet(kJsonOption)) {
            QJsonArray rows;
            for (const ComparisonRow &row : result.rows) {
                QJsonArray cells;
                for (size_t i = 0; i < row.cells.size(); ++i)
                    cells.append(QJsonObject{{QStringLiteral("length"), result.lengths[i]},
                                             {QStringLiteral("needle_ppl"), row.cells[i].needlePpl},
                                             {QStringLiteral("passkey_accuracy"), row.cells[i].passkeyAccuracy}});
                rows.append(QJsonObject{{QStringLiteral("method"), row.method},
                                        {QStringLiteral("cells"), cells},
                                        {QStringLiteral("short_ppl"), row.shortPpl},
                                        {QStringLiteral("short_retention_percent"), row.shortRetention}});
            }
            out() << QJsonDocument(QJsonObject{{QStringLiteral("train_length"), trainLength},
                                               {QStringLiteral("target_length"), targetLength},
                                               {QStringLiteral("rows"), rows},
                                               {QStringLiteral("seconds"), result.seconds}})
                         .toJson(QJsonDocument::Indented);
            return kOk;
        }
        out() << "model " << modelDir << ", L_train " << trainLength << ", methods set up for L = " << targetLength
              << " (s = " << number(s) << "), " << settings.samples << " needle samples per cell; cells: needle PPL / "
              << "passkey accuracy; short retention = original's short-context PPL / the method's\n\n"
              << result.markdown(trainLength);
        return kOk;
    });
}

int train(const QStringList &args)
{
    return run([&] {
        QCommandLineParser parser;
        const QCommandLineOption config(QStringLiteral("config"),
                                        QStringLiteral("config.json of a new model to pretrain from scratch."),
                                        QStringLiteral("CONFIG.json"));
        const QCommandLineOption init(QStringLiteral("init"), QStringLiteral("Hugging Face model folder to start from."),
                                      QStringLiteral("DIR"));
        const QCommandLineOption outDir(QStringLiteral("out"), QStringLiteral("Folder to write the trained model to."),
                                        QStringLiteral("DIR"));
        const QCommandLineOption tokenizer(QStringLiteral("tokenizer"),
                                           QStringLiteral("tokenizer.json to train with and copy (default: --init's)."),
                                           QStringLiteral("FILE"));
        const QCommandLineOption steps(QStringLiteral("steps"), QStringLiteral("Optimizer steps (default 200)."),
                                       QStringLiteral("N"), QStringLiteral("200"));
        const QCommandLineOption batch(QStringLiteral("batch"), QStringLiteral("Rows per step (default 8)."),
                                       QStringLiteral("N"), QStringLiteral("8"));
        const QCommandLineOption seqLen(QStringLiteral("seq-len"),
                                        QStringLiteral("Tokens per row (default 512; ignored with --mixed-window, "
                                                       "whose rows have --target-length tokens)."),
                                        QStringLiteral("T"), QStringLiteral("512"));
        const QCommandLineOption lr(QStringLiteral("lr"), QStringLiteral("Peak learning rate (default 1e-3)."),
                                    QStringLiteral("LR"), QStringLiteral("1e-3"));
        const QCommandLineOption minLr(QStringLiteral("min-lr-ratio"),
                                       QStringLiteral("Cosine floor as a fraction of --lr (default 0.1)."),
                                       QStringLiteral("F"), QStringLiteral("0.1"));
        const QCommandLineOption warmup(QStringLiteral("warmup"), QStringLiteral("Linear warmup steps (default 20)."),
                                        QStringLiteral("N"), QStringLiteral("20"));
        const QCommandLineOption weightDecay(QStringLiteral("weight-decay"),
                                             QStringLiteral("AdamW weight decay on matrices (default 0.1)."),
                                             QStringLiteral("W"), QStringLiteral("0.1"));
        const QCommandLineOption clip(QStringLiteral("clip"),
                                      QStringLiteral("Gradient norm limit; 0 disables clipping (default 1)."),
                                      QStringLiteral("C"), QStringLiteral("1"));
        const QCommandLineOption trainSeed(QStringLiteral("seed"), QStringLiteral("Seed of weights and data (default 0)."),
                                           QStringLiteral("S"), QStringLiteral("0"));
        const QCommandLineOption needles(QStringLiteral("needle-fraction"),
                                         QStringLiteral("Share of documents carrying a needle (default 0.5)."),
                                         QStringLiteral("F"), QStringLiteral("0.5"));
        const QCommandLineOption drill(QStringLiteral("drill-fraction"),
                                       QStringLiteral("Share of needle documents written as a retrieval drill: up to "
                                                      "4 needles, then their questions (default 0)."),
                                       QStringLiteral("F"), QStringLiteral("0"));
        const QCommandLineOption answerWeight(QStringLiteral("answer-weight"),
                                              QStringLiteral("Loss weight of needle answer tokens relative to the "
                                                             "rest (default 1)."),
                                              QStringLiteral("W"), QStringLiteral("1"));
        const QCommandLineOption saveDtype(QStringLiteral("save-dtype"),
                                           QStringLiteral("Storage dtype: float32 or bfloat16 (default float32)."),
                                           QStringLiteral("T"), QStringLiteral("float32"));
        const QCommandLineOption mixed(QStringLiteral("mixed-window"),
                                       QStringLiteral("Mixed context window fine-tuning (LongRoPE2 §3.3): needs --init, "
                                                      "--factors and --target-length."));
        const QCommandLineOption attention(QStringLiteral("attention-factor"),
                                           QStringLiteral("Attention factor of the long RoPE (default: longrope's "
                                                          "sqrt(1 + ln s / ln L_train))."),
                                           QStringLiteral("A"));
        const QCommandLineOption targetLength(QStringLiteral("target-length"),
                                              QStringLiteral("Target context length L (the rows' length) with --mixed-window."),
                                              QStringLiteral("L"));
        const QCommandLineOption longFraction(QStringLiteral("long-fraction"),
                                              QStringLiteral("With --mixed-window: share of rows holding a long "
                                                             "document (default 0.5)."),
                                              QStringLiteral("F"), QStringLiteral("0.5"));
        const QCommandLineOption originalShort(QStringLiteral("original-short-rope"),
                                               QStringLiteral("With --mixed-window: short documents without the "
                                                              "attention factor (the runtime applies it to both)."));
        const QCommandLineOption logEvery(QStringLiteral("log-every"),
                                          QStringLiteral("Print progress every N steps (default 10)."),
                                          QStringLiteral("N"), QStringLiteral("10"));
        const QCommandLineOption trainDevice(QStringLiteral("device"), QStringLiteral("cpu or cuda (default cpu)."),
                                             QStringLiteral("DEV"), QStringLiteral("cpu"));
        parser.addOptions({config, init, outDir, tokenizer, steps, batch, seqLen, lr, minLr, warmup, weightDecay, clip,
                           trainSeed, kCorpusOption, needles, drill, answerWeight, saveDtype, mixed, kFactorsOption, attention, targetLength,
                           longFraction, originalShort, logEvery, trainDevice});
        parseOrThrow(parser, args,
                     QStringLiteral("Pretrain a small Llama-family model from scratch on built-in English-like text "
                                    "with needles (or a corpus), or fine-tune one with LongRoPE2's mixed context "
                                    "window training; writes a Hugging Face folder."));
        if (parser.isSet(config) == parser.isSet(init))
            throw UsageError{QStringLiteral("give --config CONFIG.json (new model) or --init DIR (existing model)")};
        if (!parser.isSet(outDir))
            throw UsageError{QStringLiteral("--out DIR is required")};
        if (parser.isSet(config) && !parser.isSet(tokenizer))
            throw UsageError{QStringLiteral("--tokenizer tokenizer.json is required with --config")};
        const auto ranged = [&](const QCommandLineOption &option, double lo, double hi) {
            bool ok = false;
            const double v = parser.value(option).toDouble(&ok);
            if (!ok || !std::isfinite(v) || v < lo || v > hi)
                throw UsageError{QStringLiteral("--%1 needs a number in [%2, %3], got '%4'")
                                     .arg(option.names().last()).arg(lo).arg(hi).arg(parser.value(option))};
            return v;
        };
        TrainOptions o;
        o.steps = wholeNumber(parser, steps, 1);
        o.batch = wholeNumber(parser, batch, 1);
        o.seqLen = wholeNumber(parser, seqLen, 2);
        o.lr = positiveNumber(parser, lr);
        o.minLrRatio = ranged(minLr, 0, 1);
        o.warmup = wholeNumber(parser, warmup, 0);
        o.weightDecay = ranged(weightDecay, 0, 1e9);
        o.clip = ranged(clip, 0, 1e30);
        o.seed = uint64_t(wholeNumber(parser, trainSeed, 0));
        o.corpus.path = parser.value(kCorpusOption);
        o.corpus.needleFraction = ranged(needles, 0, 1);
        o.corpus.drillFraction = ranged(drill, 0, 1);
        o.answerWeight = ranged(answerWeight, 1e-6, 1e6);
        o.device = parser.value(trainDevice);
        o.tokenizerPath = parser.value(tokenizer);
        const QString dtype = parser.value(saveDtype).toLower();
        if (dtype != QLatin1String("float32") && dtype != QLatin1String("bfloat16"))
            throw UsageError{QStringLiteral("--save-dtype needs float32 or bfloat16")};
        const int every = wholeNumber(parser, logEvery, 1);
        if (parser.isSet(mixed)) {
            if (!parser.isSet(init) || !parser.isSet(kFactorsOption) || !parser.isSet(targetLength))
                throw UsageError{QStringLiteral("--mixed-window needs --init, --factors and --target-length")};
            o.mixedWindow = true;
            o.seqLen = wholeNumber(parser, targetLength, 2);
            o.longFactors = readFactorFile(parser.value(kFactorsOption));
            if (parser.isSet(attention))
                o.attentionFactor = positiveNumber(parser, attention);
            o.longFraction = ranged(longFraction, 1e-9, 1);
            o.originalShortRope = parser.isSet(originalShort);
        } else if (parser.isSet(kFactorsOption) || parser.isSet(targetLength) || parser.isSet(attention) ||
                   parser.isSet(originalShort)) {
            throw UsageError{QStringLiteral("--factors, --target-length, --attention-factor and --original-short-rope "
                                            "need --mixed-window")};
        }
        if (parser.isSet(config)) {
            o.configSource = parser.value(config);
            QFile file(o.configSource);
            if (!file.open(QIODevice::ReadOnly))
                throw Error(o.configSource, QStringLiteral("cannot open: %1").arg(file.errorString()));
            QJsonParseError parseError;
            const QJsonDocument doc = QJsonDocument::fromJson(file.readAll(), &parseError);
            if (!doc.isObject())
                throw Error(o.configSource, QStringLiteral("not a JSON object: %1").arg(parseError.errorString()));
            o.config = doc.object();
        } else {
            o.initDir = parser.value(init);
        }

        Trainer trainer(o);
        const CausalLM &lm = trainer.model();
        err() << "train   " << (o.initDir.isEmpty() ? o.configSource : o.initDir) << " (" << lm.architecture() << ", "
              << lm.numLayers() << " layers, hidden " << lm.hiddenSize() << ", "
              << number(double(lm.weightBytes()) / 4e6, 4) << "M parameters, " << lm.device() << ")\n"
              << "data    " << trainer.corpus().description() << ", rows of " << o.seqLen << " tokens, batch "
              << o.batch << (o.mixedWindow ? QStringLiteral(", mixed windows (L_train %1)").arg(trainer.packing().maxShortTokens)
                                           : QString())
              << "\n";
        err().flush();
        const TrainResult r = trainer.run([&](const TrainProgress &p) {
            if (p.step % every == 0 || p.step == p.steps || p.step == 1) {
                // The answer loss is what retrieval lowers: about ln 10 = 2.30 per digit while the
                // model guesses, towards 0 once it copies the needle's value.
                const QString answer = std::isfinite(p.answerLoss) ? QStringLiteral("  answer %1").arg(p.answerLoss, 0, 'f', 3)
                                                                   : QString();
                err() << QStringLiteral("step %1/%2  loss %3%7  lr %4  grad %5  %6 tok/s\n")
                             .arg(p.step).arg(p.steps)
                             .arg(p.loss, 0, 'f', 4)
                             .arg(p.lr, 0, 'g', 3)
                             .arg(p.gradNorm, 0, 'f', 3)
                             .arg(p.tokensPerSecond, 0, 'f', 0)
                             .arg(answer);
                err().flush();
            }
        });
        trainer.save(parser.value(outDir), dtype);
        err() << "saved   " << parser.value(outDir) << " after " << r.steps << " steps, " << number(r.seconds, 4)
              << " s, " << number(r.tokensPerSecond, 4) << " tok/s\n";
        return kOk;
    });
}

} // namespace rs::cli
