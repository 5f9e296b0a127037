"""Score-CAM (Wang et al., 2020): channels weighted by how well they alone reveal the class.

Each channel A_k of the layer is upsampled to the input size and min-max normalised to a mask
H_k in [0, 1]; its weight is the target's score on the masked input x * H_k. Channels that are
flat on a case carry no mask and get weight 0 (they are not evaluated, as in the authors' code).
map = ReLU(sum_k weight_k A_k), upsampled. The paper scores with the softmax probability, so
`output` defaults to "probability" here. One forward pass per (case, channel), in batches.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from engine.explainers.base import Forward, gather_targets
from engine.explainers.cam import CamExplainer, upsample


def normalised_masks(maps: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """(B, h, w) channel maps -> (B, H, W) upsampled and min-max scaled to [0, 1]."""
    up = upsample(maps, size)
    low = tf.reduce_min(up, axis=(1, 2), keepdims=True)
    high = tf.reduce_max(up, axis=(1, 2), keepdims=True)
    span = high - low
    return tf.math.divide_no_nan(up - low, span)


def _build_channel_scores(forward: Forward, size: tuple[int, int]) -> Any:
    @tf.function(reduce_retracing=True)
    def channel_scores(x: tf.Tensor, maps: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        masked = x * normalised_masks(maps, size)[..., None]
        return gather_targets(forward(masked), targets)

    return channel_scores


def equal_weights_warning(weights: np.ndarray, tolerance: float = 0.02) -> list[str]:
    """A sentence when, in every case, the channels' scores differ by under `tolerance` of their mean."""
    spread = []
    for row in weights:
        used = row[row != 0]
        if len(used) > 1:
            spread.append((used.max() - used.min()) / max(abs(float(used.mean())), 1e-30))
    if spread and max(spread) < tolerance:
        return [
            "Score-CAM's channel weights are nearly equal: every channel keeps about the same class score, "
            "so the map is not class-discriminative (an untrained model, or a layer far from the output)."
        ]
    return []


class ScoreCAM(CamExplainer):
    name = "scorecam"
    title = "Score-CAM"
    description = "Each channel of a layer, used as a mask on the input, weighted by the class score it keeps."
    defaults = {**CamExplainer.defaults, "output": "probability"}
    gradient_based = False

    def compute(self, x: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, dict]:
        activations, resolved = self.layer_activations(x, targets, span=(0.0, 0.02))
        flat = activations.max(axis=(1, 2)) <= activations.min(axis=(1, 2))
        cases, channels = np.nonzero(~flat)  # (case, channel) pairs worth a forward pass
        size = x.shape[1:3]
        fn = self.compiled(("scorecam", size), lambda fwd: _build_channel_scores(fwd, size))
        weights = np.zeros((len(x), activations.shape[-1]), dtype=np.float32)

        def rows(a: int, b: int) -> tuple[np.ndarray, ...]:
            c, k = cases[a:b], channels[a:b]
            return x[c], activations[c, :, :, k], resolved[c]

        def consume(a: int, b: int, out: tuple[np.ndarray, ...]) -> None:
            weights[cases[a:b], channels[a:b]] = out[0]

        self.run_batches(fn, len(cases), rows, consume, span=(0.02, 1.0))
        cam = np.maximum(np.einsum("nhwk,nk->nhw", activations, weights), 0.0)
        heat = upsample(tf.constant(cam), size).numpy()
        return heat[..., None], {"targets": resolved, "warnings": self.layer_warnings() + equal_weights_warning(weights)}
