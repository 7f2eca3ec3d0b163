// The training corpus and packing (train/trainer.h): documents have exactly the length asked for and
// are the same for the same seed; needle documents hold the evaluation template verbatim with the
// answer at the very end; packed rows tile their length with documents inside the set bounds; a
// user corpus supplies the text. Checked through the byte-level tokenizer the runtime loads.
#include "common/error.h"
#include "eval/needle.h"
#include "runtime/tokenizer.h"
#include "train/trainer.h"

#include <QFile>
#include <QRegularExpression>
#include <QMap>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>

using namespace rs;

namespace {

const Tokenizer &bytesTokenizer()
{
    static const std::unique_ptr<Tokenizer> t =
        loadTokenizer(QStringLiteral(ROPESCOPE_FIXTURES "/tokenizers/bytes-256-tokenizer.json"));
    return *t;
}

TrainingCorpus::Encoder encoder()
{
    return [](const QString &text) { return bytesTokenizer().encode(text); };
}

TrainingCorpus makeCorpus(uint64_t seed, double needles = 0.5, const QString &path = {})
{
    CorpusOptions o;
    o.seed = seed;
    o.needleFraction = needles;
    o.path = path;
    return TrainingCorpus(encoder(), o);
}

} // namespace

class TestTrainingCorpus : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void exactLengthAndDeterministic()
    {
        const TrainingCorpus a = makeCorpus(1), b = makeCorpus(1), c = makeCorpus(2);
        for (int length : {1, 7, 64, 333, 1000}) {
            for (bool needle : {false, true}) {
                const TrainDocument x = a.document(5, length, needle);
                QCOMPARE(int(x.ids.size()), length);
                QCOMPARE(b.document(5, length, needle).ids, x.ids);
                if (length >= 64)
                    QVERIFY(c.document(5, length, needle).ids != x.ids);
            }
        }
        QVERIFY(a.document(5, 200, false).ids != a.document(6, 200, false).ids);
    }

    void plainDocumentsAreProse()
    {
        const TrainingCorpus corpus = makeCorpus(3);
        const TrainDocument d = corpus.document(0, 600, false);
        QVERIFY(!d.hasNeedle);
        const QString text = bytesTokenizer().decode(d.ids);
        QVERIFY(!text.contains(QLatin1String("magic number")));
        // Sentences of the filler grammar: capitalised, ending in a full stop, words of letters.
        const QStringList sentences = text.split(QRegularExpression(QStringLiteral("(?<=\\.)\\s+")), Qt::SkipEmptyParts);
        QVERIFY(sentences.size() >= 10);
        for (int i = 0; i + 1 < sentences.size(); ++i) {  // the last may be cut off
            QVERIFY2(sentences[i].front().isUpper(), qPrintable(sentences[i]));
            QVERIFY2(sentences[i].endsWith(QLatin1Char('.')), qPrintable(sentences[i]));
        }
    }

    void needleDocumentsHoldTheTemplate()
    {
        const TrainingCorpus corpus = makeCorpus(4);
        // The template alone (intro + needle + question + answer) is ~330 bytes with byte tokens.
        QVERIFY(corpus.needleTemplateTokens() > 250 && corpus.needleTemplateTokens() < 400);
        QSet<int> depths;
        QSet<QString> keys;
        for (uint64_t i = 0; i < 12; ++i) {
            const int length = 500 + int(i) * 37;
            const TrainDocument d = corpus.document(i, length, true);
            QVERIFY(d.hasNeedle);
            QCOMPARE(int(d.ids.size()), length);
            QVERIFY(QRegularExpression(QStringLiteral("^\\d{7}$")).match(d.value).hasMatch());
            QVERIFY(QRegularExpression(QStringLiteral("^[a-z]+-[a-z]+$")).match(d.key).hasMatch());
            const QString text = bytesTokenizer().decode(d.ids);
            // Written out here, not taken from NeedleBuilder: the template the paper uses.
            QVERIFY(text.startsWith(QStringLiteral("A special magic number is hidden within the following text. "
                                                   "Make sure to memorize it. I will quiz you about the number afterwards.\n")));
            const QString needle = QStringLiteral("\nOne of the special magic numbers for %1 is: %2.\n").arg(d.key, d.value);
            QCOMPARE(text.count(needle), 1);
            const QString tail = QStringLiteral("\nWhat is the special magic number for %1 mentioned in the provided text? "
                                                "The special magic number for %1 mentioned in the provided text is %2")
                                     .arg(d.key, d.value);
            QVERIFY2(text.endsWith(tail), qPrintable(text.right(200)));
            QVERIFY(text.indexOf(needle) < text.size() - tail.size());
            // The answer positions are the value's 7 digit bytes at the end.
            QCOMPARE(int(d.answerPositions.size()), 8);  // " " + 7 digits with byte tokens
            QCOMPARE(d.answerPositions.back(), length - 1);
            QCOMPARE(bytesTokenizer().decode({d.ids.begin() + d.needlePosition, d.ids.begin() + d.needlePosition + needle.size()}),
                     needle);
            depths.insert(int(10.0 * d.needlePosition / length));
            keys.insert(d.key);
        }
        QVERIFY2(depths.size() >= 4, "needles should sit at varied depths");
        QVERIFY(keys.size() >= 8);
        // Too short for the template: a plain document of the exact length.
        const TrainDocument shortDoc = corpus.document(99, corpus.needleTemplateTokens() - 20, true);
        QVERIFY(!shortDoc.hasNeedle);
        QCOMPARE(int(shortDoc.ids.size()), corpus.needleTemplateTokens() - 20);
    }

    void drillDocuments()
    {
        CorpusOptions o;
        o.seed = 11;
        o.needleFraction = 1;
        o.drillFraction = 1;
        const TrainingCorpus corpus(encoder(), o);
        const QRegularExpression needleRe(QStringLiteral("\nOne of the special magic numbers for ([a-z]+-[a-z]+) is: (\\d{7})\\.\n"));
        const QRegularExpression queryRe(
            QStringLiteral("\nThe special magic number for ([a-z]+-[a-z]+) mentioned in the provided text is (\\d{7})"));
        int needles = 0;
        for (uint64_t i = 0; i < 10; ++i) {
            const int length = 380 + int(i) * 25;
            const TrainDocument d = corpus.document(i, length, true);
            QCOMPARE(int(d.ids.size()), length);
            QVERIFY(d.hasNeedle);
            QCOMPARE(corpus.document(i, length, true).ids, d.ids);
            const QString text = bytesTokenizer().decode(d.ids);
            // Needles: distinct keys, all before the first question.
            QMap<QString, QString> valueOf;
            int lastNeedleEnd = 0;
            for (auto it = needleRe.globalMatch(text); it.hasNext();) {
                const QRegularExpressionMatch m = it.next();
                QVERIFY2(!valueOf.contains(m.captured(1)), "drill keys must be distinct");
                valueOf.insert(m.captured(1), m.captured(2));
                lastNeedleEnd = int(m.capturedEnd());
            }
            QCOMPARE(int(valueOf.size()), d.needleCount);
            QVERIFY(d.needleCount >= 2 && d.needleCount <= 4);
            needles += d.needleCount;
            // Every question asks for a key of this document and is answered with its value; the
            // answer positions are exactly those values' bytes (with the space before them).
            std::vector<int> expected;
            QSet<QString> asked;
            for (auto it = queryRe.globalMatch(text); it.hasNext();) {
                const QRegularExpressionMatch m = it.next();
                QVERIFY(m.capturedStart() >= lastNeedleEnd);
                QCOMPARE(valueOf.value(m.captured(1)), m.captured(2));
                asked.insert(m.captured(1));
                for (int k = int(m.capturedStart(2)) - 1; k < m.capturedEnd(2); ++k)
                    expected.push_back(k);
            }
            QCOMPARE(asked.size(), valueOf.size());
            QCOMPARE(d.answerPositions, expected);  // one byte per character: text indices are token indices
            QVERIFY(text.endsWith(d.value));
        }
        QVERIFY(needles >= 24);  // 2 to 3 needles per document at these lengths
        // Too short for one needle and its question: the template rules apply (plain text here).
        QVERIFY(!corpus.document(3, 80, true).hasNeedle);
    }

    void packedRows()
    {
        const TrainingCorpus corpus = makeCorpus(5, 0.5);
        PackingOptions o;
        o.rowLength = 1024;
        o.minDocTokens = 48;
        o.maxShortTokens = 512;
        int needles = 0, docs = 0;
        for (uint64_t r = 0; r < 12; ++r) {
            const PackedRow row = packRow(corpus, r, o);
            QCOMPARE(int(row.ids.size()), o.rowLength);
            QCOMPARE(packRow(corpus, r, o).ids, row.ids);
            int at = 0;
            std::vector<int> answers;  // each needle document's answer: its last 8 bytes (" " + 7 digits)
            for (const DocSpan &s : row.docs) {
                QCOMPARE(s.start, at);
                QVERIFY(!s.longRope);
                QVERIFY2(s.length >= o.minDocTokens && s.length <= o.maxShortTokens, qPrintable(QString::number(s.length)));
                at += s.length;
                const QString text = bytesTokenizer().decode({row.ids.begin() + s.start, row.ids.begin() + s.start + s.length});
                if (text.startsWith(QLatin1String("A special magic number"))) {
                    ++needles;
                    for (int k = s.start + s.length - 8; k < s.start + s.length; ++k)
                        answers.push_back(k);
                }
                ++docs;
            }
            QCOMPARE(at, o.rowLength);
            QCOMPARE(row.answerPositions, answers);
        }
        // Half the documents that could hold the template should (binomial: far from 0 and from all).
        QVERIFY2(needles >= 3 && needles < docs, qPrintable(QStringLiteral("%1 of %2").arg(needles).arg(docs)));
        QVERIFY(packRow(corpus, 0, o).ids != packRow(corpus, 1, o).ids);
        QVERIFY(packRow(makeCorpus(6), 0, o).ids != packRow(corpus, 0, o).ids);
    }

    void mixedWindowRows()
    {
        const TrainingCorpus corpus = makeCorpus(7, 0.3);
        PackingOptions o;
        o.rowLength = 2048;
        o.minDocTokens = 32;
        o.maxShortTokens = 512;  // L_train
        o.longFraction = 0.5;
        o.longMinTokens = 513;
        int withLong = 0;
        long longTokens = 0;
        const int rows = 64;
        for (uint64_t r = 0; r < uint64_t(rows); ++r) {
            const PackedRow row = packRow(corpus, r, o);
            QCOMPARE(int(row.ids.size()), o.rowLength);
            int at = 0;
            for (size_t k = 0; k < row.docs.size(); ++k) {
                const DocSpan &s = row.docs[k];
                QCOMPARE(s.start, at);
                at += s.length;
                // A document is long exactly when it exceeds L_train, and a row is all long or all short
                // (the reference recipe's homogeneous rows).
                QCOMPARE(s.longRope, s.length > o.maxShortTokens);
                QCOMPARE(s.longRope, row.docs.front().longRope);
                QVERIFY(s.length >= o.minDocTokens);
                longTokens += s.longRope ? s.length : 0;
            }
            QCOMPARE(at, o.rowLength);
            withLong += row.docs.front().longRope ? 1 : 0;
        }
        // Long rows are Binomial(64, 0.5): 32 ± 4; outside 16 … 48 is a 4-sigma event. Their tokens are
        // exactly the long documents' tokens.
        QVERIFY2(withLong >= 16 && withLong <= 48, qPrintable(QString::number(withLong)));
        QCOMPARE(longTokens, long(withLong) * o.rowLength);
        o.longMinTokens = 400;  // not above the short limit
        QVERIFY_THROWS_EXCEPTION(Error, packRow(corpus, 0, o));
    }

    void userCorpus()
    {
        QTemporaryDir tmp;
        const QString line = QStringLiteral("Zebras graze near the windmill while the kettle whistles.");
        for (int i = 0; i < 3; ++i) {
            QFile f(tmp.filePath(QStringLiteral("doc%1.txt").arg(i)));
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write((line + QLatin1Char(' ')).repeated(20).toUtf8());
        }
        const TrainingCorpus corpus = makeCorpus(8, 0.5, tmp.path());
        QVERIFY(corpus.description().contains(tmp.path()));
        const QString text = bytesTokenizer().decode(corpus.document(1, 400, false).ids);
        QVERIFY(text.startsWith(line));
        const TrainDocument n = corpus.document(2, 700, true);
        QVERIFY(n.hasNeedle);
        QVERIFY(bytesTokenizer().decode(n.ids).contains(QLatin1String("Zebras graze")));
        QVERIFY_THROWS_EXCEPTION(Error, makeCorpus(8, 0.5, tmp.filePath(QStringLiteral("missing"))));
    }
};

QTEST_GUILESS_MAIN(TestTrainingCorpus)
#include "test_trainingcorpus.moc"
