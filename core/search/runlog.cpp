// The search's run log: the fitness cache's keys, the settings record that pins a log to its run,
// the append-only JSON Lines writer with its lock against a second writer, and the loader that
// reads a log back into the cache for a resume (dropping a crash's truncated last line). The events
// themselves are composed by the generation loop in search.cpp; their formats are in DESIGN.md.
#include "search/search_p.h"
#include "common/error.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>

#include <cmath>
#include <cstring>
#include <limits>

namespace rs::search_detail {

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

std::string candidateKey(const Candidate &c)
{
    std::string key = keyOf(c.lambda);
    key += keyOf({c.attentionFactor});
    return key;
}

std::string scoreKey(const std::string &candidate, int sample)
{
    std::string key = candidate;
    char buf[sizeof sample];
    std::memcpy(buf, &sample, sizeof sample);
    key.append(buf, sizeof sample);
    return key;
}

QJsonValue fitnessJson(double f) { return std::isfinite(f) ? QJsonValue(f) : QJsonValue(QJsonValue::Null); }

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

namespace {

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

} // namespace

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

void RunLog::lock(const QString &path)
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

void RunLog::open(const QString &path, bool resume)
{
    m_file.setFileName(path);
    if (!resume && m_file.exists() && m_file.size() > 0)
        throw Error(path, QStringLiteral("the run log already exists; resume it or choose another file"));
    if (!m_file.open(QIODevice::WriteOnly | QIODevice::Append))
        throw Error(path, QStringLiteral("cannot open the run log for writing: %1").arg(m_file.errorString()));
}

void RunLog::write(const QJsonObject &o)
{
    if (!m_file.isOpen())
        return;
    QByteArray line = QJsonDocument(o).toJson(QJsonDocument::Compact);
    line.append('\n');
    if (m_file.write(line) != line.size() || !m_file.flush())
        throw Error(m_file.fileName(), QStringLiteral("cannot write the run log: %1").arg(m_file.errorString()));
}

} // namespace rs::search_detail
