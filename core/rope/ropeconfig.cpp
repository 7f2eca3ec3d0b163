#include "rope/ropeconfig.h"
#include "common/error.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>
#include <QStringList>

#include <algorithm>
#include <cmath>

namespace rs {
namespace {

const QStringList kKnownRopeTypes = {QStringLiteral("default"), QStringLiteral("linear"), QStringLiteral("dynamic"),
                                     QStringLiteral("yarn"),    QStringLiteral("llama3"), QStringLiteral("longrope")};

// Model types whose positions are not rotary: a geometry of theirs would be invented.
const QStringList kNotRope = {QStringLiteral("gpt2"), QStringLiteral("gpt_bigcode"), QStringLiteral("bloom"),
                              QStringLiteral("mpt"),  QStringLiteral("opt"),         QStringLiteral("bert"),
                              QStringLiteral("roberta"), QStringLiteral("t5"),       QStringLiteral("bart")};

// transformers' Phi3Config default for original_max_position_embeddings.
constexpr int kPhi3DefaultOriginal = 4096;
// transformers' FalconConfig default for max_position_embeddings (old RefinedWeb configs omit it).
constexpr int kFalconDefaultPositions = 2048;

QString numberText(double x)
{
    return QString::number(x, 'g', 17);
}

// Reads keys from the scaling dict first, then from the top level, with error messages that name
// the file and the key. Numbers are range-checked as doubles before any conversion to int, so a
// message shows the value as written (2147483648, 1e+308), never a wrapped one.
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
            fail(QStringLiteral("\"%1\" must be positive, found %2").arg(key, numberText(*v)));
        return *v;
    }

