"""The method chooser and its parameter form, built from engine.explainers.available() data.

Each parameter's editor follows its default: int -> spin box, float -> double spin box (both
limited to the method's declared bounds), choices -> combo box, bool -> check box, free text ->
line edit; arrays and lists are shown but not editable (the engine uses their defaults).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gui.method_defaults import has_pixels

INT_LIMIT = 2**31 - 1  # QSpinBox holds a C int
LAYER_PARAMS = frozenset({"layer"})  # offered as a list of the model's spatial layers
AUTO_LAYER = "auto (last spatial layer)"


class MethodPanel(QWidget):
    """`method_changed` fires when the user picks another method; `params_changed` on any edit."""

    method_changed = Signal(str)
    params_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.methods: dict[str, dict[str, Any]] = {}
        self.editors: dict[str, QWidget] = {}
        self.layer_paths: list[str] = []
        self.kind = "images"  # the open dataset's kind: tables and text have no spatial parameters
        self.combo = QComboBox()
        self.combo.setObjectName("methodCombo")
        self.combo.currentIndexChanged.connect(self._on_combo)
        self.description = QLabel("")
        self.description.setWordWrap(True)
        self.description.setStyleSheet("color: palette(mid);")
        self.form = QFormLayout()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo)
        layout.addWidget(self.description)
        layout.addLayout(self.form)

    def set_methods(self, methods: list[dict[str, Any]]) -> None:
        """Fill the chooser from available_methods_task data, keeping the current method."""
        current = self.method()
        self.methods = {m["name"]: m for m in methods}
        self.combo.blockSignals(True)
        self.combo.clear()
        for m in methods:
            self.combo.addItem(m.get("title") or m["name"], m["name"])
        self.combo.blockSignals(False)
        self.set_method(current if current in self.methods else (methods[0]["name"] if methods else ""))

    def set_layer_paths(self, paths: list[str]) -> None:
        """The layers a `layer` parameter may name (the open model's 4-D outputs)."""
        self.layer_paths = list(paths)
        self._build_form(self.method(), self.params())

    def set_kind(self, kind: str) -> None:
        """Show only the parameters that act on cases of `kind` (no segmentation for a table)."""
        self.kind = kind
        self._build_form(self.method(), self.params())

    def method(self) -> str:
        return self.combo.currentData() or ""

    def title(self, name: str) -> str:
        return self.methods.get(name, {}).get("title") or name

    def set_method(self, name: str, params: dict[str, Any] | None = None) -> None:
        """Show `name` with `params` (defaults elsewhere) without emitting signals."""
        index = self.combo.findData(name)
        if index < 0:
            return
        self.combo.blockSignals(True)
        self.combo.setCurrentIndex(index)
        self.combo.blockSignals(False)
        self._build_form(name, params or {})

    def params(self) -> dict[str, Any]:
        """Values of the editable parameters (the others keep their engine defaults)."""
        return {name: _value(editor) for name, editor in self.editors.items()}

    def _on_combo(self) -> None:
        self._build_form(self.method(), {})
        self.method_changed.emit(self.method())

    def _build_form(self, name: str, values: dict[str, Any]) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.editors.clear()
        info = self.methods.get(name)
        if info is None:
            self.description.setText("")
            return
        self.description.setText(info.get("description", ""))
        choices = info.get("choices", {}) or {}
        bounds = info.get("bounds", {}) or {}
        hidden = set() if has_pixels(self.kind) else set(info.get("spatial_params", ()))
        for param, default in info.get("params", {}).items():
            if param in hidden:
                continue
            value = values.get(param, default)
            if param in LAYER_PARAMS and (value is None or isinstance(value, str)):
                editor: QWidget | None = _layer_editor(value, self.layer_paths)
            else:
                editor = _editor(value, choices.get(param), bounds.get(param))
            if editor is None:
                self.form.addRow(param, QLabel(_summary(default)))
                continue
            editor.setObjectName(f"param_{param}")
            _connect(editor, lambda *_: self.params_changed.emit())
            self.editors[param] = editor
            self.form.addRow(param, editor)


def _editor(value: Any, choices: list[Any] | None, bounds: tuple[float, float] | None) -> QWidget | None:
    if choices:
        combo = QComboBox()
        for choice in choices:
            combo.addItem(str(choice), choice)
        combo.setCurrentIndex(max(0, combo.findText(str(value))))
        return combo
    if isinstance(value, bool):
        box = QCheckBox()
        box.setChecked(value)
        return box
    if isinstance(value, int):
        low, high = bounds or (-INT_LIMIT if value < 0 else 0, INT_LIMIT)
        spin = QSpinBox()
        spin.setRange(max(-INT_LIMIT, int(low)), min(INT_LIMIT, int(high)))
        spin.setValue(value)
        return spin
    if isinstance(value, float):
        spin = QDoubleSpinBox()
        spin.setDecimals(4)
        spin.setRange(*(bounds or (-1e9, 1e9)))
        spin.setSingleStep(abs(value) / 10 if value else 0.1)
        spin.setValue(value)
        return spin
    if value is None or isinstance(value, str):
        line = QLineEdit("" if value is None else value)
        line.setPlaceholderText("default" if value is None else "")
        line.setProperty("none_when_empty", value is None)
        return line
    return None


def _layer_editor(value: str | None, paths: list[str]) -> QComboBox:
    combo = QComboBox()
    combo.addItem(AUTO_LAYER, None)
    for path in paths:
        combo.addItem(path, path)
    combo.setCurrentIndex(max(0, combo.findData(value)) if value else 0)
    return combo


def _value(editor: QWidget) -> Any:
    if isinstance(editor, QComboBox):
        return editor.currentData()
    if isinstance(editor, QCheckBox):
        return editor.isChecked()
    if isinstance(editor, (QSpinBox, QDoubleSpinBox)):
        return editor.value()
    text = editor.text().strip()
    return None if not text and editor.property("none_when_empty") else text


def _connect(editor: QWidget, slot: Any) -> None:
    if isinstance(editor, QComboBox):
        editor.currentIndexChanged.connect(slot)
    elif isinstance(editor, QCheckBox):
        editor.toggled.connect(slot)
    elif isinstance(editor, (QSpinBox, QDoubleSpinBox)):
        editor.valueChanged.connect(slot)
    else:
        editor.editingFinished.connect(slot)


def _summary(value: Any) -> str:
    shape = getattr(value, "shape", None)
    return f"array {tuple(shape)}" if shape is not None else repr(value)[:40]
