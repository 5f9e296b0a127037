"""The reviewer's region of interest: a box drawn on the case, the same on every map of the canvas.

Each map is scored against it (pointing game, share of its mass inside; engine.metrics.region,
numpy only) and the box with those scores is published as `state.region_drawn(case, record)`,
which the case browser stores with the case's review.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QObject, Signal

from engine.metrics.region import RegionScores, region_scores

PEN = pg.mkPen("#00e5ff", width=2)


class RegionTool(QObject):
    """See the module docstring. `changed` fires while the box moves and when it is removed."""

    changed = Signal()

    def __init__(self, view: Any) -> None:
        super().__init__(view)
        self.view = view
        self.box: tuple[float, float, float, float] | None = None  # top, left, bottom, right (pixels)
        self.rois: list[pg.RectROI] = []

    def set_enabled(self, on: bool) -> None:
        """Show a box (the middle half of the image to start with) on every map, or remove it."""
        image = getattr(self.view.case_view, "image", None)
        if on and image is not None:
            height, width = image.shape[:2]
            self.box = self.box or (height / 4, width / 4, 3 * height / 4, 3 * width / 4)
        else:
            self.box = None
        self.sync()
        self.changed.emit()
        self.publish()

    def sync(self) -> None:
        """One ROI item per canvas, all at `box` (canvases come and go with the grid)."""
        for roi in self.rois:
            roi.scene() and roi.scene().removeItem(roi)
        self.rois = []
        if self.box is None:
            return
        top, left, bottom, right = self.box
        for canvas in self.view.canvases:
            roi = pg.RectROI((left, top), (right - left, bottom - top), pen=PEN, removable=False)
            roi.setZValue(20)
            roi.sigRegionChanged.connect(self._moved)
            roi.sigRegionChangeFinished.connect(lambda _roi: self.publish())
            canvas.view.addItem(roi)
            self.rois.append(roi)

    def _moved(self, roi: pg.RectROI) -> None:
        (x, y), (w, h) = roi.pos(), roi.size()
        self.box = (float(y), float(x), float(y + h), float(x + w))
        for other in self.rois:
            if other is not roi:
                other.blockSignals(True)
                other.setPos((x, y))
                other.setSize((w, h))
                other.blockSignals(False)
        self.changed.emit()

    def scores(self, panel: Any) -> RegionScores | None:
        """The panel's map against the box (None without a box or an image map)."""
        result, image = panel.result, getattr(self.view.case_view, "image", None)
        if self.box is None or result is None or result.heatmap is None or image is None:
            return None
        try:
            return region_scores(result.heatmap[0], self.box, image.shape[:2])
        except Exception:  # noqa: BLE001 - a box dragged off the image scores nothing
            return None

    def record(self) -> dict[str, Any] | None:
        """The box and every shown map's scores, as stored with the review."""
        if self.box is None:
            return None
        maps = {}
        for panel in self.view.panels:
            found = self.scores(panel)
            if found is not None:
                maps[panel.method] = {"pointing_hit": found.pointing_hit, "mass_inside": found.mass_inside}
        return {"box_top_left_bottom_right": [round(v, 1) for v in self.box], "maps": maps}

    def publish(self) -> None:
        if self.view.case >= 0:
            self.view.ctx.state.region_drawn.emit(self.view.case, self.record())
