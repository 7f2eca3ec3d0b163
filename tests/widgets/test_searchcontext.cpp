// The search dock and its context (issue 30), against a fake evaluation service:
// - Start is off, with the reason in its tooltip, when the document and the model cannot work
//   together (the document has 64 rotary dimensions, the model 16), and on again once they can;
// - a search's answer belongs to the model, the RoPE and the target length it was found for: a
//   change of any of them turns Apply best off, says why at the button and in the status, and
//   bestApplies() goes false (the window drops its overlay); back in that context it applies again;
// - following a run: the form shows the run's own settings, read-only, and Start is off; the
//   user's settings (and the document's L) are untouched and come back when following stops;
// - the embedded model is recognised by its content in another folder (the CLI's cache): a run on
//   it is named for it, and its answer applies to the model loaded from the GUI's folder;
// - a search is priced before it starts: memory and time of its evaluations at L on the model's
//   device beside Start, Start off (naming Length L) when a forward cannot fit, a question first
//   when the run is over an hour.
#include "factordocument.h"
#include "rope/presets.h"
#include "rope/ropeconfig.h"
#include "modelfolders.h"
#include "searchpanel.h"
#include "worker/searcharithmetic.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace rs;

namespace {

const QString kConfig = QStringLiteral(ROPESCOPE_FIXTURES "/models/llama-plain/config.json");
constexpr int kLength = 2048;

class FakeService : public EvaluationService {
public:
    int starts = 0;
    void loadModel(const QString &, const QString &, const ModelLoadSettings &) override {}
    void startSearch(const SearchSettings &, const NeedleEvalSettings &, const QString &, bool,
                     const NeedleEvalSettings &) override
    {
        ++starts;
    }
    void score(quint64, const std::vector<double> &, double, const NeedleEvalSettings &, int) override {}
    void scoreReferences(quint64, const NeedleEvalSettings &) override {}
    void pause() override {}
    void resume() override {}
    void stop() override {}
};

ModelInfo modelInfo(const QString &directory, const RopeConfig &rope)
{
    ModelInfo info;
    info.directory = directory;
    info.architecture = QStringLiteral("llama");
    info.ropeConfig = rope;
    return info;
}

// A model folder of the three files; `weights` makes it differ.
void writeModel(const QString &dir, const QByteArray &weights)
{
    QDir().mkpath(dir);
    QVERIFY(QFile::copy(kConfig, dir + QStringLiteral("/config.json")));
    for (const auto &[name, bytes] : {std::pair{"model.safetensors", weights}, std::pair{"tokenizer.json", QByteArray("{}")}}) {
        QFile f(dir + QLatin1Char('/') + QLatin1String(name));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(bytes);
    }
}

// A run log as the CLI writes it: on `model`, population 6, 1 + 3 generations, L = `length`, one
// complete candidate of PPL 9 with λ = 1.25 everywhere (8 pairs).
void writeLog(const QString &path, const QString &model, int length)
{
    const QJsonObject settings{{"method", "longrope2"}, {"rotary_dims", 16}, {"base", 10000.0},
                               {"train_length", 1024.0}, {"target_length", double(length)}, {"population", 6},
                               {"iterations", 3}, {"seed", "5"},
                               {"context", QJsonObject{{"model", model}, {"corpus", ""}, {"length", length}}}};
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(QJsonDocument(QJsonObject{{"event", "start"}, {"settings", settings}}).toJson(QJsonDocument::Compact) + '\n');
    QJsonArray lambda;
    for (int i = 0; i < 8; ++i)
        lambda.append(1.25);
    f.write(QJsonDocument(QJsonObject{{"event", "eval"}, {"lambda", lambda}, {"fitness", 9.0}}).toJson(QJsonDocument::Compact)
            + '\n');
}

} // namespace

class TestSearchContext : public QObject {
    Q_OBJECT

private:
    FakeService m_service;
    std::unique_ptr<FactorDocument> m_document;
    std::unique_ptr<SearchPanel> m_panel;

    // A local search on model "/models/a" at L = 2048 that found one complete candidate.
    void runSearch()
    {
        Q_EMIT m_service.modelLoaded(modelInfo(QStringLiteral("/models/a"), loadRopeConfig(kConfig)));
        QVERIFY(m_panel->startSearch());
        SearchPlan plan;
        plan.settings = m_panel->searchSettings();
        plan.targetLength = kLength;
        plan.expectedEvaluations = 10;
        plan.model = QStringLiteral("/models/a");
        plan.searchSamples = m_panel->sampleSettings();
        Q_EMIT m_service.searchStarted(plan);
        CandidateEvaluation c;
        c.lambda = std::vector<double>(size_t(m_document->pairs()), 1.5);
        c.ppl = c.samplePpl = 12.0;
        Q_EMIT m_service.candidateEvaluated(c);
        Q_EMIT m_service.searchFinished({});
        QVERIFY(m_panel->hasBest());
        QVERIFY(m_panel->bestApplies());
        QVERIFY(m_panel->applyBestButton()->isEnabled());
    }

