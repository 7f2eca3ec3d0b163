// The help and the parser agree (issue 26): every special value a command's --help documents for
// an option — a keyword or number with its own meaning ("none: no heatmap", "0: none", "tcd",
// "0 disables clipping") and each name of a documented choice ("none, pi, ntk, yarn, llama3 or
// config") — is accepted by that command's parser. Before, `sweep --help` said "--depths … none: no
// heatmap" and the parser answered "--depths needs numbers between 0 and 1, got "none"".
//
// Each row is a (command, option, value) with a small run that uses it, on the embedded model or
// a preset: the help must name the value in that option's text, and the run must end with exit
// 0. A scan of every command's help finds the values written in the documentation's own forms
// ("VALUE: meaning" after an opening parenthesis, a semicolon or at the start, "A|B" in the
// option's value name, "VALUE disables …") and fails on any that has no row, so a value documented
// later is tested too.
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>

#include <map>

namespace {

const QString kTokenizer = QStringLiteral(ROPESCOPE_FIXTURES "/tokenizers/bytes-256-tokenizer.json");
const QString kFactors = QStringLiteral(ROPESCOPE_FIXTURES "/factors/llama3_8b_longrope2_128k_long_factor.txt");

// The commands whose options take values.
const QStringList kCommands{"rope", "factors", "check", "export", "eval", "search", "rank-stability", "table", "sweep",
                            "train", "bench"};

// Words the scan finds in the documentation's "WORD:" form that label a sentence rather than name
// a value: "(default: …)", "(v1: every dimension searched)", "LongRoPE2: hold d_rcd …".
const QSet<QString> kLabels{"default", "v1", "LongRoPE2", "longrope2", "e.g"};

struct OptionHelp {
    QString valueName;  // e.g. "N|tcd|d10"
    QString text;       // the description, its wrapped lines joined
};

// Option name → its help, from `ropescope-cli COMMAND --help`.
std::map<QString, OptionHelp> parseHelp(const QString &help)
{
    std::map<QString, OptionHelp> out;
    static const QRegularExpression optionLine(QStringLiteral("^  (?:-\\w, )?--([\\w-]+)(?: <([^>]*)>)?\\s{2,}(.*)$"));
    static const QRegularExpression continuation(QStringLiteral("^\\s{4,}(\\S.*)$"));
    QString current;
    for (const QString &line : help.split(QLatin1Char('\n'))) {
        const QRegularExpressionMatch m = optionLine.match(line);
        if (m.hasMatch()) {
            current = m.captured(1);
            out[current] = OptionHelp{m.captured(2), m.captured(3).trimmed()};
            continue;
        }
        const QRegularExpressionMatch c = continuation.match(line);
        if (c.hasMatch() && !current.isEmpty())
            out[current].text += QLatin1Char(' ') + c.captured(1).trimmed();
        else
            current.clear();
    }
    return out;
}

QString helpOf(const QString &command)
{
    QProcess p;
    p.start(QStringLiteral(ROPESCOPE_CLI), {command, QStringLiteral("--help")});
    if (!p.waitForFinished(60000) || p.exitCode() != 0)
        qFatal("ropescope-cli %s --help failed", qPrintable(command));
    return QString::fromUtf8(p.readAllStandardOutput());
}

// The special values an option's help writes in the documentation's forms.
QStringList documentedForms(const OptionHelp &h)
{
    QStringList values;
    static const QRegularExpression colon(QStringLiteral("(?:^|[(;]\\s*)([A-Za-z0-9][A-Za-z0-9._-]*):\\s"));
    for (auto it = colon.globalMatch(h.text); it.hasNext();) {
        const QString v = it.next().captured(1);
        if (!kLabels.contains(v))
            values << v;
    }
    static const QRegularExpression disables(QStringLiteral("(?:^|\\s)([A-Za-z0-9.-]+) (?:disables|means)\\b"));
    for (auto it = disables.globalMatch(h.text); it.hasNext();)
        values << it.next().captured(1);
    if (h.valueName.contains(QLatin1Char('|')))
        for (const QString &alternative : h.valueName.split(QLatin1Char('|')))
            if (alternative != alternative.toUpper())  // "N" is a placeholder, "tcd" a value
                values << alternative;
    return values;
}

} // namespace

class TestHelpValues : public QObject {
    Q_OBJECT

