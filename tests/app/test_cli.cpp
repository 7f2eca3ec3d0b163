// ropescope-cli end to end: geometry JSON against the formulas of DESIGN.md §1, export → import
// round trips, the error contract (message naming the file, non-zero exit code), and lengths read
// as the GUI reads them (131072, 128k, 1M).
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <numbers>

namespace {

struct CliResult {
    int exitCode = -1;
    QByteArray out;
    QString err;
};

CliResult runCli(const QStringList &args)
{
    QProcess p;
    p.start(QStringLiteral(ROPESCOPE_CLI), args);
    if (!p.waitForFinished(60000))
        qFatal("ropescope-cli did not finish");
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAllStandardOutput(),
            QString::fromUtf8(p.readAllStandardError())};
}

QJsonObject runJson(const QStringList &args)
{
    const CliResult r = runCli(args);
    if (r.exitCode != 0)
        qWarning() << "stderr:" << r.err;
    QJsonParseError e;
    const QJsonDocument doc = QJsonDocument::fromJson(r.out, &e);
    if (e.error != QJsonParseError::NoError)
        qWarning() << "not JSON:" << r.out.left(200);
    return doc.object();
}

QJsonObject readJson(const QString &path)
{
    QFile f(path);
    f.open(QIODevice::ReadOnly);
    return QJsonDocument::fromJson(f.readAll()).object();
}

std::vector<double> toVector(const QJsonValue &v)
{
    std::vector<double> out;
    for (const QJsonValue &x : v.toArray())
        out.push_back(x.toDouble());
    return out;
}

std::vector<double> readFactors(const QString &path)
{
    QFile f(path);
    f.open(QIODevice::ReadOnly);
    std::vector<double> out;
    for (const QByteArray &line : f.readAll().split('\n'))
        if (!line.trimmed().isEmpty())
            out.push_back(line.trimmed().toDouble());
    return out;
}

void writeText(const QString &path, const QByteArray &text)
{
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(text);
}

const QString kPublishedFactors = QStringLiteral(ROPESCOPE_FIXTURES "/factors/llama3_8b_longrope2_128k_long_factor.txt");

} // namespace

class TestCli : public QObject {
    Q_OBJECT

private Q_SLOTS:
    // The usage's command list: each summary two spaces after its name, the longest included
    // (issue 30 saw "rank-stabilityhow").
    void usageSeparatesNamesFromSummaries()
    {
        const CliResult r = runCli({"--help"});
        QCOMPARE(r.exitCode, 0);
        const QString text = QString::fromUtf8(r.out);
        QVERIFY2(text.contains(QLatin1String("  rank-stability  how stably")), qPrintable(text));
        QVERIFY(!text.contains(QLatin1String("rank-stabilityhow")));
    }

    // A config that names no context beyond L_train starts at 16 × L_train, as the GUI opens it
    // (RopeConfig::suggestedTargetLength): GPT-NeoX's 2048 → 32768, not s = 1.
    void aConfigWithoutTargetStartsWhereTheGuiDoes()
    {
        const CliResult r = runCli({"rope", "--config", ROPESCOPE_PRESETS "/pythia-6.9b.json"});
        QCOMPARE(r.exitCode, 0);
        const QString text = QString::fromUtf8(r.out);
        QVERIFY2(text.contains(QLatin1String("target L = 32768")) && text.contains(QLatin1String("s = 16")), qPrintable(text));
    }

    void ropeGeometryMatchesFormulas_data()
    {
        QTest::addColumn<QString>("preset");
        QTest::addColumn<int>("d");
        QTest::addColumn<double>("base");
        QTest::addColumn<double>("trainLength");
        QTest::addColumn<int>("expectedDtcd");
        QTest::newRow("LLaMA3-8B") << "llama3-8b" << 128 << 5e5 << 8192.0 << 35;
        QTest::newRow("paper Phi3-mini 2k") << "phi3-mini-paper-2k" << 96 << 1e4 << 2048.0 << 31;
        QTest::newRow("Phi-3-mini-4k") << "phi3-mini-4k" << 96 << 1e4 << 4096.0 << 34;
    }

