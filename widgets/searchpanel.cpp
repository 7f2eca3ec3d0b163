#include "searchpanel.h"

#include "common/error.h"
#include "common/statistics.h"
#include "factordocument.h"
#include "glossary.h"
#include "rope/factorfamilies.h"
#include "plotstyle.h"
#include "searchplot.h"
#include "worker/searchjobsettings.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QHeaderView>
#include <QTableWidget>
#include <QStyle>
#include <QTimer>
#include <QToolButton>
#include <QUndoStack>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace rs {

namespace {

constexpr int kLongestLength = 1 << 24;
// Arrival times of this many recent evaluations give the rate: long enough to smooth, short
// enough to follow a change of speed (another job on the GPU, a longer d_rcd).
constexpr size_t kRateWindow = 32;
const QString kHandTuned = SearchPlot::kHandTunedReference;

QString referenceTitle(const QString &name)
{
    static const QMap<QString, QString> titles{{kHandTuned, QObject::tr("edited λ")},
                                               {QStringLiteral("original"), QObject::tr("original")},
                                               {QStringLiteral("pi"), QObject::tr("PI")},
                                               {QStringLiteral("ntk"), QObject::tr("NTK")},
                                               {QStringLiteral("yarn"), QObject::tr("YaRN")}};
    return titles.value(name, name);
}

QColor referenceColor(const QString &name)
{
    if (name == kHandTuned)
        return plotcolors::rescaled;
    if (name == QLatin1String("original"))
        return plotcolors::original;
    return plotcolors::family(name);
}

QString formatDuration(double seconds)
{
    if (!std::isfinite(seconds) || seconds < 0)
        return QStringLiteral("—");
    const qint64 s = qint64(std::llround(seconds));
    if (s < 60)
        return QObject::tr("%1 s").arg(s);
    if (s < 3600)
        return QObject::tr("%1 min %2 s").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
    return QObject::tr("%1 h %2 min").arg(s / 3600).arg((s % 3600) / 60, 2, 10, QLatin1Char('0'));
}

// A status part that must not wrap inside itself ("ETA 3 min 05 s"): its spaces do not break.
QString unbroken(QString text) { return text.replace(QLatin1Char(' '), QChar::Nbsp); }

const QString kDeviceKey = QStringLiteral("model/device");
const QString kDtypeKey = QStringLiteral("model/dtype");

QSpinBox *spinBox(int minimum, int maximum, int value, QWidget *parent)
{
    auto *box = new QSpinBox(parent);
    box->setRange(minimum, maximum);
    box->setValue(value);
    box->setKeyboardTracking(false);
    box->setGroupSeparatorShown(true);
    return box;
}

} // namespace

const QStringList &SearchPanel::referenceNames()
{
    static const QStringList names{kHandTuned, QStringLiteral("original"), QStringLiteral("pi"), QStringLiteral("ntk"),
                                   QStringLiteral("yarn")};
    return names;
}

SearchPanel::SearchPanel(FactorDocument *document, EvaluationService *evaluation, QWidget *parent)
    : QWidget(parent), m_document(document), m_evaluation(evaluation), m_follower(new RunLogFollower(this)),
      m_plot(new SearchPlot(this)), m_scoreTimer(new QTimer(this))
{
    buildUi();
    m_printTiming = qEnvironmentVariableIntValue("ROPESCOPE_LIVE_TIMING") > 0;
    m_scoreTimer->setSingleShot(true);
    m_scoreTimer->setInterval(kScoreDebounceMs);
    connect(m_scoreTimer, &QTimer::timeout, this, &SearchPanel::requestScores);

    // Any edit of the document is scored after the debounce; a newer edit restarts the timer and
    // so supersedes the pending one.
    connect(m_document, &FactorDocument::lambdaChanged, this, &SearchPanel::scheduleScoring);
    connect(m_document, &FactorDocument::attentionFactorChanged, this, &SearchPanel::scheduleScoring);
    connect(m_document, &FactorDocument::configChanged, this, [this] {
        syncLengthFromDocument();
        scheduleScoring();
        updateButtons();
        updateBudget();
    });
    connect(m_document, &FactorDocument::targetLengthChanged, this, [this] {
        syncLengthFromDocument();
        scheduleScoring();
    });

    EvaluationService *worker = m_evaluation;
    connect(worker, &EvaluationService::loadProgress, this, [this](const QString &message) {
        m_loadingMessage = message;
        updateModelLabel();
    });
    connect(worker, &EvaluationService::modelLoaded, this, &SearchPanel::onModelLoaded);
    connect(worker, &EvaluationService::failed, this, &SearchPanel::onWorkerFailed);
    connect(worker, &EvaluationService::searchStarted, this, [this](const SearchPlan &plan) {
        setState(State::Searching);
        onRunStarted(plan);
    });
    connect(worker, &EvaluationService::candidateEvaluated, this, &SearchPanel::onCandidate);
    connect(worker, &EvaluationService::generationFinished, this, &SearchPanel::onGeneration);
    connect(worker, &EvaluationService::baselinesScored, this, &SearchPanel::onBaselines);
    connect(worker, &EvaluationService::searchPausedChanged, this, [this](bool) { updateStatus(); });
    connect(worker, &EvaluationService::searchFinished, this, [this](const SearchOutcome &outcome) {
        setState(State::Idle);
        onRunFinished(outcome);
    });
    connect(worker, &EvaluationService::scoreProgress, this, &SearchPanel::onScoreArrived);
    connect(worker, &EvaluationService::scoreReady, this, &SearchPanel::onScoreArrived);
    connect(worker, &EvaluationService::referencesProgress, this, &SearchPanel::onReferencesArrived);
    connect(worker, &EvaluationService::referencesReady, this, &SearchPanel::onReferencesArrived);

    connect(m_follower, &RunLogFollower::searchStarted, this, &SearchPanel::onRunStarted);
    connect(m_follower, &RunLogFollower::candidateEvaluated, this, &SearchPanel::onCandidate);
    connect(m_follower, &RunLogFollower::generationFinished, this, &SearchPanel::onGeneration);
    connect(m_follower, &RunLogFollower::baselinesScored, this, &SearchPanel::onBaselines);
    connect(m_follower, &RunLogFollower::searchFinished, this, &SearchPanel::onRunFinished);
    connect(m_follower, &RunLogFollower::restarted, this, [this] {
        m_plot->clearRun();
        m_plot->clearReferences(QStringLiteral("run/"));
        m_runBaselines = {};
        m_best.reset();
        Q_EMIT bestChanged();
    });
    connect(m_follower, &RunLogFollower::failed, this, &SearchPanel::showNote);
    connect(m_follower, &RunLogFollower::rankStatistics, this, &SearchPanel::showRankStatistics);
    connect(m_follower, &RunLogFollower::rankLost, this, [this](int rank, const QString &host, const QString &reason) {
        showNote(tr("Rank %1 on %2 was lost (%3); its jobs went to the other ranks.").arg(rank).arg(host, reason));
    });

    syncLengthFromDocument();
    updateModelLabel();
    updateButtons();
    updateBudget();
}

