// Needle-driven perplexity samples: exact length, the answer tokens are exactly the value's
// tokens, the needle sits where the depth says, and the same seed gives the same sample. Corpus
// text keeps every U+FEFF but a .txt file's leading byte-order mark, and a corpus or tokenizer that
// cannot give filler or answer tokens is refused by name.
#include "common/error.h"
#include "eval/needle.h"
#include "runtime/tokenizer.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

using namespace rs;

namespace {

// UTF-8 bytes as token ids: an encoder whose tokens can be read back without a vocabulary.
std::vector<int> byteEncode(const QString &text)
{
    const QByteArray utf8 = text.toUtf8();
    return std::vector<int>(reinterpret_cast<const uchar *>(utf8.constData()),
                            reinterpret_cast<const uchar *>(utf8.constData()) + utf8.size());
}

QByteArray bytesOf(const std::vector<int> &ids, size_t from, size_t count)
{
    QByteArray out;
    for (size_t i = from; i < from + count && i < ids.size(); ++i)
        out.append(char(ids[i]));
    return out;
}

QString fixture(const QString &relative) { return QStringLiteral(ROPESCOPE_FIXTURES "/corpus/") + relative; }

void writeFile(const QString &path, const QByteArray &content)
{
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(content) != content.size())
        qFatal("cannot write %s", qPrintable(path));
}

// A BPE tokenizer whose vocabulary is the printable ASCII characters (no merges, no byte fallback,
// no unknown token; not even "\n"), less `missing`: characters outside it vanish, as in `tokenizers`.
std::unique_ptr<HfTokenizer> asciiTokenizer(const QString &missing)
{
    QJsonObject vocab;
    int id = 0;
    for (char16_t c = 0x20; c < 0x7F; ++c)
        if (!missing.contains(QChar(c)))
            vocab[QString(QChar(c))] = id++;
    const QJsonObject model{{"type", "BPE"}, {"vocab", vocab}, {"merges", QJsonArray()}};
    const QJsonObject root{{"model", model}, {"added_tokens", QJsonArray()}, {"normalizer", QJsonValue()},
                           {"pre_tokenizer", QJsonValue()}, {"decoder", QJsonValue()}};
    return HfTokenizer::fromJson(QJsonDocument(root).toJson(), QStringLiteral("ascii.json"));
}

} // namespace