    void ropeGeometryMatchesFormulas()
    {
        QFETCH(QString, preset);
        QFETCH(int, d);
        QFETCH(double, base);
        QFETCH(double, trainLength);
        QFETCH(int, expectedDtcd);
        const double L = 65536;
        const QJsonObject o = runJson({"rope", "--preset", preset, "--target", QString::number(L), "--json"});
        QCOMPARE(o.value("rotary_dims").toInt(), d);
        QCOMPARE(o.value("base").toDouble(), base);
        QCOMPARE(o.value("original_max_position_embeddings").toDouble(), trainLength);
        QCOMPARE(o.value("target_length").toDouble(), L);
        QCOMPARE(o.value("scale").toDouble(), L / trainLength);
        QCOMPARE(o.value("d_tcd").toInt(), expectedDtcd);  // the paper's numbers
        const double twoPi = 2 * std::numbers::pi;
        const int d10 = int(std::ceil(d / 2.0 * std::log(trainLength / (twoPi * 10)) / std::log(base)));
        QCOMPARE(o.value("d_10").toInt(), d10);

        const std::vector<double> periods = toVector(o.value("periods"));
        QCOMPARE(int(periods.size()), d / 2);
        const double s = L / trainLength;
        const QJsonObject families = o.value("families").toObject();
        const std::vector<double> pi = toVector(families.value("pi"));
        const std::vector<double> ntk = toVector(families.value("ntk"));
        for (int i = 0; i < d / 2; ++i) {
            const double period = twoPi * std::pow(base, 2.0 * i / d);
            QVERIFY(std::abs(periods[size_t(i)] - period) <= 1e-9 * period);
            QCOMPARE(pi[size_t(i)], s);
            const double ntkExpected = std::pow(s, 2.0 * i / (d - 2));
            QVERIFY(std::abs(ntk[size_t(i)] - ntkExpected) <= 1e-12 * ntkExpected);
        }
        QCOMPARE(toVector(families.value("yarn")).size(), size_t(d / 2));
        QCOMPARE(toVector(families.value("llama3")).size(), size_t(d / 2));
        QVERIFY(!families.contains("config"));  // the plain configs carry no factors
        // With the original RoPE, exactly the dimensions from d_tcd up are out of distribution.
        const QJsonArray ood = o.value("ood_dims_original").toArray();
        QCOMPARE(ood.size(), d / 2 - expectedDtcd);
        QCOMPARE(ood.first().toInt(), expectedDtcd);
    }

    void configFactorsAndNtkLeftBoundary()
    {
        const QJsonObject o = runJson({"rope", "--preset", "llama3-8b-longrope2-128k", "--json"});
        QCOMPARE(o.value("target_length").toDouble(), 131072.0);
        QCOMPARE(toVector(o.value("families").toObject().value("config")), readFactors(kPublishedFactors));
        // The published LLaMA3-8B 128k factors are NTK-left up to c = 33 with λ_33 = 21.81.
        const QJsonObject fit = o.value("ntk_left").toObject();
        QCOMPARE(fit.value("boundary").toInt(), 33);
        QCOMPARE(fit.value("lambda").toDouble(), 21.81);
        // HF longrope default attention factor at s = 16, L_train = 8192.
        const double attention = std::sqrt(1 + std::log(16.0) / std::log(8192.0));
        QVERIFY(std::abs(o.value("attention_factors").toObject().value("config").toDouble() - attention) < 1e-12);
    }

    void exportRoundTrip_data()
    {
        QTest::addColumn<QString>("format");
        QTest::addColumn<QString>("ropeKey");
        QTest::newRow("transformers 4.x") << "hf4" << "rope_scaling";
        QTest::newRow("transformers 5.x") << "hf5" << "rope_parameters";
    }

