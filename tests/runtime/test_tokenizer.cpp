// Tokenizers: tokenizer.json files encode exactly as Hugging Face `tokenizers` does (reference ids
// made by the library, see tests/fixtures/tokenizers), decode inverts encode, added/special tokens
// are split out first, byte fallback covers characters outside the vocab, bad files are refused
// with the file named, and the byte tokenizer round-trips. U+FEFF is an ordinary character
// everywhere (vocabulary keys, merges, text, decode): tests/fixtures/tokenizers/tokenizer-bom holds
// vocabulary keys and merges that start with it, written as raw UTF-8 like Gemma 3's file, with ids
// from tokenizers.js (scripts/tokenizer-reference/generate.mjs).
#include "common/error.h"
#include "eval/needle.h"
#include "runtime/tokenizer.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <functional>

using namespace rs;

namespace {

QString fixtureDir(const QString &name) { return QStringLiteral(ROPESCOPE_FIXTURES "/tokenizers/") + name; }
QString fixtureJson(const QString &name) { return fixtureDir(name) + QStringLiteral("/tokenizer.json"); }

QJsonObject readObject(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        qFatal("cannot open %s", qPrintable(path));
    return QJsonDocument::fromJson(f.readAll()).object();
}

QJsonArray readArray(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        qFatal("cannot open %s", qPrintable(path));
    return QJsonDocument::fromJson(f.readAll()).array();
}

std::vector<int> toIds(const QJsonArray &a)
{
    std::vector<int> ids;
    for (const QJsonValue &v : a) ids.push_back(v.toInt());
    return ids;
}

std::vector<int> concat(std::vector<int> a, const std::vector<int> &b)
{
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

std::unique_ptr<HfTokenizer> fromObject(const QJsonObject &o, const QString &source = QStringLiteral("test.json"))
{
    return HfTokenizer::fromJson(QJsonDocument(o).toJson(QJsonDocument::Compact), source);
}

// A tiny BPE tokenizer.json with no normalizer or pre-tokenizer.
QJsonObject tinyBpe(const QJsonObject &vocab, const QJsonArray &merges, bool ignoreMerges = false)
{
    QJsonObject model{{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}, {"ignore_merges", ignoreMerges}};
    return QJsonObject{{"version", "1.0"}, {"added_tokens", QJsonArray()}, {"normalizer", QJsonValue()},
                       {"pre_tokenizer", QJsonValue()}, {"model", model}, {"decoder", QJsonValue()}};
}

QStringList extraTexts()
{
    return {QStringLiteral("Hello world"),
            QStringLiteral(" leading space, trailing space "),
            QStringLiteral("tabs\tand\r\nwindows\r\nnewlines\n\n\n"),
            QStringLiteral("Ünïcödé 東京 🙂🙃 \u00a0nbsp \u2028 ls"),
            QStringLiteral("SHOUTING IT'S WE'LL 12345678901234567890"),
            QStringLiteral("a"),
            QStringLiteral("   "),
            QStringLiteral("code: if (x < 3) { return y->z; } // done")};
}

} // namespace

class TestTokenizer : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void matchesTheLibrary_data()
    {
        QTest::addColumn<QString>("fixture");
        QTest::addColumn<QString>("text");
        QTest::addColumn<QJsonArray>("ids");
        for (const QString &name : {QStringLiteral("tokenizer-bytelevel-bpe"), QStringLiteral("tokenizer-sentencepiece-bpe")}) {
            const QJsonArray cases = readArray(fixtureDir(name) + QStringLiteral("/encodings.json"));
            QVERIFY(cases.size() >= 7);
            int k = 0;
            for (const QJsonValue &c : cases) {
                const QJsonObject o = c.toObject();
                QTest::addRow("%s #%d", qPrintable(name), k++)
                    << name << o.value(QLatin1String("text")).toString() << o.value(QLatin1String("ids")).toArray();
            }
        }
    }

    void matchesTheLibrary()
    {
        QFETCH(QString, fixture);
        QFETCH(QString, text);
        QFETCH(QJsonArray, ids);
        const auto tok = loadTokenizer(fixtureJson(fixture));
        const std::vector<int> got = tok->encode(text);
        QCOMPARE(got, toIds(ids));
        QCOMPARE(tok->decode(got), text);
    }

