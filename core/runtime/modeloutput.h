#pragma once
// Part runtime. Where a written model goes (runtime/checkpoint.h, the inverse of CausalLM::load): a Hugging Face folder written whole or not at all. The files are
// written into a temporary folder beside the destination, which is then renamed into place, so a
// failure (or a kill) never leaves an empty or half-written folder under the destination's name,
// and a folder that already holds files — another model's checkpoint, whose shard index the loader
// would otherwise read beside the new model.safetensors — is refused unless the caller asks for it
// to be replaced. Qt Core only.
#include <QString>

#include <functional>

namespace rs {

struct ModelOutputOptions {
    // An existing folder holding files is replaced by the new one (the old one is removed once the
    // new one is in place); without it such a folder is refused. Even so only a folder of files is
    // replaced (one with subfolders, the current folder or the home folder is refused).
    bool replace = false;
    // How the caller asks for that, named in the refusal (the CLI: "--force").
    QString howToReplace;
};

// Checks, before any work, that `dir` can take a new model folder: it does not exist (its missing
// parents are made when the model is written), or is an empty folder, or may be replaced; and the
// nearest existing folder above it takes new files. Creates nothing. Throws rs::Error naming `dir`
// and what is in the way (the files it holds, the system's reason).
void checkModelOutput(const QString &dir, const ModelOutputOptions &options = {});

// Runs `write(folder)` on a new temporary folder beside `dir` and renames the result into place
// (checkModelOutput's rules, checked again). On any failure the temporary folder, and parents of
// `dir` made for it, are removed and the destination is left as it was. Throws rs::Error.
void writeModelFolder(const QString &dir, const std::function<void(const QString &folder)> &write,
                      const ModelOutputOptions &options = {});

} // namespace rs
