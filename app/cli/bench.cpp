// ropescope-cli bench: times needle-PPL evaluation on random tokens: ms per sample, TFLOP/s, % of
// peak and peak device memory (optionally batched candidates against one by one).
#include "commands.h"
#include "options.h"

#include "common/error.h"
#include "rope/ropeconfig.h"
#include "rope/ropeoverride.h"
#include "runtime/model.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <vector>

namespace rs::cli {

namespace {

// What `bench` was asked to do, read from its command line.
struct BenchRequest {
    QString shapePath;  // --config; empty: --model
    QString modelPath;
    std::vector<int> lengths;
    int answerCount = 64;
    std::vector<int> chunkExponents;  // --attention-chunks; empty: off
    int warmupRuns = 1;
    int timedRuns = 3;
    double peakTflops = 790;
    uint64_t seed = 0;
    int candidateCount = 1;
    int decodeTokens = 0;
    bool untrimmed = false;
    bool json = false;
    ModelOptions model;
};

// --attention-chunks' exponents: at least two, each from 10 to 30.
std::vector<int> chunkExponentsOption(const QCommandLineParser &parser, const QCommandLineOption &chunks)
{
    std::vector<int> chunkExponents;
    if (!parser.isSet(chunks))
        return chunkExponents;
    for (const QString &part : parser.value(chunks).split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        bool ok = false;
        const int e = part.trimmed().toInt(&ok);
        if (!ok || e < 10 || e > 30)
            throw UsageError{QStringLiteral("--attention-chunks needs exponents from 10 to 30, got '%1'").arg(part)};
        chunkExponents.push_back(e);
    }
    if (chunkExponents.size() < 2)
        throw UsageError{QStringLiteral("--attention-chunks needs at least two exponents to compare")};
    return chunkExponents;
}

BenchRequest parseBenchRequest(const QStringList &args)
{
    QCommandLineParser parser;
    const QCommandLineOption shape(QStringLiteral("config"),
                                   QStringLiteral("config.json of the shape to benchmark with random weights "
                                                  "(e.g. bench/shapes/llama3-8b.json)."),
                                   QStringLiteral("PATH"));
    const QCommandLineOption lengths(QStringLiteral("lengths"),
                                     QStringLiteral("Comma-separated sample lengths in tokens (default 8192)."),
                                     QStringLiteral("L,..."), QStringLiteral("8192"));
    const QCommandLineOption answers(QStringLiteral("answers"),
                                     QStringLiteral("Answer tokens scored per sample (LM head rows; default 64)."),
                                     QStringLiteral("N"), QStringLiteral("64"));
    const QCommandLineOption warmup(QStringLiteral("warmup"),
                                    QStringLiteral("Untimed runs per length (default 1)."), QStringLiteral("N"),
                                    QStringLiteral("1"));
    const QCommandLineOption repeats(QStringLiteral("repeats"),
                                     QStringLiteral("Timed runs per length; the median is reported (default 3)."),
                                     QStringLiteral("N"), QStringLiteral("3"));
    const QCommandLineOption peak(QStringLiteral("peak-tflops"),
                                  QStringLiteral("The device's dense matrix peak, for the % column (default 790, "
                                                 "an H100/H200's measured bf16 GEMM rate)."),
                                  QStringLiteral("TFLOPS"), QStringLiteral("790"));
    const QCommandLineOption candidates(QStringLiteral("candidates"),
                                        QStringLiteral("Also score K candidates (each its own λ) per length: in one "
                                                       "batched forward and one by one, side by side (default 1: "
                                                       "off)."),
                                        QStringLiteral("K"), QStringLiteral("1"));
    const QCommandLineOption decode(QStringLiteral("decode"),
                                    QStringLiteral("Also time greedy decoding of N tokens after a prompt of the "
                                                   "length, with the KV cache and without it (every token re-runs "
                                                   "the sequence), side by side (default 0: off)."),
                                    QStringLiteral("N"), QStringLiteral("0"));
    const QCommandLineOption untrimmed(QStringLiteral("untrimmed"),
                                       QStringLiteral("Also time the evaluation with the last layer run at every "
                                                      "position (the forward before it was trimmed to the answer "
                                                      "rows), runs interleaved with the trimmed ones, side by side, "
                                                      "and report how far their NLLs differ."));
    const QCommandLineOption chunks(QStringLiteral("attention-chunks"),
                                    QStringLiteral("Also time the evaluation with attention score chunks of "
                                                   "2^E elements for each E given (e.g. 18,20,22), runs "
                                                   "interleaved, side by side, and report how far their NLLs "
                                                   "differ from the first's."),
                                    QStringLiteral("E,..."));
    parser.addOptions({shape, lengths, answers, warmup, repeats, peak, candidates, decode, untrimmed, chunks, kModelOption,
                       kDeviceOption, kDtypeOption, kSeedOption, kJsonOption});
    parseOrThrow(parser, args,
                 QStringLiteral("Time needle-PPL evaluation (forward to the last answer token, final norm and LM "
                                "head only at the answer tokens) on random tokens: ms per sample, model TFLOP/s, "
                                "% of peak and peak device memory. The same engine call the evaluator makes."));
    if (parser.isSet(shape) == parser.isSet(kModelOption))
        throw UsageError{QStringLiteral("give --config (random weights of that shape) or --model (a checkpoint)")};
    BenchRequest request;
    request.lengths = lengthListOption(parser, lengths, 2);
    request.answerCount = wholeNumber(parser, answers, 1);
    request.chunkExponents = chunkExponentsOption(parser, chunks);
    request.warmupRuns = wholeNumber(parser, warmup, 0);
    request.timedRuns = wholeNumber(parser, repeats, 1);
    request.peakTflops = positiveNumber(parser, peak);
    request.seed = uint64_t(wholeNumber(parser, kSeedOption, 0));
    request.candidateCount = wholeNumber(parser, candidates, 1);
    request.decodeTokens = wholeNumber(parser, decode, 0);
    request.untrimmed = parser.isSet(untrimmed);
    request.json = parser.isSet(kJsonOption);
    request.model.device = checkedDevice(parser.value(kDeviceOption));
    request.model.dtype = checkedDtype(parser.value(kDtypeOption));
    if (parser.isSet(shape))
        request.shapePath = parser.value(shape);
    else
        request.modelPath = parser.value(kModelOption);
    return request;
}

// The model to time: random weights of --config's shape, or --model's checkpoint.
std::unique_ptr<CausalLM> loadBenchModel(const BenchRequest &request)
{
    if (request.shapePath.isEmpty())
        return CausalLM::load(request.modelPath, request.model);
    const QString &name = request.shapePath;
    QFile file(name);
    if (!file.open(QIODevice::ReadOnly))
        throw Error(name, QStringLiteral("cannot open: %1").arg(file.errorString()));
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(file.readAll(), &parseError);
    if (!doc.isObject())
        throw Error(name, QStringLiteral("not a JSON object: %1").arg(parseError.errorString()));
    return CausalLM::createRandom(doc.object(), request.model, request.seed, name);
}

double medianOf(const std::vector<double> &sorted)
{
    const size_t n = sorted.size();
    return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

// One length's benchmark: the model, the random sample and what every timing step adds to its row.
struct BenchSample {
    const BenchRequest &request;
    CausalLM &lm;
    const QString &name;
    int length = 0;
    int scored = 0;
    std::vector<int> ids;
    std::vector<int> targets;

    // Milliseconds of each timed run after the warm-up runs, sorted.
    std::vector<double> timeRuns(const std::function<void()> &work) const
    {
        std::vector<double> ms;
        for (int r = 0; r < request.warmupRuns + request.timedRuns; ++r) {
            QElapsedTimer clock;
            clock.start();
            work();  // every call returns its NLL to the host, so the device is synchronised
            if (r >= request.warmupRuns)
                ms.push_back(clock.nsecsElapsed() / 1e6);
        }
        std::sort(ms.begin(), ms.end());
        return ms;
    }
};

void benchCandidates(const BenchSample &sample, QJsonObject &row)
{
    CausalLM &lm = sample.lm;
    const int candidateCount = sample.request.candidateCount;
    // Distinct candidates: PI-like factors spread around s = 2, attention factor 1.
    std::vector<RopeOverride> ropes;
    const size_t pairs = size_t(lm.ropeConfig().pairs());
    for (int k = 0; k < candidateCount; ++k)
        ropes.push_back({std::vector<double>(pairs, 1.5 + double(k) / candidateCount), 1.0});
    const double batchedMs = medianOf(sample.timeRuns([&] { lm.targetNllBatch(sample.ids, sample.targets, ropes); }));
    const double oneByOneMs = medianOf(sample.timeRuns([&] {
        for (const RopeOverride &r : ropes)
            lm.targetNll(sample.ids, sample.targets, &r);
    }));
    row.insert(QStringLiteral("candidates"), candidateCount);
    row.insert(QStringLiteral("batched_ms"), batchedMs);
    row.insert(QStringLiteral("one_by_one_ms"), oneByOneMs);
    row.insert(QStringLiteral("candidates_per_s"), candidateCount / (batchedMs / 1e3));
    row.insert(QStringLiteral("one_by_one_candidates_per_s"), candidateCount / (oneByOneMs / 1e3));
    if (!sample.request.json)
        err() << QStringLiteral("%1 tokens, %2 candidates: batched %3 candidates/s, one by one %4/s (%5×)\n")
                     .arg(sample.length)
                     .arg(candidateCount)
                     .arg(candidateCount / (batchedMs / 1e3), 0, 'f', 2)
                     .arg(candidateCount / (oneByOneMs / 1e3), 0, 'f', 2)
                     .arg(oneByOneMs / batchedMs, 0, 'f', 2);
}

void benchUntrimmed(const BenchSample &sample, QJsonObject &row)
{
    CausalLM &lm = sample.lm;
    const int warmupRuns = sample.request.warmupRuns;
    // Interleaved, so that a busy machine slows both alike.
    std::vector<double> trimmedMs, fullMs;
    std::vector<double> trimmedNll, fullNll;
    for (int r = 0; r < warmupRuns + sample.request.timedRuns; ++r) {
        for (const bool trim : {true, false}) {
            lm.setTrimLastLayer(trim);
            QElapsedTimer clock;
            clock.start();
            std::vector<double> nll = lm.targetNll(sample.ids, sample.targets);
            const double elapsed = clock.nsecsElapsed() / 1e6;
            if (r >= warmupRuns)
                (trim ? trimmedMs : fullMs).push_back(elapsed);
            (trim ? trimmedNll : fullNll) = std::move(nll);
        }
    }
    lm.setTrimLastLayer(true);
    std::sort(trimmedMs.begin(), trimmedMs.end());
    std::sort(fullMs.begin(), fullMs.end());
    double largest = 0;
    for (size_t i = 0; i < trimmedNll.size(); ++i)
        largest = std::max(largest, std::abs(trimmedNll[i] - fullNll[i]));
    row.insert(QStringLiteral("trimmed_ms"), medianOf(trimmedMs));
    row.insert(QStringLiteral("untrimmed_ms"), medianOf(fullMs));
    row.insert(QStringLiteral("trim_speedup"), medianOf(fullMs) / medianOf(trimmedMs));
    row.insert(QStringLiteral("trim_max_nll_difference"), largest);
    if (!sample.request.json)
        err() << QStringLiteral("%1 tokens: last layer at the %2 answer rows %3 ms, at every row %4 ms "
                                "(%5× faster; largest NLL difference %6)\n")
                     .arg(sample.length)
                     .arg(sample.scored)
                     .arg(medianOf(trimmedMs), 0, 'f', 1)
                     .arg(medianOf(fullMs), 0, 'f', 1)
                     .arg(medianOf(fullMs) / medianOf(trimmedMs), 0, 'f', 2)
                     .arg(largest, 0, 'g', 3);
}

void benchAttentionChunks(const BenchSample &sample, QJsonObject &row)
{
    CausalLM &lm = sample.lm;
    const std::vector<int> &chunkExponents = sample.request.chunkExponents;
    const int warmupRuns = sample.request.warmupRuns;
    // Interleaved, so that a busy machine slows every size alike.
    const int64_t chosen = lm.attentionChunkElements();
    std::vector<std::vector<double>> chunkMs(chunkExponents.size());
    std::vector<std::vector<double>> chunkNll(chunkExponents.size());
    for (int r = 0; r < warmupRuns + sample.request.timedRuns; ++r) {
        for (size_t c = 0; c < chunkExponents.size(); ++c) {
            lm.setAttentionChunkElements(int64_t(1) << chunkExponents[c]);
            QElapsedTimer clock;
            clock.start();
            chunkNll[c] = lm.targetNll(sample.ids, sample.targets);
            if (r >= warmupRuns)
                chunkMs[c].push_back(clock.nsecsElapsed() / 1e6);
        }
    }
    lm.setAttentionChunkElements(chosen);
    QJsonArray sizes;
    for (size_t c = 0; c < chunkExponents.size(); ++c) {
        std::sort(chunkMs[c].begin(), chunkMs[c].end());
        double largest = 0;
        for (size_t i = 0; i < chunkNll[c].size(); ++i)
            largest = std::max(largest, std::abs(chunkNll[c][i] - chunkNll[0][i]));
        sizes.append(QJsonObject{{QStringLiteral("log2_elements"), chunkExponents[c]},
                                 {QStringLiteral("ms"), medianOf(chunkMs[c])},
                                 {QStringLiteral("max_nll_difference"), largest}});
        if (!sample.request.json)
            err() << QStringLiteral("%1 tokens, attention chunks of 2^%2 elements: %3 ms (%4× the first; "
                                    "largest NLL difference %5)%6\n")
                         .arg(sample.length)
                         .arg(chunkExponents[c])
                         .arg(medianOf(chunkMs[c]), 0, 'f', 1)
                         .arg(medianOf(chunkMs[c]) / medianOf(chunkMs[0]), 0, 'f', 2)
                         .arg(largest, 0, 'g', 3)
                         .arg((int64_t(1) << chunkExponents[c]) == chosen ? QStringLiteral("  [the default]")
                                                                         : QString());
    }
    row.insert(QStringLiteral("attention_chunks"), sizes);
}

void benchDecode(const BenchSample &sample, QJsonObject &row)
{
    CausalLM &lm = sample.lm;
    const int decodeTokens = sample.request.decodeTokens;
    // The passkey's work: a prompt of `length` tokens, then decodeTokens greedy tokens.
    const std::vector<int> prompt(sample.ids.begin(), sample.ids.end());
    std::vector<int> cachedTokens, uncachedTokens;
    const double cachedMs = medianOf(sample.timeRuns([&] { cachedTokens = lm.greedyContinue(prompt, decodeTokens); }));
    const double uncachedMs =
        medianOf(sample.timeRuns([&] { uncachedTokens = lm.greedyContinue(prompt, decodeTokens, nullptr, false); }));
    row.insert(QStringLiteral("decode_tokens"), decodeTokens);
    row.insert(QStringLiteral("decode_cached_ms"), cachedMs);
    row.insert(QStringLiteral("decode_uncached_ms"), uncachedMs);
    row.insert(QStringLiteral("decode_speedup"), uncachedMs / cachedMs);
    row.insert(QStringLiteral("decode_same_tokens"), cachedTokens == uncachedTokens);
    if (!sample.request.json)
        err() << QStringLiteral("%1 tokens + %2 greedy: KV cache %3 ms, uncached %4 ms (%5× faster)%6\n")
                     .arg(sample.length)
                     .arg(decodeTokens)
                     .arg(cachedMs, 0, 'f', 1)
                     .arg(uncachedMs, 0, 'f', 1)
                     .arg(uncachedMs / cachedMs, 0, 'f', 2)
                     .arg(cachedTokens == uncachedTokens ? QString() : QStringLiteral(" — tokens differ"));
}

// Times the plain evaluation at one length, then each comparison asked for, into `row`; prints the
// table's line unless --json.
void benchLength(const BenchSample &sample, QJsonObject &row)
{
    const BenchRequest &request = sample.request;
    CausalLM &lm = sample.lm;
    lm.resetPeakDeviceMemory();
    const std::vector<double> ms = sample.timeRuns([&] {
        const std::vector<double> nll = lm.targetNll(sample.ids, sample.targets);
        if (nll.size() != sample.targets.size() || !std::isfinite(nll.front()))
            throw Error(sample.name, QStringLiteral("the evaluation returned no finite NLL"));
    });
    const double medianMs = medianOf(ms);
    // The forward runs up to the token before the last answer: length − 1 tokens.
    const double flops = lm.forwardFlops(sample.length - 1, sample.scored);
    const double tflops = flops / (medianMs / 1e3) / 1e12;
    const int64_t peakBytes = lm.peakDeviceMemory();
    row.insert(QStringLiteral("ms"), medianMs);
    row.insert(QStringLiteral("min_ms"), ms.front());
    row.insert(QStringLiteral("flops"), flops);
    row.insert(QStringLiteral("tflops"), tflops);
    row.insert(QStringLiteral("percent_of_peak"), 100 * tflops / request.peakTflops);
    if (peakBytes >= 0)
        row.insert(QStringLiteral("peak_gib"), double(peakBytes) / double(int64_t(1) << 30));
    if (request.candidateCount > 1)
        benchCandidates(sample, row);
    if (request.untrimmed)
        benchUntrimmed(sample, row);
    if (!request.chunkExponents.empty())
        benchAttentionChunks(sample, row);
    if (request.decodeTokens > 0)
        benchDecode(sample, row);
    if (!request.json)
        out() << QStringLiteral("%1 %2 %3 %4 %5 %6\n")
                     .arg(sample.length, 8)
                     .arg(medianMs, 10, 'f', 1)
                     .arg(ms.front(), 9, 'f', 1)
                     .arg(tflops, 8, 'f', 1)
                     .arg(100 * tflops / request.peakTflops, 7, 'f', 1)
                     .arg(peakBytes >= 0 ? QString::number(double(peakBytes) / double(int64_t(1) << 30), 'f', 2)
                                         : QStringLiteral("n/a"),
                          9);
}

} // namespace

int bench(const QStringList &args)
{
    return run([&] {
        const BenchRequest request = parseBenchRequest(args);
        QElapsedTimer loadClock;
        loadClock.start();
        const std::unique_ptr<CausalLM> lm = loadBenchModel(request);
        const QString name = request.shapePath.isEmpty() ? request.modelPath : request.shapePath;
        const double loadSeconds = loadClock.nsecsElapsed() / 1e9;
        const double weightGiB = double(lm->weightBytes()) / double(int64_t(1) << 30);
        if (!request.json)
            out() << "model   " << name << " (" << lm->architecture() << ", " << lm->numLayers() << " layers, hidden "
                  << lm->hiddenSize() << ", " << lm->device() << ", " << lm->dtype() << ", weights "
                  << number(weightGiB, 4) << " GiB, ready in " << number(loadSeconds, 3) << " s)\n\n"
                  << QStringLiteral("%1 %2 %3 %4 %5 %6\n")
                         .arg(QStringLiteral("tokens"), 8)
                         .arg(QStringLiteral("ms/sample"), 10)
                         .arg(QStringLiteral("min ms"), 9)
                         .arg(QStringLiteral("TFLOP/s"), 8)
                         .arg(QStringLiteral("% peak"), 7)
                         .arg(QStringLiteral("peak GiB"), 9);
        out().flush();

        std::mt19937_64 rng(request.seed);
        for (const int length : request.lengths) {
            BenchSample sample{request, *lm, name, length, std::min(request.answerCount, length - 1), {}, {}};
            sample.ids.resize(static_cast<size_t>(length));
            std::uniform_int_distribution<int> token(0, lm->vocabSize() - 1);
            for (int &id : sample.ids)
                id = token(rng);
            // The needle's answer sits at the end of the sample, as in the needle template.
            for (int p = length - sample.scored; p < length; ++p)
                sample.targets.push_back(p);
            QJsonObject row{{QStringLiteral("tokens"), length}, {QStringLiteral("answers"), sample.scored},
                            {QStringLiteral("device"), lm->device()}, {QStringLiteral("dtype"), lm->dtype()},
                            {QStringLiteral("weights_gib"), weightGiB}};
            try {
                benchLength(sample, row);
            } catch (const Error &e) {
                // Out of memory at one length says something; the lengths after it still run.
                row.insert(QStringLiteral("error"), e.message());
                if (!request.json)
                    out() << QStringLiteral("%1 ").arg(length, 8) << e.message() << "\n";
            }
            if (request.json)
                out() << QJsonDocument(row).toJson(QJsonDocument::Compact) << "\n";
            out().flush();
        }
        return kOk;
    }, QStringLiteral("shorter --lengths, fewer --candidates or a smaller --dtype need less"));
}

} // namespace rs::cli
