"""Does the map point where the reviewer says the evidence is? Two numpy-only scores of one
heat map against a region of interest (a box the reviewer drew on the case).

pointing game (Zhang et al., 2016): a hit when the map's largest value lies inside the box.
mass inside (the energy-based pointing game of Wang et al., 2020): the share of the map's
positive mass inside the box, in [0, 1]; for an all-negative map its |values| are used.
The box is (top, left, bottom, right) in image pixels, bottom/right exclusive; a map of
another resolution (a coarse CAM) is compared after scaling the box to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import BadInputError


@dataclass(frozen=True)
class RegionScores:
    pointing_hit: bool
    mass_inside: float  # NaN for an all-zero map
    box: tuple[int, int, int, int]


def region_mask(shape: tuple[int, int], box: tuple[float, float, float, float], image_shape: tuple[int, int]) -> np.ndarray:
    """Boolean (h, w) mask of the box, scaled from the image's (H, W) to the map's (h, w)."""
    height, width = shape
    top, left, bottom, right = box
    rows, cols = height / image_shape[0], width / image_shape[1]
    r0, r1 = int(np.floor(top * rows)), int(np.ceil(bottom * rows))
    c0, c1 = int(np.floor(left * cols)), int(np.ceil(right * cols))
    r0, c0 = max(0, r0), max(0, c0)
    r1, c1 = min(height, r1), min(width, c1)
    if r1 <= r0 or c1 <= c0:
        raise BadInputError(f"The region {tuple(box)} does not overlap the image {tuple(image_shape)}.")
    mask = np.zeros(shape, dtype=bool)
    mask[r0:r1, c0:c1] = True
    return mask


def region_scores(heatmap: np.ndarray, box: tuple[float, float, float, float], image_shape: tuple[int, int]) -> RegionScores:
    """Pointing game and mass inside for one (h, w) heat map and a box on the (H, W) image."""
    heat = np.asarray(heatmap, dtype=np.float64)
    mask = region_mask(heat.shape[:2], box, image_shape)
    positive = np.maximum(heat, 0.0)
    if positive.sum() == 0:
        positive = np.abs(heat)
    total = positive.sum()
    peak = np.unravel_index(int(np.argmax(heat)), heat.shape)
    clean = tuple(int(round(v)) for v in box)
    return RegionScores(bool(mask[peak]), float(positive[mask].sum() / total) if total > 0 else float("nan"), clean)