    void exportRoundTrip()
    {
        QFETCH(QString, format);
        QFETCH(QString, ropeKey);
        QTemporaryDir dir;
        const QString out = dir.filePath("config.json");
        const CliResult r = runCli({"export", "--preset", "llama3-8b", "--factors", kPublishedFactors, "--target",
                                    "131072", "--format", format, "-o", out});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QJsonObject exported = readJson(out);
        const QJsonObject rope = exported.value(ropeKey).toObject();
        QCOMPARE(rope.value("rope_type").toString(), QString("longrope"));
        QCOMPARE(toVector(rope.value("long_factor")), readFactors(kPublishedFactors));
        QCOMPARE(toVector(rope.value("short_factor")), std::vector<double>(64, 1.0));
        QCOMPARE(rope.value("original_max_position_embeddings").toInt(), 8192);
        QCOMPARE(exported.value("max_position_embeddings").toInt(), 131072);
        QVERIFY(!rope.contains("attention_factor"));
        // Every key of the source config not about RoPE is kept untouched.
        const QJsonObject source = readJson(ROPESCOPE_PRESETS "/llama3-8b.json");
        // (_name_or_path is dropped: the export is another model, issue 14.)
        const QStringList ropeKeys{"rope_scaling", "rope_parameters", "rope_theta", "max_position_embeddings",
                                   "original_max_position_embeddings", "_name_or_path", "transformers_version"};
        for (auto it = source.begin(); it != source.end(); ++it)
            if (!ropeKeys.contains(it.key()))
                QCOMPARE(exported.value(it.key()), it.value());
        // Importing the export gives the same factors back.
        const QJsonObject back = runJson({"rope", "--config", out, "--json"});
        QCOMPARE(back.value("rope_type").toString(), QString("longrope"));
        QCOMPARE(back.value("base").toDouble(), 5e5);
        QCOMPARE(back.value("target_length").toDouble(), 131072.0);
        QCOMPARE(toVector(back.value("families").toObject().value("config")), readFactors(kPublishedFactors));
    }

