// Normalizers: the text rewrites a tokenizer.json applies before pre-tokenizing (Sequence, Prepend,
// Replace, Unicode normalization forms, Lowercase).
#include "runtime/tokenizer/tokenizer_p.h"

#include "common/error.h"

#include <QJsonArray>

namespace rs::tokenizer_detail {

// ------------------------------------------------------------------------------------------------
// Normalizers

QString Normalizer::apply(QString s) const
{
    switch (kind) {
    case Sequence:
        for (const Normalizer &n : children) s = n.apply(std::move(s));
        return s;
    case Prepend:
        return s.isEmpty() ? s : text + s;
    case Replace:
        if (!pattern.isRegex)
            return pattern.literal.isEmpty() ? s : s.replace(pattern.literal, text);
        else {
            QString out;
            qsizetype prev = 0;
            QRegularExpressionMatchIterator it = pattern.re.globalMatch(s);
            while (it.hasNext()) {
                const QRegularExpressionMatch m = it.next();
                if (m.capturedLength() == 0)
                    continue;
                out += QStringView(s).mid(prev, m.capturedStart() - prev);
                out += text;
                prev = m.capturedEnd();
            }
            out += QStringView(s).mid(prev);
            return out;
        }
    case NFC: return s.normalized(QString::NormalizationForm_C);
    case NFD: return s.normalized(QString::NormalizationForm_D);
    case NFKC: return s.normalized(QString::NormalizationForm_KC);
    case NFKD: return s.normalized(QString::NormalizationForm_KD);
    case Lowercase: return s.toLower();
    }
    return s;
}

Normalizer readNormalizer(const QJsonObject &o, const QString &source)
{
    Normalizer n;
    const QString type = typeOf(o);
    if (type == QLatin1String("Sequence")) {
        n.kind = Normalizer::Sequence;
        for (const QJsonObject &c : readObjectList(o, QStringLiteral("normalizers"), source, QStringLiteral("Sequence normalizer")))
            n.children.push_back(readNormalizer(c, source));
    } else if (type == QLatin1String("Prepend")) {
        n.kind = Normalizer::Prepend;
        n.text = o.value(QLatin1String("prepend")).toString();
    } else if (type == QLatin1String("Replace")) {
        n.kind = Normalizer::Replace;
        n.pattern = readPattern(o.value(QLatin1String("pattern")), source, QStringLiteral("Replace normalizer"));
        n.text = o.value(QLatin1String("content")).toString();
    } else if (type == QLatin1String("NFC")) {
        n.kind = Normalizer::NFC;
    } else if (type == QLatin1String("NFD")) {
        n.kind = Normalizer::NFD;
    } else if (type == QLatin1String("NFKC")) {
        n.kind = Normalizer::NFKC;
    } else if (type == QLatin1String("NFKD")) {
        n.kind = Normalizer::NFKD;
    } else if (type == QLatin1String("Lowercase")) {
        n.kind = Normalizer::Lowercase;
    } else {
        throw Error(source, QStringLiteral("unsupported normalizer type \"%1\"").arg(type));
    }
    return n;
}

} // namespace rs::tokenizer_detail
