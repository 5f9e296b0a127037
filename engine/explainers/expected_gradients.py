"""Expected Gradients / GradientSHAP (Erion et al. 2021; Lundberg & Lee 2017): Integrated
Gradients averaged over random baselines, one random point on each path.

For case x and sample j: a baseline b_j = reference[random row] + Gaussian noise (standard
deviation `noise` times the case's value range), a point alpha_j ~ U(0, 1) on the path, and
the sample's attribution (x - b_j) * grad f(b_j + alpha_j (x - b_j)); maps are the mean over
nb_samples samples. `reference` is an array of background cases (M, ...) or one case; when it
is not given the background is the all-zeros input, so the default explains x against
"zeros plus noise". In expectation sum(maps) = f(x) - E[f(b)]; the completeness gap reported
is sum(maps) - (f(x) - mean_j f(b_j)) over the baselines actually drawn (it shrinks as
nb_samples grows; the baselines' scores cost nb_samples forward passes per case).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.errors import BadInputError
from engine.explainers.base import Explainer, add_by_case
from engine.explainers.sampling import CaseNoise, noise_scale

_DRAWS, _NOISE = 1, 2  # random streams: reference rows and alphas, baseline noise


class ExpectedGradients(Explainer):
    name = "expected_gradients"
    title = "Expected Gradients (GradientSHAP)"
    description = "Gradients at random points between the input and random reference baselines, times the difference."
    defaults = {**Explainer.defaults, "nb_samples": 32, "noise": 0.1, "reference": None}
    bounds = {**Explainer.bounds, "nb_samples": (1, 100000), "noise": (0.0, 10.0)}
    array_params = frozenset({"reference"})
    stochastic = True

    def compute(self, x: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        nb = int(self.params["nb_samples"])
        reference = self._reference(x)
        draws = [self.case_rng(case, _DRAWS) for case in range(len(x))]
        picks = np.stack([rng.integers(len(reference), size=nb) for rng in draws]).reshape(-1)
        alphas = np.stack([rng.uniform(size=nb) for rng in draws]).reshape(-1).astype(np.float32)
        noise = CaseNoise(self, x.shape[1:], nb, noise_scale(x, self.params["noise"]), stream=_NOISE)
        shape = (-1,) + (1,) * (x.ndim - 1)

        last: dict[tuple[int, int], np.ndarray] = {}

        def baselines(start: int, stop: int) -> np.ndarray:
            """The rows' baselines; the latest range is kept for `consume` right after `rows`."""
            if (start, stop) not in last:
                last.clear()
                last[start, stop] = reference[picks[start:stop]] + noise.rows(start, stop)
            return last[start, stop]

        def rows(start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
            cases = np.arange(start, stop) // nb
            base = baselines(start, stop)
            return base + alphas[start:stop].reshape(shape) * (x[cases] - base), targets[cases]

        total = np.zeros(x.shape, dtype=np.float64)

        def consume(start: int, stop: int, outputs: tuple[np.ndarray, ...]) -> None:
            cases = np.arange(start, stop) // nb
            add_by_case(total, cases, outputs[0] * (x[cases] - baselines(start, stop)))

        share = 0.75  # a gradient row costs about three forward rows
        self.gradient_batches(len(x) * nb, rows, consume, span=(0.0, share))
        maps = (total / nb).astype(np.float32)

        baseline_scores = np.zeros(len(x), dtype=np.float64)

        def score_rows(start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
            return baselines(start, stop), targets[np.arange(start, stop) // nb]

        def add_scores(start: int, stop: int, outputs: tuple[np.ndarray, ...]) -> None:
            add_by_case(baseline_scores, np.arange(start, stop) // nb, outputs[0].astype(np.float64))

        self.score_batches(len(x) * nb, score_rows, add_scores, span=(share, 0.99))
        scores, _ = self.scores(x, targets, span=(0.99, 1.0))
        change = scores.astype(np.float64) - baseline_scores / nb
        gap = maps.reshape(len(x), -1).sum(axis=1, dtype=np.float64) - change
        return maps, {"completeness_gap": gap}

    def _reference(self, x: np.ndarray) -> np.ndarray:
        reference = self.params["reference"]
        if reference is None:
            return np.zeros((1, *x.shape[1:]), dtype=np.float32)
        if not isinstance(reference, np.ndarray):
            raise BadInputError(f"{self.title}: reference must be an array of background cases.")
        if reference.shape == x.shape[1:]:
            reference = reference[None]
        if reference.shape[1:] != x.shape[1:] or len(reference) == 0:
            raise BadInputError(
                f"{self.title}: reference must have shape (M, {', '.join(map(str, x.shape[1:]))}), got {reference.shape}."
            )
        return reference
