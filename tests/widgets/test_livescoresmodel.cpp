// The live scores as a model without widgets (widgets/livescores.h), against a scripted evaluation
// service: the debounce (edits within 300 ms make one request), staleness (an edit clears the
// edited λ's figure at once, a change of L the references too), provenance (answers to older
// requests, other models or other samples are dropped; the caption names model, L and seeds), a
// mismatched document asks for nothing and says why, quick and full scores, and the uncertainty of
// a full score: the edited λ at exactly twice a family on every sample is "worse beyond the noise"
// against it, with the ratio ×2 (eval/verdict.h).
#include "factordocument.h"
#include "livescores.h"
#include "plotstyle.h"
#include "rope/ropeconfig.h"

#include <QSignalSpy>
#include <QTest>

#include <cmath>

using namespace rs;

namespace {

const QString kConfig = QStringLiteral(ROPESCOPE_FIXTURES "/models/llama-plain/config.json");
const QString kModel = QStringLiteral("/models/tiny");

class ScriptedEvaluation : public EvaluationService {
public:
    struct Score {
        quint64 id;
        NeedleEvalSettings samples;
        int count;
    };
    std::vector<Score> scores;
    std::vector<std::pair<quint64, NeedleEvalSettings>> references;

    void loadModel(const QString &, const QString &, const ModelLoadSettings &) override {}
    void startSearch(const SearchSettings &, const NeedleEvalSettings &, const QString &, bool,
                     const NeedleEvalSettings &) override {}
    void score(quint64 id, const std::vector<double> &, double, const NeedleEvalSettings &samples, int count) override
    {
        scores.push_back({id, samples, count});
    }
    void scoreReferences(quint64 id, const NeedleEvalSettings &samples) override { references.emplace_back(id, samples); }
    void pause() override {}
    void resume() override {}
    void stop() override {}
};

// The family "pi" scores 10 + i on sample i; the edited λ twice that.
double family(int sample) { return 10.0 + sample; }

} // namespace

class TestLiveScoresModel : public QObject {
    Q_OBJECT

private:
    ScriptedEvaluation m_service;
    FactorDocument m_document;
    NeedleEvalSettings m_samples{1280, 4, 0.0, 7, {}};
    std::unique_ptr<LiveScores> m_live;

    ModelInfo model(const QString &directory = kModel) const
    {
        ModelInfo info;
        info.directory = directory;
        info.ropeConfig = loadRopeConfig(kConfig);
        return info;
    }

    void answerScore(const ScriptedEvaluation::Score &request, int scored, double factor = 2.0,
                     const QString &directory = kModel)
    {
        ScoreResult r;
        r.requestId = request.id;
        r.samples = request.samples;
        r.model = directory;
        r.samplesWanted = request.count;
        for (int i = 0; i < scored; ++i)
            r.perSamplePpl.push_back(factor * family(i));
        Q_EMIT m_service.scoreReady(r);
    }

    void answerReferences(int scored)
    {
        ReferenceScores r;
        r.requestId = m_service.references.back().first;
        r.samples = m_service.references.back().second;
        r.model = kModel;
        r.samplesScored = scored;
        ReferenceScore pi;
        pi.name = QStringLiteral("pi");
        for (int i = 0; i < scored; ++i)
            pi.perSamplePpl.push_back(family(i));
        r.scores.push_back(pi);
        Q_EMIT m_service.referencesReady(r);
    }

private slots:
    void init()
    {
        m_service.scores.clear();
        m_service.references.clear();
        m_samples = NeedleEvalSettings{1280, 4, 0.0, 7, {}};
        m_document.open(loadRopeConfig(kConfig), 1280);
        m_live = std::make_unique<LiveScores>(&m_document, &m_service, [this] { return m_samples; });
    }

    void cleanup() { m_live.reset(); }

    // Nothing is asked before a model; a model is scored after the debounce, once for a burst.
    void debounceMakesOneRequest()
    {
        m_live->schedule();
        QTest::qWait(LiveScores::kDebounceMs + 100);
        QVERIFY(m_service.scores.empty());
        m_live->setModel(model());
        m_live->schedule();
        m_live->schedule();
        QVERIFY(m_service.scores.empty());  // not before the debounce
        QCOMPARE(m_live->figure(LiveScores::kHandTuned).text, QStringLiteral("…"));
        QTRY_COMPARE(m_service.scores.size(), size_t(1));
        QTest::qWait(LiveScores::kDebounceMs + 100);
        QCOMPARE(m_service.scores.size(), size_t(1));
        QCOMPARE(m_service.references.size(), size_t(1));
        // Quick: the first sample of four, on the form's samples.
        QCOMPARE(m_service.scores[0].count, 1);
        QCOMPARE(m_service.scores[0].samples.seed, uint64_t(7));
        QCOMPARE(m_live->figure(LiveScores::kHandTuned).text, QStringLiteral("…"));
    }

