#pragma once
// Writing an output file so that a failure is never reported as success: the target must be a
// place for a regular file (not a device such as /dev/null or /dev/full, a FIFO, a socket or a
// folder, where QSaveFile would write straight through and a lost or blocked write goes unseen), its
// folder must exist and take a new file, and every write and the final commit (flush, fsync,
// rename) are checked. Header-only, Qt Core.
#include "common/error.h"

#include <QFileInfo>
#include <QSaveFile>
#include <QString>
#include <QTemporaryFile>

#include <functional>

namespace rs {

// Throws rs::Error naming `path` unless a regular file can be written there atomically. Cheap
// enough to call before hours of work whose result goes to `path` (search --out).
inline void checkOutputPath(const QString &path)
{
    if (path.isEmpty())
        throw Error(path, QStringLiteral("no output file name given"));
    const QFileInfo info(path);
    if (info.exists() && !info.isFile())
        throw Error(path, info.isDir() ? QStringLiteral("is a folder, not a file")
                                       : QStringLiteral("is not a regular file (a device, FIFO or socket): refusing to "
                                                        "write the output there, where a failed write would go unseen"));
    const QFileInfo folder(info.absolutePath());
    if (!folder.exists())
        throw Error(path, QStringLiteral("cannot write: the folder %1 does not exist").arg(folder.filePath()));
    if (!folder.isDir())
        throw Error(path, QStringLiteral("cannot write: %1 is not a folder").arg(folder.filePath()));
    // The permission bits do not tell (root, read-only mounts, ACLs): try what QSaveFile will do.
    QTemporaryFile probe(folder.filePath() + QStringLiteral("/.ropescope-write-check-XXXXXX"));
    if (!probe.open())
        throw Error(path, QStringLiteral("cannot write in the folder %1: %2").arg(folder.filePath(), probe.errorString()));
}

// Writes `path` atomically through QSaveFile: `write` fills the file and returns false on a short
// write; the old file survives any failure. Throws rs::Error naming the path.
inline void saveFileAtomically(const QString &path, const std::function<bool(QSaveFile &)> &write)
{
    checkOutputPath(path);
    QSaveFile f(path);
    // A target that is not a regular file was refused above; never fall back to writing in place.
    f.setDirectWriteFallback(false);
    if (!f.open(QIODevice::WriteOnly))
        throw Error(path, QStringLiteral("cannot write: %1").arg(f.errorString()));
    if (!write(f)) {
        const QString why = f.errorString();
        f.cancelWriting();
        throw Error(path, QStringLiteral("writing failed: %1").arg(why));
    }
    if (!f.commit())
        throw Error(path, QStringLiteral("writing failed: %1").arg(f.errorString()));
}

inline void saveFileAtomically(const QString &path, const QByteArray &bytes)
{
    saveFileAtomically(path, [&](QSaveFile &f) { return f.write(bytes) == bytes.size(); });
}

} // namespace rs
