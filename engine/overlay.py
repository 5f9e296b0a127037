"""How an attribution map is turned into an overlay: pure numpy, so the GUI may import it.

The canvas computes one `Overlay` per result or display-setting change (never per mouse move);
pyqtgraph then colour-maps `values` through a lookup table within `levels`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MODES = ("signed", "absolute", "positive", "top_k")


@dataclass(frozen=True)
class Overlay:
    values: np.ndarray  # float32 (H, W), already clipped to `levels`
    levels: tuple[float, float]
    diverging: bool  # True: symmetric around 0 (diverging colormap), False: magnitudes
    mask: np.ndarray | None = None  # bool (H, W) for "top_k": the pixels kept


def prepare(
    heatmap: np.ndarray, mode: str = "signed", clip_percentile: float = 99.0, top_k: float = 10.0
) -> Overlay:
    """Clip a (H, W) map at a percentile of its magnitudes and transform it for display.

    signed: symmetric levels +-p (diverging); absolute: |m| in 0..p; positive: max(m, 0) in
    0..p; top_k: the k% pixels of largest |m| (values 1 inside, 0 outside). A map with no
    negative value (saliency magnitude, the Grad-CAM family, RISE, ...) shown "signed" is shown
    as its magnitude: a sequential scale starting at 0, not half an unused diverging bar.
    Clipping at a percentile keeps a few extreme pixels from washing out the whole map.
    """
    if mode not in MODES:
        raise ValueError(f"overlay mode must be one of {MODES}, got {mode!r}")
    m = np.nan_to_num(np.asarray(heatmap, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if mode == "top_k":
        mask = top_k_mask(np.abs(m), top_k)
        return Overlay(mask.astype(np.float32), (0.0, 1.0), False, mask)
    if mode == "signed" and m.min(initial=0.0) >= 0.0 and m.max(initial=0.0) > 0.0:
        mode = "absolute"
    if mode == "signed":
        bound = _percentile_bound(np.abs(m), clip_percentile)
        return Overlay(np.clip(m, -bound, bound), (-bound, bound), True)
    shown = np.abs(m) if mode == "absolute" else np.maximum(m, 0.0)
    bound = _percentile_bound(shown[shown > 0], clip_percentile)
    return Overlay(np.clip(shown, 0.0, bound), (0.0, bound), False)


def _percentile_bound(magnitudes: np.ndarray, percentile: float) -> float:
    """The clip level; never 0 so that an all-zero map still has valid levels."""
    if magnitudes.size == 0:
        return 1.0
    bound = float(np.percentile(magnitudes, float(np.clip(percentile, 0.0, 100.0))))
    if not np.isfinite(bound) or bound <= 0:
        bound = float(magnitudes.max()) if magnitudes.size else 0.0
    return bound if bound > 0 else 1.0


def top_k_mask(magnitudes: np.ndarray, k_percent: float) -> np.ndarray:
    """Boolean mask of the ceil(k% of pixels) largest values (ties broken by position)."""
    flat = np.asarray(magnitudes).ravel()
    count = int(np.ceil(flat.size * float(np.clip(k_percent, 0.0, 100.0)) / 100.0))
    mask = np.zeros(flat.size, dtype=bool)
    if count > 0:
        mask[np.argpartition(-flat, count - 1)[:count]] = True
    return mask.reshape(np.shape(magnitudes))


def segment_boundaries(segments: np.ndarray) -> np.ndarray:
    """Pixels (H, W) whose superpixel label differs from the right or lower neighbour."""
    seg = np.asarray(segments)
    edges = np.zeros(seg.shape, dtype=bool)
    edges[:, :-1] |= seg[:, :-1] != seg[:, 1:]
    edges[:-1, :] |= seg[:-1, :] != seg[1:, :]
    return edges


def outline_mask(segments: np.ndarray, min_size: int = 448) -> np.ndarray:
    """Superpixel boundaries drawn on a grid upsampled by a whole factor to >= `min_size` pixels.

    On a 28x28 digit a one-pixel boundary would cover a third of the image; drawn at 16x it
    is a thin line between image pixels. The caller stretches the mask over the image.
    """
    seg = np.asarray(segments)
    factor = max(1, int(np.ceil(min_size / max(seg.shape[:2]))))
    return segment_boundaries(np.repeat(np.repeat(seg, factor, axis=0), factor, axis=1))


def alpha_ramp(n: int, diverging: bool, gamma: float = 0.6) -> np.ndarray:
    """Per-LUT-entry alpha (0..255): near-zero attribution is transparent, so the image shows.

    Diverging maps are transparent at the centre of the table, sequential ones at the bottom.
    gamma < 1 lifts small values so that a weak but real signal stays visible.
    """
    t = np.linspace(0.0, 1.0, n)
    strength = np.abs(2.0 * t - 1.0) if diverging else t
    return np.round(255.0 * strength**gamma).astype(np.uint8)

