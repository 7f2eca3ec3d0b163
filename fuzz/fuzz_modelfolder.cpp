// libFuzzer target: model-folder resolution (ModelFolder) and the loader's use of it — the
// checkpoint (model.safetensors or the shards of model.safetensors.index.json), config.json and
// the tokenizer files — on a folder built from the input in a scratch folder, symlinks, FIFOs and
// huggingface_hub's cache layout included.
//
// Input: a first line "hub" builds the folder as models--fuzz--m/snapshots/rev with the
// repository's blobs/ beside snapshots/ (anything else: a plain folder m/). Then entries, each a
// header line starting with '@' and the kind, then a name relative to the model folder:
//   @f NAME           a file; the bytes up to the next "\n@" are its content
//   @l NAME -> TARGET a symlink to TARGET (anything: absolute, "..", dangling)
//   @d NAME           a folder
//   @p NAME           a FIFO (a reader that opened it would block: a hang is a finding)
// Entries are made only inside the scratch folder, through real folders (openat with O_NOFOLLOW),
// and a file only where nothing exists yet: an entry that would land outside, go through a symlink
// or write into a FIFO is skipped. Link targets may point anywhere, which is the point.
//
// Invariants (a broken one aborts): every path the folder resolves lies, once its symlinks are
// resolved, inside the model folder (or, for a hub snapshot, in the repository's blobs/) and is a
// regular file; a checkpoint opens only from a folder that does not hold both model.safetensors
// and the index, and every tensor it maps lies inside its file.
#include "common/error.h"
#include "rope/ropeconfig.h"
#include "runtime/modelfolder.h"
#include "runtime/safetensors.h"
#include "runtime/tokenizer.h"
#include "scratch.h"

#include <QByteArray>
#include <QDir>
#include <QFile>
#include <QString>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;

fs::path toPath(const QString &s) { return fs::path(QFile::encodeName(s).toStdString()); }

bool isBelow(const fs::path &inner, const fs::path &outer)
{
    auto i = inner.begin();
    for (auto o = outer.begin(); o != outer.end(); ++o, ++i)
        if (i == inner.end() || *i != *o)
            return false;
    return i != inner.end();
}

struct Built {
    QString folder;  // the model folder
    QString blobs;   // the hub repository's blobs/, or empty
};

