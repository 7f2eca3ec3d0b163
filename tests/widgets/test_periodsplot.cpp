// Periods view: the curves are core's periods, d_rcd moves the markers in both views, the OOD
// shading covers exactly core's out-of-distribution dimensions, hovering names a dimension (and
// follows edits, undo and redo), the L_train and L labels never cover each other, and the axis
// holds still during a drag.
#include "factordocument.h"
#include "rope/factorfamilies.h"
#include "factorsplot.h"
#include "periodsplot.h"
#include "rope/presets.h"
#include "rope/ropegeometry.h"

#include <QMouseEvent>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTest>
#include <QToolTip>
#include <QUndoStack>
#include <cmath>

using namespace rs;

namespace {

// The dimensions whose column the shading rectangles cover.
std::vector<bool> shadedDimensions(const PeriodsPlot &plot, int pairs)
{
    std::vector<bool> shaded(pairs, false);
    for (QCPItemRect *rect : plot.oodShades()) {
        const double left = rect->topLeft->coords().x();
        const double right = rect->bottomRight->coords().x();
        for (int i = 0; i < pairs; ++i) {
            if (i > left && i < right)
                shaded[i] = true;
        }
    }
    return shaded;
}

} // namespace

class TestPeriodsPlot : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void init()
    {
        m_document = std::make_unique<FactorDocument>();
        m_document->open(loadPreset(QStringLiteral("llama3-8b")), 131072);
        m_plot = std::make_unique<PeriodsPlot>(m_document.get());
        m_plot->resize(900, 600);
        m_plot->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_plot.get()));
        m_plot->flushReplot();
    }

    void cleanup()
    {
        m_plot.reset();
        m_document.reset();
    }

    void curvesAreOriginalAndRescaledPeriods()
    {
        m_document->applyFamily(QStringLiteral("yarn"));
        const RopeGeometry g = computeGeometry(m_document->config(), 131072);
        const std::vector<double> rescaled = rescaledPeriods(g, m_document->lambda());
        QCOMPARE(m_plot->originalGraph()->dataCount(), 64);
        QCOMPARE(m_plot->rescaledGraph()->dataCount(), 64);
        for (int i = 0; i < 64; ++i) {
            QCOMPARE(m_plot->originalGraph()->data()->at(i)->value, g.period[i]);
            QCOMPARE(m_plot->rescaledGraph()->data()->at(i)->value, rescaled[i]);
        }
        QCOMPARE(m_plot->periodsRect()->axis(QCPAxis::atLeft)->scaleType(), QCPAxis::stLogarithmic);
    }

    void dRcdMovesMarkersInBothViews()
    {
        FactorsPlot factors(m_document.get());
        QCOMPARE(m_plot->dRcdMarker()->point1->coords().x(), 35.0);
        QCOMPARE(m_plot->dTcdMarker()->point1->coords().x(), 35.0);
        m_document->setDRcd(28);
        QCOMPARE(m_plot->dRcdMarker()->point1->coords().x(), 28.0);
        QCOMPARE(m_plot->dRcdMarker()->point2->coords().x(), 28.0);
        QCOMPARE(factors.dRcdMarker()->point1->coords().x(), 28.0);
        // The theoretical one stays where the formula puts it.
        QCOMPARE(m_plot->dTcdMarker()->point1->coords().x(), 35.0);
        QCOMPARE(factors.dTcdMarker()->point1->coords().x(), 35.0);
    }

    void oodShadingMatchesCore_data()
    {
        QTest::addColumn<QString>("scenario");
        QTest::newRow("identity") << QStringLiteral("identity");
        QTest::newRow("llama3 factor 8 at 16x") << QStringLiteral("llama3");
        QTest::newRow("pi") << QStringLiteral("pi");
        QTest::newRow("gaps") << QStringLiteral("gaps");
        QTest::newRow("longer target") << QStringLiteral("target");
    }

    void oodShadingMatchesCore()
    {
        QFETCH(QString, scenario);
        if (scenario == QLatin1String("llama3") || scenario == QLatin1String("pi")) {
            m_document->applyFamily(scenario);
        } else if (scenario == QLatin1String("gaps")) {
            // Lifting a few dimensions to s splits the OOD band into separate runs.
            std::vector<double> lambda(64, 1.0);
            for (int i : {40, 41, 42, 55})
                lambda[i] = 16.0;
            m_document->setAllLambda(lambda, std::nullopt, QStringLiteral("gaps"));
        } else if (scenario == QLatin1String("target")) {
            m_document->applyFamily(QStringLiteral("pi"));
            m_document->setTargetLength(1048576);
        }
        const RopeGeometry g = computeGeometry(m_document->config(), m_document->targetLength());
        const std::vector<bool> expected = outOfDistribution(g, m_document->lambda());
        QCOMPARE(shadedDimensions(*m_plot, 64), expected);
        if (scenario == QLatin1String("identity")) {
            // λ ≡ 1 with L > L_train: exactly the dimensions ≥ d_tcd (core's documented property).
            QCOMPARE(m_plot->oodShades().size(), 1);
            QCOMPARE(m_plot->oodShades().first()->topLeft->coords().x(), 34.5);
        }
        if (scenario == QLatin1String("gaps"))
            QCOMPARE(m_plot->oodShades().size(), 3);
        if (scenario == QLatin1String("pi"))
            QVERIFY(m_plot->oodShades().isEmpty());
    }

    void rotationsPlotToggles()
    {
        QVERIFY(m_plot->rotationsVisible());
        m_plot->setRotationsVisible(false);
        QVERIFY(!m_plot->rotationsVisible());
        QVERIFY(!m_plot->plotLayout()->elements(true).contains(m_plot->rotationsRect()));
        m_plot->setRotationsVisible(true);
        QVERIFY(m_plot->rotationsVisible());
        // Hidden at destruction must not leak or crash either.
        m_plot->setRotationsVisible(false);
    }

    void hoverNamesTheDimension()
    {
        m_plot->flushReplot();
        QSignalSpy hovered(m_plot.get(), &PeriodsPlot::hoveredDimensionChanged);
        QCPAxis *x = m_plot->periodsRect()->axis(QCPAxis::atBottom);
        QCPAxis *y = m_plot->periodsRect()->axis(QCPAxis::atLeft);
        const QPointF position(x->coordToPixel(40), y->coordToPixel(1e5));
        QMouseEvent move(QEvent::MouseMove, position, m_plot->mapToGlobal(position), Qt::NoButton, Qt::NoButton, Qt::NoModifier);
        QApplication::sendEvent(m_plot.get(), &move);
        QCOMPARE(hovered.count(), 1);
        QCOMPARE(hovered.first().at(0).toInt(), 40);

        const QString summary = m_plot->dimensionSummary(40);
        const RopeGeometry g = computeGeometry(m_document->config(), 131072);
        QVERIFY(summary.contains(QStringLiteral("i = 40")));
        QVERIFY(summary.contains(QString::number(g.theta[40], 'g', 5)));
        QVERIFY(summary.contains(QStringLiteral("out of distribution")));
        QVERIFY(!m_plot->dimensionSummary(10).contains(QStringLiteral("out of distribution")));
    }

    void hoverTextFollowsUndoAndRedo()
    {
        QCPAxis *x = m_plot->periodsRect()->axis(QCPAxis::atBottom);
        QCPAxis *y = m_plot->periodsRect()->axis(QCPAxis::atLeft);
        const QPointF position(x->coordToPixel(40), y->coordToPixel(1e5));
        QMouseEvent move(QEvent::MouseMove, position, m_plot->mapToGlobal(position), Qt::NoButton, Qt::NoButton, Qt::NoModifier);
        QApplication::sendEvent(m_plot.get(), &move);
        QCOMPARE(m_plot->hoveredDimension(), 40);
        QTRY_VERIFY(QToolTip::isVisible());
        QCOMPARE(QToolTip::text(), m_plot->dimensionSummary(40));
        const QString before = QToolTip::text();

        m_document->setLambdaAt(40, 17.5);
        QVERIFY2(QToolTip::text().contains(QStringLiteral("17.5")), qPrintable(QToolTip::text()));
        m_document->undoStack()->undo();
        QCOMPARE(QToolTip::text(), before);
        m_document->undoStack()->redo();
        QVERIFY(QToolTip::text().contains(QStringLiteral("17.5")));
        QToolTip::hideText();
    }

    void lengthLabelsNeverOverlap_data()
    {
        QTest::addColumn<double>("target");
        QTest::newRow("L = L_train") << 8192.0;
        QTest::newRow("L = 1.25 L_train") << 10240.0;
        QTest::newRow("L = L_train / 2") << 4096.0;
        QTest::newRow("L = 16 L_train") << 131072.0;
    }

    void lengthLabelsNeverOverlap()
    {
        QFETCH(double, target);
        m_document->setTargetLength(target);
        m_plot->flushReplot();
        const auto box = [](QCPItemText *label) {
            return QRectF(label->topLeft->pixelPosition(), label->bottomRight->pixelPosition()).normalized();
        };
        const QRectF train = box(m_plot->trainLengthLabel());
        const QRectF length = box(m_plot->targetLengthLabel());
        QVERIFY(train.isValid() && length.isValid());
        QVERIFY2(!train.intersects(length), qPrintable(QStringLiteral("L_train label %1,%2–%3  L label %4,%5–%6")
                                                            .arg(train.left()).arg(train.top()).arg(train.bottom())
                                                            .arg(length.left()).arg(length.top()).arg(length.bottom())));
        // Each label stays beside its own line: within its own height of it.
        QCPAxis *y = m_plot->periodsRect()->axis(QCPAxis::atLeft);
        QVERIFY(std::abs(train.center().y() - y->coordToPixel(8192)) <= train.height());
        QVERIFY(std::abs(length.center().y() - y->coordToPixel(target)) <= length.height());
    }

    void axisHoldsStillDuringADrag()
    {
        QCPAxis *y = m_plot->periodsRect()->axis(QCPAxis::atLeft);
        const QCPRange before = y->range();
        const RopeGeometry g = computeGeometry(m_document->config(), 131072);
        // Far above everything shown: T_63 · λ beyond the axis' top.
        const double huge = 100.0 * before.upper / g.period[63];
        const int drag = m_document->beginDrag();
        m_document->setLambdaAt(63, huge, drag);
        m_document->setLambdaAt(63, huge * 2, drag);
        QCOMPARE(y->range().lower, before.lower);
        QCOMPARE(y->range().upper, before.upper);
        m_document->endDrag();
        // Released: the axis takes in the new period.
        QVERIFY(y->range().upper >= huge * 2 * g.period[63]);
    }

private:
    std::unique_ptr<FactorDocument> m_document;
    std::unique_ptr<PeriodsPlot> m_plot;
};

QTEST_MAIN(TestPeriodsPlot)
#include "test_periodsplot.moc"
