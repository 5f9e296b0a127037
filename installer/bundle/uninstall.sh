#!/usr/bin/env bash
# Remove Glassbox as install.sh put it (this script lives in the installed app folder).
# Your settings (~/.config/glassbox) and caches (~/.cache/glassbox) stay: delete them by hand.
set -euo pipefail
prefix=$(cd "$(dirname "$0")" && pwd)
list="$prefix/installed-files.txt"
[ -f "$list" ] || { echo "uninstall.sh: $list is missing: was this installed by install.sh?" >&2; exit 2; }
{ read -r mode; read -r data; mapfile -t files; } < "$list"
for file in "${files[@]}"; do rm -f "$file"; done
if [ "$mode" = user ]; then
  apps=${XDG_CONFIG_HOME:-$HOME/.config}/mimeapps.list
  if [ -f "$apps" ]; then sed -i '/^application\/x-\(keras\|hdf\|hdf5\)=glassbox\.desktop;\{0,1\}$/d' "$apps"; fi
fi
if command -v update-mime-database >/dev/null; then update-mime-database "$data/mime"; fi
if command -v update-desktop-database >/dev/null; then update-desktop-database -q "$data/applications"; fi
rm -rf "$prefix"
echo "Glassbox removed from $prefix"
