#include "livescores.h"

#include "common/error.h"
#include "eval/verdict.h"
#include "factordocument.h"
#include "plotstyle.h"

#include <QFileInfo>
#include <QTimer>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace rs {

const QStringList &LiveScores::names()
{
    static const QStringList names{kHandTuned, QStringLiteral("original"), QStringLiteral("pi"), QStringLiteral("ntk"),
                                   QStringLiteral("yarn")};
    return names;
}

QString LiveScores::title(const QString &name)
{
    static const QMap<QString, QString> titles{{kHandTuned, tr("edited λ")},
                                               {QStringLiteral("original"), tr("original")},
                                               {QStringLiteral("pi"), tr("PI")},
                                               {QStringLiteral("ntk"), tr("NTK")},
                                               {QStringLiteral("yarn"), tr("YaRN")}};
    return titles.value(name, name);
}

LiveScores::LiveScores(FactorDocument *document, EvaluationService *evaluation, SampleSource samples, QObject *parent)
    : QObject(parent), m_document(document), m_evaluation(evaluation), m_samples(std::move(samples)),
      m_timer(new QTimer(this))
{
    m_printTiming = qEnvironmentVariableIntValue("ROPESCOPE_LIVE_TIMING") > 0;
    m_timer->setSingleShot(true);
    m_timer->setInterval(kDebounceMs);
    connect(m_timer, &QTimer::timeout, this, &LiveScores::requestScores);
    // Any edit of the factors is scored after the debounce; a newer edit restarts the timer and so
    // supersedes the pending one. (A change of config or L comes through the dock, which shows L.)
    connect(document, &FactorDocument::lambdaChanged, this, &LiveScores::schedule);
    connect(document, &FactorDocument::attentionFactorChanged, this, &LiveScores::schedule);
    connect(evaluation, &EvaluationService::scoreProgress, this, &LiveScores::onScoreArrived);
    connect(evaluation, &EvaluationService::scoreReady, this, &LiveScores::onScoreArrived);
    connect(evaluation, &EvaluationService::referencesProgress, this, &LiveScores::onReferencesArrived);
    connect(evaluation, &EvaluationService::referencesReady, this, &LiveScores::onReferencesArrived);
    connect(evaluation, &EvaluationService::failed, this, &LiveScores::onFailed);
    rebuildRow();
}

void LiveScores::setModel(const ModelInfo &info)
{
    m_model = info;
    m_referencesKey.clear();
    schedule();
}

void LiveScores::setModelNamer(std::function<QString(const QString &)> namer)
{
    m_namer = std::move(namer);
    rebuildRow();
}

QString LiveScores::modelName(const QString &directory) const
{
    return m_namer ? m_namer(directory) : QFileInfo(directory).fileName();
}

void LiveScores::schedule()
{
    if (!m_model)
        return;
    // What is shown no longer describes the document (or the samples, or the model): it goes now,
    // not after the debounce, and the new score follows after it.
    if (m_printTiming) {
        m_editClock.restart();
        m_firstFigureShown = false;
    }
    invalidate();
    m_timer->start();
}

QString LiveScores::liveKey() const
{
    if (!m_model)
        return {};
    const NeedleEvalSettings samples = m_samples();
    return QStringLiteral("%1|%2|%3|%4|%5|%6")
        .arg(m_model->directory)
        .arg(samples.length)
        .arg(samples.samples)
        .arg(samples.seed)
        .arg(samples.depth)
        .arg(samples.corpus);
}

int LiveScores::sampleCount() const
{
    if (m_scoreWanted > 0)
        return m_scoreWanted;
    return m_quick ? 1 : m_samples().samples;
}

bool LiveScores::canScoreFully() const { return scoreable() && sampleCount() < m_samples().samples; }

std::vector<double> LiveScores::handTunedSamples() const
{
    const size_t n = std::min(m_handTunedPerSample.size(), size_t(std::max(0, m_scoreWanted)));
    return {m_handTunedPerSample.begin(), m_handTunedPerSample.begin() + long(n)};
}

