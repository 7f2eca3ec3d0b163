#!/usr/bin/env bash
# The paper's experiment in miniature, done fairly (issue 16): every method's factors fine-tuned
# alike, then all of them measured on needle samples and documents no search saw.
#
#   scripts/embedded-model/fair-miniature.sh [OUT_DIR] [cpu|cuda]
#       (default OUT_DIR results/fair-4x; CLI from $CLI or
#        build/app/ropescope-cli, the GUI from $GUI for the plots)
#
# From the shipped base model (L_train = 512), for 4 × L_train = 2048 tokens:
#   1. factors: PI, NTK and YaRN (the families, set up for 2048); LongRoPE v1 searched; LongRoPE2
#      searched (d_rcd in the genome); LongRoPE2 with d_rcd held at d_tcd. The three searches share
#      one needle budget, samples (seeds 0-2) and validation samples (seeds 3-8);
#   2. fine-tuning, every row with the same data, steps, batch, learning rate and seed: the
#      LongRoPE2 rows with mixed context windows (short documents on the original RoPE), the others
#      with plain long windows (the same rows, every document on the rescaled RoPE). Two ablation
#      rows separate the ingredients: LongRoPE2's factors with plain windows, YaRN with mixed ones;
#   3. the workbench's sweep of the base model and the eight fine-tuned ones on fresh needle samples
#      (seed 1000) and held-out documents: needle PPL and passkey at 1, 2 and 4 × L_train, held-out
#      perplexity (at 1 × it is the short-context retention), the needle heatmap per method, each
#      cell with a 95 % interval and its paired ratio to "YaRN" (YaRN fine-tuned alike);
#   4. the summary table (fair_summary.py) and the plots (the GUI renders them offscreen).
#
# Why 4 ×: it is the largest ratio whose eight fine-tunings fit the 2-core CPU in minutes each
# (a step of 2 rows × 2048 tokens takes about 4 s there; 8 × L_train would take four times that).
# With --device cuda the same recipe runs on a GPU; raise FINETUNE_STEPS, SEARCH_* and
# SWEEP_SAMPLES there. Every command is printed to OUT/recipe.txt before it runs, so the log is the
# exact recipe; every step is deterministic for its seeds on one machine, so a second run
# reproduces the table: compare_runs.py RUN_A RUN_B compares two runs step by step.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../results/fair-4x}
device=${2:-cpu}
cli=${CLI:-build/app/ropescope-cli}
gui=${GUI:-$(dirname "$cli")/ropescope}
base=${BASE_MODEL:-$here/../../resources/embedded-model}
L=${TARGET_LENGTH:-2048}
ft_steps=${FINETUNE_STEPS:-60}
ft_batch=${FINETUNE_BATCH:-2}
ft_lr=${FINETUNE_LR:-3e-4}
ft_seed=${FINETUNE_SEED:-2}
population=${SEARCH_POPULATION:-24}
iterations=${SEARCH_ITERATIONS:-8}
search_samples=${SEARCH_SAMPLES:-3}
sweep_samples=${SWEEP_SAMPLES:-12}
sweep_lengths=${SWEEP_LENGTHS:-512,1024,$L}
dtype=float32
[ "$device" = cuda ] && dtype=bfloat16

mkdir -p "$out/factors" "$out/models" "$out/logs"
: > "$out/recipe.txt"
# The thread count changes the order of floating-point sums, so a run reproduces another bit for bit
# only with the same count: record it.
echo "OMP_NUM_THREADS=${OMP_NUM_THREADS:-unset (all cores)}" >> "$out/recipe.txt"
run() { echo "+ $*" | tee -a "$out/recipe.txt"; "$@"; }
stamp() { echo "== $(date -u +%H:%M:%S) $*" | tee -a "$out/recipe.txt"; }

# ---- 1. factors ----------------------------------------------------------------------------------
stamp factors
declare -A attention
for family in pi ntk yarn; do
    run "$cli" factors --config "$base/config.json" --target "$L" --family "$family" -o "$out/factors/$family.txt" \
        2>&1 | tee "$out/logs/factors-$family.txt"
    # "wrote 32 factors (yarn, attention factor 1.138629436) to …": each family keeps its own.
    attention[$family]=$(sed -n 's/.*attention factor \([0-9.eE+-]*\)).*/\1/p' "$out/logs/factors-$family.txt")
done

