// ropescope-cli against the bad-input cases of issue 26 that take more than one command or a
// folder set up beforehand: a train into another model's folder, a model folder holding two
// checkpoints, what a failed train leaves behind, train's size checks, a tokenizer that cannot
// write the needle's digits, and the run-log lock through a symlink and a hard link, with two
// processes. Every case failed before its fix: train exited 0 beside an old shard index that eval
// then scored silently, a failed train left an empty --out, --batch 2·10⁹ ran for minutes with no
// output, the refusals named options train does not have or no file, and a second search resumed
// a log being written when it was given another name for it.
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include <unistd.h>

namespace {

const QString kTokenizer = QStringLiteral(ROPESCOPE_FIXTURES "/tokenizers/bytes-256-tokenizer.json");
const QString kFixture = QStringLiteral(ROPESCOPE_FIXTURES "/models/llama-plain");

struct CliResult {
    int exitCode = -1;  // -1: crashed or hung (killed)
    QString err;
    double seconds = 0;
};

CliResult runCli(const QStringList &args, int timeoutMs = 120000)
{
    QProcess p;
    QElapsedTimer clock;
    clock.start();
    p.start(QStringLiteral(ROPESCOPE_CLI), args);
    CliResult r;
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished(10000);
        r.err = QStringLiteral("(killed after %1 ms) ").arg(timeoutMs);
    } else if (p.exitStatus() == QProcess::NormalExit) {
        r.exitCode = p.exitCode();
    }
    r.err += QString::fromUtf8(p.readAllStandardError());
    r.seconds = clock.nsecsElapsed() / 1e9;
    return r;
}

void writeFile(const QString &path, const QByteArray &bytes)
{
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(bytes) != bytes.size())
        qFatal("cannot write %s", qPrintable(path));
}

QByteArray readFile(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

QStringList entries(const QString &dir)
{
    return QDir(dir).entryList(QDir::AllEntries | QDir::Hidden | QDir::System | QDir::NoDotAndDotDot, QDir::Name);
}

// A tiny Llama (1 layer, hidden 32) the byte tokenizer fits: three steps train it in a second.
QByteArray tinyConfig()
{
    return QJsonDocument(QJsonObject{{QStringLiteral("architectures"), QJsonArray{QStringLiteral("LlamaForCausalLM")}},
                                     {QStringLiteral("model_type"), QStringLiteral("llama")},
                                     {QStringLiteral("vocab_size"), 256},
                                     {QStringLiteral("hidden_size"), 32},
                                     {QStringLiteral("intermediate_size"), 64},
                                     {QStringLiteral("num_hidden_layers"), 1},
                                     {QStringLiteral("num_attention_heads"), 2},
                                     {QStringLiteral("num_key_value_heads"), 2},
                                     {QStringLiteral("max_position_embeddings"), 512},
                                     {QStringLiteral("rope_theta"), 10000.0},
                                     {QStringLiteral("rms_norm_eps"), 1e-5},
                                     {QStringLiteral("tie_word_embeddings"), true}})
        .toJson();
}

// The case the issue found: a folder holding a sharded checkpoint (its index, one shard) and config.
void writeShardedModel(const QString &dir)
{
    QDir().mkpath(dir);
    QFile::copy(kFixture + QStringLiteral("/model.safetensors"), dir + QStringLiteral("/model-00001-of-00001.safetensors"));
    QFile::copy(kFixture + QStringLiteral("/config.json"), dir + QStringLiteral("/config.json"));
    QJsonObject map;
    const QJsonObject header = [&] {
        const QByteArray bytes = readFile(kFixture + QStringLiteral("/model.safetensors"));
        quint64 n = 0;
        memcpy(&n, bytes.constData(), 8);
        return QJsonDocument::fromJson(bytes.mid(8, qsizetype(n))).object();
    }();
    for (auto it = header.begin(); it != header.end(); ++it)
        if (it.key() != QLatin1String("__metadata__"))
            map.insert(it.key(), QStringLiteral("model-00001-of-00001.safetensors"));
    writeFile(dir + QStringLiteral("/model.safetensors.index.json"),
              QJsonDocument(QJsonObject{{QStringLiteral("weight_map"), map}}).toJson());
}

bool hasLeftovers(const QString &dir)
{
    for (const QString &e : entries(dir))
        if (e.contains(QLatin1String(".partial")) || e.contains(QLatin1String(".old-")))
            return true;
    return false;
}

} // namespace

