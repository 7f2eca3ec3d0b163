// Where `train` puts a model (issue 26): a folder written whole or not at all, never over another
// model's files unless asked. Before, the files went one by one into --out, which was made before
// the training began: a failed run left an empty folder, and a folder holding a sharded
// checkpoint got a model.safetensors beside the old index, which the loader then preferred.
#include "common/error.h"
#include "runtime/modeloutput.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QTemporaryDir>
#include <QTest>

#include <stdexcept>
#include <unistd.h>

using namespace rs;

namespace {

void writeText(const QString &path, const QByteArray &text)
{
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(text) != text.size())
        qFatal("cannot write %s", qPrintable(path));
}

QByteArray readText(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

// What writeModelFolder's callback writes: a stand-in model of two files.
void twoFiles(const QString &folder)
{
    writeText(folder + QStringLiteral("/config.json"), "{\"new\": true}");
    writeText(folder + QStringLiteral("/model.safetensors"), "new weights");
}

QStringList entries(const QString &dir)
{
    return QDir(dir).entryList(QDir::AllEntries | QDir::Hidden | QDir::System | QDir::NoDotAndDotDot, QDir::Name);
}

} // namespace

class TestModelOutput : public QObject {
    Q_OBJECT

    QTemporaryDir m_tmp;

    // A folder holding a sharded checkpoint: the index and its shard.
    QString shardedModel(const QString &name)
    {
        const QString dir = m_tmp.filePath(name);
        QDir().mkpath(dir);
        writeText(dir + QStringLiteral("/model.safetensors.index.json"), "{\"weight_map\": {\"w\": \"model-00001-of-00001.safetensors\"}}");
        writeText(dir + QStringLiteral("/model-00001-of-00001.safetensors"), "old weights");
        writeText(dir + QStringLiteral("/config.json"), "{\"old\": true}");
        return dir;
    }

private Q_SLOTS:
    void initTestCase() { QVERIFY(m_tmp.isValid()); }

    void newFolderWithMissingParents()
    {
        const QString dir = m_tmp.filePath(QStringLiteral("a/b/model"));
        checkModelOutput(dir);
        QVERIFY(!QFileInfo::exists(m_tmp.filePath(QStringLiteral("a"))));  // the check makes nothing
        writeModelFolder(dir, twoFiles);
        QCOMPARE(entries(dir), (QStringList{"config.json", "model.safetensors"}));
        QCOMPARE(entries(m_tmp.filePath(QStringLiteral("a/b"))), QStringList{"model"});  // no temporary folder left
    }

    void emptyFolderIsUsed()
    {
        const QString dir = m_tmp.filePath(QStringLiteral("empty"));
        QDir().mkpath(dir);
        writeModelFolder(dir, twoFiles);
        QCOMPARE(entries(dir), (QStringList{"config.json", "model.safetensors"}));
    }

    // The case of issue 26: before, train wrote model.safetensors beside the old index and shard.
    void anotherModelIsRefused()
    {
        const QString dir = shardedModel(QStringLiteral("sharded"));
        const QStringList before = entries(dir);
        for (int attempt = 0; attempt < 2; ++attempt) {
            try {
                if (attempt == 0)
                    checkModelOutput(dir);
                else
                    writeModelFolder(dir, twoFiles);
                QFAIL("a folder holding another model's files was accepted");
            } catch (const Error &e) {
                QVERIFY2(e.message().contains(QLatin1String("model.safetensors.index.json")) && e.message().contains(dir)
                             && e.message().contains(QLatin1String("another model's files")),
                         qPrintable(e.message()));
            }
        }
        QCOMPARE(entries(dir), before);
        QCOMPARE(entries(m_tmp.path()).filter(QStringLiteral(".partial")), QStringList());
    }

    void otherFilesAreRefusedToo()
    {
        const QString dir = m_tmp.filePath(QStringLiteral("notes"));
        QDir().mkpath(dir);
        writeText(dir + QStringLiteral("/notes.txt"), "mine");
        QVERIFY_THROWS_EXCEPTION(Error, checkModelOutput(dir));
        QVERIFY_THROWS_EXCEPTION(Error, writeModelFolder(dir, twoFiles));
        QCOMPARE(readText(dir + QStringLiteral("/notes.txt")), QByteArray("mine"));
    }

    // --force: the new folder takes the old one's place whole; nothing of the old model stays.
    void replaceSwapsTheFolder()
    {
        const QString dir = shardedModel(QStringLiteral("replaced"));
        ModelOutputOptions replace;
        replace.replace = true;
        checkModelOutput(dir, replace);
        writeModelFolder(dir, twoFiles, replace);
        QCOMPARE(entries(dir), (QStringList{"config.json", "model.safetensors"}));
        QCOMPARE(readText(dir + QStringLiteral("/config.json")), QByteArray("{\"new\": true}"));
        QCOMPARE(entries(m_tmp.path()).filter(QStringLiteral("replaced")), QStringList{"replaced"});  // old one gone
    }

    void replaceKeepsFoldersOfFolders()
    {
        const QString dir = shardedModel(QStringLiteral("with-subfolder"));
        QDir().mkpath(dir + QStringLiteral("/runs"));
        ModelOutputOptions replace;
        replace.replace = true;
        QVERIFY_THROWS_EXCEPTION(Error, checkModelOutput(dir, replace));
        QVERIFY(QFileInfo(dir + QStringLiteral("/runs")).isDir());
    }

    // A failed write leaves the destination as it was, and no temporary folder or made parent.
    void failureLeavesNothing()
    {
        const QString dir = m_tmp.filePath(QStringLiteral("made/parents/model"));
        QVERIFY_THROWS_EXCEPTION(std::runtime_error, writeModelFolder(dir, [](const QString &folder) {
            twoFiles(folder);
            throw std::runtime_error("the tokenizer went away");
        }));
        QVERIFY(!QFileInfo::exists(m_tmp.filePath(QStringLiteral("made"))));

        const QString old = shardedModel(QStringLiteral("kept"));
        const QStringList before = entries(old);
        ModelOutputOptions replace;
        replace.replace = true;
        QVERIFY_THROWS_EXCEPTION(Error, writeModelFolder(old, [&](const QString &) {
            throw Error(old, QStringLiteral("writing failed"));
        }, replace));
        QCOMPARE(entries(old), before);
        QCOMPARE(entries(m_tmp.path()).filter(QStringLiteral("kept")), QStringList{"kept"});
    }

    void notAFolder()
    {
        const QString file = m_tmp.filePath(QStringLiteral("plain-file"));
        writeText(file, "x");
        ModelOutputOptions replace;
        replace.replace = true;
        QVERIFY_THROWS_EXCEPTION(Error, checkModelOutput(file, replace));
        QCOMPARE(readText(file), QByteArray("x"));
    }

    // A symlink to an empty folder: the folder it leads to gets the model, the link stays.
    void symlinkToAFolder()
    {
        const QString real = m_tmp.filePath(QStringLiteral("real-target"));
        QDir().mkpath(real);
        const QString link = m_tmp.filePath(QStringLiteral("link-to-target"));
        QCOMPARE(::symlink(QFile::encodeName(real).constData(), QFile::encodeName(link).constData()), 0);
        writeModelFolder(link, twoFiles);
        QVERIFY(QFileInfo(link).isSymLink());
        QCOMPARE(entries(real), (QStringList{"config.json", "model.safetensors"}));
    }
};

QTEST_GUILESS_MAIN(TestModelOutput)
#include "test_modeloutput.moc"
