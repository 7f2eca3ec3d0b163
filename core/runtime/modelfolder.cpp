#include "runtime/modelfolder.h"

#include "common/error.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QRegularExpression>

#include <filesystem>
#include <system_error>

namespace rs {
namespace {

namespace fs = std::filesystem;

fs::path toPath(const QString &s) { return fs::path(QFile::encodeName(s).toStdString()); }
QString fromPath(const fs::path &p) { return QFile::decodeName(QByteArray::fromStdString(p.native())); }

// Whether `inner` lies strictly below `outer`; both canonical (absolute, no symlinks, no . or ..).
bool isBelow(const fs::path &inner, const fs::path &outer)
{
    auto i = inner.begin();
    for (auto o = outer.begin(); o != outer.end(); ++o, ++i)
        if (i == inner.end() || *i != *o)
            return false;
    return i != inner.end();
}

QString kindOf(fs::file_type type)
{
    switch (type) {
    case fs::file_type::directory: return QStringLiteral("a directory");
    case fs::file_type::fifo: return QStringLiteral("a FIFO (named pipe)");
    case fs::file_type::socket: return QStringLiteral("a socket");
    case fs::file_type::block:
    case fs::file_type::character: return QStringLiteral("a device");
    default: return QStringLiteral("not a regular file");
    }
}

} // namespace

ModelFolder::ModelFolder(const QString &path) : m_path(QDir::cleanPath(path))
{
    std::error_code ec;
    const fs::path dir = toPath(m_path);
    if (!fs::exists(dir, ec))
        throw Error(m_path, QStringLiteral("model folder does not exist"));
    if (!fs::is_directory(dir, ec))
        throw Error(m_path, QStringLiteral("not a folder (expected a Hugging Face model folder)"));
    const fs::path canonical = fs::canonical(dir, ec);
    if (ec)
        throw Error(m_path, QStringLiteral("cannot resolve the folder: %1").arg(QString::fromStdString(ec.message())));
    m_canonical = fromPath(canonical);
    // huggingface_hub's cache: models--org--name/snapshots/<revision>/file → ../../blobs/<hash>.
    if (canonical.parent_path().filename() == "snapshots") {
        const fs::path blobs = canonical.parent_path().parent_path() / "blobs";
        if (fs::is_directory(blobs, ec)) {
            const fs::path resolved = fs::canonical(blobs, ec);
            if (!ec)
                m_hubBlobs = fromPath(resolved);
        }
    }
}

std::optional<QString> ModelFolder::resolve(const QString &name, const QString &source, const QString &entry,
                                            bool required) const
{
    const auto refuse = [&](const QString &problem) -> std::nullopt_t {
        const QString what = entry == name ? QStringLiteral("\"%1\" %2").arg(name, problem)
                                           : QStringLiteral("%1 names \"%2\", which %3").arg(entry, name, problem);
        const QString folder = source == m_path ? QString() : QStringLiteral(" (%1)").arg(m_path);
        throw Error(source, QStringLiteral("%1; a model folder may only name regular files inside itself%2").arg(what, folder));
    };
    // From the name alone, before the file system is asked anything.
    if (name.isEmpty())
        return refuse(QStringLiteral("is empty"));
    if (name.contains(QChar(0)))
        return refuse(QStringLiteral("holds a NUL character"));
    if (QDir::isAbsolutePath(name) || name.startsWith(QLatin1Char('/')) || name.startsWith(QLatin1Char('\\'))
        || (name.size() >= 2 && name[1] == QLatin1Char(':')))
        return refuse(QStringLiteral("is an absolute path"));
    static const QRegularExpression separators(QStringLiteral("[/\\\\]"));
    if (name.split(separators).contains(QStringLiteral("..")))
        return refuse(QStringLiteral("climbs out of the folder with \"..\""));

    // lstat and readlink only: nothing below opens the file.
    std::error_code ec;
    const fs::path folder = toPath(m_canonical);
    const fs::path candidate = folder / toPath(name);
    const fs::file_status own = fs::symlink_status(candidate, ec);
    if (!fs::exists(own) && own.type() != fs::file_type::symlink) {
        if (!required)
            return std::nullopt;
        if (entry == name)
            throw Error(source, QStringLiteral("no %1 in the model folder").arg(name));
        throw Error(source, QStringLiteral("%1 names \"%2\", which does not exist in %3").arg(entry, name, m_path));
    }
    const fs::path target = fs::canonical(candidate, ec);
    if (ec)
        return refuse(QStringLiteral("is a symlink that leads nowhere (%1)").arg(QString::fromStdString(ec.message())));
    const bool inHubBlobs = !m_hubBlobs.isEmpty() && target.parent_path() == toPath(m_hubBlobs);
    if (!isBelow(target, folder) && !inHubBlobs)
        return refuse(QStringLiteral("leads out of the folder (to %1)").arg(fromPath(target)));
    const fs::file_status status = fs::status(target, ec);
    if (ec)
        return refuse(QStringLiteral("cannot be examined (%1)").arg(QString::fromStdString(ec.message())));
    if (status.type() != fs::file_type::regular)
        return refuse(QStringLiteral("is %1").arg(kindOf(status.type())));
    return QDir::cleanPath(m_path + QLatin1Char('/') + name);
}

QString ModelFolder::file(const QString &name, const QString &source, const QString &entry) const
{
    return *resolve(name, source, entry, true);
}

std::optional<QString> ModelFolder::optionalFile(const QString &name, const QString &source, const QString &entry) const
{
    return resolve(name, source, entry, false);
}

} // namespace rs
