#!/usr/bin/env bash
# Fuzzes the parsers of the files a user hands RopeScope (safetensors header, config.json,
# tokenizer.json, LongRoPE factor files) with libFuzzer under ASan + UBSan: installs clang and
# libFuzzer (Debian) when missing, builds fuzz/ into build-fuzz (or $ROPESCOPE_FUZZ_BUILD_DIR) and
# runs each target for SECONDS (default 10) on a working corpus seeded from tests/fixtures and
# fuzz/seeds, with the target's dictionary of keys and values (fuzz/dicts). A finding (crash,
# sanitizer report, uncaught exception, hang, allocation beyond 2 GiB) is kept in
# build-fuzz/findings/ and makes the script exit 1.
#   scripts/fuzz.sh [SECONDS] [TARGET…]     targets: safetensors config tokenizer factorfile
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ROPESCOPE_FUZZ_BUILD_DIR:-$root/build-fuzz}"
seconds="${1:-10}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors config tokenizer factorfile)

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
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]} (inputs and logs in $build/findings)"
  exit 1
fi
echo "fuzz: no findings"
