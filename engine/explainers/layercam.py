"""LayerCAM (Jiang et al., 2021): every location weighted by its own positive gradient.

map = ReLU(sum_k ReLU(dS/dA_k) * A_k), upsampled; finer than Grad-CAM on shallow layers.
"""

from __future__ import annotations

import tensorflow as tf

from engine.explainers.cam import CamExplainer


def layercam(activations: tf.Tensor, gradients: tf.Tensor) -> tf.Tensor:
    """(B, h, w, K) activations and gradients -> (B, h, w) LayerCAM."""
    return tf.nn.relu(tf.reduce_sum(tf.nn.relu(gradients) * activations, axis=-1))


class LayerCAM(CamExplainer):
    name = "layercam"
    title = "LayerCAM"
    fast = True
    description = "Activations weighted location by location by their positive gradient; works on early layers too."
    combine = staticmethod(layercam)
