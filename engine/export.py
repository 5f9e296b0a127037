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
from engine.provenance import plain

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
        "params": {k: plain(v) for k, v in dict(explanation.params).items()},
        "seed": plain(explanation.seed),
        "targets": plain(explanation.targets),
        "elapsed_s": float(explanation.elapsed),
        "completeness_gap": plain(getattr(explanation, "completeness_gap", None)),
        "warnings": list(getattr(explanation, "warnings", ())),
        "provenance": {k: plain(v) for k, v in dict(explanation.provenance or {}).items()},
        "files_sha256": files,
        **(extra or {}),
    }


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()