class TestBadInputFiles : public QObject {
    Q_OBJECT

    QTemporaryDir m_tmp;
    QString m_config;

    QStringList train(const QString &out) const
    {
        return {"train", "--config", m_config, "--tokenizer", kTokenizer, "--out", out, "--steps", "3", "--batch", "1",
                "--seq-len", "64"};
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_tmp.isValid());
        m_config = m_tmp.filePath(QStringLiteral("tiny-config.json"));
        writeFile(m_config, tinyConfig());
        writeFile(m_tmp.filePath(QStringLiteral("no-sizes.json")), R"({"model_type": "llama", "rope_theta": 10000.0})");
    }

    // Issue 26, case 1: train exited 0 into a folder holding an index and a shard, wrote
    // model.safetensors beside them, and the loader kept scoring the old shard.
    void trainRefusesAnotherModelsFolder()
    {
        const QString out = m_tmp.filePath(QStringLiteral("shadowed"));
        writeShardedModel(out);
        const QStringList before = entries(out);
        const CliResult r = runCli(train(out));
        QVERIFY2(r.exitCode == 1, qPrintable(QStringLiteral("exit %1: %2").arg(r.exitCode).arg(r.err)));
        for (const QString &word : {out, QStringLiteral("model.safetensors.index.json"), QStringLiteral("--force")})
            QVERIFY2(r.err.contains(word), qPrintable(QStringLiteral("\"%1\" lacks \"%2\"").arg(r.err, word)));
        QCOMPARE(entries(out), before);
    }

    // --force replaces the folder whole: the old index and shard are gone, and eval loads the new model.
    void trainForceReplaces()
    {
        const QString out = m_tmp.filePath(QStringLiteral("forced"));
        writeShardedModel(out);
        const CliResult r = runCli(train(out) + QStringList{"--force"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QCOMPARE(entries(out), (QStringList{"config.json", "model.safetensors", "tokenizer.json"}));
        QVERIFY(!hasLeftovers(m_tmp.path()));
        const CliResult e = runCli({"eval", "--model", out, "--length", "400", "--samples", "1"});
        QVERIFY2(e.exitCode == 0, qPrintable(e.err));
    }

    // The loader: both layouts in one folder are refused, naming both files (transformers would
    // take model.safetensors, this loader took the index; either is a guess).
    void loaderRefusesTwoCheckpoints()
    {
        const QString dir = m_tmp.filePath(QStringLiteral("two-checkpoints"));
        writeShardedModel(dir);
        QVERIFY(QFile::copy(kFixture + QStringLiteral("/model.safetensors"), dir + QStringLiteral("/model.safetensors")));
        QVERIFY(QFile::copy(kTokenizer, dir + QStringLiteral("/tokenizer.json")));
        const CliResult r = runCli({"eval", "--model", dir, "--length", "400", "--samples", "1"});
        QVERIFY2(r.exitCode == 1, qPrintable(QStringLiteral("exit %1: %2").arg(r.exitCode).arg(r.err)));
        for (const QString &word : {dir, QStringLiteral("model.safetensors and model.safetensors.index.json")})
            QVERIFY2(r.err.contains(word), qPrintable(QStringLiteral("\"%1\" lacks \"%2\"").arg(r.err, word)));
    }

    // Issue 26, case 5: a failed train left an empty --out (seen in 5 cases, e.g. --init nope).
    void failedTrainLeavesNothing_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("pattern");
        QTest::newRow("--init nope") << QStringList{"train", "--init", "{tmp}/nope", "--out", "{out}"} << "nope";
        QTest::newRow("--tokenizer missing") << QStringList{"train", "--config", "{config}", "--tokenizer", "{tmp}/none.json",
                                                            "--out", "{out}"}
                                             << "none\\.json";
        QTest::newRow("--corpus missing") << QStringList{"train", "--config", "{config}", "--tokenizer", kTokenizer,
                                                         "--corpus", "{tmp}/no-corpus", "--out", "{out}"}
                                          << "no-corpus";
        QTest::newRow("--config without sizes") << QStringList{"train", "--config", "{tmp}/no-sizes.json", "--tokenizer",
                                                               kTokenizer, "--out", "{out}"}
                                                << "no-sizes\\.json";
    }

    void failedTrainLeavesNothing()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, pattern);
        static int run = 0;
        const QString parent = m_tmp.filePath(QStringLiteral("left-%1").arg(++run));
        const QString out = parent + QStringLiteral("/deeper/model");
        for (QString &a : args)
            a.replace(QLatin1String("{tmp}"), m_tmp.path()).replace(QLatin1String("{out}"), out)
                .replace(QLatin1String("{config}"), m_config);
        const CliResult r = runCli(args);
        QVERIFY2(r.exitCode == 1, qPrintable(QStringLiteral("exit %1: %2").arg(r.exitCode).arg(r.err)));
        QVERIFY2(QRegularExpression(pattern).match(r.err).hasMatch(), qPrintable(r.err));
        QVERIFY2(!QFileInfo::exists(parent), qPrintable(QStringLiteral("%1 was left behind").arg(parent)));
        QVERIFY(!hasLeftovers(m_tmp.path()));
    }

    // Issue 26, case 4: no size check (--batch 2·10⁹ ran for 7 minutes with no output; --seq-len
    // 10⁹ failed after 24 s advising --length, --samples and --dtype, which train does not have).
    void trainSizeChecks_data()
    {
        QTest::addColumn<QString>("batch");
        QTest::addColumn<QString>("seqLen");
        QTest::newRow("--batch 2e9") << "2000000000" << "32";
        QTest::newRow("--seq-len 1e9") << "2" << "1000000000";
    }

    void trainSizeChecks()
    {
        QFETCH(QString, batch);
        QFETCH(QString, seqLen);
        const QString out = m_tmp.filePath(QStringLiteral("too-big"));
        const CliResult r = runCli({"train", "--config", m_config, "--tokenizer", kTokenizer, "--out", out, "--batch", batch,
                                    "--seq-len", seqLen, "--steps", "1"},
                                   60000);
        QVERIFY2(r.exitCode == 1, qPrintable(QStringLiteral("exit %1: %2").arg(r.exitCode).arg(r.err)));
        for (const QString &word : {QStringLiteral("a training step over %1 rows of %2 tokens").arg(batch, seqLen),
                                    QStringLiteral("GiB of memory, this machine has"), QStringLiteral("--batch or --seq-len")})
            QVERIFY2(r.err.contains(word), qPrintable(QStringLiteral("\"%1\" lacks \"%2\"").arg(r.err, word)));
        for (const QString &foreign : {QStringLiteral("--length"), QStringLiteral("--samples"), QStringLiteral("--dtype")})
            QVERIFY2(!r.err.contains(foreign), qPrintable(QStringLiteral("\"%1\" names %2").arg(r.err, foreign)));
        QVERIFY2(!r.err.contains(QLatin1String("step 1/")), "a step ran");
        QVERIFY(!QFileInfo::exists(out));
    }

    // Issue 26, case 6: "needle: the tokenizer cannot encode the digits…" named no file.
    void digitlessTokenizerIsNamed()
    {
        const QString dir = m_tmp.filePath(QStringLiteral("digitless"));
        QDir().mkpath(dir);
        QVERIFY(QFile::copy(kFixture + QStringLiteral("/model.safetensors"), dir + QStringLiteral("/model.safetensors")));
        QVERIFY(QFile::copy(kFixture + QStringLiteral("/config.json"), dir + QStringLiteral("/config.json")));
        QJsonObject tokenizer = QJsonDocument::fromJson(readFile(kTokenizer)).object();
        QJsonObject model = tokenizer.value(QLatin1String("model")).toObject();
        QJsonObject vocab = model.value(QLatin1String("vocab")).toObject();
        for (char digit = '0'; digit <= '9'; ++digit)
            vocab.remove(QString(QLatin1Char(digit)));
        model.insert(QStringLiteral("vocab"), vocab);
        tokenizer.insert(QStringLiteral("model"), model);
        writeFile(dir + QStringLiteral("/tokenizer.json"), QJsonDocument(tokenizer).toJson());
        const CliResult r = runCli({"eval", "--model", dir, "--length", "400", "--samples", "1"});
        QVERIFY2(r.exitCode == 1, qPrintable(QStringLiteral("exit %1: %2").arg(r.exitCode).arg(r.err)));
        QVERIFY2(r.err.contains(dir + QStringLiteral("/tokenizer.json")) && r.err.contains(QLatin1String("cannot encode the digits")),
                 qPrintable(r.err));
    }

    // Issue 26, cases 2 and 3: a second search resumed a log being written when given a symlink to
    // it (96 evaluation records for 48, two "finish" records). Now every name of the log meets the
    // first one's lock: a symlink, a hard link and a path through "..".
    void runLogLockHoldsThroughLinks()
    {
        const QString dir = m_tmp.filePath(QStringLiteral("locked"));
        QDir().mkpath(dir + QStringLiteral("/sub"));
        const QString log = dir + QStringLiteral("/run.jsonl");
        const QStringList search{"search", "--length", "512", "--samples", "1", "--validation-samples", "0",
                                 "--population", "4", "--iterations", "100000", "--seed", "3"};
        QProcess first;
        first.start(QStringLiteral(ROPESCOPE_CLI), search + QStringList{"--log", log});
        QVERIFY(first.waitForStarted());
        QTRY_VERIFY_WITH_TIMEOUT(readFile(log).contains("\"event\":\"eval\""), 120000);
        const QString symlink = dir + QStringLiteral("/link.jsonl"), hardlink = dir + QStringLiteral("/hard.jsonl");
        QCOMPARE(::symlink("run.jsonl", QFile::encodeName(symlink).constData()), 0);
        QCOMPARE(::link(QFile::encodeName(log).constData(), QFile::encodeName(hardlink).constData()), 0);
        for (const QString &alias : {symlink, hardlink, dir + QStringLiteral("/sub/../run.jsonl")}) {
            // Before: the symlinked resume ran (here for one evaluation) and appended to the log.
            const CliResult r = runCli(search + QStringList{"--log", alias, "--resume", "--max-evaluations", "1"});
            QVERIFY2(r.exitCode == 1, qPrintable(QStringLiteral("%1: exit %2: %3").arg(alias).arg(r.exitCode).arg(r.err)));
            QVERIFY2(r.err.contains(QLatin1String("in use by another search")), qPrintable(r.err));
            QVERIFY2(r.err.contains(QString::number(first.processId())), qPrintable(QStringLiteral("no pid: ") + r.err));
        }
        first.kill();
        QVERIFY(first.waitForFinished(60000));
        const QByteArray written = readFile(log);
        QCOMPARE(written.count("\"event\":\"start\""), 1);
        QCOMPARE(written.count("\"event\":\"resume\""), 0);  // none of the refused ones wrote
        QCOMPARE(written.count("\"event\":\"finish\""), 0);
    }
};

QTEST_GUILESS_MAIN(TestBadInputFiles)
#include "test_badinput_files.moc"
