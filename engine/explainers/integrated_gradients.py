"""Integrated Gradients (Sundararajan et al. 2017): (x - b) times the mean gradient on the
straight path from a baseline b to x.

Baselines: "zeros"; "constant" (every value at the middle of the case's value range); a number
(every value at that number); "blurred" (the case under a Gaussian blur of sigma = 1/10 of the
image size, Sturmfels et al. 2020; images only); "uniform" (uniform noise over the case's value
range, seeded); or an array shaped like one case (or like the whole batch).
Rules: "riemann" is the midpoint Riemann sum (alpha = (k + 0.5) / steps), "trapezoid" uses
alpha = k / (steps - 1) with half weight at both ends. The completeness gap
sum(maps) - (f(x) - f(b)) per case says how far the sum is from exact.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from engine.errors import BadInputError
from engine.explainers.base import Explainer, add_by_case

BASELINES = ["zeros", "constant", "blurred", "uniform"]
RULES = ["riemann", "trapezoid"]


def path_weights(steps: int, rule: str) -> tuple[np.ndarray, np.ndarray]:
    """Interpolation points alpha in [0, 1] and quadrature weights summing to 1."""
    if rule == "trapezoid":
        alphas = np.linspace(0.0, 1.0, steps)
        weights = np.full(steps, 1.0 / (steps - 1))
        weights[[0, -1]] *= 0.5
        return alphas, weights
    return (np.arange(steps) + 0.5) / steps, np.full(steps, 1.0 / steps)


def path_integral(explainer: Explainer, x: np.ndarray, baselines: np.ndarray, targets: np.ndarray,
                  steps: int, rule: str, span: tuple[float, float]) -> np.ndarray:
    """Per case, the weighted sum of gradients along the path from its baseline to x, times (x - b)."""
    alphas, weights = path_weights(steps, rule)
    shape = (-1,) + (1,) * (x.ndim - 1)
    delta = x - baselines
    total = np.zeros(x.shape, dtype=np.float64)

    def rows(start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        cases, k = np.divmod(np.arange(start, stop), steps)
        points = baselines[cases] + alphas[k].astype(np.float32).reshape(shape) * delta[cases]
        return points, targets[cases]

    def consume(start: int, stop: int, outputs: tuple[np.ndarray, ...]) -> None:
        cases, k = np.divmod(np.arange(start, stop), steps)
        add_by_case(total, cases, outputs[0] * weights[k].reshape(shape))

    explainer.gradient_batches(len(x) * steps, rows, consume, span=span)
    return (total * delta).astype(np.float32)


def completeness_gap(explainer: Explainer, maps: np.ndarray, x: np.ndarray, baselines: np.ndarray,
                     targets: np.ndarray, span: tuple[float, float]) -> np.ndarray:
    """sum(maps) - (f(x) - f(baseline)) per case, in the explained output (logit or probability)."""
    both = np.concatenate([x, baselines])
    scores, _ = explainer.scores(both, np.concatenate([targets, targets]), span=span)
    scores = scores.astype(np.float64)
    change = scores[: len(x)] - scores[len(x):]
    return maps.reshape(len(x), -1).sum(axis=1, dtype=np.float64) - change


class IntegratedGradients(Explainer):
    name = "integrated_gradients"
    title = "Integrated Gradients"
    fast = True
    description = "Gradients integrated along the straight path from a baseline to the input; sums to f(x) - f(baseline)."
    defaults = {**Explainer.defaults, "steps": 64, "baseline": "zeros", "rule": "riemann"}
    choices = {**Explainer.choices, "baseline": BASELINES, "rule": RULES}
    bounds = {**Explainer.bounds, "steps": (1, 100000)}
    array_params = frozenset({"baseline"})

    def check_params(self) -> None:
        if self.params["rule"] == "trapezoid" and self.params["steps"] < 2:
            raise BadInputError(f"{self.title}: the trapezoid rule needs steps >= 2.")

    def compute(self, x: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        baselines = self.baselines(x)
        steps = int(self.params["steps"])
        share = steps / (steps + 2 / 3)  # path gradients vs. the 2 N forward passes of the gap
        maps = path_integral(self, x, baselines, targets, steps, self.params["rule"], span=(0.0, share))
        gap = completeness_gap(self, maps, x, baselines, targets, span=(share, 1.0))
        return maps, {"completeness_gap": gap}

    def baselines(self, x: np.ndarray) -> np.ndarray:
        """One baseline per case, as the `baseline` parameter says."""
        baseline = self.params["baseline"]
        flat = x.reshape(len(x), -1)
        low = flat.min(axis=1).reshape((-1,) + (1,) * (x.ndim - 1))
        high = flat.max(axis=1).reshape(low.shape)
        if isinstance(baseline, np.ndarray):
            if baseline.shape not in (x.shape, x.shape[1:]):
                raise BadInputError(
                    f"{self.title}: baseline array must have shape {x.shape[1:]} or {x.shape}, got {baseline.shape}."
                )
            return np.ascontiguousarray(np.broadcast_to(baseline, x.shape), dtype=np.float32)
        if isinstance(baseline, float):
            return np.full(x.shape, baseline, dtype=np.float32)
        if baseline == "zeros":
            return np.zeros_like(x)
        if baseline == "constant":
            return np.broadcast_to((low + high) / 2, x.shape).astype(np.float32)
        if baseline == "uniform":
            noise = np.stack([self.case_rng(i).uniform(size=x.shape[1:]) for i in range(len(x))])
            return (low + noise * (high - low)).astype(np.float32)
        if not self.is_image(x):
            raise BadInputError(f"{self.title}: the blurred baseline needs images (N, H, W, C).")
        sigma = max(x.shape[1:3]) / 10
        return ndimage.gaussian_filter(x, sigma=(0, sigma, sigma, 0), mode="nearest").astype(np.float32)
