#pragma once
// Part search (core/search): the run log's one codec. Every record a search's JSON Lines run log
// holds is a type here with toJson() and fromJson(); this file and runlogcodec.cpp are the only
// places where a record's keys are spelled. The search writes its log through it (search.cpp),
// a resume reads the log back through it (runlog.cpp), and so do the GUI's follower
// (worker/runlogfollower.cpp), the start-record reader (runlogstart.cpp) and the MPI coordinator's
// entries (distributed/mpisearch.cpp).
//
// Format: one JSON object per line, its kind in "event". The first record is "start" (or
// "resume", when a run continues its log), which carries the format version (kRunLogVersion;
// logs written before the version was recorded have none and are version 1) and the settings that
// pin the log to its run. Readers skip records of kinds they do not know (OtherRecord), so a newer
// writer's additions do not break an older follower; a log of a newer version is refused.
//
// Records leave out what their start record says (an evaluation of a run that does not search
// the attention factor omits it; a whole-fitness run omits the sample): fromJson takes those
// run-wide values as RecordDefaults.
#include "search/search.h"

#include <QByteArray>
#include <QJsonObject>
#include <QString>
#include <QStringList>

#include <cstdint>
#include <limits>
#include <optional>
#include <variant>
#include <vector>

namespace rs {

// The run-log format this build writes and reads up to. Version 1 is the format every log had
// before the version was recorded; a start record without "version" is version 1.
inline constexpr int kRunLogVersion = 1;

// What records leave out, taken from the run's start record: the fixed attention factor
// (evaluations of a run that does not search it omit it) and K, the search samples.
struct RecordDefaults {
    double attentionFactor = 1.0;
    int samples = 1;
};

// What the fitness measured (model, corpus, samples …): the start record's "context", written by
// the search job for `ropescope-cli search` and the GUI alike and, like the settings, required to
// match when a run resumes. Paths in it are data to compare and show, never files to open on the
// log's word (runlogstart.h).
struct RunContext {
    QString model;   // the model folder, absolute; empty: none recorded
    QString corpus;  // as the run was given it; empty: the built-in prose
    int samples = 0; // search samples K; 0: not recorded
    double depth = 0;
    int length = 0;  // needle sample length; 0: not recorded
    QString device;
    QString dtype;
    std::optional<double> attentionFactor;  // the fixed factor; absent when it is searched
    int validationSamples = 0;              // 0: no validation set
    uint64_t validationSeed = 0;

    QJsonObject toJson() const;
    // Lenient, as every log so far: absent keys keep the defaults above. A "model" or "corpus"
    // that is neither absent, null nor a string without NUL is read as empty and its key named in
    // *badPath (when given).
    static RunContext fromJson(const QJsonObject &o, QString *badPath = nullptr);
};

// The "settings" object of a start record: what defines the run (budgets excluded, so a resumed
// run may get a new budget). Keys added after the first release appear only when they differ from
// their defaults, so logs written before them still resume.
struct RunSettings {
    SearchSettings search;        // maxEvaluations and maxSeconds travel in StartRecord
    bool attentionGiven = false;  // the fixed attention factor was set explicitly (logged only then)
    int samples = 1;              // K
    int validationSamples = 0;    // 0: no validation (validation_top and choose_by not logged)
    std::vector<SearchBaseline> baselines;
    QJsonObject context;          // the caller's (RunContext::toJson for the search job); empty: none

    QJsonObject toJson() const;
    static RunSettings fromJson(const QJsonObject &o);
    // The keys in which `logged` differs from toJson() (keys only one of them has included).
    QStringList differences(const QJsonObject &logged) const;
};

// "start", or "resume" when a run continues its log.
struct StartRecord {
    bool resume = false;
    int version = kRunLogVersion;
    RunSettings settings;  // settings.search.maxEvaluations / maxSeconds: this run's budgets
    qint64 cachedEvaluations = 0;  // resume only: the logged evaluations served from the log
    QJsonObject loggedSettings;    // fromJson only: the settings object exactly as logged

    QJsonObject toJson() const;
    static StartRecord fromJson(const QJsonObject &o);
};

// One (candidate, sample) score of the search's own samples: "eval".
struct EvaluationRecord {
    std::vector<double> lambda;
    double attentionFactor = 1.0;
    int dRcd = -1;
    int sample = 0;
    double fitness = 0;  // +inf is logged as null
    bool logsSample = true;     // written only when K > 1
    bool logsAttention = true;  // written only when the attention factor is searched

