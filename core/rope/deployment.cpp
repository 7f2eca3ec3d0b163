// A factor set made into its deployment (deployment.h): export, read back, run as the engine runs it.
#include "rope/deployment.h"

#include <QJsonDocument>

namespace rs {

DeployedFactors::DeployedFactors(const RopeConfig &source, const FactorDeployment &deployment)
    : m_json(exportLongropeConfig(source, deployment)),
      m_config(parseRopeConfig(QJsonDocument(m_json).toJson(QJsonDocument::Compact), source.source)),
      m_engine(deployment.engine)
{
}

} // namespace rs
