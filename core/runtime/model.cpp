// Llama-family causal LM on LibTorch, written against transformers' eager implementation
// (modeling_llama / mistral / qwen2 / phi3): pre-norm decoder layers, RMSNorm in float32,
// grouped-query attention with softmax in float32, SwiGLU MLP, RoPE with rotate_half on the
// first d dims of each head. Weights go from the mapped safetensors bytes straight to the target
// device and dtype.
#include "runtime/model_p.h"

#include "common/error.h"
#include "rope/factorfamilies.h"
#include "runtime/modelfolder.h"
#include "runtime/safetensors.h"

#include <torch/version.h>
#include <ATen/CPUGeneratorImpl.h>
#ifdef ROPESCOPE_CUDA_MEMORY_STATS
#include <c10/cuda/CUDACachingAllocator.h>
#endif
#ifdef ROPESCOPE_CUDA_MEMINFO
#include <cuda_runtime_api.h>
#endif

#include <QDir>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonArray>
#include <QLocale>
#include <QSet>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <new>

#ifdef Q_OS_UNIX
#include <unistd.h>
#endif

namespace rs {

bool cudaAvailable()
{
    return torch::cuda::is_available();
}

int cudaDeviceCount()
{
    return cudaAvailable() ? int(torch::cuda::device_count()) : 0;
}

int64_t physicalMemoryBytes()
{
#ifdef Q_OS_UNIX
    static const int64_t bytes = [] {
        const long pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGESIZE);
        return pages > 0 && pageSize > 0 ? int64_t(pages) * int64_t(pageSize) : int64_t(0);
    }();
    return bytes;
#else
    return 0;
#endif
}

namespace detail {
namespace {

const QStringList kArchitectures = {QStringLiteral("llama"), QStringLiteral("mistral"), QStringLiteral("qwen2"),
                                    QStringLiteral("phi3")};

QString shapeText(const std::vector<int64_t> &shape)
{
    QStringList parts;
    for (int64_t s : shape)
        parts << QString::number(s);
    return QLatin1Char('[') + parts.join(QStringLiteral(", ")) + QLatin1Char(']');
}

// A number as written: the shortest text that reads back as the same double (2147483648, 1e+308).
QString numberText(double x)
{
    return QString::number(x, 'g', QLocale::FloatingPointShortest);
}

// Reads whole-number keys of config.json with errors naming the file and the key.
struct SpecReader {
    const QJsonObject &json;
    const QString &source;

    [[noreturn]] void fail(const QString &problem) const { throw Error(source, problem); }

    int integer(const QString &key, std::optional<int> fallback = std::nullopt) const
    {
        const QJsonValue v = json.value(key);
        if (v.isUndefined() || v.isNull()) {
            if (fallback)
                return *fallback;
            fail(QStringLiteral("missing \"%1\"").arg(key));
        }
        if (!v.isDouble())
            fail(QStringLiteral("\"%1\" must be a positive whole number, found %2")
                     .arg(key, v.isString() ? QLatin1Char('"') + v.toString() + QLatin1Char('"') : QStringLiteral("a non-number")));
        // Compared as a double, before any conversion: int(2^31) is undefined and came out as −2^31.
        const double x = v.toDouble();
        if (!(x > 0) || x != std::floor(x))
            fail(QStringLiteral("\"%1\" must be a positive whole number, found %2").arg(key, numberText(x)));
        if (x > std::numeric_limits<int>::max())
            fail(QStringLiteral("\"%1\" is %2, more than this program supports (at most %3)")
                     .arg(key, numberText(x)).arg(std::numeric_limits<int>::max()));
        return int(x);
    }

