#include "rope/ropeconfig.h"
#include "common/error.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>
#include <QStringList>

#include <cmath>

namespace rs {
namespace {

const QStringList kKnownRopeTypes = {QStringLiteral("default"), QStringLiteral("linear"), QStringLiteral("dynamic"),
                                     QStringLiteral("yarn"),    QStringLiteral("llama3"), QStringLiteral("longrope")};

// Reads keys from the scaling dict first, then from the top level, with error messages that name
// the file and the key.
class ConfigReader {
public:
    ConfigReader(const QJsonObject &top, const QJsonObject &rope, QString source)
        : m_top(top), m_rope(rope), m_source(std::move(source)) {}

    [[noreturn]] void fail(const QString &problem) const { throw Error(m_source, problem); }

    // A value present in the rope dict wins over the top level (null counts as absent).
    QJsonValue lookup(const QString &key, bool ropeFirst = true) const
    {
        const QJsonValue inRope = m_rope.value(key);
        const QJsonValue atTop = m_top.value(key);
        if (ropeFirst)
            return isSet(inRope) ? inRope : atTop;
        return isSet(atTop) ? atTop : inRope;
    }

    std::optional<double> number(const QString &key, const QJsonValue &v) const
    {
        if (!isSet(v))
            return std::nullopt;
        if (!v.isDouble())
            fail(QStringLiteral("\"%1\" must be a number, found %2").arg(key, describe(v)));
        const double x = v.toDouble();
        if (!std::isfinite(x))
            fail(QStringLiteral("\"%1\" is not finite").arg(key));
        return x;
    }
    std::optional<double> ropeNumber(const QString &key) const { return number(key, m_rope.value(key)); }
    std::optional<double> anyNumber(const QString &key) const { return number(key, lookup(key)); }
    std::optional<double> topNumber(const QString &key) const { return number(key, m_top.value(key)); }

    double positive(const QString &key, std::optional<double> v) const
    {
        if (!v)
            fail(QStringLiteral("missing \"%1\"").arg(key));
        if (*v <= 0)
            fail(QStringLiteral("\"%1\" must be positive, found %2").arg(key).arg(*v));
        return *v;
    }

    int positiveInt(const QString &key, std::optional<double> v) const
    {
        const double x = positive(key, v);
        if (x != std::floor(x))
            fail(QStringLiteral("\"%1\" must be a whole number, found %2").arg(key).arg(x));
        return int(x);
    }

    std::vector<double> factorList(const QString &key, int expected) const
    {
        const QJsonValue v = m_rope.value(key);
        if (!isSet(v))
            fail(QStringLiteral("longrope scaling is missing \"%1\"").arg(key));
        if (!v.isArray())
            fail(QStringLiteral("\"%1\" must be a list of numbers, found %2").arg(key, describe(v)));
        const QJsonArray a = v.toArray();
        if (a.size() != expected)
            fail(QStringLiteral("\"%1\" has %2 values but the model has %3 rotary pairs (d/2)")
                     .arg(key).arg(a.size()).arg(expected));
        std::vector<double> out;
        out.reserve(size_t(a.size()));
        for (int i = 0; i < a.size(); ++i) {
            if (!a[i].isDouble())
                fail(QStringLiteral("\"%1\"[%2] is not a number (%3)").arg(key).arg(i).arg(describe(a[i])));
            const double x = a[i].toDouble();
            if (!std::isfinite(x) || x <= 0)
                fail(QStringLiteral("\"%1\"[%2] = %3 must be finite and positive").arg(key).arg(i).arg(x));
            out.push_back(x);
        }
        return out;
    }

    static bool isSet(const QJsonValue &v) { return !v.isUndefined() && !v.isNull(); }

