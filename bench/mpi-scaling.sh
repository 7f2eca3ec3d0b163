#!/usr/bin/env bash
# Candidates/s of one `ropescope-cli search` with 1, 2 and 3 MPI ranks, side by side in one run.
# 1 rank is the plain run (the process scores itself); with N > 1 ranks rank 0 coordinates and
# N − 1 scorer ranks score. Same seed and settings each time, so every run does the same
# evaluations (the script checks that the logs' evaluations agree).
#
#   bench/mpi-scaling.sh [BUILD_DIR] [-- extra search options, e.g. --model DIR --device cuda]
#
# Defaults: the tiniest fixture model on the CPU, one thread per process (OMP_NUM_THREADS=1).
# The wall time includes each rank's model load (milliseconds for the fixture).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
cli="$build/app/ropescope-cli"
command -v mpirun >/dev/null || { echo "mpirun not found (scripts/install-deps.sh installs openmpi-bin)"; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# The tiniest fixture (2 layers, hidden 64) with the byte tokenizer; a later --model wins.
mkdir "$tmp/model"
cp "$root/tests/fixtures/models/llama-plain/"{config.json,model.safetensors} "$tmp/model/"
cp "$root/tests/fixtures/tokenizers/bytes-256-tokenizer.json" "$tmp/model/tokenizer.json"
args=(search --model "$tmp/model" --length 2048 --samples 2 --validation-samples 2
      --population 8 --iterations 3 --seed 7 "$@")
echo "machine: $(nproc --all) cores ($(nproc) usable now); $(mpirun --version | head -1); OMP_NUM_THREADS=$OMP_NUM_THREADS"
echo "search: ${args[*]:1}"
printf '%-6s %-9s %-12s %-12s %-13s %s\n' ranks seconds evaluations candidates candidates/s "evaluations/s"
for ranks in 1 2 3; do
  log="$tmp/run$ranks.jsonl"
  start=$(date +%s.%N)
  if [ "$ranks" -eq 1 ]; then
    "$cli" "${args[@]}" --log "$log" >/dev/null 2>"$tmp/err$ranks" || { cat "$tmp/err$ranks"; exit 1; }
  else
    mpirun --oversubscribe -np "$ranks" "$cli" "${args[@]}" --log "$log" >/dev/null 2>"$tmp/err$ranks" \
      || { cat "$tmp/err$ranks"; exit 1; }
  fi
  end=$(date +%s.%N)
  python3 - "$log" "$start" "$end" "$ranks" <<'PY'
import json, sys
log, start, end, ranks = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
entries = [json.loads(l) for l in open(log) if l.strip()]
evals = sum(e["event"] in ("eval", "validation_eval", "baseline_eval") for e in entries)
finish = [e for e in entries if e["event"] == "finish"][-1]
s = end - start
print(f"{ranks:<6} {s:<9.2f} {evals:<12} {finish['candidates']:<12} {finish['candidates'] / s:<13.2f} {evals / s:.2f}")
PY
done
python3 - "$tmp"/run1.jsonl "$tmp"/run2.jsonl "$tmp"/run3.jsonl <<'PY'
import json, sys
sets = [sorted(l for l in open(p) if '"eval"' in l or 'validation_eval' in l or 'baseline_eval' in l) for p in sys.argv[1:]]
print("same evaluations in all three runs:", all(s == sets[0] for s in sets))
PY
