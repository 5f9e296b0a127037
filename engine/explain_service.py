"""Explanations of one case of the open dataset with the open model, cached for instant revisits.

The canvas asks for (case, method, params, target); the answer is an `Explanation` computed by
`engine.explainers` on the engine thread. Results are kept in engine.cache's memory LRU
(dropped with the model) keyed by model identity, input hash, method, every parameter (seed
included) and target, so going back to a case shows its maps at once and the same request
always gives the same numbers. They are also kept in the verified disk cache (pruned to a size
cap), so a slow map computed yesterday opens instantly today.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine import cache, explainers
from engine.errors import BadInputError
from engine.explainers.result import Explanation
from engine.identity import model_identity
from engine.jobs import JobContext
from engine.predictions import PREDICTIONS_KEY, to_probabilities
from engine.provenance import plain, sha256_array

CACHE_NAME = "explanations"
CACHE_SIZE = 48  # a 224x224x3 result is ~0.8 MB: the cache stays well under 100 MB
CACHE_BYTES = 256 << 20
DISK = cache.DiskCache("explanations", max_bytes=512 << 20, title="explanation")
ARRAYS = ("maps", "heatmap", "targets", "completeness_gap", "segments")


@dataclass(frozen=True)
class TopPredictions:
    case: int
    classes: np.ndarray  # int (k,), most probable first
    probabilities: np.ndarray  # float32 (k,)
    n_classes: int
    class_names: tuple[str, ...]  # all classes ("" where the dataset names none)


@dataclass(frozen=True)
class CaseView:
    """What the canvas needs to show a case before any attribution: image and predictions."""

    case: int
    name: str
    label: int  # true label, -1 if unknown
    image: np.ndarray | None  # float32 (H, W) or (H, W, 3) in 0..1 as the model sees it; None: tabular
    top: TopPredictions


def available_methods_task(ctx: JobContext) -> list[dict[str, Any]]:
    """The explainers as plain dicts (name, title, params, choices, stochastic, ...) for forms."""
    return [dataclasses.asdict(info) for info in explainers.available()]


def case_view_task(ctx: JobContext, case: int, k: int = 5) -> CaseView:
    dataset = _dataset(ctx, case)
    tabular = getattr(dataset, "kind", "images") == "tabular"
    return CaseView(
        case=case,
        name=str(dataset.names[case]),
        label=int(dataset.labels[case]) if len(dataset.labels) else -1,
        image=None if tabular else np.asarray(dataset.display_image(case), np.float32),
        top=top_predictions_task(ctx, case, k),
    )


def top_predictions_task(ctx: JobContext, case: int, k: int = 5) -> TopPredictions:
    """The k most probable classes of one case, from the dataset's predictions when they are
    there (the numbers the case list shows), else from one forward pass through the same
    `to_probabilities`."""
    dataset = _dataset(ctx, case)
    stored = ctx.workspace.cache.get(PREDICTIONS_KEY)
    if stored is not None and stored.dataset_hash == dataset.hash and stored.model_sha256 == model_identity(ctx.workspace):
        probs = np.asarray(stored.probabilities[case], np.float64)
    else:
        output = ctx.workspace.require_model()(dataset.inputs([case]), training=False)
        if isinstance(output, (list, tuple, dict)):
            output = list(output.values())[0] if isinstance(output, dict) else output[0]
        probs = to_probabilities(np.asarray(output), _activation(ctx))[0].astype(np.float64)
    order = np.argsort(-probs, kind="stable")[: max(1, int(k))]
    names = list(getattr(ctx.workspace.dataset, "class_names", []) or [])
    class_names = tuple(names) if len(names) == probs.size else ("",) * probs.size
    return TopPredictions(case, order.astype(np.int64), probs[order].astype(np.float32), probs.size, class_names)


def explain_case_task(
    ctx: JobContext, case: int, method: str, params: dict[str, Any] | None = None, target: int | None = None
) -> Explanation:
    """Explain one case; a cached result for the same request comes back without recomputing."""
    model = ctx.workspace.require_model()
    dataset = _dataset(ctx, case)
    info = _method_info(method)
    full = _full_params(info, params or {})
    x = np.ascontiguousarray(dataset.inputs([case]), dtype=np.float32)
    if info.image_only and x.ndim != 4:
        raise BadInputError(f"{info.title} explains images only; this input has shape {x.shape[1:]}.")
    model_sha = model_identity(ctx.workspace)
    input_sha = sha256_array(x)
    key = cache.key_of("explanation", model_sha, input_sha, method, full, full.get("seed"), target)
    memory = cache.memory(ctx.workspace, CACHE_NAME, CACHE_SIZE, CACHE_BYTES)
    if key in memory:
        return memory.get(key)
    stored = _disk_load(key)
    if stored is not None:
        return memory.put(key, stored)

    ctx.progress(0.0, f"{info.title}: starting")
    explainer = explainers.create(method, model, **full)
    targets = None if target is None else np.asarray([int(target)], dtype=np.int64)
    result = explainer.explain(
        x,
        targets,
        progress=lambda f: ctx.progress(f, f"{info.title}: {100 * f:.0f}%"),
        cancel=ctx.cancel,
    )
    ctx.check()
    provenance = {
        **(result.provenance or {}),
        "model_sha256": model_sha,
        "input_sha256": input_sha,
        "case": int(case),
        "case_name": str(dataset.names[case]),
        "dataset": getattr(dataset, "name", ""),
        "dataset_hash": getattr(dataset, "hash", ""),
        **(dataset.case_provenance(case) if hasattr(dataset, "case_provenance") else {}),
    }
    result = dataclasses.replace(result, provenance=provenance)
    _disk_save(key, result)
    return memory.put(key, result)


def _dataset(ctx: JobContext, case: int) -> Any:
    dataset = ctx.workspace.dataset
    if dataset is None:
        raise BadInputError("No cases are open: open an image folder or a cases file first.")
    if not 0 <= int(case) < len(dataset):
        raise BadInputError(f"Case {case} does not exist: the dataset has {len(dataset)} cases.")
    return dataset


def _method_info(method: str) -> Any:
    for info in explainers.available():
        if info.name == method:
            return info
    names = ", ".join(info.name for info in explainers.available())
    raise BadInputError(f"Unknown attribution method {method!r}; available: {names}.")


def _full_params(info: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with the request, so that the cache key names every value used."""
    unknown = sorted(set(params) - set(info.params))
    if unknown:
        raise BadInputError(f"{info.title} has no parameter {', '.join(unknown)}.")
    return {**info.params, **params}


def _activation(ctx: JobContext) -> str | None:
    return getattr(ctx.workspace.description, "output_activation", None)


# ----- disk cache ---------------------------------------------------------------------------
def _disk_save(key: str, result: Explanation) -> None:
    """Arrays and JSON metadata of one result, verified on the way back (engine.cache)."""
    meta = {
        "method": result.method,
        "params": plain(result.params),
        "seed": result.seed,
        "elapsed": result.elapsed,
        "provenance": plain(result.provenance),
    }
    arrays = {name: np.asarray(getattr(result, name)) for name in ARRAYS if getattr(result, name) is not None}
    DISK.save(key, arrays, meta)


def _disk_load(key: str) -> Explanation | None:
    stored = DISK.load(key)
    if stored is None:
        return None
    arrays, meta = stored
    try:
        return Explanation(**meta, **{name: arrays.get(name) for name in ARRAYS})
    except TypeError:  # an entry of another layout: recompute it
        return None
