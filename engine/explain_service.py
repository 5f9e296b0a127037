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
import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine import cache, class_index, explainers
from engine import heads as heads_mod
from engine.errors import BadInputError
from engine.explainers import caveats
from engine.explainers.result import Explanation, MethodInfo
from engine.identity import model_identity
from engine.model_inputs import feed
from engine.predictions import HeadOutput, head_output
from engine.ranking import top_classes
from engine.jobs import JobContext
from engine.provenance import plain, sha256_array
from engine.text_tokens import model_alignment

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
    image: np.ndarray | None  # float32 (H, W) or (H, W, 3) in 0..1 as the model sees it; None: not an image
    top: TopPredictions  # of the first classifier head (no classes if the model has none)
    heads: tuple[HeadOutput, ...] = ()  # every head in its own terms (engine.heads)
    kind: str = "images"  # the dataset's kind: images, tabular, sequence, multi, text


def available_methods_task(ctx: JobContext) -> list[dict[str, Any]]:
    """The explainers as plain dicts (name, title, params, choices, stochastic, ...) for forms."""
    return [dataclasses.asdict(info) for info in explainers.available()]


def case_view_task(ctx: JobContext, case: int, k: int = 5) -> CaseView:
    dataset = case_dataset(ctx, case)
    kind = getattr(dataset, "kind", "images")
    top, outputs = case_heads(ctx, case, k)
    return CaseView(
        case=case,
        name=str(dataset.names[case]),
        label=int(dataset.labels[case]) if len(dataset.labels) else -1,
        image=_picture(dataset, case, kind),
        top=top,
        heads=outputs,
        kind=kind,
    )


def _picture(dataset: Any, case: int, kind: str) -> np.ndarray | None:
    """What the canvas draws under the map: the image; a sequence as a (channels x time) strip,
    each channel scaled to 0..1 and repeated so the strip is readable; a multi-input case's
    first image input; nothing for rows of features and text."""
    if kind == "images":
        return np.asarray(dataset.display_image(case), np.float32)
    if kind == "sequence":
        strip = np.asarray(dataset.raw(case), np.float64).T  # (C, T)
        low, high = strip.min(axis=1, keepdims=True), strip.max(axis=1, keepdims=True)
        strip = (strip - low) / np.where(high > low, high - low, 1.0)
        repeat = max(1, round(strip.shape[1] / (4 * strip.shape[0])))
        return np.repeat(strip, repeat, axis=0).astype(np.float32)
    if kind == "multi":
        for value in dataset.raw(case).values():
            array = np.asarray(value, np.float64)
            if array.ndim == 3 and array.shape[-1] in (1, 3):
                low, high = array.min(), array.max()
                array = (array - low) / (high - low) if high > low else np.zeros_like(array)
                return (array[..., 0] if array.shape[-1] == 1 else array).astype(np.float32)
    return None


def top_predictions_task(ctx: JobContext, case: int, k: int = 5) -> TopPredictions:
    """The k most probable classes of one case, of the first classifier head (none: no classes)."""
    return case_heads(ctx, case, k)[0]


def case_heads(ctx: JobContext, case: int, k: int, x: Any = None) -> tuple[TopPredictions, tuple[HeadOutput, ...]]:
    """The case's heads and top k classes; `x` instead of the stored case (a what-if edit).

    One path from model output to probabilities and class names (engine.heads), so the canvas,
    the case view and the what-if editor read a case's prediction the same way."""
    model = ctx.workspace.require_model()
    x = case_dataset(ctx, case).inputs([case]) if x is None else x
    output = model(feed(model, x), training=False)
    outs = list(output.values()) if isinstance(output, dict) else list(output) if isinstance(output, (list, tuple)) else [output]
    found = tuple(getattr(ctx.workspace.description, "heads", ()) or ()) or heads_mod.model_heads(model)
    if not found:  # no graph: the single output read as before
        found = (heads_mod.detect(0, "output", tuple(np.shape(outs[0]))[1:], _activation(ctx)),)
    shown = tuple(head_output(h, np.asarray(outs[h.index])[0]) for h in found if h.index < len(outs))
    classifier = next((o for o in shown if o.probabilities is not None), None)
    names = list(getattr(ctx.workspace.dataset, "class_names", []) or [])
    if classifier is None:
        return TopPredictions(case, np.zeros(0, np.int64), np.zeros(0, np.float32), 0, ()), shown
    probs = classifier.probabilities.astype(np.float64)
    if len(names) != probs.size and probs.size == class_index.N_CLASSES:  # an ImageNet model, unnamed cases
        names = class_index.imagenet_class_names()[0] or names
    order, top_probs = top_classes(probs, k)
    class_names = tuple(names) if len(names) == probs.size else ("",) * probs.size
    top = TopPredictions(case, order, top_probs, probs.size, class_names)
    return top, shown


