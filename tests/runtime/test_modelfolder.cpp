// A model folder never makes the loader read a file outside itself (issue 18): every name a folder
// gives — the shards of model.safetensors.index.json, config.json, the checkpoint, the tokenizer
// files — must resolve, symlinks included, to a regular file inside the folder, and is refused
// before anything is opened otherwise.
//
// Each attack aims at a FIFO. Opening a FIFO for reading blocks until a writer comes, so a loader
// that opened the target would hang: the load runs on a thread of its own, and when no answer has
// come within a few seconds the test looks for a reader on the FIFO, plays the writer so that the
// thread ends, and fails. Symlinks that stay inside the folder, and huggingface_hub's cache layout
// (snapshot files linking to the repository's blobs), load as before.
#include "common/error.h"
#include "eval/evaluator.h"
#include "runtime/model.h"
#include "runtime/modelfolder.h"
#include "runtime/safetensors.h"
#include "runtime/tokenizer.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <chrono>
#include <fcntl.h>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

using namespace rs;

namespace {

const QString kFixture = QStringLiteral(ROPESCOPE_FIXTURES "/models/llama-plain");
const QString kTokenizer = QStringLiteral(ROPESCOPE_FIXTURES "/tokenizers/bytes-256-tokenizer.json");
const QString kShard1 = QStringLiteral("model-00001-of-00002.safetensors");
const QString kShard2 = QStringLiteral("model-00002-of-00002.safetensors");
const QString kIndex = QStringLiteral("model.safetensors.index.json");
// How long a load may take before it counts as blocked in open(). The tiny fixture loads in
// milliseconds; the margin is for a busy machine.
constexpr auto kBlockedAfter = std::chrono::seconds(5);

void makeFifo(const QString &path)
{
    if (::mkfifo(QFile::encodeName(path).constData(), 0600) != 0)
        qFatal("mkfifo %s failed", qPrintable(path));
}

void makeSymlink(const QString &target, const QString &link)
{
    if (::symlink(QFile::encodeName(target).constData(), QFile::encodeName(link).constData()) != 0)
        qFatal("symlink %s -> %s failed", qPrintable(link), qPrintable(target));
}

void writeText(const QString &path, const QByteArray &text)
{
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(text) != text.size())
        qFatal("cannot write %s", qPrintable(path));
}

// The fixture's tensors in two shards: the first layer and the embedding in one, the rest in the
// other. Returns the weight_map.
std::map<QString, QString> writeShards(const QString &dir)
{
    const auto source = SafetensorsFile::open(kFixture + QStringLiteral("/model.safetensors"));
    std::vector<TensorBytes> first, second;
    std::map<QString, QString> weightMap;
    for (const auto &[name, info] : source->tensors()) {
        const bool inFirst = name.startsWith(QLatin1String("model.embed")) || name.startsWith(QLatin1String("model.layers.0."));
        (inFirst ? first : second).push_back({name, info.dtype, info.shape, source->data(name), info.byteSize});
        weightMap[name] = inFirst ? kShard1 : kShard2;
    }
    writeSafetensors(dir + QLatin1Char('/') + kShard1, first);
    writeSafetensors(dir + QLatin1Char('/') + kShard2, second);
    return weightMap;
}

QByteArray indexJson(const std::map<QString, QString> &weightMap)
{
    QJsonObject map;
    for (const auto &[tensor, shard] : weightMap)
        map.insert(tensor, shard);
    return QJsonDocument(QJsonObject{{QStringLiteral("metadata"), QJsonObject{}}, {QStringLiteral("weight_map"), map}})
        .toJson();
}

// The second shard's tensors, mapped to `name` instead.
std::map<QString, QString> redirectSecond(std::map<QString, QString> weightMap, const QString &name)
{
    for (auto &[tensor, shard] : weightMap)
        if (shard == kShard2)
            shard = name;
    return weightMap;
}

// What a load did: finished with an rs::Error (its message), finished without one, or blocked.
struct Outcome {
    enum Kind { Loaded, Refused, Blocked } kind = Blocked;
    QString message;
};