    bool flag(const QString &key, bool fallback) const
    {
        const QJsonValue v = json.value(key);
        if (v.isUndefined() || v.isNull())
            return fallback;
        if (!v.isBool())
            fail(QStringLiteral("\"%1\" must be true or false").arg(key));
        return v.toBool();
    }
};

torch::ScalarType safetensorsType(const QString &dtype)
{
    if (dtype == QLatin1String("F32"))
        return torch::kFloat32;
    if (dtype == QLatin1String("F16"))
        return torch::kFloat16;
    if (dtype == QLatin1String("BF16"))
        return torch::kBFloat16;
    return torch::kByte;  // unsupported (checked before use)
}

bool isFloatType(const QString &dtype)
{
    return dtype == QLatin1String("F32") || dtype == QLatin1String("F16") || dtype == QLatin1String("BF16");
}

QString dtypeName(torch::ScalarType t)
{
    switch (t) {
    case torch::kBFloat16: return QStringLiteral("bfloat16");
    case torch::kFloat16: return QStringLiteral("float16");
    default: return QStringLiteral("float32");
    }
}

// Total memory of a device: physical memory for the CPU, the GPU's for CUDA (0 when this build
// cannot ask: then only an allocation failure tells).
int64_t deviceMemoryBytes(const torch::Device &device)
{
    if (device.is_cpu())
        return physicalMemoryBytes();
#ifdef ROPESCOPE_CUDA_MEMINFO
    cudaDeviceProp properties;
    if (cudaGetDeviceProperties(&properties, device.index()) == cudaSuccess)
        return int64_t(properties.totalGlobalMem);
#endif
    return 0;
}

QString gibText(double bytes)
{
    const double gib = bytes / double(int64_t(1) << 30);
    if (gib < 100)
        return QString::number(gib, 'f', 1);
    return gib < 1e7 ? QString::number(std::llround(gib)) : QString::number(gib, 'g', 3);
}

// Resolves ModelOptions into m.device / m.dtype (and the attention chunk size that suits the
// device); throws rs::Error naming m.directory.
void resolveDeviceAndDtype(TorchModel &m, const ModelOptions &options)
{
    QString devName = options.device.trimmed().isEmpty() ? QStringLiteral("cpu") : options.device.trimmed().toLower();
    if (devName == QLatin1String("auto"))
        devName = torch::cuda::is_available() ? QStringLiteral("cuda") : QStringLiteral("cpu");
    try {
        m.device = torch::Device(devName.toStdString());
    } catch (const c10::Error &) {
        throw Error(m.directory, QStringLiteral("unknown device \"%1\" (use cpu, cuda, cuda:N or auto)").arg(options.device));
    }
    if (m.device.is_cuda()) {
        if (!torch::cuda::is_available())
            throw Error(m.directory, QStringLiteral("device \"%1\" requested but CUDA is not available (LibTorch without CUDA or no GPU)")
                                 .arg(devName));
        if (!m.device.has_index())
            m.device = torch::Device(torch::kCUDA, 0);
        if (m.device.index() >= int(torch::cuda::device_count()))
            throw Error(m.directory, QStringLiteral("device \"%1\" does not exist (%2 CUDA devices)").arg(devName).arg(torch::cuda::device_count()));
    } else if (!m.device.is_cpu()) {
        throw Error(m.directory, QStringLiteral("device \"%1\" is not supported (use cpu, cuda or cuda:N)").arg(devName));
    }
    // GPUs want large chunks for their kernels; see attentionChunkElements for the CPU's choice.
    m.attentionChunkElements = m.device.is_cuda() ? int64_t(1) << 26 : int64_t(1) << 22;
    m.batchCandidates = m.device.is_cuda();
    m.deviceMemory = deviceMemoryBytes(m.device);
    const QString dt = options.dtype.trimmed().toLower();
    if (dt.isEmpty())
        m.dtype = m.device.is_cuda() ? torch::kBFloat16 : torch::kFloat32;
    else if (dt == QLatin1String("float32") || dt == QLatin1String("fp32") || dt == QLatin1String("float"))
        m.dtype = torch::kFloat32;
    else if (dt == QLatin1String("bfloat16") || dt == QLatin1String("bf16"))
        m.dtype = torch::kBFloat16;
    else if (dt == QLatin1String("float16") || dt == QLatin1String("fp16") || dt == QLatin1String("half"))
        m.dtype = torch::kFloat16;
    else
        throw Error(m.directory, QStringLiteral("unknown dtype \"%1\" (use float32, bfloat16 or float16)").arg(options.dtype));
}

} // namespace

void requireMemory(const TorchModel &m, const QString &source, const QString &what, double deviceBytes, double hostBytes)
{
    const bool cpu = m.device.is_cpu();
    const double onDevice = cpu ? deviceBytes + hostBytes : deviceBytes;
    const int64_t deviceHas = cpu ? physicalMemoryBytes() : m.deviceMemory;
    if (deviceHas > 0 && onDevice > double(deviceHas)) {
        if (cpu)
            throw Error(source, QStringLiteral("%1 needs ~%2 GiB of memory, this machine has %3 GiB")
                                    .arg(what, gibText(onDevice), gibText(double(deviceHas))));
        throw Error(source, QStringLiteral("%1 needs ~%2 GiB on %3, which has %4 GiB")
                                .arg(what, gibText(onDevice), QString::fromStdString(m.device.str()), gibText(double(deviceHas))));
    }
    const int64_t hostHas = physicalMemoryBytes();
    if (!cpu && hostHas > 0 && hostBytes > double(hostHas))
        throw Error(source, QStringLiteral("%1 needs ~%2 GiB of host memory, this machine has %3 GiB")
                                .arg(what, gibText(hostBytes), gibText(double(hostHas))));
}

void requireWeightMemory(const TorchModel &m, const ModelSpec &s, const QString &source)
{
    const double parameters = parameterCount(s);
    requireMemory(m, source, QStringLiteral("a %1 model with these shapes (%2 parameters in %3)")
                                 .arg(s.architecture, QString::number(parameters, 'g', 3), dtypeName(m.dtype)),
                  parameters * double(c10::elementSize(m.dtype)), 0);
}

double forwardBytes(const TorchModel &m, double tokens, double rows)
{
    const ModelSpec &s = m.spec;
    const double e = double(c10::elementSize(m.dtype));
    const double q = double(s.numHeads) * s.headDim, kv = double(s.numKvHeads) * s.headDim;
    const double widest = std::max(2.0 * s.intermediateSize, q + 2 * kv);
    // Alive together once a layer's attention has run: the residual stream, q/k/v, the rotated q
    // and k, the attention output and the rotary cos and sin; and the token ids and positions.
    const double perToken = e * (s.hiddenSize + (q + 2 * kv) + (q + kv) + q + 2.0 * s.rotaryDims) + 16;
    // One chunk of attention scores (with their float32 softmax) and one of token-wise intermediates.
    const double scores = std::min(double(m.attentionChunkElements), rows * s.numHeads * tokens * tokens) * (4 + e);
    const double tokenwise = std::min(double(m.tokenwiseChunkElements), rows * tokens * widest) * e;
    return rows * tokens * perToken + scores + tokenwise;
}

int64_t weightBytes(const TorchModel &m)
{
    int64_t bytes = 0;
    const auto add = [&](const torch::Tensor &t) {
        if (t.defined())
            bytes += t.numel() * int64_t(t.element_size());
    };
    add(m.embed);
    for (const LayerWeights &w : m.layers)
        for (const torch::Tensor *t : {&w.inputNorm, &w.postNorm, &w.qkv, &w.qkvBias, &w.o, &w.oBias, &w.gateUp,
                                       &w.gateUpBias, &w.down, &w.downBias})
            add(*t);
    add(m.finalNorm);
    if (m.lmHead.defined() && !m.lmHead.is_same(m.embed))
        add(m.lmHead);
    return bytes;
}

double parameterCount(const ModelSpec &s)
{
    const double V = s.vocabSize, H = s.hiddenSize, I = s.intermediateSize;
    const double q = double(s.numHeads) * s.headDim, kv = double(s.numKvHeads) * s.headDim;
    double perLayer = 2 * H + (q + 2 * kv) * H + H * q + 3 * H * I;
    if (s.qkvBias)
        perLayer += q + 2 * kv;
    if (s.oBias)
        perLayer += H;
    if (s.mlpBias)
        perLayer += 2 * I + H;
    return V * H * (s.tiedEmbeddings ? 1 : 2) + double(s.numLayers) * perLayer + H;
}

ModelSpec parseModelSpec(const QJsonObject &config, const RopeConfig &rope, const QString &source,
                         const std::function<void(const ModelSpec &)> &checkSize)
{
    const SpecReader r{config, source};
    ModelSpec s;
    QString arch = config.value(QLatin1String("model_type")).toString();
    if (arch.isEmpty()) {
        const QString first = config.value(QLatin1String("architectures")).toArray().first().toString();
        for (const QString &a : kArchitectures)
            if (first.compare(a + QLatin1String("ForCausalLM"), Qt::CaseInsensitive) == 0)
                arch = a;
    }
    if (!kArchitectures.contains(arch))
        r.fail(QStringLiteral("model type \"%1\" is not supported (supported: %2)")
                   .arg(arch.isEmpty() ? QStringLiteral("(none)") : arch, kArchitectures.join(QStringLiteral(", "))));
    s.architecture = arch;

    const QString act = config.value(QLatin1String("hidden_act")).toString(QStringLiteral("silu"));
    if (act != QLatin1String("silu") && act != QLatin1String("swish"))
        r.fail(QStringLiteral("\"hidden_act\" \"%1\" is not supported (only silu)").arg(act));

    s.vocabSize = r.integer(QStringLiteral("vocab_size"));
    s.hiddenSize = r.integer(QStringLiteral("hidden_size"));
    s.numLayers = r.integer(QStringLiteral("num_hidden_layers"));
    s.numHeads = r.integer(QStringLiteral("num_attention_heads"));
    s.numKvHeads = r.integer(QStringLiteral("num_key_value_heads"), s.numHeads);
    s.intermediateSize = r.integer(QStringLiteral("intermediate_size"));
    if (s.numHeads % s.numKvHeads != 0)
        r.fail(QStringLiteral("\"num_attention_heads\" %1 is not a multiple of \"num_key_value_heads\" %2")
                   .arg(s.numHeads).arg(s.numKvHeads));
    s.headDim = rope.headDim;
    s.rotaryDims = rope.rotaryDims;
    const QJsonValue eps = config.value(QLatin1String("rms_norm_eps"));
    s.rmsNormEps = eps.isDouble() ? eps.toDouble() : arch == QLatin1String("phi3") ? 1e-5 : 1e-6;  // transformers' defaults
    if (!(s.rmsNormEps > 0))
        r.fail(QStringLiteral("\"rms_norm_eps\" must be positive"));
    s.tiedEmbeddings = r.flag(QStringLiteral("tie_word_embeddings"), false);

    if (arch == QLatin1String("qwen2")) {
        s.qkvBias = true;
    } else if (arch != QLatin1String("phi3")) {
        s.qkvBias = s.oBias = r.flag(QStringLiteral("attention_bias"), false);
        s.mlpBias = r.flag(QStringLiteral("mlp_bias"), false);
    }

    // Everything that sizes the weights is known: a config whose weights cannot fit is refused here,
    // before the per-layer settings below (or a caller's list of expected tensors) cost memory.
    if (checkSize)
        checkSize(s);

    // Sliding-window attention: transformers 5 lists per-layer types; before that mistral and phi3
    // apply `sliding_window` to every layer and qwen2 to layers ≥ max_window_layers when
    // use_sliding_window is set.
    const QJsonValue windowValue = config.value(QLatin1String("sliding_window"));
    const int window = windowValue.isDouble() ? r.integer(QStringLiteral("sliding_window")) : 0;
    s.slidingWindow.assign(size_t(s.numLayers), 0);
    const QJsonArray layerTypes = config.value(QLatin1String("layer_types")).toArray();
    if (!layerTypes.isEmpty()) {
        if (layerTypes.size() != s.numLayers)
            r.fail(QStringLiteral("\"layer_types\" has %1 entries for %2 layers").arg(layerTypes.size()).arg(s.numLayers));
        for (int i = 0; i < s.numLayers; ++i) {
            const QString t = layerTypes[i].toString();
            if (t == QLatin1String("sliding_attention")) {
                if (window <= 0)
                    r.fail(QStringLiteral("layer %1 uses sliding attention but \"sliding_window\" is not set").arg(i));
                s.slidingWindow[size_t(i)] = window;
            } else if (t != QLatin1String("full_attention")) {
                r.fail(QStringLiteral("\"layer_types\"[%1] \"%2\" is not supported").arg(i).arg(t));
            }
        }
    } else if (window > 0) {
        if (arch == QLatin1String("mistral") || arch == QLatin1String("phi3")) {
            std::fill(s.slidingWindow.begin(), s.slidingWindow.end(), window);
        } else if (arch == QLatin1String("qwen2") && r.flag(QStringLiteral("use_sliding_window"), false)) {
            const int from = r.integer(QStringLiteral("max_window_layers"), 0);
            for (int i = from; i < s.numLayers; ++i)
                s.slidingWindow[size_t(i)] = window;
        }
    }
    return s;
}

} // namespace detail

