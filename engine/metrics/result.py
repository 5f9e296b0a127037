"""What a quality metric returns, and what it offers: plain data the GUI may import.

numpy only (no TensorFlow), so gui/ can show scores and build forms from these dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class MetricInfo:
    """One metric as the GUI lists it: its form, and what its number means."""

    name: str
    title: str
    description: str  # one line: what the number means (the scorecard's hover text)
    params: dict[str, Any]  # parameter -> default
    choices: dict[str, list[Any]]
    bounds: dict[str, tuple[float, float]]
    stochastic: bool  # `seed` changes the result
    needs_method: bool  # explains again (max_sensitivity, randomisation): slow, run on a click
    better: str  # "lower" or "higher": which way a score is better
    kind: str  # "faithfulness", "sanity", "stability" or "complexity"


@dataclass(frozen=True)
class MetricResult:
    """One metric over a batch of maps, with everything needed to reproduce it.

    scores: float64 (N,), one per case (NaN where undefined, e.g. a constant map's
    correlation). curves: float64 (N, steps + 1) for deletion / insertion, else None.
    passed: bool (N,) for sanity checks (randomisation), else None. details: extra per-case
    arrays a metric exposes (e.g. the cascade's correlation after each stage).
    """

    scores: np.ndarray
    curves: np.ndarray | None
    passed: np.ndarray | None
    targets: np.ndarray
    metric: str
    params: dict[str, Any]
    seed: int
    elapsed: float
    provenance: dict[str, Any]
    threshold: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
