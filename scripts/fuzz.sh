#!/usr/bin/env bash
# Fuzzes the readers of the files a user hands RopeScope (safetensors header, config.json,
# tokenizer.json, LongRoPE factor files, model folders, run logs, JSONL corpora, saved sweep results,
# .ropescope sessions) with libFuzzer under ASan + UBSan: installs clang and libFuzzer (Debian) when
# missing, builds fuzz/ into build-fuzz (or $ROPESCOPE_FUZZ_BUILD_DIR) and runs each target for
# SECONDS (default 10), one after another, on a working corpus seeded from tests/fixtures and
# fuzz/seeds, with the target's dictionary of keys and values (fuzz/dicts). A finding (crash,
# sanitizer report, uncaught exception, broken invariant, hang, allocation beyond 2 GiB) is kept in
# build-fuzz/findings/ and makes the script exit 1. Each target's executions are printed and appended
# to build-fuzz/findings/runs.tsv (date, target, seconds, executions, corpus size, result).
#   scripts/fuzz.sh [SECONDS] [TARGET…]     targets: safetensors config tokenizer factorfile modelfolder
#                                           runlog corpus sweepresult session
#   scripts/fuzz.sh nightly [TARGET…]       10 minutes per target (ROPESCOPE_FUZZ_NIGHTLY_SECONDS)
#   scripts/fuzz.sh list                    the targets, one a line
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ROPESCOPE_FUZZ_BUILD_DIR:-$root/build-fuzz}"
all_targets=(safetensors config tokenizer factorfile modelfolder runlog corpus sweepresult session)
if [ "${1:-}" = list ]; then
  printf '%s\n' "${all_targets[@]}"
  exit 0
fi
seconds="${1:-10}"
[ "$seconds" = nightly ] && seconds="${ROPESCOPE_FUZZ_NIGHTLY_SECONDS:-600}"
case "$seconds" in
  '' | *[!0-9]*) echo "fuzz: SECONDS must be a whole number or 'nightly', got '$seconds'" >&2; exit 2 ;;
esac
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "fuzz: unknown target '$t' (scripts/fuzz.sh list)" >&2; exit 2; }
done

# What the fuzz build needs: clang, the libFuzzer runtime that matches it, Qt Core, CMake, Ninja.
install_missing() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "fuzz: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
install_missing clang cmake ninja-build qt6-base-dev
clang_major="$(clang --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -1)"
# Debian ships libFuzzer (libclang_rt.fuzzer) in libclang-rt-N-dev, which clang only recommends.
install_missing "libclang-rt-${clang_major}-dev"

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
      -DROPESCOPE_FUZZ=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target $(printf 'fuzz_%s ' "${targets[@]}")

seeds_of() {
  case "$1" in
    safetensors) echo "$root/fuzz/seeds/safetensors" ;;
    config) echo "$root/tests/fixtures/configs $root/resources/presets" ;;
    tokenizer) echo "$root/tests/fixtures/tokenizers $root/tests/fixtures/tokenizers/tokenizer-bytelevel-bpe $root/tests/fixtures/tokenizers/tokenizer-sentencepiece-bpe" ;;
    factorfile) echo "$root/tests/fixtures/factors" ;;
    modelfolder) echo "$root/fuzz/seeds/modelfolder" ;;
    runlog) echo "$root/fuzz/seeds/runlog" ;;
    corpus) echo "$root/fuzz/seeds/corpus $root/tests/fixtures/corpus" ;;
    sweepresult) echo "$root/fuzz/seeds/sweepresult $root/tests/fixtures/sweep" ;;
    session) echo "$root/fuzz/seeds/session" ;;
  esac
}

mkdir -p "$build/findings"
failed=()
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  mkdir -p "$corpus"
  echo "fuzz: $t for ${seconds}s"
  # The working corpus comes first (new inputs are written there); the seed folders are read only.
  # shellcheck disable=SC2046
  if ! "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len=65536 \
        -dict="$root/fuzz/dicts/$t.dict" -print_final_stats=1 -artifact_prefix="$build/findings/$t-" \
        "$corpus" $(seeds_of "$t") \
        >"$build/findings/$t.log" 2>&1; then
    failed+=("$t")
    tail -40 "$build/findings/$t.log"
  fi
  grep -E "^stat::number_of_executed_units|^stat::new_units_added|^#[0-9]+ *DONE" "$build/findings/$t.log" | sed "s/^/fuzz: $t: /" || true
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/findings/$t.log" | tail -1)"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$t" "$seconds" "${runs:-?}" \
    "$(find "$corpus" -type f | wc -l)" "$([[ " ${failed[*]-} " == *" $t "* ]] && echo finding || echo clean)" \
    >>"$build/findings/runs.tsv"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]} (inputs and logs in $build/findings)"
  exit 1
fi
echo "fuzz: no findings"
