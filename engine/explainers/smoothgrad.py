"""SmoothGrad (Smilkov et al. 2017) and the noisy-gradient family it shares with VarGrad and
SquareGrad: gradients at nb_samples noisy copies of each case, reduced per case.

The noise standard deviation is `noise` times the case's value range (the paper's 10-20%).
Rows are built lazily and their gradients folded into per-case sums batch by batch, so
memory does not grow with nb_samples.
"""

from __future__ import annotations

import numpy as np

from engine.explainers.base import Explainer, add_by_case
from engine.explainers.sampling import CaseNoise, noise_scale


class NoisyGradients(Explainer):
    """Base of the SmoothGrad family: subclasses say how to reduce the per-sample gradients."""

    defaults = {**Explainer.defaults, "nb_samples": 25, "noise": 0.15}
    bounds = {**Explainer.bounds, "nb_samples": (1, 100000), "noise": (0.0, 10.0)}
    stochastic = True
    needs_squares = True  # whether `reduce` uses the mean of squared gradients

    def compute(self, x: np.ndarray, targets: np.ndarray) -> np.ndarray:
        nb = int(self.params["nb_samples"])
        noise = CaseNoise(self, x.shape[1:], nb, noise_scale(x, self.params["noise"]))
        total = np.zeros(x.shape, dtype=np.float64)
        total_sq = np.zeros(x.shape, dtype=np.float64) if self.needs_squares else None

        def rows(start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
            cases = np.arange(start, stop) // nb
            return x[cases] + noise.rows(start, stop), targets[cases]

        def consume(start: int, stop: int, outputs: tuple[np.ndarray, ...]) -> None:
            grads = outputs[0]
            cases = np.arange(start, stop) // nb
            add_by_case(total, cases, grads)
            if total_sq is not None:
                add_by_case(total_sq, cases, np.square(grads))

        self.gradient_batches(len(x) * nb, rows, consume)
        return self.reduce(total / nb, None if total_sq is None else total_sq / nb)

    def reduce(self, mean: np.ndarray, mean_sq: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError


class SmoothGrad(NoisyGradients):
    name = "smoothgrad"
    title = "SmoothGrad"
    description = "Mean gradient over noisy copies of the input: a saliency map with less noise."
    heatmap_reduce = "abs_max"
    needs_squares = False

    def reduce(self, mean: np.ndarray, mean_sq: np.ndarray | None) -> np.ndarray:
        return mean
