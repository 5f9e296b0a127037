"""Permutation importance (Breiman 2001; scikit-learn's `permutation_importance`), batched.

Importance of feature j = baseline score - score with column j permuted across cases, repeated
`n_repeats` times. The permutations are scikit-learn's, draw for draw: a RandomState seeded by
`seed` gives one seed, and every column replays the same in-place shuffles of one index array,
each applied to the already permuted column. So with the same seed and data the importances
equal scikit-learn's. Every permuted copy (features x repeats x cases rows) is built lazily, a
model batch at a time, so they run in few large model calls and never exist all at once. For
images a feature is a region shared by all cases (engine.global_explanations.features): its
pixels are taken from another case.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from engine.errors import BadInputError
from engine.global_explanations import features as feats
from engine.global_explanations.model_calls import Cancel, Predictor, Progress
from engine.global_explanations.results import PermutationImportance

Scoring = str | Callable[[np.ndarray, np.ndarray], float]
SCORINGS = ("accuracy", "neg_log_loss")
ALIASES = {"accuracy": "accuracy", "log_loss": "neg_log_loss", "log-loss": "neg_log_loss", "neg_log_loss": "neg_log_loss"}


def permutation_importance(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    n_repeats: int = 5,
    seed: int = 0,
    scoring: Scoring = "accuracy",
    batch_size: int = 256,
    *,
    features: str | np.ndarray = "grid",
    cell_size: int = 4,
    n_segments: int = 16,
    feature_names: Any = None,
    head: int | str | None = None,
    progress: Progress = None,
    cancel: Cancel = None,
) -> PermutationImportance:
    """See the module docstring. `scoring`: "accuracy", "log_loss" (scikit-learn's neg_log_loss:
    the importance is the rise in log loss) or a callable(y_true, probabilities) -> float where
    higher is better. Images: `features` "grid" (cells of `cell_size`), "slic" (`n_segments`
    superpixels of the mean image) or an (H, W) label array. `head`: the output explained, by index
    or name (default: the first classifier head), so each head of a multi-head model has its own
    importances."""
    start = time.perf_counter()
    x = _check_x(x)
    y = np.asarray(y).reshape(-1)
    if len(y) != len(x):
        raise BadInputError(f"{len(x)} cases but {len(y)} labels.")
    if int(n_repeats) < 1:
        raise BadInputError(f"n_repeats must be at least 1, got {n_repeats}.")
    score, name = scorer(scoring)
    units = feats.units_of(x, features, cell_size, n_segments)
    count = feats.n_features(x, units)
    sources = shuffles(len(x), int(n_repeats), seed)  # (R, N): case i takes the values of case sources[r, i]
    predictor = Predictor(model, batch_size, progress, cancel, head=head)
    baseline = score(y, predictor.probabilities(x, span=(0.0, 0.02)))
    rows = PermutedRows(x, units, sources)
    probabilities = predictor.over(len(rows), rows, span=(0.02, 1.0))
    per_copy = probabilities.reshape(count, int(n_repeats), len(x), -1)
    permuted = np.array([[score(y, per_copy[f, r]) for r in range(int(n_repeats))] for f in range(count)])
    importances = baseline - permuted
    return PermutationImportance(
        importances_mean=importances.mean(axis=1),
        importances_std=importances.std(axis=1),
        importances=importances,
        baseline_score=float(baseline),
        scoring=name,
        feature_names=feats.feature_names(x, units, feature_names),
        segments=units,
        params={"n_repeats": int(n_repeats), "seed": int(seed), "scoring": name, "batch_size": int(batch_size),
                "head": predictor.head,
                **({} if units is None else {"features": features if isinstance(features, str) else "fixed",
                                             "cell_size": int(cell_size), "n_segments": int(n_segments)})},
        model_calls=predictor.calls,
        rows=predictor.rows,
        evaluations={"forward": predictor.rows},
        elapsed=time.perf_counter() - start,
    )


def scorer(scoring: Scoring) -> tuple[Callable[[np.ndarray, np.ndarray], float], str]:
    """The score function (higher is better) and its name."""
    if callable(scoring):
        return (lambda y, p: float(scoring(y, p))), getattr(scoring, "__name__", "custom")
    name = ALIASES.get(str(scoring))
    if name is None:
        raise BadInputError(f"Unknown scoring {scoring!r}; choose accuracy, log_loss or pass a callable.")
    return (accuracy if name == "accuracy" else neg_log_loss), name


def accuracy(y: np.ndarray, probabilities: np.ndarray) -> float:
    return float(np.mean(np.argmax(probabilities, axis=1) == y))


def neg_log_loss(y: np.ndarray, probabilities: np.ndarray) -> float:
    """Minus the mean cross-entropy, as scikit-learn's log_loss computes it (probabilities
    clipped to float64's eps)."""
    p = np.asarray(probabilities, dtype=np.float64)
    eps = np.finfo(p.dtype).eps
    picked = np.clip(p[np.arange(len(y)), np.asarray(y, dtype=np.int64)], eps, 1 - eps)
    return float(np.mean(np.log(picked)))


def shuffles(n: int, n_repeats: int, seed: int) -> np.ndarray:
    """(n_repeats, n) source indices: scikit-learn's permutations of one column, repeat by repeat."""
    outer = np.random.RandomState(seed)
    inner = np.random.RandomState(outer.randint(np.iinfo(np.int32).max + 1))
    index, source = np.arange(n), np.arange(n)
    out = np.empty((n_repeats, n), np.int64)
    for r in range(n_repeats):
        inner.shuffle(index)
        source = source[index]
        out[r] = source
    return out


class PermutedRows:
    """Rows of every permuted copy, feature-major, then repeat, then case (a pure function of its range)."""

    def __init__(self, x: np.ndarray, units: np.ndarray | None, sources: np.ndarray) -> None:
        self.x, self.sources = x, sources
        self.count = feats.n_features(x, units)
        self.masks = feats.masks(units, self.count)
        self.n_repeats, self.n = sources.shape

    def __len__(self) -> int:
        return self.count * self.n_repeats * self.n

    def __call__(self, start: int, stop: int) -> np.ndarray:
        flat = np.arange(start, stop)
        feature, rest = np.divmod(flat, self.n_repeats * self.n)
        repeat, case = np.divmod(rest, self.n)
        rows = self.x[case].copy()
        donors = self.sources[repeat, case]
        if self.masks is None:
            rows[np.arange(len(flat)), feature] = self.x[donors, feature]
            return rows
        return np.where(self.masks[feature], self.x[donors], rows)


def _check_x(x: Any) -> np.ndarray:
    array = np.asarray(x)
    if array.dtype.kind not in "fiub" or array.ndim not in (2, 4) or len(array) < 2:
        raise BadInputError(f"Global explanations need at least 2 numeric rows (N, F) or images (N, H, W, C); got {array.shape}.")
    array = np.ascontiguousarray(array, dtype=np.float64 if array.dtype == np.float64 else np.float32)
    if not np.isfinite(array).all():
        raise BadInputError("The cases hold NaN or Inf.")
    return array
