#include "datadir.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QStandardPaths>

QString dataDirectoryBeside(const QString &applicationDir)
{
    // ROPESCOPE_DATA_RELATIVE is the installed layout's path from the binaries' folder to the data
    // folder (CMake: CMAKE_INSTALL_BINDIR → CMAKE_INSTALL_DATADIR/ropescope); the build tree
    // mirrors it.
    const QString candidate = QDir::cleanPath(QDir(applicationDir).filePath(QStringLiteral(ROPESCOPE_DATA_RELATIVE)));
    return QFileInfo(candidate).isDir() ? candidate : QString();
}

QString dataDirectory()
{
    const QString fromEnvironment = qEnvironmentVariable("ROPESCOPE_DATA_DIR");
    if (!fromEnvironment.isEmpty())
        return fromEnvironment;
    const QString beside = dataDirectoryBeside(QCoreApplication::applicationDirPath());
    if (!beside.isEmpty())
        return beside;
    return QStandardPaths::locate(QStandardPaths::GenericDataLocation, QStringLiteral("ropescope"),
                                  QStandardPaths::LocateDirectory);
}
