// The glossary and the F1 page: every term the issue names is defined in one line, the page
// explains each plot and carries every definition word for word (so it and the tooltips agree),
// and labels find their terms however they are marked up.
#include "glossary.h"
#include "helpdialog.h"

#include <QLabel>
#include <QSet>
#include <QTest>
#include <QTextBrowser>
#include <QTextDocument>

using namespace rs;

class TestGlossary : public QObject {
    Q_OBJECT

private slots:
    void everyTermIsOneLineAndUnique()
    {
        QSet<QString> keys;
        for (const GlossaryTerm &term : glossary()) {
            QVERIFY2(!keys.contains(term.key), qPrintable(term.key));
            keys.insert(term.key);
            QVERIFY2(!term.name.isEmpty(), qPrintable(term.key));
            QVERIFY2(term.definition.size() >= 20, qPrintable(term.key));
            QVERIFY2(!term.definition.contains(QLatin1Char('\n')), qPrintable(term.key));
            QVERIFY2(term.definition.size() <= 200, qPrintable(term.key + QStringLiteral(": too long for one line")));
        }
        // The terms the issue asks to explain, and those the search dock and the F1 page use.
        for (const char *key : {"d_tcd", "d_10", "d_rcd", "ntk_left", "attention_factor", "s", "population",
                                "generations", "racing", "validation_samples", "fitness", "candidate_batch", "budget",
                                "samples", "needle_ppl", "device", "dtype", "L_train", "L", "lambda", "ood"})
            QVERIFY2(keys.contains(QString::fromLatin1(key)), key);
    }

    void definitionsFollowTheFormulas()
    {
        // DESIGN.md §1: the paper's Eq. 7 and Algorithm 1, the longrope attention factor.
        QVERIFY(glossaryDefinition(QStringLiteral("d_tcd")).contains(QStringLiteral("log_b(L_train / 2π)")));
        QVERIFY(glossaryDefinition(QStringLiteral("d_10")).contains(QStringLiteral("log_b(L_train / 20π)")));
        QVERIFY(glossaryDefinition(QStringLiteral("s")).contains(QStringLiteral("L / L_train")));
        QVERIFY(glossaryDefinition(QStringLiteral("attention_factor")).contains(QStringLiteral("√(1 + ln s / ln L_train)")));
        QVERIFY(glossaryDefinition(QStringLiteral("ntk_left")).contains(QStringLiteral("λ_{d_rcd}^(i / d_rcd)")));
        QVERIFY(glossaryDefinition(QStringLiteral("generations")).contains(QStringLiteral("--iterations")));
    }

    void labelsFindTheirTerms()
    {
        QCOMPARE(glossaryTermForLabel(QStringLiteral("d_tcd"))->key, QStringLiteral("d_tcd"));
        QCOMPARE(glossaryTermForLabel(QStringLiteral("&Population:"))->key, QStringLiteral("population"));
        QCOMPARE(glossaryTermForLabel(QStringLiteral("<span style='color:#123456'>■</span> YaRN"))->key, QStringLiteral("yarn"));
        QCOMPARE(glossaryTermForLabel(QStringLiteral("racing over samples"))->key, QStringLiteral("racing"));
        QVERIFY(!glossaryTermForLabel(QStringLiteral("d_tcd = 35")));  // a value, not the term's label
        QVERIFY(!glossaryTermForLabel(QString()));
        QVERIFY_THROWS_EXCEPTION(std::out_of_range, glossaryTerm(QStringLiteral("no such term")));
    }

    void tooltipsComeFromTheGlossary()
    {
        QWidget root;
        auto *label = new QLabel(QStringLiteral("d_rcd"), &root);
        auto *field = new QLabel(QStringLiteral("18"), &root);
        label->setBuddy(field);
        auto *owned = new QLabel(QStringLiteral("own tip"), &root);
        auto *ownedLabel = new QLabel(QStringLiteral("Scale s"), &root);
        ownedLabel->setBuddy(owned);
        owned->setToolTip(QStringLiteral("kept"));
        auto *other = new QLabel(QStringLiteral("Something else"), &root);
        applyGlossaryTooltips(&root);
        QCOMPARE(label->toolTip(), glossaryDefinition(QStringLiteral("d_rcd")));
        QCOMPARE(field->toolTip(), glossaryDefinition(QStringLiteral("d_rcd")));
        QCOMPARE(ownedLabel->toolTip(), glossaryDefinition(QStringLiteral("s")));
        QCOMPARE(owned->toolTip(), QStringLiteral("kept"));
        QVERIFY(other->toolTip().isEmpty());
    }

    void helpPageExplainsThePlotsAndCarriesTheGlossary()
    {
        HelpDialog dialog;
        const QString text = dialog.browser()->document()->toPlainText();
        for (const char *section : {"Periods", "Rotations", "Factors", "Search", "Evaluation workbench", "Glossary"})
            QVERIFY2(text.contains(QString::fromUtf8(section)), section);
        // Read from the resource, not the fallback.
        QVERIFY(text.contains(QStringLiteral("validation PPL")));
        QVERIFY(!HelpDialog::pageHtml().contains(QStringLiteral("<!--GLOSSARY-->")));
        for (const GlossaryTerm &term : glossary()) {
            QVERIFY2(text.contains(term.name), qPrintable(term.name));
            QVERIFY2(text.contains(term.definition), qPrintable(term.key));
        }
    }
};

QTEST_MAIN(TestGlossary)
#include "test_glossary.moc"
