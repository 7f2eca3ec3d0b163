#pragma once
// rope-internal: the per-dimension helpers that geometry and the factor families share.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

namespace rs::ropemath {

constexpr double kTwoPi = 2.0 * std::numbers::pi;

// θ_i = b^(−2i/d) for i = 0 … d/2−1 (transformers: 1 / base ** (arange(0, d, 2) / d)).
inline std::vector<double> defaultInvFreq(int rotaryDims, double base)
{
    std::vector<double> theta(size_t(std::max(rotaryDims / 2, 0)));
    for (size_t i = 0; i < theta.size(); ++i)
        theta[i] = std::pow(base, -double(2 * i) / double(rotaryDims));
    return theta;
}

// ceil(x) clamped to [0, pairs], clamped before the conversion: a base just above 1 or a NaN would
// otherwise overflow the int.
inline int clampedCeil(double x, int pairs)
{
    if (!(x > 0))
        return 0;
    return x >= pairs ? pairs : int(std::ceil(x));
}

} // namespace rs::ropemath
