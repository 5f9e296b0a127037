"""Occlusion (Zeiler & Fergus, 2014): how much the target score drops when a patch is hidden.

A patch of `patch_size` (all channels) slides every `stride` and takes `fill_value`; each
location gets the mean drop f(x) - f(x occluded) over the patches that covered it. Tabular rows
are 1-D: patch_size=1 hides one feature at a time (sequences (N, T, C): a window of time steps), so for a linear model the map is exactly
w * (x - fill_value).
"""

from __future__ import annotations

import numpy as np

from engine.explainers.base import Explainer
from engine.explainers.masking import as_pair, overlap_average, patch_anchors, patch_masks
from engine.explainers.perturb import masked_rows, masked_score_batches


class Occlusion(Explainer):
    name = "occlusion"
    title = "Occlusion"
    description = (
        "Drop in the class score when a sliding patch of the input is hidden. "
        "Patch and stride 0: scaled to the input (an eighth of its side, stride half a patch)."
    )
    # 0 = scale with the input: an eighth of its smallest side, stride half a patch (an 8x8
    # input gets 1x1 patches, a 224x224 one 28x28 patches every 14 pixels).
    defaults = {**Explainer.defaults, "patch_size": 0, "stride": 0, "fill_value": 0.0}
    bounds = {**Explainer.bounds, "patch_size": (0, 100000), "stride": (0, 100000)}
    gradient_based = False
    heatmap_reduce = "mean"  # one value per location, repeated over channels

    def compute(self, x: np.ndarray, targets: np.ndarray) -> np.ndarray:
        channels = x.ndim >= 3  # images (N, H, W, C) and sequences (N, T, C): patches span all channels
        spatial = x.shape[1:-1] if channels else x.shape[1:]
        patch_size, stride_size = self.params["patch_size"], self.params["stride"]
        if np.isscalar(patch_size) and int(patch_size) == 0:
            patch_size = max(1, min(spatial) // 8)
        if np.isscalar(stride_size) and int(stride_size) == 0:
            stride_size = max(1, int(np.min(patch_size)) // 2)
        patch = as_pair(patch_size, len(spatial), "patch_size")
        stride = as_pair(stride_size, len(spatial), "stride")
        anchors = patch_anchors(spatial, patch, stride)
        fill = float(self.params["fill_value"])
        n_patches = len(anchors)
        per_case = n_patches + 1  # the last row of each case is the case itself, unoccluded

        def rows(a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
            index = np.arange(a, b)
            cases, where = index // per_case, index % per_case
            keep = 1.0 - patch_masks(anchors[np.minimum(where, n_patches - 1)], patch, spatial)
            keep[where == n_patches] = 1.0
            return masked_rows(x[cases], keep, fill, targets[cases])

        (scores,) = masked_score_batches(self, len(x) * per_case, rows)
        scores = scores.reshape(len(x), per_case)
        drops = scores[:, -1:] - scores[:, :-1]
        maps = overlap_average(drops, anchors, patch, spatial)
        return maps[..., None] if channels else maps
