#include "searchpanel.h"

#include "common/error.h"
#include "factordocument.h"
#include "glossary.h"
#include "modelfolders.h"
#include "plotstyle.h"
#include "rope/factorfamilies.h"
#include "searchplot.h"

#include <QCheckBox>
#include <QDir>
#include <QFileInfo>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QSpinBox>
#include <QStyle>
#include <QTableWidget>
#include <QUndoStack>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace rs {

namespace {

const QString kHandTuned = LiveScores::kHandTuned;

QColor referenceColor(const QString &name)
{
    if (name == kHandTuned)
        return plotcolors::rescaled;
    if (name == QLatin1String("original"))
        return plotcolors::original;
    return plotcolors::family(name);
}

} // namespace

SearchPanel::SearchPanel(FactorDocument *document, EvaluationService *evaluation, QWidget *parent)
    : QWidget(parent), m_document(document), m_evaluation(evaluation), m_form(new SearchSettingsForm(evaluation, this)),
      m_run(new SearchRunController(evaluation, this)),
      m_live(new LiveScores(document, evaluation, [this] { return m_form->sampleSettings(); }, this)),
      m_plot(new SearchPlot(this))
{
    m_live->setModelNamer([this](const QString &directory) { return modelName(directory); });
    buildUi();
    connectParts();
    connectRun();
    syncLengthFromDocument();
    updateModelLabel();
    updateBudget();  // and the buttons, which depend on the price
    showLiveRow();
}

void SearchPanel::buildUi()
{
    m_modelLabel = new QLabel(this);
    m_modelLabel->setWordWrap(true);
    m_modelLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    QHBoxLayout *buttons = buildRunButtons();
    m_status = new QLabel(this);
    m_status->setWordWrap(true);  // between the parts only: each part's spaces do not break
    m_status->setToolTip(glossaryDefinition(QStringLiteral("budget")));
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    QWidget *scoresBox = buildScoresBox();
    m_runLabel = new QLabel(this);
    m_runLabel->setWordWrap(true);
    m_runLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_runLabel->setVisible(false);

    auto *layout = new QVBoxLayout(this);
    layout->addWidget(m_modelLabel);
    layout->addWidget(m_form);
    layout->addLayout(buttons);
    layout->addWidget(m_status);
    layout->addWidget(scoresBox);
    layout->addWidget(m_runLabel);
    layout->addWidget(buildRankTable());
    layout->addWidget(m_plot, 1);
    applyGlossaryTooltips(this);
}

SearchPlot *SearchPanel::releasePlot()
{
    if (auto *box = qobject_cast<QVBoxLayout *>(layout()); box && box->indexOf(m_plot) >= 0) {
        box->removeWidget(m_plot);
        box->addStretch(1);
    }
    return m_plot;
}

// A followed search over MPI ranks: one row per worker rank, shown once the log has its first
// "rank_stats" entry.
QTableWidget *SearchPanel::buildRankTable()
{
    m_rankTable = new QTableWidget(0, 5, this);
    m_rankTable->setHorizontalHeaderLabels({tr("Rank"), tr("Host"), tr("Device"), tr("Evaluations/s"), tr("Idle %")});
    m_rankTable->verticalHeader()->setVisible(false);
    m_rankTable->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_rankTable->horizontalHeader()->setStretchLastSection(true);
    m_rankTable->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_rankTable->setMaximumHeight(140);
    m_rankTable->setVisible(false);
    return m_rankTable;
}

