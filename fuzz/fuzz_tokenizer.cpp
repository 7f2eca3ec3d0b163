// libFuzzer target: a Hugging Face tokenizer.json (HfTokenizer::fromJson); an accepted tokenizer
// encodes and decodes a fixed text that touches bytes, digits, spaces and non-ASCII letters.
#include "common/error.h"
#include "runtime/tokenizer.h"

#include <QByteArray>
#include <QString>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray json(reinterpret_cast<const char *>(data), qsizetype(size));
    try {
        const auto tokenizer = rs::HfTokenizer::fromJson(json, QStringLiteral("fuzz:tokenizer.json"));
        static const QString text = QStringLiteral("The special magic number is: 6716097.  Größe — 東京\n\tend");
        const std::vector<int> ids = tokenizer->encode(text, true);
        tokenizer->decode(ids);
        tokenizer->decode(ids, true);
    } catch (const rs::Error &) {
    }
    return 0;
}
