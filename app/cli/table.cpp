// ropescope-cli table: the paper's comparison in miniature: needle PPL and passkey accuracy of
// several methods at multiples of L_train, and short-context retention, as a Markdown table.
#include "commands.h"
#include "options.h"

#include "common/error.h"
#include "common/savefile.h"
#include "eval/comparison.h"
#include "eval/evaluator.h"
#include "eval/needle.h"
#include "eval/sweepresult.h"
#include "rope/deployment.h"
#include "rope/factorfamilies.h"
#include "rope/factorfile.h"
#include "rope/ropeconfig.h"
#include "rope/ropeoverride.h"
#include "runtime/embeddedmodel.h"
#include "runtime/model.h"
#include "runtime/tokenizer.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace rs::cli {

namespace {

// kOk, or kBadInput after saying which rows hold a NaN or infinite figure (a broken model, not a
// result).
int exitForNonFinite(const ComparisonTable &result)
{
    QStringList broken;
    for (const ComparisonRow &row : result.rows) {
        bool finite = std::isfinite(row.shortPpl);
        for (const auto &cell : row.cells)
            finite = finite && std::isfinite(cell.needlePpl);
        if (!finite)
            broken << row.method;
    }
    if (broken.isEmpty())
        return kOk;
    err() << "ropescope-cli: results that are not finite (NaN or infinite perplexity) for "
          << broken.join(QStringLiteral(", ")) << ": the model's weights or the RoPE give NaN or infinite losses\n";
    return kBadInput;
}

// The table's rows as --json and -o write them: every cell with its per-sample values.
QJsonArray rowsToJson(const ComparisonTable &result)
{
    QJsonArray rows;
    const auto values = [](const auto &v) {
        QJsonArray a;
        for (const auto x : v)
            a.append(double(x));
        return a;
    };
    for (const ComparisonRow &row : result.rows) {
        QJsonArray cells;
        for (size_t i = 0; i < row.cells.size(); ++i) {
            const SweepCell &d = row.cells[i].detail;
            QJsonObject cell{{QStringLiteral("length"), result.lengths[i]},
                             {QStringLiteral("needle_ppl"), row.cells[i].needlePpl},
                             {QStringLiteral("passkey_accuracy"), row.cells[i].passkeyAccuracy},
                             {QStringLiteral("needle_ppl_interval"), intervalToJson(d.interval)},
                             {QStringLiteral("per_sample"), values(d.values)}};
            if (!d.passkey.empty()) {
                cell.insert(QStringLiteral("passkey_interval"), intervalToJson(d.passkeyInterval));
                cell.insert(QStringLiteral("per_sample_passkey"), values(d.passkey));
            }
            if (!d.reference.isEmpty())
                cell.insert(QStringLiteral("comparison"), comparisonToJson(d.vsReference, d.reference));
            cells.append(cell);
        }
        QJsonObject r{{QStringLiteral("method"), row.method},
                      {QStringLiteral("cells"), cells},
                      {QStringLiteral("short_ppl"), row.shortPpl},
                      {QStringLiteral("short_retention_percent"), row.shortRetention}};
        if (!row.shortWindowNll.empty()) {
            r.insert(QStringLiteral("short_ppl_interval"), intervalToJson(row.shortPplInterval));
            r.insert(QStringLiteral("short_retention_interval"), intervalToJson(row.shortRetentionInterval));
            r.insert(QStringLiteral("short_window_nll"), values(row.shortWindowNll));
        }
        rows.append(r);
    }
    return rows;
}

} // namespace

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
        const QCommandLineOption referenceOption(QStringLiteral("reference"),
                                                 QStringLiteral("The method every needle cell is compared with, paired "
                                                                "over the same samples (a row name, e.g. YaRN; default: "
                                                                "the first row, original RoPE)."),
                                                 QStringLiteral("NAME"));
        parser.addOptions({kModelOption, factorsOption, finetuned, multiples, target, noPasskey, samplesOption,
                           seedOption, kDeviceOption, kDtypeOption, kCorpusOption, kJsonOption, referenceOption,
                           kOutputOption, kEngineOption});
        parseOrThrow(parser, args,
                     QStringLiteral("The paper's comparison in miniature: needle PPL / passkey accuracy of the original "
                                    "RoPE, PI, NTK, YaRN, LongRoPE2 factors and LongRoPE2 + mixed-window fine-tuning at "
                                    "multiples of L_train, and short-context perplexity as a share of the original's. "
                                    "Prints a Markdown table."));
        if (parser.isSet(kOutputOption))
            checkOutputPath(parser.value(kOutputOption));
        ModelOptions options;
        options.device = checkedDevice(parser.value(kDeviceOption));
        options.dtype = checkedDtype(parser.value(kDtypeOption));
        const QString modelDir = parser.isSet(kModelOption) ? parser.value(kModelOption) : embeddedModelDir();
        const std::unique_ptr<CausalLM> base = CausalLM::load(modelDir, options);
        printWarnings(*base);
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
        const Engine engine = engineOption(parser);
        if (parser.isSet(factorsOption)) {
            // Scored as deployed: the exported longrope config, run as the engine runs it at each length.
            FactorDeployment deployment;
            deployment.longFactor = readFactorFile(parser.value(factorsOption), config.pairs());
            deployment.targetLength = targetLength;
            deployment.engine = engine;
            deployment.form = config.form;
            const DeployedFactors deployed(config, deployment);
            methods.push_back({QStringLiteral("LongRoPE2"), base.get(),
                               [deployed](int length) { return std::optional<RopeOverride>(deployed.at(length)); }});
        }
        std::unique_ptr<CausalLM> tuned;
        if (parser.isSet(finetuned)) {
            tuned = CausalLM::load(parser.value(finetuned), options);
            printWarnings(*tuned);
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
        settings.reference = parser.value(referenceOption);
        if (!settings.reference.isEmpty() &&
            std::none_of(methods.begin(), methods.end(), [&](const ComparedMethod &m) { return m.name == settings.reference; })) {
            QStringList names;
            for (const ComparedMethod &m : methods)
                names << m.name;
            throw UsageError{QStringLiteral("--reference needs one of the rows: %1").arg(names.join(QStringLiteral(", ")))};
        }
        const ComparisonTable result = compareMethods(methods, *tok.tokenizer, tok.bosId, settings, [](const QString &line) {
            err() << line << "\n";
            err().flush();
        });
        // Printed as they are, then exit 1: a NaN or infinite figure is a broken model, not a result.
        const auto finish = [&] { return exitForNonFinite(result); };
        {
            const QJsonArray rows = rowsToJson(result);
            const QJsonDocument json(QJsonObject{{QStringLiteral("train_length"), trainLength},
                                                     {QStringLiteral("engine"), engineName(engine)},
                                               {QStringLiteral("target_length"), targetLength},
                                               {QStringLiteral("rows"), rows},
                                               {QStringLiteral("reference"), result.reference},
                                               {QStringLiteral("samples"), settings.samples},
                                               {QStringLiteral("seed"), qint64(settings.seed)},
                                               {QStringLiteral("model"), modelDir},
                                               {QStringLiteral("bootstrap"),
                                                QJsonObject{{QStringLiteral("method"), QStringLiteral("BCa, paired over samples")},
                                                            {QStringLiteral("resamples"), settings.bootstrap.resamples},
                                                            {QStringLiteral("seed"), qint64(settings.bootstrap.seed)},
                                                            {QStringLiteral("level"), settings.bootstrap.level}}},
                                               {QStringLiteral("seconds"), result.seconds}});
            // -o keeps the JSON (every per-sample value) beside the printed table.
            if (parser.isSet(kOutputOption)) {
                saveFileAtomically(parser.value(kOutputOption), json.toJson(QJsonDocument::Indented));
            }
            if (parser.isSet(kJsonOption)) {
                out() << json.toJson(QJsonDocument::Indented);
                out().flush();
                return finish();
            }
        }
        out() << "model " << modelDir << ", L_train " << trainLength << ", methods set up for L = " << targetLength
              << ", factors scored as " << engineName(engine) << " runs their export"
              << " (s = " << number(s) << "), " << settings.samples << " needle samples per cell; cells: needle PPL / "
              << "passkey accuracy; short retention = original's short-context PPL / the method's\n\n"
              << result.markdown(trainLength) << "\n"
              << result.intervalMarkdown(trainLength);
        out().flush();
        return finish();
    }, QStringLiteral("smaller --multiples, fewer --samples or a smaller --dtype need less"));
}

} // namespace rs::cli
