#pragma once
// A saved editing session (EditingSession: the config, target length, d_rcd, λ and the shown
// overlays of the factor editor): versioned JSON, written atomically. Not an MPI run
// (distributed/mpisearch.h: mpi::Environment).
#include <QJsonObject>
#include <QString>
#include <QStringList>
#include <optional>
#include <vector>

namespace rs {

struct EditingSession {
    static constexpr int kVersion = 1;
    QString configSource;        // path or "preset:NAME" it came from (informational)
    QJsonObject configJson;      // the whole config, so a session opens without the original file
    double targetLength = 0;
    int dRcd = 0;
    std::vector<double> lambda;
    std::optional<double> attentionFactor;
    QStringList visibleFamilies; // overlays shown in the factors view

    QJsonObject toJson() const;
    // Throws rs::Error naming `source` on a wrong version, missing keys or invalid factors.
    static EditingSession fromJson(const QJsonObject &object, const QString &source);
};

void saveSession(const QString &path, const EditingSession &session);
EditingSession loadSession(const QString &path);

} // namespace rs
