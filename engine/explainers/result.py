"""What an explanation returns, and what a method offers: plain data the GUI may import.

numpy only (no TensorFlow), so gui/ can use these dataclasses for type hints and display.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class MethodInfo:
    """One explanation method as the GUI builds its form from it."""

    name: str
    title: str
    params: dict[str, Any]  # parameter -> default
    choices: dict[str, list[Any]]  # parameter -> allowed values (for combo boxes)
    stochastic: bool  # uses `seed`: different seeds give different maps
    image_only: bool  # needs (N, H, W, C) inputs; tabular (N, F) is refused
    description: str
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)  # numeric ranges
    fast: bool = False  # well under a second per case: the canvas runs it on every case change
    spatial_params: tuple[str, ...] = ()  # used only for images and sequences; (N, F) rows ignore them


@dataclass(frozen=True)
class Explanation:
    """Attributions for a batch of cases, with everything needed to reproduce them.

    maps: float32, same shape as the input (one value per input feature; methods with one value
    per spatial location repeat it over channels). heatmap: float32 (N, H, W) channel-reduced map
    for image inputs, None for tabular ones. completeness_gap: per case
    sum(maps) - (f(x) - f(baseline)), only for path methods (IG, expected gradients).
    segments: int (N, H, W) superpixel labels for segment-based methods (lime, kernel_shap).
    warnings: plain sentences for the reviewer when the map means little or nothing (a near
    uniform output, an all-zero, constant or negligible map, method-specific caveats).
    """

    maps: np.ndarray
    heatmap: np.ndarray | None
    targets: np.ndarray
    method: str
    params: dict[str, Any]
    seed: int
    elapsed: float
    provenance: dict[str, Any]
    completeness_gap: np.ndarray | None = None
    segments: np.ndarray | None = None
    warnings: tuple[str, ...] = ()
