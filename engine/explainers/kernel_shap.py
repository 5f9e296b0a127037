"""Kernel SHAP (Lundberg & Lee, 2017): Shapley values of superpixels (or features) by a
weighted least-squares fit over coalitions drawn with the Shapley kernel.

The fit is constrained so that the values add up exactly to f(x) - f(baseline), where the
baseline has every unit at `fill_value`. Each unit's value is spread evenly over its pixels
and channels, so the map itself sums to f(x) - f(baseline), like Integrated Gradients'.
With nb_samples >= 2^M - 2 every coalition is evaluated and the values are exact.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.explainers.coalitions import CoalitionExplainer
from engine.explainers.surrogates import shap_coalitions, shap_solve


class KernelShap(CoalitionExplainer):
    name = "kernel_shap"
    title = "Kernel SHAP"
    description = "Shapley values of superpixels: a kernel-weighted fit over coalitions, summing to f(x) - f(baseline)."
    density = True
    heatmap_reduce = "sum"  # the heatmap sums to f(x) - f(baseline) too

    def draw(self, n_units: int, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
        coalitions, weights = shap_coalitions(n_units, self.params["nb_samples"], rng, check=self.check_cancel)
        ends = np.stack([np.ones(n_units, np.float32), np.zeros(n_units, np.float32)])
        return np.concatenate([ends, coalitions]), weights

    def fit(self, coalitions: np.ndarray, scores: np.ndarray, extra: Any) -> np.ndarray:
        return shap_solve(coalitions[2:], scores[2:], extra, f_x=scores[0], f_baseline=scores[1])
