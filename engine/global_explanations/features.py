"""What a "feature" is for a global explanation: a column of a row, or a group of pixels.

Tabular rows (N, F) have F features. For images (N, H, W, C) a feature is a region shared by
every case, so that it can be permuted across cases or switched off in every case alike: grid
cells of `cell_size` pixels, SLIC superpixels of the class-average image (the mean over the
cases given), or a fixed (H, W) segmentation the caller passes. Region values span channels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.errors import BadInputError

UNITS = ("grid", "slic")


def units_of(x: np.ndarray, features: str | np.ndarray = "grid", cell_size: int = 4, n_segments: int = 16) -> np.ndarray | None:
    """Labels (H, W) 0..M-1 of the regions of images `x`; None for rows (every column is a feature)."""
    if x.ndim == 2:
        return None
    if x.ndim != 4:
        raise BadInputError(f"Global explanations take rows (N, F) or images (N, H, W, C); got shape {x.shape}.")
    height, width = x.shape[1:3]
    if isinstance(features, np.ndarray) or not isinstance(features, str):
        labels = np.asarray(features)
        if labels.shape != (height, width) or labels.dtype.kind not in "iu":
            raise BadInputError(f"A fixed segmentation must be integer labels of shape {(height, width)}; got {labels.shape}.")
        return _relabel(labels)
    if features == "grid":
        size = int(cell_size)
        if not 1 <= size <= max(height, width):
            raise BadInputError(f"cell_size must be between 1 and {max(height, width)}; got {cell_size}.")
        columns = -(-width // size)
        rows, cols = np.meshgrid(np.arange(height) // size, np.arange(width) // size, indexing="ij")
        return (rows * columns + cols).astype(np.int32)
    if features == "slic":
        from engine.explainers.superpixels import segment

        return segment(x.mean(axis=0), int(n_segments), "slic")
    raise BadInputError(f"Unknown image features {features!r}; choose one of {', '.join(UNITS)} or pass a segmentation.")


def _relabel(labels: np.ndarray) -> np.ndarray:
    _, dense = np.unique(labels, return_inverse=True)
    return dense.reshape(labels.shape).astype(np.int32)


def n_features(x: np.ndarray, units: np.ndarray | None) -> int:
    return int(x.shape[1]) if units is None else int(units.max()) + 1


def feature_names(x: np.ndarray, units: np.ndarray | None, names: Any = None) -> tuple[str, ...]:
    """The dataset's column names if it has the right number, else "feature i" / "region i"."""
    count = n_features(x, units)
    if names is not None and len(names) == count:
        return tuple(str(n) for n in names)
    return tuple(f"{'feature' if units is None else 'region'} {i}" for i in range(count))


def masks(units: np.ndarray | None, count: int) -> np.ndarray | None:
    """(M, H, W, 1) bool: the pixels of each region (None for rows)."""
    if units is None:
        return None
    return (units[None] == np.arange(count)[:, None, None])[..., None]
