#pragma once
// Part rope (may use common and Qt Core; never LibTorch or another part).
// The inference engine that loads an exported longrope config decides the RoPE at every sequence
// length. Read from the engines' sources:
// - transformers (4.x and 5.x, modeling_rope_utils' longrope and its dynamic update): short_factor
//   while the sequence fits in original_max_position_embeddings, long_factor beyond; ONE attention
//   factor on both sides: `attention_factor` when written, else sqrt(1 + ln s / ln L_train).
// - vLLM (Phi3LongRoPEScaledRotaryEmbedding): long factors once a position exceeds
//   original_max_position_embeddings (a sequence of more than L_train + 1 tokens); cos and sin
//   scaled by `short_mscale` / `long_mscale`, each defaulting to sqrt(1 + ln s / ln L_train) with
//   s = max_position_embeddings / original; `attention_factor` is not read.
#include "rope/ropeoverride.h"

#include <QString>
#include <QStringList>

namespace rs {

struct RopeConfig;

enum class Engine { Transformers, Vllm };

QStringList engineNames();           // "transformers", "vllm"
QString engineName(Engine engine);
QString engineDescription(Engine engine);  // one line: what the engine runs at short and long lengths
// Throws rs::Error naming `where` (an option such as "--engine", or a file) for an unknown name.
Engine parseEngine(const QString &name, const QString &where);

// The RoPE `engine` runs for a longrope `config` on a sequence of `seqLen` tokens.
RopeOverride deployedLongrope(const RopeConfig &config, Engine engine, double seqLen);

} // namespace rs