    void roundTrip_data()
    {
        QTest::addColumn<QString>("fixture");
        for (const QString &name : {QStringLiteral("tokenizer-bytelevel-bpe"), QStringLiteral("tokenizer-sentencepiece-bpe")})
            QTest::newRow(qPrintable(name)) << name;
    }

    void roundTrip()
    {
        QFETCH(QString, fixture);
        const auto tok = loadTokenizer(fixtureDir(fixture));   // the folder works too
        for (const QString &text : extraTexts()) {
            const std::vector<int> ids = tok->encode(text);
            QVERIFY(!ids.empty());
            for (int id : ids) QVERIFY2(!tok->idToToken(id).isEmpty(), qPrintable(text));
            QCOMPARE(tok->decode(ids), text);
        }
        QVERIFY(tok->encode(QString()).empty());
        QCOMPARE(tok->decode({}), QString());
    }

    void vocabulary()
    {
        const auto bl = HfTokenizer::fromFile(fixtureJson(QStringLiteral("tokenizer-bytelevel-bpe")));
        QVERIFY(bl->isByteLevel());
        QVERIFY(!bl->hasByteFallback());
        QCOMPARE(bl->vocabSize(), 600);
        QCOMPARE(bl->tokenToId(QStringLiteral("<|begin_of_text|>")), 0);
        QCOMPARE(bl->idToToken(1), QStringLiteral("<|end_of_text|>"));
        QCOMPARE(bl->tokenToId(QStringLiteral("\u0120\u00e2\u0128\u0134")), 597);   // "ĠâĨĴ"
        QCOMPARE(bl->tokenToId(QStringLiteral("not a token")), -1);
        QVERIFY(bl->isSpecial(0));
        QVERIFY(!bl->isSpecial(41));
        QCOMPARE(bl->addedTokens(), QStringList({QStringLiteral("<|begin_of_text|>"), QStringLiteral("<|end_of_text|>")}));
        QCOMPARE(bl->fileBosId(), -1);   // no post_processor in the fixture

        const auto sp = HfTokenizer::fromFile(fixtureJson(QStringLiteral("tokenizer-sentencepiece-bpe")));
        QVERIFY(!sp->isByteLevel());
        QVERIFY(sp->hasByteFallback());
        QCOMPARE(sp->vocabSize(), 883);
        QCOMPARE(sp->tokenToId(QStringLiteral("<0xE6>")), 3 + 0xE6);
        QCOMPARE(sp->tokenToId(QStringLiteral("\u2581")), 370);
        QVERIFY(sp->description().contains(QStringLiteral("SentencePiece")));
    }

    void addedTokensSplitFirst()
    {
        const auto bl = loadTokenizer(fixtureJson(QStringLiteral("tokenizer-bytelevel-bpe")));
        const std::vector<int> hello = bl->encode(QStringLiteral("Hello"));
        const std::vector<int> world = bl->encode(QStringLiteral(" world"));
        QCOMPARE(bl->encode(QStringLiteral("<|begin_of_text|>Hello")), concat({0}, hello));
        QCOMPARE(bl->encode(QStringLiteral("Hello<|end_of_text|> world")), concat(concat(hello, {1}), world));
        QCOMPARE(bl->encode(QStringLiteral("<|begin_of_text|><|end_of_text|>")), std::vector<int>({0, 1}));
        // A partial match is plain text.
        QVERIFY(bl->encode(QStringLiteral("<|begin_of_tex")).front() != 0);
        QCOMPARE(bl->decode(concat({0}, hello)), QStringLiteral("<|begin_of_text|>Hello"));
        QCOMPARE(bl->decode(concat({0}, hello), true), QStringLiteral("Hello"));
        // Bytes that are not UTF-8 decode as Rust's from_utf8_lossy does: one U+FFFD for each
        // maximal invalid sequence (here a truncated 東 = E6 9D B1, then "A").
        const int e6 = bl->tokenToId(QStringLiteral("\u00e6")), x9d = bl->tokenToId(QStringLiteral("\u013f"));
        QVERIFY(e6 >= 0 && x9d >= 0);
        QCOMPARE(bl->decode({e6, x9d, bl->tokenToId(QStringLiteral("A"))}), QStringLiteral("\uFFFDA"));
        QCOMPARE(bl->decode({x9d, x9d}), QStringLiteral("\uFFFD\uFFFD"));

        // SentencePiece style: the normalizer runs on the text between added tokens, so "Hello"
        // after <s> gets its ▁ prefix like at the start (the library's behaviour).
        const auto sp = loadTokenizer(fixtureJson(QStringLiteral("tokenizer-sentencepiece-bpe")));
        const std::vector<int> spHello = sp->encode(QStringLiteral("Hello"));
        QCOMPARE(spHello.front(), 370);   // ▁
        QCOMPARE(sp->encode(QStringLiteral("<s>Hello")), concat({1}, spHello));
        QCOMPARE(sp->encode(QStringLiteral("Hello</s>")), concat(spHello, {2}));
        QCOMPARE(sp->decode(concat(concat({1}, spHello), {2}), true), QStringLiteral("Hello"));
    }

