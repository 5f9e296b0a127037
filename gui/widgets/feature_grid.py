"""Many small images (feature maps, filters) as one atlas image per panel, with hit-testing.

One pyqtgraph ImageItem holding every tile is far faster than a widget per channel: a layer with
hundreds of channels is a single texture upload. Panels side by side (case A, case B, A − B)
share their zoom and pan. The tiling helpers are plain numpy and tested on their own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QSize, Signal
from PySide6.QtWidgets import QGraphicsRectItem

SEQUENTIAL = "viridis"
DIVERGING = "CET-D1"  # blue - white - red, for signed values and differences
MARK_COLOR = (255, 140, 0)
PREFERRED_SIZE = QSize(240, 180)


@dataclass(frozen=True)
class TileLayout:
    """Where tile i sits in an atlas: row i // cols, column i % cols, `gap` pixels apart."""

    n: int
    height: int
    width: int
    cols: int
    gap: int = 1

    @property
    def rows(self) -> int:
        return -(-self.n // self.cols)

    def locate(self, x: float, y: float) -> tuple[int, int, int]:
        """(tile, row inside the tile, column inside the tile) at atlas pixel (x, y); tile -1 if none."""
        if x < 0 or y < 0:
            return -1, 0, 0
        col, dx = divmod(int(x), self.width + self.gap)
        row, dy = divmod(int(y), self.height + self.gap)
        tile = row * self.cols + col
        if col >= self.cols or dx >= self.width or dy >= self.height or tile >= self.n:
            return -1, 0, 0
        return tile, dy, dx


def columns_for(n: int, height: int, width: int, aspect: float = 1.4) -> int:
    """Columns that make the atlas about `aspect` times wider than tall."""
    return max(1, min(n, math.ceil(math.sqrt(n * height * aspect / max(1, width)))))


def tile_atlas(tiles: np.ndarray, cols: int, gap: int | None = None) -> tuple[np.ndarray, TileLayout]:
    """(n, h, w) or (n, h, w, 3) tiles -> one float32 image, NaN (transparent) between tiles.

    The default gap grows with the tiles (1 px per 16) so that it stays visible when zoomed out.
    """
    n, h, w = tiles.shape[:3]
    gap = max(1, min(h, w) // 16) if gap is None else gap
    extra = tiles.shape[3:]
    layout = TileLayout(n, h, w, cols, gap)
    canvas = np.full((layout.rows * cols, h + gap, w + gap, *extra), np.nan, np.float32)
    canvas[:n, :h, :w] = tiles
    canvas = canvas.reshape(layout.rows, cols, h + gap, w + gap, *extra).swapaxes(1, 2)
    atlas = canvas.reshape(layout.rows * (h + gap), cols * (w + gap), *extra)
    return atlas[: atlas.shape[0] - gap, : atlas.shape[1] - gap], layout


def normalise_tiles(tiles: np.ndarray, joint: np.ndarray | None = None) -> np.ndarray:
    """Scale each tile to 0..1 by its own min and max (or those of `joint`, same shape, as well)."""
    axes = tuple(range(1, tiles.ndim))
    stack = tiles if joint is None else np.concatenate([tiles, joint], axis=1)
    lo = np.nanmin(stack, axis=axes, keepdims=True)
    hi = np.nanmax(stack, axis=axes, keepdims=True)
    return ((tiles - lo) / np.where(hi > lo, hi - lo, 1.0)).astype(np.float32)


def symmetric_tiles(tiles: np.ndarray) -> np.ndarray:
    """Scale each tile to -1..1 by its own max |value| (0 stays 0: for differences and weights)."""
    axes = tuple(range(1, tiles.ndim))
    top = np.nanmax(np.abs(tiles), axis=axes, keepdims=True)
    return (tiles / np.where(top > 0, top, 1.0)).astype(np.float32)


def upsample(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a 2-D map to `shape` (pixel centres aligned), for overlays."""
    h, w = image.shape
    rows = np.clip((np.arange(shape[0]) + 0.5) * h / shape[0] - 0.5, 0, h - 1)
    cols = np.clip((np.arange(shape[1]) + 0.5) * w / shape[1] - 0.5, 0, w - 1)
    r0, c0 = np.floor(rows).astype(int), np.floor(cols).astype(int)
    r1, c1 = np.minimum(r0 + 1, h - 1), np.minimum(c0 + 1, w - 1)
    fr, fc = (rows - r0)[:, None], (cols - c0)[None, :]
    top = image[r0][:, c0] * (1 - fc) + image[r0][:, c1] * fc
    bottom = image[r1][:, c0] * (1 - fc) + image[r1][:, c1] * fc
    return (top * (1 - fr) + bottom * fr).astype(np.float32)


def indexed(image: np.ndarray, levels: tuple[float, float]) -> np.ndarray:
    """Colour indices 0..254 for `levels`, 255 for NaN: uint8 images take Qt's fast indexed path."""
    lo, hi = levels
    scaled = (image - lo) * (254.0 / (hi - lo) if hi > lo else 0.0)
    np.clip(scaled, 0, 254, out=scaled)
    return np.nan_to_num(scaled, nan=255, copy=False).astype(np.uint8)


@lru_cache(maxsize=8)
def _gap_lut(colormap: str) -> np.ndarray:
    """254 colours of the map, and white (the background) for index 255, the gaps."""
    colours = pg.colormap.get(colormap).getLookupTable(nPts=255, alpha=False)
    return np.vstack([colours, [[255, 255, 255]]]).astype(np.uint8)


class CompactSize:
    """Mixin for plot widgets: a small preferred size, so the view's layout (and a dock's scroll
    area, which asks for the height at the preferred sizes) hands out the space instead."""

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return PREFERRED_SIZE


@dataclass
class Panel:
    """One image in the grid widget: an atlas, a single map, or a map over a background image."""

    title: str
    image: np.ndarray  # (H, W) scalar or (H, W, 3) RGB
    layout: TileLayout
    levels: tuple[float, float] = (0.0, 1.0)
    colormap: str | None = SEQUENTIAL  # None for RGB images
    background: np.ndarray | None = None  # drawn under `image` (same pixel grid, 0..1); then the
    opacity: float = 1.0  # colormap fades from transparent (low) to opaque (high)
    square_pixels: bool = True  # False: stretch to fill (e.g. a long, thin heat strip)


class FeatureGrid(CompactSize, pg.GraphicsLayoutWidget):
    """Panels of tiled images; reports which tile (and pixel in it) is under the mouse or clicked."""

    tile_hovered = Signal(int, int, int, int)  # panel, tile (-1 when none), row, column in tile
    tile_clicked = Signal(int, int)  # panel, tile

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.panels: list[Panel] = []
        self._rebuild(0)
        self.scene().sigMouseMoved.connect(self._on_move)
        self.scene().sigMouseClicked.connect(self._on_click)

    def set_panels(self, panels: list[Panel]) -> None:
        """Show `panels` side by side; the zoom is kept when the number of panels and sizes agree."""
        same_frame = len(panels) == len(self.panels) and all(
            p.image.shape[:2] == q.image.shape[:2] for p, q in zip(panels, self.panels)
        )
        if not same_frame:
            self._rebuild(len(panels))
        for i, (panel, box) in enumerate(zip(panels, self._boxes)):
            self._titles[i].setText(panel.title)
            box.setAspectLocked(panel.square_pixels)
            self._show(i, panel)
            if not same_frame:
                box.autoRange(padding=0.01)
        self.panels = list(panels)

    def clear_panels(self) -> None:
        self._rebuild(0)
        self.panels = []

    def _rebuild(self, n: int) -> None:
        self.clear()
        self._boxes, self._items, self._backgrounds, self._titles, self._marks = [], [], [], [], []
        for i in range(n):
            title = self.addLabel("", row=0, col=i)
            box = self.addViewBox(row=1, col=i, lockAspect=True, invertY=True, enableMenu=False)
            background = pg.ImageItem(axisOrder="row-major")
            item = pg.ImageItem(axisOrder="row-major")
            mark = QGraphicsRectItem()
            mark.setPen(pg.mkPen(MARK_COLOR, width=2, cosmetic=True))
            mark.setVisible(False)
            for child in (background, item, mark):
                box.addItem(child)
            if self._boxes:
                box.setXLink(self._boxes[0])
                box.setYLink(self._boxes[0])
            self._titles.append(title)
            self._boxes.append(box)
            self._items.append(item)
            self._backgrounds.append(background)
            self._marks.append(mark)

    def _show(self, i: int, panel: Panel) -> None:
        item, background = self._items[i], self._backgrounds[i]
        if panel.background is not None:
            background.setImage(panel.background, levels=(0.0, 1.0), autoLevels=False)
            background.setVisible(True)
        else:
            background.setVisible(False)
        if panel.colormap and panel.background is None and panel.image.ndim == 2:
            image, levels, lut = indexed(panel.image, panel.levels), (0, 255), _gap_lut(panel.colormap)
        else:
            image, levels, lut = panel.image, panel.levels, None
            if panel.colormap:  # over an image: low values transparent, high values opaque
                lut = pg.colormap.get(panel.colormap).getLookupTable(nPts=256, alpha=True)
                lut[:, 3] = np.linspace(0, 255, 256) ** 0.7 * 255 ** 0.3
        item.setImage(image, levels=levels, lut=lut, autoLevels=False)
        item.setOpacity(panel.opacity)

    def mark(self, tile: int) -> None:
        """Outline `tile` in every panel (-1: no outline), e.g. the channel shown enlarged."""
        for mark, panel in zip(self._marks, self.panels):
            layout = panel.layout
            mark.setVisible(0 <= tile < layout.n and layout.n > 1)
            row, col = divmod(max(tile, 0), layout.cols)
            mark.setRect(col * (layout.width + layout.gap), row * (layout.height + layout.gap),
                         layout.width, layout.height)

    def _locate(self, scene_pos: QPointF) -> tuple[int, int, int, int]:
        for i, (box, item) in enumerate(zip(self._boxes, self._items)):
            if box.sceneBoundingRect().contains(scene_pos):
                p = item.mapFromScene(scene_pos)
                return (i, *self.panels[i].layout.locate(p.x(), p.y()))
        return -1, -1, 0, 0

    def _on_move(self, pos: QPointF) -> None:
        if self.panels:
            self.tile_hovered.emit(*self._locate(pos))

    def _on_click(self, event) -> None:
        if self.panels:
            panel, tile, _, _ = self._locate(event.scenePos())
            if tile >= 0:
                self.tile_clicked.emit(panel, tile)
