#include "searchplot.h"

#include "plotstyle.h"

#include <algorithm>
#include <cmath>

namespace rs {

namespace {

const QColor kCandidateColor{0x1f, 0x6f, 0xd1, 110};
const QColor kMedianColor{0xe6, 0x7e, 0x22};
const QColor kValidationColor{0x8e, 0x44, 0xad};  // held-out curves (purple)

// Whole-number ticks (generations, d_rcd) that thin out to 2, 5, 10 … as the range grows.
QSharedPointer<QCPAxisTicker> integerTicker()
{
    QSharedPointer<QCPAxisTickerFixed> ticker(new QCPAxisTickerFixed);
    ticker->setTickStep(1.0);
    ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
    return ticker;
}

bool plottablePpl(double ppl) { return std::isfinite(ppl) && ppl > 0; }

} // namespace

SearchPlot::SearchPlot(QWidget *parent)
    : QCustomPlot(parent), m_replot(new CoalescedReplot(this)), m_pplRect(axisRect()), m_dRcdRect(new QCPAxisRect(this))
{
    setAntialiasedElements(QCP::aeAll);
    setPlottingHint(QCP::phFastPolylines, true);
    setMinimumSize(280, 240);
    setAutoAddPlottableToLegend(false);

    arrangeLayout();
    // Both rects share their left and right margins so generations line up vertically.
    auto *margins = new QCPMarginGroup(this);
    m_pplRect->setMarginGroup(QCP::msLeft | QCP::msRight, margins);
    m_dRcdRect->setMarginGroup(QCP::msLeft | QCP::msRight, margins);
    styleAxisRect(m_pplRect);
    styleAxisRect(m_dRcdRect);

    QCPAxis *pplX = m_pplRect->axis(QCPAxis::atBottom);
    QCPAxis *pplY = m_pplRect->axis(QCPAxis::atLeft);
    QCPAxis *dRcdX = m_dRcdRect->axis(QCPAxis::atBottom);
    QCPAxis *dRcdY = m_dRcdRect->axis(QCPAxis::atLeft);
    pplY->setLabel(tr("needle PPL"));
    useLogAxis(pplY);
    dRcdX->setLabel(tr("generation"));
    dRcdY->setLabel(tr("d_rcd"));
    for (QCPAxis *axis : {pplX, dRcdX, dRcdY})
        axis->setTicker(integerTicker());
    connect(pplX, qOverload<const QCPRange &>(&QCPAxis::rangeChanged), dRcdX, qOverload<const QCPRange &>(&QCPAxis::setRange));

    m_candidates = addGraph(pplX, pplY);
    m_candidates->setName(tr("candidate"));
    m_candidates->setLineStyle(QCPGraph::lsNone);
    m_candidates->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, kCandidateColor, kCandidateColor, 5));
    m_candidates->addToLegend();

    m_median = addGraph(pplX, pplY);
    m_median->setName(tr("median"));
    m_median->setPen(QPen(kMedianColor, 1.8, Qt::DashLine));
    m_median->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssSquare, kMedianColor, Qt::white, 5));
    m_median->addToLegend();

    m_best = addGraph(pplX, pplY);
    m_best->setName(tr("best so far"));
    m_best->setPen(QPen(plotcolors::searchBest, 2.4));
    m_best->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, plotcolors::searchBest, Qt::white, 6));
    m_best->addToLegend();

    // In the legend only once a run validates (addGeneration), so runs without validation keep
    // the legend they had.
    m_bestValidation = addGraph(pplX, pplY);
    m_bestValidation->setName(tr("its validation PPL"));
    m_bestValidation->setPen(QPen(kValidationColor, 2.0, Qt::DashLine));
    m_bestValidation->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, kValidationColor, Qt::white, 5));

    m_chosen = addGraph(pplX, pplY);
    m_chosen->setName(tr("chosen (best validation)"));
    m_chosen->setPen(QPen(kValidationColor, 2.4));
    m_chosen->setLineStyle(QCPGraph::lsStepLeft);
    m_chosen->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDiamond, kValidationColor, kValidationColor, 6));

    m_memberDRcd = addGraph(dRcdX, dRcdY);
    m_memberDRcd->setName(tr("population d_rcd"));
    m_memberDRcd->setLineStyle(QCPGraph::lsNone);
    QColor memberColor = plotcolors::dRcd;
    memberColor.setAlpha(130);
    m_memberDRcd->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, memberColor, memberColor, 4));
    m_memberDRcd->addToLegend();

    m_bestDRcd = addGraph(dRcdX, dRcdY);
    m_bestDRcd->setName(tr("best d_rcd"));
    m_bestDRcd->setPen(QPen(plotcolors::dTcd, 2.0));
    m_bestDRcd->setLineStyle(QCPGraph::lsStepCenter);
    m_bestDRcd->addToLegend();

    m_emptyLabel = new QCPItemText(this);
    m_emptyLabel->setClipAxisRect(m_pplRect);
    m_emptyLabel->position->setType(QCPItemPosition::ptAxisRectRatio);
    m_emptyLabel->position->setAxisRect(m_pplRect);
    m_emptyLabel->position->setCoords(0.5, 0.5);
    m_emptyLabel->setPositionAlignment(Qt::AlignCenter);
    m_emptyLabel->setColor(QColor(0x6b, 0x75, 0x80));
    m_emptyLabel->setText(tr("No search yet: load a model and press Start,\nor follow the run log of a headless search."));

    // Once the axis rects have their places and before anything is drawn: the reference labels
    // are moved apart where they would cover each other.
    connect(this, &QCustomPlot::afterLayout, this, &SearchPlot::separateReferenceLabels);
    updateRanges();
    m_replot->request();
}