    // Figures say what they are on; an edit clears the edited λ at once but keeps the references
    // (same samples); a change of L drops them too; late answers to old requests are ignored.
    void staleFiguresGoAtOnce()
    {
        m_live->setModel(model());
        QTRY_COMPARE(m_service.scores.size(), size_t(1));
        answerScore(m_service.scores.back(), 1);
        answerReferences(1);
        QCOMPARE(m_live->handTunedPpl(), 2 * family(0));
        QCOMPARE(m_live->referencePpl(QStringLiteral("pi")), family(0));
        QCOMPARE(m_live->figure(QStringLiteral("pi")).text, formatNumber(family(0)));
        QVERIFY2(m_live->caption().contains(QStringLiteral("tiny, L = 1,280, sample 1 of 4 (seed 7)")),
                 qPrintable(m_live->caption()));

        const ScriptedEvaluation::Score old = m_service.scores.back();
        m_document.setLambdaAt(0, 1.25);
        QVERIFY(std::isnan(m_live->handTunedPpl()));  // before the debounce
        QCOMPARE(m_live->referencePpl(QStringLiteral("pi")), family(0));
        answerScore(old, 1);  // the answer to the edit before: dropped
        QVERIFY(std::isnan(m_live->handTunedPpl()));
        QTRY_COMPARE(m_service.scores.size(), size_t(2));
        QCOMPARE(m_service.references.size(), size_t(1));  // the same samples: not asked again
        answerScore(m_service.scores.back(), 1, 2.0, QStringLiteral("/models/other"));  // another model's
        QVERIFY(std::isnan(m_live->handTunedPpl()));
        answerScore(m_service.scores.back(), 1);
        QCOMPARE(m_live->handTunedPpl(), 2 * family(0));

        m_samples.length = 2048;
        m_live->schedule();
        QVERIFY(std::isnan(m_live->handTunedPpl()));
        QVERIFY(std::isnan(m_live->referencePpl(QStringLiteral("pi"))));
        QTRY_COMPARE(m_service.references.size(), size_t(2));
        QCOMPARE(m_service.references.back().second.length, 2048);
    }

    // A document of another geometry asks for nothing and says why.
    void aMismatchedDocumentIsNotScored()
    {
        RopeConfig other = loadRopeConfig(kConfig);
        other.rotaryDims /= 2;
        m_document.open(other, 1280);
        QSignalSpy notes(m_live.get(), &LiveScores::noteChanged);
        m_live->setModel(model());
        QTRY_VERIFY(!notes.isEmpty());
        QVERIFY2(notes.back()[0].toString().contains(QStringLiteral("rotary dimensions")), qPrintable(notes.back()[0].toString()));
        QVERIFY(!m_live->scoreable());
        QVERIFY(m_service.scores.empty());
        QVERIFY(m_live->caption().isEmpty());
    }

    // A full score: all four samples, at once; the partial figure grows; the complete one carries
    // its interval and the verdict against each family on the same samples.
    void aFullScoreCarriesItsVerdict()
    {
        m_live->setModel(model());
        QTRY_COMPARE(m_service.scores.size(), size_t(1));
        QVERIFY(m_live->canScoreFully());
        m_live->scoreFully();
        QCOMPARE(m_service.scores.size(), size_t(2));
        QCOMPARE(m_service.scores.back().count, 4);
        QCOMPARE(m_live->sampleCount(), 4);
        answerReferences(4);
        answerScore(m_service.scores.back(), 2);
        QCOMPARE(m_live->figure(LiveScores::kHandTuned).text,
                 QStringLiteral("2/4 samples: %1…").arg(formatNumber((2 * family(0) + 2 * family(1)) / 2)));
        QSignalSpy scored(m_live.get(), &LiveScores::handTunedScored);
        answerScore(m_service.scores.back(), 4);
        QCOMPARE(scored.size(), 1);
        const double mean = 2 * (family(0) + family(1) + family(2) + family(3)) / 4;  // 23
        QCOMPARE(m_live->handTunedPpl(), mean);
        const LiveScores::Figure edited = m_live->figure(LiveScores::kHandTuned);
        QVERIFY2(edited.text.startsWith(formatNumber(mean) + QStringLiteral(" ± ")), qPrintable(edited.text));
        QVERIFY2(edited.toolTip.contains(QStringLiteral("vs PI: ×2 [2, 2], worse beyond the noise")), qPrintable(edited.toolTip));
        QVERIFY(!m_live->canScoreFully());
        QVERIFY(m_live->isOn(kModel, NeedleEvalSettings{1280, 4, 0.0, 7, {}}));
        QVERIFY(!m_live->isOn(kModel, NeedleEvalSettings{1280, 4, 0.0, 8, {}}));
        QVERIFY(!m_live->isOn(QStringLiteral("/models/other"), NeedleEvalSettings{1280, 4, 0.0, 7, {}}));
    }
};

QTEST_GUILESS_MAIN(TestLiveScoresModel)
#include "test_livescoresmodel.moc"
