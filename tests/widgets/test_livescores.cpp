// The search dock's live scores against a scripted evaluation service (no model, no thread): a
// figure is never shown beside a model, config, length, sample set or attention factor it was not
// computed for. Every change clears what it invalidates at once (not after the debounce), answers to
// outdated requests are dropped, the row says what its figures are on, scores grow sample by sample
// ("2/4 samples: …"), a quick score is on the first sample beside the families on that sample, and
// "Score fully" asks for every sample.
#include "factordocument.h"
#include "plotstyle.h"
#include "rope/presets.h"
#include "rope/ropeconfig.h"
#include "searchpanel.h"
#include "searchplot.h"
#include "worker/evaluationservice.h"

#include <QCheckBox>
#include <QLabel>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTest>

#include <cmath>
#include <numeric>

using namespace rs;

namespace {

const QString kConfig = QStringLiteral(ROPESCOPE_FIXTURES "/models/llama-plain/config.json");
constexpr int kLength = 1280;
constexpr int kSamples = 4;

// Records the requests; the test answers them by emitting the service's signals itself.
class ScriptedEvaluation : public EvaluationService {
public:
    struct Score {
        quint64 id;
        std::vector<double> lambda;
        double attentionFactor;
        NeedleEvalSettings samples;
        int count;
    };
    struct References {
        quint64 id;
        NeedleEvalSettings samples;
    };
    std::vector<Score> scores;
    std::vector<References> references;

    void loadModel(const QString &, const QString &, const ModelLoadSettings &) override {}
    void startSearch(const SearchSettings &, const NeedleEvalSettings &, const QString &, bool,
                     const NeedleEvalSettings &) override {}
    void score(quint64 requestId, const std::vector<double> &lambda, double attentionFactor,
               const NeedleEvalSettings &samples, int sampleCount) override
    {
        scores.push_back({requestId, lambda, attentionFactor, samples, sampleCount > 0 ? sampleCount : samples.samples});
    }
    void scoreReferences(quint64 requestId, const NeedleEvalSettings &samples) override
    {
        references.push_back({requestId, samples});
    }
    void pause() override {}
    void resume() override {}
    void stop() override {}
};

// Distinct per-sample values, so that a mean over the wrong samples shows.
double handValue(int sample) { return 10.0 + 3.0 * sample; }
double referenceValue(int family, int sample) { return 20.0 + 10.0 * family + 2.0 * sample; }
double meanOf(int n, const std::function<double(int)> &value)
{
    double sum = 0;
    for (int i = 0; i < n; ++i)
        sum += value(i);
    return sum / n;
}

} // namespace

class TestLiveScores : public QObject {
    Q_OBJECT

private:
    ScriptedEvaluation *m_service = nullptr;
    std::unique_ptr<FactorDocument> m_document;
    std::unique_ptr<SearchPanel> m_panel;
    const QStringList m_families{QStringLiteral("original"), QStringLiteral("pi"), QStringLiteral("ntk"), QStringLiteral("yarn")};

    ModelInfo modelInfo(const QString &directory) const
    {
        ModelInfo info;
        info.directory = directory;
        info.architecture = QStringLiteral("llama");
        info.device = QStringLiteral("cpu");
        info.dtype = QStringLiteral("float32");
        info.ropeConfig = loadRopeConfig(kConfig);
        return info;
    }

    ScoreResult scoreAnswer(const ScriptedEvaluation::Score &request, int scored, const QString &model) const
    {
        ScoreResult r;
        r.requestId = request.id;
        r.samples = request.samples;
        r.model = model;
        r.attentionFactor = request.attentionFactor;
        r.samplesWanted = request.count;
        for (int i = 0; i < scored; ++i)
            r.perSamplePpl.push_back(handValue(i));
        r.ppl = meanOf(scored, handValue);
        return r;
    }

    ReferenceScores referencesAnswer(const ScriptedEvaluation::References &request, int scored, const QString &model) const
    {
        ReferenceScores r;
        r.requestId = request.id;
        r.length = request.samples.length;
        r.samples = request.samples;
        r.model = model;
        r.samplesScored = scored;
        for (int f = 0; f < m_families.size(); ++f) {
            ReferenceScore s;
            s.name = m_families[f];
            s.attentionFactor = 1.0 + 0.25 * f;
            for (int i = 0; i < scored; ++i)
                s.perSamplePpl.push_back(referenceValue(f, i));
            s.ppl = meanOf(scored, [f](int i) { return referenceValue(f, i); });
            r.scores.push_back(s);
        }
        return r;
    }

