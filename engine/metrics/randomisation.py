"""Model-parameter randomisation (Adebayo et al., 2018): a map that explains the model must
change when the model's learned weights are destroyed. Lower is better; a sanity check.

Cascading from the top layer down, the weights of every layer that has any are re-drawn, in
`stages` equal groups of layers, from a seeded normal with each tensor's own mean and spread
(absolute values for a tensor that had no negative value, so BatchNorm variances stay
positive): the same scale, no learned structure. After each stage the method explains the same
inputs again. Saliency (the default method) runs the whole cascade of a batch in one compiled
call: each stage's re-drawn values are swapped in with a `keras.StatelessScope`, so the model's
variables are never written. Any other method (a name or a callable, which call the model as it
is) sees the weights re-drawn in place, one compiled call per stage, and restored afterwards, even
on cancel or error. Both use the same draws, so they give the same maps. The standard-normal draws
behind a re-draw are made once per model and seed and kept (a seeded check of the next case
rescales them: the same values, without drawing millions of numbers again). The score is the Spearman rank
correlation of |map| before and after full randomisation, and a case passes when it is below
`threshold` (0.5 by default: a map that keeps more than half its rank order without the
weights is mostly input structure, e.g. edges). `method` is a registered name (with `method_params`) or a callable
`method(model, x, targets) -> maps`; `maps` are the method's maps of x before randomisation.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from engine.errors import NotSupportedError
from engine.explainers.base import gather_targets, resolve_targets
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


def _redrawn(value: tf.Tensor, z: tf.Tensor) -> tf.Tensor:
    """`value`'s mean + spread x `z`, made positive where `value` had no negative entry."""
    drawn = tf.reduce_mean(value) + tf.math.reduce_std(value) * z
    return tf.where(tf.reduce_min(value) >= 0, tf.abs(drawn), drawn)


def _build_redraw(variables: list[Any]) -> Any:
    """One compiled call that re-draws each variable (`_redrawn`) and returns the values it
    replaced (every variable is re-drawn by exactly one stage, so the stages' returns are the
    snapshot the restore puts back: no eager copy per variable). The mean and spread are read
    from the weights as they are now, so a model whose weights changed in place (a training
    checkpoint applied) is re-drawn at its new scale. Concrete functions: called without
    tf.function's per-call signature matching."""

    @tf.function
    def redraw(noise: list[tf.Tensor]) -> list[tf.Tensor]:
        replaced = []
        for variable, z in zip(variables, noise):
            value = tf.identity(variable)
            with tf.control_dependencies([value]):
                variable.assign(_redrawn(value, z))
            replaced.append(value)
        return replaced

    return redraw.get_concrete_function([tf.TensorSpec(v.shape, v.dtype) for v in variables])


