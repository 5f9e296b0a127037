"""The canvas of a tabular case: signed attributions as a horizontal bar chart, and for additive
methods a waterfall from the base value to the output.

The attributions come computed in the model's input space (scaled, encoded); each bar is labelled
with the feature's name and its raw value, as measured, so a reviewer reads "mean_radius = 17.99",
never a z-score. Colours diverge: red raises the explained score, blue lowers it (SHAP's
convention). Drawn with QPainter: a few dozen rectangles need no plot library, and the bars and
steps stay plain data (`bars.items`, `waterfall.steps`) that tests can read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import QBoxLayout, QFrame, QHBoxLayout, QLabel, QScrollArea, QSpinBox, QVBoxLayout, QWidget

from engine import feature_bars
from engine.feature_bars import feature_label, top_features

POSITIVE = QColor(feature_bars.POSITIVE)  # raises the score
NEGATIVE = QColor(feature_bars.NEGATIVE)  # lowers it
TOTAL = QColor("#7a7a7a")
MAGNITUDE = QColor("#7b5ea7")  # a map with no negative value (saliency): how much, not which way
DEFAULT_K = 10
ROW_MAX = 26
ROW_MIN = 17


@dataclass(frozen=True)
class Step:
    """One waterfall row: from `start` to `end` of the running total."""

    label: str
    start: float
    end: float

    @property
    def value(self) -> float:
        return self.end - self.start


def waterfall(values: np.ndarray, names: tuple[str, ...], raw: tuple[str, ...], k: int, base: float) -> list[Step]:
    """Steps from the base value, bottom first: the features outside the top k together, then
    the top k, smallest to largest; the last step ends at base + sum(values)."""
    values = np.ravel(values).astype(np.float64)
    order = np.argsort(-np.abs(values), kind="stable")
    top, rest = order[: max(1, int(k))], order[max(1, int(k)):]
    steps, total = [], float(base)
    if rest.size:
        change = float(values[rest].sum())
        steps.append(Step(f"{rest.size} other features", total, total + change))
        total += change
    for i in top[::-1]:
        steps.append(Step(feature_label(names, raw, int(i)), total, total + float(values[i])))
        total += float(values[i])
    return steps


def _number(value: float) -> str:
    return "0" if abs(value) < 1e-12 else f"{value:+.3g}"  # float round-off of an exact zero


class _Chart(QWidget):
    """What both charts share: a label column on the left, a value axis on the right."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(120)
        self.caption = ""

    def _rows(self, count: int) -> tuple[float, float]:
        """(top, row height) for `count` rows under the caption."""
        top = 22.0
        height = min(ROW_MAX, max(ROW_MIN, (self.height() - top - 22) / max(1, count)))
        return top, height

    def needed_height(self, count: int) -> int:
        return int(22 + 22 + count * ROW_MIN)

    def _layout(self, labels: list[str], values: list[float], low: float, high: float,
                left_numbers: bool) -> tuple[float, Any]:
        """Left edge of the bars, and value -> x; room is kept on both sides for the numbers."""
        metrics = self.fontMetrics()
        label_width = min(self.width() * 0.5, max((metrics.horizontalAdvance(t) for t in labels), default=0) + 12)
        number = max((metrics.horizontalAdvance(_number(v)) for v in values), default=0) + 8
        left = label_width + 4 + number * left_numbers
        width = max(40.0, self.width() - left - number - 6)
        span = (high - low) or 1.0

        def x_of(value: float) -> float:
            return left + (value - low) / span * width

        return label_width, x_of

    def _begin(self) -> QPainter:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), self.palette().base())
        bold = QFont(self.font())
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(self.palette().text().color())
        painter.drawText(QRectF(6, 2, self.width() - 12, 18), Qt.AlignmentFlag.AlignLeft, self.caption)
        painter.setFont(self.font())
        return painter

    def _row_label(self, painter: QPainter, text: str, y: float, height: float, right: float) -> None:
        """The feature's name, shortened in the middle if it must be; its value always whole."""
        name, sep, value = text.rpartition(" = ") if " = " in text else (text, "", "")
        tail = f"{sep}{value}"
        room = int(right - 10 - self.fontMetrics().horizontalAdvance(tail))
        elided = self.fontMetrics().elidedText(name, Qt.TextElideMode.ElideMiddle, max(room, 24)) + tail
        painter.setPen(self.palette().text().color())
        painter.drawText(QRectF(4, y, right - 10, height), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                         elided)

    def _value_text(self, painter: QPainter, value: float, x: float, y: float, height: float, after: bool) -> None:
        text = _number(value)
        w = self.fontMetrics().horizontalAdvance(text) + 4
        rect = QRectF(x + 3, y, w, height) if after else QRectF(x - w - 3, y, w, height)
        painter.setPen(self.palette().text().color())
        painter.drawText(rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)


