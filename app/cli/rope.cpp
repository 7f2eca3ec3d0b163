// ropescope-cli rope: prints a model's RoPE geometry (periods, rotations, d_tcd, d_10) and the λ of
// each factor family at the target length, as a table or JSON.
#include "commands.h"
#include "options.h"

#include "common/jsonarray.h"
#include "rope/factorfamilies.h"
#include "rope/factorfile.h"
#include "rope/ropeconfig.h"
#include "rope/ropegeometry.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <map>
#include <vector>

namespace rs::cli {

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

} // namespace rs::cli
