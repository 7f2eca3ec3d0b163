#include "workbenchpanel.h"
#include "common/counting.h"

#include "plotstyle.h"
#include "workbenchplots.h"

#include "common/error.h"
#include "rope/engine.h"
#include "rope/factorfile.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFileDialog>
#include <QDialogButtonBox>
#include <QDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMessageBox>
#include <QMap>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QTabWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace rs {
namespace {

constexpr int kKindRole = Qt::UserRole;
constexpr int kDefaultPoints = 5;

struct Family {
    const char *kind;
    const char *label;
};
const Family kFamilies[] = {{"none", "original"}, {"pi", "PI"}, {"ntk", "NTK"}, {"yarn", "YaRN"},
                            {"llama3", "Llama 3.1"}, {"config", "config"}};

QString lengthsText(const std::vector<int> &lengths)
{
    QStringList parts;
    for (int L : lengths)
        parts << QString::number(L);
    return parts.join(QStringLiteral(", "));
}

} // namespace

WorkbenchPanel::WorkbenchPanel(EvaluationService *evaluation, QWidget *parent) : QWidget(parent), m_evaluation(evaluation)
{
    qRegisterMetaType<rs::WorkbenchPanel::State>();
    registerEvaluationMetaTypes();
    buildUi();
    connect(m_evaluation, &EvaluationService::modelLoaded, this, &WorkbenchPanel::onModelLoaded);
    connect(m_evaluation, &EvaluationService::throughputMeasured, this, [this](const MeasuredThroughput &t) {
        if (m_model)
            m_model->cost.setMeasured(t.device, t.flopsPerSecond, t.source);  // the next sweep's price uses it
    });
    connect(m_evaluation, &EvaluationService::sweepStarted, this, &WorkbenchPanel::onSweepStarted);
    connect(m_evaluation, &EvaluationService::sweepCellReady, this, &WorkbenchPanel::onCell);
    connect(m_evaluation, &EvaluationService::sweepFinished, this, &WorkbenchPanel::onFinished);
    connect(m_evaluation, &EvaluationService::failed, this, &WorkbenchPanel::onFailed);
    refreshMethodRows();
    updateButtons();
}

