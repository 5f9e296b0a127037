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

from typing import Any

from engine.metrics.result import MetricInfo, MetricResult
from engine.registry import LazyRegistry

__all__ = ["METRICS", "MetricInfo", "MetricResult", "available", "create", "info"]

METRICS: dict[str, str] = {
    "deletion": "engine.metrics.deletion:Deletion",
    "insertion": "engine.metrics.insertion:Insertion",
    "mufidelity": "engine.metrics.mufidelity:MuFidelity",
    "max_sensitivity": "engine.metrics.max_sensitivity:MaxSensitivity",
    "randomisation": "engine.metrics.randomisation:Randomisation",
    "sparseness": "engine.metrics.sparseness:Sparseness",
}


_REGISTRY: LazyRegistry[MetricInfo] = LazyRegistry(METRICS, lambda cls: cls.metric_info(), "metric")
available = _REGISTRY.available  # every metric's MetricInfo (parameters, meaning, direction), in order
info = _REGISTRY.info  # one metric's MetricInfo by name; unknown: BadInputError listing the known


def create(name: str, model: Any, **params: Any) -> Any:
    """A metric of `model` with `params` checked against the metric's defaults."""
    return _REGISTRY.load(name)(model, **params)