bool LiveScores::isOn(const QString &model, const NeedleEvalSettings &run) const
{
    if (!m_model)
        return false;
    const NeedleEvalSettings live = m_samples();
    // The row's figures are on its first sampleCount() samples (a quick score: one).
    return model == m_model->directory && live.length == run.length && sampleCount() == run.samples
           && live.seed == run.seed && live.depth == run.depth && live.corpus == run.corpus;
}

QString LiveScores::mismatchReason() const
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

void LiveScores::invalidate()
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
    rebuildRow();
}

void LiveScores::requestScores() { requestScoresOn(m_quick ? 1 : m_samples().samples); }

void LiveScores::scoreFully()
{
    m_timer->stop();
    requestScoresOn(m_samples().samples);
}

void LiveScores::requestScoresOn(int sampleCount)
{
    if (!m_model)
        return;
    const QString mismatch = mismatchReason();
    Q_EMIT noteChanged(mismatch);
    if (!mismatch.isEmpty()) {
        rebuildRow();
        return;
    }
    const NeedleEvalSettings samples = m_samples();
    m_scoreWanted = std::clamp(sampleCount, 1, samples.samples);
    m_scoreAttention = m_document->effectiveAttentionFactor();
    m_handTunedPpl = qQNaN();
    m_handTunedPerSample.clear();
    m_evaluation->score(++m_scoreRequest, m_document->lambda(), m_scoreAttention, samples, m_scoreWanted);

    const QString key = liveKey();
    if (key != m_referencesKey) {
        m_referencesKey = key;
        m_references = {};
        m_evaluation->scoreReferences(++m_referencesRequest, samples);
    }
    rebuildRow();
}

void LiveScores::onScoreArrived(const ScoreResult &score)
{
    // Only the answer to the latest request, on the very model and samples the row shows, counts.
    if (score.requestId != m_scoreRequest || !m_model || score.model != m_model->directory)
        return;
    const NeedleEvalSettings live = m_samples();
    if (score.samples.length != live.length || score.samples.seed != live.seed || score.samples.depth != live.depth
        || score.samples.corpus != live.corpus || score.samples.samples != live.samples)
        return;
    m_handTunedPerSample = score.perSamplePpl;
    const bool complete = int(m_handTunedPerSample.size()) >= m_scoreWanted;
    if (complete)
        m_handTunedPpl = std::accumulate(m_handTunedPerSample.begin(), m_handTunedPerSample.begin() + m_scoreWanted, 0.0)
                         / double(m_scoreWanted);
    if (m_printTiming) {
        if (!m_firstFigureShown)
            qInfo("live score: first figure (%d/%d samples, L = %d) %lld ms after the edit (%d ms of it the debounce)",
                  score.samplesScored(), m_scoreWanted, live.length, qint64(m_editClock.elapsed()), kDebounceMs);
        if (complete)
            qInfo("live score: complete figure (%d samples, L = %d) %lld ms after the edit; the worker took %.0f ms",
                  m_scoreWanted, live.length, qint64(m_editClock.elapsed()), score.seconds * 1000);
        m_firstFigureShown = true;
    }
    rebuildRow();
    if (complete)
        Q_EMIT handTunedScored(m_handTunedPpl);
}

void LiveScores::onReferencesArrived(const ReferenceScores &references)
{
    if (references.requestId != m_referencesRequest || !m_model || references.model != m_model->directory)
        return;
    m_references = references;
    rebuildRow();
    if (references.isComplete())
        Q_EMIT referencesScored();
}

void LiveScores::onFailed(WorkerTask task, const QString &message)
{
    if (task == WorkerTask::Score) {
        m_figures[kHandTuned].text = QStringLiteral("—");
        Q_EMIT changed();
        Q_EMIT noteChanged(message);
    } else if (task == WorkerTask::References) {
        m_referencesKey.clear();  // retried with the next edit
        Q_EMIT noteChanged(message);
    }
}

