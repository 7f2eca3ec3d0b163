#include "job/searchfitness.h"

#include <algorithm>

namespace rs {

SampledFitness searchFitness(const CandidateScorer &scorer, int perReplicaBatch)
{
    SampledFitness f;
    f.samples = scorer.samples();
    f.maxBatch = std::max(1, perReplicaBatch) * scorer.replicas();
    f.batch = [&scorer](const std::vector<Candidate> &candidates, int sample) {
        return scorer.samplePpl(candidates, sample);
    };
    return f;
}

} // namespace rs
