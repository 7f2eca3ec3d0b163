#pragma once
// Part runtime: writing a model folder, the inverse of CausalLM::load (runtime/model.h): a Hugging
// Face folder that load() and transformers read back. The trainer saves what it trained with it.
#include "runtime/model.h"

#include <QString>

namespace rs {

struct CheckpointOptions {
    QString dtype = QStringLiteral("float32");  // storage: float32 or bfloat16
    QString tokenizerJson;                      // copied as tokenizer.json when set
    bool replace = false;                       // an existing folder holding files is replaced, not refused
};

// Writes an HF folder (config.json with architectures, model_type, sizes, RoPE, torch_dtype;
// model.safetensors with transformers' tensor names; tokenizer.json) whole or not at all: into a
// temporary folder beside `dir`, renamed into place (runtime/modeloutput.h). A `dir` that already
// holds files is refused unless options.replace. Throws rs::Error naming the folder or file.
void saveCheckpoint(const CausalLM &model, const QString &dir, const CheckpointOptions &options = {});

} // namespace rs
