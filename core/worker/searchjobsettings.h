#pragma once
// Part worker_api (core/worker): what a search job is asked to run — the one place where the
// defaults of a search started from `ropescope-cli search` or the GUI's search dock are stated.
// The CLI's help and option defaults and the dock's form read them from here, and the search job
// (job/searchjob.h) turns the struct into a running search. Plain types only: the widgets see it.
#include "eval/needlesettings.h"
#include "search/search.h"

#include <QString>
#include <QStringList>

#include <cstdint>

namespace rs {

struct SearchJobSettings {
    // The search, with the library's defaults (population 64, 40 generations after the first, the
    // best 3 validated, the answer by validation, the families seeding generation 0 …) except the
    // aggregate: the front ends use the one that ranks most stably (kRecommendedFitness). The
    // model's RoPE (rotaryDims, base, trainLength) and the target length (samples.length) are the
    // job's to fill in.
    SearchSettings search = frontEndSearch();
    // The search samples: length (required), K = 4, depth 0, seed 0, the built-in prose.
    NeedleEvalSettings samples;
    // The held-out validation samples: the search's length, depth and haystack, their own count
    // and seeds. -1: twice the search's samples, seeds right after the search's; 0 samples: none.
    int validationSamples = kDefaultValidation;
    qint64 validationSeed = kDefaultValidation;

    // Where the model runs. "cpu" by default, in the CLI and the GUI alike: the device (and the
    // dtype it implies) is part of a run log's context, which a resume must match, so a default
    // that depended on the machine would make a log written on a GPU machine refuse to resume on
    // a CPU node, and the same settings give different logs on different machines. CUDA is one
    // choice away (--device cuda, the dock's Device box, which remembers it).
    QString device = defaultDevice();
    QString dtype;              // empty: float32 on the CPU, bfloat16 on CUDA
    // One model replica per device, over which a generation's candidates are spread; empty: every
    // visible GPU with a CUDA device, else the device alone. (A model the GUI has loaded is the
    // only replica.)
    QStringList devices;
    int candidateBatch = 0;     // candidates per forward and replica; 0: 8 on a GPU, 1 on the CPU

    QString logPath;            // empty: no run log
    bool resume = false;        // continue the run in logPath

    static constexpr int kDefaultValidation = -1;
    static QString defaultDevice() { return QStringLiteral("cpu"); }

    static SearchSettings frontEndSearch()
    {
        SearchSettings s;
        s.fitness = kRecommendedFitness;
        return s;
    }
    // The validation samples these settings resolve to (samples == 0: none).
    NeedleEvalSettings validation() const { return validationFor(samples, validationSamples, validationSeed); }
    static NeedleEvalSettings validationFor(const NeedleEvalSettings &samples, int count = kDefaultValidation,
                                            qint64 seed = kDefaultValidation)
    {
        NeedleEvalSettings v = samples;
        v.samples = count >= 0 ? count : 2 * samples.samples;
        v.seed = seed >= 0 ? uint64_t(seed) : samples.seed + uint64_t(samples.samples);
        return v;
    }
};

} // namespace rs
