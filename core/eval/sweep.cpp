// The workbench's engine (sweep.h): methods × lengths × depths, cell by cell.
#include "eval/sweep.h"

#include "common/cancellation.h"
#include "common/error.h"
#include "eval/evaluator.h"
#include "eval/needle.h"
#include "rope/deployment.h"
#include "rope/factorfamilies.h"
#include "runtime/embeddedmodel.h"
#include "runtime/tokenizer.h"

#include <QElapsedTimer>
#include <QSet>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace rs {
namespace {

const QString kSource = QStringLiteral("sweep");

// The RoPE a method runs at `length`, explicit even for the model's own.
RopeOverride ropeAt(const ComparedMethod &m, int length)
{
    if (m.rope)
        if (const std::optional<RopeOverride> r = m.rope(length))
            return *r;
    return m.model->defaultRope(length);
}

} // namespace

ResolvedSweepMethods resolveSweepMethods(const std::vector<SweepMethodSpec> &specs, CausalLM &base, int targetLength,
                                         const ModelOptions &options, Engine engine)
{
    ResolvedSweepMethods out;
    QSet<QString> names;
    std::map<QString, CausalLM *> models;
    for (const SweepMethodSpec &spec : specs) {
        if (spec.name.isEmpty())
            throw Error(kSource, QStringLiteral("a method needs a name"));
        if (holdsLineBreak(spec.name))
            throw Error(kSource, QStringLiteral("the method name \"%1\" holds a line break").arg(spec.name.simplified()));
        if (names.contains(spec.name))
            throw Error(kSource, QStringLiteral("two methods are named \"%1\"").arg(spec.name));
        names.insert(spec.name);
        if (!sweepMethodKinds().contains(spec.kind))
            throw Error(kSource, QStringLiteral("method \"%1\": unknown kind \"%2\" (%3)")
                                     .arg(spec.name, spec.kind, sweepMethodKinds().join(QStringLiteral(", "))));
        CausalLM *model = &base;
        if (!spec.modelDir.isEmpty()) {
            CausalLM *&slot = models[spec.modelDir];
            if (!slot) {
                out.extraModels.push_back(CausalLM::load(spec.modelDir, options));
                slot = out.extraModels.back().get();
                if (slot->ropeConfig().pairs() != base.ropeConfig().pairs())
                    throw Error(spec.modelDir, QStringLiteral("has %1 rotary pairs, the sweep's model %2")
                                                   .arg(slot->ropeConfig().pairs()).arg(base.ropeConfig().pairs()));
            }
            model = slot;
        }
        const RopeConfig &config = model->ropeConfig();
        const int trainLength = int(config.trainLength);
        // At or below L_train every family is the identity; a target there still gives s = 1.
        const double target = std::max<double>(targetLength, trainLength);
        const std::vector<double> identity(size_t(config.pairs()), 1.0);
        ComparedMethod method{spec.name, model, {}};
        const auto fixed = [](RopeOverride rope) {
            return [rope](int) { return std::optional<RopeOverride>(rope); };
        };
        if (spec.kind == QLatin1String("none")) {
            method.rope = fixed({identity, 1.0});
        } else if (spec.kind == QLatin1String("factors")) {
            if (int(spec.lambda.size()) != config.pairs())
                throw Error(spec.source.isEmpty() ? spec.name : spec.source,
                            QStringLiteral("method \"%1\" has %2 factors, the model needs %3 (d/2)")
                                .arg(spec.name).arg(spec.lambda.size()).arg(config.pairs()));
            for (double x : spec.lambda)
                if (!std::isfinite(x) || x <= 0)
                    throw Error(spec.source.isEmpty() ? spec.name : spec.source,
                                QStringLiteral("method \"%1\": factors must be finite and positive").arg(spec.name));
            // Scored exactly as deployed: the config the export writes, read back, run as the engine runs it.
            FactorDeployment deployment;
            deployment.longFactor = spec.lambda;
            deployment.targetLength = target;
            if (spec.attentionFactor > 0)
                deployment.attentionFactor = spec.attentionFactor;
            deployment.engine = engine;
            deployment.form = config.form;
            const DeployedFactors deployed(config, deployment);
            method.rope = [deployed](int length) { return std::optional<RopeOverride>(deployed.at(length)); };
        } else if (spec.kind == QLatin1String("config")) {
            // The model's own longrope config as the engine runs it; any other type as transformers does.
            if (config.scaling.type == QLatin1String("longrope"))
                method.rope = [config, engine](int length) {
                    return std::optional<RopeOverride>(deployedLongrope(config, engine, length));
                };
        } else if (spec.kind != QLatin1String("config")) {
            const std::map<QString, FactorSet> families = standardFamilies(config, target);
            const auto found = families.find(spec.kind);
            if (found == families.end())
                throw Error(kSource, QStringLiteral("method \"%1\": no %2 family for this model").arg(spec.name, spec.kind));
            method.rope = fixed({found->second.lambda, found->second.attentionFactor});
        }
        out.methods.push_back(std::move(method));
    }
    return out;
}

