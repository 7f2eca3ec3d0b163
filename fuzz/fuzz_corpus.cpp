// libFuzzer target: a JSON Lines corpus (--corpus FILE.jsonl: one {"text": …} object per line), as
// Haystack::fromPath reads it, then what eval, search and sweep do with an accepted corpus: the
// filler text of a few seeds and a needle sample of the byte tokenizer at a depth the input picks.
// Only rs::Error may come out; an accepted sample must have exactly its length, its answer at the
// end and its needle inside it.
#include "common/error.h"
#include "eval/needle.h"
#include "runtime/tokenizer.h"
#include "scratch.h"

#include <QByteArray>
#include <QString>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray input(reinterpret_cast<const char *>(data), qsizetype(size));
    const QString path = fuzz::writeFile(fuzz::scratch("corpus") + QStringLiteral("/corpus.jsonl"), input);
    try {
        const rs::Haystack haystack = rs::Haystack::fromPath(path);
        const uint64_t seed = size > 0 ? data[0] : 0;
        for (uint64_t s : {seed, seed + 1, uint64_t(haystack.documentCount()) * 7 + 3})
            if (haystack.text(600, s).size() < 600)
                std::abort();  // asked for 600 characters at least
        static const rs::ByteTokenizer tokenizer;
        const rs::NeedleBuilder builder([](const QString &text) { return tokenizer.encode(text); }, haystack);
        rs::NeedleOptions options;
        options.length = 700;
        options.depth = size > 1 ? data[1] / 255.0 : 0.5;
        options.seed = seed;
        options.bosId = 1;
        const rs::NeedleSample sample = builder.build(options);
        if (int(sample.ids.size()) != options.length || sample.answerPositions.empty()
            || sample.answerPositions.back() != options.length - 1 || sample.needlePosition <= 0
            || sample.needlePosition >= options.length)
            std::abort();
    } catch (const rs::Error &) {
    }
    return 0;
}
