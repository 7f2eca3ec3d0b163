// The bounds of LongRoPE2's search space an answer touches (spacebounds.h).
#include "search/spacebounds.h"
#include "rope/ropegeometry.h"

#include <algorithm>
#include <cmath>

namespace rs {

QStringList searchSpaceBounds(const SearchSettings &s, int dRcd, const std::vector<double> &lambda)
{
    QStringList out;
    const int pairs = s.rotaryDims / 2;
    if (s.method != SearchMethod::LongRoPE2 || pairs < 1 || int(lambda.size()) != pairs || dRcd < 0 || dRcd >= pairs)
        return out;
    // The range the search used, resolved as EvolutionSearch resolves it.
    const int d10 = tenPeriodDimension(s.rotaryDims, s.base, s.trainLength);
    const int dtcd = theoreticalCriticalDimension(s.rotaryDims, s.base, s.trainLength);
    int hi = std::min(s.dRcdMax < 0 ? (s.dRcdAboveTcd ? pairs - 1 : dtcd) : s.dRcdMax, pairs - 1);
    const int lo = std::min(s.dRcdMin < 0 ? d10 : s.dRcdMin, hi);
    const auto named = [&](int d) {
        return d == dtcd ? QStringLiteral(" (d_tcd)") : d == d10 ? QStringLiteral(" (d_10)") : QString();
    };
    if (hi > lo && dRcd == hi)
        out << QStringLiteral("d_rcd = %1 at its upper limit %2%3").arg(dRcd).arg(hi).arg(named(hi));
    if (hi > lo && dRcd == lo)
        out << QStringLiteral("d_rcd = %1 at its lower limit %2%3").arg(dRcd).arg(lo).arg(named(lo));
    const double scale = s.targetLength / s.trainLength;
    const double low = scale * s.lowerBoundFactor, high = scale * s.upperBoundFactor;
    const auto at = [](double x, double bound) { return std::abs(x - bound) <= 1e-9 * bound; };
    const double x = lambda[size_t(dRcd)];
    if (at(x, low))
        out << QStringLiteral("λ at d_rcd = %1 = %2s, its lower bound").arg(x, 0, 'g', 4)
                   .arg(s.lowerBoundFactor == 1.0 ? QString() : QString::number(s.lowerBoundFactor, 'g', 3));
    int first = -1;
    for (int i = dRcd; i < pairs; ++i)
        if (at(lambda[size_t(i)], high)) {
            first = i;
            break;
        }
    if (first >= 0)
        out << QStringLiteral("λ = %1 = %2s, its upper bound, from dimension %3").arg(high, 0, 'g', 4)
                   .arg(QString::number(s.upperBoundFactor, 'g', 3)).arg(first);
    return out;
}

} // namespace rs
