#pragma once
// Part common (core/common, ropescope_common): the one estimate of what a forward costs — memory
// and time of a forward, an evaluation or a run of many, on the device a model is loaded on — from
// the engine's own figures. Header-only, plain C++ and Qt Core, so that the GUI can price a live
// score, a search or a sweep before it starts without seeing the model or LibTorch.
//
// The figures come from the model as loaded (costFigures, runtime/modelcost.h): the bytes a
// forward keeps alive per token and in its chunks, the FLOPs per token and per pair of positions in
// attention, the weights and the device's memory. The same functions are what CausalLM's own
// forwardBytes / forwardFlops / requireMemoryFor compute, so the price and the refusal agree.
//
// Time is FLOPs over a throughput. Until the session has measured one (measuredFlopsPerSecond:
// FLOPs of a finished evaluation over its seconds), the documented figures below are used, and the
// estimate says which it used.
#include <QString>
#include <QStringList>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace rs {

// Documented throughputs (model FLOPs per second, counted as forwardFlops counts them):
// - CPU: 37 GFLOP/s, the embedded model at 4096 tokens (45 GFLOP counted, 1224 ms per sample) on
//   this project's busy 2-core build machine (runtime/model_p.h, attentionChunkElements);
// - CUDA: 500 TFLOP/s, the Llama-3-8B shape at 8k–128k tokens on an H200 (513–535 TFLOP/s,
//   bench/README.md). Other GPUs are slower: the estimate says that it assumed this one.
constexpr double kDocumentedCpuFlopsPerSecond = 37e9;
constexpr double kDocumentedCudaFlopsPerSecond = 500e12;

struct ForwardCostFigures {
    QString device;            // "cpu", "cuda:0"; empty: no model
    double weightBytes = 0;    // the weights as held on the device
    double deviceBytes = 0;    // total memory of the device (physical memory on the CPU); 0: unknown
    double hostBytes = 0;      // this machine's physical memory; 0: unknown
    // Alive together in a layer, per token of each row: residual stream, q/k/v, rotated q and k,
    // the attention output, the rotary tables, ids and positions.
    double bytesPerToken = 0;
    // One chunk of attention scores (elements, capped by heads · T² per row) with their bytes per
    // element (the scores and their float32 softmax), and one chunk of token-wise intermediates.
    double attentionChunkElements = 0;
    double scoreBytesPerElement = 0;
    double heads = 0;
    double tokenwiseChunkElements = 0;
    double tokenwiseWidth = 0;        // elements per token of the widest token-wise intermediate
    double elementBytes = 0;          // of the model's dtype
    // FLOPs (2 per multiply-add): projections and MLP per token, all layers together; attention per
    // key a query sees, per layer (QKᵀ and PV), with each layer's sliding window (0 = none); the LM
    // head per scored row.
    double flopsPerToken = 0;
    double attentionFlopsPerKey = 0;
    std::vector<double> slidingWindow;  // one per layer
    double headFlopsPerRow = 0;
    // A throughput this session measured on this device (FLOPs as forwardFlops counts them, per
    // second of a finished evaluation: measuredThroughput), and what it was measured on; 0: none
    // yet, and prices use the documented figure.
    double measuredFlopsPerSecond = 0;
    QString measuredSource;

    bool isValid() const { return !device.isEmpty(); }
    // Prices use this throughput, measured on `onDevice`, from now on (one of another device, or of
    // figures of no model, is ignored).
    void setMeasured(const QString &onDevice, double flopsPerSecond, const QString &source)
    {
        if (isValid() && device == onDevice && flopsPerSecond > 0) {
            measuredFlopsPerSecond = flopsPerSecond;
            measuredSource = source;
        }
    }
    bool isCpu() const { return device == QLatin1String("cpu"); }
};

// Bytes one forward over `tokens` tokens in `rows` rows needs besides the weights, at least.
inline double forwardBytes(const ForwardCostFigures &f, double tokens, double rows = 1)
{
    const double scores = std::min(f.attentionChunkElements, rows * f.heads * tokens * tokens) * f.scoreBytesPerElement;
    const double tokenwise = std::min(f.tokenwiseChunkElements, rows * tokens * f.tokenwiseWidth) * f.elementBytes;
    return rows * tokens * f.bytesPerToken + scores + tokenwise;
}

// FLOPs of one forward over `tokens` tokens with the LM head at `headRows` positions.
inline double forwardFlops(const ForwardCostFigures &f, double tokens, double headRows)
{
    double total = f.flopsPerToken * tokens;
    for (const double w : f.slidingWindow) {
        // Query i (0-based) sees min(i + 1, window) keys.
        double keys = tokens * (tokens + 1) / 2;
        if (w > 0 && tokens > w)
            keys = w * (w + 1) / 2 + (tokens - w) * w;
        total += f.attentionFlopsPerKey * keys;
    }
    return total + f.headFlopsPerRow * headRows;
}

