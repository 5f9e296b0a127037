"""Target scores of masked inputs, with the masking inside the compiled function.

The perturbation methods evaluate fill + keep * (x - fill) for thousands of masks. Done in
numpy that costs a few full-size temporaries per batch (~10% of a MobileNetV2 forward pass);
inside the tf.function it is fused and multi-threaded next to the model, and the only arrays
crossing over are the case (often broadcast, not copied) and the (B, H, W) masks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from engine.explainers.base import Explainer, Forward, gather_targets


def _build_masked_scores(forward: Forward) -> Any:
    @tf.function(reduce_retracing=True)
    def masked_scores(x: tf.Tensor, keep: tf.Tensor, fill: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        if keep.shape.rank == x.shape.rank - 1:  # (B, H, W) masks over (B, H, W, C) images
            keep = keep[..., None]
        if fill.shape.rank == 1:  # one fill value per row (else a fill input per row, x's shape)
            fill = tf.reshape(fill, [-1] + [1] * (x.shape.rank - 1))
        return gather_targets(forward(fill + keep * (x - fill)), targets)

    return masked_scores


def masked_rows(x: np.ndarray, keep: np.ndarray, fill: float | np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, ...]:
    """One batch for `masked_score_batches`: inputs (B, ...) (a broadcast view is fine), keep masks
    (B, *spatial), the fill (a number, or one fill input per row of x's shape: a metric's "mean" or
    "blur" baseline), and the target per row."""
    if np.ndim(fill) == 0:
        return x, keep.astype(np.float32, copy=False), np.full(len(keep), fill, np.float32), targets
    return x, keep.astype(np.float32, copy=False), np.asarray(fill, np.float32), targets


def masked_score_batches(explainer: Explainer, n_rows: int, rows: Any, consume: Any = None,
                         span: tuple[float, float] = (0.0, 1.0), fill_inputs: bool = False) -> Any:
    """`Explainer.score_batches` for rows built by `masked_rows`: one score per row.

    `fill_inputs`: the rows' fills are inputs of x's shape, not numbers (a function of its own:
    one traced for both would relax the fill's rank to unknown, and the model's input with it)."""
    fn = explainer.compiled(("masked_scores", fill_inputs), _build_masked_scores)
    return explainer.run_batches(fn, n_rows, rows, consume, span)
