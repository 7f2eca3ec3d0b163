// ropescope-cli against model inputs that used to crash it or pass silently (issues 15 and 18):
// lengths and configs whose memory no machine has are refused with the figure before anything is
// allocated; sizes beyond int are named as written, not as "-2.14748e+09"; a checkpoint of NaN
// weights is named at load and its non-finite results end eval, table and search with exit 1;
// and `search --resume` loads only the model the user names, which must be the log's. The CLI's
// run wrapper (app/cli/options.h) is also called in-process: allocation failures that get past
// the estimates end a command with exit 1 and a message, not an abort.
#include "options.h"

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
#include <limits>
#include <new>
#include <stdexcept>
#include <sys/stat.h>
#include <vector>

namespace {

const QString kFixture = QStringLiteral(ROPESCOPE_FIXTURES "/models/llama-longrope");
// Plain RoPE: no factor lists whose length would follow head_dim.
const QString kPlainFixture = QStringLiteral(ROPESCOPE_FIXTURES "/models/llama-plain");
const QString kTokenizer = QStringLiteral(ROPESCOPE_FIXTURES "/tokenizers/bytes-256-tokenizer.json");

struct CliResult {
    int exitCode = -1;  // -1: crashed (a signal) or hung
    bool hung = false;
    QByteArray out;
    QString err;
};

// Runs the CLI; one that has not finished after `timeoutMs` is killed and reported as hung, so a
// regression costs a minute, never the suite.
CliResult runCli(const QStringList &args, int timeoutMs = 60000)
{
    QProcess p;
    p.start(QStringLiteral(ROPESCOPE_CLI), args);
    CliResult r;
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished(10000);
        r.hung = true;
    }
    r.exitCode = !r.hung && p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = p.readAllStandardOutput();
    r.err = QString::fromUtf8(p.readAllStandardError());
    return r;
}

QJsonObject readJson(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        qFatal("cannot open %s", qPrintable(path));
    return QJsonDocument::fromJson(f.readAll()).object();
}

void writeJson(const QString &path, const QJsonObject &o)
{
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly))
        qFatal("cannot write %s", qPrintable(path));
    f.write(QJsonDocument(o).toJson());
}

// A model folder the CLI can run: a tiny checkpoint (llama-longrope unless said otherwise) with a
// byte-level tokenizer whose 256 ids fit its 320-token vocabulary; `config` replaces its
// config.json when given.
QString makeModel(const QString &dir, const QJsonObject &config = {}, const QString &fixture = kFixture)
{
    QDir().mkpath(dir);
    QFile::copy(fixture + QStringLiteral("/model.safetensors"), dir + QStringLiteral("/model.safetensors"));
    QFile::copy(kTokenizer, dir + QStringLiteral("/tokenizer.json"));
    if (config.isEmpty())
        QFile::copy(fixture + QStringLiteral("/config.json"), dir + QStringLiteral("/config.json"));
    else
        writeJson(dir + QStringLiteral("/config.json"), config);
    return dir;
}

// The fixture's checkpoint with every weight NaN: the same header, the data bytes replaced by
// float32 quiet NaNs (every tensor of the fixture is F32).
void writeNanCheckpoint(const QString &path)
{
    QFile in(kFixture + QStringLiteral("/model.safetensors"));
    if (!in.open(QIODevice::ReadOnly))
        qFatal("cannot read the fixture");
    QByteArray bytes = in.readAll();
    quint64 headerLength = 0;
    memcpy(&headerLength, bytes.constData(), 8);  // little-endian host
    const QJsonObject header = QJsonDocument::fromJson(bytes.mid(8, qsizetype(headerLength))).object();
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (auto it = header.begin(); it != header.end(); ++it) {
        if (it.key() == QLatin1String("__metadata__"))
            continue;
        const QJsonObject t = it.value().toObject();
        if (t.value(QLatin1String("dtype")).toString() != QLatin1String("F32"))
            qFatal("fixture tensor %s is not F32", qPrintable(it.key()));
        const QJsonArray offsets = t.value(QLatin1String("data_offsets")).toArray();
        for (qint64 at = offsets[0].toInteger(); at < offsets[1].toInteger(); at += 4)
            memcpy(bytes.data() + 8 + qint64(headerLength) + at, &nan, 4);
    }
    QFile out(path);
    if (!out.open(QIODevice::WriteOnly) || out.write(bytes) != bytes.size())
        qFatal("cannot write %s", qPrintable(path));
}

QByteArray firstLine(const QString &path)
{
    QFile f(path);
    f.open(QIODevice::ReadOnly);
    return f.readLine();
}

} // namespace

class TestCliModelInputs : public QObject {
    Q_OBJECT

