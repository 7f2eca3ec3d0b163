#pragma once
// A model's RoPE description, read from a Hugging Face config.json in either the transformers 4.x
// form (top-level rope_theta + `rope_scaling` with `rope_type` or legacy `type`) or the 5.x form
// (`rope_parameters`, which also carries rope_theta and possibly partial_rotary_factor), and the
// rotary keys of the common families that predate those names (GPT-NeoX `rotary_pct` /
// `rotary_emb_base`, GPT-J `rotary_dim`, DeepSeek `qk_rope_head_dim`, StableLM `rope_pct`, a
// multimodal config's `text_config`). Where transformers 4.x and 5.x read a config differently the
// reader follows 5.x, except for longrope's attention factor in the 4.x form (README "Configs").
#include <QByteArray>
#include <QJsonObject>
#include <QString>
#include <QStringList>
#include <optional>
#include <vector>

namespace rs {

// What the reader accepts. Beyond these a value is a typo or a corrupt file, and the per-dimension
// arrays of the geometry views would not fit in memory; the largest RoPE head in use is 512 wide.
inline constexpr int kMaxHeadDim = 1 << 16;
inline constexpr int kMaxHiddenSize = 1 << 24;
inline constexpr int kMaxPositions = 1 << 30;   // max_position_embeddings, L_train and L·factor
inline constexpr double kMaxRopeTheta = 1e15;   // beyond it the periods 2π·b^(2i/d) leave double range soon
// A rescale factor λ multiplies a dimension's period. Outside [1e-9, 1e9] it is a corrupt value, not a
// rescale: 1e-300 makes θ/λ overflow float32 in the model, 1e300 leaves no rotation at all.
inline constexpr double kMinFactor = 1e-9;
inline constexpr double kMaxFactor = 1e9;

enum class ConfigForm { Hf4, Hf5 };

struct RopeScaling {
    // Normalized rope type: "default", "linear", "dynamic", "yarn", "llama3" or "longrope"
    // (legacy "su" is read as longrope).
    QString type = QStringLiteral("default");
    double factor = 1.0;                   // as written; for longrope derived when absent
    // longrope: the s of the loader's default attention factor sqrt(1 + ln s / ln L_train):
    // transformers 5.x takes `factor` when it is written and max/original otherwise; 4.x, with
    // original_max_position_embeddings at the top level, always the ratio.
    double attentionScale = 1.0;
    std::optional<double> attentionFactor; // as written (yarn, longrope)
    // yarn
    double betaFast = 32.0;
    double betaSlow = 1.0;
    std::optional<double> mscale;
    std::optional<double> mscaleAllDim;
    bool truncate = true;
    // llama3
    double lowFreqFactor = 1.0;
    double highFreqFactor = 4.0;
    // longrope
    std::vector<double> shortFactor;
    std::vector<double> longFactor;
    // vLLM's per-side cos/sin scales (transformers does not read them; rope/engine.h)
    std::optional<double> shortMscale;
    std::optional<double> longMscale;
};

struct RopeConfig {
    QString source;          // file path or "preset:NAME", used in every error message
    QString modelType;
    double base = 10000.0;   // rope_theta
    int headDim = 0;
    double partialRotaryFactor = 1.0;
    int rotaryDims = 0;      // d = head_dim * partial_rotary_factor (even)
    int maxPositionEmbeddings = 0;
    int trainLength = 0;     // L_train: original_max_position_embeddings, else max_position_embeddings
    RopeScaling scaling;
    ConfigForm form = ConfigForm::Hf4;
    QJsonObject json;        // the whole source config, kept untouched for export
    QString section;         // "text_config" when the rotary keys sit there (multimodal), else empty
    // What the reader decided for an ambiguous or unusual config (which of two forms won, a default
    // taken from transformers, a family's layers the geometry does not show). One sentence each,
    // without the source; the CLI prints them on stderr and the GUI in its status bar.
    QStringList warnings;

    int pairs() const { return rotaryDims / 2; }
    bool isScaled() const { return scaling.type != QLatin1String("default"); }
    // The context the config itself is meant for: max_position_embeddings when it exceeds
    // L_train, else L_train * factor for a scaled config, else L_train.
    double defaultTargetLength() const;
};

// Throws rs::Error naming `source` and the problem (malformed JSON, missing or invalid keys, values
// beyond the limits above, factor lists of the wrong length or with values outside
// [kMinFactor, kMaxFactor], a model type without RoPE).
RopeConfig parseRopeConfig(const QByteArray &json, const QString &source);
RopeConfig loadRopeConfig(const QString &path);

} // namespace rs
