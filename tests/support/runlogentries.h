#pragma once
// Reading a search's run log in tests: its entries, the set of evaluations it made, the last entry
// of a kind. Shared by the tests that compare one run's log with another's (MPI against one process).
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QList>
#include <QStringList>

namespace rs::testing {

inline QList<QJsonObject> readLog(const QString &path)
{
    QList<QJsonObject> out;
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return out;
    for (const QByteArray &line : f.readAll().split('\n'))
        if (!line.trimmed().isEmpty())
            out << QJsonDocument::fromJson(line).object();
    return out;
}

// Every evaluation entry of a log as its compact JSON text, sorted: the set a run scored.
inline QStringList evaluations(const QList<QJsonObject> &log)
{
    QStringList out;
    for (const QJsonObject &o : log) {
        const QString e = o.value(QStringLiteral("event")).toString();
        if (e == QLatin1String("eval") || e == QLatin1String("validation_eval") || e == QLatin1String("baseline_eval"))
            out << QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Compact));
    }
    out.sort();
    return out;
}

inline QJsonObject lastOf(const QList<QJsonObject> &log, const QString &event)
{
    for (auto it = log.rbegin(); it != log.rend(); ++it)
        if (it->value(QStringLiteral("event")).toString() == event)
            return *it;
    return {};
}

} // namespace rs::testing
