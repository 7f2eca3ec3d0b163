#!/usr/bin/env python3
"""Faults at scale for bench/mpi-simulated-scaling.sh (issue 28): one `ropescope-cli search
--simulate-fitness` under `mpirun --enable-recovery --oversubscribe -np RANKS`; KILLS scorer
ranks, drawn at random, are SIGKILLed at random moments (after a random number of logged
evaluations); once the log names every one of them lost, rank 0 is SIGKILLed (mpirun then ends
the job) and the run is resumed with `--resume` on RESUME_RANKS ranks. The finished log is
compared with an undisturbed one-process run of the same search: every evaluation (search,
validation, baselines) must be there exactly once, and the answer must be the same.

    mpi_simulated_faults.py CLI MODEL_DIR TMP [RANKS KILLS RESUME_RANKS EVAL_SECONDS SEED]
"""
import collections
import json
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mpi_scaling_watch import processes  # noqa: E402


def entries(log):
    try:
        return [json.loads(l) for l in open(log) if l.strip().endswith("}")]
    except FileNotFoundError:
        return []


def evaluation_keys(items):
    return [json.dumps(e, sort_keys=True) for e in items if e.get("event") in ("eval", "validation_eval", "baseline_eval")]


def main():
    cli, model, tmp = sys.argv[1:4]
    ranks, kills, resume_ranks, seconds, seed = (list(map(int, sys.argv[4:7])) + [float(sys.argv[7]), int(sys.argv[8])]
                                                 if len(sys.argv) > 8 else (64, 8, 16, 1.0, 28))
    scorers = ranks - 1
    rng = random.Random(seed)

    def args(log, simulate):
        return [cli, "search", "--model", model, "--length", "524288", "--samples", "1", "--validation-samples", "2",
                "--population", str(8 * scorers), "--iterations", "3", "--seed", "7", "--simulate-fitness", simulate,
                "--rank-timeout", "5", "--log", log]

    reference = os.path.join(tmp, "faults-reference.jsonl")
    subprocess.run(args(reference, "0s"), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    want = evaluation_keys(entries(reference))
    log = os.path.join(tmp, "faults.jsonl")
    moments = sorted(rng.sample(range(len(want) // 20, len(want) // 2), kills))
    victims = rng.sample(range(1, ranks), kills)
    print(f"undisturbed run: {len(want)} evaluations; {ranks} ranks, {seconds:g} s per evaluation; killing ranks "
          f"{victims} after {moments} logged evaluations")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    mpirun = ["mpirun", "--oversubscribe", "--enable-recovery", "-np", str(ranks)]
    start = time.monotonic()
    run = subprocess.Popen(mpirun + args(log, f"{seconds}s"), stdout=subprocess.DEVNULL, stderr=open(log + ".err", "w"), env=env)
    pids = {}
    for victim, moment in zip(victims, moments):
        while len(evaluation_keys(entries(log))) < moment:
            if run.poll() is not None:
                sys.exit(f"the run ended early: {open(log + '.err').read()[-2000:]}")
            time.sleep(0.05)
        if not pids:
            pids = {rank: pid for pid, rank in processes(log).items()}
        os.kill(pids[victim], signal.SIGKILL)
        print(f"  {time.monotonic() - start:6.1f} s: rank {victim} SIGKILLed ({moment} evaluations logged)")
    while sum(e.get("event") == "rank_lost" for e in entries(log)) < kills:
        if run.poll() is not None:
            sys.exit("the run ended before every loss was logged")
        time.sleep(0.05)
    time.sleep(rng.uniform(0, 2 * seconds))
    logged = len(evaluation_keys(entries(log)))
    os.kill(pids[0], signal.SIGKILL)
    run.wait()
    lost = sorted(e["rank"] for e in entries(log) if e.get("event") == "rank_lost")
    print(f"  {time.monotonic() - start:6.1f} s: rank 0 SIGKILLed ({logged} evaluations logged; lost ranks in the log: "
          f"{lost}); mpirun exited with {run.returncode}")
    resumed = subprocess.run(["mpirun", "--oversubscribe", "-np", str(resume_ranks)] + args(log, f"{seconds}s") + ["--resume"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    print(f"  {time.monotonic() - start:6.1f} s: resumed on {resume_ranks} ranks, exit {resumed.returncode}")
    final = entries(log)
    got = evaluation_keys(final)
    repeated = sum(n - 1 for n in collections.Counter(got).values() if n > 1)
    missing = len(set(want) - set(got))
    finish = [e for e in final if e.get("event") == "finish"][-1]
    ref_finish = [e for e in entries(reference) if e.get("event") == "finish"][-1]
    same = all(finish[k] == ref_finish[k] for k in ("best_lambda", "best_fitness", "best_validation_fitness", "candidates"))
    print(f"evaluations: {len(got)} in the log, {len(want)} in the undisturbed run; {repeated} repeated, {missing} missing, "
          f"{len(set(got) - set(want))} not in the undisturbed run; lost ranks logged: {len(lost)} of {kills}; "
          f"the same answer: {same} (best fitness {finish['best_fitness']:.6g})")
    ok = resumed.returncode == 0 and repeated == 0 and missing == 0 and sorted(got) == sorted(want) and same and lost == sorted(victims)
    print("faults at scale:", "PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
