#!/usr/bin/env bash
# Build the self-contained Glassbox bundle for this platform (Linux x86_64 here):
#   dist/glassbox-VERSION-linux-x86_64.tar.gz and its .sha256
# The archive holds Python, TensorFlow, PySide6 (offscreen and xcb platform plugins), the app, its
# resources and the demo, plus install.sh: a machine with no network and no Python installs it.
# The build itself needs PyPI once, for its own venv (build/venv, from pyproject.toml's
# dependencies plus the `bundle` extra; GPU=1 adds the `gpu` extra, TensorFlow's CUDA libraries).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
venv=build/venv
extras=bundle
[ "${GPU:-0}" = 1 ] && extras=bundle,gpu
start=$(date +%s)

if [ ! -x "$venv/bin/python" ]; then
  "$PY" -m venv "$venv"
fi
stamp="$venv/.glassbox-build-$extras"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  "$venv/bin/python" - "$extras" > build/requirements.txt <<'PYTHON'
import sys, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
wanted = project["dependencies"] + [r for extra in sys.argv[1].split(",") for r in project["optional-dependencies"][extra]]
print("\n".join(wanted))
PYTHON
  "$venv/bin/python" -m pip install --quiet -r build/requirements.txt
  touch "$stamp"
fi

version=$("$venv/bin/python" -c 'import ast, sys; m = ast.parse(open("engine/__init__.py").read()); print(next(n.value.value for n in m.body if isinstance(n, ast.Assign) and n.targets[0].id == "__version__"))')
machine=$(uname -m)
name="glassbox-$version-linux-$machine"
[ "${GPU:-0}" = 1 ] && name="$name-gpu"

frozen_at=$(date +%s)
rm -rf build/pyinstaller "dist/glassbox" "dist/$name" "dist/$name.tar.gz"*
"$venv/bin/python" -m PyInstaller --noconfirm --log-level WARN \
  --distpath dist --workpath build/pyinstaller installer/glassbox.spec

# The bundle: the frozen app in app/, and what installs it beside.
mkdir -p "dist/$name"
mv dist/glassbox "dist/$name/app"
cp installer/bundle/install.sh installer/bundle/uninstall.sh installer/bundle/README.txt "dist/$name/"
mkdir -p "dist/$name/share"
cp resources/icons/glassbox.svg installer/bundle/glassbox-mime.xml "dist/$name/share/"
chmod +x "dist/$name/install.sh" "dist/$name/uninstall.sh"

packed_at=$(date +%s)
gz=gzip
if command -v pigz >/dev/null; then gz=pigz; fi  # the same format, on every core
tar -C dist -cf - "$name" | "$gz" > "dist/$name.tar.gz.tmp"
mv "dist/$name.tar.gz.tmp" "dist/$name.tar.gz"
(cd dist && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")
end=$(date +%s)
echo "built dist/$name.tar.gz ($(du -h "dist/$name.tar.gz" | cut -f1)) in $((end - start)) s:" \
  "venv $((frozen_at - start)) s, freeze $((packed_at - frozen_at)) s, pack $((end - packed_at)) s"
