#!/usr/bin/env bash
# Debian/Ubuntu packages that the bundle's smoke test uses (tests/test_bundle.py): Qt's X11
# libraries (the README's list), Xvfb and the desktop's own tools (xdg-utils, shared-mime-info,
# desktop-file-utils), xwininfo and ImageMagick's `import` for the screenshot. Installs only what
# is missing; needs root. .ci/run calls it; on a desktop, only the Qt libraries are needed.
set -euo pipefail
packages=(libegl1 libgl1 libfontconfig1 libdbus-1-3 libxkbcommon-x11-0 libxcb-cursor0 libxcb-image0
  libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xkb1 libxcb-icccm4 libxcb-keysyms1
  xvfb xauth xdg-utils shared-mime-info desktop-file-utils x11-utils imagemagick util-linux)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "system-packages.sh: missing ${missing[*]}; install them as root with apt-get" >&2
  exit 0  # the tests that need them skip and say why
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