    // Waits for the debounced requests after a change, then answers both completely.
    void answerLatest(const QString &model = QStringLiteral("/models/tiny"))
    {
        const size_t before = m_service->scores.size();
        QTRY_VERIFY(m_service->scores.size() > before);
        Q_EMIT m_service->scoreReady(scoreAnswer(m_service->scores.back(), m_service->scores.back().count, model));
        if (!m_service->references.empty())
            Q_EMIT m_service->referencesReady(referencesAnswer(m_service->references.back(), kSamples, model));
    }

    // No label of the row shows a number, and no live line is on the plot.
    void verifyNoFigureShown()
    {
        for (const QString &name : SearchPanel::referenceNames()) {
            const QString text = m_panel->scoreLabel(name)->text();
            QVERIFY2(text == QStringLiteral("—") || text == QStringLiteral("…"), qPrintable(name + QStringLiteral(": ") + text));
            QVERIFY2(!m_panel->plot()->referenceLine(name), qPrintable(name));
        }
        QVERIFY(std::isnan(m_panel->handTunedPpl()));
        for (const QString &name : m_families)
            QVERIFY(std::isnan(m_panel->referencePpl(name)));
    }

private slots:
    void init()
    {
        QStandardPaths::setTestModeEnabled(true);
        auto service = std::make_unique<ScriptedEvaluation>();
        m_service = service.get();
        m_document = std::make_unique<FactorDocument>();
        m_document->open(loadRopeConfig(kConfig), kLength);
        m_panel = std::make_unique<SearchPanel>(m_document.get(), m_service);
        service.release()->setParent(m_panel.get());
        m_panel->samplesSpinBox()->setValue(kSamples);
        m_panel->resize(560, 820);
        m_panel->show();
        Q_EMIT m_service->modelLoaded(modelInfo(QStringLiteral("/models/tiny")));
        answerLatest();
        QCOMPARE(m_panel->scoreLabel(SearchPlot::kHandTunedReference)->text(), formatNumber(handValue(0)));
    }

    void cleanup()
    {
        m_panel.reset();
        m_document.reset();
    }

