"""Saliency (vanilla gradient, Simonyan et al. 2014): d score / d input.

The map keeps the gradient's sign (so a linear model's map is exactly its weights); the heatmap
shows the largest magnitude over channels, as in the paper.
"""

from __future__ import annotations

import numpy as np

from engine.explainers.base import Explainer


class Saliency(Explainer):
    name = "saliency"
    title = "Saliency"
    fast = True
    description = "Gradient of the target score with respect to each input value (one backward pass)."
    resolves_targets = True
    heatmap_reduce = "abs_max"

    def compute(self, x: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, dict]:
        grads, _, resolved = self.gradients(x, targets)
        return grads, {"targets": resolved}