    void verifyMarkedAndOff(const QString &reason)
    {
        QVERIFY(m_panel->hasBest());  // kept, but marked and off
        QVERIFY(!m_panel->bestApplies());
        QVERIFY(!m_panel->applyBestButton()->isEnabled());
        QVERIFY2(m_panel->applyBestButton()->toolTip().contains(reason), qPrintable(m_panel->applyBestButton()->toolTip()));
        QVERIFY2(m_panel->statusLabel()->text().contains(reason), qPrintable(m_panel->statusLabel()->text()));
        QSignalSpy errors(m_panel.get(), &SearchPanel::errorOccurred);
        const std::vector<double> before = m_document->lambda();
        QVERIFY(!m_panel->applyBest());
        QCOMPARE(errors.size(), 1);
        QCOMPARE(m_document->lambda(), before);
    }

private slots:
    void init()
    {
        QStandardPaths::setTestModeEnabled(true);
        m_service.starts = 0;
        m_document = std::make_unique<FactorDocument>();
        m_document->open(loadRopeConfig(kConfig), kLength);
        m_panel = std::make_unique<SearchPanel>(m_document.get(), &m_service);
        m_panel->samplesSpinBox()->setValue(1);
        m_panel->validationSamplesSpinBox()->setValue(0);
        m_panel->populationSpinBox()->setValue(4);
        m_panel->iterationsSpinBox()->setValue(1);
    }

    void cleanup()
    {
        m_panel.reset();
        m_document.reset();
    }

    void searchIsPricedBeforeItStarts()
    {
        const RopeConfig rope = loadRopeConfig(kConfig);
        ModelInfo info = modelInfo(QStringLiteral("/models/a"), rope);
        const double gib = double(int64_t(1) << 30);
        info.cost.device = QStringLiteral("cpu");
        info.cost.weightBytes = gib;
        info.cost.deviceBytes = 8 * gib;
        info.cost.bytesPerToken = 8000;  // no attention or token-wise chunks: memory is 8 kB per token
        info.cost.flopsPerToken = 1000;
        Q_EMIT m_service.modelLoaded(info);
        // L = 2048: the weights and 2048 × 8000 bytes, one forward per evaluation of the budget.
        const std::optional<CostEstimate> &price = m_panel->form()->price();
        QVERIFY(price.has_value());
        QCOMPARE(price->tokens, double(kLength));
        QCOMPARE(price->peakBytes, gib + 2048.0 * 8000);
        QVERIFY(price->fits);
        const int baselines = int(searchBaselines(rope, kLength).size());
        QCOMPARE(price->forwards, double(evaluationBudget(m_panel->searchSettings(), 1, 0, baselines).total()));
        const QString budget = m_panel->form()->budgetLabel()->text();
        QVERIFY2(budget.contains(QLatin1String("Price on cpu: ~1.0 GiB of 8.0 GiB")), qPrintable(budget));
        QVERIFY(m_panel->startButton()->isEnabled());
        QVERIFY(m_panel->priceWarning().isEmpty());

        // 1M tokens need 8.4 GB besides 1 GiB of weights: more than the 8 GiB there are.
        m_panel->lengthSpinBox()->setValue(1048576);
        QVERIFY(!m_panel->startButton()->isEnabled());
        const QString tip = m_panel->startButton()->toolTip();
        QVERIFY2(tip.contains(QLatin1String("Length L = 1,048,576")) && tip.contains(QLatin1String("choose a smaller Length L")),
                 qPrintable(tip));
        QSignalSpy errors(m_panel.get(), &SearchPanel::errorOccurred);
        QVERIFY(!m_panel->startSearch());
        QCOMPARE(errors.size(), 1);
        QCOMPARE(m_service.starts, 0);

        // A forward that fits but takes 2048 × 1e12 FLOPs at the CPU's documented 37 GFLOP/s (15 h
        // each): Start is on and asks first; with the question turned off it starts.
        info.cost.flopsPerToken = 1e12;
        Q_EMIT m_service.modelLoaded(info);
        m_panel->lengthSpinBox()->setValue(kLength);
        QVERIFY(m_panel->startButton()->isEnabled());
        const QString warning = m_panel->priceWarning();
        QVERIFY2(warning.contains(QLatin1String("costly")) && warning.contains(QLatin1String("37 GFLOP/s")), qPrintable(warning));
        m_panel->setPromptsEnabled(false);
        QVERIFY(m_panel->startSearch());
        QCOMPARE(m_service.starts, 1);
    }

