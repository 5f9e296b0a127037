"""The canvas's grid of map cells: one AttributionCanvas each, laid out 1, 2x1, 2x2 or 3x2.

Each cell is the canvas plus a strip below it where per-map panels can be added
(`MapCell.add_panel`, e.g. a quality scorecard), so a new per-map panel needs no change here.
Views are linked (zoom and pan together); fitting the image to its cell happens whenever the
grid is re-laid out, so a cell always shows its whole image, filling the cell.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QGridLayout, QVBoxLayout, QWidget

from gui.panels.tabular_chart import TabularChart
from gui.panels.text_tokens import TextTokens
from gui.widgets.attribution_canvas import AttributionCanvas, DisplaySettings


class MapCell(QWidget):
    """One grid cell: a canvas and the per-map panels under it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = AttributionCanvas()
        self.chart: TabularChart | None = None  # a tabular case's bars and waterfall (made when first needed)
        self.panels = QVBoxLayout()
        self.panels.setContentsMargins(0, 0, 0, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.canvas, 1)
        self.text: TextTokens | None = None  # a text case's words, in place of the canvas
        layout.addLayout(self.panels)

    def show_chart(self, result: object, title: str = "") -> None:
        """A tabular case's explanation as bars and a waterfall in place of the image canvas;
        None shows the canvas again."""
        if result is None and self.chart is None:
            return
        if self.chart is None:
            self.chart = TabularChart()
            self.layout().insertWidget(1, self.chart, 1)
        self.chart.set_result(result, title)
        self.chart.setVisible(result is not None)
        self.canvas.setVisible(result is None)

    def show_text(self, on: bool) -> TextTokens | None:
        """Words coloured by attribution instead of the image canvas (text cases), or back."""
        if not on and self.text is None:
            return None
        if self.text is None:
            self.text = TextTokens()
            self.layout().insertWidget(1, self.text, 1)
        self.text.setVisible(on)
        if on and self.chart is not None:
            self.chart.hide()
        self.canvas.setVisible(not on and (self.chart is None or self.chart.isHidden()))
        return self.text if on else None

    def add_panel(self, widget: QWidget) -> None:
        """A per-map panel (below the map, in every layout)."""
        self.panels.addWidget(widget)


class MapGrid(QWidget):
    """`cell_added(cell)` fires for every new cell, so per-map panels can be attached to it."""

    cell_added = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("canvasGrid")
        self.cells: list[MapCell] = []
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(4)

    @property
    def canvases(self) -> list[AttributionCanvas]:
        return [cell.canvas for cell in self.cells]

    def resize_to(
        self, count: int, image: np.ndarray | None, display: DisplaySettings, connect: Callable[[int, AttributionCanvas], None]
    ) -> None:
        """`count` cells (new ones get `image`, `display` and their signals via `connect`)."""
        while len(self.cells) > count:
            cell = self.cells.pop()
            self.grid.removeWidget(cell)
            cell.deleteLater()
        while len(self.cells) < count:
            index = len(self.cells)
            cell = MapCell()
            cell.canvas.set_display(display)
            cell.canvas.set_image(image)
            connect(index, cell.canvas)
            if self.cells:
                cell.canvas.link_to(self.cells[0].canvas)
            self.cells.append(cell)
            self.cell_added.emit(cell)
        columns = 1 if count == 1 else (2 if count <= 4 else 3)
        for row in range(self.grid.rowCount()):
            self.grid.setRowStretch(row, 0)
        for index, cell in enumerate(self.cells):
            self.grid.addWidget(cell, index // columns, index % columns)
            self.grid.setRowStretch(index // columns, 1)
            self.grid.setColumnStretch(index % columns, 1)
        for column in range(columns, self.grid.columnCount()):
            self.grid.setColumnStretch(column, 0)
        QTimer.singleShot(0, self.fit)  # once the new geometry is applied

    def fit(self) -> None:
        """Every cell shows its whole image, as large as the cell allows (Home, double-click)."""
        if self.cells:
            self.cells[0].canvas.reset_view()  # the others follow through the link
