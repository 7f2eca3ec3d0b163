#pragma once
// The `start` record of a search's run log (written by search.cpp): which model and corpus the run
// measured. A log may come from another machine or another person, so the paths it holds are data
// to compare with what the user chose and to show, never files to open on the log's word: a
// resumed search loads only the --model the user names, which must be the log's, and the GUI asks
// before it loads the model a followed log names.
#include <QJsonObject>
#include <QString>

namespace rs {

struct RunLogStart {
    QString model;        // the model folder the run scored, as written (absolute); empty when the log names none
    QString corpus;       // the corpus as the run was given it; empty: the built-in prose
    QJsonObject context;  // the whole context (model, corpus, samples, length, device …)
};

// Reads the log's first record. Throws rs::Error naming the log when it cannot be read, does not
// begin with a start record, or holds a model or corpus that is not a string (or holds a NUL).
RunLogStart readRunLogStart(const QString &path);

// Whether two paths name the same file or folder: the same target once symlinks are resolved, or,
// where one does not exist, the same absolute path. Resolving reads links, never the files.
bool samePath(const QString &a, const QString &b);

} // namespace rs
