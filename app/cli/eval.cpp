// ropescope-cli eval: needle-driven perplexity (and passkey accuracy) of a model with the given
// factors, a factor family or its own RoPE.
#include "commands.h"
#include "common/counting.h"
#include "options.h"

#include "eval/evaluator.h"
#include "eval/needle.h"
#include "eval/sweepresult.h"
#include "common/statistics.h"
#include "rope/deployment.h"
#include "rope/factorfamilies.h"
#include "rope/factorfile.h"
#include "rope/ropeconfig.h"
#include "rope/ropeoverride.h"
#include "runtime/model.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <unistd.h>

namespace rs::cli {

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
        const QCommandLineOption reference(QStringLiteral("reference"),
                                           QStringLiteral("Also score this method (none, pi, ntk, yarn, llama3, config) "
                                                          "on the same samples and report the paired difference and "
                                                          "ratio of the mean needle PPL with 95 % bootstrap intervals."),
                                           QStringLiteral("NAME"));
        addEvaluationOptions(parser);
        const QCommandLineOption deployedTarget(QStringLiteral("target"),
                                                QStringLiteral("With --factors: the context the factors are exported for "
                                                               "(max_position_embeddings; default: the larger of --length "
                                                               "and L_train)."),
                                                QStringLiteral("L"));
        parser.addOptions({method, attention, passkey, reference, deployedTarget, kEngineOption});
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

        // A named method's RoPE: a family at s = L / L_train, the original, or (nullopt) the model's own.
        const auto namedRope = [&](const QString &name, const QString &option) -> std::optional<RopeOverride> {
            if (name == QLatin1String("none"))
                return RopeOverride{std::vector<double>(size_t(config.pairs()), 1.0), 1.0};
            if (name == QLatin1String("config"))
                return std::nullopt;
            const std::map<QString, FactorSet> families = standardFamilies(config, settings.length);
            const auto it = families.find(name);
            if (it == families.end() || name == QLatin1String("config"))
                throw UsageError{QStringLiteral("--%1 needs none, pi, ntk, yarn, llama3 or config").arg(option)};
            return RopeOverride{it->second.lambda, it->second.attentionFactor};
        };
        // The RoPE under test: a factor file, a family, or the model's own.
        std::optional<RopeOverride> rope;
        QString ropeName = parser.value(method);
        if (parser.isSet(kFactorsOption)) {
            if (parser.isSet(method))
                throw UsageError{QStringLiteral("give --factors or --method, not both")};
            ropeName = parser.value(kFactorsOption);
            // Scored as deployed: the exported config, run at this length as the engine runs it.
            FactorDeployment deployment;
            deployment.longFactor = readFactorFile(parser.value(kFactorsOption), config.pairs());
            deployment.targetLength = parser.isSet(deployedTarget) ? positiveNumber(parser, deployedTarget)
                                                                   : std::max<double>(settings.length, config.trainLength);
            if (deployment.targetLength < config.trainLength)
                throw UsageError{QStringLiteral("--target %1 is below the model's pretraining length %2")
                                     .arg(deployment.targetLength).arg(config.trainLength)};
            if (parser.isSet(attention))
                deployment.attentionFactor = positiveNumber(parser, attention);
            deployment.engine = engineOption(parser);
            deployment.form = config.form;
            rope = DeployedFactors(config, deployment).at(settings.length);
            ropeName += QStringLiteral(" (deployed for %1 at %2 tokens)")
                            .arg(engineName(deployment.engine)).arg(deployment.targetLength);
        } else {
            rope = namedRope(ropeName, QStringLiteral("method"));
        }
        std::optional<std::optional<RopeOverride>> referenceRope;
        if (parser.isSet(reference))
            referenceRope = namedRope(parser.value(reference), QStringLiteral("reference"));

