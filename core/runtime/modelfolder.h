#pragma once
// The files a Hugging Face model folder names, resolved so that a folder from a stranger can never
// make the program read anything outside it. Every reader of a model folder (the checkpoint and
// its shard index, config.json, the tokenizer files) asks this class for the path to open.
//
// The rule is huggingface_hub's for a repository's files (file_download.py, _get_pointer_path): a
// name is relative and, once joined to the folder and resolved, lies inside the folder. Here the
// resolution follows symlinks too, and the result must be a regular file: an absolute name, a
// `..` component, a symlink that leads out of the folder, a directory, a FIFO, a socket or a
// device is refused from its name and lstat/stat alone, before anything is opened. (Opening a
// FIFO blocks, and a device may never end.) The one place symlinks may lead out is the
// huggingface_hub cache layout itself: a folder `<repo>/snapshots/<revision>` whose files link to
// `<repo>/blobs/<hash>`; there, `<repo>/blobs` counts as part of the folder.
#include <QString>

#include <optional>

namespace rs {

class ModelFolder {
public:
    // `path` is the folder the user chose (it may itself be a symlink). Throws rs::Error naming it
    // when it does not exist or is not a folder.
    explicit ModelFolder(const QString &path);

    QString path() const { return m_path; }  // as given, cleaned: what messages show

    // The path to open for the file `name` that `source` names (an index file, or the folder itself
    // for the names the loader knows, such as config.json); `entry` says how it names it, e.g.
    // `weight_map entry "model.norm.weight"`. Throws rs::Error(source, …) naming the entry and
    // the problem for a name that breaks the rule above or a file that does not exist.
    QString file(const QString &name, const QString &source, const QString &entry) const;
    // The same for a file the folder may lack (tokenizer_config.json, the shard index): nullopt
    // when nothing exists under that name, not even a dangling symlink. Anything that does exist
    // must keep the rule, so a symlink out of the folder still throws.
    std::optional<QString> optionalFile(const QString &name, const QString &source, const QString &entry) const;
    // The same for one of the loader's own names (source: the folder, entry: the name).
    QString file(const QString &name) const { return file(name, m_path, name); }
    std::optional<QString> optionalFile(const QString &name) const { return optionalFile(name, m_path, name); }

private:
    std::optional<QString> resolve(const QString &name, const QString &source, const QString &entry, bool required) const;

    QString m_path;
    QString m_canonical;       // the folder with every symlink resolved
    QString m_hubBlobs;        // <repo>/blobs when the folder is a huggingface_hub snapshot, else empty
};

} // namespace rs
