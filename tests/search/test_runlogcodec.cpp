// The run log's codec: every record type survives toJson → fromJson unchanged (and writes the keys
// the format has always had), old logs without a version read as version 1 and a newer version is
// refused, malformed evaluations are named, and every run log committed in the repository reads
// through it record by record, re-encodes to the same JSON and resumes with its own settings.
#include "committedlogs.h"

#include "common/error.h"
#include "search/runlogcodec.h"
#include "search/search_p.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <limits>

using namespace rs;

namespace {

SearchSettings someSettings()
{
    SearchSettings s;
    s.rotaryDims = 16;
    s.base = 10000;
    s.trainLength = 1024;
    s.targetLength = 4096;
    s.population = 6;
    s.iterations = 3;
    s.parents = 3;
    s.mutations = 2;
    s.crossovers = 1;
    s.dRcdMin = 3;
    s.dRcdMax = 5;
    s.seed = 18446744073709551615ull;  // survives as a string, not a double
    s.racing = true;
    s.racingKeepFraction = 0.25;
    s.fitness = FitnessAggregate::ExpMeanNll;
    s.maxEvaluations = 100;
    s.maxSeconds = 12.5;
    s.validationTop = 2;
    s.chooseByValidation = false;
    return s;
}

template <typename Record>
QJsonObject roundTripped(const Record &r)
{
    return Record::fromJson(r.toJson()).toJson();
}

QByteArray text(const QJsonObject &o) { return QJsonDocument(o).toJson(QJsonDocument::Compact); }

} // namespace