// Start, pause, stop and apply best.
QHBoxLayout *SearchPanel::buildRunButtons()
{
    m_start = new QPushButton(tr("Start"), this);
    m_pause = new QPushButton(tr("Pause"), this);
    m_stop = new QPushButton(tr("Stop"), this);
    m_applyBest = new QPushButton(tr("Apply best"), this);
    m_applyBest->setToolTip(tr("Put the best factors found (with their d_rcd and L) into the document: one undo step"));
    // As narrow as their text: the style's minimum button width would keep the dock from fitting
    // a 1024-pixel window beside the side panel and the plots.
    const auto fitText = [](QPushButton *button, const QStringList &texts) {
        const QFontMetrics metrics = button->fontMetrics();
        int widest = 0;
        for (const QString &text : texts)
            widest = std::max(widest, metrics.horizontalAdvance(text));
        // The margins QCommonStyle gives a push button's text, without Fusion's 80-pixel floor.
        const QStyle *style = button->style();
        const int margins = style->pixelMetric(QStyle::PM_ButtonMargin, nullptr, button) +
                            2 * style->pixelMetric(QStyle::PM_DefaultFrameWidth, nullptr, button) + 4;
        button->setMinimumWidth(widest + margins);
    };
    fitText(m_start, {tr("Start")});
    fitText(m_pause, {tr("Pause"), tr("Resume")});
    fitText(m_stop, {tr("Stop"), tr("Stop following")});
    fitText(m_applyBest, {tr("Apply best")});
    auto *buttons = new QHBoxLayout;
    buttons->addWidget(m_start);
    buttons->addWidget(m_pause);
    buttons->addWidget(m_stop);
    buttons->addStretch(1);
    buttons->addWidget(m_applyBest);
    return buttons;
}

// The live scores of the document's λ beside the families', on the same samples.
QWidget *SearchPanel::buildScoresBox()
{
    // A short title: a group box is never narrower than its title, and the dock must fit 1024 px.
    auto *scoresBox = new QGroupBox(tr("Needle PPL on the same samples"), this);
    auto *scores = new QGridLayout(scoresBox);
    int column = 0;
    for (const QString &name : referenceNames()) {
        auto *title = new QLabel(QStringLiteral("<span style='color:%1'>■</span> %2")
                                     .arg(referenceColor(name).name(), LiveScores::title(name).toHtmlEscaped()),
                                 scoresBox);
        auto *value = new QLabel(QStringLiteral("—"), scoresBox);
        value->setTextInteractionFlags(Qt::TextSelectableByMouse);
        QFont bold = value->font();
        bold.setBold(name == kHandTuned);
        value->setFont(bold);
        scores->addWidget(title, 0, column);
        scores->addWidget(value, 1, column);
        m_scoreLabels.insert(name, value);
        ++column;
    }
    m_liveCaption = new QLabel(scoresBox);
    m_liveCaption->setWordWrap(true);
    m_liveCaption->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_liveCaption->setVisible(false);
    scores->addWidget(m_liveCaption, 2, 0, 1, column);
    m_quickScore = new QCheckBox(tr("Quick score (1st sample)"), scoresBox);
    m_quickScore->setChecked(m_live->quick());
    m_quickScore->setToolTip(tr("Score each edit on the first needle sample only, next to the families on that same "
                                "sample (one forward instead of one per sample); \"Score fully\" scores it on all"));
    m_scoreFully = new QPushButton(tr("Score fully"), scoresBox);
    m_scoreFully->setToolTip(tr("Score the current λ on every needle sample (the row then compares on all of them)"));
    auto *quickRow = new QHBoxLayout;
    quickRow->addWidget(m_quickScore);
    quickRow->addStretch(1);
    quickRow->addWidget(m_scoreFully);
    scores->addLayout(quickRow, 3, 0, 1, column);
    m_note = new QLabel(scoresBox);
    m_note->setWordWrap(true);
    m_note->setStyleSheet(QStringLiteral("color: #8a5a00"));
    m_note->setVisible(false);
    scores->addWidget(m_note, 4, 0, 1, column);
    return scoresBox;
}

