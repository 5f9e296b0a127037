"""The case's top predictions and the class being explained (the top one unless chosen).

Clicking a row or entering any class index in the spin box changes the target; -1 (shown as
"top prediction") follows the model's prediction for each case.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHeaderView,
    QLabel,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

TOP_ROWS = 5


class ClassTarget(QWidget):
    target_changed = Signal(object)  # int class index, or None for "top prediction"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.class_names: tuple[str, ...] = ()
        self.table = QTableWidget(0, 3)
        self.table.setObjectName("topPredictions")
        self.table.setHorizontalHeaderLabels(["Class", "Name", "Probability"])
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setFixedHeight(self.table.horizontalHeader().sizeHint().height() + 22 * TOP_ROWS + 4)
        self.table.cellClicked.connect(lambda row, _col: self.set_target(int(self.table.item(row, 0).text())))
        self.spin = QSpinBox()
        self.spin.setObjectName("targetClass")
        self.spin.setRange(-1, 0)
        self.spin.setSpecialValueText("top prediction")
        self.spin.setValue(-1)
        self.spin.valueChanged.connect(self._on_spin)
        self.name = QLabel("")
        form = QFormLayout()
        form.addRow("Explain class", self.spin)
        form.addRow("", self.name)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(form)

    def target(self) -> int | None:
        value = self.spin.value()
        return None if value < 0 else value

    def set_target(self, target: int | None) -> None:
        self.spin.setValue(-1 if target is None else int(target))

    def reset(self) -> None:
        """Back to 'top prediction' without announcing it (a new case does that itself)."""
        self.spin.blockSignals(True)
        self.spin.setValue(-1)
        self.spin.blockSignals(False)
        self._show_name()

    def set_predictions(self, top: Any, names: Any = None) -> None:
        """Fill from a TopPredictions; class names from `names` (engine.class_names.ClassNames,
        the case list's mapping) when given, else the engine's."""
        self.class_names = tuple(names.names) if names is not None and any(names.names) else tuple(top.class_names)
        self.spin.blockSignals(True)
        self.spin.setRange(-1, max(0, int(top.n_classes) - 1))
        self.spin.blockSignals(False)
        self.table.setRowCount(len(top.classes))
        for row, (cls, prob) in enumerate(zip(top.classes, top.probabilities)):
            for col, text in enumerate((str(int(cls)), self.class_name(int(cls)), f"{float(prob):.3f}")):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self._show_name()

    def set_choices(self, n_classes: int, note: str = "") -> None:
        """Targets 0..n-1 of a head with no top predictions (labels, regression units, map classes)."""
        self.class_names = ()
        self.spin.blockSignals(True)
        self.spin.setRange(-1, max(0, int(n_classes) - 1))
        self.spin.blockSignals(False)
        self.table.setRowCount(0)
        self._show_name()

    def clear(self) -> None:
        self.table.setRowCount(0)
        self.class_names = ()
        self.reset()

    def class_name(self, index: int) -> str:
        named = 0 <= index < len(self.class_names) and self.class_names[index]
        return self.class_names[index] if named else f"class {index}"

    def _on_spin(self) -> None:
        self._show_name()
        self.target_changed.emit(self.target())

    def _show_name(self) -> None:
        target = self.target()
        self._highlight(target)
        self.name.setText("follows the model's prediction" if target is None else self.class_name(target))

    def _highlight(self, target: int | None) -> None:
        """The row of the explained class is selected; none when following the top prediction."""
        rows = [r for r in range(self.table.rowCount()) if target is not None and self.table.item(r, 0).text() == str(target)]
        self.table.blockSignals(True)
        self.table.clearSelection()
        if rows:
            self.table.selectRow(rows[0])
        else:
            self.table.setCurrentCell(-1, -1)
        self.table.blockSignals(False)
