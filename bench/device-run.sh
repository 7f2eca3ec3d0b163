#!/usr/bin/env bash
# One call on the lent GPU machine (see /work/shared/device/README.md): CUDA build with the GUI off,
# the needle-PPL benchmark next to transformers on the same GPU, the CUDA tests, then the whole
# test suite on this LibTorch. Every stage writes its log under $OUT so a timeout keeps what ran.
# Usage (from the source root, with .device/ carried): bash bench/device-run.sh [8b lengths]
set -uo pipefail
OUT=${OUT:-/tmp/ropescope-out}
mkdir -p "$OUT"
lengths=${1:-8192,32768,65536,131072}
stamp() { echo "[$(date +%T)] $*" | tee -a "$OUT/summary.txt"; }

source .device/env.sh
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)' | tee -a "$OUT/gpu.txt"

stamp configure
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$CMAKE_PREFIX_PATH" \
      -DROPESCOPE_GUI=OFF >"$OUT/configure.log" 2>&1 || { tail -40 "$OUT/configure.log"; exit 1; }
grep -i "ROPESCOPE_CUDA_MEMORY_STATS" "$OUT/configure.log" | tee -a "$OUT/summary.txt"
stamp build cli + test_model
cmake --build build-gpu -j16 --target ropescope-cli test_model >"$OUT/build1.log" 2>&1 ||
    { grep -E "error|Error" -A4 "$OUT/build1.log" | head -60; exit 1; }

stamp "bench 8B ours"
./build-gpu/app/ropescope-cli bench --config bench/shapes/llama3-8b.json --device cuda --dtype bfloat16 \
    --lengths "$lengths" --warmup 1 --repeats 2 --json >"$OUT/ours-8b.jsonl" 2>"$OUT/ours-8b.err"
cat "$OUT/ours-8b.jsonl" "$OUT/ours-8b.err" | tail -8
stamp "bench 8B transformers"
python3 bench/hf_needle_bench.py --config bench/shapes/llama3-8b.json --lengths "$lengths" --warmup 1 --repeats 2 \
    >"$OUT/hf-8b.jsonl" 2>"$OUT/hf-8b.err"
tail -3 "$OUT/hf-8b.err"
python3 bench/compare.py "$OUT/ours-8b.jsonl" "$OUT/hf-8b.jsonl" | tee "$OUT/table-8b.txt"

stamp "bench 1B ours + transformers"
./build-gpu/app/ropescope-cli bench --config bench/shapes/llama-1b.json --device cuda --lengths 8192,32768 \
    --warmup 1 --repeats 3 --json >"$OUT/ours-1b.jsonl" 2>&1
python3 bench/hf_needle_bench.py --config bench/shapes/llama-1b.json --lengths 8192,32768 --warmup 1 --repeats 3 \
    >"$OUT/hf-1b.jsonl" 2>"$OUT/hf-1b.err"
python3 bench/compare.py "$OUT/ours-1b.jsonl" "$OUT/hf-1b.jsonl" | tee "$OUT/table-1b.txt"

stamp "CUDA tests (test_model)"
./build-gpu/tests/runtime/test_model >"$OUT/test_model.txt" 2>&1
grep -E "cuda|Totals|FAIL" "$OUT/test_model.txt" | head -30

stamp "eval --device cuda on a fixture"
model=$(mktemp -d)
cp tests/fixtures/models/llama-longrope/* "$model"/
cp tests/fixtures/tokenizers/bytes-256-tokenizer.json "$model"/tokenizer.json
for dev in cuda cpu; do
    ./build-gpu/app/ropescope-cli eval --model "$model" --length 600 --samples 2 --device $dev --json \
        >"$OUT/eval-$dev.json" 2>&1
    python3 -c "import json,sys; o=json.load(open(sys.argv[1])); print(sys.argv[2], o['mean_ppl'], o['device'], o['dtype'], o['seconds'])" \
        "$OUT/eval-$dev.json" $dev || tail -3 "$OUT/eval-$dev.json"
done

stamp "build everything + ctest"
cmake --build build-gpu -j16 >"$OUT/build2.log" 2>&1 || grep -E "error" -A4 "$OUT/build2.log" | head -40
ctest --test-dir build-gpu -j8 --output-on-failure >"$OUT/ctest.txt" 2>&1
tail -25 "$OUT/ctest.txt"
stamp done
echo "==== tables"; cat "$OUT/table-8b.txt" "$OUT/table-1b.txt"