    QTemporaryDir m_tmp;

private Q_SLOTS:
    void initTestCase() { QVERIFY(m_tmp.isValid()); }

    // Before: only rs::Error and UsageError were caught, so these terminated the process.
    void runMapsAllocationFailures()
    {
        using rs::cli::run;
        QCOMPARE(run([]() -> int { throw std::bad_alloc(); }), rs::cli::kBadInput);
        QCOMPARE(run([] { return int(std::vector<int>(std::vector<int>().max_size() + 1).size()); }), rs::cli::kBadInput);
        // LibTorch's out-of-memory errors are std::exceptions (c10::OutOfMemoryError).
        QCOMPARE(run([]() -> int { throw std::runtime_error("CUDA out of memory. Tried to allocate 20.00 GiB"); }),
                 rs::cli::kBadInput);
        QCOMPARE(run([] { return rs::cli::kOk; }), rs::cli::kOk);
    }

    // Before: std::bad_alloc aborted the CLI (1e9), or it hung building text (4e8). Now the
    // estimate refuses before a token is made, with the figure and this machine's memory.
    void lengthBeyondMemory_data()
    {
        QTest::addColumn<QString>("length");
        QTest::newRow("1e9") << "1000000000";
        QTest::newRow("4e8") << "400000000";
    }

    void lengthBeyondMemory()
    {
        QFETCH(QString, length);
        const QString model = makeModel(m_tmp.filePath(QStringLiteral("length-") + length));
        const CliResult r = runCli({"eval", "--model", model, "--length", length, "--samples", "1"});
        QVERIFY2(!r.hung, "eval hung");
        QVERIFY2(r.exitCode == 1, qPrintable(QStringLiteral("exit %1: %2").arg(r.exitCode).arg(r.err)));
        for (const QString &word : {length, QStringLiteral("GiB"), QStringLiteral("this machine has")})
            QVERIFY2(r.err.contains(word), qPrintable(r.err));
    }

    // Configs whose weights no machine holds are refused from their shapes, before the checkpoint
    // is read; integers beyond int are reported as written.
    void configBeyondRange_data()
    {
        QTest::addColumn<QString>("key");
        QTest::addColumn<double>("value");
        QTest::addColumn<QStringList>("words");  // one of them must appear
        QTest::newRow("num_hidden_layers 2e9") << "num_hidden_layers" << 2e9 << QStringList{"GiB"};
        QTest::newRow("head_dim 1e9") << "head_dim" << 1e9 << QStringList{"GiB", "head_dim"};
        QTest::newRow("intermediate_size 2^31") << "intermediate_size" << 2147483648.0 << QStringList{"2147483648"};
        QTest::newRow("hidden_size 2^31") << "hidden_size" << 2147483648.0 << QStringList{"2147483648"};
        QTest::newRow("hidden_size 1e308") << "hidden_size" << 1e308 << QStringList{"1e+308"};
        QTest::newRow("vocab_size 1e308") << "vocab_size" << 1e308 << QStringList{"1e+308"};
    }

    void configBeyondRange()
    {
        QFETCH(QString, key);
        QFETCH(double, value);
        QFETCH(QStringList, words);
        QJsonObject config = readJson(kPlainFixture + QStringLiteral("/config.json"));
        config.insert(key, value);
        const QString tag = QString::fromLatin1(QTest::currentDataTag()).replace(QLatin1Char(' '), QLatin1Char('-'));
        const QString model = makeModel(m_tmp.filePath(QStringLiteral("config-") + tag), config, kPlainFixture);
        const CliResult r = runCli({"eval", "--model", model, "--length", "512", "--samples", "1"});
        QVERIFY2(!r.hung, "eval hung");
        QVERIFY2(r.exitCode == 1, qPrintable(QStringLiteral("exit %1: %2").arg(r.exitCode).arg(r.err)));
        QVERIFY2(r.err.contains(QLatin1String("config.json")), qPrintable(r.err));
        QVERIFY2(!r.err.contains(QLatin1String("-2.14748e+09")) && !r.err.contains(QLatin1String("-2147483648")),
                 qPrintable(r.err));
        bool named = false;
        for (const QString &w : words)
            named = named || r.err.contains(w);
        QVERIFY2(named, qPrintable(QStringLiteral("\"%1\" names none of %2").arg(r.err, words.join(QStringLiteral(", ")))));
    }

