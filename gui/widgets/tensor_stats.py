"""One line of statistics about a tensor (engine.weights.TensorStats), NaN/Inf as a warning."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

WARNING_STYLE = "color: #b00020; font-weight: bold"


def fmt(value: float) -> str:
    """Compact number: 4 significant digits, scientific only when needed."""
    return f"{value:.4g}"


class StatsPanel(QLabel):
    """Shows min, max, mean (and std, L2 when asked), zero fractions and a NaN/Inf warning."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.nonfinite = 0

    def show_stats(self, stats: Any, full: bool = False, prefix: str = "") -> None:
        """`full` adds std, L2 and near-zero (weights); without it: zeros as dead units (activations)."""
        self.nonfinite = stats.nan + stats.inf
        parts = [f"min {fmt(stats.min)}", f"max {fmt(stats.max)}", f"mean {fmt(stats.mean)}"]
        if full:
            parts += [
                f"std {fmt(stats.std)}",
                f"L2 {fmt(stats.l2)}",
                f"near zero {stats.near_zero_fraction:.1%} "
                f"<span style='color:gray'>(|w| &lt; 1e-3·max|w| = {fmt(stats.near_zero_threshold)})</span>",
            ]
        parts.append(f"zeros {stats.zero_fraction:.1%}")
        text = (prefix + " · " if prefix else "") + " · ".join(parts)
        if self.nonfinite:
            text += f" · <span style='{WARNING_STYLE}'>⚠ {stats.nan} NaN, {stats.inf} Inf</span>"
        self.setText(text)

    def clear_stats(self) -> None:
        self.nonfinite = 0
        self.clear()
