// The evaluation engine: needle perplexity scores exactly the answer tokens (checked against full
// logits rows), plain perplexity agrees with transformers' loss from the reference fixtures,
// cancellation stops between samples, and the CLI's eval contract.
#include "common/error.h"
#include "eval/evaluator.h"
#include "rope/factorfile.h"
#include "runtime/model.h"
#include "runtime/tokenizer.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <cmath>

using namespace rs;

namespace {

QString modelFixture(const QString &name) { return QStringLiteral(ROPESCOPE_FIXTURES "/models/") + name; }

QJsonObject readJson(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        qFatal("cannot open %s", qPrintable(path));
    return QJsonDocument::fromJson(f.readAll()).object();
}

std::vector<double> toDoubles(const QJsonArray &a)
{
    std::vector<double> v;
    for (const QJsonValue &x : a)
        v.push_back(x.toDouble());
    return v;
}

std::vector<int> toIds(const QJsonArray &a)
{
    std::vector<int> ids;
    for (const QJsonValue &v : a)
        ids.push_back(v.toInt());
    return ids;
}

// −log softmax(row)[target] computed here from a full logits row.
double nllFromRow(const std::vector<float> &row, int target)
{
    const double maxLogit = *std::max_element(row.begin(), row.end());
    double sum = 0;
    for (float x : row)
        sum += std::exp(double(x) - maxLogit);
    return -(double(row[size_t(target)]) - maxLogit - std::log(sum));
}

// A model folder the CLI can open: a reference checkpoint plus a byte-level tokenizer whose 256
// ids fit the tiny model's 320-token vocabulary.
QString makeCliModel(const QTemporaryDir &dir)
{
    for (const char *name : {"config.json", "model.safetensors"})
        QFile::copy(modelFixture(QStringLiteral("llama-longrope/")) + QLatin1String(name), dir.filePath(QLatin1String(name)));
    QFile::copy(QStringLiteral(ROPESCOPE_FIXTURES "/tokenizers/bytes-256-tokenizer.json"), dir.filePath("tokenizer.json"));
    return dir.path();
}

// The last event of a JSON Lines run log.
QJsonObject lastLine(const QString &path)
{
    QFile f(path);
    f.open(QIODevice::ReadOnly);
    const QList<QByteArray> lines = f.readAll().trimmed().split('\n');
    return QJsonDocument::fromJson(lines.last()).object();
}

// The first event (the run's start, with its settings).
QJsonObject firstLine(const QString &path)
{
    QFile f(path);
    f.open(QIODevice::ReadOnly);
    return QJsonDocument::fromJson(f.readAll().split('\n').first()).object();
}

// Every real evaluation a run made: its candidates, the validation and the baselines.
int allEvaluations(const QJsonObject &finish)
{
    return finish.value("evaluations").toInt() + finish.value("validation_evaluations").toInt()
           + finish.value("baseline_evaluations").toInt();
}

} // namespace

