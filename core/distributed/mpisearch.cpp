#include "distributed/mpisearch.h"
#include "search/runlogcodec.h"

#include "common/error.h"

#include <mpi.h>

#include <QCoreApplication>
#include <QDataStream>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QIODevice>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <cmath>
#include <deque>
#include <future>
#include <limits>
#include <thread>

namespace rs::mpi {

namespace {

const QString kSource = QStringLiteral("mpi");

// Message tags. Scorer rank → rank 0: hello, heartbeat, result, failed. Rank 0 → scorer rank: job, ping, stop.
enum Tag : int { kHello = 1, kHeartbeat = 2, kResult = 3, kFailed = 4, kJob = 10, kPing = 11, kStop = 12 };

bool envSet(const char *name) { return qEnvironmentVariableIsSet(name) && !qEnvironmentVariableIsEmpty(name); }

QString mpiError(int code)
{
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    return QString::fromLocal8Bit(text, length);
}

void check(int code, const char *what)
{
    if (code != MPI_SUCCESS)
        throw Error(kSource, QStringLiteral("%1 failed: %2").arg(QLatin1String(what), mpiError(code)));
}

void sendBytes(int rank, int tag, const QByteArray &bytes)
{
    check(MPI_Send(bytes.constData(), int(bytes.size()), MPI_BYTE, rank, tag, MPI_COMM_WORLD), "MPI_Send");
}

// The next message from `source` (MPI_ANY_SOURCE for any), if one is waiting.
bool receive(int source, int &from, int &tag, QByteArray &bytes)
{
    int flag = 0;
    MPI_Status status;
    check(MPI_Iprobe(source, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &status), "MPI_Iprobe");
    if (!flag)
        return false;
    int count = 0;
    check(MPI_Get_count(&status, MPI_BYTE, &count), "MPI_Get_count");
    bytes.resize(count);
    check(MPI_Recv(bytes.data(), count, MPI_BYTE, status.MPI_SOURCE, status.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
          "MPI_Recv");
    from = status.MPI_SOURCE;
    tag = status.MPI_TAG;
    return true;
}

void pause() { std::this_thread::sleep_for(std::chrono::microseconds(500)); }

QDataStream &operator<<(QDataStream &s, const Candidate &c)
{
    s << quint32(c.lambda.size());
    for (double v : c.lambda)
        s << v;
    return s << c.attentionFactor;
}

QDataStream &operator>>(QDataStream &s, Candidate &c)
{
    quint32 n = 0;
    s >> n;
    c.lambda.resize(n);
    for (double &v : c.lambda)
        s >> v;
    return s >> c.attentionFactor;
}

} // namespace

bool launchedByMpi()
{
    return envSet("OMPI_COMM_WORLD_SIZE") || envSet("PMIX_RANK") || envSet("PMI_RANK") || envSet("PMI_SIZE");
}

int launchedWorldSize()
{
    for (const char *name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"}) {
        bool ok = false;
        const int n = qEnvironmentVariableIntValue(name, &ok);
        if (ok && n > 0 && launchedByMpi())
            return n;
    }
    return launchedByMpi() ? 2 : 1;  // PMIx alone does not say; MPI_Comm_size will
}

double Timeouts::heartbeatSeconds() const { return std::clamp(silenceSeconds / 4, 0.05, 10.0); }

Environment::Environment()
{
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &m_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &m_size);
    char name[MPI_MAX_PROCESSOR_NAME];
    int length = 0;
    MPI_Get_processor_name(name, &length);
    m_host = QString::fromLocal8Bit(name, length);
}

Environment::~Environment()
{
    std::atomic<bool> finalized{false};
    std::thread watchdog([&] {
        for (int i = 0; i < kFinalizeSeconds * 20 && !finalized; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (!finalized) {
            std::fprintf(stderr, "ropescope-cli: rank %d: MPI_Finalize did not return in %d s (a lost peer?); exiting\n",
                         m_rank, kFinalizeSeconds);
            std::fflush(stdout);
            std::fflush(stderr);
            std::_Exit(m_exitCode);
        }
    });
    MPI_Finalize();
    finalized = true;
    watchdog.join();
}

// ---------------------------------------------------------------------------------------------
// Rank 0

struct Coordinator::Job {
    qint64 id = 0;
    SampleSet set = SampleSet::Search;
    int sample = 0;
    std::vector<size_t> indices;  // into the batch's candidates
};

// Jobs a rank holds at once: the one it scores and the next, sent ahead so that it starts the next
// as soon as it sends a result, without waiting for rank 0 to hear it and answer (issue 28: on a
// busy machine that round trip cost 10-20 ms per job, 15 % of 0.1 s evaluations at 32 ranks).
constexpr size_t kJobsAhead = 2;

struct Coordinator::State {
    QElapsedTimer clock;  // since start()
    qint64 nextJob = 1;
    struct InFlight {
        Job job;
        QByteArray payload;     // the job message, alive while its send may be in flight
        MPI_Request request = MPI_REQUEST_NULL;
        double startedAt = 0;   // when the rank can have begun it: sent, or its previous job answered
    };
    struct Busy {
        std::deque<InFlight> jobs;  // sent, not yet answered, in the order the rank scores them
        bool busy() const { return !jobs.empty(); }
    };
    std::vector<Busy> busy;       // per scorer rank
    std::vector<double> lastHeard;  // per scorer rank, seconds on `clock`
    std::vector<double> lastPinged;
    std::vector<QByteArray> orphans;  // payloads of sends to ranks that were lost
    const std::vector<Candidate> *candidates = nullptr;
    double now() const { return double(clock.nsecsElapsed()) / 1e9; }
};

Coordinator::Coordinator(const Environment &world) : m_world(world), d(std::make_unique<State>())
{
    d->clock.start();
    for (int r = 1; r < world.size(); ++r) {
        ScorerRank w;
        w.rank = r;
        m_scorers.push_back(w);
    }
    d->busy.resize(m_scorers.size());
    d->lastHeard.assign(m_scorers.size(), 0.0);
    d->lastPinged.assign(m_scorers.size(), 0.0);
}

Coordinator::~Coordinator()
{
    // Every scorer rank is told to stop, the lost ones too (a slow one that comes back then exits).
    for (const ScorerRank &w : m_scorers)
        sendTag(w.rank, kStop);
}

Coordinator::ScorerRank *Coordinator::scorer(int rank)
{
    return rank >= 1 && rank <= int(m_scorers.size()) ? &m_scorers[size_t(rank - 1)] : nullptr;
}

// Never blocks for long: a rank that died may never take the message (it is then left behind).
void Coordinator::sendTag(int rank, int tag)
{
    MPI_Request request = MPI_REQUEST_NULL;
    if (MPI_Isend(nullptr, 0, MPI_BYTE, rank, tag, MPI_COMM_WORLD, &request) != MPI_SUCCESS)
        return;
    int done = 0;
    QElapsedTimer clock;
    clock.start();
    while (!done && clock.elapsed() < 1000) {
        MPI_Test(&request, &done, MPI_STATUS_IGNORE);
        if (!done)
            pause();
    }
    if (!done)
        MPI_Request_free(&request);
}

int Coordinator::capacity() const
{
    int c = 0;
    for (const ScorerRank &w : m_scorers)
        if (!w.lost)
            c += w.hello.capacity;
    return c;
}

void Coordinator::start()
{
    d->clock.restart();
    std::vector<bool> said(m_scorers.size(), false);
    std::optional<ScorerSetupError> failed;
    auto pending = [&] {
        for (size_t i = 0; i < m_scorers.size(); ++i)
            if (!said[i] && !m_scorers[i].lost)
                return true;
        return false;
    };
    std::vector<Job> none;
    while (pending()) {
        int from = 0, tag = 0;
        QByteArray bytes;
        if (receive(MPI_ANY_SOURCE, from, tag, bytes)) {
            ScorerRank *w = scorer(from);
            if (!w)
                continue;
            d->lastHeard[size_t(from - 1)] = d->now();
            if (tag != kHello)
                continue;
            QDataStream in(bytes);
            bool ok = false;
            in >> ok >> w->host >> w->pid;
            said[size_t(from - 1)] = true;
            if (ok) {
                in >> w->hello.devices >> w->hello.dtype >> w->hello.capacity;
                w->hello.capacity = std::max(1, w->hello.capacity);
            } else {
                SetupFailure f;
                in >> f.message >> f.usage;
                w->lost = true;
                w->lostReason = QStringLiteral("set-up failed: ") + f.message;
                if (!failed)
                    failed = ScorerSetupError{from, w->host, f};
            }
            continue;
        }
        const double now = d->now();
        for (size_t i = 0; i < m_scorers.size(); ++i)
            if (!said[i] && !m_scorers[i].lost && now - d->lastHeard[i] > m_timeouts.silenceSeconds)
                lose(m_scorers[i], QStringLiteral("silent for %1 s while loading its model").arg(m_timeouts.silenceSeconds), none);
        pause();
    }
    if (failed)
        throw *failed;
    if (capacity() == 0)
        throw Error(kSource, QStringLiteral("no scorer rank is left to score candidates"));
    d->clock.restart();
    for (double &t : d->lastHeard)
        t = 0;
}

void Coordinator::lose(ScorerRank &w, const QString &reason, std::vector<Job> &queue)
{
    if (w.lost)
        return;
    w.lost = true;
    w.lostReason = reason;
    State::Busy &b = d->busy[size_t(w.rank - 1)];
    int requeued = 0;
    for (auto it = b.jobs.rbegin(); it != b.jobs.rend(); ++it) {
        requeued += int(it->job.indices.size());
        queue.insert(queue.begin(), it->job);  // first in line again, in their order
        if (it->request != MPI_REQUEST_NULL)
            MPI_Request_free(&it->request);
        d->orphans.push_back(it->payload);
    }
    b.jobs.clear();
    sendTag(w.rank, kStop);
    const QString host = w.host.isEmpty() ? QStringLiteral("an unknown host") : w.host;
    m_events.push_back(RankLostRecord{w.rank, w.host, reason, requeued}.toJson());
    if (m_onLost)
        m_onLost(QStringLiteral("rank %1 on %2 lost (%3)%4")
                     .arg(w.rank)
                     .arg(host, reason,
                          requeued > 0 ? QStringLiteral(": its %1 evaluation(s) in flight go to the other ranks").arg(requeued)
                                       : QString()));
}

void Coordinator::handleMessage(int source, int tag, const QByteArray &payload, std::vector<Job> &queue,
                                std::vector<double> &scores, size_t &remaining, const ScoreSink &each, bool &stopped)
{
    ScorerRank *w = scorer(source);
    if (!w)
        return;
    d->lastHeard[size_t(source - 1)] = d->now();
    if (w->lost || (tag != kResult && tag != kFailed))
        return;  // a late answer of a lost rank, a heartbeat
    State::Busy &b = d->busy[size_t(source - 1)];
    QDataStream in(payload);
    qint64 id = 0;
    in >> id;
    if (!b.busy() || b.jobs.front().job.id != id)
        return;
    State::InFlight &f = b.jobs.front();
    if (f.request != MPI_REQUEST_NULL)
        MPI_Wait(&f.request, MPI_STATUS_IGNORE);  // the result proves the job arrived
    if (tag == kFailed) {
        QString message;
        in >> message;
        lose(*w, QStringLiteral("scoring failed: %1").arg(message), queue);
        return;
    }
    std::vector<double> got;
    double busy = 0;
    quint32 n = 0;
    in >> busy >> n;
    got.resize(n);
    for (double &v : got)
        in >> v;
    if (in.status() != QDataStream::Ok || got.size() != f.job.indices.size()) {
        lose(*w, QStringLiteral("sent a malformed result"), queue);
        return;
    }
    const Job job = std::move(f.job);
    remaining -= got.size();
    b.jobs.pop_front();
    if (b.busy())
        b.jobs.front().startedAt = d->now();  // the rank goes on with the job it already holds
    ++w->jobs;
    w->evaluations += qint64(got.size());
    w->busySeconds += busy;
    for (size_t j = 0; j < got.size(); ++j) {
        scores[job.indices[j]] = got[j];
        if (each && !each(job.indices[j], got[j]))
            stopped = true;
    }
}

// Each rank with room takes the next share of the queue: as much as its capacity, but no more than
// an even split of what is left over the live ranks, so the others get work too. First the idle
// ranks; then a job ahead for each busy one, but only while the queue holds work for every live
// rank (at a batch's tail a job ahead would wait behind a slow one while another rank idles).
void Coordinator::dispatch(std::vector<Job> &queue, const std::vector<Candidate> &candidates, int alive)
{
    for (size_t held = 0; held < kJobsAhead; ++held) {
        for (ScorerRank &w : m_scorers) {
            State::Busy &b = d->busy[size_t(w.rank - 1)];
            if (w.lost || b.jobs.size() != held || queue.empty())
                continue;
            size_t pendingCount = 0;
            for (const Job &j : queue)
                pendingCount += j.indices.size();
            if (held > 0 && pendingCount < size_t(alive) * size_t(w.hello.capacity))
                continue;
            const size_t share = std::max<size_t>(1, (pendingCount + size_t(alive) - 1) / size_t(alive));
            const size_t take = std::min({size_t(w.hello.capacity), share, queue.front().indices.size()});
            Job job = queue.front();
            job.id = d->nextJob++;
            job.indices.resize(take);
            queue.front().indices.erase(queue.front().indices.begin(), queue.front().indices.begin() + long(take));
            if (queue.front().indices.empty())
                queue.erase(queue.begin());
            State::InFlight &f = b.jobs.emplace_back();
            {
                QDataStream out(&f.payload, QIODevice::WriteOnly);
                out << job.id << int(job.set) << job.sample << quint32(take);
                for (size_t i : job.indices)
                    out << candidates[i];
            }
            f.job = std::move(job);
            f.startedAt = d->now();
            if (held == 0)
                d->lastHeard[size_t(w.rank - 1)] = f.startedAt;  // silence counts from the job on
            check(MPI_Isend(f.payload.constData(), int(f.payload.size()), MPI_BYTE, w.rank, kJob, MPI_COMM_WORLD, &f.request),
                  "MPI_Isend");
        }
    }
}

std::vector<double> Coordinator::score(SampleSet set, const std::vector<Candidate> &candidates, int sample,
                                       const ScoreSink &each)
{
    std::vector<double> scores(candidates.size(), std::numeric_limits<double>::quiet_NaN());
    std::vector<Job> queue;  // jobs not yet sent, in order
    size_t remaining = candidates.size();
    {
        Job all;
        all.set = set;
        all.sample = sample;
        for (size_t i = 0; i < candidates.size(); ++i)
            all.indices.push_back(i);
        if (!all.indices.empty())
            queue.push_back(all);
    }
    auto alive = [&] {
        int n = 0;
        for (const ScorerRank &w : m_scorers)
            n += w.lost ? 0 : 1;
        return n;
    };
    bool stopped = false;  // `each` asked for no more work: only the running jobs are waited for
    auto running = [&] {
        size_t n = 0;
        for (const State::Busy &b : d->busy)
            for (const State::InFlight &f : b.jobs)
                n += f.job.indices.size();
        return n;
    };
    while (remaining > 0) {
        if (stopped) {
            queue.clear();  // also what a rank lost meanwhile gave back
            remaining = running();
            if (remaining == 0)
                break;
        }
        if (alive() == 0)
            throw Error(kSource, QStringLiteral("every scorer rank is lost (%1); the run log is resumable with --resume")
                                     .arg(m_scorers.empty() ? QStringLiteral("there are none") : m_scorers.back().lostReason));
        dispatch(queue, candidates, alive());
        int from = 0, tag = 0;
        QByteArray bytes;
        if (receive(MPI_ANY_SOURCE, from, tag, bytes)) {
            handleMessage(from, tag, bytes, queue, scores, remaining, each, stopped);
            continue;
        }
        const double now = d->now();
        for (ScorerRank &w : m_scorers) {
            if (w.lost)
                continue;
            const size_t i = size_t(w.rank - 1);
            State::Busy &b = d->busy[i];
            if (b.busy() && now - d->lastHeard[i] > m_timeouts.silenceSeconds) {
                lose(w, QStringLiteral("silent for %1 s: no heartbeat, no result").arg(m_timeouts.silenceSeconds), queue);
            } else if (b.busy() && m_timeouts.jobSeconds > 0 && now - b.jobs.front().startedAt > m_timeouts.jobSeconds) {
                lose(w, QStringLiteral("a job ran past %1 s").arg(m_timeouts.jobSeconds), queue);
            } else if (!b.busy() && now - d->lastPinged[i] > m_timeouts.heartbeatSeconds()) {
                // Idle ranks hear from rank 0 too, so that they notice when it dies.
                sendTag(w.rank, kPing);
                d->lastPinged[i] = now;
            }
        }
        pause();
    }
    return scores;
}

SampledFitness Coordinator::fitness(SampleSet set, int samples)
{
    SampledFitness f;
    f.samples = samples;
    f.maxBatch = std::max(1, 2 * capacity());
    f.batch = [this, set](const std::vector<Candidate> &candidates, int sample) { return score(set, candidates, sample); };
    f.stream = [this, set](const std::vector<Candidate> &candidates, int sample, const ScoreSink &each) {
        score(set, candidates, sample, each);
    };
    return f;
}

QJsonObject Coordinator::rankStats() const
{
    const double wall = std::max(d->now(), 1e-9);
    RankStatsRecord record;
    for (const ScorerRank &w : m_scorers) {
        RankStatsRecord::Rank r;
        r.rank = w.rank;
        r.host = w.host;
        r.pid = w.pid;
        r.devices = w.hello.devices;
        r.jobs = w.jobs;
        r.evaluations = w.evaluations;
        r.seconds = wall;
        r.busySeconds = w.busySeconds;
        r.evaluationsPerSecond = double(w.evaluations) / wall;
        r.idlePercent = std::clamp(100.0 * (1.0 - w.busySeconds / wall), 0.0, 100.0);
        if (w.lost)
            r.lost = w.lostReason;
        record.ranks.push_back(std::move(r));
    }
    return record.toJson();
}

std::vector<QJsonObject> Coordinator::takeLogEvents(bool atGeneration)
{
    std::vector<QJsonObject> out;
    out.swap(m_events);
    if (atGeneration && !m_scorers.empty())
        out.push_back(rankStats());
    return out;
}

// ---------------------------------------------------------------------------------------------
// Scorer ranks

namespace {

// A scorer rank's jobs, run one after another on a thread of their own: the MPI thread queues each
// job as it arrives (rank 0 sends the next one ahead) and sends each result once it is done. So a
// rank starts its next job the moment the last one ends, without waiting for the MPI thread to be
// woken and scheduled to hand it over: with many ranks on few cores, where every rank of a round
// finishes at once, that hand-over cost about 20 ms a round at 64 ranks on 2 cores (issue 28).
class JobRunner {
public:
    struct Job {
        qint64 id = 0;
        int set = 0;
        int sample = 0;
        std::vector<Candidate> candidates;
    };
    struct Done {
        qint64 id = 0;
        double busySeconds = 0;
        std::vector<double> scores;
        QString failure;  // the scorer's exception; empty when it scored
    };

    explicit JobRunner(const JobScorer &score) : m_score(score), m_thread([this] { run(); }) {}
    ~JobRunner()
    {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_quit = true;
            m_queue.clear();
        }
        m_wake.notify_all();
        m_thread.join();
    }
    void push(Job job)
    {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_queue.push_back(std::move(job));
        }
        m_wake.notify_all();
    }
    bool takeDone(Done &out)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (m_done.empty())
            return false;
        out = std::move(m_done.front());
        m_done.pop_front();
        return true;
    }
    // A job is queued or running, or a result is not taken yet.
    bool busy()
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_running || !m_queue.empty() || !m_done.empty();
    }
    void waitForDone(std::chrono::microseconds atMost)
    {
        std::unique_lock<std::mutex> lock(m_mutex);
        m_finished.wait_for(lock, atMost, [this] { return !m_done.empty(); });
    }

