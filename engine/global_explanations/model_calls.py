"""Batched class probabilities for the global explanations, from a Keras model or any callable.

A global explanation evaluates the model on many modified copies of a dataset (permuted
columns, masked units). Copies are built lazily, `batch_size` rows at a time, by a pure
`rows(start, stop)` function, so the copies never exist all at once; a Keras model runs one
compiled graph traced once with an open batch dimension (no retracing on the short last batch).
Anything else that is callable (a scikit-learn estimator wrapped as ``f(x) -> outputs``) is
called on the same numpy batches. Outputs become probabilities through the one conversion,
`engine.predictions.to_probabilities`, with the chosen head's kind: `head` (an output index or
name, as `engine.heads.select` reads it) picks one output of a multi-head model; None means the
first classifier head, so a one-head model needs no choice.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from engine.errors import BadInputError, Cancelled, OutOfMemoryError, is_out_of_memory
from engine.predictions import to_probabilities

Rows = Callable[[int, int], np.ndarray]
Progress = Callable[[float], Any] | None
Cancel = Callable[[], bool] | None

_COMPILED: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


class Predictor:
    """Probabilities (N, K) of `model` for rows built batch by batch; counts its model calls."""

    def __init__(self, model: Any, batch_size: int = 256, progress: Progress = None, cancel: Cancel = None,
                 head: int | str | None = None) -> None:
        if not callable(model):
            raise BadInputError(f"Expected a model (a Keras model or a callable), got {type(model).__name__}.")
        if int(batch_size) < 1:
            raise BadInputError(f"batch_size must be at least 1, got {batch_size}.")
        self.model = model
        self.batch_size = int(batch_size)
        self.progress = progress
        self.cancel = cancel
        self.calls = 0  # model calls made (batches)
        self.rows = 0  # rows evaluated
        self.head, self._activation, self._kind = _head_of(model, head)
        self._done = 0.0

    def check(self) -> None:
        if self.cancel is not None and self.cancel():
            raise Cancelled("Cancelled.")

    def report(self, fraction: float) -> None:
        self._done = max(self._done, min(1.0, float(fraction)))
        if self.progress is not None:
            self.progress(self._done)

    def probabilities(self, x: np.ndarray, span: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
        """Probabilities of the rows of `x` (already built)."""
        return self.over(len(x), lambda a, b: x[a:b], span)

    def over(self, n_rows: int, rows: Rows, span: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
        """Probabilities of rows [0, n_rows) built by `rows(start, stop)`, in model batches."""
        parts: list[np.ndarray] = []
        begin = 0
        while begin < n_rows:
            self.check()
            stop = min(begin + self.batch_size, n_rows)
            batch = np.asarray(rows(begin, stop))
            try:
                out = self._call(batch)
            except Exception as exc:  # noqa: BLE001 - only out-of-memory is handled here
                if not is_out_of_memory(exc):
                    raise
                if self.batch_size == 1:
                    raise OutOfMemoryError("Out of memory even with batch size 1.") from exc
                self.batch_size = max(1, self.batch_size // 2)
                continue
            parts.append(to_probabilities(out, self._activation, self._kind))
            self.calls += 1
            self.rows += stop - begin
            begin = stop
            self.report(span[0] + (span[1] - span[0]) * stop / max(1, n_rows))
        return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)

    def _call(self, batch: np.ndarray) -> np.ndarray:
        fn = _compiled(self.model)
        if fn is None:
            out = self.model(batch)
        else:
            import tensorflow as tf

            out = fn(tf.convert_to_tensor(batch, dtype=tf.float32))
        if isinstance(out, (list, tuple)):  # a multi-head model: the chosen output only
            out = out[self.head]
        elif isinstance(out, dict):
            out = list(out.values())[self.head]
        return np.asarray(out, dtype=np.float64)


def _is_keras(model: Any) -> bool:
    return type(model).__module__.startswith(("keras", "tf_keras")) or any(
        c.__module__.startswith(("keras", "tf_keras")) for c in type(model).__mro__
    )


def _compiled(model: Any) -> Any:
    """A tf.function of the Keras model with an open batch dimension (None: not Keras)."""
    if not _is_keras(model):
        return None
    fn = _COMPILED.get(model)
    if fn is None:
        import tensorflow as tf

        shape = tuple(model.inputs[0].shape)[1:]
        forward = weakref.ref(model)
        spec = tf.TensorSpec((None, *shape), tf.float32)
        fn = _COMPILED[model] = tf.function(lambda x: forward()(x, training=False), input_signature=[spec])
    return fn


def _head_of(model: Any, head: int | str | None) -> tuple[int, str | None, str | None]:
    """Index, activation and kind of the chosen head (no heads found, e.g. a callable: output 0,
    read as it comes)."""
    from engine import heads

    found = heads.model_heads(model)
    if not found:
        if head not in (None, 0):
            raise BadInputError(f"Output {head!r} was asked for, but this model's outputs cannot be listed.")
        return 0, None, None
    chosen = heads.select(found, head)
    return chosen.index, chosen.activation, chosen.kind


def one_head(model: Any, head: int | str | None) -> Any:
    """The model itself when it has one output (or is a plain callable), else the view of the chosen head."""
    from engine import heads

    found = heads.model_heads(model)
    if len(found) <= 1 and head in (None, 0):
        return model
    from engine.explainers.views import view

    return view(model, heads.select(found, head)).model