// A title above; below it the needle-PPL rect over the d_rcd rect, and the legend in a column
// beside them (at their right, top-aligned), so however many entries it has it never takes height
// from the plots. The d_rcd rect keeps a height of its own, so its axis and labels stay whole.
void SearchPlot::arrangeLayout()
{
    plotLayout()->take(m_pplRect);
    plotLayout()->simplify();

    QFont titleFont = font();
    titleFont.setBold(true);
    titleFont.setPointSizeF(titleFont.pointSizeF() + 1.5);
    auto *title = new QCPTextElement(this, tr("Search"), titleFont);
    title->setTextColor(QColor(0x22, 0x2b, 0x33));
    title->setMargins(QMargins(10, 4, 10, 2));
    plotLayout()->addElement(0, 0, title);

    auto *body = new QCPLayoutGrid;
    plotLayout()->addElement(1, 0, body);
    plotLayout()->setRowStretchFactors({0.001, 1.0});

    auto *rects = new QCPLayoutGrid;
    body->addElement(0, 0, rects);
    rects->addElement(0, 0, m_pplRect);
    rects->addElement(1, 0, m_dRcdRect);
    rects->setRowStretchFactors({2.2, 1.0});
    m_pplRect->setMinimumSize(0, 110);
    m_dRcdRect->setMinimumSize(0, 70);

    auto *side = new QCPLayoutGrid;
    body->addElement(0, 1, side);
    body->setColumnStretchFactors({1.0, 0.001});
    axisRect()->insetLayout()->take(legend);
    side->addElement(0, 0, legend);
    side->addElement(1, 0, new QCPLayoutElement(this));  // the spare height, below the legend
    side->setRowStretchFactors({0.001, 1.0});
    side->setMargins(QMargins(4, 8, 8, 0));
    legend->setVisible(true);
    legend->setFillOrder(QCPLayoutGrid::foRowsFirst);
    legend->setWrap(0);
    legend->setBorderPen(Qt::NoPen);
    legend->setBrush(Qt::NoBrush);
    legend->setRowSpacing(2);
    legend->setMargins(QMargins(2, 2, 2, 2));
}

