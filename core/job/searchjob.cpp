// The search job (searchjob.h): settings in, a ready run out, for every front end.
#include "job/searchjob.h"
#include "job/searchfitness.h"
#include "worker/searcharithmetic.h"

#include "common/error.h"
#include "common/memoryerror.h"
#include "eval/candidatescorer.h"
#include "runtime/model.h"
#include "runtime/tokenizer.h"
#include "search/runlogstart.h"

#include <QFileInfo>

#include <algorithm>
#include <optional>

namespace rs {

namespace {

// A memory refusal while the validation samples' scorer is built says that set made it so large
// (the search's own samples are built before it); the front end adds its own advice.
template <typename Build>
void buildValidationScorer(int samples, Build build)
{
    try {
        build();
    } catch (const MemoryError &e) {
        throw MemoryError(e.source(), QStringLiteral("the %1 validation samples: %2").arg(samples).arg(e.problem()));
    }
}

const QString kSource = QStringLiteral("search");

SearchSettings resolvedInput(const SearchJobSettings &job, const RopeConfig &rope)
{
    SearchSettings s = job.search;
    s.rotaryDims = rope.rotaryDims;
    s.base = rope.base;
    s.trainLength = rope.trainLength;
    s.targetLength = job.samples.length;
    return s;
}

} // namespace

struct SearchJob::Scorers {
    std::unique_ptr<CausalLM> ownedModel;  // loadScorers: the first replica (the others are the scorer's)
    ModelTokenizer ownedTokenizer;
    CausalLM *model = nullptr;
    std::optional<CandidateScorer> search;
    std::optional<CandidateScorer> validation;  // on the first replica
};

SearchJob::SearchJob(const SearchJobSettings &settings, const RopeConfig &rope)
    : m_settings(settings), m_engine(resolvedInput(settings, rope)), m_validation(settings.validation())
{
    m_settings.search = resolvedInput(settings, rope);
    if (const QString problem = overlapProblem(m_settings); !problem.isEmpty())
        throw Error(kSource, problem);
    m_baselines = searchBaselines(rope, m_settings.samples.length);
    m_validationFitness.samples = 0;
}

SearchJob::~SearchJob() = default;

QString SearchJob::overlapProblem(const SearchJobSettings &settings)
{
    const NeedleEvalSettings &search = settings.samples;
    const NeedleEvalSettings validation = settings.validation();
    if (validation.samples < 1 || !samplesOverlap(search, validation))
        return {};
    return QStringLiteral("the validation samples (seeds %1 … %2) overlap the search's (seeds %3 … %4)")
        .arg(validation.seed).arg(validation.seed + validation.samples - 1)
        .arg(search.seed).arg(search.seed + search.samples - 1);
}

void SearchJob::loadScorers(std::unique_ptr<CausalLM> model, ModelTokenizer tokenizer, const QString &modelDir)
{
    m_scorers = std::make_unique<Scorers>();
    QStringList devices = m_settings.devices.isEmpty() ? CandidateScorer::defaultDevices(model->device()) : m_settings.devices;
    if (devices.front() != model->device()) {
        ModelOptions first;
        first.device = devices.front();
        first.dtype = model->dtype();
        model.reset();  // one copy of the weights at a time
        model = CausalLM::load(modelDir, first);
    }
    devices.removeFirst();
    m_scorers->ownedModel = std::move(model);
    m_scorers->ownedTokenizer = std::move(tokenizer);
    m_scorers->model = m_scorers->ownedModel.get();
    const Tokenizer &t = *m_scorers->ownedTokenizer.tokenizer;
    const int bosId = m_scorers->ownedTokenizer.bosId;
    m_scorers->search.emplace(*m_scorers->model, t, bosId, m_settings.samples, modelDir, devices);
    // Validation candidates are few per generation: one replica scores them.
    if (validating())
        buildValidationScorer(m_validation.samples, [&] { m_scorers->validation.emplace(*m_scorers->model, t, bosId, m_validation); });
    m_perReplica = m_settings.candidateBatch > 0 ? m_settings.candidateBatch : CandidateScorer::defaultBatch(*m_scorers->model);
    m_modelDir = modelDir;
    m_device = m_scorers->model->device();
    m_dtype = m_scorers->model->dtype();
    m_searchFitness = rs::searchFitness(*m_scorers->search, m_perReplica);
    if (m_scorers->validation)
        m_validationFitness = rs::searchFitness(*m_scorers->validation, m_perReplica);
}

void SearchJob::useModel(CausalLM &model, const Tokenizer &tokenizer, int bosId, const QString &modelDir)
{
    m_scorers = std::make_unique<Scorers>();
    m_scorers->model = &model;
    // On a GPU a generation's candidates go through batched forwards (8 rows, each with its own
    // λ); on the CPU one at a time.
    m_scorers->search.emplace(model, tokenizer, bosId, m_settings.samples);
    if (validating())
        buildValidationScorer(m_validation.samples, [&] { m_scorers->validation.emplace(model, tokenizer, bosId, m_validation); });
    m_perReplica = m_settings.candidateBatch > 0 ? m_settings.candidateBatch : CandidateScorer::defaultBatch(model);
    m_modelDir = modelDir;
    m_device = model.device();
    m_dtype = model.dtype();
    m_searchFitness = rs::searchFitness(*m_scorers->search, m_perReplica);
    if (m_scorers->validation)
        m_validationFitness = rs::searchFitness(*m_scorers->validation, m_perReplica);
}

void SearchJob::useFitness(SampledFitness search, SampledFitness validation, const QString &modelDir, const QString &device,
                           const QString &dtype)
{
    m_searchFitness = std::move(search);
    m_validationFitness = validating() ? std::move(validation) : SampledFitness{};
    if (!validating())
        m_validationFitness.samples = 0;
    m_modelDir = modelDir;
    m_device = device;
    m_dtype = dtype;
}

void SearchJob::useSimulated(const SimulatedFitnessSpec &spec, const QString &modelDir)
{
    m_simulated = std::make_unique<SimulatedFitness>(spec, m_engine.settings());
    m_perReplica = std::max(1, m_settings.candidateBatch);
    m_searchFitness = m_simulated->fitness(SampleSetName::Search, m_settings.samples.samples, m_perReplica);
    if (validating())
        m_validationFitness = m_simulated->fitness(SampleSetName::Validation, m_validation.samples, m_perReplica);
    m_modelDir = modelDir;
    m_device = QStringLiteral("simulated");
    m_dtype = QStringLiteral("none");
}

QStringList SearchJob::devices() const
{
    if (m_simulated)
        return {m_device};
    return m_scorers && m_scorers->search ? m_scorers->search->devices() : QStringList{m_device};
}

CausalLM &SearchJob::model() const
{
    if (!m_scorers || !m_scorers->model)
        throw Error(kSource, QStringLiteral("internal: the job has no model of its own"));
    return *m_scorers->model;
}

std::vector<double> SearchJob::score(SampleSetName set, const std::vector<Candidate> &candidates, int sample) const
{
    if (m_simulated)
        return m_simulated->score(set, candidates, sample);
    if (!m_scorers || !m_scorers->search)
        throw Error(kSource, QStringLiteral("internal: the job has no scorers of its own"));
    if (set == SampleSetName::Search)
        return m_scorers->search->samplePpl(candidates, sample);
    if (!m_scorers->validation)
        throw Error(kSource, QStringLiteral("a validation job, but this run has no validation samples"));
    std::vector<double> out;
    const size_t step = size_t(std::max(1, m_perReplica));
    for (size_t i = 0; i < candidates.size(); i += step) {
        const std::vector<Candidate> part(candidates.begin() + long(i), candidates.begin() + long(std::min(candidates.size(), i + step)));
        const std::vector<double> got = m_scorers->validation->samplePpl(part, sample);
        out.insert(out.end(), got.begin(), got.end());
    }
    return out;
}

RunContext SearchJob::context() const
{
    RunContext c;
    c.model = QFileInfo(m_modelDir).absoluteFilePath();
    c.corpus = m_settings.samples.corpus;
    if (m_settings.resume && !m_settings.logPath.isEmpty()) {
        // The log's own spelling, where it names the same folder and corpus (else the resume
        // refuses the log: its context differs).
        try {
            const RunLogStart logged = readRunLogStart(m_settings.logPath);
            if (!logged.model.isEmpty() && samePath(logged.model, m_modelDir))
                c.model = logged.model;
            if (samePath(logged.corpus, c.corpus))
                c.corpus = logged.corpus;
        } catch (const Error &) {
            // A log that cannot be read is refused by the resume itself, with its reason.
        }
    }
    c.samples = m_settings.samples.samples;
    c.depth = m_settings.samples.depth;
    c.length = m_settings.samples.length;
    c.device = m_device;
    c.dtype = m_dtype;
    // Unless searched, candidates are scored as an exported longrope config would run them: with
    // longrope's default attention factor for this scale (the search's default).
    if (!m_engine.settings().searchAttentionFactor)
        c.attentionFactor = m_engine.fixedAttentionFactor();
    if (validating()) {
        c.validationSamples = m_validation.samples;
        c.validationSeed = m_validation.seed;
    }
    return c;
}

SearchPlan SearchJob::plan() const
{
    SearchPlan plan;
    plan.settings = m_engine.settings();
    plan.samples = m_settings.samples.samples;
    plan.expectedEvaluations = expectedEvaluations(plan.settings, plan.samples);
    plan.targetLength = m_settings.samples.length;
    plan.attentionFactor = m_engine.fixedAttentionFactor();
    plan.logPath = m_settings.logPath;
    plan.resumed = m_settings.resume;
    plan.model = m_modelDir;
    plan.searchSamples = m_settings.samples;
    if (validating())
        plan.validationSamples = m_validation;
    return plan;
}

SearchHooks SearchJob::hooks() const
{
    SearchHooks hooks;
    hooks.logPath = m_settings.logPath;
    hooks.resume = m_settings.resume;
    hooks.baselines = m_baselines;
    hooks.context = context().toJson();
    return hooks;
}

SearchResult SearchJob::run(const SearchHooks &hooks)
{
    return m_engine.run(m_searchFitness, m_validationFitness, hooks);
}

} // namespace rs
