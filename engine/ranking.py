"""The order of a case's classes, most probable first: one rule for every top-k list.

numpy-only (the GUI imports it): the case view's own pass (engine.explain_service) and the
canvas's top-5 read from the stored predictions rank the same way, ties broken by class index.
"""

from __future__ import annotations

import numpy as np


def top_classes(probabilities: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """One case's k most probable classes (int64) and their probabilities (float32)."""
    row = np.asarray(probabilities, np.float64).reshape(-1)
    order = np.argsort(-row, kind="stable")[: max(1, int(k))]
    return order.astype(np.int64), row[order].astype(np.float32)