class AttributionBars(_Chart):
    """Signed attributions, top k by |value|, largest on top; zero is the vertical axis."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tabularBars")
        self.items: list[tuple[str, float]] = []
        self.unsigned = False

    def set_items(self, items: list[tuple[str, float]], caption: str, unsigned: bool = False) -> None:
        self.items, self.caption, self.unsigned = items, caption, unsigned
        self.update()

    def paintEvent(self, _event: Any) -> None:  # noqa: N802 - Qt override
        painter = self._begin()
        if not self.items:
            painter.end()
            return
        values = [v for _, v in self.items]
        low, high = min(0.0, *values), max(0.0, *values)
        pad = 0.08 * ((high - low) or 1.0)
        left, x_of = self._layout([t for t, _ in self.items], values, low - pad * (low < 0), high + pad * (high > 0),
                                  low < 0)
        top, height = self._rows(len(self.items))
        zero = x_of(0.0)
        for row, (label, value) in enumerate(self.items):
            y = top + row * height
            self._row_label(painter, label, y, height, left)
            x = x_of(value)
            bar = QRectF(min(x, zero), y + 0.15 * height, abs(x - zero), 0.7 * height)
            painter.fillRect(bar, MAGNITUDE if self.unsigned else POSITIVE if value >= 0 else NEGATIVE)
            self._value_text(painter, value, max(x, zero) if value >= 0 else min(x, zero), y, height, value >= 0)
        painter.setPen(QPen(self.palette().text().color(), 1))
        bottom = top + len(self.items) * height
        painter.drawLine(int(zero), int(top), int(zero), int(bottom))
        painter.end()


class WaterfallChart(_Chart):
    """From the base value (bottom) through each feature's contribution to the output (top)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tabularWaterfall")
        self.steps: list[Step] = []
        self.base = 0.0
        self.output = 0.0

    def set_steps(self, steps: list[Step], base: float, output: float, caption: str) -> None:
        self.steps, self.base, self.output, self.caption = steps, base, output, caption
        self.update()

    def paintEvent(self, _event: Any) -> None:  # noqa: N802 - Qt override
        painter = self._begin()
        if not self.steps:
            painter.end()
            return
        ends = [self.base, self.output, *(s.start for s in self.steps), *(s.end for s in self.steps)]
        low, high = min(ends), max(ends)
        pad = 0.05 * ((high - low) or 1.0)
        rows = self.steps[::-1]  # largest on top
        left, x_of = self._layout([s.label for s in rows], [s.value for s in rows], low - pad, high + pad,
                                  any(s.value < 0 for s in rows))
        top, height = self._rows(len(rows))
        for row, step in enumerate(rows):
            y = top + row * height
            self._row_label(painter, step.label, y, height, left)
            a, b = x_of(step.start), x_of(step.end)
            painter.fillRect(QRectF(min(a, b), y + 0.15 * height, max(1.0, abs(b - a)), 0.7 * height),
                             POSITIVE if step.value >= 0 else NEGATIVE)
            self._value_text(painter, step.value, max(a, b) if step.value >= 0 else min(a, b), y, height,
                             step.value >= 0)
            if row + 1 < len(rows):  # the connector to the next row's start
                painter.setPen(QPen(TOTAL, 1, Qt.PenStyle.DotLine))
                painter.drawLine(int(a), int(y + 0.85 * height), int(a), int(y + height + 0.15 * height))
        bottom = top + len(rows) * height
        for value, text, at_top in ((self.base, f"base {self.base:.4g}", False), (self.output, f"output {self.output:.4g}", True)):
            x = x_of(value)
            painter.setPen(QPen(TOTAL, 1, Qt.PenStyle.DashLine))
            painter.drawLine(int(x), int(top), int(x), int(bottom))
            painter.setPen(self.palette().text().color())
            width = self.fontMetrics().horizontalAdvance(text) + 6
            x_text = min(max(x - width / 2, left), self.width() - width)
            painter.drawText(QRectF(x_text, bottom + 2 if not at_top else bottom + 2, width, 18),
                             Qt.AlignmentFlag.AlignCenter, text)
        painter.end()


