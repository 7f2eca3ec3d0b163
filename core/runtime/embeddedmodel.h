#pragma once
// The tiny model shipped inside the binaries (resources/embedded-model: config.json,
// model.safetensors, tokenizer.json), trained by `ropescope-cli train` (see the README). The
// runtime memory-maps real files, so the first use copies the files out of the Qt resources into a
// cache folder named by their content hash; later uses find them there.
#include <QString>

namespace rs {

bool hasEmbeddedModel();
// The folder holding the embedded model's files; throws rs::Error when this build carries none or
// the cache folder cannot be written.
QString embeddedModelDir();
// Whether `dir` holds the embedded model's files (compared by content, whatever folder it is).
bool isEmbeddedModelDir(const QString &dir);
// How sweep files, the workbench and the side panel name a model: "embedded model" for the
// embedded one (not its cache folder), else the folder as given.
QString modelDisplayName(const QString &dir);

} // namespace rs
