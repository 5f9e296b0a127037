"""The global explanations of the open model over the open dataset, as engine-thread tasks.

Each task explains up to `max_cases` cases (a seeded sample when the dataset is larger; the
dataset indices come back in `cases`, so a plot point opens its case). Results are kept in
engine.cache's memory LRU and its verified disk cache, keyed by model identity, dataset hash,
the task and every parameter, and carry provenance like a local explanation. Labels the
dataset does not know (-1) are replaced by the model's predictions (importance for agreeing
with the model), which the provenance says.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from engine import cache
from engine.errors import BadInputError
from engine.global_explanations.model_calls import Predictor
from engine.global_explanations.normlime import normlime
from engine.global_explanations.permutation import permutation_importance
from engine.global_explanations.results import (
    AttributionSummary,
    GlobalResult,
    NormLime,
    PermutationImportance,
    from_storage,
    to_storage,
)
from engine.global_explanations.summary import attribution_summary
from engine.identity import model_identity
from engine.jobs import JobContext
from engine.provenance import plain, sha256_array, versions

CACHE_NAME = "global_explanations"
TASKS: dict[str, Callable[..., GlobalResult]] = {}  # kind -> task, filled below (main.py reproduce reruns them)
DISK = cache.DiskCache("global", max_bytes=256 << 20, title="global explanation")


def permutation_importance_task(
    ctx: JobContext, n_repeats: int = 5, seed: int = 0, scoring: str = "accuracy", max_cases: int = 1000,
    batch_size: int = 256, features: str = "grid", cell_size: int = 4, n_segments: int = 16,
    head: int | str | None = None,
) -> PermutationImportance:
    """`head`: the output explained (engine.heads.select: None is the first classifier head)."""
    params = {"n_repeats": n_repeats, "seed": seed, "scoring": scoring, "batch_size": batch_size,
              "features": features, "cell_size": cell_size, "n_segments": n_segments, "head": head}

    def run(x: np.ndarray, names: Any, cases: np.ndarray) -> GlobalResult:
        y, note = _labels(ctx, x, cases, head)
        result = permutation_importance(ctx.workspace.model, x, y, n_repeats, seed, scoring, batch_size,
                                        features=features, cell_size=cell_size, n_segments=n_segments,
                                        feature_names=names, head=head, progress=_progress(ctx, "Permutation importance"),
                                        cancel=ctx.cancel)
        return _with(result, {"labels": note})

    return _cached(ctx, "permutation_importance", params, max_cases, seed, run)


def normlime_task(
    ctx: JobContext, nb_samples: int = 300, seed: int = 0, max_cases: int = 200, batch_size: int = 256,
    features: str = "grid", cell_size: int = 4, n_segments: int = 16, fill_value: float = 0.0,
    head: int | str | None = None,
) -> NormLime:
    params = {"nb_samples": nb_samples, "seed": seed, "batch_size": batch_size, "features": features,
              "cell_size": cell_size, "n_segments": n_segments, "fill_value": fill_value, "head": head}

    def run(x: np.ndarray, names: Any, cases: np.ndarray) -> GlobalResult:
        return normlime(ctx.workspace.model, x, nb_samples, seed, batch_size, features=features, cell_size=cell_size,
                        n_segments=n_segments, fill_value=fill_value, feature_names=names, head=head,
                        progress=_progress(ctx, "NormLIME"), cancel=ctx.cancel)

    return _cached(ctx, "normlime", params, max_cases, seed, run)


def attribution_summary_task(
    ctx: JobContext, method: str = "gradient_x_input", params: dict[str, Any] | None = None, max_cases: int = 500,
    seed: int = 0, head: int | str | None = None,
) -> AttributionSummary:
    settings = {"method": method, "params": dict(params or {}), "head": head}

    def run(x: np.ndarray, names: Any, cases: np.ndarray) -> GlobalResult:
        return attribution_summary(ctx.workspace.model, x, method, params, feature_names=names, head=head,
                                   progress=_progress(ctx, f"Summary of {method}"), cancel=ctx.cancel)

    return _cached(ctx, "attribution_summary", settings, max_cases, seed, run)


TASKS.update(permutation_importance=permutation_importance_task, normlime=normlime_task,
             attribution_summary=attribution_summary_task)


# ----- shared ---------------------------------------------------------------------------------
def _cached(ctx: JobContext, kind: str, params: dict[str, Any], max_cases: int, seed: int,
            run: Callable[[np.ndarray, Any, np.ndarray], GlobalResult]) -> Any:
    """The cached result of `run` on the chosen cases, else computed, recorded and stored."""
    ctx.workspace.require_model()
    dataset = ctx.workspace.dataset
    if dataset is None:
        raise BadInputError("No cases are open: open a dataset first.")
    cases = chosen_cases(len(dataset), max_cases, seed)
    model_sha = model_identity(ctx.workspace)
    key = cache.key_of("global", kind, model_sha, dataset.hash, params, sha256_array(cases))
    memory = cache.memory(ctx.workspace, CACHE_NAME, 12, 256 << 20)
    if key in memory:
        return memory.get(key)
    stored = DISK.load(key)
    found = from_storage(*stored) if stored is not None else None
    if found is not None:
        return memory.put(key, found)
    x = dataset.inputs(cases)
    if not isinstance(x, np.ndarray) or x.dtype == object or x.ndim not in (2, 4):
        what = "several inputs" if isinstance(x, dict) else f"cases of shape {np.shape(x)[1:]}"
        raise BadInputError(f"Global explanations take rows of features or images; these are {what}.")
    ctx.progress(0.0, f"{kind.replace('_', ' ')}: {len(cases)} cases")
    result = run(np.asarray(x), getattr(dataset, "feature_names", None), cases)
    ctx.check()
    result = _with(result, {
        "task": kind, "model_sha256": model_sha or None, "dataset": getattr(dataset, "name", ""),
        "dataset_hash": dataset.hash, "cases_sha256": sha256_array(cases), "n_cases": len(cases),
        "params": plain(result.params), "input_sha256": sha256_array(np.asarray(x)), "versions": versions(),
        "request": plain({**params, "max_cases": int(max_cases), "seed": int(seed)}),  # the task's arguments: a rerun
    }, cases=cases)
    DISK.save(key, *to_storage(result))
    return memory.put(key, result)


def chosen_cases(n: int, max_cases: int, seed: int) -> np.ndarray:
    """All cases, or a seeded sample of `max_cases` of them in dataset order."""
    if int(max_cases) < 2:
        raise BadInputError(f"A global explanation needs at least 2 cases; max_cases is {max_cases}.")
    if n <= max_cases:
        return np.arange(n, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).choice(n, int(max_cases), replace=False)).astype(np.int64)


def _labels(ctx: JobContext, x: np.ndarray, cases: np.ndarray, head: int | str | None = None) -> tuple[np.ndarray, str]:
    """The dataset's labels of the chosen cases; the model's predictions where any is unknown."""
    labels = np.asarray(ctx.workspace.dataset.labels, dtype=np.int64)
    if labels.size and np.all(labels[cases] >= 0):
        return labels[cases], "dataset labels"
    predicted = Predictor(ctx.workspace.model, 256, cancel=ctx.cancel, head=head).probabilities(x).argmax(axis=1)
    return predicted.astype(np.int64), "model predictions (the dataset has unknown labels)"


def _with(result: GlobalResult, provenance: dict[str, Any], cases: np.ndarray | None = None) -> Any:
    import dataclasses

    changes: dict[str, Any] = {"provenance": {**result.provenance, **provenance}}
    if cases is not None:
        changes["cases"] = cases
    return dataclasses.replace(result, **changes)


def _progress(ctx: JobContext, title: str) -> Callable[[float], None]:
    return lambda f: ctx.progress(f, f"{title}: {100 * f:.0f}%")