// The document, the form and the live scores: a change of config or L shows in the form and makes
// the live scores stale (LiveScores follows the factors' edits itself).
void SearchPanel::connectParts()
{
    connect(m_document, &FactorDocument::configChanged, this, [this] {
        syncLengthFromDocument();
        m_live->schedule();
        updateBudget();  // and the buttons
        onContextChanged();
    });
    connect(m_document, &FactorDocument::targetLengthChanged, this, [this] {
        syncLengthFromDocument();
        m_live->schedule();
        updateBudget();  // the price is at the new L
        onContextChanged();
    });
    connect(m_form, &SearchSettingsForm::lengthEdited, this, &SearchPanel::commitLength);
    connect(m_form, &SearchSettingsForm::samplesChanged, m_live, &LiveScores::schedule);
    connect(m_form, &SearchSettingsForm::budgetInputsChanged, this, &SearchPanel::updateBudget);
    connect(m_form, &SearchSettingsForm::modelSettingsChosen, this, [this](const ModelLoadSettings &settings) {
        if (hasModel())
            Q_EMIT modelSettingsChanged(settings);
    });
    connect(m_quickScore, &QCheckBox::toggled, this, [this](bool quick) {
        m_live->setQuick(quick);
        m_live->schedule();
    });
    connect(m_scoreFully, &QPushButton::clicked, m_live, &LiveScores::scoreFully);
    connect(m_live, &LiveScores::changed, this, &SearchPanel::showLiveRow);
    connect(m_live, &LiveScores::noteChanged, this, &SearchPanel::showNote);
    connect(m_live, &LiveScores::handTunedScored, this, &SearchPanel::handTunedScored);
    connect(m_live, &LiveScores::referencesScored, this, &SearchPanel::referencesScored);

    connect(m_evaluation, &EvaluationService::loadProgress, this, [this](const QString &message) {
        m_loadingMessage = message;
        updateModelLabel();
    });
    // Prices (the form's and Start's) use what live scores measured on this model, once they have.
    connect(m_evaluation, &EvaluationService::throughputMeasured, this, [this](const MeasuredThroughput &t) {
        m_live->setMeasuredThroughput(t);
        updateBudget();
    });
    connect(m_evaluation, &EvaluationService::modelLoaded, this, &SearchPanel::onModelLoaded);
    connect(m_evaluation, &EvaluationService::failed, this, [this](WorkerTask task, const QString &) {
        // The previous model (if any) is still loaded; the window reports the error.
        if (task == WorkerTask::LoadModel) {
            m_loadingMessage.clear();
            updateModelLabel();
        }
    });
}

// The run: its buttons, and what it reports onto the plot and the labels.
void SearchPanel::connectRun()
{
    connect(m_start, &QPushButton::clicked, this, &SearchPanel::startSearch);
    connect(m_pause, &QPushButton::clicked, m_run, &SearchRunController::togglePause);
    connect(m_stop, &QPushButton::clicked, this, &SearchPanel::stopSearch);
    connect(m_applyBest, &QPushButton::clicked, this, &SearchPanel::applyBest);
    connect(m_run, &SearchRunController::stateChanged, this, [this](State state) {
        // A followed run's own settings show in the form, read-only; the user's come back after.
        if (state == State::Following && hasRun())
            m_form->showRun(m_run->plan(), m_run->follower()->path());
        else if (state != State::Following)
            m_form->showOwn();
        updateButtons();
        Q_EMIT stateChanged(state);
    });
    connect(m_run, &SearchRunController::runStarted, this, &SearchPanel::onRunStarted);
    connect(m_run, &SearchRunController::candidateAdded, this, [this](const CandidateEvaluation &candidate) {
        m_plot->addCandidate(candidate);
        Q_EMIT candidateAdded(candidate);
    });
    connect(m_run, &SearchRunController::generationAdded, this, [this](const GenerationReport &report) {
        m_plot->addGeneration(report);
        Q_EMIT generationAdded(report);
    });
    connect(m_run, &SearchRunController::baselinesScored, this, [this](const SearchBaselines &baselines) {
        m_plot->setRunBaselines(baselines);
        updatePlotReferences();
    });
    connect(m_run, &SearchRunController::runFinished, this, [this](const SearchOutcome &outcome) {
        m_plot->flushReplot();
        Q_EMIT searchFinished(outcome);
    });
    connect(m_run, &SearchRunController::runCleared, this, [this] {
        m_plot->clearRun();
        m_plot->clearReferences(QStringLiteral("run/"));
    });
    connect(m_run, &SearchRunController::bestChanged, this, [this] {
        m_bestApplied = bestApplies();
        updateButtons();
        showStatus();
        Q_EMIT bestChanged();
    });
    connect(m_run, &SearchRunController::statusChanged, this, &SearchPanel::showStatus);
    connect(m_run, &SearchRunController::statusMessage, this, &SearchPanel::statusMessage);
    connect(m_run, &SearchRunController::rankStatistics, this, &SearchPanel::showRankStatistics);
    connect(m_run, &SearchRunController::noteChanged, this, &SearchPanel::showNote);
    connect(m_run, &SearchRunController::errorOccurred, this, &SearchPanel::errorOccurred);
}

SearchSettings SearchPanel::searchSettings() const
{
    return m_form->searchSettings(hasModel() ? std::optional<RopeConfig>(model()->ropeConfig) : std::nullopt);
}

