#pragma once
// A model's RoPE description, read from a Hugging Face config.json in either the transformers 4.x
// form (top-level rope_theta + `rope_scaling` with `rope_type` or legacy `type`) or the 5.x form
// (`rope_parameters`, which also carries rope_theta and possibly partial_rotary_factor).
#include <QByteArray>
#include <QJsonObject>
#include <QString>
#include <optional>
#include <vector>

namespace rs {

enum class ConfigForm { Hf4, Hf5 };

struct RopeScaling {
    // Normalized rope type: "default", "linear", "dynamic", "yarn", "llama3" or "longrope"
    // (legacy "su" is read as longrope).
    QString type = QStringLiteral("default");
    double factor = 1.0;                   // as written; for longrope derived when absent
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

    int pairs() const { return rotaryDims / 2; }
    bool isScaled() const { return scaling.type != QLatin1String("default"); }
    // The context the config itself is meant for: max_position_embeddings when it exceeds
    // L_train, else L_train * factor for a scaled config, else L_train.
    double defaultTargetLength() const;
};

// Throws rs::Error naming `source` and the problem (malformed JSON, missing or invalid keys,
// factor lists of the wrong length or with non-finite/non-positive values).
RopeConfig parseRopeConfig(const QByteArray &json, const QString &source);
RopeConfig loadRopeConfig(const QString &path);

} // namespace rs
