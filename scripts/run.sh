#!/usr/bin/env bash
# Set-up command 1: install what is missing, build the GUI and the CLI (and only what they need:
# the tests are scripts/test.sh's), and start the GUI.
# Arguments go to the app (e.g. a config.json to open, or --screenshot out.png).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ROPESCOPE_BUILD_DIR:-$root/build}"
ROPESCOPE_TARGETS="ropescope ropescope-cli" "$root/scripts/build.sh"
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "run.sh: no display found; starting the GUI under Xvfb (use --screenshot FILE to capture it)" >&2
  exec xvfb-run -a -s "-screen 0 1600x1000x24" "$build/app/ropescope" "$@"
fi
exec "$build/app/ropescope" "$@"