// ---------------------------------------------------------------------------------------------

using detail::TorchModel;

struct CausalLM::Impl {
    TorchModel m;
    QStringList warnings;  // from loading

    // Refuses, with the figures, a forward the device cannot hold (detail::requireMemory), before
    // anything is allocated for it.
    void requireForward(double tokens, double rows, double hostBytes = 0) const
    {
        const double weights = double(detail::weightBytes(m));
        const double activations = detail::forwardBytes(m, tokens, rows);
        QString what = rows > 1 ? QStringLiteral("a forward over %1 tokens in %2 rows").arg(tokens, 0, 'f', 0).arg(rows, 0, 'f', 0)
                                : QStringLiteral("a forward over %1 tokens").arg(tokens, 0, 'f', 0);
        what += QStringLiteral(" (weights %1 GiB, activations %2 GiB").arg(detail::gibText(weights), detail::gibText(activations));
        if (hostBytes > 0)
            what += QStringLiteral(", samples %1 GiB").arg(detail::gibText(hostBytes));
        detail::requireMemory(m, m.directory, what + QLatin1Char(')'), weights + activations, hostBytes);
    }

    // Turns LibTorch failures into rs::Error naming the model folder.
    template <class F>
    auto guarded(F &&f) const -> decltype(f())
    {
        try {
            return f();
        } catch (const Error &) {
            throw;
        } catch (const c10::OutOfMemoryError &e) {
            throw Error(m.directory, QStringLiteral("out of memory on %1: %2")
                                         .arg(QString::fromStdString(m.device.str()),
                                              QString::fromStdString(e.what_without_backtrace())));
        } catch (const c10::Error &e) {
            const QString what = QString::fromStdString(e.what_without_backtrace());
            if (what.contains(QLatin1String("out of memory"), Qt::CaseInsensitive))
                throw Error(m.directory, QStringLiteral("out of memory on %1: %2")
                                             .arg(QString::fromStdString(m.device.str()), what));
            throw Error(m.directory, QStringLiteral("LibTorch error: %1").arg(what));
        } catch (const std::bad_alloc &) {
            throw Error(m.directory, QStringLiteral("out of host memory"));
        }
    }