void WorkbenchPanel::buildUi()
{
    m_modelLabel = new QLabel(tr("No model loaded: load one (File › Load Model) to run sweeps; saved results open any time."), this);
    m_modelLabel->setWordWrap(true);
    m_methods = new QListWidget(this);
    m_methods->setMaximumHeight(150);
    m_methods->setToolTip(tr("Methods to evaluate. Families are set up for the target length; factors (edited λ, "
                             "search best, files) are deployed as longrope: the original RoPE up to L_train."));
    m_addFactors = new QPushButton(tr("Add factor file…"), this);
    m_lengths = new QLineEdit(this);
    m_lengths->setToolTip(tr("Context lengths in tokens, comma-separated (default: %1 lengths from L_train/2 to the "
                             "target, log-spaced)").arg(kDefaultPoints));
    m_depths = new QLineEdit(QStringLiteral("0, 0.25, 0.5, 0.75, 1"), this);
    m_depths->setToolTip(tr("Needle depths of the heatmap, 0 (start) … 1 (end); empty: no heatmap"));
    m_samples = new QSpinBox(this);
    m_samples->setRange(1, 256);
    m_samples->setValue(4);
    m_seed = new QSpinBox(this);
    m_seed->setRange(0, 1'000'000'000);
    m_seed->setValue(1000);
    m_seed->setToolTip(tr("Seed of the needle samples; keep it away from the search's so the figures are held out"));
    m_passkey = new QCheckBox(tr("Passkey accuracy (greedy decoding)"), this);
    m_passkey->setChecked(true);
    m_heldOut = new QCheckBox(tr("Held-out perplexity (text cut to each length)"), this);
    m_heldOut->setChecked(true);
    m_reference = new QComboBox(this);
    m_reference->setToolTip(tr("Every cell is compared with this method on the same samples (paired bootstrap)"));
    m_engine = new QComboBox(this);
    for (const QString &name : engineNames())
        m_engine->addItem(name);
    m_engine->setToolTip(tr("Factor sets are scored as this engine runs their exported longrope config:\n%1\n%2")
                             .arg(engineDescription(Engine::Transformers), engineDescription(Engine::Vllm)));
    m_run = new QPushButton(tr("Run sweep"), this);
    m_cancel = new QPushButton(tr("Cancel"), this);
    m_open = new QPushButton(tr("Open…"), this);
    m_save = new QPushButton(tr("Save…"), this);
    m_export = new QPushButton(tr("Export plot…"), this);
    m_progress = new QProgressBar(this);
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    m_status = new QLabel(this);
    m_status->setWordWrap(true);
    m_curves = new SweepCurvePlot(this);
    m_heatmap = new SweepHeatmapPlot(this);
    m_heatmapMethod = new QComboBox(this);
    m_heatmapMetric = new QComboBox(this);
    m_heatmapMetric->addItem(tr("Passkey accuracy"));
    m_heatmapMetric->addItem(tr("Needle PPL"));
    m_curves->setMinimumHeight(320);
    m_heatmap->setMinimumHeight(280);

    auto *form = new QFormLayout;
    auto *methodsBox = new QVBoxLayout;
    methodsBox->addWidget(m_methods);
    methodsBox->addWidget(m_addFactors, 0, Qt::AlignLeft);
    form->addRow(tr("Methods"), methodsBox);
    form->addRow(tr("Reference"), m_reference);
    form->addRow(tr("Engine"), m_engine);
    form->addRow(tr("Lengths"), m_lengths);
    form->addRow(tr("Depths"), m_depths);
    auto *numbers = new QHBoxLayout;
    numbers->addWidget(new QLabel(tr("Samples"), this));
    numbers->addWidget(m_samples);
    numbers->addWidget(new QLabel(tr("Seed"), this));
    numbers->addWidget(m_seed);
    numbers->addStretch();
    form->addRow(numbers);
    form->addRow(m_passkey);
    form->addRow(m_heldOut);
    auto *buttons = new QHBoxLayout;
    for (QPushButton *b : {m_run, m_cancel, m_open, m_save, m_export})
        buttons->addWidget(b);
    buttons->addStretch();

    auto *heatmapPage = new QWidget(this);
    auto *heatmapLayout = new QVBoxLayout(heatmapPage);
    heatmapLayout->setContentsMargins(0, 0, 0, 0);
    auto *heatmapControls = new QHBoxLayout;
    heatmapControls->addWidget(new QLabel(tr("Show"), heatmapPage));
    heatmapControls->addWidget(m_heatmapMethod, 1);
    heatmapControls->addWidget(m_heatmapMetric, 1);
    heatmapLayout->addLayout(heatmapControls);
    heatmapLayout->addWidget(m_heatmap, 1);
    m_tabs = new QTabWidget(this);
    m_tabs->addTab(m_curves, tr("PPL vs length"));
    m_tabs->addTab(heatmapPage, tr("Needle heatmap"));

    // Tab follows the panel as it reads (the form's rows were created in another order).
    const QList<QWidget *> chain{m_methods, m_addFactors, m_reference, m_engine, m_lengths, m_depths, m_samples, m_seed,
                                 m_passkey, m_heldOut, m_run, m_cancel, m_open, m_save, m_export, m_tabs,
                                 m_heatmapMethod, m_heatmapMetric};
    for (qsizetype i = 1; i < chain.size(); ++i)
        setTabOrder(chain[i - 1], chain[i]);

    auto *layout = new QVBoxLayout(this);
    layout->addWidget(m_modelLabel);
    layout->addLayout(form);
    layout->addLayout(buttons);
    layout->addWidget(m_progress);
    layout->addWidget(m_status);
    layout->addWidget(m_tabs, 1);

    connect(m_run, &QPushButton::clicked, this, &WorkbenchPanel::startSweep);
    connect(m_cancel, &QPushButton::clicked, this, &WorkbenchPanel::cancelSweep);
    connect(m_addFactors, &QPushButton::clicked, this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Add Factor File"), QString(),
                                                          tr("Factor files (*.txt *.csv *.factors);;All files (*)"));
        if (!path.isEmpty())
            addFactorFile(path);
    });
    connect(m_open, &QPushButton::clicked, this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Open Sweep Result"), QString(),
                                                          tr("Sweep results (*.json *.csv);;All files (*)"));
        if (!path.isEmpty())
            openResult(path);
    });
    connect(m_save, &QPushButton::clicked, this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Save Sweep Result"), QStringLiteral("sweep.json"),
                                                          tr("JSON (*.json);;CSV (*.csv)"));
        if (!path.isEmpty())
            saveResult(path);
    });
    connect(m_export, &QPushButton::clicked, this, &WorkbenchPanel::askExport);
    connect(m_methods, &QListWidget::itemChanged, this, &WorkbenchPanel::rebuildReferences);
    connect(m_heatmapMethod, &QComboBox::currentIndexChanged, this, [this](int index) {
        m_heatmap->setShownMethod(index <= 0 ? QString() : m_heatmapMethod->itemText(index));
    });
    connect(m_heatmapMetric, &QComboBox::currentIndexChanged, this, [this](int index) {
        m_heatmap->setMetric(index == 0 ? SweepHeatmapPlot::Metric::Passkey : SweepHeatmapPlot::Metric::NeedlePpl);
    });
    refreshHeatmapMethods();
}

