"""`influence(run_dir, model, x_test, y_test)`: TracIn (Pruthi et al. 2020) on the last layer.

TracIn scores a training case z for a test case z' as sum over checkpoints t of
lr_t * grad L(w_t, z) . grad L(w_t, z'). We take the gradient of the cross-entropy with respect to
the last Dense layer only (kernel and bias). For logits z = W h + b that gradient is the outer
product of h (the layer's input) with e = p - onehot(y), plus e for the bias, so the dot product
factorises exactly:

    g(z) . g(z') = (h . h' + 1) * (e . e')

The recorder stored h and p for every training case at every checkpoint; here only the test cases
go through the model (a clone with each checkpoint's weights). `projection_dim` replaces h by a
seeded Gaussian projection R h (Johnson-Lindenstrauss: dot products kept in expectation), which
pays off when the last layer's input is wide. Positive scores are proponents (training on z
lowered the test loss), negative ones opponents.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import BadInputError
from engine.models import output_activation
from engine.predictions import to_probabilities
from engine.training.recorder import feature_function, predict_features
from engine.training.run import apply_weights, read_features, read_run

# (test chunk) x (training cases) floats held at once
MAX_SCORE_ELEMENTS = 20_000_000
_SCORERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> _scorer(model)


@dataclass(frozen=True)
class Influence:
    """Per test case, the top_k training cases (indices into the run) and their TracIn scores."""

    proponents: np.ndarray  # int64 (N_test, top_k), most helpful first
    scores: np.ndarray  # float32 (N_test, top_k): the proponents' scores (positive)
    opponents: np.ndarray  # int64 (N_test, top_k), most harmful first
    opponent_scores: np.ndarray  # float32 (N_test, top_k): their scores (negative)
    self_scores: np.ndarray  # float32 (N_test,): the test case scored against itself
    checkpoints: tuple[int, ...]  # epochs used


def influence(
    run_dir: str | os.PathLike[str],
    model: object,
    x_test: np.ndarray,
    y_test: np.ndarray,
    top_k: int = 10,
    projection_dim: int | None = None,
    seed: int = 0,
    batch_size: int = 512,
    progress: Callable[[float, str], None] | None = None,
) -> Influence:
    """TracIn over the run's checkpoints; see the module docstring. `progress` may raise to cancel."""
    run = read_run(run_dir)
    if not run.checkpoints:
        raise BadInputError(f"{run.name}: no checkpoint recorded yet; influence needs at least one.")
    x_test = np.asarray(x_test)
    y_test = _labels(y_test, len(x_test))
    n_train = len(run.labels)
    top_k = max(1, min(int(top_k), n_train))
    clone, function, activation = _scorer(model)
    tests, trains = [], []
    for i, checkpoint in enumerate(run.checkpoints):
        if progress is not None:
            progress(i / len(run.checkpoints) * 0.5, f"Checkpoint of epoch {checkpoint.epoch}…")
        apply_weights(clone, checkpoint)
        h_t, out = predict_features(function, x_test, batch_size)
        h, p = read_features(checkpoint)
        projection = _projection(h.shape[1], projection_dim, seed)
        tests.append((_project(h_t, projection), _errors(to_probabilities(out, activation), y_test)))
        trains.append((_project(h, projection), _errors(p, run.labels), checkpoint.learning_rate))
    chunk = max(1, MAX_SCORE_ELEMENTS // n_train)
    parts = []
    for start in range(0, len(x_test), chunk):
        if progress is not None:
            progress(0.5 + 0.5 * start / len(x_test), "TracIn scores…")
        stop = start + chunk
        scores = np.zeros((min(stop, len(x_test)) - start, n_train), np.float32)
        self_scores = np.zeros(len(scores), np.float32)
        for (h_t, e_t), (h, e, lr) in zip(tests, trains, strict=True):
            h_t, e_t = h_t[start:stop], e_t[start:stop]
            scores += lr * (h_t @ h.T + 1.0) * (e_t @ e.T)
            self_scores += lr * (np.sum(h_t * h_t, axis=1) + 1.0) * np.sum(e_t * e_t, axis=1)
        parts.append((*_top(scores, top_k), self_scores))
    pro, pro_s, opp, opp_s, selfs = (np.concatenate(column) for column in zip(*parts, strict=True))
    return Influence(pro, pro_s, opp, opp_s, selfs, tuple(c.epoch for c in run.checkpoints))


def _scorer(model: Any) -> tuple[Any, Any, str | None]:
    """(clone, compiled feature function, output activation) for `model`, built once per model.

    Cloning and tracing cost ~0.3 s, ten times the scoring of one case against 1,437: the GUI asks
    case after case. The clone takes each checkpoint's weights, so `model` itself is never touched.
    """
    cached = _SCORERS.get(model)
    if cached is None:
        import keras

        clone = keras.models.clone_model(model)
        cached = _SCORERS[model] = (clone, feature_function(clone), output_activation(clone))
    return cached


def _top(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Largest k (descending) and smallest k (ascending) per row, with argpartition."""
    rows = np.arange(len(scores))[:, None]
    high = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    high = np.take_along_axis(high, np.argsort(-scores[rows, high], axis=1, kind="stable"), axis=1)
    low = np.argpartition(scores, k - 1, axis=1)[:, :k]
    low = np.take_along_axis(low, np.argsort(scores[rows, low], axis=1, kind="stable"), axis=1)
    return high.astype(np.int64), scores[rows, high], low.astype(np.int64), scores[rows, low]


def _labels(y: np.ndarray, n: int) -> np.ndarray:
    labels = np.asarray(y).reshape(n, -1)
    return (labels.argmax(axis=1) if labels.shape[1] > 1 else labels[:, 0]).astype(np.int64)


def _errors(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """e = p - onehot(y): the cross-entropy's gradient with respect to the logits."""
    e = probabilities.astype(np.float32).copy()
    if labels.min(initial=0) < 0 or labels.max(initial=0) >= e.shape[1]:
        raise BadInputError(f"Labels must lie in 0..{e.shape[1] - 1} for influence.")
    e[np.arange(len(labels)), labels] -= 1.0
    return e


def _projection(width: int, dim: int | None, seed: int) -> np.ndarray | None:
    if dim is None or dim >= width:
        return None
    return np.random.default_rng(seed).normal(0.0, 1.0 / np.sqrt(dim), (width, int(dim))).astype(np.float32)


def _project(h: np.ndarray, projection: np.ndarray | None) -> np.ndarray:
    h = h.astype(np.float32)
    return h if projection is None else h @ projection

