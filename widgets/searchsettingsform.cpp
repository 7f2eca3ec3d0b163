#include "searchsettingsform.h"

#include "common/error.h"
#include "glossary.h"
#include "plotstyle.h"
#include "worker/searcharithmetic.h"
#include "worker/evaluationservice.h"
#include "worker/searchjobsettings.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFileDialog>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QSettings>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QToolButton>

#include <algorithm>
#include <memory>
#include <limits>

namespace rs {

namespace {

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

SearchSettingsForm::SearchSettingsForm(EvaluationService *evaluation, QWidget *parent)
    : QGroupBox(tr("Evolutionary search"), parent), m_evaluation(evaluation)
{
    m_grid = new QGridLayout(this);
    QWidget *browseLog = createFields();
    createChoices();
    pairFields(browseLog);
    // Each arrangement's minimum width, measured once: resizeEvent picks two columns when they fit.
    arrangeSettings(true);
    m_twoColumnWidth = QGroupBox::minimumSizeHint().width();
    arrangeSettings(false);
    m_oneColumnWidth = QGroupBox::minimumSizeHint().width();
    connectFields();
}

// The number and text fields, each with the search job's default (the CLI's too); returns the run
// log's browse button.
QWidget *SearchSettingsForm::createFields()
{
    // Every default is the search job's (worker/searchjobsettings.h), the CLI's too.
    const SearchJobSettings defaults;
    m_population = spinBox(2, 100000, defaults.search.population, this);
    m_population->setToolTip(glossaryDefinition(QStringLiteral("population")));
    // The search counts generations after the initial one (SearchSettings::iterations, the CLI's
    // --iterations); the prefix shows the initial one, so the field reads as the whole run.
    m_iterations = spinBox(0, 100000, defaults.search.iterations, this);
    m_iterations->setPrefix(tr("1 + "));
    m_iterations->setToolTip(glossaryDefinition(QStringLiteral("generations")));
    m_samples = spinBox(1, 10000, defaults.samples.samples, this);
    m_samples->setToolTip(glossaryDefinition(QStringLiteral("samples")));
    m_length = spinBox(2, kLongestLength, 8192, this);
    m_length->setSingleStep(1024);
    m_length->setToolTip(tr("Tokens per needle sample: the document's target length L"));
    m_seed = spinBox(0, std::numeric_limits<int>::max(), int(defaults.samples.seed), this);
    m_seed->setToolTip(tr("Seeds both the needle samples and the search"));
    m_corpus = new QLineEdit(this);
    m_corpus->setPlaceholderText(tr("built-in prose (or a folder of .txt / a .jsonl file)"));
    m_logPath = new QLineEdit(this);
    m_logPath->setPlaceholderText(tr("no run log"));
    auto *browseLog = new QToolButton(this);
    browseLog->setText(QStringLiteral("…"));
    browseLog->setToolTip(tr("Choose the run log (JSON Lines) to write or resume"));
    connect(browseLog, &QToolButton::clicked, this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Run log"), m_logPath->text(),
                                                          tr("Run logs (*.jsonl);;All files (*)"), nullptr,
                                                          QFileDialog::DontConfirmOverwrite);
        if (!path.isEmpty())
            m_logPath->setText(QDir::toNativeSeparators(path));
    });
    m_resume = new QCheckBox(tr("Resume"), this);
    m_resume->setToolTip(tr("Continue the run in the log: its evaluations are not repeated"));
    m_racing = new QCheckBox(tr("Racing over samples"), this);
    m_racing->setChecked(defaults.search.racing);
    m_racing->setToolTip(glossaryDefinition(QStringLiteral("racing")) + tr(" Needs more than one sample."));
    m_searchAttention = new QCheckBox(tr("Search the attention factor"), this);
    m_searchAttention->setChecked(defaults.search.searchAttentionFactor);
    m_searchAttention->setToolTip(glossaryDefinition(QStringLiteral("attention_factor")) +
                                  tr(" Searched: a gene in [%1, %2] instead of longrope's default.")
                                      .arg(defaults.search.attentionFactorMin)
                                      .arg(defaults.search.attentionFactorMax));
    m_validationSamples = spinBox(-1, 10000, defaults.validationSamples, this);
    m_validationSamples->setSpecialValueText(tr("auto (2 × samples)"));
    m_validationSamples->setToolTip(glossaryDefinition(QStringLiteral("validation_samples")) +
                                    tr(" Auto: twice the search's samples, as the CLI; 0: no validation."));
    m_validationSeed = spinBox(-1, std::numeric_limits<int>::max(), int(defaults.validationSeed), this);
    m_validationSeed->setSpecialValueText(tr("auto"));
    m_validationSeed->setToolTip(glossaryDefinition(QStringLiteral("validation_seed")));
    m_familySeeds = new QCheckBox(tr("Start from the families"), this);
    m_familySeeds->setChecked(defaults.search.seedFamilies);
    m_familySeeds->setToolTip(glossaryDefinition(QStringLiteral("family_seeds")));
    // The search space's extensions (issue 25: the paper's space pins its answers at its bounds),
    // off by default, LongRoPE2 only; the same as the CLI's options of the same names.
    m_decoupleAnchor = new QCheckBox(tr("Extension: decouple the anchor"), this);
    m_decoupleAnchor->setToolTip(tr("Extension of the paper's space (search --decouple-anchor): the NTK-left curve "
                                    "below d_rcd is anchored at a searched index a ≥ d_rcd, λ_i = min(λ_a^(i/a), "
                                    "λ_d_rcd), as the published LLaMA3-8B factors are, instead of at d_rcd itself."));
    m_dRcdAboveTcd = new QCheckBox(tr("Extension: d_rcd above d_tcd"), this);
    m_dRcdAboveTcd->setToolTip(tr("Extension of the paper's space (search --d-rcd-above-tcd): d_rcd may range up to "
                                  "d/2 − 1 instead of stopping at d_tcd."));
    m_keepOriginalDims = spinBox(0, 1024, 0, this);
    m_keepOriginalDims->setSpecialValueText(tr("none (extension)"));
    m_keepOriginalDims->setSuffix(tr(" first dims"));
    m_keepOriginalDims->setToolTip(tr("Extension of the paper's space (search --keep-original-dims K): the first K "
                                      "rotary dimensions keep λ = 1. K may not exceed the lowest d_rcd searched (d_10)."));
    m_budget = new QLabel(this);
    m_budget->setWordWrap(true);
    m_budget->setToolTip(glossaryDefinition(QStringLiteral("budget")));
    return browseLog;
}

