"""Max-sensitivity (Yeh et al., 2019): the largest change of the map when the input moves a
little. A stable explanation changes little: lower is better.

For each case, nb_samples inputs x + u with u uniform in [-r, r] per value, r = radius times
the case's value range (max - min), are explained again with `method` (a registered name with
`method_params`, or a callable `method(model, x, targets) -> maps`), towards the same target.
The score is max ||m(x + u) - m(x)|| / ||m(x)|| over the samples (relative, so methods of
different scales compare; `maps` are the method's maps of x). Noise comes from `case_rng`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.metrics.base import Metric, importance


class MaxSensitivity(Metric):
    name = "max_sensitivity"
    title = "Max-sensitivity"
    description = "Largest relative change of the map under tiny input noise: near 0 is stable, near 1 or more is noise."
    defaults = {**Metric.defaults, "nb_samples": 10, "radius": 0.02}
    bounds = {**Metric.bounds, "nb_samples": (1, 10**5), "radius": (0.0, 1.0)}
    object_defaults = {"method": "saliency", "method_params": {}}
    stochastic = True
    better = "lower"
    kind = "stability"

    def check_params(self) -> None:
        self.method_runner()  # an unknown method or parameter fails at creation

    def measure(self, x: np.ndarray, maps: np.ndarray, targets: np.ndarray) -> dict[str, Any]:
        run = self.method_runner()
        samples = int(self.params["nb_samples"])
        reference = importance(maps, x)
        scale = np.linalg.norm(reference, axis=1)
        chunk = max(1, 4 * int(self.params["batch_size"]) // samples)  # cases explained together
        scores = np.zeros(len(x))
        for start in range(0, len(x), chunk):
            cases = np.arange(start, min(start + chunk, len(x)))
            noisy = np.concatenate([self._perturbed(x[c], int(c), samples) for c in cases])
            repeated = np.repeat(cases, samples)
            span = (start / len(x), (start + len(cases)) / len(x))
            moved = importance(run(noisy, targets[repeated], span), noisy).reshape(len(cases), samples, -1)
            change = np.linalg.norm(moved - reference[cases][:, None, :], axis=-1).max(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                scores[cases] = np.where(scale[cases] > 0, change / np.where(scale[cases] > 0, scale[cases], 1), change)
        return {"scores": scores}

    def _perturbed(self, case_x: np.ndarray, case: int, samples: int) -> np.ndarray:
        spread = float(case_x.max() - case_x.min()) or 1.0
        radius = self.params["radius"] * spread
        noise = self.case_rng(case).uniform(-radius, radius, size=(samples, *case_x.shape))
        return (case_x[None] + noise).astype(np.float32)
