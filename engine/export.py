"""Export of attribution results: raw maps as .npy plus a provenance JSON an auditor can check.

Numpy-only (the GUI calls it directly); every file is written atomically, and the JSON records
the sha256 of each .npy written next to it so a later reader can tell the files were not altered.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import numpy as np

from engine.fileio import atomic_write_bytes, atomic_write_json

ARRAY_FIELDS = ("maps", "heatmap", "segments", "targets")


def export_explanation(stem: str | Path, explanation: Any, extra: dict[str, Any] | None = None) -> list[Path]:
    """Write ``<stem>_maps.npy`` (and heatmap/segments/targets when present) and ``<stem>.json``.

    Returns the paths written, the JSON last.
    """
    stem = Path(stem)
    written: list[Path] = []
    checksums: dict[str, str] = {}
    for name in ARRAY_FIELDS:
        array = getattr(explanation, name, None)
        if array is None:
            continue
        data = npy_bytes(np.asarray(array))
        path = atomic_write_bytes(stem.with_name(f"{stem.name}_{name}.npy"), data)
        checksums[path.name] = hashlib.sha256(data).hexdigest()
        written.append(path)
    record = provenance_record(explanation, checksums, extra)
    written.append(atomic_write_json(stem.with_name(f"{stem.name}.json"), record))
    return written


def provenance_record(explanation: Any, files: dict[str, str], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything needed to reproduce or verify one result, as JSON-ready data."""
    return {
        "method": explanation.method,
        "params": {k: _plain(v) for k, v in dict(explanation.params).items()},
        "seed": _plain(explanation.seed),
        "targets": _plain(explanation.targets),
        "elapsed_s": float(explanation.elapsed),
        "completeness_gap": _plain(getattr(explanation, "completeness_gap", None)),
        "provenance": {k: _plain(v) for k, v in dict(explanation.provenance or {}).items()},
        "files_sha256": files,
        **(extra or {}),
    }


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _plain(value: Any) -> Any:
    """JSON-ready version of a parameter; big arrays are summarised by shape and hash.

    (engine.provenance has a similar helper, but it imports engine.runtime, which the GUI may not.)
    """
    if isinstance(value, np.ndarray):
        if value.size <= 64:
            return value.tolist()
        digest = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
        return {"shape": list(value.shape), "dtype": str(value.dtype), "sha256": digest}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
