"""Gradient x Input (Shrikumar et al. 2016): each value's gradient times the value itself.

For a linear model this is each feature's exact contribution w_i * x_i to the score.
"""

from __future__ import annotations

import numpy as np

from engine.explainers.base import Explainer


class GradientXInput(Explainer):
    name = "gradient_x_input"
    title = "Gradient x Input"
    fast = True
    description = "Gradient of the target score times the input value: a first-order contribution."
    resolves_targets = True

    def compute(self, x: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, dict]:
        grads, _, resolved = self.gradients(x, targets)
        return grads * x, {"targets": resolved}
