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
from engine.graph import SEP, find_layer, layer_paths, tap_model

Combine = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


def _rank(layer: Any) -> int | None:
    try:
        return len(layer.output.shape)
    except (AttributeError, ValueError):  # layer called several times, or never built
        return None


def _breaks_layout(layer: Any) -> bool:
    """A Permute or Reshape whose 4-D output no longer has the input's (rows, columns) layout."""
    if isinstance(layer, keras.layers.Permute):
        return tuple(layer.dims[:2]) != (1, 2)
    if isinstance(layer, keras.layers.Reshape):
        try:
            before, after = tuple(layer.input.shape), tuple(layer.output.shape)
        except (AttributeError, ValueError):
            return True
        spatial = len(after) == 4 and (after[1], after[2]) != (1, 1)  # (1, 1, C): an SE gate; None may be any size
        return spatial and before[1:3] != after[1:3]
    return False


def _parents(layer: Any) -> list[Any]:
    """The layers feeding `layer` in its graphs (none for subclassed models)."""
    return [parent.operation for node in getattr(layer, "_inbound_nodes", []) for parent in node.parent_nodes]


def relaid_paths(model: keras.Model) -> set[str]:
    """Paths of the layers whose output is downstream of a layout-breaking Permute/Reshape."""
    found: set[str] = set()

    def walk(net: Any, prefix: str, input_relaid: bool) -> bool:
        relaid: dict[int, bool] = {}
        last = input_relaid
        for layer in net.layers:
            if isinstance(layer, keras.layers.InputLayer):
                relaid[id(layer)] = input_relaid
                continue
            parents = _parents(layer)
            inherited = any(relaid.get(id(p), input_relaid) for p in parents) if parents else input_relaid
            path = f"{prefix}{layer.name}"
            if isinstance(layer, keras.Model):
                last = walk(layer, path + SEP, inherited) or inherited
            else:
                last = inherited or _breaks_layout(layer)
            relaid[id(layer)] = last
            if last:
                found.add(path)
        return last

    walk(model, "", False)
    return found


def _spatial_candidates(model: keras.Model) -> list[str]:
    return [
        path for path in layer_paths(model)
        if not isinstance(find_layer(model, path), keras.Model) and _rank(find_layer(model, path)) == 4
    ]


def last_spatial_layer(model: keras.Model) -> str:
    """Path of the last 4-D (B, h, w, K) layer that keeps the input's spatial layout.

    Layers after a Permute or Reshape that moves rows and columns are skipped (their maps would
    come out transposed or scrambled); nested sub-models are included. If every 4-D layer is
    after one, the last 4-D layer is used (`layout_warning` then says so).
    """
    candidates = _spatial_candidates(model)
    if not candidates:
        raise NotSupportedError(f"Model {model.name!r} has no layer with a 4-D (B, h, w, channels) output for CAM.")
    relaid = relaid_paths(model)
    kept = [path for path in candidates if path not in relaid]
    return kept[-1] if kept else candidates[-1]


def layout_warning(model: keras.Model, path: str, title: str) -> list[str]:
    """A sentence when the CAM layer's output is downstream of a Permute/Reshape."""
    if path not in relaid_paths(model):
        return []
    return [
        f"{title}'s layer {path!r} comes after a reshape or permute layer, so its map may be "
        "transposed or scrambled against the image; choose a convolutional layer before it."
    ]


def resolve_layer(model: keras.Model, name: str) -> str:
    """`name` as a path; a bare name may also be any unique layer name in nested sub-models."""
    paths = layer_paths(model)
    if name in paths:
        return name
    matches = [path for path in paths if path.rsplit(SEP, 1)[-1] == name]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise BadInputError(f"Layer name {name!r} is ambiguous in model {model.name!r}; give a path: {', '.join(matches)}.")
    find_layer(model, name)  # raises the usual "not found" error
    return name


def spatial_layer(model: keras.Model, path: str | None) -> str:
    """The CAM layer: `path` (or a unique bare name) checked to be 4-D, or the default when None."""
    if path is None or path == "":
        return last_spatial_layer(model)
    path = resolve_layer(model, path)
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
        return heat[..., None], {"targets": resolved, "warnings": self.layer_warnings()}

    def layer_warnings(self) -> list[str]:
        return layout_warning(self.model, self.layer_path(), self.title)

    def layer_activations(self, x: np.ndarray, targets: np.ndarray, span: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
        """The layer's activations (N, h, w, K) and the resolved targets, in batches."""
        path = self.layer_path()
        tap = self.tap()
        fn = self.compiled(("activations", path), lambda fwd: _build_activations(fwd, tap))
        return self.run_batches(fn, len(x), lambda a, b: (x[a:b], targets[a:b]), span=span)