void SearchPanel::updateBudget()
{
    // The document's RoPE stands in for the model's until one is loaded.
    m_form->updateBudget(hasModel() ? model()->ropeConfig : m_document->config(),
                         hasModel() ? model()->cost : ForwardCostFigures{});
    updateButtons();  // a price that cannot fit turns Start off
}

void SearchPanel::updateButtons()
{
    const State state = m_run->state();
    const bool running = m_run->isRunning();
    const bool stopping = m_run->isStopping();
    const QString blocked = state == State::Following
                                ? tr("Following a run: the form shows its settings. Stop following to start a search here.")
                                : startBlockedReason();
    m_start->setEnabled(!running && blocked.isEmpty());
    m_start->setToolTip(blocked.isEmpty() ? tr("Search the factors with these settings on the loaded model") : blocked);
    m_pause->setEnabled(!stopping && (state == State::Searching || state == State::Paused));
    m_pause->setText(state == State::Paused ? tr("Resume") : tr("Pause"));
    m_stop->setEnabled(!stopping && (running || state == State::Following));
    m_stop->setText(state == State::Following ? tr("Stop following") : tr("Stop"));
    const QString elsewhere = bestContextMismatch();
    m_applyBest->setEnabled(bestApplies());
    m_applyBest->setToolTip(elsewhere.isEmpty()
                                ? tr("Put the best factors found (with their d_rcd and L) into the document: one undo step")
                                : elsewhere);
    m_form->setRunning(running);
}

void SearchPanel::updateModelLabel()
{
    if (!m_loadingMessage.isEmpty()) {
        m_modelLabel->setText(m_loadingMessage);
        return;
    }
    if (!hasModel()) {
        m_modelLabel->setText(tr("<b>No model loaded.</b> Choose a Hugging Face model folder with File › Load Model… "
                                 "to score factors and search; a headless run can be followed without one."));
        return;
    }
    const ModelInfo &m = *model();
    m_modelLabel->setText(tr("<b>%1</b> — %2, %3 layers, hidden %4, d = %5, L_train = %6 — %7 %8")
                              .arg(modelName(m.directory).toHtmlEscaped(), m.architecture)
                              .arg(m.layers)
                              .arg(m.hiddenSize)
                              .arg(m.ropeConfig.rotaryDims)
                              .arg(formatNumber(m.ropeConfig.trainLength))
                              .arg(m.device, m.dtype));
    m_modelLabel->setToolTip(QDir::toNativeSeparators(m.directory) + QStringLiteral("\n") + m.tokenizer);
}

void SearchPanel::syncLengthFromDocument()
{
    const double target = m_document->targetLength();
    if (target >= 2)
        m_form->showLength(int(std::min<double>(std::llround(target), SearchSettingsForm::kLongestLength)));
}

void SearchPanel::commitLength(int length)
{
    // The sample length is the document's target: editing it here is an (undoable) target edit.
    if (m_document->pairs() > 0 && length != int(std::llround(m_document->targetLength())))
        m_document->setTargetLength(length);
    m_live->schedule();
}

QString SearchPanel::modelLabelText() const { return m_modelLabel->text(); }

void SearchPanel::setEmbeddedModel(const QString &directory, const QString &name)
{
    m_embeddedModelDir = directory;
    m_embeddedModelName = name;
    updateModelLabel();
    m_live->refresh();
}

// A model is named by its folder, except the shipped one, which is unpacked into a cache folder
// whose name ("embedded-model-0010f5…") means nothing to a user.
// Recognised by content, whatever folder holds it (the CLI unpacks it into its own cache).
QString SearchPanel::modelName(const QString &directory) const
{
    if (!m_embeddedModelDir.isEmpty() && sameModelFolder(directory, m_embeddedModelDir))
        return m_embeddedModelName;
    return QFileInfo(directory).fileName();
}

void SearchPanel::showLiveRow()
{
    for (const QString &name : referenceNames()) {
        const LiveScores::Figure figure = m_live->figure(name);
        m_scoreLabels.value(name)->setText(figure.text);
        m_scoreLabels.value(name)->setToolTip(figure.toolTip);
    }
    const bool scoreable = m_live->scoreable();
    if (scoreable)
        m_liveCaption->setText(m_live->caption());
    m_liveCaption->setVisible(scoreable);
    m_scoreFully->setEnabled(m_live->canScoreFully());
    updatePlotReferences();
}

