// `ropescope-cli search --simulate-fitness` (issue 28): no model, a sleep per evaluation and a
// known function of λ. Every logged score is recomputed here from the formula docs/cli.md gives
// (the target from the paper's d_10 and d_tcd, computed from the config's numbers), the NaN
// evaluations of fail=P are exactly those whose FNV-1a hash falls below P, the answer approaches
// the optimum (score 1 at the target), the sleeps take their time, and bad specs are usage errors.
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include "runlogentries.h"

#include <QTest>

#include <cmath>
#include <cstdint>
#include <cstring>

using rs::testing::lastOf;
using rs::testing::readLog;

namespace {

// The fixture's RoPE (tests/fixtures/models/llama-plain/config.json): head_dim 16, θ 10000, L_train 1024.
constexpr int kRotaryDims = 16;
constexpr double kBase = 10000.0, kTrainLength = 1024.0, kLength = 4096.0;
const double kPi = std::acos(-1.0);

// d = ⌈(d / 2) · ln(L_train / (2π·periods)) / ln θ⌉ (LongRoPE2's d_tcd; d_10 with 10 periods).
int criticalDimension(double periods)
{
    return int(std::ceil((kRotaryDims / 2.0) * std::log(kTrainLength / (2 * kPi * periods)) / std::log(kBase)));
}

std::vector<double> target()
{
    const int pairs = kRotaryDims / 2, d = (criticalDimension(10) + criticalDimension(1)) / 2;
    const double s = kLength / kTrainLength;
    std::vector<double> t(pairs);
    for (int i = d; i < pairs; ++i)
        t[size_t(i)] = s * (1 + 0.5 * (i - d) / double(std::max(1, pairs - 1 - d)));
    for (int i = 0; i < d; ++i)
        t[size_t(i)] = std::pow(t[size_t(d)], double(i) / d);
    return t;
}

std::vector<double> lambdaOf(const QJsonObject &o)
{
    std::vector<double> out;
    for (const QJsonValue &v : o.value(QStringLiteral("lambda")).toArray())
        out.push_back(v.toDouble());
    return out;
}

double formula(const std::vector<double> &lambda, int sample)
{
    const std::vector<double> t = target();
    double sum = 0;
    for (size_t i = 0; i < t.size(); ++i)
        sum += std::pow(std::log(lambda[i]) - std::log(t[i]), 2);
    return std::exp(sum / double(t.size())) * (1 + 0.01 * sample);
}

// FNV-1a (64 bit) over the λ doubles' bytes, then the set (0 search, 1 validation) and the sample
// as two 32-bit integers; the top 53 bits as a fraction of 1.
double unitHash(const std::vector<double> &lambda, int set, int sample)
{
    uint64_t h = 14695981039346656037ull;
    auto mix = [&h](const void *data, size_t size) {
        for (size_t i = 0; i < size; ++i) {
            h ^= static_cast<const unsigned char *>(data)[i];
            h *= 1099511628211ull;
        }
    };
    for (double v : lambda)
        mix(&v, sizeof v);
    const int32_t tags[2] = {set, sample};
    mix(tags, sizeof tags);
    return double(h >> 11) / 9007199254740992.0;
}

struct Scored {
    std::vector<double> lambda;
    int set = 0;
    int sample = 0;
    QJsonValue fitness;
};

QList<Scored> scored(const QList<QJsonObject> &log)
{
    QList<Scored> out;
    for (const QJsonObject &o : log) {
        const QString e = o.value(QStringLiteral("event")).toString();
        if (e != QLatin1String("eval") && e != QLatin1String("validation_eval") && e != QLatin1String("baseline_eval"))
            continue;
        const bool validation = e == QLatin1String("validation_eval")
                                || o.value(QStringLiteral("set")).toString() == QLatin1String("validation");
        out << Scored{lambdaOf(o), validation ? 1 : 0, o.value(QStringLiteral("sample")).toInt(0), o.value(QStringLiteral("fitness"))};
    }
    return out;
}

} // namespace

class TestCliSimulate : public QObject {
    Q_OBJECT

    QTemporaryDir m_tmp;
    QString m_model;

