"""A table row's attributions as bars a reviewer reads: the top features by |value|, each
labelled with its raw value, and the two colours of the sign. Numpy only, so the canvas (which
may not import TensorFlow) and the reports share one definition."""

from __future__ import annotations

import numpy as np

POSITIVE = "#e8175d"  # raises the explained score (SHAP's convention), on the canvas and in reports
NEGATIVE = "#1e88e5"  # lowers it


def top_features(values: np.ndarray, names: tuple[str, ...], raw: tuple[str, ...], k: int) -> list[tuple[str, float]]:
    """The k largest |attributions|, largest first, labelled "name = raw value" (the canvas's
    bars and the report's)."""
    values = np.ravel(values).astype(np.float64)
    order = np.argsort(-np.abs(values), kind="stable")[: max(1, int(k))]
    return [(feature_label(names, raw, int(i)), float(values[i])) for i in order]


def feature_label(names: tuple[str, ...], raw: tuple[str, ...], i: int) -> str:
    """Input `i` as the reviewer reads it: "mean_radius = 17.99", or "colour=red (red)" one-hot."""
    name = names[i] if i < len(names) else f"feature {i}"
    if "=" in name and i < len(raw):  # one-hot input "colour=red": the case's category beside it
        return f"{name} ({raw[i]})"
    return f"{name} = {raw[i]}" if i < len(raw) else name
