// ropescope-cli against bad input, one row per case of issues 15 and 26 that the command line shows: the
// exit code (0 ok, 1 bad input, 2 usage error, README "Command-line reference") and a pattern the
// stderr must match. Every row failed before the fix (a silent fallback, a nonsense value accepted,
// exit 1 for a usage mistake, or "wrote …" with exit 0 for a write that went nowhere).
//
// Write targets that are devices are private copies made with mknod when the test runs as root, so
// that a regression could replace only the copy, never the machine's /dev/full or /dev/null; without
// root the real ones are used (then nothing can replace them).
#include <QDir>
#include <QFile>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace {

const QString kPublishedFactors = QStringLiteral(ROPESCOPE_FIXTURES "/factors/llama3_8b_longrope2_128k_long_factor.txt");

// A small valid config to vary: d = 16 (8 pairs), L_train 128, max 1024.
QByteArray config(const QByteArray &extra)
{
    return R"({"model_type":"llama","hidden_size":64,"num_attention_heads":4,"rope_theta":10000.0,)" + extra + "}";
}

QByteArray longrope(const QByteArray &factorKey)
{
    return config(R"("max_position_embeddings":1024,"original_max_position_embeddings":128,"rope_scaling":{"rope_type":"longrope",)"
                  + factorKey + R"("long_factor":[1,1,1,1,1,1,1,1],"short_factor":[1,1,1,1,1,1,1,1]})");
}

} // namespace

