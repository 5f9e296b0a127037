"""Quality scores of the canvas's maps and the method benchmark, as engine-thread tasks.

`score_case_task` scores one case's map (the same request the canvas explained, so the map
comes from explain_service's cache) with the chosen metrics; `benchmark_task` runs methods x
metrics over several cases. Every metric runs on the "probability" output (scores of
different methods compare), and the metrics that explain again use the map's own method and
parameters. Scores are kept in the workspace cache (dropped with the model) keyed by the map's
request and the metric, so revisiting a map shows its scorecard at once.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine import explain_service, metrics
from engine.errors import Cancelled, NotSupportedError
from engine.jobs import JobContext
from engine.provenance import sha256_array

CACHE_KEY = "scorecard_service.scores"
FAST_METRICS = ("deletion", "insertion", "sparseness")  # a few forward passes: run automatically
SLOW_METRICS = ("randomisation", "max_sensitivity")  # explain again: run on a click


@dataclass(frozen=True)
class MetricScore:
    """One metric of one map: its score, curve (deletion/insertion), verdict (sanity checks)."""

    metric: str
    score: float
    curve: np.ndarray | None  # float64 (steps + 1,)
    passed: bool | None
    threshold: float | None
    elapsed: float
    provenance: dict[str, Any]

    def as_record(self) -> dict[str, Any]:
        """JSON-ready: exported beside the map it scores."""
        return {
            "score": self.score,
            "curve": None if self.curve is None else self.curve.tolist(),
            "passed": self.passed,
            "threshold": self.threshold,
            "elapsed_s": self.elapsed,
            "provenance": self.provenance,
        }


@dataclass(frozen=True)
class Scorecard:
    """One map's scores, with what a score record needs to name that map (its method, full
    parameters, seed and array SHA-256, as the map's own explain record holds them)."""

    case: int
    method: str
    target: int
    scores: dict[str, MetricScore]
    warnings: tuple[str, ...]
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    seed: int | None = None
    maps_sha256: str = ""


@dataclass(frozen=True)
class Benchmark:
    """scores[m, k, n]: method m, metric k, case n (NaN where a method failed on a case)."""

    cases: tuple[int, ...]
    methods: tuple[str, ...]
    metrics: tuple[str, ...]
    scores: np.ndarray
    better: tuple[str, ...]  # per metric: "lower" or "higher"
    failures: tuple[str, ...]
    scorecards: tuple[Scorecard, ...] = ()  # one per (method, case) scored, for the record log


def metrics_info_task(ctx: JobContext) -> list[dict[str, Any]]:
    """The metrics as plain dicts (name, title, description, better, kind, ...)."""
    return [dataclasses.asdict(info) for info in metrics.available()]


def score_case_task(
    ctx: JobContext,
    case: int,
    method: str,
    params: dict[str, Any] | None = None,
    target: int | None = None,
    names: tuple[str, ...] | list[str] = FAST_METRICS,
    metric_params: dict[str, Any] | None = None,
) -> Scorecard:
    """Score the canvas's map of `case` (explained again only if not cached) with `names`;
    `metric_params` (e.g. the baseline) go to the metrics that take them."""
    explanation = explain_service.explain_case_task(ctx, case, method, params, target)
    return _scorecard(case, explanation, _score(ctx, case, explanation, list(names), (0.0, 1.0), metric_params))


def _scorecard(case: int, explanation: Any, scores: dict[str, MetricScore]) -> Scorecard:
    return Scorecard(
        int(case), explanation.method, int(explanation.targets[0]), scores, tuple(explanation.warnings),
        params=dict(explanation.params), seed=explanation.seed, maps_sha256=sha256_array(explanation.maps),
    )


def benchmark_task(
    ctx: JobContext,
    cases: list[int],
    methods: list[str],
    names: list[str],
    params: dict[str, dict[str, Any]] | None = None,
    metric_params: dict[str, Any] | None = None,
) -> Benchmark:
    """Every method on every case, scored by every metric; a failing method is recorded, not fatal."""
    cases = [int(c) for c in cases]
    scores = np.full((len(methods), len(names), len(cases)), np.nan)
    failures: list[str] = []
    scorecards: list[Scorecard] = []
    steps = max(1, len(methods) * len(cases))
    for m, method in enumerate(methods):
        for n, case in enumerate(cases):
            ctx.check()
            done = (m * len(cases) + n) / steps
            ctx.progress(done, f"{method} on case {case}")
            try:
                explanation = explain_service.explain_case_task(ctx, case, method, (params or {}).get(method), None)
                found = _score(ctx, case, explanation, names, (done, done + 1 / steps), metric_params)
            except Cancelled:
                raise
            except Exception as exc:  # noqa: BLE001 - one method's failure must not lose the table
                failures.append(f"{method} on case {case}: {exc}")
                continue
            scorecards.append(_scorecard(case, explanation, found))
            for k, name in enumerate(names):
                scores[m, k, n] = found[name].score
    better = {info.name: info.better for info in metrics.available()}
    return Benchmark(tuple(cases), tuple(methods), tuple(names), scores, tuple(better[n] for n in names), tuple(failures),
                     tuple(scorecards))


def _score(ctx: JobContext, case: int, explanation: Any, names: list[str], span: tuple[float, float],
           metric_params: dict[str, Any] | None = None) -> dict[str, MetricScore]:
    model = ctx.workspace.require_model()
    if ctx.workspace.dataset.kind in ("text", "multi"):  # the metrics perturb one numeric array
        raise NotSupportedError(f"Quality scores perturb numeric inputs; {ctx.workspace.dataset.kind} cases are not scored.")
    x = np.ascontiguousarray(ctx.workspace.dataset.inputs([case]), dtype=np.float32)
    cache = ctx.workspace.cache.setdefault(CACHE_KEY, {})
    request = (
        explanation.provenance.get("model_sha256"),
        explanation.provenance.get("input_sha256"),
        explanation.method,
        json.dumps(explanation.params, sort_keys=True, default=str),
        int(explanation.targets[0]),
    )
    out: dict[str, MetricScore] = {}
    low, high = span
    for i, name in enumerate(names):
        params = _metric_params(name, explanation, metric_params)
        key = (*request, name, json.dumps(params, sort_keys=True, default=str))
        if key not in cache:
            metric = metrics.create(name, model, **params)
            share = (high - low) / len(names)
            result = metric.evaluate(
                x, explanation.maps, explanation.targets,
                progress=lambda f, i=i: ctx.progress(low + share * (i + f), f"{metric.title}: {100 * f:.0f}%"),
                cancel=ctx.cancel,
            )
            cache[key] = MetricScore(
                metric=name,
                score=float(result.scores[0]),
                curve=None if result.curves is None else result.curves[0],
                passed=None if result.passed is None else bool(result.passed[0]),
                threshold=result.threshold,
                elapsed=result.elapsed,
                provenance=result.provenance,
            )
        out[name] = cache[key]
    return out


def _metric_params(name: str, explanation: Any, chosen: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `chosen` parameters this metric takes (the baseline goes to deletion, insertion and
    MuFidelity only); metrics that explain again use the map's own method and parameters."""
    info = next(i for i in metrics.available() if i.name == name)
    params = {k: v for k, v in (chosen or {}).items() if k in info.params}
    if info.needs_method:
        params.update(method=explanation.method, method_params=dict(explanation.params))
    return params
