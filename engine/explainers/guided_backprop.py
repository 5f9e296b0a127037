"""Guided Backpropagation (Springenberg et al. 2015): the gradient with every ReLU's backward
pass also zeroing negative incoming gradients, which gives sharp, edge-like maps.

Nothing is cloned: while the compiled function is traced, each rectifier of the model (a
layer's activation="relu"/"relu6", an Activation layer of those, or a ReLU layer of any
configuration, e.g. MobileNet's ReLU(6.)), in nested sub-models too, is followed by an identity
whose gradient keeps only the positive part of the incoming gradient; they are put back right
after. The rectifier keeps its own forward op and derivative, so the backward rule is
f'(x) * max(dy, 0): for a ReLU exactly (x > 0) * (dy > 0) * dy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from engine.explainers.base import Explainer, Forward, gather_targets, resolve_targets

RECTIFIERS = ("relu", "relu6")


@tf.custom_gradient
def positive_gradient(y: tf.Tensor) -> tuple[tf.Tensor, Any]:
    """Identity forward; backward lets only positive gradients through."""
    return tf.identity(y), tf.nn.relu


def _guided(function: Callable[..., Any]) -> Callable[..., Any]:
    return lambda inputs, *args, **kwargs: positive_gradient(function(inputs, *args, **kwargs))


def _all_layers(model: Any) -> Iterator[Any]:
    for layer in getattr(model, "layers", []):
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)


def _rectifiers(model: Any) -> Iterator[Any]:
    """Every layer whose forward pass rectifies: a relu/relu6 activation or a ReLU layer."""
    for layer in _all_layers(model):
        if getattr(getattr(layer, "activation", None), "__name__", None) in RECTIFIERS or isinstance(layer, keras.layers.ReLU):
            yield layer


@contextlib.contextmanager
def guided_relus(model: Any) -> Iterator[None]:
    """Within the block, every rectifier of `model` back-propagates only positive gradients."""
    swapped: list[tuple[Any, str, Any]] = []
    try:
        for layer in _all_layers(model):
            activation = getattr(layer, "activation", None)
            if getattr(activation, "__name__", None) in RECTIFIERS:
                swapped.append((layer, "activation", activation))
                layer.activation = _guided(activation)
            elif isinstance(layer, keras.layers.ReLU):
                swapped.append((layer, "call", None))
                layer.call = _guided(layer.call)
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
    fast = True
    description = "Gradient where every ReLU also blocks negative gradients on the way back: sharp edge maps."
    resolves_targets = True
    heatmap_reduce = "abs_max"

    def compute(self, x: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        fn = self.compiled(("guided_backprop",), _build_guided, kind="gradient")
        grads, resolved = self.run_batches(fn, len(x), lambda a, b: (x[a:b], targets[a:b]))
        caveat = [] if any(True for _ in _rectifiers(self.model)) else [
            "Guided backpropagation found no ReLU to gate in this model, so its map equals the plain gradient (saliency)."
        ]
        return grads, {"targets": resolved, "warnings": caveat}
