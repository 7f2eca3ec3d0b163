#!/usr/bin/env bash
# Does widening LongRoPE2's search space help? (issue 25 item 4.) At 2×, 4× and 8× L_train on the
# shipped base model, un-fine-tuned, four LongRoPE2 searches with one budget and one set of samples:
#   paper       the paper's space (d_rcd in [d_10, d_tcd], NTK-left anchored at d_rcd, λ_{≥d_rcd} ∈ [s, 2s])
#   anchor      + --decouple-anchor       (the NTK-left anchor a searched index ≥ d_rcd)
#   above-tcd   + --d-rcd-above-tcd       (d_rcd up to d/2 − 1)
#   keep4       + --keep-original-dims 4  (the 4 dimensions that rotate more than 32 times within
#                                          L_train, which YaRN's β_fast = 32 leaves at λ = 1, kept at 1)
# then every answer and YaRN (the best family here) measured by the workbench's sweep on FRESH needle
# samples (seed 1000; the searches used seeds 0-1 and validated on 2-5) at needle depths 0, 0.5
# and 1, each cell with a 95 % interval and its paired ratio to YaRN. The table:
# space_ablation.py OUT.
#
#   scripts/embedded-model/space-ablation.sh [OUT_DIR]     (default results/space-ablation)
#
# CLI=path/to/ropescope-cli overrides the binary. Resumable: finished steps are skipped, a killed
# search continues from its log. One CPU thread per process (OMP_NUM_THREADS=1 unless set), so
# that the figures do not depend on how busy the machine is.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../results/space-ablation}
cli=${CLI:-build/app/ropescope-cli}
train_length=512
population=${SEARCH_POPULATION:-16}
iterations=${SEARCH_ITERATIONS:-6}
search_samples=${SEARCH_SAMPLES:-2}
sweep_samples=${SWEEP_SAMPLES:-12}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

declare -A extension=([paper]="" [anchor]="--decouple-anchor" [above-tcd]="--d-rcd-above-tcd"
                      [keep4]="--keep-original-dims 4")
variants=(paper anchor above-tcd keep4)

mkdir -p "$out"
for multiple in 2 4 8; do
    L=$((multiple * train_length))
    dir=$out/L$L
    mkdir -p "$dir"
    for v in "${variants[@]}"; do
        [ -s "$dir/$v.txt" ] && continue
        echo "== $(date -u +%H:%M:%S) search $v at $L"
        resume=()
        [ -s "$dir/$v.jsonl" ] && resume=(--resume)
        # shellcheck disable=SC2086  # the extension's options are words
        "$cli" search --length "$L" --method longrope2 --population "$population" --iterations "$iterations" \
            --samples "$search_samples" --seed 0 --racing --device cpu --dtype float32 ${extension[$v]} \
            --log "$dir/$v.jsonl" "${resume[@]}" --out "$dir/$v.txt" > "$dir/$v-search.txt" 2>&1
        tail -n 2 "$dir/$v-search.txt"
    done
    if [ ! -s "$dir/sweep.json" ]; then
        echo "== $(date -u +%H:%M:%S) sweep at $L"
        "$cli" sweep --methods yarn --factors "LongRoPE2=$dir/paper.txt" \
            --factors "+ decoupled anchor=$dir/anchor.txt" --factors "+ d_rcd above d_tcd=$dir/above-tcd.txt" \
            --factors "+ first 4 kept at 1=$dir/keep4.txt" --lengths "$L" --target "$L" --depths 0,0.5,1 \
            --samples "$sweep_samples" --seed 1000 --passkey --no-held-out --reference YaRN --device cpu \
            --dtype float32 -o "$dir/sweep.json" > "$dir/sweep.md" 2> "$dir/sweep-log.txt"
    fi
done
python3 "$here/space_ablation.py" "$out" | tee "$out/summary.md"