    void checkIds(const std::vector<int> &ids, size_t minimum) const
    {
        if (ids.size() < minimum)
            throw Error(m.directory, QStringLiteral("needs at least %1 tokens, got %2").arg(minimum).arg(ids.size()));
        for (size_t i = 0; i < ids.size(); ++i)
            if (ids[i] < 0 || ids[i] >= m.spec.vocabSize)
                throw Error(m.directory, QStringLiteral("token id %1 at position %2 is outside the vocabulary [0, %3)")
                                             .arg(ids[i]).arg(i).arg(m.spec.vocabSize));
    }

    detail::RopeTable table(int seqLen, const RopeOverride *rope) const
    {
        if (rope)
            return detail::makeRopeTable(m, rope->lambda, rope->attentionFactor);
        const RopeOverride f = detail::defaultRopeFactors(m, seqLen);
        return detail::makeRopeTable(m, f.lambda, f.attentionFactor);
    }

    // Hidden states (before the final norm) of ids[0 … count) with the RoPE chosen for `seqLen`: [count, H],
    // or of the last keepLast of them only (detail::forwardHidden): [keepLast, H].
    torch::Tensor hidden(const std::vector<int> &ids, int64_t count, int seqLen, const RopeOverride *rope,
                         int64_t keepLast = 0) const
    {
        requireForward(double(count), 1);
        const detail::RopeTable t = table(seqLen, rope);
        const torch::Tensor tokens = torch::tensor(at::ArrayRef<int>(ids.data(), size_t(count)), torch::dtype(torch::kInt32))
                                         .to(m.device, torch::kInt64)
                                         .unsqueeze(0);
        const torch::Tensor positions = torch::arange(count, torch::dtype(torch::kInt64).device(m.device));
        return detail::forwardHidden(m, tokens, positions, t, {}, nullptr, keepLast).squeeze(0);
    }

    // Runs ids[from, to) on top of the cache (whose length must be `from`) with the cache's RoPE:
    // hidden states [to − from, H], or of the last keepLast positions only (every key and value is
    // cached either way).
    torch::Tensor extend(detail::KvCache &cache, const std::vector<int> &ids, int64_t from, int64_t to,
                         int64_t keepLast = 0) const
    {
        const detail::RopeTable t = detail::makeRopeTable(m, cache.rope.lambda, cache.rope.attentionFactor);
        const torch::Tensor tokens = torch::tensor(at::ArrayRef<int>(ids.data() + from, size_t(to - from)), torch::dtype(torch::kInt32))
                                         .to(m.device, torch::kInt64)
                                         .unsqueeze(0);
        const torch::Tensor positions = torch::arange(from, to, torch::dtype(torch::kInt64).device(m.device));
        return detail::forwardHidden(m, tokens, positions, t, {}, &cache, keepLast).squeeze(0);
    }

    int argmaxToken(const torch::Tensor &hiddenRow) const
    {
        return int(detail::logitsFromHidden(m, hiddenRow.unsqueeze(0)).argmax(-1).item<int64_t>());
    }

    static bool sameRope(const RopeOverride &a, const RopeOverride &b)
    {
        return a.attentionFactor == b.attentionFactor && a.lambda == b.lambda;
    }

    // Greedy decoding from `cache`, which holds seq[0 … cache.length) with `last` the hidden state
    // of its final position; appends `count` tokens to seq and returns them. Without an explicit
    // rope the RoPE follows the growing length: when the config's choice changes (the longrope
    // switch past original_max_position_embeddings), the cache is refilled from scratch with the
    // new factors — what transformers' Phi3 prepare_inputs_for_generation does by dropping its
    // cache there, and what re-running the whole sequence for every token computes.
    std::vector<int> decode(detail::KvCache &cache, std::vector<int> &seq, torch::Tensor last, int count,
                            const RopeOverride *rope) const
    {
        std::vector<int> out;
        for (int n = 0; n < count; ++n) {
            const int next = argmaxToken(last);
            seq.push_back(next);
            out.push_back(next);
            if (n + 1 == count)
                break;
            const int64_t length = int64_t(seq.size());
            if (!rope) {
                RopeOverride wanted = detail::defaultRopeFactors(m, int(length));
                if (!sameRope(wanted, cache.rope)) {
                    cache.length = 0;
                    cache.rope = std::move(wanted);
                    const torch::Tensor h = extend(cache, seq, 0, length);
                    last = h[length - 1];
                    continue;
                }
            }
            last = extend(cache, seq, length - 1, length)[0];
        }
        return out;
    }

    std::vector<int> greedyCached(const std::vector<int> &ids, int newTokens, const RopeOverride *rope) const
    {
        if (newTokens <= 0)
            return {};
        std::vector<int> seq = ids;
        const int64_t prompt = int64_t(ids.size());
        detail::KvCache cache = detail::makeKvCache(m, 1, prompt + newTokens);
        cache.rope = rope ? *rope : detail::defaultRopeFactors(m, int(prompt));
        const torch::Tensor h = extend(cache, seq, 0, prompt);
        return decode(cache, seq, h[prompt - 1], newTokens, rope);
    }

    std::vector<int> greedyUncached(const std::vector<int> &ids, int newTokens, const RopeOverride *rope) const
    {
        std::vector<int> seq = ids;
        std::vector<int> out;
        for (int n = 0; n < newTokens; ++n) {
            const torch::Tensor h = hidden(seq, int64_t(seq.size()), int(seq.size()), rope);
            const int next = argmaxToken(h[h.size(0) - 1]);
            seq.push_back(next);
            out.push_back(next);
        }
        return out;
    }