void WorkbenchPanel::refreshMethodRows()
{
    // Rows keep their check state; new ones start checked (Llama 3.1 off: it is one more family).
    QMap<QString, bool> previous;
    for (int i = 0; i < m_methods->count(); ++i)
        previous.insert(m_methods->item(i)->text(), m_methods->item(i)->checkState() == Qt::Checked);
    {
        const QSignalBlocker blocker(m_methods);
        m_methods->clear();
        const bool scaled = m_model && m_model->ropeConfig.isScaled();
        const auto add = [this, &previous](const QString &name, const QString &kind, bool byDefault, const QString &tip) {
            auto *item = new QListWidgetItem(name, m_methods);
            item->setData(kKindRole, kind);
            item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
            item->setToolTip(tip);
            item->setCheckState(previous.value(name, byDefault) ? Qt::Checked : Qt::Unchecked);
        };
        for (const Family &f : kFamilies) {
            const QString kind = QString::fromLatin1(f.kind);
            if (kind == QLatin1String("config") && !scaled)
                continue;  // a plain config's own RoPE is the original
            add(QString::fromUtf8(f.label), kind, kind != QLatin1String("llama3"),
                kind == QLatin1String("config") ? tr("the model's own RoPE (longrope switches at L_train)")
                                                : tr("static, set up for the target length"));
        }
        for (const FactorSource &f : m_factorSources)
            add(f.name, QStringLiteral("factors"), true, f.source);
    }
    rebuildReferences();
}

void WorkbenchPanel::rebuildReferences()
{
    const QString current = m_reference->currentText();
    m_reference->clear();
    for (const SweepMethodSpec &m : sweepMethods())
        m_reference->addItem(m.name);
    m_reference->setCurrentIndex(std::max(0, m_reference->findText(current)));
    updateButtons();
}

void WorkbenchPanel::setFactorRow(const QString &name, const std::vector<double> &lambda, double attentionFactor,
                                  const QString &source)
{
    const auto it = std::find_if(m_factorSources.begin(), m_factorSources.end(), [&](const FactorSource &f) { return f.name == name; });
    if (lambda.empty()) {
        if (it != m_factorSources.end())
            m_factorSources.erase(it);
    } else if (it != m_factorSources.end()) {
        it->lambda = lambda;
        it->attentionFactor = attentionFactor;
        it->source = source;
        return;  // same row, new values: nothing to redraw
    } else {
        m_factorSources.push_back({name, lambda, attentionFactor, source});
    }
    refreshMethodRows();
}

void WorkbenchPanel::setEditedFactors(const std::vector<double> &lambda, double attentionFactor)
{
    setFactorRow(kEditedName, lambda, attentionFactor, tr("the factors in the editor"));
}

