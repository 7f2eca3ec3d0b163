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
#include <QLockFile>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
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

QString fitnessAggregateName(FitnessAggregate a)
{
    switch (a) {
    case FitnessAggregate::MeanPpl: return QStringLiteral("mean_ppl");
    case FitnessAggregate::ExpMeanNll: return QStringLiteral("exp_mean_nll");
    case FitnessAggregate::MedianPpl: return QStringLiteral("median_ppl");
    }
    return {};
}

std::optional<FitnessAggregate> fitnessAggregateFromName(const QString &name)
{
    QString n = name.trimmed().toLower();
    n.replace(QLatin1Char('-'), QLatin1Char('_'));
    for (FitnessAggregate a : {FitnessAggregate::MeanPpl, FitnessAggregate::ExpMeanNll, FitnessAggregate::MedianPpl})
        if (n == fitnessAggregateName(a))
            return a;
    return std::nullopt;
}

double aggregateScores(FitnessAggregate a, const double *scores, int n)
{
    if (n < 1)
        return std::numeric_limits<double>::quiet_NaN();
    switch (a) {
    case FitnessAggregate::MeanPpl: {
        double sum = 0;  // summed in sample order, as NeedleEvaluator::evaluate sums its mean
        for (int k = 0; k < n; ++k)
            sum += scores[k];
        return sum / double(n);
    }
    case FitnessAggregate::ExpMeanNll: {
        double sum = 0;  // per-sample NLL = ln(per-sample PPL)
        for (int k = 0; k < n; ++k) {
            if (!(scores[k] > 0))
                return std::numeric_limits<double>::quiet_NaN();
            sum += std::log(scores[k]);
        }
        return std::exp(sum / double(n));
    }
    case FitnessAggregate::MedianPpl: {
        std::vector<double> sorted(scores, scores + n);
        std::sort(sorted.begin(), sorted.end());
        return n % 2 ? sorted[size_t(n / 2)] : 0.5 * (sorted[size_t(n / 2 - 1)] + sorted[size_t(n / 2)]);
    }
    }
    return std::numeric_limits<double>::quiet_NaN();
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
    if (s.fitness != FitnessAggregate::MeanPpl)
        o.insert(QStringLiteral("fitness"), fitnessAggregateName(s.fitness));
    if (s.seedFamilies)
        o.insert(QStringLiteral("seed_families"), true);
    return o;
}

struct LoadedLog {
    std::unordered_map<std::string, double> cache;            // search samples
    std::unordered_map<std::string, double> validationCache;  // validation samples
};

// The cache key and score of one logged evaluation ("eval", "validation_eval", "baseline_eval").
// Entries without "sample" are sample 0 (whole-fitness runs); without "attention_factor", the
// fixed factor (runs that do not search it).
std::pair<std::string, double> loggedScore(const QJsonObject &o, const QString &path, int lineNo, int pairs, int samples,
                                           double fixedAttention)
{
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
    return {scoreKey(candidateKey(c), int(sample)), fv.isNull() ? std::numeric_limits<double>::infinity() : fv.toDouble()};
}

LoadedLog loadLog(const QString &path, const QJsonObject &expectedSettings, int pairs, int samples, int validationSamples,
                  double fixedAttention)
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
            auto [key, value] = loggedScore(o, path, lineNo, pairs, samples, fixedAttention);
            out.cache.insert_or_assign(std::move(key), value);
        } else if (event == QLatin1String("validation_eval")
                   || (event == QLatin1String("baseline_eval") && o.value(QStringLiteral("set")).toString() == QLatin1String("validation"))) {
            if (validationSamples < 1)
                throw Error(path, QStringLiteral("line %1: a validation evaluation, but this run has no validation samples").arg(lineNo));
            auto [key, value] = loggedScore(o, path, lineNo, pairs, validationSamples, fixedAttention);
            out.validationCache.insert_or_assign(std::move(key), value);
        } else if (event == QLatin1String("baseline_eval")) {
            auto [key, value] = loggedScore(o, path, lineNo, pairs, samples, fixedAttention);
            out.cache.insert_or_assign(std::move(key), value);
        } else if (event.isEmpty()) {
            throw Error(path, QStringLiteral("line %1: run-log entry without \"event\"").arg(lineNo));
        }
        // generation, baselines, finish, resume: informational.
    }
    if (!sawStart)
        throw Error(path, QStringLiteral("cannot resume: the run log has no \"start\" entry"));
    if (truncatedTail && !f.resize(usable))
        throw Error(path, QStringLiteral("cannot drop the truncated last line: %1").arg(f.errorString()));
    return out;
}