void SearchPanel::showRankStatistics(const RankStatistics &statistics)
{
    m_rankTable->setRowCount(int(statistics.ranks.size()));
    int row = 0;
    for (const RankStat &r : statistics.ranks) {
        const QStringList cells{QString::number(r.rank), r.host, r.devices.join(QStringLiteral(", ")),
                                r.lost.isEmpty() ? QString::number(r.evaluationsPerSecond, 'g', 3) : tr("lost"),
                                r.lost.isEmpty() ? QString::number(r.idlePercent, 'f', 0) : QString()};
        for (int c = 0; c < cells.size(); ++c) {
            auto *item = new QTableWidgetItem(cells[c]);
            if (!r.lost.isEmpty())
                item->setToolTip(r.lost);
            m_rankTable->setItem(row, c, item);
        }
        ++row;
    }
    m_rankTable->setVisible(!statistics.ranks.empty());
}

void SearchPanel::showNote(const QString &text)
{
    m_note->setText(text);
    m_note->setVisible(!text.isEmpty());
}

void SearchPanel::onModelLoaded(const ModelInfo &info)
{
    m_loadingMessage.clear();
    m_live->setModel(info);
    m_run->setModelLoaded(true);
    updateModelLabel();
    updateBudget();  // and the buttons
    onContextChanged();
}

// A search's answer belongs to the model, the RoPE and the target length it was found for.
QString SearchPanel::bestContextMismatch() const
{
    if (!hasBest())
        return {};
    const SearchPlan &plan = m_run->plan();
    const SearchSettings &run = plan.settings;
    const RopeConfig &document = m_document->config();
    if (run.rotaryDims > 0 && (document.rotaryDims != run.rotaryDims || document.base != run.base
                               || document.trainLength != run.trainLength))
        return tr("The search's answer is for another RoPE (d = %1, b = %2, L_train = %3) than the document's "
                  "(d = %4, b = %5, L_train = %6): it is not applied or drawn.")
            .arg(run.rotaryDims)
            .arg(formatNumber(run.base), formatNumber(run.trainLength))
            .arg(document.rotaryDims)
            .arg(formatNumber(document.base), formatNumber(document.trainLength));
    const int target = m_run->best()->targetLength;
    if (target > 0 && std::llround(m_document->targetLength()) != target)
        return tr("The search's answer is for L = %1, the document's target is now %2: it is not applied or drawn "
                  "(set L back to %1 to use it).")
            .arg(formatNumber(target), formatNumber(m_document->targetLength()));
    if (hasModel() && !plan.model.isEmpty() && !sameModelFolder(plan.model, model()->directory))
        return tr("The search's answer was found on %1, the loaded model is %2: it is not applied or drawn.")
            .arg(modelName(plan.model), modelName(model()->directory));
    return {};
}

bool SearchPanel::bestApplies() const
{
    return hasBest() && int(bestLambda().size()) == m_document->pairs() && bestContextMismatch().isEmpty();
}


// The model, the document's RoPE or its target changed: a search's answer made for another one is
// marked and disabled (and comes back if the context does).
void SearchPanel::onContextChanged()
{
    const bool applies = bestApplies();
    updateButtons();
    showStatus();
    if (applies != m_bestApplied) {
        m_bestApplied = applies;
        Q_EMIT bestChanged();
    }
}

void SearchPanel::showStatus()
{
    const QString elsewhere = bestContextMismatch();
    m_status->setText(elsewhere.isEmpty() ? m_run->statusDisplay()
                                          : m_run->statusDisplay() + QLatin1Char('\n') + elsewhere);
}

QString SearchPanel::startBlockedReason() const
{
    if (!hasModel())
        return tr("Load a model first (File › Load Model…): the search scores candidates with it.");
    // The search runs on the model's RoPE and its answer goes into the document: both must agree.
    const RopeConfig &model = this->model()->ropeConfig;
    const RopeConfig &document = m_document->config();
    if (m_document->pairs() != model.pairs())
        return tr("The document has %1 rotary dimensions, the model %2: open the model's config (File › Open config.json…) so that "
                  "the search's answer fits the document.")
            .arg(m_document->pairs())
            .arg(model.pairs());
    if (document.base != model.base || document.trainLength != model.trainLength)
        return tr("The document's RoPE (b = %1, L_train = %2) is not the model's (b = %3, L_train = %4): open the "
                  "model's config (File › Open) so that the search's answer fits the document.")
            .arg(formatNumber(document.base), formatNumber(document.trainLength))
            .arg(formatNumber(model.base), formatNumber(model.trainLength));
    if (const std::optional<CostEstimate> &price = m_form->price(); price && !price->fits)
        return tr("Length L = %1: a forward on %2 needs %3; choose a smaller Length L.")
            .arg(formatNumber(price->tokens), this->model()->cost.device, price->summary());
    return {};
}

