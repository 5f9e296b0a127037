"""The shared machinery behind every quality metric: parameters, maps, targets, records.

A metric reuses the explainers' machinery as it is (`engine.explainers.base.Explainer`):
parameter checking against `defaults` / `choices` / `bounds`, compiled functions cached per
model, `run_batches` with progress, cancel between batches and the out-of-memory retry,
`case_rng` for batch-size independent randomness and the `evaluations` count the bench's floor
replays. Its entry point is `evaluate(x, maps, targets)`, not `explain`.

How to write one (one file per metric, registered by name in ``engine/metrics/__init__``):

    class Sparseness(Metric):
        name, title = "sparseness", "Sparseness"
        description = "One line a reviewer reads on hover: what the number means."
        better, kind = "higher", "complexity"

        def measure(self, x, maps, targets):
            return {"scores": gini(np.abs(importance(maps, x)))}   # + "curves", "passed", "details"

`measure` gets the validated float32 input, maps of x's shape (or (N, H, W) for images) and
resolved int64 targets. `importance(maps, x)` gives one value per feature (channel mean for
images), the unit every metric ranks, masks and correlates.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from engine import provenance
from engine.errors import BadInputError, NumericalError
from engine.explainers.base import Explainer
from engine.metrics.result import MetricInfo, MetricResult

# A method as the metrics that explain again take it: a registered name, or a callable
# `method(model, x, targets) -> maps` (e.g. a model-independent edge filter under test).
MethodFn = Callable[[Any, np.ndarray, np.ndarray], np.ndarray]


def spatial_shape(x: np.ndarray) -> tuple[int, ...]:
    """The feature grid a map ranks: (H, W) for images, the rest of the shape otherwise."""
    return tuple(x.shape[1:3]) if x.ndim == 4 else tuple(x.shape[1:])


def importance(maps: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(N, features) float64: one value per feature, channels averaged for images (signed)."""
    maps = np.asarray(maps, dtype=np.float64)
    if x.ndim == 4 and maps.ndim == 4:
        maps = maps.mean(axis=-1)
    return maps.reshape(len(maps), -1)


