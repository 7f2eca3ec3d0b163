#!/bin/sh
# Held-out verdicts for the search on the embedded model (issue 13): a LongRoPE2 and a LongRoPE v1
# search at length L, then every factor set that matters scored on FRESH needle samples (seeds
# 1000…1015, which neither the search nor its validation saw): the original RoPE, PI, NTK, YaRN,
# Llama 3.1, the answer each search chose on its validation samples and the best each found on its
# own samples. Per-sample results go to results/verdicts/L<L>/ as JSON;
# paired_bootstrap.py turns them into paired differences with 95 % intervals.
#
#   scripts/embedded-model/verdicts.sh 1024 32 8 4      # L, population, iterations, samples
#   scripts/embedded-model/verdicts.sh 4096 16 3 2
#
# Extra search options may follow (e.g. --racing). CLI=path/to/ropescope-cli overrides the binary.
set -eu
L=$1
POPULATION=$2
ITERATIONS=$3
SAMPLES=$4
shift 4
CLI=${CLI:-build/app/ropescope-cli}
OUT=results/verdicts/L$L
FRESH="--seed 1000 --samples 16"
mkdir -p "$OUT"

for METHOD in longrope2 longrope; do
    if [ ! -s "$OUT/$METHOD-search.txt" ]; then
        echo "== search $METHOD at L = $L"
        # Resumable: a killed run continues from its log.
        RESUME=""
        [ -s "$OUT/$METHOD.jsonl" ] && RESUME="--resume"
        "$CLI" search --length "$L" --method "$METHOD" --population "$POPULATION" --iterations "$ITERATIONS" \
            --samples "$SAMPLES" --seed 0 --device cpu --dtype float32 "$@" \
            --log "$OUT/$METHOD.jsonl" $RESUME --out "$OUT/$METHOD-chosen.txt" \
            > "$OUT/$METHOD-search.txt" 2> "$OUT/$METHOD-search.log"
    fi
    # The search's own best (on its search samples), from the finish line.
    tail -n 1 "$OUT/$METHOD.jsonl" | jq -r '.search_best_lambda[]' > "$OUT/$METHOD-searchbest.txt"
done

for FAMILY in none pi ntk yarn llama3; do
    [ -s "$OUT/fresh-$FAMILY.json" ] || "$CLI" eval --length "$L" --method "$FAMILY" $FRESH --device cpu --dtype float32 \
        --json > "$OUT/fresh-$FAMILY.json"
done
for METHOD in longrope2 longrope; do
    for WHICH in chosen searchbest; do
        [ -s "$OUT/fresh-$METHOD-$WHICH.json" ] || "$CLI" eval --length "$L" --factors "$OUT/$METHOD-$WHICH.txt" $FRESH \
            --device cpu --dtype float32 --json > "$OUT/fresh-$METHOD-$WHICH.json"
    done
done
python3 "$(dirname "$0")/paired_bootstrap.py" "$OUT" | tee "$OUT/verdicts.md"