QString SearchPanel::priceWarning() const
{
    constexpr double kAskSeconds = 3600;
    const std::optional<CostEstimate> &price = m_form->price();
    if (!price || (price->seconds <= kAskSeconds && !(price->availableBytes > 0 && price->peakBytes > price->availableBytes / 2)))
        return {};
    return tr("This search is costly: %1 evaluations at L = %2, %3.")
        .arg(formatNumber(price->forwards), formatNumber(price->tokens), price->summary());
}

bool SearchPanel::startSearch()
{
    if (m_run->isRunning())
        return false;
    if (m_run->state() == State::Following) {
        Q_EMIT errorOccurred(tr("Following a run: stop following to start a search here."));
        return false;
    }
    if (const QString blocked = startBlockedReason(); !blocked.isEmpty()) {
        Q_EMIT errorOccurred(blocked);
        return false;
    }
    if (const QString warning = priceWarning(); !warning.isEmpty() && m_promptsEnabled &&
        QMessageBox::question(this, tr("Start the search?"), warning + QLatin1Char('\n') + tr("Start it anyway?"),
                              QMessageBox::Yes | QMessageBox::No, QMessageBox::No) != QMessageBox::Yes)
        return false;
    return m_run->start({searchSettings(), sampleSettings(), validationSettings(), m_form->logPath(), m_form->resume()});
}

void SearchPanel::stopSearch()
{
    m_run->stop();
    updateButtons();  // Stop and Pause no longer apply while the run winds down
}

bool SearchPanel::applyBest()
{
    if (!hasBest()) {
        Q_EMIT errorOccurred(tr("There is no search result to apply yet."));
        return false;
    }
    if (const QString elsewhere = bestContextMismatch(); !elsewhere.isEmpty()) {
        Q_EMIT errorOccurred(elsewhere);
        return false;
    }
    const SearchRunController::Best best = *m_run->best();
    if (int(best.lambda.size()) != m_document->pairs()) {
        Q_EMIT errorOccurred(tr("The best factors have %1 values but the document has %2 rotary dimensions.")
                                 .arg(best.lambda.size())
                                 .arg(m_document->pairs()));
        return false;
    }
    const double target = best.targetLength > 0 ? best.targetLength : m_document->targetLength();
    const double trainLength = m_document->geometry().trainLength;
    // The document stores an attention factor only where it departs from the longrope default the
    // export would imply anyway.
    const double implied = longropeAttentionFactor(target / trainLength, trainLength);
    std::optional<double> attention;
    if (std::abs(best.attentionFactor - implied) > 1e-12 * implied)
        attention = best.attentionFactor;
    const bool changes = target != m_document->targetLength() || (best.dRcd >= 0 && best.dRcd != m_document->dRcd()) ||
                         best.lambda != m_document->lambda() || attention != m_document->attentionFactor();
    if (!changes)
        return true;
    QUndoStack *stack = m_document->undoStack();
    stack->beginMacro(tr("Apply search best (needle PPL %1)").arg(formatNumber(best.ppl)));
    if (target != m_document->targetLength())
        m_document->setTargetLength(target);
    if (best.dRcd >= 0)
        m_document->setDRcd(best.dRcd);
    m_document->setAllLambda(best.lambda, attention, tr("Apply search best factors"));
    stack->endMacro();
    return true;
}

void SearchPanel::onRunStarted(const SearchPlan &plan)
{
    if (m_run->state() == State::Following)  // the followed log started over
        m_form->showRun(plan, m_run->follower()->path());
    m_plot->beginRun(plan);
    m_plot->clearReferences(QStringLiteral("run/"));
    updatePlotReferences();
    Q_EMIT searchStarted(plan);
}

