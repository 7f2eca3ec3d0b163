#pragma once
// File › Open Recent: what the user opened last (config and session files by absolute path,
// built-in presets as "preset:NAME"), newest first, kept in QSettings so it survives restarts. The
// menu names each entry briefly and gives the full path (or the preset's description) as its
// tooltip, and ends with Clear List.
#include <QObject>
#include <QString>
#include <QStringList>

class QMenu;

namespace rs {

class RecentFiles : public QObject {
    Q_OBJECT

public:
    static constexpr int kMaxEntries = 8;

    // The entry for a built-in preset, and the preset's name back from an entry (empty for a path).
    static QString presetEntry(const QString &name);
    static QString presetName(const QString &entry);

    // Fills `menu` now and whenever the list changes.
    explicit RecentFiles(QMenu *menu, QObject *parent = nullptr);

    QStringList entries() const;
    // A path (stored absolute) or a presetEntry(); moves it to the top, dropping the oldest.
    void add(const QString &entry);
    void remove(const QString &entry);
    void clear();

signals:
    void openRequested(const QString &entry);

private:
    void store(const QStringList &entries);
    void rebuildMenu();

    QMenu *m_menu;
};

} // namespace rs
