#!/usr/bin/env bash
# The MPI search's queue at scale on this machine (issue 28): `ropescope-cli search
# --simulate-fitness` (no model: each evaluation sleeps, so ranks need no core while they
# "score") under `mpirun --oversubscribe` with 1, 2, 4, 8, 16, 32 and 64 ranks, evaluations of
# 0.1 s and 1 s. Prints one markdown table row per run:
#   evaluations/s   every evaluation in the log (search, baselines) over the scoring window: from
#                   the moment the search starts scoring (every scorer said hello) to the end of the
#                   last generation, on rank 0's clock (the last rank_stats entry's seconds; the
#                   1-rank run: its stderr lines' arrival); start-up and MPI_Finalize are outside it
#   efficiency      evaluations/s ÷ (scorers / eval time), scorers = ranks − 1 (rank 0 only
#                   coordinates); the 1-rank run is the plain process scoring itself (1 scorer)
#   rank 0 CPU      rank 0's CPU time in the window ÷ the window; all ranks: the sum over every
#                   rank process, in cores
#   bytes/eval      the run log's size ÷ its evaluations
# Each run: one sample, no validation, population 8 × scorers (generation 0 scores 8 candidates per
# scorer, each later generation four, plus the 5 baselines; each generation streamed to the ranks
# whole, so every round of jobs is full but the baselines'). The Llama-3-8B shape (64 rotary pairs) sets the λ
# vectors' size.
#
#   bench/mpi-simulated-scaling.sh [BUILD_DIR]          the table (RANKS, EVALS override the lists)
#   bench/mpi-simulated-scaling.sh [BUILD_DIR] faults   the 64-rank fault run (see faults() below)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
mode="${2:-scaling}"
cli="$build/app/ropescope-cli"
command -v mpirun >/dev/null || { echo "no mpirun (scripts/install-deps.sh installs openmpi-bin)"; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMP_NUM_THREADS=1
RANKS="${RANKS:-1 2 4 8 16 32 64}"
EVALS="${EVALS:-0.1 1}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/model"
cp "$root/bench/shapes/llama3-8b.json" "$tmp/model/config.json"  # only the shape: nothing else is read
watch="$root/bench/mpi_scaling_watch.py"

# Generations after the first: 1 with 1 s evaluations (13 rounds of jobs, 13 s), 7 with 0.1 s ones
# (37 rounds, 3.7 s), so that the short runs are not all noise.
iterations() { [ "$(echo "$1 < 0.5" | bc)" -eq 1 ] && echo 7 || echo 1; }

# run RANKS EVAL_SECONDS NAME EXTRA…: one search, its watch result in $tmp/NAME.json.
run() {
  local ranks=$1 eval=$2 name=$3
  shift 3
  local scorers=$(( ranks > 1 ? ranks - 1 : 1 ))
  local args=(search --model "$tmp/model" --length 524288 --samples 1 --validation-samples 0
              --population $(( 8 * scorers )) --iterations "$(iterations "$eval")" --seed 7 --simulate-fitness "${eval}s"
              --rank-timeout 600 --log "$tmp/$name.jsonl" "$@")
  if [ "$ranks" -eq 1 ]; then
    "$cli" "${args[@]}" 2>&1 >/dev/null | python3 "$watch" "$tmp/$name.jsonl" "$tmp/$name.json"
  else
    mpirun --oversubscribe -np "$ranks" "$cli" "${args[@]}" 2>&1 >/dev/null \
      | python3 "$watch" "$tmp/$name.jsonl" "$tmp/$name.json"
  fi
}

row() {  # row RANKS EVAL NAME WALL: the table's row from the watch result
  python3 - "$tmp/$3.json" "$1" "$2" "$4" <<'PY'
import json, sys
r, ranks, ev, wall = json.load(open(sys.argv[1])), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
if "window" not in r:
    sys.exit("no scoring window: " + r.get("stderr", ""))
scorers = max(1, ranks - 1)
rate = r["evaluations"] / r["window"]
print(f"| {ranks} | {ev:g} | {scorers} | {r['evaluations']} | {r['window']:.2f} | {rate:.2f} | {100 * rate * ev / scorers:.1f} % "
      f"| {100 * r['rank0_cpu'] / r['window']:.1f} % | {r['all_cpu'] / r['window']:.2f} | {r['log_bytes'] / r['evaluations']:.0f} | {wall:.1f} |")
PY
}

scaling() {
  echo "machine: $(nproc --all) cores; $(mpirun --version | head -1); $(date -u +%F)"
  echo
  echo "| ranks | eval s | scorers | evaluations | window s | evaluations/s | efficiency | rank 0 CPU | all ranks' CPU (cores) | log bytes/eval | wall s |"
  echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for eval in $EVALS; do
    for ranks in $RANKS; do
      local name="r${ranks}e${eval}" start end
      start=$(date +%s.%N)
      run "$ranks" "$eval" "$name"
      end=$(date +%s.%N)
      row "$ranks" "$eval" "$name" "$(echo "$end - $start" | bc)"
    done
  done
}

# 64 ranks, 1 s evaluations: 8 scorer ranks SIGKILLed at random moments, then rank 0, resumed on
# 16 ranks; the log must hold the undisturbed run's evaluations exactly once and its answer
# (mpi_simulated_faults.py; FAULTS="RANKS KILLS RESUME_RANKS EVAL_SECONDS SEED" overrides).
faults() {
  # shellcheck disable=SC2086
  python3 "$root/bench/mpi_simulated_faults.py" "$cli" "$tmp/model" "$tmp" ${FAULTS:-64 8 16 1 28}
}

case "$mode" in
  scaling) scaling ;;
  faults) faults ;;
  *) echo "unknown mode '$mode' (scaling or faults)"; exit 2 ;;
esac