        const NeedleEvaluator evaluator = needleSamples(
            [&] { return NeedleEvaluator(*lm, *setup.tokenizer.tokenizer, setup.tokenizer.bosId, settings); });
        const bool drawProgress = isatty(fileno(stderr));
        const auto progressBar = [&](int done, int total) {
            if (!drawProgress)
                return;
            const int width = 30;
            const int filled = width * done / total;
            err() << "\r[" << QString(filled, QLatin1Char('#')) << QString(width - filled, QLatin1Char(' ')) << "] "
                  << done << "/" << total << " samples" << (done == total ? "\n" : "");
            err().flush();
        };
        // The passkey comes from the same forward as the needle PPL (KV-cached greedy decoding).
        const bool withPasskey = parser.isSet(passkey);
        const NeedleEvalResult result = evaluator.evaluate(rope ? &*rope : nullptr, {}, progressBar, withPasskey);
        std::optional<double> passkeyAccuracy;
        if (withPasskey)
            passkeyAccuracy = result.passkeyAccuracy;
        const Interval meanInterval = bootstrapAggregate(result.perSamplePpl, Aggregate::Mean);
        std::optional<NeedleEvalResult> referenceResult;
        std::optional<PairedComparison> comparison;
        if (referenceRope) {
            referenceResult = evaluator.evaluate(*referenceRope ? &**referenceRope : nullptr, {}, progressBar, withPasskey);
            comparison = pairedBootstrap(result.perSamplePpl, referenceResult->perSamplePpl, Aggregate::Mean);
        }
        // Printed as it is, then exit 1: a NaN or infinite PPL is a broken model or RoPE, not a score.
        const auto finish = [&] {
            if (std::isfinite(result.meanPpl))
                return kOk;
            err() << "ropescope-cli: the mean needle PPL is not finite (" << number(result.meanPpl)
                  << "): the model's weights or the RoPE give NaN or infinite losses\n";
            return kBadInput;
        };

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
                if (withPasskey) {
                    QJsonObject entry = perSample.last().toObject();
                    entry.insert(QStringLiteral("passkey"), result.perSamplePasskey[i] == 1);
                    perSample.replace(perSample.size() - 1, entry);
                }
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
            o.insert(QStringLiteral("samples"), settings.samples);
            o.insert(QStringLiteral("corpus"), settings.corpus);
            o.insert(QStringLiteral("model"), dir);
            o.insert(QStringLiteral("mean_ppl_interval"), intervalToJson(meanInterval));
            if (passkeyAccuracy) {
                o.insert(QStringLiteral("passkey_accuracy"), *passkeyAccuracy);
                const int correct = int(std::lround(*passkeyAccuracy * double(result.perSamplePasskey.size())));
                o.insert(QStringLiteral("passkey_interval"), intervalToJson(wilsonInterval(correct, int(result.perSamplePasskey.size()))));
            }
            if (comparison) {
                QJsonObject c = comparisonToJson(*comparison, parser.value(reference));
                QJsonArray referenceSamples;
                for (double v : referenceResult->perSamplePpl)
                    referenceSamples.append(v);
                c.insert(QStringLiteral("reference_per_sample"), referenceSamples);
                if (withPasskey)
                    c.insert(QStringLiteral("reference_passkey_accuracy"), referenceResult->passkeyAccuracy);
                o.insert(QStringLiteral("comparison"), c);
            }
            out() << QJsonDocument(o).toJson(QJsonDocument::Indented);
            out().flush();
            return finish();
        }
        out() << "model   " << dir << " (" << lm->architecture() << ", " << lm->device() << ", " << lm->dtype() << ")\n"
              << "rope    " << ropeName << "\n"
              << "length  " << result.length << " tokens, " << samplesText(qint64(result.perSamplePpl.size())) << ", depth "
              << number(settings.depth) << "\n\n";
        for (size_t i = 0; i < result.perSamplePpl.size(); ++i) {
            const NeedleSample &s = evaluator.samples()[i];
            out() << "sample " << i << "  " << s.key.leftJustified(20) << " " << s.value << "  needle PPL "
                  << number(result.perSamplePpl[i]) << "\n";
        }
        out() << "\nmean needle PPL " << number(result.meanPpl);
        if (meanInterval.valid())
            out() << " [95 % interval " << number(meanInterval.lower, 4) << ", " << number(meanInterval.upper, 4) << "]";
        out() << "  (" << number(result.seconds, 4) << " s)\n";
        if (passkeyAccuracy)
            out() << "passkey accuracy " << number(*passkeyAccuracy) << "\n";
        if (comparison) {
            out() << "reference " << parser.value(reference) << ": mean needle PPL " << number(comparison->b)
                  << "; difference " << number(comparison->difference.estimate, 4);
            if (comparison->difference.valid())
                out() << " [" << number(comparison->difference.lower, 4) << ", " << number(comparison->difference.upper, 4) << "]";
            out() << ", ratio " << number(comparison->ratio.estimate, 4);
            if (comparison->ratio.valid())
                out() << " [" << number(comparison->ratio.lower, 4) << ", " << number(comparison->ratio.upper, 4) << "]";
            out() << " (paired over the samples, 95 % BCa)\n";
        }
        out().flush();
        return finish();
    }, QStringLiteral("a shorter --length, fewer --samples or a smaller --dtype need less"));
}

} // namespace rs::cli
