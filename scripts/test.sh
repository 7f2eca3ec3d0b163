#!/usr/bin/env bash
# Set-up command 2: install what is missing (Node.js and npm included), build everything, fetch the
# published tokenizer files that test_realtokenizers checks (npm ci, the versions pinned in
# scripts/tokenizer-reference/package-lock.json), and run the whole test suite (GUI tests run
# offscreen; CUDA tests skip without a GPU). Every skipped test is listed at the end with its reason.
# Arguments go to CMake's configure step.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ROPESCOPE_BUILD_DIR:-$root/build}"
"$root/scripts/install-deps.sh" --test
"$root/scripts/build.sh" "$@"
"$root/scripts/fetch-tokenizers.sh" || echo "test.sh: the real tokenizers could not be fetched; test_realtokenizers will skip them" >&2
ctest --test-dir "$build" --output-on-failure -j"$(nproc)"
"$root/scripts/check-skips.sh" --list
