"""LIME (Ribeiro et al., 2016): a weighted linear surrogate of the model around the case.

Superpixels (slic or quickshift; features for tabular rows) are switched on at random, each with
probability 1/2; the model scores every perturbed input; a ridge regression from the on/off
pattern to the score, weighted by proximity sqrt(exp(-d^2 / kernel_width^2)) to the full case,
gives each unit its coefficient, shown on all its pixels. As lime_image does it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.explainers.coalitions import CoalitionExplainer
from engine.explainers.surrogates import DISTANCES, lime_coalitions, lime_fit, lime_kernel


class Lime(CoalitionExplainer):
    name = "lime"
    title = "LIME"
    description = "A linear model fitted to the scores of randomly masked superpixels near the case."
    defaults = {**CoalitionExplainer.defaults, "kernel_width": 0.25, "distance": "cosine"}
    choices = {**CoalitionExplainer.choices, "distance": list(DISTANCES)}
    bounds = {**CoalitionExplainer.bounds, "kernel_width": (1e-3, 1e3)}

    def draw(self, n_units: int, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
        return lime_coalitions(n_units, self.params["nb_samples"], rng), None

    def fit(self, coalitions: np.ndarray, scores: np.ndarray, extra: Any) -> np.ndarray:
        weights = lime_kernel(coalitions, self.params["kernel_width"], self.params["distance"])
        return lime_fit(coalitions, scores, weights)