class RunLog {
public:
    // Taken before the log is read for a resume and held until the run ends, so two processes
    // never append to one log (duplicate evaluations, two "finish" lines). The lock file's age
    // never makes it stale (a search runs for hours); a holder that died on this host is detected
    // by its pid and the lock taken over.
    void lock(const QString &path)
    {
        const QString lockPath = path + QStringLiteral(".lock");
        m_lock = std::make_unique<QLockFile>(lockPath);
        m_lock->setStaleLockTime(0);
        if (m_lock->tryLock(0))
            return;
        const QLockFile::LockError error = m_lock->error();
        qint64 pid = 0;
        QString host, application;
        const bool known = m_lock->getLockInfo(&pid, &host, &application);
        m_lock.reset();
        if (error == QLockFile::LockFailedError)
            throw Error(path, QStringLiteral("the run log is in use by another search (%1); wait for it to end or stop it "
                                             "(if no such process runs any more, delete %2)")
                                  .arg(known ? QStringLiteral("process %1 on %2%3")
                                                   .arg(pid)
                                                   .arg(host.isEmpty() ? QStringLiteral("an unknown host") : host)
                                                   .arg(application.isEmpty() ? QString() : QStringLiteral(", ") + application)
                                             : QStringLiteral("holder unknown"),
                                       lockPath));
        throw Error(path, QStringLiteral("cannot create the lock file %1 (%2)")
                              .arg(lockPath, error == QLockFile::PermissionError ? QStringLiteral("permission denied")
                                                                                  : QStringLiteral("unknown error")));
    }

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
    std::unique_ptr<QLockFile> m_lock;  // released after the file is closed (declared first)
    QFile m_file;
};

struct Member {
    SearchGenome genome;
    Candidate candidate;
    std::string key;             // candidateKey(candidate)
    std::vector<double> scores;  // samples 0 … scores.size() − 1 (always a prefix)
    int reached = 0;             // samples it was ranked on in the latest race
    double fitness = std::numeric_limits<double>::infinity();  // aggregate over those samples
    bool seeded = false;         // a family's projection (generation 0)
};

// A candidate the run may answer with.
struct Pick {
    bool have = false;
    std::string key;
    Candidate candidate;
    int dRcd = -1;
    double fitness = std::numeric_limits<double>::infinity();  // search fitness
    double validation = std::numeric_limits<double>::quiet_NaN();
};

