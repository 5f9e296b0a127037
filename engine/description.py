"""What we know about an open model, as plain frozen data.

These dataclasses import nothing heavy: the GUI receives a `ModelDescription` from the engine
thread (and may import this module for type hints), the CLI prints it, and `to_dict()` gives
the JSON form used by `inspect --json` and by reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from engine.heads import Head


def _to_plain(value: Any) -> Any:
    """Tuples become lists and nested dataclasses dicts, so `json.dumps` accepts the result."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_plain(v) for k, v in value.items()}
    return value


class _Plain:
    def to_dict(self) -> dict[str, Any]:
        return {f.name: _to_plain(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True)
class TensorSpec(_Plain):
    """A model input or output: its name, shape (None for a free dimension) and dtype."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str


@dataclass(frozen=True)
class WeightInfo(_Plain):
    name: str
    shape: tuple[int, ...]
    dtype: str
    trainable: bool = True


@dataclass(frozen=True)
class LayerInfo(_Plain):
    """One layer; a nested sub-model has its own layers in `children` (paths "outer/inner")."""

    path: str
    name: str
    class_name: str
    output_shape: tuple[Any, ...] | str
    params: int
    trainable_params: int
    trainable: bool
    dtype: str
    activation: str | None
    config: dict[str, Any]
    inbound: tuple[str, ...] = ()  # paths of the layers feeding it; an input's name for inputs
    weights: tuple[WeightInfo, ...] = ()
    children: tuple[LayerInfo, ...] = ()

    @property
    def non_trainable_params(self) -> int:
        return self.params - self.trainable_params

    def walk(self) -> list[LayerInfo]:
        """This layer and every layer nested inside it, depth-first."""
        out = [self]
        for child in self.children:
            out.extend(child.walk())
        return out


@dataclass(frozen=True)
class ModelDescription(_Plain):
    path: str
    format: str  # "keras" | "h5" | "savedmodel"
    sha256: str
    name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    total_params: int
    trainable_params: int
    non_trainable_params: int
    n_layers: int  # every layer, nested ones included
    layers: tuple[LayerInfo, ...]  # top level; nested layers in `children`
    output_activation: str | None = None  # "softmax" | "sigmoid" | None
    notes: tuple[str, ...] = field(default=())  # caveats, e.g. "inner layers are not visible"
    heads: tuple[Head, ...] = field(default=())  # one per output: its kind (engine.heads)

    def all_layers(self) -> list[LayerInfo]:
        """Every layer, nested included, depth-first (the order of `graph.layer_paths`)."""
        out: list[LayerInfo] = []
        for layer in self.layers:
            out.extend(layer.walk())
        return out

    def layer(self, path: str) -> LayerInfo:
        """The layer at `path`; KeyError if there is none."""
        for info in self.all_layers():
            if info.path == path:
                return info
        raise KeyError(path)
