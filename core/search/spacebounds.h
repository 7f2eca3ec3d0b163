#pragma once
// Part search (may use rope; never runtime or LibTorch).
// Where a LongRoPE2 answer sits on the bounds of its search space (issue 25 item 4). An answer on a
// bound says the fitness wanted a point outside the space: at 2x, 4x and 8x the embedded model's
// searches all ended with d_rcd at the top of [d_10, d_tcd] and lambda at d_rcd on its lower bound s.
// `finish` and the GUI print these sentences beside the answer.
#include "search/search.h"

#include <QStringList>
#include <vector>

namespace rs {

// One sentence per bound the answer touches ("d_rcd = 18 at its upper limit d_tcd = 18", "λ at d_rcd
// = 4 = s, its lower bound", "λ = 2s, the upper bound, from dimension 27"); empty for LongRoPE v1,
// for an answer strictly inside, and for a d_rcd range of one value (held with --fix-d-rcd).
// `settings` as given to the search (-1 ranges resolved here the way the search resolves them).
QStringList searchSpaceBounds(const SearchSettings &settings, int dRcd, const std::vector<double> &lambda);

} // namespace rs