bool SearchPanel::liveScoresMatchRun() const
{
    // The run's model may be the loaded one in another folder (the embedded model in the CLI's cache).
    return hasRun() && hasModel() && sameModelFolder(m_run->plan().model, model()->directory)
           && m_live->isOn(model()->directory, m_run->plan().searchSamples);
}

void SearchPanel::updatePlotReferences()
{
    // A figure is drawn beside a run only when it was computed on the run's samples: the run's own
    // baselines always are; the live scores only when the dock's samples are the run's (the same
    // model, L, samples and seed). The hand-tuned λ is then combined over its samples as the run
    // combines its candidates'; the live families (mean PPL only) give way to the run's baselines,
    // or are left out when the run combines samples otherwise.
    const SearchPlan &plan = m_run->plan();
    const bool live = !hasRun() || liveScoresMatchRun();
    const bool haveBaselines = hasRun() && !runBaselines().scores.empty();
    const bool meanFitness = !hasRun() || plan.settings.fitness == FitnessAggregate::MeanPpl;
    const double handTuned = m_live->handTunedPpl();
    for (const QString &name : referenceNames()) {
        double ppl = qQNaN();
        if (live && name == kHandTuned)
            ppl = hasRun() && std::isfinite(handTuned) ? aggregateScores(plan.settings.fitness, m_live->handTunedSamples())
                                                       : handTuned;
        else if (live && !haveBaselines && meanFitness)
            ppl = m_live->referencePpl(name);
        // A quick figure says so on the plot too.
        const QString title = m_live->sampleCount() < m_form->samplesSpinBox()->value()
                                  ? tr("%1 (quick)").arg(LiveScores::title(name))
                                  : LiveScores::title(name);
        m_plot->setReference(name, title, ppl, referenceColor(name));
    }
    updateRunLabel();
}

QString SearchPanel::runText() const
{
    if (!hasRun())
        return {};
    const SearchPlan &plan = m_run->plan();
    const NeedleEvalSettings &s = plan.searchSamples;
    QStringList parts;
    parts << (plan.model.isEmpty() ? tr("model not logged") : modelName(plan.model));
    parts << tr("L = %1").arg(formatNumber(plan.targetLength));
    const auto seeds = [](const NeedleEvalSettings &n) {
        return n.samples > 1 ? QStringLiteral("%1…%2").arg(n.seed).arg(n.seed + uint64_t(n.samples) - 1) : QString::number(n.seed);
    };
    const auto count = [](int n, const QString &what) {
        return n == 1 ? tr("1 %1 sample").arg(what) : tr("%1 %2 samples").arg(n).arg(what);
    };
    parts << tr("%1 (seed %2)").arg(count(s.samples, tr("search")), seeds(s));
    if (m_run->validates())
        parts << tr("%1 (seed %2)").arg(count(plan.validationSamples.samples, tr("validation")), seeds(plan.validationSamples));
    else
        parts << tr("no validation");
    if (!s.corpus.isEmpty())
        parts << tr("corpus %1").arg(QFileInfo(s.corpus).fileName());
    parts << tr("fitness %1").arg(fitnessAggregateName(plan.settings.fitness));
    return parts.join(QStringLiteral(" · "));
}

void SearchPanel::updateRunLabel()
{
    if (!hasRun()) {
        m_runLabel->setVisible(false);
        return;
    }
    QString text = tr("<b>Run:</b> %1").arg(runText().toHtmlEscaped());
    if (!runBaselines().scores.empty())
        text += tr("<br>Reference lines: the run's own baselines (dashed: search samples, dotted: validation samples).");
    else
        text += tr("<br>Its baselines are not logged (an older run or one still starting): no family lines are drawn.");
    if (hasModel() && !liveScoresMatchRun())
        text += tr("<br><span style='color:#8a5a00'>The live scores above are on other samples (%1 samples of L = %2, "
                   "seed %3%4): they are not drawn beside this run.</span>")
                    .arg(m_live->sampleCount())
                    .arg(formatNumber(m_form->lengthSpinBox()->value()))
                    .arg(m_form->seedSpinBox()->value())
                    .arg(sameModelFolder(m_run->plan().model, model()->directory) ? QString() : tr(", another model"));
    m_runLabel->setText(text);
    m_runLabel->setVisible(true);
}

} // namespace rs
