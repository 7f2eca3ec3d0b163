#include "controlpanel.h"

#include "factordocument.h"
#include "plotstyle.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QIntValidator>
#include <QLabel>
#include <QLineEdit>
#include <QPainter>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QStyle>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>

namespace rs {

namespace {

constexpr int kLongestTargetLength = 1 << 24;
constexpr int kMostViolationLines = 8;

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
      m_scale(valueLabel(this)), m_dTcd(valueLabel(this)), m_d10(valueLabel(this)), m_ntkLeft(valueLabel(this)), m_attention(valueLabel(this)),
      m_dRcd(new QSpinBox(this)), m_targetLength(new QComboBox(this)), m_familyGrid(new QGridLayout),
      m_constraintSummary(new QLabel(this)), m_violations(new QLabel(this))
{
    m_source->setWordWrap(true);
    m_dRcd->setKeyboardTracking(false);
    m_dRcd->setToolTip(tr("Real critical dimension: λ_i ≥ s is required for every i ≥ d_rcd"));
    m_targetLength->setEditable(true);
    m_targetLength->setInsertPolicy(QComboBox::NoInsert);
    m_targetLength->lineEdit()->setValidator(new QIntValidator(1, kLongestTargetLength, m_targetLength));
    m_targetLength->setToolTip(tr("Target context length L (tokens)"));

    auto *configBox = new QGroupBox(tr("Model"), this);
    auto *configForm = new QFormLayout(configBox);
    configForm->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    configForm->addRow(tr("Model type"), m_model);
    configForm->addRow(tr("Source"), m_source);
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
    extensionForm->addRow(tr("Scale s"), m_scale);
    extensionForm->addRow(tr("d_rcd"), m_dRcd);
    extensionForm->addRow(tr("Attention factor"), m_attention);

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
    connect(m_targetLength, &QComboBox::activated, this, &ControlPanel::commitTargetLength);
    connect(m_targetLength->lineEdit(), &QLineEdit::editingFinished, this, &ControlPanel::commitTargetLength);

    connect(m_document, &FactorDocument::configChanged, this, [this] {
        refreshSummary();
        refreshTargetChoices();
        rebuildFamilyRows();
        refreshViolations();
    });
    connect(m_document, &FactorDocument::targetLengthChanged, this, [this] {
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
    connect(m_document, &FactorDocument::attentionFactorChanged, this, &ControlPanel::refreshSummary);
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
    const QString attention = QString::number(m_document->effectiveAttentionFactor(), 'f', 4);
    m_attention->setText(m_document->attentionFactor() ? attention : tr("%1 (longrope default)").arg(attention));

    const QSignalBlocker blocker(m_dRcd);
    m_dRcd->setRange(0, config.pairs());
    m_dRcd->setValue(m_document->dRcd());
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
    bool ok = false;
    const double length = m_targetLength->currentText().toDouble(&ok);
    if (ok && length > 0)
        m_document->setTargetLength(length);
    else
        refreshTargetChoices();
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
