// The worker's messages: the metatype registration for queued signals.
#include "worker/messages.h"

#include <QMetaType>

namespace rs {

void registerEvaluationMetaTypes()
{
    qRegisterMetaType<rs::ModelLoadSettings>();
    qRegisterMetaType<rs::ModelInfo>();
    qRegisterMetaType<rs::CandidateEvaluation>();
    qRegisterMetaType<rs::SearchPlan>();
    qRegisterMetaType<rs::SearchOutcome>();
    qRegisterMetaType<rs::ScoreResult>();
    qRegisterMetaType<rs::MeasuredThroughput>();
    qRegisterMetaType<rs::ReferenceScores>();
    qRegisterMetaType<rs::WorkerTask>();
    qRegisterMetaType<rs::SearchSettings>();
    qRegisterMetaType<rs::NeedleEvalSettings>();
    qRegisterMetaType<rs::GenerationReport>();
    qRegisterMetaType<rs::SearchBaselines>();
    qRegisterMetaType<rs::SweepSettings>();
    qRegisterMetaType<rs::SweepCell>();
    qRegisterMetaType<rs::SweepResult>();
    qRegisterMetaType<rs::SweepPlan>();
    qRegisterMetaType<rs::SweepCellReport>();
    qRegisterMetaType<rs::SweepOutcome>();
}

} // namespace rs
