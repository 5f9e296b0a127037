"""SquareGrad (Hooker et al. 2019): mean squared gradient over noisy copies of the input."""

from __future__ import annotations

import numpy as np

from engine.explainers.smoothgrad import NoisyGradients


class SquareGrad(NoisyGradients):
    name = "squaregrad"
    title = "SquareGrad"
    description = "Mean of the squared gradient over noisy copies of the input."

    def reduce(self, mean: np.ndarray, mean_sq: np.ndarray) -> np.ndarray:
        return mean_sq
