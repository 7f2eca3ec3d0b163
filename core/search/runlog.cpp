// The search's run log: the fitness cache's keys, the append-only JSON Lines writer with its lock
// against a second writer, and the loader that reads a log back into the cache for a resume
// (dropping a crash's truncated last line). The records and their keys are the codec's
// (runlogcodec.h); the generation loop in search.cpp composes them.
#include "search/search_p.h"
#include "common/error.h"

#include <QDir>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>

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
