// The search's run log: the fitness cache's keys, the settings record that pins a log to its run,
// the append-only JSON Lines writer with its lock against a second writer, and the loader that
// reads a log back into the cache for a resume (dropping a crash's truncated last line). The events
// themselves are composed by the generation loop in search.cpp; their formats are in DESIGN.md.
#include "search/search_p.h"
#include "common/error.h"

#include <QDir>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

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

namespace {

QString systemReason(int error) { return QString::fromLocal8Bit(std::strerror(error)); }

// The log's real name, so that no alias of a log gets a lock of its own: every symlink (the file's
// own, a chain of them, its folders') and "." or ".." resolved. A log yet to be made: its folder's
// real path and its name, a dangling symlink followed to where it would write. Empty, with `error`
// the system's errno, when the folder cannot be resolved (it does not exist, is no folder, or may
// not be searched).
QString realLogPath(const QString &path, int *error)
{
    QString current = QFileInfo(path).absoluteFilePath();
    for (int hops = 0; hops < 40; ++hops) {
        const QFileInfo info(current);
        const QString canonical = info.canonicalFilePath();
        if (!canonical.isEmpty())
            return canonical;
        if (info.isSymLink()) {  // dangling: the file it would create
            current = info.symLinkTarget();
            continue;
        }
        const QByteArray folder = QFile::encodeName(info.absolutePath());
        char resolved[PATH_MAX];
        if (!::realpath(folder.constData(), resolved)) {
            *error = errno;
            return {};
        }
        struct stat st {};
        if (::stat(resolved, &st) != 0 || !S_ISDIR(st.st_mode)) {
            *error = ENOTDIR;
            return {};
        }
        return QDir(QFile::decodeName(resolved)).filePath(info.fileName());
    }
    *error = ELOOP;
    return {};
}

// The pid that holds a BSD lock on the file `fd` refers to, from /proc/locks (Linux); 0 when
// unknown.
qint64 flockHolder(int fd)
{
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        return 0;
    QFile locks(QStringLiteral("/proc/locks"));
    if (!locks.open(QIODevice::ReadOnly))
        return 0;
    // "1: FLOCK  ADVISORY  WRITE 4242 fd:01:1234567 0 EOF": device major:minor in hex, inode.
    const QByteArray file = QByteArray::number(qulonglong(major(st.st_dev)), 16).rightJustified(2, '0') + ':'
                            + QByteArray::number(qulonglong(minor(st.st_dev)), 16).rightJustified(2, '0') + ':'
                            + QByteArray::number(qulonglong(st.st_ino));
    for (const QByteArray &line : locks.readAll().split('\n')) {
        const QList<QByteArray> fields = line.simplified().split(' ');
        if (fields.size() >= 6 && fields[1] == "FLOCK" && fields[5] == file && fields[4].toLongLong() != qint64(::getpid()))
            return fields[4].toLongLong();
    }
    return 0;
}

} // namespace

RunLog::InodeLock::~InodeLock()
{
    if (fd >= 0)
        ::close(fd);  // releases the lock
}

void RunLog::lockInode(const QString &file, const QString &path)
{
    if (m_inodeLock.fd >= 0)
        return;
    const int fd = ::open(QFile::encodeName(file).constData(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return;  // not made yet: no other name can lead to it; open() locks it once it exists
        throw Error(path, QStringLiteral("cannot open the run log to lock it (%1)").arg(systemReason(errno)));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int error = errno;
        const qint64 holder = error == EWOULDBLOCK ? flockHolder(fd) : 0;
        ::close(fd);
        if (error != EWOULDBLOCK)
            throw Error(path, QStringLiteral("cannot lock the run log (%1)").arg(systemReason(error)));
        throw Error(path, QStringLiteral("the run log is in use by another search (%1), which writes it under another "
                                         "name (a hard link, a bind mount); wait for it to end or stop it")
                              .arg(holder > 0 ? QStringLiteral("process %1").arg(holder) : QStringLiteral("holder unknown")));
    }
    m_inodeLock.fd = fd;
}

void RunLog::lock(const QString &path)
{
    // Two locks, so that no alias of the log gets past them: a lock file beside the log's real
    // path (every symlink and ".." resolved; it names the holder's pid and host, and a holder that
    // died is detected), and a lock on the file itself (flock: the kernel keys it on the file, so a
    // hard link or another mount of the same file meets it too, and it ends with its process).
    int error = 0;
    const QString real = realLogPath(path, &error);
    if (real.isEmpty())
        throw Error(path, QStringLiteral("cannot create the lock file %1.lock (%2)").arg(path, systemReason(error)));
    const QString lockPath = real + QStringLiteral(".lock");
    m_lock = std::make_unique<QLockFile>(lockPath);
    m_lock->setStaleLockTime(0);
    if (m_lock->tryLock(0)) {
        try {
            lockInode(real, path);
        } catch (const Error &) {
            m_lock.reset();  // unlocks and removes the lock file
            throw;
        }
        return;
    }
    const QLockFile::LockError lockError = m_lock->error();
    qint64 pid = 0;
    QString host, application;
    const bool known = m_lock->getLockInfo(&pid, &host, &application);
    m_lock.reset();
    if (lockError == QLockFile::LockFailedError)
        throw Error(path, QStringLiteral("the run log is in use by another search (%1); wait for it to end or stop it "
                                         "(if no such process runs any more, delete %2)")
                              .arg(known ? QStringLiteral("process %1 on %2%3")
                                               .arg(pid)
                                               .arg(host.isEmpty() ? QStringLiteral("an unknown host") : host)
                                               .arg(application.isEmpty() ? QString() : QStringLiteral(", ") + application)
                                         : QStringLiteral("holder unknown"),
                                   lockPath));
    // QLockFile keeps only its own error kind: ask the system for the reason by making the lock
    // file the way QLockFile does (nothing is left behind when that works after all).
    const QByteArray native = QFile::encodeName(lockPath);
    const int probe = ::open(native.constData(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    const int reason = probe < 0 ? errno : 0;
    if (probe >= 0) {
        ::close(probe);
        ::unlink(native.constData());
    }
    throw Error(path, QStringLiteral("cannot create the lock file %1 (%2)")
                          .arg(lockPath, reason != 0 ? systemReason(reason)
                                         : lockError == QLockFile::PermissionError ? QStringLiteral("permission denied")
                                                                                    : QStringLiteral("unknown error")));
}

void RunLog::open(const QString &path, bool resume)
{
    m_file.setFileName(path);
    if (!resume && m_file.exists() && m_file.size() > 0)
        throw Error(path, QStringLiteral("the run log already exists; resume it or choose another file"));
    if (!m_file.open(QIODevice::WriteOnly | QIODevice::Append))
        throw Error(path, QStringLiteral("cannot open the run log for writing: %1").arg(m_file.errorString()));
    if (m_lock)
        lockInode(path, path);  // a log made just now: its file is locked from here on
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
