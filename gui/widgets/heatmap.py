"""A zoomable heatmap of a large matrix with a diverging colormap and an exact value readout.

The engine sends a display image (block max-abs downsampled when the matrix exceeds the screen)
and, below 50M values, the full matrix. Axes are in full-matrix indices; when the user zooms in
far enough, the visible region is redrawn from the full matrix, so what is shown becomes exact.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QTimer, Signal

from gui.widgets.feature_grid import DIVERGING, CompactSize

MAX_EXACT = 2048  # largest region (per dimension) redrawn exactly when zoomed in


class Heatmap(CompactSize, pg.PlotWidget):
    hovered = Signal(str)  # readout of the value under the mouse
    resolution_changed = Signal(str)  # "exact" or how the display is downsampled

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background="w")
        plot = self.getPlotItem()
        plot.invertY(True)
        plot.setAspectLocked(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.addItem(self.image)
        self.colorbar = pg.ColorBarItem(colorMap=pg.colormap.get(DIVERGING), interactive=False, width=14)
        self.colorbar.setImageItem(self.image, insert_in=plot)
        self.display: Any = None
        self.values: np.ndarray | None = None
        self._exact_region: tuple[int, int, int, int] | None = None
        self._refine_timer = QTimer(self, singleShot=True, interval=80, timeout=self._refine)
        plot.vb.sigRangeChanged.connect(lambda *_: self._refine_timer.start())
        self.scene().sigMouseMoved.connect(self._on_move)

    def set_matrix(self, display: Any, values: np.ndarray | None) -> None:
        """`display`: engine.weights.MatrixDisplay; `values`: the full (rows, cols) matrix or None."""
        self.display, self.values = display, values
        plot = self.getPlotItem()
        plot.setLabel("left", display.row_label)
        plot.setLabel("bottom", display.col_label)
        top = float(np.nanmax(np.abs(display.image))) if display.image.size else 1.0
        self.colorbar.setLevels((-(top or 1.0), top or 1.0))
        self._show_overview()
        plot.vb.setRange(QRectF(0, 0, display.shape[1], display.shape[0]), padding=0.02)

    def _show_overview(self) -> None:
        rows, cols = self.display.shape
        self.image.setImage(self.display.image, autoLevels=False, levels=self.colorbar.levels())
        self.image.setRect(QRectF(0, 0, cols, rows))
        self._exact_region = None
        downsampled = self.display.block != (1, 1)
        br, bc = self.display.block
        self.resolution_changed.emit(
            f"{self.display.method}, {br}×{bc} weights per pixel — zoom in for exact values" if downsampled else "exact"
        )

    def _refine(self) -> None:
        """Redraw exactly when the visible region is small enough, else the downsampled overview."""
        if self.display is None or self.display.block == (1, 1) or self.values is None:
            return
        rows, cols = self.display.shape
        (x0, x1), (y0, y1) = self.getPlotItem().vb.viewRange()
        if (y1 - y0) > MAX_EXACT or (x1 - x0) > MAX_EXACT:
            if self._exact_region is not None:
                self._show_overview()
            return
        region = _expand(y0, y1, rows), _expand(x0, x1, cols)
        (r0, r1), (c0, c1) = region
        if self._exact_region == (r0, r1, c0, c1):
            return
        self.image.setImage(self.values[r0:r1, c0:c1], autoLevels=False, levels=self.colorbar.levels())
        self.image.setRect(QRectF(c0, r0, c1 - c0, r1 - r0))
        self._exact_region = (r0, r1, c0, c1)
        self.resolution_changed.emit("exact")

    def _on_move(self, pos) -> None:
        if self.display is None or not self.getPlotItem().vb.sceneBoundingRect().contains(pos):
            return
        point = self.getPlotItem().vb.mapSceneToView(pos)
        self.hovered.emit(self.value_text(int(np.floor(point.y())), int(np.floor(point.x()))))

    def value_text(self, r: int, c: int) -> str:
        """The exact value at full-matrix (row, column), or the block's shown value if not kept."""
        rows, cols = self.display.shape
        if not (0 <= r < rows and 0 <= c < cols):
            return ""
        where = f"{self.display.row_label} {r}, {self.display.col_label} {c}"
        if self.values is not None:
            return f"{where}: {self.values[r, c]:.6g}"
        br, bc = self.display.block
        return f"{where}: block max-abs {self.display.image[r // br, c // bc]:.6g} (matrix too large to keep whole)"


def _expand(lo: float, hi: float, size: int) -> tuple[int, int]:
    """The visible span plus half of it on each side (for panning), within [0, size) and MAX_EXACT."""
    span = hi - lo
    start = int(max(0, np.floor(lo - span / 2)))
    stop = int(min(size, np.ceil(hi + span / 2), start + MAX_EXACT))
    return start, stop
