#include "rope/tokencount.h"

#include <QRegularExpression>

#include <cmath>
#include <limits>

namespace rs {

namespace {

const QRegularExpression &tokenCountPattern()
{
    // Digits (with optional "," or "_" groups) and an optional fraction, then at most one suffix.
    static const QRegularExpression pattern(QStringLiteral("^\\s*(\\d[\\d,_]*(?:\\.\\d*)?|\\.\\d+)\\s*([kKmM]?)\\s*$"));
    return pattern;
}

} // namespace

bool hasTokenCountForm(const QString &text)
{
    return tokenCountPattern().match(text).hasMatch();
}

std::optional<qint64> parseTokenCount(const QString &text)
{
    const QRegularExpressionMatch match = tokenCountPattern().match(text);
    if (!match.hasMatch())
        return std::nullopt;
    QString digits = match.captured(1);
    digits.remove(QLatin1Char(',')).remove(QLatin1Char('_'));
    bool ok = false;
    const double number = digits.toDouble(&ok);
    const QString suffix = match.captured(2).toLower();
    const double unit = suffix == QLatin1String("k") ? 1024.0 : suffix == QLatin1String("m") ? 1048576.0 : 1.0;
    const double tokens = number * unit;
    if (!ok || !std::isfinite(tokens) || tokens < 1 || tokens > double(std::numeric_limits<qint64>::max() / 2) ||
        tokens != std::floor(tokens))
        return std::nullopt;
    return qint64(tokens);
}

} // namespace rs
