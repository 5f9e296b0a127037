"""What LIME and Kernel SHAP share: interpretable units per case, coalitions of units switched
on and off, one batched pass over every perturbed input, and a fit per case.

Units are superpixels for images (see superpixels.py), windows of time steps (tokens) for
sequences (N, T, C), and features for tabular rows; a unit
that is off takes `fill_value`. Coalitions are drawn with `case_rng`, so they depend only on
the seed and the case, never on the batch size.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from engine.explainers.base import Explainer
from engine.explainers.perturb import masked_score_batches
from engine.explainers.superpixels import SEGMENTATIONS, CoalitionRows, segment, spread


COALITION_BYTES = 20  # float32 coalition + float64 design + float64 weighted design, per unit


class CoalitionExplainer(Explainer):
    defaults = {**Explainer.defaults, "n_segments": 50, "segmentation": "slic", "nb_samples": 1000, "fill_value": 0.0}
    choices = {**Explainer.choices, "segmentation": list(SEGMENTATIONS)}
    bounds = {**Explainer.bounds, "n_segments": (1, 100000), "nb_samples": (4, 10**7)}
    spatial_params = frozenset({"n_segments", "segmentation"})  # a row's features are its units
    stochastic = True
    gradient_based = False
    heatmap_reduce = "mean"  # one value per location, repeated over channels
    density: ClassVar[bool] = False  # spread a unit's value over its locations (sums are kept)

    def memory_estimate(self, x: np.ndarray) -> tuple[int, str]:
        """The model batches, plus per case the coalitions (S, M) float32, their scores and the
        fit's float64 design and weighted copy (S, M each): S x M x 20 bytes (M: segments, as in compute)."""
        base, how = super().memory_estimate(x)
        units = min(int(self.params["n_segments"]), int(np.prod(x.shape[1:-1]))) if x.ndim >= 3 else x.shape[-1]
        samples = int(self.params["nb_samples"]) + 2
        held = samples * (max(1, units) * COALITION_BYTES + 16)
        return base + held, f"{samples:,} samples x {units:,} units x {COALITION_BYTES} bytes, plus {how}"

    def draw(self, n_units: int, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
        """Coalitions (S, M) of 0/1 to evaluate, and whatever `fit` needs besides the scores."""
        raise NotImplementedError

    def fit(self, coalitions: np.ndarray, scores: np.ndarray, extra: Any) -> np.ndarray:
        """One value per unit (M,) from the coalitions' scores."""
        raise NotImplementedError

    def units(self, x: np.ndarray) -> list[np.ndarray]:
        """Each case's units (labels per location); NormLIME fixes one set for every case."""
        segments = []
        for i, case in enumerate(x):
            self.check_cancel()
            segments.append(segment(case, self.params["n_segments"], self.params["segmentation"]))
            self.report(0.05 * (i + 1) / len(x))
        return segments

    def compute(self, x: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, dict]:
        image = x.ndim >= 3  # images and sequences: units span the channels
        segments = self.units(x)
        draws = [self.draw(int(s.max()) + 1, self.case_rng(i)) for i, s in enumerate(segments)]
        rows = CoalitionRows(x, segments, [d[0] for d in draws], targets, float(self.params["fill_value"]))
        (scores,) = masked_score_batches(self, len(rows), rows, span=(0.05, 1.0))
        maps = np.empty(x.shape[:-1] if image else x.shape, dtype=np.float32)
        for i, (units, (coalitions, extra)) in enumerate(zip(segments, draws)):
            values = self.fit(coalitions, scores[rows.case_rows(i)], extra)
            if self.density:
                sizes = np.bincount(units.ravel(), minlength=len(values)) * (x.shape[-1] if image else 1)
                values = values / np.maximum(sizes, 1)
            maps[i] = spread(values, units)
        if not image:
            return maps, {}
        return maps[..., None], {"segments": np.stack(segments)}