inline QString costGibText(double bytes)
{
    const double gib = bytes / double(int64_t(1) << 30);
    if (gib < 100)
        return QString::number(gib, 'f', 1);
    return gib < 1e7 ? QString::number(std::llround(gib)) : QString::number(gib, 'g', 3);
}

inline QString costDurationText(double seconds)
{
    if (!std::isfinite(seconds))
        return QStringLiteral("forever");
    if (seconds < 1)
        return QStringLiteral("< 1 s");
    if (seconds < 90)
        return QStringLiteral("%1 s").arg(std::llround(seconds));
    if (seconds < 90 * 60)
        return QStringLiteral("%1 min").arg(std::llround(seconds / 60));
    if (seconds < 48 * 3600)
        return QStringLiteral("%1 h").arg(seconds / 3600, 0, 'f', 1);
    return QStringLiteral("%1 days").arg(seconds / 86400, 0, 'f', 1);
}

struct CostEstimate {
    double tokens = 0;
    double forwards = 0;          // forwards of that length, one after another
    double peakBytes = 0;         // weights + one forward's activations (+ host data on the CPU)
    double availableBytes = 0;    // what the device has; 0: unknown (then `fits` is true)
    bool fits = true;
    double secondsPerForward = 0;
    double seconds = 0;           // all forwards
    double flopsPerSecond = 0;
    QString throughputSource;     // where the throughput comes from

    // "~2.3 GiB of 24.0 GiB, ~40 s per forward, ~3 min in all (throughput: …)".
    QString summary() const
    {
        QString memory = QStringLiteral("~%1 GiB").arg(costGibText(peakBytes));
        if (availableBytes > 0)
            memory += QStringLiteral(" of %1 GiB").arg(costGibText(availableBytes));
        QString text = memory + QStringLiteral(", ~%1 per forward").arg(costDurationText(secondsPerForward));
        if (forwards > 1)
            text += QStringLiteral(", ~%1 in all").arg(costDurationText(seconds));
        return text + QStringLiteral(" (%1)").arg(throughputSource);
    }
};

// The price of `forwards` forwards over `tokens` tokens in `rows` rows (the LM head at `headRows`
// positions each), with `hostBytes` of input on the host (on the CPU it shares the memory).
// `measuredFlopsPerSecond` > 0 is a throughput this session measured (its source in
// `measuredSource`); without one, the figures' own measured one, else the documented figure for
// the device.
inline CostEstimate estimateForwards(const ForwardCostFigures &f, double tokens, double forwards, double rows = 1,
                                     double headRows = 64, double measuredFlopsPerSecond = 0,
                                     QString measuredSource = {}, double hostBytes = 0)
{
    if (measuredFlopsPerSecond <= 0) {  // none given: the figures' own, if any
        measuredFlopsPerSecond = f.measuredFlopsPerSecond;
        measuredSource = f.measuredSource;
    }
    CostEstimate e;
    e.tokens = tokens;
    e.forwards = forwards;
    e.peakBytes = f.weightBytes + forwardBytes(f, tokens, rows) + (f.isCpu() ? hostBytes : 0);
    e.availableBytes = f.deviceBytes;
    e.fits = f.deviceBytes <= 0 || e.peakBytes <= f.deviceBytes;
    if (measuredFlopsPerSecond > 0) {
        e.flopsPerSecond = measuredFlopsPerSecond;
        e.throughputSource = measuredSource.isEmpty() ? QStringLiteral("throughput measured in this session") : measuredSource;
    } else if (f.isCpu()) {
        e.flopsPerSecond = kDocumentedCpuFlopsPerSecond;
        e.throughputSource = QStringLiteral("assuming 37 GFLOP/s, measured on a 2-core CPU");
    } else {
        e.flopsPerSecond = kDocumentedCudaFlopsPerSecond;
        e.throughputSource = QStringLiteral("assuming 500 TFLOP/s, measured on an H200");
    }
    e.secondsPerForward = forwardFlops(f, tokens, std::min(headRows, tokens) * rows) / e.flopsPerSecond;
    e.seconds = e.secondsPerForward * forwards;
    return e;
}

// The throughput `forwards` finished forwards over `tokens` tokens in `seconds` show, counted as
// estimateForwards counts it (the LM head at min(headRows, tokens) positions), so that a price at
// the same length and count comes back as those seconds; 0 when there is nothing to go by.
inline double measuredThroughput(const ForwardCostFigures &f, double tokens, double forwards, double seconds,
                                 double headRows = 64)
{
    if (!f.isValid() || !(tokens > 0) || !(forwards > 0) || !(seconds > 0))
        return 0;
    return forwardFlops(f, tokens, std::min(headRows, tokens)) * forwards / seconds;
}

} // namespace rs
