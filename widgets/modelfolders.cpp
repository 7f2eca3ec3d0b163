#include "modelfolders.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHash>

namespace rs {

namespace {

const QStringList &modelFiles()
{
    static const QStringList files{QStringLiteral("config.json"), QStringLiteral("model.safetensors"),
                                   QStringLiteral("tokenizer.json")};
    return files;
}

} // namespace

QString modelContentHash(const QString &directory)
{
    const QDir dir(directory);
    if (directory.isEmpty() || !QFileInfo(dir.filePath(QStringLiteral("config.json"))).isFile())
        return {};
    // What the files are now: a changed size or time makes a new hash.
    QString stamp;
    qint64 total = 0;
    for (const QString &name : modelFiles()) {
        const QFileInfo info(dir.filePath(name));
        if (info.exists() && !info.isFile())
            return {};
        total += info.exists() ? info.size() : 0;
        stamp += QStringLiteral("%1:%2;").arg(info.exists() ? info.size() : -1).arg(info.exists() ? info.lastModified().toMSecsSinceEpoch() : 0);
    }
    if (total > kModelHashLimitBytes)
        return {};
    static QHash<QString, std::pair<QString, QString>> remembered;  // folder → (stamp, hash)
    const QString key = QFileInfo(directory).canonicalFilePath();
    const auto found = remembered.constFind(key);
    if (found != remembered.cend() && found->first == stamp)
        return found->second;
    QCryptographicHash hash(QCryptographicHash::Sha256);
    for (const QString &name : modelFiles()) {
        QFile file(dir.filePath(name));
        if (file.exists() && (!file.open(QIODevice::ReadOnly) || !hash.addData(&file)))
            return {};
    }
    const QString result = QString::fromLatin1(hash.result().toHex());
    remembered.insert(key, {stamp, result});
    return result;
}

bool sameModelFolder(const QString &a, const QString &b)
{
    if (a.isEmpty() || b.isEmpty())
        return false;
    if (a == b)
        return true;
    const QString ca = QFileInfo(a).canonicalFilePath(), cb = QFileInfo(b).canonicalFilePath();
    if (!ca.isEmpty() && ca == cb)
        return true;
    const QString ha = modelContentHash(a);
    return !ha.isEmpty() && ha == modelContentHash(b);
}

} // namespace rs
