#include "search/runlogstart.h"

#include "search/runlogcodec.h"

#include "common/error.h"

#include <QFile>
#include <QFileInfo>

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
    RunLogRecord record;
    try {
        record = parseRunLogRecord(line);
    } catch (const Error &e) {
        throw Error(path, QStringLiteral("line %1: %2").arg(number).arg(e.problem()));
    }
    const auto *start = std::get_if<StartRecord>(&record);
    if (!start || start->resume)
        throw Error(path, QStringLiteral("line %1: a run log begins with a \"start\" entry").arg(number));
    RunLogStart out;
    out.context = start->settings.context;
    QString badPath;
    const RunContext context = RunContext::fromJson(out.context, &badPath);
    if (!badPath.isEmpty())
        throw Error(path, QStringLiteral("line %1: the start entry's \"%2\" is not a path").arg(number).arg(badPath));
    out.model = context.model;
    out.corpus = context.corpus;
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
