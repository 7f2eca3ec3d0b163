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

// How far suggestedTargetLength() extends a config that names no longer context: a config that is
// not scaled says nothing about the context it should reach; 16× is the LongRoPE2 paper's
// LLaMA3-8B extension (8k → 128k).
inline constexpr double kDefaultExtension = 16.0;
// The target both front ends start a config at when nobody names one (the GUI on opening it, the
// CLI without --target or --preset): the config's own context (defaultTargetLength) when it
// extends L_train, else kDefaultExtension × L_train (GPT-NeoX's 2048 → 32768).
inline double suggestedTargetLength(const RopeConfig &config)
{
    const double own = config.defaultTargetLength();
    return own > config.trainLength ? own : kDefaultExtension * config.trainLength;
}

} // namespace rs