void SearchPanel::buildUi()
{
    m_modelLabel = new QLabel(this);
    m_modelLabel->setWordWrap(true);
    m_modelLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    QGroupBox *settingsBox = buildSettingsBox();
    QHBoxLayout *buttons = buildRunButtons();
    m_status = new QLabel(this);
    m_status->setWordWrap(true);  // between the parts only: each part's spaces do not break
    m_status->setToolTip(glossaryDefinition(QStringLiteral("budget")));
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    QGroupBox *scoresBox = buildScoresBox();

    auto *layout = new QVBoxLayout(this);
    layout->addWidget(m_modelLabel);
    layout->addWidget(settingsBox);
    layout->addLayout(buttons);
    layout->addWidget(m_status);
    layout->addWidget(scoresBox);
    m_runLabel = new QLabel(this);
    m_runLabel->setWordWrap(true);
    m_runLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_runLabel->setVisible(false);
    layout->addWidget(m_runLabel);
    // A followed search over MPI ranks: one row per worker rank, shown once the log has its first
    // "rank_stats" entry.
    m_rankTable = new QTableWidget(0, 5, this);
    m_rankTable->setHorizontalHeaderLabels({tr("Rank"), tr("Host"), tr("Device"), tr("Evaluations/s"), tr("Idle %")});
    m_rankTable->verticalHeader()->setVisible(false);
    m_rankTable->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_rankTable->horizontalHeader()->setStretchLastSection(true);
    m_rankTable->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_rankTable->setMaximumHeight(140);
    m_rankTable->setVisible(false);
    layout->addWidget(m_rankTable);
    layout->addWidget(m_plot, 1);
    connectFields();
    applyGlossaryTooltips(this);
}

// The settings' fields, each with the search job's default (the CLI's too); returns the run log's
// browse button.
QToolButton *SearchPanel::createSettingsFields(QGroupBox *box)
{
    // Every default is the search job's (worker/searchjobsettings.h), the CLI's too.
    const SearchJobSettings defaults;
    m_method = new QComboBox(box);
    m_method->addItem(tr("LongRoPE2 (d_rcd + NTK-left)"), int(SearchMethod::LongRoPE2));
    m_method->addItem(tr("LongRoPE v1 (all dimensions)"), int(SearchMethod::LongRoPEv1));
    m_method->setCurrentIndex(std::max(0, m_method->findData(int(defaults.search.method))));
    m_population = spinBox(2, 100000, defaults.search.population, box);
    // The search counts generations after the initial one (SearchSettings::iterations, the CLI's
    // --iterations); the prefix shows the initial one, so the field reads as the whole run.
    m_iterations = spinBox(0, 100000, defaults.search.iterations, box);
    m_iterations->setPrefix(tr("1 + "));
    m_iterations->setToolTip(glossaryDefinition(QStringLiteral("generations")));
    m_samples = spinBox(1, 10000, defaults.samples.samples, box);
    m_length = spinBox(2, kLongestLength, 8192, box);
    m_length->setSingleStep(1024);
    m_length->setToolTip(tr("Tokens per needle sample: the document's target length L"));
    m_population->setToolTip(glossaryDefinition(QStringLiteral("population")));
    m_samples->setToolTip(glossaryDefinition(QStringLiteral("samples")));
    m_method->setToolTip(glossaryDefinition(QStringLiteral("method")));
    m_seed = spinBox(0, std::numeric_limits<int>::max(), int(defaults.samples.seed), box);
    m_seed->setToolTip(tr("Seeds both the needle samples and the search"));
    m_corpus = new QLineEdit(box);
    m_corpus->setPlaceholderText(tr("built-in prose (or a folder of .txt / a .jsonl file)"));
    m_logPath = new QLineEdit(box);
    m_logPath->setPlaceholderText(tr("no run log"));
    auto *browseLog = new QToolButton(box);
    browseLog->setText(QStringLiteral("…"));
    browseLog->setToolTip(tr("Choose the run log (JSON Lines) to write or resume"));
    m_resume = new QCheckBox(tr("Resume"), box);
    m_resume->setToolTip(tr("Continue the run in the log: its evaluations are not repeated"));
    m_racing = new QCheckBox(tr("Racing over samples"), box);
    m_racing->setChecked(defaults.search.racing);
    m_racing->setToolTip(glossaryDefinition(QStringLiteral("racing")) + tr(" Needs more than one sample."));
    m_searchAttention = new QCheckBox(tr("Search the attention factor"), box);
    m_searchAttention->setChecked(defaults.search.searchAttentionFactor);
    m_searchAttention->setToolTip(glossaryDefinition(QStringLiteral("attention_factor")) +
                                  tr(" Searched: a gene in [%1, %2] instead of longrope's default.")
                                      .arg(defaults.search.attentionFactorMin)
                                      .arg(defaults.search.attentionFactorMax));
    m_validationSamples = spinBox(-1, 10000, defaults.validationSamples, box);
    m_validationSamples->setSpecialValueText(tr("auto (2 × samples)"));
    m_validationSamples->setToolTip(glossaryDefinition(QStringLiteral("validation_samples")) +
                                    tr(" Auto: twice the search's samples, as the CLI; 0: no validation."));
    m_validationSeed = spinBox(-1, std::numeric_limits<int>::max(), int(defaults.validationSeed), box);
    m_validationSeed->setSpecialValueText(tr("auto"));
    m_validationSeed->setToolTip(glossaryDefinition(QStringLiteral("validation_seed")));
    m_fitness = new QComboBox(box);
    for (FitnessAggregate a : {kRecommendedFitness, FitnessAggregate::MeanPpl, FitnessAggregate::ExpMeanNll,
                               FitnessAggregate::MedianPpl}) {
        if (m_fitness->findData(int(a)) < 0)
            m_fitness->addItem(a == FitnessAggregate::MeanPpl      ? tr("mean PPL (paper)")
                               : a == FitnessAggregate::ExpMeanNll ? tr("exp(mean NLL)")
                                                                   : tr("median PPL"),
                               int(a));
    }
    m_fitness->setCurrentIndex(std::max(0, m_fitness->findData(int(defaults.search.fitness))));
    m_fitness->setToolTip(glossaryDefinition(QStringLiteral("fitness")));
    m_chooseBy = new QComboBox(box);
    m_chooseBy->addItem(tr("validation samples"), true);
    m_chooseBy->addItem(tr("search samples"), false);
    m_chooseBy->setCurrentIndex(std::max(0, m_chooseBy->findData(defaults.search.chooseByValidation)));
    m_chooseBy->setToolTip(glossaryDefinition(QStringLiteral("answer_by")));
    m_familySeeds = new QCheckBox(tr("Start from the families"), box);
    m_familySeeds->setChecked(defaults.search.seedFamilies);
    m_familySeeds->setToolTip(glossaryDefinition(QStringLiteral("family_seeds")));

    // Where and in what precision the model runs; a change reloads the loaded model.
    m_device = new QComboBox(box);
    m_device->addItem(tr("auto"), QStringLiteral("auto"));
    for (const QString &device : m_evaluation->availableDevices())
        m_device->addItem(device, device);
    m_device->setToolTip(glossaryDefinition(QStringLiteral("device")));
    m_dtype = new QComboBox(box);
    m_dtype->addItem(tr("auto"), QString());
    for (const QString &dtype : {QStringLiteral("float32"), QStringLiteral("bfloat16"), QStringLiteral("float16")})
        m_dtype->addItem(dtype, dtype);
    m_dtype->setToolTip(glossaryDefinition(QStringLiteral("dtype")));
    const QSettings settings;
    m_device->setCurrentIndex(std::max(0, m_device->findData(settings.value(kDeviceKey, defaults.device).toString())));
    m_dtype->setCurrentIndex(std::max(0, m_dtype->findData(settings.value(kDtypeKey, defaults.dtype).toString())));

    m_budget = new QLabel(box);
    m_budget->setWordWrap(true);
    m_budget->setToolTip(glossaryDefinition(QStringLiteral("budget")));
    return browseLog;
}