// Runs `load` on its own thread. When it has not returned after kBlockedAfter, the test tries to
// open the write end of each of `fifos` without blocking, which succeeds only while someone has the
// FIFO open for reading: the loader, blocked there. That both proves the open and lets the loader
// go on (it reads an empty file and fails), so a failing case costs seconds, never the suite. A
// load that was only slow (a busy machine) finishes without a reader ever being seen and counts
// as what it did.
Outcome runLoad(const std::function<void()> &load, const QStringList &fifos)
{
    auto promise = std::make_shared<std::promise<Outcome>>();
    std::future<Outcome> future = promise->get_future();
    std::thread([load, promise] {
        Outcome o;
        try {
            load();
            o.kind = Outcome::Loaded;
        } catch (const Error &e) {
            o.kind = Outcome::Refused;
            o.message = e.message();
        } catch (const std::exception &e) {
            o.kind = Outcome::Refused;
            o.message = QStringLiteral("(not an rs::Error) ") + QString::fromLocal8Bit(e.what());
        }
        promise->set_value(o);
    }).detach();
    if (future.wait_for(kBlockedAfter) == std::future_status::ready)
        return future.get();
    bool opened = false;
    QElapsedTimer waited;
    waited.start();
    while (future.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready && waited.elapsed() < 60000) {
        for (const QString &fifo : fifos) {
            const int fd = ::open(QFile::encodeName(fifo).constData(), O_WRONLY | O_NONBLOCK);
            if (fd >= 0) {
                opened = true;
                ::close(fd);
            }
        }
    }
    if (opened || future.wait_for(std::chrono::seconds(0)) != std::future_status::ready)
        return Outcome{Outcome::Blocked, QStringLiteral("the loader opened a FIFO it should have refused")};
    return future.get();
}

} // namespace

class TestModelFolder : public QObject {
    Q_OBJECT

    QTemporaryDir m_tmp;
    QString m_model;    // the model folder of the current case
    QString m_outside;  // a folder beside it
    QString m_trap;     // a FIFO outside the model folder
    QStringList m_fifos;

    // A sharded copy of the fixture in a fresh model folder, a FIFO beside it, and `index` as the
    // shard index (none when empty).
    std::map<QString, QString> freshModel(const QString &caseName)
    {
        const QString root = m_tmp.filePath(caseName);
        m_model = root + QStringLiteral("/model");
        m_outside = root + QStringLiteral("/outside");
        QDir().mkpath(m_model);
        QDir().mkpath(m_outside);
        m_trap = m_outside + QStringLiteral("/trap.safetensors");
        makeFifo(m_trap);
        m_fifos = QStringList{m_trap};
        QFile::copy(kFixture + QStringLiteral("/config.json"), m_model + QStringLiteral("/config.json"));
        return writeShards(m_model);
    }

    QString indexPath() const { return m_model + QLatin1Char('/') + kIndex; }

private Q_SLOTS:
    void initTestCase() { QVERIFY(m_tmp.isValid()); }

    void shardedCopyLoads()
    {
        const auto weightMap = freshModel(QStringLiteral("plain"));
        writeText(indexPath(), indexJson(weightMap));
        const Outcome o = runLoad([dir = m_model] { CausalLM::load(dir); }, m_fifos);
        QCOMPARE(o.kind, Outcome::Loaded);
    }

    // One case per attack: the index or the folder names the FIFO, and the load must refuse it
    // without opening it, naming the index file and the entry.
    void indexAttacks_data()
    {
        QTest::addColumn<QString>("attack");
        QTest::addColumn<QString>("problem");
        QTest::newRow("..") << "dotdot" << "\"..\"";
        QTest::newRow("absolute") << "absolute" << "absolute path";
        QTest::newRow("symlink out") << "symlink-out" << "leads out of the folder";
        QTest::newRow("symlinked subfolder out") << "subfolder-out" << "leads out of the folder";
        QTest::newRow("directory") << "directory" << "is a directory";
        QTest::newRow("FIFO") << "fifo" << "FIFO";
        QTest::newRow("dangling symlink") << "dangling" << "leads nowhere";
    }

