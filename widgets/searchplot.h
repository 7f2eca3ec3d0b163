#pragma once
// The search's progress: needle PPL of every evaluated candidate as a scatter by generation (log
// scale; candidates of one generation spread across its slot in evaluation order), the best and
// median per generation as lines, the reference families and the hand-tuned λ as horizontal lines,
// and below it the d_rcd genes of each generation's population with the best one's d_rcd. The
// legend stands in a column beside the plots; reference labels that would cover each other are
// stacked apart at every replot.
//
// With held-out validation, like training and validation curves: the best search fitness so far
// and that candidate's fitness on the validation samples side by side, and the answer the run
// would give (the best validation fitness so far). The run's own baselines (scored at its start
// on its own samples) are drawn as reference lines for both sets: dashed for the search samples,
// dotted for the validation samples.
//
// Built to take tens of thousands of candidates: points are appended to the graphs' data (keys
// only grow, so appending is O(1)), ranges are tracked incrementally and every change only asks
// the coalescing timer for a replot.
#include "worker/messages.h"

#include <qcustomplot.h>

#include <QHash>

#include <map>

namespace rs {

class CoalescedReplot;

class SearchPlot : public QCustomPlot {
    Q_OBJECT

public:
    // Width of a generation's slot that its candidates spread over.
    static constexpr double kGenerationSpread = 0.7;
    // The reference key of the hand-tuned λ: labelled on the left, the families on the right.
    static inline const QString kHandTunedReference = QStringLiteral("edited");

    explicit SearchPlot(QWidget *parent = nullptr);

    // A new run: clears the candidates and generations (a resumed run keeps them: it adds to the
    // same log) and sets the axes from the plan.
    void beginRun(const SearchPlan &plan);
    void clearRun();
    // A new candidate adds a point in its generation's slot; another sample of a candidate met
    // before moves its point to the new mean PPL.
    void addCandidate(const CandidateEvaluation &candidate);
    void addGeneration(const GenerationReport &report);
    // A horizontal line with its label at the right (NaN or ≤ 0 removes it).
    void setReference(const QString &key, const QString &title, double ppl, const QColor &color);
    void clearReferences();
    // Only the references whose keys start with `prefix` (e.g. the live ones, not the run's).
    void clearReferences(const QString &prefix);
    // The run's baselines as reference lines: keys kRunSearchReference + name (dashed, labels on
    // the right) and kRunValidationReference + name (dotted, labels left of them). Replaces earlier ones.
    void setRunBaselines(const SearchBaselines &baselines);
    static inline const QString kRunSearchReference = QStringLiteral("run/search/");
    static inline const QString kRunValidationReference = QStringLiteral("run/validation/");

    void flushReplot();
    bool isReplotPending() const;

    QCPAxisRect *pplRect() const { return m_pplRect; }
    QCPAxisRect *dRcdRect() const { return m_dRcdRect; }
    QCPGraph *candidateGraph() const { return m_candidates; }
    QCPGraph *bestGraph() const { return m_best; }
    QCPGraph *bestValidationGraph() const { return m_bestValidation; }  // the search's best, held out
    QCPGraph *chosenGraph() const { return m_chosen; }                  // the validation choice
    QCPGraph *medianGraph() const { return m_median; }
    QCPGraph *memberDRcdGraph() const { return m_memberDRcd; }
    QCPGraph *bestDRcdGraph() const { return m_bestDRcd; }
    QCPItemStraightLine *referenceLine(const QString &key) const;
    // Its label (text and box where the last replot drew it), for the placement tests.
    QCPItemText *referenceLabel(const QString &key) const;

private:
    struct Reference {
        QCPItemStraightLine *line = nullptr;
        QCPItemText *label = nullptr;
        double ppl = 0;
        double x = 0;  // where its label is anchored, as a fraction of the rect's width
    };
    static constexpr double kLabelGap = 1;  // px between stacked reference labels
    static constexpr double kMinimumMove = 1e-6;  // px: less is rounding, not a move
    void arrangeLayout();
    void separateReferenceLabels();
    void placeReference(const QString &key, const QString &title, double ppl, const QColor &color, Qt::PenStyle style,
                        Qt::Alignment side, double x);
    double slotX(int generation, int index, int count) const;
    int candidatesPerGeneration(int generation) const;
    void includePpl(double ppl);
    void updateRanges();

    CoalescedReplot *m_replot;
    QCPAxisRect *m_pplRect;
    QCPAxisRect *m_dRcdRect;
    QCPGraph *m_candidates;
    QCPGraph *m_best;
    QCPGraph *m_bestValidation;
    QCPGraph *m_chosen;
    QCPGraph *m_median;
    QCPGraph *m_memberDRcd;
    QCPGraph *m_bestDRcd;
    QCPItemText *m_emptyLabel;
    std::map<QString, Reference> m_references;
    QHash<int, double> m_candidateKeys;  // candidate id → its point's key
    SearchPlan m_plan;
    bool m_havePlan = false;
    int m_lastGeneration = 0;
    double m_lowestPpl = 0;   // over the finite, positive values shown; 0 = none yet
    double m_highestPpl = 0;
    int m_lowestDRcd = 0;
    int m_highestDRcd = -1;   // < m_lowestDRcd: none yet
};

} // namespace rs
