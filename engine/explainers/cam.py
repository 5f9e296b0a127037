"""What the class-activation-map methods share: which layer, its activations and gradients, and
the upsampling of a coarse (h, w) map to the input's (H, W).

A CAM method only supplies `combine(activations, gradients) -> (B, h, w)` in TensorFlow ops;
everything else (the tap model that reaches layers inside nested sub-models, the compiled
function that returns activations and gradients from one forward+backward pass, batching,
caching per model) lives here. The layer is named by its path, e.g. "features/conv_b".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import keras
import numpy as np
import tensorflow as tf

from engine.errors import BadInputError, NotSupportedError
from engine.explainers.base import Explainer, Forward, gather_targets, resolve_targets
from engine.graph import find_layer, layer_paths, tap_model

Combine = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


def _rank(layer: Any) -> int | None:
    try:
        return len(layer.output.shape)
    except (AttributeError, ValueError):  # layer called several times, or never built
        return None


def last_spatial_layer(model: keras.Model) -> str:
    """Path of the last layer whose output is 4-D (B, h, w, K), nested sub-models included."""
    for path in reversed(layer_paths(model)):
        layer = find_layer(model, path)
        if not isinstance(layer, keras.Model) and _rank(layer) == 4:
            return path
    raise NotSupportedError(f"Model {model.name!r} has no layer with a 4-D (B, h, w, channels) output for CAM.")


def spatial_layer(model: keras.Model, path: str | None) -> str:
    """The CAM layer: `path` checked to be 4-D, or the last 4-D layer when None."""
    if path is None or path == "":
        return last_spatial_layer(model)
    rank = _rank(find_layer(model, path))
    if rank is not None and rank != 4:
        raise BadInputError(f"Layer {path!r} has a {rank}-D output; CAM needs a 4-D (B, h, w, channels) one.")
    return path


def upsample(maps: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """(B, h, w) -> (B, H, W), bilinear with half-pixel centres (as skimage order=1, mode=edge)."""
    return tf.image.resize(maps[..., None], size, method="bilinear")[..., 0]


def _build_cam(forward: Forward, net: keras.Model, combine: Combine, size: tuple[int, int]) -> Any:
    @tf.function(reduce_retracing=True)
    def cam(x: tf.Tensor, targets: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            activations, out = forward(x, net)
            targets = resolve_targets(out, targets)
            score = gather_targets(out, targets)
        gradients = tape.gradient(score, activations)
        return upsample(combine(activations, gradients), size), targets

    return cam


def _build_activations(forward: Forward, net: keras.Model) -> Any:
    @tf.function(reduce_retracing=True)
    def activations(x: tf.Tensor, targets: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        maps, out = forward(x, net)
        return maps, resolve_targets(out, targets)

    return activations


class CamExplainer(Explainer):
    """Base of the CAM methods: one value per location of a layer's map, upsampled to the input."""

    defaults = {**Explainer.defaults, "layer": None}
    image_only = True
    resolves_targets = True
    heatmap_reduce = "mean"
    combine: ClassVar[Combine]

    def check_params(self) -> None:
        self.layer_path()  # an unknown or non-spatial layer fails at creation, not mid-run

    def layer_path(self) -> str:
        return spatial_layer(self.model, self.params["layer"])

    def tap(self) -> keras.Model:
        """Model from the input to [the layer's output, the model's output] (cached per model)."""
        path = self.layer_path()
        return self.compiled(("tap", path), lambda _: tap_model(self.model, [path]))

    def compute(self, x: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, dict]:
        path = self.layer_path()
        combine = type(self).combine
        size = x.shape[1:3]
        tap = self.tap()
        fn = self.compiled(("cam", self.name, path, size), lambda fwd: _build_cam(fwd, tap, combine, size), kind="gradient")
        heat, resolved = self.run_batches(fn, len(x), lambda a, b: (x[a:b], targets[a:b]))
        return heat[..., None], {"targets": resolved}

    def layer_activations(self, x: np.ndarray, targets: np.ndarray, span: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
        """The layer's activations (N, h, w, K) and the resolved targets, in batches."""
        path = self.layer_path()
        tap = self.tap()
        fn = self.compiled(("activations", path), lambda fwd: _build_activations(fwd, tap))
        return self.run_batches(fn, len(x), lambda a, b: (x[a:b], targets[a:b]), span=span)
