#pragma once
// Part distributed (core/distributed, ropescope_distributed): one search over many MPI ranks.
// Rank 0 runs the search and owns its log; its Coordinator makes the other ranks the search's
// batch fitness through a dynamic work queue: a batch of (candidate, sample) evaluations is cut
// into jobs, and each job goes to the next rank that is free, so uneven ranks (mixed GPUs, racing,
// a slow node) all stay busy; while the batch holds work for every rank, each also gets its next
// job ahead, so it goes on without waiting for rank 0's answer to its result. Every other rank calls serveJobs(), which loads the model once (the
// caller's set-up) and scores jobs with the caller's scoring function: this part sees neither
// models nor evaluators (the CLI binds the search job's scorers to it, as job/searchfitness.h does
// in one process), so its protocol is tested on synthetic fitness.
//
// Faults: a rank that goes silent (no heartbeat, no result) past a timeout, or whose job runs past
// a limit, or whose scoring throws, is reported by rank and host, its jobs go to the others and
// the run goes on. Whether the MPI launcher lets the others live on after a rank dies is its
// business (OpenMPI 4: `mpirun --enable-recovery`; without it mpirun ends the job, README "Many
// machines"): the run log stays the one source of truth and `--resume` finishes it with any
// number of ranks.
#include "search/search.h"

#include <QJsonObject>
#include <QString>
#include <QStringList>

#include <functional>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

namespace rs::mpi {

// Whether an MPI launcher started this process (OpenMPI's mpirun/mpiexec, srun with PMI or
// PMIx), read from the environment before MPI is touched: a plain run never initialises MPI.
bool launchedByMpi();
// The world size the launcher announces (1 when not launched by MPI).
int launchedWorldSize();

// MPI for the life of the object, and this process's place in the MPI world (its rank, the world's
// size, its host): MPI_Init_thread (funneled: only this thread calls MPI) with errors returned
// instead of aborting the job, MPI_Finalize at the end.
class Environment {
public:
    Environment();
    ~Environment();
    Environment(const Environment &) = delete;
    Environment &operator=(const Environment &) = delete;
    int rank() const { return m_rank; }
    int size() const { return m_size; }
    QString host() const { return m_host; }
    // The process's exit code, should MPI_Finalize not return: with a peer that died (mpirun
    // --enable-recovery), OpenMPI 4.1's finalize sometimes waits for it forever. The work is done
    // and the log closed by then, so after kFinalizeSeconds the process exits with this code.
    void setExitCode(int code) { m_exitCode = code; }
    static constexpr int kFinalizeSeconds = 10;

private:
    int m_exitCode = 0;
    int m_rank = 0;
    int m_size = 1;
    QString m_host;
};

// Which samples a job scores: the search's or the held-out validation samples.
enum class SampleSet { Search = 0, Validation = 1 };

// What a scorer rank tells rank 0 once its model is loaded.
struct ScorerHello {
    QStringList devices;  // one model replica each
    QString dtype;
    int capacity = 1;     // candidates per job (replicas × candidates per forward)
};

// A scorer rank's set-up that failed: its message, and whether it is a command-line mistake (exit 2)
// rather than bad input (exit 1).
struct SetupFailure {
    QString message;
    bool usage = false;
};

struct Timeouts {
    // A rank with work to do (or still loading its model) that sends nothing (results, heartbeats)
    // for this long is lost. Scorer ranks heartbeat every silence / 4 (at most every 10 s).
    double silenceSeconds = 120;
    // One job may take at most this long (0: no limit): a hung device still heartbeats.
    double jobSeconds = 0;
    double heartbeatSeconds() const;
};

// Rank 0's side.
class Coordinator {
public:
    struct ScorerRank {
        int rank = 0;
        QString host;
        qint64 pid = 0;  // the worker's process id on its host
        ScorerHello hello;
        bool lost = false;
        QString lostReason;
        qint64 jobs = 0;
        qint64 evaluations = 0;  // (candidate, sample) scores returned
        double busySeconds = 0;  // scoring time the rank reported
    };
    // A scorer rank whose set-up failed (start() throws it): the run cannot begin.
    struct ScorerSetupError {
        int rank = 0;
        QString host;
        SetupFailure failure;
    };

    explicit Coordinator(const Environment &world);
    ~Coordinator();  // stops every scorer rank (also when rank 0 fails before or during the run)
    Coordinator(const Coordinator &) = delete;
    Coordinator &operator=(const Coordinator &) = delete;

    void setTimeouts(const Timeouts &t) { m_timeouts = t; }
    // Called with one line for each lost rank (e.g. to print it on stderr).
    void setOnLost(std::function<void(const QString &)> f) { m_onLost = std::move(f); }

    // Waits until every scorer rank has loaded its model and said hello (a silent one is lost; throws
    // ScorerSetupError for a set-up that failed, rs::Error when no scorer rank is left).
    void start();
    const std::vector<ScorerRank> &scorers() const { return m_scorers; }
    int capacity() const;  // candidates per job summed over the live scorer ranks

    // The scores of `candidates` on sample `sample` of `set`, in order, from whichever ranks are
    // free; a lost rank's jobs are scored again elsewhere. Throws rs::Error when every scorer rank is lost.
    // With `each`, every score also goes to it as it arrives; once it returns false no job is sent
    // any more, and the call returns when the running ones have answered (the rest stay NaN).
    std::vector<double> score(SampleSet set, const std::vector<Candidate> &candidates, int sample,
                              const ScoreSink &each = {});
    // score() as the search's fitness, K samples: streaming, so the search hands it a whole round
    // and no rank waits at a cut for the slowest (issue 28); `batch` (rank stability) in batches of
    // twice the live capacity.
    SampledFitness fitness(SampleSet set, int samples);

    // For SearchHooks::logEvents: the "rank_lost" entries since the last call and, atGeneration,
    // a "rank_stats" entry (per rank: host, devices, jobs, evaluations, evaluations/s, idle %).
    std::vector<QJsonObject> takeLogEvents(bool atGeneration);
    QJsonObject rankStats() const;

private:
    struct Job;
    void dispatch(std::vector<Job> &queue, const std::vector<Candidate> &candidates, int alive);
    void handleMessage(int source, int tag, const QByteArray &payload, std::vector<Job> &queue,
                       std::vector<double> &scores, size_t &remaining, const ScoreSink &each, bool &stopped);
    void lose(ScorerRank &w, const QString &reason, std::vector<Job> &queue);
    ScorerRank *scorer(int rank);
    void sendTag(int rank, int tag);

    const Environment &m_world;
    Timeouts m_timeouts;
    std::vector<ScorerRank> m_scorers;
    struct State;
    std::unique_ptr<State> d;
    std::vector<QJsonObject> m_events;
    std::function<void(const QString &)> m_onLost;
};

// A scorer rank's side: runs setup() (loading the model; heartbeats go to rank 0 meanwhile), says
// hello, then scores jobs with score(set, candidates, sample) until rank 0 says stop. Returns the
// set-up's failure (after telling rank 0), else nothing. Throws rs::Error when rank 0 goes silent
// (it died: the run log is resumable).
using ScorerSetup = std::function<std::variant<ScorerHello, SetupFailure>()>;
using JobScorer = std::function<std::vector<double>(SampleSet set, const std::vector<Candidate> &candidates, int sample)>;
std::optional<SetupFailure> serveJobs(const Environment &world, const Timeouts &timeouts, const ScorerSetup &setup,
                                      const JobScorer &score);

} // namespace rs::mpi
