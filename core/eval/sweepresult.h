#pragma once
// Part eval_results (core/eval, ropescope_eval_results): the plain types of eval that the GUI
// side may see, results mostly — which needle samples a score uses (needlesettings.h) and the evaluation
// workbench's sweep (this file): what a sweep measures, the cells it produces with their
// per-sample values and intervals, and its JSON and CSV files. Qt Core and common only: no model,
// no LibTorch. The engine that fills these is eval/sweep.h.
//
// A sweep measures methods (RoPE variants) at several context lengths: needle PPL and held-out
// perplexity per length (the length curves), and needle PPL and passkey accuracy per needle depth
// × length (the needle-in-a-haystack heatmap). Every cell keeps its per-sample values, its own
// bootstrap interval and its paired comparison with the reference method on the same samples.
#include "common/statistics.h"

#include <QJsonObject>
#include <QString>
#include <QStringList>

#include <cstdint>
#include <vector>

namespace rs {

// One method of a sweep, as a user names it.
struct SweepMethodSpec {
    QString name;  // its label in plots, tables and files ("original", "YaRN", "searched" …)
    // "none" (original RoPE), "pi", "ntk", "yarn", "llama3" (static, set up for the target length),
    // "config" (the model's own RoPE as the sweep's engine runs it) or "factors" (λ exported as a
    // longrope config and run as the sweep's engine runs it: short factors 1.0 within L_train, λ
    // beyond, the engine's attention factors; rope/deployment.h).
    QString kind;
    std::vector<double> lambda;  // kind "factors"
    double attentionFactor = 0;  // kind "factors": 0 = longrope's default for the target
    QString source;              // where the factors came from (a file, "edited λ", "search best")
    QString modelDir;            // empty: the sweep's model; else another model folder (e.g. fine-tuned)
};

// A method's name and a cell's reference are one-line labels: a line break would split the CSV row
// they head, which then would not re-open (found by fuzz_sweepresult).
inline bool holdsLineBreak(const QString &label)
{
    return label.contains(QLatin1Char('\n')) || label.contains(QLatin1Char('\r'));
}

// The method kinds a spec may name, in the order the CLI documents them.
QStringList sweepMethodKinds();

struct SweepSettings {
    std::vector<int> lengths;     // tokens, ascending
    std::vector<double> depths;   // heatmap needle depths in [0, 1]; empty: no heatmap
    double curveDepth = 0;        // needle depth of the length curve (0: near the start, as the paper)
    int samples = 4;              // needle samples, and held-out documents, per cell
    uint64_t seed = 1000;         // needle samples: seeds seed, seed + 1, …
    uint64_t heldOutSeed = 987654321;  // held-out documents: seeds heldOutSeed, heldOutSeed + 1, …
    QString corpus;               // haystack and held-out text; empty: built-in prose
    int targetLength = 0;         // families are set up for s = targetLength / L_train
    // The engine whose reading of the exported config the factor methods were scored with
    // ("transformers" or "vllm", rope/engine.h); empty in results written before engines were
    // modelled, which scored factor files with the original RoPE and attention 1 within L_train.
    QString engine = QStringLiteral("transformers");
    bool needle = true;           // the needle-PPL length curve
    bool heldOut = true;          // the held-out perplexity length curve (documents cut to each length)
    bool passkey = false;         // greedy passkey accuracy in every needle cell
    QString reference;            // the method every cell is compared with; empty: the first
    int resamples = 2000;         // bootstrap resamples
    uint64_t bootstrapSeed = BootstrapOptions{}.seed;

    BootstrapOptions bootstrap() const;
};

enum class SweepMeasure {
    Needle,   // needle-driven PPL of the answer tokens (mean of per-sample PPL)
    HeldOut,  // perplexity of held-out text cut to the cell's length, one window (exp of mean NLL)
};
QString measureName(SweepMeasure m);  // "needle", "held_out"

struct SweepCell {
    SweepMeasure measure = SweepMeasure::Needle;
    QString method;
    int length = 0;
    double depth = -1;             // needle depth; -1 for held-out cells
    std::vector<double> values;    // per sample: needle PPL, or the held-out document's PPL
    std::vector<double> nll;       // per sample: mean NLL of the scored tokens
    std::vector<int> passkey;      // per sample 1 / 0 (all digits right); empty when not measured
    double value = 0;              // needle: mean of values; held-out: exp(mean of nll)
    Interval interval;             // bootstrap interval of value
    double passkeyAccuracy = -1;   // -1 when not measured
    Interval passkeyInterval;      // Wilson
    QString reference;             // the method compared with; empty for the reference itself
    PairedComparison vsReference;  // this method − / ÷ the reference, same samples
    double seconds = 0;

    bool isHeatmapCell() const { return measure == SweepMeasure::Needle; }
};

struct SweepResult {
    SweepSettings settings;
    std::vector<SweepMethodSpec> methods;
    QString model;       // folder of the sweep's model
    QString device;
    QString dtype;
    int trainLength = 0;  // L_train of the model
    std::vector<SweepCell> cells;
    QStringList notes;  // what the sweep left out and why
    bool cancelled = false;
    double seconds = 0;

    // The cell of a method at a length (and needle depth; ignored for held-out), or nullptr.
    const SweepCell *find(SweepMeasure measure, const QString &method, int length, double depth = -1) const;
    QStringList methodNames() const;
    // The needle depths that have cells (the curve's depth and the heatmap's), ascending.
    std::vector<double> needleDepths() const;

    QJsonObject toJson() const;
    // Throws rs::Error naming `source` for anything that is not a sweep result of this version.
    static SweepResult fromJson(const QJsonObject &json, const QString &source);
    // One row per cell; the settings and methods ride in a leading "# ropescope-sweep {json}" line
    // so that the CSV alone re-opens as the same result.
    QString toCsv() const;
    static SweepResult fromCsv(const QString &text, const QString &source);
    // By extension: .csv writes CSV, anything else JSON; atomically (QSaveFile). Throws rs::Error.
    void save(const QString &path) const;
    static SweepResult load(const QString &path);
    // Markdown: the length curves (value [interval] and the ratio to the reference) and, with
    // depths, one heatmap table per method.
    QString markdown() const;
};

// How many cells a sweep of `methods` methods makes at most (lengths too short for the needle
// template lose their needle cells; the engine reports the exact count as it starts).
int sweepCellCount(const SweepSettings &settings, int methods);

// `points` lengths from `from` to `to`, evenly spaced on a log axis, rounded; duplicates dropped.
std::vector<int> logSpacedLengths(int from, int to, int points);

// Fills value, interval and the passkey share of a cell from its per-sample values.
void summarizeCell(SweepCell &cell, const BootstrapOptions &options);
// Fills reference and vsReference (paired over the samples both cells have).
void compareCell(SweepCell &cell, const SweepCell &reference, const BootstrapOptions &options);

// JSON of the statistics, shared by eval, table and sweep output.
QJsonObject intervalToJson(const Interval &interval);
Interval intervalFromJson(const QJsonValue &value);
QJsonObject comparisonToJson(const PairedComparison &c, const QString &reference);
PairedComparison comparisonFromJson(const QJsonObject &json);

} // namespace rs