    void byteFallback()
    {
        const auto sp = loadTokenizer(fixtureJson(QStringLiteral("tokenizer-sentencepiece-bpe")));
        const QString text = QStringLiteral("東京 🙂");
        const std::vector<int> ids = sp->encode(text);
        QByteArray bytes;
        int byteTokens = 0;
        for (int id : ids) {
            const QString t = sp->idToToken(id);
            if (t.startsWith(QLatin1String("<0x"))) {
                bytes.append(char(t.mid(3, 2).toInt(nullptr, 16)));
                ++byteTokens;
            } else {
                QCOMPARE(t, QStringLiteral("\u2581"));
            }
        }
        QCOMPARE(byteTokens, 10);
        QCOMPARE(bytes, QStringLiteral("東京🙂").toUtf8());
        QCOMPARE(ids, std::vector<int>({370, 3 + 0xE6, 3 + 0x9D, 3 + 0xB1, 3 + 0xE4, 3 + 0xBA, 3 + 0xAC, 370,
                                        3 + 0xF0, 3 + 0x9F, 3 + 0x99, 3 + 0x82}));
        QCOMPARE(sp->decode(ids), text);
        // A lone continuation byte decodes to U+FFFD, as the ByteFallback decoder does.
        QCOMPARE(sp->decode({370, 3 + 0x9D}), QStringLiteral("\uFFFD"));
    }

    void metaspaceFormMatches()
    {
        // The newer Metaspace pre-tokenizer form of the same tokenizer gives the same ids, except
        // that Metaspace adds no ▁ to text that already starts with a space (Prepend always does).
        QJsonObject o = readObject(fixtureJson(QStringLiteral("tokenizer-sentencepiece-bpe")));
        o[QStringLiteral("normalizer")] = QJsonValue();
        o[QStringLiteral("pre_tokenizer")] = QJsonObject{{"type", "Metaspace"}, {"replacement", "\u2581"},
                                                         {"prepend_scheme", "first"}, {"split", false}};
        o[QStringLiteral("decoder")] = QJsonObject{
            {"type", "Sequence"},
            {"decoders", QJsonArray{QJsonObject{{"type", "Metaspace"}, {"replacement", "\u2581"},
                                                {"prepend_scheme", "first"}, {"split", false}},
                                    QJsonObject{{"type", "ByteFallback"}}, QJsonObject{{"type", "Fuse"}}}}};
        const auto meta = fromObject(o);
        // And the older form (add_prefix_space, split on ▁).
        o[QStringLiteral("pre_tokenizer")] = QJsonObject{{"type", "Metaspace"}, {"replacement", "\u2581"},
                                                         {"add_prefix_space", true}};
        o[QStringLiteral("decoder")] = QJsonObject{{"type", "Metaspace"}, {"replacement", "\u2581"},
                                                   {"add_prefix_space", true}};
        const auto old = fromObject(o);
        const QJsonArray cases = readArray(fixtureDir(QStringLiteral("tokenizer-sentencepiece-bpe")) + QStringLiteral("/encodings.json"));
        for (const QJsonValue &c : cases) {
            const QString text = c.toObject().value(QLatin1String("text")).toString();
            std::vector<int> want = toIds(c.toObject().value(QLatin1String("ids")).toArray());
            if (text.startsWith(QLatin1Char(' '))) {
                QCOMPARE(want.front(), 370);
                want.erase(want.begin());
            }
            QCOMPARE(meta->encode(text), want);
            QCOMPARE(old->encode(text), want);
            // The Metaspace decoder drops every ▁ of the first token (so a leading space is lost).
            if (!text.startsWith(QLatin1Char(' ')))
                QCOMPARE(meta->decode(want), text);
        }
        // prepend_scheme "first": no ▁ after a special token.
        QCOMPARE(meta->encode(QStringLiteral("<s>Hi")).at(1), meta->tokenToId(QStringLiteral("H")));
        QCOMPARE(old->encode(QStringLiteral("<s>Hi")).at(1), 370);
    }

