// libFuzzer target: a search's run log (JSON Lines), through every reader a log meets.
//  1. readRunLogStart: the start record `search --resume` checks against --model and --corpus.
//  2. The resume loader (loadLog) with the settings of the log's own first record, as a resume
//     with matching options would call it; it may drop a truncated last line, and nothing else.
//  3. A resumed search: a small fixed search (kSettings, a synthetic fitness) resumes the log
//     (locks it, loads it, appends to it). Logs of that search are among the seeds, so the
//     mutations reach the replay of cached scores, not only the settings check.
//  4. The run-log follower (the GUI's search panel, `rank-stability`): the log replayed at once,
//     then a second part appended and read as a live search's lines are.
// Only rs::Error may come out; the loader must leave the file a prefix of what it was, ending at a
// line end.
//
// FUZZ_RUNLOG_SEED=PATH writes the log of a fresh run of the small search to PATH and exits (how
// fuzz/seeds/runlog/fresh-*.jsonl were made).
#include "common/error.h"
#include "search/runlogstart.h"
#include "search/search.h"
#include "search/runlogcodec.h"
#include "search/search_p.h"
#include "worker/runlogfollower.h"
#include "scratch.h"

#include <QByteArray>
#include <QCoreApplication>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

rs::SearchSettings smallSearch()
{
    rs::SearchSettings s;
    s.rotaryDims = 16;
    s.base = 10000;
    s.trainLength = 128;
    s.targetLength = 512;
    s.population = 4;
    s.iterations = 1;
    s.seed = 3;
    s.validationTop = 1;
    return s;
}

// A fitness whose scores depend on the candidate and the sample, never on the order of calls.
rs::SampledFitness syntheticFitness(int samples)
{
    rs::SampledFitness f;
    f.samples = samples;
    f.fitness = [](const rs::Candidate &c, int sample) {
        double v = 1.0 + 0.25 * sample + std::abs(c.attentionFactor - 1.1);
        for (size_t i = 0; i < c.lambda.size(); ++i)
            v += std::abs(std::log(c.lambda[i])) / double(i + 1);
        return v;
    };
    return f;
}

rs::SearchResult runSmallSearch(const QString &log, bool resume)
{
    rs::SearchHooks hooks;
    hooks.logPath = log;
    hooks.resume = resume;
    return rs::EvolutionSearch(smallSearch()).run(syntheticFitness(2), syntheticFitness(2), hooks);
}

QJsonObject firstRecord(const QByteArray &log)
{
    const qsizetype end = log.indexOf('\n');
    return QJsonDocument::fromJson(log.left(end < 0 ? log.size() : end)).object();
}

int clamped(const QJsonValue &v, int lo, int hi, int fallback)
{
    const double d = v.toDouble(fallback);
    return std::isfinite(d) ? int(std::clamp(d, double(lo), double(hi))) : fallback;
}

void follow(const QString &path, const QByteArray &first, const QByteArray &rest)
{
    fuzz::writeFile(path, first);
    rs::RunLogFollower follower;
    try {
        follower.follow(path);
    } catch (const rs::Error &) {
    }
    QFile f(path);
    if (f.open(QIODevice::Append)) {
        f.write(rest);
        f.close();
    }
    follower.readAppended();  // a follower that refused the log reads nothing
    follower.stopFollowing();
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static QCoreApplication app(*argc, *argv);  // the follower's watcher and timer
    if (const QByteArray seed = qgetenv("FUZZ_RUNLOG_SEED"); !seed.isEmpty()) {
        try {
            runSmallSearch(QFile::decodeName(seed), false);
        } catch (const rs::Error &e) {
            std::fprintf(stderr, "%s\n", qPrintable(e.message()));
            std::exit(1);
        }
        std::exit(0);
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray input(reinterpret_cast<const char *>(data), qsizetype(size));
    const QString dir = fuzz::scratch("runlog");
    const QString path = fuzz::writeFile(dir + QStringLiteral("/run.jsonl"), input);

    try {
        rs::readRunLogStart(path);
    } catch (const rs::Error &) {
    }

    // The loader, with the log's own settings (a resume whose options match them).
    const QJsonObject start = firstRecord(input);
    const QJsonObject settings = start.value(QLatin1String("settings")).toObject();
    const QJsonObject context = settings.value(QLatin1String("context")).toObject();
    const int pairs = clamped(settings.value(QLatin1String("rotary_dims")), 2, 8192, 16) / 2;
    const int samples = clamped(context.value(QLatin1String("samples")), 1, 1 << 20, 1);
    const int validationSamples =
        clamped(context.value(QLatin1String("validation")).toObject().value(QLatin1String("samples")), 0, 1 << 20, 0);
    try {
        rs::search_detail::loadLog(path, rs::RunSettings::fromJson(settings), pairs, samples, validationSamples, 1.0);
        QFile after(path);
        if (!after.open(QIODevice::ReadOnly))
            std::abort();
        const QByteArray kept = after.readAll();
        if (!input.startsWith(kept) || (!kept.isEmpty() && !kept.endsWith('\n')))
            std::abort();  // the loader changed more than a truncated last line
    } catch (const rs::Error &) {
    }

    // A resumed search of the small fixed settings (most inputs are refused at its settings check).
    fuzz::writeFile(path, input);
    try {
        runSmallSearch(path, true);
    } catch (const rs::Error &) {
    }

    // The follower: the first part at once, the rest as appended lines.
    const qsizetype split = input.isEmpty() ? 0 : qsizetype(uint8_t(input.back())) * input.size() / 256;
    follow(dir + QStringLiteral("/followed.jsonl"), input.left(split), input.mid(split));
    return 0;
}