void WorkbenchPanel::setSearchBest(const std::vector<double> &lambda, double attentionFactor)
{
    setFactorRow(kSearchBestName, lambda, attentionFactor, tr("the search's best factors"));
}

bool WorkbenchPanel::addFactorFile(const QString &path)
{
    if (!m_model) {
        Q_EMIT errorOccurred(tr("%1: load a model first, so the factors can be checked against its rotary size")
                                 .arg(QDir::toNativeSeparators(path)));
        return false;
    }
    try {
        const std::vector<double> lambda = readFactorFile(path, m_model->ropeConfig.pairs());
        QString name = QFileInfo(path).completeBaseName();
        for (int n = 2; std::any_of(m_factorSources.begin(), m_factorSources.end(), [&](const FactorSource &f) { return f.name == name; }); ++n)
            name = QFileInfo(path).completeBaseName() + QStringLiteral(" (%1)").arg(n);
        setFactorRow(name, lambda, 0, path);
        return true;
    } catch (const Error &e) {
        Q_EMIT errorOccurred(e.message());
        return false;
    }
}

void WorkbenchPanel::setTargetLength(int length)
{
    if (length == m_targetLength)
        return;
    m_targetLength = length;
    defaultLengths();
}

int WorkbenchPanel::targetLength() const
{
    if (m_targetLength > 0)
        return m_targetLength;
    return m_model ? int(8 * m_model->ropeConfig.trainLength) : 0;
}

void WorkbenchPanel::defaultLengths()
{
    if (!m_model || targetLength() <= 0)
        return;
    const int train = int(m_model->ropeConfig.trainLength);
    m_lengths->setText(lengthsText(logSpacedLengths(std::max(2, train / 2), std::max(targetLength(), train / 2), kDefaultPoints)));
}

SweepSettings WorkbenchPanel::sweepSettings() const
{
    SweepSettings s;
    for (const QString &part : m_lengths->text().split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        bool ok = false;
        const int L = part.trimmed().toInt(&ok);
        if (ok && L >= 2)
            s.lengths.push_back(L);
        else
            s.lengths.push_back(-1);  // startSweep reports it
    }
    std::sort(s.lengths.begin(), s.lengths.end());
    s.lengths.erase(std::unique(s.lengths.begin(), s.lengths.end()), s.lengths.end());
    for (const QString &part : m_depths->text().split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        bool ok = false;
        const double d = part.trimmed().toDouble(&ok);
        s.depths.push_back(ok ? d : -1);
    }
    s.samples = m_samples->value();
    s.seed = uint64_t(m_seed->value());
    s.passkey = m_passkey->isChecked();
    s.heldOut = m_heldOut->isChecked();
    s.targetLength = targetLength();
    s.reference = m_reference->currentText();
    s.engine = m_engine->currentText();
    return s;
}

std::vector<SweepMethodSpec> WorkbenchPanel::sweepMethods() const
{
    std::vector<SweepMethodSpec> out;
    for (int i = 0; i < m_methods->count(); ++i) {
        const QListWidgetItem *item = m_methods->item(i);
        if (item->checkState() != Qt::Checked)
            continue;
        SweepMethodSpec spec;
        spec.name = item->text();
        spec.kind = item->data(kKindRole).toString();
        if (spec.kind == QLatin1String("factors")) {
            const auto it = std::find_if(m_factorSources.begin(), m_factorSources.end(),
                                         [&](const FactorSource &f) { return f.name == spec.name; });
            if (it == m_factorSources.end())
                continue;
            spec.lambda = it->lambda;
            spec.attentionFactor = it->attentionFactor;
            spec.source = it->source;
        }
        out.push_back(std::move(spec));
    }
    return out;
}