// The choices: method, fitness, how the answer is chosen, device and precision.
void SearchSettingsForm::createChoices()
{
    const SearchJobSettings defaults;
    m_method = new QComboBox(this);
    m_method->addItem(tr("LongRoPE2 (d_rcd + NTK-left)"), int(SearchMethod::LongRoPE2));
    m_method->addItem(tr("LongRoPE v1 (all dimensions)"), int(SearchMethod::LongRoPEv1));
    m_method->setCurrentIndex(std::max(0, m_method->findData(int(defaults.search.method))));
    m_method->setToolTip(glossaryDefinition(QStringLiteral("method")));
    m_fitness = new QComboBox(this);
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
    m_chooseBy = new QComboBox(this);
    m_chooseBy->addItem(tr("validation samples"), true);
    m_chooseBy->addItem(tr("search samples"), false);
    m_chooseBy->setCurrentIndex(std::max(0, m_chooseBy->findData(defaults.search.chooseByValidation)));
    m_chooseBy->setToolTip(glossaryDefinition(QStringLiteral("answer_by")));

    // Where and in what precision the model runs; a change reloads the loaded model.
    m_device = new QComboBox(this);
    m_device->addItem(tr("auto"), QStringLiteral("auto"));
    for (const QString &device : m_evaluation->availableDevices())
        m_device->addItem(device, device);
    m_device->setToolTip(glossaryDefinition(QStringLiteral("device")));
    m_dtype = new QComboBox(this);
    m_dtype->addItem(tr("auto"), QString());
    for (const QString &dtype : {QStringLiteral("float32"), QStringLiteral("bfloat16"), QStringLiteral("float16")})
        m_dtype->addItem(dtype, dtype);
    m_dtype->setToolTip(glossaryDefinition(QStringLiteral("dtype")));
    const QSettings settings;
    m_device->setCurrentIndex(std::max(0, m_device->findData(settings.value(kDeviceKey, defaults.device).toString())));
    m_dtype->setCurrentIndex(std::max(0, m_dtype->findData(settings.value(kDtypeKey, defaults.dtype).toString())));
    for (QComboBox *combo : {m_method, m_fitness, m_chooseBy, m_device, m_dtype}) {
        // Narrow docks elide a long entry instead of growing the dock.
        combo->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
        combo->setMinimumContentsLength(9);
    }
}

