#pragma once
// Search-internal: what the generation loop (search.cpp), the genome operations (genome.cpp) and
// the run log (runlog.cpp) share: the settings' error source, the fitness cache's keys, and the run
// log's writer and resume loader (the records themselves: runlogcodec.h). Not part of search.h: nothing outside the part needs them.
#include "search/search.h"
#include "search/runlogcodec.h"

#include <QFile>
#include <QJsonObject>
#include <QJsonValue>
#include <QLockFile>
#include <QString>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace rs::search_detail {

inline const QString kSettingsSource = QStringLiteral("search settings");

// Cache key: λ quantized to 1e-9.
std::string keyOf(const std::vector<double> &lambda);
// A candidate's key: its λ key followed by the attention factor, quantized the same way.
std::string candidateKey(const Candidate &c);
// One (candidate, sample) score's key.
std::string scoreKey(const std::string &candidate, int sample);

struct LoadedLog {
    std::unordered_map<std::string, double> cache;            // search samples
    std::unordered_map<std::string, double> validationCache;  // validation samples
};

// The logged scores of a run log written with `expected` settings, for a resume: throws rs::Error
// on a log of other settings or a malformed entry, and drops a truncated last line. Reads the log
// through the codec (runlogcodec.h).
LoadedLog loadLog(const QString &path, const RunSettings &expected, int pairs, int samples, int validationSamples,
                  double fixedAttention);

class RunLog {
public:
    // Taken before the log is read for a resume and held until the run ends, so two processes
    // never append to one log (duplicate evaluations, two "finish" lines), whatever name each
    // gives it: the lock is keyed on the log's real identity — a lock file beside its canonical
    // path (symlinks and ".." resolved) and a lock on the file itself, which a hard link shares.
    // The lock file's age never makes it stale (a search runs for hours); a holder that died on
    // this host is detected by its pid and the lock taken over. Refusals name the holder, or keep
    // the system's reason ("No such file or directory", "Permission denied").
    void lock(const QString &path);
    void open(const QString &path, bool resume);
    bool isOpen() const { return m_file.isOpen(); }
    void write(const QJsonObject &o);
    void write(const RunLogRecord &record) { write(toJson(record)); }

private:
    // flock(2) on the log's file, held through an fd of its own until the run ends.
    struct InodeLock {
        int fd = -1;
        InodeLock() = default;
        InodeLock(const InodeLock &) = delete;
        InodeLock &operator=(const InodeLock &) = delete;
        ~InodeLock();
    };
    // Locks `file` (the log's real path); errors name `path`, the name the user gave.
    void lockInode(const QString &file, const QString &path);

    std::unique_ptr<QLockFile> m_lock;  // released after the file is closed (declared first)
    InodeLock m_inodeLock;
    QFile m_file;
};

} // namespace rs::search_detail