    CausalLM::AnswerScore scoreAnswer(const std::vector<int> &ids, int answerStart, bool greedy, const RopeOverride *rope) const
    {
        checkIds(ids, 2);
        const int64_t L = int64_t(ids.size());
        if (answerStart < 1 || answerStart >= L)
            throw Error(m.directory, QStringLiteral("the answer start %1 is outside 1 … %2").arg(answerStart).arg(L - 1));
        std::vector<int> targets;
        for (int p = answerStart; p < L; ++p)
            targets.push_back(p);
        // The forward targetNll runs (up to the last answer token, RoPE chosen for the whole
        // length), keeping its keys and values.
        detail::KvCache cache = detail::makeKvCache(m, 1, L - 1);
        cache.rope = rope ? *rope : detail::defaultRopeFactors(m, int(L));
        // The rows targetNll reads (answerStart − 1 on, the prompt's last among them), computed as
        // targetNll computes them.
        const int64_t first = m.trimLastLayer ? answerStart - 1 : 0;
        const torch::Tensor h = extend(cache, ids, 0, L - 1, m.trimLastLayer ? L - 1 - first : 0);
        CausalLM::AnswerScore out;
        out.nll = answerNll(h.unsqueeze(0), ids, targets, first).front();
        if (!greedy)
            return out;
        // Greedy decoding of the answer from the prompt: the prompt's keys are already cached
        // unless the RoPE for the prompt's length differs (a longrope config whose switch falls
        // inside the answer), in which case the prompt runs again with its own factors.
        std::vector<int> seq(ids.begin(), ids.begin() + answerStart);
        const RopeOverride promptRope = rope ? *rope : detail::defaultRopeFactors(m, answerStart);
        torch::Tensor last;
        if (sameRope(promptRope, cache.rope)) {
            cache.length = answerStart;
            last = h[answerStart - 1 - first];
        } else {
            cache.length = 0;
            cache.rope = promptRope;
            last = extend(cache, seq, 0, answerStart)[answerStart - 1];
        }
        out.greedy = decode(cache, seq, last, int(L - answerStart), rope);
        return out;
    }

    // Checks every target position (1 ≤ p < L) and returns the largest: the forward stops before it.
    int lastTarget(const std::vector<int> &ids, const std::vector<int> &targets) const
    {
        const int L = int(ids.size());
        int last = 0;
        for (int p : targets) {
            if (p < 1 || p >= L)
                throw Error(m.directory, QStringLiteral("target position %1 is outside 1 … %2").arg(p).arg(L - 1));
            last = std::max(last, p);
        }
        return last;
    }

    // −log p(ids[p]) for each target from hidden states [K, T, H] (one row per RoPE variant) of the
    // positions firstRow, firstRow + 1, …: the final norm and LM head run only at the rows p − 1.
    // One vector per row.
    std::vector<std::vector<double>> answerNll(const torch::Tensor &hidden, const std::vector<int> &ids,
                                               const std::vector<int> &targets, int64_t firstRow = 0) const
    {
        std::vector<int64_t> rows, want;
        rows.reserve(targets.size());
        want.reserve(targets.size());
        for (int p : targets) {
            rows.push_back(p - 1 - firstRow);
            want.push_back(ids[size_t(p)]);
        }
        const auto idx = torch::dtype(torch::kInt64);
        const int64_t K = hidden.size(0), n = int64_t(rows.size());
        const torch::Tensor sel = hidden.index_select(1, torch::tensor(at::ArrayRef<int64_t>(rows), idx).to(m.device))
                                      .reshape({K * n, hidden.size(2)});
        const torch::Tensor wanted = torch::tensor(at::ArrayRef<int64_t>(want), idx).repeat({K});
        const torch::Tensor nll = detail::nllFromHidden(m, sel, wanted).to(torch::kCPU, torch::kFloat64).contiguous();
        std::vector<std::vector<double>> out(static_cast<size_t>(K));
        for (int64_t k = 0; k < K; ++k)
            out[size_t(k)].assign(nll.data_ptr<double>() + k * n, nll.data_ptr<double>() + (k + 1) * n);
        return out;
    }

    std::vector<double> targetNll(const std::vector<int> &ids, const std::vector<int> &targets, const RopeOverride *rope) const
    {
        checkIds(ids, 1);
        if (targets.empty())
            return {};
        const int last = lastTarget(ids, targets);
        // Only the rows p − 1 are read: from the first of them on (the answer tokens at the end of a
        // needle sample: a handful), unless the model is asked to run every row.
        const int first = *std::min_element(targets.begin(), targets.end()) - 1;
        const int64_t keep = m.trimLastLayer ? int64_t(last - first) : 0;
        return answerNll(hidden(ids, last, int(ids.size()), rope, keep).unsqueeze(0), ids, targets, keep > 0 ? first : 0).front();
    }

    std::vector<std::vector<double>> targetNllBatch(const std::vector<int> &ids, const std::vector<int> &targets,
                                                    const std::vector<RopeOverride> &ropes) const
    {
        checkIds(ids, 1);
        const int64_t K = int64_t(ropes.size());
        if (K == 0 || targets.empty())
            return std::vector<std::vector<double>>(ropes.size());
        if (!m.batchCandidates || K == 1) {
            std::vector<std::vector<double>> out;
            for (const RopeOverride &r : ropes)
                out.push_back(targetNll(ids, targets, &r));
            return out;
        }
        const int last = lastTarget(ids, targets);
        requireForward(double(last), double(K));
        // One rotary table per row: [K, T, d] cos and sin, the layout mixed-window training uses.
        const torch::Tensor positions = torch::arange(int64_t(last), torch::dtype(torch::kInt64).device(m.device));
        std::vector<torch::Tensor> cosRows, sinRows;
        for (const RopeOverride &r : ropes) {
            const detail::RotaryCache rc = detail::rotaryCache(m, detail::makeRopeTable(m, r.lambda, r.attentionFactor), positions);
            cosRows.push_back(rc.cos);
            sinRows.push_back(rc.sin);
        }
        const detail::RotaryCache rc{torch::stack(cosRows, 0), torch::stack(sinRows, 0)};
        const torch::Tensor tokens = torch::tensor(at::ArrayRef<int>(ids.data(), size_t(last)), torch::dtype(torch::kInt32))
                                         .to(m.device, torch::kInt64)
                                         .unsqueeze(0)
                                         .expand({K, int64_t(last)});
        return answerNll(detail::forwardHidden(m, tokens, rc), ids, targets);
    }
};

CausalLM::CausalLM() : d(std::make_unique<Impl>()) {}
CausalLM::~CausalLM() = default;

