#pragma once
// LongRoPE's factor files: one float per line, or comma-separated (any mix of commas, whitespace
// and newlines; '#' starts a comment). Values must be finite and within [kMinFactor, kMaxFactor]
// (ropeconfig.h).
#include <QByteArray>
#include <QString>
#include <vector>

namespace rs {

// Throws rs::Error naming `source` and the problem (not a number, NaN/inf, ≤ 0, outside the range, wrong length
// when expectedLength ≥ 0, empty).
std::vector<double> parseFactorText(const QByteArray &text, const QString &source, int expectedLength = -1);
std::vector<double> readFactorFile(const QString &path, int expectedLength = -1);
// One value per line, full precision; written atomically (QSaveFile). Throws rs::Error on failure.
QByteArray formatFactorText(const std::vector<double> &lambda);
void writeFactorFile(const QString &path, const std::vector<double> &lambda);

} // namespace rs
