"""Model-parameter randomisation (Adebayo et al., 2018): a map that explains the model must
change when the model's learned weights are destroyed. Lower is better; a sanity check.

Cascading from the top layer down, the weights of every layer that has any are replaced, in
`stages` equal groups of layers, by a seeded random permutation of their own values (same
distribution and scale, so BatchNorm variances stay positive, but no learned structure). After
each stage the method explains the same inputs again; the score is the Spearman rank
correlation of |map| before and after full randomisation, and a case passes when it is below
`threshold` (0.5 by default: a map that keeps more than half its rank order without the
weights is mostly input structure, e.g. edges). The model's weights are restored afterwards,
even on cancel or error. `method` is a registered name (with `method_params`) or a callable
`method(model, x, targets) -> maps`; `maps` are the method's maps of x before randomisation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import keras
import numpy as np

from engine.metrics.base import Metric, correlate_rows, importance, rank_rows


def weighted_layers(model: Any) -> list[Any]:
    """Leaf layers that hold weights, input to output, nested sub-models walked into."""
    found: list[Any] = []

    def walk(layer: Any) -> Iterator[Any]:
        for sub in getattr(layer, "layers", []):
            if isinstance(sub, keras.Model):
                yield from walk(sub)
            elif sub.weights:
                yield sub

    for layer in walk(model):
        if all(layer is not seen for seen in found):
            found.append(layer)
    return found


class Randomisation(Metric):
    name = "randomisation"
    title = "Randomisation check"
    description = "Rank correlation of the map before and after the model's weights are scrambled: a map that survives (>= 0.5) ignores the model."
    defaults = {**Metric.defaults, "threshold": 0.5, "stages": 3}
    bounds = {**Metric.bounds, "threshold": (-1.0, 1.0), "stages": (1, 10000)}
    object_defaults = {"method": "saliency", "method_params": {}}
    stochastic = True
    better = "lower"
    kind = "sanity"

    def check_params(self) -> None:
        self.method_runner()

    def measure(self, x: np.ndarray, maps: np.ndarray, targets: np.ndarray) -> dict[str, Any]:
        run = self.method_runner()
        before = rank_rows(np.abs(importance(maps, x)))  # Spearman: Pearson of ranks, ranked once
        layers = list(reversed(weighted_layers(self.model)))
        groups = [g for g in np.array_split(np.arange(len(layers)), min(len(layers), int(self.params["stages"]))) if len(g)]
        saved = [[v.numpy() for v in layer.weights] for layer in layers]
        cascade = np.full((len(x), max(1, len(groups))), np.nan)
        try:
            for stage, group in enumerate(groups):
                self.check_cancel()
                for i in group:
                    for variable, value in zip(layers[i].weights, saved[i]):
                        variable.assign(self.rng.permutation(value.ravel()).reshape(value.shape))
                span = (stage / len(groups), (stage + 1) / len(groups))
                after = np.abs(importance(run(x, targets, span), x))
                cascade[:, stage] = correlate_rows(before, rank_rows(after))
        finally:
            for layer, values in zip(layers, saved):
                for variable, value in zip(layer.weights, values):
                    variable.assign(value)
        scores = cascade[:, -1]
        threshold = float(self.params["threshold"])
        return {
            "scores": scores,
            "passed": np.nan_to_num(scores, nan=0.0) < threshold,
            "threshold": threshold,
            "details": {"cascade": cascade, "stage_layers": [layers[g[-1]].name for g in groups]},
        }
