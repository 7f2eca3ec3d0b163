// The factor families, in float64 per dimension, mirroring transformers' modeling_rope_utils.py
// step by step so that the numbers line up with what a model loaded by transformers or vLLM would
// compute. Plain doubles: the rope part never needs a tensor.
#include "rope/factorfamilies.h"
#include "rope/factorvalue.h"
#include "rope/engine.h"
#include "rope/ropeconfig.h"
#include "rope/ropemath_p.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace rs {

using ropemath::kTwoPi;

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
    std::vector<double> lambda(size_t(rotaryDims / 2));
    for (size_t i = 0; i < lambda.size(); ++i)
        lambda[i] = std::pow(scale, 2.0 * double(i) / double(rotaryDims - 2));
    return FactorSet{QStringLiteral("ntk"), std::move(lambda), 1.0};
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
    const std::vector<double> theta = ropemath::defaultInvFreq(d, base);
    std::vector<double> lambda(theta.size());
    for (size_t i = 0; i < theta.size(); ++i) {
        const double ramp = std::clamp((double(i) - low) / (high - low), 0.0, 1.0);
        const double extrapolation = 1.0 - ramp; // 1: keep the original frequency
        const double scaled = (theta[i] / scale) * (1.0 - extrapolation) + theta[i] * extrapolation;
        lambda[i] = theta[i] / scaled;  // θ̂ = θ / λ ⇔ λ = θ / θ̂
    }
    const double attention = p.attentionFactor ? *p.attentionFactor
                                               : yarnAttentionFactor(scale, p.mscale, p.mscaleAllDim);
    return FactorSet{QStringLiteral("yarn"), std::move(lambda), attention};
}

FactorSet llama3Factors(int rotaryDims, double base, double trainLength, const Llama3Params &p)
{
    const std::vector<double> theta = ropemath::defaultInvFreq(rotaryDims, base);
    const double lowFreqWavelength = trainLength / p.lowFreqFactor;
    const double highFreqWavelength = trainLength / p.highFreqFactor;
    std::vector<double> lambda(theta.size());
    for (size_t i = 0; i < theta.size(); ++i) {
        const double wavelength = kTwoPi / theta[i];
        // Long wavelengths are divided by the factor; the medium band is smoothed between.
        double scaled = wavelength > lowFreqWavelength ? theta[i] / p.factor : theta[i];
        if (wavelength >= highFreqWavelength && wavelength <= lowFreqWavelength) {
            const double smooth = (trainLength / wavelength - p.lowFreqFactor) / (p.highFreqFactor - p.lowFreqFactor);
            scaled = (1.0 - smooth) * scaled / p.factor + smooth * scaled;
        }
        lambda[i] = theta[i] / scaled;
    }
    return FactorSet{QStringLiteral("llama3"), std::move(lambda), 1.0};
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
        // NTK-left: λ_i = λ_dRcd^(i/dRcd) below the critical dimension.
        const double atBoundary = lambda[size_t(dRcd)];
        for (int i = 0; i < dRcd; ++i)
            lambda[size_t(i)] = std::pow(atBoundary, double(i) / double(dRcd));
    }
    return FactorSet{QStringLiteral("longrope2"), std::move(lambda), longropeAttentionFactor(scale, trainLength)};
}

FactorSet longrope2Factors(int rotaryDims, int dRcd, const std::vector<double> &upper, double scale, double trainLength,
                           const Longrope2Shape &shape)
{
    FactorSet f = longrope2Factors(rotaryDims, dRcd, upper, scale, trainLength);
    std::vector<double> &lambda = f.lambda;
    const int pairs = int(lambda.size());
    dRcd = std::clamp(dRcd, 0, pairs);
    if (shape.anchor > dRcd && shape.anchor < pairs) {
        const double atAnchor = lambda[size_t(shape.anchor)], atBoundary = lambda[size_t(dRcd)];
        for (int i = 0; i < dRcd; ++i)
            lambda[size_t(i)] = std::min(std::pow(atAnchor, double(i) / double(shape.anchor)), atBoundary);
    }
    for (int i = 0; i < std::min(shape.keepOriginal, pairs); ++i)
        lambda[size_t(i)] = 1.0;
    return f;
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
        // The model's own longrope config runs as transformers runs it (rope/engine.h).
        const RopeOverride r = deployedLongrope(config, Engine::Transformers, targetLength);
        f = FactorSet{QString(), r.lambda, r.attentionFactor};
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
        // Everything the config sets for its own yarn, at the overlay's s: an explicit attention
        // factor, else the mscale ratio, as the `config` family reads them.
        yarn.betaFast = config.scaling.betaFast;
        yarn.betaSlow = config.scaling.betaSlow;
        yarn.truncate = config.scaling.truncate;
        yarn.mscale = config.scaling.mscale;
        yarn.mscaleAllDim = config.scaling.mscaleAllDim;
        yarn.attentionFactor = config.scaling.attentionFactor;
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
    // Largest c first: the boundary is where the NTK-left law stops explaining the factors.
    for (int c = n - 1; c >= 2; --c) {
        const double lc = lambda[size_t(c)];
        if (!(lc > 0.0))
            continue;
        double err = 0.0;
        for (int i = 0; i < c; ++i) {
            const double predicted = std::pow(lc, double(i) / double(c));
            // A NaN λ_i makes the fit fail, as torch's max over a NaN would.
            const double e = std::abs(lambda[size_t(i)] - predicted) / predicted;
            err = std::isnan(e) || std::isnan(err) ? std::numeric_limits<double>::quiet_NaN() : std::max(err, e);
        }
        if (err <= relativeTolerance) {
            best = NtkLeftFit{true, c, lc, err};
            return best;
        }
    }
    return best;
}

QString factorValueProblem(double lambda)
{
    if (!std::isfinite(lambda))
        return QStringLiteral("is not finite");
    if (lambda <= 0.0)
        return QStringLiteral("is not positive");
    if (lambda < kMinFactor || lambda > kMaxFactor)
        return QStringLiteral("is outside [%1, %2], not a usable rescale factor").arg(kMinFactor).arg(kMaxFactor);
    return {};
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
        if (const QString problem = factorValueProblem(v); !problem.isEmpty())
            out.push_back({v <= 0.0 ? Kind::NotPositive : Kind::OutOfRange, i, QStringLiteral("λ[%1] = %2 %3").arg(i).arg(v).arg(problem)});
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