std::vector<std::vector<int>> heldOutDocuments(const Tokenizer &tokenizer, int bosId, const QString &corpus,
                                               uint64_t heldOutSeed, int count, int tokens)
{
    const Haystack haystack = corpus.isEmpty() ? Haystack::builtin() : Haystack::fromPath(corpus);
    const auto encode = [&tokenizer](const QString &text) { return tokenizer.encode(text); };
    std::vector<std::vector<int>> docs;
    for (int i = 0; i < count; ++i) {
        std::vector<int> ids;
        if (bosId >= 0)
            ids.push_back(bosId);
        const std::vector<int> text = haystackTokens(encode, haystack, tokens - int(ids.size()), heldOutSeed + uint64_t(i));
        ids.insert(ids.end(), text.begin(), text.end());
        docs.push_back(std::move(ids));
    }
    return docs;
}

SweepResult runSweep(const std::vector<ComparedMethod> &methods, const std::vector<SweepMethodSpec> &specs,
                     const Tokenizer &tokenizer, int bosId, const SweepSettings &settings, const SweepCallbacks &callbacks)
{
    QElapsedTimer clock;
    clock.start();
    if (methods.empty())
        throw Error(kSource, QStringLiteral("no methods to evaluate"));
    if (specs.size() != methods.size())
        throw Error(kSource, QStringLiteral("%1 method specs for %2 methods").arg(specs.size()).arg(methods.size()));
    if (settings.lengths.empty())
        throw Error(kSource, QStringLiteral("no lengths to evaluate"));
    for (int L : settings.lengths)
        if (L < 2)
            throw Error(kSource, QStringLiteral("length %1 is too short").arg(L));
    if (settings.samples < 1)
        throw Error(kSource, QStringLiteral("at least one sample is needed"));
    for (double d : settings.depths)
        if (!(d >= 0 && d <= 1))
            throw Error(kSource, QStringLiteral("needle depth %1 is outside 0 … 1").arg(d));
    for (const ComparedMethod &m : methods)
        if (!m.model)
            throw Error(kSource, QStringLiteral("method \"%1\" has no model").arg(m.name));

    int reference = 0;
    if (!settings.reference.isEmpty()) {
        const auto it = std::find_if(methods.begin(), methods.end(), [&](const ComparedMethod &m) { return m.name == settings.reference; });
        if (it == methods.end())
            throw Error(kSource, QStringLiteral("the reference \"%1\" is not one of the methods").arg(settings.reference));
        reference = int(it - methods.begin());
    }
    std::vector<int> order{reference};
    for (int i = 0; i < int(methods.size()); ++i)
        if (i != reference)
            order.push_back(i);

    SweepResult result;
    result.settings = settings;
    result.settings.reference = methods[size_t(reference)].name;
    std::sort(result.settings.lengths.begin(), result.settings.lengths.end());
    result.methods = specs;
    // The sweep's model: the first method's that runs on no other folder.
    size_t home = 0;
    while (home + 1 < specs.size() && !specs[home].modelDir.isEmpty())
        ++home;
    result.model = modelDisplayName(methods[home].model->directory());
    result.device = methods[home].model->device();
    result.dtype = methods[home].model->dtype();
    result.trainLength = int(methods[home].model->ropeConfig().trainLength);

    const BootstrapOptions options = settings.bootstrap();
    std::set<double> depthSet(settings.depths.begin(), settings.depths.end());
    if (settings.needle)
        depthSet.insert(settings.curveDepth);
    const std::vector<double> depths(depthSet.begin(), depthSet.end());
    // The needle template's own tokens (instruction, needle, question, answer) set the shortest
    // length a needle cell can have; shorter lengths keep their held-out cells.
    int needleMinimum = 0;
    if (!depths.empty()) {
        const NeedleBuilder builder([&tokenizer](const QString &text) { return tokenizer.encode(text); }, Haystack::builtin());
        for (int i = 0; i < settings.samples; ++i)
            needleMinimum = std::max(needleMinimum, builder.templateTokens(settings.seed + uint64_t(i), bosId));
    }
    int needleLengths = 0;
    for (int L : result.settings.lengths)
        needleLengths += L >= needleMinimum ? 1 : 0;
    if (!depths.empty() && needleLengths < int(result.settings.lengths.size()))
        result.notes << QStringLiteral("no needle cells below %1 tokens: the needle template takes %1 tokens with this "
                                       "tokenizer").arg(needleMinimum);
    const int total = (needleLengths * int(depths.size()) + (settings.heldOut ? int(result.settings.lengths.size()) : 0)) *
                      int(methods.size());
    if (total == 0)
        throw Error(kSource, QStringLiteral("no cell to compute: every length is below the needle template's %1 tokens "
                                            "and held-out perplexity is off").arg(needleMinimum));
    if (callbacks.started)
        callbacks.started(total);
    int done = 0;
    const auto isCancelled = [&] { return callbacks.cancelled && callbacks.cancelled(); };
    const auto finish = [&](SweepCell cell, const SweepCell *referenceCell) {
        summarizeCell(cell, options);
        if (referenceCell)
            compareCell(cell, *referenceCell, options);
        result.cells.push_back(std::move(cell));
        ++done;
        if (callbacks.cellDone)
            callbacks.cellDone(result.cells.back());
        if (callbacks.progress)
            callbacks.progress(done, total);
    };
    const auto stop = [&] {
        result.cancelled = true;
        result.seconds = clock.nsecsElapsed() / 1e9;
        return result;
    };

    const int longest = result.settings.lengths.back();
    std::vector<std::vector<int>> documents;
    if (settings.heldOut)
        documents = heldOutDocuments(tokenizer, bosId, settings.corpus, settings.heldOutSeed, settings.samples, longest);

    for (const int length : result.settings.lengths) {
        for (const double depth : length >= needleMinimum ? depths : std::vector<double>{}) {
            NeedleEvalSettings ns;
            ns.length = length;
            ns.samples = settings.samples;
            ns.depth = depth;
            ns.seed = settings.seed;
            ns.corpus = settings.corpus;
            // The samples depend only on the tokenizer: methods sharing a model share its evaluator,
            // and every method sees the same tokens.
            std::map<CausalLM *, std::unique_ptr<NeedleEvaluator>> evaluators;
            SweepCell referenceCell;
            for (const int i : order) {
                if (isCancelled())
                    return stop();
                const ComparedMethod &m = methods[size_t(i)];
                std::unique_ptr<NeedleEvaluator> &slot = evaluators[m.model];
                if (!slot)
                    slot = std::make_unique<NeedleEvaluator>(*m.model, tokenizer, bosId, ns);
                const std::optional<RopeOverride> rope = m.rope ? m.rope(length) : std::nullopt;
                NeedleEvalResult r;
                try {
                    r = slot->evaluate(rope ? &*rope : nullptr, callbacks.cancelled, {}, settings.passkey);
                } catch (const Cancelled &) {  // inside a forward (common/cancellation.h)
                    return stop();
                }
                if (r.cancelled)
                    return stop();
                SweepCell cell;
                cell.measure = SweepMeasure::Needle;
                cell.method = m.name;
                cell.length = length;
                cell.depth = depth;
                cell.values = r.perSamplePpl;
                cell.nll = r.perSampleNll;
                cell.passkey = r.perSamplePasskey;
                cell.seconds = r.seconds;
                if (i == reference)
                    referenceCell = cell;
                finish(std::move(cell), i == reference ? nullptr : &referenceCell);
            }
        }
        if (!settings.heldOut)
            continue;
        // Held-out text as YaRN's evaluation does it: each document cut to the cell's length and
        // scored in one window of that length (every token given all the text before it), so a
        // longer cell sees the same documents with more context. The cut documents are prefixes of
        // one another across lengths, so the curve compares like with like.
        SweepCell referenceCell;
        for (const int i : order) {
            const ComparedMethod &m = methods[size_t(i)];
            const RopeOverride rope = ropeAt(m, length);
            QElapsedTimer cellClock;
            cellClock.start();
            SweepCell cell;
            cell.measure = SweepMeasure::HeldOut;
            cell.method = m.name;
            cell.length = length;
            for (const std::vector<int> &doc : documents) {
                if (isCancelled())
                    return stop();
                const std::vector<int> prefix(doc.begin(), doc.begin() + length);
                SlidingWindowScore score;
                try {
                    score = slidingWindowNll(*m.model, prefix, length, length, &rope);
                } catch (const Cancelled &) {
                    return stop();
                }
                cell.nll.push_back(score.meanNll());
                cell.values.push_back(std::exp(cell.nll.back()));
            }
            cell.seconds = cellClock.nsecsElapsed() / 1e9;
            if (i == reference)
                referenceCell = cell;
            finish(std::move(cell), i == reference ? nullptr : &referenceCell);
        }
    }
    result.seconds = clock.nsecsElapsed() / 1e9;
    return result;
}

} // namespace rs
