#pragma once
// The run logs committed in the repository (results of the recipes, wherever they are kept): every
// *.jsonl below the source folder whose first line is a JSON object with an "event", outside build
// folders, hidden ones and fuzz/ (whose seeds are cut short or broken on purpose). Shared by the tests that check every committed log still reads.
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QStringList>

namespace rs::testing {

inline bool looksLikeRunLog(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return false;
    QByteArray line;
    while (line.isEmpty() && !f.atEnd())
        line = f.readLine().trimmed();
    const QJsonObject o = QJsonDocument::fromJson(line).object();
    return o.contains(QStringLiteral("event"));
}

inline QStringList committedRunLogs()
{
    const QString root = QStringLiteral(ROPESCOPE_SOURCE_DIR);
    QStringList out;
    QDirIterator it(root, {QStringLiteral("*.jsonl")}, QDir::Files, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QString path = it.next();
        const QString relative = QDir(root).relativeFilePath(path);
        bool skipped = false;
        const QStringList folders = relative.split(QLatin1Char('/')).mid(0, relative.count(QLatin1Char('/')));
        for (const QString &part : folders)
            skipped = skipped || part.startsWith(QLatin1Char('.')) || part.startsWith(QLatin1String("build"));
        skipped = skipped || (!folders.isEmpty() && folders.front() == QLatin1String("fuzz"));
        if (!skipped && looksLikeRunLog(path))
            out << path;
    }
    out.sort();
    return out;
}

} // namespace rs::testing
