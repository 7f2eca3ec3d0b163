#pragma once
// The fuzz targets' scratch space: a folder of this process's own under the temporary folder
// ($TMPDIR, else /tmp), emptied for every input, and a helper that writes an input to a file there.
// Readers that take a path (a run log they may truncate, a corpus, a model folder) get a real file.
#include <QByteArray>
#include <QDir>
#include <QFile>
#include <QString>

#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <unistd.h>

namespace fuzz {

// <tmp>/ropescope-fuzz-<target>-<pid>, created once and emptied on every call (remove_all does not
// follow symlinks, so whatever an input linked to is never touched).
inline std::filesystem::path &scratchRoot()
{
    static std::filesystem::path root;
    return root;
}

inline QString scratch(const char *target)
{
    static const QString root = [target] {
        const QString path = QDir::cleanPath(QDir::tempPath() + QStringLiteral("/ropescope-fuzz-%1-%2")
                                                                   .arg(QLatin1String(target))
                                                                   .arg(::getpid()));
        scratchRoot() = std::filesystem::path(QFile::encodeName(path).toStdString());
        std::atexit([] {  // libFuzzer ends with exit(): leave nothing behind in /tmp
            std::error_code ignored;
            std::filesystem::remove_all(scratchRoot(), ignored);
        });
        return path;
    }();
    std::error_code ec;
    const std::filesystem::path &p = scratchRoot();
    std::filesystem::remove_all(p, ec);
    std::filesystem::create_directories(p, ec);
    if (ec)
        std::abort();  // the harness itself is broken, not the code under test
    return root;
}

inline QString writeFile(const QString &path, const QByteArray &bytes)
{
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(bytes) != bytes.size())
        std::abort();
    return path;
}

} // namespace fuzz
