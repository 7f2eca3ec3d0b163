// The search dock's wording and settings, driven through a fake evaluation service: the
// generations field reads as the whole run (1 + the CLI's --iterations), the evaluation count is
// explained and adds up as the search's budget counts it (computed here from the settings), the
// status keeps progress and ETA on one unbroken line, and device and precision are chosen in the
// dock, passed to loadModel and, changed with a model loaded, ask for the model again.
#include "factordocument.h"
#include "glossary.h"
#include "rope/presets.h"
#include "searchpanel.h"
#include "searchsettingsform.h"
#include "taborder.h"
#include "worker/evaluationservice.h"

#include <QCheckBox>
#include <QComboBox>
#include <QElapsedTimer>
#include <QLabel>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTest>

using namespace rs;

namespace {

// Records what the panel asks; answers nothing unless the test emits the signals itself.
class FakeService : public EvaluationService {
public:
    using EvaluationService::EvaluationService;
    void loadModel(const QString &, const QString &, const ModelLoadSettings &settings) override { loads << settings; }
    void startSearch(const SearchSettings &, const NeedleEvalSettings &, const QString &, bool,
                     const NeedleEvalSettings &) override {}
    void score(quint64, const std::vector<double> &, double, const NeedleEvalSettings &, int) override {}
    void scoreReferences(quint64, const NeedleEvalSettings &) override {}
    void pause() override {}
    void resume() override {}
    void stop() override {}
    QStringList availableDevices() const override { return {QStringLiteral("cpu"), QStringLiteral("cuda:0"), QStringLiteral("cuda:1")}; }

    QList<ModelLoadSettings> loads;
};

} // namespace

