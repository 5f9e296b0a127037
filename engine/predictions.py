"""The model's predictions for every case of the open dataset, batched, with progress and cancel.

numpy-only at import (the model is called, never imported), so the GUI may import
`Predictions` for type hints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import BadInputError, NotSupportedError, NumericalError
from engine.identity import model_identity
from engine.jobs import JobContext

PREDICTIONS_KEY = "engine.predictions"  # workspace.cache: the last Predictions (dropped with the model)


@dataclass(frozen=True)
class Predictions:
    """Class probabilities for all cases, and which model and dataset (with recipe) made them."""

    probabilities: np.ndarray  # float32 (N, K)
    predicted: np.ndarray  # int64 (N,)
    confidence: np.ndarray  # float32 (N,): probability of the predicted class
    model_sha256: str
    dataset_hash: str

    def __len__(self) -> int:
        return len(self.predicted)


def to_probabilities(outputs: np.ndarray, activation: str | None) -> np.ndarray:
    """Model outputs -> (N, K) probabilities: the one implementation, used by the case list,
    the canvas's top-5 and the embedding (head detection is the `activation` of the last layer).

    A single sigmoid unit becomes two columns [1 - p, p]; raw outputs (logits, or an unknown
    activation whose rows are not distributions) go through a softmax, so the confidence column
    always means the same thing.
    """
    out = np.asarray(outputs, dtype=np.float64).reshape(len(outputs), -1)
    if out.shape[1] == 1:
        p = out[:, 0] if activation == "sigmoid" or _in_unit(out) else 1.0 / (1.0 + np.exp(-out[:, 0]))
        return np.stack([1.0 - p, p], axis=1).astype(np.float32)
    if activation in ("softmax", "sigmoid") or (_in_unit(out) and np.allclose(out.sum(axis=1), 1.0, atol=1e-3)):
        return out.astype(np.float32)
    shifted = np.exp(out - out.max(axis=1, keepdims=True))
    return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)


def check_fits(x: np.ndarray, model: object) -> None:
    """A batch whose per-case shape the model cannot take is a BadInputError naming both shapes."""
    expected = tuple(model.inputs[0].shape)[1:]  # type: ignore[attr-defined]
    got = x.shape[1:]
    if len(got) != len(expected) or any(e is not None and e != g for e, g in zip(expected, got, strict=False)):
        shape = ", ".join("None" if d is None else str(d) for d in (None, *expected))
        raise BadInputError(
            f"Cases are {x.shape[1:]} after preprocessing but the model expects ({shape}); "
            "change the preprocessing or open matching cases."
        )


def _in_unit(out: np.ndarray) -> bool:
    return bool(out.min(initial=0.0) >= 0.0 and out.max(initial=0.0) <= 1.0)


def predict_task(ctx: JobContext, batch_size: int = 64) -> Predictions:
    """Run the model over the open dataset in batches; cancel is checked between batches."""
    workspace = ctx.workspace
    model = workspace.require_model()
    dataset = workspace.dataset
    if dataset is None:
        raise BadInputError("No cases are open.")
    if len(getattr(model, "inputs", None) or [None]) > 1:
        raise NotSupportedError("Predicting cases for a model with several inputs is not supported yet.")
    n = len(dataset)
    chunks: list[np.ndarray] = []
    for start in range(0, n, batch_size):
        ctx.check()
        ctx.progress(start / n, f"Predicting {start}/{n} cases…")
        x = dataset.inputs(range(start, min(n, start + batch_size)))
        if start == 0:
            check_fits(x, model)
        out = model(x, training=False)
        if isinstance(out, (list, tuple, dict)):
            raise NotSupportedError("Predicting cases for a model with several outputs is not supported yet.")
        chunks.append(np.asarray(out))
    outputs = np.concatenate(chunks)
    if not np.isfinite(outputs).all():
        bad = int((~np.isfinite(outputs.reshape(n, -1))).any(axis=1).sum())
        raise NumericalError(f"The model's output is NaN or infinite for {bad} of {n} cases.")
    probabilities = to_probabilities(outputs, getattr(workspace.description, "output_activation", None))
    predicted = probabilities.argmax(axis=1).astype(np.int64)
    ctx.progress(1.0, f"Predicted {n} cases")
    found = Predictions(
        probabilities=probabilities,
        predicted=predicted,
        confidence=probabilities[np.arange(n), predicted],
        model_sha256=model_identity(workspace),
        dataset_hash=dataset.hash,
    )
    workspace.cache[PREDICTIONS_KEY] = found  # the canvas's top-5 reads the same numbers
    return found
