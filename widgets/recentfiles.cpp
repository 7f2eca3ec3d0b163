#include "recentfiles.h"

#include "common/error.h"
#include "rope/presets.h"

#include <QAction>
#include <QDir>
#include <QFileInfo>
#include <QMenu>
#include <QSettings>

namespace rs {

namespace {

// The key older versions wrote their list of paths under, so the list carries over.
const QString kSettingsKey = QStringLiteral("recentFiles");
const QString kPresetPrefix = QStringLiteral("preset:");

} // namespace

QString RecentFiles::presetEntry(const QString &name) { return kPresetPrefix + name; }

QString RecentFiles::presetName(const QString &entry)
{
    return entry.startsWith(kPresetPrefix) ? entry.mid(kPresetPrefix.size()) : QString();
}

RecentFiles::RecentFiles(QMenu *menu, QObject *parent) : QObject(parent), m_menu(menu)
{
    m_menu->setToolTipsVisible(true);
    rebuildMenu();
}

QStringList RecentFiles::entries() const { return QSettings().value(kSettingsKey).toStringList(); }

void RecentFiles::add(const QString &entry)
{
    const QString stored = presetName(entry).isEmpty() ? QFileInfo(entry).absoluteFilePath() : entry;
    QStringList list = entries();
    list.removeAll(stored);
    list.prepend(stored);
    while (list.size() > kMaxEntries)
        list.removeLast();
    store(list);
}

void RecentFiles::remove(const QString &entry)
{
    QStringList list = entries();
    if (list.removeAll(entry) > 0)
        store(list);
}

void RecentFiles::clear() { store({}); }

void RecentFiles::store(const QStringList &list)
{
    QSettings().setValue(kSettingsKey, list);
    rebuildMenu();
}

void RecentFiles::rebuildMenu()
{
    m_menu->clear();
    const QStringList list = entries();
    for (const QString &entry : list) {
        const QString preset = presetName(entry);
        QString title;
        QString tip;
        if (preset.isEmpty()) {
            title = QFileInfo(entry).fileName();
            tip = QDir::toNativeSeparators(entry);
        } else {
            // A preset that a later version no longer ships still shows (and fails to open) by name.
            PresetInfo info;
            try {
                info = presetInfo(preset);
            } catch (const Error &) {
                info.title = preset;
            }
            title = tr("%1 (preset)").arg(info.title.isEmpty() ? preset : info.title);
            tip = info.description.isEmpty() ? tr("Built-in preset %1").arg(preset)
                                             : tr("Built-in preset %1: %2").arg(preset, info.description);
        }
        QAction *action = m_menu->addAction(title, this, [this, entry] { emit openRequested(entry); });
        action->setToolTip(tip);
        action->setStatusTip(tip);
        action->setData(entry);
    }
    if (!list.isEmpty())
        m_menu->addSeparator();
    QAction *clearAction = m_menu->addAction(tr("&Clear List"), this, &RecentFiles::clear);
    clearAction->setObjectName(QStringLiteral("clearRecentAction"));
    clearAction->setEnabled(!list.isEmpty());
}

} // namespace rs
