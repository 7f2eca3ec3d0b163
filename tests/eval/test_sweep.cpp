// The evaluation workbench's engine (eval/sweep.h) on a tiny fixture model: the cells a sweep makes
// and their order, each figure against the evaluators and the statistics computed here, the
// held-out perplexity against a window-by-window computation written here, the reference
// comparisons, cancellation, the methods' deployment, the result files (JSON and CSV round trips,
// bad files named), and the table that runs on the same engine.
#include "common/error.h"
#include "eval/comparison.h"
#include "eval/evaluator.h"
#include "eval/needle.h"
#include "eval/sweep.h"
#include "rope/factorfamilies.h"
#include "runtime/model.h"
#include "runtime/tokenizer.h"

#include <QFile>
#include <QJsonDocument>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace rs;

namespace {

// llama-longrope: d = 16, L_train = 128 (its original_max_position_embeddings), so lengths of
// 400 and 512 bytes (the needle template needs 373) are 3.1 × and 4 × L_train.
const QString kModel = QStringLiteral(ROPESCOPE_FIXTURES "/models/llama-longrope");
const QString kTokenizer = QStringLiteral(ROPESCOPE_FIXTURES "/tokenizers/bytes-256-tokenizer.json");
constexpr int kTarget = 512;

double mean(const std::vector<double> &v) { return std::accumulate(v.begin(), v.end(), 0.0) / double(v.size()); }

std::vector<SweepMethodSpec> specs()
{
    return {SweepMethodSpec{QStringLiteral("original"), QStringLiteral("none"), {}, 0, {}, {}},
            SweepMethodSpec{QStringLiteral("YaRN"), QStringLiteral("yarn"), {}, 0, {}, {}},
            SweepMethodSpec{QStringLiteral("fourfold"), QStringLiteral("factors"), std::vector<double>(8, 4.0), 0,
                            QStringLiteral("(test)"), {}},
            SweepMethodSpec{QStringLiteral("config"), QStringLiteral("config"), {}, 0, {}, {}}};
}

SweepSettings settings()
{
    SweepSettings s;
    s.lengths = {400, 512};
    s.depths = {0, 1};
    s.samples = 2;
    s.seed = 21;
    s.passkey = true;
    s.targetLength = kTarget;
    s.resamples = 500;
    return s;
}

} // namespace

