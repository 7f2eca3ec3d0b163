// File › Open Embedded Model ▸ the fine-tuned variants (issue 16): the index the fair-miniature
// recipe writes is read in order, entries without a model are left out, a malformed index names
// itself, and picking an entry opens that folder at its fine-tuning length with its own factors
// and loads it for live scoring. The models are data found relative to the executable (issue 27):
// <prefix>/share/ropescope beside <prefix>/bin, and the same layout in the build tree. The "fine-tuned" model here is the embedded model's files with a
// longrope config whose factors the test chose.
#include "datadir.h"
#include "finetunedmodels.h"
#include "mainwindow.h"

#include "factordocument.h"
#include "runtime/embeddedmodel.h"
#include "worker/evaluationworker.h"

#include <QAction>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMenu>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>

namespace {

void writeFile(const QString &path, const QByteArray &bytes)
{
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
    QCOMPARE(f.write(bytes), bytes.size());
}

void writeIndex(const QString &dir, const QJsonArray &entries)
{
    writeFile(QDir(dir).filePath(QStringLiteral("index.json")), QJsonDocument(entries).toJson());
}

QJsonObject entry(const QString &folder, const QString &name)
{
    return QJsonObject{{QStringLiteral("folder"), folder}, {QStringLiteral("name"), name}};
}

// d/2 = 32 factors: 1 up to dimension 17, then 4 (a PI-above-d_tcd shape at s = 4).
QJsonArray chosenFactors()
{
    QJsonArray a;
    for (int i = 0; i < 32; ++i)
        a.append(i < 18 ? 1.0 : 4.0);
    return a;
}

} // namespace

