// ByteTokenizer: UTF-8 bytes as ids, special tokens after them (the embedded tiny model's tokenizer).
#include "runtime/tokenizer.h"

#include "common/utf8.h"
#include "runtime/tokenizer/tokenizer_p.h"

#include <QByteArray>
#include <QStringView>

namespace rs {

using tokenizer_detail::byteTokenName;

// ------------------------------------------------------------------------------------------------
// ByteTokenizer

ByteTokenizer::ByteTokenizer(const QStringList &specialTokens) : m_specials(specialTokens) {}

std::vector<int> ByteTokenizer::encodeText(const QString &text) const
{
    std::vector<int> ids;
    auto appendBytes = [&ids](QStringView part) {
        const QByteArray utf8 = part.toUtf8();
        for (char c : utf8) ids.push_back(int(uchar(c)));
    };
    if (m_specials.isEmpty()) {
        appendBytes(text);
        return ids;
    }
    qsizetype last = 0, i = 0;
    const QStringView view(text);
    while (i < text.size()) {
        int best = -1;
        for (int k = 0; k < m_specials.size(); ++k) {
            const QString &s = m_specials[k];
            if (!s.isEmpty() && view.mid(i).startsWith(s) && (best < 0 || s.size() > m_specials[best].size()))
                best = k;
        }
        if (best < 0) {
            ++i;
            continue;
        }
        appendBytes(view.mid(last, i - last));
        ids.push_back(256 + best);
        i += m_specials[best].size();
        last = i;
    }
    appendBytes(view.mid(last));
    return ids;
}

QString ByteTokenizer::decode(const std::vector<int> &ids, bool skipSpecial) const
{
    QString out;
    QByteArray bytes;
    for (int id : ids) {
        if (id >= 0 && id < 256) {
            bytes.append(char(id));
        } else if (isSpecial(id)) {
            out += fromUtf8Exact(bytes);
            bytes.clear();
            if (!skipSpecial)
                out += m_specials[id - 256];
        }
    }
    out += fromUtf8Exact(bytes);
    return out;
}

int ByteTokenizer::tokenToId(const QString &token) const
{
    const qsizetype k = m_specials.indexOf(token);
    if (k >= 0)
        return 256 + int(k);
    if (token.size() == 6 && token.startsWith(QLatin1String("<0x")) && token.endsWith(QLatin1Char('>'))) {
        bool ok = false;
        const uint b = token.mid(3, 2).toUInt(&ok, 16);
        if (ok && b < 256)
            return int(b);
    }
    if (token.size() == 1 && token[0].unicode() < 128)
        return token[0].unicode();
    return -1;
}

QString ByteTokenizer::idToToken(int id) const
{
    if (id >= 0 && id < 256)
        return byteTokenName(id);
    if (isSpecial(id))
        return m_specials[id - 256];
    return QString();
}

QString ByteTokenizer::description() const
{
    return QStringLiteral("bytes, %1 tokens").arg(vocabSize());
}

} // namespace rs
