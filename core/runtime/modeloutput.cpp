#include "runtime/modeloutput.h"

#include "common/error.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QTemporaryDir>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <system_error>
#include <unistd.h>

namespace rs {
namespace {

QString systemReason(int error) { return QString::fromLocal8Bit(std::strerror(error)); }

// A file of a Hugging Face model folder: what makes a folder another model's.
bool isModelFile(const QString &name)
{
    return name == QLatin1String("config.json") || name.endsWith(QLatin1String(".safetensors"))
           || name.endsWith(QLatin1String(".safetensors.index.json")) || name.endsWith(QLatin1String(".bin"))
           || name.endsWith(QLatin1String(".bin.index.json")) || name.startsWith(QLatin1String("tokenizer"))
           || name == QLatin1String("generation_config.json") || name == QLatin1String("special_tokens_map.json");
}

struct Destination {
    QString path;             // where the new folder goes: `dir`, or the folder a symlink `dir` leads to
    bool holdsFiles = false;  // an existing folder that is not empty
};

Destination inspect(const QString &dir, const ModelOutputOptions &options)
{
    if (dir.isEmpty())
        throw Error(dir, QStringLiteral("no output folder given"));
    const QFileInfo info(dir);
    Destination d;
    d.path = QDir::cleanPath(info.absoluteFilePath());
    if (info.isSymLink()) {
        if (!info.exists())
            throw Error(dir, QStringLiteral("is a symlink that leads nowhere (to %1)").arg(info.symLinkTarget()));
        d.path = info.canonicalFilePath();  // the link stays; the folder it leads to is written
    }
    if (!info.exists())
        return d;
    if (!info.isDir())
        throw Error(dir, QStringLiteral("is a file, not a folder: the trained model is a folder"));
    const QFileInfoList entries = QDir(d.path).entryInfoList(QDir::AllEntries | QDir::Hidden | QDir::System | QDir::NoDotAndDotDot,
                                                             QDir::Name);
    if (entries.isEmpty())
        return d;
    d.holdsFiles = true;
    QStringList model, other;
    for (const QFileInfo &e : entries)
        (isModelFile(e.fileName()) ? model : other) << e.fileName();
    const QStringList shown = (model + other).mid(0, 6);
    const QString list = shown.join(QStringLiteral(", ")) + (entries.size() > shown.size() ? QStringLiteral(", …") : QString());
    if (!options.replace)
        throw Error(dir, model.isEmpty()
                             ? QStringLiteral("already holds files (%1); choose a new or empty folder").arg(list)
                             : QStringLiteral("already holds another model's files (%1), which a loader would mix with "
                                              "the new ones; choose a new or empty folder, or replace it%2")
                                   .arg(list, options.howToReplace.isEmpty() ? QString()
                                                                             : QStringLiteral(" with ") + options.howToReplace));
    for (const QFileInfo &e : entries)
        if (e.isDir() && !e.isSymLink())
            throw Error(dir, QStringLiteral("holds the folder %1: only a folder of files is replaced by a new model")
                                 .arg(e.fileName()));
    const QString canonical = info.canonicalFilePath();
    for (const QString &guarded : {QDir::current().canonicalPath(), QDir::home().canonicalPath(), QDir::rootPath()})
        if (canonical == guarded)
            throw Error(dir, QStringLiteral("is %1: it is not replaced by a model folder")
                                 .arg(guarded == QDir::rootPath() ? QStringLiteral("the root folder")
                                      : guarded == QDir::home().canonicalPath() ? QStringLiteral("the home folder")
                                                                                : QStringLiteral("the current folder")));
    return d;
}

// The nearest folder at or above `path` that exists.
QString existingAncestor(const QString &path)
{
    QString p = QDir::cleanPath(path);
    while (!QFileInfo(p).exists()) {
        const QString up = QFileInfo(p).absolutePath();
        if (up == p)
            break;
        p = up;
    }
    return p;
}

void syncFolder(const QString &folder)
{
    const int fd = ::open(QFile::encodeName(folder).constData(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);  // the rename itself on disk; a failure here loses nothing already written
        ::close(fd);
    }
}

} // namespace

void checkModelOutput(const QString &dir, const ModelOutputOptions &options)
{
    const Destination d = inspect(dir, options);
    const QString parent = existingAncestor(QFileInfo(d.path).absolutePath());
    if (!QFileInfo(parent).isDir())
        throw Error(dir, QStringLiteral("cannot write: %1 is not a folder").arg(parent));
    // The permission bits do not tell (root, read-only mounts, ACLs): make what writing will make.
    QTemporaryDir probe(parent + QStringLiteral("/.ropescope-write-check-XXXXXX"));
    if (!probe.isValid())
        throw Error(dir, QStringLiteral("cannot write in the folder %1: %2").arg(parent, probe.errorString()));
}

void writeModelFolder(const QString &dir, const std::function<void(const QString &folder)> &write,
                      const ModelOutputOptions &options)
{
    const Destination d = inspect(dir, options);
    const QFileInfo destination(d.path);
    const QString parent = destination.absolutePath();
    // Missing parents are made now and removed again if the model does not get there.
    QStringList made;
    for (QString p = parent; !QFileInfo::exists(p); p = QFileInfo(p).absolutePath())
        made.prepend(p);
    const auto removeMade = [&] {
        for (auto it = made.crbegin(); it != made.crend(); ++it)
            QDir().rmdir(*it);
    };
    try {
        for (const QString &p : made)
            if (!QDir().mkdir(p) && !QFileInfo(p).isDir())
                throw Error(dir, QStringLiteral("cannot create the folder %1").arg(p));
        QTemporaryDir temp(parent + QStringLiteral("/.") + destination.fileName() + QStringLiteral(".partial-XXXXXX"));
        if (!temp.isValid())
            throw Error(dir, QStringLiteral("cannot write in the folder %1: %2").arg(parent, temp.errorString()));
        write(temp.path());
        const QByteArray from = QFile::encodeName(temp.path()), to = QFile::encodeName(d.path);
        if (!d.holdsFiles) {
            // Onto nothing or an empty folder: one atomic rename.
            if (::rename(from.constData(), to.constData()) != 0) {
                const int error = errno;
                throw Error(dir, error == ENOTEMPTY || error == EEXIST
                                     ? QStringLiteral("cannot move the new model into place: files appeared in the folder "
                                                      "meanwhile (%1)").arg(systemReason(error))
                                     : QStringLiteral("cannot move the new model into place: %1").arg(systemReason(error)));
            }
            temp.setAutoRemove(false);
        } else {
            // Replacing a model: exchange the two folders in one step, then the temporary name
            // holds the old model and goes with it.
            bool exchanged = false;
#ifdef RENAME_EXCHANGE
            exchanged = ::renameat2(AT_FDCWD, from.constData(), AT_FDCWD, to.constData(), RENAME_EXCHANGE) == 0;
            if (!exchanged && errno != EINVAL && errno != ENOSYS)
                throw Error(dir, QStringLiteral("cannot move the new model into place: %1").arg(systemReason(errno)));
#endif
            if (!exchanged) {
                // A file system without the exchange: the old folder aside, the new one in, the old
                // one back if that fails.
                QTemporaryDir aside(parent + QStringLiteral("/.") + destination.fileName() + QStringLiteral(".old-XXXXXX"));
                if (!aside.isValid())
                    throw Error(dir, QStringLiteral("cannot write in the folder %1: %2").arg(parent, aside.errorString()));
                const QByteArray old = QFile::encodeName(aside.path());
                if (::rename(to.constData(), old.constData()) != 0)
                    throw Error(dir, QStringLiteral("cannot move the old model aside: %1").arg(systemReason(errno)));
                if (::rename(from.constData(), to.constData()) != 0) {
                    const int error = errno;
                    ::rename(old.constData(), to.constData());
                    throw Error(dir, QStringLiteral("cannot move the new model into place: %1").arg(systemReason(error)));
                }
                temp.setAutoRemove(false);
            }
        }
        syncFolder(parent);
    } catch (...) {
        removeMade();
        throw;
    }
}

} // namespace rs
