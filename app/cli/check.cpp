// ropescope-cli check: checks a factor file against a model's constraints (length, finite, positive,
// monotone, λ ≥ s from d_rcd on); exit 1 on a violation.
#include "commands.h"
#include "options.h"

#include "rope/factorfamilies.h"
#include "rope/factorfile.h"
#include "rope/ropeconfig.h"
#include "rope/ropegeometry.h"

#include <vector>

namespace rs::cli {

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

} // namespace rs::cli
