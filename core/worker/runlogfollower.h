#pragma once
// Follows a search's JSON Lines run log (written by `ropescope-cli search` or the GUI) while it
// grows: what the file holds is replayed at once, then every appended complete line is read as it
// arrives (QFileSystemWatcher, with a polling timer as the fallback for file systems that do not
// report changes). Lines are read through the run log's codec (search/runlogcodec.h). Events come
// out as the same structs the evaluation worker emits, so one set of plots serves both a local
// search and a headless one.
#include "worker/messages.h"
#include "worker/searcharithmetic.h"
#include "search/runlogcodec.h"

#include <QByteArray>
#include <QJsonObject>
#include <QObject>
#include <QString>

class QFileSystemWatcher;
class QTimer;

namespace rs {

class RunLogFollower : public QObject {
    Q_OBJECT

public:
    static constexpr int kDefaultPollIntervalMs = 500;

    explicit RunLogFollower(QObject *parent = nullptr);

    // Replays what the log holds now and follows it from then on. Throws rs::Error naming the file
    // and line when it cannot be read or is not a run log; nothing is emitted then and a log being
    // followed before is still followed.
    void follow(const QString &path);
    void stopFollowing();
    bool isFollowing() const { return !m_path.isEmpty(); }
    QString path() const { return m_path; }
    void setPollInterval(int milliseconds);

    // Reads the complete lines appended since the last read (the watcher and the timer call this).
    void readAppended();

Q_SIGNALS:
    void searchStarted(const rs::SearchPlan &plan);
    void candidateEvaluated(const rs::CandidateEvaluation &candidate);
    void generationFinished(const rs::GenerationReport &report);
    void baselinesScored(const rs::SearchBaselines &baselines);
    void searchFinished(const rs::SearchOutcome &outcome);
    // A search over MPI ranks: each scorer rank's throughput and idle share (every generation), and
    // a rank the run lost (its jobs went to the others).
    void rankStatistics(const rs::RankStatistics &statistics);
    void rankLost(int rank, const QString &host, const QString &reason);
    // The file shrank below what was read (replaced or rewritten): it is replayed from the start.
    void restarted();
    // A malformed line appended later (the line is skipped) or the file became unreadable.
    void failed(const QString &message);

private:
    struct Line {
        int number = 0;
        QJsonObject object;
    };
    // Throws rs::Error for a line that is not a JSON object with an "event".
    Line parseLine(const QByteArray &raw, int number) const;
    // The line's record (runlogcodec.h), with the followed run's defaults; throws rs::Error naming
    // the file and line for a malformed one.
    RunLogRecord recordOf(const Line &line) const;
    void dispatch(const Line &line, bool live);
    void resetRunState();

    QString m_path;
    qint64 m_offset = 0;   // bytes consumed: always just after a newline
    int m_linesRead = 0;
    QFileSystemWatcher *m_watcher;
    QTimer *m_pollTimer;
    // The run being replayed.
    SearchPlan m_plan;
    RecordDefaults m_defaults;
    int m_generation = 0;
    int m_newInGeneration = 0;
    int m_evaluations = 0;
    CandidateScoreBook m_book;
};

} // namespace rs
