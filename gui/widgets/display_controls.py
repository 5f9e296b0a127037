"""Overlay display controls: mode, opacity, percentile clip, top-k%, superpixel outlines.

They only change how a result is drawn (no recomputation), so every edit re-renders at once.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QGridLayout, QLabel, QWidget
from superqt import QLabeledDoubleSlider, QLabeledSlider

from gui.widgets.attribution_canvas import DIVERGING_MAPS, SEQUENTIAL_MAPS, DisplaySettings

MODE_LABELS = {
    "signed": "Signed (diverging)",
    "absolute": "Absolute value",
    "positive": "Positive only",
    "top_k": "Top k% of pixels",
}


class DisplayControls(QWidget):
    changed = Signal(object)  # DisplaySettings

    def __init__(self, parent: QWidget | None = None, strip: bool = False) -> None:
        """`strip`: one row (label, control, label, control, ...) to sit above the maps."""
        super().__init__(parent)
        defaults = DisplaySettings()
        self.mode = QComboBox()
        self.mode.setObjectName("overlayMode")
        for key, label in MODE_LABELS.items():
            self.mode.addItem(label, key)
        self.opacity = QLabeledSlider(Qt.Orientation.Horizontal)
        self.opacity.setObjectName("overlayOpacity")
        self.opacity.setRange(0, 100)
        self.opacity.setValue(round(defaults.opacity * 100))
        self.clip = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.clip.setObjectName("clipPercentile")
        self.clip.setRange(80.0, 100.0)
        self.clip.setValue(defaults.clip_percentile)
        self.top_k = QLabeledSlider(Qt.Orientation.Horizontal)
        self.top_k.setObjectName("topK")
        self.top_k.setRange(1, 50)
        self.top_k.setValue(round(defaults.top_k))
        self.diverging_map = QComboBox()
        self.diverging_map.setObjectName("divergingMap")
        self.diverging_map.setToolTip("Colours for signed maps (symmetric around 0)")
        for key, label in DIVERGING_MAPS.items():
            self.diverging_map.addItem(label, key)
        self.sequential_map = QComboBox()
        self.sequential_map.setObjectName("sequentialMap")
        self.sequential_map.setToolTip("Colours for magnitudes: non-negative maps (saliency, Grad-CAM, RISE), |value|")
        for key, label in SEQUENTIAL_MAPS.items():
            self.sequential_map.addItem(label, key)
        self.outlines = QCheckBox("Superpixel outlines (LIME, Kernel SHAP)")
        self.outlines.setChecked(defaults.outlines)
        rows = (("Display", self.mode), ("Opacity %", self.opacity), ("Clip at pct.", self.clip),
                ("Top k %", self.top_k), ("Signed", self.diverging_map), ("Magnitudes", self.sequential_map))
        if strip:  # two rows of three, so that it fits a narrow canvas column without folding
            grid = QGridLayout(self)
            grid.setContentsMargins(4, 0, 4, 0)
            grid.setVerticalSpacing(2)
            for i, (label, widget) in enumerate(rows):
                grid.addWidget(QLabel(label), i // 3, 2 * (i % 3))
                grid.addWidget(widget, i // 3, 2 * (i % 3) + 1)
                widget.setMinimumWidth(60)
                if isinstance(widget, QComboBox):
                    widget.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
                    widget.setMinimumContentsLength(6)
            self.outlines.setText("Outlines")
            self.outlines.setToolTip("Superpixel outlines (LIME, Kernel SHAP)")
            grid.addWidget(self.outlines, 0, 6)
            for column in (1, 3, 5):
                grid.setColumnStretch(column, 1)
        else:
            form = QFormLayout(self)
            form.setContentsMargins(0, 0, 0, 0)
            for label, widget in rows:
                form.addRow(label, widget)
            form.addRow(self.outlines)
        self.mode.currentIndexChanged.connect(self._emit)
        self.opacity.valueChanged.connect(self._emit)
        self.clip.valueChanged.connect(self._emit)
        self.top_k.valueChanged.connect(self._emit)
        self.outlines.toggled.connect(self._emit)
        self.diverging_map.currentIndexChanged.connect(self._emit)
        self.sequential_map.currentIndexChanged.connect(self._emit)
        self._emit()

    def settings(self) -> DisplaySettings:
        return DisplaySettings(
            mode=self.mode.currentData(),
            opacity=self.opacity.value() / 100.0,
            clip_percentile=float(self.clip.value()),
            top_k=float(self.top_k.value()),
            outlines=self.outlines.isChecked(),
            diverging_map=self.diverging_map.currentData(),
            sequential_map=self.sequential_map.currentData(),
        )

    def set_mode(self, mode: str) -> None:
        self.mode.setCurrentIndex(self.mode.findData(mode))

    def _emit(self) -> None:
        settings = self.settings()
        self.top_k.setEnabled(settings.mode == "top_k")
        self.clip.setEnabled(settings.mode != "top_k")
        self.changed.emit(settings)
