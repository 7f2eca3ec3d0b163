#pragma once
// Internal to the main window's sources (mainwindow.cpp: the window and its docks;
// mainwindow_menus.cpp: the menus; mainwindow_files.cpp: opening, saving and exporting): the
// file-dialog filters, the timings and extensions they share, and two file tests.
#include <QString>

namespace mainwindow_detail {

inline const QString kLastDirectoryKey = QStringLiteral("lastDirectory");
inline const QString kSessionFilter = QStringLiteral("RopeScope sessions (*.ropescope);;All files (*)");
inline const QString kConfigFilter = QStringLiteral("Model configs (*.json);;All files (*)");
inline const QString kFactorFilter = QStringLiteral("Factor files (*.txt *.csv);;All files (*)");
inline const QString kRunLogFilter = QStringLiteral("Run logs (*.jsonl);;All files (*)");
inline const QString kSearchBestCurve = QStringLiteral("searchBest");
inline constexpr int kStatusTimeoutMs = 6000;
// The search dock as it opens: wide enough for the search fields and the live scores (its plot has
// a view of its own among the central tabs).
inline constexpr int kSearchDockWidth = 420;
// The central views' least width beside the docks: the factors plot 300 px wide beside its table.
inline constexpr int kCentralMinimumWidth = 520;
// The embedded model was trained at a short context; at 8 × that its high dimensions go out of
// distribution, which is what the tool is for.
inline constexpr double kEmbeddedModelExtension = 8.0;
inline const QString kSessionSuffix = QStringLiteral("ropescope");

// The application's own cache (where the embedded model's files are unpacked) is no user's folder.
bool isInApplicationCache(const QString &path);
// A RopeScope session by its extension or, failing that, by its "format" key.
bool isSessionFile(const QString &path);

} // namespace mainwindow_detail
