#include "search/search.h"
#include "common/jsonarray.h"

#include "common/error.h"
#include "rope/factorfamilies.h"
#include "rope/ropegeometry.h"

#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace rs {

uint64_t SearchRng::next()
{
    uint64_t z = (m_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double SearchRng::uniform() { return double(next() >> 11) * 0x1.0p-53; }

double SearchRng::uniform(double lo, double hi) { return std::clamp(lo + (hi - lo) * uniform(), lo, hi); }

int SearchRng::below(int n) { return n <= 1 ? 0 : int(next() % uint64_t(n)); }

QString stopReasonName(StopReason r)
{
    switch (r) {
    case StopReason::Done: return QStringLiteral("done");
    case StopReason::Budget: return QStringLiteral("budget");
    case StopReason::Cancelled: return QStringLiteral("cancelled");
    }
    return {};
}

namespace {

const QString kSettingsSource = QStringLiteral("search settings");

// Cache key: λ quantized to 1e-9.
std::string keyOf(const std::vector<double> &lambda)
{
    std::string key;
    key.reserve(lambda.size() * sizeof(long long));
    for (double v : lambda) {
        const long long q = std::isfinite(v) ? std::llround(v * 1e9) : std::numeric_limits<long long>::max();
        char buf[sizeof q];
        std::memcpy(buf, &q, sizeof q);
        key.append(buf, sizeof q);
    }
    return key;
}

// A candidate's key: its λ key followed by the attention factor, quantized the same way.
std::string candidateKey(const Candidate &c)
{
    std::string key = keyOf(c.lambda);
    key += keyOf({c.attentionFactor});
    return key;
}

// One (candidate, sample) score's key.
std::string scoreKey(const std::string &candidate, int sample)
{
    std::string key = candidate;
    char buf[sizeof sample];
    std::memcpy(buf, &sample, sizeof sample);
    key.append(buf, sizeof sample);
    return key;
}

QJsonValue fitnessJson(double f) { return std::isfinite(f) ? QJsonValue(f) : QJsonValue(QJsonValue::Null); }

// The settings that define the run (budgets excluded: a resumed run may get a new budget). Keys
// added after the first release appear only when they differ from their defaults, so logs written
// before them still resume.
QJsonObject settingsJson(const SearchSettings &s, bool attentionGiven)
{
    QJsonObject o;
    o.insert(QStringLiteral("method"), s.method == SearchMethod::LongRoPE2 ? QStringLiteral("longrope2") : QStringLiteral("longrope"));
    o.insert(QStringLiteral("rotary_dims"), s.rotaryDims);
    o.insert(QStringLiteral("base"), s.base);
    o.insert(QStringLiteral("train_length"), s.trainLength);
    o.insert(QStringLiteral("target_length"), s.targetLength);
    o.insert(QStringLiteral("population"), s.population);
    o.insert(QStringLiteral("iterations"), s.iterations);
    o.insert(QStringLiteral("parents"), s.parents);
    o.insert(QStringLiteral("mutations"), s.mutations);
    o.insert(QStringLiteral("crossovers"), s.crossovers);
    o.insert(QStringLiteral("mutation_probability"), s.mutationProbability);
    o.insert(QStringLiteral("d_rcd_mutation_probability"), s.dRcdMutationProbability);
    o.insert(QStringLiteral("lower_bound_factor"), s.lowerBoundFactor);
    o.insert(QStringLiteral("upper_bound_factor"), s.upperBoundFactor);
    o.insert(QStringLiteral("d_rcd_min"), s.dRcdMin);
    o.insert(QStringLiteral("d_rcd_max"), s.dRcdMax);
    o.insert(QStringLiteral("grid"), s.grid);
    o.insert(QStringLiteral("seed"), QString::number(s.seed));
    if (s.racing) {
        o.insert(QStringLiteral("racing"), true);
        o.insert(QStringLiteral("racing_keep_fraction"), s.racingKeepFraction);
    }
    if (s.searchAttentionFactor) {
        o.insert(QStringLiteral("search_attention_factor"), true);
        o.insert(QStringLiteral("attention_factor_min"), s.attentionFactorMin);
        o.insert(QStringLiteral("attention_factor_max"), s.attentionFactorMax);
    } else if (attentionGiven) {
        o.insert(QStringLiteral("attention_factor"), s.attentionFactor);
    }
    return o;
}

struct LoadedLog {
    std::unordered_map<std::string, double> cache;
};

// Entries without "sample" are sample 0 (whole-fitness runs); without "attention_factor", the
// fixed factor (runs that do not search it).
LoadedLog loadLog(const QString &path, const QJsonObject &expectedSettings, int pairs, int samples, double fixedAttention)
{
    QFile f(path);
    if (!f.exists())
        throw Error(path, QStringLiteral("cannot resume: the run log does not exist"));
    if (!f.open(QIODevice::ReadWrite))
        throw Error(path, QStringLiteral("cannot open the run log: %1").arg(f.errorString()));
    const QByteArray all = f.readAll();
    // A crash may leave a truncated last line: drop it (it never ended with a newline).
    qsizetype usable = all.size();
    const bool truncatedTail = !all.isEmpty() && !all.endsWith('\n');
    if (truncatedTail)
        usable = all.lastIndexOf('\n') + 1;
    const QList<QByteArray> lines = all.left(usable).split('\n');
    LoadedLog out;
    bool sawStart = false;
    int lineNo = 0;
    for (const QByteArray &raw : lines) {
        ++lineNo;
        const QByteArray line = raw.trimmed();
        if (line.isEmpty())
            continue;
        QJsonParseError err;
        const QJsonDocument doc = QJsonDocument::fromJson(line, &err);
        if (err.error != QJsonParseError::NoError || !doc.isObject())
            throw Error(path, QStringLiteral("line %1: malformed run-log entry (%2)").arg(lineNo).arg(err.errorString()));
        const QJsonObject o = doc.object();
        const QString event = o.value(QStringLiteral("event")).toString();
        if (event == QLatin1String("start")) {
            const QJsonObject settings = o.value(QStringLiteral("settings")).toObject();
            if (settings != expectedSettings) {
                QStringList diffs;
                for (auto it = expectedSettings.begin(); it != expectedSettings.end(); ++it)
                    if (settings.value(it.key()) != it.value())
                        diffs << it.key();
                for (auto it = settings.begin(); it != settings.end(); ++it)  // keys only the log has
                    if (!expectedSettings.contains(it.key()))
                        diffs << it.key();
                throw Error(path, QStringLiteral("line %1: the run log was written with different search settings (%2)")
                                      .arg(lineNo)
                                      .arg(diffs.isEmpty() ? QStringLiteral("unknown keys") : diffs.join(QStringLiteral(", "))));
            }
            sawStart = true;
        } else if (event == QLatin1String("eval")) {
            const QJsonValue lv = o.value(QStringLiteral("lambda"));
            const QJsonValue fv = o.value(QStringLiteral("fitness"));
            if (!lv.isArray() || (!fv.isDouble() && !fv.isNull()))
                throw Error(path, QStringLiteral("line %1: eval entry needs a \"lambda\" array and a \"fitness\"").arg(lineNo));
            const QJsonArray a = lv.toArray();
            if (a.size() != pairs)
                throw Error(path, QStringLiteral("line %1: eval entry has %2 factors, expected %3").arg(lineNo).arg(a.size()).arg(pairs));
            std::vector<double> lambda;
            lambda.reserve(size_t(a.size()));
            for (const QJsonValue &v : a) {
                if (!v.isDouble())
                    throw Error(path, QStringLiteral("line %1: eval entry has a non-numeric factor").arg(lineNo));
                lambda.push_back(v.toDouble());
            }
            const QJsonValue sv = o.value(QStringLiteral("sample"));
            const QJsonValue av = o.value(QStringLiteral("attention_factor"));
            if ((!sv.isUndefined() && !sv.isDouble()) || (!av.isUndefined() && !av.isDouble()))
                throw Error(path, QStringLiteral("line %1: eval entry has a non-numeric \"sample\" or \"attention_factor\"").arg(lineNo));
            const double sample = sv.isUndefined() ? 0.0 : sv.toDouble();
            if (sample != std::floor(sample) || sample < 0 || sample >= samples)
                throw Error(path, QStringLiteral("line %1: eval entry for sample %2, but the fitness has %3 samples")
                                      .arg(lineNo).arg(sample).arg(samples));
            const Candidate c{std::move(lambda), av.isUndefined() ? fixedAttention : av.toDouble()};
            out.cache[scoreKey(candidateKey(c), int(sample))] = fv.isNull() ? std::numeric_limits<double>::infinity() : fv.toDouble();
        } else if (event.isEmpty()) {
            throw Error(path, QStringLiteral("line %1: run-log entry without \"event\"").arg(lineNo));
        }
        // generation, finish, resume: informational.
    }
    if (!sawStart)
        throw Error(path, QStringLiteral("cannot resume: the run log has no \"start\" entry"));
    if (truncatedTail && !f.resize(usable))
        throw Error(path, QStringLiteral("cannot drop the truncated last line: %1").arg(f.errorString()));
    return out;
}

class RunLog {
public:
    void open(const QString &path, bool resume)
    {
        m_file.setFileName(path);
        if (!resume && m_file.exists() && m_file.size() > 0)
            throw Error(path, QStringLiteral("the run log already exists; resume it or choose another file"));
        if (!m_file.open(QIODevice::WriteOnly | QIODevice::Append))
            throw Error(path, QStringLiteral("cannot open the run log for writing: %1").arg(m_file.errorString()));
    }
    bool isOpen() const { return m_file.isOpen(); }
    void write(const QJsonObject &o)
    {
        if (!m_file.isOpen())
            return;
        QByteArray line = QJsonDocument(o).toJson(QJsonDocument::Compact);
        line.append('\n');
        if (m_file.write(line) != line.size() || !m_file.flush())
            throw Error(m_file.fileName(), QStringLiteral("cannot write the run log: %1").arg(m_file.errorString()));
    }

private:
    QFile m_file;
};

struct Member {
    SearchGenome genome;
    Candidate candidate;
    std::string key;             // candidateKey(candidate)
    std::vector<double> scores;  // samples 0 … scores.size() − 1 (always a prefix)
    int reached = 0;             // samples it was ranked on in the latest race
    double fitness = std::numeric_limits<double>::infinity();  // mean over those samples
};

double meanOfFirst(const std::vector<double> &scores, int n)
{
    double sum = 0;  // summed in sample order, as NeedleEvaluator::evaluate sums its mean
    for (int k = 0; k < n; ++k)
        sum += scores[size_t(k)];
    return sum / double(n);
}

} // namespace

EvolutionSearch::EvolutionSearch(const SearchSettings &settings) : m_s(settings)
{
    SearchSettings &s = m_s;
    if (s.rotaryDims < 4 || s.rotaryDims % 2 != 0)
        throw Error(kSettingsSource, QStringLiteral("rotary dimensions must be even and at least 4 (got %1)").arg(s.rotaryDims));
    if (!(s.base > 1) || !std::isfinite(s.base))
        throw Error(kSettingsSource, QStringLiteral("rope base must be > 1 (got %1)").arg(s.base));
    if (!(s.trainLength > 0) || !(s.targetLength >= s.trainLength) || !std::isfinite(s.targetLength))
        throw Error(kSettingsSource, QStringLiteral("need 0 < L_train ≤ L (got %1, %2)").arg(s.trainLength).arg(s.targetLength));
    if (s.population < 2)
        throw Error(kSettingsSource, QStringLiteral("population must be at least 2 (got %1)").arg(s.population));
    if (s.iterations < 0)
        throw Error(kSettingsSource, QStringLiteral("iterations must be ≥ 0 (got %1)").arg(s.iterations));
    if (s.parents == 0)
        s.parents = std::max(1, s.population / 2);
    if (s.parents < 1 || s.parents > s.population)
        throw Error(kSettingsSource, QStringLiteral("parents must be in [1, population] (got %1)").arg(s.parents));
    if (s.mutations < 0)
        s.mutations = (s.population - s.parents) / 2;
    if (s.crossovers < 0)
        s.crossovers = std::max(0, s.population - s.parents - s.mutations);
    if (s.mutations + s.crossovers < 1 && s.iterations > 0)
        throw Error(kSettingsSource, QStringLiteral("each iteration needs at least one mutation or crossover"));
    if (!(s.mutationProbability >= 0 && s.mutationProbability <= 1))
        throw Error(kSettingsSource, QStringLiteral("mutation probability must be in [0, 1]"));
    if (!(s.dRcdMutationProbability >= 0 && s.dRcdMutationProbability <= 1))
        throw Error(kSettingsSource, QStringLiteral("d_rcd mutation probability must be in [0, 1]"));
    if (!(s.lowerBoundFactor > 0) || !(s.upperBoundFactor >= s.lowerBoundFactor) || !std::isfinite(s.upperBoundFactor))
        throw Error(kSettingsSource, QStringLiteral("need 0 < lower bound factor ≤ upper bound factor"));
    if (s.maxEvaluations < 0 || s.maxSeconds < 0)
        throw Error(kSettingsSource, QStringLiteral("budgets must be ≥ 0"));
    if (!(s.racingKeepFraction > 0 && s.racingKeepFraction <= 1))
        throw Error(kSettingsSource, QStringLiteral("racing keep fraction must be in (0, 1] (got %1)").arg(s.racingKeepFraction));
    if (!(s.attentionFactor >= 0) || !std::isfinite(s.attentionFactor))
        throw Error(kSettingsSource, QStringLiteral("attention factor must be > 0, or 0 for the default (got %1)").arg(s.attentionFactor));
    if (s.searchAttentionFactor
        && (!(s.attentionFactorMin > 0) || !(s.attentionFactorMax >= s.attentionFactorMin) || !std::isfinite(s.attentionFactorMax)))
        throw Error(kSettingsSource, QStringLiteral("need 0 < attention factor min ≤ max (got %1, %2)")
                                         .arg(s.attentionFactorMin).arg(s.attentionFactorMax));
    m_pairs = s.rotaryDims / 2;
    m_scale = s.scale();
    m_attentionGiven = s.attentionFactor > 0;
    if (!m_attentionGiven)
        s.attentionFactor = longropeAttentionFactor(m_scale, s.trainLength);
    if (s.method == SearchMethod::LongRoPE2) {
        if (s.dRcdMin < 0)
            s.dRcdMin = tenPeriodDimension(s.rotaryDims, s.base, s.trainLength);
        if (s.dRcdMax < 0)
            s.dRcdMax = theoreticalCriticalDimension(s.rotaryDims, s.base, s.trainLength);
        s.dRcdMax = std::min(s.dRcdMax, m_pairs - 1);
        s.dRcdMin = std::min(s.dRcdMin, s.dRcdMax);
        if (s.dRcdMin < 0 || s.dRcdMax < s.dRcdMin)
            throw Error(kSettingsSource, QStringLiteral("invalid d_rcd range [%1, %2]").arg(s.dRcdMin).arg(s.dRcdMax));
        m_lo = m_scale * s.lowerBoundFactor;
        m_hi = m_scale * s.upperBoundFactor;
    } else {
        if (!(s.grid > 0))
            throw Error(kSettingsSource, QStringLiteral("factor grid step must be > 0"));
        s.dRcdMin = s.dRcdMax = 0;
        m_lo = std::ceil(1.0 / s.grid - 1e-9) * s.grid;
        m_hi = std::floor(m_scale * s.upperBoundFactor / s.grid + 1e-9) * s.grid;
        if (m_hi < m_lo)
            throw Error(kSettingsSource, QStringLiteral("no grid value in [1, s·upper]"));
    }
}

double EvolutionSearch::snap(double v, double lo, double hi) const
{
    v = std::clamp(v, lo, hi);
    if (m_s.method != SearchMethod::LongRoPEv1)
        return v;
    const double g = m_s.grid;
    const double kLo = std::ceil(lo / g - 1e-9), kHi = std::floor(hi / g + 1e-9);
    return std::clamp(std::round(v / g), kLo, std::max(kLo, kHi)) * g;
}

std::vector<double> EvolutionSearch::lambdaOf(const SearchGenome &g) const
{
    if (m_s.method == SearchMethod::LongRoPEv1)
        return g.upper;
    return longrope2Factors(m_s.rotaryDims, g.dRcd, g.upper, m_scale, m_s.trainLength).lambda;
}

SearchGenome EvolutionSearch::initialMember(int index, SearchRng &rng) const
{
    SearchGenome g;
    g.attentionFactor = m_s.attentionFactor;
    if (m_s.method == SearchMethod::LongRoPE2) {
        const int candidates = m_s.dRcdMax - m_s.dRcdMin + 1;
        g.dRcd = m_s.dRcdMin + index % candidates;
        g.upper.assign(size_t(m_pairs - g.dRcd), rng.uniform(m_lo, m_hi));
    } else if (index == 0) {  // PI
        g.dRcd = 0;
        g.upper.assign(size_t(m_pairs), snap(m_scale, m_lo, m_hi));
    } else {
        g.dRcd = 0;
        g.upper.resize(size_t(m_pairs));
        for (double &v : g.upper)
            v = snap(rng.uniform(m_lo, m_hi), m_lo, m_hi);
        std::sort(g.upper.begin(), g.upper.end());
    }
    // Drawn after the factors, so runs that do not search it keep their random stream.
    if (m_s.searchAttentionFactor)
        g.attentionFactor = index == 0 ? std::clamp(m_s.attentionFactor, m_s.attentionFactorMin, m_s.attentionFactorMax)
                                       : rng.uniform(m_s.attentionFactorMin, m_s.attentionFactorMax);
    return g;
}

SearchGenome EvolutionSearch::mutate(const SearchGenome &parent, SearchRng &rng) const
{
    SearchGenome g = parent;
    bool changed = false;
    if (m_s.method == SearchMethod::LongRoPE2 && m_s.dRcdMax > m_s.dRcdMin && rng.uniform() < m_s.dRcdMutationProbability) {
        int step = rng.uniform() < 0.5 ? -1 : 1;
        if (g.dRcd + step < m_s.dRcdMin || g.dRcd + step > m_s.dRcdMax)
            step = -step;
        if (step < 0)  // one more searched dimension: it takes the old λ_dRcd (stays monotone, ≥ s)
            g.upper.insert(g.upper.begin(), g.upper.front());
        else
            g.upper.erase(g.upper.begin());
        g.dRcd += step;
        changed = true;
    }
    const int n = int(g.upper.size());
    auto mutateAt = [&](int k) {
        const double lo = k > 0 ? std::max(m_lo, g.upper[size_t(k - 1)]) : m_lo;
        const double hi = k + 1 < n ? std::min(m_hi, g.upper[size_t(k + 1)]) : m_hi;
        g.upper[size_t(k)] = snap(rng.uniform(lo, std::max(lo, hi)), lo, std::max(lo, hi));
    };
    for (int k = 0; k < n; ++k) {
        if (rng.uniform() < m_s.mutationProbability) {
            mutateAt(k);
            changed = true;
        }
    }
    const bool attention = m_s.searchAttentionFactor;
    // Uniform within a quarter of the range either side of the parent's value (clamped to the
    // bounds): wide enough to cross the range in a few generations, local enough to refine.
    auto mutateAttention = [&] {
        const double w = 0.25 * (m_s.attentionFactorMax - m_s.attentionFactorMin);
        const double lo = std::max(m_s.attentionFactorMin, g.attentionFactor - w);
        const double hi = std::min(m_s.attentionFactorMax, g.attentionFactor + w);
        g.attentionFactor = rng.uniform(lo, std::max(lo, hi));
    };
    if (attention && rng.uniform() < m_s.mutationProbability) {
        mutateAttention();
        changed = true;
    }
    if (!changed && n + (attention ? 1 : 0) > 0) {
        const int k = rng.below(n + (attention ? 1 : 0));  // k == n: the attention gene
        if (k < n)
            mutateAt(k);
        else
            mutateAttention();
    }
    return g;
}

SearchGenome EvolutionSearch::crossover(const SearchGenome &a, const SearchGenome &b, SearchRng &rng) const
{
    if (a.dRcd != b.dRcd || a.upper.size() != b.upper.size())
        throw Error(kSettingsSource, QStringLiteral("crossover needs two parents with the same d_rcd"));
    SearchGenome g = a;
    double runningMax = m_lo;
    for (size_t k = 0; k < g.upper.size(); ++k) {
        const double v = rng.uniform() < 0.5 ? a.upper[k] : b.upper[k];
        runningMax = std::max(runningMax, v);
        g.upper[k] = snap(runningMax, m_lo, m_hi);
    }
    if (m_s.searchAttentionFactor)
        g.attentionFactor = rng.uniform() < 0.5 ? a.attentionFactor : b.attentionFactor;
    return g;
}

SampledFitness SampledFitness::whole(const CandidateFitness &fitness)
{
    if (!fitness)
        return {};
    return {[fitness](const Candidate &c, int) { return fitness(c); }, 1};
}

SearchResult EvolutionSearch::run(const Fitness &fitness, const SearchHooks &hooks)
{
    if (!fitness)
        throw Error(kSettingsSource, QStringLiteral("no fitness function"));
    return run(SampledFitness{[fitness](const Candidate &c, int) { return fitness(c.lambda); }, 1}, hooks);
}

SearchResult EvolutionSearch::run(const SampledFitness &sampled, const SearchHooks &hooks)
{
    if (!sampled.fitness && !sampled.batch)
        throw Error(kSettingsSource, QStringLiteral("no fitness function"));
    if (sampled.samples < 1)
        throw Error(kSettingsSource, QStringLiteral("a sampled fitness needs at least one sample (got %1)").arg(sampled.samples));
    const int samples = sampled.samples;
    const bool racing = m_s.racing && samples > 1;
    QJsonObject settings = settingsJson(m_s, m_attentionGiven);
    if (samples > 1)
        settings.insert(QStringLiteral("samples"), samples);
    if (!hooks.context.isEmpty())
        settings.insert(QStringLiteral("context"), hooks.context);
    std::unordered_map<std::string, double> cache;
    RunLog log;
    if (!hooks.logPath.isEmpty()) {
        if (hooks.resume)
            cache = loadLog(hooks.logPath, settings, m_pairs, samples, m_s.attentionFactor).cache;
        log.open(hooks.logPath, hooks.resume);
        QJsonObject o{{QStringLiteral("event"), hooks.resume ? QStringLiteral("resume") : QStringLiteral("start")},
                      {QStringLiteral("settings"), settings},
                      {QStringLiteral("max_evaluations"), m_s.maxEvaluations},
                      {QStringLiteral("max_seconds"), m_s.maxSeconds}};
        if (hooks.resume)
            o.insert(QStringLiteral("cached_evaluations"), qint64(cache.size()));
        log.write(o);
    }

    const bool lr2 = m_s.method == SearchMethod::LongRoPE2;
    QElapsedTimer timer;
    timer.start();
    SearchResult result;
    result.bestFitness = std::numeric_limits<double>::infinity();
    result.bestAttentionFactor = m_s.attentionFactor;
    result.samples = samples;
    bool haveBest = false;
    std::optional<StopReason> stop;
    std::unordered_set<std::string> seen;  // candidates generated in this run
    std::unordered_set<std::string> used;  // (candidate, sample) scores this search has used
    SearchRng rng(m_s.seed);

    // Takes score f of `m` on its next sample: the counts of distinct scores and the best so far.
    auto accept = [&](Member &m, const std::string &key, double f) {
        const int k = int(m.scores.size());
        m.scores.push_back(f);
        if (used.insert(key).second) {
            ++result.sampleEvaluations;
            if (k == 0)
                ++result.candidates;
        }
        if (int(m.scores.size()) == samples) {
            const double full = meanOfFirst(m.scores, samples);
            if (!haveBest || full < result.bestFitness) {
                haveBest = true;
                result.bestFitness = full;
                result.bestLambda = m.candidate.lambda;
                result.bestDRcd = lr2 ? m.genome.dRcd : -1;
                result.bestAttentionFactor = m.candidate.attentionFactor;
            }
        }
    };
    // Serves `m`'s next sample from the cache; false when it is not there.
    auto fromCache = [&](Member &m) {
        const std::string key = scoreKey(m.key, int(m.scores.size()));
        const auto it = cache.find(key);
        if (it == cache.end())
            return false;
        ++result.cacheHits;
        accept(m, key, it->second);
        return true;
    };
    // How many real evaluations may still run (0 = stop, with the reason set).
    auto allowance = [&]() -> int {
        if (hooks.cancelled && hooks.cancelled()) {
            stop = StopReason::Cancelled;
            return 0;
        }
        if ((m_s.maxEvaluations > 0 && result.evaluations >= m_s.maxEvaluations)
            || (m_s.maxSeconds > 0 && double(timer.elapsed()) / 1000.0 >= m_s.maxSeconds)) {
            stop = StopReason::Budget;
            return 0;
        }
        return m_s.maxEvaluations > 0 ? m_s.maxEvaluations - result.evaluations : std::numeric_limits<int>::max();
    };
    // Records a real evaluation of `m`'s next sample: cached, counted, logged, accepted.
    auto evaluated = [&](Member &m, double f) {
        const int k = int(m.scores.size());
        const std::string key = scoreKey(m.key, k);
        if (std::isnan(f))
            f = std::numeric_limits<double>::infinity();
        ++result.evaluations;
        cache.emplace(key, f);
        QJsonObject o{{QStringLiteral("event"), QStringLiteral("eval")},
                      {QStringLiteral("lambda"), toJsonArray(m.candidate.lambda)},
                      {QStringLiteral("d_rcd"), lr2 ? m.genome.dRcd : -1},
                      {QStringLiteral("fitness"), fitnessJson(f)}};
        if (samples > 1)
            o.insert(QStringLiteral("sample"), k);
        if (m_s.searchAttentionFactor)
            o.insert(QStringLiteral("attention_factor"), m.candidate.attentionFactor);
        log.write(o);
        accept(m, key, f);
    };
    // Scores `m` on its next sample, from the cache or by a real (logged) evaluation. False when a
    // budget or cancellation stops the run first.
    auto scoreNext = [&](Member &m) -> bool {
        if (fromCache(m))
            return true;
        if (allowance() == 0)
            return false;
        evaluated(m, sampled.fitness(m.candidate, int(m.scores.size())));
        return true;
    };
    auto rank = [&](Member &m, int n) {
        m.reached = n;
        m.fitness = meanOfFirst(m.scores, n);
    };
    // Scores `m` on samples 0 … n − 1 (what it already knows is reused) and ranks it on them.
    auto scoreUpTo = [&](Member &m, int n) -> bool {
        while (int(m.scores.size()) < n)
            if (!scoreNext(m))
                return false;
        rank(m, n);
        return true;
    };
    // Brings every listed member to n scores, where each has at least n − 1: the cache first, then
    // the missing sample n − 1 of each distinct candidate through the batch fitness, maxBatch at a
    // time in member order (a repeated candidate is evaluated once and served to the others from
    // the cache, as one at a time).
    auto scoreRound = [&](std::vector<Member> &pop, const std::vector<size_t> &members, int n) -> bool {
        if (!sampled.batch) {
            for (size_t i : members)
                if (!scoreUpTo(pop[i], n))
                    return false;
            return true;
        }
        std::vector<size_t> pending;
        std::unordered_set<std::string> pendingKeys;
        for (size_t i : members) {
            Member &m = pop[i];
            if (int(m.scores.size()) >= n || fromCache(m))
                continue;
            if (pendingKeys.insert(m.key).second)
                pending.push_back(i);
        }
        for (size_t done = 0; done < pending.size();) {
            const int allowed = allowance();
            if (allowed == 0)
                return false;
            const size_t count = std::min({pending.size() - done, size_t(std::max(1, sampled.maxBatch)), size_t(allowed)});
            std::vector<Candidate> group;
            for (size_t j = done; j < done + count; ++j)
                group.push_back(pop[pending[j]].candidate);
            const std::vector<double> scores = sampled.batch(group, n - 1);
            if (scores.size() != count)
                throw Error(kSettingsSource, QStringLiteral("the batch fitness returned %1 scores for %2 candidates").arg(scores.size()).arg(count));
            for (size_t j = 0; j < count; ++j)
                evaluated(pop[pending[done + j]], scores[j]);
            done += count;
        }
        for (size_t i : members) {
            if (int(pop[i].scores.size()) < n && !fromCache(pop[i]))
                throw Error(kSettingsSource, QStringLiteral("internal: a member missed its batch evaluation"));
            rank(pop[i], n);
        }
        return true;
    };
    // Scores a generation and returns its ranking (best first). Without racing every member gets
    // all K samples: one member after the other, or sample by sample with a batch fitness. With
    // racing, see SearchSettings::racing.
    auto race = [&](std::vector<Member> &pop, std::vector<size_t> &ranking) -> bool {
        std::vector<size_t> alive(pop.size());
        std::iota(alive.begin(), alive.end(), size_t(0));
        if (!racing && !sampled.batch) {
            for (Member &m : pop)
                if (!scoreUpTo(m, samples))
                    return false;
        } else {
            for (int k = 0; k < samples; ++k) {
                // In member order, so a replay meets the same sequence.
                if (!scoreRound(pop, alive, k + 1))
                    return false;
                if (k + 1 == samples || !racing)
                    continue;
                std::stable_sort(alive.begin(), alive.end(), [&](size_t a, size_t b) { return pop[a].fitness < pop[b].fitness; });
                const size_t keep = std::clamp(size_t(std::ceil(double(alive.size()) * m_s.racingKeepFraction - 1e-9)), size_t(1), alive.size());
                alive.resize(keep);
                std::sort(alive.begin(), alive.end());
            }
        }
        ranking.resize(pop.size());
        std::iota(ranking.begin(), ranking.end(), size_t(0));
        std::stable_sort(ranking.begin(), ranking.end(), [&](size_t a, size_t b) {
            if (pop[a].reached != pop[b].reached)
                return pop[a].reached > pop[b].reached;
            return pop[a].fitness < pop[b].fitness;
        });
        return true;
    };
    auto makeMember = [&](SearchGenome g) {
        Member m;
        m.candidate = candidateOf(g);
        m.key = candidateKey(m.candidate);
        m.genome = std::move(g);
        return m;
    };
    auto report = [&](int generation, const std::vector<Member> &pop) {
        GenerationReport r;
        r.generation = generation;
        r.bestFitness = result.bestFitness;
        // The median over the members scored on every sample (all of them without racing).
        std::vector<double> fs;
        for (const Member &m : pop) {
            if (m.reached == samples)
                fs.push_back(m.fitness);
            r.memberDRcd.push_back(lr2 ? m.genome.dRcd : -1);
        }
        std::sort(fs.begin(), fs.end());
        const size_t n = fs.size();
        r.medianFitness = n == 0 ? 0 : (n % 2 ? fs[n / 2] : 0.5 * (fs[n / 2 - 1] + fs[n / 2]));
        r.bestLambda = result.bestLambda;
        r.bestDRcd = result.bestDRcd;
        r.bestAttentionFactor = result.bestAttentionFactor;
        r.evaluations = result.evaluations;
        r.cacheHits = result.cacheHits;
        r.samples = samples;
        r.candidates = result.candidates;
        r.sampleEvaluations = result.sampleEvaluations;
        r.fullyEvaluated = int(n);
        result.generations = generation + 1;
        QJsonArray members;
        for (int d : r.memberDRcd)
            members.append(d);
        log.write({{QStringLiteral("event"), QStringLiteral("generation")},
                   {QStringLiteral("generation"), generation},
                   {QStringLiteral("best_fitness"), fitnessJson(r.bestFitness)},
                   {QStringLiteral("median_fitness"), fitnessJson(r.medianFitness)},
                   {QStringLiteral("best_lambda"), toJsonArray(r.bestLambda)},
                   {QStringLiteral("best_d_rcd"), r.bestDRcd},
                   {QStringLiteral("best_attention_factor"), r.bestAttentionFactor},
                   {QStringLiteral("member_d_rcd"), members},
                   {QStringLiteral("evaluations"), r.evaluations},
                   {QStringLiteral("cache_hits"), r.cacheHits},
                   {QStringLiteral("candidates"), r.candidates},
                   {QStringLiteral("sample_evaluations"), r.sampleEvaluations},
                   {QStringLiteral("fully_evaluated"), r.fullyEvaluated}});
        if (hooks.onGeneration)
            hooks.onGeneration(r);
    };

    // Generation 0.
    std::vector<Member> pop;
    for (int i = 0; i < m_s.population; ++i) {
        pop.push_back(makeMember(initialMember(i, rng)));
        seen.insert(pop.back().key);
    }
    std::vector<size_t> ranking;
    if (race(pop, ranking))
        report(0, pop);

    // Produces an offspring not yet generated in this run (a few retries, then accepts a repeat,
    // which the cache serves without evaluating).
    auto fresh = [&](auto produce) {
        SearchGenome g = produce();
        for (int tries = 0; tries < 20 && seen.count(candidateKey(candidateOf(g))); ++tries)
            g = produce();
        Member m = makeMember(std::move(g));
        seen.insert(m.key);
        return m;
    };

    for (int it = 1; it <= m_s.iterations && !stop; ++it) {
        std::vector<Member> next;
        for (int k = 0; k < m_s.parents && k < int(ranking.size()); ++k)
            next.push_back(pop[ranking[size_t(k)]]);
        const int np = int(next.size());
        // The parents sit at the front of `next`; children are appended after all are produced.
        std::vector<Member> children;
        for (int k = 0; k < m_s.mutations; ++k)
            children.push_back(fresh([&] { return mutate(next[size_t(rng.below(np))].genome, rng); }));
        for (int k = 0; k < m_s.crossovers; ++k) {
            children.push_back(fresh([&] {
                const Member &a = next[size_t(rng.below(np))];
                std::vector<int> mates;
                for (int j = 0; j < np; ++j)
                    if (&next[size_t(j)] != &a && next[size_t(j)].genome.dRcd == a.genome.dRcd)
                        mates.push_back(j);
                if (mates.empty())
                    return mutate(a.genome, rng);
                return crossover(a.genome, next[size_t(mates[size_t(rng.below(int(mates.size())))])].genome, rng);
            }));
        }
        for (Member &m : children)
            next.push_back(std::move(m));
        if (!race(next, ranking))
            break;
        pop = std::move(next);
        report(it, pop);
    }

    if (!stop)
        result.stopReason = StopReason::Done;
    else
        result.stopReason = *stop;
    log.write({{QStringLiteral("event"), QStringLiteral("finish")},
               {QStringLiteral("reason"), stopReasonName(result.stopReason)},
               {QStringLiteral("best_lambda"), toJsonArray(result.bestLambda)},
               {QStringLiteral("best_fitness"), fitnessJson(result.bestFitness)},
               {QStringLiteral("best_d_rcd"), result.bestDRcd},
               {QStringLiteral("best_attention_factor"), result.bestAttentionFactor},
               {QStringLiteral("evaluations"), result.evaluations},
               {QStringLiteral("cache_hits"), result.cacheHits},
               {QStringLiteral("generations"), result.generations},
               {QStringLiteral("samples"), result.samples},
               {QStringLiteral("candidates"), result.candidates},
               {QStringLiteral("sample_evaluations"), result.sampleEvaluations},
               {QStringLiteral("saved_evaluations"), result.savedEvaluations()}});
    return result;
}

SearchResult runSearch(const SearchSettings &settings, const Fitness &fitness, const SearchHooks &hooks)
{
    return EvolutionSearch(settings).run(fitness, hooks);
}

SearchResult runSearch(const SearchSettings &settings, const SampledFitness &fitness, const SearchHooks &hooks)
{
    return EvolutionSearch(settings).run(fitness, hooks);
}

} // namespace rs
