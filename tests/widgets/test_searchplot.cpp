// The search plot's layout: the legend stands beside the plots (never above them, taking their
// height), the d_rcd plot keeps a height of its own with its axis inside the widget, and reference
// labels of close baselines ("YaRN (val.)" and "Llama 3.1" a few hundredths of a PPL apart) are
// moved apart so that no two label boxes intersect, each at or above its own line.
#include "searchplot.h"

#include <QTest>

#include <tuple>

using namespace rs;

namespace {

QRectF labelBox(const QCPItemText *label)
{
    return QRectF(label->topLeft->pixelPosition(), label->bottomRight->pixelPosition()).normalized();
}

SearchBaselines closeBaselines()
{
    SearchBaselines baselines;
    // Search and validation PPLs within 1 % of each other: their lines lie a few pixels apart.
    for (const auto &[name, search, validation] : {std::tuple{"yarn", 9.10, 9.09}, std::tuple{"llama3", 9.12, 9.14},
                                                   std::tuple{"original", 9.11, 9.13}}) {
        BaselineScore score;
        score.name = QString::fromLatin1(name);
        score.searchFitness = search;
        score.validationFitness = validation;
        baselines.scores.push_back(score);
    }
    return baselines;
}

} // namespace

class TestSearchPlot : public QObject {
    Q_OBJECT

private slots:
    void closeBaselineLabelsNeverOverlap_data()
    {
        QTest::addColumn<QSize>("size");
        QTest::newRow("narrow") << QSize(420, 300);
        QTest::newRow("search view at 1024x700") << QSize(600, 560);
        QTest::newRow("search view at 1600x1000") << QSize(1100, 860);
    }

    void closeBaselineLabelsNeverOverlap()
    {
        QFETCH(QSize, size);
        SearchPlot plot;
        plot.resize(size);
        plot.setRunBaselines(closeBaselines());
        plot.setReference(SearchPlot::kHandTunedReference, QStringLiteral("edited λ"), 9.115, Qt::darkRed);
        plot.replot();

        QStringList keys{SearchPlot::kHandTunedReference};
        for (const char *name : {"yarn", "llama3", "original"})
            keys << SearchPlot::kRunSearchReference + QString::fromLatin1(name)
                 << SearchPlot::kRunValidationReference + QString::fromLatin1(name);
        QCPAxis *y = plot.pplRect()->axis(QCPAxis::atLeft);
        QList<std::pair<QString, QRectF>> boxes;
        for (const QString &key : std::as_const(keys)) {
            QCPItemText *label = plot.referenceLabel(key);
            QVERIFY2(label, qPrintable(key));
            const QRectF box = labelBox(label);
            // At or above its line (a label is only ever moved up).
            const double line = y->coordToPixel(plot.referenceLine(key)->point1->coords().y());
            QVERIFY2(box.bottom() <= line + 1, qPrintable(QStringLiteral("%1: %2 below its line %3").arg(key).arg(box.bottom()).arg(line)));
            for (const auto &[otherKey, other] : std::as_const(boxes))
                QVERIFY2(!box.intersects(other), qPrintable(QStringLiteral("\"%1\" %2 covers \"%3\"")
                                                                .arg(label->text(), key, otherKey)));
            boxes.append({key, box});
        }
        // The case the pass exists for: two of the lines are closer than a label is high.
        const double height = boxes.first().second.height();
        QVERIFY(std::abs(y->coordToPixel(9.10) - y->coordToPixel(9.12)) < height);
    }

    void legendBesideAndDRcdWhole()
    {
        for (const QSize size : {QSize(420, 300), QSize(600, 560), QSize(1100, 860)}) {
            SearchPlot plot;
            plot.resize(size);
            plot.setRunBaselines(closeBaselines());
            plot.replot();
            const QRect legend = plot.legend->outerRect();
            QVERIFY(plot.legend->visible());
            QVERIFY(plot.viewport().contains(legend));
            // Beside: right of both axis rects, not above them.
            QVERIFY2(legend.left() >= plot.pplRect()->outerRect().right(), qPrintable(QString::number(size.width())));
            QVERIFY(legend.left() >= plot.dRcdRect()->outerRect().right());
            QVERIFY(legend.top() < plot.pplRect()->rect().bottom());
            for (int i = 0; i < plot.legend->itemCount(); ++i)
                QVERIFY(legend.contains(plot.legend->item(i)->outerRect()));
            // The d_rcd plot whole: its rect and its axes' margins inside the widget, a usable height.
            QVERIFY(plot.viewport().adjusted(0, 0, 1, 1).contains(plot.dRcdRect()->outerRect()));  // layouts round to 1 px
            QVERIFY2(plot.dRcdRect()->rect().height() >= 60, qPrintable(QString::number(plot.dRcdRect()->rect().height())));
            QVERIFY(plot.pplRect()->rect().height() > plot.dRcdRect()->rect().height());
            QVERIFY(plot.dRcdRect()->rect().width() >= 150);
        }
    }
};

QTEST_MAIN(TestSearchPlot)
#include "test_searchplot.moc"