// Reference labels whose boxes would meet (close baselines: "YaRN (val.)" under "Llama 3.1") are
// stacked: from the lowest line up, each label that meets one already placed moves up just above
// it. A label that would stick out of the plot at a side is moved in; when the stack would leave
// the plot at the top, the labels there are stacked down from the top instead.
void SearchPlot::separateReferenceLabels()
{
    struct Placed {
        Reference *reference;
        QRectF natural;  // at its line
        QRectF box;      // where it goes
    };
    const QRectF area = m_pplRect->rect();
    std::vector<Placed> placed;
    for (auto &[key, reference] : m_references) {
        reference.label->position->setCoords(reference.x, reference.ppl);
        const QRectF natural = QRectF(reference.label->topLeft->pixelPosition(), reference.label->bottomRight->pixelPosition()).normalized();
        placed.push_back({&reference, natural, natural});
    }
    std::sort(placed.begin(), placed.end(), [](const Placed &a, const Placed &b) { return a.reference->ppl < b.reference->ppl; });
    const auto meets = [](const QRectF &box, const QRectF &other) { return box.intersects(other.adjusted(0, -kLabelGap, 0, kLabelGap)); };
    for (size_t i = 0; i < placed.size(); ++i) {
        QRectF &box = placed[i].box;
        if (box.left() < area.left())
            box.moveLeft(area.left());
        else if (box.right() > area.right())
            box.moveRight(std::max(area.left(), area.right() - 0.0));
        // Each move is strictly upwards (by more than rounding: a box set just above another can
        // still "meet" it by 1e-13 px, and moving it there again looped for ever, issue 30), so the
        // stacking ends after at most i moves.
        for (bool moved = true; moved;) {
            moved = false;
            for (size_t j = 0; j < i; ++j) {
                const double bottom = placed[j].box.top() - kLabelGap;
                if (meets(box, placed[j].box) && bottom < box.bottom() - kMinimumMove) {
                    box.moveBottom(bottom);
                    moved = true;
                }
            }
        }
    }
    if (std::any_of(placed.begin(), placed.end(), [&](const Placed &p) { return p.box.top() < area.top(); })) {
        std::sort(placed.begin(), placed.end(), [](const Placed &a, const Placed &b) { return a.box.top() < b.box.top(); });
        for (size_t i = 0; i < placed.size(); ++i) {
            QRectF &box = placed[i].box;
            if (box.top() < area.top())
                box.moveTop(area.top());
            for (bool moved = true; moved;) {  // strictly downwards, as above upwards
                moved = false;
                for (size_t j = 0; j < i; ++j) {
                    const double top = placed[j].box.bottom() + kLabelGap;
                    if (meets(box, placed[j].box) && top > box.top() + kMinimumMove) {
                        box.moveTop(top);
                        moved = true;
                    }
                }
            }
        }
    }
    QCPAxis *y = m_pplRect->axis(QCPAxis::atLeft);
    for (const Placed &p : placed) {
        if (p.box == p.natural)
            continue;
        const double x = p.reference->x + (p.box.left() - p.natural.left()) / std::max(1.0, area.width());
        const double line = y->coordToPixel(p.reference->ppl);
        p.reference->label->position->setCoords(x, y->pixelToCoord(line + (p.box.bottom() - p.natural.bottom())));
    }
}

void SearchPlot::clearRun()
{
    for (QCPGraph *graph : {m_candidates, m_best, m_bestValidation, m_chosen, m_median, m_memberDRcd, m_bestDRcd})
        graph->data()->clear();
    m_bestValidation->removeFromLegend();
    m_chosen->removeFromLegend();
    m_candidateKeys.clear();
    m_havePlan = false;
    m_plan = SearchPlan{};
    m_lastGeneration = 0;
    m_lowestPpl = m_highestPpl = 0;
    m_lowestDRcd = 0;
    m_highestDRcd = -1;
    for (const auto &[key, reference] : m_references)
        includePpl(reference.ppl);
    m_emptyLabel->setVisible(true);
    updateRanges();
    m_replot->request();
}

void SearchPlot::beginRun(const SearchPlan &plan)
{
    if (!plan.resumed)
        clearRun();
    // Candidate ids start again with every run; points already drawn keep their places.
    m_candidateKeys.clear();
    m_plan = plan;
    m_havePlan = true;
    if (plan.settings.method == SearchMethod::LongRoPE2 && plan.settings.dRcdMax >= plan.settings.dRcdMin) {
        m_lowestDRcd = m_highestDRcd >= m_lowestDRcd ? std::min(m_lowestDRcd, plan.settings.dRcdMin) : plan.settings.dRcdMin;
        m_highestDRcd = std::max(m_highestDRcd, plan.settings.dRcdMax);
    }
    m_emptyLabel->setText(tr("Waiting for the first evaluation…"));
    updateRanges();
    m_replot->request();
}

int SearchPlot::candidatesPerGeneration(int generation) const
{
    if (!m_havePlan)
        return 1;
    const SearchSettings &s = m_plan.settings;
    return std::max(1, generation == 0 ? s.population : s.mutations + s.crossovers);
}

double SearchPlot::slotX(int generation, int index, int count) const
{
    const int slot = std::clamp(index, 0, std::max(0, count - 1));
    return generation + kGenerationSpread * ((slot + 0.5) / std::max(1, count) - 0.5);
}

