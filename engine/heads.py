"""A model's output heads and what each one means: classes, labels, numbers or a map.

A model may have several outputs (a face detector's box, landmarks and face probability), and
an output may be a softmax over classes, independent sigmoid labels, raw logits, regression
values or a dense per-pixel map. Everything that reads outputs (predictions, the case view,
the explainers) asks this module first, so nothing treats a box regression as four classes.

Kinds are detected from the last layer's activation and the output's shape and can be
overridden by the user (`with_kinds`). Plain data and numpy only: the GUI may import it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import BadInputError

if TYPE_CHECKING:
    from engine.description import ModelDescription

SOFTMAX, SIGMOID, LOGITS, REGRESSION, DENSE = "softmax", "sigmoid", "logits", "regression", "dense"
KINDS = (SOFTMAX, SIGMOID, LOGITS, REGRESSION, DENSE)
KIND_TITLES = {
    SOFTMAX: "softmax classes",
    SIGMOID: "sigmoid labels",
    LOGITS: "logits",
    REGRESSION: "regression values",
    DENSE: "dense map",
}
CLASSIFIER_KINDS = (SOFTMAX, SIGMOID, LOGITS)
# A linear layer with one of these in its name is a regression head (a detector's box or landmarks)
REGRESSION_HINTS = ("box", "bbox", "landmark", "regress", "coord", "offset", "value", "age", "count")
LABEL_THRESHOLD = 0.5


@dataclass(frozen=True)
class Head:
    """One model output: its index, name, per-case shape, kind and the activation that made it."""

    index: int
    name: str
    shape: tuple[int | None, ...]  # per case, batch dimension left out
    kind: str
    activation: str | None = None  # "softmax" | "sigmoid" | None (as found on the last layer)
    detected: str = ""  # the detected kind when `kind` was overridden

    @property
    def units(self) -> int:
        """Values per case (dense maps: channels per location)."""
        last = self.shape[-1] if self.shape else 1
        return int(last) if last is not None else 1

    @property
    def n_classes(self) -> int:
        """Targets an explanation may choose: a single sigmoid (or logit) unit is two classes."""
        if self.kind in (SIGMOID, LOGITS, DENSE) and self.units == 1:
            return 2
        return self.units

    @property
    def is_classifier(self) -> bool:
        return self.kind in CLASSIFIER_KINDS

    def to_dict(self) -> dict[str, Any]:
        """JSON-plain form (inspect --json, reports)."""
        return {**dataclasses.asdict(self), "shape": list(self.shape), "n_classes": self.n_classes}

    @property
    def title(self) -> str:
        kind = "one sigmoid: classes 1 - p and p" if self.kind == SIGMOID and self.units == 1 else KIND_TITLES[self.kind]
        return f"{self.name} ({kind}, {'x'.join(str(d) for d in self.shape)})"


def detect(index: int, name: str, shape: Sequence[int | None], activation: str | None) -> Head:
    """The kind of one output from its per-case shape and its last layer's activation."""
    shape = tuple(None if d is None else int(d) for d in shape)
    if len(shape) > 1:
        kind = DENSE
    elif activation == "softmax":
        kind = SOFTMAX
    elif activation == "sigmoid":
        kind = SIGMOID
    elif (shape and shape[0] == 1) or any(hint in name.lower() for hint in REGRESSION_HINTS) or activation:
        kind = REGRESSION  # one linear unit, a named box/landmark head, or relu/tanh outputs
    else:
        kind = LOGITS
    return Head(index=index, name=name, shape=shape, kind=kind, activation=activation)


def with_kinds(heads: Sequence[Head], kinds: Mapping[str | int, str]) -> tuple[Head, ...]:
    """`heads` with the user's kinds (by head name or index) in place of the detected ones."""
    out = []
    for head in heads:
        kind = kinds.get(head.name, kinds.get(head.index, head.kind))
        if kind not in KINDS:
            raise BadInputError(f"Unknown head kind {kind!r} for {head.name!r}; choose one of {', '.join(KINDS)}.")
        if kind != head.kind:
            head = dataclasses.replace(head, kind=kind, detected=head.detected or head.kind)
        out.append(head)
    return tuple(out)


def select(heads: Sequence[Head], head: int | str | None) -> Head:
    """The head named by index or name; None means the first classifier head (else the first)."""
    if not heads:
        raise BadInputError("The model has no outputs to explain.")
    if head is None:
        return next((h for h in heads if h.is_classifier), heads[0])
    for candidate in heads:
        if head == candidate.index if isinstance(head, (int, np.integer)) else head == candidate.name:
            return candidate
    names = ", ".join(f"{h.index}: {h.name}" for h in heads)
    raise BadInputError(f"The model has no output {head!r}; its outputs are {names}.")


def model_heads(model: Any) -> tuple[Head, ...]:
    """Detected heads of a Keras model (read through duck typing: no Keras import here)."""
    try:
        outputs = list(model.outputs)
    except (AttributeError, ValueError, TypeError):
        return ()
    heads = []
    for index, tensor in enumerate(outputs):
        layer = output_layer(model, index)
        name = getattr(layer, "name", f"output_{index}")
        heads.append(detect(index, name, tuple(tensor.shape)[1:], activation_of(layer)))
    return tuple(heads)


def output_layer(model: Any, index: int = 0) -> Any:
    """The layer producing output `index`, stepping into nested sub-models (None if unknown)."""
    layer = model
    first = True
    while hasattr(layer, "outputs") and hasattr(layer, "layers"):
        try:
            outputs = list(layer.outputs)
        except (AttributeError, ValueError, TypeError):
            return None
        if not outputs:
            return None
        tensor = outputs[index if first else 0]
        first = False
        history = getattr(tensor, "_keras_history", None)
        if history is None:
            return None
        if history.operation is layer:
            return layer
        layer = history.operation
    return layer


def activation_of(layer: Any) -> str | None:
    """"softmax"/"sigmoid"/other activation name a layer ends with; None for linear or unknown."""
    if layer is None:
        return None
    opaque = getattr(layer, "graph_activation", None)  # set on SavedModel outputs by engine.models
    if opaque:
        return str(opaque)
    class_name = type(layer).__name__
    if class_name == "Softmax":
        return "softmax"
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", None)
    if name in (None, "linear"):
        return None
    return str(name)


def set_head_kind_task(ctx: Any, head: int, kind: str) -> ModelDescription:
    """The user's kind for one head of the open model: a new description (the GUI re-announces
    it, so predictions, the case view and explanations all read the head the user's way)."""
    description = ctx.workspace.description
    if description is None or not getattr(description, "heads", ()):
        raise BadInputError("The open model has no heads to re-kind.")
    current = {h.index: h for h in description.heads}
    if head not in current:
        raise BadInputError(f"The model has no output {head}.")
    original = current[head].detected or current[head].kind
    updated = with_kinds(description.heads, {head: kind})
    if kind == original:  # back to the detected kind: no longer an override
        updated = tuple(dataclasses.replace(h, detected="") if h.index == head else h for h in updated)
    new = dataclasses.replace(description, heads=updated)
    ctx.workspace.description = new
    return new


def overrides(description: Any) -> dict[int, str]:
    """{head index: kind} of the heads whose kind the user changed (for the explainers)."""
    return {h.index: h.kind for h in getattr(description, "heads", ()) or () if h.detected}

