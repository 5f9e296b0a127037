"""Does the map point where the reviewer says the evidence is? Two numpy-only scores of one
heat map against a region of interest (a box or a free-form polygon the reviewer drew on the case).

pointing game (Zhang et al., 2016): a hit when the map's largest value lies inside the box.
mass inside (the energy-based pointing game of Wang et al., 2020): the share of the map's
positive mass inside the box, in [0, 1]; for an all-negative map its |values| are used.
The box is (top, left, bottom, right) in image pixels, bottom/right exclusive; a map of
another resolution (a coarse CAM) is compared after scaling the box to it, every map cell the
box touches counting as inside. A polygon is (M, 2) vertices (x, y) = (column, row) in image
pixels, as drawn; an image pixel is inside when its centre is (even-odd rule), and a map cell
when any of its image pixels is, so a box drawn as a polygon scores as the box does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import BadInputError


@dataclass(frozen=True)
class RegionScores:
    pointing_hit: bool
    mass_inside: float  # NaN for an all-zero map
    box: tuple[int, int, int, int]  # the box, or the polygon's bounding box
    polygon: tuple[tuple[float, float], ...] | None = None  # (x, y) vertices of a free-form region

    def as_record(self) -> dict[str, object]:
        """JSON-ready: the region (box or polygon) and both scores."""
        shape: dict[str, object] = (
            {"polygon_x_y": [list(p) for p in self.polygon]} if self.polygon is not None
            else {"box_top_left_bottom_right": list(self.box)}
        )
        return {**shape, "pointing_hit": self.pointing_hit, "mass_inside": self.mass_inside}


def inside_polygon(x: np.ndarray, y: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd rule: which points (x, y) lie inside the closed polygon (M, 2)."""
    inside = np.zeros(np.shape(x), dtype=bool)
    for (x0, y0), (x1, y1) in zip(polygon, np.roll(polygon, -1, axis=0)):
        crosses = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at_x = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (x < at_x)
    return inside


def polygon_mask(shape: tuple[int, int], polygon: np.ndarray, image_shape: tuple[int, int]) -> np.ndarray:
    """Boolean (h, w) mask of the map cells holding any image pixel whose centre is in `polygon`."""
    height, width = shape
    image_h, image_w = image_shape
    rows = np.repeat(np.arange(image_h) + 0.5, image_w).reshape(image_h, image_w)
    cols = np.tile(np.arange(image_w) + 0.5, image_h).reshape(image_h, image_w)
    pixels = inside_polygon(cols, rows, np.asarray(polygon, dtype=np.float64))
    mask = np.zeros(shape, dtype=bool)
    cell_r = np.arange(image_h) * height // image_h  # i * h // H < h: always a cell of the map
    cell_c = np.arange(image_w) * width // image_w
    hit_r, hit_c = np.nonzero(pixels)
    mask[cell_r[hit_r], cell_c[hit_c]] = True
    if not mask.any():
        raise BadInputError(f"The region (a polygon of {len(polygon)} points) holds no pixel of the image {tuple(image_shape)}.")
    return mask


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
    return _scores(heat, region_mask(heat.shape[:2], box, image_shape), tuple(int(round(v)) for v in box))


def polygon_scores(heatmap: np.ndarray, polygon: np.ndarray, image_shape: tuple[int, int]) -> RegionScores:
    """Pointing game and mass inside for one (h, w) heat map and a polygon (M, 2) of (x, y) on the image."""
    heat = np.asarray(heatmap, dtype=np.float64)
    points = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    if len(points) < 3:
        raise BadInputError(f"A free-form region needs at least 3 points, got {len(points)}.")
    (left, top), (right, bottom) = points.min(axis=0), points.max(axis=0)
    bounds = tuple(int(round(v)) for v in (top, left, bottom, right))
    vertices = tuple((round(float(x), 1), round(float(y), 1)) for x, y in points)
    found = _scores(heat, polygon_mask(heat.shape[:2], points, image_shape), bounds)
    return RegionScores(found.pointing_hit, found.mass_inside, bounds, vertices)


def _scores(heat: np.ndarray, mask: np.ndarray, box: tuple[int, ...]) -> RegionScores:
    positive = np.maximum(heat, 0.0)
    if positive.sum() == 0:
        positive = np.abs(heat)
    total = positive.sum()
    peak = np.unravel_index(int(np.argmax(heat)), heat.shape)
    return RegionScores(bool(mask[peak]), float(positive[mask].sum() / total) if total > 0 else float("nan"), box)