    // Quick by default: one sample, compared with the families on that same sample, and the row
    // says so, with the model, L, the seed and each attention factor.
    void quickScoreSaysWhatItWasComputedOn()
    {
        QCOMPARE(m_service->scores.back().count, 1);
        QCOMPARE(m_service->scores.back().samples.samples, kSamples);
        QCOMPARE(m_panel->liveSampleCount(), 1);
        QCOMPARE(m_panel->handTunedPpl(), handValue(0));
        for (int f = 0; f < m_families.size(); ++f) {
            QCOMPARE(m_panel->referencePpl(m_families[f]), referenceValue(f, 0));
            QCOMPARE(m_panel->scoreLabel(m_families[f])->text(), formatNumber(referenceValue(f, 0)));
            QVERIFY(m_panel->scoreLabel(m_families[f])->toolTip().contains(
                QStringLiteral("attention factor %1").arg(formatNumber(1.0 + 0.25 * f))));
        }
        const QString text = m_panel->liveScoreText();
        QVERIFY2(text.contains(QStringLiteral("Quick")), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("tiny")), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("L = 1,280")), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("sample 1 of 4 (seed 0)")), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("attention factor %1").arg(formatNumber(m_document->effectiveAttentionFactor()))),
                 qPrintable(text));
        QVERIFY(m_panel->liveCaption()->isVisibleTo(m_panel.get()));
        QVERIFY(m_panel->scoreFullyButton()->isEnabled());
        QVERIFY(m_panel->plot()->referenceLine(SearchPlot::kHandTunedReference));
        QVERIFY(m_panel->plot()->referenceLine(QStringLiteral("yarn")));
    }

    // "Score fully" asks for every sample; the figure grows sample by sample and only the complete
    // one counts (the families then compare on all samples too).
    void scoreFullyShowsProgressPerSample()
    {
        QSignalSpy scored(m_panel.get(), &SearchPanel::handTunedScored);
        QTest::mouseClick(m_panel->scoreFullyButton(), Qt::LeftButton);
        QCOMPARE(m_service->scores.back().count, kSamples);
        const auto request = m_service->scores.back();
        Q_EMIT m_service->scoreProgress(scoreAnswer(request, 2, QStringLiteral("/models/tiny")));
        QCOMPARE(m_panel->scoreLabel(SearchPlot::kHandTunedReference)->text(),
                 QStringLiteral("2/4 samples: %1…").arg(formatNumber(meanOf(2, handValue))));
        QVERIFY(std::isnan(m_panel->handTunedPpl()));
        QVERIFY(!m_panel->plot()->referenceLine(SearchPlot::kHandTunedReference));
        QCOMPARE(scored.count(), 0);
        Q_EMIT m_service->scoreReady(scoreAnswer(request, kSamples, QStringLiteral("/models/tiny")));
        QCOMPARE(scored.count(), 1);
        QCOMPARE(m_panel->handTunedPpl(), meanOf(kSamples, handValue));
        QCOMPARE(m_panel->liveSampleCount(), kSamples);
        QCOMPARE(m_panel->referencePpl(QStringLiteral("yarn")), meanOf(kSamples, [](int i) { return referenceValue(3, i); }));
        QVERIFY(m_panel->liveScoreText().contains(QStringLiteral("samples 1–4 of 4 (seeds 0…3)")));
        QVERIFY(!m_panel->liveScoreText().contains(QStringLiteral("Quick")));
        QVERIFY(!m_panel->scoreFullyButton()->isEnabled());

        // Without the quick mode every edit is scored fully; the references' partial figures show too.
        m_panel->quickScoreCheckBox()->setChecked(false);
        m_panel->seedSpinBox()->setValue(5);
        QTRY_COMPARE(m_service->scores.back().samples.seed, uint64_t(5));
        QCOMPARE(m_service->scores.back().count, kSamples);
        Q_EMIT m_service->referencesProgress(referencesAnswer(m_service->references.back(), 1, QStringLiteral("/models/tiny")));
        QCOMPARE(m_panel->scoreLabel(QStringLiteral("pi"))->text(),
                 QStringLiteral("1/4 samples: %1…").arg(formatNumber(referenceValue(1, 0))));
        QVERIFY(std::isnan(m_panel->referencePpl(QStringLiteral("pi"))));
    }

    // A complete figure over several samples carries its uncertainty: "mean ± half its 95 % interval",
    // and the tooltip compares it, paired, with every family on the same samples. Every edited
    // sample here is below every family's, so every bootstrap resample of a ratio of means is below
    // 1 and each comparison must say "better beyond the noise"; a mean's interval lies within the
    // range of its values.
    void completeFigureShowsItsIntervalAndPairedComparisons()
    {
        QTest::mouseClick(m_panel->scoreFullyButton(), Qt::LeftButton);
        Q_EMIT m_service->scoreReady(scoreAnswer(m_service->scores.back(), kSamples, QStringLiteral("/models/tiny")));
        const QLabel *edited = m_panel->scoreLabel(SearchPlot::kHandTunedReference);
        const QString mean = formatNumber(meanOf(kSamples, handValue));
        QVERIFY2(edited->text().startsWith(mean + QStringLiteral(" ± ")), qPrintable(edited->text()));
        const double halfWidth = edited->text().section(QStringLiteral(" ± "), 1).toDouble();
        QVERIFY(halfWidth > 0 && halfWidth <= (handValue(kSamples - 1) - handValue(0)) / 2);
        const QString tip = edited->toolTip();
        QVERIFY2(tip.contains(QStringLiteral("95 % interval of the mean over the 4 samples")), qPrintable(tip));
        for (int f = 0; f < m_families.size(); ++f) {
            const double ratio = meanOf(kSamples, handValue) / meanOf(kSamples, [f](int i) { return referenceValue(f, i); });
            const QString title = f == 0 ? QStringLiteral("original") : f == 1 ? QStringLiteral("PI") : f == 2 ? QStringLiteral("NTK") : QStringLiteral("YaRN");
            const QString line = QStringLiteral("vs %1: ×%2 [").arg(title, formatNumber(ratio));
            QVERIFY2(tip.contains(line), qPrintable(line + QStringLiteral(" not in ") + tip));
        }
        QCOMPARE(tip.count(QStringLiteral("better beyond the noise")), m_families.size());
    }

    // File › Open Preset with another model's config: nothing computed on the loaded model stays
    // beside it, and answers still on their way are dropped.
    void openingAnotherConfigClearsEveryFigure()
    {
        const auto staleScore = m_service->scores.back();
        const auto staleReferences = m_service->references.back();
        m_document->open(loadPreset(QStringLiteral("llama3.1-8b")), 32768);
        verifyNoFigureShown();
        QTest::qWait(SearchPanel::kScoreDebounceMs + 100);
        verifyNoFigureShown();
        QVERIFY(m_panel->liveScoreText().isEmpty());
        Q_EMIT m_service->scoreReady(scoreAnswer(staleScore, 1, QStringLiteral("/models/tiny")));
        Q_EMIT m_service->referencesReady(referencesAnswer(staleReferences, kSamples, QStringLiteral("/models/tiny")));
        verifyNoFigureShown();
        QVERIFY(!m_panel->scoreFullyButton()->isEnabled());
    }

    // A config of the same size but another geometry is not the model's either.
    void configOfAnotherGeometryIsNotScored()
    {
        RopeConfig other = loadRopeConfig(kConfig);
        other.base *= 2;
        const size_t requests = m_service->scores.size();
        m_document->open(other, kLength);
        verifyNoFigureShown();
        QTest::qWait(SearchPanel::kScoreDebounceMs + 100);
        QCOMPARE(m_service->scores.size(), requests);
        verifyNoFigureShown();
    }

    // A new target length clears the row at once (before the debounce); the old answers that
    // still arrive are ignored, and the new request is at the new length.
    void changingTheLengthClearsAtOnce()
    {
        const auto staleScore = m_service->scores.back();
        const auto staleReferences = m_service->references.back();
        m_panel->lengthSpinBox()->setValue(2048);
        QCOMPARE(m_document->targetLength(), 2048.0);
        verifyNoFigureShown();
        Q_EMIT m_service->scoreReady(scoreAnswer(staleScore, 1, QStringLiteral("/models/tiny")));
        Q_EMIT m_service->referencesReady(referencesAnswer(staleReferences, kSamples, QStringLiteral("/models/tiny")));
        verifyNoFigureShown();
        answerLatest();
        QCOMPARE(m_service->scores.back().samples.length, 2048);
        QCOMPARE(m_service->references.back().samples.length, 2048);
        QCOMPARE(m_panel->handTunedPpl(), handValue(0));
        QVERIFY(m_panel->liveScoreText().contains(QStringLiteral("L = 2,048")));
        // Undoing the length is a change too.
        m_document->undoStack()->undo();
        QCOMPARE(m_panel->lengthSpinBox()->value(), kLength);
        verifyNoFigureShown();
    }

    void changingTheSamplesClearsAtOnce()
    {
        m_panel->seedSpinBox()->setValue(3);
        verifyNoFigureShown();
        answerLatest();
        QCOMPARE(m_service->scores.back().samples.seed, uint64_t(3));
        QVERIFY(m_panel->liveScoreText().contains(QStringLiteral("seed 3")));
        m_panel->samplesSpinBox()->setValue(6);
        verifyNoFigureShown();
    }

    // The attention factor changes the edited λ's figure only: the families run with their own.
    void changingTheAttentionFactorClearsTheEditedFigure()
    {
        const size_t references = m_service->references.size();
        m_document->setAllLambda(m_document->lambda(), 1.3, QStringLiteral("attention"));
        QCOMPARE(m_panel->scoreLabel(SearchPlot::kHandTunedReference)->text(), QStringLiteral("…"));
        QVERIFY(std::isnan(m_panel->handTunedPpl()));
        QVERIFY(!m_panel->plot()->referenceLine(SearchPlot::kHandTunedReference));
        QCOMPARE(m_panel->referencePpl(QStringLiteral("yarn")), referenceValue(3, 0));
        answerLatest();
        QCOMPARE(m_service->scores.back().attentionFactor, 1.3);
        QCOMPARE(m_service->references.size(), references);
        QVERIFY(m_panel->liveScoreText().contains(QStringLiteral("attention factor 1.3")));
    }

    // A λ edit: the previous figure goes at once, and an answer for an older edit never shows.
    void lateAnswerForAnOlderEditIsIgnored()
    {
        const auto stale = m_service->scores.back();
        m_document->setLambdaAt(3, 1.7);
        QCOMPARE(m_panel->scoreLabel(SearchPlot::kHandTunedReference)->text(), QStringLiteral("…"));
        Q_EMIT m_service->scoreProgress(scoreAnswer(stale, 1, QStringLiteral("/models/tiny")));
        Q_EMIT m_service->scoreReady(scoreAnswer(stale, 1, QStringLiteral("/models/tiny")));
        QCOMPARE(m_panel->scoreLabel(SearchPlot::kHandTunedReference)->text(), QStringLiteral("…"));
        QVERIFY(std::isnan(m_panel->handTunedPpl()));
    }

    // Another model loads: the figures of the previous one go, including an answer that was the
    // latest request's until then.
    void anotherModelDropsTheAnswersOnTheWay()
    {
        m_document->setLambdaAt(2, 1.2);
        QTRY_VERIFY(m_service->scores.back().lambda == m_document->lambda());
        const auto pending = m_service->scores.back();
        const auto pendingReferences = m_service->references.back();
        Q_EMIT m_service->modelLoaded(modelInfo(QStringLiteral("/models/other")));
        Q_EMIT m_service->scoreReady(scoreAnswer(pending, 1, QStringLiteral("/models/tiny")));
        Q_EMIT m_service->referencesReady(referencesAnswer(pendingReferences, kSamples, QStringLiteral("/models/tiny")));
        verifyNoFigureShown();
        answerLatest(QStringLiteral("/models/other"));
        QVERIFY(m_panel->liveScoreText().contains(QStringLiteral("other")));
        QCOMPARE(m_panel->handTunedPpl(), handValue(0));
    }
};

QTEST_MAIN(TestLiveScores)
#include "test_livescores.moc"
