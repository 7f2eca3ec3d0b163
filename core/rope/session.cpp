#include "rope/session.h"
#include "rope/configexport.h"
#include "common/error.h"
#include "common/jsonarray.h"
#include "rope/ropeconfig.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>

#include <cmath>

namespace rs {

namespace {
const QString kFormat = QStringLiteral("ropescope-session");
}

QJsonObject EditingSession::toJson() const
{
    QJsonObject o;
    o.insert(QStringLiteral("format"), kFormat);
    o.insert(QStringLiteral("version"), kVersion);
    o.insert(QStringLiteral("config_source"), configSource);
    o.insert(QStringLiteral("config"), configJson);
    o.insert(QStringLiteral("target_length"), targetLength);
    o.insert(QStringLiteral("d_rcd"), dRcd);
    o.insert(QStringLiteral("lambda"), toJsonArray(lambda));
    if (attentionFactor)
        o.insert(QStringLiteral("attention_factor"), *attentionFactor);
    o.insert(QStringLiteral("visible_families"), QJsonArray::fromStringList(visibleFamilies));
    return o;
}

EditingSession EditingSession::fromJson(const QJsonObject &o, const QString &source)
{
    auto fail = [&](const QString &problem) { throw Error(source, problem); };
    if (o.value(QLatin1String("format")).toString() != kFormat)
        fail(QStringLiteral("not a RopeScope session (\"format\" is not \"%1\")").arg(kFormat));
    const int version = o.value(QLatin1String("version")).toInt(-1);
    if (version != kVersion)
        fail(QStringLiteral("session version %1 is not supported (this build reads version %2)").arg(version).arg(kVersion));
    for (const char *key : {"config", "target_length", "d_rcd", "lambda"})
        if (!o.contains(QLatin1String(key)))
            fail(QStringLiteral("missing \"%1\"").arg(QLatin1String(key)));
    if (!o.value(QLatin1String("config")).isObject())
        fail(QStringLiteral("\"config\" must be an object"));

    EditingSession s;
    s.configSource = o.value(QLatin1String("config_source")).toString();
    s.configJson = o.value(QLatin1String("config")).toObject();
    // Validates the embedded config and gives the expected factor count.
    const RopeConfig config = parseRopeConfig(QJsonDocument(s.configJson).toJson(QJsonDocument::Compact),
                                              source + QStringLiteral(" (embedded config)"));
    s.targetLength = o.value(QLatin1String("target_length")).toDouble(-1);
    if (!(s.targetLength >= 1))
        fail(QStringLiteral("\"target_length\" must be a positive number"));
    s.dRcd = o.value(QLatin1String("d_rcd")).toInt(-1);
    if (s.dRcd < 0 || s.dRcd > config.pairs())
        fail(QStringLiteral("\"d_rcd\" must be between 0 and %1").arg(config.pairs()));
    const QJsonValue lambda = o.value(QLatin1String("lambda"));
    if (!lambda.isArray())
        fail(QStringLiteral("\"lambda\" must be a list of numbers"));
    const QJsonArray l = lambda.toArray();
    if (l.size() != config.pairs())
        fail(QStringLiteral("\"lambda\" has %1 values but the model has %2 rotary pairs").arg(l.size()).arg(config.pairs()));
    for (int i = 0; i < l.size(); ++i) {
        const double v = l[i].toDouble(std::nan(""));
        if (!l[i].isDouble() || !std::isfinite(v) || v <= 0)
            fail(QStringLiteral("\"lambda\"[%1] must be a finite positive number").arg(i));
        if (v < kMinFactor || v > kMaxFactor)
            fail(QStringLiteral("\"lambda\"[%1] = %2 is outside [%3, %4], not a usable rescale factor")
                     .arg(i).arg(v).arg(kMinFactor).arg(kMaxFactor));
        s.lambda.push_back(v);
    }
    if (o.contains(QLatin1String("attention_factor"))) {
        const double a = o.value(QLatin1String("attention_factor")).toDouble(-1);
        if (!(a > 0) || !std::isfinite(a))
            fail(QStringLiteral("\"attention_factor\" must be a positive number"));
        s.attentionFactor = a;
    }
    for (const QJsonValue &v : o.value(QLatin1String("visible_families")).toArray())
        s.visibleFamilies.append(v.toString());
    return s;
}

void saveSession(const QString &path, const EditingSession &session)
{
    writeJsonFile(path, session.toJson());
}

EditingSession loadSession(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        throw Error(path, QStringLiteral("cannot open: %1").arg(f.errorString()));
    QJsonParseError err;
    const QJsonDocument doc = QJsonDocument::fromJson(f.readAll(), &err);
    if (err.error != QJsonParseError::NoError)
        throw Error(path, QStringLiteral("malformed JSON at byte %1: %2").arg(err.offset).arg(err.errorString()));
    if (!doc.isObject())
        throw Error(path, QStringLiteral("expected a JSON object"));
    return EditingSession::fromJson(doc.object(), path);
}

} // namespace rs
