"""Nothing opens a network connection while models are loaded, described and inspected."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main
from engine.jobs import JobContext
from engine.models import load_model, open_model_task
from engine.workspace import Workspace
from tests.engine.test_models import small_cnn

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo" / "digits_cnn.keras"

# Installs the same guard before anything is imported (TensorFlow's import included).
GUARD = """
import socket
attempts = []
def refuse(*args, **kwargs):
    attempts.append(repr(args)[:200])
    raise OSError("network access is forbidden in this test")
for owner, name in [(socket.socket, "connect"), (socket.socket, "connect_ex"),
                    (socket, "create_connection"), (socket, "getaddrinfo")]:
    setattr(owner, name, refuse)
"""


@pytest.fixture
def attempts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every connection or name lookup fails and is recorded."""
    seen: list[str] = []

    def refuse(*args: object, **kwargs: object) -> None:
        seen.append(repr(args)[:200])
        raise OSError("network access is forbidden in this test")

    for owner, name in [(socket.socket, "connect"), (socket.socket, "connect_ex"),
                        (socket, "create_connection"), (socket, "getaddrinfo")]:
        monkeypatch.setattr(owner, name, refuse)
    return seen


def test_guard_catches_a_connection(attempts: list[str]) -> None:
    with pytest.raises(OSError):
        socket.create_connection(("example.org", 80), timeout=1)
    assert len(attempts) == 1


def test_load_describe_and_inspect_stay_offline(
    attempts: list[str], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    model = small_cnn()
    model.save(tmp_path / "m.h5")
    model.export(tmp_path / "saved", verbose=False)
    workspace = Workspace()
    desc = open_model_task(JobContext(workspace), str(DEMO))
    assert desc.n_layers == 7 and workspace.model is not None
    assert load_model(tmp_path / "m.h5")[1].format == "h5"
    assert load_model(tmp_path / "saved")[1].format == "savedmodel"
    assert main(["inspect", str(DEMO), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sha256"] == desc.sha256
    assert attempts == []


@pytest.mark.timeout(120)
def test_fresh_process_never_connects() -> None:
    """From interpreter start: TensorFlow/Keras import, load, describe, inspect."""
    script = GUARD + f"""
import contextlib, io, json, sys
sys.path.insert(0, {str(ROOT)!r})
from engine.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    rc = main(["inspect", {str(DEMO)!r}])
print(json.dumps({{"rc": rc, "attempts": attempts}}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"rc": 0, "attempts": []}