    void mergeFormatsAndPlainByteLevel()
    {
        // Merges written as "a b" strings give the same ids as ["a", "b"] pairs.
        QJsonObject o = readObject(fixtureJson(QStringLiteral("tokenizer-bytelevel-bpe")));
        QJsonObject model = o.value(QLatin1String("model")).toObject();
        QJsonArray legacy;
        for (const QJsonValue &m : model.value(QLatin1String("merges")).toArray())
            legacy.append(m.toArray().at(0).toString() + QLatin1Char(' ') + m.toArray().at(1).toString());
        model[QStringLiteral("merges")] = legacy;
        o[QStringLiteral("model")] = model;
        const auto strings = fromObject(o);
        const QJsonArray cases = readArray(fixtureDir(QStringLiteral("tokenizer-bytelevel-bpe")) + QStringLiteral("/encodings.json"));
        for (const QJsonValue &c : cases)
            QCOMPARE(strings->encode(c.toObject().value(QLatin1String("text")).toString()),
                     toIds(c.toObject().value(QLatin1String("ids")).toArray()));

        // The plain GPT-2 ByteLevel pre-tokenizer (its own regex) round-trips, and splits words.
        o[QStringLiteral("pre_tokenizer")] = QJsonObject{{"type", "ByteLevel"}, {"add_prefix_space", false},
                                                         {"trim_offsets", true}, {"use_regex", true}};
        const auto gpt2 = fromObject(o);
        for (const QString &text : extraTexts())
            QCOMPARE(gpt2->decode(gpt2->encode(text)), text);
        // With add_prefix_space, "Hello" is tokenized as " Hello" is.
        o[QStringLiteral("pre_tokenizer")] = QJsonObject{{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}};
        const auto prefixed = fromObject(o);
        QCOMPARE(prefixed->encode(QStringLiteral("Hello")), gpt2->encode(QStringLiteral(" Hello")));
    }

    void mergeRanksAndIgnoreMerges()
    {
        const QJsonObject vocab{{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"bc", 4}, {"abc", 5}, {"cab", 6}};
        // The lower rank wins, whatever the position.
        QCOMPARE(fromObject(tinyBpe(vocab, QJsonArray{"b c", "a b"}))->encode(QStringLiteral("abc")), std::vector<int>({0, 4}));
        QCOMPARE(fromObject(tinyBpe(vocab, QJsonArray{"a b", "b c"}))->encode(QStringLiteral("abc")), std::vector<int>({3, 2}));
        QCOMPARE(fromObject(tinyBpe(vocab, QJsonArray{"a b", "ab c"}))->encode(QStringLiteral("abcab")), std::vector<int>({5, 3}));
        // Merges can only reach "abc" through "ab c"; ignore_merges takes a whole word in the vocab.
        QCOMPARE(fromObject(tinyBpe(vocab, QJsonArray{"b c"}))->encode(QStringLiteral("abc")), std::vector<int>({0, 4}));
        QCOMPARE(fromObject(tinyBpe(vocab, QJsonArray{"b c"}, true))->encode(QStringLiteral("abc")), std::vector<int>({5}));
        // Characters outside the vocab with neither unk nor byte fallback vanish, as in the library.
        QCOMPARE(fromObject(tinyBpe(vocab, QJsonArray{}))->encode(QStringLiteral("axb")), std::vector<int>({0, 1}));
        // No decoder: tokens joined with spaces.
        QCOMPARE(fromObject(tinyBpe(vocab, QJsonArray{}))->decode({0, 1}), QStringLiteral("a b"));
    }

    void unknownTokens()
    {
        QJsonObject o = tinyBpe(QJsonObject{{"<unk>", 0}, {"a", 1}, {"b", 2}}, QJsonArray{});
        QJsonObject model = o.value(QLatin1String("model")).toObject();
        model[QStringLiteral("unk_token")] = QStringLiteral("<unk>");
        o[QStringLiteral("model")] = model;
        QCOMPARE(fromObject(o)->encode(QStringLiteral("axyb")), std::vector<int>({1, 0, 0, 2}));
        model[QStringLiteral("fuse_unk")] = true;
        o[QStringLiteral("model")] = model;
        QCOMPARE(fromObject(o)->encode(QStringLiteral("axyb")), std::vector<int>({1, 0, 2}));
    }

