#pragma once
// Model configurations shipped in resources/presets (hyperparameters only, from public configs).
#include "rope/ropeconfig.h"
#include <QList>
#include <QString>

namespace rs {

struct PresetInfo {
    QString name;          // command-line name, e.g. "llama3-8b"
    QString title;         // e.g. "LLaMA3-8B (8k)"
    QString description;
    double targetLength;   // suggested target context
};

QList<PresetInfo> presetList();
// Throws rs::Error listing the known names when `name` is unknown.
RopeConfig loadPreset(const QString &name);
PresetInfo presetInfo(const QString &name);

} // namespace rs
