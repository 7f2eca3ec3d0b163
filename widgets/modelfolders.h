#pragma once
// Whether two model folders hold the same model. The shipped model is unpacked into a cache folder
// per program (the GUI's and the CLI's differ), so a run the CLI made on it names another folder
// than the GUI's: folders are compared by path, and small models also by content (config.json,
// model.safetensors and tokenizer.json, hashed), so that the embedded model is recognised
// whatever folder holds it. Large models are compared by path only: hashing gigabytes on the GUI
// thread is not an option.
#include <QString>

namespace rs {

// Models up to this size (all three files) are compared by content.
constexpr qint64 kModelHashLimitBytes = 64ll << 20;

// SHA-256 (hex) of the folder's config.json, model.safetensors and tokenizer.json in that order (a
// missing file counts as empty); empty when the folder has no config.json or its files are larger
// than kModelHashLimitBytes. Remembered per folder until a file's size or time changes.
QString modelContentHash(const QString &directory);

// The same folder (canonically), or folders of the same content.
bool sameModelFolder(const QString &a, const QString &b);

} // namespace rs
