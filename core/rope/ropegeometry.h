#pragma once
// Part rope (core/rope, ropescope_rope): everything about RoPE that needs no model — per-dimension
// geometry and critical dimensions, the factor families (PI, NTK, YaRN, Llama 3.1, LongRoPE2) in
// plain doubles, config.json import and export, factor files, presets and sessions. May use common
// and Qt Core; never LibTorch or any other part, so the geometry views and the search build and
// test without a tensor library.
//
// Per-dimension RoPE geometry (DESIGN.md §1). Dimension index i runs over the d/2 frequency pairs.
#include <vector>

namespace rs {

struct RopeConfig;

struct RopeGeometry {
    int rotaryDims = 0;
    double base = 0;
    double trainLength = 0;   // L_train
    double targetLength = 0;  // L
    double scale = 1;         // s = L / L_train
    std::vector<double> theta;            // θ_i = b^(-2i/d)
    std::vector<double> period;           // T_i = 2π / θ_i
    std::vector<double> rotationsTrain;   // L_train / T_i
    std::vector<double> rotationsTarget;  // L / T_i (original RoPE)
    int dTcd = 0;  // theoretical critical dimension
    int d10 = 0;   // ten-period dimension

    int pairs() const { return rotaryDims / 2; }
};

// d_tcd = ceil((d/2) · log_b(L_train / 2π)), clamped to [0, d/2].
int theoreticalCriticalDimension(int rotaryDims, double base, double trainLength);
// d_10 = ceil((d/2) · log_b(L_train / (2π·10))), clamped to [0, d/2].
int tenPeriodDimension(int rotaryDims, double base, double trainLength);

RopeGeometry computeGeometry(int rotaryDims, double base, double trainLength, double targetLength);
RopeGeometry computeGeometry(const RopeConfig &config, double targetLength);

// T̂_i = λ_i · T_i.
std::vector<double> rescaledPeriods(const RopeGeometry &g, const std::vector<double> &lambda);
// L / T̂_i: rotations the rescaled dimension makes within the target length.
std::vector<double> rescaledRotationsTarget(const RopeGeometry &g, const std::vector<double> &lambda);
// A dimension is out of distribution at the target length when it never completed a rotation in
// pretraining (T_i > L_train) and the rescaled angles at L exceed those seen in pretraining
// (L / λ_i > L_train). With λ ≡ 1 and L > L_train these are exactly the dimensions ≥ d_tcd.
std::vector<bool> outOfDistribution(const RopeGeometry &g, const std::vector<double> &lambda);

} // namespace rs