class TestRunLogCodec : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void startRoundTrips()
    {
        StartRecord start;
        start.settings.search = someSettings();
        start.settings.samples = 3;
        start.settings.validationSamples = 6;
        start.settings.baselines = {{QStringLiteral("pi"), Candidate{std::vector<double>(8, 4.0), 1.2}}};
        RunContext context;
        context.model = QStringLiteral("/models/tiny");
        context.samples = 3;
        context.length = 4096;
        context.device = QStringLiteral("cpu");
        context.dtype = QStringLiteral("float32");
        context.attentionFactor = 1.19;
        context.validationSamples = 6;
        context.validationSeed = 3;
        start.settings.context = context.toJson();
        const QJsonObject o = start.toJson();
        QCOMPARE(o.value(QStringLiteral("event")).toString(), QStringLiteral("start"));
        QCOMPARE(o.value(QStringLiteral("version")).toInt(), kRunLogVersion);
        QCOMPARE(roundTripped(start), o);
        const StartRecord back = StartRecord::fromJson(o);
        QCOMPARE(back.settings.search.seed, start.settings.search.seed);
        QCOMPARE(back.settings.search.maxEvaluations, 100);
        QCOMPARE(back.settings.search.maxSeconds, 12.5);
        QCOMPARE(back.settings.search.chooseByValidation, false);
        QCOMPARE(back.settings.baselines.front().candidate.attentionFactor, 1.2);
        QVERIFY(back.settings.differences(back.loggedSettings).isEmpty());
        const RunContext c = RunContext::fromJson(back.settings.context);
        QCOMPARE(c.toJson(), context.toJson());
        QCOMPARE(c.validationSeed, uint64_t(3));
        QCOMPARE(recordDefaults(back).attentionFactor, 1.19);
        QCOMPARE(recordDefaults(back).samples, 3);

        StartRecord resume = start;
        resume.resume = true;
        resume.cachedEvaluations = 42;
        QCOMPARE(resume.toJson().value(QStringLiteral("event")).toString(), QStringLiteral("resume"));
        QCOMPARE(roundTripped(resume), resume.toJson());
        QCOMPARE(StartRecord::fromJson(resume.toJson()).cachedEvaluations, qint64(42));
    }

    void versionsAndDifferences()
    {
        StartRecord start;
        start.settings.search = someSettings();
        QJsonObject o = start.toJson();
        o.remove(QStringLiteral("version"));  // a log written before versions
        QCOMPARE(StartRecord::fromJson(o).version, 1);
        o.insert(QStringLiteral("version"), kRunLogVersion + 1);
        try {
            (void)recordFromJson(o);
            QFAIL("a newer format was read");
        } catch (const Error &e) {
            QVERIFY2(e.problem().contains(QLatin1String("newer")), qPrintable(e.problem()));
        }
        RunSettings other = start.settings;
        other.search.population = 8;
        QCOMPARE(other.differences(start.settings.toJson()), QStringList{QStringLiteral("population")});
    }

    void evaluationsRoundTrip()
    {
        EvaluationRecord e;
        e.lambda = {1.0, 1.5, 2.25};
        e.attentionFactor = 1.1;
        e.dRcd = 4;
        e.sample = 2;
        e.fitness = 7.5;
        QCOMPARE(roundTripped(e), e.toJson());
        // What a run that neither samples nor searches the attention factor leaves out comes back
        // from the defaults.
        e.logsSample = false;
        e.logsAttention = false;
        e.sample = 0;
        e.fitness = std::numeric_limits<double>::infinity();
        const QJsonObject lean = e.toJson();
        QVERIFY(!lean.contains(QStringLiteral("sample")) && !lean.contains(QStringLiteral("attention_factor")));
        QVERIFY(lean.value(QStringLiteral("fitness")).isNull());
        const EvaluationRecord back = EvaluationRecord::fromJson(lean, RecordDefaults{1.3, 1});
        QCOMPARE(back.attentionFactor, 1.3);
        QVERIFY(std::isinf(back.fitness));
        QCOMPARE(back.toJson(), lean);

        const ValidationEvaluationRecord v{{1.0, 2.0}, 1.05, 3, 1, 9.25};
        QCOMPARE(roundTripped(v), v.toJson());
        const BaselineEvaluationRecord b{QStringLiteral("yarn"), SampleSetName::Validation, {1.0, 2.0}, 1.2, 1, 8.0};
        QCOMPARE(roundTripped(b), b.toJson());
        QCOMPARE(b.toJson().value(QStringLiteral("set")).toString(), QStringLiteral("validation"));
        QCOMPARE(BaselineEvaluationRecord::fromJson(b.toJson()).set, SampleSetName::Validation);
    }

    void malformedEvaluationsAreNamed()
    {
        const QJsonObject noLambda{{QStringLiteral("event"), QStringLiteral("eval")}, {QStringLiteral("fitness"), 1.0}};
        const QJsonObject textFactor{{QStringLiteral("event"), QStringLiteral("eval")},
                                     {QStringLiteral("lambda"), QJsonArray{1.0, QStringLiteral("x")}},
                                     {QStringLiteral("fitness"), 1.0}};
        for (const QJsonObject &o : {noLambda, textFactor}) {
            try {
                (void)recordFromJson(o);
                QFAIL("a malformed evaluation was read");
            } catch (const Error &e) {
                QVERIFY2(e.problem().contains(QLatin1String("eval entry")), qPrintable(e.problem()));
            }
        }
        QVERIFY_THROWS_EXCEPTION(Error, parseRunLogLine("{\"fitness\": 1}"));
        QVERIFY_THROWS_EXCEPTION(Error, parseRunLogLine("not json"));
        QVERIFY(std::holds_alternative<OtherRecord>(parseRunLogRecord("{\"event\":\"from_the_future\",\"x\":1}")));
    }

    void summariesRoundTrip()
    {
        BaselineScore score;
        score.name = QStringLiteral("ntk");
        score.candidate = Candidate{{1.0, 3.0}, 1.0};
        score.searchScores = {4.0, 5.0};
        score.validationScores = {6.0};
        score.searchFitness = 4.5;
        score.validationFitness = 6.0;
        const BaselinesRecord baselines{FitnessAggregate::MedianPpl, {score}};
        QCOMPARE(roundTripped(baselines), baselines.toJson());
        QCOMPARE(BaselinesRecord::fromJson(baselines.toJson()).fitness, std::optional(FitnessAggregate::MedianPpl));

        GenerationReport r;
        r.generation = 2;
        r.bestFitness = 3.5;
        r.medianFitness = 4.5;
        r.bestLambda = {1.0, 2.0};
        r.bestDRcd = 3;
        r.bestAttentionFactor = 1.1;
        r.memberDRcd = {3, 4, -1};
        r.evaluations = 20;
        r.cacheHits = 5;
        r.samples = 3;
        r.candidates = 9;
        r.sampleEvaluations = 22;
        r.fullyEvaluated = 4;
        r.bestValidationFitness = 3.75;
        r.searchBestFitness = 3.25;
        r.searchBestValidationFitness = 3.9;
        r.validationEvaluations = 6;
        r.baselineEvaluations = 12;
        const GenerationRecord g{r, true, true};
        QCOMPARE(GenerationRecord::fromJson(g.toJson(), RecordDefaults{1.0, 3}).toJson(), g.toJson());
        QCOMPARE(GenerationRecord::fromJson(g.toJson(), RecordDefaults{1.0, 3}).report.samples, 3);
        const GenerationRecord plain{r, false, false};
        QVERIFY(!plain.toJson().contains(QStringLiteral("search_best_fitness")));

        SearchResult result;
        result.bestLambda = {1.0, 2.0};
        result.bestFitness = 3.5;
        result.bestValidationFitness = 3.75;
        result.bestDRcd = 3;
        result.bestAttentionFactor = 1.1;
        result.chosenByValidation = true;
        result.searchBestLambda = {1.0, 2.5};
        result.searchBestFitness = 3.25;
        result.searchBestValidationFitness = 3.9;
        result.searchBestDRcd = 4;
        result.searchBestAttentionFactor = 1.2;
        result.evaluations = 40;
        result.validationEvaluations = 6;
        result.baselineEvaluations = 12;
        result.cacheHits = 7;
        result.generations = 4;
        result.stopReason = StopReason::Budget;
        result.samples = 3;
        result.candidates = 15;
        result.sampleEvaluations = 40;
        const FinishRecord finish{result, true, 6, true};
        QCOMPARE(roundTripped(finish), finish.toJson());
        QCOMPARE(finish.toJson().value(QStringLiteral("saved_evaluations")).toInt(), 5);
        QCOMPARE(FinishRecord::fromJson(finish.toJson()).result.stopReason, StopReason::Budget);
    }

    void rankRecordsRoundTrip()
    {
        RankStatsRecord stats;
        RankStatsRecord::Rank rank;
        rank.rank = 1;
        rank.host = QStringLiteral("node7");
        rank.pid = 4242;
        rank.devices = {QStringLiteral("cuda:0"), QStringLiteral("cuda:1")};
        rank.jobs = 10;
        rank.evaluations = 80;
        rank.seconds = 20;
        rank.busySeconds = 15;
        rank.evaluationsPerSecond = 4;
        rank.idlePercent = 25;
        stats.ranks = {rank, rank};
        stats.ranks.back().lost = QStringLiteral("silent for 120 s");
        QCOMPARE(roundTripped(stats), stats.toJson());
        QVERIFY(!stats.toJson().value(QStringLiteral("ranks")).toArray().first().toObject().contains(QStringLiteral("lost")));
        const RankLostRecord lost{2, QStringLiteral("node8"), QStringLiteral("scoring failed"), 3};
        QCOMPARE(roundTripped(lost), lost.toJson());
        QVERIFY(std::holds_alternative<RankLostRecord>(recordFromJson(lost.toJson())));
    }

    void everyCommittedLogReads()
    {
        const QStringList logs = testing::committedRunLogs();
        qInfo("%lld run logs committed", qlonglong(logs.size()));
        QVERIFY2(!logs.isEmpty(), "no run log found below " ROPESCOPE_SOURCE_DIR);
        QTemporaryDir temp;
        QVERIFY(temp.isValid());
        for (const QString &path : logs) {
            QFile f(path);
            QVERIFY(f.open(QIODevice::ReadOnly));
            int lineNo = 0, records = 0;
            std::optional<StartRecord> start;
            RecordDefaults defaults;
            bool finished = false;
            for (const QByteArray &raw : f.readAll().split('\n')) {
                ++lineNo;
                const QByteArray line = raw.trimmed();
                if (line.isEmpty())
                    continue;
                const QString where = QStringLiteral("%1 line %2").arg(path).arg(lineNo);
                RunLogRecord record;
                try {
                    record = parseRunLogRecord(line, defaults);
                } catch (const Error &e) {
                    QFAIL(qPrintable(where + QStringLiteral(": ") + e.problem()));
                }
                ++records;
                QVERIFY2(!std::holds_alternative<OtherRecord>(record), qPrintable(where + QStringLiteral(": unknown record")));
                QJsonObject original = parseRunLogLine(line);
                if (const auto *s = std::get_if<StartRecord>(&record)) {
                    QVERIFY2(records == 1 || s->resume, qPrintable(where));
                    if (!start)
                        start = *s;
                    defaults = recordDefaults(*s);
                    if (!original.contains(QStringLiteral("version")))
                        original.insert(QStringLiteral("version"), kRunLogVersion);  // a log written before versions
                }
                finished = finished || std::holds_alternative<FinishRecord>(record);
                // Every key of every committed record is one the codec reads back as written.
                QVERIFY2(toJson(record) == original,
                         qPrintable(where + QStringLiteral(":\n  logged  %1\n  written %2").arg(QString::fromUtf8(text(original)),
                                                                                               QString::fromUtf8(text(toJson(record))))));
            }
            QVERIFY2(start.has_value(), qPrintable(path + QStringLiteral(": no start record")));
            QVERIFY2(finished, qPrintable(path + QStringLiteral(": no finish record")));
            // A resume with the log's own settings accepts it and serves its evaluations.
            const QString copy = temp.filePath(QStringLiteral("resume.jsonl"));
            QFile::remove(copy);
            QVERIFY(QFile::copy(path, copy));
            const RunSettings &settings = start->settings;
            const search_detail::LoadedLog loaded =
                search_detail::loadLog(copy, settings, settings.search.rotaryDims / 2, settings.samples, settings.validationSamples,
                                       recordDefaults(*start).attentionFactor);
            QVERIFY2(!loaded.cache.empty(), qPrintable(path));
            QVERIFY2(settings.validationSamples == 0 || !loaded.validationCache.empty(), qPrintable(path));
        }
    }
};

QTEST_GUILESS_MAIN(TestRunLogCodec)
#include "test_runlogcodec.moc"
