#pragma once
// A saved editing session: versioned JSON, written atomically.
#include <QJsonObject>
#include <QString>
#include <QStringList>
#include <optional>
#include <vector>

namespace rs {

struct Session {
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
    static Session fromJson(const QJsonObject &object, const QString &source);
};

void saveSession(const QString &path, const Session &session);
Session loadSession(const QString &path);

} // namespace rs
