#include "factordocument.h"

#include "common/error.h"

#include <QUndoCommand>
#include <algorithm>
#include <cmath>
#include <utility>

namespace rs {

namespace {

enum CommandId { kSetLambdaCommandId = 1 };

bool isValidFactor(double value) { return std::isfinite(value) && value > 0; }

} // namespace

// Every edit command: applies its value in redo/undo and, when the stack replays it (an undo, or
// a redo after one), tells the document what the step restored so the status bar can say so.
class DocumentCommand : public QUndoCommand {
public:
    explicit DocumentCommand(FactorDocument *document) : m_document(document) {}

    void undo() override
    {
        applyOld();
        announce(QObject::tr("Undo %1: %2").arg(text(), describeOld()));
    }
    void redo() override
    {
        applyNew();
        if (!std::exchange(m_firstRedo, false))
            announce(QObject::tr("Redo %1: %2").arg(text(), describeNew()));
    }

protected:
    virtual void applyOld() = 0;
    virtual void applyNew() = 0;
    virtual QString describeOld() const = 0;
    virtual QString describeNew() const = 0;

    FactorDocument *m_document;

private:
    void announce(const QString &message) { emit m_document->stepReplayed(message); }

    bool m_firstRedo = true;
};

namespace {

QString lambdaText(int index, double value)
{
    // 6 significant digits, as the hover line and the factor table show λ.
    return QObject::tr("λ_%1 = %2").arg(index).arg(value, 0, 'g', 6);
}

} // namespace

class SetLambdaCommand : public DocumentCommand {
public:
    SetLambdaCommand(FactorDocument *document, int index, double oldValue, double newValue, int dragId)
        : DocumentCommand(document), m_index(index), m_oldValue(oldValue), m_newValue(newValue), m_dragId(dragId)
    {
        setText(QObject::tr("Set %1").arg(lambdaText(index, newValue)));
    }

    // Only drag moves merge; single edits (a table cell) each stay their own step.
    int id() const override { return m_dragId >= 0 ? kSetLambdaCommandId : -1; }

    bool mergeWith(const QUndoCommand *other) override
    {
        const auto *next = static_cast<const SetLambdaCommand *>(other);
        if (next->m_dragId != m_dragId || next->m_index != m_index)
            return false;
        m_newValue = next->m_newValue;
        setText(next->text());
        // A drag that ends where it started leaves nothing to undo.
        setObsolete(m_newValue == m_oldValue);
        return true;
    }

protected:
    void applyOld() override { m_document->assignLambdaAt(m_index, m_oldValue); }
    void applyNew() override { m_document->assignLambdaAt(m_index, m_newValue); }
    QString describeOld() const override { return lambdaText(m_index, m_oldValue); }
    QString describeNew() const override { return lambdaText(m_index, m_newValue); }

private:
    int m_index;
    double m_oldValue;
    double m_newValue;
    int m_dragId;
};

class SetAllLambdaCommand : public DocumentCommand {
public:
    SetAllLambdaCommand(FactorDocument *document, std::vector<double> oldLambda, std::optional<double> oldAttention,
                        std::vector<double> newLambda, std::optional<double> newAttention, const QString &text)
        : DocumentCommand(document), m_oldLambda(std::move(oldLambda)), m_oldAttention(oldAttention),
          m_newLambda(std::move(newLambda)), m_newAttention(newAttention)
    {
        setText(text);
    }

protected:
    void applyOld() override { m_document->assignLambda(m_oldLambda, m_oldAttention); }
    void applyNew() override { m_document->assignLambda(m_newLambda, m_newAttention); }
    QString describeOld() const override { return describe(m_oldLambda, m_oldAttention); }
    QString describeNew() const override { return describe(m_newLambda, m_newAttention); }

private:
    QString describe(const std::vector<double> &lambda, std::optional<double> attention) const
    {
        if (lambda.empty())
            return m_document->describeAttentionFactor(attention);
        const auto [low, high] = std::minmax_element(lambda.begin(), lambda.end());
        return QObject::tr("λ from %1 to %2, %3")
            .arg(*low, 0, 'g', 6)
            .arg(*high, 0, 'g', 6)
            .arg(m_document->describeAttentionFactor(attention));
    }