def _build_saliency_cascade(forward: Any, stages: list[list[Any]], shape: tuple[int, ...]) -> Any:
    """Saliency after every stage of the cascade for one batch, in one compiled call, the model's
    variables untouched: each stage's re-drawn values (`_redrawn`, the same draws as the assigned
    cascade) are swapped in for the forward pass by a `keras.StatelessScope`, cumulatively, and
    the gradient of the target's score is taken under each. Returns (batch, stages, ...)."""
    flat = [v for variables in stages for v in variables]

    @tf.function
    def cascade(x: tf.Tensor, targets: tf.Tensor, noise: list[tf.Tensor]) -> tf.Tensor:
        mapping: list[tuple[Any, tf.Tensor]] = []
        maps, drawn = [], iter(noise)
        for variables in stages:
            mapping += [(v, _redrawn(tf.convert_to_tensor(v.value), next(drawn))) for v in variables]
            with keras.StatelessScope(state_mapping=list(mapping)), tf.GradientTape() as tape:
                tape.watch(x)
                out = forward(x)
                score = gather_targets(out, resolve_targets(out, targets))
            maps.append(tape.gradient(score, x))
        return tf.stack(maps, axis=1)  # (batch, stages, ...): run_batches joins batches on axis 0

    noise_specs = [tf.TensorSpec(v.shape, v.dtype) for v in flat]
    return cascade.get_concrete_function(
        tf.TensorSpec((None, *shape), tf.float32), tf.TensorSpec((None,), tf.int64), noise_specs
    )


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
        before = rank_rows(np.abs(importance(maps, x)))  # Spearman: Pearson of ranks, ranked once
        layers = list(reversed(weighted_layers(self.model)))
        if not layers:
            raise NotSupportedError(f"{self.title}: the model has no weights to randomise.")
        groups = [g for g in np.array_split(np.arange(len(layers)), min(len(layers), int(self.params["stages"]))) if len(g)]
        stages = [[w for i in group for w in layers[i].weights if "float" in str(w.dtype)] for group in groups]
        seeds = [self.rng.integers(0, 2**31 - 1, size=(len(variables), 2)) for variables in stages]
        noise = [self._noise(s, len(stages), [w.value for w in v], seeds[s]) for s, v in enumerate(stages)]
        in_graph = self.objects["method"] == "saliency"
        after = (self._saliency_cascade if in_graph else self._assigned_cascade)(x, targets, stages, noise)
        flat = after.reshape(-1, *after.shape[2:])  # (stages x N, ...) -> one ranking of every stage
        ranks = rank_rows(np.abs(importance(flat, x))).reshape(len(stages), len(x), -1)
        cascade = correlate_rows(before[None], ranks).T
        scores = cascade[:, -1]
        threshold = float(self.params["threshold"])
        return {
            "scores": scores,
            "passed": np.nan_to_num(scores, nan=0.0) < threshold,
            "threshold": threshold,
            "details": {"cascade": cascade, "stage_layers": [layers[g[-1]].name for g in groups]},
        }

    def _saliency_cascade(self, x: np.ndarray, targets: np.ndarray, stages: list[list[Any]], noise: list[list[tf.Tensor]]) -> np.ndarray:
        """(stages, N, ...) saliency maps, every stage of a batch in one compiled call (no assign)."""
        explainer = self.method_explainer()
        key = ("randomise-saliency", len(stages), explainer._forward.key, x.shape[1:])
        build = lambda _fwd: _build_saliency_cascade(explainer._forward, stages, x.shape[1:])  # noqa: E731
        cascade, flat_noise = self.compiled(key, build), [z for zs in noise for z in zs]
        (maps,) = self.run_batches(lambda xb, tb: cascade(xb, tb, flat_noise), len(x), lambda a, b: (x[a:b], targets[a:b]))
        # run_batches counted each row once, as a forward row; it is one gradient per stage
        self.evaluations["forward"] -= len(x)
        self.evaluations["gradient"] += len(stages) * len(x)
        return np.swapaxes(maps, 0, 1)

    def _assigned_cascade(self, x: np.ndarray, targets: np.ndarray, stages: list[list[Any]], noise: list[list[tf.Tensor]]) -> np.ndarray:
        """(stages, N, ...) maps of any method: each stage's weights are re-drawn in place (one
        compiled call), the method explains again, and the trained values are put back after the
        last stage, or on cancel or error, whatever has been re-drawn so far."""
        run = self.method_runner()
        variables = [[w.value for w in stage] for stage in stages]
        saved: list[tf.Tensor] = []  # the trained values, in stage order
        after = []
        try:
            for stage, stage_variables in enumerate(variables):
                self.check_cancel()
                redraw = self.compiled(("randomise", stage, len(stages)), lambda _fwd, v=stage_variables: _build_redraw(v))
                saved += redraw(noise[stage])
                after.append(run(x, targets, (stage / len(stages), (stage + 1) / len(stages))))
        finally:
            if saved:
                done = [v for stage_variables in variables for v in stage_variables][:len(saved)]
                self.compiled(("restore", len(done)), lambda _fwd: _build_restore(done))(saved)
        return np.stack(after)