    void indexAttacks()
    {
        QFETCH(QString, attack);
        QFETCH(QString, problem);
        const auto weightMap = freshModel(attack);
        QString name;
        if (attack == QLatin1String("dotdot")) {
            name = QStringLiteral("../outside/trap.safetensors");
        } else if (attack == QLatin1String("absolute")) {
            name = m_trap;
        } else if (attack == QLatin1String("symlink-out")) {
            name = QStringLiteral("link.safetensors");
            makeSymlink(QStringLiteral("../outside/trap.safetensors"), m_model + QLatin1Char('/') + name);
        } else if (attack == QLatin1String("subfolder-out")) {
            makeSymlink(QStringLiteral("../outside"), m_model + QStringLiteral("/sub"));
            name = QStringLiteral("sub/trap.safetensors");
        } else if (attack == QLatin1String("directory")) {
            name = QStringLiteral("shards");
            QDir().mkpath(m_model + QLatin1Char('/') + name);
        } else if (attack == QLatin1String("fifo")) {
            name = QStringLiteral("pipe.safetensors");
            makeFifo(m_model + QLatin1Char('/') + name);
            m_fifos << m_model + QLatin1Char('/') + name;
        } else if (attack == QLatin1String("dangling")) {
            name = QStringLiteral("gone.safetensors");
            makeSymlink(QStringLiteral("../outside/nothing-here"), m_model + QLatin1Char('/') + name);
        }
        writeText(indexPath(), indexJson(redirectSecond(weightMap, name)));

        const Outcome o = runLoad([dir = m_model] { CausalLM::load(dir); }, m_fifos);
        QVERIFY2(o.kind != Outcome::Blocked, qPrintable(o.message));
        QVERIFY2(o.kind == Outcome::Refused, "loaded a checkpoint whose index names a file outside the folder");
        for (const QString &word : {indexPath(), QStringLiteral("weight_map entry \""), name, problem})
            QVERIFY2(o.message.contains(word), qPrintable(QStringLiteral("\"%1\" lacks \"%2\"").arg(o.message, word)));
    }

    // The files the loader names itself: the same rule, the folder and the file named.
    void loaderFileAttacks_data()
    {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("attack");
        QTest::addColumn<QString>("problem");
        QTest::newRow("config.json symlink out") << "config.json" << "symlink-out" << "leads out of the folder";
        QTest::newRow("config.json FIFO") << "config.json" << "fifo" << "FIFO";
        QTest::newRow("config.json directory") << "config.json" << "directory" << "is a directory";
        QTest::newRow("index symlink out") << kIndex << "symlink-out" << "leads out of the folder";
        QTest::newRow("index FIFO") << kIndex << "fifo" << "FIFO";
        QTest::newRow("model.safetensors symlink out") << "model.safetensors" << "symlink-out" << "leads out of the folder";
        QTest::newRow("model.safetensors FIFO") << "model.safetensors" << "fifo" << "FIFO";
    }

    void loaderFileAttacks()
    {
        QFETCH(QString, file);
        QFETCH(QString, attack);
        QFETCH(QString, problem);
        const auto weightMap = freshModel(QStringLiteral("loader-") + QString(file).replace(QLatin1Char('.'), QLatin1Char('-'))
                                          + QLatin1Char('-') + attack);
        if (file != kIndex)
            writeText(indexPath(), indexJson(weightMap));
        const QString path = m_model + QLatin1Char('/') + file;
        QFile::remove(path);
        if (file == QLatin1String("model.safetensors"))
            QFile::remove(indexPath());  // the single-file layout
        if (attack == QLatin1String("symlink-out")) {
            makeSymlink(QStringLiteral("../outside/trap.safetensors"), path);
        } else if (attack == QLatin1String("fifo")) {
            makeFifo(path);
            m_fifos << path;
        } else {
            QDir().mkpath(path);
        }
        const Outcome o = runLoad([dir = m_model] { CausalLM::load(dir); }, m_fifos);
        QVERIFY2(o.kind != Outcome::Blocked, qPrintable(o.message));
        QVERIFY2(o.kind == Outcome::Refused, "loaded a folder whose own file breaks the rule");
        for (const QString &word : {m_model, file, problem})
            QVERIFY2(o.message.contains(word), qPrintable(QStringLiteral("\"%1\" lacks \"%2\"").arg(o.message, word)));
    }

