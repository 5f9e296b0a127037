"""Interpretable units for LIME and Kernel SHAP: superpixels of an image, or the features of a row.

Both methods switch units on and off; a unit that is "off" takes the fill value. Keeping the
segmentation and the composition of perturbed inputs here lets the two methods share them and
lets the tests check them without a model.
"""

from __future__ import annotations

import math

import numpy as np

from engine.errors import BadInputError

SEGMENTATIONS = ("slic", "quickshift")


def segment(x: np.ndarray, n_segments: int, method: str = "slic") -> np.ndarray:
    """Labels 0..M-1 for one case: superpixels (H, W) of an image, or one unit per feature.

    Images are min-max scaled to 0..1 first, so the segmentation does not depend on the model's
    preprocessing (0..1, -1..1, ImageNet mean/std all give the same superpixels).
    """
    if x.ndim == 1:
        return np.arange(x.shape[0], dtype=np.int32)
    if x.ndim == 2:  # a sequence (T, C): n_segments contiguous windows (one per step if T <= n_segments)
        return windows(x.shape[0], n_segments)
    if x.ndim != 3:
        raise BadInputError(f"Superpixels need an (H, W, C) image or an (F,) row, got shape {x.shape}.")
    if method not in SEGMENTATIONS:
        raise BadInputError(f"Unknown segmentation {method!r}; choose one of {', '.join(SEGMENTATIONS)}.")
    if n_segments < 1:
        raise BadInputError(f"n_segments must be at least 1, got {n_segments}.")
    image = _unit_range(x)
    labels = _slic(image, n_segments) if method == "slic" else _quickshift(image, n_segments)
    return _relabel(labels)


def windows(length: int, n_segments: int) -> np.ndarray:
    """Labels (length,) of `n_segments` (at most `length`) contiguous, near-equal windows."""
    if n_segments < 1:
        raise BadInputError(f"n_segments must be at least 1, got {n_segments}.")
    return (np.arange(length) * min(n_segments, length) // length).astype(np.int32)


def _slic(image: np.ndarray, n_segments: int) -> np.ndarray:
    """SLIC superpixels; on textured images (noise, fine texture) SLIC can merge everything into
    a handful of segments, so compactness is raised tenfold until at least a quarter of the
    requested segments come out (very compact SLIC is close to a regular grid)."""
    from skimage.segmentation import slic

    gray = image.shape[-1] == 1
    compactness = 0.1 if gray else 10.0
    for _ in range(4):
        labels = slic(
            image[..., 0] if gray else image,
            n_segments=n_segments,
            compactness=compactness,
            channel_axis=None if gray else -1,
            start_label=0,
        )
        if labels.max() + 1 >= max(2, n_segments // 4):
            break
        compactness *= 10.0
    return labels


def _quickshift(image: np.ndarray, n_segments: int) -> np.ndarray:
    """Quickshift has no segment count: its kernel and cut-off grow with the side of the area each
    segment should cover (side/8 and side give about `n_segments` on natural images)."""
    from skimage.segmentation import quickshift

    rgb = image if image.shape[-1] == 3 else np.repeat(image.mean(axis=-1, keepdims=True), 3, axis=-1)
    side = math.sqrt(image.shape[0] * image.shape[1] / n_segments)
    kernel_size = max(1.0, side / 8.0)
    return quickshift(
        rgb.astype(np.float64), ratio=0.5, kernel_size=kernel_size, max_dist=side, rng=0
    )


def _unit_range(x: np.ndarray) -> np.ndarray:
    low, high = float(x.min()), float(x.max())
    scale = high - low if high > low else 1.0
    return ((x - low) / scale).astype(np.float64)


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Consecutive labels 0..M-1 so that a unit's index is its column in the coalition matrix."""
    _, dense = np.unique(labels, return_inverse=True)
    return dense.reshape(labels.shape).astype(np.int32)


def spread(values: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """Map one value per unit (M,) back onto the locations of `segments`."""
    return values.astype(np.float32)[segments]


class CoalitionRows:
    """Perturbed inputs for every (case, coalition), built lazily batch by batch.

    Rows run case after case: rows of case n are its coalitions in order. Units in a coalition
    keep the case's values; the others take `fill`. Pure numpy (the blending happens in TF).
    """

    def __init__(self, x: np.ndarray, segments: list[np.ndarray], coalitions: list[np.ndarray],
                 targets: np.ndarray, fill: float) -> None:
        self.x, self.segments, self.coalitions, self.targets, self.fill = x, segments, coalitions, targets, fill
        self.offsets = np.cumsum([0] + [len(c) for c in coalitions])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def case_rows(self, case: int) -> slice:
        return slice(int(self.offsets[case]), int(self.offsets[case + 1]))

    def __call__(self, start: int, stop: int) -> tuple[np.ndarray, ...]:
        """Rows start..stop as (inputs, keep masks, fill per row, targets), the layout that
        perturb.masked_score_batches blends on the fly; inputs are broadcast views of the case."""
        parts, keeps, targets = [], [], []
        for case in range(len(self.coalitions)):
            a = max(start, int(self.offsets[case]))
            b = min(stop, int(self.offsets[case + 1]))
            if a >= b:
                continue
            z = self.coalitions[case][a - self.offsets[case]: b - self.offsets[case]]
            keeps.append(z[:, self.segments[case]])  # (B, *spatial)
            parts.append(np.broadcast_to(self.x[case], (b - a, *self.x.shape[1:])))
            targets.append(np.full(b - a, self.targets[case], dtype=np.int64))
        fill = np.full(stop - start, self.fill, dtype=np.float32)
        if len(parts) == 1:
            return parts[0], keeps[0].astype(np.float32), fill, targets[0]
        return np.concatenate(parts), np.concatenate(keeps).astype(np.float32), fill, np.concatenate(targets)
