"""The pictures in a report: the case, each map over it with its colour bar, as PNG bytes.

The overlay follows the canvas (engine.overlay.prepare, signed maps in blue-white-red with
near-zero values transparent) so the report shows what the reviewer saw. numpy and Pillow only.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from engine import overlay

SIZE = 224  # pixels of the longer side: small digits are upscaled with visible pixels
# blue - white - red (diverging) and black - purple - orange - yellow (magnitudes)
DIVERGING = np.array([[33, 102, 172], [146, 197, 222], [247, 247, 247], [244, 165, 130], [178, 24, 43]], float)
SEQUENTIAL = np.array([[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], float)


def png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(rgb, np.uint8)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _rgb(image: np.ndarray) -> np.ndarray:
    """float 0..1 (H, W) or (H, W, C) -> float (H, W, 3) in 0..1."""
    image = np.asarray(image, np.float32)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    low, high = float(np.nanmin(image)), float(np.nanmax(image))
    if low < 0.0 or high > 1.0:  # e.g. a -1..1 recipe: stretch for display only
        image = (image - low) / (high - low or 1.0)
    return np.clip(np.nan_to_num(image[..., :3]), 0.0, 1.0)


def _upscale(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    factor = max(1, SIZE // max(height, width))
    return np.repeat(np.repeat(rgb, factor, axis=0), factor, axis=1)


def case_png(image: np.ndarray) -> bytes:
    return png(_upscale(np.round(255 * _rgb(image))))


def _colours(t: np.ndarray, diverging: bool) -> np.ndarray:
    """t in 0..1 -> RGB 0..255 along the report's colour map."""
    stops = DIVERGING if diverging else SEQUENTIAL
    position = np.clip(t, 0.0, 1.0) * (len(stops) - 1)
    low = np.minimum(np.floor(position).astype(int), len(stops) - 2)
    frac = (position - low)[..., None]
    return stops[low] * (1 - frac) + stops[low + 1] * frac


def overlay_png(image: np.ndarray, heatmap: np.ndarray, mode: str = "signed") -> tuple[bytes, tuple[float, float]]:
    """The map blended over the case (alpha grows with |value|); also the colour bar's levels."""
    shown = overlay.prepare(heatmap, mode)
    low, high = shown.levels
    t = (shown.values - low) / ((high - low) or 1.0)
    strength = np.abs(2 * t - 1) if shown.diverging else t
    alpha = (0.85 * strength**0.6)[..., None]
    base = 255 * _rgb(image)
    if base.shape[:2] != shown.values.shape:  # e.g. a map at the model's size on another image size
        base = np.full(shown.values.shape + (3,), 128.0)
    blended = base * (1 - alpha) + _colours(t, shown.diverging) * alpha
    return png(_upscale(np.round(blended))), (float(low), float(high))


def colorbar_png(diverging: bool, width: int = SIZE, height: int = 12) -> bytes:
    t = np.linspace(0.0, 1.0, width)
    return png(np.repeat(np.round(_colours(t, diverging))[None], height, axis=0))
