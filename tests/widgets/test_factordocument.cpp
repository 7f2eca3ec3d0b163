// FactorDocument: every edit is one undo step (a whole drag included), the attention factor is an
// undoable part of the document whose default follows s, undo and redo say what they restored, the
// clean state follows the undo stack, and families are core's values.
#include "factordocument.h"
#include "rope/factorfamilies.h"
#include "rope/presets.h"

#include <QSignalSpy>
#include <QStandardPaths>
#include <QTest>
#include <cmath>
#include <limits>

using rs::FactorDocument;

class TestFactorDocument : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void init()
    {
        m_document = std::make_unique<FactorDocument>();
        m_document->open(rs::loadPreset(QStringLiteral("llama3-8b")), 131072);
    }

    void opensUnscaledConfigWithIdentityAtTheoreticalCriticalDimension()
    {
        QCOMPARE(m_document->pairs(), 64);
        QCOMPARE(m_document->scale(), 16.0);
        // DESIGN.md §1: LLaMA3-8B (d = 128, b = 5e5, L_train = 8192) has d_tcd = 35.
        QCOMPARE(m_document->dRcd(), 35);
        QCOMPARE(m_document->lambda(), std::vector<double>(64, 1.0));
        QVERIFY(m_document->isClean());
        QCOMPARE(m_document->undoStack()->count(), 0);
    }

    void scaledConfigStartsFromItsOwnFactors()
    {
        const rs::RopeConfig config = rs::loadPreset(QStringLiteral("llama3.1-8b"));
        m_document->open(config, 131072);
        QCOMPARE(m_document->lambda(), rs::configFactors(config, 131072)->lambda);
    }

    void singleEditIsUndoable()
    {
        QSignalSpy changed(m_document.get(), &FactorDocument::lambdaChanged);
        m_document->setLambdaAt(40, 17.5);
        QCOMPARE(m_document->lambda()[40], 17.5);
        QCOMPARE(changed.count(), 1);
        QVERIFY(!m_document->isClean());
        m_document->undoStack()->undo();
        QCOMPARE(m_document->lambda()[40], 1.0);
        QVERIFY(m_document->isClean());
        m_document->undoStack()->redo();
        QCOMPARE(m_document->lambda()[40], 17.5);
    }

    void dragMergesIntoOneStep()
    {
        const int drag = m_document->beginDrag();
        for (double value : {2.0, 5.0, 9.0, 12.25})
            m_document->setLambdaAt(10, value, drag);
        QCOMPARE(m_document->undoStack()->count(), 1);
        QCOMPARE(m_document->lambda()[10], 12.25);

        const int nextDrag = m_document->beginDrag();
        m_document->setLambdaAt(10, 3.0, nextDrag);
        QCOMPARE(m_document->undoStack()->count(), 2);

        m_document->undoStack()->undo();
        QCOMPARE(m_document->lambda()[10], 12.25);
        m_document->undoStack()->undo();
        QCOMPARE(m_document->lambda()[10], 1.0);
    }

    void editsOutsideADragStaySeparate()
    {
        m_document->setLambdaAt(3, 2.0);
        m_document->setLambdaAt(3, 4.0);
        QCOMPARE(m_document->undoStack()->count(), 2);
    }

    void invalidValuesAreRejected()
    {
        for (double bad : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()})
            m_document->setLambdaAt(5, bad);
        m_document->setAllLambda(std::vector<double>(63, 2.0), std::nullopt, QStringLiteral("wrong length"));
        QCOMPARE(m_document->undoStack()->count(), 0);
        QCOMPARE(m_document->lambda(), std::vector<double>(64, 1.0));
    }

    void applyFamilyIsOneStepWithItsAttentionFactor_data()
    {
        QTest::addColumn<QString>("family");
        QTest::newRow("pi") << QStringLiteral("pi");
        QTest::newRow("ntk") << QStringLiteral("ntk");
        QTest::newRow("yarn") << QStringLiteral("yarn");
        QTest::newRow("llama3") << QStringLiteral("llama3");
    }

    void applyFamilyIsOneStepWithItsAttentionFactor()
    {
        QFETCH(QString, family);
        const auto expected = rs::standardFamilies(m_document->config(), 131072).at(family);
        m_document->applyFamily(family);
        QCOMPARE(m_document->lambda(), expected.lambda);
        QCOMPARE(m_document->attentionFactor(), std::optional<double>(expected.attentionFactor));
        QCOMPARE(m_document->undoStack()->count(), 1);
        m_document->undoStack()->undo();
        QCOMPARE(m_document->lambda(), std::vector<double>(64, 1.0));
        QCOMPARE(m_document->attentionFactor(), std::nullopt);
    }

    void longrope2OverlayLiftsTheSearchedPartToScale()
    {
        // λ ≡ 1 lies below s = 16 everywhere, so the structure is NTK-left up to d_rcd and s above.
        const auto expected = rs::longrope2Factors(128, 35, std::vector<double>(64 - 35, 16.0), 16.0, 8192);
        QCOMPARE(m_document->families().at(FactorDocument::kLongrope2Family).lambda, expected.lambda);
        m_document->setDRcd(30);
        const auto moved = rs::longrope2Factors(128, 30, std::vector<double>(64 - 30, 16.0), 16.0, 8192);
        QCOMPARE(m_document->families().at(FactorDocument::kLongrope2Family).lambda, moved.lambda);
    }

    void dRcdAndTargetLengthAreUndoable()
    {
        QSignalSpy dRcdSpy(m_document.get(), &FactorDocument::dRcdChanged);
        m_document->setDRcd(30);
        QCOMPARE(dRcdSpy.count(), 1);
        QCOMPARE(dRcdSpy.takeFirst().at(0).toInt(), 30);
        m_document->setTargetLength(65536);
        QCOMPARE(m_document->scale(), 8.0);
        QCOMPARE(m_document->undoStack()->count(), 2);
        m_document->undoStack()->undo();
        QCOMPARE(m_document->targetLength(), 131072.0);
        m_document->undoStack()->undo();
        QCOMPARE(m_document->dRcd(), 35);
        QVERIFY(m_document->isClean());
    }

    void constraintsFollowDRcd()
    {
        // λ ≡ 1 breaks λ_i ≥ s for each of the 64 − d_rcd dimensions at or above d_rcd.
        const auto belowScale = [this] {
            int count = 0;
            for (const auto &violation : m_document->constraintViolations())
                count += violation.kind == rs::ConstraintViolation::Kind::BelowScale;
            return count;
        };
        QCOMPARE(belowScale(), 64 - 35);
        m_document->setDRcd(60);
        QCOMPARE(belowScale(), 4);
    }

    void sessionRoundTrip()
    {
        m_document->setLambdaAt(50, 20.0);
        m_document->setDRcd(31);
        m_document->setFamilyVisible(QStringLiteral("pi"), true);
        const rs::EditingSession session = m_document->toSession();
        FactorDocument reopened;
        reopened.openSession(session, m_document->config());
        QCOMPARE(reopened.lambda(), m_document->lambda());
        QCOMPARE(reopened.dRcd(), 31);
        QCOMPARE(reopened.targetLength(), 131072.0);
        QVERIFY(reopened.visibleFamilies().contains(QStringLiteral("pi")));
        QVERIFY(reopened.isClean());
    }

    // HF longrope's default, written out here: sqrt(1 + ln s / ln L_train).
    static double longropeDefault(double s, double trainLength) { return std::sqrt(1.0 + std::log(s) / std::log(trainLength)); }

    void attentionFactorEditIsUndoable()
    {
        // LLaMA3-8B at 128k: s = 16, L_train = 8192.
        const double fallback = longropeDefault(16.0, 8192.0);
        QVERIFY(!m_document->attentionFactor());
        QCOMPARE(m_document->defaultAttentionFactor(), fallback);
        QCOMPARE(m_document->effectiveAttentionFactor(), fallback);

        QSignalSpy explicitChanged(m_document.get(), &FactorDocument::attentionFactorChanged);
        QSignalSpy effective(m_document.get(), &FactorDocument::effectiveAttentionFactorChanged);
        m_document->setAttentionFactor(1.25);
        QCOMPARE(m_document->attentionFactor(), std::optional<double>(1.25));
        QCOMPARE(m_document->effectiveAttentionFactor(), 1.25);
        QCOMPARE(explicitChanged.count(), 1);
        QCOMPARE(effective.count(), 1);
        QCOMPARE(effective.last().at(0).toDouble(), 1.25);
        QCOMPARE(m_document->undoStack()->count(), 1);
        QVERIFY(!m_document->isClean());
        const std::vector<double> lambda = m_document->lambda();

        m_document->undoStack()->undo();
        QVERIFY(!m_document->attentionFactor());
        QCOMPARE(m_document->effectiveAttentionFactor(), fallback);
        QCOMPARE(effective.last().at(0).toDouble(), fallback);
        QVERIFY(m_document->isClean());
        m_document->undoStack()->redo();
        QCOMPARE(m_document->attentionFactor(), std::optional<double>(1.25));
        QCOMPARE(m_document->lambda(), lambda);  // the factor alone, λ untouched

        // Back to the default is a step of its own.
        m_document->resetAttentionFactor();
        QVERIFY(!m_document->attentionFactor());
        QCOMPARE(m_document->undoStack()->count(), 2);
        m_document->undoStack()->undo();
        QCOMPARE(m_document->attentionFactor(), std::optional<double>(1.25));
    }

    void invalidAttentionFactorsAreRejected_data()
    {
        QTest::addColumn<double>("value");
        QTest::newRow("zero") << 0.0;
        QTest::newRow("negative") << -1.1;
        QTest::newRow("NaN") << std::numeric_limits<double>::quiet_NaN();
        QTest::newRow("infinite") << std::numeric_limits<double>::infinity();
    }

    void invalidAttentionFactorsAreRejected()
    {
        QFETCH(double, value);
        m_document->setAttentionFactor(value);
        QVERIFY(!m_document->attentionFactor());
        QCOMPARE(m_document->undoStack()->count(), 0);
    }

    void defaultAttentionFactorFollowsTheTarget()
    {
        QSignalSpy effective(m_document.get(), &FactorDocument::effectiveAttentionFactorChanged);
        m_document->setTargetLength(65536);  // s = 8
        QCOMPARE(effective.count(), 1);
        QCOMPARE(effective.last().at(0).toDouble(), longropeDefault(8.0, 8192.0));
        // An explicit factor stays what it was set to whatever the target.
        m_document->setAttentionFactor(1.1);
        m_document->setTargetLength(262144);
        QCOMPARE(m_document->effectiveAttentionFactor(), 1.1);
        QCOMPARE(m_document->defaultAttentionFactor(), longropeDefault(32.0, 8192.0));
    }

    void sessionKeepsTheAttentionFactor()
    {
        m_document->setAttentionFactor(1.375);
        FactorDocument reopened;
        reopened.openSession(m_document->toSession(), m_document->config());
        QCOMPARE(reopened.attentionFactor(), std::optional<double>(1.375));
        QCOMPARE(reopened.effectiveAttentionFactor(), 1.375);
        // A session written without one (older sessions, or the default) opens at the default.
        rs::EditingSession older = m_document->toSession();
        older.attentionFactor.reset();
        reopened.openSession(older, m_document->config());
        QVERIFY(!reopened.attentionFactor());
        QCOMPARE(reopened.effectiveAttentionFactor(), longropeDefault(16.0, 8192.0));
    }

    void undoAndRedoSayWhatTheyRestored()
    {
        QSignalSpy replayed(m_document.get(), &FactorDocument::stepReplayed);
        m_document->setLambdaAt(40, 17.5);
        QCOMPARE(replayed.count(), 0);  // the edit itself is on screen already
        m_document->undoStack()->undo();
        QCOMPARE(replayed.count(), 1);
        QVERIFY2(replayed.last().at(0).toString().contains(QStringLiteral("λ_40 = 1")), qPrintable(replayed.last().at(0).toString()));
        m_document->undoStack()->redo();
        QVERIFY2(replayed.last().at(0).toString().contains(QStringLiteral("λ_40 = 17.5")), qPrintable(replayed.last().at(0).toString()));

        m_document->setDRcd(30);
        m_document->undoStack()->undo();
        QVERIFY(replayed.last().at(0).toString().contains(QStringLiteral("d_rcd = 35")));
        m_document->setAttentionFactor(1.2);
        m_document->undoStack()->undo();
        // The restored default is named with its value (4 decimals, as everywhere).
        const QString restored = replayed.last().at(0).toString();
        QVERIFY2(restored.contains(QStringLiteral("default")) &&
                     restored.contains(QString::number(longropeDefault(16.0, 8192.0), 'f', 4)),
                 qPrintable(restored));
    }

    void dragStateIsAnnounced()
    {
        QSignalSpy dragging(m_document.get(), &FactorDocument::draggingChanged);
        QVERIFY(!m_document->isDragging());
        const int id = m_document->beginDrag();
        QVERIFY(m_document->isDragging());
        m_document->setLambdaAt(50, 4.0, id);
        m_document->endDrag();
        QVERIFY(!m_document->isDragging());
        QCOMPARE(dragging.count(), 2);
        QCOMPARE(dragging.at(0).at(0).toBool(), true);
        QCOMPARE(dragging.at(1).at(0).toBool(), false);
    }

private:
    std::unique_ptr<FactorDocument> m_document;
};

QTEST_MAIN(TestFactorDocument)
#include "test_factordocument.moc"
