"""NormLIME (Ahern et al., 2019; as InterpretDL computes it), batched over a dataset.

Each case gets a LIME explanation (engine.explainers.lime: the same coalitions, proximity
kernel, ridge surrogate and compiled masked-score batches) towards its predicted class, over
units shared by every case: the columns of a row, or the same image regions for every image
(engine.global_explanations.features), so that weights of different cases add up. A case's
weights w are normalised as w_j^2 / sum_k |w_k| (InterpretDL's compute_normlime_weights), and
averaged over the cases predicted as each class and over all cases.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from engine.errors import Cancelled
from engine.global_explanations import features as feats
from engine.global_explanations.model_calls import Cancel, Progress, one_head
from engine.global_explanations.permutation import _check_x
from engine.global_explanations.results import NormLime

CASES_PER_CALL = 32  # cases explained per LIME call: progress and cancel between them


def normlime(
    model: Any,
    x: np.ndarray,
    nb_samples: int = 500,
    seed: int = 0,
    batch_size: int = 256,
    *,
    features: str | np.ndarray = "grid",
    cell_size: int = 4,
    n_segments: int = 16,
    kernel_width: float = 0.25,
    fill_value: float = 0.0,
    feature_names: Any = None,
    head: int | str | None = None,
    progress: Progress = None,
    cancel: Cancel = None,
) -> NormLime:
    """See the module docstring; a unit that is "off" takes `fill_value` (0: the mean of
    standardised columns). `head`: the output explained, by index or name (None: the first
    classifier head); LIME then sees that output alone (engine.explainers.views)."""
    start = time.perf_counter()
    x = np.ascontiguousarray(_check_x(x), dtype=np.float32)
    units = feats.units_of(x, features, cell_size, n_segments)
    count = feats.n_features(x, units)
    model = one_head(model, head)
    lime = _shared_units_lime(model, units, nb_samples=int(nb_samples), seed=int(seed), batch_size=int(batch_size),
                              kernel_width=float(kernel_width), fill_value=float(fill_value), output="probability")
    pick = None if units is None else np.array([np.flatnonzero(units.ravel() == m)[0] for m in range(count)])
    weights = np.zeros((len(x), count), np.float64)
    classes = np.zeros(len(x), np.int64)
    rows = 0
    calls = 0
    for begin in range(0, len(x), CASES_PER_CALL):
        stop = min(begin + CASES_PER_CALL, len(x))
        share = (begin / len(x), stop / len(x))

        def moved(f: float, share: tuple[float, float] = share) -> None:
            if progress is not None:
                progress(share[0] + (share[1] - share[0]) * f)

        if cancel is not None and cancel():
            raise Cancelled("NormLIME cancelled.")
        result = lime.explain(x[begin:stop], None, progress=moved, cancel=cancel)
        maps = result.maps.reshape(stop - begin, -1)
        weights[begin:stop] = maps if pick is None else maps[:, pick]
        classes[begin:stop] = result.targets
        done = sum(lime.evaluations.values())
        rows += done
        calls += math.ceil(done / max(1, int(batch_size)))
    normalised = weights**2 / np.maximum(np.abs(weights).sum(axis=1, keepdims=True), 1e-300)
    n_classes = max(int(classes.max()) + 1, _n_outputs(model))
    counts = np.bincount(classes, minlength=n_classes)
    by_class = np.zeros((n_classes, count))
    np.add.at(by_class, classes, normalised)
    by_class /= np.maximum(counts, 1)[:, None]
    return NormLime(
        importances=normalised.mean(axis=0),
        by_class=by_class,
        class_counts=counts,
        weights=weights,
        classes=classes,
        feature_values=_feature_values(x, units, count),
        feature_names=feats.feature_names(x, units, feature_names),
        segments=units,
        params={"nb_samples": int(nb_samples), "seed": int(seed), "batch_size": int(batch_size), "head": head,
                "kernel_width": float(kernel_width), "fill_value": float(fill_value),
                **({} if units is None else {"features": features if isinstance(features, str) else "fixed",
                                             "cell_size": int(cell_size), "n_segments": int(n_segments)})},
        model_calls=calls,
        rows=rows,
        evaluations={"forward": rows},
        elapsed=time.perf_counter() - start,
    )


def _feature_values(x: np.ndarray, units: np.ndarray | None, count: int) -> np.ndarray:
    """(N, F) the rows themselves, or each image region's mean over its pixels and channels."""
    if units is None:
        return x.astype(np.float32)
    pixels = x.mean(axis=-1).reshape(len(x), -1)
    sizes = np.maximum(np.bincount(units.ravel(), minlength=count), 1)
    sums = np.stack([np.bincount(units.ravel(), weights=row, minlength=count) for row in pixels])
    return (sums / sizes).astype(np.float32)


def _shared_units_lime(model: Any, units: np.ndarray | None, **params: Any) -> Any:
    """engine.explainers.lime.Lime whose units are `units` for every image (rows: the columns)."""
    from engine.explainers.lime import Lime

    class SharedUnitsLime(Lime):
        def units(self, x: np.ndarray) -> list[np.ndarray]:
            return [units if units is not None else np.arange(x.shape[1], dtype=np.int32)] * len(x)

    return SharedUnitsLime(model, **params)


def _n_outputs(model: Any) -> int:
    try:
        units = int(model.outputs[0].shape[-1])
    except (AttributeError, ValueError, TypeError, IndexError):
        return 0
    return 2 if units == 1 else units