bool WorkbenchPanel::startSweep()
{
    const auto refuse = [this](const QString &message) {
        Q_EMIT errorOccurred(message);
        return false;
    };
    if (m_state != State::Idle)
        return refuse(tr("A sweep is already running"));
    if (!m_model)
        return refuse(tr("No model is loaded: load one before running a sweep"));
    const SweepSettings settings = sweepSettings();
    const std::vector<SweepMethodSpec> methods = sweepMethods();
    if (methods.empty())
        return refuse(tr("Choose at least one method"));
    if (settings.lengths.empty() || settings.lengths.front() < 2)
        return refuse(tr("Lengths must be whole numbers of at least 2 tokens, comma-separated"));
    for (double d : settings.depths)
        if (!(d >= 0 && d <= 1))
            return refuse(tr("Depths must be numbers between 0 and 1, comma-separated"));
    QString price;
    if (const std::optional<CostEstimate> e = sweepPrice(settings, int(methods.size()))) {
        if (!e->fits)
            return refuse(tr("Lengths: a forward at %1 tokens on %2 needs %3; choose shorter lengths.")
                              .arg(formatNumber(e->tokens), m_model->cost.device, e->summary()));
        const bool costly = e->seconds > 3600 || (e->availableBytes > 0 && e->peakBytes > e->availableBytes / 2);
        if (costly && m_promptsEnabled &&
            QMessageBox::question(this, tr("Run the sweep?"),
                                  tr("This sweep is costly: %1 forwards, %2.").arg(formatNumber(e->forwards), e->summary()) +
                                      QLatin1Char('\n') + tr("Run it anyway?"),
                                  QMessageBox::Yes | QMessageBox::No, QMessageBox::No) != QMessageBox::Yes)
            return false;
        price = tr(" Price: %1 forwards, %2.").arg(formatNumber(e->forwards), e->summary());
    }
    m_result = SweepResult{};
    m_result.settings = settings;
    m_result.methods = methods;
    m_result.model = m_model->name.isEmpty() ? m_model->directory : m_model->name;
    m_result.trainLength = int(m_model->ropeConfig.trainLength);
    showResult();
    m_progress->setRange(0, std::max(1, sweepCellCount(settings, int(methods.size()))));
    m_progress->setValue(0);
    m_request += 1;
    setState(State::Running);
    m_status->setText(tr("Starting the sweep…") + price);
    m_evaluation->startSweep(m_request, settings, methods);
    return true;
}

std::optional<CostEstimate> WorkbenchPanel::sweepPrice(const SweepSettings &settings, int methods) const
{
    if (!m_model || !m_model->cost.isValid() || settings.lengths.empty())
        return std::nullopt;
    const double cellsPerLength = double(sweepCellCount(settings, methods)) / double(settings.lengths.size());
    std::optional<CostEstimate> total;
    double seconds = 0, forwards = 0;
    for (const int length : settings.lengths) {  // ascending: the last one sets the memory
        total = estimateForwards(m_model->cost, double(length), cellsPerLength * settings.samples);
        seconds += total->seconds;
        forwards += total->forwards;
    }
    total->seconds = seconds;
    total->forwards = forwards;
    return total;
}

void WorkbenchPanel::cancelSweep()
{
    if (m_state != State::Running)
        return;
    m_evaluation->cancelSweep(m_request);
    setState(State::Cancelling);
    m_status->setText(tr("Cancelling after the current sample…"));
}

bool WorkbenchPanel::saveResult(const QString &path)
{
    try {
        m_result.save(path);
        Q_EMIT statusMessage(tr("Saved the sweep to %1").arg(QDir::toNativeSeparators(path)));
        return true;
    } catch (const Error &e) {
        Q_EMIT errorOccurred(e.message());
        return false;
    }
}