    static QString describe(const QJsonValue &v)
    {
        switch (v.type()) {
        case QJsonValue::String: return QStringLiteral("the text \"%1\"").arg(v.toString());
        case QJsonValue::Bool: return QStringLiteral("a boolean");
        case QJsonValue::Array: return QStringLiteral("a list");
        case QJsonValue::Object: return QStringLiteral("an object");
        case QJsonValue::Null: return QStringLiteral("null");
        default: return QStringLiteral("a number");
        }
    }

private:
    QJsonObject m_top;
    QJsonObject m_rope;
    QString m_source;
};

// transformers 5 may nest rope_parameters per attention type (e.g. "full_attention"); RoPE
// scaling concerns the full-attention layers.
QJsonObject flattenRopeParameters(const QJsonObject &p)
{
    if (p.contains(QLatin1String("rope_type")) || p.contains(QLatin1String("rope_theta")) ||
        p.contains(QLatin1String("type")))
        return p;
    if (p.value(QLatin1String("full_attention")).isObject())
        return p.value(QLatin1String("full_attention")).toObject();
    for (auto it = p.begin(); it != p.end(); ++it)
        if (it.value().isObject())
            return it.value().toObject();
    return p;
}

} // namespace

double RopeConfig::defaultTargetLength() const
{
    if (maxPositionEmbeddings > trainLength)
        return maxPositionEmbeddings;
    if (isScaled() && scaling.factor > 1.0)
        return trainLength * scaling.factor;
    return trainLength;
}

RopeConfig parseRopeConfig(const QByteArray &json, const QString &source)
{
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &parseError);
    if (parseError.error != QJsonParseError::NoError)
        throw Error(source, QStringLiteral("malformed JSON at byte %1: %2").arg(parseError.offset).arg(parseError.errorString()));
    if (!doc.isObject())
        throw Error(source, QStringLiteral("expected a JSON object (a Hugging Face config.json)"));

    RopeConfig c;
    c.source = source;
    c.json = doc.object();
    const QJsonObject &top = c.json;

    QJsonObject rope;
    const QJsonValue params = top.value(QLatin1String("rope_parameters"));
    const QJsonValue scaling = top.value(QLatin1String("rope_scaling"));
    if (params.isObject()) {
        c.form = ConfigForm::Hf5;
        rope = flattenRopeParameters(params.toObject());
    } else if (ConfigReader::isSet(params)) {
        throw Error(source, QStringLiteral("\"rope_parameters\" must be an object"));
    } else if (scaling.isObject()) {
        rope = scaling.toObject();
    } else if (ConfigReader::isSet(scaling)) {
        throw Error(source, QStringLiteral("\"rope_scaling\" must be an object or null"));
    }
    const ConfigReader r(top, rope, source);

    c.modelType = top.value(QLatin1String("model_type")).toString();
    // transformers' Llama-family default when a config leaves rope_theta out.
    c.base = r.positive(QStringLiteral("rope_theta"), r.anyNumber(QStringLiteral("rope_theta")).value_or(10000.0));
    if (c.base <= 1.0)
        r.fail(QStringLiteral("\"rope_theta\" must be greater than 1, found %1").arg(c.base));

    if (const auto hd = r.topNumber(QStringLiteral("head_dim")); hd && *hd > 0) {
        c.headDim = r.positiveInt(QStringLiteral("head_dim"), hd);
    } else {
        const auto hidden = r.topNumber(QStringLiteral("hidden_size"));
        const auto heads = r.topNumber(QStringLiteral("num_attention_heads"));
        if (!hidden || !heads)
            r.fail(QStringLiteral("cannot tell the head size: needs \"head_dim\" or \"hidden_size\" and \"num_attention_heads\""));
        const int h = r.positiveInt(QStringLiteral("hidden_size"), hidden);
        const int n = r.positiveInt(QStringLiteral("num_attention_heads"), heads);
        if (h % n != 0)
            r.fail(QStringLiteral("\"hidden_size\" %1 is not divisible by \"num_attention_heads\" %2").arg(h).arg(n));
        c.headDim = h / n;
    }

