#!/usr/bin/env bash
# Shows that two builds of ropescope-cli run the same search: small deterministic searches of the
# embedded model on the CPU (both methods; validation and baselines on; racing, the attention gene,
# a budget and a resume), each run by both binaries, whose run logs must hold the same records
# (same-search-log.py: the start record's format version and MPI clock figures aside), whose
# stdout must be the same text and whose factor files the same bytes.
#
#   scripts/search-unchanged.sh BEFORE_CLI AFTER_CLI [OUT_DIR]
#
# A refactor is checked by building the commit before it (e.g. in a second worktree) and after
# it. Takes a few minutes on a busy 2-core machine. Exit status 0 when every pair agrees.
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,11p' "$0"; exit 2; }
before=$1
after=$2
out=${3:-$(mktemp -d)}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$out"

common=(--length 1024 --samples 2 --seed 3 --population 6 --iterations 2 --device cpu --dtype float32)
declare -A runs=(
    [longrope2]="--method longrope2"
    [longrope]="--method longrope"
    [longrope2-racing-attention]="--method longrope2 --racing --search-attention-factor --fitness mean-ppl --validation-samples 2 --validation-top 2"
    [longrope-no-validation]="--method longrope --validation-samples 0 --no-family-seeds"
)
status=0
for name in "${!runs[@]}"; do
    for which in before after; do
        cli=$before
        [ "$which" = after ] && cli=$after
        rm -f "$out/$name-$which.jsonl" "$out/$name.txt"
        # One factor-file name for both, so that stdout, which names it, can be compared.
        # shellcheck disable=SC2086
        "$cli" search "${common[@]}" ${runs[$name]} --log "$out/$name-$which.jsonl" -o "$out/$name.txt" \
            > "$out/$name-$which.stdout" 2> "$out/$name-$which.stderr"
        mv "$out/$name.txt" "$out/$name-$which.txt"
    done
    echo "== $name"
    python3 "$here/same-search-log.py" "$out/$name-before.jsonl" "$out/$name-after.jsonl" || status=1
    cmp "$out/$name-before.stdout" "$out/$name-after.stdout" || status=1
    cmp "$out/$name-before.txt" "$out/$name-after.txt" || status=1
done

# A run stopped by its budget, then resumed to its end by the same binary.
for which in before after; do
    cli=$before
    [ "$which" = after ] && cli=$after
    log="$out/resumed-$which.jsonl"
    rm -f "$log"
    "$cli" search "${common[@]}" --method longrope2 --racing --max-evaluations 40 --log "$log" > /dev/null 2>&1
    "$cli" search "${common[@]}" --method longrope2 --racing --log "$log" --resume > "$out/resumed-$which.stdout" 2> /dev/null
done
echo "== budget, then resume"
python3 "$here/same-search-log.py" "$out/resumed-before.jsonl" "$out/resumed-after.jsonl" || status=1
cmp "$out/resumed-before.stdout" "$out/resumed-after.stdout" || status=1

[ $status = 0 ] && echo "the two builds run the same searches (logs in $out)" || echo "the builds differ (logs in $out)"
exit $status
