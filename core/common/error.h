#pragma once
// Part common (core/common, ropescope_common): the one error type, the JSON helpers and the exact
// UTF-8 decoding (utf8.h) that every part shares. Header-only. May use Qt Core only; never any
// other part or LibTorch.
//
// The one error type core throws for bad input: it always names the file (or other source)
// and the problem, so the GUI and the CLI can show it verbatim.
#include <QString>
#include <stdexcept>

namespace rs {

class Error : public std::runtime_error {
public:
    Error(const QString &source, const QString &problem)
        : std::runtime_error((source.isEmpty() ? problem : source + QStringLiteral(": ") + problem).toStdString()),
          m_source(source), m_problem(problem) {}

    QString source() const { return m_source; }
    QString problem() const { return m_problem; }
    QString message() const { return QString::fromStdString(what()); }

private:
    QString m_source;
    QString m_problem;
};

} // namespace rs
