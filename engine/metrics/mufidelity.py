"""MuFidelity (Bhatt et al., 2020): does the attribution a subset of features gets predict how
much the target's output drops when that subset is removed? Higher is better (1: perfectly).

Per case, nb_samples random subsets of subset_percent of the cells of a grid_size x grid_size
grid over the image (single features for tabular inputs) are set to `baseline` (a number,
"mean", "blur" or an array: engine.metrics.base.resolve_baseline); the score is
the rank (Spearman, or `correlation="pearson"`) correlation, over the subsets, between the map
summed over each subset and the drop f(x) - f(x with the subset removed). Subsets come from
`case_rng`, so they depend on the seed and the case only, never on the batch size.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.explainers.perturb import masked_rows, masked_score_batches
from engine.metrics.base import Metric, fill_rows, correlate_rows, importance, spatial_shape


def cell_index(x: np.ndarray, grid_size: int) -> tuple[np.ndarray, int]:
    """(features,) cell of each feature, and the number of cells (one per feature if tabular)."""
    grid = spatial_shape(x)
    if x.ndim != 4:
        n = int(np.prod(grid))
        return np.arange(n), n
    height, width = grid
    g_rows, g_cols = min(grid_size, height), min(grid_size, width)
    rows = np.arange(height) * g_rows // height
    cols = np.arange(width) * g_cols // width
    return (rows[:, None] * g_cols + cols[None, :]).ravel(), g_rows * g_cols


class MuFidelity(Metric):
    name = "mufidelity"
    title = "MuFidelity"
    description = "Correlation between the map's total over random patches and the score drop when they are removed: near 1 is faithful."
    defaults = {
        **Metric.defaults,
        "grid_size": 9,
        "subset_percent": 0.2,
        "nb_samples": 128,
        "baseline": 0.0,
        "blur_sigma": 5.0,
        "correlation": "spearman",
    }
    choices = {**Metric.choices, "correlation": ["spearman", "pearson"]}
    array_params = frozenset({"baseline"})  # also "mean" or "blur" (Metric._check_value)
    bounds = {**Metric.bounds, "grid_size": (1, 4096), "subset_percent": (0.001, 1.0), "nb_samples": (3, 10**6),
              "blur_sigma": (0.0, 10000.0)}
    stochastic = True
    better = "higher"
    kind = "faithfulness"

    def measure(self, x: np.ndarray, maps: np.ndarray, targets: np.ndarray) -> dict[str, Any]:
        cells, n_cells = cell_index(x, int(self.params["grid_size"]))
        values = importance(maps, x)
        per_cell = np.zeros((len(x), n_cells))
        np.add.at(per_cell.T, cells, values.T)  # (N, cells): the map summed over each cell
        samples = int(self.params["nb_samples"])
        size = max(1, int(round(self.params["subset_percent"] * n_cells)))
        chosen = np.zeros((len(x), samples, n_cells), dtype=bool)
        for case in range(len(x)):
            picks = np.argsort(self.case_rng(case).random((samples, n_cells)), axis=1)[:, :size]
            np.put_along_axis(chosen[case], picks, True, axis=1)
        attributed = (chosen * per_cell[:, None, :]).sum(axis=-1)

        base, _ = self.scores(x, targets, span=(0.0, 0.05))
        grid = spatial_shape(x)
        fill = self.baseline(x)

        def rows(a: int, b: int) -> tuple[np.ndarray, ...]:
            index = np.arange(a, b)
            case, sample = index // samples, index % samples
            keep = ~chosen[case, sample][:, cells]
            return masked_rows(x[case], keep.reshape(len(index), *grid), fill_rows(fill, case), targets[case])

        (removed,) = masked_score_batches(self, len(x) * samples, rows, span=(0.05, 1.0), fill_inputs=np.ndim(fill) > 0)
        drops = base.astype(np.float64)[:, None] - removed.astype(np.float64).reshape(len(x), samples)
        return {"scores": correlate_rows(attributed, drops, self.params["correlation"])}