std::unique_ptr<CausalLM> CausalLM::load(const QString &dirPath, const ModelOptions &options)
{
    const QString dir = QDir::cleanPath(dirPath);
    const QFileInfo dirInfo(dir);
    if (!dirInfo.exists())
        throw Error(dir, QStringLiteral("model folder does not exist"));
    if (!dirInfo.isDir())
        throw Error(dir, QStringLiteral("not a folder (expected a Hugging Face model folder)"));
    const QString configPath = ModelFolder(dir).file(QStringLiteral("config.json"));

    std::unique_ptr<CausalLM> lm(new CausalLM);
    TorchModel &m = lm->d->m;
    m.directory = dir;
    m.rope = loadRopeConfig(configPath);
    detail::resolveDeviceAndDtype(m, options);
    m.spec = detail::parseModelSpec(m.rope.json, m.rope, configPath,
                                    [&](const detail::ModelSpec &s) { detail::requireWeightMemory(m, s, configPath); });
    const detail::ModelSpec &s = m.spec;

    // The tensors the declared architecture needs, with their shapes.
    const int64_t V = s.vocabSize, H = s.hiddenSize, I = s.intermediateSize;
    const int64_t qRows = int64_t(s.numHeads) * s.headDim, kvRows = int64_t(s.numKvHeads) * s.headDim;
    std::vector<std::pair<QString, std::vector<int64_t>>> expected;
    expected.push_back({QStringLiteral("model.embed_tokens.weight"), {V, H}});
    const bool phi3 = s.architecture == QLatin1String("phi3");
    for (int l = 0; l < s.numLayers; ++l) {
        const QString p = QStringLiteral("model.layers.%1.").arg(l);
        expected.push_back({p + QLatin1String("input_layernorm.weight"), {H}});
        expected.push_back({p + QLatin1String("post_attention_layernorm.weight"), {H}});
        if (phi3) {
            expected.push_back({p + QLatin1String("self_attn.qkv_proj.weight"), {qRows + 2 * kvRows, H}});
            expected.push_back({p + QLatin1String("mlp.gate_up_proj.weight"), {2 * I, H}});
        } else {
            expected.push_back({p + QLatin1String("self_attn.q_proj.weight"), {qRows, H}});
            expected.push_back({p + QLatin1String("self_attn.k_proj.weight"), {kvRows, H}});
            expected.push_back({p + QLatin1String("self_attn.v_proj.weight"), {kvRows, H}});
            if (s.qkvBias) {
                expected.push_back({p + QLatin1String("self_attn.q_proj.bias"), {qRows}});
                expected.push_back({p + QLatin1String("self_attn.k_proj.bias"), {kvRows}});
                expected.push_back({p + QLatin1String("self_attn.v_proj.bias"), {kvRows}});
            }
            expected.push_back({p + QLatin1String("mlp.gate_proj.weight"), {I, H}});
            expected.push_back({p + QLatin1String("mlp.up_proj.weight"), {I, H}});
            if (s.mlpBias) {
                expected.push_back({p + QLatin1String("mlp.gate_proj.bias"), {I}});
                expected.push_back({p + QLatin1String("mlp.up_proj.bias"), {I}});
                expected.push_back({p + QLatin1String("mlp.down_proj.bias"), {H}});
            }
        }
        expected.push_back({p + QLatin1String("self_attn.o_proj.weight"), {H, qRows}});
        if (s.oBias)
            expected.push_back({p + QLatin1String("self_attn.o_proj.bias"), {H}});
        expected.push_back({p + QLatin1String("mlp.down_proj.weight"), {H, I}});
    }
    expected.push_back({QStringLiteral("model.norm.weight"), {H}});
    if (!s.tiedEmbeddings)
        expected.push_back({QStringLiteral("lm_head.weight"), {V, H}});

    const std::unique_ptr<SafetensorsCheckpoint> ck = SafetensorsCheckpoint::open(dir);
    const QString arch = s.architecture;
    QSet<QString> known;
    for (const auto &[name, shape] : expected) {
        known.insert(name);
        if (!ck->contains(name))
            throw Error(dir, QStringLiteral("tensor \"%1\" is missing (a %2 checkpoint with this config.json needs it)").arg(name, arch));
        const TensorInfo &info = ck->info(name);
        if (info.shape != shape)
            throw Error(dir, QStringLiteral("tensor \"%1\" has shape %2, expected %3 for this config.json")
                                 .arg(name, detail::shapeText(info.shape), detail::shapeText(shape)));
        if (!detail::isFloatType(info.dtype))
            throw Error(dir, QStringLiteral("tensor \"%1\" has dtype %2 (supported: F32, F16, BF16)").arg(name, info.dtype));
    }
    for (const QString &name : ck->names()) {
        if (known.contains(name))
            continue;
        // Buffers some exporters save, and the alias of a tied LM head, carry nothing new.
        if (name.endsWith(QLatin1String("rotary_emb.inv_freq")))
            continue;
        if (s.tiedEmbeddings && name == QLatin1String("lm_head.weight") && ck->info(name).shape == std::vector<int64_t>{V, H})
            continue;
        throw Error(dir, QStringLiteral("unexpected tensor \"%1\" in the checkpoint (not part of a %2 model with this config.json)")
                             .arg(name, arch));
    }

    lm->d->guarded([&] {
        torch::NoGradGuard noGrad;
        // Each tensor's minimum and maximum, as loaded: both propagate NaN, and ±inf shows in one of
        // them, so two reductions without temporaries tell whether a tensor is all finite.
        std::vector<QString> checkedNames;
        std::vector<torch::Tensor> extremes;
        // From the mapped bytes straight to the device and dtype (copy: the mapping is read-only
        // and goes away with the checkpoint).
        const auto load = [&](const QString &name) {
            const TensorInfo &info = ck->info(name);
            const torch::Tensor mapped = torch::from_blob(const_cast<uchar *>(ck->data(name)), info.shape,
                                                          torch::dtype(detail::safetensorsType(info.dtype)));
            torch::Tensor t = mapped.to(m.device, m.dtype, /*non_blocking=*/false, /*copy=*/true);
            if (t.numel() > 0) {
                checkedNames.push_back(name);
                extremes.push_back(torch::stack({t.min(), t.max()}).to(torch::kFloat32));
            }
            return t;
        };
        m.embed = load(QStringLiteral("model.embed_tokens.weight"));
        m.layers.resize(size_t(s.numLayers));
        for (int l = 0; l < s.numLayers; ++l) {
            detail::LayerWeights &w = m.layers[size_t(l)];
            const QString p = QStringLiteral("model.layers.%1.").arg(l);
            w.inputNorm = load(p + QLatin1String("input_layernorm.weight"));
            w.postNorm = load(p + QLatin1String("post_attention_layernorm.weight"));
            if (phi3) {
                w.qkv = load(p + QLatin1String("self_attn.qkv_proj.weight"));
                w.gateUp = load(p + QLatin1String("mlp.gate_up_proj.weight"));
            } else {
                w.qkv = torch::cat({load(p + QLatin1String("self_attn.q_proj.weight")),
                                    load(p + QLatin1String("self_attn.k_proj.weight")),
                                    load(p + QLatin1String("self_attn.v_proj.weight"))});
                if (s.qkvBias)
                    w.qkvBias = torch::cat({load(p + QLatin1String("self_attn.q_proj.bias")),
                                            load(p + QLatin1String("self_attn.k_proj.bias")),
                                            load(p + QLatin1String("self_attn.v_proj.bias"))});
                w.gateUp = torch::cat({load(p + QLatin1String("mlp.gate_proj.weight")),
                                       load(p + QLatin1String("mlp.up_proj.weight"))});
                if (s.mlpBias) {
                    w.gateUpBias = torch::cat({load(p + QLatin1String("mlp.gate_proj.bias")),
                                               load(p + QLatin1String("mlp.up_proj.bias"))});
                    w.downBias = load(p + QLatin1String("mlp.down_proj.bias"));
                }
            }
            w.o = load(p + QLatin1String("self_attn.o_proj.weight"));
            if (s.oBias)
                w.oBias = load(p + QLatin1String("self_attn.o_proj.bias"));
            w.down = load(p + QLatin1String("mlp.down_proj.weight"));
        }
        m.finalNorm = load(QStringLiteral("model.norm.weight"));
        m.lmHead = s.tiedEmbeddings ? m.embed : load(QStringLiteral("lm_head.weight"));

        // One transfer for all tensors. Non-finite weights make every result NaN: say which.
        if (!extremes.empty()) {
            const torch::Tensor all = torch::stack(extremes).to(torch::kCPU).contiguous();
            const float *p = all.data_ptr<float>();
            QStringList bad;
            for (size_t i = 0; i < checkedNames.size(); ++i)
                if (!std::isfinite(p[2 * i]) || !std::isfinite(p[2 * i + 1]))
                    bad << checkedNames[i];
            if (!bad.isEmpty()) {
                const int shown = 5;
                QString names = QStringList(bad.mid(0, shown)).join(QStringLiteral(", "));
                if (bad.size() > shown)
                    names += QStringLiteral(" and %1 more").arg(bad.size() - shown);
                lm->d->warnings << QStringLiteral("%1: %2 of %3 tensors hold values that are not finite (NaN or ±inf, as %4): %5; "
                                                  "results computed with them will not be finite either")
                                       .arg(dir).arg(bad.size()).arg(checkedNames.size()).arg(detail::dtypeName(m.dtype), names);
            }
        }
        return 0;
    });
    return lm;
}

