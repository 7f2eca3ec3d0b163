#include "worker/evaluationservice.h"

namespace rs {

// Out of line so that the vtable and the moc output live in one object file.
EvaluationService::~EvaluationService() = default;

} // namespace rs