class TestEvaluator : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        m_model = CausalLM::load(modelFixture(QStringLiteral("llama-longrope")));
        m_tokenizer = std::make_unique<ByteTokenizer>();
    }

    void needlePerplexityScoresOnlyTheAnswer()
    {
        const NeedleEvaluator evaluator(*m_model, *m_tokenizer, -1, {512, 2, 0.0, 11, {}});
        QCOMPARE(int(evaluator.samples().size()), 2);
        const NeedleEvalResult r = evaluator.evaluate(nullptr);
        QCOMPARE(int(r.perSamplePpl.size()), 2);
        for (int i = 0; i < 2; ++i) {
            const NeedleSample &s = evaluator.samples()[size_t(i)];
            QCOMPARE(int(s.ids.size()), 512);
            // Independent path: full logits rows at the positions before each answer token.
            std::vector<int> before;
            for (int p : s.answerPositions)
                before.push_back(p - 1);
            const std::vector<std::vector<float>> rows = m_model->logitsAt(s.ids, before);
            double nll = 0;
            for (size_t k = 0; k < rows.size(); ++k)
                nll += nllFromRow(rows[k], s.ids[size_t(s.answerPositions[k])]);
            nll /= double(rows.size());
            QVERIFY2(std::abs(r.perSampleNll[size_t(i)] - nll) < 1e-4, qPrintable(QString::number(nll)));
            QVERIFY(std::abs(r.perSamplePpl[size_t(i)] - std::exp(nll)) < 1e-3 * std::exp(nll));
        }
        QVERIFY(std::abs(r.meanPpl - (r.perSamplePpl[0] + r.perSamplePpl[1]) / 2) < 1e-9 * r.meanPpl);
        QCOMPARE(r.device, QStringLiteral("cpu"));
        // Same samples, same RoPE → same numbers; another RoPE → different numbers.
        QCOMPARE(evaluator.evaluate(nullptr).perSampleNll, r.perSampleNll);
        const RopeOverride pi{std::vector<double>(8, 512.0 / 128.0), 1.0};
        QVERIFY(evaluator.evaluate(&pi).perSampleNll != r.perSampleNll);
    }

    void cancellationStopsBetweenSamples()
    {
        const NeedleEvaluator evaluator(*m_model, *m_tokenizer, -1, {400, 3, 0.0, 5, {}});
        int calls = 0;
        const NeedleEvalResult r = evaluator.evaluate(nullptr, [&] { return ++calls > 1; });
        QVERIFY(r.cancelled);
        QCOMPARE(int(r.perSamplePpl.size()), 1);
    }

    void slidingPerplexityMatchesTransformersLoss_data()
    {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("length");
        for (const char *m : {"llama-plain", "qwen2-longrope", "phi3-longrope", "mistral-plain"})
            for (const char *l : {"64", "300"})
                QTest::newRow(qPrintable(QStringLiteral("%1 %2").arg(QLatin1String(m), QLatin1String(l))))
                    << QString::fromLatin1(m) << QString::fromLatin1(l);
    }

    void slidingPerplexityMatchesTransformersLoss()
    {
        QFETCH(QString, model);
        QFETCH(QString, length);
        const std::unique_ptr<CausalLM> lm = CausalLM::load(modelFixture(model));
        const QJsonObject ref = readJson(modelFixture(model) + QStringLiteral("/reference.json")).value(length).toObject();
        const std::vector<int> ids = toIds(ref.value("input_ids").toArray());
        // One window over the whole sequence is exactly transformers' loss, as a perplexity.
        const double ppl = slidingPerplexity(*lm, ids, int(ids.size()), int(ids.size()));
        const double expected = std::exp(ref.value("loss").toDouble());
        QVERIFY2(std::abs(ppl - expected) < 1e-4 * expected, qPrintable(QStringLiteral("%1 vs %2").arg(ppl).arg(expected)));
        // Overlapping windows score every token once: the count-weighted mean is finite and positive.
        const double sliding = slidingPerplexity(*lm, ids, 48, 16);
        QVERIFY(std::isfinite(sliding) && sliding > 1.0);
    }

    void passkeyAccuracyIsAFraction()
    {
        const NeedleEvaluator evaluator(*m_model, *m_tokenizer, -1, {400, 2, 0.0, 3, {}});
        const double acc = evaluator.passkeyAccuracy(nullptr);
        QVERIFY(acc >= 0.0 && acc <= 1.0);
        // Recompute by hand with greedy decoding.
        int correct = 0;
        for (const NeedleSample &s : evaluator.samples()) {
            const std::vector<int> prompt(s.ids.begin(), s.ids.begin() + s.answerPositions.front());
            const std::vector<int> expected(s.ids.begin() + s.answerPositions.front(), s.ids.end());
            correct += m_model->greedyContinue(prompt, int(expected.size())) == expected;
        }
        QCOMPARE(acc, correct / 2.0);
    }

    void bosFollowsTheModelFolder()
    {
        QTemporaryDir dir;
        const QString modelDir = makeCliModel(dir);
        // bytes-256-tokenizer.json has no post-processor: no BOS unless the folder asks for one.
        QCOMPARE(loadModelTokenizer(modelDir).bosId, -1);
        auto writeTokenizerConfig = [&](const QByteArray &json) {
            QFile f(dir.filePath("tokenizer_config.json"));
            QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
            f.write(json);
        };
        writeTokenizerConfig(R"({"add_bos_token": true})");
        QCOMPARE(loadModelTokenizer(modelDir).bosId, 1);  // config.json's bos_token_id
        writeTokenizerConfig(R"({"add_bos_token": false})");
        QCOMPARE(loadModelTokenizer(modelDir).bosId, -1);
        writeTokenizerConfig("{broken");
        try {
            loadModelTokenizer(modelDir);
            QFAIL("no error");
        } catch (const Error &e) {
            QVERIFY2(e.message().contains("tokenizer_config.json"), qPrintable(e.message()));
        }
    }

    void cliEvalContract()
    {
        QTemporaryDir dir;
        const QString modelDir = makeCliModel(dir);
        QProcess p;
        p.start(QStringLiteral(ROPESCOPE_CLI), {"eval", "--model", modelDir, "--length", "512", "--samples", "2",
                                                 "--seed", "4", "--method", "pi", "--json"});
        QVERIFY(p.waitForFinished(120000));
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        const QJsonObject o = QJsonDocument::fromJson(p.readAllStandardOutput()).object();
        QCOMPARE(o.value("length").toInt(), 512);
        QCOMPARE(o.value("device").toString(), QStringLiteral("cpu"));
        QCOMPARE(o.value("per_sample").toArray().size(), 2);
        QVERIFY(o.value("seconds").toDouble() > 0);
        // The same evaluation in-process (PI at s = 512/128, attention factor 1) gives the same mean.
        const std::unique_ptr<CausalLM> lm = CausalLM::load(modelDir);
        const ModelTokenizer tok = loadModelTokenizer(modelDir);
        const NeedleEvaluator evaluator(*lm, *tok.tokenizer, tok.bosId, {512, 2, 0.0, 4, {}});
        const RopeOverride pi{std::vector<double>(8, 512.0 / 128.0), 1.0};
        const double mean = evaluator.evaluate(&pi).meanPpl;
        QVERIFY2(std::abs(o.value("mean_ppl").toDouble() - mean) < 1e-6 * mean, qPrintable(QString::number(mean)));
        const QJsonObject meanInterval = o.value("mean_ppl_interval").toObject();
        QVERIFY(meanInterval.value("lower").toDouble() <= mean && mean <= meanInterval.value("upper").toDouble());
        QCOMPARE(o.value("samples").toInt(), 2);

        // --reference: the original RoPE on the same samples, paired; --passkey per sample.
        p.start(QStringLiteral(ROPESCOPE_CLI), {"eval", "--model", modelDir, "--length", "512", "--samples", "2", "--seed",
                                                 "4", "--method", "pi", "--reference", "none", "--passkey", "--json"});
        QVERIFY(p.waitForFinished(120000));
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        const QJsonObject c = QJsonDocument::fromJson(p.readAllStandardOutput()).object();
        QVERIFY(std::abs(c.value("mean_ppl").toDouble() - mean) < 1e-6 * mean);  // the passkey path scores alike
        const RopeOverride original{std::vector<double>(8, 1.0), 1.0};
        const NeedleEvalResult reference = evaluator.evaluate(&original, {}, {}, true);
        const QJsonObject cmp = c.value("comparison").toObject();
        QCOMPARE(cmp.value("reference").toString(), QStringLiteral("none"));
        QVERIFY(std::abs(cmp.value("reference_value").toDouble() - reference.meanPpl) < 1e-6 * reference.meanPpl);
        QVERIFY(std::abs(cmp.value("difference").toObject().value("estimate").toDouble() - (mean - reference.meanPpl)) <
                1e-6 * mean);
        QVERIFY(std::abs(cmp.value("ratio").toObject().value("estimate").toDouble() - mean / reference.meanPpl) < 1e-6);
        QCOMPARE(cmp.value("reference_per_sample").toArray().size(), 2);
        QVERIFY(c.value("per_sample").toArray()[0].toObject().contains("passkey"));
        QVERIFY(c.contains("passkey_interval"));

        // Errors: a missing folder and a factor file of the wrong length name the file.
        p.start(QStringLiteral(ROPESCOPE_CLI), {"eval", "--model", dir.filePath("nope"), "--length", "512"});
        QVERIFY(p.waitForFinished(60000));
        QCOMPARE(p.exitCode(), 1);
        QVERIFY(p.readAllStandardError().contains("nope"));
        const QString bad = dir.filePath("bad.txt");
        QFile f(bad);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("1\n2\n");
        f.close();
        p.start(QStringLiteral(ROPESCOPE_CLI), {"eval", "--model", modelDir, "--length", "512", "--factors", bad});
        QVERIFY(p.waitForFinished(60000));
        QCOMPARE(p.exitCode(), 1);
        const QByteArray err = p.readAllStandardError();
        QVERIFY2(err.contains("bad.txt") && err.contains("has 2 factors"), err.constData());
    }

    // `search` with needle PPL as the fitness: a run stopped by its budget and resumed from its
    // log ends exactly like an uninterrupted run, without evaluating anything twice.
    void cliSearchResumes()
    {
        QTemporaryDir dir;
        const QString modelDir = makeCliModel(dir);
        auto search = [&](const QString &log, const QStringList &extra) {
            QProcess p;
            p.start(QStringLiteral(ROPESCOPE_CLI), QStringList{"search", "--model", modelDir, "--length", "512",
                                                               "--samples", "1", "--population", "6", "--iterations",
                                                               "2", "--seed", "3", "--log", log} + extra);
            if (!p.waitForFinished(120000))
                qFatal("search did not finish");
            if (p.exitCode() != 0)
                qWarning() << p.readAllStandardError();
            return p.exitCode();
        };
        const QString full = dir.filePath("full.jsonl");
        QCOMPARE(search(full, {"--out", dir.filePath("best.txt")}), 0);
        const QJsonObject finished = lastLine(full);
        QCOMPARE(finished.value("event").toString(), QStringLiteral("finish"));
        QCOMPARE(finished.value("best_lambda").toArray().size(), 8);
        const int evaluations = finished.value("evaluations").toInt();
        QVERIFY(evaluations > 6);
        QFile best(dir.filePath("best.txt"));
        QVERIFY(best.open(QIODevice::ReadOnly));
        QCOMPARE(best.readAll().trimmed().split('\n').size(), 8);

        // The run first scores its 6 baselines (original, PI, NTK, YaRN, Llama 3.1, the config's own)
        // on the search's sample and the 2 validation samples: 18 evaluations, then 5 candidates.
        QCOMPARE(finished.value("baseline_evaluations").toInt(), 18);
        const QString part = dir.filePath("part.jsonl");
        QCOMPARE(search(part, {"--max-evaluations", "23"}), 0);
        QCOMPARE(lastLine(part).value("reason").toString(), QStringLiteral("budget"));
        QCOMPARE(search(part, {"--resume"}), 0);
        const QJsonObject resumed = lastLine(part);
        QCOMPARE(resumed.value("best_lambda"), finished.value("best_lambda"));
        QCOMPARE(resumed.value("best_fitness"), finished.value("best_fitness"));
        QCOMPARE(resumed.value("best_validation_fitness"), finished.value("best_validation_fitness"));
        QCOMPARE(resumed.value("evaluations").toInt() + 5, evaluations);  // nothing evaluated twice
        QCOMPARE(allEvaluations(resumed) + 23, allEvaluations(finished));
        // Resuming with other samples would mix fitness definitions: refused, naming the log.
        QCOMPARE(search(part, {"--resume", "--depth", "0.5"}), 1);
    }

    // Two processes on one run log (issue 15): while a search writes its log, a second one resuming
    // it is refused (exit 1) with the first one's pid, before it reads or writes anything; once the
    // first is killed (its lock file stays behind), the next resume takes the lock over.
    void cliSearchLogIsLocked()
    {
        QTemporaryDir dir;
        const QString modelDir = makeCliModel(dir);
        const QString log = dir.filePath("locked.jsonl");
        const QStringList args{"search", "--model", modelDir, "--length", "512", "--samples", "1", "--population", "8",
                               "--iterations", "100000", "--seed", "3", "--log", log};
        QProcess first;
        first.start(QStringLiteral(ROPESCOPE_CLI), args);
        QVERIFY(first.waitForStarted());
        // Running once its first candidate is logged.
        QTRY_VERIFY_WITH_TIMEOUT(QFile(log).size() > 0 && [&] {
            QFile f(log);
            return f.open(QIODevice::ReadOnly) && f.readAll().contains("\"event\":\"eval\"");
        }(), 120000);
        QVERIFY(QFile::exists(log + ".lock"));
        QProcess second;
        second.start(QStringLiteral(ROPESCOPE_CLI), args + QStringList{"--resume"});
        QVERIFY(second.waitForFinished(120000));
        const QByteArray refusal = second.readAllStandardError();
        QCOMPARE(second.exitCode(), 1);
        QVERIFY2(refusal.contains("in use by another search") && refusal.contains(QByteArray::number(first.processId())),
                 refusal.constData());
        first.kill();
        QVERIFY(first.waitForFinished(60000));
        QFile f(log);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray written = f.readAll();
        f.close();
        QCOMPARE(written.count("\"event\":\"start\""), 1);
        QCOMPARE(written.count("\"event\":\"resume\""), 0);  // the refused one wrote nothing

        // The killed holder's lock is stale (its pid is gone): a resume proceeds, here for one more
        // evaluation, and leaves no lock behind.
        QProcess third;
        third.start(QStringLiteral(ROPESCOPE_CLI), args + QStringList{"--resume", "--max-evaluations", "1"});
        QVERIFY(third.waitForFinished(120000));
        QVERIFY2(third.exitCode() == 0, third.readAllStandardError().constData());
        QCOMPARE(lastLine(log).value("reason").toString(), QStringLiteral("budget"));
        QVERIFY(!QFile::exists(log + ".lock"));
    }

    // `rank-stability --json`: generation 0's candidates, each scored on every sample, and for each
    // aggregate a Spearman ρ in [−1, 1]; too few samples for two disjoint sets is a usage error.
    void cliRankStability()
    {
        QTemporaryDir dir;
        const QString modelDir = makeCliModel(dir);
        QProcess p;
        p.start(QStringLiteral(ROPESCOPE_CLI), {"rank-stability", "--model", modelDir, "--length", "512", "--samples", "4",
                                                 "--set-size", "2", "--splits", "20", "--population", "6", "--json"});
        QVERIFY(p.waitForFinished(120000));
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        const QJsonObject o = QJsonDocument::fromJson(p.readAllStandardOutput()).object();
        QCOMPARE(o.value("candidates").toInt(), 6);
        QCOMPARE(o.value("samples").toInt(), 4);
        const QJsonArray perCandidate = o.value("per_candidate_sample_ppl").toArray();
        QCOMPARE(perCandidate.size(), 6);
        for (const QJsonValue &row : perCandidate) {
            QCOMPARE(row.toArray().size(), 4);
            for (const QJsonValue &v : row.toArray())
                QVERIFY(v.toDouble() >= 1.0);  // a perplexity
        }
        QStringList names;
        for (const QJsonValue &v : o.value("aggregates").toArray()) {
            const QJsonObject a = v.toObject();
            names << a.value("aggregate").toString();
            const double rho = a.value("spearman_mean").toDouble();
            QVERIFY2(rho >= -1.0 && rho <= 1.0, qPrintable(QString::number(rho)));
            QVERIFY(a.value("spearman_low").toDouble() <= rho && rho <= a.value("spearman_high").toDouble());
            QVERIFY(a.value("same_winner").toDouble() >= 0.0 && a.value("same_winner").toDouble() <= 1.0);
        }
        QCOMPARE(names, (QStringList{"mean_ppl", "exp_mean_nll", "median_ppl"}));
        // Three samples cannot hold two disjoint sets of two.
        p.start(QStringLiteral(ROPESCOPE_CLI), {"rank-stability", "--model", modelDir, "--length", "512", "--samples", "3",
                                                 "--set-size", "2"});
        QVERIFY(p.waitForFinished(120000));
        QCOMPARE(p.exitCode(), 2);
    }

    // `search --racing --search-attention-factor`: the log's finish event and the printed summary
    // carry the saved evaluations, --out writes the factors and the attention factor, the reported
    // best is the needle PPL of that candidate, and a budget-stopped racing run resumes exactly.
    void cliSearchRacing()
    {
        QTemporaryDir dir;
        const QString modelDir = makeCliModel(dir);
        QByteArray stdoutText;
        auto search = [&](const QString &log, const QStringList &extra) {
            QProcess p;
            p.start(QStringLiteral(ROPESCOPE_CLI),
                    QStringList{"search", "--model", modelDir, "--length", "512", "--samples", "2", "--population",
                                "6", "--iterations", "1", "--seed", "3", "--racing", "--search-attention-factor",
                                "--attention-min", "1.0", "--attention-max", "1.4", "--log", log} + extra);
            if (!p.waitForFinished(120000))
                qFatal("search did not finish");
            if (p.exitCode() != 0)
                qWarning() << p.readAllStandardError();
            stdoutText = p.readAllStandardOutput();
            return p.exitCode();
        };
        const QString full = dir.filePath("race.jsonl");
        const QString bestPath = dir.filePath("best.txt");
        QCOMPARE(search(full, {"--out", bestPath}), 0);
        const QJsonObject finished = lastLine(full);
        QCOMPARE(finished.value("event").toString(), QStringLiteral("finish"));
        QCOMPARE(finished.value("samples").toInt(), 2);
        const int candidates = finished.value("candidates").toInt();
        const int sampleEvaluations = finished.value("sample_evaluations").toInt();
        const int saved = finished.value("saved_evaluations").toInt();
        qInfo("cli racing: %d candidates × 2 samples, %d sample evaluations, saved %d; best PPL %.1f, attention %.4f",
              candidates, sampleEvaluations, saved, finished.value("best_fitness").toDouble(),
              finished.value("best_attention_factor").toDouble());
        QCOMPARE(sampleEvaluations + saved, 2 * candidates);
        // Generation 0 races 6 candidates on sample 0 and keeps 3 for sample 1; the 3 it drops rank
        // below the survivors, so they are not among the 3 parents and never get sample 1.
        QVERIFY2(saved >= 3, qPrintable(QString::number(saved)));
        QCOMPARE(finished.value("evaluations").toInt(), sampleEvaluations);
        QVERIFY2(stdoutText.contains(QStringLiteral("saved %1").arg(saved).toUtf8()), stdoutText.constData());
        const double attention = finished.value("best_attention_factor").toDouble();
        QVERIFY(attention >= 1.0 && attention <= 1.4);

        // --out: eight factors, then the attention factor as a comment the factor reader skips.
        QFile best(bestPath);
        QVERIFY(best.open(QIODevice::ReadOnly));
        const QByteArray text = best.readAll();
        QCOMPARE(parseFactorText(text, bestPath, 8), toDoubles(finished.value("best_lambda").toArray()));
        QVERIFY2(text.contains("# attention factor " + QByteArray::number(attention, 'g', 17)), text.constData());

        // The best fitness is the needle PPL of the best factors with the best attention factor on
        // the search's samples (seeds 3, 4), its validation fitness that on the validation samples
        // (by default the next four seeds), each combined as the run's "fitness" says.
        const std::unique_ptr<CausalLM> lm = CausalLM::load(modelDir);
        const ModelTokenizer tok = loadModelTokenizer(modelDir);
        const QString aggregate = firstLine(full).value("settings").toObject().value("fitness").toString(QStringLiteral("mean_ppl"));
        const auto fitnessOn = [&](const NeedleEvalSettings &samples) {
            const NeedleEvaluator evaluator(*lm, *tok.tokenizer, tok.bosId, samples);
            const RopeOverride rope{toDoubles(finished.value("best_lambda").toArray()), attention};
            const NeedleEvalResult r = evaluator.evaluate(&rope);
            if (aggregate == QLatin1String("mean_ppl"))
                return r.meanPpl;
            double nll = 0;
            for (double v : r.perSampleNll)
                nll += v;
            return std::exp(nll / double(r.perSampleNll.size()));
        };
        const double onSearch = fitnessOn({512, 2, 0.0, 3, {}});
        QVERIFY2(std::abs(finished.value("best_fitness").toDouble() - onSearch) < 1e-6 * onSearch, qPrintable(QString::number(onSearch)));
        const double onValidation = fitnessOn({512, 4, 0.0, 5, {}});
        QVERIFY2(std::abs(finished.value("best_validation_fitness").toDouble() - onValidation) < 1e-6 * onValidation,
                 qPrintable(QString::number(onValidation)));

        // Stopped by its budget mid-race and resumed: the same end, no sample evaluated twice.
        // After the 6 baselines on 2 + 4 samples (36 evaluations), 4 into generation 0's race.
        const QString part = dir.filePath("part.jsonl");
        QCOMPARE(search(part, {"--max-evaluations", "40"}), 0);
        QCOMPARE(lastLine(part).value("reason").toString(), QStringLiteral("budget"));
        QCOMPARE(search(part, {"--resume"}), 0);
        const QJsonObject resumed = lastLine(part);
        QCOMPARE(resumed.value("best_lambda"), finished.value("best_lambda"));
        QCOMPARE(resumed.value("best_fitness"), finished.value("best_fitness"));
        QCOMPARE(resumed.value("best_attention_factor"), finished.value("best_attention_factor"));
        QCOMPARE(resumed.value("saved_evaluations"), finished.value("saved_evaluations"));
        QCOMPARE(resumed.value("evaluations").toInt() + 4, sampleEvaluations);
        QCOMPARE(allEvaluations(resumed) + 40, allEvaluations(finished));
        // Racing is part of the run's definition: resuming without it is refused.
        QProcess p;
        p.start(QStringLiteral(ROPESCOPE_CLI), {"search", "--model", modelDir, "--length", "512", "--samples", "2",
                                                 "--population", "6", "--iterations", "1", "--seed", "3",
                                                 "--search-attention-factor", "--attention-min", "1.0",
                                                 "--attention-max", "1.4", "--log", part, "--resume"});
        QVERIFY(p.waitForFinished(120000));
        QCOMPARE(p.exitCode(), 1);
        QVERIFY(p.readAllStandardError().contains("racing"));
    }

private:
    std::unique_ptr<CausalLM> m_model;
    std::unique_ptr<Tokenizer> m_tokenizer;
};

QTEST_GUILESS_MAIN(TestEvaluator)
#include "test_evaluator.moc"
