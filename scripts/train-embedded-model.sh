#!/usr/bin/env bash
# Makes the embedded model and the README's comparison table, start to finish:
#   1. pretrain scripts/embedded-model/config.json at L_train = 512 on the built-in corpus
#      (English-like prose, half the documents carrying a needle and its retrieval question);
#   2. LongRoPE2 search of the factors for 8 × L_train = 4096 tokens (needle PPL, racing);
#   3. mixed context window fine-tuning with those factors;
#   4. the comparison table on needle samples the search never saw.
# The shipped resources/embedded-model/ is step 1's folder. Every command is printed before it runs,
# so the log is the exact recipe.
# Usage: scripts/train-embedded-model.sh OUT_DIR [cpu|cuda]   (CLI from $CLI or build/app/ropescope-cli)
set -euo pipefail
out=${1:?usage: train-embedded-model.sh OUT_DIR [cpu|cuda]}
device=${2:-cpu}
cli=${CLI:-build/app/ropescope-cli}
here=$(cd "$(dirname "$0")" && pwd)
steps=${PRETRAIN_STEPS:-6000}
ft_steps=${FINETUNE_STEPS:-400}
population=${SEARCH_POPULATION:-32}
iterations=${SEARCH_ITERATIONS:-12}
samples=${TABLE_SAMPLES:-16}
mkdir -p "$out"
run() { echo "+ $*" | tee -a "$out/recipe.txt"; "$@"; }
# A hook after each step (the GPU wrapper copies each result out as soon as it exists).
after() { if [ -n "${AFTER_STEP:-}" ]; then eval "$AFTER_STEP"; fi; }

run "$cli" train --config "$here/embedded-model/config.json" \
    --tokenizer "$here/../tests/fixtures/tokenizers/bytes-256-tokenizer.json" \
    --out "$out/base" --steps "$steps" --batch 32 --seq-len 512 --lr 2e-3 --warmup 200 --min-lr-ratio 0.05 \
    --seed 1 --save-dtype bfloat16 --log-every 250 --device "$device"
sha256sum "$out"/base/* | tee -a "$out/recipe.txt"
after

run "$cli" search --model "$out/base" --length 4096 --samples 4 --population "$population" \
    --iterations "$iterations" --racing --seed 7 --device "$device" --dtype float32 --log "$out/search.jsonl" \
    --out "$out/longrope2-factors.txt"
after

run "$cli" train --init "$out/base" --out "$out/finetuned" --mixed-window --factors "$out/longrope2-factors.txt" \
    --target-length 4096 --steps "$ft_steps" --batch 8 --lr 3e-4 --warmup 20 --seed 2 --save-dtype bfloat16 \
    --log-every 50 --device "$device"
after

run "$cli" table --model "$out/base" --factors "$out/longrope2-factors.txt" --finetuned "$out/finetuned" \
    --samples "$samples" --device "$device" --dtype float32 | tee "$out/table.md"
