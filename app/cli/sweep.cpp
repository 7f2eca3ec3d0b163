// ropescope-cli sweep: the evaluation workbench headless — methods × context lengths (needle PPL,
// held-out perplexity) and the needle-in-a-haystack heatmap (depth × length → passkey accuracy and
// needle PPL), every figure with its interval; saved as JSON or CSV and re-openable.
#include "commands.h"
#include "common/counting.h"
#include "options.h"

#include "common/error.h"
#include "common/savefile.h"
#include "eval/sweep.h"
#include "eval/sweepresult.h"
#include "rope/factorfile.h"
#include "rope/ropeconfig.h"
#include "runtime/embeddedmodel.h"
#include "runtime/model.h"
#include "runtime/tokenizer.h"

#include <QFileInfo>
#include <QJsonDocument>

#include <algorithm>
#include <cmath>
#include <memory>

namespace rs::cli {
namespace {

constexpr int kMaxResamples = 10'000'000;

// The labels of the named methods, as the table and the GUI show them.
QString methodLabel(const QString &kind)
{
    if (kind == QLatin1String("none"))
        return QStringLiteral("original");
    if (kind == QLatin1String("pi"))
        return QStringLiteral("PI");
    if (kind == QLatin1String("ntk"))
        return QStringLiteral("NTK");
    if (kind == QLatin1String("yarn"))
        return QStringLiteral("YaRN");
    if (kind == QLatin1String("llama3"))
        return QStringLiteral("Llama 3.1");
    return QStringLiteral("config");
}

std::vector<double> numberList(const QString &text, const QString &option, double minimum, double maximum)
{
    std::vector<double> out;
    for (const QString &part : text.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        bool ok = false;
        const double v = part.trimmed().toDouble(&ok);
        if (!ok || !(v >= minimum && v <= maximum))
            throw UsageError{QStringLiteral("--%1 needs numbers between %2 and %3, got \"%4\"").arg(option).arg(minimum).arg(maximum).arg(part)};
        out.push_back(v);
    }
    if (out.empty())
        throw UsageError{QStringLiteral("--%1 needs at least one value").arg(option)};
    return out;
}

// "NAME=PATH" or "PATH" (the name is then the file's base name).
std::pair<QString, QString> namedPath(const QString &value)
{
    const int eq = value.indexOf(QLatin1Char('='));
    if (eq > 0)
        return {value.left(eq), value.mid(eq + 1)};
    return {QFileInfo(value).completeBaseName(), value};
}

void printResult(const SweepResult &result, bool json, bool csv)
{
    if (json)
        out() << QJsonDocument(result.toJson()).toJson(QJsonDocument::Indented);
    else if (csv)
        out() << result.toCsv();
    else
        out() << "model " << result.model << ", L_train " << result.trainLength << ", families set up for L = "
              << result.settings.targetLength << (result.cancelled ? " (cancelled: partial result)" : "") << "\n\n"
              << result.markdown();
    out().flush();
}

} // namespace

int sweep(const QStringList &args)
{
    return run([&] {
        QCommandLineParser parser;
        const QCommandLineOption methodsOption(QStringLiteral("methods"),
                                               QStringLiteral("Methods, comma-separated: none (original RoPE), pi, ntk, yarn, "
                                                              "llama3 (set up for the target), config (the model's own RoPE). "
                                                              "Default none,pi,ntk,yarn,config."),
                                               QStringLiteral("LIST"), QStringLiteral("none,pi,ntk,yarn,config"));
        const QCommandLineOption factorsOption(QStringLiteral("factors"),
                                               QStringLiteral("A factor file as another method ([NAME=]FILE; repeatable), "
                                                              "deployed as longrope: original RoPE up to L_train, the "
                                                              "factors beyond."),
                                               QStringLiteral("FILE"));
        const QCommandLineOption attention(QStringLiteral("attention-factor"),
                                           QStringLiteral("Attention factor of the --factors methods (default: longrope's "
                                                          "for the target)."),
                                           QStringLiteral("A"));
        const QCommandLineOption finetuned(QStringLiteral("finetuned"),
                                           QStringLiteral("Another model folder with its own RoPE as a method ([NAME=]DIR; "
                                                          "repeatable), e.g. after mixed-window fine-tuning."),
                                           QStringLiteral("DIR"));
        const QCommandLineOption lengths(QStringLiteral("lengths"),
                                         QStringLiteral("Context lengths in tokens (default: --points lengths from L_train/2 "
                                                        "to the target, log-spaced)."),
                                         QStringLiteral("L,..."));
        const QCommandLineOption targetOption(QStringLiteral("target"),
                                              QStringLiteral("The target length the families are set up for (default: the "
                                                             "largest length, or 8 × L_train without --lengths)."),
                                              QStringLiteral("L"));
        const QCommandLineOption points(QStringLiteral("points"),
                                        QStringLiteral("Lengths without --lengths (default 5)."), QStringLiteral("N"),
                                        QStringLiteral("5"));
        const QCommandLineOption depths(QStringLiteral("depths"),
                                        QStringLiteral("Needle depths of the heatmap, 0…1 (e.g. 0,0.25,0.5,0.75,1); "
                                                       "none: no heatmap."),
                                        QStringLiteral("D,..."));
        const QCommandLineOption depth(QStringLiteral("depth"),
                                       QStringLiteral("Needle depth of the length curve (default 0)."), QStringLiteral("F"),
                                       QStringLiteral("0"));
        const QCommandLineOption samples(QStringLiteral("samples"),
                                         QStringLiteral("Needle samples and held-out documents per cell (default 4)."),
                                         QStringLiteral("N"), QStringLiteral("4"));
        const QCommandLineOption seed(QStringLiteral("seed"),
                                      QStringLiteral("Seed of the needle samples (default 1000, away from a search's)."),
                                      QStringLiteral("S"), QStringLiteral("1000"));
        const QCommandLineOption passkey(QStringLiteral("passkey"),
                                         QStringLiteral("Passkey accuracy (KV-cached greedy decoding) in every needle cell."));
        const QCommandLineOption noNeedle(QStringLiteral("no-needle"), QStringLiteral("Skip the needle-PPL length curve."));
        const QCommandLineOption noHeldOut(QStringLiteral("no-held-out"),
                                           QStringLiteral("Skip the held-out perplexity length curve."));
        const QCommandLineOption reference(QStringLiteral("reference"),
                                           QStringLiteral("The method every cell is compared with on the same samples "
                                                          "(its label, e.g. YaRN; default: the first method)."),
                                           QStringLiteral("NAME"));
        const QCommandLineOption resamples(QStringLiteral("resamples"),
                                           QStringLiteral("Bootstrap resamples per interval (default 2000)."),
                                           QStringLiteral("N"), QStringLiteral("2000"));
        const QCommandLineOption csvOption(QStringLiteral("csv"), QStringLiteral("Print CSV instead of the summary."));
        const QCommandLineOption openOption(QStringLiteral("open"),
                                            QStringLiteral("Re-open a saved result (JSON or CSV) instead of running: print "
                                                           "it, or convert it with -o."),
                                            QStringLiteral("RESULT"));
        parser.addOptions({kModelOption, methodsOption, factorsOption, attention, finetuned, lengths, targetOption, points,
                           depths, depth, samples, seed, kCorpusOption, passkey, noNeedle, noHeldOut, reference, resamples,
                           kDeviceOption, kDtypeOption, kJsonOption, csvOption, kOutputOption, openOption,
                           kEngineOption});
        parseOrThrow(parser, args,
                     QStringLiteral("The evaluation workbench: needle PPL and held-out perplexity of each method against "
                                    "context length, and the needle-in-a-haystack heatmap (depth × length → passkey "
                                    "accuracy and needle PPL), each figure with a 95 % bootstrap interval and its paired "
                                    "ratio to a reference method. -o RESULT.json or RESULT.csv saves the result."));
        const bool json = parser.isSet(kJsonOption), csv = parser.isSet(csvOption);
        if (json && csv)
            throw UsageError{QStringLiteral("give --json or --csv, not both")};

        if (parser.isSet(openOption)) {
            const SweepResult result = SweepResult::load(parser.value(openOption));
            if (parser.isSet(kOutputOption))
                result.save(parser.value(kOutputOption));
            printResult(result, json, csv);
            return kOk;
        }

        // A sweep takes minutes to hours: refuse an output it could not write before the first cell.
        if (parser.isSet(kOutputOption))
            checkOutputPath(parser.value(kOutputOption));
        ModelOptions options;
        options.device = parser.value(kDeviceOption);
        options.dtype = parser.value(kDtypeOption);
        const QString modelDir = parser.isSet(kModelOption) ? parser.value(kModelOption) : embeddedModelDir();

        SweepSettings settings;
        settings.samples = wholeNumber(parser, samples, 1);
        settings.seed = uint64_t(wholeNumber(parser, seed, 0));
        settings.corpus = parser.value(kCorpusOption);
        settings.passkey = parser.isSet(passkey);
        settings.needle = !parser.isSet(noNeedle);
        settings.heldOut = !parser.isSet(noHeldOut);
        settings.curveDepth = numberList(parser.value(depth), QStringLiteral("depth"), 0, 1).front();
        // "none" (the help's word for no heatmap) is the same as leaving --depths out.
        if (parser.isSet(depths) && parser.value(depths).trimmed().compare(QLatin1String("none"), Qt::CaseInsensitive) != 0)
            settings.depths = numberList(parser.value(depths), QStringLiteral("depths"), 0, 1);
        if (!settings.needle && !settings.heldOut && settings.depths.empty())
            throw UsageError{QStringLiteral("nothing to measure: --no-needle and --no-held-out without --depths")};
        settings.reference = parser.value(reference);
        settings.resamples = wholeNumber(parser, resamples, 2);
        // Each interval holds one value per resample and draws samples × resamples indices: beyond
        // 10⁷ (76 MiB and seconds per interval) a sweep of hundreds of intervals runs out of memory
        // or time long after its model cells, which is where the figures it would refine were made.
        if (settings.resamples > kMaxResamples)
            throw UsageError{QStringLiteral("--resamples needs a whole number from 2 to %1, got '%2' (each of the "
                                            "sweep's intervals keeps one value per resample)")
                                 .arg(kMaxResamples).arg(parser.value(resamples))};
        const Engine engine = engineOption(parser);
        settings.engine = engineName(engine);

        // Methods, in the order given: the named ones, then factor files, then other models.
        std::vector<SweepMethodSpec> specs;
        for (const QString &part : parser.value(methodsOption).split(QLatin1Char(','), Qt::SkipEmptyParts)) {
            QString kind = part.trimmed().toLower();
            if (kind == QLatin1String("original"))
                kind = QStringLiteral("none");
            if (kind == QLatin1String("factors") || !sweepMethodKinds().contains(kind))
                throw UsageError{QStringLiteral("--methods needs none, pi, ntk, yarn, llama3 or config, got \"%1\"").arg(part)};
            specs.push_back(SweepMethodSpec{methodLabel(kind), kind, {}, 0, {}, {}});
        }

        const std::unique_ptr<CausalLM> base = CausalLM::load(modelDir, options);
        const ModelTokenizer tok = loadModelTokenizer(modelDir);
        const RopeConfig &config = base->ropeConfig();
        const int trainLength = int(config.trainLength);
        const double attentionFactor = parser.isSet(attention) ? positiveNumber(parser, attention) : 0.0;
        for (const QString &value : parser.values(factorsOption)) {
            const auto [name, path] = namedPath(value);
            specs.push_back(SweepMethodSpec{name, QStringLiteral("factors"), readFactorFile(path, config.pairs()),
                                            attentionFactor, path, {}});
        }
        const QStringList tunedFolders = parser.values(finetuned);
        for (const QString &value : tunedFolders) {
            const auto [name, dir] = namedPath(value);
            const QString label = value.contains(QLatin1Char('=')) ? name
                                  : tunedFolders.size() == 1 ? QStringLiteral("fine-tuned")
                                                             : QStringLiteral("fine-tuned ") + QFileInfo(dir).fileName();
            specs.push_back(SweepMethodSpec{label, QStringLiteral("config"), {}, 0, dir, dir});
        }
        if (specs.empty())
            throw UsageError{QStringLiteral("no methods: give --methods, --factors or --finetuned")};

        if (parser.isSet(lengths)) {
            settings.lengths = lengthListOption(parser, lengths, 2);
            std::sort(settings.lengths.begin(), settings.lengths.end());
            settings.lengths.erase(std::unique(settings.lengths.begin(), settings.lengths.end()), settings.lengths.end());
            settings.targetLength = parser.isSet(targetOption) ? lengthOption(parser, targetOption, 2) : settings.lengths.back();
        } else {
            settings.targetLength = parser.isSet(targetOption) ? lengthOption(parser, targetOption, 2) : 8 * trainLength;
            settings.lengths = logSpacedLengths(std::max(2, trainLength / 2), settings.targetLength, wholeNumber(parser, points, 1));
            if (settings.lengths.empty())
                throw UsageError{QStringLiteral("--target must be at least L_train / 2 = %1").arg(trainLength / 2)};
        }

        const ResolvedSweepMethods resolved = resolveSweepMethods(specs, *base, settings.targetLength, options, engine);
        if (!settings.reference.isEmpty() &&
            std::none_of(specs.begin(), specs.end(), [&](const SweepMethodSpec &m) { return m.name == settings.reference; })) {
            QStringList names;
            for (const SweepMethodSpec &m : specs)
                names << m.name;
            throw UsageError{QStringLiteral("--reference needs one of the methods: %1").arg(names.join(QStringLiteral(", ")))};
        }
        SweepCallbacks callbacks;
        int done = 0, total = 0;
        callbacks.started = [&](int cells) {
            total = cells;
            err() << "sweep: " << specs.size() << " methods, " << settings.lengths.size() << " lengths, " << total
                  << " cells of " << samplesText(settings.samples) << "\n";
            err().flush();
        };
        callbacks.cellDone = [&](const SweepCell &cell) {
            ++done;
            err() << QStringLiteral("[%1/%2] %3 %4 at %5 tokens%6: %7%8 (%9 s)\n")
                         .arg(done)
                         .arg(total)
                         .arg(cell.method, cell.measure == SweepMeasure::Needle ? QStringLiteral("needle PPL") : QStringLiteral("held-out PPL"))
                         .arg(cell.length)
                         .arg(cell.measure == SweepMeasure::Needle ? QStringLiteral(", depth %1").arg(cell.depth) : QString())
                         .arg(cell.value, 0, 'g', 5)
                         .arg(cell.passkeyAccuracy >= 0 ? QStringLiteral(", passkey %1").arg(cell.passkeyAccuracy) : QString())
                         .arg(cell.seconds, 0, 'f', 1);
            err().flush();
        };
        const SweepResult result = runSweep(resolved.methods, specs, *tok.tokenizer, tok.bosId, settings, callbacks);
        for (const QString &note : result.notes)
            err() << "sweep: " << note << "\n";
        if (parser.isSet(kOutputOption))
            result.save(parser.value(kOutputOption));
        printResult(result, json, csv);
        return kOk;
    }, QStringLiteral("shorter --lengths, fewer --samples or --resamples, or a smaller --dtype need less"));
}

} // namespace rs::cli
