// ropescope-cli export: writes factors as a Hugging Face config.json (hf4, hf5), CSV or a LongRoPE
// factor file.
#include "commands.h"
#include "options.h"

#include "rope/configexport.h"
#include "rope/deployment.h"
#include "rope/factorfile.h"
#include "rope/ropeconfig.h"

#include <vector>

namespace rs::cli {

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
        const QCommandLineOption shortAttention(QStringLiteral("short-attention-factor"),
                                                QStringLiteral("With --engine vllm: write this short_mscale, the factor "
                                                               "on cos and sin within L_train (default: vLLM's, the "
                                                               "same as the long side's default). transformers has no "
                                                               "short-side factor."),
                                                QStringLiteral("A"));
        parser.addOption(format);
        parser.addOption(attention);
        parser.addOption(shortAttention);
        parser.addOption(kEngineOption);
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
            if (parser.isSet(shortAttention))
                what.shortAttentionFactor = positiveNumber(parser, shortAttention);
            what.engine = engineOption(parser);
            // The export is read back as the engine will read it: what it runs at L_train and at L.
            const DeployedFactors deployed(config, what);
            writeJsonFile(path, deployed.exportedJson());
            const RopeOverride shortSide = deployed.at(config.trainLength), longSide = deployed.at(L);
            err() << "deployed for " << engineName(what.engine) << ": up to " << config.trainLength
                  << " tokens short factors, attention factor " << number(shortSide.attentionFactor) << "; beyond, long "
                  << "factors, attention factor " << number(longSide.attentionFactor) << "\n";
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

} // namespace rs::cli
