"""Guided Backpropagation (Springenberg et al. 2015): the gradient with every ReLU's backward
pass also zeroing negative incoming gradients, which gives sharp, edge-like maps.

Nothing is cloned: while the compiled function is traced, each ReLU of the model (a layer's
activation="relu", an Activation("relu") layer, or a plain ReLU layer, in nested sub-models too)
is swapped for a ReLU with the guided gradient, and put back right after. The traced graph keeps
the guided ReLUs and shares the model's weights.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from engine.explainers.base import Explainer, Forward, gather_targets, resolve_targets


@tf.custom_gradient
def guided_relu(x: tf.Tensor) -> tuple[tf.Tensor, Any]:
    def grad(upstream: tf.Tensor) -> tf.Tensor:
        return upstream * tf.cast(upstream > 0, upstream.dtype) * tf.cast(x > 0, upstream.dtype)

    return tf.nn.relu(x), grad


def _all_layers(model: Any) -> Iterator[Any]:
    for layer in getattr(model, "layers", []):
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)


def _is_plain_relu(layer: Any) -> bool:
    return (
        isinstance(layer, keras.layers.ReLU)
        and layer.max_value is None
        and not float(layer.negative_slope)
        and not float(layer.threshold)
    )


@contextlib.contextmanager
def guided_relus(model: Any) -> Iterator[None]:
    """Within the block, every ReLU of `model` back-propagates only positive gradients."""
    swapped: list[tuple[Any, str, Any]] = []
    try:
        for layer in _all_layers(model):
            activation = getattr(layer, "activation", None)
            if getattr(activation, "__name__", None) == "relu":
                swapped.append((layer, "activation", activation))
                layer.activation = guided_relu
            elif _is_plain_relu(layer):
                swapped.append((layer, "call", None))
                layer.call = lambda inputs, *args, **kwargs: guided_relu(inputs)
        yield
    finally:
        for layer, attribute, saved in swapped:
            if attribute == "call":
                del layer.call
            else:
                layer.activation = saved


def _build_guided(forward: Forward) -> Any:
    @tf.function(reduce_retracing=True)
    def guided(x: tf.Tensor, targets: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            tape.watch(x)
            with guided_relus(forward.model):
                out = forward(x)
            targets = resolve_targets(out, targets)
            score = gather_targets(out, targets)
        return tape.gradient(score, x), targets

    return guided


class GuidedBackprop(Explainer):
    name = "guided_backprop"
    title = "Guided Backpropagation"
    description = "Gradient where every ReLU also blocks negative gradients on the way back: sharp edge maps."
    resolves_targets = True
    heatmap_reduce = "abs_max"

    def compute(self, x: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        fn = self.compiled(("guided_backprop",), _build_guided, kind="gradient")
        grads, resolved = self.run_batches(fn, len(x), lambda a, b: (x[a:b], targets[a:b]))
        return grads, {"targets": resolved}