    // A whole number in [1, maximum], checked before it becomes an int.
    int boundedInt(const QString &key, std::optional<double> v, int maximum) const
    {
        const double x = positive(key, v);
        if (x != std::floor(x))
            fail(QStringLiteral("\"%1\" must be a whole number, found %2").arg(key, numberText(x)));
        if (x > maximum)
            fail(QStringLiteral("\"%1\" = %2 is beyond what this tool reads (at most %3)").arg(key, numberText(x)).arg(maximum));
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
            if (x < kMinFactor || x > kMaxFactor)
                fail(QStringLiteral("\"%1\"[%2] = %3 is outside [%4, %5], not a rescale factor")
                         .arg(key).arg(i).arg(numberText(x)).arg(kMinFactor).arg(kMaxFactor));
            out.push_back(x);
        }
        return out;
    }

    // A key that names a type must hold text.
    QString text(const QJsonObject &o, const QString &key) const
    {
        const QJsonValue v = o.value(key);
        if (!isSet(v))
            return {};
        if (!v.isString())
            fail(QStringLiteral("\"%1\" must be a string, found %2").arg(key, describe(v)));
        return v.toString();
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
        default: return QStringLiteral("the number %1").arg(numberText(v.toDouble()));
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

bool hasHeadKeys(const QJsonObject &o)
{
    for (const char *key : {"head_dim", "hidden_size", "n_embd", "n_embed", "qk_rope_head_dim"})
        if (ConfigReader::isSet(o.value(QLatin1String(key))))
            return true;
    return false;
}

void warn(RopeConfig &c, const QString &warning) { c.warnings << warning; }

// The first of `keys` that `top` sets, else the first of them (for the messages).
QString firstSetKey(const QJsonObject &top, std::initializer_list<const char *> keys)
{
    for (const char *k : keys)
        if (ConfigReader::isSet(top.value(QLatin1String(k))))
            return QString::fromLatin1(k);
    return QString::fromLatin1(*keys.begin());
}

// The rope dict a config's scaling is read from, and its sliding-window layers' own, if any.
struct RopeSection {
    QJsonObject rope;
    QJsonObject sliding;  // 5.x per-layer-type parameters of the sliding-window layers, if any
};

RopeSection readRopeSection(const QJsonObject &top, const QString &source, RopeConfig &c)
{
    RopeSection section;
    // transformers reads `rope_scaling or rope_parameters`: 4.x knows only rope_scaling, and 5.x
    // takes it first when a config carries both.
    const QJsonValue params = top.value(QLatin1String("rope_parameters"));
    const QJsonValue scaling = top.value(QLatin1String("rope_scaling"));
    if (ConfigReader::isSet(params) && !params.isObject())
        throw Error(source, QStringLiteral("\"rope_parameters\" must be an object"));
    if (ConfigReader::isSet(scaling) && !scaling.isObject())
        throw Error(source, QStringLiteral("\"rope_scaling\" must be an object or null"));
    if (!scaling.toObject().isEmpty()) {
        section.rope = scaling.toObject();
        if (!params.toObject().isEmpty())
            warn(c, QStringLiteral("the config has both \"rope_scaling\" and \"rope_parameters\": \"rope_scaling\" is read and "
                                   "\"rope_parameters\" ignored, as transformers does (4.x knows only rope_scaling, 5.x "
                                   "takes it first)"));
    } else if (params.isObject()) {
        c.form = ConfigForm::Hf5;
        section.rope = flattenRopeParameters(params.toObject());
        section.sliding = params.toObject().value(QLatin1String("sliding_attention")).toObject();
    }
    return section;
}

void readBase(const ConfigReader &r, bool neox, RopeConfig &c)
{
    // rope_theta; GPT-NeoX's older name is rotary_emb_base, which transformers 4.x prefers.
    std::optional<double> theta = r.ropeNumber(QStringLiteral("rope_theta"));
    if (!theta && neox) {
        theta = r.topNumber(QStringLiteral("rotary_emb_base"));
        const auto topTheta = r.topNumber(QStringLiteral("rope_theta"));
        if (theta && topTheta && *topTheta != *theta)
            warn(c, QStringLiteral("\"rotary_emb_base\" %1 is used and \"rope_theta\" %2 ignored, as transformers' GPTNeoXConfig does")
                        .arg(numberText(*theta), numberText(*topTheta)));
    }
    if (!theta)
        theta = r.topNumber(QStringLiteral("rope_theta"));
    // transformers' Llama-family default when a config leaves rope_theta out.
    c.base = r.positive(QStringLiteral("rope_theta"), theta.value_or(10000.0));
    if (c.base <= 1.0)
        r.fail(QStringLiteral("\"rope_theta\" must be greater than 1, found %1").arg(numberText(c.base)));
    if (c.base > kMaxRopeTheta)
        r.fail(QStringLiteral("\"rope_theta\" = %1 is beyond what this tool reads (at most %2)").arg(numberText(c.base)).arg(kMaxRopeTheta));
}

void readHeadDim(const ConfigReader &r, const QJsonObject &top, RopeConfig &c)
{
    // The head: head_dim, else hidden / heads under the names the families use; DeepSeek's MLA
    // rotates only qk_rope_head_dim of each query/key head (transformers sets head_dim to it).
    const auto headDimValue = r.topNumber(QStringLiteral("head_dim"));
    const auto qkRope = r.topNumber(QStringLiteral("qk_rope_head_dim"));
    if (qkRope) {
        c.headDim = r.boundedInt(QStringLiteral("qk_rope_head_dim"), qkRope, kMaxHeadDim);
    } else if (headDimValue && *headDimValue != 0) {
        c.headDim = r.boundedInt(QStringLiteral("head_dim"), headDimValue, kMaxHeadDim);
    } else {
        if (headDimValue)
            warn(c, QStringLiteral("\"head_dim\" 0 is read as absent, as transformers does: the head size is hidden_size / "
                                   "num_attention_heads"));
        const QString hiddenKey = firstSetKey(top, {"hidden_size", "n_embd", "n_embed"});
        const QString headsKey = firstSetKey(top, {"num_attention_heads", "n_head"});
        const auto hidden = r.topNumber(hiddenKey);
        const auto heads = r.topNumber(headsKey);
        if (!hidden || !heads)
            r.fail(QStringLiteral("cannot tell the head size: needs \"head_dim\" or \"hidden_size\" and \"num_attention_heads\""));
        const int h = r.boundedInt(hiddenKey, hidden, kMaxHiddenSize);
        const int n = r.boundedInt(headsKey, heads, kMaxHiddenSize);
        if (h % n != 0)
            r.fail(QStringLiteral("\"%1\" %2 is not divisible by \"%3\" %4").arg(hiddenKey).arg(h).arg(headsKey).arg(n));
        c.headDim = h / n;
        if (c.headDim > kMaxHeadDim)
            r.fail(QStringLiteral("the head size %1 / %2 = %3 is beyond what this tool reads (at most %4)")
                       .arg(hiddenKey, headsKey).arg(c.headDim).arg(kMaxHeadDim));
    }
}

void readRotaryDims(const ConfigReader &r, const QJsonObject &top, bool neox, RopeConfig &c)
{
    const QString &family = c.modelType;
    // The rotated share of the head: partial_rotary_factor, GPT-NeoX's rotary_pct, StableLM's
    // rope_pct, GPT-J's and CodeGen's rotary_dim.
    std::optional<double> partial = r.ropeNumber(QStringLiteral("partial_rotary_factor"));
    QString partialKey = QStringLiteral("partial_rotary_factor");
    auto fromTop = [&](const QString &key) {
        if (!partial && (partial = r.topNumber(key)))
            partialKey = key;
    };
    if (neox)
        fromTop(QStringLiteral("rotary_pct"));
    fromTop(QStringLiteral("partial_rotary_factor"));
    fromTop(QStringLiteral("rope_pct"));
    if (!partial && neox) {
        partial = 0.25;
        warn(c, QStringLiteral("no \"rotary_pct\": transformers' GPT-NeoX default 0.25 is used"));
    }
    c.partialRotaryFactor = partial.value_or(1.0);
    if (c.partialRotaryFactor <= 0 || c.partialRotaryFactor > 1)
        r.fail(QStringLiteral("\"%1\" must be in (0, 1], found %2").arg(partialKey, numberText(c.partialRotaryFactor)));
    c.rotaryDims = int(c.headDim * c.partialRotaryFactor);
    if (family == QLatin1String("gptj") || family == QLatin1String("codegen")) {
        const QJsonValue rd = top.value(QLatin1String("rotary_dim"));
        if (rd.isUndefined()) {
            c.rotaryDims = std::min(64, c.headDim);
            warn(c, QStringLiteral("no \"rotary_dim\": transformers' default 64 is used"));
        } else if (!rd.isNull()) {
            c.rotaryDims = r.boundedInt(QStringLiteral("rotary_dim"), r.topNumber(QStringLiteral("rotary_dim")), kMaxHeadDim);
            if (c.rotaryDims > c.headDim)
                r.fail(QStringLiteral("\"rotary_dim\" %1 exceeds the head size %2").arg(c.rotaryDims).arg(c.headDim));
        }
        c.partialRotaryFactor = double(c.rotaryDims) / c.headDim;
    }
    if (c.rotaryDims < 2 || c.rotaryDims % 2 != 0)
        r.fail(QStringLiteral("the rotary dimension head_dim × partial_rotary_factor = %1 must be even and at least 2")
                   .arg(c.headDim * c.partialRotaryFactor));
}

// original_max_position_embeddings as the config writes it (L_train and the Phi-3 and longrope
// rules depend on where it stands).
struct TrainLengthSource {
    std::optional<double> original;
    bool originalAtTop = false;
};

TrainLengthSource readLengths(const ConfigReader &r, const QJsonObject &top, RopeConfig &c)
{
    const QString &family = c.modelType;
    TrainLengthSource lengths;
    const QString positionsKey = firstSetKey(top, {"max_position_embeddings", "n_positions"});
    std::optional<double> positions = r.topNumber(positionsKey);
    if (!positions && family == QLatin1String("falcon")) {
        positions = kFalconDefaultPositions;
        warn(c, QStringLiteral("no \"max_position_embeddings\": transformers' Falcon default %1 is used").arg(kFalconDefaultPositions));
    }
    c.maxPositionEmbeddings = r.boundedInt(positionsKey, positions, kMaxPositions);
    // A top-level value wins: transformers 4.x reads only that one for longrope, and 5.x copies it
    // over the dict's when standardizing rope_parameters.
    lengths.originalAtTop = ConfigReader::isSet(top.value(QLatin1String("original_max_position_embeddings")));
    lengths.original = r.number(QStringLiteral("original_max_position_embeddings"),
                                r.lookup(QStringLiteral("original_max_position_embeddings"), false));
    c.trainLength = lengths.original
                        ? r.boundedInt(QStringLiteral("original_max_position_embeddings"), lengths.original, kMaxPositions)
                        : c.maxPositionEmbeddings;
    return lengths;
}

void readRopeType(const ConfigReader &r, const QJsonObject &rope, const TrainLengthSource &lengths, RopeConfig &c)
{
    const QString &family = c.modelType;
    QString type = r.text(rope, QStringLiteral("rope_type"));
    if (type.isEmpty())
        type = r.text(rope, QStringLiteral("type"));
    if (type.isEmpty())
        type = QStringLiteral("default");
    if (type == QLatin1String("su"))  // Phi-3's name for longrope before it was renamed
        type = QStringLiteral("longrope");
    const bool phi3 = family == QLatin1String("phi3");
    if (phi3 && type == QLatin1String("yarn")) {
        warn(c, QStringLiteral("rope type \"yarn\" is read as \"longrope\", as transformers' Phi3Config does"));
        type = QStringLiteral("longrope");
    }
    if (!kKnownRopeTypes.contains(type))
        r.fail(QStringLiteral("rope type \"%1\" is not supported (known: %2)").arg(type, kKnownRopeTypes.join(QStringLiteral(", "))));
    c.scaling.type = type;

    // transformers' Phi3Config has its own original_max_position_embeddings (default 4096), which
    // both 4.x and 5.x use over a value inside the rope dict.
    if (phi3 && type == QLatin1String("longrope") && !lengths.originalAtTop) {
        if (!lengths.original)
            warn(c, QStringLiteral("no \"original_max_position_embeddings\": transformers' Phi3Config default %1 is used as "
                                   "L_train").arg(kPhi3DefaultOriginal));
        else if (c.trainLength != kPhi3DefaultOriginal)
            warn(c, QStringLiteral("\"original_max_position_embeddings\" %1 is only inside the rope dict, where transformers' "
                                   "Phi3Config ignores it for its own default %2; L_train = %2 is used as transformers does. "
                                   "Write it at the top level to say which is meant (other loaders may read %1)")
                        .arg(c.trainLength).arg(kPhi3DefaultOriginal));
        c.trainLength = kPhi3DefaultOriginal;
    }
}

void readScalingFactors(const ConfigReader &r, const QJsonObject &rope, const TrainLengthSource &lengths, RopeConfig &c)
{
    RopeScaling &s = c.scaling;
    s.attentionFactor = r.ropeNumber(QStringLiteral("attention_factor"));
    if (s.attentionFactor && *s.attentionFactor <= 0)
        r.fail(QStringLiteral("\"attention_factor\" must be positive"));

    // A scaling factor must be positive, and the context it implies must be one this tool reads.
    auto checkFactor = [&](double f) {
        r.positive(QStringLiteral("factor"), f);
        if (f * c.trainLength > kMaxPositions)
            r.fail(QStringLiteral("\"factor\" = %1 implies a context of %2 tokens (L_train × factor), beyond what this "
                                  "tool reads (at most %3)").arg(numberText(f), numberText(f * c.trainLength)).arg(kMaxPositions));
        if (f < 1.0)
            warn(c, QStringLiteral("\"factor\" %1 is below 1, which shrinks the context (transformers warns too)").arg(numberText(f)));
    };
    const double ratio = double(c.maxPositionEmbeddings) / c.trainLength;
    const QString &type = s.type;
    if (type == QLatin1String("longrope")) {
        s.shortFactor = r.factorList(QStringLiteral("short_factor"), c.pairs());
        s.longFactor = r.factorList(QStringLiteral("long_factor"), c.pairs());
        s.shortMscale = r.ropeNumber(QStringLiteral("short_mscale"));
        s.longMscale = r.ropeNumber(QStringLiteral("long_mscale"));
        for (const auto &[key, value] : {std::pair{"short_mscale", s.shortMscale}, std::pair{"long_mscale", s.longMscale}})
            if (value && !(*value > 0 && *value < kMaxFactor))
                r.fail(QStringLiteral("\"%1\" must be positive and finite").arg(QLatin1String(key)));
        const auto written = r.ropeNumber(QStringLiteral("factor"));
        if (written)
            checkFactor(*written);
        s.factor = written.value_or(ratio);
        // transformers 5.x: the written factor, else the ratio. 4.x with the original length at the
        // top level (the Phi-3 layout): always the ratio.
        const bool hf4Ratio = c.form == ConfigForm::Hf4 && lengths.originalAtTop;
        s.attentionScale = written && !hf4Ratio ? *written : ratio;
        if (written && hf4Ratio && *written != ratio && !s.attentionFactor)
            warn(c, QStringLiteral("longrope \"factor\" %1 differs from max_position_embeddings / original_max_position_embeddings "
                                   "= %2: in this (4.x) form transformers 4.x takes the attention factor from the ratio, which "
                                   "is used here; transformers 5.x would take it from the factor")
                        .arg(numberText(*written), numberText(ratio)));
    } else if (type != QLatin1String("default")) {
        s.factor = r.positive(QStringLiteral("factor"), r.ropeNumber(QStringLiteral("factor")));
        checkFactor(s.factor);
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
        if (lengths.original && ratio != s.factor)
            warn(c, QStringLiteral("yarn \"factor\" %1 differs from max_position_embeddings / original_max_position_embeddings = "
                                   "%2: the factor is used, as transformers 5.x does (4.x releases that derive the factor "
                                   "from that ratio scale by %2)").arg(numberText(s.factor), numberText(ratio)));
    }
    if (type == QLatin1String("llama3")) {
        s.lowFreqFactor = r.positive(QStringLiteral("low_freq_factor"), r.ropeNumber(QStringLiteral("low_freq_factor")));
        s.highFreqFactor = r.positive(QStringLiteral("high_freq_factor"), r.ropeNumber(QStringLiteral("high_freq_factor")));
        if (!(s.highFreqFactor > s.lowFreqFactor))
            r.fail(QStringLiteral("llama3 needs high_freq_factor > low_freq_factor"));
        if (!lengths.original)
            r.fail(QStringLiteral("llama3 scaling needs \"original_max_position_embeddings\""));
    }
}

void warnOfSlidingLayers(const ConfigReader &r, const QJsonObject &top, const QJsonObject &sliding,
                         const QString &source, RopeConfig &c)
{
    // Gemma 2/3 and Cohere 2 alternate sliding-window layers with full-attention ones; only the
    // full-attention layers see the whole context, so they are what the geometry shows.
    std::optional<double> localBase = r.topNumber(QStringLiteral("rope_local_base_freq"));
    if (!localBase && !sliding.isEmpty())
        localBase = ConfigReader(top, sliding, source).ropeNumber(QStringLiteral("rope_theta"));
    if (localBase)
        warn(c, QStringLiteral("the sliding-window layers use their own rope base %1 (no scaling); the geometry shows the "
                               "full-attention layers (base %2)").arg(numberText(*localBase), numberText(c.base)));
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

    // A multimodal config (Gemma 3, Llama 4, Qwen2-VL …) keeps its language model in text_config.
    QJsonObject top = c.json;
    if (!hasHeadKeys(top) && top.value(QLatin1String("text_config")).isObject()) {
        top = top.value(QLatin1String("text_config")).toObject();
        c.section = QStringLiteral("text_config");
    }
    c.modelType = top.value(QLatin1String("model_type")).toString(c.json.value(QLatin1String("model_type")).toString());
    const QString &family = c.modelType;
    if (kNotRope.contains(family))
        throw Error(source, QStringLiteral("model type \"%1\" does not use rotary position embeddings (RoPE): there is no "
                                           "rotary geometry to show").arg(family));
    if (top.value(QLatin1String("alibi")).toBool())
        throw Error(source, QStringLiteral("the model uses ALiBi (\"alibi\": true), not rotary position embeddings: there "
                                           "is no rotary geometry to show"));

    const RopeSection section = readRopeSection(top, source, c);
    const ConfigReader r(top, section.rope, source);
    const bool neox = family == QLatin1String("gpt_neox") || family == QLatin1String("gpt_neox_japanese");
    readBase(r, neox, c);
    readHeadDim(r, top, c);
    readRotaryDims(r, top, neox, c);
    const TrainLengthSource lengths = readLengths(r, top, c);
    readRopeType(r, section.rope, lengths, c);
    readScalingFactors(r, section.rope, lengths, c);
    warnOfSlidingLayers(r, top, section.sliding, source, c);
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
