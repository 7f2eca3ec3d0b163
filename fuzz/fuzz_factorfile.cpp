// libFuzzer target: LongRoPE factor files (parseFactorText). An accepted file must survive the
// round trip through formatFactorText unchanged, and the constraint check must run on it.
#include "common/error.h"
#include "rope/factorfamilies.h"
#include "rope/factorfile.h"

#include <QByteArray>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray text(reinterpret_cast<const char *>(data), qsizetype(size));
    std::vector<double> values;
    try {
        values = rs::parseFactorText(text, QStringLiteral("fuzz:factors.txt"));
    } catch (const rs::Error &) {
        return 0;
    }
    rs::checkConstraints(values, int(values.size()), 2.0, int(values.size() / 2));
    const std::vector<double> again = rs::parseFactorText(rs::formatFactorText(values), QStringLiteral("fuzz:again"));
    if (again != values)
        std::abort();  // written with 17 digits, a value must read back bit for bit
    return 0;
}