// Weighted least squares under x_0 ≤ x_1 ≤ … (pool adjacent violators).
std::vector<double> isotonic(const std::vector<double> &y, const std::vector<double> &w)
{
    struct Block {
        double value, weight;
        size_t count;
    };
    std::vector<Block> blocks;
    for (size_t i = 0; i < y.size(); ++i) {
        blocks.push_back({y[i], w[i], 1});
        while (blocks.size() >= 2 && blocks[blocks.size() - 2].value > blocks.back().value) {
            const Block b = blocks.back();
            blocks.pop_back();
            Block &a = blocks.back();
            a.value = (a.value * a.weight + b.value * b.weight) / (a.weight + b.weight);
            a.weight += b.weight;
            a.count += b.count;
        }
    }
    std::vector<double> x;
    x.reserve(y.size());
    for (const Block &b : blocks)
        x.insert(x.end(), b.count, b.value);
    return x;
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
    if (s.validationTop < 1)
        throw Error(kSettingsSource, QStringLiteral("validation needs at least one candidate per generation (got %1)").arg(s.validationTop));
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

std::vector<SearchBaseline> EvolutionSearch::defaultBaselines() const
{
    const int d = m_s.rotaryDims;
    const auto asBaseline = [](const QString &name, const FactorSet &f) {
        return SearchBaseline{name, Candidate{f.lambda, f.attentionFactor}};
    };
    return {asBaseline(QStringLiteral("original"), identityFactors(d)),
            asBaseline(QStringLiteral("pi"), piFactors(d, m_scale)),
            asBaseline(QStringLiteral("ntk"), ntkFactors(d, m_scale)),
            asBaseline(QStringLiteral("yarn"), yarnFactors(d, m_s.base, m_s.trainLength, m_scale)),
            asBaseline(QStringLiteral("llama3"), llama3Factors(d, m_s.base, m_s.trainLength, Llama3Params{m_scale, 1.0, 4.0}))};
}

SearchGenome EvolutionSearch::project(const Candidate &family, int dRcd) const
{
    if (int(family.lambda.size()) != m_pairs)
        throw Error(kSettingsSource, QStringLiteral("a family to seed has %1 factors, the search %2").arg(family.lambda.size()).arg(m_pairs));
    std::vector<double> t;  // ln λ of the family
    t.reserve(family.lambda.size());
    for (double v : family.lambda) {
        if (!(v > 0) || !std::isfinite(v))
            throw Error(kSettingsSource, QStringLiteral("a family to seed has a factor that is not finite and positive (%1)").arg(v));
        t.push_back(std::log(v));
    }
    SearchGenome g;
    g.attentionFactor = m_s.searchAttentionFactor ? std::clamp(family.attentionFactor, m_s.attentionFactorMin, m_s.attentionFactorMax)
                                                  : m_s.attentionFactor;
    const bool lr2 = m_s.method == SearchMethod::LongRoPE2;
    const int c = lr2 ? std::clamp(dRcd, m_s.dRcdMin, m_s.dRcdMax) : 0;
    // x_k = ln upper_k. Below d_rcd, ln λ_i = (i/c)·x_0: those terms fold into x_0's weight and target.
    std::vector<double> y(t.begin() + c, t.end()), w(y.size(), 1.0);
    double numerator = y[0], weight = 1.0;
    for (int i = 1; i < c; ++i) {
        const double a = double(i) / c;
        numerator += a * t[size_t(i)];
        weight += a * a;
    }
    y[0] = numerator / weight;
    w[0] = weight;
    // The box constraint keeps the isotonic solution's shape: clamping it is the constrained optimum.
    std::vector<double> x = isotonic(y, w);
    g.dRcd = c;
    g.upper.reserve(x.size());
    for (double v : x)
        g.upper.push_back(snap(std::exp(std::clamp(v, std::log(m_lo), std::log(m_hi))), m_lo, m_hi));
    return g;
}

std::vector<SearchGenome> EvolutionSearch::familySeeds(const std::vector<SearchBaseline> &families) const
{
    std::vector<SearchGenome> out;
    std::unordered_set<std::string> keys;
    const auto add = [&](const SearchGenome &g) {
        if (keys.insert(candidateKey(candidateOf(g))).second)
            out.push_back(g);
    };
    if (m_s.method == SearchMethod::LongRoPEv1) {
        for (const SearchBaseline &f : families)
            if (int(out.size()) < m_s.population)
                add(project(f.candidate));
        return out;
    }
    struct Option {
        double distance;
        size_t family;
        SearchGenome genome;
    };
    std::vector<Option> options;
    for (size_t f = 0; f < families.size(); ++f) {
        for (int c = m_s.dRcdMin; c <= m_s.dRcdMax; ++c) {
            SearchGenome g = project(families[f].candidate, c);
            const std::vector<double> lambda = lambdaOf(g);
            double distance = 0;
            for (size_t i = 0; i < lambda.size(); ++i) {
                const double e = std::log(lambda[i]) - std::log(families[f].candidate.lambda[i]);
                distance += e * e;
            }
            options.push_back({distance, f, std::move(g)});
        }
    }
    // Every family's nearest member (the smallest d_rcd among equals) …
    for (size_t f = 0; f < families.size() && int(out.size()) < m_s.population; ++f) {
        const Option *best = nullptr;
        for (const Option &o : options)
            if (o.family == f && (!best || o.distance < best->distance))
                best = &o;
        if (best)
            add(best->genome);
    }
    // … then the other projections, nearest first, up to a quarter of the population: the rest
    // stays random, the spread the search explores from (more seeds crowd it out in small runs).
    const size_t limit = std::max(out.size(), size_t(m_s.population / 4));
    std::stable_sort(options.begin(), options.end(), [](const Option &a, const Option &b) { return a.distance < b.distance; });
    for (const Option &o : options) {
        if (out.size() >= limit)
            break;
        add(o.genome);
    }
    return out;
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
    SampledFitness none;  // no validation
    none.samples = 0;
    return run(sampled, none, hooks);
}

SearchResult EvolutionSearch::run(const SampledFitness &sampled, const SampledFitness &validation, const SearchHooks &hooks)
{
    if (!sampled.fitness && !sampled.batch)
        throw Error(kSettingsSource, QStringLiteral("no fitness function"));
    if (sampled.samples < 1)
        throw Error(kSettingsSource, QStringLiteral("a sampled fitness needs at least one sample (got %1)").arg(sampled.samples));
    const bool validating = validation.fitness || validation.batch;
    if (validating && validation.samples < 1)
        throw Error(kSettingsSource, QStringLiteral("a validation fitness needs at least one sample (got %1)").arg(validation.samples));
    const int samples = sampled.samples;
    const int validationSamples = validating ? validation.samples : 0;
    const bool racing = m_s.racing && samples > 1;
    const bool chooseByValidation = validating && m_s.chooseByValidation;
    QJsonObject settings = settingsJson(m_s, m_attentionGiven);
    if (samples > 1)
        settings.insert(QStringLiteral("samples"), samples);
    if (validating) {
        settings.insert(QStringLiteral("validation_samples"), validationSamples);
        settings.insert(QStringLiteral("validation_top"), m_s.validationTop);
        settings.insert(QStringLiteral("choose_by"), chooseByValidation ? QStringLiteral("validation") : QStringLiteral("search"));
    }
    if (!hooks.baselines.empty()) {
        QJsonArray baselines;
        for (const SearchBaseline &b : hooks.baselines) {
            if (int(b.candidate.lambda.size()) != m_pairs)
                throw Error(kSettingsSource, QStringLiteral("baseline %1 has %2 factors, the search %3")
                                                 .arg(b.name).arg(b.candidate.lambda.size()).arg(m_pairs));
            baselines.append(QJsonObject{{QStringLiteral("name"), b.name},
                                         {QStringLiteral("lambda"), toJsonArray(b.candidate.lambda)},
                                         {QStringLiteral("attention_factor"), b.candidate.attentionFactor}});
        }
        settings.insert(QStringLiteral("baselines"), baselines);
    }
    if (!hooks.context.isEmpty())
        settings.insert(QStringLiteral("context"), hooks.context);
    std::unordered_map<std::string, double> cache;            // search samples
    std::unordered_map<std::string, double> validationCache;  // validation samples
    RunLog log;
    if (!hooks.logPath.isEmpty()) {
        log.lock(hooks.logPath);
        if (hooks.resume) {
            LoadedLog loaded = loadLog(hooks.logPath, settings, m_pairs, samples, validationSamples, m_s.attentionFactor);
            cache = std::move(loaded.cache);
            validationCache = std::move(loaded.validationCache);
        }
        log.open(hooks.logPath, hooks.resume);
        QJsonObject o{{QStringLiteral("event"), hooks.resume ? QStringLiteral("resume") : QStringLiteral("start")},
                      {QStringLiteral("settings"), settings},
                      {QStringLiteral("max_evaluations"), m_s.maxEvaluations},
                      {QStringLiteral("max_seconds"), m_s.maxSeconds}};
        if (hooks.resume)
            o.insert(QStringLiteral("cached_evaluations"), qint64(cache.size() + validationCache.size()));
        log.write(o);
    }
    auto writeCallerEvents = [&](bool atGeneration) {
        if (hooks.logEvents)
            for (const QJsonObject &e : hooks.logEvents(atGeneration))
                log.write(e);
    };

    const bool lr2 = m_s.method == SearchMethod::LongRoPE2;
    const FitnessAggregate aggregate = m_s.fitness;
    QElapsedTimer timer;
    timer.start();
    SearchResult result;
    result.bestFitness = std::numeric_limits<double>::infinity();
    result.searchBestFitness = std::numeric_limits<double>::infinity();
    result.bestAttentionFactor = m_s.attentionFactor;
    result.searchBestAttentionFactor = m_s.attentionFactor;
    result.samples = samples;
    std::optional<StopReason> stop;
    std::unordered_set<std::string> seen;  // candidates generated in this run
    std::unordered_set<std::string> used;  // (candidate, sample) scores this search has used
    SearchRng rng(m_s.seed);
    Pick searchBest;  // the best full search fitness so far
    Pick chosen;      // the best validation fitness so far
    std::unordered_map<std::string, double> validated;  // candidate key → validation fitness

    // A score as the search uses it: NaN counts as +∞; a geometric mean needs positive scores.
    auto checked = [&](double f) {
        if (std::isnan(f))
            f = std::numeric_limits<double>::infinity();
        if (aggregate == FitnessAggregate::ExpMeanNll && !(f > 0))
            throw Error(kSettingsSource, QStringLiteral("the %1 fitness needs positive per-sample scores (got %2)")
                                             .arg(fitnessAggregateName(aggregate)).arg(f));
        return f;
    };
    // Takes score f of `m` on its next sample: the counts of distinct scores and the best so far.
    auto accept = [&](Member &m, const std::string &key, double f) {
        const int k = int(m.scores.size());
        m.scores.push_back(checked(f));
        if (used.insert(key).second) {
            ++result.sampleEvaluations;
            if (k == 0)
                ++result.candidates;
        }
        if (int(m.scores.size()) == samples) {
            const double full = aggregateScores(aggregate, m.scores);
            if (!searchBest.have || full < searchBest.fitness)
                searchBest = Pick{true, m.key, m.candidate, lr2 ? m.genome.dRcd : -1, full, std::numeric_limits<double>::quiet_NaN()};
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
    // How many real evaluations may still run (0 = stop, with the reason set). The budget counts
    // every real evaluation: candidates, validation and baselines.
    auto allowance = [&]() -> int {
        if (hooks.cancelled && hooks.cancelled()) {
            stop = StopReason::Cancelled;
            return 0;
        }
        const int spent = result.evaluations + result.validationEvaluations + result.baselineEvaluations;
        if ((m_s.maxEvaluations > 0 && spent >= m_s.maxEvaluations)
            || (m_s.maxSeconds > 0 && double(timer.elapsed()) / 1000.0 >= m_s.maxSeconds)) {
            stop = StopReason::Budget;
            return 0;
        }
        return m_s.maxEvaluations > 0 ? m_s.maxEvaluations - spent : std::numeric_limits<int>::max();
    };
    // Records a real evaluation of `m`'s next sample: cached, counted, logged, accepted.
    auto evaluated = [&](Member &m, double f) {
        const int k = int(m.scores.size());
        const std::string key = scoreKey(m.key, k);
        f = checked(f);
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
    // Scores every candidate on every sample of `fitness` (sample by sample; in batches when it has
    // one; the cache first, a repeated candidate evaluated once), for the baselines and validation.
    // Each real evaluation is cached, counted in `counter` and logged as entry(index, sample, f).
    // False when a budget or cancellation stops it first.
    auto scoreFully = [&](const SampledFitness &fitness, std::unordered_map<std::string, double> &store,
                          const std::vector<Candidate> &candidates, std::vector<std::vector<double>> &scores,
                          const std::function<QJsonObject(size_t, int, double)> &entry, int &counter) -> bool {
        std::vector<std::string> keys;
        for (const Candidate &c : candidates)
            keys.push_back(candidateKey(c));
        scores.assign(candidates.size(), {});
        for (int k = 0; k < fitness.samples; ++k) {
            std::vector<size_t> pending;
            std::unordered_set<std::string> pendingKeys;
            for (size_t i = 0; i < candidates.size(); ++i) {
                const auto it = store.find(scoreKey(keys[i], k));
                if (it != store.end()) {
                    ++result.cacheHits;
                    scores[i].push_back(it->second);
                } else if (pendingKeys.insert(keys[i]).second) {
                    pending.push_back(i);
                }
            }
            for (size_t done = 0; done < pending.size();) {
                const int allowed = allowance();
                if (allowed == 0)
                    return false;
                std::vector<double> got;
                size_t count = 1;
                if (fitness.batch) {
                    count = std::min({pending.size() - done, size_t(std::max(1, fitness.maxBatch)), size_t(allowed)});
                    std::vector<Candidate> group;
                    for (size_t j = done; j < done + count; ++j)
                        group.push_back(candidates[pending[j]]);
                    got = fitness.batch(group, k);
                    if (got.size() != count)
                        throw Error(kSettingsSource, QStringLiteral("the batch fitness returned %1 scores for %2 candidates")
                                                         .arg(got.size()).arg(count));
                } else {
                    got = {fitness.fitness(candidates[pending[done]], k)};
                }
                for (size_t j = 0; j < count; ++j) {
                    const size_t i = pending[done + j];
                    const double f = checked(got[j]);
                    store.emplace(scoreKey(keys[i], k), f);
                    ++counter;
                    log.write(entry(i, k, f));
                    scores[i].push_back(f);
                }
                writeCallerEvents(false);
                done += count;
            }
            for (size_t i = 0; i < candidates.size(); ++i) {
                if (int(scores[i].size()) <= k) {  // a repeat of a candidate just evaluated
                    ++result.cacheHits;
                    scores[i].push_back(store.at(scoreKey(keys[i], k)));
                }
            }
        }
        return true;
    };
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
        m.fitness = aggregateScores(aggregate, m.scores.data(), n);
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
            writeCallerEvents(false);
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
    // Scores the generation's best validationTop distinct fully scored members (and in generation 0
    // every seeded one) on the validation samples, those not validated before, and updates the
    // validation choice. False when a budget or cancellation stops it first.
    auto validate = [&](const std::vector<Member> &pop, const std::vector<size_t> &ranking, bool withSeeds) -> bool {
        if (!validating)
            return true;
        std::vector<size_t> picked;
        std::unordered_set<std::string> keys;
        for (size_t i : ranking) {
            if (int(picked.size()) >= m_s.validationTop || pop[i].reached < samples)
                break;
            if (keys.insert(pop[i].key).second)
                picked.push_back(i);
        }
        if (withSeeds)
            for (size_t i = 0; i < pop.size(); ++i)
                if (pop[i].seeded && pop[i].reached == samples && keys.insert(pop[i].key).second)
                    picked.push_back(i);
        std::vector<size_t> fresh;
        std::vector<Candidate> candidates;
        for (size_t i : picked) {
            if (!validated.count(pop[i].key)) {
                fresh.push_back(i);
                candidates.push_back(pop[i].candidate);
            }
        }
        std::vector<std::vector<double>> scores;
        const bool done = scoreFully(validation, validationCache, candidates, scores, [&](size_t j, int k, double f) {
            const Member &m = pop[fresh[j]];
            return QJsonObject{{QStringLiteral("event"), QStringLiteral("validation_eval")},
                               {QStringLiteral("lambda"), toJsonArray(m.candidate.lambda)},
                               {QStringLiteral("d_rcd"), lr2 ? m.genome.dRcd : -1},
                               {QStringLiteral("attention_factor"), m.candidate.attentionFactor},
                               {QStringLiteral("sample"), k},
                               {QStringLiteral("fitness"), fitnessJson(f)}};
        }, result.validationEvaluations);
        if (!done)
            return false;
        for (size_t j = 0; j < fresh.size(); ++j) {
            const Member &m = pop[fresh[j]];
            const double v = aggregateScores(aggregate, scores[j]);
            validated.emplace(m.key, v);
            if (!chosen.have || v < chosen.validation)
                chosen = Pick{true, m.key, m.candidate, lr2 ? m.genome.dRcd : -1, m.fitness, v};
        }
        return true;
    };
    auto validationOf = [&](const Pick &p) {
        const auto it = validated.find(p.key);
        return it == validated.end() ? std::numeric_limits<double>::quiet_NaN() : it->second;
    };
    // The run's answer so far.
    auto answer = [&]() -> Pick {
        if (chooseByValidation && chosen.have)
            return chosen;
        Pick p = searchBest;
        p.validation = validationOf(p);
        return p;
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
        const Pick best = answer();
        r.bestFitness = best.have ? best.fitness : std::numeric_limits<double>::infinity();
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
        r.bestLambda = best.candidate.lambda;
        r.bestDRcd = best.have ? best.dRcd : -1;
        r.bestAttentionFactor = best.have ? best.candidate.attentionFactor : m_s.attentionFactor;
        r.bestValidationFitness = best.validation;
        r.searchBestFitness = searchBest.have ? searchBest.fitness : std::numeric_limits<double>::infinity();
        r.searchBestValidationFitness = validationOf(searchBest);
        r.evaluations = result.evaluations;
        r.validationEvaluations = result.validationEvaluations;
        r.baselineEvaluations = result.baselineEvaluations;
        r.cacheHits = result.cacheHits;
        r.samples = samples;
        r.candidates = result.candidates;
        r.sampleEvaluations = result.sampleEvaluations;
        r.fullyEvaluated = int(n);
        result.generations = generation + 1;
        QJsonArray members;
        for (int d : r.memberDRcd)
            members.append(d);
        QJsonObject o{{QStringLiteral("event"), QStringLiteral("generation")},
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
                      {QStringLiteral("fully_evaluated"), r.fullyEvaluated}};
        if (validating) {
            o.insert(QStringLiteral("best_validation_fitness"), fitnessJson(r.bestValidationFitness));
            o.insert(QStringLiteral("search_best_fitness"), fitnessJson(r.searchBestFitness));
            o.insert(QStringLiteral("search_best_validation_fitness"), fitnessJson(r.searchBestValidationFitness));
            o.insert(QStringLiteral("validation_evaluations"), r.validationEvaluations);
        }
        if (!hooks.baselines.empty())
            o.insert(QStringLiteral("baseline_evaluations"), r.baselineEvaluations);
        writeCallerEvents(true);
        log.write(o);
        if (hooks.onGeneration)
            hooks.onGeneration(r);
    };
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

    // The baselines, on both sample sets, before anything else.
    if (!hooks.baselines.empty()) {
        std::vector<Candidate> candidates;
        for (const SearchBaseline &b : hooks.baselines)
            candidates.push_back(b.candidate);
        auto entry = [&](const QString &set) {
            return [&, set](size_t j, int k, double f) {
                const SearchBaseline &b = hooks.baselines[j];
                return QJsonObject{{QStringLiteral("event"), QStringLiteral("baseline_eval")},
                                   {QStringLiteral("name"), b.name},
                                   {QStringLiteral("set"), set},
                                   {QStringLiteral("lambda"), toJsonArray(b.candidate.lambda)},
                                   {QStringLiteral("attention_factor"), b.candidate.attentionFactor},
                                   {QStringLiteral("sample"), k},
                                   {QStringLiteral("fitness"), fitnessJson(f)}};
            };
        };
        std::vector<std::vector<double>> searchScores, validationScores;
        bool done = scoreFully(sampled, cache, candidates, searchScores, entry(QStringLiteral("search")), result.baselineEvaluations);
        if (done && validating)
            done = scoreFully(validation, validationCache, candidates, validationScores, entry(QStringLiteral("validation")),
                              result.baselineEvaluations);
        if (done) {
            QJsonArray list;
            for (size_t j = 0; j < candidates.size(); ++j) {
                BaselineScore b;
                b.name = hooks.baselines[j].name;
                b.candidate = candidates[j];
                b.searchScores = searchScores[j];
                b.searchFitness = aggregateScores(aggregate, b.searchScores);
                if (validating) {
                    b.validationScores = validationScores[j];
                    b.validationFitness = aggregateScores(aggregate, b.validationScores);
                }
                list.append(QJsonObject{{QStringLiteral("name"), b.name},
                                        {QStringLiteral("lambda"), toJsonArray(b.candidate.lambda)},
                                        {QStringLiteral("attention_factor"), b.candidate.attentionFactor},
                                        {QStringLiteral("search_fitness"), fitnessJson(b.searchFitness)},
                                        {QStringLiteral("search_scores"), toJsonArray(b.searchScores)},
                                        {QStringLiteral("validation_fitness"), fitnessJson(b.validationFitness)},
                                        {QStringLiteral("validation_scores"), toJsonArray(b.validationScores)}});
                result.baselines.push_back(std::move(b));
            }
            log.write({{QStringLiteral("event"), QStringLiteral("baselines")},
                       {QStringLiteral("fitness"), fitnessAggregateName(aggregate)},
                       {QStringLiteral("baselines"), list}});
            if (hooks.onBaselines)
                hooks.onBaselines(result.baselines);
        }
    }

    std::vector<Member> pop;
    std::vector<size_t> ranking;
    if (!stop) {
        // Generation 0: the families' projections first, then random members (LongRoPE2) or
        // mutations of the projections (v1, as the original LongRoPE).
        const std::vector<SearchGenome> seeds =
            m_s.seedFamilies ? familySeeds(hooks.baselines.empty() ? defaultBaselines() : hooks.baselines) : std::vector<SearchGenome>{};
        for (const SearchGenome &g : seeds) {
            if (int(pop.size()) >= m_s.population)
                break;
            pop.push_back(makeMember(g));
            pop.back().seeded = true;
            seen.insert(pop.back().key);
        }
        const size_t seeded = pop.size();
        for (int i = int(pop.size()); i < m_s.population; ++i) {
            if (!lr2 && seeded > 0) {
                pop.push_back(fresh([&] { return mutate(pop[size_t(i) % seeded].genome, rng); }));
            } else {
                pop.push_back(makeMember(initialMember(i, rng)));
                seen.insert(pop.back().key);
            }
        }
        if (race(pop, ranking) && validate(pop, ranking, true))
            report(0, pop);
    }

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
        if (!race(next, ranking) || !validate(next, ranking, false))
            break;
        pop = std::move(next);
        report(it, pop);
    }

    result.stopReason = stop ? *stop : StopReason::Done;
    const Pick best = answer();
    result.chosenByValidation = chooseByValidation && chosen.have;
    if (best.have) {
        result.bestLambda = best.candidate.lambda;
        result.bestFitness = best.fitness;
        result.bestValidationFitness = best.validation;
        result.bestDRcd = best.dRcd;
        result.bestAttentionFactor = best.candidate.attentionFactor;
    }
    if (searchBest.have) {
        result.searchBestLambda = searchBest.candidate.lambda;
        result.searchBestFitness = searchBest.fitness;
        result.searchBestValidationFitness = validationOf(searchBest);
        result.searchBestDRcd = searchBest.dRcd;
        result.searchBestAttentionFactor = searchBest.candidate.attentionFactor;
    }
    QJsonObject finish{{QStringLiteral("event"), QStringLiteral("finish")},
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
                       {QStringLiteral("saved_evaluations"), result.savedEvaluations()}};
    if (validating) {
        finish.insert(QStringLiteral("best_validation_fitness"), fitnessJson(result.bestValidationFitness));
        finish.insert(QStringLiteral("chosen_by"), result.chosenByValidation ? QStringLiteral("validation") : QStringLiteral("search"));
        finish.insert(QStringLiteral("search_best_lambda"), toJsonArray(result.searchBestLambda));
        finish.insert(QStringLiteral("search_best_fitness"), fitnessJson(result.searchBestFitness));
        finish.insert(QStringLiteral("search_best_validation_fitness"), fitnessJson(result.searchBestValidationFitness));
        finish.insert(QStringLiteral("search_best_d_rcd"), result.searchBestDRcd);
        finish.insert(QStringLiteral("search_best_attention_factor"), result.searchBestAttentionFactor);
        finish.insert(QStringLiteral("validation_samples"), validationSamples);
        finish.insert(QStringLiteral("validation_evaluations"), result.validationEvaluations);
    }
    if (!hooks.baselines.empty())
        finish.insert(QStringLiteral("baseline_evaluations"), result.baselineEvaluations);
    writeCallerEvents(true);
    log.write(finish);
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

SearchResult runSearch(const SearchSettings &settings, const SampledFitness &fitness, const SampledFitness &validation,
                       const SearchHooks &hooks)
{
    return EvolutionSearch(settings).run(fitness, validation, hooks);
}

} // namespace rs
