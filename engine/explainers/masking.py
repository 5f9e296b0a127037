"""Masks for the perturbation methods: occlusion patches and RISE's random smooth masks.

Everything here is plain numpy and is generated one batch at a time: the random draws that
decide a mask are tiny (a coarse grid and a shift) and are drawn up front, so the result does
not depend on the batch size, while the full-size masks never exist all at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.errors import BadInputError


# --- occlusion ---------------------------------------------------------------------------


def as_pair(value: int | tuple[int, ...], ndim: int, name: str) -> tuple[int, ...]:
    """`patch_size` and `stride` accept one int for every spatial axis or one per axis."""
    values = (value,) * ndim if np.isscalar(value) else tuple(value)
    if len(values) != ndim or any(int(v) < 1 for v in values):
        raise BadInputError(f"{name} must be a positive int or {ndim} positive ints, got {value!r}.")
    return tuple(int(v) for v in values)


def patch_anchors(spatial: tuple[int, ...], patch: tuple[int, ...], stride: tuple[int, ...]) -> np.ndarray:
    """Top-left corners (P, ndim) of patches that tile `spatial` every `stride`.

    When the stride does not land on the far edge a last patch is added flush with it, so that
    every location is covered at least once (no blind border in the map).
    """
    axes = []
    for size, p, s in zip(spatial, patch, stride):
        if p > size:
            raise BadInputError(f"Occlusion: patch_size {p} is larger than the input ({size}); use 1 for tabular rows.")
        starts = list(range(0, size - p + 1, s))
        if starts[-1] != size - p:
            starts.append(size - p)
        axes.append(starts)
    grid = np.meshgrid(*axes, indexing="ij")
    return np.stack([g.ravel() for g in grid], axis=1).astype(np.int64)


def _indicators(anchors: np.ndarray, patch: tuple[int, ...], spatial: tuple[int, ...]) -> list[np.ndarray]:
    """Per axis, (P, size) 0/1 rows saying which positions each patch covers along that axis.

    A patch is the outer product of its axis indicators, so masks and sums over patches are
    products of these small arrays instead of loops over (P, H, W) masks.
    """
    return [
        ((np.arange(size) >= anchors[:, [k]]) & (np.arange(size) < anchors[:, [k]] + patch[k])).astype(np.float32)
        for k, size in enumerate(spatial)
    ]


def _sum_patches(weights: np.ndarray, indicators: list[np.ndarray]) -> np.ndarray:
    """(N, *spatial): sum_p weights[n, p] * mask_p over 1-D or 2-D patches, as matrix products."""
    weighted = weights[:, :, None] * indicators[0][None]  # (N, P, size_0)
    return weighted.sum(axis=1) if len(indicators) == 1 else np.matmul(weighted.transpose(0, 2, 1), indicators[1])


def patch_masks(anchors: np.ndarray, patch: tuple[int, ...], spatial: tuple[int, ...]) -> np.ndarray:
    """Occluder masks (P, *spatial) of 1 inside each patch, 0 elsewhere."""
    indicators = _indicators(anchors, patch, spatial)
    return indicators[0] if len(indicators) == 1 else indicators[0][:, :, None] * indicators[1][:, None, :]


def overlap_average(deltas: np.ndarray, anchors: np.ndarray, patch: tuple[int, ...], spatial: tuple[int, ...]) -> np.ndarray:
    """(N, *spatial): each location gets the mean of the drops (N, P) of the patches covering it."""
    indicators = [i.astype(np.float64) for i in _indicators(anchors, patch, spatial)]
    total = _sum_patches(deltas.astype(np.float64), indicators)
    count = _sum_patches(np.ones((1, len(anchors))), indicators)
    return (total / np.maximum(count, 1.0)).astype(np.float32)


# --- RISE --------------------------------------------------------------------------------


def _interpolation(resolution: int, cell: int) -> np.ndarray:
    """(resolution+1)*cell x resolution matrix of skimage's bilinear upsampling along one axis.

    Upsampling a grid G is then rows @ G @ cols.T, exactly what RISE's reference code gets from
    `skimage.transform.resize(G, order=1, mode="reflect")`, at the cost of two small matmuls.
    """
    from skimage.transform import resize

    up = (resolution + 1) * cell
    return resize(
        np.eye(resolution), (up, resolution), order=1, mode="reflect",
        anti_aliasing=False, preserve_range=True,
    ).astype(np.float32)


@dataclass(frozen=True)
class RiseMasks:
    """The random draws behind RISE's masks (Petsiuk et al., 2018), rendered batch by batch.

    Each mask is a binary grid of `resolution` x `resolution` cells, on with `probability`,
    upsampled bilinearly to (resolution+1) cells of ceil(size/resolution) pixels and cropped at
    a random shift within one cell, so the masks are smooth and not aligned to one grid.
    """

    grids: np.ndarray  # (N, s, s) float32 0/1
    shifts: np.ndarray  # (N, 2) int: crop offset along rows, columns
    rows: np.ndarray  # (up_h, s) interpolation
    cols: np.ndarray  # (up_w, s)
    shape: tuple[int, int]
    probability: float

    @classmethod
    def draw(cls, n: int, resolution: int, probability: float, shape: tuple[int, int], rng: np.random.Generator) -> RiseMasks:
        if resolution < 1 or not 0.0 < probability < 1.0:
            raise BadInputError(
                f"RISE needs resolution >= 1 and 0 < probability < 1, got {resolution} and {probability}."
            )
        height, width = shape
        cell_h, cell_w = math.ceil(height / resolution), math.ceil(width / resolution)
        grids = (rng.random((n, resolution, resolution)) < probability).astype(np.float32)
        shifts = np.stack([rng.integers(0, cell_h, n), rng.integers(0, cell_w, n)], axis=1)
        return cls(grids, shifts, _interpolation(resolution, cell_h), _interpolation(resolution, cell_w),
                   (height, width), float(probability))

    def __len__(self) -> int:
        return len(self.grids)

    def render(self, start: int, stop: int) -> np.ndarray:
        """Masks start..stop as float32 (B, H, W) in [0, 1]."""
        height, width = self.shape
        dy, dx = self.shifts[start:stop, 0], self.shifts[start:stop, 1]
        rows = self.rows[dy[:, None] + np.arange(height)]  # (B, H, s)
        cols = self.cols[dx[:, None] + np.arange(width)]  # (B, W, s)
        return np.matmul(np.matmul(rows, self.grids[start:stop]), cols.transpose(0, 2, 1))
