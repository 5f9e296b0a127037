"""Model-parameter randomisation (Adebayo et al., 2018): a map that explains the model must
change when the model's learned weights are destroyed. Lower is better; a sanity check.

Cascading from the top layer down, the weights of every layer that has any are re-drawn, in
`stages` equal groups of layers, from a seeded normal with each tensor's own mean and spread
(absolute values for a tensor that had no negative value, so BatchNorm variances stay
positive): the same scale, no learned structure. After each stage the method explains the same
inputs again. The re-draw and the restore are one compiled call per stage on the device, not a
Python call per weight, and the standard-normal draws behind a re-draw are made once per model
and seed and kept (a seeded check of the next case rescales them: the same values, without
drawing millions of numbers again). The score is the Spearman rank
correlation of |map| before and after full randomisation, and a case passes when it is below
`threshold` (0.5 by default: a map that keeps more than half its rank order without the
weights is mostly input structure, e.g. edges). The model's weights are restored afterwards,
even on cancel or error. `method` is a registered name (with `method_params`) or a callable
`method(model, x, targets) -> maps`; `maps` are the method's maps of x before randomisation.
"""

from __future__ import annotations

import weakref
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


# Standard-normal draws kept per model and (seed, stage): a second check of the same model (the
# next case, the benchmark's next method) rescales them instead of drawing millions again.
# A model whose weights hold more than this many values draws them every time instead.
NOISE_CACHE_VALUES = 64_000_000
_NOISE: weakref.WeakKeyDictionary[Any, dict[tuple, list[tf.Tensor]]] = weakref.WeakKeyDictionary()


def _build_noise(variables: list[Any]) -> Any:
    """One compiled call: a seeded standard normal of each variable's shape (one seed pair each)."""

    @tf.function
    def noise(seeds: tf.Tensor) -> list[tf.Tensor]:
        return [tf.random.stateless_normal(v.shape, seed=seeds[i], dtype=v.dtype) for i, v in enumerate(variables)]

    return noise.get_concrete_function(tf.TensorSpec((len(variables), 2), tf.int64))


def _build_redraw(variables: list[Any]) -> Any:
    """One compiled call that re-draws each variable as its own mean + spread x `noise` and returns
    the values it replaced (every variable is re-drawn by exactly one stage, so the stages'
    returns are the snapshot the restore puts back: no eager copy per variable). The mean and
    spread are read from the weights as they are now, so a model whose weights changed in place
    (a training checkpoint applied) is re-drawn at its new scale. Concrete functions: called
    without tf.function's per-call signature matching."""

    @tf.function
    def redraw(noise: list[tf.Tensor]) -> list[tf.Tensor]:
        replaced = []
        for variable, z in zip(variables, noise):
            value = tf.identity(variable)
            drawn = tf.reduce_mean(value) + tf.math.reduce_std(value) * z
            with tf.control_dependencies([value]):
                variable.assign(tf.where(tf.reduce_min(value) >= 0, tf.abs(drawn), drawn))
            replaced.append(value)
        return replaced

    return redraw.get_concrete_function([tf.TensorSpec(v.shape, v.dtype) for v in variables])


def _build_restore(variables: list[Any]) -> Any:
    @tf.function
    def restore(values: list[tf.Tensor]) -> None:
        for variable, value in zip(variables, values):
            variable.assign(value)

    return restore.get_concrete_function([tf.TensorSpec(v.shape, v.dtype) for v in variables])


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

    def _noise(self, stage: int, n_stages: int, variables: list[Any], seeds: np.ndarray) -> list[tf.Tensor]:
        """The stage's standard-normal draws: drawn once per model, seeds and stage layout, then kept
        (unless the model is too large to keep a copy of its weights)."""
        key = (stage, n_stages, seeds.tobytes())
        kept = _NOISE.setdefault(self.model, {})
        if key not in kept:
            draw = self.compiled(("randomise-noise", stage, n_stages), lambda _fwd: _build_noise(variables))
            noise = draw(tf.constant(seeds, tf.int64))
            size = sum(int(np.prod(v.shape)) for v in variables)
            if size + sum(int(np.prod(z.shape)) for zs in kept.values() for z in zs) > NOISE_CACHE_VALUES:
                return noise
            kept[key] = noise
        return kept[key]

    def measure(self, x: np.ndarray, maps: np.ndarray, targets: np.ndarray) -> dict[str, Any]:
        run = self.method_runner()
        before = rank_rows(np.abs(importance(maps, x)))  # Spearman: Pearson of ranks, ranked once
        layers = list(reversed(weighted_layers(self.model)))
        groups = [g for g in np.array_split(np.arange(len(layers)), min(len(layers), int(self.params["stages"]))) if len(g)]
        stages = [[w.value for i in group for w in layers[i].weights if "float" in str(w.dtype)] for group in groups]
        saved: list[tf.Tensor] = []  # the trained values, in stage order
        cascade = np.full((len(x), max(1, len(groups))), np.nan)
        try:
            for stage, variables in enumerate(stages):
                self.check_cancel()
                seeds = self.rng.integers(0, 2**31 - 1, size=(len(variables), 2))
                redraw = self.compiled(("randomise", stage, len(stages)), lambda _fwd, v=variables: _build_redraw(v))
                saved += redraw(self._noise(stage, len(stages), variables, seeds))
                span = (stage / len(groups), (stage + 1) / len(groups))
                after = np.abs(importance(run(x, targets, span), x))
                cascade[:, stage] = correlate_rows(before, rank_rows(after))
        finally:
            if saved:  # the stages re-drawn so far (all of them, unless cancelled or failed mid-way)
                done = [v for variables in stages for v in variables][:len(saved)]
                self.compiled(("restore", len(done)), lambda _fwd: _build_restore(done))(saved)
        scores = cascade[:, -1]
        threshold = float(self.params["threshold"])
        return {
            "scores": scores,
            "passed": np.nan_to_num(scores, nan=0.0) < threshold,
            "threshold": threshold,
            "details": {"cascade": cascade, "stage_layers": [layers[g[-1]].name for g in groups]},
        }
