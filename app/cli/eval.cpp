// ropescope-cli eval: needle-driven perplexity (and passkey accuracy) of a model with the given
// factors, a factor family or its own RoPE.
#include "commands.h"
#include "options.h"

#include "eval/evaluator.h"
#include "eval/needle.h"
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

        const NeedleEvaluator evaluator = needleSamples(
            [&] { return NeedleEvaluator(*lm, *setup.tokenizer.tokenizer, setup.tokenizer.bosId, settings); });
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
            out().flush();
            return finish();
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
        out().flush();
        return finish();
    });
}

} // namespace rs::cli
