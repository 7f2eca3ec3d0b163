#include "worker/evaluationservice.h"

namespace rs {

// Out of line so that the vtable and the moc output live in one object file.
EvaluationSignals::~EvaluationSignals() = default;
EvaluationService::~EvaluationService() = default;

void EvaluationService::startSweep(quint64, const SweepSettings &, const std::vector<SweepMethodSpec> &)
{
    Q_EMIT failed(WorkerTask::Sweep, tr("this evaluation service cannot run sweeps"));
}

void EvaluationService::cancelSweep(quint64) {}

QStringList EvaluationService::availableDevices() const { return {QStringLiteral("cpu")}; }

} // namespace rs
