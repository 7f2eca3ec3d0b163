#include "finetunedmodels.h"

#include "datadir.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

QString fineTunedModelsDirectory()
{
    const QString fromEnvironment = qEnvironmentVariable("ROPESCOPE_FINETUNED_MODELS");
    if (!fromEnvironment.isEmpty())
        return fromEnvironment;
    const QString data = dataDirectory();
    return data.isEmpty() ? QString() : QDir(data).filePath(QStringLiteral("models/fair-4x"));
}

QList<FineTunedModel> readFineTunedModels(const QString &directory, QString *problem)
{
    QList<FineTunedModel> models;
    const auto fail = [&](const QString &path, const QString &what) {
        if (problem)
            *problem = QStringLiteral("%1: %2").arg(QDir::toNativeSeparators(path), what);
        return models;
    };
    if (directory.isEmpty())
        return models;
    const QString indexPath = QDir(directory).filePath(QStringLiteral("index.json"));
    QFile file(indexPath);
    if (!file.exists())
        return models;
    if (!file.open(QIODevice::ReadOnly))
        return fail(indexPath, file.errorString());
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(file.read(1 << 20), &error);
    if (!doc.isArray())
        return fail(indexPath, error.error != QJsonParseError::NoError ? error.errorString()
                                                                       : QStringLiteral("not a JSON array of models"));
    const QJsonArray entries = doc.array();
    for (qsizetype i = 0; i < entries.size(); ++i) {
        const QJsonObject entry = entries.at(i).toObject();
        const QString name = entry.value(QLatin1String("name")).toString().trimmed();
        const QString folder = entry.value(QLatin1String("folder")).toString();
        // A folder name only: an index never points outside its own directory.
        if (name.isEmpty() || folder.isEmpty() || folder.contains(QLatin1Char('/')) || folder.contains(QLatin1Char('\\')) ||
            folder == QLatin1String("..") || folder == QLatin1String("."))
            return fail(indexPath, QStringLiteral("entry %1 needs a \"name\" and a \"folder\" inside this directory").arg(i + 1));
        const QString dir = QDir(directory).filePath(folder);
        if (QFileInfo(QDir(dir).filePath(QStringLiteral("config.json"))).isFile())
            models.append({name, dir});
    }
    return models;
}
