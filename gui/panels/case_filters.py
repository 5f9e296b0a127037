"""The case list's filters: name, true or predicted class, misclassified, confidence range."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QLineEdit, QVBoxLayout, QWidget
from superqt import QDoubleRangeSlider

from engine.class_names import ClassNames


class CaseFilters(QWidget):
    """`changed` fires on any edit; `mask(...)` says which cases pass."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name_filter = QLineEdit()
        self.name_filter.setPlaceholderText("Filter by name…")
        self.name_filter.setClearButtonEnabled(True)
        self.name_filter.textChanged.connect(self.changed)
        self.misclassified_check = QCheckBox("Misclassified")
        self.misclassified_check.setToolTip("Only cases whose prediction differs from the true label")
        self.misclassified_check.toggled.connect(self.changed)
        self.class_combo = QComboBox()
        self.class_combo.setToolTip("Only cases of one true or predicted class")
        self.class_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.class_combo.currentIndexChanged.connect(self.changed)
        self.confidence_slider = QDoubleRangeSlider(Qt.Orientation.Horizontal)
        self.confidence_slider.setRange(0.0, 1.0)
        self.confidence_slider.setSingleStep(0.01)
        self.confidence_slider.setValue((0.0, 1.0))
        self.confidence_slider.setToolTip("Only cases whose predicted-class probability is in this range")
        self.confidence_label = QLabel()
        self.confidence_label.setMinimumWidth(self.fontMetrics().horizontalAdvance("0.00 – 0.00") + 4)
        self.confidence_slider.valueChanged.connect(self._on_confidence)
        self._on_confidence(self.confidence_slider.value(), emit=False)
        first = QHBoxLayout()
        first.addWidget(self.name_filter, 1)
        first.addWidget(self.class_combo)
        first.addWidget(self.misclassified_check)
        second = QHBoxLayout()
        second.addWidget(QLabel("Confidence"))
        second.addWidget(self.confidence_slider, 1)
        second.addWidget(self.confidence_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(first)
        layout.addLayout(second)

    def _on_confidence(self, value: tuple[float, float], emit: bool = True) -> None:
        self.confidence_label.setText(f"{value[0]:.2f} – {value[1]:.2f}")
        if emit:
            self.changed.emit()

    def fill_classes(self, dataset_classes: tuple[str, ...], names: ClassNames, comparable: bool, predicted: bool) -> None:
        """True-label entries (the dataset's classes) and predicted-class entries (the model's)."""
        kept = self.class_combo.currentData()
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        self.class_combo.addItem("All classes", None)
        for index, name in enumerate(dataset_classes):
            self.class_combo.addItem(f"True: {name}", ("true", index))
        if predicted and len(names.names) <= 100:  # 1000 ImageNet entries would bury the true ones
            for index in range(len(names.names)):
                self.class_combo.addItem(f"Predicted: {names.name(index)}", ("predicted", index))
        self.class_combo.setCurrentIndex(max(0, self.class_combo.findData(kept)))
        self.class_combo.blockSignals(False)
        self.misclassified_check.setEnabled(comparable)
        self.misclassified_check.setToolTip(
            "Only cases whose prediction differs from the true label"
            if comparable or not predicted
            else names.mismatch or "The model's classes are not this dataset's classes"
        )

    def mask(self, summary: Any, predictions: Any, wrong: np.ndarray | None) -> np.ndarray:
        """Which cases pass the name, class, misclassified and confidence filters."""
        s, p = summary, predictions
        mask = np.ones(len(s), bool)
        text = self.name_filter.text().strip().lower()
        if text:
            mask &= np.fromiter((text in name.lower() for name in s.names), bool, len(s))
        choice = self.class_combo.currentData()
        if choice is not None:
            kind, index = choice
            if kind == "true":
                mask &= s.labels == index
            else:  # no predictions yet: nothing is known to be predicted as this class
                mask &= (p.predicted == index) if p is not None else False
        if self.misclassified_check.isChecked():
            mask &= wrong if wrong is not None else False
        low, high = self.confidence_slider.value()
        if p is not None and (low > 0.0 or high < 1.0):
            mask &= (p.confidence >= low - 1e-6) & (p.confidence <= high + 1e-6)
        return mask
