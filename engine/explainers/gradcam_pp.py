"""Grad-CAM++ (Chattopadhay et al., 2018): per-location weights from higher-order terms.

With the exponential trick (score Y = exp(S)) the 2nd and 3rd derivatives of Y are exp(S) g^2
and exp(S) g^3 where g = dS/dA, so

    alpha_ij^k = g_ij^2 / (2 g_ij^2 + sum_ab A_ab^k g_ij^3)      (0 where the denominator is 0)
    weight_k   = sum_ij alpha_ij^k ReLU(g_ij^k) / sum_ij alpha_ij^k
    map        = ReLU(sum_k weight_k A^k)

exp(S) cancels in alpha and is a positive per-case factor in the weights; it is left out (it
would overflow for large logits and does not change the map's shape). The alphas are normalised
to sum to one per channel as in the authors' reference code (and tf-keras-vis).
"""

from __future__ import annotations

import tensorflow as tf

from engine.explainers.cam import CamExplainer


def _nonzero(values: tf.Tensor) -> tf.Tensor:
    return tf.where(values == 0.0, tf.ones_like(values), values)


def gradcam_pp(activations: tf.Tensor, gradients: tf.Tensor) -> tf.Tensor:
    """(B, h, w, K) activations and gradients -> (B, h, w) Grad-CAM++."""
    g2 = tf.square(gradients)
    g3 = g2 * gradients
    total = tf.reduce_sum(activations, axis=(1, 2), keepdims=True)
    alphas = g2 / _nonzero(2.0 * g2 + total * g3)
    alphas = alphas / _nonzero(tf.reduce_sum(alphas, axis=(1, 2), keepdims=True))
    weights = tf.reduce_sum(alphas * tf.nn.relu(gradients), axis=(1, 2), keepdims=True)
    return tf.nn.relu(tf.reduce_sum(weights * activations, axis=-1))


class GradCAMPlusPlus(CamExplainer):
    name = "gradcam_pp"
    title = "Grad-CAM++"
    fast = True
    description = "Grad-CAM with per-location weights from higher-order gradient terms; better for several objects."
    combine = staticmethod(gradcam_pp)