    // A checkpoint of NaN weights: a warning naming the tensors at load, and exit 1 with a message
    // from every command whose result is then not finite (before: exit 0 and "nan").
    void nanWeights_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::newRow("eval") << QStringList{"eval", "--length", "512", "--samples", "1"};
        QTest::newRow("table") << QStringList{"table", "--multiples", "4", "--samples", "1", "--no-passkey"};
        QTest::newRow("search") << QStringList{"search", "--length", "512", "--samples", "1", "--population", "2",
                                               "--iterations", "0"};
    }

    void nanWeights()
    {
        QFETCH(QStringList, args);
        const QString model = makeModel(m_tmp.filePath(QStringLiteral("nan-") + args.first()));
        writeNanCheckpoint(model + QStringLiteral("/model.safetensors"));
        QStringList full = args;
        full << "--model" << model;
        if (args.first() == QLatin1String("search"))
            full << "--log" << m_tmp.filePath(QStringLiteral("nan-search.jsonl"));
        const CliResult r = runCli(full, 120000);
        QVERIFY2(!r.hung, "hung");
        QVERIFY2(r.exitCode == 1, qPrintable(QStringLiteral("exit %1: %2").arg(r.exitCode).arg(r.err)));
        for (const QString &word : {QStringLiteral("warning"), QStringLiteral("model.embed_tokens.weight"),
                                    QStringLiteral("not finite")})
            QVERIFY2(r.err.contains(word), qPrintable(r.err));
    }

    // `search --fix-d-rcd tcd` (the fair miniature's "LongRoPE2, d_rcd = d_tcd" row): the run
    // holds d_rcd at the theoretical critical dimension, from the formula
    // d_tcd = ceil((d/2) log_b(L_train / 2π)); the fixture: d = 16, b = 10000, L_train = 128.
    void searchHoldsDrcdFixed()
    {
        const int dTcd = int(std::ceil(8 * std::log(128 / (2 * M_PI)) / std::log(10000.0)));
        QCOMPARE(dTcd, 3);
        const QString model = makeModel(m_tmp.filePath(QStringLiteral("fixed-drcd")));
        const QString log = m_tmp.filePath(QStringLiteral("fixed-drcd.jsonl"));
        const CliResult r = runCli({"search", "--model", model, "--length", "512", "--samples", "1", "--population", "4",
                                    "--iterations", "1", "--validation-samples", "0", "--fix-d-rcd", "tcd", "--log", log},
                                   120000);
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QFile f(log);
        QVERIFY(f.open(QIODevice::ReadOnly));
        int members = 0;
        while (!f.atEnd()) {
            const QJsonObject entry = QJsonDocument::fromJson(f.readLine()).object();
            if (entry.value(QLatin1String("event")).toString() == QLatin1String("start")) {
                const QJsonObject settings = entry.value(QLatin1String("settings")).toObject();
                QCOMPARE(settings.value(QLatin1String("d_rcd_min")).toInt(), dTcd);
                QCOMPARE(settings.value(QLatin1String("d_rcd_max")).toInt(), dTcd);
            }
            if (entry.contains(QLatin1String("d_rcd"))) {
                QCOMPARE(entry.value(QLatin1String("d_rcd")).toInt(), dTcd);
                ++members;
            }
        }
        QVERIFY2(members >= 4, "the log should hold the members' d_rcd");
    }

    // The search space's extensions (issue 25), all three on: the start record names them, d_rcd
    // ranges up to d/2 − 1 = 7 (not d_tcd = 3), and every logged candidate has the extended shape:
    // λ_0 = 1 kept, and below its d_rcd the curve min(λ_a^(i/a), λ_d_rcd) of some anchor a ≥ d_rcd.
    void searchWithTheExtensions()
    {
        const QString model = makeModel(m_tmp.filePath(QStringLiteral("extensions")));
        const QString log = m_tmp.filePath(QStringLiteral("extensions.jsonl"));
        const CliResult r = runCli({"search", "--model", model, "--length", "512", "--samples", "1", "--population", "8",
                                    "--iterations", "2", "--validation-samples", "0", "--decouple-anchor", "--d-rcd-above-tcd",
                                    "--keep-original-dims", "1", "--log", log},
                                   120000);
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QFile f(log);
        QVERIFY(f.open(QIODevice::ReadOnly));
        int members = 0;
        while (!f.atEnd()) {
            const QJsonObject entry = QJsonDocument::fromJson(f.readLine()).object();
            if (entry.value(QLatin1String("event")).toString() == QLatin1String("start")) {
                const QJsonObject settings = entry.value(QLatin1String("settings")).toObject();
                QCOMPARE(settings.value(QLatin1String("d_rcd_max")).toInt(), 7);
                QCOMPARE(settings.value(QLatin1String("decouple_anchor")).toBool(), true);
                QCOMPARE(settings.value(QLatin1String("d_rcd_above_tcd")).toBool(), true);
                QCOMPARE(settings.value(QLatin1String("keep_original_dims")).toInt(), 1);
            }
            if (entry.value(QLatin1String("event")).toString() != QLatin1String("eval"))
                continue;
            ++members;
            std::vector<double> lambda;
            for (const QJsonValue &v : entry.value(QLatin1String("lambda")).toArray())
                lambda.push_back(v.toDouble());
            QCOMPARE(int(lambda.size()), 8);
            QCOMPARE(lambda[0], 1.0);
            const int d = entry.value(QLatin1String("d_rcd")).toInt();
            bool onACurve = false;
            for (int a = d; a < 8 && !onACurve; ++a) {
                onACurve = true;
                for (int i = 1; i < d; ++i) {
                    const double expected = std::min(std::pow(lambda[size_t(a)], double(i) / a), lambda[size_t(d)]);
                    onACurve = onACurve && std::abs(lambda[size_t(i)] - expected) <= 1e-6 * expected;
                }
            }
            QVERIFY2(onACurve, qPrintable(QStringLiteral("a candidate with d_rcd %1 is on no anchored curve").arg(d)));
        }
        QVERIFY2(members >= 8, "the log should hold the members");
    }

    // `search --resume` loads the model the user names, and only when it is the log's: another
    // folder, or none (the embedded model), is a usage error naming the log and its model, found
    // before any model is looked at.
    void resumeNeedsTheLogsModel()
    {
        const QString model = makeModel(m_tmp.filePath(QStringLiteral("resume-model")));
        const QString log = m_tmp.filePath(QStringLiteral("resume.jsonl"));
        const QStringList common{"search", "--length", "512", "--samples", "1", "--population", "2", "--iterations",
                                 "1", "--seed", "2", "--log", log};
        const CliResult first = runCli(common + QStringList{"--model", model, "--max-evaluations", "1"}, 120000);
        QVERIFY2(first.exitCode == 0, qPrintable(first.err));
        QVERIFY(firstLine(log).contains(QFileInfo(model).absoluteFilePath().toUtf8()));

        // Another folder, whose config.json is a FIFO: opening it would hang, and the mismatch is
        // reported first.
        const QString other = m_tmp.filePath(QStringLiteral("resume-other"));
        makeModel(other);
        QFile::remove(other + QStringLiteral("/config.json"));
        QCOMPARE(::mkfifo(QFile::encodeName(other + QStringLiteral("/config.json")).constData(), 0600), 0);
        const CliResult wrong = runCli(common + QStringList{"--model", other, "--resume"}, 30000);
        QVERIFY2(!wrong.hung, "resume opened the other model's config.json");
        QVERIFY2(wrong.exitCode == 2, qPrintable(QStringLiteral("exit %1: %2").arg(wrong.exitCode).arg(wrong.err)));
        for (const QString &word : {log, QFileInfo(model).absoluteFilePath(), QStringLiteral("--model")})
            QVERIFY2(wrong.err.contains(word), qPrintable(wrong.err));

        const CliResult none = runCli(common + QStringList{"--resume"}, 30000);
        QVERIFY2(none.exitCode == 2, qPrintable(QStringLiteral("exit %1: %2").arg(none.exitCode).arg(none.err)));
        QVERIFY2(none.err.contains(QLatin1String("--model")) && none.err.contains(QFileInfo(model).absoluteFilePath()),
                 qPrintable(none.err));

        // The corpus is the log's too.
        const QString corpus = m_tmp.filePath(QStringLiteral("corpus.jsonl"));
        QFile c(corpus);
        QVERIFY(c.open(QIODevice::WriteOnly));
        c.write("{\"text\": \"Some other prose, long enough to cut into filler for a short needle sample.\"}\n");
        c.close();
        const CliResult otherCorpus = runCli(common + QStringList{"--model", model, "--corpus", corpus, "--resume"}, 30000);
        QVERIFY2(otherCorpus.exitCode == 2, qPrintable(QStringLiteral("exit %1: %2").arg(otherCorpus.exitCode).arg(otherCorpus.err)));
        QVERIFY2(otherCorpus.err.contains(QLatin1String("--corpus")), qPrintable(otherCorpus.err));

        // The same model, named through a symlink to its folder, resumes.
        const QString alias = m_tmp.filePath(QStringLiteral("resume-alias"));
        QVERIFY(QFile::link(model, alias));
        const CliResult resumed = runCli(common + QStringList{"--model", alias, "--resume"}, 120000);
        QVERIFY2(resumed.exitCode == 0, qPrintable(resumed.err));
    }
};

QTEST_GUILESS_MAIN(TestCliModelInputs)
#include "test_cli_model_inputs.moc"