    void tokenizerFileAttacks_data()
    {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("attack");
        QTest::addColumn<QString>("problem");
        QTest::newRow("tokenizer.json FIFO") << "tokenizer.json" << "fifo" << "FIFO";
        QTest::newRow("tokenizer.json symlink out") << "tokenizer.json" << "symlink-out" << "leads out of the folder";
        QTest::newRow("tokenizer.json directory") << "tokenizer.json" << "directory" << "is a directory";
        QTest::newRow("tokenizer_config.json symlink out") << "tokenizer_config.json" << "symlink-out" << "leads out of the folder";
        QTest::newRow("tokenizer_config.json FIFO") << "tokenizer_config.json" << "fifo" << "FIFO";
    }

    void tokenizerFileAttacks()
    {
        QFETCH(QString, file);
        QFETCH(QString, attack);
        QFETCH(QString, problem);
        freshModel(QStringLiteral("tok-") + QString(file).replace(QLatin1Char('.'), QLatin1Char('-')) + QLatin1Char('-') + attack);
        QFile::copy(kTokenizer, m_model + QStringLiteral("/tokenizer.json"));
        const QString path = m_model + QLatin1Char('/') + file;
        QFile::remove(path);
        if (attack == QLatin1String("symlink-out")) {
            makeSymlink(QStringLiteral("../outside/trap.safetensors"), path);
        } else if (attack == QLatin1String("fifo")) {
            makeFifo(path);
            m_fifos << path;
        } else {
            QDir().mkpath(path);
        }
        // Both ways in: the model folder's tokenizer (eval), and a folder given as the tokenizer.
        const Outcome viaModel = runLoad([dir = m_model] { loadModelTokenizer(dir); }, m_fifos);
        QVERIFY2(viaModel.kind != Outcome::Blocked, qPrintable(viaModel.message));
        QVERIFY2(viaModel.kind == Outcome::Refused, "loaded a tokenizer file that breaks the rule");
        for (const QString &word : {m_model, file, problem})
            QVERIFY2(viaModel.message.contains(word), qPrintable(QStringLiteral("\"%1\" lacks \"%2\"").arg(viaModel.message, word)));
        if (file == QLatin1String("tokenizer.json")) {
            const Outcome viaFolder = runLoad([dir = m_model] { loadTokenizer(dir); }, m_fifos);
            QVERIFY2(viaFolder.kind == Outcome::Refused, qPrintable(viaFolder.message));
            QVERIFY2(viaFolder.message.contains(problem), qPrintable(viaFolder.message));
        }
    }

    // A symlink that stays inside the folder is an ordinary file: the model loads and computes
    // exactly what the fixture does.
    void symlinkInsideLoads()
    {
        const auto weightMap = freshModel(QStringLiteral("symlink-in"));
        QDir().mkpath(m_model + QStringLiteral("/real"));
        QVERIFY(QFile::rename(m_model + QLatin1Char('/') + kShard2, m_model + QStringLiteral("/real/") + kShard2));
        makeSymlink(QStringLiteral("real/") + kShard2, m_model + QStringLiteral("/link.safetensors"));
        // "./" is fine: the name stays inside.
        writeText(indexPath(), indexJson(redirectSecond(weightMap, QStringLiteral("./link.safetensors"))));
        std::unique_ptr<CausalLM> lm;
        const Outcome o = runLoad([dir = m_model, &lm] { lm = CausalLM::load(dir); }, m_fifos);
        QVERIFY2(o.kind == Outcome::Loaded, qPrintable(o.message));
        const auto reference = CausalLM::load(kFixture);
        const std::vector<int> ids = {1, 17, 42, 99, 3, 250, 7};
        QCOMPARE(lm->meanNextTokenLoss(ids), reference->meanNextTokenLoss(ids));
    }