class TestSearchPanelOptions : public QObject {
    Q_OBJECT

private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName(QStringLiteral("RopeScopeTest"));
        QCoreApplication::setApplicationName(QStringLiteral("test_searchpanel_options"));
        registerEvaluationMetaTypes();
    }

    void init()
    {
        QSettings().clear();
        m_document = std::make_unique<FactorDocument>();
        m_document->open(loadPreset(QStringLiteral("llama3-8b")), 131072);
        m_service = std::make_unique<FakeService>();
        m_panel = std::make_unique<SearchPanel>(m_document.get(), m_service.get());
        m_panel->resize(540, 900);  // as the search dock opens
        m_panel->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_panel.get()));
    }

    void cleanup()
    {
        m_panel.reset();
        m_service.reset();
        m_document.reset();
    }

    // Tab walks the search dock as it reads (issue 30), in the one-column arrangement of a narrow
    // dock and the two-column one of a wide dock: every control is reached, none out of turn.
    void tabFollowsTheVisualOrder()
    {
        for (const int width : {360, 900}) {
            m_panel->resize(width, 1000);
            m_panel->activateWindow();
            QVERIFY(QTest::qWaitForWindowActive(m_panel.get()));
            QTest::qWait(20);  // the form re-arranges on the resize
            const std::vector<QWidget *> controls = testing::controlsInVisualOrder(m_panel.get());
            QVERIFY(controls.size() >= 15);
            QCOMPARE(testing::describeControls(testing::walkTabOrder(m_panel.get(), controls)),
                     testing::describeControls(controls));
        }
    }

    // The search space's three extensions (the CLI's --decouple-anchor, --d-rcd-above-tcd and
    // --keep-original-dims): off by default, they reach the search's settings when set, and only
    // for LongRoPE2 (the CLI refuses them for v1); a followed run shows its own, read-only.
    void extensionsReachTheSearchSettings()
    {
        SearchSettingsForm *form = m_panel->form();
        SearchSettings s = m_panel->searchSettings();
        QVERIFY(!s.decoupleAnchor && !s.dRcdAboveTcd);
        QCOMPARE(s.keepOriginalDims, 0);
        QCOMPARE(form->keepOriginalDimsSpinBox()->text(), QStringLiteral("none (extension)"));
        form->decoupleAnchorCheckBox()->setChecked(true);
        form->dRcdAboveTcdCheckBox()->setChecked(true);
        form->keepOriginalDimsSpinBox()->setValue(4);
        s = m_panel->searchSettings();
        QVERIFY(s.decoupleAnchor && s.dRcdAboveTcd);
        QCOMPARE(s.keepOriginalDims, 4);
        // The engine takes them as the CLI does (its own validation: K within the d_rcd range).
        s.rotaryDims = m_document->config().rotaryDims;
        s.base = m_document->config().base;
        s.trainLength = m_document->config().trainLength;
        const EvolutionSearch engine(s);
        QVERIFY(engine.settings().decoupleAnchor);

        QComboBox *method = form->methodComboBox();
        method->setCurrentIndex(method->findData(int(SearchMethod::LongRoPEv1)));
        QVERIFY(!form->decoupleAnchorCheckBox()->isEnabled());
        QVERIFY(!form->keepOriginalDimsSpinBox()->isEnabled());
        s = m_panel->searchSettings();
        QVERIFY(!s.decoupleAnchor && !s.dRcdAboveTcd);
        QCOMPARE(s.keepOriginalDims, 0);
        method->setCurrentIndex(method->findData(int(SearchMethod::LongRoPE2)));
        QVERIFY(form->decoupleAnchorCheckBox()->isEnabled());

        // A followed run's extensions, shown read-only; the user's own come back afterwards.
        form->decoupleAnchorCheckBox()->setChecked(false);
        SearchPlan plan;
        plan.settings = s;
        plan.settings.method = SearchMethod::LongRoPE2;
        plan.settings.decoupleAnchor = true;
        plan.settings.dRcdAboveTcd = false;
        plan.settings.keepOriginalDims = 2;
        plan.targetLength = 131072;
        plan.searchSamples.samples = 2;
        form->showRun(plan, QStringLiteral("/runs/a.jsonl"));
        QVERIFY(form->decoupleAnchorCheckBox()->isChecked());
        QVERIFY(!form->dRcdAboveTcdCheckBox()->isChecked());
        QCOMPARE(form->keepOriginalDimsSpinBox()->value(), 2);
        QVERIFY(!form->decoupleAnchorCheckBox()->isEnabled());
        form->showOwn();
        QVERIFY(!form->decoupleAnchorCheckBox()->isChecked());
        QVERIFY(form->dRcdAboveTcdCheckBox()->isChecked());
        QCOMPARE(form->keepOriginalDimsSpinBox()->value(), 4);
    }

    void generationsReadAsTheWholeRun()
    {
        QSpinBox *generations = m_panel->iterationsSpinBox();
        generations->setValue(40);
        QCOMPARE(generations->text(), QStringLiteral("1 + 40"));
        QCOMPARE(m_panel->searchSettings().iterations, 40);  // what the CLI calls --iterations
        // Its label says "Generations", nothing says "iterations", and both explain the term.
        bool labelled = false;
        for (QLabel *label : m_panel->findChildren<QLabel *>()) {
            QVERIFY2(!label->text().contains(QStringLiteral("teration"), Qt::CaseInsensitive), qPrintable(label->text()));
            if (label->buddy() == generations) {
                QCOMPARE(label->text(), QStringLiteral("Generations"));
                QCOMPARE(label->toolTip(), glossaryDefinition(QStringLiteral("generations")));
                labelled = true;
            }
        }
        QVERIFY(labelled);
        QCOMPARE(generations->toolTip(), glossaryDefinition(QStringLiteral("generations")));
    }

    void evaluationCountIsExplained()
    {
        m_panel->populationSpinBox()->setValue(64);
        m_panel->iterationsSpinBox()->setValue(40);
        m_panel->samplesSpinBox()->setValue(4);
        m_panel->validationSamplesSpinBox()->setValue(-1);  // auto: 8
        // LongRoPE v1's defaults (DESIGN.md): 32 parents, 16 mutations and 16 crossovers per
        // generation, so (64 + 40 × 32) × 4 = 5,376 on the search samples; validation at most
        // 3 per generation over 41 generations plus the 5 seeded families of a preset without
        // factors (original, PI, NTK, YaRN, Llama 3.1), × 8 samples = 1,024; the 5 baselines on
        // 4 + 8 samples = 60.
        const QString text = m_panel->budgetLabel()->text();
        QVERIFY2(text.contains(QStringLiteral("5,376 on the search samples")), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("≤ 1,024 validation")), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("60 for the 5 baselines")), qPrintable(text));
        QCOMPARE(m_panel->budgetLabel()->toolTip(), glossaryDefinition(QStringLiteral("budget")));
        // Without validation that part goes.
        m_panel->validationSamplesSpinBox()->setValue(0);
        QVERIFY(!m_panel->budgetLabel()->text().contains(QStringLiteral("validation")));
        QVERIFY(m_panel->budgetLabel()->text().contains(QStringLiteral("20 for the 5 baselines")));
    }

    void etaStaysOnOneLine()
    {
        SearchPlan plan;
        plan.settings.iterations = 40;
        plan.settings.population = 64;
        plan.samples = 4;
        plan.expectedEvaluations = 5376;
        plan.targetLength = 131072;
        plan.searchSamples = NeedleEvalSettings{131072, 4};
        Q_EMIT m_service->searchStarted(plan);
        QCOMPARE(m_panel->state(), SearchPanel::State::Searching);
        CandidateEvaluation candidate;
        candidate.lambda.assign(64, 1.0);
        candidate.samples = 4;
        candidate.samplesScored = 1;
        candidate.ppl = 12.5;
        // Live arrivals a few milliseconds apart give the panel a rate, hence an ETA.
        for (int i = 1; i <= 3; ++i) {
            candidate.candidate = candidate.evaluation = i;
            Q_EMIT m_service->candidateEvaluated(candidate);
            QElapsedTimer apart;
            apart.start();
            while (apart.elapsed() < 3) {
            }
        }
        GenerationReport report;
        report.generation = 0;
        report.bestFitness = 12.5;
        report.bestLambda.assign(64, 1.0);
        report.validationEvaluations = 24;
        report.baselineEvaluations = 60;
        report.cacheHits = 2;
        Q_EMIT m_service->generationFinished(report);

        QLabel *status = m_panel->statusLabel();
        const QStringList lines = status->text().split(QLatin1Char('\n'));
        QCOMPARE(lines.size(), 2);
        const QString progress = lines.first();
        QVERIFY2(QString(progress).replace(QChar::Nbsp, QLatin1Char(' ')).contains(QStringLiteral("generation 0/40 done")),
                 qPrintable(progress));
        QVERIFY2(progress.contains(QStringLiteral("ETA")), qPrintable(progress));
        QVERIFY(progress.contains(QString(QStringLiteral("3 of 5,376 evaluations")).replace(QLatin1Char(' '), QChar::Nbsp)));
        // A narrow dock wraps the line only between its parts: no part, the ETA included, has a
        // breakable space.
        const QStringList progressParts = progress.split(QStringLiteral(" · "));
        QVERIFY(progressParts.last().startsWith(QStringLiteral("ETA")));
        for (const QString &part : progressParts)
            QVERIFY2(!part.contains(QLatin1Char(' ')), qPrintable(part));
        // At the width the dock opens with (540), the whole line fits: one line.
        QVERIFY2(status->fontMetrics().horizontalAdvance(progress) <= status->contentsRect().width(),
                 qPrintable(QStringLiteral("%1 px > %2 px").arg(status->fontMetrics().horizontalAdvance(progress)).arg(status->contentsRect().width())));
        // What the run spends beside the search samples, on the second line.
        QVERIFY2(lines.at(1).contains(QString(QStringLiteral("24 validation, 60 baselines, 2 from the cache")).replace(QLatin1Char(' '), QChar::Nbsp)),
                 qPrintable(lines.at(1)));
        QCOMPARE(status->toolTip(), glossaryDefinition(QStringLiteral("budget")));
    }

    void deviceAndPrecisionAreChosenHere()
    {
        QComboBox *device = m_panel->deviceCombo();
        QComboBox *dtype = m_panel->dtypeCombo();
        QStringList devices;
        for (int i = 0; i < device->count(); ++i)
            devices << device->itemData(i).toString();
        QCOMPARE(devices, (QStringList{QStringLiteral("auto"), QStringLiteral("cpu"), QStringLiteral("cuda:0"), QStringLiteral("cuda:1")}));
        QStringList dtypes;
        for (int i = 0; i < dtype->count(); ++i)
            dtypes << dtype->itemData(i).toString();
        QCOMPARE(dtypes, (QStringList{QString(), QStringLiteral("float32"), QStringLiteral("bfloat16"), QStringLiteral("float16")}));
        // The search job's default device (the CLI's too), not "auto": see SearchJobSettings.
        QCOMPARE(m_panel->modelLoadSettings().device, SearchJobSettings::defaultDevice());
        QCOMPARE(m_panel->modelLoadSettings().device, QStringLiteral("cpu"));
        QVERIFY(m_panel->modelLoadSettings().dtype.isEmpty());
        QVERIFY(!device->toolTip().isEmpty());
        QVERIFY(!dtype->toolTip().isEmpty());

        // No model yet: choosing only changes what the next load gets.
        QSignalSpy reload(m_panel.get(), &SearchPanel::modelSettingsChanged);
        choose(device, QStringLiteral("cuda:1"));
        QCOMPARE(reload.count(), 0);
        QCOMPARE(m_panel->modelLoadSettings().device, QStringLiteral("cuda:1"));

        // With a model loaded, another precision asks for it again with both choices.
        ModelInfo info;
        info.directory = QStringLiteral("/models/x");
        info.device = QStringLiteral("cuda:1");
        info.dtype = QStringLiteral("bfloat16");
        info.ropeConfig = m_document->config();
        Q_EMIT m_service->modelLoaded(info);
        choose(dtype, QStringLiteral("float16"));
        QCOMPARE(reload.count(), 1);
        const auto settings = reload.at(0).at(0).value<ModelLoadSettings>();
        QCOMPARE(settings.device, QStringLiteral("cuda:1"));
        QCOMPARE(settings.dtype, QStringLiteral("float16"));

        // Remembered for the next session.
        SearchPanel next(m_document.get(), m_service.get());
        QCOMPARE(next.modelLoadSettings().device, QStringLiteral("cuda:1"));
        QCOMPARE(next.modelLoadSettings().dtype, QStringLiteral("float16"));
    }

private:
    // As a user picks an entry: the combo's activated signal, which programmatic changes lack.
    static void choose(QComboBox *combo, const QString &data)
    {
        const int index = combo->findData(data);
        QVERIFY(index >= 0);
        combo->setCurrentIndex(index);
        Q_EMIT combo->activated(index);
    }

    std::unique_ptr<FactorDocument> m_document;
    std::unique_ptr<FakeService> m_service;
    std::unique_ptr<SearchPanel> m_panel;
};

QTEST_MAIN(TestSearchPanelOptions)
#include "test_searchpanel_options.moc"