std::unique_ptr<CausalLM> CausalLM::createRandom(const QJsonObject &config, const ModelOptions &options, uint64_t seed,
                                                const QString &name)
{
    std::unique_ptr<CausalLM> lm(new CausalLM);
    TorchModel &m = lm->d->m;
    m.directory = name;
    m.rope = parseRopeConfig(QJsonDocument(config).toJson(QJsonDocument::Compact), name);
    detail::resolveDeviceAndDtype(m, options);
    m.spec = detail::parseModelSpec(m.rope.json, m.rope, name,
                                    [&](const detail::ModelSpec &s) { detail::requireWeightMemory(m, s, name); });
    const detail::ModelSpec &s = m.spec;
    const QJsonValue range = config.value(QLatin1String("initializer_range"));
    const double stddev = range.isDouble() && range.toDouble() > 0 ? range.toDouble() : 0.02;

    lm->d->guarded([&] {
        torch::NoGradGuard noGrad;
        // transformers' _init_weights: linear and embedding weights ~ N(0, initializer_range),
        // biases 0, RMSNorm weights 1. On the CPU a private generator keeps the result independent
        // of anything else in the process; on a GPU, drawing on the device avoids generating and
        // copying billions of numbers on the host, at the price of the device's global generator.
        std::optional<at::Generator> cpuGenerator;
        if (m.device.is_cpu())
            cpuGenerator = at::detail::createCPUGenerator(seed);
        else
            torch::cuda::manual_seed(seed);
        const auto opts = torch::dtype(m.dtype).device(m.device);
        const auto normal = [&](std::vector<int64_t> shape) {
            torch::Tensor t = torch::empty(shape, opts);
            if (cpuGenerator)
                t.normal_(0.0, stddev, *cpuGenerator);
            else
                t.normal_(0.0, stddev);
            return t;
        };
        const auto ones = [&](int64_t n) { return torch::ones({n}, opts); };
        const auto zeros = [&](int64_t n) { return torch::zeros({n}, opts); };
        const int64_t V = s.vocabSize, H = s.hiddenSize, I = s.intermediateSize;
        const int64_t qRows = int64_t(s.numHeads) * s.headDim, kvRows = int64_t(s.numKvHeads) * s.headDim;
        m.embed = normal({V, H});
        m.layers.resize(size_t(s.numLayers));
        for (detail::LayerWeights &w : m.layers) {
            w.inputNorm = ones(H);
            w.postNorm = ones(H);
            w.qkv = normal({qRows + 2 * kvRows, H});
            if (s.qkvBias)
                w.qkvBias = zeros(qRows + 2 * kvRows);
            w.o = normal({H, qRows});
            if (s.oBias)
                w.oBias = zeros(H);
            w.gateUp = normal({2 * I, H});
            w.down = normal({H, I});
            if (s.mlpBias) {
                w.gateUpBias = zeros(2 * I);
                w.downBias = zeros(H);
            }
        }
        m.finalNorm = ones(H);
        m.lmHead = s.tiedEmbeddings ? m.embed : normal({V, H});
        return 0;
    });
    return lm;
}

