"""Attribution summaries over a dataset: any local method (engine.explainers.create), run on
chunks of cases, reduced to what SHAP's summary and dependence plots and class-average maps show.

Rows (N, F): one value per feature. Images (N, H, W, C): one value per pixel, the channels
summed (the signed map a method gives a pixel), so `mean_abs_by_class` reshaped to (K, H, W)
is each class's average map of |attribution|.
"""

from __future__ import annotations

import math
from collections import Counter
import time
from typing import Any

import numpy as np

from engine.errors import Cancelled
from engine.global_explanations.model_calls import Cancel, Progress, one_head
from engine.global_explanations.normlime import _n_outputs
from engine.global_explanations.permutation import _check_x
from engine.global_explanations.results import AttributionSummary

CASES_PER_CALL = 64


def attribution_summary(
    model: Any,
    x: np.ndarray,
    method: str = "gradient_x_input",
    params: dict[str, Any] | None = None,
    targets: np.ndarray | None = None,
    *,
    feature_names: Any = None,
    head: int | str | None = None,
    progress: Progress = None,
    cancel: Cancel = None,
) -> AttributionSummary:
    """Explain every case of `x` with `method` (towards `targets`, or the predicted classes) and
    summarise per feature or pixel, per explained class. `head`: the output explained, by index or
    name (None: the first classifier head), as the explainers' `output_index`."""
    from engine import explainers

    start = time.perf_counter()
    x = np.ascontiguousarray(_check_x(x), dtype=np.float32)
    explainer = explainers.create(method, model, output_index=head, **(params or {}))
    image = x.ndim == 4
    width = int(np.prod(x.shape[1:3])) if image else x.shape[1]
    values = np.zeros((len(x), width), np.float32)
    classes = np.zeros(len(x), np.int64)
    rows = calls = 0
    evaluations: Counter[str] = Counter()
    batch = int(getattr(explainer, "params", {}).get("batch_size", 32))
    for begin in range(0, len(x), CASES_PER_CALL):
        if cancel is not None and cancel():
            raise Cancelled("Attribution summary cancelled.")
        stop = min(begin + CASES_PER_CALL, len(x))
        share = (begin / len(x), stop / len(x))
        chunk_targets = None if targets is None else np.asarray(targets)[begin:stop]
        result = explainer.explain(
            x[begin:stop], chunk_targets, cancel=cancel,
            progress=None if progress is None else (lambda f, s=share: progress(s[0] + (s[1] - s[0]) * f)),
        )
        maps = result.maps.sum(axis=-1) if image else result.maps
        values[begin:stop] = maps.reshape(stop - begin, -1)
        classes[begin:stop] = result.targets
        evaluations.update(getattr(explainer, "evaluations", {}))
        done = sum(getattr(explainer, "evaluations", {}).values())
        rows += done
        calls += math.ceil(done / max(1, batch))
    n_classes = max(int(classes.max()) + 1, _n_outputs(one_head(model, head)))
    counts = np.bincount(classes, minlength=n_classes)
    by_class = np.zeros((n_classes, width))
    np.add.at(by_class, classes, np.abs(values).astype(np.float64))
    by_class /= np.maximum(counts, 1)[:, None]
    shown = dict(getattr(explainer, "params", params or {}))
    return AttributionSummary(
        method=method,
        mean_abs=np.abs(values).mean(axis=0, dtype=np.float64),
        mean_abs_by_class=by_class,
        class_counts=counts,
        values=values,
        feature_values=(x.mean(axis=-1) if image else x).reshape(len(x), -1).astype(np.float32),
        classes=classes,
        shape=tuple(int(s) for s in x.shape[1:3]) if image else (),
        feature_names=_names(width, image, feature_names),
        params={**{k: v for k, v in shown.items() if not isinstance(v, np.ndarray)}, "head": head},
        model_calls=calls,
        rows=rows,
        evaluations=dict(evaluations),
        elapsed=time.perf_counter() - start,
    )


def _names(width: int, image: bool, names: Any) -> tuple[str, ...]:
    if not image and names is not None and len(names) == width:
        return tuple(str(n) for n in names)
    return tuple(f"{'pixel' if image else 'feature'} {i}" for i in range(width))
