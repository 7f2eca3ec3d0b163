#include "controlpanel.h"

#include "factordocument.h"
#include "plotstyle.h"
#include "rope/tokencount.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPainter>
#include <QPushButton>
#include <QRegularExpression>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QStyle>
#include <QToolButton>
#include <QValidator>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <limits>

namespace rs {

namespace {

constexpr int kLongestTargetLength = 1 << 24;
constexpr int kMostViolationLines = 8;
// An attention factor scales cos and sin; beyond these bounds no RoPE recipe goes.
constexpr double kSmallestAttentionFactor = 0.01;
constexpr double kLargestAttentionFactor = 10.0;

// Lets through only what can become a token count ("128", "128k", "1.5M", "131,072"); whether it
// is a usable target is decided on commit, where a refusal can say why.
class TokenCountValidator : public QValidator {
public:
    using QValidator::QValidator;
    State validate(QString &input, int &) const override
    {
        if (input.trimmed().isEmpty())
            return Intermediate;
        static const QRegularExpression allowed(QStringLiteral("^[\\d,_.\\skKmM]*$"));
        if (!allowed.match(input).hasMatch())
            return Invalid;
        return hasTokenCountForm(input) ? Acceptable : Intermediate;
    }
};

QString kTargetToolTip()
{
    return QObject::tr("Target context length L in tokens: type 131072, 128k or 1M "
                       "(k = 1024 and M = 1048576, as \"128k context\" means 131072 in transformers and vLLM)");
}

QLabel *valueLabel(QWidget *parent)
{
    auto *label = new QLabel(parent);
    label->setTextInteractionFlags(Qt::TextSelectableByMouse);
    return label;
}

QIcon colorSwatch(const QColor &color)
{
    QPixmap pixmap(14, 14);
    pixmap.fill(Qt::transparent);
    QPainter painter(&pixmap);
    painter.setRenderHint(QPainter::Antialiasing);
    painter.setPen(color.darker(130));
    painter.setBrush(color);
    painter.drawRoundedRect(QRectF(1.5, 1.5, 11, 11), 3, 3);
    return QIcon(pixmap);
}

// Families in the order a reader meets them: the classic ones, then the config's, then LongRoPE2.
QStringList orderedFamilyNames(const std::map<QString, FactorSet> &families)
{
    static const QStringList preferred{QStringLiteral("pi"), QStringLiteral("ntk"), QStringLiteral("yarn"),
                                       QStringLiteral("llama3"), QStringLiteral("dynamic"), QStringLiteral("config"),
                                       FactorDocument::kLongrope2Family};
    QStringList names;
    for (const QString &name : preferred) {
        if (families.count(name))
            names << name;
    }
    for (const auto &[name, family] : families) {
        if (!names.contains(name))
            names << name;
    }
    return names;
}

// One line per problem, except that a run of dimensions below s (the usual case after raising
// the target length) is summarised as a range instead of one line per dimension.
QStringList describeViolations(const std::vector<ConstraintViolation> &violations, double scale)
{
    QStringList lines;
    for (std::size_t k = 0; k < violations.size();) {
        const ConstraintViolation &first = violations[k];
        std::size_t end = k;
        if (first.kind == ConstraintViolation::Kind::BelowScale) {
            while (end + 1 < violations.size() && violations[end + 1].kind == first.kind &&
                   violations[end + 1].index == violations[end].index + 1)
                ++end;
        }
        if (end > k)
            lines << QObject::tr("λ_i < s = %1 for i = %2 … %3 (%4 dimensions)")
                         .arg(formatNumber(scale)).arg(first.index).arg(violations[end].index).arg(end - k + 1);
        else
            lines << first.message;
        k = end + 1;
    }
    return lines;
}

} // namespace

ControlPanel::ControlPanel(FactorDocument *document, QWidget *parent)
    : QWidget(parent), m_document(document), m_model(valueLabel(this)), m_source(valueLabel(this)),
      m_rotaryDims(valueLabel(this)), m_base(valueLabel(this)), m_trainLength(valueLabel(this)),
      m_scale(valueLabel(this)), m_dTcd(valueLabel(this)), m_d10(valueLabel(this)), m_ntkLeft(valueLabel(this)),
      m_attention(new QDoubleSpinBox(this)), m_attentionDefault(new QToolButton(this)), m_dRcd(new QSpinBox(this)),
      m_targetLength(new QComboBox(this)), m_targetNote(new QLabel(this)), m_familyGrid(new QGridLayout),
      m_constraintSummary(new QLabel(this)), m_violations(new QLabel(this)), m_loadedModel(valueLabel(this))
{
    m_source->setObjectName(QStringLiteral("sourceLabel"));
    m_source->setWordWrap(true);
    m_dRcd->setKeyboardTracking(false);
    m_dRcd->setToolTip(tr("Real critical dimension: λ_i ≥ s is required for every i ≥ d_rcd"));
    m_targetLength->setEditable(true);
    m_targetLength->setInsertPolicy(QComboBox::NoInsert);
    m_targetLength->lineEdit()->setValidator(new TokenCountValidator(m_targetLength));
    m_targetLength->setToolTip(kTargetToolTip());
    m_targetNote->setObjectName(QStringLiteral("targetLengthNote"));
    m_targetNote->setWordWrap(true);
    m_targetNote->setVisible(false);

    m_attention->setObjectName(QStringLiteral("attentionFactorSpinBox"));
    m_attention->setDecimals(FactorDocument::kAttentionDecimals);
    m_attention->setRange(kSmallestAttentionFactor, kLargestAttentionFactor);
    m_attention->setSingleStep(0.01);
    m_attention->setKeyboardTracking(false);
    m_attention->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
    m_attentionDefault->setObjectName(QStringLiteral("attentionDefaultButton"));
    m_attentionDefault->setText(tr("Default"));
    m_attentionDefault->setToolTip(tr("Back to longrope's default attention factor for the current s"));

    auto *configBox = new QGroupBox(tr("Model"), this);
    auto *configForm = new QFormLayout(configBox);
    configForm->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    configForm->addRow(tr("Model type"), m_model);
    configForm->addRow(tr("Source"), m_source);
    m_loadedModel->setObjectName(QStringLiteral("loadedModelLabel"));
    m_loadedModel->setWordWrap(true);
    m_loadedModel->setText(tr("none loaded"));
    m_loadedModel->setToolTip(tr("The model live scores and the search run on"));
    configForm->addRow(tr("Live scores"), m_loadedModel);
    configForm->addRow(tr("Rotary dims d"), m_rotaryDims);
    configForm->addRow(tr("Base b"), m_base);
    configForm->addRow(tr("L_train"), m_trainLength);
    configForm->addRow(tr("d_tcd"), m_dTcd);
    configForm->addRow(tr("d_10"), m_d10);
    m_ntkLeft->setObjectName(QStringLiteral("ntkLeftLabel"));
    m_ntkLeft->setToolTip(tr("Where the config's longrope long factors follow λ_i = λ_c^(i/c) (LongRoPE2's NTK-left part)"));
    configForm->addRow(tr("NTK-left"), m_ntkLeft);

    auto *extensionBox = new QGroupBox(tr("Extension"), this);
    auto *extensionForm = new QFormLayout(extensionBox);
    extensionForm->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    extensionForm->addRow(tr("Target L"), m_targetLength);
    extensionForm->addRow(m_targetNote);
    extensionForm->addRow(tr("Scale s"), m_scale);
    extensionForm->addRow(tr("d_rcd"), m_dRcd);
    auto *attentionRow = new QHBoxLayout;
    attentionRow->setContentsMargins(0, 0, 0, 0);
    attentionRow->addWidget(m_attention, 1);
    attentionRow->addWidget(m_attentionDefault);
    extensionForm->addRow(tr("Attention factor"), attentionRow);

    auto *familyBox = new QGroupBox(tr("Overlays"), this);
    familyBox->setLayout(m_familyGrid);
    m_familyGrid->setColumnStretch(0, 1);

    auto *constraintBox = new QGroupBox(tr("Constraints"), this);
    auto *constraintLayout = new QVBoxLayout(constraintBox);
    m_constraintSummary->setWordWrap(true);
    m_violations->setWordWrap(true);
    m_violations->setTextFormat(Qt::RichText);
    constraintLayout->addWidget(m_constraintSummary);
    constraintLayout->addWidget(m_violations);

    auto *layout = new QVBoxLayout(this);
    layout->addWidget(configBox);
    layout->addWidget(extensionBox);
    layout->addWidget(familyBox);
    layout->addWidget(constraintBox);
    layout->addStretch(1);

    connect(m_dRcd, &QSpinBox::valueChanged, m_document, &FactorDocument::setDRcd);
    connect(m_attention, &QDoubleSpinBox::valueChanged, m_document,
            [this](double value) { m_document->setAttentionFactor(value); });
    connect(m_attentionDefault, &QToolButton::clicked, m_document, &FactorDocument::resetAttentionFactor);
    connect(m_targetLength, &QComboBox::activated, this, &ControlPanel::commitTargetLength);
    connect(m_targetLength->lineEdit(), &QLineEdit::editingFinished, this, &ControlPanel::commitTargetLength);

    connect(m_document, &FactorDocument::configChanged, this, [this] {
        m_refusedTarget.clear();
        m_targetWarning = priceWarning(m_document->targetLength());
        refreshSummary();
        refreshTargetChoices();
        rebuildFamilyRows();
        refreshViolations();
    });
    connect(m_document, &FactorDocument::targetLengthChanged, this, [this] {
        m_refusedTarget.clear();
        m_targetWarning = priceWarning(m_document->targetLength());
        refreshSummary();
        refreshTargetChoices();
        refreshViolations();
    });
    connect(m_document, &FactorDocument::dRcdChanged, this, [this](int dRcd) {
        const QSignalBlocker blocker(m_dRcd);
        m_dRcd->setValue(dRcd);
        refreshViolations();
    });
    connect(m_document, &FactorDocument::lambdaChanged, this, &ControlPanel::refreshViolations);
    // The default moves with s, so the shown value follows the effective factor, not only edits.
    connect(m_document, &FactorDocument::effectiveAttentionFactorChanged, this, &ControlPanel::refreshAttentionFactor);
    connect(m_document, &FactorDocument::attentionFactorChanged, this, &ControlPanel::refreshAttentionFactor);
    connect(m_document, &FactorDocument::familiesChanged, this, [this] {
        QStringList names = orderedFamilyNames(m_document->families());
        names.sort();
        if (names != m_familyChecks.keys())
            rebuildFamilyRows();
    });
    connect(m_document, &FactorDocument::visibleFamiliesChanged, this, &ControlPanel::refreshFamilyChecks);

    refreshSummary();
    refreshTargetChoices();
    rebuildFamilyRows();
    refreshViolations();
}

void ControlPanel::refreshSummary()
{
    const RopeConfig &config = m_document->config();
    const RopeGeometry &g = m_document->geometry();
    m_model->setText(config.modelType.isEmpty() ? tr("(unknown)") : config.modelType);
    m_source->setText(config.source);
    m_source->setToolTip(config.source);
    m_rotaryDims->setText(tr("%1  (%2 pairs)").arg(config.rotaryDims).arg(config.pairs()));
    m_base->setText(formatNumber(config.base));
    m_trainLength->setText(formatNumber(g.trainLength));
    m_scale->setText(formatNumber(g.scale));
    m_dTcd->setText(QString::number(g.dTcd));
    m_d10->setText(QString::number(g.d10));
    const NtkLeftFit fit = config.scaling.longFactor.empty() ? NtkLeftFit{} : detectNtkLeft(config.scaling.longFactor);
    if (fit.found)
        m_ntkLeft->setText(tr("up to c = %1 (λ_c = %2)").arg(fit.boundary).arg(formatNumber(fit.lambdaAtBoundary)));
    else
        m_ntkLeft->setText(config.scaling.longFactor.empty() ? tr("— (no longrope factors)") : tr("not NTK-shaped"));
    refreshAttentionFactor();
    refreshTargetNote();

    const QSignalBlocker blocker(m_dRcd);
    m_dRcd->setRange(0, config.pairs());
    m_dRcd->setValue(m_document->dRcd());
}

void ControlPanel::refreshAttentionFactor()
{
    const int decimals = FactorDocument::kAttentionDecimals;
    const QString defaultText = QString::number(m_document->defaultAttentionFactor(), 'f', decimals);
    const bool explicitFactor = m_document->attentionFactor().has_value();
    const QSignalBlocker blocker(m_attention);
    m_attention->setValue(m_document->effectiveAttentionFactor());
    // The greyed Default button is what tells a default from a typed value that happens to equal
    // it (a " (default)" suffix was cut to "(def" in the side panel at 1024 px).
    m_attentionDefault->setEnabled(explicitFactor);
    m_attention->setToolTip(
        tr("Attention factor: cos and sin are multiplied by it, sharpening attention over the longer context. "
           "Live scores, the search's baselines and exports use the value shown. Default: longrope's "
           "sqrt(1 + ln s / ln L_train) = %1 at s = %2.%3")
            .arg(defaultText, formatNumber(m_document->scale()),
                 explicitFactor ? tr(" Set here: %1.").arg(QString::number(*m_document->attentionFactor(), 'f', decimals))
                                : tr(" In use: the default.")));
}

void ControlPanel::refreshTargetNote()
{
    QString note = m_refusedTarget;
    const RopeGeometry &g = m_document->geometry();
    if (note.isEmpty() && g.targetLength < g.trainLength)
        note = tr("L = %1 is below L_train = %2: s = %3 < 1 extends nothing, and exports need L ≥ L_train.")
                   .arg(formatNumber(g.targetLength), formatNumber(g.trainLength), formatNumber(g.scale));
    if (note.isEmpty())
        note = m_targetWarning;
    m_targetNote->setText(note.isEmpty() ? QString() : QStringLiteral("<font color='%1'>⚠ %2</font>")
                                                           .arg(plotcolors::violation.name(), note.toHtmlEscaped()));
    m_targetNote->setVisible(!note.isEmpty());
    // A refused value is marked at the field itself, the reason in its tooltip.
    const bool refused = !m_refusedTarget.isEmpty();
    m_targetLength->setProperty("invalid", refused);
    m_targetLength->setStyleSheet(refused ? QStringLiteral("QComboBox { border: 2px solid %1; }").arg(plotcolors::violation.name())
                                          : QString());
    m_targetLength->setToolTip(refused ? m_refusedTarget : kTargetToolTip());
}

QString ControlPanel::priceRefusal(double length) const
{
    if (!m_cost.isValid())
        return {};
    const CostEstimate e = estimateForwards(m_cost, length, 1);
    if (e.fits)
        return {};
    // The longest target whose forward fits, by halving from the refused one.
    double fits = length;
    while (fits > 1 && !estimateForwards(m_cost, fits, 1).fits)
        fits = std::floor(fits / 2);
    return tr("Target L = %1: a live score's forward on %2 needs %3; choose a smaller Target L (%4 fits).")
        .arg(formatNumber(length), m_loadedModel->text(), e.summary(), formatNumber(fits));
}

QString ControlPanel::priceWarning(double length) const
{
    if (!m_cost.isValid())
        return {};
    const CostEstimate e = estimateForwards(m_cost, length, 1);
    if (e.secondsPerForward <= kAskSeconds && !(e.availableBytes > 0 && e.peakBytes > e.availableBytes / 2))
        return {};
    return tr("Live scores at L = %1 are costly: %2 per sample (and the families' references as much again each).")
        .arg(formatNumber(length), e.summary());
}

bool ControlPanel::confirmPrice(const QString &warning)
{
    if (warning.isEmpty() || !m_promptsEnabled)
        return true;
    return QMessageBox::question(this, tr("Set Target L?"), warning + QLatin1Char('\n') + tr("Set Target L anyway?"),
                                 QMessageBox::Yes | QMessageBox::No, QMessageBox::No) == QMessageBox::Yes;
}

void ControlPanel::setLoadedModel(const QString &name, const ForwardCostFigures &cost)
{
    m_cost = cost;
    m_loadedModel->setText(cost.device.isEmpty() ? name : tr("%1 (%2)").arg(name, cost.device));
    m_loadedModel->setToolTip(tr("Live scores and the search run on %1").arg(name));
    m_targetWarning = priceWarning(m_document->targetLength());
    refreshTargetNote();
}

void ControlPanel::setMeasuredThroughput(double flopsPerSecond, const QString &device, const QString &source)
{
    m_cost.setMeasured(device, flopsPerSecond, source);
}

void ControlPanel::clearLoadedModel()
{
    m_cost = {};
    m_loadedModel->setText(tr("none loaded"));
    m_targetWarning.clear();
    refreshTargetNote();
}

void ControlPanel::refreshTargetChoices()
{
    const QSignalBlocker blocker(m_targetLength);
    m_targetLength->clear();
    const double train = m_document->geometry().trainLength;
    const qint64 target = qint64(std::llround(m_document->targetLength()));
    // Powers of two from L_train's neighbourhood up to 16M tokens, plus the current value.
    QList<qint64> lengths;
    for (qint64 length = 1024; length <= kLongestTargetLength; length *= 2) {
        if (length >= train / 2)
            lengths << length;
    }
    if (!lengths.contains(target))
        lengths << target;
    std::sort(lengths.begin(), lengths.end());
    for (qint64 length : lengths)
        m_targetLength->addItem(QString::number(length), length);
    m_targetLength->setCurrentIndex(m_targetLength->findData(target));
}

void ControlPanel::commitTargetLength()
{
    const QString text = m_targetLength->currentText().trimmed();
    const std::optional<qint64> length = parseTokenCount(text);
    const QString shown = QString::number(qint64(std::llround(m_document->targetLength())));
    if (length && *length <= kLongestTargetLength) {
        // The combo echoing the current value after a refusal (a second signal of the same Return)
        // leaves the refusal on screen; anything the user typed replaces it.
        if (text != shown)
            m_refusedTarget.clear();
        if (double(*length) == m_document->targetLength())
            refreshTargetChoices();  // "128k" typed over 131072: show the number it means
        // The price of live scores at this length on the loaded model, before any forward starts.
        const QString refusal = priceRefusal(double(*length));
        if (!refusal.isEmpty()) {
            m_refusedTarget = refusal;
            refreshTargetChoices();
            refreshTargetNote();
            return;
        }
        const QString warning = priceWarning(double(*length));
        if (double(*length) != m_document->targetLength() && !confirmPrice(warning)) {
            refreshTargetChoices();
            return;
        }
        m_targetWarning = warning;
        m_document->setTargetLength(double(*length));
        refreshTargetNote();
        return;
    }
    if (text.isEmpty())
        return;
    m_refusedTarget = length ? tr("“%1” is %2 tokens, more than this tool handles (at most %3 = 16M).")
                                   .arg(text, formatNumber(double(*length)), formatNumber(kLongestTargetLength))
                             : tr("“%1” is not a positive whole number of tokens (write e.g. 131072, 128k or 1M).").arg(text);
    refreshTargetChoices();
    refreshTargetNote();
}

void ControlPanel::rebuildFamilyRows()
{
    // deleteLater: this can run inside the clicked() of the very Apply button being replaced.
    while (QLayoutItem *item = m_familyGrid->takeAt(0)) {
        item->widget()->hide();
        item->widget()->deleteLater();
        delete item;
    }
    m_familyChecks.clear();
    m_applyButtons.clear();
    int row = 0;
    const auto &families = m_document->families();
    for (const QString &name : orderedFamilyNames(families)) {
        const FactorSet &family = families.at(name);
        auto *check = new QCheckBox(familyTitle(name), this);
        check->setIcon(colorSwatch(plotcolors::family(name)));
        check->setToolTip(tr("Show the %1 factors in the factors plot").arg(familyTitle(name)));
        auto *apply = new QPushButton(tr("Apply"), this);
        // As narrow as its text, so the side panel fits a 1024-pixel window beside the plots.
        apply->setMinimumWidth(apply->fontMetrics().horizontalAdvance(apply->text()) +
                               apply->style()->pixelMetric(QStyle::PM_ButtonMargin, nullptr, apply) +
                               2 * apply->style()->pixelMetric(QStyle::PM_DefaultFrameWidth, nullptr, apply) + 4);
        apply->setToolTip(tr("Replace λ by the %1 factors (attention factor %2)")
                              .arg(familyTitle(name)).arg(family.attentionFactor, 0, 'f', 4));
        const QString familyName = name;
        connect(check, &QCheckBox::toggled, m_document,
                [this, familyName](bool shown) { m_document->setFamilyVisible(familyName, shown); });
        connect(apply, &QPushButton::clicked, m_document, [this, familyName] { m_document->applyFamily(familyName); });
        m_familyGrid->addWidget(check, row, 0);
        m_familyGrid->addWidget(apply, row, 1);
        m_familyChecks.insert(name, check);
        m_applyButtons.insert(name, apply);
        ++row;
    }
    refreshFamilyChecks();
    refreshTabOrder();
}

void ControlPanel::refreshTabOrder()
{
    // Tab follows the panel as it reads: Target L, d_rcd, the attention factor and its Default,
    // then each overlay's Show and Apply. The overlay rows are made again for every config, after
    // the other docks' controls, so the order is set here rather than left to creation order.
    QList<QWidget *> chain{m_targetLength, m_dRcd, m_attention, m_attentionDefault};
    for (int row = 0; row < m_familyGrid->rowCount(); ++row)
        for (int column = 0; column < 2; ++column)
            if (QLayoutItem *item = m_familyGrid->itemAtPosition(row, column); item && item->widget())
                chain << item->widget();
    for (qsizetype i = 1; i < chain.size(); ++i)
        setTabOrder(chain[i - 1], chain[i]);
}

void ControlPanel::refreshFamilyChecks()
{
    const QStringList visible = m_document->visibleFamilies();
    for (auto it = m_familyChecks.begin(); it != m_familyChecks.end(); ++it) {
        const QSignalBlocker blocker(it.value());
        it.value()->setChecked(visible.contains(it.key()));
    }
}

void ControlPanel::refreshViolations()
{
    const std::vector<ConstraintViolation> violations = m_document->constraintViolations();
    QStringList lines = describeViolations(violations, m_document->scale());
    if (lines.size() > kMostViolationLines) {
        const qsizetype hidden = lines.size() - (kMostViolationLines - 1);
        lines.resize(kMostViolationLines - 1);
        lines << tr("… and %1 more").arg(hidden);
    }
    for (QString &line : lines)
        line = QStringLiteral("• ") + line.toHtmlEscaped();
    m_violations->setText(QStringLiteral("<font color='%1'>%2</font>")
                              .arg(plotcolors::violation.name(), lines.join(QStringLiteral("<br>"))));
    m_violations->setVisible(!violations.empty());
    if (violations.empty())
        m_constraintSummary->setText(tr("<font color='#2e9e5b'>✔ λ is monotone and λ_i ≥ s for every i ≥ d_rcd</font>"));
    else
        m_constraintSummary->setText(tr("<font color='#c0392b'>%n violation(s)</font>", nullptr, int(violations.size())));
}

} // namespace rs