    std::vector<double> m_oldLambda;
    std::optional<double> m_oldAttention;
    std::vector<double> m_newLambda;
    std::optional<double> m_newAttention;
};

class SetDRcdCommand : public DocumentCommand {
public:
    SetDRcdCommand(FactorDocument *document, int oldValue, int newValue)
        : DocumentCommand(document), m_oldValue(oldValue), m_newValue(newValue)
    {
        setText(QObject::tr("Set d_rcd = %1").arg(newValue));
    }

protected:
    void applyOld() override { m_document->assignDRcd(m_oldValue); }
    void applyNew() override { m_document->assignDRcd(m_newValue); }
    QString describeOld() const override { return QObject::tr("d_rcd = %1").arg(m_oldValue); }
    QString describeNew() const override { return QObject::tr("d_rcd = %1").arg(m_newValue); }

private:
    int m_oldValue;
    int m_newValue;
};

class SetTargetLengthCommand : public DocumentCommand {
public:
    SetTargetLengthCommand(FactorDocument *document, double oldValue, double newValue)
        : DocumentCommand(document), m_oldValue(oldValue), m_newValue(newValue)
    {
        setText(QObject::tr("Set target length = %1").arg(newValue, 0, 'f', 0));
    }

protected:
    void applyOld() override { m_document->assignTargetLength(m_oldValue); }
    void applyNew() override { m_document->assignTargetLength(m_newValue); }
    QString describeOld() const override { return QObject::tr("L = %1").arg(m_oldValue, 0, 'f', 0); }
    QString describeNew() const override { return QObject::tr("L = %1").arg(m_newValue, 0, 'f', 0); }

private:
    double m_oldValue;
    double m_newValue;
};

class SetAttentionFactorCommand : public DocumentCommand {
public:
    SetAttentionFactorCommand(FactorDocument *document, std::optional<double> oldValue, std::optional<double> newValue)
        : DocumentCommand(document), m_oldValue(oldValue), m_newValue(newValue)
    {
        setText(newValue ? QObject::tr("Set attention factor = %1").arg(*newValue, 0, 'f', FactorDocument::kAttentionDecimals)
                         : QObject::tr("Reset attention factor to the default"));
    }

protected:
    void applyOld() override { m_document->assignAttentionFactor(m_oldValue); }
    void applyNew() override { m_document->assignAttentionFactor(m_newValue); }
    QString describeOld() const override { return m_document->describeAttentionFactor(m_oldValue); }
    QString describeNew() const override { return m_document->describeAttentionFactor(m_newValue); }

private:
    std::optional<double> m_oldValue;
    std::optional<double> m_newValue;
};

FactorDocument::FactorDocument(QObject *parent) : QObject(parent), m_undoStack(new QUndoStack(this)) {}

void FactorDocument::open(const RopeConfig &config, double targetLength)
{
    m_config = config;
    m_geometry = computeGeometry(config, targetLength);
    m_dRcd = m_geometry.dTcd;
    if (const auto own = configFactors(config, targetLength)) {
        m_lambda = own->lambda;
        m_attentionFactor = own->attentionFactor;
    } else {
        m_lambda.assign(config.pairs(), 1.0);
        m_attentionFactor.reset();
    }
    m_visibleFamilies = {kLongrope2Family, QStringLiteral("yarn")};
    if (config.isScaled())
        m_visibleFamilies.prepend(QStringLiteral("config"));
    recomputeFamilies();
    m_undoStack->clear();
    endDrag();
    emit configChanged();
    notifyEffectiveAttentionFactor();
}

void FactorDocument::openSession(const EditingSession &session, const RopeConfig &config)
{
    m_config = config;
    m_geometry = computeGeometry(config, session.targetLength);
    m_dRcd = std::clamp(session.dRcd, 0, config.pairs());
    m_lambda = session.lambda;
    m_attentionFactor = session.attentionFactor;
    m_visibleFamilies = session.visibleFamilies;
    recomputeFamilies();
    m_undoStack->clear();
    endDrag();
    emit configChanged();
    notifyEffectiveAttentionFactor();
}

EditingSession FactorDocument::toSession() const
{
    EditingSession session;
    session.configSource = m_config.source;
    session.configJson = m_config.json;
    session.targetLength = targetLength();
    session.dRcd = m_dRcd;
    session.lambda = m_lambda;
    session.attentionFactor = m_attentionFactor;
    session.visibleFamilies = m_visibleFamilies;
    return session;
}

double FactorDocument::defaultAttentionFactor() const
{
    return longropeAttentionFactor(m_geometry.scale, m_geometry.trainLength);
}

double FactorDocument::effectiveAttentionFactor() const { return m_attentionFactor.value_or(defaultAttentionFactor()); }

QString FactorDocument::describeAttentionFactor(std::optional<double> attentionFactor) const
{
    if (attentionFactor)
        return tr("attention factor %1").arg(*attentionFactor, 0, 'f', kAttentionDecimals);
    return tr("attention factor default (longrope: %1)").arg(defaultAttentionFactor(), 0, 'f', kAttentionDecimals);
}

void FactorDocument::notifyEffectiveAttentionFactor()
{
    const double effective = effectiveAttentionFactor();
    if (effective != m_lastEffectiveAttention) {
        m_lastEffectiveAttention = effective;
        emit effectiveAttentionFactorChanged(effective);
    }
}

int FactorDocument::beginDrag()
{
    if (!std::exchange(m_dragging, true))
        emit draggingChanged(true);
    return ++m_lastDragId;
}

void FactorDocument::endDrag()
{
    if (std::exchange(m_dragging, false))
        emit draggingChanged(false);
}

std::vector<double> FactorDocument::rescaledPeriods() const { return rs::rescaledPeriods(m_geometry, m_lambda); }

std::vector<bool> FactorDocument::outOfDistribution() const { return rs::outOfDistribution(m_geometry, m_lambda); }

std::vector<ConstraintViolation> FactorDocument::constraintViolations() const
{
    return checkConstraints(m_lambda, pairs(), m_geometry.scale, m_dRcd);
}

void FactorDocument::setFamilyVisible(const QString &name, bool visible)
{
    if (m_visibleFamilies.contains(name) == visible)
        return;
    if (visible)
        m_visibleFamilies.append(name);
    else
        m_visibleFamilies.removeAll(name);
    emit visibleFamiliesChanged();
}

void FactorDocument::setLambdaAt(int index, double value, int dragId)
{
    if (index < 0 || index >= int(m_lambda.size()) || !isValidFactor(value) || m_lambda[index] == value)
        return;
    m_undoStack->push(new SetLambdaCommand(this, index, m_lambda[index], value, dragId));
}

void FactorDocument::setAllLambda(const std::vector<double> &lambda, std::optional<double> attentionFactor,
                                  const QString &description)
{
    if (lambda.size() != m_lambda.size() || !std::all_of(lambda.begin(), lambda.end(), isValidFactor))
        return;
    if (lambda == m_lambda && attentionFactor == m_attentionFactor)
        return;
    m_undoStack->push(new SetAllLambdaCommand(this, m_lambda, m_attentionFactor, lambda, attentionFactor, description));
}

void FactorDocument::applyFamily(const QString &name)
{
    const auto found = m_families.find(name);
    if (found == m_families.end())
        return;
    setAllLambda(found->second.lambda, found->second.attentionFactor, tr("Apply %1 factors").arg(name));
}

void FactorDocument::setDRcd(int dRcd)
{
    dRcd = std::clamp(dRcd, 0, pairs());
    if (dRcd != m_dRcd)
        m_undoStack->push(new SetDRcdCommand(this, m_dRcd, dRcd));
}

void FactorDocument::setTargetLength(double targetLength)
{
    if (!std::isfinite(targetLength) || targetLength <= 0 || targetLength == this->targetLength())
        return;
    m_undoStack->push(new SetTargetLengthCommand(this, this->targetLength(), targetLength));
}

void FactorDocument::setAttentionFactor(std::optional<double> attentionFactor)
{
    if (attentionFactor && !isValidFactor(*attentionFactor))
        return;
    if (attentionFactor == m_attentionFactor)
        return;
    m_undoStack->push(new SetAttentionFactorCommand(this, m_attentionFactor, attentionFactor));
}

void FactorDocument::assignLambdaAt(int index, double value)
{
    m_lambda[index] = value;
    recomputeFamilies();
    emit lambdaChanged();
}

void FactorDocument::assignLambda(const std::vector<double> &lambda, std::optional<double> attentionFactor)
{
    m_lambda = lambda;
    const bool attentionChanged = attentionFactor != m_attentionFactor;
    m_attentionFactor = attentionFactor;
    recomputeFamilies();
    emit lambdaChanged();
    if (attentionChanged)
        emit attentionFactorChanged();
    notifyEffectiveAttentionFactor();
}

void FactorDocument::assignDRcd(int dRcd)
{
    m_dRcd = dRcd;
    recomputeFamilies();
    emit dRcdChanged(dRcd);
}

void FactorDocument::assignTargetLength(double targetLength)
{
    m_geometry = computeGeometry(m_config, targetLength);
    recomputeFamilies();
    emit targetLengthChanged(targetLength);
    notifyEffectiveAttentionFactor();
}

void FactorDocument::assignAttentionFactor(std::optional<double> attentionFactor)
{
    m_attentionFactor = attentionFactor;
    emit attentionFactorChanged();
    notifyEffectiveAttentionFactor();
}

void FactorDocument::recomputeFamilies()
{
    m_families = standardFamilies(m_config, targetLength());
    // LongRoPE2 keeps the searched part (i ≥ d_rcd) of the current λ, lifted to s where it dips
    // below the OOD bound, and re-derives the NTK-left part below d_rcd from it.
    const double s = m_geometry.scale;
    if (m_dRcd < pairs()) {
        std::vector<double> upper(m_lambda.begin() + m_dRcd, m_lambda.end());
        for (double &value : upper)
            value = std::max(value, s);
        try {
            m_families[kLongrope2Family] = longrope2Factors(m_config.rotaryDims, m_dRcd, upper, s, m_geometry.trainLength);
        } catch (const Error &) {
            // Without a valid structure there is simply no overlay to draw; the constraint list
            // already tells the user what is wrong with λ.
        }
    }
    emit familiesChanged();
}

} // namespace rs
