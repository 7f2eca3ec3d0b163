// ropescope-cli factors: writes the λ of a factor family (identity, pi, ntk, yarn, llama3, longrope2,
// config) as a LongRoPE factor file.
#include "commands.h"
#include "options.h"

#include "rope/factorfamilies.h"
#include "rope/factorfile.h"
#include "rope/ropeconfig.h"
#include "rope/ropegeometry.h"

#include <map>

namespace rs::cli {

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

} // namespace rs::cli
