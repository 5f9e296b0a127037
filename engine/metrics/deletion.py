"""Deletion (Petsiuk et al., 2018): how fast the target's output falls as the features the map
ranks first are replaced by the baseline. A faithful map makes it fall early: lower is better.

Features (pixels, channels averaged; tabular columns) are ranked by the signed map, most
important first (ties keep their order). At steps + 1 equally spaced counts from none to all,
that many top features are set to `baseline` (a number; "mean": the case's channel means;
"blur": the case blurred by a Gaussian of `blur_sigma` pixels; or an array of x's shape, see
engine.metrics.base.resolve_baseline); the curve is the target's output at each count
and the score its area (trapezoid rule over the fraction perturbed, so in output units).
One masked forward pass per (case, step), batched, the masking inside the compiled function.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from engine.explainers.perturb import masked_rows, masked_score_batches
from engine.metrics.base import Metric, fill_rows, importance, spatial_shape


def feature_ranks(values: np.ndarray) -> np.ndarray:
    """(N, F) int: each feature's place when sorted most important first (0 = first)."""
    order = np.argsort(-values, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(values.shape[1])[None], axis=1)
    return ranks


def trapezoid(curves: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Area under each row of `curves` over `fractions` (numpy 1.26 has no np.trapezoid)."""
    return ((curves[:, 1:] + curves[:, :-1]) * 0.5 * np.diff(fractions)).sum(axis=1)


class Deletion(Metric):
    name = "deletion"
    title = "Deletion AUC"
    description = "Area under the class score as the map's top pixels are removed first: lower means the map found what the model uses."
    defaults = {**Metric.defaults, "steps": 10, "baseline": 0.0, "blur_sigma": 5.0}
    array_params = frozenset({"baseline"})  # also "mean" or "blur" (Metric._check_value)
    bounds = {**Metric.bounds, "blur_sigma": (0.0, 10000.0), "steps": (1, 100000)}
    better = "lower"
    kind = "faithfulness"
    reveal: ClassVar[bool] = False  # insertion: start from the baseline and reveal instead

    def measure(self, x: np.ndarray, maps: np.ndarray, targets: np.ndarray) -> dict[str, Any]:
        ranks = feature_ranks(importance(maps, x))
        n_features, points = ranks.shape[1], int(self.params["steps"]) + 1
        counts = np.round(np.linspace(0, n_features, points)).astype(np.int64)
        grid = spatial_shape(x)
        fill = self.baseline(x)

        def rows(a: int, b: int) -> tuple[np.ndarray, ...]:
            index = np.arange(a, b)
            cases = index // points
            changed = ranks[cases] < counts[index % points][:, None]
            keep = changed if self.reveal else ~changed
            return masked_rows(x[cases], keep.reshape(len(index), *grid), fill_rows(fill, cases), targets[cases])

        (scores,) = masked_score_batches(self, len(x) * points, rows, fill_inputs=np.ndim(fill) > 0)
        curves = scores.astype(np.float64).reshape(len(x), points)
        return {"scores": trapezoid(curves, counts / n_features), "curves": curves}
