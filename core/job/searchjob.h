#pragma once
// Part job (core/job, ropescope_job): the search job, settings in, a ready run out. May use
// worker_api (the settings, the plan, the baselines), search, eval, runtime, rope and common; never
// the worker thread, widgets, app or LibTorch headers (models through runtime/model.h).
//
// `ropescope-cli search`, the GUI's evaluation worker and the ranks of an MPI search all start a
// search through a SearchJob, so a search is set up once: the settings resolved against the
// model's RoPE (the engine), the search and validation samples with their overlap check, the
// baselines, the model replicas and scorers, the run context and the log. The front ends differ
// only in how they show progress (the hooks they add) and in where the scoring runs: the model
// this process loaded (loadScorers), a model someone else owns (useModel), remote ranks
// (useFitness), or a simulated fitness that needs no model (useSimulated, for scale tests).
#include "worker/messages.h"
#include "worker/searchjobsettings.h"
#include "job/simulatedfitness.h"
#include "rope/ropeconfig.h"
#include "search/runlogcodec.h"
#include "search/search.h"

#include <QString>
#include <QStringList>

#include <memory>
#include <vector>

namespace rs {

class CausalLM;
class Tokenizer;
struct ModelTokenizer;

class SearchJob {
public:
    // The job for a model whose RoPE is `rope`: the search's RoPE fields and target length
    // (settings.samples.length) filled in, its defaults resolved and checked. Throws rs::Error for
    // settings the search refuses or validation samples that overlap the search's.
    SearchJob(const SearchJobSettings &settings, const RopeConfig &rope);
    ~SearchJob();
    SearchJob(const SearchJob &) = delete;
    SearchJob &operator=(const SearchJob &) = delete;

    // Why the validation samples of `settings` cannot be used (they share seeds with the search's),
    // or empty: for front ends that report it in their own words before anything loads.
    static QString overlapProblem(const SearchJobSettings &settings);

    const SearchJobSettings &settings() const { return m_settings; }
    EvolutionSearch &engine() { return m_engine; }
    const EvolutionSearch &engine() const { return m_engine; }
    const NeedleEvalSettings &searchSamples() const { return m_settings.samples; }
    const NeedleEvalSettings &validationSamples() const { return m_validation; }  // samples == 0: none
    bool validating() const { return m_validation.samples > 0; }
    const std::vector<SearchBaseline> &baselines() const { return m_baselines; }

    // Where the candidates are scored; one of the four, once.
    // The model this process loaded from `modelDir`: one replica per device of settings().devices
    // (default: every visible GPU with CUDA, else the model's device; the model itself moves to
    // the first device when it is elsewhere), the search samples spread over them in batches of
    // candidateBatch per replica, the validation samples on the first.
    void loadScorers(std::unique_ptr<CausalLM> model, ModelTokenizer tokenizer, const QString &modelDir);
    // A model someone else owns and keeps (the GUI's worker): it is the only replica.
    void useModel(CausalLM &model, const Tokenizer &tokenizer, int bosId, const QString &modelDir);
    // Remote scorers (rank 0 of an MPI search): their fitnesses, the device and dtype they run on.
    void useFitness(SampledFitness search, SampledFitness validation, const QString &modelDir, const QString &device,
                    const QString &dtype);

    // The simulated fitness (simulatedfitness.h) in this process, candidateBatch (default 1)
    // candidates per job: no model is loaded; the device is "simulated", the dtype "none".
    void useSimulated(const SimulatedFitnessSpec &spec, const QString &modelDir);
    const SimulatedFitness *simulated() const { return m_simulated.get(); }

    // After loadScorers, useModel or useSimulated: the replicas' devices, candidates per forward and replica,
    // and the needle PPLs of `candidates` on one sample of either set (an MPI scorer rank's job).
    QStringList devices() const;
    int perReplica() const { return m_perReplica; }
    CausalLM &model() const;
    std::vector<double> score(SampleSetName set, const std::vector<Candidate> &candidates, int sample) const;

    SampledFitness searchFitness() const { return m_searchFitness; }
    SampledFitness validationFitness() const { return m_validationFitness; }
    // What the run measures, as its log's start record holds it. A resumed run keeps the log's
    // spelling of the same model folder and corpus (a symlink, a relative path).
    RunContext context() const;
    // The run as it begins, for the GUI's plots.
    SearchPlan plan() const;
    // The hooks with the log, the resume, the baselines and the context: the front end adds its
    // progress, cancellation and log events.
    SearchHooks hooks() const;
    // Runs the search with the job's scorers (after one of the three above).
    SearchResult run(const SearchHooks &hooks);

private:
    struct Scorers;
    SearchJobSettings m_settings;
    EvolutionSearch m_engine;
    NeedleEvalSettings m_validation;
    std::vector<SearchBaseline> m_baselines;
    std::unique_ptr<Scorers> m_scorers;
    std::unique_ptr<SimulatedFitness> m_simulated;
    int m_perReplica = 1;
    SampledFitness m_searchFitness;
    SampledFitness m_validationFitness;
    QString m_modelDir;
    QString m_device;
    QString m_dtype;
};

} // namespace rs
