"""RISE (Petsiuk et al., 2018): the average of random smooth masks, each weighted by the
target's score on the input seen through it.

saliency = sum_i f(x * M_i) M_i / (nb_samples * probability); masks as in masking.RiseMasks.
The random draws (a coarse grid and a shift per mask) are made up front in numpy (tiny); the
full-size masks are rendered, applied, scored and summed per case inside one compiled function,
one batch at a time, so no (B, H, W) mask ever crosses to numpy and nothing is done per mask
in Python.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from engine.explainers.base import Explainer, Forward, gather_targets
from engine.explainers.masking import RiseMasks


def render_masks(rows: tf.Tensor, cols: tf.Tensor, grids: tf.Tensor, shifts: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """(B, H, W) masks: each grid upsampled by the interpolation matrices and cropped at its shift.

    The same as `RiseMasks.render` (rows[dy:dy+H] @ grid @ cols[dx:dx+W].T), batched on the device.
    """
    height, width = size
    up_rows = tf.gather(rows, shifts[:, :1] + tf.range(height)[None])  # (B, H, s)
    up_cols = tf.gather(cols, shifts[:, 1:] + tf.range(width)[None])  # (B, W, s)
    return tf.matmul(tf.matmul(up_rows, grids), up_cols, transpose_b=True)


def _build_rise(forward: Forward, rows: np.ndarray, cols: np.ndarray, size: tuple[int, int], n_cases: int) -> Any:
    rows_t, cols_t = tf.constant(rows), tf.constant(cols)

    @tf.function(reduce_retracing=True)
    def rise(x: tf.Tensor, grids: tf.Tensor, shifts: tf.Tensor, cases: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        masks = render_masks(rows_t, cols_t, grids, shifts, size)
        scores = gather_targets(forward(x * masks[..., None]), targets)
        return tf.math.unsorted_segment_sum(scores[:, None, None] * masks, cases, n_cases)  # (cases, H, W)

    return rise


class Rise(Explainer):
    name = "rise"
    title = "RISE"
    description = "Average of random smooth masks weighted by the class score each one keeps."
    defaults = {**Explainer.defaults, "nb_samples": 2000, "resolution": 7, "probability": 0.5}
    bounds = {**Explainer.bounds, "nb_samples": (1, 10**7), "resolution": (1, 4096), "probability": (0.01, 0.99)}
    stochastic = True
    image_only = True
    gradient_based = False
    heatmap_reduce = "mean"

    def compute(self, x: np.ndarray, targets: np.ndarray) -> np.ndarray:
        n_cases, n_masks = len(x), self.params["nb_samples"]
        size = tuple(x.shape[1:3])
        masks = RiseMasks.draw(n_masks, self.params["resolution"], self.params["probability"], size, self.rng)
        key = ("rise", size, masks.rows.shape, masks.cols.shape, n_cases)
        fn = self.compiled(key, lambda fwd: _build_rise(fwd, masks.rows, masks.cols, size, n_cases))
        shifts = masks.shifts.astype(np.int32)
        saliency = np.zeros((n_cases, *size), dtype=np.float64)

        def rows(a: int, b: int) -> tuple[np.ndarray, ...]:
            """Rows run mask by mask: every case under mask i, then mask i+1."""
            index = np.arange(a, b)
            cases, mask = index % n_cases, index // n_cases
            inputs = np.broadcast_to(x[0], (b - a, *x.shape[1:])) if n_cases == 1 else x[cases]
            return inputs, masks.grids[mask], shifts[mask], cases.astype(np.int32), targets[cases]

        def consume(a: int, b: int, out: tuple[np.ndarray, ...]) -> None:
            saliency[...] += out[0]

        self.run_batches(fn, n_cases * n_masks, rows, consume)
        return (saliency / (n_masks * masks.probability)).astype(np.float32)[..., None]
