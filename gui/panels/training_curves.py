"""Training curves: one scalar per epoch (loss, accuracy, learning rate…), every open run overlaid."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

RUN_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#7f7f7f")


class CurvesPanel(QWidget):
    """`set_runs(runs)`: each run is an engine.training.tasks.OpenedRun (name, scalars)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs: list[Any] = []
        self.scalar = QComboBox()
        self.scalar.setObjectName("curveScalar")
        self.scalar.setToolTip("The per-epoch scalar to plot; runs that lack it are left out")
        self.scalar.currentTextChanged.connect(lambda _name: self.redraw())
        self.plot = pg.PlotWidget(background="w")
        self.plot.setObjectName("curvesPlot")
        self.plot.plotItem.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setLabel("bottom", "epoch")
        self.legend = self.plot.addLegend(offset=(-10, 10), labelTextColor="#222")
        row = QHBoxLayout()
        row.addWidget(QLabel("Scalar:"))
        row.addWidget(self.scalar, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.plot, 1)

    def set_runs(self, runs: Sequence[Any]) -> None:
        self.runs = list(runs)
        names = sorted({name for run in self.runs for name in run.scalars})
        current = self.scalar.currentText()
        self.scalar.blockSignals(True)
        self.scalar.clear()
        self.scalar.addItems(names)
        preferred = current if current in names else next((n for n in names if n.endswith("loss")), "")
        if preferred:
            self.scalar.setCurrentText(preferred)
        self.scalar.blockSignals(False)
        self.redraw()

    def redraw(self) -> None:
        self.plot.clear()
        self.legend.clear()
        name = self.scalar.currentText()
        self.plot.setLabel("left", name)
        for i, run in enumerate(self.runs):
            if name not in run.scalars:
                continue
            steps, values = run.scalars[name]
            finite = np.isfinite(values)
            pen = pg.mkPen(RUN_COLOURS[i % len(RUN_COLOURS)], width=2)
            self.plot.plot(np.asarray(steps)[finite], np.asarray(values)[finite], pen=pen, symbol="o", symbolSize=5,
                           symbolBrush=RUN_COLOURS[i % len(RUN_COLOURS)], name=run.name)

    def plotted(self) -> list[str]:
        """The names of the runs drawn now (for tests)."""
        return [item.name() for item in self.plot.plotItem.listDataItems()]
