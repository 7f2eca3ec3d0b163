// libFuzzer target: a safetensors file (SafetensorsFile::open maps it, then validates the header
// length, the JSON header, every dtype, shape and offset). The input sits in a memfd, opened by its
// /proc path, so nothing touches the disk; an accepted file has every tensor's first and last byte
// read, which must lie inside the mapping.
#include "common/error.h"
#include "runtime/safetensors.h"

#include <QString>

#include <cstddef>
#include <cstdint>
#include <sys/mman.h>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int fd = memfd_create("fuzz-safetensors", 0);
    if (fd < 0 || ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != ssize_t(size))
        return 0;
    static const QString path = QStringLiteral("/proc/self/fd/%1").arg(fd);
    try {
        const auto file = rs::SafetensorsFile::open(path);
        volatile uint8_t sink = 0;
        for (const auto &[name, info] : file->tensors()) {
            const uchar *bytes = file->data(name);
            if (info.byteSize > 0)
                sink = sink ^ bytes[0] ^ bytes[info.byteSize - 1];
        }
        file->metadata();
    } catch (const rs::Error &) {
    }
    return 0;
}
