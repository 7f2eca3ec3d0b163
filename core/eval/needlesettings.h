#pragma once
// Which needle samples an evaluation uses: length, count, depth, seed and haystack. A plain struct
// shared by the evaluators and the GUI side (the worker's messages, the search dock), which must
// not see the evaluators themselves.
#include <QString>

#include <cstdint>

namespace rs {

struct NeedleEvalSettings {
    int length = 0;        // tokens per sample
    int samples = 4;
    double depth = 0.0;    // needle depth in the filler (0: near the start, as the paper does)
    uint64_t seed = 0;
    QString corpus;        // folder of .txt or .jsonl; empty: built-in prose
};

// Sample i of a set is built from seed + i: two sets of the same length, depth and haystack share
// samples when their seed ranges overlap (a validation set must not share the search's).
inline bool samplesOverlap(const NeedleEvalSettings &a, const NeedleEvalSettings &b)
{
    if (a.samples < 1 || b.samples < 1 || a.length != b.length || a.depth != b.depth || a.corpus != b.corpus)
        return false;
    return a.seed < b.seed + uint64_t(b.samples) && b.seed < a.seed + uint64_t(a.samples);
}

} // namespace rs
