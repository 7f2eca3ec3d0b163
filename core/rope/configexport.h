#pragma once
// Export of edited factors as a Hugging Face config.json (rope type "longrope") in the transformers
// 4.x form (`rope_scaling`) or the 5.x form (`rope_parameters`), every other key kept untouched;
// and as CSV.
#include "rope/engine.h"
#include "rope/ropeconfig.h"
#include <QByteArray>
#include <QJsonObject>
#include <optional>
#include <vector>

namespace rs {

struct LongropeExport {
    std::vector<double> longFactor;                  // d/2 values
    std::optional<std::vector<double>> shortFactor;  // default: the config's own short factors, else 1.0
    double targetLength = 0;                         // becomes max_position_embeddings
    std::optional<double> attentionFactor;           // written only when set (vLLM: as long_mscale too)
    std::optional<double> shortAttentionFactor;      // vLLM's short_mscale; transformers has no short-side factor
    Engine engine = Engine::Transformers;            // whose reading the export must reproduce (rope/engine.h)
    ConfigForm form = ConfigForm::Hf4;
};

// `_name_or_path` is dropped (the export is another model; a preset's is no repository id), and
// `transformers_version` matches the form: "5.0.0" (the first release that reads rope_parameters)
// for a 5.x export whose source says 4.x or nothing, removed from a 4.x export of a 5.x source.
// Throws rs::Error when the factors have the wrong length or invalid values, when the rotary
// settings sat in a multimodal config's text_config, or when the engine or the form cannot express
// what is asked: transformers has one attention factor for both sides (no short_mscale), and
// transformers 4.x's Phi3Config accepts exactly `type`, `short_factor` and `long_factor`.
QJsonObject exportLongropeConfig(const RopeConfig &source, const LongropeExport &what);
// Columns: dim,theta,period,lambda,rescaled_period,rotations_train,rotations_target (L/T_i),
// rescaled_rotations_target (L/(λ_i·T_i)),ood
QByteArray exportFactorsCsv(const RopeConfig &config, const std::vector<double> &lambda, double targetLength);

// Atomic writes (QSaveFile, common/savefile.h): a target that is not a regular file (/dev/null,
// /dev/full, a FIFO) is refused and every write and the commit are checked; throw rs::Error naming
// the path on failure.
void writeJsonFile(const QString &path, const QJsonObject &object);
void writeBytesFile(const QString &path, const QByteArray &bytes);

} // namespace rs