void SearchPlot::includePpl(double ppl)
{
    if (!plottablePpl(ppl))
        return;
    m_lowestPpl = m_lowestPpl > 0 ? std::min(m_lowestPpl, ppl) : ppl;
    m_highestPpl = std::max(m_highestPpl, ppl);
}

void SearchPlot::addCandidate(const CandidateEvaluation &candidate)
{
    m_lastGeneration = std::max(m_lastGeneration, candidate.generation);
    const auto known = m_candidateKeys.constFind(candidate.candidate);
    if (known == m_candidateKeys.constEnd() || candidate.indexInGeneration >= 0) {
        const double key = slotX(candidate.generation, std::max(0, candidate.indexInGeneration),
                                 candidatesPerGeneration(candidate.generation));
        m_candidateKeys.insert(candidate.candidate, key);
        if (plottablePpl(candidate.ppl))
            m_candidates->addData(key, candidate.ppl);
    } else if (plottablePpl(candidate.ppl)) {
        // Keys are unique per slot, so the point is found by its key; it is updated in place.
        QCPGraphDataContainer *data = m_candidates->data().data();
        const auto found = data->findBegin(*known, false);
        if (found != data->constEnd() && found->key == *known)
            (data->begin() + (found - data->constBegin()))->value = candidate.ppl;
        else
            m_candidates->addData(*known, candidate.ppl);
    }
    if (plottablePpl(candidate.ppl))
        includePpl(candidate.ppl);
    m_emptyLabel->setVisible(false);
    updateRanges();
    m_replot->request();
}

void SearchPlot::addGeneration(const GenerationReport &report)
{
    const int g = report.generation;
    m_lastGeneration = std::max(m_lastGeneration, g);
    // A resumed run reports its replayed generations again: the newer report replaces the older.
    for (QCPGraph *graph : {m_best, m_bestValidation, m_chosen, m_median, m_memberDRcd, m_bestDRcd})
        graph->data()->remove(g - 0.5, g + 0.5);
    // The search's best on its own samples (the answer itself when there is no validation).
    if (plottablePpl(report.searchBestFitness)) {
        m_best->addData(g, report.searchBestFitness);
        includePpl(report.searchBestFitness);
    }
    if (plottablePpl(report.searchBestValidationFitness) || plottablePpl(report.bestValidationFitness)) {
        m_bestValidation->addToLegend();
        m_chosen->addToLegend();
    }
    if (plottablePpl(report.searchBestValidationFitness)) {
        m_bestValidation->addData(g, report.searchBestValidationFitness);
        includePpl(report.searchBestValidationFitness);
    }
    if (plottablePpl(report.bestValidationFitness)) {
        m_chosen->addData(g, report.bestValidationFitness);
        includePpl(report.bestValidationFitness);
    }
    if (plottablePpl(report.medianFitness)) {
        m_median->addData(g, report.medianFitness);
        includePpl(report.medianFitness);
    }
    std::vector<int> members;
    std::copy_if(report.memberDRcd.begin(), report.memberDRcd.end(), std::back_inserter(members), [](int d) { return d >= 0; });
    std::sort(members.begin(), members.end());
    QVector<double> keys, values;
    for (int k = 0; k < int(members.size()); ++k) {
        keys << slotX(g, k, int(members.size()));
        values << members[size_t(k)];
        m_lowestDRcd = m_highestDRcd >= m_lowestDRcd ? std::min(m_lowestDRcd, members[size_t(k)]) : members[size_t(k)];
        m_highestDRcd = std::max(m_highestDRcd, members[size_t(k)]);
    }
    m_memberDRcd->addData(keys, values, true);
    if (report.bestDRcd >= 0)
        m_bestDRcd->addData(g, report.bestDRcd);
    m_emptyLabel->setVisible(false);
    updateRanges();
    m_replot->request();
}

void SearchPlot::setReference(const QString &key, const QString &title, double ppl, const QColor &color)
{
    // Labels on opposite sides, so that a tuned value close to a reference does not hide its label.
    const bool left = key == kHandTunedReference;
    placeReference(key, title, ppl, color, Qt::DashLine, left ? Qt::AlignLeft : Qt::AlignRight, left ? 0.005 : 0.995);
}

