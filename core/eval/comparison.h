#pragma once
// The paper's main comparison in miniature (LongRoPE2 Table 1 / Fig. 1 style): needle-driven
// perplexity and passkey accuracy of several RoPE methods at multiples of L_train, plus
// short-context quality (perplexity of held-out text within L_train) as a share of the original
// model's. Every method is configured once for the extension target and then evaluated at each
// length as it would be deployed: static factors everywhere, or the longrope switch (original RoPE
// up to L_train, long factors beyond).
#include "eval/sweepresult.h"
#include "runtime/model.h"

#include <QString>

#include <functional>
#include <optional>
#include <vector>

namespace rs {

class Tokenizer;

struct ComparedMethod {
    QString name;
    CausalLM *model = nullptr;  // not owned; several methods may share one model
    // The RoPE to use for a sequence of `length` tokens; std::nullopt = the model's own (its
    // config's default, which for a longrope config switches at L_train).
    std::function<std::optional<RopeOverride>(int length)> rope;
};

struct ComparisonSettings {
    std::vector<int> lengths;       // sample lengths in tokens
    int samples = 4;
    uint64_t seed = 1000;           // needle samples: seeds seed, seed + 1, …
    QString corpus;                 // haystack; empty = built-in prose
    bool passkey = true;
    std::vector<int> heldOutIds;    // short-context text (tokens); empty = no short-context column
    int shortWindow = 0;            // window of the short-context perplexity (L_train)
    QString reference;              // the method the needle cells are compared with; empty: the first
    BootstrapOptions bootstrap;
};

struct ComparisonCell {
    double needlePpl = 0;
    double passkeyAccuracy = -1;  // -1 when not measured
    SweepCell detail;             // per-sample values, intervals, the paired comparison with the reference
};

struct ComparisonRow {
    QString method;
    std::vector<ComparisonCell> cells;  // one per length
    double shortPpl = 0;                // 0 when not measured
    double shortRetention = 0;          // original's short PPL / this method's, in % (100 = no loss)
    // The short-context figures window by window (disjoint windows of shortWindow tokens are the
    // resampled units): mean NLL per window, the PPL's interval, and the retention's (100 ÷ the
    // paired ratio of this method's PPL to the first method's, bounds swapped).
    std::vector<double> shortWindowNll;
    Interval shortPplInterval;
    Interval shortRetentionInterval;
};

struct ComparisonTable {
    std::vector<int> lengths;
    std::vector<ComparisonRow> rows;
    QString reference;  // the method of the needle comparisons
    double seconds = 0;
    // Markdown with one column per length ("needle PPL / passkey") and the short-context columns.
    QString markdown(int trainLength) const;
    // The same figures with their 95 % intervals: needle PPL [BCa] and its ratio to the reference
    // on the same samples [paired BCa]; passkey accuracy [Wilson]; short PPL and retention [BCa
    // over windows].
    QString intervalMarkdown(int trainLength) const;
};

// The first method is the reference of the retention column; settings.reference (default the
// first) that of the needle comparisons. The needle cells are the workbench engine's (runSweep).
// `progress` gets a line of text per finished cell. Throws rs::Error (bad corpus, a length too
// short for the needle template …).
ComparisonTable compareMethods(const std::vector<ComparedMethod> &methods, const Tokenizer &tokenizer, int bosId,
                               const ComparisonSettings &settings,
                               const std::function<void(const QString &)> &progress = {});

} // namespace rs