    // --engine: the export for vLLM carries its per-side scales, transformers refuses what it cannot
    // run, and an unknown engine is a usage error naming the option (issue 25).
    void exportForAnEngine()
    {
        QTemporaryDir dir;
        const QString out = dir.filePath("vllm.json");
        CliResult r = runCli({"export", "--preset", "llama3-8b", "--factors", kPublishedFactors, "--target", "128k",
                              "--format", "hf4", "--engine", "vllm", "--attention-factor", "1.2",
                              "--short-attention-factor", "1", "-o", out});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QJsonObject rope = readJson(out).value("rope_scaling").toObject();
        QCOMPARE(rope.value("long_mscale").toDouble(), 1.2);
        QCOMPARE(rope.value("short_mscale").toDouble(), 1.0);
        // It says what vLLM will run on each side of L_train = 8192.
        QVERIFY2(r.err.contains("deployed for vllm") && r.err.contains("attention factor 1;") &&
                     r.err.contains("attention factor 1.2"), qPrintable(r.err));
        r = runCli({"export", "--preset", "llama3-8b", "--factors", kPublishedFactors, "--target", "128k", "--format",
                    "hf4", "--short-attention-factor", "1", "-o", dir.filePath("hf.json")});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("one attention factor") && r.err.contains("vLLM"), qPrintable(r.err));
        QVERIFY(!QFile::exists(dir.filePath("hf.json")));
        for (const char *command : {"export", "eval", "table", "sweep"}) {
            r = runCli({command, "--engine", "tgi"});
            QCOMPARE(r.exitCode, 2);
            QVERIFY2(r.err.contains("--engine") && r.err.contains("\"tgi\"") && r.err.contains("transformers, vllm"),
                     qPrintable(r.err));
        }
    }

    void exportCsvAndFactorFile()
    {
        QTemporaryDir dir;
        const QString csv = dir.filePath("f.csv");
        QCOMPARE(runCli({"export", "--preset", "llama3-8b", "--factors", kPublishedFactors, "--target", "131072",
                         "--format", "csv", "-o", csv}).exitCode, 0);
        QFile f(csv);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QList<QByteArray> lines = f.readAll().trimmed().split('\n');
        QCOMPARE(lines.size(), 65);
        QVERIFY(lines[0].startsWith("dim,theta,period,lambda"));
        QCOMPARE(lines[34].split(',')[3].toDouble(), 21.81);  // row of dimension 33

        const QString family = dir.filePath("pi.txt");
        QCOMPARE(runCli({"factors", "--preset", "llama3-8b", "--target", "131072", "--family", "pi", "-o", family}).exitCode, 0);
        QCOMPARE(readFactors(family), std::vector<double>(64, 16.0));
        QCOMPARE(runCli({"check", "--preset", "llama3-8b", "--factors", family}).exitCode, 0);
        QCOMPARE(runCli({"check", "--preset", "llama3-8b", "--factors", kPublishedFactors, "--d-rcd", "33"}).exitCode, 0);
        // The published factors sit below s = 16 from index 0 to 28: a d_rcd there is violated.
        const CliResult bad = runCli({"check", "--preset", "llama3-8b", "--factors", kPublishedFactors, "--d-rcd", "20"});
        QCOMPARE(bad.exitCode, 1);
        QVERIFY(bad.out.contains("below the scale"));
    }

    void presetsListed()
    {
        const CliResult r = runCli({"presets"});
        QCOMPARE(r.exitCode, 0);
        for (const char *name : {"llama3-8b", "llama3.1-8b", "phi3-mini-4k", "phi3-mini-128k", "mistral-7b-v0.1",
                                 "qwen2.5-7b", "phi3-mini-paper-2k"})
            QVERIFY2(r.out.contains(name), name);
    }

    void badInputNamesTheFile_data()
    {
        QTest::addColumn<QByteArray>("factorText");
        QTest::addColumn<QString>("expected");
        QTest::newRow("NaN") << QByteArray("1\nnan\n") << "not a finite number";
        QTest::newRow("negative") << QByteArray("1,-2,3") << "not positive";
        QTest::newRow("wrong length") << QByteArray("1\n2\n3\n") << "has 3 factors but the model has 64";
        QTest::newRow("text") << QByteArray("1\nabc\n") << "is not a number";
    }

    void badInputNamesTheFile()
    {
        QFETCH(QByteArray, factorText);
        QFETCH(QString, expected);
        QTemporaryDir dir;
        const QString factors = dir.filePath("bad-factors.txt");
        writeText(factors, factorText);
        const CliResult r = runCli({"export", "--preset", "llama3-8b", "--factors", factors, "--target", "131072",
                                    "--format", "hf4", "-o", dir.filePath("out.json")});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains(factors) && r.err.contains(expected), qPrintable(r.err));
        QVERIFY(!QFile::exists(dir.filePath("out.json")));
    }

    void badConfigAndUsageErrors()
    {
        QTemporaryDir dir;
        const QString broken = dir.filePath("config.json");
        writeText(broken, "{\"hidden_size\": 64,");
        CliResult r = runCli({"rope", "--config", broken});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains(broken) && r.err.contains("malformed JSON"), qPrintable(r.err));

        r = runCli({"rope", "--config", dir.filePath("missing.json")});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("missing.json") && r.err.contains("cannot open"), qPrintable(r.err));

        r = runCli({"rope", "--preset", "no-such-model"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("unknown preset") && r.err.contains("llama3-8b"), qPrintable(r.err));

        QCOMPARE(runCli({"rope"}).exitCode, 2);                                            // neither source
        QCOMPARE(runCli({"rope", "--preset", "llama3-8b", "--target", "-5"}).exitCode, 2); // bad number
        QCOMPARE(runCli({"frobnicate"}).exitCode, 2);
        QCOMPARE(runCli({}).exitCode, 2);
    }
    // `bench` on the CPU with the tiny llama fixture's shape (random weights): one JSON line per
    // length with a finite time and the model FLOPs counted by hand from the config (hidden 64,
    // 4 heads and 2 KV heads of 16, MLP 160, 2 layers, vocab 320).
    void benchPrintsFiguresPerLength()
    {
        const QString shape = QStringLiteral(ROPESCOPE_FIXTURES "/models/llama-plain/config.json");
        const CliResult r = runCli({"bench", "--config", shape, "--lengths", "100,200", "--answers", "8", "--repeats", "1",
                                    "--warmup", "0", "--json"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QList<QByteArray> lines = r.out.trimmed().split('\n');
        QCOMPARE(lines.size(), 2);
        const double macsPerTokenPerLayer = 64.0 * (64 + 32 + 32) + 64.0 * 64 + 3.0 * 64 * 160;
        for (int i = 0; i < 2; ++i) {
            const QJsonObject o = QJsonDocument::fromJson(lines[i]).object();
            const double L = i == 0 ? 100 : 200;
            const double T = L - 1;  // the forward stops before the last answer token
            QCOMPARE(o.value("tokens").toInt(), int(L));
            QCOMPARE(o.value("answers").toInt(), 8);
            QCOMPARE(o.value("device").toString(), QStringLiteral("cpu"));
            const double expected = 2 * (2 * macsPerTokenPerLayer * T + 4 * 64 * T * (T + 1) / 2) + 2 * 64 * 320 * 8;
            QCOMPARE(o.value("flops").toDouble(), expected);
            QVERIFY(o.value("ms").toDouble() > 0);
            QVERIFY(std::isfinite(o.value("tflops").toDouble()));
            QVERIFY(!o.contains("peak_gib"));  // no allocator statistics on the CPU
        }
        // --candidates: the batched and one-by-one rates side by side.
        const CliResult batched = runCli({"bench", "--config", shape, "--lengths", "100", "--answers", "8", "--repeats",
                                          "1", "--warmup", "0", "--candidates", "3", "--json"});
        QVERIFY2(batched.exitCode == 0, qPrintable(batched.err));
        const QJsonObject b = QJsonDocument::fromJson(batched.out.trimmed()).object();
        QCOMPARE(b.value("candidates").toInt(), 3);
        QVERIFY(b.value("candidates_per_s").toDouble() > 0 && b.value("one_by_one_candidates_per_s").toDouble() > 0);
        // --decode: greedy decoding with and without the KV cache, side by side, the same tokens.
        const CliResult decoded = runCli({"bench", "--config", shape, "--lengths", "100", "--answers", "8", "--repeats",
                                          "1", "--warmup", "0", "--decode", "4", "--json"});
        QVERIFY2(decoded.exitCode == 0, qPrintable(decoded.err));
        const QJsonObject d = QJsonDocument::fromJson(decoded.out.trimmed()).object();
        QCOMPARE(d.value("decode_tokens").toInt(), 4);
        QVERIFY(d.value("decode_cached_ms").toDouble() > 0 && d.value("decode_uncached_ms").toDouble() > 0);
        QCOMPARE(d.value("decode_speedup").toDouble(), d.value("decode_uncached_ms").toDouble() / d.value("decode_cached_ms").toDouble());
        QVERIFY(d.value("decode_same_tokens").toBool());
        QCOMPARE(runCli({"bench", "--lengths", "100"}).exitCode, 2);  // neither --config nor --model
        const CliResult missing = runCli({"bench", "--config", "/no/such/shape.json"});
        QCOMPARE(missing.exitCode, 1);
        QVERIFY(missing.err.contains(QLatin1String("/no/such/shape.json")));
    }

    // The sweep's JSON contract on a tiny model (llama-longrope, L_train = 128, with the byte
    // tokenizer): the settings and sample-set identity, every cell with its per-sample values and
    // interval, needle cells with their depth and passkeys, comparisons with the named reference
    // whose estimate is the difference of the two values; -o writes the same, --open re-opens it as
    // CSV and back.
    // Every option that takes a length reads it as the GUI's target box does (rope/tokencount.h:
    // k = 1024, M = 1048576), and refuses 0, negatives and junk with a usage error naming the option.
    void lengthsReadAsTheGuiReadsThem_data()
    {
        QTest::addColumn<QString>("target");
        QTest::addColumn<double>("tokens");
        QTest::newRow("131072") << QStringLiteral("131072") << 131072.0;
        QTest::newRow("128k") << QStringLiteral("128k") << 131072.0;
        QTest::newRow("128K") << QStringLiteral("128K") << 131072.0;
        QTest::newRow("1M") << QStringLiteral("1M") << 1048576.0;
        QTest::newRow("131,072") << QStringLiteral("131,072") << 131072.0;
    }

    void lengthsReadAsTheGuiReadsThem()
    {
        QFETCH(QString, target);
        QFETCH(double, tokens);
        const QJsonObject o = runJson({"rope", "--preset", "llama3-8b", "--target", target, "--json"});
        QCOMPARE(o.value("target_length").toDouble(), tokens);
        QCOMPARE(o.value("scale").toDouble(), tokens / 8192);  // LLaMA3-8B: L_train = 8192
        // The other geometry commands share --target.
        QTemporaryDir dir;
        const QString factors = dir.filePath(QStringLiteral("pi.txt"));
        QCOMPARE(runCli({"factors", "--preset", "llama3-8b", "--target", target, "--family", "pi", "-o", factors}).exitCode, 0);
        QFile f(factors);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(f.readLine().trimmed().toDouble(), tokens / 8192);  // PI: λ = s on every dimension
    }

    void badLengthsNameTheOption_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("option");
        const QStringList rope{"rope", "--preset", "llama3-8b", "--target"};
        for (const char *bad : {"0", "-5", "lots", "1.3k", "128kk", "1e5", "0k"})
            QTest::addRow("rope --target %s", bad) << (rope + QStringList{QLatin1String(bad)}) << QStringLiteral("--target");
        QTest::newRow("rope --target 2048M (beyond 2^30)") << (rope + QStringList{"2048M"}) << QStringLiteral("--target");
        for (const char *bad : {"0", "-1k", "short"})
            QTest::addRow("eval --length %s", bad) << QStringList{"eval", "--length", QLatin1String(bad)} << QStringLiteral("--length");
        QTest::newRow("search --length 1.5") << QStringList{"search", "--length", "1.5", "--log", "unused.jsonl"}
                                             << QStringLiteral("--length");
        const QString shape = QStringLiteral(ROPESCOPE_FIXTURES "/models/llama-plain/config.json");
        QTest::newRow("bench --lengths 1k,0") << QStringList{"bench", "--config", shape, "--lengths", "1k,0"}
                                              << QStringLiteral("--lengths");
        // A real model to start from and an output nobody writes: the refusal comes before training.
        const QStringList train{"train", "--init", QStringLiteral(ROPESCOPE_FIXTURES "/models/llama-plain"), "--out",
                                QDir::temp().filePath(QStringLiteral("ropescope-test_cli-never-written")), "--seq-len"};
        QTest::newRow("train --seq-len 0") << (train + QStringList{"0"}) << QStringLiteral("--seq-len");
        QTest::newRow("train --seq-len junk") << (train + QStringList{"x"}) << QStringLiteral("--seq-len");
    }

    void badLengthsNameTheOption()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, option);
        const CliResult r = runCli(args);
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(option + QStringLiteral(" needs a length")), qPrintable(r.err));
        // The value as written, or for a list the entry that was refused.
        const QString refused = option == QLatin1String("--lengths") ? QStringLiteral("0") : args.at(args.indexOf(option) + 1);
        QVERIFY2(r.err.contains(QStringLiteral("got '%1'").arg(refused)), qPrintable(r.err));
    }

    // A length the option accepts gets past it: a later check (the device) is what refuses the run.
    void acceptedLengthsGetPastTheOption()
    {
        for (const char *length : {"1k", "4096", "0.5k"}) {
            const CliResult r = runCli({"eval", "--length", QLatin1String(length), "--device", "tpu"});
            QCOMPARE(r.exitCode, 2);
            QVERIFY2(r.err.contains(QLatin1String("--device needs")) && !r.err.contains(QLatin1String("--length")),
                     qPrintable(r.err));
        }
    }

    void sweepJsonContract()
    {
        QTemporaryDir dir;
        const QString model = dir.filePath(QStringLiteral("model"));
        QVERIFY(QDir().mkpath(model));
        for (const char *name : {"config.json", "model.safetensors"})
            QVERIFY(QFile::copy(QStringLiteral(ROPESCOPE_FIXTURES "/models/llama-longrope/") + QLatin1String(name),
                                model + QLatin1Char('/') + QLatin1String(name)));
        QVERIFY(QFile::copy(QStringLiteral(ROPESCOPE_FIXTURES "/tokenizers/bytes-256-tokenizer.json"), model + QStringLiteral("/tokenizer.json")));
        const QString factors = dir.filePath(QStringLiteral("f.txt"));
        writeText(factors, "4\n4\n4\n4\n4\n4\n4\n4\n");
        const QString saved = dir.filePath(QStringLiteral("sweep.json"));
        const CliResult r = runCli({"sweep", "--model", model, "--methods", "none,yarn", "--factors", "four=" + factors,
                                    "--lengths", "512,400", "--depths", "0,1", "--samples", "2", "--seed", "7", "--passkey",
                                    "--reference", "YaRN", "--resamples", "200", "--json", "-o", saved});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(o.value("format").toString(), QStringLiteral("ropescope-sweep"));
        QCOMPARE(o.value("version").toInt(), 1);
        QCOMPARE(o.value("train_length").toInt(), 128);
        QVERIFY(o.value("model").toString().endsWith(QLatin1String("model")));
        const QJsonObject settings = o.value("settings").toObject();
        QCOMPARE(toVector(settings.value("lengths")), (std::vector<double>{400, 512}));
        QCOMPARE(toVector(settings.value("depths")), (std::vector<double>{0, 1}));
        QCOMPARE(settings.value("samples").toInt(), 2);
        QCOMPARE(settings.value("seed").toInt(), 7);
        QCOMPARE(settings.value("target_length").toInt(), 512);
        QCOMPARE(settings.value("reference").toString(), QStringLiteral("YaRN"));
        QCOMPARE(settings.value("bootstrap").toObject().value("resamples").toInt(), 200);
        const QJsonArray methods = o.value("methods").toArray();
        QCOMPARE(methods.size(), 3);
        QCOMPARE(methods[0].toObject().value("kind").toString(), QStringLiteral("none"));
        QCOMPARE(methods[2].toObject().value("name").toString(), QStringLiteral("four"));
        QCOMPARE(toVector(methods[2].toObject().value("lambda")), std::vector<double>(8, 4.0));
        const QJsonArray cells = o.value("cells").toArray();
        QCOMPARE(cells.size(), 2 * 3 * 3);  // lengths × (depths 0, 1 + held-out) × methods
        int compared = 0;
        for (const QJsonValue &v : cells) {
            const QJsonObject c = v.toObject();
            const bool needle = c.value("measure").toString() == QLatin1String("needle");
            QVERIFY(needle || c.value("measure").toString() == QLatin1String("held_out"));
            QCOMPARE(c.value("per_sample").toArray().size(), 2);
            QCOMPARE(c.value("per_sample_nll").toArray().size(), 2);
            const QJsonObject interval = c.value("interval").toObject();
            QCOMPARE(interval.value("estimate").toDouble(), c.value("value").toDouble());
            QVERIFY(interval.value("lower").toDouble() <= c.value("value").toDouble());
            QVERIFY(interval.value("upper").toDouble() >= c.value("value").toDouble());
            if (needle) {
                QVERIFY(c.contains("depth"));
                QCOMPARE(c.value("per_sample_passkey").toArray().size(), 2);
                QVERIFY(c.contains("passkey_interval"));
                const std::vector<double> ppl = toVector(c.value("per_sample"));
                QVERIFY(std::abs(c.value("value").toDouble() - (ppl[0] + ppl[1]) / 2) < 1e-12);
            }
            if (c.value("method").toString() == QLatin1String("YaRN")) {
                QVERIFY(!c.contains("comparison"));
                continue;
            }
            const QJsonObject cmp = c.value("comparison").toObject();
            QCOMPARE(cmp.value("reference").toString(), QStringLiteral("YaRN"));
            QCOMPARE(cmp.value("samples").toInt(), 2);
            const double difference = cmp.value("difference").toObject().value("estimate").toDouble();
            QVERIFY(std::abs(difference - (c.value("value").toDouble() - cmp.value("reference_value").toDouble())) < 1e-9);
            QVERIFY(cmp.value("ratio").toObject().contains("lower"));
            ++compared;
        }
        QCOMPARE(compared, 12);
        QCOMPARE(readJson(saved).value("cells").toArray().size(), cells.size());

        // Re-opened: converted to CSV, and the CSV back to the same JSON cells.
        const QString csv = dir.filePath(QStringLiteral("sweep.csv"));
        const CliResult converted = runCli({"sweep", "--open", saved, "-o", csv});
        QVERIFY2(converted.exitCode == 0, qPrintable(converted.err));
        QVERIFY(converted.out.contains("| four |"));
        const QJsonObject back = runJson({"sweep", "--open", csv, "--json"});
        QCOMPARE(back.value("cells").toArray().size(), cells.size());
        QCOMPARE(back.value("cells").toArray()[5].toObject().value("per_sample").toArray(),
                 cells[5].toObject().value("per_sample").toArray());

        // The contract's errors: usage mistakes exit 2, bad files 1 naming the file.
        QCOMPARE(runCli({"sweep", "--model", model, "--methods", "bogus", "--lengths", "400"}).exitCode, 2);
        QCOMPARE(runCli({"sweep", "--model", model, "--depths", "2", "--lengths", "400"}).exitCode, 2);
        QCOMPARE(runCli({"sweep", "--model", model, "--lengths", "400", "--reference", "nobody"}).exitCode, 2);
        const CliResult missing = runCli({"sweep", "--model", model, "--factors", "/no/such/factors.txt", "--lengths", "400"});
        QCOMPARE(missing.exitCode, 1);
        QVERIFY(missing.err.contains(QLatin1String("/no/such/factors.txt")));
        const QString broken = dir.filePath(QStringLiteral("broken.json"));
        writeText(broken, "{\"format\": \"ropescope-sweep\"");
        const CliResult bad = runCli({"sweep", "--open", broken});
        QCOMPARE(bad.exitCode, 1);
        QVERIFY(bad.err.contains(broken));
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
