#include "factordocument.h"

#include "common/error.h"

#include <QUndoCommand>
#include <algorithm>
#include <cmath>

namespace rs {

namespace {

enum CommandId { kSetLambdaCommandId = 1 };

bool isValidFactor(double value) { return std::isfinite(value) && value > 0; }

} // namespace

class SetLambdaCommand : public QUndoCommand {
public:
    SetLambdaCommand(FactorDocument *document, int index, double oldValue, double newValue, int dragId)
        : m_document(document), m_index(index), m_oldValue(oldValue), m_newValue(newValue), m_dragId(dragId)
    {
        setText(QObject::tr("Set λ%1 = %2").arg(index).arg(newValue, 0, 'g', 5));
    }

    void undo() override { m_document->assignLambdaAt(m_index, m_oldValue); }
    void redo() override { m_document->assignLambdaAt(m_index, m_newValue); }
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

private:
    FactorDocument *m_document;
    int m_index;
    double m_oldValue;
    double m_newValue;
    int m_dragId;
};

class SetAllLambdaCommand : public QUndoCommand {
public:
    SetAllLambdaCommand(FactorDocument *document, std::vector<double> oldLambda, std::optional<double> oldAttention,
                        std::vector<double> newLambda, std::optional<double> newAttention, const QString &text)
        : m_document(document), m_oldLambda(std::move(oldLambda)), m_oldAttention(oldAttention),
          m_newLambda(std::move(newLambda)), m_newAttention(newAttention)
    {
        setText(text);
    }

    void undo() override { m_document->assignLambda(m_oldLambda, m_oldAttention); }
    void redo() override { m_document->assignLambda(m_newLambda, m_newAttention); }

private:
    FactorDocument *m_document;
    std::vector<double> m_oldLambda;
    std::optional<double> m_oldAttention;
    std::vector<double> m_newLambda;
    std::optional<double> m_newAttention;
};

class SetDRcdCommand : public QUndoCommand {
public:
    SetDRcdCommand(FactorDocument *document, int oldValue, int newValue)
        : m_document(document), m_oldValue(oldValue), m_newValue(newValue)
    {
        setText(QObject::tr("Set d_rcd = %1").arg(newValue));
    }

    void undo() override { m_document->assignDRcd(m_oldValue); }
    void redo() override { m_document->assignDRcd(m_newValue); }

private:
    FactorDocument *m_document;
    int m_oldValue;
    int m_newValue;
};

class SetTargetLengthCommand : public QUndoCommand {
public:
    SetTargetLengthCommand(FactorDocument *document, double oldValue, double newValue)
        : m_document(document), m_oldValue(oldValue), m_newValue(newValue)
    {
        setText(QObject::tr("Set target length = %1").arg(newValue, 0, 'f', 0));
    }

    void undo() override { m_document->assignTargetLength(m_oldValue); }
    void redo() override { m_document->assignTargetLength(m_newValue); }

private:
    FactorDocument *m_document;
    double m_oldValue;
    double m_newValue;
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
    emit configChanged();
}

void FactorDocument::openSession(const Session &session, const RopeConfig &config)
{
    m_config = config;
    m_geometry = computeGeometry(config, session.targetLength);
    m_dRcd = std::clamp(session.dRcd, 0, config.pairs());
    m_lambda = session.lambda;
    m_attentionFactor = session.attentionFactor;
    m_visibleFamilies = session.visibleFamilies;
    recomputeFamilies();
    m_undoStack->clear();
    emit configChanged();
}

Session FactorDocument::toSession() const
{
    Session session;
    session.configSource = m_config.source;
    session.configJson = m_config.json;
    session.targetLength = targetLength();
    session.dRcd = m_dRcd;
    session.lambda = m_lambda;
    session.attentionFactor = m_attentionFactor;
    session.visibleFamilies = m_visibleFamilies;
    return session;
}

double FactorDocument::effectiveAttentionFactor() const
{
    return m_attentionFactor.value_or(longropeAttentionFactor(m_geometry.scale, m_geometry.trainLength));
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
