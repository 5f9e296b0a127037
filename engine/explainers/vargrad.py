"""VarGrad (Adebayo et al. 2018): variance of the gradient over noisy copies of the input."""

from __future__ import annotations

import numpy as np

from engine.explainers.smoothgrad import NoisyGradients


class VarGrad(NoisyGradients):
    name = "vargrad"
    title = "VarGrad"
    description = "Variance of the gradient over noisy copies of the input."

    def reduce(self, mean: np.ndarray, mean_sq: np.ndarray) -> np.ndarray:
        return np.maximum(mean_sq - mean * mean, 0.0)
