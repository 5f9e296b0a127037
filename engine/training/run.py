"""The on-disk layout of a recorded training run, and reading it back (numpy + JSON only).

    run_dir/
      manifest.json              what is there: cases, classes, dataset hash, epochs, checkpoints
      labels.npy                 int64 (N,) the labels the model was trained on
      case_index.npy             int64 (N,) where each training case sits in the user's dataset
      epochs/0001.npy            one structured record per case: 16 bytes (see RECORD)
      checkpoints/0004.weights.npz      the model's weights (get_weights order), for influence
      checkpoints/0004.features.npz     last layer's input h (N, D) and probabilities (N, C), float16

Every file is written atomically and the manifest last, so a reader (the GUI, while `fit()` still
runs) only ever sees epochs and checkpoints that are complete.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import BadInputError
from engine.fileio import atomic_write_bytes

FORMAT = "glassbox-training-run"
VERSION = 1
MANIFEST = "manifest.json"
# 16 bytes per case per epoch. Correctness is `predicted == label`; the margin is p_label - p_other.
RECORD = np.dtype([("loss", "<f4"), ("p_label", "<f4"), ("p_other", "<f4"), ("predicted", "<i4")])


def write_array(path: Path, array: np.ndarray) -> None:
    """np.save, atomically (a reader never sees half an array)."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    atomic_write_bytes(path, buffer.getvalue())


def write_npz(path: Path, compress: bool = True, **arrays: np.ndarray) -> None:
    """np.savez(_compressed), atomically. The recorder skips compression: it costs more time per
    checkpoint than the epoch's predictions, for a third off the size."""
    buffer = io.BytesIO()
    (np.savez_compressed if compress else np.savez)(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


@dataclass(frozen=True)
class Checkpoint:
    epoch: int
    learning_rate: float
    weights: Path
    features: Path


@dataclass(frozen=True)
class Run:
    """A run as read from disk: per-epoch records stacked as (E, N) columns, scalars per epoch."""

    path: Path
    manifest: dict[str, Any]
    labels: np.ndarray  # int64 (N,)
    case_index: np.ndarray  # int64 (N,)
    epochs: np.ndarray  # int64 (E,)
    records: np.ndarray  # RECORD (E, N)
    scalars: dict[str, np.ndarray]  # name -> float64 (E,), NaN where an epoch lacks it
    checkpoints: tuple[Checkpoint, ...]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def correct(self) -> np.ndarray:
        """bool (E, N): was the case classified as its label at each epoch?"""
        return self.records["predicted"] == self.labels[None, :]


def read_manifest(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(run_dir) / MANIFEST
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise BadInputError(f"{Path(run_dir).name}: not a training run (no {MANIFEST}).") from None
    except (OSError, ValueError) as exc:
        raise BadInputError(f"{Path(run_dir).name}: unreadable {MANIFEST} ({exc}).") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BadInputError(f"{Path(run_dir).name}: {MANIFEST} is not a Glassbox training run.")
    return manifest


def read_run(run_dir: str | os.PathLike[str]) -> Run:
    """Read what the manifest lists; safe while the recorder is still writing."""
    root = Path(run_dir)
    manifest = read_manifest(root)
    n = int(manifest["n_cases"])
    labels = _load(root / manifest["labels"], n)
    case_index = _load(root / manifest["case_index"], n)
    entries = manifest.get("epochs", [])
    records = np.stack([_load(root / e["file"], n) for e in entries]) if entries else np.zeros((0, n), RECORD)
    if records.dtype != RECORD:
        raise BadInputError(f"{root.name}: epoch records have dtype {records.dtype}, expected {RECORD}.")
    names = sorted({k for e in entries for k in e.get("scalars", {})})
    scalars = {k: np.array([float(e["scalars"].get(k, np.nan)) for e in entries]) for k in names}
    checkpoints = tuple(
        Checkpoint(int(c["epoch"]), float(c["learning_rate"]), root / c["weights"], root / c["features"])
        for c in manifest.get("checkpoints", [])
    )
    epochs = np.array([int(e["epoch"]) for e in entries], dtype=np.int64)
    return Run(root, manifest, labels.astype(np.int64), case_index.astype(np.int64), epochs, records, scalars, checkpoints)


def _load(path: Path, n: int) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise BadInputError(f"{path.parent.name}/{path.name}: unreadable ({exc}).") from exc
    if array.shape[:1] != (n,):
        raise BadInputError(f"{path.name}: {array.shape[0] if array.ndim else 0} cases, the manifest says {n}.")
    return array


def read_features(checkpoint: Checkpoint) -> tuple[np.ndarray, np.ndarray]:
    """(h, probabilities) of every training case at that checkpoint, as float32."""
    with np.load(checkpoint.features, allow_pickle=False) as data:
        return data["h"].astype(np.float32), data["probabilities"].astype(np.float32)


def apply_weights(model: Any, checkpoint: Checkpoint) -> None:
    """Set a checkpoint's weights on `model` (same architecture); a mismatch is a BadInputError."""
    with np.load(checkpoint.weights, allow_pickle=False) as data:
        weights = [data[f"w{i}"] for i in range(len(data.files))]
    try:
        model.set_weights(weights)
    except ValueError as exc:
        raise BadInputError(f"The open model does not fit the run's checkpoints ({exc}).") from exc
