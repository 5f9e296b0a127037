"""Exports of the canvas: PNG at the image's resolution with a caption, raw maps, CSV.

The PNG is composed from the data (image, overlay through the same colormap and opacity as on
screen), not grabbed from the widgets, so its size does not depend on the window: each panel is
the case image at full resolution (enlarged by a whole factor when it is tiny, so an 8x8 input
is not exported as a dot), with a caption naming method, parameters and model hash. Errors come
back as exceptions; the view reports them through its job helper.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QBuffer, QIODevice, QRect, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter

from engine import overlay
from engine.export import export_explanation
from engine.fileio import atomic_write_text
from gui.widgets.attribution_canvas import DisplaySettings, overlay_lut

MIN_SIDE = 256  # tiny inputs are enlarged (nearest neighbour) to at least this many pixels
CAPTION_LINES = 3


def composite(image: np.ndarray | None, heatmap: np.ndarray | None, settings: DisplaySettings) -> np.ndarray:
    """uint8 (H, W, 3): the image with the map blended over it, as the canvas draws it."""
    if image is None:
        base = np.zeros((*heatmap.shape[:2], 3), np.float32) if heatmap is not None else np.zeros((1, 1, 3), np.float32)
    else:
        base = np.asarray(image, np.float32)
        base = np.repeat(base[..., None], 3, axis=-1) if base.ndim == 2 else base
        base = np.repeat(base, 3, axis=-1) if base.shape[-1] == 1 else base[..., :3]
    if heatmap is not None:
        prepared = overlay.prepare(heatmap, settings.mode, settings.clip_percentile, settings.top_k)
        lo, hi = prepared.levels
        values = np.nan_to_num(np.asarray(prepared.values, np.float32))
        index = np.clip((values - lo) / max(hi - lo, 1e-12) * 255, 0, 255).astype(np.int64)
        lut = overlay_lut(prepared.diverging, prepared.mask is not None, settings).astype(np.float32) / 255
        rgba = lut[index]
        rgba = _resize_nearest(rgba, base.shape[:2])
        alpha = rgba[..., 3:4] * (1.0 if prepared.mask is not None else settings.opacity)
        colour = rgba[..., :3] if prepared.mask is None else np.zeros_like(rgba[..., :3])
        base = base * (1 - alpha) + colour * alpha
    return (np.clip(base, 0, 1) * 255).astype(np.uint8)


def _resize_nearest(array: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    rows = (np.arange(shape[0]) * array.shape[0] // shape[0]).clip(0, array.shape[0] - 1)
    cols = (np.arange(shape[1]) * array.shape[1] // shape[1]).clip(0, array.shape[1] - 1)
    return array[rows][:, cols]


def figure_png(panels: list[tuple[np.ndarray, str]]) -> bytes:
    """PNG bytes of panels side by side (up to 3 per row), each with its caption underneath."""
    if not panels:
        raise ValueError("nothing to export")
    scale = max(1, -(-MIN_SIDE // min(min(p.shape[:2]) for p, _ in panels)))
    tiles = [np.repeat(np.repeat(p, scale, 0), scale, 1) for p, _ in panels]
    font = QFont()
    font.setPixelSize(13)
    caption_h = CAPTION_LINES * 17 + 6
    cell_w = max(t.shape[1] for t in tiles)
    cell_h = max(t.shape[0] for t in tiles) + caption_h
    columns = min(3, len(tiles))
    rows = -(-len(tiles) // columns)
    figure = QImage(columns * cell_w, rows * cell_h, QImage.Format.Format_RGB888)
    figure.fill(QColor("white"))
    painter = QPainter(figure)
    painter.setFont(font)
    for i, (tile, (_, caption)) in enumerate(zip(tiles, panels, strict=True)):
        x, y = (i % columns) * cell_w, (i // columns) * cell_h
        data = np.ascontiguousarray(tile)
        image = QImage(data.data, data.shape[1], data.shape[0], 3 * data.shape[1], QImage.Format.Format_RGB888)
        painter.drawImage(x, y, image)
        painter.drawText(QRect(x + 4, y + tile.shape[0] + 3, cell_w - 8, caption_h - 4),
                         int(Qt.TextFlag.TextWordWrap), caption)
    painter.end()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    figure.save(buffer, "PNG")
    return bytes(buffer.data())


def caption(result: Any, title: str, params: str, model_sha256: str) -> str:
    sha = (model_sha256 or result.provenance.get("model_sha256") or "")[:12]
    return f"{title} · class {int(result.targets[0])}\n{params or 'defaults'}\nmodel sha256 {sha}…"


def write_maps(
    stem: str | Path, shown: list[tuple[str, Any]], extra: dict[str, Any], scores: dict[str, Any] | None = None
) -> list[Path]:
    """Each shown result as <stem>[_<method>]_maps.npy (+ heatmap, segments) and <stem>.json;
    `scores` (method -> the scorecard's record) go into each map's JSON."""
    written: list[Path] = []
    for method, result in shown:
        path = Path(stem) if len(shown) == 1 else Path(f"{stem}_{method}")
        written += export_explanation(path, result, {**extra, "scores": (scores or {}).get(method)})
    return written


def write_csv(path: str | Path, result: Any) -> Path:
    """The channel-reduced heatmap (rows of the image), or one row per feature for tabular maps."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if result.heatmap is not None:
        for row in np.asarray(result.heatmap[0]):
            writer.writerow([f"{v:.6g}" for v in row])
    else:
        writer.writerow(["feature", "attribution"])
        for i, v in enumerate(np.ravel(result.maps[0])):
            writer.writerow([i, f"{v:.6g}"])
    return atomic_write_text(path, buffer.getvalue())
