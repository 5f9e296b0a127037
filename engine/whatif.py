"""What-if editing of one case (LIT's datapoint editor): change it, see the model's answer.

An edit is plain JSON, so it can be stored with a counterfactual and written into records:

    {"kind": "text", "text": "the staff was rude"}                     # a text case's sentence
    {"kind": "features", "values": {"3": 1.25, "7": 0.0}}                # feature index -> new value
    {"kind": "columns", "values": {"mean_radius": 25.0}}                 # a table's column -> raw value
    {"kind": "brush", "strokes": [{"op": "erase", "radius": 2.0,         # an image case, brushed
                                   "points": [[12, 9], [13, 11]]}]}

Feature values are in the units the dataset stores (the case list's values); the dataset turns
the edited row into the model's input exactly as it does every other row. A CSV / Parquet table
(engine.tabular) is edited by column, in the units it was measured in, and its own recipe
(`TabularDataset.encode`) scales the edited row. Brush strokes are in
the pixels of the image the canvas shows (the model's geometry, intensities 0..1): the edit is
applied there and then scaled like any case (`Preprocessing`), so a brushed pixel is exactly the
pixel the model sees change. Ops: "erase" (to the background, 0), "paint" (to `value`, 0..1;
default 1), "blur" (a box blur of `radius`), "shift" (the content moved by `shift` = [dy, dx],
inside the brush only). Every op changes pixels under the brush and nowhere else.

The tasks answer an edit with the prediction first (`whatif_predict_task`, tens of ms) and the
map after (`whatif_explain_task`), both INTERACTIVE, so the GUI shows the new prediction at
once; a newer edit replaces the older one's jobs.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine import explainers
from engine import heads as heads_mod
from engine.errors import BadInputError, NotSupportedError
from engine.explain_service import case_dataset, case_heads, explainer_input, full_params
from engine.explainers.result import Explanation
from engine.jobs import JobContext
from engine.predictions import HeadOutput
from engine.text_tokens import model_alignment

EDIT_KINDS = ("text", "features", "columns", "brush")
OPS = ("paint", "erase", "blur", "shift")
MAX_STROKES = 2_000
MAX_POINTS = 20_000


@dataclass(frozen=True)
class WhatIfCase:
    """What the editor needs to edit a case: its kind and the values it starts from."""

    case: int
    kind: str  # "text", "tabular" or "images"
    text: str = ""
    feature_names: tuple[str, ...] = ()
    values: np.ndarray | None = None  # float64 (F,) the case's feature values
    low: np.ndarray | None = None  # float64 (F,) the observed range of each feature in the dataset
    high: np.ndarray | None = None
    image: np.ndarray | None = None  # float32 (H, W) or (H, W, 3) in 0..1: what the brush edits
    by_name: bool = False  # a table: edits name columns ("columns" edits), in raw units


@dataclass(frozen=True)
class WhatIfPrediction:
    """The model's answer to an edited case."""

    case: int
    edit: dict[str, Any]
    classes: np.ndarray  # int64 (k,) most probable first (empty: no classifier head)
    probabilities: np.ndarray  # float32 (k,)
    heads: tuple[HeadOutput, ...]
    image: np.ndarray | None = None  # the edited image (images), float32 0..1
    values: np.ndarray | None = None  # the edited feature values (tabular)
    alignment: dict[str, Any] | None = None  # the edited sentence's words and tokens (text)
    elapsed: float = 0.0


# ----- applying edits ---------------------------------------------------------------------------
def check_edit(edit: Any) -> dict[str, Any]:
    """The edit if it is well formed, else a BadInputError saying what is wrong."""
    if not isinstance(edit, dict) or edit.get("kind") not in EDIT_KINDS:
        raise BadInputError(f"An edit is a dict with kind one of {', '.join(EDIT_KINDS)}.")
    if edit["kind"] == "text" and not isinstance(edit.get("text"), str):
        raise BadInputError("A text edit needs the new sentence as 'text'.")
    if edit["kind"] in ("features", "columns"):
        values = edit.get("values")
        if not isinstance(values, dict):
            raise BadInputError("A feature edit needs 'values': {feature index: new value}.")
        for key, value in values.items():
            index_ok = edit["kind"] == "columns" or str(key).lstrip("-").isdigit()
            if not index_ok or not isinstance(value, (int, float)) or not np.isfinite(value):
                raise BadInputError(f"Feature {key!r}: the new value must be a finite number, got {value!r}.")
    if edit["kind"] == "brush":
        strokes = edit.get("strokes")
        if not isinstance(strokes, list) or len(strokes) > MAX_STROKES:
            raise BadInputError(f"A brush edit needs 'strokes' (a list of at most {MAX_STROKES}).")
        if sum(len(s.get("points", ())) for s in strokes if isinstance(s, dict)) > MAX_POINTS:
            raise BadInputError(f"A brush edit holds at most {MAX_POINTS} points.")
        for stroke in strokes:
            if not isinstance(stroke, dict) or stroke.get("op") not in OPS:
                raise BadInputError(f"Each stroke needs an op, one of {', '.join(OPS)}.")
            if not 0 < float(stroke.get("radius", 0)) <= 512:
                raise BadInputError("A stroke's radius must be between 0 and 512 pixels.")
    return edit


