#include "search/runlogstart.h"

#include "common/error.h"

#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonParseError>

namespace rs {

RunLogStart readRunLogStart(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        throw Error(path, QStringLiteral("cannot open the run log: %1").arg(file.errorString()));
    QByteArray line;
    int number = 0;
    while (line.isEmpty() && !file.atEnd()) {
        line = file.readLine().trimmed();
        ++number;
    }
    if (line.isEmpty())
        throw Error(path, QStringLiteral("the run log is empty"));
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(line, &error);
    if (error.error != QJsonParseError::NoError || !doc.isObject())
        throw Error(path, QStringLiteral("line %1: not a run-log entry (%2)").arg(number).arg(error.errorString()));
    const QJsonObject start = doc.object();
    if (start.value(QLatin1String("event")).toString() != QLatin1String("start"))
        throw Error(path, QStringLiteral("line %1: a run log begins with a \"start\" entry").arg(number));
    RunLogStart out;
    out.context = start.value(QLatin1String("settings")).toObject().value(QLatin1String("context")).toObject();
    const auto text = [&](const char *key) {
        const QJsonValue v = out.context.value(QLatin1String(key));
        if (v.isUndefined() || v.isNull())
            return QString();
        if (!v.isString() || v.toString().contains(QChar(0)))
            throw Error(path, QStringLiteral("line %1: the start entry's \"%2\" is not a path").arg(number).arg(QLatin1String(key)));
        return v.toString();
    };
    out.model = text("model");
    out.corpus = text("corpus");
    return out;
}

bool samePath(const QString &a, const QString &b)
{
    if (a.isEmpty() || b.isEmpty())
        return a.isEmpty() && b.isEmpty();
    const QString ca = QFileInfo(a).canonicalFilePath(), cb = QFileInfo(b).canonicalFilePath();
    if (!ca.isEmpty() && !cb.isEmpty())
        return ca == cb;
    return QFileInfo(a).absoluteFilePath() == QFileInfo(b).absoluteFilePath();
}

} // namespace rs