bool WorkbenchPanel::openResult(const QString &path)
{
    if (m_state != State::Idle) {
        Q_EMIT errorOccurred(tr("%1: wait for the running sweep to finish or cancel it").arg(QDir::toNativeSeparators(path)));
        return false;
    }
    try {
        m_result = SweepResult::load(path);
    } catch (const Error &e) {
        Q_EMIT errorOccurred(e.message());
        return false;
    }
    showResult();
    // The bar is this result's, not a sweep's before it: all of its cells are there.
    const int cells = int(m_result.cells.size());
    m_progress->setRange(0, std::max(1, cells));
    m_progress->setValue(cells);
    const QString engine = m_result.settings.engine.isEmpty()
                               ? tr("factor sets scored before engines were modelled (original RoPE within L_train)")
                               : tr("factor sets scored as %1 runs their export").arg(m_result.settings.engine);
    if (const int index = m_engine->findText(m_result.settings.engine); index >= 0)
        m_engine->setCurrentIndex(index);
    m_status->setText(tr("Opened %1: %2 cells of %3, %4 each (seed %5); %6")
                          .arg(QDir::toNativeSeparators(path))
                          .arg(m_result.cells.size())
                          .arg(QDir::toNativeSeparators(m_result.model))
                          .arg(samplesText(m_result.settings.samples))
                          .arg(m_result.settings.seed)
                          .arg(engine));
    updateButtons();
    return true;
}

bool WorkbenchPanel::exportPlot(const QString &path, Plot plot, QSize size)
{
    QCustomPlot *source = plot == Plot::Curves ? static_cast<QCustomPlot *>(m_curves) : static_cast<QCustomPlot *>(m_heatmap);
    if (!savePlot(source, path, size)) {
        Q_EMIT errorOccurred(tr("%1: cannot write the plot").arg(QDir::toNativeSeparators(path)));
        return false;
    }
    return true;
}

QStringList WorkbenchPanel::allPlotPaths(const QString &path)
{
    const QFileInfo info(path);
    const QString suffix = info.suffix().isEmpty() ? QStringLiteral("png") : info.suffix();
    const QString base = info.dir().filePath(info.completeBaseName());
    return {base + QStringLiteral("-lengths.") + suffix, base + QStringLiteral("-heatmap.") + suffix};
}

bool WorkbenchPanel::exportAllPlots(const QString &path, QSize size)
{
    const QStringList paths = allPlotPaths(path);
    return exportPlot(paths[0], Plot::Curves, size) && exportPlot(paths[1], Plot::Heatmap, size);
}

void WorkbenchPanel::askExport()
{
    // The size and which plots first, then the file (PNG or PDF by its suffix).
    QDialog dialog(this);
    dialog.setWindowTitle(tr("Export Plot"));
    auto *width = new QSpinBox(&dialog);
    auto *height = new QSpinBox(&dialog);
    for (QSpinBox *box : {width, height}) {
        box->setRange(200, 10000);
        box->setSuffix(tr(" px"));
    }
    const QWidget *shown = m_tabs->currentWidget();
    width->setValue(std::max(1600, shown->width()));
    height->setValue(std::max(1000, shown->height()));
    auto *all = new QCheckBox(tr("All plots (PPL vs length and the heatmap, one file each)"), &dialog);
    all->setChecked(true);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, &dialog);
    auto *form = new QFormLayout(&dialog);
    form->addRow(tr("Width"), width);
    form->addRow(tr("Height"), height);
    form->addRow(all);
    form->addRow(buttons);
    connect(buttons, &QDialogButtonBox::accepted, &dialog, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
    if (dialog.exec() != QDialog::Accepted)
        return;
    const QString path = QFileDialog::getSaveFileName(this, tr("Export Plot"), QStringLiteral("sweep.png"),
                                                      tr("PNG image (*.png);;PDF (*.pdf)"));
    if (path.isEmpty())
        return;
    const QSize size(width->value(), height->value());
    const bool saved = all->isChecked() ? exportAllPlots(path, size)
                                        : exportPlot(path, m_tabs->currentIndex() == 0 ? Plot::Curves : Plot::Heatmap, size);
    if (saved)
        Q_EMIT statusMessage(all->isChecked() ? tr("Exported %1").arg(allPlotPaths(path).join(QStringLiteral(", ")))
                                              : tr("Exported %1").arg(QDir::toNativeSeparators(path)));
}

void WorkbenchPanel::showResult()
{
    m_curves->setResult(m_result);
    m_heatmap->setResult(m_result);
    refreshHeatmapMethods();
}

