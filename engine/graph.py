"""Reach any layer of a model, nested sub-models included, as an output of one new model.

`keras.Model(model.inputs, inner_layer.output)` fails with "Graph disconnected" when the layer
lives inside a nested sub-model, because its `.output` belongs to the sub-model's own graph. Here
the outer graph is replayed on fresh inputs, stepping *into* sub-models, so every layer's output
in this replay is connected to the outer inputs. The new model shares the original's layers (and
weights); nothing is copied.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras

from engine.errors import BadInputError, NotSupportedError

SEP = "/"


def _sublayers(layer: Any) -> list[Any]:
    """The layers a model is made of (not its InputLayers); [] for a plain layer."""
    if not isinstance(layer, keras.Model):
        return []
    return [sub for sub in layer.layers if not isinstance(sub, keras.layers.InputLayer)]


def layer_paths(model: keras.Model) -> list[str]:
    """Every layer's path, depth-first: a sub-model comes before the layers inside it."""
    paths: list[str] = []

    def walk(layer: Any, prefix: str) -> None:
        for sub in _sublayers(layer):
            path = f"{prefix}{sub.name}"
            paths.append(path)
            walk(sub, path + SEP)

    walk(model, "")
    return paths


def find_layer(model: keras.Model, path: str) -> Any:
    """The layer at `path` ("name" or "outer/inner"); BadInputError naming the path if absent."""
    layer: Any = model
    for part in path.split(SEP):
        matches = [sub for sub in _sublayers(layer) if sub.name == part]
        if not matches:
            raise BadInputError(f"Layer {path!r} not found in model {model.name!r}.")
        layer = matches[0]
    return layer


def _graph_runner(model: keras.Model) -> Callable[..., Any] | None:
    """The functional graph that `model` runs, if it has one (Functional, built Sequential)."""
    graph = getattr(model, "_functional", None) or model
    if hasattr(graph, "_run_through_graph") and getattr(graph, "_nodes_by_depth", None):
        return graph._run_through_graph
    return None


def _replay(layer: Any, args: tuple, kwargs: dict, prefix: str, wanted: set[str], taps: dict) -> Any:
    """Call `layer` on symbolic tensors, stepping into sub-models that hold wanted layers."""
    path = prefix.rstrip(SEP)  # "" for the outermost model
    holds_wanted = not path or any(w.startswith(prefix) for w in wanted)
    if isinstance(layer, keras.Model) and holds_wanted:
        runner = _graph_runner(layer)
        if runner is not None:
            def operation_fn(op: Any) -> Callable[..., Any]:
                return lambda *a, **kw: _replay(op, a, kw, f"{prefix}{op.name}{SEP}", wanted, taps)

            outputs = runner(args[0] if len(args) == 1 else list(args), operation_fn=operation_fn)
        elif isinstance(layer, keras.Sequential):
            outputs = args[0]
            for sub in _sublayers(layer):
                outputs = _replay(sub, (outputs,), {}, f"{prefix}{sub.name}{SEP}", wanted, taps)
        else:
            raise NotSupportedError(
                f"Cannot reach layers inside {layer.name!r}: it is a subclassed model without a graph."
            )
    else:
        outputs = layer(*args, **kwargs)
    if path in wanted:
        taps[path] = outputs
    return outputs


def tap_model(model: keras.Model, paths: Sequence[str]) -> keras.Model:
    """A model from `model.inputs` to [each path's output..., the model's final output]."""
    for path in paths:
        find_layer(model, path)
    wanted = set(paths)
    taps: dict[str, Any] = {}
    fresh = [keras.Input(batch_shape=t.shape, dtype=t.dtype) for t in model.inputs]
    inputs = fresh[0] if len(fresh) == 1 else fresh  # several inputs: a list, in the model's order
    final = _replay(model, (inputs,), {}, "", wanted, taps)
    if isinstance(final, (list, tuple)):
        final = final[0]
    missing = [p for p in paths if p not in taps]
    if missing:
        raise NotSupportedError(f"Layer(s) {', '.join(missing)} are not on the path from input to output.")
    return keras.Model(inputs, [taps[p] for p in paths] + [final], name=f"{model.name}_taps")