    void bos()
    {
        QJsonObject o = readObject(fixtureJson(QStringLiteral("tokenizer-sentencepiece-bpe")));
        const auto plain = fromObject(o);
        QCOMPARE(plain->bosId(), -1);
        try {
            plain->encode(QStringLiteral("Hi"), true);
            QFAIL("no error");
        } catch (const rs::Error &e) {
            QCOMPARE(e.source(), QStringLiteral("test.json"));
        }
        QVERIFY(plain->setBosToken(QStringLiteral("<s>")));
        QCOMPARE(plain->encode(QStringLiteral("Hi"), true), concat({1}, plain->encode(QStringLiteral("Hi"))));
        QVERIFY(!plain->setBosToken(QStringLiteral("<nope>")));
        QCOMPARE(plain->bosId(), 1);

        // Llama 3 style: Sequence[ByteLevel, TemplateProcessing] names the BOS.
        o[QStringLiteral("post_processor")] = QJsonObject{
            {"type", "Sequence"},
            {"processors",
             QJsonArray{QJsonObject{{"type", "ByteLevel"}, {"add_prefix_space", true}},
                        QJsonObject{{"type", "TemplateProcessing"},
                                    {"single", QJsonArray{QJsonObject{{"SpecialToken", QJsonObject{{"id", "<s>"}, {"type_id", 0}}}},
                                                          QJsonObject{{"Sequence", QJsonObject{{"id", "A"}, {"type_id", 0}}}}}},
                                    {"special_tokens", QJsonObject{{"<s>", QJsonObject{{"id", "<s>"}, {"ids", QJsonArray{1}},
                                                                                       {"tokens", QJsonArray{"<s>"}}}}}}}}}};
        const auto templ = fromObject(o);
        QCOMPARE(templ->fileBosId(), 1);
        QCOMPARE(templ->bosId(), 1);
        QCOMPARE(templ->encode(QStringLiteral("Hi"), true).front(), 1);
        templ->setBosId(2);   // the model config wins
        QCOMPARE(templ->encode(QStringLiteral("Hi"), true).front(), 2);
        templ->setBosId(-1);
        QCOMPARE(templ->bosId(), 1);
    }

