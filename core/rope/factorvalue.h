#pragma once
// Part rope (core/rope, ropescope_rope): the one rule for a single RoPE factor value, which
// checkConstraints (rope/factorfamilies.h) and through it every export apply, and the GUI's factor
// table applies to what is typed, so the table never holds a value an export would refuse.
#include <QString>

namespace rs {

// Empty when λ is usable, else what is wrong with it: "is not finite", "is not positive", or "is
// outside [1e-09, 1e+09], not a usable rescale factor" (kMinFactor, kMaxFactor: ropeconfig.h).
QString factorValueProblem(double lambda);

} // namespace rs
