#include "runtime/embeddedmodel.h"

#include "common/error.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QSaveFile>
#include <QStandardPaths>

namespace rs {
namespace {

const QString kResourceDir = QStringLiteral(":/embedded-model/");
const QStringList kFiles = {QStringLiteral("config.json"), QStringLiteral("model.safetensors"),
                            QStringLiteral("tokenizer.json")};

} // namespace

bool hasEmbeddedModel()
{
    for (const QString &f : kFiles)
        if (!QFile::exists(kResourceDir + f))
            return false;
    return true;
}

QString embeddedModelDir()
{
    const QString source = QStringLiteral("embedded model");
    if (!hasEmbeddedModel())
        throw Error(source, QStringLiteral("this build carries no embedded model (resources/embedded-model)"));
    QCryptographicHash hash(QCryptographicHash::Sha256);
    std::vector<QByteArray> contents;
    for (const QString &f : kFiles) {
        QFile file(kResourceDir + f);
        if (!file.open(QIODevice::ReadOnly))
            throw Error(source, QStringLiteral("cannot read %1 from the resources").arg(f));
        contents.push_back(file.readAll());
        hash.addData(contents.back());
    }
    QString base = QStandardPaths::writableLocation(QStandardPaths::CacheLocation);
    if (base.isEmpty())
        base = QDir::tempPath() + QStringLiteral("/ropescope");
    const QString dir = base + QStringLiteral("/embedded-model-") + QString::fromLatin1(hash.result().toHex().left(16));
    if (!QDir().mkpath(dir))
        throw Error(dir, QStringLiteral("cannot create the cache folder for the embedded model"));
    for (size_t i = 0; i < kFiles.size(); ++i) {
        const QString path = dir + QLatin1Char('/') + kFiles[int(i)];
        QFile existing(path);
        if (existing.open(QIODevice::ReadOnly) && existing.size() == contents[i].size() && existing.readAll() == contents[i])
            continue;
        // Written atomically: another process starting at the same time sees old or whole files.
        QSaveFile out(path);
        if (!out.open(QIODevice::WriteOnly) || out.write(contents[i]) != contents[i].size() || !out.commit())
            throw Error(path, QStringLiteral("cannot write the embedded model's file: %1").arg(out.errorString()));
    }
    return dir;
}

} // namespace rs

namespace rs {

bool isEmbeddedModelDir(const QString &dir)
{
    if (dir.isEmpty() || !hasEmbeddedModel())
        return false;
    // By content, whatever folder holds it (the GUI's and the CLI's caches differ): sizes first.
    for (const QString &f : kFiles) {
        QFile resource(kResourceDir + f), file(dir + QLatin1Char('/') + f);
        if (!file.open(QIODevice::ReadOnly) || !resource.open(QIODevice::ReadOnly) || file.size() != resource.size())
            return false;
    }
    for (const QString &f : kFiles) {
        QFile resource(kResourceDir + f), file(dir + QLatin1Char('/') + f);
        if (!file.open(QIODevice::ReadOnly) || !resource.open(QIODevice::ReadOnly) || file.readAll() != resource.readAll())
            return false;
    }
    return true;
}

QString modelDisplayName(const QString &dir)
{
    return isEmbeddedModelDir(dir) ? QStringLiteral("embedded model") : dir;
}

} // namespace rs
