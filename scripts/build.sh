#!/usr/bin/env bash
# Installs missing Debian packages and builds RopeScope into ./build (or $ROPESCOPE_BUILD_DIR).
# Extra arguments go to CMake's configure step (e.g. -DROPESCOPE_GUI=OFF). $ROPESCOPE_TARGETS, when
# set, names the targets to build (run.sh: only the GUI and the CLI); otherwise everything is built.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ROPESCOPE_BUILD_DIR:-$root/build}"
"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
targets=()
[ -n "${ROPESCOPE_TARGETS:-}" ] && read -r -a targets <<< "--target $ROPESCOPE_TARGETS"
cmake --build "$build" -j"$(nproc)" "${targets[@]}"
