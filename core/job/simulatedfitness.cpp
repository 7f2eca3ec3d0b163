// The simulated fitness (simulatedfitness.h): a sleep and a known function of λ per evaluation.
#include "job/simulatedfitness.h"

#include "rope/ropegeometry.h"

#include <QStringList>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <thread>

namespace rs {

namespace {

// "0.5s", "100ms", "2" (seconds): the seconds, or a negative number when it is not a duration.
double durationSeconds(QString text)
{
    double scale = 1;
    if (text.endsWith(QLatin1String("ms"))) {
        scale = 1e-3;
        text.chop(2);
    } else if (text.endsWith(QLatin1Char('s'))) {
        text.chop(1);
    }
    bool ok = false;
    const double v = text.toDouble(&ok);
    return ok && std::isfinite(v) && v >= 0 ? v * scale : -1;
}

// FNV-1a over the bytes, then mapped to [0, 1): which evaluations fail.
double unitHash(const Candidate &c, SampleSetName set, int sample)
{
    uint64_t h = 14695981039346656037ull;  // FNV-1a 64-bit offset basis
    auto mix = [&h](const void *data, size_t size) {
        const auto *p = static_cast<const unsigned char *>(data);
        for (size_t i = 0; i < size; ++i) {
            h ^= p[i];
            h *= 1099511628211ull;
        }
    };
    for (double v : c.lambda)
        mix(&v, sizeof v);
    const int32_t tags[2] = {set == SampleSetName::Search ? 0 : 1, sample};
    mix(tags, sizeof tags);
    return double(h >> 11) / double(uint64_t(1) << 53);
}

} // namespace

QString parseSimulatedFitness(const QString &text, SimulatedFitnessSpec &out)
{
    const QStringList parts = text.split(QLatin1Char(','));
    SimulatedFitnessSpec spec;
    spec.seconds = durationSeconds(parts.first().trimmed());
    if (spec.seconds < 0)
        return QStringLiteral("needs a duration such as 0.5s, 100ms or 2 (seconds) first, got '%1'").arg(parts.first());
    for (qsizetype i = 1; i < parts.size(); ++i) {
        const QString part = parts[i].trimmed();
        const qsizetype eq = part.indexOf(QLatin1Char('='));
        const QString key = part.left(eq), value = eq < 0 ? QString() : part.mid(eq + 1);
        bool ok = false;
        const double v = value.toDouble(&ok);
        if (key != QLatin1String("jitter") && key != QLatin1String("fail"))
            return QStringLiteral("knows jitter=F and fail=P after the duration, got '%1'").arg(part);
        if (eq < 0 || !ok || !(v >= 0 && v <= 1))
            return QStringLiteral("needs %1=F with F from 0 to 1, got '%2'").arg(key, part);
        (key == QLatin1String("jitter") ? spec.jitter : spec.failRate) = v;
    }
    out = spec;
    return {};
}

SimulatedFitness::SimulatedFitness(const SimulatedFitnessSpec &spec, const SearchSettings &resolved) : m_spec(spec)
{
    const int pairs = resolved.rotaryDims / 2;
    const double s = resolved.targetLength / resolved.trainLength;
    const int d10 = tenPeriodDimension(resolved.rotaryDims, resolved.base, resolved.trainLength);
    const int dTcd = theoreticalCriticalDimension(resolved.rotaryDims, resolved.base, resolved.trainLength);
    const int d = std::clamp((d10 + dTcd) / 2, 0, std::max(0, pairs - 1));
    m_target.resize(size_t(std::max(0, pairs)));
    for (int i = d; i < pairs; ++i)
        m_target[size_t(i)] = s * (1.0 + 0.5 * double(i - d) / double(std::max(1, pairs - 1 - d)));
    for (int i = 0; i < d; ++i)
        m_target[size_t(i)] = std::pow(m_target[size_t(d)], double(i) / double(d));
}

double SimulatedFitness::value(const Candidate &c, SampleSetName set, int sample) const
{
    if (m_spec.failRate > 0 && unitHash(c, set, sample) < m_spec.failRate)
        return std::numeric_limits<double>::quiet_NaN();
    const size_t n = std::min(c.lambda.size(), m_target.size());
    double sum = 0;
    for (size_t i = 0; i < n; ++i)
        sum += std::pow(std::log(c.lambda[i]) - std::log(m_target[i]), 2);
    return std::exp(n > 0 ? sum / double(n) : 0.0) * (1.0 + 0.01 * sample);
}

std::vector<double> SimulatedFitness::score(SampleSetName set, const std::vector<Candidate> &candidates, int sample) const
{
    thread_local std::mt19937_64 random{std::random_device{}()};
    std::uniform_real_distribution<double> jitter(1.0 - m_spec.jitter, 1.0 + m_spec.jitter);
    std::vector<double> out;
    out.reserve(candidates.size());
    for (const Candidate &c : candidates) {
        const double seconds = m_spec.seconds * (m_spec.jitter > 0 ? jitter(random) : 1.0);
        if (seconds > 0)
            std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
        out.push_back(value(c, set, sample));
    }
    return out;
}

SampledFitness SimulatedFitness::fitness(SampleSetName set, int samples, int perJob) const
{
    SampledFitness f;
    f.samples = samples;
    f.maxBatch = std::max(1, perJob);
    f.batch = [this, set](const std::vector<Candidate> &candidates, int sample) { return score(set, candidates, sample); };
    return f;
}

} // namespace rs