def explain_case_task(
    ctx: JobContext, case: int, method: str, params: dict[str, Any] | None = None, target: int | None = None,
    output_index: int | str | None = None, region: Any = None,
) -> Explanation:
    """Explain one case; a cached result for the same request comes back without recomputing.

    `output_index` picks the head (index or name), `region` a dense head's region (see
    engine.explainers.adapt). Multi-input models give one Explanation per input (a dict).
    """
    model = ctx.workspace.require_model()
    dataset = case_dataset(ctx, case)
    info = explainers.info(method)
    full = full_params(info, params or {})
    x = explainer_input(dataset.inputs([case]))
    if info.image_only and not (isinstance(x, np.ndarray) and x.ndim == 4):
        shape = "several inputs" if isinstance(x, dict) else f"shape {x.shape[1:]}"
        raise BadInputError(f"{info.title} explains images only; this input has {shape}.")
    model_sha = model_identity(ctx.workspace)
    input_sha = _input_sha256(x)
    kinds = heads_mod.overrides(ctx.workspace.description)  # the user's head kinds, if any
    head_key = (output_index, None if region is None else repr(np.asarray(region).tolist()), repr(sorted(kinds.items())))
    key = cache.key_of("explanation", model_sha, input_sha, method, full, full.get("seed"), target, *head_key)
    memory = cache.memory(ctx.workspace, CACHE_NAME, CACHE_SIZE, CACHE_BYTES)
    if key in memory:
        return memory.get(key)
    stored = _disk_load(key)
    if stored is not None:
        return memory.put(key, stored)

    ctx.progress(0.0, f"{info.title}: starting")
    explainer = explainers.create(method, model, output_index=output_index, region=region, head_kinds=kinds, **full)
    targets = None if target is None else np.asarray([int(target)], dtype=np.int64)
    result = explainer.explain(
        x,
        targets,
        progress=lambda f: ctx.progress(f, f"{info.title}: {100 * f:.0f}%"),
        cancel=ctx.cancel,
    )
    ctx.check()
    first = next(iter(result.values())) if isinstance(result, dict) else result
    provenance = {
        **(first.provenance or {}),
        "model_sha256": model_sha or None,
        "input_sha256": input_sha,
        "case": int(case),
        "case_name": str(dataset.names[case]),
        "dataset": getattr(dataset, "name", ""),
        "dataset_hash": getattr(dataset, "hash", ""),
        **(dataset.case_provenance(case) if hasattr(dataset, "case_provenance") else {}),
    }
    views = getattr(explainer, "views", None)
    if views and views[0].tokens_in:  # text / token ids: the words the per-token maps refer to
        provenance["tokens"] = explainer.tokens(x)[0]
        if isinstance(x, np.ndarray) and x.dtype == object:  # a sentence: which word each token is
            provenance["token_words"] = model_alignment(model, str(x.reshape(-1)[0]), provenance["tokens"]).to_dict()
    if isinstance(result, dict):  # one Explanation per input: kept in memory only
        result = {name: dataclasses.replace(r, provenance={**provenance, "input": name}) for name, r in result.items()}
        return memory.put(key, result)
    warnings = result.warnings
    top = top_predictions_task(ctx, case, k=10**9)  # every class: is the output near uniform?
    if top.classes.size and output_index in (None, 0):  # the checks read the first classifier head
        target_prob = top.probabilities[top.classes == int(result.targets[0])]
        warnings = caveats.add_output_warnings(
            result.warnings, top.probabilities[None], target_prob, result.maps, f"The {info.title}"
        )
    result = dataclasses.replace(result, provenance=provenance, warnings=warnings)
    _disk_save(key, result)
    return memory.put(key, result)


def explainer_input(x: Any) -> Any:
    """One case as the explainers take it: numbers float32, strings kept, a dict per input.

    Shared by every task that explains a case (stored or edited), so that the same case gives
    the same array, and hence the same input hash and the same map, whichever task built it."""
    if isinstance(x, dict):
        return {k: np.ascontiguousarray(v) for k, v in x.items()}
    array = np.asarray(x)
    return array if array.dtype == object else np.ascontiguousarray(array, dtype=np.float32)


def _input_sha256(x: Any) -> str:
    if isinstance(x, dict):
        return hashlib.sha256("".join(f"{k}:{sha256_array(v)}" for k, v in sorted(x.items())).encode()).hexdigest()
    if x.dtype == object:
        return hashlib.sha256("\x00".join(map(str, x.reshape(-1))).encode("utf-8")).hexdigest()
    return sha256_array(x)


def case_dataset(ctx: JobContext, case: int) -> Any:
    """The open dataset, checked to hold `case`: a task on a case fails with one readable
    BadInputError (no cases open, no such case) before it touches the model."""
    dataset = ctx.workspace.dataset
    if dataset is None:
        raise BadInputError("No cases are open: open an image folder or a cases file first.")
    if not 0 <= int(case) < len(dataset):
        raise BadInputError(f"Case {case} does not exist: the dataset has {len(dataset)} cases.")
    return dataset


def full_params(info: MethodInfo, params: dict[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with the request, so that the cache key and the provenance name every
    value used; a parameter the method does not have is a BadInputError, not silently dropped."""
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
        "warnings": list(result.warnings),
    }
    arrays = {name: np.asarray(getattr(result, name)) for name in ARRAYS if getattr(result, name) is not None}
    DISK.save(key, arrays, meta)


def _disk_load(key: str) -> Explanation | None:
    stored = DISK.load(key)
    if stored is None:
        return None
    arrays, meta = stored
    try:
        meta["warnings"] = tuple(meta.get("warnings", ()))
        return Explanation(**meta, **{name: arrays.get(name) for name in ARRAYS})
    except TypeError:  # an entry of another layout: recompute it
        return None
