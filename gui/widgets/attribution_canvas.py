"""One attribution panel: the case image, the map as a translucent overlay, outlines, colour bar.

The overlay is prepared once per result or display change (engine.overlay, numpy only) and
colour-mapped by pyqtgraph through an RGBA lookup table whose alpha follows |value|, so weak
attribution stays see-through. Zoom/pan is the ViewBox's (wheel, drag); several panels share it
by linking their ViewBoxes (`link_to`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from engine import overlay

# The colormap choice: "" follows the map (sequential for magnitudes, diverging for signed maps).
DIVERGING_MAPS = {"CET-D1": "Blue–white–red", "CET-D3": "Green–white–red", "CET-D4": "Blue–black–red"}
SEQUENTIAL_MAPS = {"inferno": "Inferno", "viridis": "Viridis", "magma": "Magma", "cividis": "Cividis"}
DIVERGING = pg.colormap.get("CET-D1")  # blue - white - red: sign at a glance
SEQUENTIAL = pg.colormap.get("inferno")
LUT_SIZE = 256
DIM_OUTSIDE_MASK = 170  # alpha of the shade over pixels outside the top-k% mask
OUTLINE_RGBA = (255, 230, 0, 220)


@dataclass(frozen=True)
class DisplaySettings:
    mode: str = "signed"  # one of engine.overlay.MODES
    opacity: float = 0.7
    clip_percentile: float = 99.0
    top_k: float = 10.0
    outlines: bool = True
    diverging_map: str = "CET-D1"  # for signed maps
    sequential_map: str = "inferno"  # for magnitudes (non-negative maps, absolute, positive)


def colormap(diverging: bool, settings: DisplaySettings | None = None) -> pg.ColorMap:
    settings = settings or DisplaySettings()
    return pg.colormap.get(settings.diverging_map if diverging else settings.sequential_map)


def overlay_lut(diverging: bool, mask_mode: bool, settings: DisplaySettings | None = None) -> np.ndarray:
    """RGBA lookup table: colours from the colormap, alpha from |value| (or the mask shade)."""
    if mask_mode:
        lut = np.zeros((LUT_SIZE, 4), dtype=np.uint8)
        lut[: LUT_SIZE // 2, 3] = DIM_OUTSIDE_MASK
        return lut
    lut = colormap(diverging, settings).getLookupTable(nPts=LUT_SIZE, alpha=True, mode="byte").copy()
    lut[:, 3] = overlay.alpha_ramp(LUT_SIZE, diverging)
    return lut


class AttributionCanvas(QWidget):
    """See the module docstring. `hovered` carries the pixel readout text (rate-limited)."""

    hovered = Signal(str)
    clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image: np.ndarray | None = None
        self.heatmap: np.ndarray | None = None
        self.segments: np.ndarray | None = None
        self.settings = DisplaySettings()
        self.title = QLabel("")
        self.title.setObjectName("panelTitle")
        self.title.setWordWrap(True)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.plot = pg.GraphicsLayoutWidget()
        self.plot.setBackground("#202020")
        self.view = self.plot.addViewBox(row=0, col=0, lockAspect=True, invertY=True, enableMenu=False)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item = pg.ImageItem(axisOrder="row-major")
        self.outline_item = pg.ImageItem(axisOrder="row-major")
        for z, item in enumerate((self.image_item, self.overlay_item, self.outline_item)):
            item.setZValue(z)
            self.view.addItem(item)
        self.colorbar = pg.ColorBarItem(
            values=(-1, 1), colorMap=DIVERGING, interactive=False, width=14, colorMapMenu=False
        )
        self.plot.addItem(self.colorbar, row=0, col=1)
        self.colorbar.hide()
        self.message = pg.TextItem("", color="#dddddd", anchor=(0.5, 0.5))
        self.message.setZValue(10)
        self.view.addItem(self.message, ignoreBounds=True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.plot, 1)
        self._mouse_proxy = pg.SignalProxy(self.plot.scene().sigMouseMoved, rateLimit=30, slot=self._on_mouse_moved)
        self.plot.scene().sigMouseClicked.connect(self._on_click)
        self.set_active(False)

    def _on_click(self, event: Any) -> None:
        if event.double():  # double-click: back to the whole image
            self.reset_view()
        self.clicked.emit()

    def reset_view(self) -> None:
        """Show the whole image filling the panel (Home, double-click, a new layout)."""
        if self.image is not None:
            self.view.autoRange(items=[self.image_item], padding=0.0)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        """A panel that grows or shrinks (grid on/off, dock moved) keeps the image filling it,
        unless the user zoomed in (then the zoom is theirs)."""
        super().resizeEvent(event)
        if self.image is not None and self._showing_whole_image():
            self.reset_view()

    def _showing_whole_image(self) -> bool:
        (x0, x1), (y0, y1) = self.view.viewRange()
        h, w = self.image.shape[:2]
        return x0 <= 0.5 and y0 <= 0.5 and x1 >= w - 0.5 and y1 >= h - 0.5 or (x1 - x0) > 4 * w

    # ----- content ----------------------------------------------------------------------
    def set_image(self, image: np.ndarray | None) -> None:
        """The case as the model sees it, float (H, W) or (H, W, 3) in 0..1; None clears."""
        self.image = None if image is None else np.asarray(image, dtype=np.float32)
        if self.image is None:
            self.image_item.clear()
        else:
            shown = self.image[..., 0] if self.image.ndim == 3 and self.image.shape[-1] == 1 else self.image
            self.image_item.setImage(shown, levels=(0.0, 1.0), autoLevels=False)
            self.reset_view()
        self._render()

    def set_result(self, heatmap: np.ndarray | None, segments: np.ndarray | None = None, title: str = "") -> None:
        """Show one (H, W) attribution map (and its superpixels); None clears the overlay."""
        self.heatmap = None if heatmap is None else np.asarray(heatmap, dtype=np.float32)
        self.segments = None if segments is None else np.asarray(segments)
        self.title.setText(title)
        self.set_message("")
        self._render()

    def set_display(self, settings: DisplaySettings) -> None:
        self.settings = settings
        self._render()

    def set_message(self, text: str) -> None:
        """A line in the middle of the panel (running, cancelled, failed)."""
        self.message.setText(text)
        if self.image is not None:
            self.message.setPos(self.image.shape[1] / 2, self.image.shape[0] / 2)
        elif text:  # no image (tabular case): the text is the content
            self.message.setPos(0, 0)
            self.view.setRange(xRange=(-1, 1), yRange=(-1, 1), padding=0)

    def set_active(self, active: bool) -> None:
        """Highlight the panel the method form is editing (grid mode)."""
        colour = "#3d8bfd" if active else "transparent"
        self.setStyleSheet(f"AttributionCanvas {{ border: 2px solid {colour}; }}")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)

    def link_to(self, other: AttributionCanvas | None) -> None:
        """Share zoom and pan with `other` (None unlinks)."""
        self.view.setXLink(other.view if other else None)
        self.view.setYLink(other.view if other else None)

    # ----- rendering --------------------------------------------------------------------
    def _render(self) -> None:
        if self.heatmap is None:
            self.overlay_item.clear()
            self.outline_item.clear()
            self.colorbar.hide()
            return
        s = self.settings
        prepared = overlay.prepare(self.heatmap, s.mode, s.clip_percentile, s.top_k)
        mask_mode = prepared.mask is not None
        self.overlay_item.setImage(prepared.values, levels=prepared.levels, autoLevels=False)
        self.overlay_item.setLookupTable(overlay_lut(prepared.diverging, mask_mode, s))
        self.overlay_item.setOpacity(1.0 if mask_mode else s.opacity)
        self._align(self.overlay_item, prepared.values.shape)
        self.colorbar.setVisible(not mask_mode)
        if not mask_mode:
            self.colorbar.setColorMap(colormap(prepared.diverging, s))
            self.colorbar.setLevels(prepared.levels)
        if self.segments is not None and s.outlines:
            edges = overlay.outline_mask(self.segments)
            rgba = np.zeros((*edges.shape, 4), dtype=np.uint8)
            rgba[edges] = OUTLINE_RGBA
            self.outline_item.setImage(rgba, autoLevels=False, levels=(0, 255))
            self._align(self.outline_item, edges.shape)
        else:
            self.outline_item.clear()

    def _align(self, item: pg.ImageItem, shape: tuple[int, ...]) -> None:
        """Stretch a map over the image even if its resolution differs (e.g. a coarse CAM)."""
        if self.image is not None and tuple(shape[:2]) != tuple(self.image.shape[:2]):
            item.setRect(0, 0, self.image.shape[1], self.image.shape[0])

    # ----- readout ----------------------------------------------------------------------
    def _on_mouse_moved(self, event: Any) -> None:
        if self.image is None:
            return
        point = self.view.mapSceneToView(event[0])
        col, row = int(np.floor(point.x())), int(np.floor(point.y()))
        height, width = self.image.shape[:2]
        if not (0 <= row < height and 0 <= col < width):
            return
        self.hovered.emit(self.readout(row, col))

    def readout(self, row: int, col: int) -> str:
        """'x=.. y=..  image=..  attribution=..' for the pixel at (row, col)."""
        value = self.image[row, col]
        shown = ", ".join(f"{v:.3f}" for v in np.ravel(value))
        text = f"x={col} y={row}  image=({shown})"
        if self.heatmap is not None:
            h, w = self.heatmap.shape[:2]
            r = min(h - 1, row * h // self.image.shape[0])
            c = min(w - 1, col * w // self.image.shape[1])
            text += f"  attribution={self.heatmap[r, c]:+.4g}"
        return text
