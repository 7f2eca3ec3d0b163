#pragma once
// The verdict on a score beside its references: the uncertainty of one method's mean over the
// needle samples and, for each reference scored on the same samples, the paired bootstrap ratio of
// the means with whether it says "better" or "worse" beyond the noise. The search dock's live row
// shows it ("33.1 ± 4.2", "vs YaRN: ×0.91 [0.85, 0.97], better beyond the noise").
//
// Plain math on per-sample values (common/statistics.h), no model behind it: it lives in the eval
// types the GUI side may see (eval_results).
#include "common/statistics.h"

#include <QString>

#include <utility>
#include <vector>

namespace rs {

// Lower is better (perplexity): the ratio A / B's interval entirely below 1 is better beyond the
// noise, entirely above 1 worse, otherwise within the noise; no valid interval, no verdict.
enum class Verdict { Better, Worse, WithinNoise, Unknown };

Verdict ratioVerdict(const Interval &ratio);

struct ReferenceVerdict {
    QString name;
    PairedComparison comparison;  // the scored method against this reference (A / B: method / reference)
    Verdict verdict = Verdict::Unknown;
};

struct ScoreVerdict {
    int samples = 0;  // the first `samples` values of each went in
    Interval own;     // the BCa interval of the method's mean
    std::vector<ReferenceVerdict> references;  // only those with a valid interval, in the given order
    bool valid() const { return own.valid(); }
    double halfWidth() const { return (own.upper - own.lower) / 2; }
};

// The method's values against each named reference's, sample i with sample i, over the first
// `basis` samples. Invalid (no interval, no verdicts) with basis < 2 or fewer than `basis` values;
// a reference with fewer than `basis` values, or whose ratio has no interval, is left out.
ScoreVerdict scoreVerdict(const std::vector<double> &values,
                          const std::vector<std::pair<QString, std::vector<double>>> &references, int basis,
                          const BootstrapOptions &options = {});

} // namespace rs