private:
    void run()
    {
        std::unique_lock<std::mutex> lock(m_mutex);
        for (;;) {
            m_wake.wait(lock, [this] { return m_quit || !m_queue.empty(); });
            if (m_quit)
                return;
            Job job = std::move(m_queue.front());
            m_queue.pop_front();
            m_running = true;
            lock.unlock();
            Done done;
            done.id = job.id;
            QElapsedTimer busy;
            busy.start();
            try {
                done.scores = m_score(SampleSet(job.set), job.candidates, job.sample);
            } catch (const std::exception &e) {
                done.failure = QString::fromLocal8Bit(e.what());
            }
            done.busySeconds = double(busy.nsecsElapsed()) / 1e9;
            lock.lock();
            m_running = false;
            m_done.push_back(std::move(done));
            m_finished.notify_all();
        }
    }

    const JobScorer &m_score;
    std::mutex m_mutex;
    std::condition_variable m_wake, m_finished;
    std::deque<Job> m_queue;
    std::deque<Done> m_done;
    bool m_running = false;
    bool m_quit = false;
    std::thread m_thread;  // last: starts once the rest is built
};

} // namespace

std::optional<SetupFailure> serveJobs(const Environment &world, const Timeouts &timeouts, const ScorerSetup &setup,
                                      const JobScorer &score)
{
    const auto period = std::chrono::duration<double>(timeouts.heartbeatSeconds());
    // Runs fn on a thread while this (the MPI) thread tells rank 0 it is alive.
    auto withHeartbeat = [&](auto fn) {
        auto future = std::async(std::launch::async, fn);
        while (future.wait_for(period) != std::future_status::ready)
            sendBytes(0, kHeartbeat, {});
        return future.get();
    };
    std::variant<ScorerHello, SetupFailure> hello = withHeartbeat([&]() -> std::variant<ScorerHello, SetupFailure> {
        try {
            return setup();
        } catch (const std::exception &e) {
            return SetupFailure{QString::fromLocal8Bit(e.what()), false};
        }
    });
    QByteArray bytes;
    {
        QDataStream out(&bytes, QIODevice::WriteOnly);
        if (const auto *h = std::get_if<ScorerHello>(&hello))
            out << true << world.host() << qint64(QCoreApplication::applicationPid()) << h->devices << h->dtype << h->capacity;
        else
            out << false << world.host() << qint64(QCoreApplication::applicationPid()) << std::get<SetupFailure>(hello).message << std::get<SetupFailure>(hello).usage;
    }
    sendBytes(0, kHello, bytes);

    // Rank 0 pings idle ranks every heartbeat period: long silence means it is gone.
    const double silence = std::max(timeouts.silenceSeconds, 4 * timeouts.heartbeatSeconds());
    QElapsedTimer quiet;  // since rank 0 was last heard, or this rank last answered it
    quiet.start();
    QElapsedTimer sinceBeat;  // since the last message to rank 0, while a job runs
    sinceBeat.start();
    JobRunner jobs(score);
    // An idle rank polls less often the longer it waits (0.5 ms doubling to 4 ms): at a generation's
    // end every rank is idle at once, and 64 ranks polling every 0.5 ms took the CPU rank 0 needed
    // to breed and send the next generation (issue 28).
    int idlePolls = 0;
    double lastJobSeconds = 0;
    for (;;) {
        for (JobRunner::Done done; jobs.takeDone(done);) {
            QByteArray reply;
            QDataStream out(&reply, QIODevice::WriteOnly);
            if (!done.failure.isEmpty()) {
                out << done.id << done.failure;
                sendBytes(0, kFailed, reply);
            } else {
                out << done.id << done.busySeconds << quint32(done.scores.size());
                for (double v : done.scores)
                    out << v;
                sendBytes(0, kResult, reply);
            }
            quiet.restart();
            sinceBeat.restart();
            idlePolls = 0;
            lastJobSeconds = done.busySeconds;
        }
        int from = 0, tag = 0;
        if (receive(0, from, tag, bytes)) {
            idlePolls = 0;
            quiet.restart();
            if (tag == kStop)
                break;  // a running job finishes first (JobRunner's destructor); queued ones are dropped
            if (tag != kJob || std::holds_alternative<SetupFailure>(hello))
                continue;
            QDataStream in(bytes);
            JobRunner::Job job;
            quint32 n = 0;
            in >> job.id >> job.set >> job.sample >> n;
            job.candidates.resize(n);
            for (Candidate &c : job.candidates)
                in >> c;
            jobs.push(std::move(job));
            continue;
        }
        if (jobs.busy()) {
            // Rank 0 hears from a working rank at least every heartbeat period.
            if (double(sinceBeat.elapsed()) / 1000.0 >= timeouts.heartbeatSeconds()) {
                sendBytes(0, kHeartbeat, {});
                sinceBeat.restart();
            }
            // A result wakes this at once. The next job (sent ahead, needed only when the running
            // one ends) and rank 0's stop can wait: polling about 20 times per job, 0.5 to 16 ms
            // (every 0.5 ms kept 63 ranks on 2 cores busy while their jobs ran).
            const double poll = std::clamp(lastJobSeconds / 20, 0.0005, 0.016);
            jobs.waitForDone(std::chrono::microseconds(qint64(poll * 1e6)));
            continue;
        }
        if (double(quiet.elapsed()) / 1000.0 > silence)
            throw Error(kSource, QStringLiteral("rank 0 has been silent for %1 s: it is gone; its run log is "
                                                "resumable with --resume")
                                     .arg(silence));
        std::this_thread::sleep_for(std::chrono::microseconds(500 << std::min(idlePolls++ / 8, 3)));
    }
    if (const auto *f = std::get_if<SetupFailure>(&hello))
        return *f;
    return std::nullopt;
}

} // namespace rs::mpi
