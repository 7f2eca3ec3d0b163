#!/usr/bin/env bash
# One call on the lent GPU machine: CUDA build (GUI off), then scripts/train-embedded-model.sh on the
# GPU with the pretraining steps sized to a time budget (measured from a short calibration run), the
# CUDA model tests, and everything worth keeping copied under $OUT.
# Usage (source root, .device/ carried): bash scripts/device-embedded-model.sh [PRETRAIN_SECONDS]
set -uo pipefail
OUT=${OUT:-/tmp/ropescope-out}
mkdir -p "$OUT"
budget=${1:-200}
source .device/env.sh
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$CMAKE_PREFIX_PATH" \
      -DROPESCOPE_GUI=OFF >"$OUT/configure.log" 2>&1 || { tail -30 "$OUT/configure.log"; exit 1; }
cmake --build build-gpu -j16 --target ropescope-cli test_model >"$OUT/build.log" 2>&1 ||
    { grep -E "error" -A4 "$OUT/build.log" | head -60; exit 1; }
echo "[$(date +%T)] built"
cli=build-gpu/app/ropescope-cli

# Calibrate: 40 steps of the real configuration (includes start-up, so the estimate is conservative).
start=$(date +%s.%N)
$cli train --config scripts/embedded-model/config.json --tokenizer tests/fixtures/tokenizers/bytes-256-tokenizer.json \
    --out /tmp/calibrate --steps 40 --batch 32 --seq-len 512 --seed 1 --device cuda --log-every 20 2>&1 | tail -2
end=$(date +%s.%N)
steps=$(python3 -c "s=($end-$start)/40; n=int($budget/s)//100*100; print(max(1000, min(20000, n)))")
echo "[$(date +%T)] calibration: $(python3 -c "print(round(($end-$start)/40*1000,1))") ms/step -> $steps pretraining steps"

PRETRAIN_STEPS=$steps CLI=$cli bash scripts/train-embedded-model.sh "$OUT/run" cuda >"$OUT/pipeline.log" 2>&1
echo "[$(date +%T)] pipeline exit $?"
grep -E "^\+|step .*(000|250|500|750) |best needle|sample evaluations|saved" "$OUT/pipeline.log" | tail -40
cat "$OUT/run/table.md" 2>/dev/null
./build-gpu/tests/test_model -silent > "$OUT/test_model.txt" 2>&1; grep -E "relative error|Totals|FAIL" "$OUT/test_model.txt"
echo "[$(date +%T)] done"
