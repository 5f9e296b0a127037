"""A scatter of many cases (50,000 stay interactive) with hover card, click, box and lasso selection.

Speed comes from drawing one `ScatterPlotItem` per colour group (one brush each, pixmap cache on)
rather than one brush per point, and from answering hover/click with a vectorised nearest-point
search over the visible points, rate-limited by a `SignalProxy`. What the groups mean (class,
correctness, confidence) is the caller's business.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QFrame, QGraphicsPathItem, QHBoxLayout, QLabel, QSizePolicy, QWidget

from engine.metrics.region import inside_polygon

PICK_RADIUS_PX = 10.0
CardProvider = Callable[[int], tuple[QPixmap | None, str]]


@dataclass(frozen=True)
class PointGroup:
    """Points drawn alike: a legend entry."""

    name: str
    color: QColor
    indices: np.ndarray


def point_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Which (x, y) rows lie inside the closed polygon: the region tool's even-odd rule, so a
    lasso and a region of interest agree on what is inside."""
    return inside_polygon(points[:, 0], points[:, 1], polygon)


def marker_size(n: int) -> int:
    """Smaller markers for denser maps, so that 50,000 points do not become one blob."""
    return 7 if n <= 3000 else 5 if n <= 20000 else 3


class SelectViewBox(pg.ViewBox):
    """Drag pans (mode "pan"), draws a box (mode "box" or Shift) or a lasso (mode "lasso" or Ctrl)."""

    polygon_drawn = Signal(object)  # (M, 2) polygon in data coordinates

    def __init__(self) -> None:
        super().__init__()
        self.mode = "pan"
        self._drag = "pan"  # the mode of the drag in progress
        self._trace: list[QPointF] = []
        self._outline = QGraphicsPathItem()
        pen = QPen(QColor(20, 20, 20), 1.5, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self._outline.setPen(pen)
        self._outline.setZValue(100)
        self._outline.hide()
        self.addItem(self._outline, ignoreBounds=True)

    def _drag_mode(self, modifiers: Qt.KeyboardModifier) -> str:
        if modifiers & Qt.KeyboardModifier.ShiftModifier:
            return "box"
        if modifiers & Qt.KeyboardModifier.ControlModifier:
            return "lasso"
        return self.mode

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802 - pyqtgraph override
        """The mode is fixed when the drag starts: letting go of Shift mid-drag keeps the box."""
        if ev.isStart():
            self._drag = self._drag_mode(ev.modifiers()) if ev.button() == Qt.MouseButton.LeftButton else "pan"
            self._trace = [self.mapToView(ev.buttonDownPos())]
        if self._drag == "pan" or axis is not None or not self._trace:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        here = self.mapToView(ev.pos())
        if self._drag == "box":
            start = self._trace[0]
            self._trace = [start, QPointF(here.x(), start.y()), here, QPointF(start.x(), here.y())]
        else:
            self._trace.append(here)
        path = QPainterPath(self._trace[0])
        for point in self._trace[1:]:
            path.lineTo(point)
        path.closeSubpath()
        self._outline.setPath(path)
        self._outline.show()
        if ev.isFinish():
            self._outline.hide()
            polygon = np.array([(p.x(), p.y()) for p in self._trace], dtype=float)
            self._trace = []
            if len(polygon) >= 3:
                self.polygon_drawn.emit(polygon)


class CaseCard(QFrame):
    """The hover card: a case's thumbnail and a few lines about it, floating over the plot."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("caseCard")
        self.setFrameShape(QFrame.Shape.Box)
        self.setStyleSheet("#caseCard { background: #fffff4; border: 1px solid #888; border-radius: 3px; }")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.image = QLabel()
        self.text = QLabel()
        self.text.setTextFormat(Qt.TextFormat.RichText)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 6, 4)
        layout.addWidget(self.image)
        layout.addWidget(self.text)
        self.hide()

    def show_case(self, pixmap: QPixmap | None, text: str, at: QPointF) -> None:
        self.image.setVisible(pixmap is not None)
        if pixmap is not None:
            self.image.setPixmap(pixmap)
        self.text.setText(text)
        self.adjustSize()
        parent = self.parentWidget()
        x, y = int(at.x()) + 14, int(at.y()) + 14
        if x + self.width() > parent.width():
            x = int(at.x()) - 14 - self.width()
        if y + self.height() > parent.height():
            y = int(at.y()) - 14 - self.height()
        self.move(max(0, x), max(0, y))
        self.raise_()
        self.show()


class PointCloud(pg.GraphicsObject):
    """Every visible point in one item, coloured by group: an "array brush".

    Positions are kept once; a recolour or a filter only recomputes which disc (one per colour,
    in a small pixmap atlas) each point is drawn with and in what order, then one
    `drawPixmapFragments` call paints them all in device pixels. pyqtgraph's ScatterPlotItem
    rebuilds per-point records on every `setData`, about 1 s for 50,000 points; this is numpy.
    """

    def __init__(self, ring: QPen | None = None) -> None:
        super().__init__()
        self.ring = ring  # draw rings in this pen instead of filled discs (the misclassified marks)
        self.coords = np.zeros((0, 2), np.float64)
        self.order = np.zeros(0, np.int64)  # points to draw, in drawing order (later on top)
        self.colour = np.zeros(0, np.int64)  # atlas column of each point in `order`
        self.size = 6
        self.atlas = QPixmap(1, 1)
        self._bounds = QRectF()

    def set_points(self, coords: np.ndarray) -> None:
        self.prepareGeometryChange()
        self.coords = np.asarray(coords, np.float64)
        if len(self.coords):
            (x0, y0), (x1, y1) = self.coords.min(axis=0), self.coords.max(axis=0)
            self._bounds = QRectF(x0, y0, max(x1 - x0, 1e-9), max(y1 - y0, 1e-9))
        else:
            self._bounds = QRectF()
        self.set_groups([], self.size)

    def set_groups(self, groups: Sequence[PointGroup], size: int) -> None:
        """Draw `groups` in order, each in its colour (no per-point Python work)."""
        self.size = int(size)
        self.order = np.concatenate([g.indices for g in groups]).astype(np.int64) if groups else np.zeros(0, np.int64)
        self.colour = (
            np.repeat(np.arange(len(groups)), [len(g.indices) for g in groups]) if groups else np.zeros(0, np.int64)
        )
        self.atlas = self._discs([g.color for g in groups])
        self.update()

    def counts(self) -> list[int]:
        """Points drawn per group, in group order."""
        return np.bincount(self.colour, minlength=int(self.colour.max(initial=-1)) + 1).tolist()

    def _discs(self, colours: Sequence[QColor]) -> QPixmap:
        cell = self.size + 2
        atlas = QPixmap(max(1, cell * len(colours)), cell)
        atlas.fill(Qt.GlobalColor.transparent)
        painter = QPainter(atlas)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for i, colour in enumerate(colours):
            if self.ring is not None:
                painter.setPen(self.ring)
                painter.setBrush(Qt.BrushStyle.NoBrush)
                inset = self.ring.widthF() / 2
                painter.drawEllipse(QRectF(i * cell + 1 + inset, 1 + inset, self.size - 2 * inset, self.size - 2 * inset))
            else:
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(colour)
                painter.drawEllipse(QRectF(i * cell + 1, 1, self.size, self.size))
        painter.end()
        return atlas

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        return self._bounds

    def paint(self, painter: QPainter, *_args: Any) -> None:
        if not len(self.order):
            return
        tr = painter.transform()  # item (data) coordinates -> device pixels
        xy = self.coords[self.order]
        x = tr.m11() * xy[:, 0] + tr.m21() * xy[:, 1] + tr.dx()
        y = tr.m12() * xy[:, 0] + tr.m22() * xy[:, 1] + tr.dy()
        cell = self.size + 2
        fragments = pg.Qt.internals.PrimitiveArray(QPainter.PixmapFragment, 10)
        fragments.resize(len(x))
        a = fragments.ndarray()
        a[:, 0], a[:, 1] = x, y
        a[:, 2] = self.colour * cell
        a[:, 3] = 0
        a[:, 4] = a[:, 5] = cell
        a[:, 6] = a[:, 7] = 1
        a[:, 8] = 0
        a[:, 9] = 1
        painter.save()
        painter.resetTransform()
        painter.drawPixmapFragments(*fragments.drawargs(), self.atlas)
        painter.restore()


class EmbeddingScatter(pg.PlotWidget):
    """The map: regions image underneath, one scatter item per group, overlays on top."""

    point_clicked = Signal(int)  # case index
    point_hovered = Signal(int)  # case index, -1 when the mouse leaves every point
    selection_changed = Signal(object)  # int array of case indices (visible ones only)

    def __init__(self, parent: QWidget | None = None) -> None:
        self.view_box = SelectViewBox()
        super().__init__(parent, viewBox=self.view_box, background="w")
        self.setObjectName("embeddingPlot")
        self.plotItem.hideButtons()
        self.plotItem.showGrid(x=False, y=False)
        for axis in ("left", "bottom"):
            self.plotItem.getAxis(axis).setPen(pg.mkPen("#999"))
            self.plotItem.getAxis(axis).setTextPen(pg.mkPen("#666"))
        # The legend sits right of the plot, in the PlotItem's grid, so it never hides points.
        self.legend = pg.LegendItem(labelTextColor="#222", verSpacing=-4)
        self.plotItem.layout.addItem(self.legend, 2, 3)
        self.legend.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.plotItem.layout.setAlignment(self.legend, Qt.AlignmentFlag.AlignTop)
        self.regions = pg.ImageItem(axisOrder="row-major")
        self.regions.setZValue(-10)
        self.addItem(self.regions, ignoreBounds=True)
        self.cloud = PointCloud()
        self.addItem(self.cloud)
        self.group_items: list[pg.ScatterPlotItem] = []  # legend samples, one per group (no points)
        ring = pg.mkPen(215, 25, 28, width=1.6)
        self._flagged = PointCloud(ring=ring)  # rings for many cases: numpy, like the points
        self._flagged.setZValue(5)
        self.addItem(self._flagged)
        self._flag_sample = pg.ScatterPlotItem(symbol="o", pen=ring, brush=pg.mkBrush(None))
        self._selected = self._overlay(symbol="o", pen=pg.mkPen(0, 0, 0, width=1.0), z=6)
        self._current = self._overlay(symbol="star", pen=pg.mkPen("k", width=1.5), brush=pg.mkBrush(255, 215, 0), z=8)
        self._hover = self._overlay(symbol="o", pen=pg.mkPen("k", width=2.5), z=9)
        self.coords = np.zeros((0, 2), np.float32)
        self.visible = np.zeros(0, dtype=np.int64)
        self.flagged = np.zeros(0, dtype=bool)  # per case: ringed (misclassified)
        self.hovered = -1
        self.card = CaseCard(self)
        self.card_provider: CardProvider | None = None
        self._mouse_proxy = pg.SignalProxy(self.scene().sigMouseMoved, rateLimit=60, slot=self._on_mouse_moved)
        # Clicks are taken from the scene: scatter items would otherwise swallow them.
        self.scene().sigMouseClicked.connect(self._on_click)
        self.view_box.polygon_drawn.connect(self._on_polygon)

    def _overlay(self, symbol: str, pen, z: float, brush=None) -> pg.ScatterPlotItem:
        item = pg.ScatterPlotItem(pxMode=True, symbol=symbol, pen=pen, brush=brush or pg.mkBrush(None))
        item.setZValue(z)
        self.addItem(item)
        return item

    # ----- content ---------------------------------------------------------------------
    def set_points(self, coords: np.ndarray) -> None:
        """New map: forget groups, overlays and selection, and frame the points."""
        self.coords = np.asarray(coords, dtype=np.float32)
        self.cloud.set_points(self.coords)
        self._flagged.set_points(self.coords)
        self.set_groups([])
        for item in (self._selected, self._current, self._hover):
            item.setData([], [])
        self.hovered = -1
        self.card.hide()
        if len(self.coords):
            (x0, y0), (x1, y1) = self.coords.min(axis=0), self.coords.max(axis=0)
            self.view_box.setRange(QRectF(x0, y0, x1 - x0, y1 - y0), padding=0.04)

    def set_groups(self, groups: Sequence[PointGroup], flagged: np.ndarray | None = None, flag_name: str = "") -> None:
        """Draw each group in its colour (legend in this order); ring the `flagged` cases."""
        self.legend.clear()
        size = marker_size(len(self.coords))
        self.cloud.set_groups(groups, size)
        self.group_items = [pg.ScatterPlotItem(size=size, pen=None, brush=pg.mkBrush(g.color), symbol="o") for g in groups]
        for item, group in zip(self.group_items, groups, strict=True):
            self.legend.addItem(item, f"{group.name} ({len(group.indices)})")
        self.visible = np.sort(np.concatenate([g.indices for g in groups])) if groups else np.zeros(0, np.int64)
        flagged = np.zeros(0, np.int64) if flagged is None else flagged
        self.flagged = np.zeros(len(self.coords), dtype=bool)
        self.flagged[flagged] = True
        self._flagged.set_groups([PointGroup("flagged", QColor(215, 25, 28), flagged)] if len(flagged) else [], size + 6)
        if len(flagged) and flag_name:
            self.legend.addItem(self._flag_sample, f"{flag_name} ({len(flagged)})")
        if self.hovered >= 0 and not np.isin(self.hovered, self.visible):
            self._set_hovered(-1, None)

    def set_regions(self, rgba: np.ndarray | None, extent: tuple[float, float, float, float] | None = None) -> None:
        """An RGBA (rows, cols, 4) uint8 image over extent (x0, x1, y0, y1), row 0 at the bottom."""
        if rgba is None or extent is None:
            self.regions.clear()
            return
        self.regions.setImage(rgba, autoLevels=False)
        x0, x1, y0, y1 = extent
        self.regions.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))

    def set_selection(self, indices: np.ndarray) -> None:
        """Ring the selected cases that are visible."""
        shown = indices[np.isin(indices, self.visible)]
        self._selected.setData(pos=self.coords[shown], size=marker_size(len(self.coords)) + 2)

    def set_current(self, index: int) -> None:
        """Mark the case that is open elsewhere (case list, canvas)."""
        if 0 <= index < len(self.coords):
            self._current.setData(pos=self.coords[[index]], size=18)
        else:
            self._current.setData([], [])

    # ----- picking ---------------------------------------------------------------------
    def nearest(self, at: QPointF, radius_px: float = PICK_RADIUS_PX) -> int:
        """The visible case nearest to `at` (data coordinates) within `radius_px` pixels, or -1."""
        if not len(self.visible):
            return -1
        px, py = self.view_box.viewPixelSize()
        if not px or not py:
            return -1
        pts = self.coords[self.visible]
        d2 = ((pts[:, 0] - at.x()) / px) ** 2 + ((pts[:, 1] - at.y()) / py) ** 2
        best = int(np.argmin(d2))
        if d2[best] > radius_px**2:
            return -1
        # Among points drawn on (nearly) the same pixel, a ringed case wins: it is the one people aim at.
        tied_flagged = (d2 <= d2[best] + 2.0) & self.flagged[self.visible]
        if tied_flagged.any():
            best = int(np.argmin(np.where(tied_flagged, d2, np.inf)))
        return int(self.visible[best])

    def widget_pos(self, index: int) -> QPointF:
        """Where case `index` is drawn, in viewport coordinates (for tests and the card)."""
        scene = self.view_box.mapViewToScene(QPointF(*map(float, self.coords[index])))
        return QPointF(self.mapFromScene(scene))

    def _on_mouse_moved(self, args: tuple) -> None:
        scene_pos = args[0]
        if not self.view_box.sceneBoundingRect().contains(scene_pos):
            self._set_hovered(-1, None)
            return
        index = self.nearest(self.view_box.mapSceneToView(scene_pos))
        self._set_hovered(index, QPointF(self.mapFromScene(scene_pos)))

    def _set_hovered(self, index: int, at: QPointF | None) -> None:
        if index < 0:
            self.card.hide()
            self._hover.setData([], [])
        else:
            self._hover.setData(pos=self.coords[[index]], size=marker_size(len(self.coords)) + 8)
            if self.card_provider is not None and at is not None:
                self.card.show_case(*self.card_provider(index), at)
        if index != self.hovered:
            self.hovered = index
            self.point_hovered.emit(index)

    def leaveEvent(self, event) -> None:  # noqa: N802 - Qt override
        self._set_hovered(-1, None)
        super().leaveEvent(event)

    def _on_click(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton or not self.view_box.sceneBoundingRect().contains(ev.scenePos()):
            return
        index = self.nearest(self.view_box.mapSceneToView(ev.scenePos()))
        if index >= 0:
            self.point_clicked.emit(index)

    def _on_polygon(self, polygon: np.ndarray) -> None:
        inside = point_in_polygon(self.coords[self.visible].astype(float), polygon)
        chosen = self.visible[inside]
        self.set_selection(chosen)
        self.selection_changed.emit(chosen)
