"""The what-if editors, one per kind of case; each emits `edited(edit)` (engine.whatif's plain JSON).

- `SentenceEditor`: the sentence in a line edit.
- `FeatureEditor`: per feature a number field and a slider over the range observed in the
  dataset (the field takes any value; the slider covers the observed one).
- `BrushEditor`: the image on an AttributionCanvas with a brush: paint, erase, blur or shift
  under the brush, radius in pixels; a drag is one stroke, applied when the mouse is released
  and previewed while it moves (throttled), undo drops the last stroke.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from gui.widgets.attribution_canvas import AttributionCanvas

SLIDER_STEPS = 1000
DECIMALS = 6
BRUSH_PREVIEW_MS = 60  # while dragging: at most one preview edit this often


class SentenceEditor(QWidget):
    edited = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.box = QPlainTextEdit()
        self.box.setObjectName("whatifSentence")
        self.box.setPlaceholderText("Edit the sentence: the prediction follows as you type")
        self.box.textChanged.connect(self._on_changed)
        self._quiet = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Sentence (edit it)"))
        layout.addWidget(self.box, 1)

    def set_case(self, case: Any) -> None:
        self._quiet = True  # the case's own sentence is not an edit
        self.box.setPlainText(case.text)
        self._quiet = False

    def set_text(self, text: str) -> None:
        """Type `text` as the user would (tests, the bench)."""
        self.box.setPlainText(text)

    def _on_changed(self) -> None:
        if not self._quiet:
            self.edited.emit({"kind": "text", "text": self.box.toPlainText()})


class FeatureEditor(QWidget):
    edited = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("whatifFeatures")
        self.table.setHorizontalHeaderLabels(["feature", "value", "observed range", "was"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.fields: list[QDoubleSpinBox] = []
        self.sliders: list[QSlider] = []
        self.original = np.zeros(0)
        self.low = self.high = np.zeros(0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)

    def set_case(self, case: Any) -> None:
        self.by_name = bool(getattr(case, "by_name", False))
        self.names = list(case.feature_names)
        self.original = np.asarray(case.values, np.float64)
        self.low, self.high = np.asarray(case.low, np.float64), np.asarray(case.high, np.float64)
        self.table.setRowCount(len(self.original))
        self.fields, self.sliders = [], []
        for i, name in enumerate(case.feature_names):
            field = QDoubleSpinBox()
            field.setDecimals(DECIMALS)
            field.setRange(-1e12, 1e12)
            span = float(self.high[i] - self.low[i])
            field.setSingleStep(span / 100 if span > 0 else 0.1)
            field.setValue(float(self.original[i]))
            field.setKeyboardTracking(False)
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(0, SLIDER_STEPS)
            slider.setToolTip(f"{self.low[i]:.4g} … {self.high[i]:.4g} in this dataset")
            slider.setValue(self._step(i, float(self.original[i])))
            field.valueChanged.connect(lambda value, i=i: self._on_field(i, value))
            slider.valueChanged.connect(lambda step, i=i: self._on_slider(i, step))
            self.table.setItem(i, 0, _item(str(name)))
            self.table.setCellWidget(i, 1, field)
            self.table.setCellWidget(i, 2, slider)
            self.table.setItem(i, 3, _item(f"{self.original[i]:.4g}"))
            self.fields.append(field)
            self.sliders.append(slider)

    def _step(self, i: int, value: float) -> int:
        span = float(self.high[i] - self.low[i])
        return 0 if span <= 0 else int(round(np.clip((value - self.low[i]) / span, 0, 1) * SLIDER_STEPS))

    def _on_slider(self, i: int, step: int) -> None:
        value = float(self.low[i] + step / SLIDER_STEPS * (self.high[i] - self.low[i]))
        self.fields[i].blockSignals(True)
        self.fields[i].setValue(value)
        self.fields[i].blockSignals(False)
        self._emit()

    def _on_field(self, i: int, value: float) -> None:
        self.sliders[i].blockSignals(True)
        self.sliders[i].setValue(self._step(i, value))
        self.sliders[i].blockSignals(False)
        self._emit()

    def set_value(self, i: int, value: float) -> None:
        """Type a value into feature i's field (tests, the bench)."""
        self.fields[i].setValue(value)

    def _emit(self) -> None:
        changed = [(i, float(f.value())) for i, f in enumerate(self.fields) if f.value() != round(self.original[i], DECIMALS)]
        if self.by_name:  # a table: columns by name, in the units they were measured in
            self.edited.emit({"kind": "columns", "values": {self.names[i]: v for i, v in changed}})
        else:
            self.edited.emit({"kind": "features", "values": {str(i): v for i, v in changed}})