    c.partialRotaryFactor = r.anyNumber(QStringLiteral("partial_rotary_factor")).value_or(1.0);
    if (c.partialRotaryFactor <= 0 || c.partialRotaryFactor > 1)
        r.fail(QStringLiteral("\"partial_rotary_factor\" must be in (0, 1], found %1").arg(c.partialRotaryFactor));
    c.rotaryDims = int(c.headDim * c.partialRotaryFactor);
    if (c.rotaryDims < 2 || c.rotaryDims % 2 != 0)
        r.fail(QStringLiteral("the rotary dimension head_dim × partial_rotary_factor = %1 must be even and at least 2")
                   .arg(c.headDim * c.partialRotaryFactor));

    c.maxPositionEmbeddings = r.positiveInt(QStringLiteral("max_position_embeddings"),
                                            r.topNumber(QStringLiteral("max_position_embeddings")));
    // A top-level value wins: transformers 4.x reads only that one for longrope, and 5.x copies it
    // over the dict's when standardizing rope_parameters.
    const auto original = r.number(QStringLiteral("original_max_position_embeddings"),
                                   r.lookup(QStringLiteral("original_max_position_embeddings"), false));
    c.trainLength = original ? r.positiveInt(QStringLiteral("original_max_position_embeddings"), original)
                             : c.maxPositionEmbeddings;

    RopeScaling &s = c.scaling;
    QString type = rope.value(QLatin1String("rope_type")).toString();
    if (type.isEmpty())
        type = rope.value(QLatin1String("type")).toString();
    if (type.isEmpty())
        type = QStringLiteral("default");
    if (type == QLatin1String("su"))  // Phi-3's name for longrope before it was renamed
        type = QStringLiteral("longrope");
    if (!kKnownRopeTypes.contains(type))
        r.fail(QStringLiteral("rope type \"%1\" is not supported (known: %2)").arg(type, kKnownRopeTypes.join(QStringLiteral(", "))));
    s.type = type;

    s.attentionFactor = r.ropeNumber(QStringLiteral("attention_factor"));
    if (s.attentionFactor && *s.attentionFactor <= 0)
        r.fail(QStringLiteral("\"attention_factor\" must be positive"));

    if (type == QLatin1String("longrope")) {
        s.shortFactor = r.factorList(QStringLiteral("short_factor"), c.pairs());
        s.longFactor = r.factorList(QStringLiteral("long_factor"), c.pairs());
        s.factor = r.ropeNumber(QStringLiteral("factor")).value_or(double(c.maxPositionEmbeddings) / c.trainLength);
    } else if (type != QLatin1String("default")) {
        s.factor = r.positive(QStringLiteral("factor"), r.ropeNumber(QStringLiteral("factor")));
    }
    if (type == QLatin1String("yarn")) {
        s.betaFast = r.ropeNumber(QStringLiteral("beta_fast")).value_or(32.0);
        s.betaSlow = r.ropeNumber(QStringLiteral("beta_slow")).value_or(1.0);
        s.mscale = r.ropeNumber(QStringLiteral("mscale"));
        s.mscaleAllDim = r.ropeNumber(QStringLiteral("mscale_all_dim"));
        const QJsonValue truncate = rope.value(QLatin1String("truncate"));
        s.truncate = truncate.isBool() ? truncate.toBool() : true;
        if (!(s.betaFast > s.betaSlow))
            r.fail(QStringLiteral("yarn needs beta_fast > beta_slow, found %1 and %2").arg(s.betaFast).arg(s.betaSlow));
    }
    if (type == QLatin1String("llama3")) {
        s.lowFreqFactor = r.positive(QStringLiteral("low_freq_factor"), r.ropeNumber(QStringLiteral("low_freq_factor")));
        s.highFreqFactor = r.positive(QStringLiteral("high_freq_factor"), r.ropeNumber(QStringLiteral("high_freq_factor")));
        if (!(s.highFreqFactor > s.lowFreqFactor))
            r.fail(QStringLiteral("llama3 needs high_freq_factor > low_freq_factor"));
        if (!original)
            r.fail(QStringLiteral("llama3 scaling needs \"original_max_position_embeddings\""));
    }
    return c;
}

RopeConfig loadRopeConfig(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        throw Error(path, QStringLiteral("cannot open: %1").arg(f.errorString()));
    return parseRopeConfig(f.readAll(), path);
}

} // namespace rs
