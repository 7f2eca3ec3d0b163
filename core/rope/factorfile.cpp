#include "rope/factorfile.h"
#include "rope/configexport.h"
#include "common/error.h"
#include "rope/ropeconfig.h"

#include <QFile>
#include <QRegularExpression>

#include <cmath>

namespace rs {

std::vector<double> parseFactorText(const QByteArray &text, const QString &source, int expectedLength)
{
    static const QRegularExpression separators(QStringLiteral("[,;\\s]+"));
    std::vector<double> values;
    const QList<QByteArray> lines = text.split('\n');
    for (int lineNo = 0; lineNo < lines.size(); ++lineNo) {
        QString line = QString::fromUtf8(lines[lineNo]);
        if (const int hash = line.indexOf(QLatin1Char('#')); hash >= 0)
            line.truncate(hash);
        const QStringList fields = line.split(separators, Qt::SkipEmptyParts);
        for (const QString &field : fields) {
            bool ok = false;
            const double v = field.toDouble(&ok);
            const QString where = QStringLiteral("line %1, value %2").arg(lineNo + 1).arg(values.size() + 1);
            if (!ok)
                throw Error(source, QStringLiteral("%1: \"%2\" is not a number").arg(where, field));
            if (!std::isfinite(v))
                throw Error(source, QStringLiteral("%1: %2 is not a finite number").arg(where, field));
            if (v <= 0)
                throw Error(source, QStringLiteral("%1: %2 is not positive (rescale factors must be > 0)").arg(where, field));
            if (v < kMinFactor || v > kMaxFactor)
                throw Error(source, QStringLiteral("%1: %2 is outside [%3, %4], not a usable rescale factor")
                                        .arg(where, field).arg(kMinFactor).arg(kMaxFactor));
            values.push_back(v);
        }
    }
    if (values.empty())
        throw Error(source, QStringLiteral("no factors found (expected one number per line or comma-separated)"));
    if (expectedLength >= 0 && int(values.size()) != expectedLength)
        throw Error(source, QStringLiteral("has %1 factors but the model has %2 rotary pairs (d/2)")
                                .arg(values.size()).arg(expectedLength));
    return values;
}

std::vector<double> readFactorFile(const QString &path, int expectedLength)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        throw Error(path, QStringLiteral("cannot open: %1").arg(f.errorString()));
    return parseFactorText(f.readAll(), path, expectedLength);
}

QByteArray formatFactorText(const std::vector<double> &lambda)
{
    QByteArray out;
    for (double v : lambda) {
        out += QByteArray::number(v, 'g', 17);
        out += '\n';
    }
    return out;
}

void writeFactorFile(const QString &path, const std::vector<double> &lambda)
{
    writeBytesFile(path, formatFactorText(lambda));
}

} // namespace rs