// The settings box: its fields as (label, field) pairs, laid out two per row in a wide dock and one
// per row in a narrow one.
QGroupBox *SearchPanel::buildSettingsBox()
{
    auto *settingsBox = new QGroupBox(tr("Evolutionary search"), this);
    auto *grid = new QGridLayout(settingsBox);
    QToolButton *browseLog = createSettingsFields(settingsBox);
    // The fields as (label, field) pairs, laid out two per row in a wide dock and one per row in
    // a narrow one (arrangeSettings); the wide rows (corpus, run log, options, cost) span the box.
    m_settingsGrid = grid;
    const auto pair = [this](const QString &text, QWidget *field) {
        auto *label = new QLabel(text);
        label->setBuddy(field);
        m_pairedFields.push_back({label, field});
    };
    pair(tr("Method"), m_method);
    pair(tr("Seed"), m_seed);
    pair(tr("Population"), m_population);
    pair(tr("Generations"), m_iterations);
    pair(tr("Samples"), m_samples);
    pair(tr("Length L"), m_length);
    pair(tr("Validation"), m_validationSamples);
    pair(tr("Val. seed"), m_validationSeed);
    pair(tr("Fitness"), m_fitness);
    pair(tr("Answer by"), m_chooseBy);
    pair(tr("Device"), m_device);
    pair(tr("Precision"), m_dtype);
    for (QComboBox *combo : {m_method, m_fitness, m_chooseBy, m_device, m_dtype}) {
        // Narrow docks elide a long entry instead of growing the dock.
        combo->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
        combo->setMinimumContentsLength(9);
    }
    m_corpusLabel = new QLabel(tr("Corpus"));
    m_corpusLabel->setBuddy(m_corpus);
    m_logLabel = new QLabel(tr("Run log"));
    m_logLabel->setBuddy(m_logPath);
    m_logRow = new QHBoxLayout;
    m_logRow->addWidget(m_logPath, 1);
    m_logRow->addWidget(browseLog);
    m_logRow->addWidget(m_resume);
    m_budgetLabel = new QLabel(tr("Evaluations"));
    m_budgetLabel->setBuddy(m_budget);
    m_settingsBox = settingsBox;
    arrangeSettings(true);
    m_twoColumnWidth = settingsBox->minimumSizeHint().width();
    arrangeSettings(false);
    m_oneColumnWidth = settingsBox->minimumSizeHint().width();
    connect(browseLog, &QToolButton::clicked, this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Run log"), m_logPath->text(),
                                                          tr("Run logs (*.jsonl);;All files (*)"), nullptr,
                                                          QFileDialog::DontConfirmOverwrite);
        if (!path.isEmpty())
            m_logPath->setText(QDir::toNativeSeparators(path));
    });
    return settingsBox;
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
QGroupBox *SearchPanel::buildScoresBox()
{
    // A short title: a group box is never narrower than its title, and the dock must fit 1024 px.
    auto *scoresBox = new QGroupBox(tr("Needle PPL on the same samples"), this);
    auto *scores = new QGridLayout(scoresBox);
    int column = 0;
    for (const QString &name : referenceNames()) {
        auto *title = new QLabel(QStringLiteral("<span style='color:%1'>■</span> %2")
                                     .arg(referenceColor(name).name(), referenceTitle(name).toHtmlEscaped()),
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
    m_quickScore->setChecked(true);
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

// What the fields change: the live scores, the budget, the model's device and dtype.
void SearchPanel::connectFields()
{
    connect(m_start, &QPushButton::clicked, this, &SearchPanel::startSearch);
    connect(m_pause, &QPushButton::clicked, this, &SearchPanel::togglePause);
    connect(m_stop, &QPushButton::clicked, this, &SearchPanel::stopSearch);
    connect(m_applyBest, &QPushButton::clicked, this, &SearchPanel::applyBest);
    connect(m_length, &QSpinBox::valueChanged, this, &SearchPanel::commitLength);
    connect(m_samples, &QSpinBox::valueChanged, this, &SearchPanel::scheduleScoring);
    connect(m_seed, &QSpinBox::valueChanged, this, &SearchPanel::scheduleScoring);
    connect(m_validationSamples, &QSpinBox::valueChanged, this, &SearchPanel::updateButtons);
    for (QSpinBox *field : {m_population, m_iterations, m_samples, m_length, m_validationSamples})
        connect(field, &QSpinBox::valueChanged, this, &SearchPanel::updateBudget);
    for (QComboBox *field : {m_method})
        connect(field, &QComboBox::currentIndexChanged, this, &SearchPanel::updateBudget);
    connect(m_familySeeds, &QCheckBox::toggled, this, &SearchPanel::updateBudget);
    for (QComboBox *field : {m_device, m_dtype}) {
        connect(field, &QComboBox::activated, this, [this] {
            QSettings settings;
            settings.setValue(kDeviceKey, m_device->currentData().toString());
            settings.setValue(kDtypeKey, m_dtype->currentData().toString());
            if (m_model)
                Q_EMIT modelSettingsChanged(modelLoadSettings());
        });
    }
    connect(m_corpus, &QLineEdit::editingFinished, this, &SearchPanel::scheduleScoring);
    connect(m_quickScore, &QCheckBox::toggled, this, &SearchPanel::scheduleScoring);
    connect(m_scoreFully, &QPushButton::clicked, this, &SearchPanel::scoreFully);
}

QSize SearchPanel::minimumSizeHint() const
{
    // What the dock must leave room for: the settings in one column (resizeEvent picks two
    // whenever they fit), everything else as laid out now.
    QSize hint = QWidget::minimumSizeHint();
    QLayout *panel = layout();
    int widest = m_oneColumnWidth;
    for (int i = 0; i < panel->count(); ++i) {
        if (panel->itemAt(i)->widget() != m_settingsBox)
            widest = std::max(widest, panel->itemAt(i)->minimumSize().width());
    }
    const QMargins margins = panel->contentsMargins();
    hint.setWidth(widest + margins.left() + margins.right());
    return hint;
}

void SearchPanel::arrangeSettings(bool twoColumns)
{
    m_twoColumns = twoColumns;
    QGridLayout *grid = m_settingsGrid;
    // Take every item out; widget items are deleted (their widgets stay), the log row is kept.
    while (grid->count() > 0) {
        QLayoutItem *item = grid->takeAt(0);
        if (item->layout() != m_logRow)
            delete item;
    }
    const int columns = twoColumns ? 2 : 1;
    int row = 0;
    for (size_t i = 0; i < m_pairedFields.size(); ++i) {
        const int column = int(i) % columns;
        grid->addWidget(m_pairedFields[i].first, row, column * 2);
        grid->addWidget(m_pairedFields[i].second, row, column * 2 + 1);
        if (column == columns - 1)
            ++row;
    }
    if (m_pairedFields.size() % columns != 0)
        ++row;
    const int span = 2 * columns - 1;
    grid->addWidget(m_corpusLabel, row, 0);
    grid->addWidget(m_corpus, row++, 1, 1, span);
    grid->addWidget(m_logLabel, row, 0);
    m_logRow->setParent(nullptr);
    grid->addLayout(m_logRow, row++, 1, 1, span);
    const QList<QWidget *> options{m_racing, m_searchAttention, m_familySeeds};
    for (int i = 0; i < options.size(); ++i) {
        const int column = i % columns;
        grid->addWidget(options[i], row, column * 2, 1, 2);
        if (column == columns - 1 || i == options.size() - 1)
            ++row;
    }
    grid->addWidget(m_budgetLabel, row, 0, Qt::AlignTop);
    grid->addWidget(m_budget, row, 1, 1, span);
    for (int c = 0; c < 4; ++c)
        grid->setColumnStretch(c, twoColumns ? (c % 2) : (c == 1));
}

void SearchPanel::resizeEvent(QResizeEvent *event)
{
    QWidget::resizeEvent(event);
    const QMargins margins = layout()->contentsMargins();
    const bool twoColumns = width() >= m_twoColumnWidth + margins.left() + margins.right();
    if (twoColumns != m_twoColumns)
        arrangeSettings(twoColumns);
}

ModelLoadSettings SearchPanel::modelLoadSettings() const
{
    ModelLoadSettings settings;
    settings.device = m_device->currentData().toString();
    settings.dtype = m_dtype->currentData().toString();
    return settings;
}

void SearchPanel::updateBudget()
{
    // What Start would cost, split as the run's budget counts it; the document's RoPE stands in
    // for the model's until one is loaded.
    SearchSettings settings = searchSettings();
    const RopeConfig &rope = m_model ? m_model->ropeConfig : m_document->config();
    settings.rotaryDims = rope.rotaryDims;
    settings.base = rope.base;
    settings.trainLength = rope.trainLength;
    const int samples = m_samples->value();
    const int validation = validationSettings().samples;
    try {
        const int baselines = int(searchBaselines(rope, m_length->value()).size());
        const EvaluationBudget b = evaluationBudget(settings, samples, validation, baselines);
        QString text = tr("%1 on the search samples").arg(formatNumber(b.search));
        if (validation > 0)
            text += tr(" + ≤ %1 validation").arg(formatNumber(b.validationAtMost));
        text += tr(" + %1 for the %2 baselines").arg(formatNumber(b.baselines)).arg(baselines);
        m_budget->setText(text);
    } catch (const Error &) {
        m_budget->setText(QStringLiteral("—"));
    }
}

NeedleEvalSettings SearchPanel::sampleSettings() const
{
    NeedleEvalSettings s;
    s.length = m_length->value();
    s.samples = m_samples->value();
    s.depth = 0.0;
    s.seed = uint64_t(m_seed->value());
    s.corpus = m_corpus->text().trimmed();
    return s;
}

SearchSettings SearchPanel::searchSettings() const
{
    SearchSettings s;
    s.method = SearchMethod(m_method->currentData().toInt());
    if (m_model) {
        const RopeConfig &rope = m_model->ropeConfig;
        s.rotaryDims = rope.rotaryDims;
        s.base = rope.base;
        s.trainLength = rope.trainLength;
    }
    s.targetLength = m_length->value();
    s.population = m_population->value();
    s.iterations = m_iterations->value();
    s.seed = uint64_t(m_seed->value());
    s.racing = m_racing->isChecked();
    s.searchAttentionFactor = m_searchAttention->isChecked();
    s.fitness = FitnessAggregate(m_fitness->currentData().toInt());
    s.chooseByValidation = m_chooseBy->currentData().toBool();
    s.seedFamilies = m_familySeeds->isChecked();
    return s;
}

NeedleEvalSettings SearchPanel::validationSettings() const
{
    return SearchJobSettings::validationFor(sampleSettings(), m_validationSamples->value(), m_validationSeed->value());
}

void SearchPanel::setState(State state)
{
    if (state == m_state)
        return;
    m_state = state;
    updateButtons();
    updateStatus();
    Q_EMIT stateChanged(state);
}

void SearchPanel::updateButtons()
{
    const bool running = m_state == State::Starting || m_state == State::Searching || m_state == State::Paused;
    m_start->setEnabled(!running && m_model.has_value());
    m_device->setEnabled(!running);
    m_dtype->setEnabled(!running);
    m_pause->setEnabled(m_state == State::Searching || m_state == State::Paused);
    m_pause->setText(m_state == State::Paused ? tr("Resume") : tr("Pause"));
    m_stop->setEnabled(running || m_state == State::Following);
    m_stop->setText(m_state == State::Following ? tr("Stop following") : tr("Stop"));
    m_applyBest->setEnabled(m_best && int(m_best->lambda.size()) == m_document->pairs());
    for (QWidget *field : std::initializer_list<QWidget *>{m_method, m_population, m_iterations, m_samples, m_length,
                                                           m_seed, m_corpus, m_logPath, m_resume, m_racing,
                                                           m_searchAttention, m_validationSamples, m_validationSeed,
                                                           m_fitness, m_familySeeds})
        field->setEnabled(!running);
    m_chooseBy->setEnabled(!running && m_validationSamples->value() != 0);
}

void SearchPanel::updateModelLabel()
{
    if (!m_loadingMessage.isEmpty()) {
        m_modelLabel->setText(m_loadingMessage);
        return;
    }
    if (!m_model) {
        m_modelLabel->setText(tr("<b>No model loaded.</b> Choose a Hugging Face model folder with File › Load Model… "
                                 "to score factors and search; a headless run can be followed without one."));
        return;
    }
    const ModelInfo &m = *m_model;
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
    if (!(target >= 2))
        return;
    const QSignalBlocker blocker(m_length);
    m_length->setValue(int(std::min<double>(std::llround(target), kLongestLength)));
}

void SearchPanel::commitLength()
{
    // The sample length is the document's target: editing it here is an (undoable) target edit.
    if (m_document->pairs() > 0 && m_length->value() != int(std::llround(m_document->targetLength())))
        m_document->setTargetLength(m_length->value());
    scheduleScoring();
}

QString SearchPanel::modelLabelText() const { return m_modelLabel->text(); }

void SearchPanel::setEmbeddedModel(const QString &directory, const QString &name)
{
    m_embeddedModelDir = directory;
    m_embeddedModelName = name;
    updateModelLabel();
    refreshLiveRow();
}

// A model is named by its folder, except the shipped one, which is unpacked into a cache folder
// whose name ("embedded-model-0010f5…") means nothing to a user.
QString SearchPanel::modelName(const QString &directory) const
{
    if (!m_embeddedModelDir.isEmpty()) {
        const QString a = QFileInfo(directory).canonicalFilePath(), b = QFileInfo(m_embeddedModelDir).canonicalFilePath();
        if (!a.isEmpty() && a == b)
            return m_embeddedModelName;
    }
    return QFileInfo(directory).fileName();
}

void SearchPanel::scheduleScoring()
{
    if (!m_model)
        return;
    // What is shown no longer describes the document (or the samples, or the model): it goes now,
    // not after the debounce, and the new score follows after it.
    if (m_printTiming) {
        m_editClock.restart();
        m_firstFigureShown = false;
    }
    invalidateLiveScores();
    m_scoreTimer->start();
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

QString SearchPanel::liveKey() const
{
    if (!m_model)
        return {};
    const NeedleEvalSettings samples = sampleSettings();
    return QStringLiteral("%1|%2|%3|%4|%5|%6")
        .arg(m_model->directory)
        .arg(samples.length)
        .arg(samples.samples)
        .arg(samples.seed)
        .arg(samples.depth)
        .arg(samples.corpus);
}

int SearchPanel::liveSampleCount() const
{
    if (m_scoreWanted > 0)
        return m_scoreWanted;
    return m_quickScore->isChecked() ? 1 : m_samples->value();
}

QString SearchPanel::mismatchReason() const
{
    if (!m_model)
        return {};
    const RopeConfig &model = m_model->ropeConfig;
    const RopeConfig &document = m_document->config();
    if (m_document->pairs() != model.pairs())
        return tr("The document has %1 rotary dimensions, the model %2: open the model's config to score "
                  "hand-tuned factors.")
            .arg(m_document->pairs())
            .arg(model.pairs());
    // λ only means the same on a model of the same geometry: the scores would not be the document's.
    if (document.base != model.base || document.trainLength != model.trainLength)
        return tr("The document's RoPE (b = %1, L_train = %2) is not the model's (b = %3, L_train = %4): open the "
                  "model's config to score hand-tuned factors on it.")
            .arg(formatNumber(document.base), formatNumber(document.trainLength))
            .arg(formatNumber(model.base), formatNumber(model.trainLength));
    return {};
}

void SearchPanel::invalidateLiveScores()
{
    // A new request id drops whatever answers are still on their way.
    ++m_scoreRequest;
    m_scoreWanted = 0;
    m_handTunedPpl = qQNaN();
    m_handTunedPerSample.clear();
    if (liveKey() != m_referencesKey) {
        ++m_referencesRequest;
        m_referencesKey.clear();
        m_references = {};
    }
    refreshLiveRow();
}

void SearchPanel::requestScores()
{
    requestScoresOn(m_quickScore->isChecked() ? 1 : m_samples->value());
}

void SearchPanel::scoreFully()
{
    m_scoreTimer->stop();
    requestScoresOn(m_samples->value());
}

void SearchPanel::requestScoresOn(int sampleCount)
{
    if (!m_model)
        return;
    const QString mismatch = mismatchReason();
    showNote(mismatch);
    if (!mismatch.isEmpty()) {
        refreshLiveRow();
        return;
    }
    const NeedleEvalSettings samples = sampleSettings();
    m_scoreWanted = std::clamp(sampleCount, 1, samples.samples);
    m_scoreAttention = m_document->effectiveAttentionFactor();
    m_handTunedPpl = qQNaN();
    m_handTunedPerSample.clear();
    m_scoreSeconds = 0;
    m_evaluation->score(++m_scoreRequest, m_document->lambda(), m_scoreAttention, samples, m_scoreWanted);

    const QString key = liveKey();
    if (key != m_referencesKey) {
        m_referencesKey = key;
        m_references = {};
        m_evaluation->scoreReferences(++m_referencesRequest, samples);
    }
    refreshLiveRow();
}

void SearchPanel::onScoreArrived(const ScoreResult &score)
{
    // Only the answer to the latest request, on the very model and samples the row shows, counts.
    if (score.requestId != m_scoreRequest || !m_model || score.model != m_model->directory)
        return;
    const NeedleEvalSettings live = sampleSettings();
    if (score.samples.length != live.length || score.samples.seed != live.seed || score.samples.depth != live.depth
        || score.samples.corpus != live.corpus || score.samples.samples != live.samples)
        return;
    m_handTunedPerSample = score.perSamplePpl;
    m_scoreSeconds = score.seconds;
    const bool complete = int(m_handTunedPerSample.size()) >= m_scoreWanted;
    if (complete)
        m_handTunedPpl = std::accumulate(m_handTunedPerSample.begin(), m_handTunedPerSample.begin() + m_scoreWanted, 0.0)
                         / double(m_scoreWanted);
    if (m_printTiming) {
        if (!m_firstFigureShown)
            qInfo("live score: first figure (%d/%d samples, L = %d) %lld ms after the edit (%d ms of it the debounce)",
                  score.samplesScored(), m_scoreWanted, live.length, qint64(m_editClock.elapsed()), kScoreDebounceMs);
        if (complete)
            qInfo("live score: complete figure (%d samples, L = %d) %lld ms after the edit; the worker took %.0f ms",
                  m_scoreWanted, live.length, qint64(m_editClock.elapsed()), score.seconds * 1000);
        m_firstFigureShown = true;
    }
    refreshLiveRow();
    if (complete)
        Q_EMIT handTunedScored(m_handTunedPpl);
}

void SearchPanel::onReferencesArrived(const ReferenceScores &references)
{
    if (references.requestId != m_referencesRequest || !m_model || references.model != m_model->directory)
        return;
    m_references = references;
    refreshLiveRow();
    if (references.isComplete())
        Q_EMIT referencesScored();
}

void SearchPanel::refreshLiveRow()
{
    const QString mismatch = mismatchReason();
    const bool scoreable = m_model && mismatch.isEmpty();
    const int basis = liveSampleCount();
    const NeedleEvalSettings samples = sampleSettings();
    const auto seeds = [&](int n) {
        return n > 1 ? tr("samples 1–%1 of %2 (seeds %3…%4)").arg(n).arg(samples.samples).arg(samples.seed).arg(samples.seed + uint64_t(n) - 1)
                     : tr("sample 1 of %1 (seed %2)").arg(samples.samples).arg(samples.seed);
    };
    const QString on = scoreable ? tr("%1, L = %2, %3%4")
                                       .arg(modelName(m_model->directory), formatNumber(samples.length), seeds(basis),
                                            samples.corpus.isEmpty() ? QString() : tr(", corpus %1").arg(QFileInfo(samples.corpus).fileName()))
                                 : QString();
    // One figure: the mean over the row's samples once all are in, "2/4 samples: 31.2…" before.
    const auto figure = [&](const std::vector<double> &values, QString *tip, const QString &title, double attention) {
        const int n = std::min<int>(int(values.size()), basis);
        const double mean = n > 0 ? std::accumulate(values.begin(), values.begin() + n, 0.0) / n : qQNaN();
        *tip = tr("%1: needle PPL on %2, attention factor %3").arg(title, on, formatNumber(attention));
        if (n >= basis)
            return std::pair<QString, double>{formatNumber(mean), mean};
        if (n > 0)
            return std::pair<QString, double>{tr("%1/%2 samples: %3…").arg(n).arg(basis).arg(formatNumber(mean)), qQNaN()};
        return std::pair<QString, double>{QStringLiteral("…"), qQNaN()};
    };

    m_referencePpl.clear();
    for (const QString &name : referenceNames()) {
        QLabel *label = m_scoreLabels.value(name);
        QString text = QStringLiteral("—"), tip;
        if (scoreable && name == kHandTuned) {
            if (m_scoreWanted > 0) {
                text = figure(m_handTunedPerSample, &tip, referenceTitle(name), m_scoreAttention).first;
            } else {
                text = QStringLiteral("…");
            }
        } else if (scoreable) {
            text = QStringLiteral("…");
            for (const ReferenceScore &reference : m_references.scores) {
                if (reference.name != name)
                    continue;
                const auto [shown, ppl] = figure(reference.perSamplePpl, &tip, referenceTitle(name), reference.attentionFactor);
                text = shown;
                if (std::isfinite(ppl))
                    m_referencePpl.insert(name, ppl);
            }
        }
        label->setText(text);
        label->setToolTip(tip);
    }
    if (scoreable)
        addUncertainty(basis);
    if (scoreable) {
        m_liveText = tr("%1 on %2; edited λ with attention factor %3 (the families with their own: hover a figure)")
                         .arg(basis < samples.samples ? tr("Quick score") : tr("Scores"), on, formatNumber(m_document->effectiveAttentionFactor()));
        m_liveCaption->setText(m_liveText);
    } else {
        m_liveText.clear();
    }
    m_liveCaption->setVisible(scoreable);
    m_scoreFully->setEnabled(scoreable && basis < samples.samples);
    updatePlotReferences();
}

// The edited λ's figure with its uncertainty: "33.1 ± 4.2" (half the 95 % BCa interval of the mean
// over the row's samples), and in its tooltip the interval and the paired comparison with every
// family scored on the same samples — ratio of the means with its 95 % paired bootstrap interval,
// and whether the interval excludes 1. A difference inside the noise is not a verdict.
void SearchPanel::addUncertainty(int basis)
{
    QLabel *label = m_scoreLabels.value(kHandTuned);
    if (!label || basis < 2 || int(m_handTunedPerSample.size()) < basis)
        return;
    const std::vector<double> edited(m_handTunedPerSample.begin(), m_handTunedPerSample.begin() + basis);
    const Interval own = bootstrapAggregate(edited, Aggregate::Mean);
    if (!own.valid())
        return;
    label->setText(tr("%1 ± %2").arg(formatNumber(own.estimate), formatNumber((own.upper - own.lower) / 2)));
    QStringList lines{label->toolTip(),
                      tr("95 % interval of the mean over the %1 samples: [%2, %3] (BCa bootstrap)")
                          .arg(basis).arg(formatNumber(own.lower), formatNumber(own.upper))};
    for (const ReferenceScore &reference : m_references.scores) {
        if (int(reference.perSamplePpl.size()) < basis)
            continue;
        const std::vector<double> other(reference.perSamplePpl.begin(), reference.perSamplePpl.begin() + basis);
        const PairedComparison c = pairedBootstrap(edited, other, Aggregate::Mean);
        if (!c.ratio.valid())
            continue;
        const QString verdict = c.ratio.upper < 1   ? tr("better beyond the noise")
                                : c.ratio.lower > 1 ? tr("worse beyond the noise")
                                                    : tr("within the noise");
        lines << tr("vs %1: ×%2 [%3, %4], %5").arg(referenceTitle(reference.name), formatNumber(c.ratio.estimate),
                                                  formatNumber(c.ratio.lower), formatNumber(c.ratio.upper), verdict);
    }
    lines << tr("(paired over the same needle samples; ×1 means equal)");
    label->setToolTip(lines.join(QLatin1Char('\n')));
}

void SearchPanel::onModelLoaded(const ModelInfo &info)
{
    m_model = info;
    m_loadingMessage.clear();
    m_referencesKey.clear();
    updateModelLabel();
    updateButtons();
    updateBudget();
    scheduleScoring();
}

void SearchPanel::onWorkerFailed(WorkerTask task, const QString &message)
{
    switch (task) {
    case WorkerTask::LoadModel:
        // The previous model (if any) is still loaded; the window reports the error.
        m_loadingMessage.clear();
        updateModelLabel();
        break;
    case WorkerTask::Score:
        m_scoreLabels.value(kHandTuned)->setText(QStringLiteral("—"));
        showNote(message);
        break;
    case WorkerTask::References:
        m_referencesKey.clear();  // retried with the next edit
        showNote(message);
        break;
    case WorkerTask::Search:
        setState(State::Idle);
        Q_EMIT errorOccurred(message);
        break;
    }
}

bool SearchPanel::startSearch()
{
    if (m_state == State::Starting || m_state == State::Searching || m_state == State::Paused)
        return false;
    if (!m_model) {
        Q_EMIT errorOccurred(tr("Load a model first (File › Load Model…): the search scores candidates with it."));
        return false;
    }
    const SearchSettings settings = searchSettings();
    try {
        (void)EvolutionSearch(settings);  // validates, naming the problem
    } catch (const Error &e) {
        Q_EMIT errorOccurred(e.message());
        return false;
    }
    const NeedleEvalSettings validation = validationSettings();
    if (samplesOverlap(sampleSettings(), validation)) {
        Q_EMIT errorOccurred(tr("The validation samples (seeds %1 … %2) overlap the search's (seeds %3 … %4): choose "
                                "another validation seed.")
                                 .arg(validation.seed).arg(validation.seed + validation.samples - 1)
                                 .arg(m_seed->value()).arg(m_seed->value() + m_samples->value() - 1));
        return false;
    }
    if (m_state == State::Following)
        m_follower->stopFollowing();
    setState(State::Starting);
    m_evaluation->startSearch(settings, sampleSettings(), QDir::fromNativeSeparators(m_logPath->text().trimmed()),
                              m_resume->isChecked(), validation);
    return true;
}

void SearchPanel::togglePause()
{
    if (m_state == State::Searching) {
        m_evaluation->pause();
        setState(State::Paused);
    } else if (m_state == State::Paused) {
        m_evaluation->resume();
        setState(State::Searching);
    }
}

void SearchPanel::stopSearch()
{
    if (m_state == State::Following) {
        m_follower->stopFollowing();
        setState(State::Idle);
        return;
    }
    if (m_state == State::Starting || m_state == State::Searching || m_state == State::Paused) {
        m_evaluation->stop();
        m_stop->setEnabled(false);
        m_pause->setEnabled(false);
        m_status->setText(tr("Stopping after the running evaluation…"));
    }
}

void SearchPanel::followLog(const QString &path)
{
    if (m_state == State::Starting || m_state == State::Searching || m_state == State::Paused)
        throw Error(path, tr("a search is running here: stop it before following a run log"));
    m_follower->follow(path);
    setState(State::Following);
    updateStatus();
}

bool SearchPanel::applyBest()
{
    if (!m_best) {
        Q_EMIT errorOccurred(tr("There is no search result to apply yet."));
        return false;
    }
    const Best best = *m_best;
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
    m_plan = plan;
    showRankStatistics({});  // a run under MPI fills it again
    if (!plan.resumed) {
        m_candidateCount = 0;
        m_cacheHits = 0;
        m_generationsDone = 0;
        m_validationEvaluations = 0;
        m_baselineEvaluations = 0;
        if (m_best) {
            m_best.reset();
            updateButtons();
            Q_EMIT bestChanged();
        }
    }
    m_clock.restart();
    m_recentArrivals.clear();
    m_plot->beginRun(plan);
    // The run's baselines come with it (a resumed run replays them).
    m_runBaselines = {};
    m_plot->clearReferences(QStringLiteral("run/"));
    updateRunLabel();
    updatePlotReferences();
    Q_EMIT searchStarted(plan);
    updateStatus();
}

void SearchPanel::onBaselines(const SearchBaselines &baselines)
{
    m_runBaselines = baselines;
    m_plot->setRunBaselines(baselines);
    updateRunLabel();
    updatePlotReferences();
}

bool SearchPanel::liveScoresMatchRun() const
{
    if (!hasRun() || !m_model)
        return false;
    const NeedleEvalSettings live = sampleSettings();
    const NeedleEvalSettings &run = m_plan.searchSamples;
    // The row's figures are on its first liveSampleCount() samples (a quick score: one).
    return m_plan.model == m_model->directory && live.length == run.length && liveSampleCount() == run.samples
           && live.seed == run.seed && live.depth == run.depth && live.corpus == run.corpus;
}

void SearchPanel::updatePlotReferences()
{
    // A figure is drawn beside a run only when it was computed on the run's samples: the run's own
    // baselines always are; the live scores only when the dock's samples are the run's (the same
    // model, L, samples and seed). The hand-tuned λ is then combined over its samples as the run
    // combines its candidates'; the live families (mean PPL only) give way to the run's baselines,
    // or are left out when the run combines samples otherwise.
    const bool live = !hasRun() || liveScoresMatchRun();
    const bool runBaselines = hasRun() && !m_runBaselines.scores.empty();
    const bool meanFitness = !hasRun() || m_plan.settings.fitness == FitnessAggregate::MeanPpl;
    for (const QString &name : referenceNames()) {
        double ppl = qQNaN();
        if (live && name == kHandTuned)
            ppl = hasRun() && std::isfinite(m_handTunedPpl)
                      ? aggregateScores(m_plan.settings.fitness,
                                        std::vector<double>(m_handTunedPerSample.begin(), m_handTunedPerSample.begin() + m_scoreWanted))
                      : m_handTunedPpl;
        else if (live && !runBaselines && meanFitness)
            ppl = m_referencePpl.value(name, qQNaN());
        // A quick figure says so on the plot too.
        const QString title = liveSampleCount() < m_samples->value() ? tr("%1 (quick)").arg(referenceTitle(name)) : referenceTitle(name);
        m_plot->setReference(name, title, ppl, referenceColor(name));
    }
    updateRunLabel();
}

QString SearchPanel::runText() const
{
    if (!hasRun())
        return {};
    const NeedleEvalSettings &s = m_plan.searchSamples;
    QStringList parts;
    parts << (m_plan.model.isEmpty() ? tr("model not logged") : QFileInfo(m_plan.model).fileName());
    parts << tr("L = %1").arg(formatNumber(m_plan.targetLength));
    const auto seeds = [](const NeedleEvalSettings &n) {
        return n.samples > 1 ? QStringLiteral("%1…%2").arg(n.seed).arg(n.seed + uint64_t(n.samples) - 1) : QString::number(n.seed);
    };
    const auto count = [](int n, const QString &what) {
        return n == 1 ? tr("1 %1 sample").arg(what) : tr("%1 %2 samples").arg(n).arg(what);
    };
    parts << tr("%1 (seed %2)").arg(count(s.samples, tr("search")), seeds(s));
    if (runValidates())
        parts << tr("%1 (seed %2)").arg(count(m_plan.validationSamples.samples, tr("validation")), seeds(m_plan.validationSamples));
    else
        parts << tr("no validation");
    if (!s.corpus.isEmpty())
        parts << tr("corpus %1").arg(QFileInfo(s.corpus).fileName());
    parts << tr("fitness %1").arg(fitnessAggregateName(m_plan.settings.fitness));
    return parts.join(QStringLiteral(" · "));
}

void SearchPanel::updateRunLabel()
{
    if (!hasRun()) {
        m_runLabel->setVisible(false);
        return;
    }
    QString text = tr("<b>Run:</b> %1").arg(runText().toHtmlEscaped());
    if (!m_runBaselines.scores.empty())
        text += tr("<br>Reference lines: the run's own baselines (dashed: search samples, dotted: validation samples).");
    else
        text += tr("<br>Its baselines are not logged (an older run or one still starting): no family lines are drawn.");
    if (m_model && !liveScoresMatchRun())
        text += tr("<br><span style='color:#8a5a00'>The live scores above are on other samples (%1 samples of L = %2, "
                   "seed %3%4): they are not drawn beside this run.</span>")
                    .arg(liveSampleCount())
                    .arg(formatNumber(m_length->value()))
                    .arg(m_seed->value())
                    .arg(m_plan.model == m_model->directory ? QString() : tr(", another model"));
    m_runLabel->setText(text);
    m_runLabel->setVisible(true);
}

void SearchPanel::onCandidate(const CandidateEvaluation &candidate)
{
    ++m_candidateCount;
    if (candidate.live) {
        m_recentArrivals.push_back(m_clock.elapsed());
        while (m_recentArrivals.size() > kRateWindow)
            m_recentArrivals.pop_front();
    }
    m_plot->addCandidate(candidate);
    // A candidate's fitness is only comparable once it has every sample; with validation the
    // answer comes from the generation reports.
    if (candidate.isComplete() && !runValidates())
        offerBest(candidate.lambda, candidate.ppl, candidate.dRcd, candidate.attentionFactor);
    Q_EMIT candidateAdded(candidate);
    updateStatus();
}

void SearchPanel::onGeneration(const GenerationReport &report)
{
    m_generationsDone = std::max(m_generationsDone, report.generation + 1);
    m_cacheHits = report.cacheHits;
    m_validationEvaluations = report.validationEvaluations;
    m_baselineEvaluations = report.baselineEvaluations;
    m_plot->addGeneration(report);
    if (runValidates())
        takeBest(report.bestLambda, report.bestFitness, report.bestDRcd, report.bestAttentionFactor, report.bestValidationFitness);
    else
        offerBest(report.bestLambda, report.bestFitness, report.bestDRcd, report.bestAttentionFactor);
    Q_EMIT generationAdded(report);
    updateStatus();
}

void SearchPanel::onRunFinished(const SearchOutcome &outcome)
{
    if (runValidates())
        takeBest(outcome.result.bestLambda, outcome.result.bestFitness, outcome.result.bestDRcd,
                 outcome.result.bestAttentionFactor, outcome.result.bestValidationFitness);
    else
        offerBest(outcome.result.bestLambda, outcome.result.bestFitness, outcome.result.bestDRcd,
                  outcome.result.bestAttentionFactor);
    m_cacheHits = outcome.result.cacheHits;
    m_plot->flushReplot();
    const QString validation =
        runValidates() && std::isfinite(outcome.result.bestValidationFitness)
            ? tr(" on the search samples, %1 on the validation samples (chosen by %2)")
                  .arg(formatNumber(outcome.result.bestValidationFitness),
                       outcome.result.chosenByValidation ? tr("validation") : tr("search"))
            : QString();
    // An answer on a bound of the space says the fitness wanted a point outside it (issue 25).
    const QString bounds = outcome.result.spaceBounds.isEmpty()
                               ? QString()
                               : tr(" On a bound of the search space: %1.").arg(outcome.result.spaceBounds.join(QStringLiteral("; ")));
    const QString summary = tr("Search %1: best needle PPL %2%7%3 after %4 evaluations (+%5 from the cache), %6 generations.%8")
                                .arg(stopReasonName(outcome.result.stopReason))
                                .arg(formatNumber(outcome.result.bestFitness))
                                .arg(outcome.result.bestDRcd >= 0 ? tr(", d_rcd %1").arg(outcome.result.bestDRcd) : QString())
                                .arg(outcome.result.evaluations)
                                .arg(outcome.result.cacheHits)
                                .arg(outcome.result.generations)
                                .arg(validation)
                                .arg(bounds);
    m_statusText = summary;
    m_status->setText(summary);
    Q_EMIT statusMessage(summary);
    Q_EMIT searchFinished(outcome);
}

void SearchPanel::offerBest(const std::vector<double> &lambda, double ppl, int dRcd, double attentionFactor)
{
    if (lambda.empty() || !std::isfinite(ppl) || (m_best && !(ppl < m_best->ppl)))
        return;
    m_best = Best{lambda, ppl, dRcd, attentionFactor, m_plan.targetLength};
    updateButtons();
    Q_EMIT bestChanged();
}

void SearchPanel::takeBest(const std::vector<double> &lambda, double ppl, int dRcd, double attentionFactor, double validationPpl)
{
    if (lambda.empty())
        return;
    if (m_best && m_best->lambda == lambda && m_best->attentionFactor == attentionFactor && m_best->validationPpl == validationPpl)
        return;
    m_best = Best{lambda, ppl, dRcd, attentionFactor, m_plan.targetLength, validationPpl};
    updateButtons();
    Q_EMIT bestChanged();
}

void SearchPanel::updateStatus()
{
    if (m_state == State::Idle && m_candidateCount == 0 && m_generationsDone == 0) {
        m_statusText = m_model ? tr("Ready.") : QString();
        m_status->setText(m_statusText);
        return;
    }
    if (m_state == State::Starting) {
        m_statusText = tr("Starting the search (building the needle samples)…");
        m_status->setText(m_statusText);
        Q_EMIT statusMessage(m_statusText);
        return;
    }
    // Progress and ETA first, each part unbroken, so the ETA stays on one line; the best so far
    // and the counts of validation, baselines and cache after it.
    QStringList parts;
    // Generations as the run has them: the initial one plus settings.iterations bred ones.
    const int generations = m_plan.settings.iterations + 1;
    parts << unbroken(tr("generation %1 of %2").arg(std::min(m_generationsDone, generations)).arg(generations));
    // Racing drops candidates early, so a full run's count is only an upper bound then.
    const bool racing = m_plan.settings.racing && m_plan.samples > 1;
    parts << unbroken(tr("%1 of %2%3 evaluations")
                          .arg(formatNumber(m_candidateCount), racing ? QStringLiteral("≤ ") : QString(),
                               formatNumber(m_plan.expectedEvaluations)));
    double rate = 0;
    if (m_recentArrivals.size() >= 2 && m_recentArrivals.back() > m_recentArrivals.front())
        rate = double(m_recentArrivals.size() - 1) * 1000.0 / double(m_recentArrivals.back() - m_recentArrivals.front());
    if (rate > 0) {
        parts << unbroken(tr("%1 eval/s").arg(rate, 0, 'g', 3));
        const int remaining = std::max(0, m_plan.expectedEvaluations - m_candidateCount);
        if (remaining > 0 && (m_state == State::Searching || m_state == State::Following))
            parts << unbroken(tr("ETA %1%2").arg(racing ? QStringLiteral("≤ ") : QString(), formatDuration(remaining / rate)));
    }
    if (m_state == State::Paused)
        parts << tr("paused");
    if (m_state == State::Following)
        parts.prepend(unbroken(tr("following %1").arg(QFileInfo(m_follower->path()).fileName())));
    QStringList details;
    if (m_best)
        details << unbroken(tr("best PPL %1%2%3")
                                .arg(formatNumber(m_best->ppl))
                                .arg(std::isfinite(m_best->validationPpl) ? tr(", validation %1").arg(formatNumber(m_best->validationPpl)) : QString())
                                .arg(m_best->dRcd >= 0 ? tr(" (d_rcd %1)").arg(m_best->dRcd) : QString()));
    // Counted apart from the search's evaluations above, as the run's budget counts them.
    QStringList extra;
    if (m_validationEvaluations > 0)
        extra << tr("%1 validation").arg(formatNumber(m_validationEvaluations));
    if (m_baselineEvaluations > 0)
        extra << tr("%1 baselines").arg(formatNumber(m_baselineEvaluations));
    if (m_cacheHits > 0)
        extra << tr("%1 from the cache").arg(formatNumber(m_cacheHits));
    if (!extra.isEmpty())
        details << unbroken(QStringLiteral("+ ") + extra.join(QStringLiteral(", ")));
    const QString separator = QStringLiteral(" · ");
    m_statusText = (parts + details).join(separator);
    m_status->setText(details.isEmpty() ? parts.join(separator) : parts.join(separator) + QLatin1Char('\n') + details.join(separator));
    Q_EMIT statusMessage(m_statusText);
}

} // namespace rs
