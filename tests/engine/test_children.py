"""The frozen bundle re-enters itself for its helper processes (`glassbox --glassbox-child
engine.h5probe FILE`): main.py routes that to the listed child modules only; and `--version`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

import main
from engine import child, h5probe

ROOT = Path(__file__).resolve().parents[2]


def test_frozen_child_command_re_enters_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert child.command("engine.h5probe", ["m.h5"]) == [sys.executable, child.CHILD_FLAG, "engine.h5probe", "m.h5"]


def test_hidden_entry_runs_the_probe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.h5"
    with h5py.File(good, "w") as handle:
        handle["x"] = np.arange(6.0)
        handle.attrs["note"] = "ok"
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(64))
    assert main.main([child.CHILD_FLAG, "engine.h5probe", str(good)]) == 0
    assert main.main([child.CHILD_FLAG, "engine.h5probe", str(bad)]) == h5probe.UNREADABLE
    assert capsys.readouterr().out.strip(), "the unreadable file's reason is printed"


def test_hidden_entry_refuses_other_modules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main([child.CHILD_FLAG, "os", "x"]) == 2
    assert "not a child module: os" in capsys.readouterr().out


def test_version_lists_app_python_and_libraries() -> None:
    done = subprocess.run([sys.executable, "main.py", "--version"], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    lines = done.stdout.splitlines()
    import engine
    import tensorflow as tf

    assert lines[0] == f"glassbox {engine.__version__} (source)"
    assert lines[1].startswith(f"python {sys.version.split()[0]} ")
    assert f"tensorflow {tf.__version__}" in lines
    assert not any(line.endswith(" missing") for line in lines)
