"""Model-parameter randomisation (Adebayo et al., 2018): a map that explains the model must
change when the model's learned weights are destroyed. Lower is better; a sanity check.

Cascading from the top layer down, the weights of every layer that has any are re-drawn, in
`stages` equal groups of layers, from a seeded normal with each tensor's own mean and spread
(absolute values for a tensor that had no negative value, so BatchNorm variances stay
positive): the same scale, no learned structure. After
each stage the method explains the same inputs again (the re-draws and the restore run as one
compiled call per stage on the device, not one Python call per weight); the score is the Spearman rank
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
import tensorflow as tf

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


def _build_redraw(variables: list[Any]) -> Any:
    """One compiled call that re-draws each variable from a normal of its own mean and spread."""

    @tf.function
    def redraw(seeds: tf.Tensor) -> None:
        for i, variable in enumerate(variables):
            value = tf.convert_to_tensor(variable)
            noise = tf.random.stateless_normal(tf.shape(value), seed=seeds[i], dtype=value.dtype)
            drawn = tf.reduce_mean(value) + tf.math.reduce_std(value) * noise
            variable.assign(tf.where(tf.reduce_min(value) >= 0, tf.abs(drawn), drawn))

    return redraw


def _build_restore(variables: list[Any]) -> Any:
    @tf.function
    def restore(values: list[tf.Tensor]) -> None:
        for variable, value in zip(variables, values):
            variable.assign(value)

    return restore


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
        stages = [[w.value for i in group for w in layers[i].weights if "float" in str(w.dtype)] for group in groups]
        everything = [v for variables in stages for v in variables]
        saved = [tf.identity(v) for v in everything]
        cascade = np.full((len(x), max(1, len(groups))), np.nan)
        try:
            for stage, variables in enumerate(stages):
                self.check_cancel()
                redraw = self.compiled(("randomise", stage, len(stages)), lambda _fwd, v=variables: _build_redraw(v))
                redraw(tf.constant(self.rng.integers(0, 2**31 - 1, size=(len(variables), 2)), tf.int64))
                span = (stage / len(groups), (stage + 1) / len(groups))
                after = np.abs(importance(run(x, targets, span), x))
                cascade[:, stage] = correlate_rows(before, rank_rows(after))
        finally:
            self.compiled(("restore", len(stages)), lambda _fwd: _build_restore(everything))(saved)
        scores = cascade[:, -1]
        threshold = float(self.params["threshold"])
        return {
            "scores": scores,
            "passed": np.nan_to_num(scores, nan=0.0) < threshold,
            "threshold": threshold,
            "details": {"cascade": cascade, "stage_layers": [layers[g[-1]].name for g in groups]},
        }
