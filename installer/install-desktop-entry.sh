#!/usr/bin/env bash
# Put Glassbox in the desktop's application menu (freedesktop .desktop entry), so that it starts
# with a double-click: the entry runs installer/run.sh from this checkout (first start sets up .venv).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
mkdir -p "$apps"
tmp=$(mktemp "$apps/.glassbox.desktop.XXXXXX")
cat > "$tmp" <<ENTRY
[Desktop Entry]
Type=Application
Name=Glassbox
Comment=Explain Keras models case by case, offline
Exec=bash "$here/installer/run.sh" %f
Icon=$here/resources/icons/glassbox.svg
Terminal=false
Categories=Science;Development;
MimeType=application/x-hdf5;application/zip;
ENTRY
mv "$tmp" "$apps/glassbox.desktop"
echo "installed $apps/glassbox.desktop"
