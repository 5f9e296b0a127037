"""`main.py inspect MODEL [--json] [--trust]`: a readable table or JSON; one-line errors, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main
from engine.models import load_model
from tests.engine.test_models import lambda_model, nested_model

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo" / "digits_cnn.keras"


@pytest.fixture(scope="module")
def nested_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "nested.keras"
    nested_model().save(path)
    return path


@pytest.fixture(scope="module")
def lambda_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "lam.keras"
    lambda_model().save(path)
    return path


def test_human_output_has_header_and_indented_tree(nested_file: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["inspect", str(nested_file)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    desc = load_model(nested_file)[1]
    lines = out.splitlines()
    assert lines[0] == f"File     {nested_file}"
    assert f"SHA-256  {desc.sha256}" in lines
    assert "Input    x (None, 8, 8, 1) float32" in lines
    assert "Output   prob (None, 2) float32  [sigmoid]" in lines
    assert f"Params   {desc.total_params:,} ({desc.trainable_params:,} trainable, 0 non-trainable)" in lines
    table = lines[lines.index("") + 1:]
    assert table[0].split() == ["Layer", "Type", "Output", "shape", "Params", "Trainable", "Activation", "Inbound"]
    names = [row.split()[0] for row in table[1:]]
    assert names == ["features", "c1", "r1", "gap", "mid", "block", "a", "flat", "join", "logits", "prob"]
    indents = {row.split()[0]: len(row) - len(row.lstrip()) for row in table[1:]}
    assert (indents["mid"], indents["block"], indents["a"], indents["flat"]) == (0, 2, 4, 2)
    join = next(row for row in table if row.startswith("join "))
    assert join.rstrip().endswith("gap, mid") and " (None, 130) " in join


def test_json_output_is_the_description(nested_file: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["inspect", str(nested_file), "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert json.loads(out) == json.loads(json.dumps(load_model(nested_file)[1].to_dict()))


def test_missing_file_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["inspect", str(tmp_path / "gone.keras")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith("error: Cannot open ") and "gone.keras: no such file" in err


def test_unsafe_needs_trust(lambda_file: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["inspect", str(lambda_file)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "Lambda layer" in err and "--trust" in err
    assert main(["inspect", str(lambda_file), "--trust", "--json"]) == 0
    layers = json.loads(capsys.readouterr().out)["layers"]
    assert [layer["class_name"] for layer in layers] == ["Lambda", "Dense"]


def test_usage_error_exits_2(capsys: pytest.CaptureFixture) -> None:
    assert main(["inspect"]) == 2
    assert "usage:" in capsys.readouterr().err


@pytest.mark.timeout(120)
def test_main_py_subprocess_exit_codes_and_clean_stderr(tmp_path: Path) -> None:
    """The real entry point: TensorFlow's start-up chatter must not reach stderr."""
    broken = tmp_path / "broken.h5"
    broken.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "inspect", str(broken)],
        capture_output=True, text=True, timeout=110, cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"error: Cannot open {broken}: ")
