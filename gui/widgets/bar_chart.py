"""Values per index as bars (dense units, biases, BatchNorm scales), the largest highlighted."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal

from gui.widgets.feature_grid import CompactSize

BASE = (120, 144, 176)
HIGHLIGHT = (230, 120, 20)
SERIES = [(60, 110, 190), (230, 120, 20), (120, 120, 120)]


def top_indices(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest finite values, largest first."""
    finite = np.where(np.isfinite(values), values, -np.inf)
    k = min(k, len(values))
    order = np.argpartition(-finite, k - 1)[:k] if k else np.zeros(0, int)
    return order[np.argsort(-finite[order])]


class BarChart(CompactSize, pg.PlotWidget):
    """One or more series of bars over the same index; hover reports the index under the mouse."""

    hovered = Signal(int)  # index under the mouse, -1 outside

    def __init__(self, parent=None, x_label: str = "unit", y_label: str = "value") -> None:
        super().__init__(parent, background="w")
        self.setLabel("bottom", x_label)
        self.setLabel("left", y_label)
        for axis in ("bottom", "left"):  # no "(x0.001)" suffix: the tick labels carry the scale
            self.getAxis(axis).enableAutoSIPrefix(False)
        self.showGrid(y=True, alpha=0.3)
        self.n = 0
        self.legend = self.addLegend(offset=(-10, 10))
        self.scene().sigMouseMoved.connect(self._on_move)

    def set_series(self, series: Sequence[np.ndarray], names: Sequence[str] = (), top_k: int = 0) -> None:
        """Bars side by side per index; with one series, its `top_k` largest are highlighted."""
        self.clear()
        self.legend.clear()
        self.legend.setVisible(bool(names))
        self.n = len(series[0]) if series else 0
        width = 0.8 / max(1, len(series))
        for s, values in enumerate(series):
            x = np.arange(len(values)) + (s - (len(series) - 1) / 2) * width
            heights = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
            color = SERIES[s % len(SERIES)] if len(series) > 1 else BASE
            colors = {"brush": pg.mkBrush(color)}
            if len(series) == 1 and top_k:
                colors = {"brushes": [pg.mkBrush(color)] * len(values)}
                for i in top_indices(values, top_k):
                    colors["brushes"][i] = pg.mkBrush(HIGHLIGHT)
            bars = pg.BarGraphItem(x=x, height=heights, width=width, pen=None,
                                   name=names[s] if names else None, **colors)
            self.addItem(bars)
        self.autoRange()

    def _on_move(self, pos) -> None:
        if not self.n or not self.sceneBoundingRect().contains(pos):
            return
        x = self.getPlotItem().vb.mapSceneToView(pos).x()
        index = int(round(x))
        self.hovered.emit(index if 0 <= index < self.n else -1)