    // Once a live score has measured the model's throughput, the search's price uses it and says
    // so; one measured on another device changes nothing.
    void priceUsesTheMeasuredThroughput()
    {
        const RopeConfig rope = loadRopeConfig(kConfig);
        ModelInfo info = modelInfo(QStringLiteral("/models/a"), rope);
        info.cost.device = QStringLiteral("cpu");
        info.cost.bytesPerToken = 8000;
        info.cost.flopsPerToken = 1e6;
        Q_EMIT m_service.modelLoaded(info);
        const double documented = m_panel->form()->price()->secondsPerForward;
        QCOMPARE(documented, (1e6 * kLength) / kDocumentedCpuFlopsPerSecond);
        Q_EMIT m_service.throughputMeasured(MeasuredThroughput{QStringLiteral("cuda:0"), 1e15, QStringLiteral("elsewhere")});
        QCOMPARE(m_panel->form()->price()->secondsPerForward, documented);
        Q_EMIT m_service.throughputMeasured(MeasuredThroughput{QStringLiteral("cpu"), 1e9, QStringLiteral("measured here")});
        QCOMPARE(m_panel->form()->price()->secondsPerForward, (1e6 * kLength) / 1e9);
        const QString budget = m_panel->form()->budgetLabel()->text();
        QVERIFY2(budget.contains(QLatin1String("measured here")), qPrintable(budget));
    }

    void startIsOffWhenTheDocumentDoesNotFitTheModel()
    {
        m_document->open(loadPreset(QStringLiteral("llama3.1-8b")), 131072);  // 64 pairs
        Q_EMIT m_service.modelLoaded(modelInfo(QStringLiteral("/models/a"), loadRopeConfig(kConfig)));  // 8 pairs
        QVERIFY(!m_panel->startButton()->isEnabled());
        const QString tip = m_panel->startButton()->toolTip();
        QVERIFY2(tip.contains(QStringLiteral("The document has 64 rotary dimensions, the model 8")), qPrintable(tip));
        QSignalSpy errors(m_panel.get(), &SearchPanel::errorOccurred);
        QVERIFY(!m_panel->startSearch());
        QCOMPARE(errors.size(), 1);
        QCOMPARE(errors[0][0].toString(), tip);
        QCOMPARE(m_service.starts, 0);

        // The model's own config: Start is on, its tooltip says what it does.
        m_document->open(loadRopeConfig(kConfig), kLength);
        QVERIFY(m_panel->startButton()->isEnabled());
        QVERIFY(!m_panel->startButton()->toolTip().contains(QStringLiteral("rotary dimensions")));
        // Same pairs, another base: still off.
        RopeConfig otherBase = loadRopeConfig(kConfig);
        otherBase.base *= 2;
        m_document->open(otherBase, kLength);
        QVERIFY(!m_panel->startButton()->isEnabled());
        QVERIFY(m_panel->startButton()->toolTip().contains(QStringLiteral("is not the model's")));
    }

    void anAnswerIsOffForAnotherTargetLength()
    {
        runSearch();
        QSignalSpy best(m_panel.get(), &SearchPanel::bestChanged);
        m_document->setTargetLength(4096);
        QCOMPARE(best.size(), 1);
        verifyMarkedAndOff(QStringLiteral("for L = 2,048"));
        m_document->setTargetLength(kLength);
        QCOMPARE(best.size(), 2);
        QVERIFY(m_panel->bestApplies());
        QVERIFY(m_panel->applyBestButton()->isEnabled());
        QVERIFY(!m_panel->statusLabel()->text().contains(QStringLiteral("for L = 2,048")));
        QVERIFY(m_panel->applyBest());
        QCOMPARE(m_document->lambda(), m_panel->bestLambda());
    }

    void anAnswerIsOffForAnotherModel()
    {
        runSearch();
        QSignalSpy best(m_panel.get(), &SearchPanel::bestChanged);
        Q_EMIT m_service.modelLoaded(modelInfo(QStringLiteral("/models/b"), loadRopeConfig(kConfig)));
        QCOMPARE(best.size(), 1);
        verifyMarkedAndOff(QStringLiteral("found on a, the loaded model is b"));
        Q_EMIT m_service.modelLoaded(modelInfo(QStringLiteral("/models/a"), loadRopeConfig(kConfig)));
        QVERIFY(m_panel->bestApplies());
    }

    void anAnswerIsOffForAnotherDocument()
    {
        runSearch();
        RopeConfig other = loadRopeConfig(kConfig);
        other.base *= 2;
        m_document->open(other, kLength);
        verifyMarkedAndOff(QStringLiteral("another RoPE"));
        // Back in the context it was found for, it applies again.
        m_document->open(loadRopeConfig(kConfig), kLength);
        QVERIFY(m_panel->bestApplies());
    }

