#!/usr/bin/env bash
# CI: the Debian package end to end. Builds it (cpack in the build folder, after scripts/test.sh
# built everything), installs it with apt as a user would (`apt install ./ropescope_*.deb`), runs
# the installed binaries from a folder outside the source tree — `ropescope-cli rope --preset
# llama3-8b --target 128k` and `ropescope --screenshot` (offscreen) — checks the data, desktop
# entry and man pages it put in place, and removes the package again (also when a check fails).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ROPESCOPE_BUILD_DIR:-$root/build}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

rm -f "$build"/ropescope_*.deb
(cd "$build" && cpack -G DEB >"$build/cpack.log" 2>&1) || { tail -30 "$build/cpack.log"; exit 1; }
deb="$(ls "$build"/ropescope_*.deb)"
echo "check-package: built $(basename "$deb") ($(du -h "$deb" | cut -f1))"
dpkg-deb --field "$deb" Depends Recommends Suggests

work="$(mktemp -d)"
cleanup() {
  $SUDO apt-get remove -y -qq ropescope >/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
$SUDO apt-get install -y -qq --no-install-recommends "$deb" >/dev/null
echo "check-package: installed; running from $work"
cd "$work"
[ "$(command -v ropescope-cli)" = /usr/bin/ropescope-cli ] || { echo "ropescope-cli is not /usr/bin's" >&2; exit 1; }

ropescope-cli rope --preset llama3-8b --target 128k > rope.txt
head -3 rope.txt
grep -q "131072" rope.txt || { echo "check-package: 'rope --target 128k' did not print 131072" >&2; exit 1; }
ropescope-cli rope --preset llama3-8b > /dev/null

QT_QPA_PLATFORM=offscreen timeout 300 ropescope --screenshot "$work/x.png"
[ "$(head -c 8 x.png | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || { echo "check-package: no PNG written" >&2; exit 1; }
echo "check-package: screenshot $(du -h x.png | cut -f1)"

for f in /usr/share/ropescope/models/fair-4x/index.json /usr/share/ropescope/presets/index.json \
         /usr/share/ropescope/embedded-model/model.safetensors /usr/share/applications/ropescope.desktop \
         /usr/share/icons/hicolor/scalable/apps/ropescope.svg /usr/share/man/man1/ropescope.1.gz \
         /usr/share/man/man1/ropescope-cli.1.gz /usr/share/doc/ropescope/copyright; do
  [ -s "$f" ] || { echo "check-package: $f is missing" >&2; exit 1; }
done
zcat /usr/share/man/man1/ropescope-cli.1.gz | grep -q '^\.SS sweep' || { echo "check-package: the CLI's man page lacks its commands" >&2; exit 1; }
echo "check-package: ok"
