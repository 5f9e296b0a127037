"""One tabular case explained for the bar chart and the waterfall: attributions computed in the
model's input space (scaled, encoded), labelled with the feature names and raw values.

For the additive methods the explanation also carries the base value and the output in the
explained score (logit or probability, as the method's `output` parameter says), so the
waterfall runs from the base value through every feature's contribution to the output:
Kernel SHAP's base is the model at the all-`fill_value` row (its values sum to f(x) - f(base)
by construction); Integrated and Expected Gradients' base is f(baseline) (the mean over the
drawn baselines), known from their measured completeness gap.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine import explainers
from engine import heads as heads_mod
from engine.errors import BadInputError
from engine.explain_service import explain_case_task
from engine.explainers.result import Explanation
from engine.jobs import JobContext

ADDITIVE = ("kernel_shap", "integrated_gradients", "expected_gradients")


@dataclass(frozen=True)
class TabularExplanation(Explanation):
    """An Explanation of one tabular case with what the chart labels it with."""

    feature_names: tuple[str, ...] = ()  # one per model input, in input order
    feature_values: tuple[str, ...] = ()  # the case's raw value of each input, as text
    base_value: float | None = None  # additive methods: the explained score at the base
    output_value: float | None = None  # the explained score of the case
    base_text: str = ""  # what the base value is the model's score at, in words


def explain_tabular_task(
    ctx: JobContext, case: int, method: str, params: dict[str, Any] | None = None, target: int | None = None,
    output_index: int | str | None = None,
) -> TabularExplanation:
    """`explain_case_task` (cached) for a row of features, plus names, raw values and, for
    additive methods, base value and output (two forward passes)."""
    dataset = ctx.workspace.dataset
    if dataset is None or getattr(dataset, "kind", "") != "tabular":
        raise BadInputError("The open cases are not rows of features (tabular).")
    result = explain_case_task(ctx, case, method, params, target, output_index)
    names, values = feature_labels(dataset, case)
    base = output = None
    if method in ADDITIVE:
        base, output = base_and_output(ctx, dataset, case, result, output_index)
    text = base_text(dataset, result) if method in ADDITIVE else ""
    fields = {f.name: getattr(result, f.name) for f in dataclasses.fields(Explanation)}
    return TabularExplanation(**fields, feature_names=names, feature_values=values, base_value=base,
                              output_value=output, base_text=text)


def base_text(dataset: Any, result: Explanation) -> str:
    """Where the waterfall starts, for the reviewer: which input the base value is the score of."""
    scaling = getattr(getattr(dataset, "preprocessing", None), "scaling", "")
    if result.method == "kernel_shap":
        fill = float(result.params.get("fill_value", 0.0))
        mean = " (each feature at its scaling mean)" if fill == 0 and scaling == "standardize" else ""
        return f"the score with every input at {fill:g}{mean}"
    if result.method == "integrated_gradients":
        return f"the score at the '{result.params.get('baseline')}' baseline"
    return "the mean score over the reference baselines drawn"


def feature_labels(dataset: Any, case: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Input names and raw values: a table's (engine.tabular), else "feature i" and the stored value."""
    if hasattr(dataset, "input_labels"):
        return tuple(dataset.feature_names), tuple(dataset.input_labels(case))
    row = np.ravel(dataset.raw(case))
    names = tuple(getattr(dataset, "feature_names", ()) or ())
    if len(names) != row.size:
        names = tuple(f"feature {i}" for i in range(row.size))
    return names, tuple(f"{float(v):.6g}" for v in row)


def base_and_output(ctx: JobContext, dataset: Any, case: int, result: Explanation,
                    output_index: int | str | None) -> tuple[float, float]:
    """The explained score at the method's base and at the case, in the method's output mode."""
    model = ctx.workspace.require_model()
    x = np.ascontiguousarray(dataset.inputs([case]), dtype=np.float32)
    kinds = heads_mod.overrides(ctx.workspace.description)
    scorer = explainers.create(result.method, model, output_index=output_index, head_kinds=kinds,
                               **{**result.params, "seed": result.seed})
    targets = np.asarray(result.targets, np.int64)
    if result.method == "kernel_shap":
        baseline = np.full_like(x, float(result.params.get("fill_value", 0.0)))
        scores, _ = scorer.scores(np.concatenate([x, baseline]), np.concatenate([targets, targets]))
        return float(scores[1]), float(scores[0])
    (output,), _ = scorer.scores(x, targets)
    total = float(np.sum(result.maps[0], dtype=np.float64))
    gap = float(result.completeness_gap[0]) if result.completeness_gap is not None else 0.0
    return float(output) - total + gap, float(output)  # gap = sum - (f(x) - f(base))
