#!/usr/bin/env bash
# Set-up command 2: install what is missing, build, and run the whole test suite (GUI tests run
# offscreen; CUDA tests skip without a GPU).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ROPESCOPE_BUILD_DIR:-$root/build}"
"$root/scripts/build.sh" "$@"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)"