class TestFineTunedModels : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    // The installed layout: <prefix>/bin/ropescope finds <prefix>/share/ropescope (GNUInstallDirs'
    // folders of this build), and nothing when that folder is missing.
    void dataFolderBesideTheExecutable()
    {
        QTemporaryDir prefix;
        QVERIFY(prefix.isValid());
        const QString bin = prefix.filePath(QStringLiteral(ROPESCOPE_INSTALL_BINDIR));
        const QString data = prefix.filePath(QStringLiteral(ROPESCOPE_INSTALL_DATADIR "/ropescope"));
        QVERIFY(QDir().mkpath(bin));
        QCOMPARE(dataDirectoryBeside(bin), QString());
        QVERIFY(QDir().mkpath(data));
        QCOMPARE(QDir(dataDirectoryBeside(bin)).canonicalPath(), QDir(data).canonicalPath());

        qputenv("ROPESCOPE_DATA_DIR", data.toUtf8());
        QCOMPARE(dataDirectory(), data);
        QCOMPARE(fineTunedModelsDirectory(), QDir(data).filePath(QStringLiteral("models/fair-4x")));
        qunsetenv("ROPESCOPE_DATA_DIR");
    }

    // The build tree has the installed layout: the GUI built in <build>/app finds the fair
    // miniature's eight models (results/fair-4x/models) through <build>/share/ropescope.
    void buildTreeFindsTheFineTunedModels()
    {
        const QString data = dataDirectoryBeside(QStringLiteral(ROPESCOPE_APP_DIR));
        QVERIFY2(!data.isEmpty(), ROPESCOPE_APP_DIR " has no data folder beside it");
        QString problem;
        const QList<FineTunedModel> models = readFineTunedModels(QDir(data).filePath(QStringLiteral("models/fair-4x")), &problem);
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        QCOMPARE(models.size(), 8);
        for (const FineTunedModel &model : models)
            QVERIFY2(QFileInfo(QDir(model.dir).filePath(QStringLiteral("model.safetensors"))).size() > 0, qPrintable(model.dir));
        for (const char *folder : {"presets/index.json", "help/plots.html", "embedded-model/config.json"})
            QVERIFY2(QFileInfo::exists(QDir(data).filePath(QLatin1String(folder))), folder);
    }

    void indexListsModelsInOrder()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        for (const char *folder : {"b", "a"}) {
            QVERIFY(QDir(dir.path()).mkpath(QLatin1String(folder)));
            writeFile(dir.filePath(QStringLiteral("%1/config.json").arg(QLatin1String(folder))), "{}");
        }
        QVERIFY(QDir(dir.path()).mkpath(QStringLiteral("empty")));  // no config.json: not offered
        writeIndex(dir.path(), {entry(QStringLiteral("b"), QStringLiteral("Second B")), entry(QStringLiteral("empty"), QStringLiteral("Gone")),
                                entry(QStringLiteral("a"), QStringLiteral("First A"))});
        QString problem;
        const QList<FineTunedModel> models = readFineTunedModels(dir.path(), &problem);
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        QCOMPARE(models.size(), 2);
        QCOMPARE(models[0].name, QStringLiteral("Second B"));
        QCOMPARE(models[0].dir, dir.filePath(QStringLiteral("b")));
        QCOMPARE(models[1].name, QStringLiteral("First A"));
    }

    void noIndexNoModels()
    {
        QTemporaryDir dir;
        QString problem;
        QVERIFY(readFineTunedModels(dir.path(), &problem).isEmpty());
        QVERIFY(problem.isEmpty());
        QVERIFY(readFineTunedModels(QString(), &problem).isEmpty());
    }

    void malformedIndexNamesItself_data()
    {
        QTest::addColumn<QByteArray>("index");
        QTest::addColumn<QString>("expected");
        QTest::newRow("not JSON") << QByteArray("[{") << QStringLiteral("index.json");
        QTest::newRow("an object") << QByteArray("{}") << QStringLiteral("not a JSON array");
        QTest::newRow("no name") << QByteArray(R"([{"folder": "a"}])") << QStringLiteral("entry 1");
        QTest::newRow("outside") << QByteArray(R"([{"folder": "../a", "name": "x"}])") << QStringLiteral("inside this directory");
    }

    void malformedIndexNamesItself()
    {
        QFETCH(QByteArray, index);
        QFETCH(QString, expected);
        QTemporaryDir dir;
        writeFile(dir.filePath(QStringLiteral("index.json")), index);
        QString problem;
        QVERIFY(readFineTunedModels(dir.path(), &problem).isEmpty());
        QVERIFY2(problem.contains(QStringLiteral("index.json")) && problem.contains(expected), qPrintable(problem));
    }

    void menuOpensTheFineTunedModel()
    {
        if (!rs::hasEmbeddedModel())
            QSKIP("this build carries no embedded model");
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString model = dir.filePath(QStringLiteral("tuned"));
        QVERIFY(QDir().mkpath(model));
        const QDir base(rs::embeddedModelDir());
        for (const char *file : {"model.safetensors", "tokenizer.json"})
            QVERIFY(QFile::copy(base.filePath(QLatin1String(file)), QDir(model).filePath(QLatin1String(file))));
        QFile baseConfig(base.filePath(QStringLiteral("config.json")));
        QVERIFY(baseConfig.open(QIODevice::ReadOnly));
        QJsonObject config = QJsonDocument::fromJson(baseConfig.readAll()).object();
        config.insert(QStringLiteral("max_position_embeddings"), 2048);
        config.insert(QStringLiteral("rope_scaling"),
                      QJsonObject{{QStringLiteral("rope_type"), QStringLiteral("longrope")},
                                  {QStringLiteral("original_max_position_embeddings"), 512},
                                  {QStringLiteral("short_factor"), chosenFactors()},
                                  {QStringLiteral("long_factor"), chosenFactors()},
                                  {QStringLiteral("attention_factor"), 1.25}});
        writeFile(QDir(model).filePath(QStringLiteral("config.json")), QJsonDocument(config).toJson());
        const QString name = QStringLiteral("Test method (fine-tuned, 4×)");
        writeIndex(dir.path(), {entry(QStringLiteral("tuned"), name)});
        qputenv("ROPESCOPE_FINETUNED_MODELS", dir.path().toUtf8());

        MainWindow window;
        window.setPromptsEnabled(false);
        auto *menu = window.findChild<QMenu *>(QStringLiteral("embeddedModelMenu"));
        QVERIFY(menu);
        QAction *pick = nullptr;
        for (QAction *action : menu->actions())
            if (action->text() == name)
                pick = action;
        QVERIFY2(pick, "the index's model should be in File › Open Embedded Model");

        QSignalSpy loaded(window.evaluationThread(), &rs::EvaluationService::modelLoaded);
        pick->trigger();
        rs::FactorDocument *document = window.document();
        // Its own length and factors, not the base's 8 × and λ = 1.
        QCOMPARE(document->targetLength(), 2048.0);
        std::vector<double> expected;
        for (const QJsonValue &v : chosenFactors())
            expected.push_back(v.toDouble());
        QCOMPARE(document->lambda(), expected);
        QCOMPARE(document->effectiveAttentionFactor(), 1.25);
        QVERIFY2(window.windowTitle().contains(name), qPrintable(window.windowTitle()));
        QVERIFY(loaded.wait(120000));
        QCOMPARE(QDir(loaded.takeFirst().at(0).value<rs::ModelInfo>().directory).canonicalPath(), QDir(model).canonicalPath());
        qunsetenv("ROPESCOPE_FINETUNED_MODELS");
    }
};

QTEST_MAIN(TestFineTunedModels)
#include "test_finetunedmodels.moc"
