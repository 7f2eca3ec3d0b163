#!/usr/bin/env bash
# Lists every test that skipped in the last CTest run, with the reason it printed (QSKIP), from
# <build>/Testing/Temporary/LastTest.log; exits 1 when one of them could have run on this machine.
#   scripts/check-skips.sh           CI: list, and fail on a skip that is not allowed here
#   scripts/check-skips.sh --list    scripts/test.sh: list only
# Allowed: tests that need what this machine lacks — a CUDA GPU (float16 included), or mpirun where
# it is not installed. Anything else that skips (the real tokenizers not fetched, a fixture missing, a build
# without the embedded model) is a test CI did not run, so CI fails.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ROPESCOPE_BUILD_DIR:-$root/build}"
log="$build/Testing/Temporary/LastTest.log"
list_only=0
[ "${1:-}" = "--list" ] && list_only=1
if [ ! -f "$log" ]; then
  echo "check-skips: $log is missing: run the tests first (scripts/test.sh)" >&2
  exit 1
fi
allowed=(
  "LibTorch has no CUDA device here"
  "no CUDA GPU"
  "the worker picks CUDA here"  # a CUDA machine only: the GUI's worker and the CLI pick different devices
  # test_helpvalues: --dtype float16 is accepted by the parser, but the CPU's LibTorch has no float16
  # matrix products, so the command refuses to run it on a machine without a GPU.
  "float16 is not available on the CPU with this LibTorch"
)
command -v mpirun >/dev/null || allowed+=("mpirun is not installed")

mapfile -t skips < <(grep -E '^SKIP +: ' "$log" || true)
if [ ${#skips[@]} -eq 0 ]; then
  echo "check-skips: no test skipped"
  exit 0
fi
echo "check-skips: ${#skips[@]} skipped:"
bad=0
for line in "${skips[@]}"; do
  verdict="NOT ALLOWED here"
  for reason in "${allowed[@]}"; do
    if [[ "$line" == *"$reason"* ]]; then verdict="allowed"; break; fi
  done
  [ "$verdict" = allowed ] || bad=$((bad + 1))
  echo "  [$verdict] ${line#SKIP*: }"
done
if [ "$list_only" -eq 0 ] && [ "$bad" -gt 0 ]; then
  echo "check-skips: $bad test(s) skipped that can run on this machine" >&2
  exit 1
fi
