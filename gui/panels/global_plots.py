"""The plots of the Global view: importance bars with their spread, a SHAP-style beeswarm, a
dependence plot whose points open their case, and class-average maps for images.

Plain numpy in, pyqtgraph out; what the numbers mean is the view's business.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Signal

from gui.widgets.feature_grid import CompactSize

TOP_K = 20  # features drawn in the bar chart and beeswarm
PICK_RADIUS_PX = 10.0
BAR = (60, 110, 190)
PALETTE = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))  # colour per class
MAX_SWARM = 1500  # points per feature in the beeswarm (a seeded sample beyond)
SWARM_BINS = 60


def feature_colours(values: np.ndarray) -> np.ndarray:
    """(N, 4) uint8 RGBA, blue (low) to red (high) by the value's 5-95th percentile rank, as SHAP."""
    values = np.asarray(values, np.float64)
    low, high = np.nanpercentile(values, [5, 95]) if values.size else (0.0, 1.0)
    t = np.clip((values - low) / (high - low), 0, 1) if high > low else np.full(values.shape, 0.5)
    cold, hot = np.array([0, 138, 250]), np.array([255, 0, 82])
    rgb = (cold[None] * (1 - t[:, None]) + hot[None] * t[:, None]).astype(np.uint8)
    return np.concatenate([rgb, np.full((len(t), 1), 200, np.uint8)], axis=1)


