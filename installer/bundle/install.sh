#!/usr/bin/env bash
# Install Glassbox from this unpacked bundle. Needs no network and no Python.
#
#   ./install.sh            for you: ~/.local/share/glassbox, menu entry, .keras/.h5 open with Glassbox
#   sudo ./install.sh --system   for everyone: /opt/glassbox, /usr/local/share, /usr/local/bin
#
# Re-running it updates an earlier install. It leaves uninstall.sh next to the installed app.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mode=user
case "${1:-}" in
  ""|--user) ;;
  --system) mode=system ;;
  -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "install.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
esac

if [ "$mode" = system ]; then
  [ "$(id -u)" = 0 ] || { echo "install.sh: --system needs root (sudo ./install.sh --system)" >&2; exit 2; }
  prefix=${GLASSBOX_PREFIX:-/opt/glassbox}
  data=/usr/local/share
  bin=/usr/local/bin
else
  data=${XDG_DATA_HOME:-$HOME/.local/share}
  prefix=${GLASSBOX_PREFIX:-$data/glassbox}
  bin=$HOME/.local/bin
fi
case "$prefix" in
  *[\"\`\$\\%]*|*$'\n'*) echo "install.sh: the install folder may not contain \" \` \$ \\ % or a newline: $prefix" >&2; exit 2 ;;
esac
[ -x "$here/app/glassbox" ] || { echo "install.sh: $here/app/glassbox is missing: unpack the whole archive" >&2; exit 2; }

# The app: copied next to its final place, then swapped in, so a failed copy leaves the old one.
mkdir -p "$(dirname "$prefix")"
rm -rf "$prefix.new"
cp -R --preserve=mode,timestamps "$here/app" "$prefix.new"  # not ownership: root installs own their files
cp "$here/uninstall.sh" "$prefix.new/uninstall.sh"
rm -rf "$prefix.old"
if [ -e "$prefix" ]; then mv "$prefix" "$prefix.old"; fi
mv "$prefix.new" "$prefix"
rm -rf "$prefix.old"

installed=()
put() {  # put SOURCE DEST: copy one file into place and remember it for uninstall.sh
  mkdir -p "$(dirname "$2")"
  cp "$1" "$2"
  installed+=("$2")
}
put "$here/share/glassbox.svg" "$data/icons/hicolor/scalable/apps/glassbox.svg"
put "$here/share/glassbox.svg" "$data/icons/hicolor/scalable/mimetypes/application-x-keras.svg"
put "$here/share/glassbox-mime.xml" "$data/mime/packages/glassbox.xml"

# Exec quotes the path only when it must (the desktop spec's reserved characters): the generic
# xdg-open of desktops without GIO or KDE reads the first word of Exec as it stands, quotes included.
exec_path="$prefix/glassbox"
case "$exec_path" in *[^A-Za-z0-9/._+,:=@-]*) exec_path="\"$exec_path\"" ;; esac
entry="$data/applications/glassbox.desktop"
mkdir -p "$(dirname "$entry")"
cat > "$entry.tmp" <<ENTRY
[Desktop Entry]
Type=Application
Version=1.4
Name=Glassbox
GenericName=Model explainer
Comment=Explain Keras models case by case, offline
Exec=$exec_path %f
TryExec=$prefix/glassbox
Icon=glassbox
Terminal=false
Categories=Science;DataVisualization;
MimeType=application/x-keras;application/x-hdf;application/x-hdf5;
Keywords=Keras;TensorFlow;explainability;attribution;
ENTRY
mv "$entry.tmp" "$entry"
installed+=("$entry")

mkdir -p "$bin"
ln -sfn "$prefix/glassbox" "$bin/glassbox"
installed+=("$bin/glassbox")
printf '%s\n' "$mode" "$data" "${installed[@]}" > "$prefix/installed-files.txt"

# Tell the desktop: new MIME types, the entry's types, the icon. Each tool is optional.
if command -v update-mime-database >/dev/null; then update-mime-database "$data/mime"; fi
if command -v update-desktop-database >/dev/null; then update-desktop-database -q "$data/applications"; fi
if command -v gtk-update-icon-cache >/dev/null; then gtk-update-icon-cache -q -t "$data/icons/hicolor" || true; fi
if [ "$mode" = user ]; then
  if command -v xdg-mime >/dev/null; then
    xdg-mime default glassbox.desktop application/x-keras application/x-hdf application/x-hdf5
  else
    echo "note: xdg-mime (xdg-utils) not found: pick Glassbox once in 'Open with' for .keras and .h5 files"
  fi
fi

echo "Glassbox installed in $prefix"
echo "  menu entry $entry; .keras and .h5 files open with it"
echo "  command    $bin/glassbox (glassbox --help)"
echo "  remove     $prefix/uninstall.sh"
case ":$PATH:" in *":$bin:"*) ;; *) echo "  note: $bin is not on your PATH" ;; esac
