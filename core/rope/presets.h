#pragma once
// Model configurations shipped in resources/presets (hyperparameters only, from the public
// config.json each index entry names in "source").
#include "rope/ropeconfig.h"
#include <QList>
#include <QString>

namespace rs {

struct PresetInfo {
    QString name;          // command-line name, e.g. "llama3-8b"
    QString title;         // e.g. "LLaMA3-8B (8k)"
    QString description;
    double targetLength;   // suggested target context
    QString source;        // the public config.json the values come from (a repository id, + a note)
};

QList<PresetInfo> presetList();
// Throws rs::Error listing the known names when `name` is unknown.
RopeConfig loadPreset(const QString &name);
PresetInfo presetInfo(const QString &name);

} // namespace rs