void WorkbenchPanel::refreshHeatmapMethods()
{
    const QString current = m_heatmapMethod->currentText();
    const QSignalBlocker blocker(m_heatmapMethod);
    m_heatmapMethod->clear();
    m_heatmapMethod->addItem(tr("All methods side by side"));
    for (const SweepMethodSpec &m : m_result.methods)
        m_heatmapMethod->addItem(m.name);
    const int index = m_heatmapMethod->findText(current);
    m_heatmapMethod->setCurrentIndex(std::max(0, index));
    m_heatmap->setShownMethod(m_heatmapMethod->currentIndex() <= 0 ? QString() : m_heatmapMethod->currentText());
}

void WorkbenchPanel::setState(State state)
{
    if (state == m_state)
        return;
    m_state = state;
    updateButtons();
    Q_EMIT stateChanged(state);
}

void WorkbenchPanel::updateButtons()
{
    const bool idle = m_state == State::Idle;
    m_run->setEnabled(idle && m_model.has_value() && m_reference->count() > 0);
    m_cancel->setEnabled(m_state == State::Running);
    m_open->setEnabled(idle);
    m_save->setEnabled(idle && !m_result.cells.empty());
    m_addFactors->setEnabled(m_model.has_value());
}

void WorkbenchPanel::onModelLoaded(const ModelInfo &info)
{
    const bool sameGeometry = m_model && m_model->ropeConfig.pairs() == info.ropeConfig.pairs();
    m_model = info;
    if (!sameGeometry)  // factor files of another rotary size no longer apply
        m_factorSources.erase(std::remove_if(m_factorSources.begin(), m_factorSources.end(),
                                             [&](const FactorSource &f) { return int(f.lambda.size()) != info.ropeConfig.pairs(); }),
                              m_factorSources.end());
    m_modelLabel->setText(tr("Model %1 (%2, L_train %3, %4)")
                              .arg(QDir::toNativeSeparators(info.directory), info.architecture)
                              .arg(info.ropeConfig.trainLength)
                              .arg(info.device));
    refreshMethodRows();
    defaultLengths();
    updateButtons();
}

void WorkbenchPanel::onSweepStarted(const SweepPlan &plan)
{
    if (plan.requestId != m_request)
        return;
    m_progress->setRange(0, std::max(1, plan.cells));
    m_status->setText(tr("Sweep: %1 cells of %2").arg(plan.cells).arg(samplesText(plan.settings.samples)));
    Q_EMIT sweepStarted(plan);
}

void WorkbenchPanel::onCell(const SweepCellReport &report)
{
    if (report.requestId != m_request || m_state == State::Idle)
        return;
    m_result.cells.push_back(report.cell);
    m_curves->addCell(report.cell);
    m_heatmap->addCell(report.cell);
    m_progress->setRange(0, std::max(1, report.total));
    m_progress->setValue(report.done);
    const SweepCell &c = report.cell;
    m_status->setText(tr("%1 of %2 cells: %3 at %4 tokens%5 → %6")
                          .arg(report.done)
                          .arg(report.total)
                          .arg(c.method)
                          .arg(c.length)
                          .arg(c.measure == SweepMeasure::Needle ? tr(", depth %1%").arg(100 * c.depth, 0, 'f', 0) : tr(" (held-out)"))
                          .arg(formatNumber(c.value)));
    Q_EMIT cellAdded(report.cell);
}

void WorkbenchPanel::onFinished(const SweepOutcome &outcome)
{
    if (outcome.requestId != m_request)
        return;
    m_result = outcome.result;
    setState(State::Idle);
    m_status->setText(m_result.cancelled ? tr("Cancelled: %1 cells kept").arg(m_result.cells.size())
                                         : tr("Finished %1 cells in %2 s; factor sets scored as %3 runs their export")
                                               .arg(m_result.cells.size())
                                               .arg(m_result.seconds, 0, 'f', 1)
                                               .arg(m_result.settings.engine));
    updateButtons();
    Q_EMIT sweepFinished(m_result);
}

void WorkbenchPanel::onFailed(WorkerTask task, const QString &message)
{
    if (task != WorkerTask::Sweep || m_state == State::Idle)
        return;
    setState(State::Idle);
    m_status->setText(message);
    Q_EMIT errorOccurred(message);
}

} // namespace rs