class TestSweep : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        m_model = CausalLM::load(kModel);
        m_tokenizer = loadTokenizer(kTokenizer);
        m_methods = resolveSweepMethods(specs(), *m_model, kTarget);
        std::vector<SweepCell> reported;
        SweepCallbacks callbacks;
        callbacks.cellDone = [&](const SweepCell &c) { reported.push_back(c); };
        callbacks.progress = [&](int done, int total) {
            QCOMPARE(done, int(reported.size()));
            QCOMPARE(total, 24);
        };
        m_result = runSweep(m_methods.methods, specs(), *m_tokenizer, -1, settings(), callbacks);
        QCOMPARE(reported.size(), m_result.cells.size());
        for (size_t i = 0; i < reported.size(); ++i)
            QCOMPARE(reported[i].method, m_result.cells[i].method);
    }

    void logSpacedLengths_()
    {
        QCOMPARE(logSpacedLengths(256, 4096, 5), (std::vector<int>{256, 512, 1024, 2048, 4096}));
        QCOMPARE(logSpacedLengths(100, 100, 3), (std::vector<int>{100}));
        QCOMPARE(logSpacedLengths(2, 3, 5), (std::vector<int>{2, 3}));  // rounded duplicates dropped
    }

    // 2 lengths × (depths {0, 1}, the curve's depth 0 among them, + held-out) × 4 methods, length
    // by length, needle depths ascending, then held-out, the reference first in each group.
    void cellsAndTheirOrder()
    {
        QCOMPARE(sweepCellCount(settings(), 4), 24);
        QCOMPARE(int(m_result.cells.size()), 24);
        QVERIFY(!m_result.cancelled);
        QCOMPARE(m_result.settings.reference, QStringLiteral("original"));
        QCOMPARE(m_result.trainLength, 128);
        int k = 0;
        for (int length : {400, 512})
            for (int group = 0; group < 3; ++group)
                for (const QString &method : {"original", "YaRN", "fourfold", "config"}) {
                    const SweepCell &c = m_result.cells[size_t(k++)];
                    QCOMPARE(c.length, length);
                    QCOMPARE(c.method, method);
                    QCOMPARE(c.measure, group < 2 ? SweepMeasure::Needle : SweepMeasure::HeldOut);
                    if (group < 2)
                        QCOMPARE(c.depth, double(group));
                    QCOMPARE(int(c.values.size()), 2);
                    QCOMPARE(c.reference.isEmpty(), method == QLatin1String("original"));
                }
    }

    // Each needle cell is the evaluator's figure for the method's RoPE at that length, and its
    // aggregate, interval and comparison are the statistics of its per-sample values.
    void needleCellsAreTheEvaluatorsFigures()
    {
        const FactorSet yarn = standardFamilies(m_model->ropeConfig(), kTarget).at(QStringLiteral("yarn"));
        // "fourfold" is deployed as longrope: beyond L_train its λ with longrope's attention factor
        // for s = 512 / 128 = 4, sqrt(1 + ln 4 / ln 128).
        const double attention = std::sqrt(1 + std::log(4.0) / std::log(128.0));
        const std::map<QString, std::optional<RopeOverride>> ropes{
            {QStringLiteral("original"), RopeOverride{std::vector<double>(8, 1.0), 1.0}},
            {QStringLiteral("YaRN"), RopeOverride{yarn.lambda, yarn.attentionFactor}},
            {QStringLiteral("fourfold"), RopeOverride{std::vector<double>(8, 4.0), attention}},
            {QStringLiteral("config"), std::nullopt}};
        for (int length : {400, 512})
            for (double depth : {0.0, 1.0}) {
                NeedleEvalSettings ns;
                ns.length = length;
                ns.samples = 2;
                ns.seed = 21;
                ns.depth = depth;
                const NeedleEvaluator evaluator(*m_model, *m_tokenizer, -1, ns);
                const SweepCell *reference = m_result.find(SweepMeasure::Needle, QStringLiteral("original"), length, depth);
                QVERIFY(reference);
                for (const auto &[name, rope] : ropes) {
                    const SweepCell *c = m_result.find(SweepMeasure::Needle, name, length, depth);
                    QVERIFY(c);
                    const NeedleEvalResult r = evaluator.evaluate(rope ? &*rope : nullptr, {}, {}, true);
                    QCOMPARE(c->values, r.perSamplePpl);
                    QCOMPARE(c->nll, r.perSampleNll);
                    QCOMPARE(c->passkey, r.perSamplePasskey);
                    QCOMPARE(c->value, mean(r.perSamplePpl));
                    const Interval i = bootstrapAggregate(r.perSamplePpl, Aggregate::Mean, settings().bootstrap());
                    QCOMPARE(c->interval.lower, i.lower);
                    QCOMPARE(c->interval.upper, i.upper);
                    const int correct = std::accumulate(r.perSamplePasskey.begin(), r.perSamplePasskey.end(), 0);
                    QCOMPARE(c->passkeyAccuracy, correct / 2.0);
                    QCOMPARE(c->passkeyInterval.upper, wilsonInterval(correct, 2).upper);
                    if (name != QLatin1String("original")) {
                        QCOMPARE(c->reference, QStringLiteral("original"));
                        QVERIFY(std::abs(c->vsReference.difference.estimate - (c->value - reference->value)) < 1e-12);
                        QVERIFY(std::abs(c->vsReference.ratio.estimate - c->value / reference->value) < 1e-12);
                        QCOMPARE(c->vsReference.samples, 2);
                    }
                }
            }
        // The methods differ: the check above compares different numbers.
        QVERIFY(m_result.find(SweepMeasure::Needle, QStringLiteral("YaRN"), 512, 0)->value !=
                m_result.find(SweepMeasure::Needle, QStringLiteral("original"), 512, 0)->value);
    }

    // Held-out cells: documents of the longest length from seeds heldOutSeed + i; a cell of length L
    // scores the first L tokens of each in one window (every token after the first, given all
    // the text before it) — recomputed here with targetNll.
    void heldOutCellsScoreTheDocumentsCutToTheLength()
    {
        const std::vector<std::vector<int>> docs = heldOutDocuments(*m_tokenizer, -1, {}, settings().heldOutSeed, 2, 512);
        QCOMPARE(int(docs.size()), 2);
        QCOMPARE(int(docs[0].size()), 512);
        QVERIFY(docs[0] != docs[1]);
        const FactorSet yarn = standardFamilies(m_model->ropeConfig(), kTarget).at(QStringLiteral("yarn"));
        const RopeOverride rope{yarn.lambda, yarn.attentionFactor};
        for (int length : {400, 512}) {
            const SweepCell *c = m_result.find(SweepMeasure::HeldOut, QStringLiteral("YaRN"), length);
            QVERIFY(c);
            for (size_t d = 0; d < docs.size(); ++d) {
                const std::vector<int> prefix(docs[d].begin(), docs[d].begin() + length);
                std::vector<int> targets(size_t(length - 1));
                std::iota(targets.begin(), targets.end(), 1);
                const double nll = mean(m_model->targetNll(prefix, targets, &rope));
                QVERIFY(std::abs(c->nll[d] - nll) < 1e-9);
                QVERIFY(std::abs(c->values[d] - std::exp(nll)) < 1e-9);
            }
            QVERIFY(std::abs(c->value - std::exp(mean(c->nll))) < 1e-12);
            const SweepCell *reference = m_result.find(SweepMeasure::HeldOut, QStringLiteral("original"), length);
            QVERIFY(std::abs(c->vsReference.ratio.estimate - std::exp(mean(c->nll) - mean(reference->nll))) < 1e-12);
        }
        // The documents are held out from the needle samples: other text.
        NeedleEvalSettings ns;
        ns.length = 512;
        ns.samples = 1;
        ns.seed = 21;
        const NeedleEvaluator evaluator(*m_model, *m_tokenizer, -1, ns);
        QVERIFY(std::search(evaluator.samples()[0].ids.begin(), evaluator.samples()[0].ids.end(), docs[0].begin(),
                            docs[0].begin() + 32) == evaluator.samples()[0].ids.end());
    }

    // A length too short for the needle template keeps its held-out cells and loses its needle
    // cells, and the result says why; templateTokens is the shortest length build() accepts.
    void shortLengthsKeepHeldOutCells()
    {
        const NeedleBuilder builder([this](const QString &t) { return m_tokenizer->encode(t); }, Haystack::builtin());
        int minimum = 0;
        for (uint64_t seed : {21, 22}) {
            const int fixed = builder.templateTokens(seed, -1);
            NeedleOptions o;
            o.seed = seed;
            o.length = fixed;
            QCOMPARE(int(builder.build(o).ids.size()), fixed);
            o.length = fixed - 1;
            QVERIFY_THROWS_EXCEPTION(Error, builder.build(o));
            minimum = std::max(minimum, fixed);
        }
        SweepSettings s = settings();
        s.lengths = {200, 400};
        s.depths = {};
        int announced = 0;
        SweepCallbacks callbacks;
        callbacks.started = [&](int cells) { announced = cells; };
        const std::vector<ComparedMethod> two(m_methods.methods.begin(), m_methods.methods.begin() + 2);
        const std::vector<SweepMethodSpec> all = specs();
        const std::vector<SweepMethodSpec> twoSpecs(all.begin(), all.begin() + 2);
        const SweepResult r = runSweep(two, twoSpecs, *m_tokenizer, -1, s, callbacks);
        QCOMPARE(announced, (1 + 2) * 2);  // needle at 400 only; held-out at both lengths
        QCOMPARE(int(r.cells.size()), announced);
        QVERIFY(!r.find(SweepMeasure::Needle, QStringLiteral("original"), 200, 0.0));
        QVERIFY(r.find(SweepMeasure::HeldOut, QStringLiteral("original"), 200));
        QCOMPARE(r.notes.size(), 1);
        QVERIFY2(r.notes.front().contains(QString::number(minimum)), qPrintable(r.notes.front()));
        QCOMPARE(SweepResult::fromJson(r.toJson(), QStringLiteral("mem")).notes, r.notes);
        s.heldOut = false;
        s.lengths = {200};
        QVERIFY_THROWS_EXCEPTION(Error, runSweep(two, twoSpecs, *m_tokenizer, -1, s));
    }

    void cancelStopsBetweenCells()
    {
        int done = 0;
        SweepCallbacks callbacks;
        callbacks.cellDone = [&](const SweepCell &) { ++done; };
        callbacks.cancelled = [&] { return done >= 3; };
        const SweepResult r = runSweep(m_methods.methods, specs(), *m_tokenizer, -1, settings(), callbacks);
        QVERIFY(r.cancelled);
        QCOMPARE(int(r.cells.size()), 3);
    }

    void badMethodsAndSettings()
    {
        std::vector<SweepMethodSpec> bad = specs();
        bad[1].name = QStringLiteral("original");
        QVERIFY_THROWS_EXCEPTION(Error, resolveSweepMethods(bad, *m_model, kTarget));
        bad = specs();
        bad[2].lambda.resize(5);
        try {
            resolveSweepMethods(bad, *m_model, kTarget);
            QFAIL("factors of the wrong length were accepted");
        } catch (const Error &e) {
            QVERIFY2(e.message().contains(QLatin1String("5 factors")) && e.message().contains(QLatin1String("(test)")),
                     qPrintable(e.message()));
        }
        bad = specs();
        bad[0].kind = QStringLiteral("magic");
        QVERIFY_THROWS_EXCEPTION(Error, resolveSweepMethods(bad, *m_model, kTarget));
        SweepSettings s = settings();
        s.reference = QStringLiteral("nobody");
        QVERIFY_THROWS_EXCEPTION(Error, runSweep(m_methods.methods, specs(), *m_tokenizer, -1, s));
        s = settings();
        s.depths = {1.5};
        QVERIFY_THROWS_EXCEPTION(Error, runSweep(m_methods.methods, specs(), *m_tokenizer, -1, s));
    }

    // A result survives JSON and CSV: every per-sample value, interval and comparison.
    void filesRoundTrip()
    {
        const auto same = [](const SweepResult &a, const SweepResult &b) {
            QCOMPARE(b.cells.size(), a.cells.size());
            QCOMPARE(b.methodNames(), a.methodNames());
            QCOMPARE(b.settings.lengths, a.settings.lengths);
            QCOMPARE(b.settings.depths, a.settings.depths);
            QCOMPARE(b.settings.seed, a.settings.seed);
            QCOMPARE(b.settings.reference, a.settings.reference);
            QCOMPARE(b.methods[2].lambda, a.methods[2].lambda);
            QCOMPARE(b.trainLength, a.trainLength);
            for (size_t i = 0; i < a.cells.size(); ++i) {
                const SweepCell &x = a.cells[i], &y = b.cells[i];
                QCOMPARE(y.measure, x.measure);
                QCOMPARE(y.method, x.method);
                QCOMPARE(y.length, x.length);
                QCOMPARE(y.depth, x.depth);
                QCOMPARE(y.values, x.values);
                QCOMPARE(y.nll, x.nll);
                QCOMPARE(y.passkey, x.passkey);
                QCOMPARE(y.value, x.value);
                QCOMPARE(y.interval.lower, x.interval.lower);
                QCOMPARE(y.interval.upper, x.interval.upper);
                QCOMPARE(y.reference, x.reference);
                if (!x.reference.isEmpty()) {
                    QCOMPARE(y.vsReference.ratio.lower, x.vsReference.ratio.lower);
                    QCOMPARE(y.vsReference.difference.upper, x.vsReference.difference.upper);
                }
            }
        };
        same(m_result, SweepResult::fromJson(m_result.toJson(), QStringLiteral("mem")));
        same(m_result, SweepResult::fromCsv(m_result.toCsv(), QStringLiteral("mem")));
        QTemporaryDir dir;
        for (const char *name : {"r.json", "r.csv"}) {
            const QString path = dir.filePath(QLatin1String(name));
            m_result.save(path);
            same(m_result, SweepResult::load(path));
        }
        QVERIFY(m_result.markdown().contains(QLatin1String("| fourfold |")));
    }

    void badFilesAreNamed_data()
    {
        QTest::addColumn<QByteArray>("content");
        QTest::addColumn<QString>("problem");
        QTest::newRow("not json") << QByteArray("{nope") << QStringLiteral("malformed JSON");
        QTest::newRow("other format") << QByteArray(R"({"format": "ropescope-session"})") << QStringLiteral("not a RopeScope sweep");
        QTest::newRow("future version") << QByteArray(R"({"format": "ropescope-sweep", "version": 9})")
                                        << QStringLiteral("version 9");
        QTest::newRow("csv without header") << QByteArray("# something else\n") << QStringLiteral("not a RopeScope sweep CSV");
    }

    void badFilesAreNamed()
    {
        QFETCH(QByteArray, content);
        QFETCH(QString, problem);
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("bad.json"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(content);
        f.close();
        try {
            SweepResult::load(path);
            QFAIL("a bad file was accepted");
        } catch (const Error &e) {
            QVERIFY2(e.message().contains(path) && e.message().contains(problem), qPrintable(e.message()));
        }
        // A CSV whose row lost a field names its line.
        QString csv = m_result.toCsv();
        csv.replace(csv.indexOf(QLatin1String(",original,")), 10, QStringLiteral(",original"));
        try {
            SweepResult::fromCsv(csv, QStringLiteral("cut.csv"));
            QFAIL("a short row was accepted");
        } catch (const Error &e) {
            QVERIFY2(e.message().contains(QLatin1String("cut.csv")) && e.message().contains(QLatin1String("line 3")),
                     qPrintable(e.message()));
        }
    }

    // The table is a sweep at depth 0: same numbers, plus the short-context windows' intervals.
    void tableRunsOnTheEngine()
    {
        ComparisonSettings cs;
        cs.lengths = {400, 512};
        cs.samples = 2;
        cs.seed = 21;
        cs.passkey = true;
        cs.heldOutIds = heldOutDocuments(*m_tokenizer, -1, {}, 5, 1, 4 * 128).front();
        cs.shortWindow = 128;
        cs.bootstrap.resamples = 500;
        const ComparisonTable t = compareMethods(m_methods.methods, *m_tokenizer, -1, cs);
        QCOMPARE(t.reference, QStringLiteral("original"));
        for (const ComparisonRow &row : t.rows) {
            for (size_t i = 0; i < 2; ++i) {
                const SweepCell *c = m_result.find(SweepMeasure::Needle, row.method, cs.lengths[i], 0.0);
                QCOMPARE(row.cells[i].needlePpl, c->value);
                QCOMPARE(row.cells[i].passkeyAccuracy, c->passkeyAccuracy);
            }
            // Four disjoint windows of 128; the PPL is the plain sliding perplexity.
            QCOMPARE(int(row.shortWindowNll.size()), 4);
            QVERIFY(std::abs(row.shortPpl - std::exp(mean(row.shortWindowNll))) < 1e-9 * row.shortPpl);
            QVERIFY(row.shortPplInterval.valid());
        }
        QCOMPARE(t.rows.front().shortRetention, 100.0);
        QVERIFY(t.intervalMarkdown(128).contains(QStringLiteral("×")));
    }

private:
    std::unique_ptr<CausalLM> m_model;
    std::unique_ptr<Tokenizer> m_tokenizer;
    ResolvedSweepMethods m_methods;
    SweepResult m_result;
};

QTEST_GUILESS_MAIN(TestSweep)
#include "test_sweep.moc"