def rank_rows(values: np.ndarray) -> np.ndarray:
    """Ranks (1..n, float64) along the last axis, ties sharing their average rank (as Spearman's
    rho needs): scipy's rankdata(values, axis=-1), in one sort of the rows and a few flat passes
    (the randomisation check ranks the maps at every stage)."""
    values = np.asarray(values)
    n = values.shape[-1]
    rows = values.reshape(-1, n)
    order = np.argsort(rows, axis=1)  # not stable: a tie's members all get its average rank anyway
    ordered = np.take_along_axis(rows, order, axis=1)
    starts_run = np.ones(ordered.shape, dtype=bool)
    starts_run[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    starts_run = starts_run.ravel()
    run = np.cumsum(starts_run) - 1
    first = np.flatnonzero(starts_run)
    last = np.append(first[1:], starts_run.size) - 1
    average = (first % n + last % n) / 2.0 + 1.0
    ranks = np.empty(rows.shape)
    np.put_along_axis(ranks, order, average[run].reshape(rows.shape), axis=1)
    return ranks.reshape(values.shape)


def correlate_rows(a: np.ndarray, b: np.ndarray, method: str = "pearson") -> np.ndarray:
    """Per-row Pearson (or Spearman: Pearson of ranks) correlation; NaN where a row is constant."""
    if method == "spearman":
        a, b = rank_rows(a), rank_rows(b)
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    norm = np.sqrt((a * a).sum(axis=-1) * (b * b).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, (a * b).sum(axis=-1) / np.where(norm > 0, norm, 1.0), np.nan)


BASELINES = ("mean", "blur")


def resolve_baseline(baseline: float | str | np.ndarray, x: np.ndarray, blur_sigma: float) -> float | np.ndarray:
    """The fill of the perturbation metrics: a number as it is, else (N, ...) of x's shape.

    "mean": each case's channel means (each channel's mean over the image; a non-image case's
    mean over its features), everywhere. "blur": the case blurred by a Gaussian of `blur_sigma`
    pixels over height and width (channels apart; images only), Petsiuk et al.'s blurred
    insertion start. An array: x's shape (one baseline per case) or one case's shape (the same
    for every case).
    """
    if isinstance(baseline, str):
        if baseline == "mean":
            axes = (1, 2) if x.ndim == 4 else tuple(range(1, x.ndim))
            return np.broadcast_to(x.mean(axis=axes, keepdims=True, dtype=np.float64), x.shape).astype(np.float32)
        if x.ndim != 4:
            raise BadInputError(f"baseline 'blur' needs image input (N, H, W, C), got shape {x.shape}.")
        from scipy.ndimage import gaussian_filter

        return gaussian_filter(x.astype(np.float64), sigma=(0, blur_sigma, blur_sigma, 0), mode="nearest").astype(np.float32)
    array = np.asarray(baseline, dtype=np.float32)
    if array.ndim == 0:
        return float(array)
    if array.shape == x.shape[1:]:
        return np.broadcast_to(array, x.shape)
    if array.shape != x.shape:
        raise BadInputError(f"baseline: an array must have the input's shape {x.shape} or one case's "
                            f"{x.shape[1:]}, got {array.shape}.")
    return array


def fill_rows(fill: float | np.ndarray, cases: np.ndarray) -> float | np.ndarray:
    """The fill of the rows of `cases`: a number as it is, else those cases' baselines."""
    return fill if np.ndim(fill) == 0 else fill[cases]


class Metric(Explainer):
    """Base of every metric; see the module docstring for how to write one."""

    defaults: ClassVar[dict[str, Any]] = {"batch_size": 32, "seed": 0, "output": "probability"}
    choices: ClassVar[dict[str, list[Any]]] = {"output": ["probability", "logit"]}
    object_defaults: ClassVar[dict[str, Any]] = {}  # non-scalar parameters (method, method_params)
    better: ClassVar[str] = "higher"
    kind: ClassVar[str] = ""
    uses_model: ClassVar[bool] = True  # False: needs neither the model nor resolved targets

    def __init__(self, model: Any, **params: Any) -> None:
        self.objects = {key: params.pop(key, default) for key, default in self.object_defaults.items()}
        super().__init__(model, **params)
        self.params.update(self.objects)

    @classmethod
    def metric_info(cls) -> MetricInfo:
        return MetricInfo(
            name=cls.name,
            title=cls.title,
            description=cls.description,
            params={**cls.defaults, **cls.object_defaults},
            choices={k: list(v) for k, v in cls.choices.items()},
            bounds=dict(cls.bounds),
            stochastic=cls.stochastic,
            needs_method=bool(cls.object_defaults),
            better=cls.better,
            kind=cls.kind,
        )

    def measure(self, x: np.ndarray, maps: np.ndarray, targets: np.ndarray) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def _check_value(cls, key: str, value: Any) -> Any:
        if key == "baseline" and isinstance(value, str):
            if value not in BASELINES:
                raise BadInputError(f"{cls.title}: parameter 'baseline' is a number, an array of the input's "
                                    f"shape, {' or '.join(repr(b) for b in BASELINES)}; got {value!r}.")
            return value
        return super()._check_value(key, value)

    def baseline(self, x: np.ndarray) -> float | np.ndarray:
        """The `baseline` parameter resolved for `x` (see `resolve_baseline`)."""
        return resolve_baseline(self.params["baseline"], x, float(self.params.get("blur_sigma", 0.0)))

    def explain(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{self.title} is a metric: call evaluate(x, maps, targets).")

    def evaluate(
        self,
        x: np.ndarray,
        maps: np.ndarray,
        targets: Any = None,
        progress: Callable[[float], Any] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> MetricResult:
        """Score every case's map of `x` towards its target class (None = predicted class)."""
        start = time.perf_counter()
        x = self._check_input(x)
        maps = self._check_metric_maps(maps, x)
        self._progress, self._cancel, self._done = progress, cancel, 0.0
        self._batch_size = int(self.params["batch_size"])
        self.rng = np.random.default_rng(self.params["seed"])
        self.evaluations.clear()
        try:
            wanted = self._check_targets(targets, len(x))
            if wanted is None:
                wanted = (
                    np.argmax(self.outputs(x, span=(0.0, 0.0)), axis=-1).astype(np.int64)
                    if self.uses_model
                    else np.full(len(x), -1, np.int64)
                )
            measured = self.measure(x, maps, wanted)
            self.report(1.0)
        finally:
            self._progress, self._cancel = None, None
        shown = self._params_for_record()
        record = provenance.record(None, x, self.name, shown, int(self.params["seed"]))
        record["maps_sha256"] = provenance.sha256_array(maps)
        record["targets"] = wanted.tolist()
        passed = measured.get("passed")
        curves = measured.get("curves")
        return MetricResult(
            scores=np.asarray(measured["scores"], dtype=np.float64),
            curves=None if curves is None else np.asarray(curves, dtype=np.float64),
            passed=None if passed is None else np.asarray(passed, dtype=bool),
            targets=wanted,
            metric=self.name,
            params=shown,
            seed=int(self.params["seed"]),
            elapsed=time.perf_counter() - start,
            provenance=record,
            threshold=measured.get("threshold"),
            details=measured.get("details", {}),
        )

    # ------------------------------------------------------------------ explaining again
    def method_explainer(self) -> Explainer:
        """The explainer of the `method` parameter when it is a registered name (its
        `method_params` and this metric's batch size): what `method_runner` runs."""
        method, extra = self.objects["method"], dict(self.objects.get("method_params") or {})
        if not isinstance(method, str):
            raise BadInputError(f"{self.title}: 'method' must be a method name or a callable, got {method!r}.")
        from engine import explainers

        extra.setdefault("batch_size", self.params["batch_size"])
        return explainers.create(method, self.model, **extra)

    def method_runner(self) -> Callable[[np.ndarray, np.ndarray, tuple[float, float]], np.ndarray]:
        """`run(x, targets, span) -> maps` for the `method` parameter (name or callable)."""
        method = self.objects["method"]
        if callable(method):
            return lambda x, targets, span: np.asarray(method(self.model, x, targets), dtype=np.float32)
        explainer = self.method_explainer()

        def run(x: np.ndarray, targets: np.ndarray, span: tuple[float, float]) -> np.ndarray:
            low, high = span
            result = explainer.explain(
                x, targets, progress=lambda f: self.report(low + (high - low) * f), cancel=self._cancel
            )
            self.evaluations.update(explainer.evaluations)
            return result.maps

        return run

    def _params_for_record(self) -> dict[str, Any]:
        shown = super()._params_for_record()
        method = shown.get("method")
        if callable(method):
            shown["method"] = f"callable {getattr(method, '__qualname__', repr(method))}"
        return shown

    def _check_metric_maps(self, maps: Any, x: np.ndarray) -> np.ndarray:
        array = np.asarray(maps, dtype=np.float32)
        allowed = [x.shape] + ([x.shape[:3]] if x.ndim == 4 else [])
        if array.shape not in allowed:
            wanted = " or ".join(str(s) for s in allowed)
            raise BadInputError(f"{self.title}: maps must have shape {wanted}, got {array.shape}.")
        if not np.all(np.isfinite(array)):
            raise NumericalError(f"{self.title}: the maps hold NaN or Inf.")
        return array
