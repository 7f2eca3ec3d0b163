#pragma once
// Part job (core/job): where the search meets the models: a CandidateScorer (eval) as the search's
// SampledFitness (search). The two parts never see each other; the search job (searchjob.h), and
// through it the CLI and the GUI's worker, binds them here, as PlotJuggler's app wires its plugins.
#include "eval/candidatescorer.h"
#include "search/search.h"

namespace rs {

// Per-sample needle PPL of the scorer's samples, in batches of perReplicaBatch candidates per
// replica (a NaN score counts as +∞ in the search). The scorer must outlive the fitness.
SampledFitness searchFitness(const CandidateScorer &scorer, int perReplicaBatch);

} // namespace rs
