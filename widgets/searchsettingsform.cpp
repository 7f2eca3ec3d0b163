#include "searchsettingsform.h"

#include "common/error.h"
#include "glossary.h"
#include "plotstyle.h"
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
    connect(m_validationSamples, &QSpinBox::valueChanged, this, [this] { setRunning(m_running); });
    for (QSpinBox *field : {m_population, m_iterations, m_samples, m_length, m_validationSamples})
        connect(field, &QSpinBox::valueChanged, this, &SearchSettingsForm::budgetInputsChanged);
    connect(m_method, &QComboBox::currentIndexChanged, this, &SearchSettingsForm::budgetInputsChanged);
    connect(m_familySeeds, &QCheckBox::toggled, this, &SearchSettingsForm::budgetInputsChanged);
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

QString SearchSettingsForm::logPath() const { return QDir::fromNativeSeparators(m_logPath->text().trimmed()); }

bool SearchSettingsForm::resume() const { return m_resume->isChecked(); }

void SearchSettingsForm::showLength(int length)
{
    const QSignalBlocker blocker(m_length);
    m_length->setValue(std::min(length, kLongestLength));
}

void SearchSettingsForm::updateBudget(const RopeConfig &rope)
{
    SearchSettings settings = searchSettings(rope);
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

void SearchSettingsForm::setRunning(bool running)
{
    m_running = running;
    m_device->setEnabled(!running);
    m_dtype->setEnabled(!running);
    for (QWidget *field : std::initializer_list<QWidget *>{m_method, m_population, m_iterations, m_samples, m_length,
                                                           m_seed, m_corpus, m_logPath, m_resume, m_racing,
                                                           m_searchAttention, m_validationSamples, m_validationSeed,
                                                           m_fitness, m_familySeeds})
        field->setEnabled(!running);
    m_chooseBy->setEnabled(!running && m_validationSamples->value() != 0);
}

NeedleEvalSettings SearchSettingsForm::sampleSettings() const
{
    NeedleEvalSettings s;
    s.length = m_length->value();
    s.samples = m_samples->value();
    s.depth = 0.0;
    s.seed = uint64_t(m_seed->value());
    s.corpus = m_corpus->text().trimmed();
    return s;
}

SearchSettings SearchSettingsForm::searchSettings(const std::optional<RopeConfig> &rope) const
{
    SearchSettings s;
    s.method = SearchMethod(m_method->currentData().toInt());
    if (rope) {
        s.rotaryDims = rope->rotaryDims;
        s.base = rope->base;
        s.trainLength = rope->trainLength;
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

NeedleEvalSettings SearchSettingsForm::validationSettings() const
{
    return SearchJobSettings::validationFor(sampleSettings(), m_validationSamples->value(), m_validationSeed->value());
}

} // namespace rs