def _item(text: str) -> Any:
    from PySide6.QtWidgets import QTableWidgetItem

    item = QTableWidgetItem(text)
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    return item


class BrushEditor(QWidget):
    edited = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = AttributionCanvas()
        self.canvas.setObjectName("whatifCanvas")
        self.op = QComboBox()
        self.op.setObjectName("brushOp")
        for op, text in (("erase", "Erase"), ("paint", "Paint"), ("blur", "Blur"), ("shift", "Shift")):
            self.op.addItem(text, op)
        self.radius = _spin(QDoubleSpinBox(), 0.5, 64.0, 2.0, "radius ")
        self.value = _spin(QDoubleSpinBox(), 0.0, 1.0, 1.0, "paint ")
        self.dy = _spin(QSpinBox(), -64, 64, 0, "dy ")
        self.dx = _spin(QSpinBox(), -64, 64, 2, "dx ")
        self.undo = QPushButton("Undo stroke")
        self.undo.clicked.connect(self.undo_stroke)
        tools = QVBoxLayout()  # a column beside the image: the bottom dock is wide and short
        for widget in (self.op, self.radius, self.value, self.dy, self.dx, self.undo):
            tools.addWidget(widget)
        tools.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(tools)
        layout.addWidget(self.canvas, 1)
        self.strokes: list[dict[str, Any]] = []
        self._drawing: dict[str, Any] | None = None
        self._preview = QTimer(self, singleShot=True, interval=BRUSH_PREVIEW_MS)
        self._preview.timeout.connect(self._emit)
        self.canvas.plot.viewport().installEventFilter(self)
        self.shape: tuple[int, int] = (0, 0)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        """Small: the dock's scroll area sizes a word-wrapped view by its children's hints, and
        pyqtgraph's 640x480 hint made the brush canvas run below the dock's bottom edge."""
        return QSize(320, 220)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt override
        """The canvas's wrapped title would otherwise ask for the plot's full 500 px hint."""
        return False

    def set_case(self, case: Any) -> None:
        self.strokes, self._drawing = [], None
        self.shape = tuple(case.image.shape[:2])
        self.canvas.set_image(case.image)

    def stroke(self, points: list[list[float]]) -> None:
        """One finished stroke with the current tool (tests, the bench, a mouse release)."""
        self.strokes.append(self._new_stroke(points))
        self._emit()

    def undo_stroke(self) -> None:
        if self.strokes:
            self.strokes.pop()
            self._emit()

    def _new_stroke(self, points: list[list[float]]) -> dict[str, Any]:
        stroke: dict[str, Any] = {"op": self.op.currentData(), "radius": float(self.radius.value()),
                                  "points": [[round(float(r), 2), round(float(c), 2)] for r, c in points]}
        if stroke["op"] == "paint":
            stroke["value"] = float(self.value.value())
        if stroke["op"] == "shift":
            stroke["shift"] = [int(self.dy.value()), int(self.dx.value())]
        return stroke

    def edit(self) -> dict[str, Any]:
        strokes = self.strokes + ([self._drawing] if self._drawing else [])
        return {"kind": "brush", "strokes": strokes}

    def _emit(self) -> None:
        self.edited.emit(self.edit())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        """Left-drag on the image brushes (instead of panning); the wheel still zooms."""
        kind = event.type()
        if kind not in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove, QEvent.Type.MouseButtonRelease):
            return False
        if kind == QEvent.Type.MouseButtonPress and event.button() != Qt.MouseButton.LeftButton:
            return False
        if kind != QEvent.Type.MouseButtonPress and self._drawing is None:
            return False
        scene = self.canvas.plot.mapToScene(event.position().toPoint())
        point = self.canvas.view.mapSceneToView(scene)
        here = [point.y() - 0.5, point.x() - 0.5]  # pixel centres are at +0.5
        if kind == QEvent.Type.MouseButtonPress:
            self._drawing = self._new_stroke([here])
        elif kind == QEvent.Type.MouseMove:
            self._drawing["points"].append([round(here[0], 2), round(here[1], 2)])
            if not self._preview.isActive():
                self._preview.start()
        else:
            self._preview.stop()
            self.strokes.append(self._drawing)
            self._drawing = None
            self._emit()
        return True


def _spin(box: Any, low: float, high: float, value: float, prefix: str) -> Any:
    box.setRange(low, high)
    box.setValue(value)
    box.setPrefix(prefix)
    return box
