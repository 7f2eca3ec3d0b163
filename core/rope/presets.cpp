#include "rope/presets.h"
#include "common/error.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QStringList>

namespace rs {
namespace {

const QString kIndexPath = QStringLiteral(":/presets/index.json");

struct PresetEntry {
    PresetInfo info;
    QString resource;
};

// The index is compiled in; a broken one is a build defect, so it fails loudly.
QList<PresetEntry> loadIndex()
{
    QFile f(kIndexPath);
    if (!f.open(QIODevice::ReadOnly))
        throw Error(kIndexPath, QStringLiteral("preset index missing from the build"));
    const QJsonArray entries = QJsonDocument::fromJson(f.readAll()).object().value(QLatin1String("presets")).toArray();
    QList<PresetEntry> out;
    for (const QJsonValue &v : entries) {
        const QJsonObject o = v.toObject();
        out.append(PresetEntry{PresetInfo{o.value(QLatin1String("name")).toString(),
                                          o.value(QLatin1String("title")).toString(),
                                          o.value(QLatin1String("description")).toString(),
                                          o.value(QLatin1String("target_length")).toDouble(),
                                          o.value(QLatin1String("source")).toString()},
                               QStringLiteral(":/presets/") + o.value(QLatin1String("file")).toString()});
    }
    return out;
}

const QList<PresetEntry> &index()
{
    static const QList<PresetEntry> entries = loadIndex();
    return entries;
}

const PresetEntry &find(const QString &name)
{
    for (const PresetEntry &e : index())
        if (e.info.name.compare(name, Qt::CaseInsensitive) == 0)
            return e;
    QStringList names;
    for (const PresetEntry &e : index())
        names << e.info.name;
    throw Error(QStringLiteral("preset:") + name,
                QStringLiteral("unknown preset (known: %1)").arg(names.join(QStringLiteral(", "))));
}

} // namespace

QList<PresetInfo> presetList()
{
    QList<PresetInfo> out;
    for (const PresetEntry &e : index())
        out.append(e.info);
    return out;
}

PresetInfo presetInfo(const QString &name)
{
    return find(name).info;
}

RopeConfig loadPreset(const QString &name)
{
    const PresetEntry &e = find(name);
    QFile f(e.resource);
    if (!f.open(QIODevice::ReadOnly))
        throw Error(e.resource, QStringLiteral("preset file missing from the build"));
    return parseRopeConfig(f.readAll(), QStringLiteral("preset:") + e.info.name);
}

} // namespace rs
