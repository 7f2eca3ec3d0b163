#pragma once
// One RoPE variant as a model runs it: the rescale factors λ (θ̂_i = θ_i / λ_i, d/2 values) and the
// attention factor that multiplies cos and sin. The unit every other part passes around: the
// runtime applies it, the evaluators score it, the search proposes it (as its Candidate).
#include <vector>

namespace rs {

struct RopeOverride {
    std::vector<double> lambda;
    double attentionFactor = 1.0;
};

} // namespace rs
