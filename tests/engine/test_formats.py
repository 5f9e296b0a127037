"""Foreign model formats are told apart by extension and magic bytes before TensorFlow loads."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from engine import formats
from engine.errors import NotSupportedError

ROOT = Path(__file__).resolve().parents[2]


def foreign_files(folder: Path) -> dict[str, Path]:
    tflite = folder / "model.tflite"
    tflite.write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(32))
    onnx = folder / "model.onnx"
    onnx.write_bytes(b"\x08\x07\x12\x07pytorch" + bytes(16))
    package = folder / "model.mlpackage"
    (package / "Data").mkdir(parents=True)
    (package / "Manifest.json").write_text("{}")
    disguised = folder / "renamed.keras"  # a TFLite flatbuffer under a Keras name
    disguised.write_bytes(tflite.read_bytes())
    torch = folder / "weights.bin"
    with zipfile.ZipFile(torch, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02.")
    return {"TensorFlow Lite": tflite, "ONNX": onnx, "Core ML package": package,
            "TensorFlow Lite ": disguised, "PyTorch": torch}


def test_each_foreign_format_is_named(tmp_path: Path) -> None:
    for what, path in foreign_files(tmp_path).items():
        with pytest.raises(NotSupportedError, match=what.strip()):
            formats.check(path)
    keras_zip = tmp_path / "model.keras"
    with zipfile.ZipFile(keras_zip, "w") as archive:
        archive.writestr("config.json", "{}")
    assert formats.unsupported_reason(keras_zip) is None  # ours: left to the loader
    assert formats.unsupported_reason(tmp_path / "missing.h5") is None
    assert "open the folder" in formats.unsupported_reason(tmp_path / "saved_model.pb")


def test_cli_refuses_them_without_importing_tensorflow(tmp_path: Path) -> None:
    files = foreign_files(tmp_path)
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); from engine import cli; "
        "codes = [cli.main(['inspect', p]) for p in sys.argv[2:]]; "
        "print(codes, 'tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-I", "-c", script, str(ROOT), *map(str, files.values())],
                         capture_output=True, text=True, timeout=120)
    assert run.stdout.strip() == f"{[2] * len(files)} False False", run.stderr
    lines = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == len(files) and all("which this app does not open" in line for line in lines)
