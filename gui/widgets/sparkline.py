"""A tiny line chart of one curve (deletion / insertion), drawn with QPainter: no axes, no cost."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget


class Sparkline(QWidget):
    """The curve over its index, scaled to [0, max(1, curve)]; the area under it is shaded."""

    def __init__(self, color: str = "#3b7dd8", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.curve: np.ndarray | None = None
        self.color = QColor(color)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(90, 26)

    def set_curve(self, curve: np.ndarray | None) -> None:
        self.curve = None if curve is None else np.asarray(curve, dtype=float)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = self.rect().adjusted(1, 1, -1, -1)
        painter.setPen(QPen(QColor("#c8c8c8"), 1))
        painter.drawRect(rect)
        if self.curve is None or len(self.curve) < 2:
            return
        top = max(1.0, float(np.nanmax(self.curve)))
        xs = rect.left() + np.linspace(0, rect.width(), len(self.curve))
        ys = rect.bottom() - np.clip(np.nan_to_num(self.curve) / top, 0, 1) * rect.height()
        line = QPainterPath(QPointF(xs[0], ys[0]))
        for x, y in zip(xs[1:], ys[1:]):
            line.lineTo(QPointF(x, y))
        area = QPainterPath(line)
        area.lineTo(QPointF(xs[-1], rect.bottom()))
        area.lineTo(QPointF(xs[0], rect.bottom()))
        shade = QColor(self.color)
        shade.setAlpha(60)
        painter.fillPath(area, shade)
        painter.setPen(QPen(self.color, 1.5, Qt.PenStyle.SolidLine))
        painter.drawPath(line)
