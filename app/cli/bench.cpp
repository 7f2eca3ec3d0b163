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

int bench(const QStringList &args)
{
    return run([&] {
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
        const std::vector<int> lengthList = lengthListOption(parser, lengths, 2);
        const int answerCount = wholeNumber(parser, answers, 1);
        std::vector<int> chunkExponents;
        if (parser.isSet(chunks)) {
            for (const QString &part : parser.value(chunks).split(QLatin1Char(','), Qt::SkipEmptyParts)) {
                bool ok = false;
                const int e = part.trimmed().toInt(&ok);
                if (!ok || e < 10 || e > 30)
                    throw UsageError{QStringLiteral("--attention-chunks needs exponents from 10 to 30, got '%1'").arg(part)};
                chunkExponents.push_back(e);
            }
            if (chunkExponents.size() < 2)
                throw UsageError{QStringLiteral("--attention-chunks needs at least two exponents to compare")};
        }
        const int warmupRuns = wholeNumber(parser, warmup, 0);
        const int timedRuns = wholeNumber(parser, repeats, 1);
        const double peakTflops = positiveNumber(parser, peak);
        const uint64_t seed = uint64_t(wholeNumber(parser, kSeedOption, 0));
        const int candidateCount = wholeNumber(parser, candidates, 1);
        const int decodeTokens = wholeNumber(parser, decode, 0);

        ModelOptions options;
        options.device = checkedDevice(parser.value(kDeviceOption));
        options.dtype = checkedDtype(parser.value(kDtypeOption));
        QElapsedTimer loadClock;
        loadClock.start();
        std::unique_ptr<CausalLM> lm;
        QString name;
        if (parser.isSet(shape)) {
            name = parser.value(shape);
            QFile file(name);
            if (!file.open(QIODevice::ReadOnly))
                throw Error(name, QStringLiteral("cannot open: %1").arg(file.errorString()));
            QJsonParseError parseError;
            const QJsonDocument doc = QJsonDocument::fromJson(file.readAll(), &parseError);
            if (!doc.isObject())
                throw Error(name, QStringLiteral("not a JSON object: %1").arg(parseError.errorString()));
            lm = CausalLM::createRandom(doc.object(), options, seed, name);
        } else {
            name = parser.value(kModelOption);
            lm = CausalLM::load(name, options);
        }
        const double loadSeconds = loadClock.nsecsElapsed() / 1e9;
        const double weightGiB = double(lm->weightBytes()) / double(int64_t(1) << 30);
        const bool json = parser.isSet(kJsonOption);
        if (!json)
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

        // Milliseconds of each timed run after the warm-up runs, sorted; and their median.
        const auto timeRuns = [&](const std::function<void()> &work) {
            std::vector<double> ms;
            for (int r = 0; r < warmupRuns + timedRuns; ++r) {
                QElapsedTimer clock;
                clock.start();
                work();  // every call returns its NLL to the host, so the device is synchronised
                if (r >= warmupRuns)
                    ms.push_back(clock.nsecsElapsed() / 1e6);
            }
            std::sort(ms.begin(), ms.end());
            return ms;
        };
        const auto median = [](const std::vector<double> &sorted) {
            const size_t n = sorted.size();
            return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
        };

        std::mt19937_64 rng(seed);
        for (const int length : lengthList) {
            const int scored = std::min(answerCount, length - 1);
            std::vector<int> ids(static_cast<size_t>(length));
            std::uniform_int_distribution<int> token(0, lm->vocabSize() - 1);
            for (int &id : ids)
                id = token(rng);
            // The needle's answer sits at the end of the sample, as in the needle template.
            std::vector<int> targets;
            for (int p = length - scored; p < length; ++p)
                targets.push_back(p);
            QJsonObject row{{QStringLiteral("tokens"), length}, {QStringLiteral("answers"), scored},
                            {QStringLiteral("device"), lm->device()}, {QStringLiteral("dtype"), lm->dtype()},
                            {QStringLiteral("weights_gib"), weightGiB}};
            try {
                lm->resetPeakDeviceMemory();
                const std::vector<double> ms = timeRuns([&] {
                    const std::vector<double> nll = lm->targetNll(ids, targets);
                    if (nll.size() != targets.size() || !std::isfinite(nll.front()))
                        throw Error(name, QStringLiteral("the evaluation returned no finite NLL"));
                });
                const double medianMs = median(ms);
                // The forward runs up to the token before the last answer: length − 1 tokens.
                const double flops = lm->forwardFlops(length - 1, scored);
                const double tflops = flops / (medianMs / 1e3) / 1e12;
                const int64_t peakBytes = lm->peakDeviceMemory();
                row.insert(QStringLiteral("ms"), medianMs);
                row.insert(QStringLiteral("min_ms"), ms.front());
                row.insert(QStringLiteral("flops"), flops);
                row.insert(QStringLiteral("tflops"), tflops);
                row.insert(QStringLiteral("percent_of_peak"), 100 * tflops / peakTflops);
                if (peakBytes >= 0)
                    row.insert(QStringLiteral("peak_gib"), double(peakBytes) / double(int64_t(1) << 30));
                if (candidateCount > 1) {
                    // Distinct candidates: PI-like factors spread around s = 2, attention factor 1.
                    std::vector<RopeOverride> ropes;
                    const size_t pairs = size_t(lm->ropeConfig().pairs());
                    for (int k = 0; k < candidateCount; ++k)
                        ropes.push_back({std::vector<double>(pairs, 1.5 + double(k) / candidateCount), 1.0});
                    const double batchedMs = median(timeRuns([&] { lm->targetNllBatch(ids, targets, ropes); }));
                    const double oneByOneMs = median(timeRuns([&] {
                        for (const RopeOverride &r : ropes)
                            lm->targetNll(ids, targets, &r);
                    }));
                    row.insert(QStringLiteral("candidates"), candidateCount);
                    row.insert(QStringLiteral("batched_ms"), batchedMs);
                    row.insert(QStringLiteral("one_by_one_ms"), oneByOneMs);
                    row.insert(QStringLiteral("candidates_per_s"), candidateCount / (batchedMs / 1e3));
                    row.insert(QStringLiteral("one_by_one_candidates_per_s"), candidateCount / (oneByOneMs / 1e3));
                    if (!json)
                        err() << QStringLiteral("%1 tokens, %2 candidates: batched %3 candidates/s, one by one %4/s (%5×)\n")
                                     .arg(length)
                                     .arg(candidateCount)
                                     .arg(candidateCount / (batchedMs / 1e3), 0, 'f', 2)
                                     .arg(candidateCount / (oneByOneMs / 1e3), 0, 'f', 2)
                                     .arg(oneByOneMs / batchedMs, 0, 'f', 2);
                }
                if (parser.isSet(untrimmed)) {
                    // Interleaved, so that a busy machine slows both alike.
                    std::vector<double> trimmedMs, fullMs;
                    std::vector<double> trimmedNll, fullNll;
                    for (int r = 0; r < warmupRuns + timedRuns; ++r) {
                        for (const bool trim : {true, false}) {
                            lm->setTrimLastLayer(trim);
                            QElapsedTimer clock;
                            clock.start();
                            std::vector<double> nll = lm->targetNll(ids, targets);
                            const double elapsed = clock.nsecsElapsed() / 1e6;
                            if (r >= warmupRuns)
                                (trim ? trimmedMs : fullMs).push_back(elapsed);
                            (trim ? trimmedNll : fullNll) = std::move(nll);
                        }
                    }
                    lm->setTrimLastLayer(true);
                    std::sort(trimmedMs.begin(), trimmedMs.end());
                    std::sort(fullMs.begin(), fullMs.end());
                    double largest = 0;
                    for (size_t i = 0; i < trimmedNll.size(); ++i)
                        largest = std::max(largest, std::abs(trimmedNll[i] - fullNll[i]));
                    row.insert(QStringLiteral("trimmed_ms"), median(trimmedMs));
                    row.insert(QStringLiteral("untrimmed_ms"), median(fullMs));
                    row.insert(QStringLiteral("trim_speedup"), median(fullMs) / median(trimmedMs));
                    row.insert(QStringLiteral("trim_max_nll_difference"), largest);
                    if (!json)
                        err() << QStringLiteral("%1 tokens: last layer at the %2 answer rows %3 ms, at every row %4 ms "
                                                "(%5× faster; largest NLL difference %6)\n")
                                     .arg(length)
                                     .arg(scored)
                                     .arg(median(trimmedMs), 0, 'f', 1)
                                     .arg(median(fullMs), 0, 'f', 1)
                                     .arg(median(fullMs) / median(trimmedMs), 0, 'f', 2)
                                     .arg(largest, 0, 'g', 3);
                }
                if (!chunkExponents.empty()) {
                    // Interleaved, so that a busy machine slows every size alike.
                    const int64_t chosen = lm->attentionChunkElements();
                    std::vector<std::vector<double>> chunkMs(chunkExponents.size());
                    std::vector<std::vector<double>> chunkNll(chunkExponents.size());
                    for (int r = 0; r < warmupRuns + timedRuns; ++r) {
                        for (size_t c = 0; c < chunkExponents.size(); ++c) {
                            lm->setAttentionChunkElements(int64_t(1) << chunkExponents[c]);
                            QElapsedTimer clock;
                            clock.start();
                            chunkNll[c] = lm->targetNll(ids, targets);
                            if (r >= warmupRuns)
                                chunkMs[c].push_back(clock.nsecsElapsed() / 1e6);
                        }
                    }
                    lm->setAttentionChunkElements(chosen);
                    QJsonArray sizes;
                    for (size_t c = 0; c < chunkExponents.size(); ++c) {
                        std::sort(chunkMs[c].begin(), chunkMs[c].end());
                        double largest = 0;
                        for (size_t i = 0; i < chunkNll[c].size(); ++i)
                            largest = std::max(largest, std::abs(chunkNll[c][i] - chunkNll[0][i]));
                        sizes.append(QJsonObject{{QStringLiteral("log2_elements"), chunkExponents[c]},
                                                 {QStringLiteral("ms"), median(chunkMs[c])},
                                                 {QStringLiteral("max_nll_difference"), largest}});
                        if (!json)
                            err() << QStringLiteral("%1 tokens, attention chunks of 2^%2 elements: %3 ms (%4× the first; "
                                                    "largest NLL difference %5)%6\n")
                                         .arg(length)
                                         .arg(chunkExponents[c])
                                         .arg(median(chunkMs[c]), 0, 'f', 1)
                                         .arg(median(chunkMs[c]) / median(chunkMs[0]), 0, 'f', 2)
                                         .arg(largest, 0, 'g', 3)
                                         .arg((int64_t(1) << chunkExponents[c]) == chosen ? QStringLiteral("  [the default]")
                                                                                         : QString());
                    }
                    row.insert(QStringLiteral("attention_chunks"), sizes);
                }
                if (decodeTokens > 0) {
                    // The passkey's work: a prompt of `length` tokens, then decodeTokens greedy tokens.
                    const std::vector<int> prompt(ids.begin(), ids.end());
                    std::vector<int> cachedTokens, uncachedTokens;
                    const double cachedMs = median(timeRuns([&] { cachedTokens = lm->greedyContinue(prompt, decodeTokens); }));
                    const double uncachedMs =
                        median(timeRuns([&] { uncachedTokens = lm->greedyContinue(prompt, decodeTokens, nullptr, false); }));
                    row.insert(QStringLiteral("decode_tokens"), decodeTokens);
                    row.insert(QStringLiteral("decode_cached_ms"), cachedMs);
                    row.insert(QStringLiteral("decode_uncached_ms"), uncachedMs);
                    row.insert(QStringLiteral("decode_speedup"), uncachedMs / cachedMs);
                    row.insert(QStringLiteral("decode_same_tokens"), cachedTokens == uncachedTokens);
                    if (!json)
                        err() << QStringLiteral("%1 tokens + %2 greedy: KV cache %3 ms, uncached %4 ms (%5× faster)%6\n")
                                     .arg(length)
                                     .arg(decodeTokens)
                                     .arg(cachedMs, 0, 'f', 1)
                                     .arg(uncachedMs, 0, 'f', 1)
                                     .arg(uncachedMs / cachedMs, 0, 'f', 2)
                                     .arg(cachedTokens == uncachedTokens ? QString() : QStringLiteral(" — tokens differ"));
                }
                if (!json)
                    out() << QStringLiteral("%1 %2 %3 %4 %5 %6\n")
                                 .arg(length, 8)
                                 .arg(medianMs, 10, 'f', 1)
                                 .arg(ms.front(), 9, 'f', 1)
                                 .arg(tflops, 8, 'f', 1)
                                 .arg(100 * tflops / peakTflops, 7, 'f', 1)
                                 .arg(peakBytes >= 0 ? QString::number(double(peakBytes) / double(int64_t(1) << 30), 'f', 2)
                                                     : QStringLiteral("n/a"),
                                      9);
            } catch (const Error &e) {
                // Out of memory at one length says something; the lengths after it still run.
                row.insert(QStringLiteral("error"), e.message());
                if (!json)
                    out() << QStringLiteral("%1 ").arg(length, 8) << e.message() << "\n";
            }
            if (json)
                out() << QJsonDocument(row).toJson(QJsonDocument::Compact) << "\n";
            out().flush();
        }
        return kOk;
    }, QStringLiteral("shorter --lengths, fewer --candidates or a smaller --dtype need less"));
}

} // namespace rs::cli