search() {  # NAME, then the method's options
    local name=$1
    shift
    stamp "search $name"
    # Resumable: a killed recipe continues from the run log.
    local resume=()
    [ -s "$out/logs/search-$name.jsonl" ] && resume=(--resume)
    run "$cli" search --model "$base" --length "$L" --samples "$search_samples" --seed 0 --population "$population" \
        --iterations "$iterations" --racing --device "$device" --dtype "$dtype" "$@" \
        --log "$out/logs/search-$name.jsonl" "${resume[@]}" --out "$out/factors/$name.txt" \
        > "$out/logs/search-$name.txt" 2>&1
    tail -n 3 "$out/logs/search-$name.txt"
}
[ -s "$out/factors/longrope.txt" ] || search longrope --method longrope
[ -s "$out/factors/longrope2.txt" ] || search longrope2 --method longrope2
[ -s "$out/factors/longrope2-dtcd.txt" ] || search longrope2-dtcd --method longrope2 --fix-d-rcd tcd

# ---- 2. fine-tuning, alike -----------------------------------------------------------------------
finetune() {  # SLUG WINDOW(mixed|plain) FACTORS [--attention-factor A]
    local slug=$1 window=$2 factors=$3
    shift 3
    [ -s "$out/models/$slug/model.safetensors" ] && return
    stamp "fine-tune $slug"
    run "$cli" train --init "$base" --out "$out/models/$slug" "--$window-window" --factors "$out/factors/$factors.txt" \
        "$@" --target-length "$L" --steps "$ft_steps" --batch "$ft_batch" --lr "$ft_lr" --warmup 4 \
        --needle-fraction 1 --answer-weight 20 --seed "$ft_seed" --save-dtype bfloat16 --log-every 5 \
        --device "$device" > "$out/logs/train-$slug.txt" 2>&1
    tail -n 1 "$out/logs/train-$slug.txt"
}
finetune pi plain pi --attention-factor "${attention[pi]}"
finetune ntk plain ntk --attention-factor "${attention[ntk]}"
finetune yarn plain yarn --attention-factor "${attention[yarn]}"
finetune longrope plain longrope
finetune longrope2 mixed longrope2
finetune longrope2-dtcd mixed longrope2-dtcd
finetune longrope2-plain plain longrope2
finetune yarn-mixed mixed yarn --attention-factor "${attention[yarn]}"

# The GUI's File › Open Embedded Model menu lists these, in this order, under these names.
cat > "$out/models/index.json" <<'EOF'
[
  {"folder": "longrope2", "name": "LongRoPE2 + mixed windows (fine-tuned, 4×)"},
  {"folder": "longrope2-dtcd", "name": "LongRoPE2, d_rcd = d_tcd + mixed windows (fine-tuned, 4×)"},
  {"folder": "longrope2-plain", "name": "LongRoPE2 + plain windows (fine-tuned, 4×)"},
  {"folder": "yarn-mixed", "name": "YaRN + mixed windows (fine-tuned, 4×)"},
  {"folder": "yarn", "name": "YaRN (fine-tuned, 4×)"},
  {"folder": "longrope", "name": "LongRoPE v1 (fine-tuned, 4×)"},
  {"folder": "ntk", "name": "NTK (fine-tuned, 4×)"},
  {"folder": "pi", "name": "PI (fine-tuned, 4×)"}
]
EOF
(cd "$out/models" && sha256sum */model.safetensors) | tee "$out/models/sha256.txt" | tee -a "$out/recipe.txt"

# ---- 3. the sweep on fresh samples -----------------------------------------------------------------
stamp sweep
m=$out/models
run "$cli" sweep --model "$base" --methods none \
    --finetuned "PI=$m/pi" --finetuned "NTK=$m/ntk" --finetuned "YaRN=$m/yarn" --finetuned "LongRoPE=$m/longrope" \
    --finetuned "LongRoPE2=$m/longrope2" --finetuned "LongRoPE2 d_rcd at d_tcd=$m/longrope2-dtcd" \
    --finetuned "LongRoPE2 plain windows=$m/longrope2-plain" --finetuned "YaRN mixed windows=$m/yarn-mixed" \
    --lengths "$sweep_lengths" --target "$L" --depths 0,0.5,1 --samples "$sweep_samples" --seed 1000 --passkey \
    --reference YaRN --device "$device" --dtype "$dtype" -o "$out/sweep.json" > "$out/sweep.md" 2> "$out/logs/sweep.txt"

# ---- 4. the summary and the plots --------------------------------------------------------------------
stamp summary
python3 "$here/fair_summary.py" "$out/sweep.json" | tee "$out/summary.md"
if [ -x "$gui" ]; then
    QT_QPA_PLATFORM=offscreen run "$gui" --sweep-result "$out/sweep.json" --export-sweep-plots "$out/fair-4x"
fi
stamp done
