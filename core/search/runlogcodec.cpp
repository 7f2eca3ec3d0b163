// The run log's records as JSON and back (runlogcodec.h): the one place where a record's keys are
// spelled.
#include "search/runlogcodec.h"

#include "common/error.h"
#include "common/jsonarray.h"
#include "rope/factorfamilies.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>

#include <algorithm>
#include <cmath>

namespace rs {

namespace {

// Event names.
const QString kStart = QStringLiteral("start");
const QString kResume = QStringLiteral("resume");
const QString kEval = QStringLiteral("eval");
const QString kValidationEval = QStringLiteral("validation_eval");
const QString kBaselineEval = QStringLiteral("baseline_eval");
const QString kBaselines = QStringLiteral("baselines");
const QString kGeneration = QStringLiteral("generation");
const QString kFinish = QStringLiteral("finish");
const QString kRankStats = QStringLiteral("rank_stats");
const QString kRankLost = QStringLiteral("rank_lost");

QString key(const char *name) { return QString::fromLatin1(name); }

// A non-finite fitness is logged as null.
QJsonValue fitnessJson(double f) { return std::isfinite(f) ? QJsonValue(f) : QJsonValue(QJsonValue::Null); }
// … and read back as +∞ (a search fitness) …
double fitnessOf(const QJsonValue &v) { return v.isDouble() ? v.toDouble() : std::numeric_limits<double>::infinity(); }
// … or, for a validation figure, as NaN: null (non-finite) and absent (no validation) are both "not known".
double nanUnlessNumber(const QJsonValue &v) { return v.isDouble() ? v.toDouble() : std::numeric_limits<double>::quiet_NaN(); }

std::vector<double> doublesOf(const QJsonValue &v)
{
    std::vector<double> out;
    for (const QJsonValue &x : v.toArray())
        out.push_back(x.toDouble());
    return out;
}

std::vector<int> intsOf(const QJsonValue &v)
{
    std::vector<int> out;
    for (const QJsonValue &x : v.toArray())
        out.push_back(x.toInt(-1));
    return out;
}

QJsonArray intsJson(const std::vector<int> &values)
{
    QJsonArray a;
    for (int v : values)
        a.append(v);
    return a;
}

QString methodName(SearchMethod m) { return m == SearchMethod::LongRoPE2 ? QStringLiteral("longrope2") : QStringLiteral("longrope"); }

StopReason stopReasonOf(const QString &name)
{
    for (StopReason r : {StopReason::Budget, StopReason::Cancelled})
        if (name == stopReasonName(r))
            return r;
    return StopReason::Done;
}

QString chosenByName(bool byValidation) { return byValidation ? QStringLiteral("validation") : QStringLiteral("search"); }

// The scored candidate of an evaluation record, checked: a "lambda" array of numbers, a "fitness"
// that is a number or null (non-finite), a numeric "sample" and "attention_factor" where present.
struct ScoredCandidate {
    std::vector<double> lambda;
    double fitness = 0;
    std::optional<int> sample;
    std::optional<double> attentionFactor;
};

ScoredCandidate scoredCandidateOf(const QJsonObject &o)
{
    const QString event = o.value(key("event")).toString();
    const QJsonValue lv = o.value(key("lambda"));
    const QJsonValue fv = o.value(key("fitness"));
    if (!lv.isArray() || (!fv.isDouble() && !fv.isNull()))
        throw Error(QString(), QStringLiteral("%1 entry needs a \"lambda\" array and a \"fitness\"").arg(event));
    ScoredCandidate out;
    const QJsonArray a = lv.toArray();
    out.lambda.reserve(size_t(a.size()));
    for (const QJsonValue &v : a) {
        if (!v.isDouble())
            throw Error(QString(), QStringLiteral("%1 entry has a non-numeric factor").arg(event));
        out.lambda.push_back(v.toDouble());
    }
    out.fitness = fitnessOf(fv);
    const QJsonValue sv = o.value(key("sample"));
    const QJsonValue av = o.value(key("attention_factor"));
    if ((!sv.isUndefined() && !sv.isDouble()) || (!av.isUndefined() && !av.isDouble()))
        throw Error(QString(), QStringLiteral("%1 entry has a non-numeric \"sample\" or \"attention_factor\"").arg(event));
    if (!sv.isUndefined()) {
        const double sample = sv.toDouble();
        if (sample != std::floor(sample) || sample < 0 || sample > std::numeric_limits<int>::max())
            throw Error(QString(), QStringLiteral("%1 entry for sample %2, which is not a sample number").arg(event).arg(sample));
        out.sample = int(sample);
    }
    if (!av.isUndefined())
        out.attentionFactor = av.toDouble();
    return out;
}

QJsonObject baselineJson(const SearchBaseline &b)
{
    return QJsonObject{{key("name"), b.name},
                       {key("lambda"), toJsonArray(b.candidate.lambda)},
                       {key("attention_factor"), b.candidate.attentionFactor}};
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Context and settings

QJsonObject RunContext::toJson() const
{
    QJsonObject o{{key("model"), model},   {key("corpus"), corpus}, {key("samples"), samples}, {key("depth"), depth},
                  {key("length"), length}, {key("device"), device}, {key("dtype"), dtype}};
    if (attentionFactor)
        o.insert(key("attention_factor"), *attentionFactor);
    if (validationSamples > 0)
        o.insert(key("validation"), QJsonObject{{key("samples"), validationSamples},
                                                {key("seed"), QString::number(validationSeed)}});
    return o;
}

RunContext RunContext::fromJson(const QJsonObject &o, QString *badPath)
{
    RunContext c;
    const auto path = [&](const char *name) {
        const QJsonValue v = o.value(key(name));
        if (v.isUndefined() || v.isNull())
            return QString();
        if (!v.isString() || v.toString().contains(QChar(0))) {
            if (badPath && badPath->isEmpty())
                *badPath = key(name);
            return QString();
        }
        return v.toString();
    };
    c.model = path("model");
    c.corpus = path("corpus");
    c.samples = o.value(key("samples")).toInt(0);
    c.depth = o.value(key("depth")).toDouble(0.0);
    c.length = o.value(key("length")).toInt(0);
    c.device = o.value(key("device")).toString();
    c.dtype = o.value(key("dtype")).toString();
    if (o.value(key("attention_factor")).isDouble())
        c.attentionFactor = o.value(key("attention_factor")).toDouble();
    const QJsonObject validation = o.value(key("validation")).toObject();
    c.validationSamples = validation.value(key("samples")).toInt(0);
    c.validationSeed = validation.value(key("seed")).toString().toULongLong();
    return c;
}

QJsonObject RunSettings::toJson() const
{
    const SearchSettings &s = search;
    QJsonObject o;
    o.insert(key("method"), methodName(s.method));
    o.insert(key("rotary_dims"), s.rotaryDims);
    o.insert(key("base"), s.base);
    o.insert(key("train_length"), s.trainLength);
    o.insert(key("target_length"), s.targetLength);
    o.insert(key("population"), s.population);
    o.insert(key("iterations"), s.iterations);
    o.insert(key("parents"), s.parents);
    o.insert(key("mutations"), s.mutations);
    o.insert(key("crossovers"), s.crossovers);
    o.insert(key("mutation_probability"), s.mutationProbability);
    o.insert(key("d_rcd_mutation_probability"), s.dRcdMutationProbability);
    o.insert(key("lower_bound_factor"), s.lowerBoundFactor);
    o.insert(key("upper_bound_factor"), s.upperBoundFactor);
    o.insert(key("d_rcd_min"), s.dRcdMin);
    o.insert(key("d_rcd_max"), s.dRcdMax);
    o.insert(key("grid"), s.grid);
    o.insert(key("seed"), QString::number(s.seed));
    if (s.racing) {
        o.insert(key("racing"), true);
        o.insert(key("racing_keep_fraction"), s.racingKeepFraction);
    }
    if (s.searchAttentionFactor) {
        o.insert(key("search_attention_factor"), true);
        o.insert(key("attention_factor_min"), s.attentionFactorMin);
        o.insert(key("attention_factor_max"), s.attentionFactorMax);
    } else if (attentionGiven) {
        o.insert(key("attention_factor"), s.attentionFactor);
    }
    if (s.fitness != FitnessAggregate::MeanPpl)
        o.insert(key("fitness"), fitnessAggregateName(s.fitness));
    if (s.seedFamilies)
        o.insert(key("seed_families"), true);
    // The space's extensions, each only when on, so that logs of the paper's space stay as they were.
    if (s.decoupleAnchor)
        o.insert(key("decouple_anchor"), true);
    if (s.dRcdAboveTcd)
        o.insert(key("d_rcd_above_tcd"), true);
    if (s.keepOriginalDims > 0)
        o.insert(key("keep_original_dims"), s.keepOriginalDims);
    if (samples > 1)
        o.insert(key("samples"), samples);
    if (validationSamples > 0) {
        o.insert(key("validation_samples"), validationSamples);
        o.insert(key("validation_top"), s.validationTop);
        o.insert(key("choose_by"), chosenByName(s.chooseByValidation));
    }
    if (!baselines.empty()) {
        QJsonArray list;
        for (const SearchBaseline &b : baselines)
            list.append(baselineJson(b));
        o.insert(key("baselines"), list);
    }
    if (!context.isEmpty())
        o.insert(key("context"), context);
    return o;
}

RunSettings RunSettings::fromJson(const QJsonObject &o)
{
    RunSettings r;
    SearchSettings &s = r.search;
    s.method = o.value(key("method")).toString() == methodName(SearchMethod::LongRoPEv1) ? SearchMethod::LongRoPEv1
                                                                                          : SearchMethod::LongRoPE2;
    s.rotaryDims = o.value(key("rotary_dims")).toInt();
    s.base = o.value(key("base")).toDouble();
    s.trainLength = o.value(key("train_length")).toDouble();
    s.targetLength = o.value(key("target_length")).toDouble();
    s.population = o.value(key("population")).toInt();
    s.iterations = o.value(key("iterations")).toInt();
    s.parents = o.value(key("parents")).toInt();
    s.mutations = o.value(key("mutations")).toInt();
    s.crossovers = o.value(key("crossovers")).toInt();
    s.mutationProbability = o.value(key("mutation_probability")).toDouble();
    s.dRcdMutationProbability = o.value(key("d_rcd_mutation_probability")).toDouble();
    s.lowerBoundFactor = o.value(key("lower_bound_factor")).toDouble();
    s.upperBoundFactor = o.value(key("upper_bound_factor")).toDouble();
    s.dRcdMin = o.value(key("d_rcd_min")).toInt();
    s.dRcdMax = o.value(key("d_rcd_max")).toInt();
    s.grid = o.value(key("grid")).toDouble();
    s.seed = o.value(key("seed")).toString().toULongLong();
    s.racing = o.value(key("racing")).toBool();
    s.racingKeepFraction = o.value(key("racing_keep_fraction")).toDouble(s.racingKeepFraction);
    s.searchAttentionFactor = o.value(key("search_attention_factor")).toBool();
    s.attentionFactorMin = o.value(key("attention_factor_min")).toDouble(s.attentionFactorMin);
    s.attentionFactorMax = o.value(key("attention_factor_max")).toDouble(s.attentionFactorMax);
    r.attentionGiven = o.value(key("attention_factor")).isDouble();
    s.attentionFactor = o.value(key("attention_factor")).toDouble(0.0);
    // Written only when they differ from what logs before them meant (the mean, no seeding).
    s.fitness = fitnessAggregateFromName(o.value(key("fitness")).toString()).value_or(FitnessAggregate::MeanPpl);
    s.seedFamilies = o.value(key("seed_families")).toBool(false);
    s.decoupleAnchor = o.value(key("decouple_anchor")).toBool(false);
    s.dRcdAboveTcd = o.value(key("d_rcd_above_tcd")).toBool(false);
    s.keepOriginalDims = o.value(key("keep_original_dims")).toInt(0);
    s.validationTop = o.value(key("validation_top")).toInt(s.validationTop);
    s.chooseByValidation = o.value(key("choose_by")).toString() != chosenByName(false);
    // A sampled search writes its K; a whole-fitness one scores each candidate once.
    r.samples = std::max(1, o.value(key("samples")).toInt(1));
    r.validationSamples = o.value(key("validation_samples")).toInt(0);
    for (const QJsonValue &v : o.value(key("baselines")).toArray()) {
        const QJsonObject b = v.toObject();
        r.baselines.push_back({b.value(key("name")).toString(),
                               Candidate{doublesOf(b.value(key("lambda"))), b.value(key("attention_factor")).toDouble(1.0)}});
    }
    r.context = o.value(key("context")).toObject();
    return r;
}

QStringList RunSettings::differences(const QJsonObject &logged) const
{
    const QJsonObject expected = toJson();
    QStringList diffs;
    for (auto it = expected.begin(); it != expected.end(); ++it)
        if (logged.value(it.key()) != it.value())
            diffs << it.key();
    for (auto it = logged.begin(); it != logged.end(); ++it)  // keys only the log has
        if (!expected.contains(it.key()))
            diffs << it.key();
    return diffs;
}

// ---------------------------------------------------------------------------------------------
// Records

QJsonObject StartRecord::toJson() const
{
    QJsonObject o{{key("event"), resume ? kResume : kStart},
                  {key("version"), version},
                  {key("settings"), settings.toJson()},
                  {key("max_evaluations"), settings.search.maxEvaluations},
                  {key("max_seconds"), settings.search.maxSeconds}};
    if (resume)
        o.insert(key("cached_evaluations"), cachedEvaluations);
    return o;
}

StartRecord StartRecord::fromJson(const QJsonObject &o)
{
    StartRecord r;
    r.resume = o.value(key("event")).toString() == kResume;
    const QJsonValue version = o.value(key("version"));
    if (!version.isUndefined() && (!version.isDouble() || version.toDouble() != std::floor(version.toDouble())))
        throw Error(QString(), QStringLiteral("the start entry's \"version\" is not a whole number"));
    r.version = version.isUndefined() ? 1 : version.toInt();
    if (r.version > kRunLogVersion)
        throw Error(QString(), QStringLiteral("the run log has format version %1, and this RopeScope reads up to version %2: "
                                              "a newer RopeScope wrote it")
                                   .arg(r.version).arg(kRunLogVersion));
    r.loggedSettings = o.value(key("settings")).toObject();
    r.settings = RunSettings::fromJson(r.loggedSettings);
    r.settings.search.maxEvaluations = o.value(key("max_evaluations")).toInt();
    r.settings.search.maxSeconds = o.value(key("max_seconds")).toDouble();
    r.cachedEvaluations = qint64(o.value(key("cached_evaluations")).toDouble());
    return r;
}

QJsonObject EvaluationRecord::toJson() const
{
    QJsonObject o{{key("event"), kEval}, {key("lambda"), toJsonArray(lambda)}, {key("d_rcd"), dRcd}, {key("fitness"), fitnessJson(fitness)}};
    if (logsSample)
        o.insert(key("sample"), sample);
    if (logsAttention)
        o.insert(key("attention_factor"), attentionFactor);
    return o;
}

EvaluationRecord EvaluationRecord::fromJson(const QJsonObject &o, const RecordDefaults &d)
{
    ScoredCandidate c = scoredCandidateOf(o);
    EvaluationRecord r;
    r.lambda = std::move(c.lambda);
    r.fitness = c.fitness;
    r.logsSample = c.sample.has_value();
    r.sample = c.sample.value_or(0);
    r.logsAttention = c.attentionFactor.has_value();
    r.attentionFactor = c.attentionFactor.value_or(d.attentionFactor);
    r.dRcd = o.value(key("d_rcd")).toInt(-1);
    return r;
}

QJsonObject ValidationEvaluationRecord::toJson() const
{
    return QJsonObject{{key("event"), kValidationEval}, {key("lambda"), toJsonArray(lambda)},
                       {key("d_rcd"), dRcd},          {key("attention_factor"), attentionFactor},
                       {key("sample"), sample},        {key("fitness"), fitnessJson(fitness)}};
}

ValidationEvaluationRecord ValidationEvaluationRecord::fromJson(const QJsonObject &o, const RecordDefaults &d)
{
    ScoredCandidate c = scoredCandidateOf(o);
    ValidationEvaluationRecord r;
    r.lambda = std::move(c.lambda);
    r.fitness = c.fitness;
    r.sample = c.sample.value_or(0);
    r.attentionFactor = c.attentionFactor.value_or(d.attentionFactor);
    r.dRcd = o.value(key("d_rcd")).toInt(-1);
    return r;
}

QJsonObject BaselineEvaluationRecord::toJson() const
{
    return QJsonObject{{key("event"), kBaselineEval},
                       {key("name"), name},
                       {key("set"), set == SampleSetName::Validation ? QStringLiteral("validation") : QStringLiteral("search")},
                       {key("lambda"), toJsonArray(lambda)},
                       {key("attention_factor"), attentionFactor},
                       {key("sample"), sample},
                       {key("fitness"), fitnessJson(fitness)}};
}

BaselineEvaluationRecord BaselineEvaluationRecord::fromJson(const QJsonObject &o, const RecordDefaults &d)
{
    ScoredCandidate c = scoredCandidateOf(o);
    BaselineEvaluationRecord r;
    r.name = o.value(key("name")).toString();
    r.set = o.value(key("set")).toString() == QLatin1String("validation") ? SampleSetName::Validation : SampleSetName::Search;
    r.lambda = std::move(c.lambda);
    r.fitness = c.fitness;
    r.sample = c.sample.value_or(0);
    r.attentionFactor = c.attentionFactor.value_or(d.attentionFactor);
    return r;
}

QJsonObject BaselinesRecord::toJson() const
{
    QJsonArray list;
    for (const BaselineScore &b : baselines)
        list.append(QJsonObject{{key("name"), b.name},
                                {key("lambda"), toJsonArray(b.candidate.lambda)},
                                {key("attention_factor"), b.candidate.attentionFactor},
                                {key("search_fitness"), fitnessJson(b.searchFitness)},
                                {key("search_scores"), toJsonArray(b.searchScores)},
                                {key("validation_fitness"), fitnessJson(b.validationFitness)},
                                {key("validation_scores"), toJsonArray(b.validationScores)}});
    QJsonObject o{{key("event"), kBaselines}, {key("baselines"), list}};
    if (fitness)
        o.insert(key("fitness"), fitnessAggregateName(*fitness));
    return o;
}

BaselinesRecord BaselinesRecord::fromJson(const QJsonObject &o)
{
    BaselinesRecord r;
    r.fitness = fitnessAggregateFromName(o.value(key("fitness")).toString());
    for (const QJsonValue &v : o.value(key("baselines")).toArray()) {
        const QJsonObject b = v.toObject();
        BaselineScore score;
        score.name = b.value(key("name")).toString();
        if (score.name.isEmpty())
            throw Error(QString(), QStringLiteral("a baseline without a name"));
        score.candidate.lambda = doublesOf(b.value(key("lambda")));
        score.candidate.attentionFactor = b.value(key("attention_factor")).toDouble(1.0);
        score.searchScores = doublesOf(b.value(key("search_scores")));
        score.validationScores = doublesOf(b.value(key("validation_scores")));
        score.searchFitness = fitnessOf(b.value(key("search_fitness")));
        score.validationFitness = nanUnlessNumber(b.value(key("validation_fitness")));
        r.baselines.push_back(std::move(score));
    }
    return r;
}

QJsonObject GenerationRecord::toJson() const
{
    const GenerationReport &r = report;
    QJsonObject o{{key("event"), kGeneration},
                  {key("generation"), r.generation},
                  {key("best_fitness"), fitnessJson(r.bestFitness)},
                  {key("median_fitness"), fitnessJson(r.medianFitness)},
                  {key("best_lambda"), toJsonArray(r.bestLambda)},
                  {key("best_d_rcd"), r.bestDRcd},
                  {key("best_attention_factor"), r.bestAttentionFactor},
                  {key("member_d_rcd"), intsJson(r.memberDRcd)},
                  {key("evaluations"), r.evaluations},
                  {key("cache_hits"), r.cacheHits},
                  {key("candidates"), r.candidates},
                  {key("sample_evaluations"), r.sampleEvaluations},
                  {key("fully_evaluated"), r.fullyEvaluated}};
    if (validation) {
        o.insert(key("best_validation_fitness"), fitnessJson(r.bestValidationFitness));
        o.insert(key("search_best_fitness"), fitnessJson(r.searchBestFitness));
        o.insert(key("search_best_validation_fitness"), fitnessJson(r.searchBestValidationFitness));
        o.insert(key("validation_evaluations"), r.validationEvaluations);
    }
    if (baselines)
        o.insert(key("baseline_evaluations"), r.baselineEvaluations);
    return o;
}

GenerationRecord GenerationRecord::fromJson(const QJsonObject &o, const RecordDefaults &d)
{
    GenerationRecord out;
    GenerationReport &r = out.report;
    r.generation = o.value(key("generation")).toInt();
    r.bestFitness = fitnessOf(o.value(key("best_fitness")));
    r.medianFitness = fitnessOf(o.value(key("median_fitness")));
    r.bestLambda = doublesOf(o.value(key("best_lambda")));
    r.bestDRcd = o.value(key("best_d_rcd")).toInt(-1);
    r.memberDRcd = intsOf(o.value(key("member_d_rcd")));
    r.evaluations = o.value(key("evaluations")).toInt();
    r.cacheHits = o.value(key("cache_hits")).toInt();
    r.bestAttentionFactor = o.value(key("best_attention_factor")).toDouble(d.attentionFactor);
    r.samples = d.samples;
    r.candidates = o.value(key("candidates")).toInt();
    r.sampleEvaluations = o.value(key("sample_evaluations")).toInt();
    r.fullyEvaluated = o.value(key("fully_evaluated")).toInt();
    // Validation (absent without it: NaN, and the search's best is the answer).
    out.validation = o.contains(key("best_validation_fitness"));
    r.bestValidationFitness = nanUnlessNumber(o.value(key("best_validation_fitness")));
    r.searchBestFitness = o.contains(key("search_best_fitness")) ? fitnessOf(o.value(key("search_best_fitness"))) : r.bestFitness;
    r.searchBestValidationFitness = nanUnlessNumber(o.value(key("search_best_validation_fitness")));
    r.validationEvaluations = o.value(key("validation_evaluations")).toInt();
    out.baselines = o.contains(key("baseline_evaluations"));
    r.baselineEvaluations = o.value(key("baseline_evaluations")).toInt();
    return out;
}

QJsonObject FinishRecord::toJson() const
{
    const SearchResult &r = result;
    QJsonObject o{{key("event"), kFinish},
                  {key("reason"), stopReasonName(r.stopReason)},
                  {key("best_lambda"), toJsonArray(r.bestLambda)},
                  {key("best_fitness"), fitnessJson(r.bestFitness)},
                  {key("best_d_rcd"), r.bestDRcd},
                  {key("best_attention_factor"), r.bestAttentionFactor},
                  {key("evaluations"), r.evaluations},
                  {key("cache_hits"), r.cacheHits},
                  {key("generations"), r.generations},
                  {key("samples"), r.samples},
                  {key("candidates"), r.candidates},
                  {key("sample_evaluations"), r.sampleEvaluations},
                  {key("saved_evaluations"), r.savedEvaluations()}};
    if (validation) {
        o.insert(key("best_validation_fitness"), fitnessJson(r.bestValidationFitness));
        o.insert(key("chosen_by"), chosenByName(r.chosenByValidation));
        o.insert(key("search_best_lambda"), toJsonArray(r.searchBestLambda));
        o.insert(key("search_best_fitness"), fitnessJson(r.searchBestFitness));
        o.insert(key("search_best_validation_fitness"), fitnessJson(r.searchBestValidationFitness));
        o.insert(key("search_best_d_rcd"), r.searchBestDRcd);
        o.insert(key("search_best_attention_factor"), r.searchBestAttentionFactor);
        o.insert(key("validation_samples"), validationSamples);
        o.insert(key("validation_evaluations"), r.validationEvaluations);
    }
    if (baselines)
        o.insert(key("baseline_evaluations"), r.baselineEvaluations);
    if (!r.spaceBounds.isEmpty())
        o.insert(key("space_bounds"), QJsonArray::fromStringList(r.spaceBounds));
    return o;
}

FinishRecord FinishRecord::fromJson(const QJsonObject &o, const RecordDefaults &d)
{
    FinishRecord out;
    SearchResult &r = out.result;
    r.bestLambda = doublesOf(o.value(key("best_lambda")));
    r.bestFitness = fitnessOf(o.value(key("best_fitness")));
    r.bestDRcd = o.value(key("best_d_rcd")).toInt(-1);
    r.evaluations = o.value(key("evaluations")).toInt();
    r.cacheHits = o.value(key("cache_hits")).toInt();
    r.generations = o.value(key("generations")).toInt();
    r.stopReason = stopReasonOf(o.value(key("reason")).toString());
    r.bestAttentionFactor = o.value(key("best_attention_factor")).toDouble(d.attentionFactor);
    r.samples = o.value(key("samples")).toInt(d.samples);
    r.candidates = o.value(key("candidates")).toInt();
    r.sampleEvaluations = o.value(key("sample_evaluations")).toInt();
    out.validation = o.contains(key("chosen_by"));
    r.bestValidationFitness = nanUnlessNumber(o.value(key("best_validation_fitness")));
    r.chosenByValidation = o.value(key("chosen_by")).toString() == chosenByName(true);
    // Without validation the answer is the search's best.
    const bool searchBestLogged = o.contains(key("search_best_lambda"));
    r.searchBestLambda = searchBestLogged ? doublesOf(o.value(key("search_best_lambda"))) : r.bestLambda;
    r.searchBestFitness = searchBestLogged ? fitnessOf(o.value(key("search_best_fitness"))) : r.bestFitness;
    r.searchBestValidationFitness = nanUnlessNumber(o.value(key("search_best_validation_fitness")));
    r.searchBestDRcd = o.value(key("search_best_d_rcd")).toInt(r.bestDRcd);
    r.searchBestAttentionFactor = o.value(key("search_best_attention_factor")).toDouble(r.bestAttentionFactor);
    out.validationSamples = o.value(key("validation_samples")).toInt(0);
    r.validationEvaluations = o.value(key("validation_evaluations")).toInt();
    out.baselines = o.contains(key("baseline_evaluations"));
    r.baselineEvaluations = o.value(key("baseline_evaluations")).toInt();
    for (const QJsonValue &v : o.value(key("space_bounds")).toArray())
        r.spaceBounds << v.toString();
    return out;
}

QJsonObject RankStatsRecord::toJson() const
{
    QJsonArray list;
    for (const Rank &w : ranks) {
        QJsonObject o{{key("rank"), w.rank},
                      {key("host"), w.host},
                      {key("pid"), w.pid},
                      {key("devices"), QJsonArray::fromStringList(w.devices)},
                      {key("jobs"), w.jobs},
                      {key("evaluations"), w.evaluations},
                      {key("seconds"), w.seconds},
                      {key("busy_seconds"), w.busySeconds},
                      {key("evaluations_per_second"), w.evaluationsPerSecond},
                      {key("idle_percent"), w.idlePercent}};
        if (!w.lost.isEmpty())
            o.insert(key("lost"), w.lost);
        list.append(o);
    }
    return QJsonObject{{key("event"), kRankStats}, {key("ranks"), list}};
}

RankStatsRecord RankStatsRecord::fromJson(const QJsonObject &o)
{
    RankStatsRecord out;
    for (const QJsonValue &v : o.value(key("ranks")).toArray()) {
        const QJsonObject r = v.toObject();
        Rank w;
        w.rank = r.value(key("rank")).toInt();
        w.host = r.value(key("host")).toString();
        w.pid = qint64(r.value(key("pid")).toDouble());
        for (const QJsonValue &d : r.value(key("devices")).toArray())
            w.devices << d.toString();
        w.jobs = qint64(r.value(key("jobs")).toDouble());
        w.evaluations = qint64(r.value(key("evaluations")).toDouble());
        w.seconds = r.value(key("seconds")).toDouble();
        w.busySeconds = r.value(key("busy_seconds")).toDouble();
        w.evaluationsPerSecond = r.value(key("evaluations_per_second")).toDouble();
        w.idlePercent = r.value(key("idle_percent")).toDouble();
        w.lost = r.value(key("lost")).toString();
        out.ranks.push_back(std::move(w));
    }
    return out;
}

QJsonObject RankLostRecord::toJson() const
{
    return QJsonObject{{key("event"), kRankLost},
                       {key("rank"), rank},
                       {key("host"), host},
                       {key("reason"), reason},
                       {key("requeued_evaluations"), requeuedEvaluations}};
}

RankLostRecord RankLostRecord::fromJson(const QJsonObject &o)
{
    RankLostRecord r;
    r.rank = o.value(key("rank")).toInt();
    r.host = o.value(key("host")).toString();
    r.reason = o.value(key("reason")).toString();
    r.requeuedEvaluations = o.value(key("requeued_evaluations")).toInt();
    return r;
}

// ---------------------------------------------------------------------------------------------
// Lines

QJsonObject toJson(const RunLogRecord &record)
{
    return std::visit([](const auto &r) { return r.toJson(); }, record);
}

RunLogRecord recordFromJson(const QJsonObject &o, const RecordDefaults &defaults)
{
    const QJsonValue eventValue = o.value(key("event"));
    const QString event = eventValue.toString();
    if (!eventValue.isString() || event.isEmpty())
        throw Error(QString(), QStringLiteral("run-log entry without \"event\""));
    if (event == kStart || event == kResume)
        return StartRecord::fromJson(o);
    if (event == kEval)
        return EvaluationRecord::fromJson(o, defaults);
    if (event == kValidationEval)
        return ValidationEvaluationRecord::fromJson(o, defaults);
    if (event == kBaselineEval)
        return BaselineEvaluationRecord::fromJson(o, defaults);
    if (event == kBaselines)
        return BaselinesRecord::fromJson(o);
    if (event == kGeneration)
        return GenerationRecord::fromJson(o, defaults);
    if (event == kFinish)
        return FinishRecord::fromJson(o, defaults);
    if (event == kRankStats)
        return RankStatsRecord::fromJson(o);
    if (event == kRankLost)
        return RankLostRecord::fromJson(o);
    return OtherRecord{o};
}

QJsonObject parseRunLogLine(const QByteArray &line)
{
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(line, &error);
    if (error.error != QJsonParseError::NoError || !doc.isObject())
        throw Error(QString(), QStringLiteral("not a run-log entry (%1)").arg(error.errorString()));
    const QJsonObject o = doc.object();
    if (!o.value(key("event")).isString() || o.value(key("event")).toString().isEmpty())
        throw Error(QString(), QStringLiteral("run-log entry without \"event\""));
    return o;
}

RunLogRecord parseRunLogRecord(const QByteArray &line, const RecordDefaults &defaults)
{
    return recordFromJson(parseRunLogLine(line), defaults);
}

QByteArray runLogLine(const RunLogRecord &record)
{
    QByteArray line = QJsonDocument(toJson(record)).toJson(QJsonDocument::Compact);
    line.append('\n');
    return line;
}

RecordDefaults recordDefaults(const StartRecord &start)
{
    const RunSettings &r = start.settings;
    RecordDefaults d;
    d.samples = r.samples;
    if (r.attentionGiven) {
        d.attentionFactor = r.search.attentionFactor;
    } else {
        // Written in the context, or the longrope default the search resolves 0 to.
        const RunContext context = RunContext::fromJson(r.context);
        d.attentionFactor = context.attentionFactor.value_or(longropeAttentionFactor(r.search.scale(), r.search.trainLength));
    }
    return d;
}

} // namespace rs
