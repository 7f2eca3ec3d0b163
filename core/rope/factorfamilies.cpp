// RoPE geometry and the factor families. The per-dimension math is done with LibTorch in float64,
// mirroring transformers' modeling_rope_utils.py so that the numbers line up with what a model
// loaded by transformers or vLLM would compute.
#include "factorfamilies.h"
#include "ropeconfig.h"
#include "ropegeometry.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numbers>

namespace rs {
namespace {

constexpr double kTwoPi = 2.0 * std::numbers::pi;

torch::Tensor toTensor(const std::vector<double> &v)
{
    return torch::tensor(at::ArrayRef<double>(v), torch::dtype(torch::kFloat64));
}

std::vector<double> toVector(const torch::Tensor &t)
{
    const torch::Tensor c = t.to(torch::kFloat64).contiguous();
    return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

// 2i/d for i = 0 … d/2−1: the exponent of the base in each pair's period.
torch::Tensor pairExponents(int rotaryDims)
{
    return torch::arange(0, rotaryDims, 2, torch::dtype(torch::kFloat64)) / double(rotaryDims);
}

// θ_i = b^(−2i/d)
torch::Tensor defaultInvFreq(int rotaryDims, double base)
{
    return torch::pow(base, -pairExponents(rotaryDims));
}

// λ from a scaled inverse frequency: θ̂ = θ / λ ⇔ λ = θ / θ̂.
FactorSet fromInvFreq(QString name, const torch::Tensor &original, const torch::Tensor &scaled, double attention)
{
    return FactorSet{std::move(name), toVector(original / scaled), attention};
}

int clampedCeil(double x, int pairs)
{
    return std::clamp(int(std::ceil(x)), 0, pairs);
}

} // namespace

int theoreticalCriticalDimension(int rotaryDims, double base, double trainLength)
{
    return clampedCeil((rotaryDims / 2.0) * std::log(trainLength / kTwoPi) / std::log(base), rotaryDims / 2);
}

int tenPeriodDimension(int rotaryDims, double base, double trainLength)
{
    return clampedCeil((rotaryDims / 2.0) * std::log(trainLength / (kTwoPi * 10.0)) / std::log(base), rotaryDims / 2);
}

RopeGeometry computeGeometry(int rotaryDims, double base, double trainLength, double targetLength)
{
    RopeGeometry g;
    g.rotaryDims = rotaryDims;
    g.base = base;
    g.trainLength = trainLength;
    g.targetLength = targetLength;
    g.scale = targetLength / trainLength;
    const torch::Tensor theta = defaultInvFreq(rotaryDims, base);
    const torch::Tensor period = kTwoPi / theta;
    g.theta = toVector(theta);
    g.period = toVector(period);
    g.rotationsTrain = toVector(trainLength / period);
    g.rotationsTarget = toVector(targetLength / period);
    g.dTcd = theoreticalCriticalDimension(rotaryDims, base, trainLength);
    g.d10 = tenPeriodDimension(rotaryDims, base, trainLength);
    return g;
}

RopeGeometry computeGeometry(const RopeConfig &config, double targetLength)
{
    return computeGeometry(config.rotaryDims, config.base, config.trainLength, targetLength);
}

std::vector<double> rescaledPeriods(const RopeGeometry &g, const std::vector<double> &lambda)
{
    return toVector(toTensor(g.period) * toTensor(lambda));
}

std::vector<double> rescaledRotationsTarget(const RopeGeometry &g, const std::vector<double> &lambda)
{
    return toVector(g.targetLength / (toTensor(g.period) * toTensor(lambda)));
}

std::vector<bool> outOfDistribution(const RopeGeometry &g, const std::vector<double> &lambda)
{
    // Relative slack so that λ_i = s exactly (PI, or the OOD bound itself) counts as in range.
    constexpr double kSlack = 1e-9;
    const torch::Tensor neverRotated = toTensor(g.period) > g.trainLength;
    const torch::Tensor beyondTrained = (g.targetLength / toTensor(lambda)) > g.trainLength * (1.0 + kSlack);
    const torch::Tensor ood = torch::logical_and(neverRotated, beyondTrained).contiguous();
    std::vector<bool> out(size_t(ood.numel()));
    for (int64_t i = 0; i < ood.numel(); ++i)
        out[size_t(i)] = ood[i].item<bool>();
    return out;
}

double longropeAttentionFactor(double scale, double trainLength)
{
    return scale <= 1.0 ? 1.0 : std::sqrt(1.0 + std::log(scale) / std::log(trainLength));
}

namespace {
// transformers' get_mscale
double yarnMscale(double scale, double mscale)
{
    return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}
} // namespace

double yarnAttentionFactor(double scale, std::optional<double> mscale, std::optional<double> mscaleAllDim)
{
    if (mscale && mscaleAllDim)
        return yarnMscale(scale, *mscale) / yarnMscale(scale, *mscaleAllDim);
    return yarnMscale(scale, 1.0);
}

FactorSet identityFactors(int rotaryDims)
{
    return FactorSet{QStringLiteral("identity"), std::vector<double>(size_t(rotaryDims / 2), 1.0), 1.0};
}

FactorSet piFactors(int rotaryDims, double scale)
{
    return FactorSet{QStringLiteral("pi"), std::vector<double>(size_t(rotaryDims / 2), scale), 1.0};
}

FactorSet ntkFactors(int rotaryDims, double scale)
{
    // b' = b · s^(d/(d−2)); θ̂_i = b'^(−2i/d) = θ_i · s^(−2i/(d−2)).
    const torch::Tensor i = torch::arange(0, rotaryDims / 2, torch::dtype(torch::kFloat64));
    return FactorSet{QStringLiteral("ntk"), toVector(torch::pow(scale, 2.0 * i / double(rotaryDims - 2))), 1.0};
}

FactorSet dynamicNtkFactors(int rotaryDims, double factor, double maxPositions, double seqLen)
{
    // transformers recomputes the base for seq_len > max_position_embeddings only.
    const double effective = seqLen > maxPositions ? factor * seqLen / maxPositions - (factor - 1.0) : 1.0;
    FactorSet f = ntkFactors(rotaryDims, effective);
    f.name = QStringLiteral("dynamic");
    return f;
}

FactorSet yarnFactors(int rotaryDims, double base, double trainLength, double scale, const YarnParams &p)
{
    const int d = rotaryDims;
    // The (fractional) dimension index at which a pair makes `rotations` turns within L_train.
    auto correctionDim = [&](double rotations) {
        return (d * std::log(trainLength / (rotations * kTwoPi))) / (2.0 * std::log(base));
    };
    double low = correctionDim(p.betaFast);
    double high = correctionDim(p.betaSlow);
    if (p.truncate) {
        low = std::floor(low);
        high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, double(d - 1));
    if (low == high)
        high += 0.001; // transformers' guard against a zero-width ramp
    const torch::Tensor index = torch::arange(0, d / 2, torch::dtype(torch::kFloat64));
    const torch::Tensor ramp = torch::clamp((index - low) / (high - low), 0.0, 1.0);
    const torch::Tensor extrapolation = 1.0 - ramp; // 1: keep the original frequency
    const torch::Tensor theta = defaultInvFreq(d, base);
    const torch::Tensor scaled = (theta / scale) * (1.0 - extrapolation) + theta * extrapolation;
    const double attention = p.attentionFactor ? *p.attentionFactor
                                               : yarnAttentionFactor(scale, p.mscale, p.mscaleAllDim);
    return fromInvFreq(QStringLiteral("yarn"), theta, scaled, attention);
}

FactorSet llama3Factors(int rotaryDims, double base, double trainLength, const Llama3Params &p)
{
    const torch::Tensor theta = defaultInvFreq(rotaryDims, base);
    const torch::Tensor wavelength = kTwoPi / theta;
    const double lowFreqWavelength = trainLength / p.lowFreqFactor;
    const double highFreqWavelength = trainLength / p.highFreqFactor;
    torch::Tensor scaled = torch::where(wavelength > lowFreqWavelength, theta / p.factor, theta);
    const torch::Tensor smooth = (trainLength / wavelength - p.lowFreqFactor) / (p.highFreqFactor - p.lowFreqFactor);
    const torch::Tensor smoothed = (1.0 - smooth) * scaled / p.factor + smooth * scaled;
    const torch::Tensor medium = torch::logical_and(wavelength >= highFreqWavelength, wavelength <= lowFreqWavelength);
    scaled = torch::where(medium, smoothed, scaled);
    return fromInvFreq(QStringLiteral("llama3"), theta, scaled, 1.0);
}

FactorSet longrope2Factors(int rotaryDims, int dRcd, const std::vector<double> &upper, double scale, double trainLength)
{
    const int pairs = rotaryDims / 2;
    dRcd = std::clamp(dRcd, 0, pairs);
    const size_t upperCount = size_t(pairs - dRcd);
    std::vector<double> lambda(size_t(pairs), 1.0);
    if (upperCount > 0) {
        if (upper.size() != upperCount && upper.size() != 1)
            throw std::invalid_argument("longrope2Factors: upper factors must have d/2 - d_rcd entries or one");
        for (size_t k = 0; k < upperCount; ++k)
            lambda[size_t(dRcd) + k] = upper.size() == 1 ? upper[0] : upper[k];
        if (dRcd > 0) {
            // NTK-left: λ_i = λ_dRcd^(i/dRcd) below the critical dimension.
            const torch::Tensor i = torch::arange(0, dRcd, torch::dtype(torch::kFloat64));
            const std::vector<double> left = toVector(torch::pow(lambda[size_t(dRcd)], i / double(dRcd)));
            std::copy(left.begin(), left.end(), lambda.begin());
        }
    }
    return FactorSet{QStringLiteral("longrope2"), std::move(lambda), longropeAttentionFactor(scale, trainLength)};
}

std::optional<FactorSet> configFactors(const RopeConfig &config, double targetLength)
{
    const RopeScaling &sc = config.scaling;
    const int d = config.rotaryDims;
    std::optional<FactorSet> f;
    if (sc.type == QLatin1String("linear")) {
        f = piFactors(d, sc.factor);
    } else if (sc.type == QLatin1String("dynamic")) {
        f = dynamicNtkFactors(d, sc.factor, config.maxPositionEmbeddings, targetLength);
    } else if (sc.type == QLatin1String("yarn")) {
        YarnParams p;
        p.betaFast = sc.betaFast;
        p.betaSlow = sc.betaSlow;
        p.truncate = sc.truncate;
        p.mscale = sc.mscale;
        p.mscaleAllDim = sc.mscaleAllDim;
        p.attentionFactor = sc.attentionFactor;
        f = yarnFactors(d, config.base, config.trainLength, sc.factor, p);
    } else if (sc.type == QLatin1String("llama3")) {
        f = llama3Factors(d, config.base, config.trainLength, {sc.factor, sc.lowFreqFactor, sc.highFreqFactor});
    } else if (sc.type == QLatin1String("longrope")) {
        // transformers switches on the sequence length: short factors while it fits in L_train.
        const bool useLong = targetLength > config.trainLength;
        const std::vector<double> &chosen = useLong ? sc.longFactor : sc.shortFactor;
        const double factor = double(config.maxPositionEmbeddings) / config.trainLength;
        const double attention = sc.attentionFactor ? *sc.attentionFactor
                                                    : longropeAttentionFactor(factor, config.trainLength);
        f = FactorSet{QString(), chosen, attention};
    }
    if (f)
        f->name = QStringLiteral("config");
    return f;
}

std::map<QString, FactorSet> standardFamilies(const RopeConfig &config, double targetLength)
{
    const int d = config.rotaryDims;
    const double s = targetLength / config.trainLength;
    std::map<QString, FactorSet> out;
    out.emplace(QStringLiteral("pi"), piFactors(d, s));
    out.emplace(QStringLiteral("ntk"), ntkFactors(d, s));
    YarnParams yarn;
    if (config.scaling.type == QLatin1String("yarn")) {
        yarn.betaFast = config.scaling.betaFast;
        yarn.betaSlow = config.scaling.betaSlow;
        yarn.truncate = config.scaling.truncate;
    }
    out.emplace(QStringLiteral("yarn"), yarnFactors(d, config.base, config.trainLength, s, yarn));
    Llama3Params llama3{s, 1.0, 4.0};
    if (config.scaling.type == QLatin1String("llama3")) {
        llama3.lowFreqFactor = config.scaling.lowFreqFactor;
        llama3.highFreqFactor = config.scaling.highFreqFactor;
    }
    out.emplace(QStringLiteral("llama3"), llama3Factors(d, config.base, config.trainLength, llama3));
    if (auto own = configFactors(config, targetLength))
        out.emplace(QStringLiteral("config"), *own);
    return out;
}

NtkLeftFit detectNtkLeft(const std::vector<double> &lambda, double relativeTolerance)
{
    NtkLeftFit best;
    const int n = int(lambda.size());
    if (n < 3)
        return best;
    const torch::Tensor all = toTensor(lambda);
    // Largest c first: the boundary is where the NTK-left law stops explaining the factors.
    for (int c = n - 1; c >= 2; --c) {
        const double lc = lambda[size_t(c)];
        if (!(lc > 0.0))
            continue;
        const torch::Tensor i = torch::arange(0, c, torch::dtype(torch::kFloat64));
        const torch::Tensor predicted = torch::pow(lc, i / double(c));
        const double err = (torch::abs(all.slice(0, 0, c) - predicted) / predicted).max().item<double>();
        if (err <= relativeTolerance) {
            best = NtkLeftFit{true, c, lc, err};
            return best;
        }
    }
    return best;
}

std::vector<ConstraintViolation> checkConstraints(const std::vector<double> &lambda, int expectedLength,
                                                  double scale, int dRcd)
{
    using Kind = ConstraintViolation::Kind;
    std::vector<ConstraintViolation> out;
    if (int(lambda.size()) != expectedLength)
        out.push_back({Kind::WrongLength, -1,
                       QStringLiteral("expected %1 factors (d/2), got %2").arg(expectedLength).arg(lambda.size())});
    for (size_t k = 0; k < lambda.size(); ++k) {
        const int i = int(k);
        const double v = lambda[k];
        if (!std::isfinite(v)) {
            out.push_back({Kind::NotFinite, i, QStringLiteral("λ[%1] is not finite").arg(i)});
            continue;
        }
        if (v <= 0.0)
            out.push_back({Kind::NotPositive, i, QStringLiteral("λ[%1] = %2 is not positive").arg(i).arg(v)});
        if (k > 0 && std::isfinite(lambda[k - 1]) && v < lambda[k - 1])
            out.push_back({Kind::NotMonotone, i,
                           QStringLiteral("λ[%1] = %2 is below λ[%3] = %4 (factors must not decrease)")
                               .arg(i).arg(v).arg(i - 1).arg(lambda[k - 1])});
        if (dRcd >= 0 && i >= dRcd && v < scale * (1.0 - 1e-12))
            out.push_back({Kind::BelowScale, i,
                           QStringLiteral("λ[%1] = %2 is below the scale s = %3 at or above d_rcd = %4")
                               .arg(i).arg(v).arg(scale).arg(dRcd)});
    }
    return out;
}

} // namespace rs