QString CausalLM::directory() const { return d->m.directory; }
const RopeConfig &CausalLM::ropeConfig() const { return d->m.rope; }
QString CausalLM::architecture() const { return d->m.spec.architecture; }
int CausalLM::vocabSize() const { return d->m.spec.vocabSize; }
int CausalLM::numLayers() const { return d->m.spec.numLayers; }
void CausalLM::setTrimLastLayer(bool on) { d->m.trimLastLayer = on; }
bool CausalLM::trimsLastLayer() const { return d->m.trimLastLayer; }
void CausalLM::setAttentionChunkElements(int64_t elements) { d->m.attentionChunkElements = std::max<int64_t>(elements, 1); }
int64_t CausalLM::attentionChunkElements() const { return d->m.attentionChunkElements; }
int CausalLM::hiddenSize() const { return d->m.spec.hiddenSize; }
QString CausalLM::device() const { return QString::fromStdString(d->m.device.str()); }
QString CausalLM::dtype() const { return detail::dtypeName(d->m.dtype); }
detail::TorchModel &CausalLM::torchModel() { return d->m; }
const detail::TorchModel &CausalLM::torchModel() const { return d->m; }

double CausalLM::forwardFlops(int64_t tokens, int64_t headRows) const
{
    const detail::ModelSpec &s = d->m.spec;
    const double H = s.hiddenSize, I = s.intermediateSize, T = double(tokens);
    const double q = double(s.numHeads) * s.headDim, kv = double(s.numKvHeads) * s.headDim;
    const double perTokenPerLayer = 2 * H * (q + 2 * kv) + 2 * q * H + 2 * 3 * H * I;
    double total = perTokenPerLayer * T * s.numLayers;
    for (int l = 0; l < s.numLayers; ++l) {
        // Query i (0-based) sees min(i + 1, window) keys; QKᵀ and PV each cost 2·q FLOPs per key.
        const double w = s.slidingWindow[size_t(l)];
        double keys = T * (T + 1) / 2;
        if (w > 0 && T > w)
            keys = w * (w + 1) / 2 + (T - w) * w;
        total += 4 * q * keys;
    }
    return total + 2 * H * double(s.vocabSize) * double(headRows);
}

int64_t CausalLM::weightBytes() const
{
    return detail::weightBytes(d->m);
}

double CausalLM::forwardBytes(int64_t tokens, int64_t rows) const
{
    return detail::forwardBytes(d->m, double(tokens), double(rows));
}

void CausalLM::requireMemoryFor(int64_t tokens, int64_t rows, double hostBytes) const
{
    d->requireForward(double(tokens), double(rows), hostBytes);
}

QStringList CausalLM::warnings() const
{
    return d->warnings;
}

int64_t CausalLM::peakDeviceMemory() const
{
#ifdef ROPESCOPE_CUDA_MEMORY_STATS
    if (d->m.device.is_cuda())
        return c10::cuda::CUDACachingAllocator::getDeviceStats(d->m.device.index()).allocated_bytes[0].peak;
#endif
    return -1;
}

void CausalLM::resetPeakDeviceMemory()
{
#ifdef ROPESCOPE_CUDA_MEMORY_STATS
    if (d->m.device.is_cuda())
        c10::cuda::CUDACachingAllocator::resetPeakStats(d->m.device.index());
#endif
}

RopeOverride CausalLM::defaultRope(int seqLen) const
{
    return detail::defaultRopeFactors(d->m, seqLen);
}

double CausalLM::meanNextTokenLoss(const std::vector<int> &ids, const RopeOverride *rope)
{
    return d->guarded([&] {
        c10::InferenceMode guard;
        d->checkIds(ids, 2);
        std::vector<int> targets(ids.size() - 1);
        for (size_t i = 0; i < targets.size(); ++i)
            targets[i] = int(i) + 1;
        const std::vector<double> nll = d->targetNll(ids, targets, rope);
        double sum = 0;
        for (double x : nll)
            sum += x;
        return sum / double(nll.size());
    });
}

std::vector<std::vector<float>> CausalLM::logitsAt(const std::vector<int> &ids, const std::vector<int> &positions,
                                                   const RopeOverride *rope)
{
    return d->guarded([&] {
        c10::InferenceMode guard;
        d->checkIds(ids, 1);
        std::vector<std::vector<float>> out;
        if (positions.empty())
            return out;
        const int L = int(ids.size());
        int last = 0;
        std::vector<int64_t> rows;
        for (int p : positions) {
            if (p < 0 || p >= L)
                throw Error(d->m.directory, QStringLiteral("position %1 is outside 0 … %2").arg(p).arg(L - 1));
            last = std::max(last, p);
            rows.push_back(p);
        }
        const torch::Tensor h = d->hidden(ids, last + 1, L, rope);
        const torch::Tensor sel = h.index_select(0, torch::tensor(at::ArrayRef<int64_t>(rows), torch::dtype(torch::kInt64)).to(d->m.device));
        const torch::Tensor logits = detail::logitsFromHidden(d->m, sel).to(torch::kCPU).contiguous();
        const int64_t V = logits.size(1);
        for (int64_t r = 0; r < logits.size(0); ++r) {
            const float *row = logits.data_ptr<float>() + r * V;
            out.emplace_back(row, row + V);
        }
        return out;
    });
}

std::vector<double> CausalLM::targetNll(const std::vector<int> &ids, const std::vector<int> &targetPositions,
                                        const RopeOverride *rope)
{
    return d->guarded([&] {
        c10::InferenceMode guard;
        return d->targetNll(ids, targetPositions, rope);
    });
}

std::vector<std::vector<double>> CausalLM::targetNllBatch(const std::vector<int> &ids,
                                                          const std::vector<int> &targetPositions,
                                                          const std::vector<RopeOverride> &ropes)
{
    return d->guarded([&] {
        c10::InferenceMode guard;
        return d->targetNllBatch(ids, targetPositions, ropes);
    });
}

std::vector<int> CausalLM::greedyContinue(const std::vector<int> &ids, int newTokens, const RopeOverride *rope,
                                          bool useKvCache)
{
    return d->guarded([&] {
        c10::InferenceMode guard;
        d->checkIds(ids, 1);
        return useKvCache ? d->greedyCached(ids, newTokens, rope) : d->greedyUncached(ids, newTokens, rope);
    });
}

CausalLM::AnswerScore CausalLM::scoreAnswer(const std::vector<int> &ids, int answerStart, bool greedy, const RopeOverride *rope)
{
    return d->guarded([&] {
        c10::InferenceMode guard;
        return d->scoreAnswer(ids, answerStart, greedy, rope);
    });
}

} // namespace rs
