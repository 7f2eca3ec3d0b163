// The checkpoint writer (checkpoint.h): config.json, model.safetensors under transformers' names and
// the tokenizer, written whole or not at all.
#include "runtime/model_p.h"
#include "runtime/checkpoint.h"
#include "runtime/modeloutput.h"
#include "runtime/safetensors.h"

#include "common/error.h"
#include "rope/configexport.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonObject>

#include <utility>
#include <vector>

namespace rs {
namespace {

// The transformers class config.json's "architectures" names for a model type.
QString architectureClass(const QString &arch)
{
    if (arch == QLatin1String("mistral"))
        return QStringLiteral("MistralForCausalLM");
    if (arch == QLatin1String("qwen2"))
        return QStringLiteral("Qwen2ForCausalLM");
    if (arch == QLatin1String("phi3"))
        return QStringLiteral("Phi3ForCausalLM");
    return QStringLiteral("LlamaForCausalLM");
}

} // namespace

void saveCheckpoint(const CausalLM &model, const QString &dir, const CheckpointOptions &options)
{
    const detail::TorchModel &m = model.torchModel();
    const detail::ModelSpec &s = m.spec;
    const QString dt = options.dtype.trimmed().toLower();
    torch::ScalarType storage;
    QString stDtype, torchDtype;
    if (dt.isEmpty() || dt == QLatin1String("float32") || dt == QLatin1String("fp32")) {
        storage = torch::kFloat32;
        stDtype = QStringLiteral("F32");
        torchDtype = QStringLiteral("float32");
    } else if (dt == QLatin1String("bfloat16") || dt == QLatin1String("bf16")) {
        storage = torch::kBFloat16;
        stDtype = QStringLiteral("BF16");
        torchDtype = QStringLiteral("bfloat16");
    } else {
        throw Error(dir, QStringLiteral("unknown storage dtype \"%1\" (use float32 or bfloat16)").arg(options.dtype));
    }
    // config.json: the model's own config (the longrope one after mixed-window training) with
    // everything transformers needs to rebuild the architecture spelled out.
    QJsonObject config = m.rope.json;
    config.insert(QStringLiteral("architectures"), QJsonArray{architectureClass(s.architecture)});
    config.insert(QStringLiteral("model_type"), s.architecture);
    config.insert(QStringLiteral("vocab_size"), s.vocabSize);
    config.insert(QStringLiteral("hidden_size"), s.hiddenSize);
    config.insert(QStringLiteral("intermediate_size"), s.intermediateSize);
    config.insert(QStringLiteral("num_hidden_layers"), s.numLayers);
    config.insert(QStringLiteral("num_attention_heads"), s.numHeads);
    config.insert(QStringLiteral("num_key_value_heads"), s.numKvHeads);
    config.insert(QStringLiteral("head_dim"), s.headDim);
    config.insert(QStringLiteral("rms_norm_eps"), s.rmsNormEps);
    config.insert(QStringLiteral("tie_word_embeddings"), s.tiedEmbeddings);
    config.insert(QStringLiteral("torch_dtype"), torchDtype);
    if (!config.contains(QLatin1String("hidden_act")))
        config.insert(QStringLiteral("hidden_act"), QStringLiteral("silu"));
    if (!config.contains(QLatin1String("rope_parameters")))
        config.insert(QStringLiteral("rope_theta"), m.rope.base);
    if (!config.contains(QLatin1String("max_position_embeddings")))
        config.insert(QStringLiteral("max_position_embeddings"), m.rope.maxPositionEmbeddings);

    // Tensors under transformers' names, the fused blocks split back where the architecture
    // stores them separately.
    std::vector<std::pair<QString, torch::Tensor>> named;
    detail::guarded(dir, [&] {
        torch::NoGradGuard noGrad;
        const auto put = [&](const QString &name, const torch::Tensor &t) {
            named.emplace_back(name, t.detach().to(torch::kCPU, storage).contiguous());
        };
        const int64_t qRows = int64_t(s.numHeads) * s.headDim, kvRows = int64_t(s.numKvHeads) * s.headDim;
        const int64_t I = s.intermediateSize;
        const bool phi3 = s.architecture == QLatin1String("phi3");
        put(QStringLiteral("model.embed_tokens.weight"), m.embed);
        for (int l = 0; l < s.numLayers; ++l) {
            const detail::LayerWeights &w = m.layers[size_t(l)];
            const QString p = QStringLiteral("model.layers.%1.").arg(l);
            put(p + QLatin1String("input_layernorm.weight"), w.inputNorm);
            put(p + QLatin1String("post_attention_layernorm.weight"), w.postNorm);
            if (phi3) {
                put(p + QLatin1String("self_attn.qkv_proj.weight"), w.qkv);
                put(p + QLatin1String("mlp.gate_up_proj.weight"), w.gateUp);
            } else {
                put(p + QLatin1String("self_attn.q_proj.weight"), w.qkv.narrow(0, 0, qRows));
                put(p + QLatin1String("self_attn.k_proj.weight"), w.qkv.narrow(0, qRows, kvRows));
                put(p + QLatin1String("self_attn.v_proj.weight"), w.qkv.narrow(0, qRows + kvRows, kvRows));
                if (w.qkvBias.defined()) {
                    put(p + QLatin1String("self_attn.q_proj.bias"), w.qkvBias.narrow(0, 0, qRows));
                    put(p + QLatin1String("self_attn.k_proj.bias"), w.qkvBias.narrow(0, qRows, kvRows));
                    put(p + QLatin1String("self_attn.v_proj.bias"), w.qkvBias.narrow(0, qRows + kvRows, kvRows));
                }
                put(p + QLatin1String("mlp.gate_proj.weight"), w.gateUp.narrow(0, 0, I));
                put(p + QLatin1String("mlp.up_proj.weight"), w.gateUp.narrow(0, I, I));
                if (w.gateUpBias.defined()) {
                    put(p + QLatin1String("mlp.gate_proj.bias"), w.gateUpBias.narrow(0, 0, I));
                    put(p + QLatin1String("mlp.up_proj.bias"), w.gateUpBias.narrow(0, I, I));
                }
                if (w.downBias.defined())
                    put(p + QLatin1String("mlp.down_proj.bias"), w.downBias);
            }
            put(p + QLatin1String("self_attn.o_proj.weight"), w.o);
            if (w.oBias.defined())
                put(p + QLatin1String("self_attn.o_proj.bias"), w.oBias);
            put(p + QLatin1String("mlp.down_proj.weight"), w.down);
        }
        put(QStringLiteral("model.norm.weight"), m.finalNorm);
        if (!s.tiedEmbeddings)
            put(QStringLiteral("lm_head.weight"), m.lmHead);
        return 0;
    });
    std::vector<TensorBytes> tensors;
    for (const auto &[name, t] : named)
        tensors.push_back(TensorBytes{name, stDtype, t.sizes().vec(), t.data_ptr(), int64_t(t.nbytes())});

    // The folder whole or not at all: written beside `dir`, then renamed into place.
    ModelOutputOptions output;
    output.replace = options.replace;
    writeModelFolder(dir, [&](const QString &folder) {
        const QDir out(folder);
        writeSafetensors(out.filePath(QStringLiteral("model.safetensors")), tensors,
                         QJsonObject{{QStringLiteral("format"), QStringLiteral("pt")}});
        writeJsonFile(out.filePath(QStringLiteral("config.json")), config);
        if (!options.tokenizerJson.isEmpty()) {
            QFile f(options.tokenizerJson);
            if (!f.open(QIODevice::ReadOnly))
                throw Error(options.tokenizerJson, QStringLiteral("cannot open: %1").arg(f.errorString()));
            writeBytesFile(out.filePath(QStringLiteral("tokenizer.json")), f.readAll());
        }
    }, output);
}

} // namespace rs