class TestNeedle : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void exactLengthAndAnswerTokens_data()
    {
        QTest::addColumn<int>("length");
        QTest::addColumn<double>("depth");
        QTest::addColumn<int>("bos");
        QTest::newRow("1k, needle at start") << 1024 << 0.0 << 1;
        QTest::newRow("4k, middle") << 4096 << 0.5 << 1;
        QTest::newRow("3333, end, no BOS") << 3333 << 1.0 << -1;
    }

    void exactLengthAndAnswerTokens()
    {
        QFETCH(int, length);
        QFETCH(double, depth);
        QFETCH(int, bos);
        const NeedleBuilder builder(byteEncode, Haystack::builtin());
        const NeedleSample s = builder.build({length, depth, 42, bos});
        QCOMPARE(int(s.ids.size()), length);
        QCOMPARE(s.value.size(), 7);
        QVERIFY(s.key.contains(QLatin1Char('-')));
        // The answer is " <value>" at the very end, and nothing else is scored.
        const QByteArray answer = " " + s.value.toUtf8();
        QCOMPARE(int(s.answerPositions.size()), int(answer.size()));
        for (size_t k = 0; k < s.answerPositions.size(); ++k)
            QCOMPARE(s.answerPositions[k], length - int(answer.size()) + int(k));
        QCOMPARE(bytesOf(s.ids, size_t(s.answerPositions.front()), answer.size()), answer);
        if (bos >= 0)
            QCOMPARE(s.ids.front(), bos);
        // The needle sentence is where needlePosition says, and the question precedes the answer.
        const QByteArray needle = NeedleBuilder::needleSentence(s.key, s.value).toUtf8();
        QCOMPARE(bytesOf(s.ids, size_t(s.needlePosition), needle.size()), needle);
        const QByteArray question = NeedleBuilder::question(s.key).toUtf8();
        QCOMPARE(bytesOf(s.ids, size_t(s.answerPositions.front()) - question.size(), question.size()), question);
        // Depth: 0 puts the needle right after the instruction, 1 right before the question.
        const int intro = (bos >= 0 ? 1 : 0) + int(NeedleBuilder::instruction().toUtf8().size());
        const int filler = length - intro - int(needle.size()) - int(question.size()) - int(answer.size());
        QCOMPARE(s.needlePosition, intro + int(std::lround(depth * filler)));
    }

    void sameSeedSameSample()
    {
        const NeedleBuilder builder(byteEncode, Haystack::builtin());
        const NeedleSample a = builder.build({2048, 0.1, 7, 1});
        const NeedleSample b = builder.build({2048, 0.1, 7, 1});
        QCOMPARE(a.ids, b.ids);
        QCOMPARE(a.answerPositions, b.answerPositions);
        const NeedleSample c = builder.build({2048, 0.1, 8, 1});
        QVERIFY(a.ids != c.ids);
        const std::vector<NeedleSample> many = builder.buildMany(3, {512, 0.0, 100, -1});
        QCOMPARE(int(many.size()), 3);
        QCOMPARE(many[2].ids, builder.build({512, 0.0, 102, -1}).ids);
    }

    void keyValueFollowTheTemplate()
    {
        QString key, value;
        for (uint64_t seed = 0; seed < 200; ++seed) {
            needleKeyValue(seed, &key, &value);
            QVERIFY2(QRegularExpression(QStringLiteral("^[a-z]+-[a-z]+$")).match(key).hasMatch(), qPrintable(key));
            QVERIFY2(QRegularExpression(QStringLiteral("^[1-9][0-9]{6}$")).match(value).hasMatch(), qPrintable(value));
        }
        QCOMPARE(NeedleBuilder::question(QStringLiteral("numerous-kite")),
                 QStringLiteral("\nWhat is the special magic number for numerous-kite mentioned in the provided text? "
                                "The special magic number for numerous-kite mentioned in the provided text is"));
    }

    void fillerIsDeterministicProse()
    {
        const QString a = generateFillerText(5000, 3);
        QCOMPARE(a, generateFillerText(5000, 3));
        QVERIFY(a != generateFillerText(5000, 4));
        QVERIFY(a.size() >= 5000);
        QVERIFY(a.count(QLatin1Char('.')) > 50);  // sentences, not one run-on string
    }

    void corpusSources()
    {
        const Haystack folder = Haystack::fromPath(fixture(QStringLiteral("books")));
        QCOMPARE(folder.documentCount(), 2);
        QVERIFY(folder.text(10, 0).startsWith(QStringLiteral("The first book")));
        QVERIFY(folder.text(10, 1).startsWith(QStringLiteral("A second story")));
        QVERIFY(folder.text(1000, 0).size() >= 1000);  // wraps around the documents
        const Haystack jsonl = Haystack::fromPath(fixture(QStringLiteral("docs.jsonl")));
        QCOMPARE(jsonl.documentCount(), 2);
        const NeedleSample s = NeedleBuilder(byteEncode, jsonl).build({700, 0.0, 1, -1});
        QCOMPARE(int(s.ids.size()), 700);
        QVERIFY(bytesOf(s.ids, 0, 700).contains("JSON document"));
    }

    void byteOrderMarks()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        // A .txt file's leading byte-order mark is a file marker: it goes. Other U+FEFFs are text.
        QVERIFY(QDir(dir.path()).mkdir(QStringLiteral("books")));
        writeFile(dir.filePath(QStringLiteral("books/a.txt")), "\xEF\xBB\xBFMarked file, \xEF\xBB\xBF inside.");
        const Haystack books = Haystack::fromFolder(dir.filePath(QStringLiteral("books")));
        QVERIFY2(books.text(10, 0).startsWith(QStringLiteral("Marked file, \ufeff inside.")), qPrintable(books.text(10, 0)));
        // A JSONL document's text is a JSON string: a leading U+FEFF is its first character. The
        // file's own byte-order mark (before the first line) is a marker.
        const QString jsonl = dir.filePath(QStringLiteral("docs.jsonl"));
        writeFile(jsonl, "\xEF\xBB\xBF{\"text\": \"\xEF\xBB\xBF" "First, raw.\"}\n{\"text\": \"\\ufeffSecond, escaped.\"}\n");
        const Haystack docs = Haystack::fromJsonl(jsonl);
        QCOMPARE(docs.documentCount(), 2);
        QCOMPARE(docs.text(1, 0), QStringLiteral("\ufeffFirst, raw."));
        QCOMPARE(docs.text(1, 1), QStringLiteral("\ufeffSecond, escaped."));
    }

    void tokenizersThatCannotWriteTheSample()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        auto expectError = [](auto &&make, const QString &source, const QString &words) {
            try {
                make();
                QFAIL("no error");
            } catch (const Error &e) {
                QVERIFY2(e.source() == source && e.problem().contains(words), qPrintable(e.message()));
            }
        };
        // No digits: the answer cannot be written.
        const auto noDigits = asciiTokenizer(QStringLiteral("0123456789"));
        const NeedleBuilder digitless([&](const QString &t) { return noDigits->encode(t); }, Haystack::builtin());
        expectError([&] { digitless.build({400, 0.5, 3, -1}); }, QStringLiteral("needle"),
                    QStringLiteral("cannot encode the digits of the needle's value"));

        // A corpus the tokenizer writes with no tokens at all (it was a crash: the text to encode
        // doubled without end).
        const QString corpus = dir.filePath(QStringLiteral("cjk"));
        QVERIFY(QDir(dir.path()).mkdir(QStringLiteral("cjk")));
        writeFile(corpus + QStringLiteral("/a.txt"), QStringLiteral("東京は日本の首都です。").repeated(20).toUtf8());
        const auto ascii = asciiTokenizer(QString());
        const NeedleBuilder cjk([&](const QString &t) { return ascii->encode(t); }, Haystack::fromFolder(corpus));
        expectError([&] { cjk.build({600, 0.5, 3, -1}); }, corpus, QStringLiteral("no tokens"));
        // And one that gives a few, far too few for the sample.
        writeFile(corpus + QStringLiteral("/a.txt"), (QStringLiteral("東京は日本の首都です。").repeated(2000) + QStringLiteral("x")).toUtf8());
        const NeedleBuilder sparse([&](const QString &t) { return ascii->encode(t); }, Haystack::fromFolder(corpus));
        expectError([&] { sparse.build({600, 0.5, 3, -1}); }, corpus, QStringLiteral("filler tokens"));
    }

    void answerTokensAreTheValueWithRealTokenizers_data()
    {
        QTest::addColumn<QString>("tokenizer");
        QTest::newRow("byte-level BPE (Llama 3 style)") << "tokenizer-bytelevel-bpe";
        QTest::newRow("SentencePiece BPE (Llama 2 style)") << "tokenizer-sentencepiece-bpe";
    }

    void answerTokensAreTheValueWithRealTokenizers()
    {
        QFETCH(QString, tokenizer);
        const std::unique_ptr<Tokenizer> tok =
            loadTokenizer(QStringLiteral(ROPESCOPE_FIXTURES "/tokenizers/") + tokenizer + QStringLiteral("/tokenizer.json"));
        const NeedleBuilder builder([&](const QString &t) { return tok->encode(t); }, Haystack::builtin());
        for (uint64_t seed = 0; seed < 8; ++seed) {
            const NeedleSample s = builder.build({1500, 0.0, seed, -1});
            QCOMPARE(int(s.ids.size()), 1500);
            std::vector<int> answer;
            for (int p : s.answerPositions)
                answer.push_back(s.ids[size_t(p)]);
            // The scored tokens spell the value and nothing else.
            QCOMPARE(tok->decode(answer).trimmed(), s.value);
            const std::vector<int> before(s.ids.end() - long(answer.size()) - 30, s.ids.end() - long(answer.size()));
            QVERIFY2(tok->decode(before).endsWith(QStringLiteral("provided text is")), qPrintable(tok->decode(before)));
        }
    }

    void badInputsNameTheSource()
    {
        QTemporaryDir dir;
        auto expectError = [](auto &&make, const QString &path, const QString &words) {
            try {
                make();
                QFAIL("no error");
            } catch (const Error &e) {
                QVERIFY2(e.message().contains(path) && e.message().contains(words), qPrintable(e.message()));
            }
        };
        expectError([&] { Haystack::fromPath(dir.filePath("nothing")); }, dir.filePath("nothing"), "no such");
        expectError([&] { Haystack::fromFolder(dir.path()); }, dir.path(), "no non-empty .txt");
        const QString bad = dir.filePath("bad.jsonl");
        QFile f(bad);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("{\"text\": \"ok\"}\n{\"title\": \"no text\"}\n");
        f.close();
        expectError([&] { Haystack::fromJsonl(bad); }, bad, "line 2 has no \"text\"");
        f.setFileName(bad);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("{\"text\": \"ok\"}\n{\"text\": \"Caf\xE9 in Latin-1\"}\n");
        f.close();
        expectError([&] { Haystack::fromJsonl(bad); }, bad, "line 2 is not valid UTF-8");
        const NeedleBuilder builder(byteEncode, Haystack::builtin());
        expectError([&] { builder.build({100, 0.0, 0, 1}); }, "needle", "cannot hold the needle template");
    }
};

QTEST_GUILESS_MAIN(TestNeedle)
#include "test_needle.moc"
