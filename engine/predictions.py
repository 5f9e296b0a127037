"""The model's predictions for every case of the open dataset, batched, with progress and cancel.

numpy-only at import (the model is called, never imported), so the GUI may import
`Predictions` for type hints.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from engine.errors import BadInputError, NotSupportedError, NumericalError
from engine.heads import DENSE, LABEL_THRESHOLD, REGRESSION, SIGMOID, Head
from engine.identity import model_identity
from engine.jobs import JobContext

PREDICTIONS_KEY = "engine.predictions"  # workspace.cache: the last Predictions (dropped with the model)


@dataclass(frozen=True)
class Predictions:
    """Class probabilities for all cases, and which model and dataset (with recipe) made them."""

    probabilities: np.ndarray  # float32 (N, K) of the classifier head; (N, 0) if the model has none
    predicted: np.ndarray  # int64 (N,); -1 without a classifier head
    confidence: np.ndarray  # float32 (N,): probability of the predicted class (NaN without one)
    model_sha256: str
    dataset_hash: str
    head: str = ""  # the classifier head these probabilities are of ("" if none)
    values: dict[str, np.ndarray] = field(default_factory=dict)  # raw (N, K) outputs of the other flat heads

    def __len__(self) -> int:
        return len(self.predicted)


def to_probabilities(outputs: np.ndarray, activation: str | None, kind: str | None = None) -> np.ndarray:
    """Model outputs -> (N, K) probabilities: the one implementation, used by the case list,
    the canvas's top-5 and the embedding.

    A single sigmoid unit becomes two columns [1 - p, p]; raw outputs (logits, or an unknown
    activation whose rows are not distributions) go through a softmax, so the confidence column
    always means the same thing. `kind` (an `engine.heads` kind) says what the head is when it
    is known: independent sigmoid labels stay independent, logits are never taken for
    probabilities, and a regression or dense head has no probabilities at all.
    """
    out = np.asarray(outputs, dtype=np.float64).reshape(len(outputs), -1)
    if kind in ("regression", "dense"):
        raise NotSupportedError(f"A {kind} output has no class probabilities.")
    if out.shape[1] == 1:
        known = activation == "sigmoid" or (kind != "logits" and _in_unit(out))
        p = out[:, 0] if known else 1.0 / (1.0 + np.exp(-out[:, 0]))
        return np.stack([1.0 - p, p], axis=1).astype(np.float32)
    if kind == "sigmoid":
        return (out if activation == "sigmoid" or _in_unit(out) else 1.0 / (1.0 + np.exp(-out))).astype(np.float32)
    is_distribution = _in_unit(out) and np.allclose(out.sum(axis=1), 1.0, atol=1e-3)
    if kind != "logits" and (activation in ("softmax", "sigmoid") or is_distribution):
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


FIRST_CHUNK = 4  # rows of the first chunk, before the model's speed is known
CHUNK_SECONDS = 0.15  # a chunk this long at most, so an interactive request waits no longer


def chunk_rows(seconds: float, rows: int, batch_size: int) -> int:
    """Rows of the next chunk, from the last one's time: about CHUNK_SECONDS of work, 1 to
    batch_size rows. Between chunks the engine runs waiting interactive jobs, so a slow model
    (MobileNetV2 at 224 on a CPU, ~0.1 s a case) goes a few cases at a time, a small one at full batch."""
    per_row = seconds / max(1, rows)
    fits = int(CHUNK_SECONDS / per_row + 1e-9) if per_row > 0 else batch_size  # 0.15 / 0.05 is 2.999…
    return max(1, min(batch_size, fits))


def predict_task(ctx: JobContext, batch_size: int = 64) -> Predictions:
    """Run the model over the open dataset in batches; cancel is checked between batches.

    Probabilities are those of the first classifier head (engine.heads); regression and other
    flat heads are kept as raw values, dense maps are not kept (the case view computes them).
    """
    from engine import heads as heads_mod
    from engine.model_inputs import feed

    workspace = ctx.workspace
    model = workspace.require_model()
    dataset = workspace.dataset
    if dataset is None:
        raise BadInputError("No cases are open.")
    description = workspace.description
    found = tuple(getattr(description, "heads", ()) or ()) or heads_mod.model_heads(model)
    n = len(dataset)
    chunks: list[list[np.ndarray]] = []
    start, rows = 0, min(batch_size, FIRST_CHUNK)
    while start < n:
        ctx.check()
        ctx.progress(start / n, f"Predicting {start}/{n} cases…")
        began = time.perf_counter()
        x = dataset.inputs(range(start, min(n, start + rows)))
        if start == 0 and isinstance(x, np.ndarray) and x.dtype != object and len(model.inputs) == 1:
            check_fits(x, model)
        out = model(feed(model, x), training=False)
        outs = list(out.values()) if isinstance(out, dict) else list(out) if isinstance(out, (list, tuple)) else [out]
        chunks.append([np.asarray(o, dtype=np.float32) for o in outs])
        start += len(chunks[-1][0])
        rows = chunk_rows(time.perf_counter() - began, len(chunks[-1][0]), batch_size)
    outputs = [np.concatenate(parts) for parts in zip(*chunks)]
    for values in outputs:
        if not np.isfinite(values).all():
            bad = int((~np.isfinite(values.reshape(n, -1))).any(axis=1).sum())
            raise NumericalError(f"The model's output is NaN or infinite for {bad} of {n} cases.")
    head = heads_mod.select(found, None) if found else None
    if head is None and len(outputs) == 1:  # no graph to read heads from: the old single-output rule
        head = heads_mod.detect(0, "output", outputs[0].shape[1:], getattr(description, "output_activation", None))
    classifier = head is not None and head.is_classifier and outputs[head.index].ndim == 2
    values = {h.name: outputs[h.index] for h in found if outputs[h.index].ndim == 2 and (not classifier or h is not head)}
    ctx.progress(1.0, f"Predicted {n} cases")
    if not classifier:
        result = Predictions(
            probabilities=np.zeros((n, 0), np.float32), predicted=np.full(n, -1, np.int64),
            confidence=np.full(n, np.nan, np.float32), model_sha256=model_identity(workspace),
            dataset_hash=dataset.hash, values=values,
        )
        workspace.cache[PREDICTIONS_KEY] = result  # the canvas's top-5 reads the same numbers
        return result
    probabilities = to_probabilities(outputs[head.index], head.activation, head.kind)
    predicted = probabilities.argmax(axis=1).astype(np.int64)
    result = Predictions(
        probabilities=probabilities,
        predicted=predicted,
        confidence=probabilities[np.arange(n), predicted],
        model_sha256=model_identity(workspace),
        dataset_hash=dataset.hash,
        head=head.name,
        values=values,
    )
    workspace.cache[PREDICTIONS_KEY] = result  # the canvas's top-5 reads the same numbers
    return result


# ------------------------------------------------------------------ one case, in the head's terms
@dataclass(frozen=True)
class HeadOutput:
    """One case's output of one head, in that head's own terms (what the case view shows).

    probabilities: classifier heads only (softmax as is; logits softmaxed; one sigmoid unit as
    [1 - p, p]; several sigmoid labels as independent p). labels: multi-label heads, indices
    above `LABEL_THRESHOLD`. values: regression numbers. map: a dense head's (h, w) map of the
    most probable class (or the channel for one-channel maps).
    """

    head: Head
    probabilities: np.ndarray | None = None
    labels: tuple[int, ...] = ()
    values: np.ndarray | None = None
    map: np.ndarray | None = None

    @property
    def summary(self) -> str:
        """One line: top class and probability, labels on, numbers, or the map's shape."""
        h = self.head
        if self.probabilities is not None and h.kind == SIGMOID and h.units > 1:
            on = ", ".join(str(i) for i in self.labels) or "none"
            return f"labels above {LABEL_THRESHOLD:g}: {on}"
        if self.probabilities is not None:
            top = int(np.argmax(self.probabilities))
            return f"class {top} ({100 * float(self.probabilities[top]):.1f}%)"
        if self.values is not None:
            shown = ", ".join(f"{v:.4g}" for v in self.values[:8])
            return f"values: {shown}{' …' if self.values.size > 8 else ''}"
        if self.map is not None:
            return f"map {self.map.shape[0]}x{self.map.shape[1] if self.map.ndim > 1 else 1}"
        return ""


def head_output(head: Head, values: np.ndarray) -> HeadOutput:
    """One case's raw output (per-case shape) of `head` in that head's terms."""
    values = np.asarray(values, dtype=np.float64)
    if head.kind == REGRESSION:
        return HeadOutput(head, values=values.reshape(-1).astype(np.float32))
    if head.kind == DENSE:
        per_pixel = values.reshape(-1, values.shape[-1]) if values.ndim > 1 else values.reshape(-1, 1)
        if per_pixel.shape[1] == 1:
            top = per_pixel[:, 0]
        else:
            top = per_pixel.argmax(axis=1).astype(np.float64)
        return HeadOutput(head, map=top.reshape(values.shape[:-1]).astype(np.float32))
    probs = to_probabilities(values.reshape(1, -1), head.activation, head.kind)[0]
    labels = tuple(int(i) for i in np.flatnonzero(probs >= LABEL_THRESHOLD)) if head.kind == SIGMOID else ()
    return HeadOutput(head, probabilities=probs, labels=labels)