// The folder `relative` (components below the scratch root, "." and ".." already refused) as an
// fd, made where missing, every component a real folder: never through a symlink the input made,
// so nothing outside the scratch folder is ever created or written. -1 when the input's own
// entries stand in the way.
int openFolder(int root, const QStringList &relative)
{
    int fd = ::dup(root);
    for (const QString &component : relative) {
        const QByteArray name = QFile::encodeName(component);
        ::mkdirat(fd, name.constData(), 0700);
        const int next = ::openat(fd, name.constData(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        ::close(fd);
        if (next < 0)
            return -1;
        fd = next;
    }
    return fd;
}

Built build(const QByteArray &input)
{
    const QString root = fuzz::scratch("modelfolder");
    Built b;
    const qsizetype firstEnd = input.indexOf('\n');
    const QByteArray layout = input.left(firstEnd < 0 ? input.size() : firstEnd).trimmed();
    if (layout == "hub") {
        b.folder = root + QStringLiteral("/models--fuzz--m/snapshots/rev");
        b.blobs = root + QStringLiteral("/models--fuzz--m/blobs");
        QDir().mkpath(b.blobs);
    } else {
        b.folder = root + QStringLiteral("/m");
    }
    QDir().mkpath(b.folder);
    if (firstEnd < 0)
        return b;
    const int rootFd = ::open(QFile::encodeName(root).constData(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootFd < 0)
        std::abort();
    qsizetype at = firstEnd + 1;
    int entries = 0;
    while (at < input.size() && entries < 64) {
        if (input[at] != '@') {
            const qsizetype next = input.indexOf("\n@", at);
            if (next < 0)
                break;
            at = next + 1;
            continue;
        }
        ++entries;
        const qsizetype headerEnd = input.indexOf('\n', at);
        const QByteArray header = input.mid(at + 1, headerEnd < 0 ? -1 : headerEnd - at - 1);
        qsizetype contentEnd = headerEnd < 0 ? input.size() : input.indexOf("\n@", headerEnd);
        if (contentEnd < 0)
            contentEnd = input.size();
        const QByteArray content = headerEnd < 0 ? QByteArray() : input.mid(headerEnd + 1, contentEnd - headerEnd - 1);
        at = contentEnd + 1;
        if (header.size() < 3 || header[1] != ' ')
            continue;
        const char kind = header[0];
        QByteArray name = header.mid(2);
        QByteArray target;
        if (kind == 'l') {
            const qsizetype arrow = name.indexOf(" -> ");
            if (arrow < 0)
                continue;
            target = name.mid(arrow + 4);
            name = name.left(arrow);
        }
        if (name.isEmpty() || name.contains('\0') || target.contains('\0'))
            continue;
        // Where it goes, relative to the scratch root, resolved by name only (".." may climb from
        // the model folder to the hub's blobs/, never above the root).
        const QString path = QDir::cleanPath(b.folder + QLatin1Char('/') + QFile::decodeName(name));
        if (!path.startsWith(root + QLatin1Char('/')))
            continue;
        QStringList parts = path.mid(root.size() + 1).split(QLatin1Char('/'), Qt::SkipEmptyParts);
        if (parts.isEmpty() || parts.contains(QStringLiteral("..")) || parts.contains(QStringLiteral(".")))
            continue;
        const QByteArray leaf = QFile::encodeName(parts.takeLast());
        const int dir = openFolder(rootFd, parts);
        if (dir < 0)
            continue;
        switch (kind) {
        case 'f': {
            // A new regular file only: never through a symlink, never opening a FIFO.
            const int fd = ::openat(dir, leaf.constData(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
            if (fd >= 0) {
                (void)!::write(fd, content.constData(), size_t(content.size()));
                ::close(fd);
            }
            break;
        }
        case 'l':
            (void)::symlinkat(target.constData(), dir, leaf.constData());
            break;
        case 'd':
            (void)::mkdirat(dir, leaf.constData(), 0700);
            break;
        case 'p':
            (void)::mkfifoat(dir, leaf.constData(), 0600);
            break;
        default:
            break;
        }
        ::close(dir);
    }
    ::close(rootFd);
    return b;
}

// A path the folder gave out: inside it (or the hub blobs) once resolved, and a regular file.
void checkResolved(const QString &path, const fs::path &folder, const std::optional<fs::path> &blobs)
{
    std::error_code ec;
    const fs::path real = fs::canonical(toPath(path), ec);
    if (ec)
        std::abort();  // resolved to something that does not resolve
    const bool inBlobs = blobs && real.parent_path() == *blobs;
    if (!isBelow(real, folder) && !inBlobs)
        std::abort();  // a way out of the folder
    struct stat st {};
    if (::stat(real.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
        std::abort();  // a FIFO, device or folder let through
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const Built b = build(QByteArray(reinterpret_cast<const char *>(data), qsizetype(size)));
    std::error_code ec;
    const fs::path folder = fs::canonical(toPath(b.folder), ec);
    std::optional<fs::path> blobs;
    if (!b.blobs.isEmpty())
        blobs = fs::canonical(toPath(b.blobs), ec);

    try {
        const rs::ModelFolder mf(b.folder);
        for (const char *name : {"config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors",
                                 "model.safetensors.index.json", "sub/../config.json", "./model.safetensors"}) {
            try {
                if (const std::optional<QString> p = mf.optionalFile(QString::fromLatin1(name)))
                    checkResolved(*p, folder, blobs);
            } catch (const rs::Error &) {
            }
        }
    } catch (const rs::Error &) {
    }

    try {
        const auto checkpoint = rs::SafetensorsCheckpoint::open(b.folder);
        // Both layouts at once are refused: two checkpoints in one folder.
        const bool single = fs::symlink_status(folder / "model.safetensors", ec).type() != fs::file_type::not_found;
        const bool index = fs::symlink_status(folder / "model.safetensors.index.json", ec).type() != fs::file_type::not_found;
        if (single && index)
            std::abort();
        volatile uint8_t sink = 0;
        for (const QString &name : checkpoint->names()) {
            checkResolved(checkpoint->fileOf(name), folder, blobs);
            const rs::TensorInfo &info = checkpoint->info(name);
            const uchar *bytes = checkpoint->data(name);
            if (info.byteSize > 0)
                sink = sink ^ bytes[0] ^ bytes[info.byteSize - 1];
        }
    } catch (const rs::Error &) {
    }

    try {
        rs::loadRopeConfig(rs::ModelFolder(b.folder).file(QStringLiteral("config.json")));
    } catch (const rs::Error &) {
    }
    try {
        const auto tokenizer = rs::loadTokenizer(b.folder);
        tokenizer->encode(QStringLiteral("magic number 6716097"), true);
    } catch (const rs::Error &) {
    }
    return 0;
}
