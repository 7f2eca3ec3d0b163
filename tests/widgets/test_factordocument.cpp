// FactorDocument: every edit is one undo step (a whole drag included), the clean state follows
// the undo stack, and families are core's values.
#include "factordocument.h"
#include "rope/factorfamilies.h"
#include "rope/presets.h"

#include <QSignalSpy>
#include <QStandardPaths>
#include <QTest>

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
        const rs::Session session = m_document->toSession();
        FactorDocument reopened;
        reopened.openSession(session, m_document->config());
        QCOMPARE(reopened.lambda(), m_document->lambda());
        QCOMPARE(reopened.dRcd(), 31);
        QCOMPARE(reopened.targetLength(), 131072.0);
        QVERIFY(reopened.visibleFamilies().contains(QStringLiteral("pi")));
        QVERIFY(reopened.isClean());
    }

private:
    std::unique_ptr<FactorDocument> m_document;
};

QTEST_MAIN(TestFactorDocument)
#include "test_factordocument.moc"
