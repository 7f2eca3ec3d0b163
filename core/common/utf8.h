#pragma once
// UTF-8 to QString keeping every code point, and the one place a byte-order mark is taken off.
//
// QString::fromUtf8 (and QJsonDocument, which decodes each JSON string with it) drops a U+FEFF at
// the start of its input as a byte-order mark. For text that is data (a vocabulary key, a merge, a
// document, a decoded token sequence) that loses a character: Gemma 3's vocabulary has keys that
// start with U+FEFF, and Llama 2 has the token "\ufeff" itself. So text is decoded here with the
// BOM kept; a file marker is stripped only where a file format allows one, explicitly.
#include <QByteArrayView>
#include <QString>
#include <QStringDecoder>

namespace rs {

// The UTF-8 `bytes` as a QString, a leading U+FEFF included. Invalid sequences become U+FFFD, as
// with QString::fromUtf8.
inline QString fromUtf8Exact(QByteArrayView bytes)
{
    QStringDecoder decoder(QStringConverter::Utf8,
                           QStringConverter::Flag::ConvertInitialBom | QStringConverter::Flag::Stateless);
    return decoder.decode(bytes);
}

inline bool startsWithUtf8Bom(QByteArrayView bytes)
{
    return bytes.startsWith(QByteArrayView("\xEF\xBB\xBF", 3));
}

// `bytes` without one UTF-8 byte-order mark at its very start: for file contents whose format
// treats it as a marker, not text (a corpus .txt file, a JSON file).
inline QByteArrayView withoutUtf8Bom(QByteArrayView bytes)
{
    return startsWithUtf8Bom(bytes) ? bytes.sliced(3) : bytes;
}

} // namespace rs