    // huggingface_hub's cache: snapshots/<revision>/<file> → ../../blobs/<hash>. The blobs count as
    // part of the snapshot folder; anything else outside it does not.
    void hubCacheLayout()
    {
        const QString repo = m_tmp.filePath(QStringLiteral("hub/models--tiny--llama"));
        const QString blobs = repo + QStringLiteral("/blobs");
        const QString snapshot = repo + QStringLiteral("/snapshots/0123abcd");
        QDir().mkpath(blobs);
        QDir().mkpath(snapshot);
        const auto weightMap = writeShards(blobs);
        writeText(blobs + QStringLiteral("/index-blob"), indexJson(weightMap));
        QFile::copy(kFixture + QStringLiteral("/config.json"), blobs + QStringLiteral("/config-blob"));
        QVERIFY(QFile::rename(blobs + QLatin1Char('/') + kShard1, blobs + QStringLiteral("/shard1-blob")));
        QVERIFY(QFile::rename(blobs + QLatin1Char('/') + kShard2, blobs + QStringLiteral("/shard2-blob")));
        makeSymlink(QStringLiteral("../../blobs/config-blob"), snapshot + QStringLiteral("/config.json"));
        makeSymlink(QStringLiteral("../../blobs/index-blob"), snapshot + QLatin1Char('/') + kIndex);
        makeSymlink(QStringLiteral("../../blobs/shard1-blob"), snapshot + QLatin1Char('/') + kShard1);
        makeSymlink(QStringLiteral("../../blobs/shard2-blob"), snapshot + QLatin1Char('/') + kShard2);
        const Outcome loaded = runLoad([dir = snapshot] { CausalLM::load(dir); }, {});
        QVERIFY2(loaded.kind == Outcome::Loaded, qPrintable(loaded.message));

        // A link from the snapshot to anywhere else in the repository is still a way out.
        const QString elsewhere = repo + QStringLiteral("/refs");
        QDir().mkpath(elsewhere);
        makeFifo(elsewhere + QStringLiteral("/trap"));
        QFile::remove(snapshot + QLatin1Char('/') + kShard2);
        makeSymlink(QStringLiteral("../../refs/trap"), snapshot + QLatin1Char('/') + kShard2);
        const Outcome refused = runLoad([dir = snapshot] { CausalLM::load(dir); }, {elsewhere + QStringLiteral("/trap")});
        QVERIFY2(refused.kind == Outcome::Refused, qPrintable(refused.message));
        QVERIFY2(refused.message.contains(QLatin1String("leads out of the folder")), qPrintable(refused.message));
    }

    // Both checkpoint layouts in one folder (issue 26: train wrote model.safetensors beside an old
    // index, and the loader silently took the index). transformers would take model.safetensors;
    // either choice scores one of two models without a word, so the loader refuses, naming both.
    void bothLayoutsRefused()
    {
        const auto weightMap = freshModel(QStringLiteral("both-layouts"));
        writeText(indexPath(), indexJson(weightMap));
        QVERIFY(QFile::copy(kFixture + QStringLiteral("/model.safetensors"), m_model + QStringLiteral("/model.safetensors")));
        const Outcome o = runLoad([dir = m_model] { CausalLM::load(dir); }, m_fifos);
        QVERIFY2(o.kind == Outcome::Refused, "loaded a folder holding two checkpoints");
        for (const QString &word : {m_model, QStringLiteral("model.safetensors and model.safetensors.index.json")})
            QVERIFY2(o.message.contains(word), qPrintable(QStringLiteral("\"%1\" lacks \"%2\"").arg(o.message, word)));
        // Either one alone loads.
        QVERIFY(QFile::remove(indexPath()));
        QCOMPARE(runLoad([dir = m_model] { CausalLM::load(dir); }, m_fifos).kind, Outcome::Loaded);
    }

    // The helper itself, for names a loader might build.
    void helper()
    {
        freshModel(QStringLiteral("helper"));
        const ModelFolder folder(m_model);
        QCOMPARE(folder.file(QStringLiteral("config.json")), m_model + QStringLiteral("/config.json"));
        QVERIFY(!folder.optionalFile(QStringLiteral("tokenizer_config.json")).has_value());
        QVERIFY_THROWS_EXCEPTION(Error, folder.file(QStringLiteral("tokenizer.json")));
        for (const QString &bad : {QString(), QStringLiteral("/etc/passwd"), QStringLiteral("a/../../b"),
                                   QStringLiteral("..\\b"), QStringLiteral("C:\\x")})
            QVERIFY_THROWS_EXCEPTION(Error, folder.optionalFile(bad, QStringLiteral("index"), QStringLiteral("entry")));
        QVERIFY_THROWS_EXCEPTION(Error, ModelFolder{m_trap});
        QVERIFY_THROWS_EXCEPTION(Error, ModelFolder{m_model + QStringLiteral("/none")});
    }
};

QTEST_GUILESS_MAIN(TestModelFolder)
#include "test_modelfolder.moc"
