#include "rope/configexport.h"
#include "common/error.h"
#include "rope/factorfamilies.h"
#include "common/jsonarray.h"
#include "common/savefile.h"
#include "rope/ropegeometry.h"

#include <QJsonArray>
#include <QJsonDocument>

namespace rs {
namespace {

void validateFactors(const RopeConfig &source, const std::vector<double> &v, const QString &what)
{
    for (const ConstraintViolation &c : checkConstraints(v, source.pairs(), 1.0, -1)) {
        // Exported factors may legitimately decrease (hand edits); only unusable values are refused.
        if (c.kind != ConstraintViolation::Kind::NotMonotone)
            throw Error(source.source, QStringLiteral("cannot export %1: %2").arg(what, c.message));
    }
}

bool phi3Hf4(const RopeConfig &source, const LongropeExport &what)
{
    return what.form == ConfigForm::Hf4 && source.modelType == QLatin1String("phi3");
}

// One sentence for each deployment an engine or a config form cannot carry.
void checkExpressible(const RopeConfig &source, const LongropeExport &what)
{
    const auto number = [](double v) { return QString::number(v, 'g', 6); };
    for (const auto &[name, value] : {std::pair{"attention factor", what.attentionFactor},
                                      std::pair{"short-side attention factor", what.shortAttentionFactor}})
        if (value && !(*value > 0 && *value < kMaxFactor))
            throw Error(source.source, QStringLiteral("cannot export: the %1 %2 must be positive and finite")
                                           .arg(QLatin1String(name), number(*value)));
    if (what.engine == Engine::Transformers && what.shortAttentionFactor) {
        const double longSide = what.attentionFactor.value_or(
            longropeAttentionFactor(what.targetLength / source.trainLength, source.trainLength));
        if (*what.shortAttentionFactor != longSide)
            throw Error(source.source, QStringLiteral("transformers applies one attention factor at every length (%1 here), "
                                                      "so a short-side factor of %2 cannot be exported for it; choose the "
                                                      "vLLM engine, which reads short_mscale")
                                           .arg(number(longSide), number(*what.shortAttentionFactor)));
    }
    if (phi3Hf4(source, what) && (what.attentionFactor || what.shortAttentionFactor))
        throw Error(source.source, QStringLiteral("transformers 4.x's Phi3Config accepts only type, short_factor and "
                                                  "long_factor in rope_scaling, so an attention factor cannot be written "
                                                  "in the 4.x form; export the 5.x form (rope_parameters) or keep the "
                                                  "default attention factor"));
}

} // namespace

QJsonObject exportLongropeConfig(const RopeConfig &source, const LongropeExport &what)
{
    validateFactors(source, what.longFactor, QStringLiteral("long factors"));
    std::vector<double> shortFactor = what.shortFactor.value_or(
        source.scaling.shortFactor.empty() ? std::vector<double>(size_t(source.pairs()), 1.0) : source.scaling.shortFactor);
    validateFactors(source, shortFactor, QStringLiteral("short factors"));
    if (!(what.targetLength <= kMaxPositions))
        throw Error(source.source, QStringLiteral("the target length %1 is beyond what this tool writes (at most %2)")
                                       .arg(what.targetLength).arg(kMaxPositions));
    if (!(what.targetLength >= source.trainLength))
        throw Error(source.source, QStringLiteral("the target length %1 is below the pretraining length %2")
                                       .arg(what.targetLength).arg(source.trainLength));

    if (!source.section.isEmpty())
        throw Error(source.source, QStringLiteral("cannot export: the rotary settings sit in \"%1\" (a multimodal config); "
                                                  "export from the language model's own config.json").arg(source.section));
    QJsonObject out = source.json;
    // Where the source came from is not what the export is: the new factors make it another model,
    // and a preset's name is no repository id at all.
    out.remove(QStringLiteral("_name_or_path"));
    // transformers_version records the writer's version; a 4.x number on the 5.x form would tell a
    // reader that a release which ignores rope_parameters wrote it.
    const QString version = out.value(QLatin1String("transformers_version")).toString();
    const int major = version.section(QLatin1Char('.'), 0, 0).toInt();
    if (what.form == ConfigForm::Hf5 && major < 5)
        out.insert(QStringLiteral("transformers_version"), QStringLiteral("5.0.0"));
    else if (what.form == ConfigForm::Hf4 && major >= 5)
        out.remove(QStringLiteral("transformers_version"));
    // A partial_rotary_factor that sat inside rope_parameters must survive the move to 4.x.
    const bool partialAtTop = source.json.contains(QLatin1String("partial_rotary_factor"));
    const bool hadPartial = partialAtTop || source.form == ConfigForm::Hf5 && source.partialRotaryFactor != 1.0;

    checkExpressible(source, what);
    QJsonObject rope;
    rope.insert(QStringLiteral("short_factor"), toJsonArray(shortFactor));
    rope.insert(QStringLiteral("long_factor"), toJsonArray(what.longFactor));
    if (phi3Hf4(source, what)) {
        // transformers 4.x's Phi3Config refuses any rope_scaling but {type, short_factor, long_factor};
        // L_train goes at the top level below, where Phi3Config and vLLM's llama path read it.
        rope.insert(QStringLiteral("type"), QStringLiteral("longrope"));
    } else {
        rope.insert(QStringLiteral("rope_type"), QStringLiteral("longrope"));
        // transformers 4.x reads L_train from the top level, vLLM and transformers 5 from the dict:
        // writing it in the dict always and at the top level where 4.x needs it serves all three.
        rope.insert(QStringLiteral("original_max_position_embeddings"), source.trainLength);
        if (what.attentionFactor)
            rope.insert(QStringLiteral("attention_factor"), *what.attentionFactor);
        if (what.engine == Engine::Vllm) {
            // vLLM ignores attention_factor and scales each side by its own mscale.
            if (what.attentionFactor)
                rope.insert(QStringLiteral("long_mscale"), *what.attentionFactor);
            if (what.shortAttentionFactor)
                rope.insert(QStringLiteral("short_mscale"), *what.shortAttentionFactor);
        }
    }
    out.insert(QStringLiteral("max_position_embeddings"), qint64(what.targetLength));

    if (what.form == ConfigForm::Hf4) {
        out.remove(QStringLiteral("rope_parameters"));
        out.insert(QStringLiteral("rope_theta"), source.base);
        if (hadPartial)
            out.insert(QStringLiteral("partial_rotary_factor"), source.partialRotaryFactor);
        out.insert(QStringLiteral("original_max_position_embeddings"), source.trainLength);
        out.insert(QStringLiteral("rope_scaling"), rope);
    } else {
        out.remove(QStringLiteral("rope_scaling"));
        out.remove(QStringLiteral("rope_theta"));
        rope.insert(QStringLiteral("rope_theta"), source.base);
        if (hadPartial) {
            out.remove(QStringLiteral("partial_rotary_factor"));
            rope.insert(QStringLiteral("partial_rotary_factor"), source.partialRotaryFactor);
        }
        // transformers' Phi3Config replaces the dict's value with its own top-level one (default 4096).
        if (out.contains(QLatin1String("original_max_position_embeddings")) || source.modelType == QLatin1String("phi3"))
            out.insert(QStringLiteral("original_max_position_embeddings"), source.trainLength);
        out.insert(QStringLiteral("rope_parameters"), rope);
    }
    return out;
}

QByteArray exportFactorsCsv(const RopeConfig &config, const std::vector<double> &lambda, double targetLength)
{
    const RopeGeometry g = computeGeometry(config, targetLength);
    if (int(lambda.size()) != g.pairs())
        throw Error(config.source, QStringLiteral("cannot export CSV: %1 factors for %2 rotary pairs")
                                       .arg(lambda.size()).arg(g.pairs()));
    const std::vector<double> rescaled = rescaledPeriods(g, lambda);
    const std::vector<double> rotations = rescaledRotationsTarget(g, lambda);
    const std::vector<bool> ood = outOfDistribution(g, lambda);
    auto num = [](double v) { return QByteArray::number(v, 'g', 17); };
    QByteArray out("dim,theta,period,lambda,rescaled_period,rotations_train,rotations_target,rescaled_rotations_target,ood\n");
    for (int i = 0; i < g.pairs(); ++i) {
        const size_t k = size_t(i);
        out += QByteArray::number(i) + ',' + num(g.theta[k]) + ',' + num(g.period[k]) + ',' + num(lambda[k]) + ',' +
               num(rescaled[k]) + ',' + num(g.rotationsTrain[k]) + ',' + num(g.rotationsTarget[k]) + ',' +
               num(rotations[k]) + ',' +
               (ood[k] ? "1" : "0") + '\n';
    }
    return out;
}

void writeBytesFile(const QString &path, const QByteArray &bytes)
{
    saveFileAtomically(path, bytes);
}

void writeJsonFile(const QString &path, const QJsonObject &object)
{
    writeBytesFile(path, QJsonDocument(object).toJson(QJsonDocument::Indented));
}

} // namespace rs
