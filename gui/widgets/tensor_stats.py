"""One line of statistics about a tensor (engine.weights.TensorStats), NaN/Inf as a warning; and
the layout rule the tensor views share for narrow docks."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSplitter

WARNING_STYLE = "color: #b00020; font-weight: bold"
NARROW = 640  # below this width a view's two main panels stack vertically


def stack_panels(splitter: QSplitter, width: int, share: tuple[int, int] = (3, 2)) -> None:
    """Side by side when there is room, one above the other in a narrow dock; `share` splits it."""
    wanted = Qt.Orientation.Vertical if width < NARROW else Qt.Orientation.Horizontal
    if splitter.orientation() != wanted:
        splitter.setOrientation(wanted)
        splitter.setSizes([1000 * part for part in share])


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
