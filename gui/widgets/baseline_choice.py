"""The baseline the perturbation metrics fill removed pixels with: 0, the case's mean, the case
blurred (sigma in pixels) or a number. Deletion, insertion and MuFidelity change with it (a
black fill on a dark image removes little), so the scorecard and the benchmark both offer it,
keep it in the settings (`SETTINGS_KEY`) and name it beside every score it produced.

`params()` is what the engine takes (engine.metrics' `baseline` and `blur_sigma`).
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QWidget

SETTINGS_KEY = "metric_baseline"
DEFAULT: dict[str, Any] = {"baseline": 0.0}
DEFAULT_SIGMA = 5.0  # engine.metrics.deletion's default
KINDS = (("0", "zero"), ("mean", "mean"), ("blur", "blur"), ("number", "number"))


def valid(value: Any) -> bool:
    """A stored baseline of the shape `params()` writes (the settings' schema check)."""
    if not isinstance(value, dict) or set(value) - {"baseline", "blur_sigma"}:
        return False
    baseline, sigma = value.get("baseline"), value.get("blur_sigma", DEFAULT_SIGMA)
    number = isinstance(baseline, (int, float)) and not isinstance(baseline, bool) and math.isfinite(baseline)
    return (number or baseline in ("mean", "blur")) and isinstance(sigma, (int, float)) and 0 <= sigma <= 10000


def describe(params: dict[str, Any]) -> str:
    """'blur, sigma 5 px' / 'mean' / '0': the baseline in words (tooltips, status lines)."""
    baseline = params.get("baseline", DEFAULT["baseline"])
    if baseline == "blur":
        return f"blur, σ {float(params.get('blur_sigma', DEFAULT_SIGMA)):g} px"
    return baseline if isinstance(baseline, str) else f"{float(baseline):g}"


class BaselineChoice(QWidget):
    """Kind (0 / mean / blur / number) and its value; `changed(params)` on every edit."""

    changed = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = QComboBox()
        self.kind.setObjectName("baselineKind")
        for label, data in KINDS:
            self.kind.addItem(label, data)
        self.kind.setToolTip("What deletion, insertion and MuFidelity put where they remove pixels: 0, each "
                             "case's channel means, the case blurred (σ in pixels) or a number.")
        self.value = QDoubleSpinBox()
        self.value.setObjectName("baselineValue")
        self.value.setDecimals(2)
        self.value.setRange(-1e6, 1e6)
        self.value.setVisible(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(QLabel("Baseline"))
        layout.addWidget(self.kind)
        layout.addWidget(self.value)
        self._sigma, self._number = DEFAULT_SIGMA, 0.0
        self.kind.currentIndexChanged.connect(self._on_kind)
        self.value.valueChanged.connect(self._on_value)

    def params(self) -> dict[str, Any]:
        """The engine's parameters; `blur_sigma` only with "blur" (so equal choices are equal dicts)."""
        kind = self.kind.currentData()
        baseline: Any = {"zero": 0.0, "number": self._number}.get(kind, kind)
        return {"baseline": baseline, "blur_sigma": self._sigma} if kind == "blur" else {"baseline": baseline}

    def set_params(self, params: dict[str, Any]) -> None:
        """Show `params` (a stored or default baseline) without emitting `changed`."""
        params = params if valid(params) else DEFAULT
        baseline = params.get("baseline", 0.0)
        self._sigma = float(params.get("blur_sigma", DEFAULT_SIGMA))
        kind = baseline if isinstance(baseline, str) else ("zero" if baseline == 0 else "number")
        self._number = 0.0 if isinstance(baseline, str) else float(baseline)
        self.blockSignals(True)
        self.kind.setCurrentIndex(self.kind.findData(kind))
        self._on_kind()
        self.blockSignals(False)

    def _on_kind(self, _index: int = 0) -> None:
        kind = self.kind.currentData()
        self.value.setVisible(kind in ("blur", "number"))
        self.value.blockSignals(True)
        if kind == "blur":
            self.value.setRange(0.0, 10000.0)
            self.value.setPrefix("σ ")
            self.value.setSuffix(" px")
            self.value.setValue(self._sigma)
        elif kind == "number":
            self.value.setRange(-1e6, 1e6)
            self.value.setPrefix("")
            self.value.setSuffix("")
            self.value.setValue(self._number)
        self.value.blockSignals(False)
        self.changed.emit(self.params())

    def _on_value(self, value: float) -> None:
        if self.kind.currentData() == "blur":
            self._sigma = float(value)
        else:
            self._number = float(value)
        self.changed.emit(self.params())
