// The search dock on the tiny model: a search started from the panel streams its generations into
// the plots while the GUI thread stays responsive (the longest gap between 10 ms timer ticks is
// printed), stop ends it, "Apply best" is one undo step whose live score equals the search's best,
// hand tuning is scored once per burst of edits, and a followed run log feeds the same plots as
// lines are appended to it.
#include "common/error.h"
#include "worker/evaluationworker.h"
#include "factordocument.h"
#include "plotstyle.h"
#include "rope/ropeconfig.h"
#include "searchpanel.h"
#include "searchplot.h"

#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTableWidget>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>
#include <QUndoStack>

#include <cmath>

using namespace rs;

namespace {

const QString kModel = QStringLiteral(ROPESCOPE_FIXTURES "/models/llama-plain");
const QString kTokenizer = QStringLiteral(ROPESCOPE_FIXTURES "/tokenizers/bytes-256-tokenizer.json");
constexpr int kWaitMs = 120000;
constexpr int kLength = 1280;  // s = 1.25 over the tiny model's L_train = 1024

bool nearlyEqual(double a, double b) { return std::abs(a - b) <= 1e-9 * std::max(std::abs(a), std::abs(b)); }

// The longest wait between ticks of a 10 ms timer on this (the GUI) thread while it runs.
class TickGapMeter : public QObject {
public:
    TickGapMeter()
    {
        m_timer.setInterval(10);
        connect(&m_timer, &QTimer::timeout, this, [this] {
            m_longest = std::max(m_longest, m_clock.restart());
        });
        m_clock.start();
        m_timer.start();
    }
    qint64 longestGapMs() const { return m_longest; }

private:
    QTimer m_timer;
    QElapsedTimer m_clock;
    qint64 m_longest = 0;
};

QByteArray jsonLine(const QJsonObject &o) { return QJsonDocument(o).toJson(QJsonDocument::Compact) + '\n'; }

// A LongRoPE2-shaped candidate; `upper` makes candidates with the same d_rcd distinct.
QByteArray evalLine(double ppl, int dRcd, double upper)
{
    QJsonArray lambda;
    for (int i = 0; i < 8; ++i)
        lambda.append(i < dRcd ? std::pow(upper, double(i) / dRcd) : upper);
    return jsonLine({{"event", "eval"}, {"lambda", lambda}, {"d_rcd", dRcd}, {"fitness", ppl}});
}

void append(const QString &path, const QByteArray &bytes)
{
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Append));
    QCOMPARE(f.write(bytes), bytes.size());
}

} // namespace