def brush_mask(shape: tuple[int, int], points: Any, radius: float) -> np.ndarray:
    """bool (H, W): every pixel whose centre lies within `radius` of the stroke's path (points
    (row, col) joined by straight segments)."""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    rows, cols = np.mgrid[0: shape[0], 0: shape[1]].astype(np.float64)
    mask = np.zeros(shape, bool)
    if len(pts) == 0:
        return mask
    starts, ends = pts, np.vstack([pts[1:], pts[-1:]])
    for (r0, c0), (r1, c1) in zip(starts, ends):
        dr, dc = r1 - r0, c1 - c0
        length2 = dr * dr + dc * dc
        t = 0.0 if length2 == 0 else np.clip(((rows - r0) * dr + (cols - c0) * dc) / length2, 0.0, 1.0)
        mask |= (rows - (r0 + t * dr)) ** 2 + (cols - (c0 + t * dc)) ** 2 <= radius * radius
    return mask


def apply_strokes(image: np.ndarray, strokes: list[dict[str, Any]], low: float = 0.0, high: float = 1.0) -> np.ndarray:
    """The image (H, W[, C]) after the strokes, one after another; `low`/`high` are black/white."""
    out = np.array(image, np.float32, copy=True)
    for stroke in strokes:
        mask = brush_mask(out.shape[:2], stroke.get("points", ()), float(stroke["radius"]))
        op = stroke["op"]
        if op == "erase":
            out[mask] = low
        elif op == "paint":
            out[mask] = low + float(stroke.get("value", 1.0)) * (high - low)
        elif op == "blur":
            out[mask] = _box_blur(out, max(1, round(float(stroke["radius"]))))[mask]
        else:
            dy, dx = (int(round(v)) for v in stroke.get("shift", (0, 0)))
            out[mask] = _shifted(out, dy, dx, low)[mask]
    return out


