"""Tell model formats apart by extension and magic bytes, before TensorFlow is imported.

Importing TensorFlow takes 7-10 s; a user who opens a .tflite, .onnx or Core ML file should
hear at once that it is not a format this app opens, not after that wait. Pure Python (no
numpy, no TensorFlow), so the GUI thread and the CLI may call it before anything heavy.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from engine.errors import NotSupportedError

OPENED = "open a .keras, .h5 or SavedModel folder instead"
# extension -> what it is (formats this app does not open)
BY_EXTENSION = {
    ".tflite": "a TensorFlow Lite model",
    ".lite": "a TensorFlow Lite model",
    ".onnx": "an ONNX model",
    ".ort": "an ONNX Runtime model",
    ".mlmodel": "a Core ML model",
    ".mlpackage": "a Core ML package",
    ".mlmodelc": "a compiled Core ML model",
    ".pt": "a PyTorch model",
    ".pth": "a PyTorch model",
    ".ptl": "a PyTorch Lite model",
    ".safetensors": "a safetensors weights file",
    ".gguf": "a GGUF (llama.cpp) model",
    ".pkl": "a Python pickle",
    ".pickle": "a Python pickle",
    ".joblib": "a joblib pickle",
    ".engine": "a TensorRT engine",
    ".plan": "a TensorRT engine",
    ".caffemodel": "a Caffe model",
    ".prototxt": "a Caffe network description",
    ".xml": "an OpenVINO model description",
    ".msgpack": "a Flax checkpoint",
    ".ckpt": "a training checkpoint (weights without the model)",
    ".index": "a TensorFlow checkpoint index (weights without the model)",
    ".npz": "a NumPy archive (cases or weights, not a model)",
    ".npy": "a NumPy array",
    ".pb": "a frozen TensorFlow graph (not a SavedModel folder)",
    ".weights.h5": "a Keras weights file (weights without the model)",
}
# (offset, bytes) -> what it is, for files whose extension says nothing or lies
MAGIC = (
    (4, b"TFL3", "a TensorFlow Lite model"),
    (0, b"GGUF", "a GGUF (llama.cpp) model"),
    (0, b"\x80\x02", "a Python pickle"),
    (0, b"\x80\x04", "a Python pickle"),
    (0, b"\x93NUMPY", "a NumPy array"),
)
ZIP_MAGIC = b"PK\x03\x04"


def unsupported_reason(path: str | os.PathLike[str]) -> str | None:
    """A one-line reason if `path` is a model format this app does not open, else None.

    None also for paths that do not exist or cannot be read: the loader words those.
    """
    p = Path(path)
    if p.name in ("saved_model.pb", "saved_model.pbtxt"):
        return f"Cannot open {os.fspath(path)}: it is a SavedModel's graph file; open the folder that holds it."
    what = _by_name(p)
    if what is None and p.is_dir():
        if (p / "Manifest.json").is_file() and (p / "Data").is_dir():
            what = "a Core ML package"
        elif (p / "model.json").is_file() and not any((p / n).exists() for n in ("saved_model.pb", "saved_model.pbtxt")):
            what = "a TensorFlow.js model"
    if what is None and p.is_file():
        what = _by_content(p)
    if what is None:
        return None
    return f"Cannot open {os.fspath(path)}: it is {what}, which this app does not open; {OPENED}."


def check(path: str | os.PathLike[str]) -> None:
    """NotSupportedError for a format this app does not open (see `unsupported_reason`)."""
    reason = unsupported_reason(path)
    if reason is not None:
        raise NotSupportedError(reason)


def _by_name(p: Path) -> str | None:
    name = p.name.lower()
    for suffix, what in sorted(BY_EXTENSION.items(), key=lambda item: -len(item[0])):
        if name.endswith(suffix):
            return what
    return None


def _by_content(p: Path) -> str | None:
    try:
        with open(p, "rb") as handle:
            head = handle.read(16)
    except OSError:
        return None
    for offset, magic, what in MAGIC:
        if head[offset: offset + len(magic)] == magic:
            return what
    if head.startswith(ZIP_MAGIC):
        try:
            with zipfile.ZipFile(p) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError, ValueError):
            return None
        if any(n.endswith("data.pkl") for n in names) and "config.json" not in names:
            return "a PyTorch model"
    return None


def open_model_task(ctx: object, path: str, trust: bool = False) -> object:
    """The engine's open-model task, refusing foreign formats before TensorFlow is imported."""
    check(path)
    from engine.models import open_model_task as load_and_open

    return load_and_open(ctx, path, trust=trust)