class TestSearchPanel : public QObject {
    Q_OBJECT

private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QVERIFY(m_temp.isValid());
        m_document = std::make_unique<FactorDocument>();
        m_document->open(loadRopeConfig(kModel + QStringLiteral("/config.json")), kLength);
        m_thread = std::make_unique<EvaluationThread>();
        m_panel = std::make_unique<SearchPanel>(m_document.get(), m_thread.get());
        m_panel->resize(560, 820);
        m_panel->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_panel.get()));
        QVERIFY(!m_panel->startButton()->isEnabled());

        m_thread->loadModel(kModel, kTokenizer);
        QTRY_VERIFY_WITH_TIMEOUT(m_panel->hasModel(), kWaitMs);
        QVERIFY(m_panel->startButton()->isEnabled());
        QCOMPARE(m_panel->lengthSpinBox()->value(), kLength);
        m_panel->populationSpinBox()->setValue(6);
        m_panel->iterationsSpinBox()->setValue(2);
        m_panel->samplesSpinBox()->setValue(1);
        m_panel->seedSpinBox()->setValue(2);
    }

    void cleanupTestCase()
    {
        m_panel.reset();
        m_thread.reset();
    }

    void searchStreamsIntoThePlotsWithoutBlockingTheGui()
    {
        QSignalSpy generations(m_panel.get(), &SearchPanel::generationAdded);
        QSignalSpy candidates(m_panel.get(), &SearchPanel::candidateAdded);
        QSignalSpy finished(m_panel.get(), &SearchPanel::searchFinished);
        QSignalSpy status(m_panel.get(), &SearchPanel::statusMessage);
        const TickGapMeter meter;
        QTest::mouseClick(m_panel->startButton(), Qt::LeftButton);
        QCOMPARE(m_panel->state(), SearchPanel::State::Starting);
        QVERIFY(!m_panel->startButton()->isEnabled());
        QVERIFY(m_panel->stopButton()->isEnabled());
        QVERIFY(finished.wait(kWaitMs));
        qInfo("event loop: longest gap between 10 ms timer ticks during the search: %lld ms", meter.longestGapMs());
        QVERIFY2(meter.longestGapMs() < 2000, qPrintable(QString::number(meter.longestGapMs())));

        QCOMPARE(generations.count(), 3);
        for (int g = 0; g < 3; ++g)
            QCOMPARE(generations.at(g).at(0).value<GenerationReport>().generation, g);
        const SearchOutcome outcome = finished.at(0).at(0).value<SearchOutcome>();
        QCOMPARE(outcome.result.stopReason, StopReason::Done);
        // Where the answer sits on a bound of the space, the status says so (issue 25).
        for (const QString &bound : outcome.result.spaceBounds)
            QVERIFY2(m_panel->statusLabel()->text().contains(bound), qPrintable(m_panel->statusLabel()->text()));
        QCOMPARE(candidates.count(), outcome.result.evaluations);
        QCOMPARE(m_panel->plot()->candidateGraph()->dataCount(), outcome.result.evaluations);
        QCOMPARE(m_panel->plot()->bestGraph()->dataCount(), 3);
        QCOMPARE(m_panel->plot()->medianGraph()->dataCount(), 3);
        QCOMPARE(m_panel->plot()->memberDRcdGraph()->dataCount(), 3 * 6);
        // Candidates sit in their generation's slot, in evaluation order.
        const auto *data = m_panel->plot()->candidateGraph()->data().data();
        for (auto it = data->constBegin(); it != data->constEnd(); ++it)
            QVERIFY(std::abs(it->key - std::round(it->key)) <= SearchPlot::kGenerationSpread / 2);

        QCOMPARE(m_panel->state(), SearchPanel::State::Idle);
        QVERIFY(m_panel->startButton()->isEnabled());
        QVERIFY(m_panel->hasBest());
        QCOMPARE(m_panel->bestPpl(), outcome.result.bestFitness);
        QCOMPARE(m_panel->bestLambda(), outcome.result.bestLambda);
        QVERIFY(m_panel->applyBestButton()->isEnabled());
        bool sawRate = false;
        for (const QList<QVariant> &message : status)
            sawRate = sawRate || message.at(0).toString().contains(QStringLiteral("eval/s"));
        QVERIFY(sawRate);
        QVERIFY(m_panel->statusText().contains(QStringLiteral("done")));
    }

    void applyBestIsOneUndoStepAndScoresAsTheBest()
    {
        QVERIFY(m_panel->hasBest());
        QUndoStack *stack = m_document->undoStack();
        const int steps = stack->count();
        const std::vector<double> before = m_document->lambda();
        QSignalSpy scored(m_panel.get(), &SearchPanel::handTunedScored);
        QTest::mouseClick(m_panel->applyBestButton(), Qt::LeftButton);
        QCOMPARE(stack->count(), steps + 1);
        QCOMPARE(m_document->lambda(), m_panel->bestLambda());
        QCOMPARE(m_document->dRcd(), m_panel->bestDRcd());
        QVERIFY(stack->undoText().contains(QStringLiteral("search best")));

        // Scored live on the same samples, the applied factors give the search's best PPL.
        QVERIFY(scored.wait(kWaitMs));
        QVERIFY2(nearlyEqual(scored.last().at(0).toDouble(), m_panel->bestPpl()),
                 qPrintable(QStringLiteral("%1 vs %2").arg(scored.last().at(0).toDouble()).arg(m_panel->bestPpl())));

        stack->undo();
        QCOMPARE(m_document->lambda(), before);
        stack->redo();
        QCOMPARE(m_document->lambda(), m_panel->bestLambda());
        // Applying what is already there adds nothing to undo.
        QVERIFY(m_panel->applyBest());
        QCOMPARE(stack->count(), steps + 1);
        QVERIFY(scored.wait(kWaitMs));
    }

    void handTuningIsScoredOncePerBurstNextToTheReferences()
    {
        QTRY_VERIFY_WITH_TIMEOUT(std::isfinite(m_panel->referencePpl(QStringLiteral("yarn"))), kWaitMs);
        for (const QString &name : {QStringLiteral("original"), QStringLiteral("pi"), QStringLiteral("ntk")}) {
            QVERIFY(std::isfinite(m_panel->referencePpl(name)));
            QCOMPARE(m_panel->scoreLabel(name)->text(), formatNumber(m_panel->referencePpl(name)));
            // On the plot: the live line, or beside the run just made on these samples its own
            // baseline (the run scored the families itself).
            QVERIFY(m_panel->plot()->referenceLine(name)
                    || m_panel->plot()->referenceLine(SearchPlot::kRunSearchReference + name));
        }
        QSignalSpy scored(m_panel.get(), &SearchPanel::handTunedScored);
        m_document->setLambdaAt(6, 1.9);
        QTest::qWait(50);
        m_document->setLambdaAt(7, 2.1);
        QTest::qWait(50);
        m_document->setLambdaAt(5, 1.4);
        QVERIFY(scored.wait(kWaitMs));
        QTest::qWait(SearchPanel::kScoreDebounceMs + 300);
        QCOMPARE(scored.count(), 1);
        QVERIFY(std::isfinite(m_panel->handTunedPpl()));
        QVERIFY(m_panel->plot()->referenceLine(QStringLiteral("edited")));
    }

    void stopEndsARunningSearch()
    {
        m_panel->iterationsSpinBox()->setValue(200);
        QSignalSpy candidates(m_panel.get(), &SearchPanel::candidateAdded);
        QSignalSpy finished(m_panel.get(), &SearchPanel::searchFinished);
        QVERIFY(m_panel->startSearch());
        QVERIFY(!m_panel->populationSpinBox()->isEnabled());
        QTRY_VERIFY_WITH_TIMEOUT(candidates.count() >= 2, kWaitMs);
        QTest::mouseClick(m_panel->pauseButton(), Qt::LeftButton);
        QCOMPARE(m_panel->state(), SearchPanel::State::Paused);
        QCOMPARE(m_panel->pauseButton()->text(), QStringLiteral("Resume"));
        QTest::mouseClick(m_panel->pauseButton(), Qt::LeftButton);
        QCOMPARE(m_panel->state(), SearchPanel::State::Searching);
        QTest::mouseClick(m_panel->stopButton(), Qt::LeftButton);
        QVERIFY(finished.wait(kWaitMs));
        QCOMPARE(finished.at(0).at(0).value<SearchOutcome>().result.stopReason, StopReason::Cancelled);
        QCOMPARE(m_panel->state(), SearchPanel::State::Idle);
        QVERIFY(m_panel->startButton()->isEnabled());
        QVERIFY(m_panel->populationSpinBox()->isEnabled());
        m_panel->iterationsSpinBox()->setValue(2);
    }

    void followingALogAppendsPointsAsLinesArrive()
    {
        const QString path = m_temp.filePath(QStringLiteral("headless.jsonl"));
        const QJsonObject settings{{"method", "longrope2"}, {"rotary_dims", 16}, {"base", 10000.0},
                                   {"train_length", 1024.0}, {"target_length", 2048.0}, {"population", 4},
                                   {"iterations", 3}, {"parents", 2}, {"mutations", 1}, {"crossovers", 1},
                                   {"d_rcd_min", 3}, {"d_rcd_max", 5}, {"seed", "1"},
                                   {"context", QJsonObject{{"length", 2048}, {"attention_factor", 1.1}}}};
        append(path, jsonLine({{"event", "start"}, {"settings", settings}, {"max_evaluations", 0}}));
        append(path, evalLine(40, 3, 1.5) + evalLine(30, 4, 1.6) + evalLine(35, 5, 1.7) + evalLine(50, 3, 1.8));
        append(path, jsonLine({{"event", "generation"}, {"generation", 0}, {"best_fitness", 30.0},
                               {"median_fitness", 37.5}, {"best_lambda", QJsonArray{1, 1, 1, 1, 1.5, 1.5, 1.5, 1.5}},
                               {"best_d_rcd", 4}, {"member_d_rcd", QJsonArray{3, 4, 5, 3}}, {"evaluations", 4},
                               {"cache_hits", 0}}));
        m_panel->follower()->setPollInterval(20);
        m_panel->followLog(path);
        QCOMPARE(m_panel->state(), SearchPanel::State::Following);
        QCOMPARE(m_panel->plot()->candidateGraph()->dataCount(), 4);
        QCOMPARE(m_panel->plot()->bestGraph()->dataCount(), 1);
        QCOMPARE(m_panel->bestPpl(), 30.0);
        QVERIFY(m_panel->stopButton()->isEnabled());

        append(path, evalLine(25, 4, 1.9) + evalLine(28, 4, 2.0).left(20));
        QTRY_COMPARE(m_panel->plot()->candidateGraph()->dataCount(), 5);
        QCOMPARE(m_panel->bestPpl(), 25.0);
        append(path, evalLine(28, 4, 2.0).mid(20));
        QTRY_COMPARE(m_panel->plot()->candidateGraph()->dataCount(), 6);
        // Generation 1's candidates sit in generation 1's slot.
        QVERIFY(std::abs(m_panel->plot()->candidateGraph()->data()->at(5)->key - 1.0) <= SearchPlot::kGenerationSpread / 2);

        // A run over MPI ranks: its rank_stats show as the ranks' table, a lost rank as a note.
        QVERIFY(!m_panel->rankTable()->isVisibleTo(m_panel.get()));
        const QJsonArray ranks{QJsonObject{{"rank", 1}, {"host", "node-a"}, {"pid", 11}, {"devices", QJsonArray{"cuda:0", "cuda:1"}},
                                           {"evaluations", 40}, {"evaluations_per_second", 2.5}, {"idle_percent", 12.4}},
                               QJsonObject{{"rank", 2}, {"host", "node-b"}, {"pid", 12}, {"devices", QJsonArray{"cuda:0"}},
                                           {"evaluations", 3}, {"evaluations_per_second", 0.2}, {"idle_percent", 90.0},
                                           {"lost", "silent for 120 s"}}};
        append(path, jsonLine({{"event", "rank_lost"}, {"rank", 2}, {"host", "node-b"}, {"reason", "silent for 120 s"}})
                         + jsonLine({{"event", "rank_stats"}, {"ranks", ranks}}));
        QTRY_COMPARE(m_panel->rankTable()->rowCount(), 2);
        QVERIFY(m_panel->rankTable()->isVisibleTo(m_panel.get()));
        QCOMPARE(m_panel->rankTable()->item(0, 1)->text(), QStringLiteral("node-a"));
        QCOMPARE(m_panel->rankTable()->item(0, 2)->text(), QStringLiteral("cuda:0, cuda:1"));
        QCOMPARE(m_panel->rankTable()->item(0, 3)->text(), QStringLiteral("2.5"));
        QCOMPARE(m_panel->rankTable()->item(0, 4)->text(), QStringLiteral("12"));
        QCOMPARE(m_panel->rankTable()->item(1, 3)->text(), QStringLiteral("lost"));

        // A file that is not a run log is refused and the plots keep what they show.
        const QString bad = m_temp.filePath(QStringLiteral("notes.txt"));
        append(bad, "some notes\n");
        QVERIFY_THROWS_EXCEPTION(Error, m_panel->followLog(bad));
        QCOMPARE(m_panel->plot()->candidateGraph()->dataCount(), 6);
        QCOMPARE(m_panel->follower()->path(), path);

        QTest::mouseClick(m_panel->stopButton(), Qt::LeftButton);
        QCOMPARE(m_panel->state(), SearchPanel::State::Idle);
        append(path, evalLine(20, 4, 2.1));
        QTest::qWait(100);
        QCOMPARE(m_panel->plot()->candidateGraph()->dataCount(), 6);
    }

    // Following a run made elsewhere at another length, on other samples: the dock says what the
    // run was computed on and compares it only with the run's own baselines, never with the live
    // scores of the document (L = 1280 here, the run 2048).
    void followedRunIsComparedOnlyOnItsOwnSamples()
    {
        QTRY_VERIFY_WITH_TIMEOUT(std::isfinite(m_panel->referencePpl(QStringLiteral("yarn"))), kWaitMs);
        SearchSettings settings;
        settings.rotaryDims = 16;
        settings.base = 10000;
        settings.trainLength = 1024;
        settings.targetLength = 2048;
        settings.population = 6;
        settings.iterations = 2;
        settings.seed = 3;
        EvolutionSearch engine(settings);
        SearchHooks hooks;
        hooks.logPath = m_temp.filePath(QStringLiteral("elsewhere.jsonl"));
        hooks.baselines = engine.defaultBaselines();
        hooks.context = QJsonObject{{"model", "/cluster/models/other"}, {"corpus", ""}, {"samples", 2}, {"depth", 0.0},
                                    {"length", 2048}, {"validation", QJsonObject{{"samples", 3}, {"seed", "7"}}}};
        auto logSum = [](const std::vector<double> &l) {
            double f = 1;
            for (double v : l)
                f += std::log(v) * std::log(v);
            return f;
        };
        const SearchResult result = engine.run(SampledFitness{[&](const Candidate &c, int k) { return logSum(c.lambda) + k; }, 2},
                                                SampledFitness{[&](const Candidate &c, int k) { return 2 * logSum(c.lambda) + k; }, 3},
                                                hooks);
        m_panel->followLog(hooks.logPath);
        QVERIFY(m_panel->hasRun());
        const QString run = m_panel->runText();
        QVERIFY2(run.contains(QStringLiteral("other")), qPrintable(run));
        QVERIFY2(run.contains(QStringLiteral("L = %1").arg(formatNumber(2048))), qPrintable(run));
        QVERIFY2(run.contains(QStringLiteral("2 search samples (seed 3…4)")), qPrintable(run));
        QVERIFY2(run.contains(QStringLiteral("3 validation samples (seed 7…9)")), qPrintable(run));

        // The run's baselines for both sets, at their logged values; the live lines are not drawn.
        QCOMPARE(m_panel->runBaselines().scores.size(), result.baselines.size());
        for (const BaselineScore &b : result.baselines) {
            const QCPItemStraightLine *search = m_panel->plot()->referenceLine(SearchPlot::kRunSearchReference + b.name);
            const QCPItemStraightLine *validation = m_panel->plot()->referenceLine(SearchPlot::kRunValidationReference + b.name);
            QVERIFY2(search && validation, qPrintable(b.name));
            QCOMPARE(search->point1->value(), b.searchFitness);
            QCOMPARE(validation->point1->value(), b.validationFitness);
            QCOMPARE(validation->pen().style(), Qt::DotLine);
        }
        for (const QString &name : SearchPanel::referenceNames())
            QVERIFY2(!m_panel->plot()->referenceLine(name), qPrintable(name));

        // Search and validation curves side by side; the answer is the run's (validation) choice.
        QCOMPARE(m_panel->plot()->bestGraph()->dataCount(), 3);
        QCOMPARE(m_panel->plot()->bestValidationGraph()->dataCount(), 3);
        QCOMPARE(m_panel->plot()->chosenGraph()->dataCount(), 3);
        QCOMPARE(m_panel->plot()->bestGraph()->data()->at(2)->value, result.searchBestFitness);
        QCOMPARE(m_panel->plot()->bestValidationGraph()->data()->at(2)->value, result.searchBestValidationFitness);
        QCOMPARE(m_panel->plot()->chosenGraph()->data()->at(2)->value, result.bestValidationFitness);
        QCOMPARE(m_panel->bestLambda(), result.bestLambda);
        QCOMPARE(m_panel->bestValidationPpl(), result.bestValidationFitness);
        m_panel->stopSearch();
    }

    // The plot alone: a training-like and a validation-like curve, the validation choice, and the
    // run's baselines as dashed (search) and dotted (validation) lines; rendering works offscreen.
    void searchPlotDrawsSearchAndValidationCurves()
    {
        SearchPlot plot;
        plot.resize(500, 400);
        SearchPlan plan;
        plan.settings.population = 4;
        plan.settings.iterations = 2;
        plan.validationSamples.samples = 4;
        plot.beginRun(plan);
        QCOMPARE(plot.legend->hasItemWithPlottable(plot.bestValidationGraph()), false);
        const double search[] = {10, 8, 6};
        const double held[] = {12, 11, 13};  // the search's best overfits its samples
        const double chosen[] = {12, 11, 11};
        for (int g = 0; g < 3; ++g) {
            GenerationReport r;
            r.generation = g;
            r.bestFitness = 9;
            r.searchBestFitness = search[g];
            r.searchBestValidationFitness = held[g];
            r.bestValidationFitness = chosen[g];
            plot.addGeneration(r);
        }
        QVERIFY(plot.legend->hasItemWithPlottable(plot.bestValidationGraph()));
        QVERIFY(plot.legend->hasItemWithPlottable(plot.chosenGraph()));
        for (int g = 0; g < 3; ++g) {
            QCOMPARE(plot.bestGraph()->data()->at(g)->value, search[g]);
            QCOMPARE(plot.bestValidationGraph()->data()->at(g)->value, held[g]);
            QCOMPARE(plot.chosenGraph()->data()->at(g)->value, chosen[g]);
        }
        SearchBaselines baselines;
        BaselineScore yarn;
        yarn.name = QStringLiteral("yarn");
        yarn.searchFitness = 7;
        yarn.validationFitness = 9.5;
        baselines.scores.push_back(yarn);
        plot.setRunBaselines(baselines);
        QCOMPARE(plot.referenceLine(SearchPlot::kRunSearchReference + QStringLiteral("yarn"))->point1->value(), 7.0);
        QCOMPARE(plot.referenceLine(SearchPlot::kRunSearchReference + QStringLiteral("yarn"))->pen().style(), Qt::DashLine);
        QCOMPARE(plot.referenceLine(SearchPlot::kRunValidationReference + QStringLiteral("yarn"))->point1->value(), 9.5);
        // A new set replaces the old; live references are untouched by it.
        plot.setReference(QStringLiteral("ntk"), QStringLiteral("NTK"), 20, Qt::red);
        plot.setRunBaselines({});
        QVERIFY(!plot.referenceLine(SearchPlot::kRunSearchReference + QStringLiteral("yarn")));
        QVERIFY(plot.referenceLine(QStringLiteral("ntk")));
        QVERIFY(!plot.toPixmap(500, 400).isNull());
    }

    void laterSamplesRefineACandidatesPoint()
    {
        SearchPlot plot;
        SearchPlan plan;
        plan.samples = 3;
        plan.settings.population = 4;
        plan.settings.iterations = 2;
        plot.beginRun(plan);
        CandidateEvaluation c;
        c.samples = 3;
        for (int id = 1; id <= 4; ++id) {
            c.candidate = id;
            c.indexInGeneration = id - 1;
            c.ppl = 10.0 * id;
            plot.addCandidate(c);
        }
        // Candidate 2 on its second sample, in a later round of racing.
        c.candidate = 2;
        c.indexInGeneration = -1;
        c.samplesScored = 2;
        c.ppl = 25.0;
        plot.addCandidate(c);
        QCOMPARE(plot.candidateGraph()->dataCount(), 4);
        QCOMPARE(plot.candidateGraph()->data()->at(1)->value, 25.0);
        QCOMPARE(plot.candidateGraph()->data()->at(0)->value, 10.0);
    }

    void tensOfThousandsOfPointsStayCheap()
    {
        SearchPlot plot;
        plot.resize(500, 400);
        SearchPlan plan;
        plan.settings.population = 64;
        plan.settings.iterations = 400;
        plan.settings.mutations = 16;
        plan.settings.crossovers = 16;
        plan.settings.dRcdMin = 20;
        plan.settings.dRcdMax = 35;
        plot.beginRun(plan);
        QElapsedTimer clock;
        clock.start();
        CandidateEvaluation c;
        int index = 0;
        int generation = 0;
        for (int k = 0; k < 20000; ++k) {
            const int perGeneration = generation == 0 ? 64 : 32;
            c.candidate = k + 1;
            c.generation = generation;
            c.indexInGeneration = index;
            c.ppl = 10.0 + std::sin(k * 0.37) * 3.0 + 200.0 / (1 + k);
            plot.addCandidate(c);
            if (++index == perGeneration) {
                index = 0;
                ++generation;
            }
        }
        const qint64 appendMs = clock.restart();
        plot.flushReplot();
        const qint64 replotMs = clock.elapsed();
        qInfo("20000 candidates: appended in %lld ms, one replot in %lld ms", appendMs, replotMs);
        QCOMPARE(plot.candidateGraph()->dataCount(), 20000);
        QVERIFY(appendMs < 3000);
        QVERIFY(replotMs < 3000);
    }

private:
    QTemporaryDir m_temp;
    std::unique_ptr<FactorDocument> m_document;
    std::unique_ptr<EvaluationThread> m_thread;
    std::unique_ptr<SearchPanel> m_panel;
};

QTEST_MAIN(TestSearchPanel)
#include "test_searchpanel.moc"