class TestBadInput : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    QString m_full, m_null, m_fifo;

    QString path(const QString &name) const { return m_dir.filePath(name); }

    void write(const QString &name, const QByteArray &bytes)
    {
        QFile f(path(name));
        QVERIFY(f.open(QIODevice::WriteOnly));
        QCOMPARE(f.write(bytes), bytes.size());
    }

    QString device(const char *name, int minor)
    {
        const QString node = path(QString::fromLatin1(name));
        if (::mknod(QFile::encodeName(node).constData(), S_IFCHR | 0666, makedev(1, minor)) == 0)
            return node;
        if (::geteuid() == 0)
            qFatal("root but mknod failed: refusing to aim the test at /dev/%s", name);
        return QStringLiteral("/dev/") + QString::fromLatin1(name);
    }

    // {tmp}, {full}, {null}, {fifo} and {factors} in an argument.
    QStringList expand(const QStringList &args) const
    {
        QStringList out;
        for (QString a : args) {
            a.replace(QLatin1String("{tmp}"), m_dir.path());
            a.replace(QLatin1String("{full}"), m_full);
            a.replace(QLatin1String("{null}"), m_null);
            a.replace(QLatin1String("{fifo}"), m_fifo);
            a.replace(QLatin1String("{factors}"), kPublishedFactors);
            out << a;
        }
        return out;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_full = device("full", 7);
        m_null = device("null", 3);
        m_fifo = path(QStringLiteral("fifo"));
        QCOMPARE(::mkfifo(QFile::encodeName(m_fifo).constData(), 0600), 0);
        write(QStringLiteral("head-dim-negative.json"), config(R"("head_dim":-16,"max_position_embeddings":4096)"));
        write(QStringLiteral("head-dim-2p31.json"), config(R"("head_dim":2147483648,"max_position_embeddings":4096)"));
        write(QStringLiteral("head-dim-1e308.json"), config(R"("head_dim":1e308,"max_position_embeddings":4096)"));
        write(QStringLiteral("hidden-2p31.json"),
              R"({"hidden_size":2147483648,"num_attention_heads":4,"max_position_embeddings":4096})");
        write(QStringLiteral("hidden-1e308.json"), R"({"hidden_size":1e308,"num_attention_heads":4,"max_position_embeddings":4096})");
        write(QStringLiteral("max-positions-1e308.json"), config(R"("max_position_embeddings":1e308)"));
        write(QStringLiteral("max-positions-2p31.json"), config(R"("max_position_embeddings":2147483648)"));
        write(QStringLiteral("original-1e308.json"), config(R"("max_position_embeddings":4096,"original_max_position_embeddings":1e308)"));
        write(QStringLiteral("original-2p31.json"),
              config(R"("max_position_embeddings":4096,"original_max_position_embeddings":2147483648)"));
        write(QStringLiteral("longrope-factor-0.json"), longrope(R"("factor":0,)"));
        write(QStringLiteral("longrope-factor-neg2.json"), longrope(R"("factor":-2,)"));
        write(QStringLiteral("yarn-factor-1e308.json"),
              config(R"("max_position_embeddings":4096,"rope_scaling":{"rope_type":"yarn","factor":1e308})"));
        write(QStringLiteral("rope-type-number.json"),
              config(R"("max_position_embeddings":4096,"rope_scaling":{"rope_type":2,"factor":2.0})"));
        write(QStringLiteral("gpt2.json"), R"({"model_type":"gpt2","n_embd":768,"n_head":12,"n_positions":1024})");
        write(QStringLiteral("both-forms.json"),
              config(R"("max_position_embeddings":4096,"rope_scaling":{"rope_type":"linear","factor":4.0},)"
                     R"("rope_parameters":{"rope_type":"linear","factor":2.0,"rope_theta":10000.0})"));
        write(QStringLiteral("phi3-dict-original.json"),
              R"({"model_type":"phi3","hidden_size":64,"num_attention_heads":4,"max_position_embeddings":1024,
                  "rope_parameters":{"rope_type":"longrope","rope_theta":10000.0,"original_max_position_embeddings":128,
                  "long_factor":[1,1,1,1,1,1,1,1],"short_factor":[1,1,1,1,1,1,1,1]}})");
        write(QStringLiteral("gpt-neox.json"),
              R"({"model_type":"gpt_neox","hidden_size":4096,"num_attention_heads":32,"max_position_embeddings":2048,
                  "rotary_pct":0.25,"rotary_emb_base":50000})");
        QByteArray tiny;
        for (int i = 0; i < 64; ++i)
            tiny += i == 20 ? "1e-300\n" : "1.0\n";
        write(QStringLiteral("tiny-factor.txt"), tiny);
        QVERIFY(QDir(m_dir.path()).mkdir(QStringLiteral("readonly")));
        QVERIFY(QFile::setPermissions(path(QStringLiteral("readonly")), QFile::ReadOwner | QFile::ExeOwner));
    }

    void cli_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<int>("exitCode");
        QTest::addColumn<QString>("stderrPattern");
        QTest::addColumn<QString>("stdoutTarget");  // a file stdout goes to; empty: a pipe

        const QStringList rope{QStringLiteral("rope"), QStringLiteral("--config")};
        auto configRow = [&](const char *name, const char *file, int code, const char *pattern) {
            QTest::newRow(name) << (rope + QStringList{QStringLiteral("{tmp}/") + QLatin1String(file)}) << code
                                << QString::fromUtf8(pattern) << QString();
        };
        // Silently accepted nonsense and overflowing messages in configs: exit 1, the file and the value named.
        configRow("head_dim -16", "head-dim-negative.json", 1, "head-dim-negative\\.json.*\"head_dim\" must be positive, found -16");
        configRow("head_dim 2^31", "head-dim-2p31.json", 1, "\"head_dim\" = 2147483648 is beyond");
        configRow("head_dim 1e308", "head-dim-1e308.json", 1, "\"head_dim\" = 1e\\+308 is beyond");
        configRow("hidden_size 2^31", "hidden-2p31.json", 1, "\"hidden_size\" = 2147483648 is beyond");
        configRow("hidden_size 1e308", "hidden-1e308.json", 1, "\"hidden_size\" = 1e\\+308 is beyond");
        configRow("max_position_embeddings 1e308", "max-positions-1e308.json", 1, "\"max_position_embeddings\" = 1e\\+308");
        configRow("max_position_embeddings 2^31", "max-positions-2p31.json", 1, "\"max_position_embeddings\" = 2147483648");
        configRow("original_max_position_embeddings 1e308", "original-1e308.json", 1, "\"original_max_position_embeddings\" = 1e\\+308");
        configRow("original_max_position_embeddings 2^31", "original-2p31.json", 1, "\"original_max_position_embeddings\" = 2147483648");
        configRow("longrope factor 0", "longrope-factor-0.json", 1, "\"factor\" must be positive, found 0");
        configRow("longrope factor -2", "longrope-factor-neg2.json", 1, "\"factor\" must be positive, found -2");
        configRow("yarn factor 1e308", "yarn-factor-1e308.json", 1, "\"factor\" = 1e\\+308 implies a context");
        configRow("rope_type a number", "rope-type-number.json", 1, "\"rope_type\" must be a string, found the number 2");
        configRow("gpt2 has no RoPE", "gpt2.json", 1, "does not use rotary position embeddings");
        // Ambiguous configs are read as transformers reads them, with a warning on stderr.
        configRow("rope_scaling and rope_parameters", "both-forms.json", 0, "warning: .*both-forms\\.json.*\"rope_parameters\" ignored");
        configRow("phi3 original only in the dict", "phi3-dict-original.json", 0, "warning: .*Phi3Config.*4096");
        configRow("GPT-NeoX keys read, no warning", "gpt-neox.json", 0, "^$");
        QTest::newRow("factor file 1e-300 (check)")
            << QStringList{"check", "--preset", "llama3-8b", "--factors", "{tmp}/tiny-factor.txt"} << 1
            << QStringLiteral("tiny-factor\\.txt: line 21.*1e-300 is outside") << QString();
        QTest::newRow("factor file 1e-300 (rope)")
            << QStringList{"rope", "--preset", "llama3-8b", "--factors", "{tmp}/tiny-factor.txt"} << 1
            << QStringLiteral("tiny-factor\\.txt.*outside") << QString();
        // Factors whose length does not match the model (the published LLaMA3 factors hold 64, the
        // embedded model has 32 pairs): one sentence naming the file and both counts, before any scoring.
        QTest::newRow("eval --factors of another model")
            << QStringList{"eval", "--length", "1024", "--factors", "{factors}", "--samples", "1"} << 1
            << QStringLiteral("llama3_8b_longrope2_128k_long_factor\\.txt: has 64 factors but the model has 32 rotary pairs") << QString();
        QTest::newRow("table --factors of another model")
            << QStringList{"table", "--factors", "{factors}", "--samples", "1"} << 1
            << QStringLiteral("llama3_8b_longrope2_128k_long_factor\\.txt: has 64 factors but the model has 32 rotary pairs") << QString();
        QTest::newRow("sweep --factors of another model")
            << QStringList{"sweep", "--factors", "LLaMA3={factors}", "--lengths", "1024", "--samples", "1"} << 1
            << QStringLiteral(": has 64 factors but the model has 32 rotary pairs") << QString();

        // Usage errors: exit 2, the option named.
        QTest::newRow("--target 2048M") << QStringList{"export", "--preset", "llama3-8b", "--factors", "{factors}", "--target",
                                                       "2048M", "--format", "hf4", "-o", "{tmp}/t.json"}
                                        << 2 << QStringLiteral("--target needs a length of at most 1073741824") << QString();
        QTest::newRow("eval --depth nan") << QStringList{"eval", "--length", "64", "--depth", "nan"} << 2
                                          << QStringLiteral("--depth needs a number between 0 and 1, got 'nan'") << QString();
        QTest::newRow("eval --device tpu") << QStringList{"eval", "--length", "64", "--device", "tpu"} << 2
                                           << QStringLiteral("--device needs cpu, cuda or cuda:N, got 'tpu'") << QString();
        QTest::newRow("eval --dtype float8") << QStringList{"eval", "--length", "64", "--dtype", "float8"} << 2
                                             << QStringLiteral("--dtype needs float32, bfloat16 or float16") << QString();
        QTest::newRow("eval --length below the needle template") << QStringList{"eval", "--length", "10"} << 2
                                                                 << QStringLiteral("--length is too short:.*needle template") << QString();
        const QStringList search{"search", "--length", "64", "--log", "{tmp}/run.jsonl", "--population", "2", "--iterations", "0"};
        QTest::newRow("search --racing-keep 5") << (search + QStringList{"--racing", "--racing-keep", "5"}) << 2
                                                << QStringLiteral("--racing-keep needs a fraction in \\(0, 1\\]") << QString();
        QTest::newRow("search --attention-max below --attention-min")
            << (search + QStringList{"--search-attention-factor", "--attention-min", "2", "--attention-max", "1"}) << 2
            << QStringLiteral("--attention-max \\(1\\) is below --attention-min \\(2\\)") << QString();
        QTest::newRow("search --devices with a bad name") << (search + QStringList{"--devices", "cpu,gpu7"}) << 2
                                                           << QStringLiteral("--device needs cpu, cuda or cuda:N, got 'gpu7'") << QString();
        QTest::newRow("search --fix-d-rcd beyond d/2") << QStringList{"search", "--length", "1024", "--log", "{tmp}/d.jsonl", "--fix-d-rcd", "32"} << 2
                                                       << QStringLiteral("--fix-d-rcd needs tcd, d10 or a whole number from 0 to 31, got '32'")
                                                       << QString();
        QTest::newRow("search extension with v1")
            << QStringList{"search", "--length", "1024", "--log", "{tmp}/d.jsonl", "--method", "longrope", "--decouple-anchor"} << 2
            << QStringLiteral("--decouple-anchor, --d-rcd-above-tcd and --keep-original-dims need --method longrope2") << QString();
        QTest::newRow("search --d-rcd-above-tcd with --fix-d-rcd")
            << QStringList{"search", "--length", "1024", "--log", "{tmp}/d.jsonl", "--d-rcd-above-tcd", "--fix-d-rcd", "tcd"} << 2
            << QStringLiteral("--d-rcd-above-tcd widens the d_rcd range that --fix-d-rcd holds fixed") << QString();
        QTest::newRow("search --keep-original-dims past d_rcd")
            << QStringList{"search", "--length", "1024", "--log", "{tmp}/d.jsonl", "--keep-original-dims", "30"} << 2
            << QStringLiteral("--keep-original-dims 30 reaches past the lowest d_rcd the search may choose \\(\\d+\\)") << QString();
        QTest::newRow("search --fix-d-rcd with v1") << QStringList{"search", "--length", "1024", "--log", "{tmp}/d.jsonl", "--method", "longrope", "--fix-d-rcd", "tcd"} << 2
                                                    << QStringLiteral("--fix-d-rcd needs --method longrope2") << QString();
        QTest::newRow("train with both window kinds")
            << QStringList{"train", "--init", "{tmp}", "--out", "{tmp}/t", "--mixed-window", "--plain-window", "--factors",
                           "{factors}", "--target-length", "1024"}
            << 2 << QStringLiteral("give --mixed-window or --plain-window, not both") << QString();
        QTest::newRow("train --plain-window without factors")
            << QStringList{"train", "--init", "{tmp}", "--out", "{tmp}/t", "--plain-window", "--target-length", "1024"} << 2
            << QStringLiteral("--plain-window needs --init, --factors and --target-length") << QString();
        QTest::newRow("search --length below L_train") << QStringList{"search", "--length", "10", "--log", "{tmp}/short.jsonl"} << 2
                                                       << QStringLiteral("--length 10 is below the model's L_train 512") << QString();

        // Writes that went nowhere: exit 1, the target named, before any work.
        const QStringList exportHf4{"export", "--preset", "llama3-8b", "--factors", "{factors}", "--target", "131072",
                                    "--format", "hf4", "-o"};
        QTest::newRow("export to a full device") << (exportHf4 + QStringList{"{full}"}) << 1
                                                 << QStringLiteral("full: is not a regular file") << QString();
        QTest::newRow("export to a null device") << (exportHf4 + QStringList{"{null}"}) << 1
                                                 << QStringLiteral("null: is not a regular file") << QString();
        QTest::newRow("export to a FIFO without reader") << (exportHf4 + QStringList{"{fifo}"}) << 1
                                                         << QStringLiteral("fifo: is not a regular file") << QString();
        QTest::newRow("export to a folder") << (exportHf4 + QStringList{"{tmp}"}) << 1 << QStringLiteral("is a folder")
                                            << QString();
        QTest::newRow("export into a missing folder") << (exportHf4 + QStringList{"{tmp}/missing/config.json"}) << 1
                                                      << QStringLiteral("the folder .*missing does not exist") << QString();
        QTest::newRow("CSV to a FIFO") << QStringList{"export", "--preset", "llama3-8b", "--factors", "{factors}", "--target",
                                                      "131072", "--format", "csv", "-o", "{fifo}"}
                                       << 1 << QStringLiteral("not a regular file") << QString();
        QTest::newRow("factor file to a full device")
            << QStringList{"factors", "--preset", "llama3-8b", "--family", "pi", "-o", "{full}"} << 1
            << QStringLiteral("not a regular file") << QString();
        QTest::newRow("factors on stdout into a full device")
            << QStringList{"factors", "--preset", "llama3-8b", "--family", "pi"} << 1
            << QStringLiteral("writing to standard output failed") << QStringLiteral("{full}");
        QTest::newRow("rope --json on stdout into a full device") << QStringList{"rope", "--preset", "llama3-8b", "--json"} << 1
                                                                  << QStringLiteral("writing to standard output failed")
                                                                  << QStringLiteral("{full}");
        QTest::newRow("search --out into a missing folder, before the model loads")
            << (search + QStringList{"--out", "{tmp}/missing/best.txt"}) << 1
            << QStringLiteral("^ropescope-cli: .*best\\.txt: cannot write: the folder .*missing does not exist\\n$") << QString();
        QTest::newRow("search --out to a FIFO") << (search + QStringList{"--out", "{fifo}"}) << 1
                                                << QStringLiteral("not a regular file") << QString();
        // sweep and table run for minutes to hours: their -o is checked before the model loads.
        QTest::newRow("sweep -o into a missing folder, before the model loads")
            << QStringList{"sweep", "--lengths", "512", "--samples", "1", "-o", "{tmp}/missing/sweep.json"} << 1
            << QStringLiteral("^ropescope-cli: .*sweep\\.json: cannot write: the folder .*missing does not exist\\n$") << QString();
        QTest::newRow("table -o to a FIFO, before the model loads")
            << QStringList{"table", "--multiples", "1,2", "--samples", "1", "-o", "{fifo}"} << 1
            << QStringLiteral("^ropescope-cli: .*: is not a regular file.*\\n$") << QString();

        // Issue 26: refusals that name the option or keep the system's reason.
        QTest::newRow("sweep --resamples 2e9 (ran out of memory advising --length)")
            << QStringList{"sweep", "--lengths", "512", "--samples", "1", "--resamples", "2000000000"} << 2
            << QStringLiteral("--resamples needs a whole number from 2 to 10000000, got '2000000000'") << QString();
        QTest::newRow("search --validation-samples 2e9 (named no option)")
            << QStringList{"search", "--length", "1024", "--samples", "1", "--log", "{tmp}/validation.jsonl",
                           "--validation-samples", "2000000000"}
            << 1 << QStringLiteral("the 2000000000 validation samples: .*needs ~[0-9]+ GiB of memory, this machine has .*--validation-samples")
            << QString();
        // Found by fuzzing (fuzz_sweepresult): a CSV whose cell has fewer NLLs than values opened,
        // and its JSON save then did not re-open.
        QTest::newRow("sweep --open a CSV with 12 values and 6 NLLs")
            << QStringList{"sweep", "--open", QStringLiteral(ROPESCOPE_FIXTURES "/sweep/nll-count-mismatch.csv")} << 1
            << QStringLiteral("nll-count-mismatch\\.csv: line 3: a cell of \"YaRN\" at 512 tokens has 12 per-sample values but 6 NLLs")
            << QString();
        QTest::newRow("sweep --open a JSON with held_out_seed 1e90")
            << QStringList{"sweep", "--open", QStringLiteral(ROPESCOPE_FIXTURES "/sweep/seed-1e90.json")} << 1
            << QStringLiteral("seed-1e90\\.json: \"held_out_seed\" must be a whole number from 0 to 2\\^64 - 1") << QString();
        // A reference with a line break saved as a CSV that did not re-open (fuzz_sweepresult's third finding).
        QTest::newRow("sweep --open, a reference holding a line break")
            << QStringList{"sweep", "--open", QStringLiteral(ROPESCOPE_FIXTURES "/sweep/reference-linebreak.json")} << 1
            << QStringLiteral("reference-linebreak\\.json: the reference \"Ya RN\" holds a line break") << QString();
        const QStringList tinySearch{"search", "--length", "512", "--samples", "1", "--validation-samples", "0",
                                     "--population", "2", "--iterations", "0"};
        QTest::newRow("search --log into a missing folder (the lock lost the reason)")
            << (tinySearch + QStringList{"--log", "{tmp}/missing/run.jsonl"}) << 1
            << QStringLiteral("cannot create the lock file .*missing/run\\.jsonl\\.lock \\(No such file or directory\\)") << QString();
        if (::geteuid() != 0) {
            QTest::newRow("search --log into a read-only folder (the lock lost the reason)")
                << (tinySearch + QStringList{"--log", "{tmp}/readonly/run.jsonl"}) << 1
                << QStringLiteral("cannot create the lock file .*run\\.jsonl\\.lock \\(Permission denied\\)") << QString();
        }
        if (::geteuid() != 0)  // root writes into a read-only folder, so there it is no error
            QTest::newRow("search --out into a read-only folder") << (search + QStringList{"--out", "{tmp}/readonly/best.txt"}) << 1
                                                                  << QStringLiteral("cannot write in the folder") << QString();
    }

    void cli()
    {
        QFETCH(QStringList, args);
        QFETCH(int, exitCode);
        QFETCH(QString, stderrPattern);
        QFETCH(QString, stdoutTarget);
        QProcess p;
        if (!stdoutTarget.isEmpty())
            p.setStandardOutputFile(expand({stdoutTarget}).first());
        p.start(QStringLiteral(ROPESCOPE_CLI), expand(args));
        QVERIFY2(p.waitForFinished(120000), "ropescope-cli did not finish");
        QCOMPARE(p.exitStatus(), QProcess::NormalExit);
        const QString err = QString::fromUtf8(p.readAllStandardError());
        QVERIFY2(p.exitCode() == exitCode, qPrintable(QStringLiteral("exit %1, stderr: %2").arg(p.exitCode()).arg(err)));
        const QRegularExpression pattern(stderrPattern, QRegularExpression::DotMatchesEverythingOption);
        QVERIFY2(pattern.isValid(), qPrintable(pattern.errorString()));
        QVERIFY2(pattern.match(err).hasMatch(), qPrintable(QStringLiteral("stderr does not match /%1/: %2").arg(stderrPattern, err)));
        QVERIFY2(!err.contains(QLatin1String("wrote ")), qPrintable(err));
    }

    void targetsUntouched()
    {
        // Refused targets are left as they were: the FIFO is still a FIFO, the devices still devices.
        struct stat st {};
        QCOMPARE(::stat(QFile::encodeName(m_fifo).constData(), &st), 0);
        QVERIFY(S_ISFIFO(st.st_mode));
        for (const QString &d : {m_full, m_null}) {
            QCOMPARE(::stat(QFile::encodeName(d).constData(), &st), 0);
            QVERIFY2(S_ISCHR(st.st_mode), qPrintable(d));
        }
        QVERIFY(!QFileInfo::exists(path(QStringLiteral("missing"))));
    }
};

QTEST_GUILESS_MAIN(TestBadInput)
#include "test_badinput.moc"