    QTemporaryDir m_tmp;
    std::map<QString, std::map<QString, OptionHelp>> m_help;  // command → option → help
    QSet<QString> m_rows;                                      // "command --option value"

    // The rows: each value with a run that uses it. {tmp} is the test's temporary folder, {n} a
    // number unique to the row.
    struct Row {
        QString command, option, value;
        QStringList args;
    };
    // A documented value this machine may not run, and the refusal that then names it: float16 on
    // a CPU whose LibTorch has no float16 matrix products.
    static QString deviceRefusal(const QString &value)
    {
        return value == QLatin1String("float16") ? QStringLiteral("float16 is not available on the CPU") : QString();
    }
    std::vector<Row> rows() const
    {
        std::vector<Row> out;
        const auto add = [&](const QString &command, const QString &option, const QStringList &values,
                             const QStringList &args) {
            for (const QString &v : values) {
                QStringList a{command};
                for (const QString &x : args)
                    a << QString(x).replace(QLatin1String("{value}"), v);
                a << QStringLiteral("--") + option << v;
                out.push_back({command, option, v, a});
            }
        };
        const QStringList eval{"--length", "400", "--samples", "1"};
        const QStringList families{"none", "pi", "ntk", "yarn", "llama3", "config"};
        add("eval", "method", families, eval);
        add("eval", "reference", families, eval);
        add("eval", "dtype", {"float32", "bfloat16", "float16"}, eval);
        add("eval", "device", {"cpu"}, eval);
        const QStringList search{"--length", "512", "--samples", "1", "--population", "2", "--iterations", "0",
                                 "--max-evaluations", "1", "--log", "{tmp}/{n}.jsonl"};
        add("search", "validation-samples", {"0"}, search);
        add("search", "method", {"longrope2", "longrope"}, search + QStringList{"--validation-samples", "0"});
        add("search", "fix-d-rcd", {"tcd", "d10"}, search + QStringList{"--validation-samples", "0"});
        add("search", "fitness", {"mean-ppl", "exp-mean-nll", "median-ppl"}, search + QStringList{"--validation-samples", "0"});
        add("search", "choose-by", {"validation", "search"}, search + QStringList{"--validation-samples", "1"});
        add("search", "device", {"cpu"}, search + QStringList{"--validation-samples", "0"});
        add("search", "dtype", {"float32", "bfloat16", "float16"}, search + QStringList{"--validation-samples", "0"});
        const QStringList sweep{"--lengths", "512", "--samples", "1", "--no-held-out", "--resamples", "2"};
        add("sweep", "methods", families, sweep);
        add("sweep", "depths", {"none"}, sweep + QStringList{"--methods", "none"});
        add("sweep", "device", {"cpu"}, sweep + QStringList{"--methods", "none"});
        add("sweep", "dtype", {"float32", "bfloat16", "float16"}, sweep + QStringList{"--methods", "none"});
        const QStringList train{"--config", "{tmp}/tiny-config.json", "--tokenizer", kTokenizer, "--out", "{tmp}/train-{n}",
                                "--steps", "1", "--batch", "1", "--seq-len", "32"};
        add("train", "clip", {"0"}, train);
        add("train", "save-dtype", {"float32", "bfloat16"}, train);
        add("train", "device", {"cpu"}, train);
        // A preset with factors of its own, for "config".
        add("factors", "family", {"identity", "pi", "ntk", "yarn", "llama3", "longrope2", "config"},
            {"--preset", "phi3-mini-128k", "-o", "{tmp}/factors-{n}.txt"});
        add("export", "format", {"hf4", "hf5", "csv", "longrope"},
            {"--preset", "llama3-8b", "--factors", kFactors, "--target", "131072", "-o", "{tmp}/export-{n}"});
        add("rank-stability", "method", {"longrope2", "longrope"},
            {"--length", "512", "--samples", "2", "--set-size", "1", "--splits", "2", "--population", "8"});
        add("table", "dtype", {"float32"}, {"--multiples", "1", "--samples", "1", "--no-passkey"});
        add("bench", "dtype", {"float32"},
            {"--config", "{tmp}/tiny-config.json", "--lengths", "512", "--repeats", "1", "--warmup", "0"});
        return out;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_tmp.isValid());
        QFile config(m_tmp.filePath(QStringLiteral("tiny-config.json")));
        QVERIFY(config.open(QIODevice::WriteOnly));
        config.write(QJsonDocument(QJsonObject{{"architectures", QJsonArray{"LlamaForCausalLM"}},
                                               {"model_type", "llama"}, {"vocab_size", 256}, {"hidden_size", 32},
                                               {"intermediate_size", 64}, {"num_hidden_layers", 1},
                                               {"num_attention_heads", 2}, {"num_key_value_heads", 2},
                                               {"max_position_embeddings", 512}, {"rope_theta", 10000.0},
                                               {"rms_norm_eps", 1e-5}, {"tie_word_embeddings", true}})
                         .toJson());
        for (const QString &command : kCommands)
            m_help[command] = parseHelp(helpOf(command));
        for (const Row &r : rows())
            m_rows.insert(QStringLiteral("%1 --%2 %3").arg(r.command, r.option, r.value));
    }

    // Every value the help writes in a documented form has a row below.
    void everyDocumentedValueHasARow()
    {
        QStringList missing, found;
        for (const auto &[command, options] : m_help)
            for (const auto &[option, help] : options)
                for (const QString &value : documentedForms(help)) {
                    const QString key = QStringLiteral("%1 --%2 %3").arg(command, option, value);
                    found << key;
                    if (!m_rows.contains(key))
                        missing << key;
                }
        qInfo("documented in the help's forms: %s", qPrintable(found.join(QStringLiteral("; "))));
        // At least the four of issue 26's time: --depths none, --validation-samples 0, --fix-d-rcd
        // tcd and d10, --clip 0.
        QVERIFY2(found.size() >= 5, "the scan found almost nothing: has the help's layout changed?");
        QVERIFY2(missing.isEmpty(), qPrintable(QStringLiteral("documented but not tested: ") + missing.join(QStringLiteral("; "))));
    }

    void documentedValueIsAccepted_data()
    {
        QTest::addColumn<QString>("command");
        QTest::addColumn<QString>("option");
        QTest::addColumn<QString>("value");
        QTest::addColumn<QStringList>("args");
        for (const Row &r : rows())
            QTest::newRow(qPrintable(QStringLiteral("%1 --%2 %3").arg(r.command, r.option, r.value)))
                << r.command << r.option << r.value << r.args;
    }

    void documentedValueIsAccepted()
    {
        QFETCH(QString, command);
        QFETCH(QString, option);
        QFETCH(QString, value);
        QFETCH(QStringList, args);
        // The help documents it: the option's text or value name names the value as a word.
        const auto options = m_help.find(command);
        QVERIFY2(options != m_help.end() && options->second.count(option), qPrintable(QStringLiteral("no --%1").arg(option)));
        const OptionHelp &help = options->second.at(option);
        const QRegularExpression word(QStringLiteral("(?:^|[^\\w-])%1(?:[^\\w-]|$)").arg(QRegularExpression::escape(value)));
        QVERIFY2(word.match(help.text).hasMatch() || help.valueName.split(QLatin1Char('|')).contains(value),
                 qPrintable(QStringLiteral("%1 --help does not document %2 for --%3: %4").arg(command, value, option, help.text)));
        // The parser accepts it: the small run succeeds.
        static int n = 0;
        ++n;
        for (QString &a : args)
            a.replace(QLatin1String("{tmp}"), m_tmp.path()).replace(QLatin1String("{n}"), QString::number(n));
        QProcess p;
        p.start(QStringLiteral(ROPESCOPE_CLI), args);
        QVERIFY2(p.waitForFinished(180000), "did not finish");
        const QString err = QString::fromUtf8(p.readAllStandardError());
        const QString refusal = deviceRefusal(value);
        if (p.exitStatus() == QProcess::NormalExit && p.exitCode() == 1 && !refusal.isEmpty() && err.contains(refusal))
            QSKIP(qPrintable(QStringLiteral("accepted, but this machine cannot run it: ") + err.trimmed()));
        QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0,
                 qPrintable(QStringLiteral("ropescope-cli %1: exit %2: %3").arg(args.join(QLatin1Char(' '))).arg(p.exitCode()).arg(err)));
    }
};

QTEST_GUILESS_MAIN(TestHelpValues)
#include "test_helpvalues.moc"
