#!/usr/bin/env bash
# One call on the lent GPU machine: CUDA build (GUI off), then scripts/train-embedded-model.sh on the
# GPU (its step counts, or PRETRAIN_STEPS etc. from the environment), then the CUDA model tests.
# $OUT takes at most 8 files: log.txt (everything printed), the base and fine-tuned config.json +
# model.safetensors, the factors and the search log, each copied as soon as it exists.
# Usage (source root, .device/ carried): bash scripts/device-embedded-model.sh
set -uo pipefail
OUT=${OUT:-/tmp/ropescope-out}
export OUT
mkdir -p "$OUT/base" "$OUT/finetuned"
exec > >(tee -a "$OUT/log.txt") 2>&1
source .device/env.sh
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$CMAKE_PREFIX_PATH" \
      -DROPESCOPE_GUI=OFF >/tmp/configure.log 2>&1 || { tail -30 /tmp/configure.log; exit 1; }
cmake --build build-gpu -j16 --target ropescope-cli test_model >/tmp/build.log 2>&1 ||
    { grep -E "error" -A4 /tmp/build.log | head -60; exit 1; }
echo "[$(date +%T)] built"
cli=build-gpu/app/ropescope-cli

run=/tmp/embedded-run
export AFTER_STEP='for f in config.json model.safetensors; do for d in base finetuned; do [ -f $out/$d/$f ] && cp $out/$d/$f $OUT/$d/; done; done; cp $out/longrope2-factors.txt $out/search.jsonl $OUT/ 2>/dev/null; echo "[$(date +%T)] copied results so far"'
CLI=$cli bash scripts/train-embedded-model.sh "$run" cuda
echo "[$(date +%T)] pipeline exit $?"
./build-gpu/tests/runtime/test_model -silent 2>&1 | grep -E "relative error|Totals|FAIL|loss"
echo "[$(date +%T)] done"
