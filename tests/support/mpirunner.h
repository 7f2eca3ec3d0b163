#pragma once
// Running `ropescope-cli` under mpirun in tests: the environment Open MPI needs here (root, no
// single-copy mechanism in containers), starting a job, waiting for it with a kill at the limit,
// and waiting until its run log shows something. Shared by test_cli_mpi and test_cli_mpi_faults.
#include "runlogentries.h"

#include <QElapsedTimer>
#include <QProcess>
#include <QStringList>
#include <QTest>
#include <QThread>

namespace rs::testing {

inline QProcessEnvironment mpiEnvironment()
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("OMPI_ALLOW_RUN_AS_ROOT"), QStringLiteral("1"));
    env.insert(QStringLiteral("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"), QStringLiteral("1"));
    env.insert(QStringLiteral("OMPI_MCA_btl_vader_single_copy_mechanism"), QStringLiteral("none"));
    return env;
}

// `mpirun --oversubscribe -np RANKS MPIRUN_OPTIONS… ropescope-cli ARGS…`, output merged.
inline void startMpiJob(QProcess &p, const QString &mpirun, const QProcessEnvironment &env, int ranks,
                        const QStringList &mpirunOptions, const QStringList &args)
{
    p.setProcessEnvironment(env);
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(mpirun, QStringList{"--oversubscribe", "-np", QString::number(ranks)} + mpirunOptions
                        + QStringList{QStringLiteral(ROPESCOPE_CLI)} + args);
    QVERIFY(p.waitForStarted());
}

// True when the job ended within `ms`; otherwise it is killed and false.
inline bool finishJob(QProcess &p, int ms)
{
    if (p.waitForFinished(ms))
        return true;
    p.kill();
    p.waitForFinished(10000);
    return false;
}

// Waits until the log satisfies `ready` (false after `ms` or when the job ended first).
template <typename Ready>
bool waitForLog(const QString &log, const QProcess &p, int ms, Ready ready)
{
    QElapsedTimer clock;
    clock.start();
    while (clock.elapsed() < ms && p.state() != QProcess::NotRunning) {
        if (ready(readLog(log)))
            return true;
        QThread::msleep(20);
    }
    return false;
}

inline int countOf(const QList<QJsonObject> &log, const QString &event)
{
    int n = 0;
    for (const QJsonObject &o : log)
        n += o.value(QStringLiteral("event")).toString() == event ? 1 : 0;
    return n;
}

} // namespace rs::testing
