#pragma once
// Where RopeScope's data that is not compiled into the binaries lives (today the fair miniature's
// fine-tuned models; the package also installs the presets, the help page and the embedded model
// there as plain files). Found relative to the executable, never through a source-tree path: an
// installed binary (<prefix>/bin) finds <prefix>/share/ropescope, and a binary in the build tree
// (<build>/app) finds <build>/share/ropescope, the same layout made of links into the source tree
// when CMake configures.
#include <QString>

// The data folder of the running executable: $ROPESCOPE_DATA_DIR when set, else
// dataDirectoryBeside(QCoreApplication::applicationDirPath()), else ropescope/ in the XDG data
// folders (QStandardPaths: ~/.local/share, /usr/local/share, /usr/share). Empty when none exists.
QString dataDirectory();

// <applicationDir>/<the install's bin → share/ropescope path> (../share/ropescope by default) when
// that folder exists; empty otherwise.
QString dataDirectoryBeside(const QString &applicationDir);
