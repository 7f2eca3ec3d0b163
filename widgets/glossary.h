#pragma once
// The glossary: every term the GUI shows (d_tcd, d_rcd, NTK-left, s, population, racing …) with
// its one-line definition, kept in this one table so that the tooltips and the F1 page ("How to
// read the plots", widgets/helpdialog.h) say the same thing. applyGlossaryTooltips() gives every
// label, check box and group box that names a term its definition as tooltip.
#include <QString>
#include <QStringList>

#include <vector>

class QWidget;

namespace rs {

struct GlossaryTerm {
    QString key;         // stable identifier ("d_tcd", "population")
    QString name;        // as the F1 page heads it
    QString definition;  // one line, a sentence
    // The texts of the GUI's labels, check boxes and group boxes that name this term (compared
    // without '&', a trailing ':' and letter case).
    QStringList labels;
};

// In reading order: geometry, factors and families, then the search and its scores.
const std::vector<GlossaryTerm> &glossary();
// The term with this key; throws std::out_of_range for an unknown key (a programming error).
const GlossaryTerm &glossaryTerm(const QString &key);
// Its definition, for a tooltip.
QString glossaryDefinition(const QString &key);
// The term a label's text names, or null.
const GlossaryTerm *glossaryTermForLabel(const QString &text);
// The glossary as an HTML definition list, for the help page.
QString glossaryHtml();

// Walks `root` and its children: a QLabel, QAbstractButton or QGroupBox whose text names a term
// gets the term's definition as tooltip, and so does a label's buddy (the field it labels) when
// the field has no tooltip of its own. Widgets created later need another call.
void applyGlossaryTooltips(QWidget *root);

} // namespace rs
