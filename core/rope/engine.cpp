// The engines' RoPE for a longrope config (engine.h), and what names them.
#include "rope/engine.h"
#include "common/error.h"
#include "rope/factorfamilies.h"
#include "rope/ropeconfig.h"

namespace rs {

QStringList engineNames()
{
    return {QStringLiteral("transformers"), QStringLiteral("vllm")};
}

QString engineName(Engine engine)
{
    return engine == Engine::Vllm ? QStringLiteral("vllm") : QStringLiteral("transformers");
}

QString engineDescription(Engine engine)
{
    if (engine == Engine::Vllm)
        return QStringLiteral("vLLM: short factors up to L_train + 1 tokens, long beyond; cos and sin scaled by "
                              "short_mscale / long_mscale");
    return QStringLiteral("transformers: short factors within L_train, long beyond; one attention factor at every length");
}

Engine parseEngine(const QString &name, const QString &where)
{
    const QString n = name.trimmed().toLower();
    if (n == QLatin1String("transformers") || n == QLatin1String("hf"))
        return Engine::Transformers;
    if (n == QLatin1String("vllm"))
        return Engine::Vllm;
    throw Error(where, QStringLiteral("unknown engine \"%1\" (known: %2)").arg(name, engineNames().join(QStringLiteral(", "))));
}

RopeOverride deployedLongrope(const RopeConfig &config, Engine engine, double seqLen)
{
    const RopeScaling &sc = config.scaling;
    if (sc.type != QLatin1String("longrope"))
        throw Error(config.source, QStringLiteral("is a \"%1\" config, not longrope: no short/long switch to deploy").arg(sc.type));
    const double trainLength = config.trainLength;
    if (engine == Engine::Vllm) {
        // vLLM indexes one cache of short then long rows and takes the long half when any position
        // exceeds L_train: a sequence of L_train + 1 tokens still reads the short half.
        const bool useLong = seqLen > trainLength + 1;
        const double fallback = longropeAttentionFactor(double(config.maxPositionEmbeddings) / trainLength, trainLength);
        return RopeOverride{useLong ? sc.longFactor : sc.shortFactor,
                            useLong ? sc.longMscale.value_or(fallback) : sc.shortMscale.value_or(fallback)};
    }
    // transformers switches on the sequence length and applies one attention factor to both sides:
    // the written one, else sqrt(1 + ln s / ln L_train) with s as the reader chose it for the
    // config's form (5.x: `factor` when written; 4.x top-level form: the ratio).
    const bool useLong = seqLen > trainLength;
    const double attention = sc.attentionFactor ? *sc.attentionFactor : longropeAttentionFactor(sc.attentionScale, trainLength);
    return RopeOverride{useLong ? sc.longFactor : sc.shortFactor, attention};
}

} // namespace rs
