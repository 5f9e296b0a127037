"""Atomic writes under a real SIGKILL, and the cache folder.

The kill test runs a writer process that SIGKILLs itself at the k-th C call made while it
replaces version 1 of a file by version 2, for every k: wherever the kill lands (opening,
writing, flushing, fsyncing, renaming), the file is exactly version 1 or exactly version 2.
A write in place (truncate, then write) leaves it empty or half-written at the kill that lands
on its write call, so this test fails for it; no monkeypatching is involved.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine import fileio
from engine.fileio import atomic_write_bytes, atomic_write_json, cache_dir

ROOT = Path(__file__).resolve().parents[2]

# Writes v1, then v2 with a profile hook that SIGKILLs the process at the k-th C call
# (k < 0: count the calls and print the count).
WRITER = """
import os, signal, sys
sys.path.insert(0, sys.argv[1])
from engine.fileio import atomic_write_bytes
path, k = sys.argv[2], int(sys.argv[3])
v1, v2 = b"1" * 3_000_000, b"2" * 5_000_000
atomic_write_bytes(path, v1)
calls = 0
def hook(frame, event, arg):
    global calls
    if event == "c_call":
        if calls == k:
            os.kill(os.getpid(), signal.SIGKILL)
        calls += 1
sys.setprofile(hook)
atomic_write_bytes(path, v2)
sys.setprofile(None)
print(calls)
"""


def _writer(path: Path, k: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-I", "-c", WRITER, str(ROOT), str(path), str(k)],
                          capture_output=True, text=True, timeout=60, check=False)


def test_sigkill_at_every_step_of_a_write_leaves_the_old_or_the_new_file(tmp_path: Path) -> None:
    path = tmp_path / "state.bin"
    counted = _writer(path, -1)
    assert counted.returncode == 0, counted.stderr
    n_calls = int(counted.stdout)
    assert n_calls >= 5  # open, write, flush, fsync, replace at least
    outcomes = set()
    for k in range(n_calls):
        done = _writer(path, k)
        assert done.returncode == -signal.SIGKILL, (k, done.stderr)
        data = path.read_bytes()
        assert data in (b"1" * 3_000_000, b"2" * 5_000_000), f"kill at C call {k}: {len(data)} bytes"
        outcomes.add(data[:1])
        for leftover in tmp_path.iterdir():  # a killed writer may leave its temp file, never another name
            assert leftover == path or (leftover.name.startswith(".state.bin.") and leftover.suffix == ".tmp")
    assert outcomes == {b"1", b"2"}  # kills landed both before and after the rename


def test_write_creates_missing_folders_and_replaces_the_content(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "c.json"
    atomic_write_json(target, {"b": 1, "a": [1, 2]})
    assert json.loads(target.read_text()) == {"a": [1, 2], "b": 1}
    assert target.read_text().endswith("}\n")
    atomic_write_bytes(target, b"short")
    assert target.read_bytes() == b"short"
    assert sorted(p.name for p in target.parent.iterdir()) == ["c.json"]


def test_interrupt_after_the_rename_propagates_and_leaves_the_new_file(tmp_path: Path, monkeypatch) -> None:
    """The clean-up of the temp file must not turn a KeyboardInterrupt into a FileNotFoundError."""
    real_replace = os.replace

    def replace_then_interrupt(src, dst):  # noqa: ANN001, ANN202
        real_replace(src, dst)
        raise KeyboardInterrupt

    target = tmp_path / "x.txt"
    monkeypatch.setattr(os, "replace", replace_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        fileio.atomic_write_text(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]


def test_cache_dir_is_the_override_or_the_platform_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("GLASSBOX_CACHE_DIR", str(tmp_path))
    assert cache_dir("explanations") == tmp_path / "explanations"
    monkeypatch.delenv("GLASSBOX_CACHE_DIR")
    import platformdirs

    assert cache_dir("explanations") == Path(platformdirs.user_cache_dir("glassbox", "glassbox")) / "explanations"
