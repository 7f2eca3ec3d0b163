#!/usr/bin/env bash
# Installs missing Debian packages and builds RopeScope into ./build (or $ROPESCOPE_BUILD_DIR).
# Extra arguments go to CMake's configure step (e.g. -DROPESCOPE_GUI=OFF).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ROPESCOPE_BUILD_DIR:-$root/build}"
"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
cmake --build "$build" -j"$(nproc)"
