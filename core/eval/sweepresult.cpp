// The sweep's plain types: summaries, comparisons, and the JSON / CSV files (see sweepresult.h).
#include "eval/sweepresult.h"
#include "common/counting.h"

#include "common/error.h"
#include "common/jsonarray.h"
#include "common/savefile.h"

#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QStringList>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>

namespace rs {
namespace {

const QString kFormat = QStringLiteral("ropescope-sweep");
constexpr int kVersion = 1;

QJsonValue number(double v) { return std::isfinite(v) ? QJsonValue(v) : QJsonValue(QJsonValue::Null); }
double numberFrom(const QJsonValue &v)
{
    return v.isDouble() ? v.toDouble() : std::numeric_limits<double>::quiet_NaN();
}

template <class T>
QJsonArray arrayOf(const std::vector<T> &values)
{
    QJsonArray a;
    for (const T &v : values)
        a.append(number(double(v)));
    return a;
}

// Reads a result's fields with errors naming the file and the field.
struct Reader {
    const QString &source;
    [[noreturn]] void fail(const QString &problem) const { throw Error(source, problem); }

    QJsonValue need(const QJsonObject &o, const char *key) const
    {
        const QJsonValue v = o.value(QLatin1String(key));
        if (v.isUndefined())
            fail(QStringLiteral("missing \"%1\"").arg(QLatin1String(key)));
        return v;
    }
    double real(const QJsonObject &o, const char *key) const
    {
        const QJsonValue v = need(o, key);
        if (!v.isDouble())
            fail(QStringLiteral("\"%1\" must be a number").arg(QLatin1String(key)));
        return v.toDouble();
    }
    int whole(const QJsonObject &o, const char *key) const
    {
        const double v = real(o, key);
        if (v != std::floor(v) || std::abs(v) > std::numeric_limits<int>::max())
            fail(QStringLiteral("\"%1\" must be a whole number").arg(QLatin1String(key)));
        return int(v);
    }
    // Per-sample values may hold null for a non-finite one (+inf PPL of a broken method).
    std::vector<double> reals(const QJsonValue &v, const char *key) const
    {
        if (!v.isArray())
            fail(QStringLiteral("\"%1\" must be an array of numbers").arg(QLatin1String(key)));
        std::vector<double> out;
        for (const QJsonValue &x : v.toArray()) {
            if (!x.isDouble() && !x.isNull())
                fail(QStringLiteral("\"%1\" must be an array of numbers").arg(QLatin1String(key)));
            out.push_back(x.isNull() ? std::numeric_limits<double>::infinity() : x.toDouble());
        }
        return out;
    }
};

SweepMeasure measureFrom(const QString &name, const Reader &r)
{
    if (name == QLatin1String("needle"))
        return SweepMeasure::Needle;
    if (name == QLatin1String("held_out"))
        return SweepMeasure::HeldOut;
    r.fail(QStringLiteral("unknown measure \"%1\" (needle or held_out)").arg(name));
}

QJsonObject settingsToJson(const SweepSettings &s)
{
    return QJsonObject{{QStringLiteral("lengths"), arrayOf(s.lengths)},
                       {QStringLiteral("depths"), arrayOf(s.depths)},
                       {QStringLiteral("curve_depth"), s.curveDepth},
                       {QStringLiteral("samples"), s.samples},
                       {QStringLiteral("seed"), qint64(s.seed)},
                       {QStringLiteral("held_out_seed"), qint64(s.heldOutSeed)},
                       {QStringLiteral("corpus"), s.corpus},
                       {QStringLiteral("target_length"), s.targetLength},
                       {QStringLiteral("engine"), s.engine},
                       {QStringLiteral("needle"), s.needle},
                       {QStringLiteral("held_out"), s.heldOut},
                       {QStringLiteral("passkey"), s.passkey},
                       {QStringLiteral("reference"), s.reference},
                       {QStringLiteral("bootstrap"),
                        QJsonObject{{QStringLiteral("method"), QStringLiteral("BCa, paired over samples")},
                                    {QStringLiteral("resamples"), s.resamples},
                                    {QStringLiteral("seed"), qint64(s.bootstrapSeed)},
                                    {QStringLiteral("level"), BootstrapOptions{}.level}}}};
}

// A seed as written (a JSON number): a whole number that fits uint64_t, else refused (casting
// 1e90 to uint64_t is undefined; found by fuzz_sweepresult).
uint64_t seedFrom(double v, const Reader &r, const char *key)
{
    if (!(v >= 0 && v < 18446744073709551616.0) || v != std::floor(v))
        r.fail(QStringLiteral("\"%1\" must be a whole number from 0 to 2^64 - 1").arg(QLatin1String(key)));
    return uint64_t(v);
}

SweepSettings settingsFromJson(const QJsonObject &o, const Reader &r)
{
    SweepSettings s;
    for (double v : r.reals(r.need(o, "lengths"), "lengths")) {
        if (v != std::floor(v) || std::abs(v) > std::numeric_limits<int>::max())
            r.fail(QStringLiteral("\"lengths\" must hold whole numbers of tokens"));
        s.lengths.push_back(int(v));
    }
    s.depths = r.reals(r.need(o, "depths"), "depths");
    s.curveDepth = r.real(o, "curve_depth");
    s.samples = r.whole(o, "samples");
    s.seed = seedFrom(r.real(o, "seed"), r, "seed");
    s.heldOutSeed = seedFrom(o.value(QLatin1String("held_out_seed")).toDouble(double(s.heldOutSeed)), r, "held_out_seed");
    s.corpus = o.value(QLatin1String("corpus")).toString();
    s.targetLength = r.whole(o, "target_length");
    // Absent in results from before engines were modelled: say so rather than guess one.
    s.engine = o.value(QLatin1String("engine")).toString();
    s.needle = o.value(QLatin1String("needle")).toBool(true);
    s.heldOut = o.value(QLatin1String("held_out")).toBool(true);
    s.passkey = o.value(QLatin1String("passkey")).toBool(false);
    s.reference = o.value(QLatin1String("reference")).toString();
    const QJsonObject b = o.value(QLatin1String("bootstrap")).toObject();
    s.resamples = b.value(QLatin1String("resamples")).toInt(s.resamples);
    s.bootstrapSeed = seedFrom(b.value(QLatin1String("seed")).toDouble(double(s.bootstrapSeed)), r, "seed");
    return s;
}

QJsonObject methodToJson(const SweepMethodSpec &m)
{
    QJsonObject o{{QStringLiteral("name"), m.name}, {QStringLiteral("kind"), m.kind}};
    if (!m.lambda.empty())
        o.insert(QStringLiteral("lambda"), toJsonArray(m.lambda));
    if (m.attentionFactor > 0)
        o.insert(QStringLiteral("attention_factor"), m.attentionFactor);
    if (!m.source.isEmpty())
        o.insert(QStringLiteral("source"), m.source);
    if (!m.modelDir.isEmpty())
        o.insert(QStringLiteral("model"), m.modelDir);
    return o;
}

SweepMethodSpec methodFromJson(const QJsonObject &o, const Reader &r)
{
    SweepMethodSpec m;
    m.name = r.need(o, "name").toString();
    m.kind = r.need(o, "kind").toString();
    if (m.name.isEmpty() || !sweepMethodKinds().contains(m.kind))
        r.fail(QStringLiteral("a method needs a name and a kind (%1)").arg(sweepMethodKinds().join(QStringLiteral(", "))));
    if (holdsLineBreak(m.name))
        r.fail(QStringLiteral("the method name \"%1\" holds a line break").arg(m.name.simplified()));
    if (o.contains(QLatin1String("lambda")))
        m.lambda = r.reals(o.value(QLatin1String("lambda")), "lambda");
    m.attentionFactor = o.value(QLatin1String("attention_factor")).toDouble(0);
    m.source = o.value(QLatin1String("source")).toString();
    m.modelDir = o.value(QLatin1String("model")).toString();
    return m;
}

QJsonObject headerToJson(const SweepResult &r)
{
    QJsonArray methods;
    for (const SweepMethodSpec &m : r.methods)
        methods.append(methodToJson(m));
    return QJsonObject{{QStringLiteral("format"), kFormat},
                       {QStringLiteral("version"), kVersion},
                       {QStringLiteral("model"), r.model},
                       {QStringLiteral("device"), r.device},
                       {QStringLiteral("dtype"), r.dtype},
                       {QStringLiteral("train_length"), r.trainLength},
                       {QStringLiteral("settings"), settingsToJson(r.settings)},
                       {QStringLiteral("methods"), methods},
                       {QStringLiteral("notes"), QJsonArray::fromStringList(r.notes)},
                       {QStringLiteral("cancelled"), r.cancelled},
                       {QStringLiteral("seconds"), r.seconds}};
}

SweepResult headerFromJson(const QJsonObject &o, const Reader &r)
{
    if (o.value(QLatin1String("format")).toString() != kFormat)
        r.fail(QStringLiteral("not a RopeScope sweep result (\"format\" is not \"%1\")").arg(kFormat));
    if (o.value(QLatin1String("version")).toInt() != kVersion)
        r.fail(QStringLiteral("sweep result version %1 is not supported (this build reads %2)")
                   .arg(o.value(QLatin1String("version")).toInt()).arg(kVersion));
    SweepResult out;
    out.model = o.value(QLatin1String("model")).toString();
    out.device = o.value(QLatin1String("device")).toString();
    out.dtype = o.value(QLatin1String("dtype")).toString();
    out.trainLength = r.whole(o, "train_length");
    const QJsonValue settings = r.need(o, "settings");
    if (!settings.isObject())
        r.fail(QStringLiteral("\"settings\" must be an object"));
    out.settings = settingsFromJson(settings.toObject(), r);
    const QJsonValue methods = r.need(o, "methods");
    if (!methods.isArray())
        r.fail(QStringLiteral("\"methods\" must be an array"));
    for (const QJsonValue &m : methods.toArray())
        out.methods.push_back(methodFromJson(m.toObject(), r));
    for (const QJsonValue &note : o.value(QLatin1String("notes")).toArray())
        out.notes << note.toString();
    out.cancelled = o.value(QLatin1String("cancelled")).toBool(false);
    out.seconds = o.value(QLatin1String("seconds")).toDouble(0);
    return out;
}

QJsonObject cellToJson(const SweepCell &c)
{
    QJsonObject o{{QStringLiteral("measure"), measureName(c.measure)},
                  {QStringLiteral("method"), c.method},
                  {QStringLiteral("length"), c.length},
                  {QStringLiteral("value"), number(c.value)},
                  {QStringLiteral("interval"), intervalToJson(c.interval)},
                  {QStringLiteral("per_sample"), arrayOf(c.values)},
                  {QStringLiteral("per_sample_nll"), arrayOf(c.nll)},
                  {QStringLiteral("seconds"), c.seconds}};
    if (c.measure == SweepMeasure::Needle)
        o.insert(QStringLiteral("depth"), c.depth);
    if (!c.passkey.empty()) {
        o.insert(QStringLiteral("passkey_accuracy"), c.passkeyAccuracy);
        o.insert(QStringLiteral("passkey_interval"), intervalToJson(c.passkeyInterval));
        o.insert(QStringLiteral("per_sample_passkey"), arrayOf(c.passkey));
    }
    if (!c.reference.isEmpty())
        o.insert(QStringLiteral("comparison"), comparisonToJson(c.vsReference, c.reference));
    return o;
}

SweepCell cellFromJson(const QJsonObject &o, const Reader &r)
{
    SweepCell c;
    c.measure = measureFrom(r.need(o, "measure").toString(), r);
    c.method = r.need(o, "method").toString();
    c.length = r.whole(o, "length");
    c.depth = c.measure == SweepMeasure::Needle ? r.real(o, "depth") : -1;
    c.values = r.reals(r.need(o, "per_sample"), "per_sample");
    c.nll = r.reals(r.need(o, "per_sample_nll"), "per_sample_nll");
    if (c.values.size() != c.nll.size())
        r.fail(QStringLiteral("a cell of \"%1\" at %2 tokens has %3 per-sample values but %4 NLLs")
                   .arg(c.method).arg(c.length).arg(c.values.size()).arg(c.nll.size()));
    c.value = numberFrom(o.value(QLatin1String("value")));
    c.interval = intervalFromJson(o.value(QLatin1String("interval")));
    if (o.contains(QLatin1String("per_sample_passkey"))) {
        for (double v : r.reals(o.value(QLatin1String("per_sample_passkey")), "per_sample_passkey"))
            c.passkey.push_back(v != 0 ? 1 : 0);
        c.passkeyAccuracy = r.real(o, "passkey_accuracy");
        c.passkeyInterval = intervalFromJson(o.value(QLatin1String("passkey_interval")));
    }
    if (o.contains(QLatin1String("comparison"))) {
        const QJsonObject cmp = o.value(QLatin1String("comparison")).toObject();
        c.reference = cmp.value(QLatin1String("reference")).toString();
        if (holdsLineBreak(c.reference))
            r.fail(QStringLiteral("the reference \"%1\" holds a line break").arg(c.reference.simplified()));
        if (cmp.contains(QLatin1String("bootstrap_seed")))
            seedFrom(cmp.value(QLatin1String("bootstrap_seed")).toDouble(-1), r, "bootstrap_seed");
        c.vsReference = comparisonFromJson(cmp);
    }
    c.seconds = o.value(QLatin1String("seconds")).toDouble(0);
    return c;
}

QString csvField(const QString &text)
{
    if (!text.contains(QLatin1Char(',')) && !text.contains(QLatin1Char('"')) && !text.contains(QLatin1Char('\n')))
        return text;
    QString quoted = text;
    quoted.replace(QLatin1Char('"'), QStringLiteral("\"\""));
    return QLatin1Char('"') + quoted + QLatin1Char('"');
}

// Splits one CSV line (RFC 4180 quoting; no line breaks inside fields, which this writer never makes).
QStringList csvSplit(const QString &line)
{
    QStringList fields;
    QString field;
    bool quoted = false;
    for (int i = 0; i < line.size(); ++i) {
        const QChar ch = line[i];
        if (quoted) {
            if (ch == QLatin1Char('"') && i + 1 < line.size() && line[i + 1] == QLatin1Char('"')) {
                field += QLatin1Char('"');
                ++i;
            } else if (ch == QLatin1Char('"')) {
                quoted = false;
            } else {
                field += ch;
            }
        } else if (ch == QLatin1Char('"')) {
            quoted = true;
        } else if (ch == QLatin1Char(',')) {
            fields << field;
            field.clear();
        } else {
            field += ch;
        }
    }
    fields << field;
    return fields;
}

QString num(double v) { return std::isfinite(v) ? QString::number(v, 'g', 17) : QString(); }
QString list(const std::vector<double> &v)
{
    QStringList parts;
    for (double x : v)
        parts << (std::isfinite(x) ? QString::number(x, 'g', 17) : QStringLiteral("inf"));
    return parts.join(QLatin1Char(';'));
}

const QStringList kCsvColumns = {
    QStringLiteral("measure"), QStringLiteral("method"), QStringLiteral("length"), QStringLiteral("depth"),
    QStringLiteral("samples"), QStringLiteral("value"), QStringLiteral("lower"), QStringLiteral("upper"),
    QStringLiteral("passkey_accuracy"), QStringLiteral("passkey_lower"), QStringLiteral("passkey_upper"),
    QStringLiteral("reference"), QStringLiteral("reference_value"), QStringLiteral("difference"),
    QStringLiteral("difference_lower"), QStringLiteral("difference_upper"), QStringLiteral("ratio"),
    QStringLiteral("ratio_lower"), QStringLiteral("ratio_upper"), QStringLiteral("seconds"),
    QStringLiteral("per_sample"), QStringLiteral("per_sample_nll"), QStringLiteral("per_sample_passkey")};

QString formatCi(double value, const Interval &i, int digits = 4)
{
    QString text = QString::number(value, 'g', digits);
    if (i.valid())
        text += QStringLiteral(" [%1, %2]").arg(QString::number(i.lower, 'g', 3), QString::number(i.upper, 'g', 3));
    return text;
}

} // namespace

QStringList sweepMethodKinds()
{
    return {QStringLiteral("none"), QStringLiteral("pi"),     QStringLiteral("ntk"),    QStringLiteral("yarn"),
            QStringLiteral("llama3"), QStringLiteral("config"), QStringLiteral("factors")};
}

BootstrapOptions SweepSettings::bootstrap() const
{
    BootstrapOptions o;
    o.resamples = resamples;
    o.seed = bootstrapSeed;
    return o;
}

QString measureName(SweepMeasure m)
{
    return m == SweepMeasure::Needle ? QStringLiteral("needle") : QStringLiteral("held_out");
}

const SweepCell *SweepResult::find(SweepMeasure measure, const QString &method, int length, double depth) const
{
    for (const SweepCell &c : cells)
        if (c.measure == measure && c.method == method && c.length == length &&
            (measure == SweepMeasure::HeldOut || std::abs(c.depth - depth) < 1e-9))
            return &c;
    return nullptr;
}

QStringList SweepResult::methodNames() const
{
    QStringList names;
    for (const SweepMethodSpec &m : methods)
        names << m.name;
    return names;
}

std::vector<double> SweepResult::needleDepths() const
{
    std::set<double> depths;
    for (const SweepCell &c : cells)
        if (c.measure == SweepMeasure::Needle)
            depths.insert(c.depth);
    return {depths.begin(), depths.end()};
}

QJsonObject SweepResult::toJson() const
{
    QJsonObject o = headerToJson(*this);
    QJsonArray list;
    for (const SweepCell &c : cells)
        list.append(cellToJson(c));
    o.insert(QStringLiteral("cells"), list);
    return o;
}

SweepResult SweepResult::fromJson(const QJsonObject &json, const QString &source)
{
    const Reader r{source};
    SweepResult out = headerFromJson(json, r);
    const QJsonValue cells = r.need(json, "cells");
    if (!cells.isArray())
        r.fail(QStringLiteral("\"cells\" must be an array"));
    const QStringList names = out.methodNames();
    for (const QJsonValue &v : cells.toArray()) {
        if (!v.isObject())
            r.fail(QStringLiteral("every cell must be an object"));
        SweepCell c = cellFromJson(v.toObject(), r);
        if (!names.contains(c.method))
            r.fail(QStringLiteral("a cell names the method \"%1\", which the result does not list").arg(c.method));
        out.cells.push_back(std::move(c));
    }
    return out;
}

QString SweepResult::toCsv() const
{
    QString text = QStringLiteral("# ") + kFormat + QLatin1Char(' ') +
                   QString::fromUtf8(QJsonDocument(headerToJson(*this)).toJson(QJsonDocument::Compact)) + QLatin1Char('\n');
    text += kCsvColumns.join(QLatin1Char(',')) + QLatin1Char('\n');
    for (const SweepCell &c : cells) {
        std::vector<double> passkey(c.passkey.begin(), c.passkey.end());
        const bool compared = !c.reference.isEmpty();
        const QStringList row{measureName(c.measure),
                              csvField(c.method),
                              QString::number(c.length),
                              c.measure == SweepMeasure::Needle ? num(c.depth) : QString(),
                              QString::number(c.values.size()),
                              num(c.value),
                              num(c.interval.lower),
                              num(c.interval.upper),
                              c.passkey.empty() ? QString() : num(c.passkeyAccuracy),
                              c.passkey.empty() ? QString() : num(c.passkeyInterval.lower),
                              c.passkey.empty() ? QString() : num(c.passkeyInterval.upper),
                              csvField(c.reference),
                              compared ? num(c.vsReference.b) : QString(),
                              compared ? num(c.vsReference.difference.estimate) : QString(),
                              compared ? num(c.vsReference.difference.lower) : QString(),
                              compared ? num(c.vsReference.difference.upper) : QString(),
                              compared ? num(c.vsReference.ratio.estimate) : QString(),
                              compared ? num(c.vsReference.ratio.lower) : QString(),
                              compared ? num(c.vsReference.ratio.upper) : QString(),
                              num(c.seconds),
                              list(c.values),
                              list(c.nll),
                              list(passkey)};
        text += row.join(QLatin1Char(',')) + QLatin1Char('\n');
    }
    return text;
}

SweepResult SweepResult::fromCsv(const QString &text, const QString &source)
{
    const Reader r{source};
    QStringList lines = text.split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    const QString prefix = QStringLiteral("# ") + kFormat + QLatin1Char(' ');
    if (lines.isEmpty() || !lines.front().startsWith(prefix))
        r.fail(QStringLiteral("not a RopeScope sweep CSV (the first line must start with \"%1\")").arg(prefix.trimmed()));
    QJsonParseError parseError;
    const QJsonDocument header = QJsonDocument::fromJson(lines.front().mid(prefix.size()).toUtf8(), &parseError);
    if (!header.isObject())
        r.fail(QStringLiteral("malformed JSON in the first line: %1").arg(parseError.errorString()));
    SweepResult out = headerFromJson(header.object(), r);
    if (lines.size() < 2 || csvSplit(lines[1]) != kCsvColumns)
        r.fail(QStringLiteral("the second line must be the column header %1").arg(kCsvColumns.join(QLatin1Char(','))));
    const auto real = [&](const QString &field, int line, const QString &column) {
        if (field.isEmpty())
            return std::numeric_limits<double>::quiet_NaN();
        bool ok = false;
        const double v = field.toDouble(&ok);
        if (!ok)
            r.fail(QStringLiteral("line %1: \"%2\" in column %3 is not a number").arg(line).arg(field, column));
        return v;
    };
    const auto values = [&](const QString &field, int line, const QString &column) {
        std::vector<double> v;
        for (const QString &part : field.split(QLatin1Char(';'), Qt::SkipEmptyParts))
            v.push_back(part == QLatin1String("inf") ? std::numeric_limits<double>::infinity() : real(part, line, column));
        return v;
    };
    const QStringList names = out.methodNames();
    for (int i = 2; i < lines.size(); ++i) {
        const int lineNo = i + 1;
        const QStringList f = csvSplit(lines[i]);
        if (f.size() != kCsvColumns.size())
            r.fail(QStringLiteral("line %1 has %2 fields, expected %3").arg(lineNo).arg(f.size()).arg(kCsvColumns.size()));
        const auto col = [&](const char *name) { return f[kCsvColumns.indexOf(QLatin1String(name))]; };
        const auto colReal = [&](const char *name) { return real(col(name), lineNo, QLatin1String(name)); };
        SweepCell c;
        c.measure = measureFrom(col("measure"), r);
        c.method = col("method");
        if (!names.contains(c.method))
            r.fail(QStringLiteral("line %1 names the method \"%2\", which the header does not list").arg(lineNo).arg(c.method));
        // The JSON reader's checks, so that a CSV this accepts also saves as JSON that re-opens.
        const double length = colReal("length");
        if (length != std::floor(length) || std::abs(length) > std::numeric_limits<int>::max())
            r.fail(QStringLiteral("line %1: \"%2\" in column length is not a whole number").arg(lineNo).arg(col("length")));
        c.length = int(length);
        c.depth = c.measure == SweepMeasure::Needle ? colReal("depth") : -1;
        c.value = colReal("value");
        c.interval.estimate = c.value;
        c.interval.lower = colReal("lower");
        c.interval.upper = colReal("upper");
        c.values = values(col("per_sample"), lineNo, QStringLiteral("per_sample"));
        c.nll = values(col("per_sample_nll"), lineNo, QStringLiteral("per_sample_nll"));
        if (c.values.size() != c.nll.size())
            r.fail(QStringLiteral("line %1: a cell of \"%2\" at %3 tokens has %4 per-sample values but %5 NLLs")
                       .arg(lineNo).arg(c.method).arg(c.length).arg(c.values.size()).arg(c.nll.size()));
        for (double v : values(col("per_sample_passkey"), lineNo, QStringLiteral("per_sample_passkey")))
            c.passkey.push_back(v != 0 ? 1 : 0);
        if (!c.passkey.empty()) {
            c.passkeyAccuracy = colReal("passkey_accuracy");
            c.passkeyInterval.estimate = c.passkeyAccuracy;
            c.passkeyInterval.lower = colReal("passkey_lower");
            c.passkeyInterval.upper = colReal("passkey_upper");
        }
        c.reference = col("reference");
        if (!c.reference.isEmpty()) {
            PairedComparison &p = c.vsReference;
            p.samples = int(c.values.size());
            p.a = c.value;
            p.b = colReal("reference_value");
            p.difference = Interval{colReal("difference"), colReal("difference_lower"), colReal("difference_upper")};
            p.ratio = Interval{colReal("ratio"), colReal("ratio_lower"), colReal("ratio_upper")};
            p.options = out.settings.bootstrap();
        }
        c.seconds = colReal("seconds");
        out.cells.push_back(std::move(c));
    }
    return out;
}

void SweepResult::save(const QString &path) const
{
    const bool csv = QFileInfo(path).suffix().compare(QLatin1String("csv"), Qt::CaseInsensitive) == 0;
    // Checked like every other output: no FIFO or device, every byte written, the old file kept on failure.
    saveFileAtomically(path, csv ? toCsv().toUtf8() : QJsonDocument(toJson()).toJson(QJsonDocument::Indented));
}

SweepResult SweepResult::load(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        throw Error(path, QStringLiteral("cannot open: %1").arg(file.errorString()));
    const QByteArray bytes = file.readAll();
    if (bytes.startsWith("# "))
        return fromCsv(QString::fromUtf8(bytes), path);
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(bytes, &parseError);
    if (!doc.isObject())
        throw Error(path, QStringLiteral("malformed JSON: %1").arg(parseError.errorString()));
    return fromJson(doc.object(), path);
}

QString SweepResult::markdown() const
{
    QString md;
    const QStringList names = methodNames();
    const QString reference = settings.reference.isEmpty() && !names.isEmpty() ? names.front() : settings.reference;
    const auto table = [&](SweepMeasure measure, double depth, const QString &title) {
        bool any = false;
        for (const SweepCell &c : cells)
            any = any || (c.measure == measure && (measure == SweepMeasure::HeldOut || std::abs(c.depth - depth) < 1e-9));
        if (!any)
            return;
        md += title + QStringLiteral("\n\n| method |");
        for (int L : settings.lengths)
            md += QStringLiteral(" %1 |").arg(L);
        md += QStringLiteral("\n| --- |");
        for (size_t i = 0; i < settings.lengths.size(); ++i)
            md += QStringLiteral(" ---: |");
        md += QLatin1Char('\n');
        for (const QString &name : names) {
            md += QStringLiteral("| ") + name + QStringLiteral(" |");
            for (int L : settings.lengths) {
                const SweepCell *c = find(measure, name, L, depth);
                QString text;
                if (c) {
                    text = formatCi(c->value, c->interval);
                    if (c->passkeyAccuracy >= 0)
                        text += QStringLiteral(" / %1%").arg(100 * c->passkeyAccuracy, 0, 'f', 0);
                    if (!c->reference.isEmpty() && c->vsReference.ratio.valid())
                        text += QStringLiteral("; ×%1 [%2, %3]")
                                    .arg(QString::number(c->vsReference.ratio.estimate, 'g', 3),
                                         QString::number(c->vsReference.ratio.lower, 'g', 3),
                                         QString::number(c->vsReference.ratio.upper, 'g', 3));
                }
                md += QLatin1Char(' ') + text + QStringLiteral(" |");
            }
            md += QLatin1Char('\n');
        }
        md += QLatin1Char('\n');
    };
    const QString samplesNote = QStringLiteral("%1 per cell, needle seed %2, held-out seed %3, 95 % BCa intervals "
                                               "(%4 resamples, seed %5); ×: ratio to %6 on the same samples")
                                    .arg(samplesText(settings.samples))
                                    .arg(settings.seed)
                                    .arg(settings.heldOutSeed)
                                    .arg(settings.resamples)
                                    .arg(settings.bootstrapSeed)
                                    .arg(reference);
    md += samplesNote + QStringLiteral("\n\n");
    md += settings.engine.isEmpty()
              ? QStringLiteral("Factor files scored as before engines were modelled: the original RoPE and attention "
                               "factor 1 within L_train, which no exported config reproduces in transformers.\n\n")
              : QStringLiteral("Factor files scored as %1 runs their exported config.\n\n").arg(settings.engine);
    for (const QString &note : notes)
        md += QStringLiteral("Note: ") + note + QStringLiteral("\n\n");
    table(SweepMeasure::Needle, settings.curveDepth,
          QStringLiteral("Needle PPL (depth %1)%2").arg(settings.curveDepth).arg(settings.passkey ? QStringLiteral(" / passkey") : QString()));
    table(SweepMeasure::HeldOut, -1, QStringLiteral("Held-out perplexity (documents cut to the length, one window)"));
    for (double depth : needleDepths())
        if (std::abs(depth - settings.curveDepth) > 1e-9 || !settings.needle)
            table(SweepMeasure::Needle, depth, QStringLiteral("Needle PPL at depth %1").arg(depth));
    return md;
}

int sweepCellCount(const SweepSettings &settings, int methods)
{
    std::set<double> depths(settings.depths.begin(), settings.depths.end());
    if (settings.needle)
        depths.insert(settings.curveDepth);
    const int perLength = int(depths.size()) + (settings.heldOut ? 1 : 0);
    return int(settings.lengths.size()) * perLength * methods;
}

std::vector<int> logSpacedLengths(int from, int to, int points)
{
    std::vector<int> out;
    if (from < 1 || to < from || points < 1)
        return out;
    if (points == 1 || from == to)
        return {to};
    for (int k = 0; k < points; ++k) {
        const double t = double(k) / (points - 1);
        const int L = int(std::lround(std::exp(std::log(double(from)) + t * (std::log(double(to)) - std::log(double(from))))));
        if (out.empty() || L != out.back())
            out.push_back(L);
    }
    out.back() = to;
    return out;
}

void summarizeCell(SweepCell &cell, const BootstrapOptions &options)
{
    if (cell.measure == SweepMeasure::Needle) {
        cell.value = aggregate(cell.values, Aggregate::Mean);
        cell.interval = bootstrapAggregate(cell.values, Aggregate::Mean, options);
    } else {
        cell.value = aggregate(cell.nll, Aggregate::ExpOfMean);
        cell.interval = bootstrapAggregate(cell.nll, Aggregate::ExpOfMean, options);
    }
    if (!cell.passkey.empty()) {
        const int correct = std::accumulate(cell.passkey.begin(), cell.passkey.end(), 0);
        cell.passkeyAccuracy = double(correct) / double(cell.passkey.size());
        cell.passkeyInterval = wilsonInterval(correct, int(cell.passkey.size()), options.level);
    }
}

void compareCell(SweepCell &cell, const SweepCell &reference, const BootstrapOptions &options)
{
    const size_t n = std::min(cell.values.size(), reference.values.size());
    cell.reference = reference.method;
    if (cell.measure == SweepMeasure::Needle)
        cell.vsReference = pairedBootstrap({cell.values.begin(), cell.values.begin() + long(n)},
                                           {reference.values.begin(), reference.values.begin() + long(n)}, Aggregate::Mean, options);
    else
        cell.vsReference = pairedBootstrap({cell.nll.begin(), cell.nll.begin() + long(n)},
                                           {reference.nll.begin(), reference.nll.begin() + long(n)}, Aggregate::ExpOfMean, options);
}

QJsonObject intervalToJson(const Interval &interval)
{
    return QJsonObject{{QStringLiteral("estimate"), number(interval.estimate)},
                       {QStringLiteral("lower"), number(interval.lower)},
                       {QStringLiteral("upper"), number(interval.upper)}};
}

Interval intervalFromJson(const QJsonValue &value)
{
    const QJsonObject o = value.toObject();
    return Interval{numberFrom(o.value(QLatin1String("estimate"))), numberFrom(o.value(QLatin1String("lower"))),
                    numberFrom(o.value(QLatin1String("upper")))};
}

QJsonObject comparisonToJson(const PairedComparison &c, const QString &reference)
{
    return QJsonObject{{QStringLiteral("reference"), reference},
                       {QStringLiteral("samples"), c.samples},
                       {QStringLiteral("value"), number(c.a)},
                       {QStringLiteral("reference_value"), number(c.b)},
                       {QStringLiteral("difference"), intervalToJson(c.difference)},
                       {QStringLiteral("ratio"), intervalToJson(c.ratio)},
                       {QStringLiteral("level"), c.options.level},
                       {QStringLiteral("resamples"), c.options.resamples},
                       {QStringLiteral("bootstrap_seed"), qint64(c.options.seed)}};
}

PairedComparison comparisonFromJson(const QJsonObject &json)
{
    PairedComparison c;
    c.samples = json.value(QLatin1String("samples")).toInt();
    c.a = numberFrom(json.value(QLatin1String("value")));
    c.b = numberFrom(json.value(QLatin1String("reference_value")));
    c.difference = intervalFromJson(json.value(QLatin1String("difference")));
    c.ratio = intervalFromJson(json.value(QLatin1String("ratio")));
    c.options.level = json.value(QLatin1String("level")).toDouble(c.options.level);
    c.options.resamples = json.value(QLatin1String("resamples")).toInt(c.options.resamples);
    c.options.seed = uint64_t(json.value(QLatin1String("bootstrap_seed")).toDouble(double(c.options.seed)));
    return c;
}

} // namespace rs
