// Decoders: how a tokenizer.json turns token strings back into text (Sequence, ByteLevel, Replace,
// ByteFallback, Fuse, Strip, Metaspace).
#include "runtime/tokenizer/tokenizer_p.h"

#include "common/error.h"

#include <QJsonArray>

namespace rs::tokenizer_detail {

// ------------------------------------------------------------------------------------------------
// Decoders

QStringList Decoder::apply(QStringList tokens) const
{
    switch (kind) {
    case Sequence:
        for (const Decoder &d : children) tokens = d.apply(std::move(tokens));
        return tokens;
    case ByteLevel: {
        const ByteMap &m = byteMap();
        QByteArray bytes;
        for (const QString &t : tokens) {
            const qsizetype mark = bytes.size();
            bool ok = true;
            for (QChar c : t) {
                const int b = m.byteOf(c);
                if (b < 0) { ok = false; break; }
                bytes.append(char(b));
            }
            if (!ok) {
                bytes.truncate(mark);
                bytes.append(t.toUtf8());
            }
        }
        return {fromUtf8Lossy(bytes)};
    }
    case Replace:
        for (QString &t : tokens) {
            if (pattern.isRegex) {
                QString out;
                qsizetype prev = 0;
                QRegularExpressionMatchIterator it = pattern.re.globalMatch(t);
                while (it.hasNext()) {
                    const QRegularExpressionMatch m = it.next();
                    if (m.capturedLength() == 0) continue;
                    out += QStringView(t).mid(prev, m.capturedStart() - prev);
                    out += text;
                    prev = m.capturedEnd();
                }
                out += QStringView(t).mid(prev);
                t = out;
            } else if (!pattern.literal.isEmpty()) {
                t.replace(pattern.literal, text);
            }
        }
        return tokens;
    case ByteFallback: {
        QStringList out;
        std::string pending;
        auto flush = [&]() {
            if (pending.empty()) return;
            if (isValidUtf8(pending))
                out.push_back(fromStd(pending));
            else
                for (size_t k = 0; k < pending.size(); ++k) out.push_back(QString(QChar(0xFFFD)));
            pending.clear();
        };
        for (const QString &t : tokens) {
            bool isByte = false;
            if (t.size() == 6 && t.startsWith(QLatin1String("<0x")) && t.endsWith(QLatin1Char('>'))) {
                bool ok = false;
                const uint b = t.mid(3, 2).toUInt(&ok, 16);
                if (ok && b < 256) {
                    pending.push_back(char(b));
                    isByte = true;
                }
            }
            if (!isByte) {
                flush();
                out.push_back(t);
            }
        }
        flush();
        return out;
    }
    case Fuse:
        return {tokens.join(QString())};
    case Strip:
        for (QString &t : tokens) {
            qsizetype from = 0, to = t.size();
            for (int k = 0; k < start && !text.isEmpty() && QStringView(t).mid(from).startsWith(text); ++k)
                from += text.size();
            for (int k = 0; k < stop && !text.isEmpty() && to - text.size() >= from
                            && QStringView(t).mid(0, to).endsWith(text); ++k)
                to -= text.size();
            t = t.mid(from, to - from);
        }
        return tokens;
    case Metaspace:
        for (qsizetype i = 0; i < tokens.size(); ++i) {
            if (i == 0 && metaspaceStripFirst)
                tokens[i].remove(text);
            else
                tokens[i].replace(text, QStringLiteral(" "));
        }
        return tokens;
    }
    return tokens;
}

Decoder readDecoder(const QJsonObject &o, const QString &source)
{
    Decoder d;
    const QString type = typeOf(o);
    if (type == QLatin1String("Sequence")) {
        d.kind = Decoder::Sequence;
        for (const QJsonObject &c : readObjectList(o, QStringLiteral("decoders"), source, QStringLiteral("Sequence decoder")))
            d.children.push_back(readDecoder(c, source));
    } else if (type == QLatin1String("ByteLevel")) {
        d.kind = Decoder::ByteLevel;
    } else if (type == QLatin1String("Replace")) {
        d.kind = Decoder::Replace;
        d.pattern = readPattern(o.value(QLatin1String("pattern")), source, QStringLiteral("Replace decoder"));
        d.text = o.value(QLatin1String("content")).toString();
    } else if (type == QLatin1String("ByteFallback")) {
        d.kind = Decoder::ByteFallback;
    } else if (type == QLatin1String("Fuse")) {
        d.kind = Decoder::Fuse;
    } else if (type == QLatin1String("Strip")) {
        d.kind = Decoder::Strip;
        d.text = o.value(QLatin1String("content")).toString(QStringLiteral(" "));
        d.start = o.value(QLatin1String("start")).toInt(0);
        d.stop = o.value(QLatin1String("stop")).toInt(0);
    } else if (type == QLatin1String("Metaspace")) {
        d.kind = Decoder::Metaspace;
        d.text = o.value(QLatin1String("replacement")).toString(QStringLiteral("\u2581"));
        d.metaspaceStripFirst = readPrependScheme(o, source, QStringLiteral("Metaspace decoder")) != PrependScheme::Never;
    } else {
        throw Error(source, QStringLiteral("unsupported decoder type \"%1\"").arg(type));
    }
    return d;
}

} // namespace rs::tokenizer_detail
