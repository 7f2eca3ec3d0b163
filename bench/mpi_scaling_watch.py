#!/usr/bin/env python3
"""Watches one `ropescope-cli search` (under mpirun or alone) for bench/mpi-simulated-scaling.sh.

Reads the run's merged stderr on stdin and stamps the lines: the scoring window opens at the line
after which the search starts scoring ("scoring on …") and closes
at the last "generation N/N" line. At both moments it reads the CPU time (utime + stime, from
/proc) of every process whose command line holds the run's log path: rank 0 (the one that is not
an MPI scorer: OMPI_COMM_WORLD_RANK 0, or the plain run) and all of them. Writes one JSON object:
window seconds (under MPI rank 0's own clock, the last rank_stats entry's seconds), rank 0's and
all ranks' CPU seconds in the window (between the stderr lines), the evaluations in the log
(eval, validation_eval, baseline_eval) and the log's bytes.

    mpirun … ropescope-cli search … --log LOG 2>&1 >/dev/null | mpi_scaling_watch.py LOG OUT.json
"""
import json
import os
import re
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def processes(log):
    """{pid: rank} of the processes whose command line names `log` (the ranks, not mpirun)."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
            if log.encode() not in cmd or not cmd[0].endswith(b"ropescope-cli"):
                continue
            env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        rank = 0
        for e in env:
            if e.startswith(b"OMPI_COMM_WORLD_RANK="):
                rank = int(e.split(b"=", 1)[1])
        out[int(pid)] = rank
    return out


def cpu(pid):
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
    except OSError:
        return None


def snapshot(log):
    procs = processes(log)
    times = {pid: cpu(pid) for pid in procs}
    return {"t": time.monotonic(), "rank0": sum(v for p, v in times.items() if procs[p] == 0 and v is not None),
            "all": sum(v for v in times.values() if v is not None), "ranks": len(procs)}


def main():
    log, out = sys.argv[1], sys.argv[2]
    start = end = None
    generation = re.compile(r"^generation (\d+)/(\d+) ")
    lines = []
    for line in sys.stdin:
        lines.append(line)
        # "scoring on …" (under MPI with the ranks' list, flushed together) comes right before
        # the search scores its first batch; one snapshot, so that the window starts on time.
        if start is None and line.startswith("scoring on"):
            start = snapshot(log)
        m = generation.match(line)
        if m and m.group(1) == m.group(2):
            end = snapshot(log)
    entries = [json.loads(l) for l in open(log) if l.strip()]
    evals = sum(e.get("event") in ("eval", "validation_eval", "baseline_eval") for e in entries)
    result = {"evaluations": evals, "log_bytes": os.path.getsize(log), "lost": sum(e.get("event") == "rank_lost" for e in entries)}
    if start and end:
        result.update(window=end["t"] - start["t"], rank0_cpu=end["rank0"] - start["rank0"], all_cpu=end["all"] - start["all"],
                      processes=start["ranks"])
        # Under MPI rank 0 times the window itself (rank_stats' seconds: from the moment every scorer
        # said hello to the last generation), free of mpirun's delay in forwarding stderr.
        stats = [e for e in entries if e.get("event") == "rank_stats"]
        if stats:
            result["stderr_window"] = result["window"]
            result["window"] = stats[-1]["ranks"][0]["seconds"]
    else:
        result["stderr"] = "".join(lines[-20:])
    json.dump(result, open(out, "w"))


if __name__ == "__main__":
    main()
