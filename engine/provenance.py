"""Hashes and the provenance record behind every result.

An auditor must be able to check, later and elsewhere, which model file, which input bytes,
which method with which parameters and seed, and which library versions produced a number.
This module is numpy-only (no TensorFlow) so that any part of the engine can use it cheaply.
"""

from __future__ import annotations

import functools

import datetime as _dt
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

_CHUNK = 1 << 20
MAX_LISTED = 64


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes, read in chunks (model files can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_tree(folder: str | os.PathLike[str]) -> str:
    """Hex sha256 of a folder (e.g. a SavedModel): every file's relative name and bytes.

    Files are visited in sorted order of their POSIX relative path, so the hash does not
    depend on the file system's listing order or the platform's path separator.
    """
    root = Path(folder)
    digest = hashlib.sha256()
    files = sorted((p for p in root.rglob("*") if p.is_file()), key=lambda p: p.relative_to(root).as_posix())
    for file in files:
        name = file.relative_to(root).as_posix().encode("utf-8")
        digest.update(len(name).to_bytes(8, "little"))
        digest.update(name)
        digest.update(bytes.fromhex(sha256_file(file)))
    return digest.hexdigest()


def sha256_path(path: str | os.PathLike[str]) -> str:
    """sha256 of a model path: the file's bytes, or the folder's tree hash."""
    return sha256_tree(path) if Path(path).is_dir() else sha256_file(path)


def sha256_array(x: Any) -> str:
    """Hex sha256 of an array's dtype, shape and C-ordered bytes.

    Dtype and shape are part of the hash so that the same bytes read as a different array
    (float32 (2, 8) vs (4, 4)) never collide.
    """
    array = np.ascontiguousarray(np.asarray(x))
    digest = hashlib.sha256()
    digest.update(array.dtype.str.encode("ascii"))
    digest.update(repr(tuple(int(d) for d in array.shape)).encode("ascii"))
    digest.update(array.tobytes())
    return digest.hexdigest()


def plain(value: Any) -> Any:
    """A JSON-serialisable copy of `value`: numpy scalars/arrays, tuples, paths made plain.

    Arrays of more than MAX_LISTED values are recorded by shape, dtype and sha256.
    """
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [plain(v) for v in items]
    if isinstance(value, np.ndarray):
        if value.size > MAX_LISTED:  # e.g. a baseline image: identified, not copied
            return {"shape": list(value.shape), "dtype": str(value.dtype), "sha256": sha256_array(value)}
        return plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def record(
    model_sha256: str | None,
    x: Any,
    method: str,
    params: Mapping[str, Any],
    seed: int | None,
) -> dict[str, Any]:
    """The provenance dict attached to a result (JSON-serialisable).

    `x` is the exact model input (hashed, not stored); `params` should hold every parameter
    value used, defaults included, so that the record alone reproduces the result.
    """
    return {
        "model_sha256": model_sha256,
        "input_sha256": sha256_array(x),
        "input_shape": [int(d) for d in np.shape(x)],
        "input_dtype": str(np.asarray(x).dtype),
        "method": method,
        "params": plain(dict(params)),
        "seed": None if seed is None else int(seed),
        "versions": versions(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


@functools.lru_cache(maxsize=1)
def _glassbox_version() -> str:
    """Read once: the package metadata lookup costs ~1 ms, and every result's record asks for it."""
    from importlib import metadata

    try:
        return metadata.version("glassbox")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def versions() -> dict[str, str]:
    """Versions of the libraries that shape results: part of every provenance record.

    Reads the versions of modules already imported (or importable) without importing
    TensorFlow at this module's import time, so the GUI may use this module.
    """
    import importlib
    import platform

    found = {"python": platform.python_version(), "numpy": np.__version__, "glassbox": _glassbox_version()}
    for name in ("tensorflow", "keras", "sklearn", "skimage"):
        try:
            found[name] = getattr(importlib.import_module(name), "__version__", "?")
        except ImportError:
            continue
    return found