    int search(const QStringList &args, QByteArray *output)
    {
        QProcess p;
        p.setProcessChannelMode(QProcess::MergedChannels);
        p.start(QStringLiteral(ROPESCOPE_CLI), QStringList{"search", "--model", m_model, "--length", "4096"} + args);
        if (!p.waitForFinished(120000)) {
            p.kill();
            p.waitForFinished();
            return -1;
        }
        *output = p.readAll();
        return p.exitCode();
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_tmp.isValid());
        // Only the config: the simulated fitness loads no weights and no tokenizer.
        m_model = m_tmp.filePath(QStringLiteral("model"));
        QVERIFY(QDir().mkpath(m_model));
        QVERIFY(QFile::copy(QStringLiteral(ROPESCOPE_FIXTURES "/models/llama-plain/config.json"), m_model + "/config.json"));
    }

    // Every logged score (search, validation, baselines) is the formula's.
    void scoresFollowTheFormula()
    {
        const QString log = m_tmp.filePath(QStringLiteral("formula.jsonl"));
        QByteArray output;
        QCOMPARE(search({"--simulate-fitness", "0s", "--samples", "2", "--validation-samples", "2", "--population", "8",
                         "--iterations", "2", "--seed", "3", "--log", log},
                        &output),
                 0);
        const QList<Scored> all = scored(readLog(log));
        QVERIFY(all.size() > 30);
        for (const Scored &s : all) {
            const double want = formula(s.lambda, s.sample);
            QVERIFY2(std::abs(s.fitness.toDouble() - want) <= 1e-12 * want,
                     qPrintable(QStringLiteral("%1 vs %2").arg(s.fitness.toDouble(), 0, 'g', 17).arg(want, 0, 'g', 17)));
        }
        QVERIFY2(output.contains("scoring on the simulated fitness"), output.constData());
        QCOMPARE(formula(target(), 0), 1.0);  // the optimum
    }

    // One sample, no validation: the answer's score is the formula's and it comes close to 1,
    // far below the best family's.
    void answerApproachesTheOptimum()
    {
        const QString log = m_tmp.filePath(QStringLiteral("optimum.jsonl"));
        QByteArray output;
        QCOMPARE(search({"--simulate-fitness", "0s", "--samples", "1", "--validation-samples", "0", "--population", "16",
                         "--iterations", "12", "--seed", "5", "--log", log},
                        &output),
                 0);
        const QList<QJsonObject> entries = readLog(log);
        const QJsonObject finish = lastOf(entries, QStringLiteral("finish"));
        const double best = finish.value(QStringLiteral("best_fitness")).toDouble();
        QCOMPARE(best, formula(lambdaOf(QJsonObject{{"lambda", finish.value(QStringLiteral("best_lambda"))}}), 0));
        double bestBaseline = 1e300;
        for (const QJsonObject &o : entries)
            if (o.value(QStringLiteral("event")).toString() == QLatin1String("baseline_eval"))
                bestBaseline = std::min(bestBaseline, o.value(QStringLiteral("fitness")).toDouble(1e300));
        QVERIFY2(bestBaseline > 1.05, qPrintable(QString::number(bestBaseline)));
        QVERIFY2(best - 1 < 0.2 * (bestBaseline - 1), qPrintable(QStringLiteral("best %1, families %2").arg(best).arg(bestBaseline)));
        QVERIFY2(best < 1.02, qPrintable(QString::number(best)));
    }

    // fail=P: exactly the evaluations whose hash falls below P are NaN (logged as null); the sleeps
    // (0.04 s ± 50 %) make the run last at least the evaluations' lower bound.
    void sleepsAndFailures()
    {
        const QString log = m_tmp.filePath(QStringLiteral("fail.jsonl"));
        QByteArray output;
        QElapsedTimer clock;
        clock.start();
        QCOMPARE(search({"--simulate-fitness", "40ms,jitter=0.5,fail=0.3", "--samples", "1", "--validation-samples", "0",
                         "--population", "8", "--iterations", "1", "--seed", "9", "--log", log},
                        &output),
                 0);
        const double seconds = clock.nsecsElapsed() / 1e9;
        const QList<Scored> all = scored(readLog(log));
        QVERIFY(all.size() >= 13);
        int failed = 0;
        for (const Scored &s : all) {
            const bool fails = unitHash(s.lambda, s.set, s.sample) < 0.3;
            QCOMPARE(s.fitness.isNull(), fails);
            if (!fails)
                QVERIFY(std::abs(s.fitness.toDouble() - formula(s.lambda, s.sample)) <= 1e-12 * s.fitness.toDouble());
            failed += fails ? 1 : 0;
        }
        QVERIFY2(failed > 0 && failed < all.size(), qPrintable(QStringLiteral("%1 of %2 failed").arg(failed).arg(all.size())));
        QVERIFY2(seconds >= all.size() * 0.02, qPrintable(QString::number(seconds)));
    }

    void badSpecs_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("message");
        QTest::newRow("no duration") << QStringList{"--simulate-fitness", "fast"} << "needs a duration such as 0.5s";
        QTest::newRow("negative") << QStringList{"--simulate-fitness", "-1s"} << "needs a duration such as 0.5s";
        QTest::newRow("unknown key") << QStringList{"--simulate-fitness", "1s,noise=0.1"} << "knows jitter=F and fail=P";
        QTest::newRow("fail above 1") << QStringList{"--simulate-fitness", "1s,fail=2"} << "needs fail=F with F from 0 to 1";
        QTest::newRow("jitter without value") << QStringList{"--simulate-fitness", "1s,jitter"} << "needs jitter=F";
        QTest::newRow("devices") << QStringList{"--simulate-fitness", "1s", "--devices", "cpu"} << "--devices has nothing";
    }
    void badSpecs()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, message);
        QByteArray output;
        QCOMPARE(search(args + QStringList{"--log", m_tmp.filePath(QStringLiteral("bad.jsonl"))}, &output), 2);
        QVERIFY2(output.contains("--simulate-fitness"), output.constData());
        QVERIFY2(output.contains(message.toUtf8()), output.constData());
        QVERIFY(!QFile::exists(m_tmp.filePath(QStringLiteral("bad.jsonl"))));
    }
};

QTEST_GUILESS_MAIN(TestCliSimulate)
#include "test_cli_simulate.moc"
