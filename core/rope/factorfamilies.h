#pragma once
// Rescale factors λ (λ multiplies the period: θ̂_i = θ_i / λ_i) of the well-known families,
// each with the attention factor it implies, following transformers' modeling_rope_utils.py.
#include <QString>
#include <map>
#include <optional>
#include <vector>

namespace rs {

struct RopeConfig;

struct FactorSet {
    QString name;                 // "identity", "pi", "ntk", "yarn", "llama3", "longrope2", "dynamic", "config"
    std::vector<double> lambda;   // length d/2
    double attentionFactor = 1.0; // multiplies cos and sin
};

struct YarnParams {
    double betaFast = 32.0;
    double betaSlow = 1.0;
    bool truncate = true;  // transformers floors/ceils the correction range
    std::optional<double> mscale;
    std::optional<double> mscaleAllDim;
    std::optional<double> attentionFactor;  // explicit override
};

struct Llama3Params {
    double factor = 8.0;
    double lowFreqFactor = 1.0;
    double highFreqFactor = 4.0;
};

FactorSet identityFactors(int rotaryDims);
// PI (linear): λ_i = s.
FactorSet piFactors(int rotaryDims, double scale);
// NTK-aware: b' = b · s^(d/(d-2)) ⇔ λ_i = s^(2i/(d-2)).
FactorSet ntkFactors(int rotaryDims, double scale);
// Dynamic NTK at sequence length `seqLen` (transformers' "dynamic"): the NTK base change with
// effective scale (factor · seqLen / maxPositions) − (factor − 1); identity while seqLen ≤ maxPositions.
FactorSet dynamicNtkFactors(int rotaryDims, double factor, double maxPositions, double seqLen);
// YaRN over dimension index with transformers' correction range; attention 0.1·ln s + 1 (or mscale ratio).
FactorSet yarnFactors(int rotaryDims, double base, double trainLength, double scale, const YarnParams &p = {});
// Llama 3.1 ("llama3"): wavelength bands relative to L_train / low and L_train / high.
FactorSet llama3Factors(int rotaryDims, double base, double trainLength, const Llama3Params &p = {});
// LongRoPE2 structure: λ_i = upper_i for i ≥ dRcd (upper has d/2 − dRcd entries, or one entry
// used for all of them) and NTK-left below: λ_i = λ_dRcd^(i/dRcd). Attention factor as longrope.
FactorSet longrope2Factors(int rotaryDims, int dRcd, const std::vector<double> &upper, double scale, double trainLength);
// Extensions of that shape beyond the paper's search space (off in the defaults, which give the
// shape above exactly). The published LLaMA3-8B LongRoPE2 factors anchor their NTK-left curve at
// index 33 while λ ≥ s holds from 30: `anchor` ≥ dRcd moves the curve's anchor there, so that
// below dRcd λ_i = min(λ_anchor^(i/anchor), λ_dRcd) (the min keeps λ monotone); the first
// `keepOriginal` dimensions (the fastest-rotating, which YaRN also leaves alone) keep λ = 1.
struct Longrope2Shape {
    int anchor = -1;       // -1 (or dRcd): the anchor is d_rcd itself
    int keepOriginal = 0;  // λ_i = 1 for i < keepOriginal
};
FactorSet longrope2Factors(int rotaryDims, int dRcd, const std::vector<double> &upper, double scale, double trainLength,
                           const Longrope2Shape &shape);

// HF longrope default: sqrt(1 + ln s / ln L_train) for s > 1, else 1.
double longropeAttentionFactor(double scale, double trainLength);
// HF yarn: 0.1·ln s + 1 for s > 1 (get_mscale), or mscale ratio when both are given.
double yarnAttentionFactor(double scale, std::optional<double> mscale = {}, std::optional<double> mscaleAllDim = {});

// The config's own factors at the target length (longrope: long factors beyond L_train, short
// within; linear, dynamic, yarn, llama3 from their parameters). Empty optional for unscaled configs.
std::optional<FactorSet> configFactors(const RopeConfig &config, double targetLength);

// pi, ntk, yarn and llama3, all at s = L / L_train (llama3 takes its band parameters and yarn its
// β, truncate, attention_factor and mscale/mscale_all_dim from the config when it uses that type,
// else the defaults), and, if the config carries factors of its own (at their own factor), "config".
std::map<QString, FactorSet> standardFamilies(const RopeConfig &config, double targetLength);

// NTK-left shape detection: the largest boundary c (2 ≤ c < n) such that λ_i matches
// λ_c^(i/c) for every i < c within relative tolerance (c = 1 would fit any vector with λ_0 = 1).
struct NtkLeftFit {
    bool found = false;
    int boundary = -1;              // c
    double lambdaAtBoundary = 0;    // λ_c
    double maxRelativeError = 0;    // over i < c
};
NtkLeftFit detectNtkLeft(const std::vector<double> &lambda, double relativeTolerance = 0.005);

struct ConstraintViolation {
    enum class Kind { WrongLength, NotFinite, NotPositive, OutOfRange, NotMonotone, BelowScale };
    Kind kind;
    int index = -1;  // -1 for WrongLength
    QString message;
};
// Checks: right length, finite, positive, within [kMinFactor, kMaxFactor] (ropeconfig.h), monotone
// non-decreasing, λ_i ≥ s for i ≥ dRcd
// (pass dRcd < 0 to skip the OOD check).
std::vector<ConstraintViolation> checkConstraints(const std::vector<double> &lambda, int expectedLength,
                                                  double scale, int dRcd);

} // namespace rs
