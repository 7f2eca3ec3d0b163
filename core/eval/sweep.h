#pragma once
// The evaluation workbench's engine: every method at every length (and needle depth), cell by
// cell — needle PPL (with passkey accuracy if asked), perplexity of held-out text cut to the length,
// each with its per-sample values, a bootstrap interval and the paired comparison with a reference
// method on the same samples (eval/sweepresult.h holds the plain result types). The CLI's `sweep`
// and `table`, and the GUI's worker thread, all run this.
#include "eval/comparison.h"
#include "eval/sweepresult.h"
#include "rope/engine.h"
#include "runtime/model.h"

#include <functional>
#include <map>
#include <memory>
#include <vector>

namespace rs {

class Tokenizer;

// Methods resolved for a model, owning any extra model a spec names (e.g. a fine-tuned folder).
struct ResolvedSweepMethods {
    std::vector<ComparedMethod> methods;
    std::vector<std::unique_ptr<CausalLM>> extraModels;
};

// Turns specs into runnable methods on `base`: the families static at s = targetLength / L_train
// (as `table` sets them up), "config" the model's own RoPE, "factors" deployed as a longrope
// config and run as `engine` runs that export (rope/deployment.h: short factors 1.0 within L_train,
// λ beyond, the engine's attention factors; the spec's attention factor when it gives one). A spec with a modelDir loads that folder with `options` (kind
// "config" only). Throws rs::Error for an unknown kind, factors of the wrong length, a duplicate
// name, or a model folder whose rotary size differs from the base's.
ResolvedSweepMethods resolveSweepMethods(const std::vector<SweepMethodSpec> &specs, CausalLM &base, int targetLength,
                                         const ModelOptions &options = {}, Engine engine = Engine::Transformers);

struct SweepCallbacks {
    std::function<void(int cells)> started;              // before the first cell: how many will come
    std::function<void(const SweepCell &)> cellDone;     // as each cell finishes, in order
    std::function<bool()> cancelled;                     // polled between samples and windows
    std::function<void(int done, int total)> progress;   // cells
};

// Runs the sweep. Cells come length by length (ascending); within a length the needle cells of
// each depth, then the held-out cells; within each, the reference method first, so that every
// other cell carries its comparison when it is reported. Lengths too short for the needle
// template (with this tokenizer) get held-out cells only, and the result's notes say so. All methods see the very same samples
// (they depend only on the tokenizer, the settings and the seeds). `specs` are recorded in the
// result as given (same order as `methods`). Throws rs::Error for bad settings, a bad corpus or a
// length too short for the needle template; a cancelled sweep returns the finished cells with
// cancelled = true.
SweepResult runSweep(const std::vector<ComparedMethod> &methods, const std::vector<SweepMethodSpec> &specs,
                     const Tokenizer &tokenizer, int bosId, const SweepSettings &settings,
                     const SweepCallbacks &callbacks = {});

// The held-out documents of a sweep: `count` texts of `tokens` tokens (BOS first when bosId ≥ 0)
// from the corpus or the built-in prose, seeds heldOutSeed, heldOutSeed + 1, … A cell of length L
// scores the first L tokens of each.
std::vector<std::vector<int>> heldOutDocuments(const Tokenizer &tokenizer, int bosId, const QString &corpus,
                                               uint64_t heldOutSeed, int count, int tokens);

} // namespace rs
