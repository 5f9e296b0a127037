"""A training run written by hand, with known answers, for engine and GUI tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.fileio import atomic_write_json
from engine.training.run import FORMAT, RECORD, write_array


def write_run(root: Path, predicted: np.ndarray, p_label: np.ndarray, p_other: np.ndarray, labels: np.ndarray,
              complete: bool = True) -> Path:
    """(E, N) predictions and probabilities as the recorder would store them; no checkpoints."""
    entries = []
    for e in range(len(predicted)):
        record = np.zeros(predicted.shape[1], RECORD)
        record["predicted"], record["p_label"], record["p_other"] = predicted[e], p_label[e], p_other[e]
        write_array(root / f"epochs/{e + 1:04d}.npy", record)
        entries.append({"epoch": e + 1, "file": f"epochs/{e + 1:04d}.npy", "scalars": {"loss": float(e)}})
    write_array(root / "labels.npy", labels)
    write_array(root / "case_index.npy", np.arange(len(labels)))
    atomic_write_json(root / "manifest.json", {
        "format": FORMAT, "n_cases": len(labels), "labels": "labels.npy", "case_index": "case_index.npy",
        "epochs": entries, "checkpoints": [], "dataset_sha256": "toy", "complete": complete,
    })
    return root
