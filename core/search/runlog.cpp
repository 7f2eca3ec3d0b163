// The search's run log: the fitness cache's keys, the append-only JSON Lines writer with its lock
// against a second writer, and the loader that reads a log back into the cache for a resume
// (dropping a crash's truncated last line). The records and their keys are the codec's
// (runlogcodec.h); the generation loop in search.cpp composes them.
#include "search/search_p.h"
#include "common/error.h"

#include <QJsonDocument>

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

namespace {

// The cache key of one logged evaluation of a run with `samples` samples.
std::string loggedScoreKey(const std::vector<double> &lambda, double attentionFactor, int sample, int pairs, int samples,
                           const QString &path, int lineNo)
{
    if (int(lambda.size()) != pairs)
        throw Error(path, QStringLiteral("line %1: eval entry has %2 factors, expected %3").arg(lineNo).arg(lambda.size()).arg(pairs));
    if (sample >= samples)
        throw Error(path, QStringLiteral("line %1: eval entry for sample %2, but the fitness has %3 samples")
                              .arg(lineNo).arg(sample).arg(samples));
    return scoreKey(candidateKey(Candidate{lambda, attentionFactor}), sample);
}

} // namespace

LoadedLog loadLog(const QString &path, const RunSettings &expected, int pairs, int samples, int validationSamples,
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
    // Evaluations that leave out the attention factor ran with the fixed one (runs that do not
    // search it); those that leave out the sample are sample 0 (whole-fitness runs).
    const RecordDefaults defaults{fixedAttention, samples};
    LoadedLog out;
    bool sawStart = false;
    int lineNo = 0;
    for (const QByteArray &raw : lines) {
        ++lineNo;
        const QByteArray line = raw.trimmed();
        if (line.isEmpty())
            continue;
        RunLogRecord record;
        try {
            record = parseRunLogRecord(line, defaults);
        } catch (const Error &e) {
            throw Error(path, QStringLiteral("line %1: %2").arg(lineNo).arg(e.problem()));
        }
        if (const auto *start = std::get_if<StartRecord>(&record); start && !start->resume) {
            const QStringList diffs = expected.differences(start->loggedSettings);
            if (!diffs.isEmpty())
                throw Error(path, QStringLiteral("line %1: the run log was written with different search settings (%2)")
                                      .arg(lineNo)
                                      .arg(diffs.join(QStringLiteral(", "))));
            sawStart = true;
        } else if (const auto *e = std::get_if<EvaluationRecord>(&record)) {
            out.cache.insert_or_assign(loggedScoreKey(e->lambda, e->attentionFactor, e->sample, pairs, samples, path, lineNo),
                                       e->fitness);
        } else if (const auto *v = std::get_if<ValidationEvaluationRecord>(&record)) {
            if (validationSamples < 1)
                throw Error(path, QStringLiteral("line %1: a validation evaluation, but this run has no validation samples").arg(lineNo));
            out.validationCache.insert_or_assign(
                loggedScoreKey(v->lambda, v->attentionFactor, v->sample, pairs, validationSamples, path, lineNo), v->fitness);
        } else if (const auto *b = std::get_if<BaselineEvaluationRecord>(&record)) {
            const bool onValidation = b->set == SampleSetName::Validation;
            if (onValidation && validationSamples < 1)
                throw Error(path, QStringLiteral("line %1: a validation evaluation, but this run has no validation samples").arg(lineNo));
            auto &store = onValidation ? out.validationCache : out.cache;
            store.insert_or_assign(loggedScoreKey(b->lambda, b->attentionFactor, b->sample, pairs,
                                                  onValidation ? validationSamples : samples, path, lineNo),
                                   b->fitness);
        }
        // generation, baselines, finish, resume, rank statistics, kinds this build does not know: informational.
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