void SearchPlot::placeReference(const QString &key, const QString &title, double ppl, const QColor &color,
                                Qt::PenStyle style, Qt::Alignment side, double x)
{
    auto found = m_references.find(key);
    if (!plottablePpl(ppl)) {
        if (found != m_references.end()) {
            removeItem(found->second.line);
            removeItem(found->second.label);
            m_references.erase(found);
            m_replot->request();
        }
        return;
    }
    if (found == m_references.end()) {
        Reference reference;
        reference.line = new QCPItemStraightLine(this);
        reference.line->setClipAxisRect(m_pplRect);
        reference.line->setLayer(QStringLiteral("grid"));
        reference.label = new QCPItemText(this);
        reference.label->setClipAxisRect(m_pplRect);
        reference.label->position->setTypeX(QCPItemPosition::ptAxisRectRatio);
        reference.label->position->setAxisRect(m_pplRect);
        reference.label->setPadding(QMargins(3, 1, 3, 1));
        reference.label->setBrush(QColor(255, 255, 255, 200));
        found = m_references.emplace(key, reference).first;
    }
    Reference &reference = found->second;
    reference.ppl = ppl;
    reference.line->setPen(QPen(color, 1.4, style));
    reference.line->point1->setCoords(0, ppl);
    reference.line->point2->setCoords(1, ppl);
    reference.label->setColor(color.darker(120));
    reference.label->setText(QStringLiteral("%1 %2").arg(title, formatNumber(ppl)));
    reference.label->setPositionAlignment(side | Qt::AlignBottom);
    reference.label->position->setCoords(x, ppl);
    reference.x = x;
    includePpl(ppl);
    updateRanges();
    m_replot->request();
}

void SearchPlot::setRunBaselines(const SearchBaselines &baselines)
{
    clearReferences(QStringLiteral("run/"));
    for (const BaselineScore &b : baselines.scores) {
        const QColor color = b.name == QLatin1String("original") ? plotcolors::original : plotcolors::family(b.name);
        const QString title = b.name == QLatin1String("original") ? tr("original") : familyTitle(b.name);
        placeReference(kRunSearchReference + b.name, title, b.searchFitness, color, Qt::DashLine, Qt::AlignRight, 0.995);
        placeReference(kRunValidationReference + b.name, tr("%1 (val.)").arg(title), b.validationFitness, color, Qt::DotLine,
                       Qt::AlignRight, 0.72);
    }
}

void SearchPlot::clearReferences()
{
    for (const auto &[key, reference] : m_references) {
        removeItem(reference.line);
        removeItem(reference.label);
    }
    m_references.clear();
    m_replot->request();
}

void SearchPlot::clearReferences(const QString &prefix)
{
    for (auto it = m_references.begin(); it != m_references.end();) {
        if (it->first.startsWith(prefix)) {
            removeItem(it->second.line);
            removeItem(it->second.label);
            it = m_references.erase(it);
        } else {
            ++it;
        }
    }
    m_replot->request();
}

QCPItemStraightLine *SearchPlot::referenceLine(const QString &key) const
{
    const auto found = m_references.find(key);
    return found == m_references.end() ? nullptr : found->second.line;
}

QCPItemText *SearchPlot::referenceLabel(const QString &key) const
{
    const auto found = m_references.find(key);
    return found == m_references.end() ? nullptr : found->second.label;
}

void SearchPlot::updateRanges()
{
    const int planned = m_havePlan ? m_plan.settings.iterations : 0;
    m_pplRect->axis(QCPAxis::atBottom)->setRange(-0.5, std::max({planned, m_lastGeneration, 1}) + 0.5);
    QCPAxis *pplY = m_pplRect->axis(QCPAxis::atLeft);
    if (m_lowestPpl > 0) {
        const double pad = m_highestPpl / m_lowestPpl < 1.5 ? 1.5 : 1.2;
        pplY->setRange(m_lowestPpl / pad, m_highestPpl * pad);
    } else {
        pplY->setRange(1, 100);
    }
    QCPAxis *dRcdY = m_dRcdRect->axis(QCPAxis::atLeft);
    if (m_highestDRcd >= m_lowestDRcd)
        dRcdY->setRange(m_lowestDRcd - 0.8, m_highestDRcd + 0.8);
    else
        dRcdY->setRange(-0.5, 10.5);
}

void SearchPlot::flushReplot() { m_replot->flush(); }

bool SearchPlot::isReplotPending() const { return m_replot->isPending(); }

} // namespace rs
