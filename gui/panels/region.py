"""The reviewer's region of interest: a box or a free-form polygon drawn on the case, the same on
every map of the canvas.

Each map is scored against it (pointing game, share of its mass inside; engine.metrics.region,
numpy only) and the region with those scores is published as `state.region_drawn(case, record)`,
which the case browser stores with the case's review. The box has corner handles; the polygon
(an octagon to start with) has a handle per vertex, and clicking an edge adds a vertex there,
so any outline can be traced; dragging inside either moves it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, Signal

from engine.metrics.region import RegionScores, polygon_scores, region_scores

PEN = pg.mkPen("#00e5ff", width=2)
SHAPES = ("box", "polygon")


def octagon(height: float, width: float) -> np.ndarray:
    """(8, 2) vertices (x, y) of an octagon inscribed in the middle half of the image."""
    angles = np.pi / 8 + np.arange(8) * np.pi / 4
    return np.stack([width / 2 + width / 4 * np.cos(angles), height / 2 + height / 4 * np.sin(angles)], axis=1)


class RegionTool(QObject):
    """See the module docstring. `changed` fires while the region moves and when it is removed."""

    changed = Signal()

    def __init__(self, view: Any) -> None:
        super().__init__(view)
        self.view = view
        self.shape = "box"
        self.box: tuple[float, float, float, float] | None = None  # top, left, bottom, right (pixels)
        self.polygon: np.ndarray | None = None  # (M, 2) vertices (x, y) in image pixels
        self.rois: list[pg.ROI] = []

    @property
    def drawn(self) -> bool:
        return self.box is not None or self.polygon is not None

    def set_shape(self, shape: str) -> None:
        """"box" or "polygon"; a region already drawn is replaced by the new shape's default."""
        if shape not in SHAPES:
            raise ValueError(f"region shape {shape!r}: choose {' or '.join(SHAPES)}")
        self.shape = shape
        if self.drawn:
            self.set_enabled(False)
            self.set_enabled(True)

    def set_enabled(self, on: bool) -> None:
        """Show the region (the middle half of the image to start with) on every map, or remove it."""
        image = getattr(self.view.case_view, "image", None)
        self.box = self.polygon = None
        if on and image is not None:
            height, width = image.shape[:2]
            if self.shape == "box":
                self.box = (height / 4, width / 4, 3 * height / 4, 3 * width / 4)
            else:
                self.polygon = octagon(height, width)
        self.sync()
        self.changed.emit()
        self.publish()

    def set_polygon(self, points: Any) -> None:
        """A free-form region with these (x, y) vertices (as drawn), on every map."""
        self.shape, self.box = "polygon", None
        self.polygon = np.asarray(points, dtype=float).reshape(-1, 2)
        self.sync()
        self.changed.emit()
        self.publish()

    def sync(self) -> None:
        """One ROI item per canvas, all showing the region (canvases come and go with the grid)."""
        for roi in self.rois:
            roi.scene() and roi.scene().removeItem(roi)
        self.rois = []
        if not self.drawn:
            return
        for canvas in self.view.canvases:
            if self.box is not None:
                top, left, bottom, right = self.box
                roi: pg.ROI = pg.RectROI((left, top), (right - left, bottom - top), pen=PEN, removable=False)
            else:
                roi = pg.PolyLineROI([tuple(p) for p in self.polygon], closed=True, pen=PEN, removable=False)
            roi.setZValue(20)
            roi.sigRegionChanged.connect(self._moved)
            roi.sigRegionChangeFinished.connect(lambda _roi: self.publish())
            canvas.view.addItem(roi)
            self.rois.append(roi)

    def _moved(self, roi: pg.ROI) -> None:
        if isinstance(roi, pg.PolyLineROI):
            points = [roi.mapToParent(handle.pos()) for handle in roi.getHandles()]  # into image pixels
            self.polygon = np.array([(p.x(), p.y()) for p in points], dtype=float)
        else:
            (x, y), (w, h) = roi.pos(), roi.size()
            self.box = (float(y), float(x), float(y + h), float(x + w))
        for other in self.rois:
            if other is not roi:
                other.blockSignals(True)
                if isinstance(other, pg.PolyLineROI):
                    other.setPos((0, 0))
                    other.setPoints([QPointF(float(px), float(py)) for px, py in self.polygon], closed=True)
                else:
                    other.setPos(roi.pos())
                    other.setSize(roi.size())
                other.blockSignals(False)
        self.changed.emit()

    def scores(self, panel: Any) -> RegionScores | None:
        """The panel's map against the region (None without a region or an image map)."""
        result, image = panel.result, getattr(self.view.case_view, "image", None)
        if not self.drawn or result is None or result.heatmap is None or image is None:
            return None
        try:
            if self.polygon is not None:
                return polygon_scores(result.heatmap[0], self.polygon, image.shape[:2])
            return region_scores(result.heatmap[0], self.box, image.shape[:2])
        except Exception:  # noqa: BLE001 - a region dragged off the image scores nothing
            return None

    def record(self) -> dict[str, Any] | None:
        """The region and every shown map's scores, as stored with the review."""
        if not self.drawn:
            return None
        maps = {}
        for panel in self.view.panels:
            found = self.scores(panel)
            if found is not None:
                maps[panel.method] = {"pointing_hit": found.pointing_hit, "mass_inside": found.mass_inside}
        if self.polygon is not None:
            return {"polygon_x_y": [[round(float(v), 1) for v in p] for p in self.polygon], "maps": maps}
        return {"box_top_left_bottom_right": [round(v, 1) for v in self.box], "maps": maps}

    def publish(self) -> None:
        if self.view.case >= 0:
            self.view.ctx.state.region_drawn.emit(self.view.case, self.record())