// The fields as (label, field) pairs, laid out two per row in a wide dock and one per row in a
// narrow one (arrangeSettings); the wide rows (corpus, run log, options, cost) span the form.
void SearchSettingsForm::pairFields(QWidget *browseLog)
{
    const auto pair = [this](const QString &text, QWidget *field) {
        auto *label = new QLabel(text, this);
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
    pair(tr("Kept at λ = 1"), m_keepOriginalDims);
    m_corpusLabel = new QLabel(tr("Corpus"), this);
    m_corpusLabel->setBuddy(m_corpus);
    m_logLabel = new QLabel(tr("Run log"), this);
    m_logLabel->setBuddy(m_logPath);
    m_logRow = new QHBoxLayout;
    m_logRow->addWidget(m_logPath, 1);
    m_logRow->addWidget(browseLog);
    m_logRow->addWidget(m_resume);
    m_budgetLabel = new QLabel(tr("Evaluations"), this);
    m_budgetLabel->setBuddy(m_budget);
}

void SearchSettingsForm::connectFields()
{
    connect(m_length, &QSpinBox::valueChanged, this, &SearchSettingsForm::lengthEdited);
    connect(m_samples, &QSpinBox::valueChanged, this, &SearchSettingsForm::samplesChanged);
    connect(m_seed, &QSpinBox::valueChanged, this, &SearchSettingsForm::samplesChanged);
    connect(m_corpus, &QLineEdit::editingFinished, this, &SearchSettingsForm::samplesChanged);
    connect(m_validationSamples, &QSpinBox::valueChanged, this, &SearchSettingsForm::applyEnabled);
    for (QSpinBox *field : {m_population, m_iterations, m_samples, m_length, m_validationSamples})
        connect(field, &QSpinBox::valueChanged, this, &SearchSettingsForm::budgetInputsChanged);
    connect(m_method, &QComboBox::currentIndexChanged, this, &SearchSettingsForm::budgetInputsChanged);
    connect(m_familySeeds, &QCheckBox::toggled, this, &SearchSettingsForm::budgetInputsChanged);
    connect(m_method, &QComboBox::currentIndexChanged, this, &SearchSettingsForm::applyEnabled);  // extensions: LongRoPE2
    for (QComboBox *field : {m_device, m_dtype}) {
        connect(field, &QComboBox::activated, this, [this] {
            QSettings settings;
            settings.setValue(kDeviceKey, m_device->currentData().toString());
            settings.setValue(kDtypeKey, m_dtype->currentData().toString());
            Q_EMIT modelSettingsChosen(modelLoadSettings());
        });
    }
}

QSize SearchSettingsForm::minimumSizeHint() const
{
    // Two columns are only used when they fit (resizeEvent): one column is what the form needs.
    return {m_oneColumnWidth, QGroupBox::minimumSizeHint().height()};
}

void SearchSettingsForm::arrangeSettings(bool twoColumns)
{
    m_twoColumns = twoColumns;
    QGridLayout *grid = m_grid;
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
    const QList<QWidget *> options{m_racing, m_searchAttention, m_familySeeds, m_decoupleAnchor, m_dRcdAboveTcd};
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

    // Tab follows the eye: the pairs row by row (left then right in two columns, which is the
    // pairs' order either way), then the corpus, the run log's row and the options. The default
    // order is the fields' creation order, which is not the layout's.
    std::vector<QWidget *> order;
    for (const auto &pair : m_pairedFields)
        order.push_back(pair.second);
    order.push_back(m_corpus);
    for (int i = 0; i < m_logRow->count(); ++i)
        if (QWidget *w = m_logRow->itemAt(i)->widget())
            order.push_back(w);
    order.insert(order.end(), options.begin(), options.end());
    for (size_t i = 1; i < order.size(); ++i)
        QWidget::setTabOrder(order[i - 1], order[i]);
}

void SearchSettingsForm::resizeEvent(QResizeEvent *event)
{
    QGroupBox::resizeEvent(event);
    const bool twoColumns = width() >= m_twoColumnWidth;
    if (twoColumns != m_twoColumns)
        arrangeSettings(twoColumns);
}

ModelLoadSettings SearchSettingsForm::modelLoadSettings() const
{
    ModelLoadSettings settings;
    settings.device = m_device->currentData().toString();
    settings.dtype = m_dtype->currentData().toString();
    return settings;
}

QString SearchSettingsForm::logPath() const { return QDir::fromNativeSeparators(own().logPath.trimmed()); }

bool SearchSettingsForm::resume() const { return own().resume; }

void SearchSettingsForm::showLength(int length)
{
    if (m_own) {  // the field shows the followed run's L meanwhile
        m_own->length = std::min(length, kLongestLength);
        return;
    }
    const QSignalBlocker blocker(m_length);
    m_length->setValue(std::min(length, kLongestLength));
}

void SearchSettingsForm::updateBudget(const RopeConfig &rope, const ForwardCostFigures &cost)
{
    m_price.reset();
    // The shown values: while a run is followed, its own budget and price.
    const Values v = read();
    const SearchSettings settings = settingsOf(v, rope);
    const int samples = v.samples;
    const int validation = SearchJobSettings::validationFor(NeedleEvalSettings{v.length, samples}, v.validationSamples).samples;
    try {
        const int baselines = int(searchBaselines(rope, v.length).size());
        const EvaluationBudget b = evaluationBudget(settings, samples, validation, baselines);
        QString text = tr("%1 on the search samples").arg(formatNumber(b.search));
        if (validation > 0)
            text += tr(" + ≤ %1 validation").arg(formatNumber(b.validationAtMost));
        text += tr(" + %1 for the %2 baselines").arg(formatNumber(b.baselines)).arg(baselines);
        if (cost.isValid()) {
            // Each evaluation is one forward over L tokens (at most: racing and the cache save some).
            m_price = estimateForwards(cost, double(v.length), double(b.total()));
            text += QLatin1Char('\n') + tr("Price on %1: %2").arg(cost.device, m_price->summary());
        }
        m_budget->setText(text);
    } catch (const Error &) {
        m_budget->setText(QStringLiteral("—"));
    }
}

void SearchSettingsForm::setRunning(bool running)
{
    m_running = running;
    applyEnabled();
}

void SearchSettingsForm::applyEnabled()
{
    const bool fixed = m_running || m_own;
    m_device->setEnabled(!m_running);
    m_dtype->setEnabled(!m_running);
    for (QWidget *field : std::initializer_list<QWidget *>{m_method, m_population, m_iterations, m_samples, m_length,
                                                           m_seed, m_corpus, m_logPath, m_resume, m_racing,
                                                           m_searchAttention, m_validationSamples, m_validationSeed,
                                                           m_fitness, m_familySeeds})
        field->setEnabled(!fixed);
    m_chooseBy->setEnabled(!fixed && m_validationSamples->value() != 0);
    const bool longrope2 = m_method->currentData().toInt() == int(SearchMethod::LongRoPE2);
    for (QWidget *extension : std::initializer_list<QWidget *>{m_decoupleAnchor, m_dRcdAboveTcd, m_keepOriginalDims})
        extension->setEnabled(!fixed && longrope2);
}

SearchSettingsForm::Values SearchSettingsForm::read() const
{
    Values v;
    v.method = m_method->currentData().toInt();
    v.population = m_population->value();
    v.iterations = m_iterations->value();
    v.samples = m_samples->value();
    v.length = m_length->value();
    v.seed = m_seed->value();
    v.validationSamples = m_validationSamples->value();
    v.validationSeed = m_validationSeed->value();
    v.corpus = m_corpus->text();
    v.logPath = m_logPath->text();
    v.resume = m_resume->isChecked();
    v.racing = m_racing->isChecked();
    v.searchAttention = m_searchAttention->isChecked();
    v.familySeeds = m_familySeeds->isChecked();
    v.decoupleAnchor = m_decoupleAnchor->isChecked();
    v.dRcdAboveTcd = m_dRcdAboveTcd->isChecked();
    v.keepOriginalDims = m_keepOriginalDims->value();
    v.fitness = m_fitness->currentData().toInt();
    v.chooseByValidation = m_chooseBy->currentData().toBool();
    return v;
}

// Shows `v` without announcing an edit: nothing the fields drive (the document's L, the live
// scores) follows.
void SearchSettingsForm::write(const Values &v)
{
    const QList<QWidget *> fields{m_method, m_population, m_iterations, m_samples, m_length, m_seed,
                                  m_validationSamples, m_validationSeed, m_corpus, m_logPath, m_resume,
                                  m_racing, m_searchAttention, m_familySeeds, m_fitness, m_chooseBy,
                                  m_decoupleAnchor, m_dRcdAboveTcd, m_keepOriginalDims};
    std::vector<std::unique_ptr<QSignalBlocker>> blockers;
    for (QWidget *field : fields)
        blockers.push_back(std::make_unique<QSignalBlocker>(field));
    m_method->setCurrentIndex(std::max(0, m_method->findData(v.method)));
    m_population->setValue(v.population);
    m_iterations->setValue(v.iterations);
    m_samples->setValue(v.samples);
    m_length->setValue(std::min(v.length, kLongestLength));
    m_seed->setValue(v.seed);
    m_validationSamples->setValue(v.validationSamples);
    m_validationSeed->setValue(v.validationSeed);
    m_corpus->setText(v.corpus);
    m_logPath->setText(v.logPath);
    m_resume->setChecked(v.resume);
    m_racing->setChecked(v.racing);
    m_searchAttention->setChecked(v.searchAttention);
    m_familySeeds->setChecked(v.familySeeds);
    m_decoupleAnchor->setChecked(v.decoupleAnchor);
    m_dRcdAboveTcd->setChecked(v.dRcdAboveTcd);
    m_keepOriginalDims->setValue(v.keepOriginalDims);
    m_fitness->setCurrentIndex(std::max(0, m_fitness->findData(v.fitness)));
    m_chooseBy->setCurrentIndex(std::max(0, m_chooseBy->findData(v.chooseByValidation)));
}

void SearchSettingsForm::showRun(const SearchPlan &plan, const QString &logPath)
{
    if (!m_own)
        m_own = read();
    const SearchSettings &s = plan.settings;
    const auto clampInt = [](uint64_t x) { return int(std::min<uint64_t>(x, uint64_t(std::numeric_limits<int>::max()))); };
    Values v = *m_own;
    v.method = int(s.method);
    v.population = s.population;
    v.iterations = s.iterations;
    v.samples = std::max(1, plan.searchSamples.samples);
    v.length = plan.targetLength;
    v.seed = clampInt(plan.searchSamples.seed);
    v.validationSamples = plan.validationSamples.samples;
    v.validationSeed = plan.validationSamples.samples > 0 ? clampInt(plan.validationSamples.seed) : -1;
    v.corpus = QDir::toNativeSeparators(plan.searchSamples.corpus);
    v.logPath = QDir::toNativeSeparators(logPath);
    v.resume = false;
    v.racing = s.racing;
    v.searchAttention = s.searchAttentionFactor;
    v.familySeeds = s.seedFamilies;
    v.decoupleAnchor = s.decoupleAnchor;
    v.dRcdAboveTcd = s.dRcdAboveTcd;
    v.keepOriginalDims = s.keepOriginalDims;
    v.fitness = int(s.fitness);
    v.chooseByValidation = s.chooseByValidation;
    write(v);
    applyEnabled();
    Q_EMIT budgetInputsChanged();  // the budget and price shown are the run's
}

void SearchSettingsForm::showOwn()
{
    if (!m_own)
        return;
    const Values own = *m_own;
    m_own.reset();
    write(own);
    applyEnabled();
    Q_EMIT budgetInputsChanged();
}

NeedleEvalSettings SearchSettingsForm::sampleSettings() const
{
    const Values v = own();
    NeedleEvalSettings s;
    s.length = v.length;
    s.samples = v.samples;
    s.depth = 0.0;
    s.seed = uint64_t(v.seed);
    s.corpus = v.corpus.trimmed();
    return s;
}

SearchSettings SearchSettingsForm::searchSettings(const std::optional<RopeConfig> &rope) const
{
    return settingsOf(own(), rope);
}

SearchSettings SearchSettingsForm::settingsOf(const Values &v, const std::optional<RopeConfig> &rope)
{
    SearchSettings s;
    s.method = SearchMethod(v.method);
    if (rope) {
        s.rotaryDims = rope->rotaryDims;
        s.base = rope->base;
        s.trainLength = rope->trainLength;
    }
    s.targetLength = v.length;
    s.population = v.population;
    s.iterations = v.iterations;
    s.seed = uint64_t(v.seed);
    s.racing = v.racing;
    s.searchAttentionFactor = v.searchAttention;
    s.fitness = FitnessAggregate(v.fitness);
    s.chooseByValidation = v.chooseByValidation;
    s.seedFamilies = v.familySeeds;
    if (s.method == SearchMethod::LongRoPE2) {  // the extensions need it (the CLI refuses them otherwise)
        s.decoupleAnchor = v.decoupleAnchor;
        s.dRcdAboveTcd = v.dRcdAboveTcd;
        s.keepOriginalDims = v.keepOriginalDims;
    }
    return s;
}

NeedleEvalSettings SearchSettingsForm::validationSettings() const
{
    const Values v = own();
    return SearchJobSettings::validationFor(sampleSettings(), v.validationSamples, v.validationSeed);
}

} // namespace rs