    void followingShowsTheRunsSettingsReadOnly()
    {
        QTemporaryDir temp;
        const QString log = temp.filePath(QStringLiteral("cli.jsonl"));
        writeLog(log, temp.filePath(QStringLiteral("model")), 4096);
        Q_EMIT m_service.modelLoaded(modelInfo(QStringLiteral("/models/a"), loadRopeConfig(kConfig)));
        QVERIFY(m_panel->startButton()->isEnabled());
        const QString ownBudget = m_panel->form()->budgetLabel()->text();  // population 4, 1 + 1 generations
        m_panel->followLog(log);
        QCOMPARE(m_panel->state(), SearchPanel::State::Following);
        // The run's own settings, read-only.
        QCOMPARE(m_panel->populationSpinBox()->value(), 6);
        QCOMPARE(m_panel->iterationsSpinBox()->value(), 3);
        QCOMPARE(m_panel->lengthSpinBox()->value(), 4096);
        QCOMPARE(m_panel->seedSpinBox()->value(), 5);
        QCOMPARE(QDir::fromNativeSeparators(m_panel->logPathEdit()->text()), log);
        for (QWidget *field : std::initializer_list<QWidget *>{m_panel->populationSpinBox(), m_panel->iterationsSpinBox(),
                                                               m_panel->lengthSpinBox(), m_panel->seedSpinBox(),
                                                               m_panel->samplesSpinBox(), m_panel->logPathEdit()})
            QVERIFY(!field->isEnabled());
        QVERIFY(!m_panel->startButton()->isEnabled());
        QVERIFY(m_panel->startButton()->toolTip().contains(QStringLiteral("Following")));
        QVERIFY(!m_panel->startSearch());
        QCOMPARE(m_service.starts, 0);
        // The budget shown is the run's (population 6, 1 + 3 generations), not the user's.
        QVERIFY2(m_panel->form()->budgetLabel()->text() != ownBudget, qPrintable(ownBudget));
        // The user's settings and the document's L are untouched meanwhile.
        QCOMPARE(m_document->targetLength(), double(kLength));
        QCOMPARE(m_panel->searchSettings().population, 4);
        QCOMPARE(m_panel->sampleSettings().length, kLength);
        // Generations as the CLI prints them: 0 is the initial population, of 3 bred ones.
        QVERIFY2(m_panel->statusText().replace(QChar::Nbsp, QLatin1Char(' ')).contains(QStringLiteral("generation 0/3")),
                 qPrintable(m_panel->statusText()));

        m_panel->stopSearch();
        QCOMPARE(m_panel->state(), SearchPanel::State::Idle);
        QCOMPARE(m_panel->populationSpinBox()->value(), 4);
        QCOMPARE(m_panel->iterationsSpinBox()->value(), 1);
        QCOMPARE(m_panel->lengthSpinBox()->value(), kLength);
        QVERIFY(m_panel->logPathEdit()->text().isEmpty());
        QVERIFY(m_panel->populationSpinBox()->isEnabled());
        QVERIFY(m_panel->startButton()->isEnabled());
        QCOMPARE(m_panel->form()->budgetLabel()->text(), ownBudget);
    }

    void theEmbeddedModelIsRecognisedByItsContent()
    {
        QTemporaryDir temp;
        const QString gui = temp.filePath(QStringLiteral("gui-cache/embedded-model-1")),
                      cli = temp.filePath(QStringLiteral("cli-cache/embedded-model-1")),
                      other = temp.filePath(QStringLiteral("other"));
        writeModel(gui, "weights");
        writeModel(cli, "weights");
        writeModel(other, "other weights");
        QVERIFY(!modelContentHash(gui).isEmpty());
        QCOMPARE(modelContentHash(gui), modelContentHash(cli));
        QVERIFY(sameModelFolder(gui, cli));
        QVERIFY(!sameModelFolder(gui, other));

        m_panel->setEmbeddedModel(gui, QStringLiteral("embedded model"));
        Q_EMIT m_service.modelLoaded(modelInfo(gui, loadRopeConfig(kConfig)));
        const QString log = temp.filePath(QStringLiteral("cli.jsonl"));
        writeLog(log, cli, kLength);
        m_panel->followLog(log);
        QVERIFY2(m_panel->runText().startsWith(QStringLiteral("embedded model")), qPrintable(m_panel->runText()));
        QCOMPARE(m_panel->bestPpl(), 9.0);
        QVERIFY2(m_panel->bestApplies(), qPrintable(m_panel->bestContextMismatch()));
        // Another model's folder is not it.
        Q_EMIT m_service.modelLoaded(modelInfo(other, loadRopeConfig(kConfig)));
        QVERIFY(!m_panel->bestApplies());
        QVERIFY(m_panel->bestContextMismatch().contains(QStringLiteral("found on embedded model")));
    }
};

QTEST_MAIN(TestSearchContext)
#include "test_searchcontext.moc"