def swarm_offsets(values: np.ndarray, width: float = 0.4) -> np.ndarray:
    """Vertical offsets that spread points sharing an x bin, alternately up and down (a beeswarm)."""
    values = np.asarray(values, np.float64)
    if values.size == 0:
        return np.zeros(0)
    low, high = values.min(), values.max()
    bins = np.zeros(len(values), np.int64) if high <= low else ((values - low) / (high - low) * (SWARM_BINS - 1)).round().astype(np.int64)
    order = np.argsort(bins, kind="stable")
    ranks = np.empty(len(values), np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(bins[order])) + 1]
    counts = np.diff(np.r_[starts, len(values)])
    ranks[order] = np.arange(len(values)) - np.repeat(starts, counts)
    crowd = max(1, int(counts.max()))
    side = np.where(ranks % 2 == 0, 1.0, -1.0)
    return side * ((ranks + 1) // 2) * (width / max(1, crowd // 2))


class _Plot(CompactSize, pg.PlotWidget):
    def __init__(self, x_label: str, y_label: str = "") -> None:
        super().__init__(background="w")
        self.setLabel("bottom", x_label)
        if y_label:
            self.setLabel("left", y_label)
        for axis in ("bottom", "left"):
            self.getAxis(axis).enableAutoSIPrefix(False)
        self.showGrid(x=True, alpha=0.3)
        self.setMenuEnabled(False)


def rows_that_fit(height: int, row_px: int = 16, low: int = 5) -> int:
    """How many feature rows a plot `height` pixels tall shows legibly (at most TOP_K)."""
    return int(min(TOP_K, max(low, (height - 50) // row_px)))


class _Ranked(_Plot):
    """A plot with one row per feature, redrawn with as many rows as its height holds."""

    def __init__(self, x_label: str) -> None:
        super().__init__(x_label)
        self.order = np.zeros(0, np.int64)  # feature index of each row, top first
        self._shown: tuple = ()

    def resizeEvent(self, event) -> None:  # noqa: N802, ANN001 - Qt override
        super().resizeEvent(event)
        if getattr(self, "_shown", ()) and rows_that_fit(self.height()) != len(self.order):
            self._draw(*self._shown)

    def _rows(self, ranking: np.ndarray) -> int:
        return min(len(ranking), rows_that_fit(self.height()))

    def _draw(self, *args) -> None:  # noqa: ANN002
        raise NotImplementedError


class ImportanceChart(_Ranked):
    """Horizontal bars, most important on top, with error bars of the spread (std over repeats or cases)."""

    def __init__(self) -> None:
        super().__init__("importance")

    def show_values(self, names: Sequence[str], values: np.ndarray, spread: np.ndarray | None, x_label: str) -> None:
        self._shown = (names, np.asarray(values, np.float64), spread, x_label)
        self._draw(*self._shown)

    def _draw(self, names: Sequence[str], values: np.ndarray, spread: np.ndarray | None, x_label: str) -> None:
        self.clear()
        self.setLabel("bottom", x_label)
        ranking = np.argsort(-values, kind="stable")
        self.order = ranking[: self._rows(ranking)]
        n = len(self.order)
        y = np.arange(n)[::-1].astype(np.float64)  # the first (largest) at the top
        shown = values[self.order]
        self.addItem(pg.BarGraphItem(x0=np.minimum(shown, 0), y=y, height=0.7, width=np.abs(shown), brush=BAR, pen=None))
        if spread is not None:
            s = np.asarray(spread, np.float64)[self.order]
            self.addItem(pg.ErrorBarItem(x=shown, y=y, left=s, right=s, beam=0.25, pen=pg.mkPen((30, 30, 30), width=1.2)))
        self.getAxis("left").setTicks([[(float(y[i]), str(names[f])) for i, f in enumerate(self.order)]])
        self.setYRange(-0.6, n - 0.4, padding=0)
        self.enableAutoRange(axis="x")

    def bar_values(self) -> np.ndarray:
        """The drawn bar lengths (signed), top first (tests read them)."""
        for item in self.listDataItems() + self.items():
            if isinstance(item, pg.BarGraphItem):
                x0, width = item.opts["x0"], item.opts["width"]
                return np.where(np.asarray(x0) < 0, -np.asarray(width), np.asarray(width))
        return np.zeros(0)


IMPACT = "attribution (impact on the explained score)"


class Beeswarm(_Ranked):
    """Each case a dot per feature: x = its attribution, colour = the feature's value (blue low, red high)."""

    def __init__(self) -> None:
        super().__init__(IMPACT)

    def show_values(self, names: Sequence[str], values: np.ndarray, feature_values: np.ndarray,
                    x_label: str = IMPACT) -> None:
        self.setLabel("bottom", x_label)
        self._shown = (names, np.asarray(values), np.asarray(feature_values))
        self.ranking = np.argsort(-np.abs(self._shown[1]).mean(axis=0), kind="stable")[:TOP_K]
        self._draw(*self._shown)

    def _draw(self, names: Sequence[str], values: np.ndarray, feature_values: np.ndarray) -> None:
        self.clear()
        self.order = self.ranking[: self._rows(self.ranking)]
        rng = np.random.default_rng(0)
        rows = np.arange(len(values)) if len(values) <= MAX_SWARM else np.sort(rng.choice(len(values), MAX_SWARM, replace=False))
        n = len(self.order)
        xs, ys, brushes = [], [], []
        for rank, f in enumerate(self.order):
            v = values[rows, f].astype(np.float64)
            xs.append(v)
            ys.append(n - 1 - rank + swarm_offsets(v))
            brushes.append(feature_colours(feature_values[rows, f]))
        colours = np.concatenate(brushes) if brushes else np.zeros((0, 4), np.uint8)
        self.scatter = pg.ScatterPlotItem(
            x=np.concatenate(xs) if xs else [], y=np.concatenate(ys) if ys else [], size=5, pen=None,
            brush=[pg.mkBrush(*c) for c in colours],
        )
        self.addItem(self.scatter)
        self.addItem(pg.InfiniteLine(0, angle=90, pen=pg.mkPen((150, 150, 150))))
        self.getAxis("left").setTicks([[(float(n - 1 - r), str(names[f])) for r, f in enumerate(self.order)]])
        self.setYRange(-0.6, n - 0.4, padding=0)


class DependencePlot(_Plot):
    """One feature: its value (x) against its attribution (y), coloured by class; a click on a
    point emits `picked(point index)`."""

    picked = Signal(int)

    def __init__(self) -> None:
        super().__init__("feature value", "attribution")
        self.coords = np.zeros((0, 2))
        self.view_box = self.getPlotItem().getViewBox()
        self.scene().sigMouseClicked.connect(self._on_click)

    def show_values(self, x: np.ndarray, y: np.ndarray, groups: np.ndarray, feature: str,
                    group_names: Sequence[str] = (), quantity: str = "attribution") -> None:
        self.clear()
        self.setLabel("bottom", f"{feature} (value)")
        self.setLabel("left", f"{quantity} of {feature}")
        self.coords = np.stack([np.asarray(x, np.float64), np.asarray(y, np.float64)], axis=1)
        legend = self.getPlotItem().legend or self.addLegend(offset=(-10, 10))
        legend.clear()
        for g in np.unique(groups):
            inside = groups == g
            name = group_names[g] if g < len(group_names) else f"class {g}"
            colour = PALETTE[int(g) % len(PALETTE)]
            self.addItem(pg.ScatterPlotItem(x=self.coords[inside, 0], y=self.coords[inside, 1], size=7, pen=None,
                                            brush=pg.mkBrush(*colour, 190), name=name))
        self.addItem(pg.InfiniteLine(0, angle=0, pen=pg.mkPen((150, 150, 150))))
        self.autoRange()

    def nearest(self, at: QPointF, radius_px: float = PICK_RADIUS_PX) -> int:
        """The point nearest to `at` (data coordinates) within `radius_px` pixels, or -1."""
        px, py = self.view_box.viewPixelSize()
        if not len(self.coords) or not px or not py:
            return -1
        d2 = ((self.coords[:, 0] - at.x()) / px) ** 2 + ((self.coords[:, 1] - at.y()) / py) ** 2
        best = int(np.argmin(d2))
        return best if d2[best] <= radius_px**2 else -1

    def widget_pos(self, index: int) -> QPointF:
        """Where point `index` is drawn, in viewport coordinates (tests click there)."""
        scene = self.view_box.mapViewToScene(QPointF(*map(float, self.coords[index])))
        return QPointF(self.mapFromScene(scene))

    def _on_click(self, event) -> None:  # noqa: ANN001 - pyqtgraph's mouse event
        index = self.nearest(self.view_box.mapSceneToView(event.scenePos()))
        if index >= 0:
            self.picked.emit(index)


def best_columns(n: int, width: float, height: float) -> int:
    """Columns of a grid of n square tiles that makes the tiles largest in a width x height area."""
    if n <= 1 or width <= 0 or height <= 0:
        return max(1, n)
    return max(range(1, n + 1), key=lambda c: min(width / c, height / math.ceil(n / c)))


class ClassMaps(CompactSize, pg.GraphicsLayoutWidget):
    """One small map per class (images): the class-average |attribution|, one colour scale for all,
    laid out in as many columns as make the maps largest in the space there is."""

    def __init__(self) -> None:
        super().__init__()
        self.setBackground("w")
        self.maps: list[np.ndarray] = []
        self.titles: list[str] = []
        self.columns = 0

    def clear(self) -> None:
        self.ci.clear()  # GraphicsLayoutWidget forwards clear() to its layout item
        self.maps, self.titles, self.columns = [], [], 0

    def show_maps(self, maps: Sequence[np.ndarray], titles: Sequence[str]) -> None:
        self.clear()
        self.maps = [np.asarray(m, np.float64) for m in maps]
        self.titles = list(titles)
        self._layout()

    def resizeEvent(self, event) -> None:  # noqa: N802, ANN001 - Qt override
        super().resizeEvent(event)
        if getattr(self, "maps", None) and best_columns(len(self.maps), self.width(), self.height()) != self.columns:
            self._layout()

    def _layout(self) -> None:
        maps, titles = self.maps, self.titles
        self.ci.clear()
        self.columns = best_columns(len(maps), self.width(), self.height())
        high = max((float(np.nanmax(m)) for m in maps if m.size), default=1.0) or 1.0
        lut = pg.colormap.get("inferno").getLookupTable(nPts=256)
        for i, (image, title) in enumerate(zip(maps, titles)):
            if i and i % self.columns == 0:
                self.nextRow()
            box = self.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
            box.addItem(pg.ImageItem(image, axisOrder="row-major", levels=(0.0, high), lut=lut))
            box.addItem(_title(title, image.shape))
            box.autoRange(padding=0.02)


def _title(text: str, shape: tuple[int, ...]) -> pg.TextItem:
    item = pg.TextItem(text, color=(240, 240, 240), anchor=(0, 0))
    item.setPos(0, 0)
    return item
