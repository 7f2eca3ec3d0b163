#pragma once
// Part common (core/common, ropescope_common): counts written as a reader says them. Header-only,
// Qt Core.
#include <QString>

namespace rs {

// "1 sample", "4 samples": how the workbench, the sweep files and the CLI count samples.
inline QString samplesText(qint64 n)
{
    return n == 1 ? QStringLiteral("1 sample") : QStringLiteral("%1 samples").arg(n);
}

} // namespace rs
