#pragma once
// The Help menu: How to Read the Plots (F1, a non-modal page, widgets/helpdialog.h) and About
// RopeScope (the version CMake's project() declares, the paper, the licence terms). Kept apart
// from mainwindow.cpp so the window's file handling and its help stay separate.
#include <QString>

class QMainWindow;
class QMenu;

namespace rs {

// Adds the Help menu to `window`'s menu bar. Its actions are named "helpPlotsAction" and
// "aboutAction"; the page opens as the child "helpDialog", the About box as "aboutBox" (both
// non-blocking, so tests and scripts can read and close them).
QMenu *addHelpMenu(QMainWindow *window);

// The About box's text (rich text).
QString aboutText();

} // namespace rs
