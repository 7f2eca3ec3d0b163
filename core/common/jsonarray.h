#pragma once
// Factor vectors as JSON arrays, the one conversion every writer (exports, sessions, run logs,
// the CLI's --json output) shares.
#include <QJsonArray>
#include <vector>

namespace rs {

inline QJsonArray toJsonArray(const std::vector<double> &values)
{
    QJsonArray a;
    for (double v : values)
        a.append(v);
    return a;
}

} // namespace rs
