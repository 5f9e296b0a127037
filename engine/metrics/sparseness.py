"""Sparseness (Chalasani et al., 2020): the Gini index of |map|, 0 when every feature gets the
same share, towards 1 when a few features hold all of it. No model evaluation.

gini = sum_i (2i - n - 1) a_(i) / (n sum_i a_i) over the sorted values a_(1) <= ... <= a_(n);
an all-zero map scores 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.metrics.base import Metric, importance


def gini(values: np.ndarray) -> np.ndarray:
    """(N, F) non-negative -> (N,) Gini index of each row."""
    ordered = np.sort(values, axis=1)
    n = ordered.shape[1]
    weights = 2.0 * np.arange(1, n + 1) - n - 1
    total = ordered.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (ordered * weights).sum(axis=1) / (n * np.where(total > 0, total, 1.0)), 0.0)


class Sparseness(Metric):
    name = "sparseness"
    title = "Sparseness"
    description = "Gini index of the map: near 0 spreads evidence evenly, near 1 puts it on a few pixels."
    better = "higher"
    kind = "complexity"
    uses_model = False

    def measure(self, x: np.ndarray, maps: np.ndarray, targets: np.ndarray) -> dict[str, Any]:
        return {"scores": gini(np.abs(importance(maps, x)))}
