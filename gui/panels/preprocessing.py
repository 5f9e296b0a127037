"""The preprocessing panel: the recipe in one always-visible line, editable when expanded.

Explicit on purpose: an attribution map is only as trustworthy as the input the model was fed,
so the resize, scaling and channel handling are never hidden defaults. Target size and model
channels are shown but not edited: they come from the model's input spec.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget
from superqt import QCollapsible

from engine.preprocessing import (
    CHANNEL_TITLES,
    RESIZE_TITLES,
    SCALE_TITLES,
    Preprocessing,
)


class PreprocessingPanel(QWidget):
    """Shows and edits a `Preprocessing` recipe; emits the edited recipe as a dict."""

    recipe_edited = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.recipe = Preprocessing()
        self.collapsible = QCollapsible("Preprocessing", self, expandedIcon="▾", collapsedIcon="▸")
        self.collapsible.setObjectName("preprocessingCollapsible")
        self.collapsible.layout().setContentsMargins(0, 0, 0, 0)
        toggle = self.collapsible.toggleButton()  # a long recipe line is cut at the dock's edge (full text as tip)
        toggle.setSizePolicy(QSizePolicy.Policy.Ignored, toggle.sizePolicy().verticalPolicy())
        body = QWidget()
        form = QFormLayout(body)
        form.setContentsMargins(16, 0, 0, 4)
        self.resize_combo = self._combo(RESIZE_TITLES, "How images of another size become the model's size")
        self.scale_combo = self._combo(SCALE_TITLES, "Pixel value range the model was trained on")
        self.channels_combo = self._combo(CHANNEL_TITLES, "Gray ↔ RGB conversion; alpha is always dropped")
        self.strict_check = QCheckBox("Refuse other sizes or channels")
        self.strict_check.setToolTip(
            "Refuse images of another size or channel count. Off: adapt them as above. On: list them as errors instead."
        )
        self.strict_check.toggled.connect(self._edited)
        self.target_label = QLabel()
        self.target_label.setObjectName("preprocessingTarget")
        form.addRow("Resize", self.resize_combo)
        form.addRow("Scale", self.scale_combo)
        form.addRow("Channels", self.channels_combo)
        form.addRow(self.strict_check)
        form.addRow("Model input", self.target_label)
        self.collapsible.addWidget(body)
        self.problem_label = QLabel()
        self.problem_label.setObjectName("preprocessingProblem")
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("color: #b3261e;")
        self.problem_label.hide()
        self.note_label = QLabel()
        self.note_label.setObjectName("preprocessingNote")
        self.note_label.setWordWrap(True)
        self.note_label.setStyleSheet("color: #8a5a00;")
        self.note_label.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.collapsible)
        layout.addWidget(self.problem_label)
        layout.addWidget(self.note_label)
        self.set_recipe(self.recipe)

    def _combo(self, titles: dict[str, str], tip: str) -> QComboBox:
        combo = QComboBox()
        for key, title in titles.items():
            combo.addItem(title, key)
        combo.setToolTip(tip)
        # long titles shrink with the dock (elided) instead of widening the whole case view
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(12)
        combo.currentIndexChanged.connect(self._edited)
        return combo

    def set_recipe(self, recipe: Preprocessing | dict[str, Any]) -> None:
        """Show `recipe` (from the engine, after fitting to the model) without emitting an edit."""
        self.recipe = recipe if isinstance(recipe, Preprocessing) else Preprocessing.from_dict(recipe)
        for combo, value in (
            (self.resize_combo, self.recipe.resize),
            (self.scale_combo, self.recipe.scale),
            (self.channels_combo, self.recipe.channels),
        ):
            combo.blockSignals(True)
            combo.setCurrentIndex(combo.findData(value))
            combo.blockSignals(False)
        self.strict_check.blockSignals(True)
        self.strict_check.setChecked(not self.recipe.adapt)
        self.strict_check.blockSignals(False)
        size = self.recipe.size
        channels = self.recipe.model_channels
        self.target_label.setText(
            (f"{size[0]} × {size[1]}" if size else "any size")
            + (f" × {channels}" if channels else "")
        )
        self._title(self.recipe)

    def _title(self, recipe: Preprocessing) -> None:
        text = f"Preprocessing: {recipe.describe()}"
        self.collapsible.setText(text)
        self.collapsible.toggleButton().setToolTip(text)

    def set_problem(self, message: str) -> None:
        """A recipe that does not fit the model: say why, in place, until the next good recipe."""
        self.problem_label.setText(message)
        self.problem_label.setVisible(bool(message))

    def set_note(self, message: str) -> None:
        """Where the recipe came from when it was guessed (cleared by the user's first edit)."""
        self.note_label.setText(message)
        self.note_label.setVisible(bool(message))

    def edited_recipe(self) -> Preprocessing:
        return Preprocessing(
            resize=self.resize_combo.currentData(),
            scale=self.scale_combo.currentData(),
            channels=self.channels_combo.currentData(),
            size=self.recipe.size,
            model_channels=self.recipe.model_channels,
            adapt=not self.strict_check.isChecked(),
        )

    def _edited(self) -> None:
        recipe = self.edited_recipe()
        if recipe != self.recipe:
            self.set_note("")
            self.recipe = recipe
            self._title(recipe)
            self.recipe_edited.emit(recipe.to_dict())
