// ropescope-cli presets: lists the shipped model presets (name and title, or JSON).
#include "commands.h"
#include "options.h"

#include "rope/presets.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

namespace rs::cli {

int presets(const QStringList &args)
{
    return run([&] {
        QCommandLineParser parser;
        parser.addOption(kJsonOption);
        parseOrThrow(parser, args, QStringLiteral("List the shipped model presets."));
        const QList<PresetInfo> list = presetList();
        if (parser.isSet(kJsonOption)) {
            QJsonArray a;
            for (const PresetInfo &p : list)
                a.append(QJsonObject{{QStringLiteral("name"), p.name},
                                     {QStringLiteral("title"), p.title},
                                     {QStringLiteral("description"), p.description},
                                     {QStringLiteral("target_length"), p.targetLength},
                                     {QStringLiteral("source"), p.source}});
            out() << QJsonDocument(a).toJson(QJsonDocument::Indented);
        } else {
            for (const PresetInfo &p : list)
                out() << p.name.leftJustified(26) << p.title << "\n";
        }
        return kOk;
    });
}

} // namespace rs::cli
