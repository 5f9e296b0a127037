"""RISE (Petsiuk et al., 2018): the average of random smooth masks, each weighted by the
target's score on the input seen through it.

saliency = sum_i f(x * M_i) M_i / (nb_samples * probability); masks as in masking.RiseMasks.
The random draws are made up front (tiny), the full-size masks one batch at a time, each batch
shared by every case.
"""

from __future__ import annotations

import numpy as np

from engine.explainers.base import Explainer
from engine.explainers.masking import RiseMasks, rise_saliency
from engine.explainers.perturb import masked_rows, masked_score_batches


class Rise(Explainer):
    name = "rise"
    title = "RISE"
    description = "Average of random smooth masks weighted by the class score each one keeps."
    defaults = {**Explainer.defaults, "nb_samples": 2000, "resolution": 7, "probability": 0.5}
    bounds = {**Explainer.bounds, "nb_samples": (1, 10**7), "resolution": (1, 4096), "probability": (0.01, 0.99)}
    stochastic = True
    image_only = True
    gradient_based = False
    heatmap_reduce = "mean"

    def compute(self, x: np.ndarray, targets: np.ndarray) -> np.ndarray:
        n_cases, n_masks = len(x), self.params["nb_samples"]
        masks = RiseMasks.draw(n_masks, self.params["resolution"], self.params["probability"], x.shape[1:3], self.rng)
        saliency = np.zeros((n_cases, *x.shape[1:3]), dtype=np.float64)
        last: dict[str, np.ndarray] = {}  # the batch `rows` just built, for `consume`

        def rows(a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
            """Rows run mask by mask: every case under mask i, then mask i+1."""
            index = np.arange(a, b)
            first = a // n_cases
            last["cases"] = index % n_cases
            last["masks"] = masks.render(first, (b - 1) // n_cases + 1)[index // n_cases - first]
            cases = last["cases"]
            inputs = np.broadcast_to(x[0], (len(cases), *x.shape[1:])) if n_cases == 1 else x[cases]
            return masked_rows(inputs, last["masks"], 0.0, targets[cases])

        def consume(a: int, b: int, out: tuple[np.ndarray, ...]) -> None:
            by_case = np.zeros((n_cases, b - a))  # row j's score in its case's row: one matmul
            by_case[last["cases"], np.arange(b - a)] = out[0]
            saliency[...] += rise_saliency(by_case, last["masks"], n_masks, masks.probability)

        masked_score_batches(self, n_cases * n_masks, rows, consume)
        return saliency.astype(np.float32)[..., None]
