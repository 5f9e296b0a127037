"""The results of the global explanations: plain numpy in frozen dataclasses (the GUI may import
this module), with a generic split into arrays and JSON metadata for the verified disk cache."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.provenance import plain


@dataclass(frozen=True, kw_only=True)
class GlobalResult:
    """What every global result carries besides its numbers."""

    feature_names: tuple[str, ...]
    segments: np.ndarray | None = None  # (H, W) region labels for images; None for rows
    cases: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # dataset indices explained
    params: dict[str, Any] = field(default_factory=dict)
    model_calls: int = 0  # batched model calls made
    rows: int = 0  # rows (cases, copies, samples) the model evaluated
    evaluations: dict[str, int] = field(default_factory=dict)  # those rows by kind: forward, gradient
    elapsed: float = 0.0
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return type(self).__name__


@dataclass(frozen=True, kw_only=True)
class PermutationImportance(GlobalResult):
    """As scikit-learn's Bunch: importances (F, n_repeats) = baseline score - permuted score."""

    importances_mean: np.ndarray  # (F,)
    importances_std: np.ndarray  # (F,)
    importances: np.ndarray  # (F, n_repeats)
    baseline_score: float
    scoring: str


@dataclass(frozen=True, kw_only=True)
class NormLime(GlobalResult):
    """NormLIME (Ahern et al., 2019): per-case LIME weights w normalised as w^2 / sum|w| and
    averaged over the cases of each predicted class (`by_class`) and over all cases."""

    importances: np.ndarray  # (F,) over all cases
    by_class: np.ndarray  # (K, F); a class no case was predicted as is all zero
    class_counts: np.ndarray  # (K,) cases per predicted class
    weights: np.ndarray  # (N, F) signed LIME weights of each case
    classes: np.ndarray  # (N,) the class each case's LIME explained (its prediction)
    feature_values: np.ndarray | None = None  # (N, F) each case's feature values (images: a region's
    # mean over its pixels and channels), the beeswarm's colour and the dependence plot's x; None in
    # results cached before it was kept

    @property
    def normalised(self) -> np.ndarray:
        """(N, F) each case's normalised weights w^2 / sum|w|, signed as w: their per-class means of
        the absolute value are `by_class`, so a beeswarm of them shows the spread behind each bar."""
        w = self.weights
        return np.sign(w) * w**2 / np.maximum(np.abs(w).sum(axis=1, keepdims=True), 1e-300)


@dataclass(frozen=True, kw_only=True)
class AttributionSummary(GlobalResult):
    """Per feature (rows) or pixel (images, channels summed): mean |attribution| overall and per
    explained class, and every case's values (the beeswarm and dependence plots)."""

    method: str
    mean_abs: np.ndarray  # (F,)
    mean_abs_by_class: np.ndarray  # (K, F); images: reshape to (K, H, W) for the class-average maps
    class_counts: np.ndarray  # (K,)
    values: np.ndarray  # (N, F) signed attributions
    feature_values: np.ndarray  # (N, F) the inputs (images: mean over channels)
    classes: np.ndarray  # (N,) the explained class of each case
    shape: tuple[int, ...] = ()  # (H, W) for images


RESULT_TYPES = {cls.__name__: cls for cls in (PermutationImportance, NormLime, AttributionSummary)}


def to_storage(result: GlobalResult) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Arrays and JSON-plain metadata (engine.cache.DiskCache's layout)."""
    arrays, meta = {}, {"type": type(result).__name__}
    for f in dataclasses.fields(result):
        value = getattr(result, f.name)
        if isinstance(value, np.ndarray):
            arrays[f.name] = value
        else:
            meta[f.name] = plain(value)
    return arrays, meta


def from_storage(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> GlobalResult | None:
    """The result back from `to_storage`'s parts; None for an entry of another layout."""
    meta = dict(meta)
    cls = RESULT_TYPES.get(meta.pop("type", ""))
    if cls is None:
        return None
    names = {f.name for f in dataclasses.fields(cls)}
    values = {**meta, **arrays}
    for name in ("segments", "feature_values"):  # optional arrays (None is not stored)
        if name in names and name not in values:
            values[name] = None
    for name in ("feature_names", "shape"):
        if name in values:
            values[name] = tuple(values[name])
    try:
        return cls(**{k: v for k, v in values.items() if k in names})
    except TypeError:
        return None
