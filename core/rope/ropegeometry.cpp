// Per-dimension RoPE geometry (DESIGN.md §1): periods, rotations, the critical dimensions and
// which dimensions a set of factors leaves out of distribution.
#include "rope/ropegeometry.h"
#include "rope/ropeconfig.h"
#include "rope/ropemath_p.h"

#include <cmath>

namespace rs {

using ropemath::kTwoPi;

int theoreticalCriticalDimension(int rotaryDims, double base, double trainLength)
{
    return ropemath::clampedCeil((rotaryDims / 2.0) * std::log(trainLength / kTwoPi) / std::log(base), rotaryDims / 2);
}

int tenPeriodDimension(int rotaryDims, double base, double trainLength)
{
    return ropemath::clampedCeil((rotaryDims / 2.0) * std::log(trainLength / (kTwoPi * 10.0)) / std::log(base),
                                 rotaryDims / 2);
}

RopeGeometry computeGeometry(int rotaryDims, double base, double trainLength, double targetLength)
{
    RopeGeometry g;
    g.rotaryDims = rotaryDims;
    g.base = base;
    g.trainLength = trainLength;
    g.targetLength = targetLength;
    g.scale = targetLength / trainLength;
    g.theta = ropemath::defaultInvFreq(rotaryDims, base);
    for (double theta : g.theta) {
        const double period = kTwoPi / theta;
        g.period.push_back(period);
        g.rotationsTrain.push_back(trainLength / period);
        g.rotationsTarget.push_back(targetLength / period);
    }
    g.dTcd = theoreticalCriticalDimension(rotaryDims, base, trainLength);
    g.d10 = tenPeriodDimension(rotaryDims, base, trainLength);
    return g;
}

RopeGeometry computeGeometry(const RopeConfig &config, double targetLength)
{
    return computeGeometry(config.rotaryDims, config.base, config.trainLength, targetLength);
}

namespace {
// Element-wise f(period_i, λ_i); the shorter of the two vectors sets the length.
template <typename F>
std::vector<double> perDimension(const RopeGeometry &g, const std::vector<double> &lambda, F f)
{
    const size_t n = std::min(g.period.size(), lambda.size());
    std::vector<double> out(n);
    for (size_t i = 0; i < n; ++i)
        out[i] = f(g.period[i], lambda[i]);
    return out;
}
} // namespace

std::vector<double> rescaledPeriods(const RopeGeometry &g, const std::vector<double> &lambda)
{
    return perDimension(g, lambda, [](double period, double l) { return period * l; });
}

std::vector<double> rescaledRotationsTarget(const RopeGeometry &g, const std::vector<double> &lambda)
{
    return perDimension(g, lambda, [&](double period, double l) { return g.targetLength / (period * l); });
}

std::vector<bool> outOfDistribution(const RopeGeometry &g, const std::vector<double> &lambda)
{
    // Relative slack so that λ_i = s exactly (PI, or the OOD bound itself) counts as in range.
    constexpr double kSlack = 1e-9;
    const size_t n = std::min(g.period.size(), lambda.size());
    std::vector<bool> out(n);
    for (size_t i = 0; i < n; ++i) {
        const bool neverRotated = g.period[i] > g.trainLength;
        const bool beyondTrained = (g.targetLength / lambda[i]) > g.trainLength * (1.0 + kSlack);
        out[i] = neverRotated && beyondTrained;
    }
    return out;
}

} // namespace rs