void LiveScores::rebuildRow()
{
    const bool canScore = scoreable();
    const int basis = sampleCount();
    const NeedleEvalSettings samples = m_samples();
    const auto seeds = [&](int n) {
        return n > 1 ? tr("samples 1–%1 of %2 (seeds %3…%4)").arg(n).arg(samples.samples).arg(samples.seed).arg(samples.seed + uint64_t(n) - 1)
                     : tr("sample 1 of %1 (seed %2)").arg(samples.samples).arg(samples.seed);
    };
    const QString on = canScore ? tr("%1, L = %2, %3%4")
                                      .arg(modelName(m_model->directory), formatNumber(samples.length), seeds(basis),
                                           samples.corpus.isEmpty() ? QString() : tr(", corpus %1").arg(QFileInfo(samples.corpus).fileName()))
                                : QString();
    // One figure: the mean over the row's samples once all are in, "2/4 samples: 31.2…" before.
    const auto figure = [&](const std::vector<double> &values, QString *tip, const QString &name, double attention) {
        const int n = std::min<int>(int(values.size()), basis);
        const double mean = n > 0 ? std::accumulate(values.begin(), values.begin() + n, 0.0) / n : qQNaN();
        *tip = tr("%1: needle PPL on %2, attention factor %3").arg(title(name), on, formatNumber(attention));
        if (n >= basis)
            return std::pair<QString, double>{formatNumber(mean), mean};
        if (n > 0)
            return std::pair<QString, double>{tr("%1/%2 samples: %3…").arg(n).arg(basis).arg(formatNumber(mean)), qQNaN()};
        return std::pair<QString, double>{QStringLiteral("…"), qQNaN()};
    };

    m_referencePpl.clear();
    for (const QString &name : names()) {
        Figure f;
        if (canScore && name == kHandTuned) {
            f.text = m_scoreWanted > 0 ? figure(m_handTunedPerSample, &f.toolTip, name, m_scoreAttention).first
                                       : QStringLiteral("…");
        } else if (canScore) {
            f.text = QStringLiteral("…");
            for (const ReferenceScore &reference : m_references.scores) {
                if (reference.name != name)
                    continue;
                const auto [shown, ppl] = figure(reference.perSamplePpl, &f.toolTip, name, reference.attentionFactor);
                f.text = shown;
                if (std::isfinite(ppl))
                    m_referencePpl.insert(name, ppl);
            }
        }
        m_figures.insert(name, f);
    }
    if (canScore) {
        addUncertainty(basis);
        m_caption = tr("%1 on %2; edited λ with attention factor %3 (the families with their own: hover a figure)")
                        .arg(basis < samples.samples ? tr("Quick score") : tr("Scores"), on,
                             formatNumber(m_document->effectiveAttentionFactor()));
    } else {
        m_caption.clear();
    }
    Q_EMIT changed();
}

// The edited λ's figure with its uncertainty: "33.1 ± 4.2" (half the 95 % BCa interval of the mean
// over the row's samples), and in its tooltip the interval and the paired comparison with every
// family scored on the same samples (eval/verdict.h). A difference inside the noise is not a verdict.
void LiveScores::addUncertainty(int basis)
{
    std::vector<std::pair<QString, std::vector<double>>> references;
    for (const ReferenceScore &reference : m_references.scores)
        references.emplace_back(reference.name, reference.perSamplePpl);
    const ScoreVerdict v = scoreVerdict(m_handTunedPerSample, references, basis);
    if (!v.valid())
        return;
    Figure &f = m_figures[kHandTuned];
    f.text = tr("%1 ± %2").arg(formatNumber(v.own.estimate), formatNumber(v.halfWidth()));
    QStringList lines{f.toolTip, tr("95 % interval of the mean over the %1 samples: [%2, %3] (BCa bootstrap)")
                                     .arg(basis)
                                     .arg(formatNumber(v.own.lower), formatNumber(v.own.upper))};
    for (const ReferenceVerdict &r : v.references) {
        const QString verdict = r.verdict == Verdict::Better  ? tr("better beyond the noise")
                                : r.verdict == Verdict::Worse ? tr("worse beyond the noise")
                                                              : tr("within the noise");
        const Interval &ratio = r.comparison.ratio;
        lines << tr("vs %1: ×%2 [%3, %4], %5").arg(title(r.name), formatNumber(ratio.estimate), formatNumber(ratio.lower),
                                                  formatNumber(ratio.upper), verdict);
    }
    lines << tr("(paired over the same needle samples; ×1 means equal)");
    f.toolTip = lines.join(QLatin1Char('\n'));
}

} // namespace rs
