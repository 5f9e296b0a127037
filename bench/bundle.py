"""The offline bundle's size, and its time to window next to the venv app's.

Unpacks the archive that installer/build.sh made into a temporary folder, then starts the frozen
app and the venv app alternately with --startup-check (offscreen Qt) and prints, side by side,
min / median / max of the wall-clock time from spawning the process to the app's marker lines
("window shown", "views built", "engine ready"; bench/startup.py's `one_run` reads them): the
frozen app's figures include its bootloader and a Python that starts from _internal/.

    bash installer/build.sh && .venv/bin/python bench/bundle.py [-n 5] [--archive dist/glassbox-...tar.gz]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from startup import ROOT, one_run  # noqa: E402

MB = 1024 * 1024


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5, help="starts of each app (default 5)")
    parser.add_argument("--archive", type=Path, help="default: the newest dist/glassbox-*.tar.gz")
    args = parser.parse_args()
    archive = args.archive or max((ROOT / "dist").glob("glassbox-*.tar.gz"), key=lambda p: p.stat().st_mtime)
    with tempfile.TemporaryDirectory() as scratch:
        t0 = time.perf_counter()
        subprocess.run(["tar", "-xzf", str(archive), "-C", scratch], check=True)
        unpack_s = time.perf_counter() - t0
        (bundle,) = Path(scratch).iterdir()
        print(f"archive   {archive.name}: {archive.stat().st_size / MB:.0f} MiB")
        print(f"unpacked  {folder_size(bundle) / MB:.0f} MiB in {sum(1 for _ in bundle.rglob('*'))} files "
              f"(tar -xzf took {unpack_s:.1f} s)")
        apps = {"venv": None, "bundle": [str(bundle / "app" / "glassbox")]}
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in apps}
        with tempfile.TemporaryDirectory() as config_dir:
            for i in range(args.n):
                for name, app in apps.items():  # alternate, so both see the same machine load
                    runs[name].append(one_run(config_dir, app))
                    print(f"run {i + 1} {name:6s}: " + ", ".join(f"{k} {v:.3f} s" for k, v in runs[name][-1].items()),
                          flush=True)
    print(f"\nwall clock from spawn (n={args.n} each, alternating, load {os.getloadavg()[0]:.1f}); "
          "min / median / max in s")
    print(f"{'':28s}" + "".join(f"{name:>24s}" for name in apps))
    for figure in ("window (parent clock)", "views built (parent clock)", "engine ready (parent clock)"):
        cells = []
        for name in apps:
            values = [run[figure] for run in runs[name] if figure in run]
            cells.append(f"{min(values):6.2f} {statistics.median(values):6.2f} {max(values):6.2f}" if values else "-")
        print(f"{figure.replace(' (parent clock)', ''):28s}" + "".join(f"{cell:>24s}" for cell in cells))


if __name__ == "__main__":
    main()
