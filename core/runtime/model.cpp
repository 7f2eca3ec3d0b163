// Llama-family causal LM on LibTorch, written against transformers' eager implementation
// (modeling_llama / mistral / qwen2 / phi3): pre-norm decoder layers, RMSNorm in float32,
// grouped-query attention with softmax in float32, SwiGLU MLP, RoPE with rotate_half on the
// first d dims of each head. Weights go from the mapped safetensors bytes straight to the target
// device and dtype.
//
// This file reads config.json into a spec, resolves the device and dtype, and builds the model:
// from a checkpoint (every tensor checked by name, shape and dtype, then loaded) or with random
// weights. What it needs of the machine is in modelmemory.cpp, the evaluation calls in
// modelinference.cpp, the forward pass in forward.cpp.
#include "runtime/modelimpl_p.h"

#include "common/error.h"
#include "rope/factorfamilies.h"
#include "runtime/modelfolder.h"
#include "runtime/safetensors.h"

#include <torch/version.h>
#include <ATen/CPUGeneratorImpl.h>

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

namespace rs {

namespace detail {
namespace {

// Whether this LibTorch multiplies float16 matrices on the CPU (the ops a forward uses), asked once.
bool cpuHasFloat16MatrixProducts()
{
    static const bool available = [] {
        try {
            const torch::Tensor a = torch::ones({2, 2}, torch::kFloat16);
            (void)torch::addmm(a, a, a);
            (void)torch::bmm(a.unsqueeze(0), a.unsqueeze(0));
            return true;
        } catch (const c10::Error &) {
            return false;
        }
    }();
    return available;
}

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
    m.attentionChunkElements = m.device.is_cuda() ? kCudaAttentionChunkElements : kCpuAttentionChunkElements;
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
    // LibTorch builds whose CPU kernels have no float16 matrix products fail at the first forward
    // with "addmm_impl_cpu_ not implemented for 'Half'": found here, before anything is read.
    if (m.dtype == torch::kFloat16 && m.device.is_cpu() && !cpuHasFloat16MatrixProducts())
        throw Error(m.directory, QStringLiteral("float16 is not available on the CPU with this LibTorch (its CPU matrix "
                                                "products have no float16): use float32 or bfloat16 on the CPU, "
                                                "float16 on a GPU"));
}

} // namespace

QString dtypeName(torch::ScalarType t)
{
    switch (t) {
    case torch::kBFloat16: return QStringLiteral("bfloat16");
    case torch::kFloat16: return QStringLiteral("float16");
    default: return QStringLiteral("float32");
    }
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

QStringList CausalLM::warnings() const
{
    return d->warnings;
}

} // namespace rs
