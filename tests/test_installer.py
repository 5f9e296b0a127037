"""The desktop entry points at this checkout's launcher and icon, so a double-click starts the app."""

from __future__ import annotations

import configparser
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_desktop_entry_runs_this_checkouts_launcher(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    subprocess.run(["bash", str(ROOT / "installer/install-desktop-entry.sh")], env=env, check=True,
                   capture_output=True)
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(tmp_path / "applications/glassbox.desktop")
    desktop = entry["Desktop Entry"]
    assert desktop["Exec"] == f'bash "{ROOT}/installer/run.sh" %f'
    assert Path(desktop["Icon"]).is_file()
    assert (ROOT / "installer/run.sh").is_file()
    assert not list((tmp_path / "applications").glob(".glassbox*")), "temporary file left behind"
