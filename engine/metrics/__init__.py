"""Quality metrics by name: ``available()`` for forms, ``create(name, model, **params)``.

    from engine.metrics import available, create
    metric = create("deletion", model, steps=10, baseline=0.0, output="probability", batch_size=32)
    result = metric.evaluate(x, maps, targets)   # maps: shape of x, or (N, H, W) for images

`baseline` (deletion, insertion, mufidelity) is a number, "mean" (each case's channel means),
"blur" (the case Gaussian-blurred, `blur_sigma` pixels) or an array of x's shape (or one case's).

Metric modules import TensorFlow, so they are imported by name only when asked for; importing
this package (or ``engine.metrics.result``) stays light enough for the GUI. A new metric is one
file with a `Metric` subclass and one line here.
"""

from __future__ import annotations

import importlib
from typing import Any

from engine.errors import BadInputError
from engine.metrics.result import MetricInfo, MetricResult

__all__ = ["METRICS", "MetricInfo", "MetricResult", "available", "create"]

METRICS: dict[str, str] = {
    "deletion": "engine.metrics.deletion:Deletion",
    "insertion": "engine.metrics.insertion:Insertion",
    "mufidelity": "engine.metrics.mufidelity:MuFidelity",
    "max_sensitivity": "engine.metrics.max_sensitivity:MaxSensitivity",
    "randomisation": "engine.metrics.randomisation:Randomisation",
    "sparseness": "engine.metrics.sparseness:Sparseness",
}


def _load(name: str) -> Any:
    module_name, _, attr = METRICS[name].partition(":")
    return getattr(importlib.import_module(module_name), attr)


def available() -> list[MetricInfo]:
    """Every metric with its parameters, meaning and direction, in a stable order."""
    return [_load(name).metric_info() for name in METRICS]


def create(name: str, model: Any, **params: Any) -> Any:
    """A metric of `model` with `params` checked against the metric's defaults."""
    if name not in METRICS:
        raise BadInputError(f"Unknown metric {name!r}; available: {', '.join(METRICS)}.")
    return _load(name)(model, **params)