    void byteOrderMarkInVocabAndMerges_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QJsonArray>("ids");
        // Escaped as \uXXXX, so QJsonDocument reads the texts exactly.
        const QJsonArray cases = readArray(fixtureDir(QStringLiteral("tokenizer-bom")) + QStringLiteral("/encodings.json"));
        QVERIFY(cases.size() >= 10);
        int k = 0;
        for (const QJsonValue &c : cases)
            QTest::addRow("#%d", k++) << c.toObject().value(QLatin1String("text")).toString()
                                      << c.toObject().value(QLatin1String("ids")).toArray();
    }

    void byteOrderMarkInVocabAndMerges()
    {
        QFETCH(QString, text);
        QFETCH(QJsonArray, ids);
        const auto tok = loadTokenizer(fixtureJson(QStringLiteral("tokenizer-bom")));
        QCOMPARE(tok->encode(text), toIds(ids));
        QCOMPARE(tok->decode(toIds(ids)), text);
    }

    void byteOrderMarkTokens()
    {
        const auto tok = HfTokenizer::fromFile(fixtureJson(QStringLiteral("tokenizer-bom")));
        // Keys that start with U+FEFF keep it: "\ufeff", "\ufeff\ufeff" and "\ufeff#" are three
        // tokens, none of them "" or "#".
        QCOMPARE(tok->vocabSize(), 260 + 39);
        QCOMPARE(tok->tokenToId(QStringLiteral("\ufeff")), 261);
        QCOMPARE(tok->tokenToId(QStringLiteral("\ufeff\ufeff")), 262);
        QCOMPARE(tok->tokenToId(QStringLiteral("\ufeff#")), 265);
        QCOMPARE(tok->tokenToId(QStringLiteral("#")), 264);
        QCOMPARE(tok->tokenToId(QString()), -1);
        QCOMPARE(tok->idToToken(261), QStringLiteral("\ufeff"));
        QCOMPARE(tok->idToToken(263), QStringLiteral("\ufeff\ufeff\ufeff\ufeff"));
        QCOMPARE(tok->decode({261, 268}), QStringLiteral("\ufeffab"));

        // A UTF-8 byte-order mark before the top-level value is a file marker, as JSON readers take it.
        QFile f(fixtureJson(QStringLiteral("tokenizer-bom")));
        QVERIFY(f.open(QIODevice::ReadOnly));
        const auto marked = HfTokenizer::fromJson("\xEF\xBB\xBF" + f.readAll(), QStringLiteral("marked.json"));
        QCOMPARE(marked->tokenToId(QStringLiteral("\ufeff")), 261);
    }

    void byteOrderMarkRoundTrips_data()
    {
        QTest::addColumn<QString>("fixture");
        for (const QString &name : {QStringLiteral("tokenizer-bytelevel-bpe"), QStringLiteral("tokenizer-sentencepiece-bpe")})
            QTest::newRow(qPrintable(name)) << name;
    }

    void byteOrderMarkRoundTrips()
    {
        // U+FEFF outside the vocab: byte-level tokens or byte fallback, and back.
        QFETCH(QString, fixture);
        const auto tok = loadTokenizer(fixtureJson(fixture));
        for (const QString &text : {QStringLiteral("\ufeffBOM at start"), QStringLiteral("\ufeff"),
                                    QStringLiteral("\ufeff\ufeffdouble"), QStringLiteral("in \ufeff the middle")}) {
            const std::vector<int> ids = tok->encode(text);
            QVERIFY(!ids.empty());
            QCOMPARE(tok->decode(ids), text);
        }
        const auto sp = loadTokenizer(fixtureJson(QStringLiteral("tokenizer-sentencepiece-bpe")));
        QCOMPARE(sp->decode({3 + 0xEF, 3 + 0xBB, 3 + 0xBF}), QStringLiteral("\ufeff"));

        ByteTokenizer bytes({QStringLiteral("<s>")});
        QCOMPARE(bytes.decode({0xEF, 0xBB, 0xBF, 'a'}), QStringLiteral("\ufeffa"));
        QCOMPARE(bytes.decode({256, 0xEF, 0xBB, 0xBF}), QStringLiteral("<s>\ufeff"));
    }

    void aTokenizerJsonThatIsADirectory()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString path = dir.filePath(QStringLiteral("model/tokenizer.json"));
        QVERIFY(QDir().mkpath(path));
        for (const auto &load : {std::function<void()>([&] { loadTokenizer(path); }),
                                 std::function<void()>([&] { HfTokenizer::fromFile(path); })}) {
            try {
                load();
                QFAIL("no error");
            } catch (const rs::Error &e) {
                QCOMPARE(e.source(), path);
                QVERIFY2(e.problem().contains(QLatin1String("is a directory")), qPrintable(e.message()));
            }
        }
        // A model folder without one still says which file is missing.
        try {
            loadTokenizer(dir.path());
            QFAIL("no error");
        } catch (const rs::Error &e) {
            QCOMPARE(e.source(), dir.filePath(QStringLiteral("tokenizer.json")));
            QVERIFY2(e.problem().contains(QLatin1String("no such tokenizer file")), qPrintable(e.message()));
        }
    }

    void malformedFilesAreRefused_data()
    {
        QTest::addColumn<QByteArray>("content");
        QTest::addColumn<QString>("problem");
        const QByteArray good = [] {
            QFile f(fixtureJson(QStringLiteral("tokenizer-bytelevel-bpe")));
            f.open(QIODevice::ReadOnly);
            return f.readAll();
        }();
        auto edit = [&good](auto change) {
            QJsonObject o = QJsonDocument::fromJson(good).object();
            change(o);
            return QJsonDocument(o).toJson();
        };
        QTest::newRow("bad JSON") << good.left(good.size() / 2) << QStringLiteral("malformed tokenizer.json");
        QTest::newRow("not an object") << QByteArray("[1, 2]") << QStringLiteral("malformed tokenizer.json");
        QTest::newRow("no model") << edit([](QJsonObject &o) { o.remove(QStringLiteral("model")); })
                                  << QStringLiteral("no \"model\"");
        QTest::newRow("WordPiece") << edit([](QJsonObject &o) {
            QJsonObject m = o.value(QLatin1String("model")).toObject();
            m[QStringLiteral("type")] = QStringLiteral("WordPiece");
            o[QStringLiteral("model")] = m;
        }) << QStringLiteral("unsupported model type \"WordPiece\"");
        QTest::newRow("missing vocab") << edit([](QJsonObject &o) {
            QJsonObject m = o.value(QLatin1String("model")).toObject();
            m.remove(QStringLiteral("vocab"));
            o[QStringLiteral("model")] = m;
        }) << QStringLiteral("no \"vocab\"");
        QTest::newRow("unknown merge token") << edit([](QJsonObject &o) {
            QJsonObject m = o.value(QLatin1String("model")).toObject();
            QJsonArray merges = m.value(QLatin1String("merges")).toArray();
            merges.append(QJsonArray{"zzz", "q"});
            m[QStringLiteral("merges")] = merges;
            o[QStringLiteral("model")] = m;
        }) << QStringLiteral("unknown token \"zzz\"");
        QTest::newRow("pre-tokenizer") << edit([](QJsonObject &o) {
            o[QStringLiteral("pre_tokenizer")] = QJsonObject{{"type", "BertPreTokenizer"}};
        }) << QStringLiteral("unsupported pre-tokenizer type \"BertPreTokenizer\"");
        QTest::newRow("normalizer") << edit([](QJsonObject &o) {
            o[QStringLiteral("normalizer")] = QJsonObject{{"type", "Precompiled"}, {"precompiled_charsmap", "AAAA"}};
        }) << QStringLiteral("unsupported normalizer type \"Precompiled\"");
        QTest::newRow("decoder") << edit([](QJsonObject &o) {
            o[QStringLiteral("decoder")] = QJsonObject{{"type", "WordPiece"}};
        }) << QStringLiteral("unsupported decoder type \"WordPiece\"");
        QTest::newRow("bad regex") << edit([](QJsonObject &o) {
            o[QStringLiteral("pre_tokenizer")] = QJsonObject{{"type", "Split"}, {"pattern", QJsonObject{{"Regex", "(unclosed"}}},
                                                             {"behavior", "Isolated"}, {"invert", false}};
        }) << QStringLiteral("invalid regex");
        // Ids that would make an absurd vocabulary (and crashed on allocating its id table).
        auto vocabId = [&edit](qint64 id) {
            return edit([id](QJsonObject &o) {
                QJsonObject m = o.value(QLatin1String("model")).toObject();
                QJsonObject v = m.value(QLatin1String("vocab")).toObject();
                v[QStringLiteral("zzz")] = id;
                m[QStringLiteral("vocab")] = v;
                o[QStringLiteral("model")] = m;
            });
        };
        QTest::newRow("vocab id INT_MAX") << vocabId(2147483647) << QStringLiteral("vocab entry \"zzz\" has id 2,147,483,647, which would make the vocabulary 2,147,483,648 ids long");
        QTest::newRow("vocab id 400M") << vocabId(400000000) << QStringLiteral("not credible");
        QTest::newRow("vocab id 2^40") << vocabId(qint64(1) << 40) << QStringLiteral("not credible");
        QTest::newRow("all vocab ids equal") << edit([](QJsonObject &o) {
            QJsonObject m = o.value(QLatin1String("model")).toObject();
            QJsonObject v = m.value(QLatin1String("vocab")).toObject();
            for (auto it = v.begin(); it != v.end(); ++it) it.value() = 7;
            m[QStringLiteral("vocab")] = v;
            o[QStringLiteral("model")] = m;
        }) << QStringLiteral("both have id 7");
        QTest::newRow("added-token id INT_MAX") << edit([](QJsonObject &o) {
            QJsonArray added = o.value(QLatin1String("added_tokens")).toArray();
            added.append(QJsonObject{{"id", 2147483647}, {"content", "<|huge|>"}, {"special", true}});
            o[QStringLiteral("added_tokens")] = added;
        }) << QStringLiteral("added token \"<|huge|>\" has id 2,147,483,647");
        QTest::newRow("Sequence pre-tokenizer, not a list") << edit([](QJsonObject &o) {
            o[QStringLiteral("pre_tokenizer")] = QJsonObject{{"type", "Sequence"}, {"pretokenizers", QJsonObject{{"type", "ByteLevel"}}}};
        }) << QStringLiteral("Sequence pre-tokenizer: \"pretokenizers\" is not a list");
        QTest::newRow("Sequence normalizer, no list") << edit([](QJsonObject &o) {
            o[QStringLiteral("normalizer")] = QJsonObject{{"type", "Sequence"}};
        }) << QStringLiteral("Sequence normalizer: no \"normalizers\" list");
        QTest::newRow("Sequence decoder, not objects") << edit([](QJsonObject &o) {
            o[QStringLiteral("decoder")] = QJsonObject{{"type", "Sequence"}, {"decoders", QJsonArray{"ByteLevel"}}};
        }) << QStringLiteral("Sequence decoder: entry 1 of \"decoders\" is not an object");
        QTest::newRow("invalid UTF-8") << QByteArray("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"\xC3\x28\": 0}}}")
                                       << QStringLiteral("malformed tokenizer.json");
    }

    void malformedFilesAreRefused()
    {
        QFETCH(QByteArray, content);
        QFETCH(QString, problem);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString path = dir.filePath(QStringLiteral("tokenizer.json"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(content);
        f.close();
        try {
            loadTokenizer(path);
            QFAIL("no error");
        } catch (const rs::Error &e) {
            QCOMPARE(e.source(), path);
            QVERIFY2(e.problem().contains(problem), qPrintable(e.message()));
        }
    }

    void missingFile()
    {
        QVERIFY_THROWS_EXCEPTION(rs::Error, loadTokenizer(QStringLiteral("/nonexistent/tokenizer.json")));
    }

    void byteTokenizer()
    {
        ByteTokenizer tok({QStringLiteral("<bos>"), QStringLiteral("<eos>")});
        QCOMPARE(tok.vocabSize(), 258);
        QCOMPARE(tok.bosId(), -1);
        QVERIFY(tok.setBosToken(QStringLiteral("<bos>")));
        QCOMPARE(tok.bosId(), 256);
        const QString text = QStringLiteral("héllo 東京 🙂\n");
        const std::vector<int> ids = tok.encode(text);
        QCOMPARE(int(ids.size()), int(text.toUtf8().size()));
        for (int id : ids) QVERIFY(id >= 0 && id < 256);
        QCOMPARE(tok.decode(ids), text);
        const std::vector<int> withBos = tok.encode(text + QStringLiteral("<eos>"), true);
        QCOMPARE(withBos.front(), 256);
        QCOMPARE(withBos.back(), 257);
        QCOMPARE(tok.decode(withBos), QStringLiteral("<bos>") + text + QStringLiteral("<eos>"));
        QCOMPARE(tok.decode(withBos, true), text);
        QCOMPARE(tok.idToToken(0x41), QStringLiteral("<0x41>"));
        QCOMPARE(tok.tokenToId(QStringLiteral("<0x41>")), 0x41);
        QCOMPARE(tok.tokenToId(QStringLiteral("<eos>")), 257);
        QVERIFY(tok.isSpecial(257));
        QVERIFY(!tok.isSpecial(65));

        // Through the interface.
        std::unique_ptr<Tokenizer> base = std::make_unique<ByteTokenizer>();
        QCOMPARE(base->decode(base->encode(QStringLiteral("abc"))), QStringLiteral("abc"));
        QCOMPARE(base->encode(QStringLiteral("abc")), std::vector<int>({97, 98, 99}));
    }

    void megabyteInBoundedTime_data()
    {
        QTest::addColumn<QString>("fixture");
        for (const QString &name : {QStringLiteral("tokenizer-bytelevel-bpe"), QStringLiteral("tokenizer-sentencepiece-bpe")})
            QTest::newRow(qPrintable(name)) << name;
    }

    void megabyteInBoundedTime()
    {
        QFETCH(QString, fixture);
        const auto tok = loadTokenizer(fixtureJson(fixture));
        QString text = generateFillerText(1 << 20, 7);
        for (const QString &t : extraTexts()) text += t;
        QElapsedTimer timer;
        timer.start();
        const std::vector<int> ids = tok->encode(text);
        const qint64 encodeMs = timer.elapsed();
        timer.restart();
        const QString back = tok->decode(ids);
        const qint64 decodeMs = timer.elapsed();
        qInfo("%s: %lld chars -> %zu tokens: encode %lld ms, decode %lld ms", qPrintable(fixture),
              qlonglong(text.size()), ids.size(), encodeMs, decodeMs);
        QCOMPARE(back, text);
    }
};

QTEST_GUILESS_MAIN(TestTokenizer)
#include "test_tokenizer.moc"
