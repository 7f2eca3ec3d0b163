#pragma once
// Part rope (may use common and Qt Core; never LibTorch or another part).
// What a user deploys: a longrope config.json and the engine that loads it (rope/engine.h). A
// figure for a factor set is only the figure of a deployment: the exported config, read back by
// this tool's config reader, run as the engine runs it. DeployedFactors is that one code path; the
// sweep, `table`, `eval --factors` and the live score go through it, and the trainer and the
// export write the same config.
#include "rope/configexport.h"
#include "rope/engine.h"
#include "rope/ropeconfig.h"

#include <QJsonObject>

namespace rs {

// A factor set as exported for an engine (long factors, target length, attention factors, engine, form).
using FactorDeployment = LongropeExport;

// Throws rs::Error (naming the source config) when the engine or the config form cannot express
// the deployment, in one sentence that says what to change.
class DeployedFactors {
public:
    DeployedFactors(const RopeConfig &source, const FactorDeployment &deployment);

    RopeOverride at(double seqLen) const { return deployedLongrope(m_config, m_engine, seqLen); }
    const QJsonObject &exportedJson() const { return m_json; }
    const RopeConfig &exportedConfig() const { return m_config; }
    Engine engine() const { return m_engine; }

private:
    QJsonObject m_json;
    RopeConfig m_config;
    Engine m_engine;
};

} // namespace rs
