"""Grad-CAM (Selvaraju et al., 2017): a layer's channels weighted by their mean gradient.

weight_k = mean over locations of d score / d A_k;  map = ReLU(sum_k weight_k A_k), upsampled.
"""

from __future__ import annotations

import tensorflow as tf

from engine.explainers.cam import CamExplainer


def gradcam(activations: tf.Tensor, gradients: tf.Tensor) -> tf.Tensor:
    """(B, h, w, K) activations and gradients -> (B, h, w) Grad-CAM."""
    weights = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
    return tf.nn.relu(tf.reduce_sum(weights * activations, axis=-1))


class GradCAM(CamExplainer):
    name = "gradcam"
    title = "Grad-CAM"
    fast = True
    description = "A convolutional layer's channels weighted by their average gradient (one backward pass)."
    combine = staticmethod(gradcam)