def _box_blur(image: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2r+1)^2 window, edges repeated (summed-area table: any radius, one pass)."""
    padded = np.pad(image.astype(np.float64), [(radius + 1, radius), (radius + 1, radius)] + [(0, 0)] * (image.ndim - 2),
                    mode="edge")
    padded[0] = 0
    padded[:, 0] = 0
    table = padded.cumsum(0).cumsum(1)
    k = 2 * radius + 1
    h, w = image.shape[:2]
    total = table[k: k + h, k: k + w] - table[:h, k: k + w] - table[k: k + h, :w] + table[:h, :w]
    return (total / (k * k)).astype(np.float32)


def _shifted(image: np.ndarray, dy: int, dx: int, fill: float) -> np.ndarray:
    """The image moved by (dy, dx): out[r, c] = image[r - dy, c - dx], `fill` where nothing came."""
    out = np.full_like(image, fill)
    h, w = image.shape[:2]
    src_r, dst_r = slice(max(0, -dy), min(h, h - dy)), slice(max(0, dy), min(h, h + dy))
    src_c, dst_c = slice(max(0, -dx), min(w, w - dx)), slice(max(0, dx), min(w, w + dx))
    out[dst_r, dst_c] = image[src_r, src_c]
    return out


def image_space(dataset: Any, case: int) -> tuple[np.ndarray, Any]:
    """The case in the space the brush edits ((H, W, C) float32: the model's geometry, 0..1
    intensities, or the stored values when the recipe does not scale them) and the recipe."""
    recipe = dataset.preprocessing
    raw = dataset.raw(case)
    if recipe.scale == "none":
        return recipe.apply(raw), recipe
    return dataclasses.replace(recipe, scale="0..1").apply(raw), recipe


def edited_image(dataset: Any, case: int, strokes: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """(model input (1, H, W, C), edited image for display (H, W[, 3]) in 0..1)."""
    unit, recipe = image_space(dataset, case)
    low, high = (float(unit.min()), float(unit.max())) if recipe.scale == "none" else (0.0, 1.0)
    edited = apply_strokes(unit, strokes, low, high)
    model_input = recipe._scale(edited) if recipe.scale != "none" else edited  # the recipe's last, linear step
    shown = np.clip((edited - low) / (high - low), 0.0, 1.0) if high > low else np.zeros_like(edited)
    return model_input[None].astype(np.float32), (shown[..., 0] if shown.shape[-1] == 1 else shown)


def edited_raw(dataset: Any, case: int, edit: dict[str, Any]) -> Any:
    """The stored form of the edited case (a sentence, a feature row), for text and rows."""
    kind = dataset.kind
    if edit["kind"] == "text":
        if kind != "text":
            raise BadInputError(f"A text edit needs a text case; this one is {kind}.")
        return edit["text"]
    if edit["kind"] != "features" or kind != "tabular":
        raise BadInputError(f"A {edit['kind']} edit does not apply to a {kind} case.")
    row = np.array(dataset.raw(case), np.float64, copy=True)
    for key, value in edit["values"].items():
        index = int(key)
        if not 0 <= index < row.size:
            raise BadInputError(f"Feature {index} does not exist: the case has {row.size} features.")
        row[index] = float(value)
    return row.astype(np.asarray(dataset.raw(case)).dtype)


def edited_inputs(dataset: Any, case: int, edit: dict[str, Any]) -> tuple[Any, Any]:
    """(the model's input for the edited case, what it looks like: sentence, row or image)."""
    check_edit(edit)
    if dataset.kind not in ("text", "tabular", "images"):
        raise NotSupportedError(f"What-if editing handles text, tabular and image cases, not {dataset.kind}.")
    if edit["kind"] == "brush":
        if dataset.kind != "images":
            raise BadInputError(f"A brush edit needs an image case; this one is {dataset.kind}.")
        return edited_image(dataset, case, edit["strokes"])
    if edit["kind"] == "columns":
        return edited_columns(dataset, case, edit)
    raw = edited_raw(dataset, case, edit)
    return one_case(dataset, raw).inputs([0]), raw


def is_table(dataset: Any) -> bool:
    """A CSV / Parquet table (engine.tabular): rows kept as measured, encoded by its recipe."""
    return hasattr(dataset, "raw_values") and hasattr(dataset, "encode")


def table_columns(dataset: Any) -> list[str]:
    """The numeric columns that feed the model (the ones a field and a slider can edit)."""
    numeric = {c.name for c in dataset.table.columns if c.numeric}
    return [c.name for c in dataset.recipe.features if c.name in numeric]


def edited_columns(dataset: Any, case: int, edit: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
    """(model input (1, F), the edited row's raw values) of a table row with columns changed."""
    if not is_table(dataset):
        raise BadInputError("A column edit needs a table of features (CSV or Parquet).")
    editable = set(table_columns(dataset))
    values = dataset.raw_values(case)
    for name, value in edit["values"].items():
        if name not in editable:
            raise BadInputError(f"Column {name!r} is not a numeric feature of the model's recipe.")
        values[name] = float(value)
    return dataset.encode(values), values


def one_case(dataset: Any, raw: Any) -> Any:
    """A one-case copy of `dataset` holding `raw`: the edited case goes through the dataset's own
    input path (its recipe, whatever kind of scaling it has), not a second copy of it."""
    single = copy.copy(dataset)
    single._loader = lambda _i: raw
    single.names, single.labels, single.case_hashes = ["edited"], np.full(1, -1, np.int64), [""]
    single._thumbnails = None
    return single


# ----- tasks ------------------------------------------------------------------------------------
def whatif_case_task(ctx: JobContext, case: int) -> WhatIfCase:
    """The editor's starting point: the sentence, the feature row with each feature's observed
    range over the whole dataset, or the image the brush paints on."""
    dataset = case_dataset(ctx, case)
    kind = dataset.kind
    if kind == "text":
        return WhatIfCase(case, kind, text=str(dataset.raw(case)))
    if kind == "tabular" and is_table(dataset):
        names = table_columns(dataset)
        columns = {c.name: np.asarray(c.values, np.float64) for c in dataset.table.columns if c.name in names}
        raw = dataset.raw_values(case)
        values = np.array([np.nan if raw[n] is None else float(raw[n]) for n in names])
        low = np.array([np.nanmin(columns[n]) if np.isfinite(columns[n]).any() else 0.0 for n in names])
        high = np.array([np.nanmax(columns[n]) if np.isfinite(columns[n]).any() else 0.0 for n in names])
        return WhatIfCase(case, kind, feature_names=tuple(names), values=np.where(np.isnan(values), low, values),
                          low=low, high=high, by_name=True)
    if kind == "tabular":
        rows = np.stack([np.asarray(dataset.raw(i), np.float64) for i in range(len(dataset))])
        names = tuple(getattr(dataset, "feature_names", None) or ()) or tuple(f"feature {i}" for i in range(rows.shape[1]))
        return WhatIfCase(case, kind, feature_names=names, values=rows[case], low=rows.min(axis=0), high=rows.max(axis=0))
    if kind == "images":
        return WhatIfCase(case, kind, image=edited_image(dataset, case, [])[1])
    raise NotSupportedError(f"What-if editing handles text, tabular and image cases, not {kind}.")


def whatif_predict_task(ctx: JobContext, case: int, edit: dict[str, Any], k: int = 5) -> WhatIfPrediction:
    """The model's prediction of the edited case (every head, the top k classes)."""
    start = time.perf_counter()
    dataset = case_dataset(ctx, case)
    x, shown = edited_inputs(dataset, case, edit)
    top, outputs = case_heads(ctx, case, k, x=x)
    alignment = None
    if dataset.kind == "text":
        alignment = _alignment(ctx, str(shown))
    return WhatIfPrediction(
        case=case, edit=edit, classes=top.classes, probabilities=top.probabilities, heads=outputs,
        image=shown if edit["kind"] == "brush" else None,
        values=np.asarray(shown, np.float64) if edit["kind"] == "features" else None,
        alignment=alignment, elapsed=time.perf_counter() - start,
    )


def whatif_explain_task(
    ctx: JobContext, case: int, edit: dict[str, Any], method: str = "saliency", params: dict[str, Any] | None = None,
    target: int | None = None, output_index: int | str | None = None,
) -> Explanation:
    """The map of the edited case by `method` (towards `target`, else the edited prediction)."""
    start = time.perf_counter()
    model = ctx.workspace.require_model()
    dataset = case_dataset(ctx, case)
    x, shown = edited_inputs(dataset, case, edit)
    x = explainer_input(x)
    info = explainers.info(method)
    full = full_params(info, params or {})
    kinds = heads_mod.overrides(ctx.workspace.description)
    explainer = explainers.create(method, model, output_index=output_index, head_kinds=kinds, **full)
    targets = None if target is None else np.asarray([int(target)], np.int64)
    result = explainer.explain(x, targets, progress=lambda f: ctx.progress(f, f"{info.title}: {100 * f:.0f}%"),
                               cancel=ctx.cancel)
    ctx.check()
    if isinstance(result, dict):
        raise NotSupportedError("What-if maps are drawn for one-input models.")
    provenance = {**(result.provenance or {}), "case": int(case), "edit": edit,
                  "edited_from": dataset.case_hashes[case]}
    views = getattr(explainer, "views", None)
    if views and views[0].tokens_in:
        provenance["tokens"] = explainer.tokens(x)[0]
        provenance["token_words"] = model_alignment(model, str(shown), provenance["tokens"]).to_dict()
    return dataclasses.replace(result, provenance=provenance, elapsed=time.perf_counter() - start)


def _alignment(ctx: JobContext, sentence: str) -> dict[str, Any]:
    """The edited sentence's words and the model's tokens (without an explainer: the layer itself)."""
    from engine.text_tokens import vectorizer

    model = ctx.workspace.require_model()
    layer = vectorizer(model)
    if layer is None:
        return {}
    import tensorflow as tf

    ids = np.asarray(layer(tf.constant([sentence]))).reshape(-1)
    vocabulary = [str(t) for t in layer.get_vocabulary()]
    tokens = [vocabulary[i] if 0 <= i < len(vocabulary) else str(i) for i in ids.tolist()]
    return model_alignment(model, sentence, tokens).to_dict()