class TabularChart(QWidget):
    """Bars above, waterfall below (additive methods only), with a top-k box; `set_result`
    takes an engine.tabular_explain.TabularExplanation (or None to clear)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tabularChart")
        self.result: Any = None
        self.title = QLabel()
        self.title.setObjectName("tabularTitle")
        self.title.setWordWrap(True)
        self.k_box = QSpinBox()
        self.k_box.setObjectName("tabularTopK")
        self.k_box.setPrefix("top ")
        self.k_box.setRange(1, 10_000)
        self.k_box.setValue(DEFAULT_K)
        self.k_box.setToolTip("How many features to show, largest |attribution| first")
        self.k_box.valueChanged.connect(lambda _k: self._redraw())
        self.note = QLabel()
        self.note.setObjectName("tabularNote")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #555;")
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.k_box)
        self.bars = AttributionBars()
        self.waterfall = WaterfallChart()
        inner = QWidget()
        self.charts = QBoxLayout(QBoxLayout.Direction.TopToBottom, inner)
        self.charts.setContentsMargins(0, 0, 0, 0)
        self.charts.addWidget(self.bars, 1)
        self.charts.addWidget(self.waterfall, 1)
        self.scroll = QScrollArea()  # rows stay readable in a small cell: it scrolls instead
        self.scroll.setWidget(inner)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addLayout(header)
        layout.addWidget(self.scroll, 1)
        layout.addWidget(self.note)
        self.waterfall.hide()

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        """Side by side in a wide cell, one above the other in a tall or narrow one."""
        super().resizeEvent(event)
        self._arrange()

    def _arrange(self) -> None:
        wide = self.width() >= max(900, 1.6 * self.height())
        self.charts.setDirection(QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom)
        rows = min(self.k_box.value(), max(1, len(self.bars.items))) + 1
        both = self.waterfall.isVisibleTo(self) and not wide
        self.scroll.widget().setMinimumHeight(self.bars.needed_height(rows) * (2 if both else 1))

    def image_array(self) -> np.ndarray:
        """uint8 (H, W, 3) of the whole charts (scrolled-away rows included), for PNG export."""
        image = self.scroll.widget().grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
        array = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes())
        return array.reshape(image.height(), image.bytesPerLine())[:, : image.width() * 3].reshape(
            image.height(), image.width(), 3).copy()

    def set_result(self, result: Any, title: str = "") -> None:
        self.result = result
        self.title.setText(title)
        if result is not None:
            self.k_box.blockSignals(True)
            self.k_box.setMaximum(max(1, int(np.size(result.maps[0]))))
            self.k_box.blockSignals(False)
        self._redraw()

    def _redraw(self) -> None:
        result = self.result
        if result is None:
            self.bars.set_items([], "")
            self.waterfall.set_steps([], 0.0, 0.0, "")
            self.waterfall.hide()
            self.note.setText("")
            return
        values = np.ravel(result.maps[0])
        names, raw, k = tuple(result.feature_names), tuple(result.feature_values), self.k_box.value()
        shown = min(k, values.size)
        unsigned = bool(values.size) and float(values.min()) >= 0.0 and float(values.max()) > 0.0  # as engine.overlay
        self.bars.set_items(top_features(values, names, raw, k), f"Top {shown} of {values.size} attributions by |value|",
                            unsigned)
        additive = result.base_value is not None and result.output_value is not None
        self.waterfall.setVisible(additive)
        sign = ("No value is negative (a magnitude map): a bar says how much a feature matters, not which way."
                if unsigned else "Red raises the explained score, blue lowers it.")
        note = f"{sign} Computed on the model's inputs (as the recipe scales them), labelled with the raw values."
        if additive:
            base, output = float(result.base_value), float(result.output_value)
            steps = waterfall(values, names, raw, k, base)
            self.waterfall.set_steps(steps, base, output, f"Waterfall from the base value {base:.4g} to the output {output:.4g}")
            if getattr(result, "base_text", ""):
                note += f" Base value: {result.base_text}."
            gap = steps[-1].end - output
            if abs(gap) > 1e-6 * max(1.0, abs(output)):
                note += f" The contributions miss the output by {gap:+.3g} (the method's completeness gap)."
        self.note.setText(note)
        self._arrange()