    QJsonObject toJson() const;
    static EvaluationRecord fromJson(const QJsonObject &o, const RecordDefaults &d = {});
};

// One (candidate, sample) score on the held-out validation samples: "validation_eval".
struct ValidationEvaluationRecord {
    std::vector<double> lambda;
    double attentionFactor = 1.0;
    int dRcd = -1;
    int sample = 0;
    double fitness = 0;

    QJsonObject toJson() const;
    static ValidationEvaluationRecord fromJson(const QJsonObject &o, const RecordDefaults &d = {});
};

// Which sample set a baseline's score is on.
enum class SampleSetName { Search, Validation };

// One (baseline, sample) score: "baseline_eval".
struct BaselineEvaluationRecord {
    QString name;
    SampleSetName set = SampleSetName::Search;
    std::vector<double> lambda;
    double attentionFactor = 1.0;
    int sample = 0;
    double fitness = 0;

    QJsonObject toJson() const;
    static BaselineEvaluationRecord fromJson(const QJsonObject &o, const RecordDefaults &d = {});
};

// The baselines once all are scored: "baselines".
struct BaselinesRecord {
    std::optional<FitnessAggregate> fitness;  // absent or unknown: the run's
    std::vector<BaselineScore> baselines;

    QJsonObject toJson() const;
    // Throws rs::Error (no source) for a baseline without a name.
    static BaselinesRecord fromJson(const QJsonObject &o);
};

// A generation's report: "generation".
struct GenerationRecord {
    GenerationReport report;  // report.samples is not logged (fromJson: RecordDefaults::samples)
    bool validation = false;  // the validation figures are logged
    bool baselines = false;   // baseline_evaluations is logged

    QJsonObject toJson() const;
    static GenerationRecord fromJson(const QJsonObject &o, const RecordDefaults &d = {});
};

// The run's end: "finish".
struct FinishRecord {
    SearchResult result;        // result.baselines is not logged here (see BaselinesRecord)
    bool validation = false;    // the validation figures are logged
    int validationSamples = 0;
    bool baselines = false;     // baseline_evaluations is logged

    QJsonObject toJson() const;
    static FinishRecord fromJson(const QJsonObject &o, const RecordDefaults &d = {});
};

// Per scorer rank of an MPI search, before every generation and the finish: "rank_stats".
struct RankStatsRecord {
    struct Rank {
        int rank = 0;
        QString host;
        qint64 pid = 0;
        QStringList devices;
        qint64 jobs = 0;
        qint64 evaluations = 0;
        double seconds = 0;      // the run's wall time so far
        double busySeconds = 0;  // scoring time the rank reported
        double evaluationsPerSecond = 0;
        double idlePercent = 0;
        QString lost;  // why it was lost; empty (not logged) while it serves
    };
    std::vector<Rank> ranks;

    QJsonObject toJson() const;
    static RankStatsRecord fromJson(const QJsonObject &o);
};

// A scorer rank an MPI search lost: "rank_lost".
struct RankLostRecord {
    int rank = 0;
    QString host;
    QString reason;
    int requeuedEvaluations = 0;

    QJsonObject toJson() const;
    static RankLostRecord fromJson(const QJsonObject &o);
};

// A record of a kind this build does not know (a newer writer's): kept as it was.
struct OtherRecord {
    QJsonObject object;

    QJsonObject toJson() const { return object; }
};

using RunLogRecord = std::variant<StartRecord, EvaluationRecord, ValidationEvaluationRecord, BaselineEvaluationRecord,
                                  BaselinesRecord, GenerationRecord, FinishRecord, RankStatsRecord, RankLostRecord,
                                  OtherRecord>;

QJsonObject toJson(const RunLogRecord &record);
// The record an object holds, by its "event". Throws rs::Error (no source: the caller names the
// file and line) for an object without an "event" string, a malformed evaluation (a "lambda" that
// is not an array of numbers, a "fitness" that is neither a number nor null, a non-numeric
// "sample" or "attention_factor"), a baseline without a name, or a start record of a newer format.
RunLogRecord recordFromJson(const QJsonObject &o, const RecordDefaults &defaults = {});
// One line of a log (without its newline) as the object it holds. Throws rs::Error (no source)
// when it is not a JSON object with an "event" string.
QJsonObject parseRunLogLine(const QByteArray &line);
// One line as a record: parseRunLogLine, then recordFromJson.
RunLogRecord parseRunLogRecord(const QByteArray &line, const RecordDefaults &defaults = {});
// A line as the writer writes it: compact JSON and a newline.
QByteArray runLogLine(const RunLogRecord &record);

// The defaults a start record sets for the records after it (see RecordDefaults): its fixed
// attention factor (logged in the settings, else in the context, else longrope's default at the
// run's scale) and K.
RecordDefaults recordDefaults(const StartRecord &start);

} // namespace rs
