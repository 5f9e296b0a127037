"""What a layer computes for one case (or two, to compare): its output tensor and statistics.

The intermediate model for a layer is built once per (model, layer) with `engine.graph.tap_model`
(so layers inside nested sub-models work), pruned to that layer's output and compiled as a
tf.function; both are kept in engine.cache memory caches inside the workspace, which are
dropped when the model changes. The last few results are kept too (bounded by count and bytes),
so going back to a layer is instant.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine import cache
from engine.errors import BadInputError
from engine.jobs import JobContext
from engine.weights import TensorStats, tensor_stats

KINDS = {4: "maps", 2: "vector", 3: "sequence"}  # by rank including the batch axis
_FN_KEY = "activations:functions"
_RESULT_KEY = "activations:results"
MAX_FUNCTIONS = 24  # compiled tap functions kept per model
MAX_RESULTS = 16
MAX_RESULT_BYTES = 256 << 20  # a few MobileNet-sized early layers (224x224x32 float32 = 6 MB each)


@dataclass(frozen=True)
class LayerActivations:
    path: str
    class_name: str
    cases: tuple[int, ...]  # dataset indices, () when the input was given as an array
    values: np.ndarray  # float32 (n, ...) the layer's output for each case
    kind: str  # "maps" (n, H, W, C), "vector" (n, units), "sequence" (n, T, D), "other"
    stats: tuple[TensorStats, ...]  # per case
    channel_mean: np.ndarray | None  # (n, C) for maps: the sort keys of the feature grid
    channel_max: np.ndarray | None
    images: tuple[np.ndarray | None, ...]  # each case as the model sees it, for overlays
    compute_seconds: float  # engine time (0 when the result came from the cache)


def layer_function(workspace: Any, path: str) -> Callable[[np.ndarray], Any]:
    """The compiled function input batch -> output of `path`, built once per (model, layer)."""
    functions = cache.memory(workspace, _FN_KEY, MAX_FUNCTIONS)
    fn = functions.get(path)
    if fn is None:
        import keras
        import tensorflow as tf

        from engine.graph import tap_model

        model = workspace.require_model()
        tapped = tap_model(model, [path])
        inputs = list(tapped.inputs)  # every input of a multi-input model; strings for text models
        single = keras.Model(inputs if len(inputs) > 1 else inputs[0], tapped.outputs[0], name=f"{model.name}_tap")
        specs = [tf.TensorSpec((None, *t.shape[1:]), t.dtype) for t in inputs]
        fn = tf.function(lambda *xs: single(list(xs) if len(xs) > 1 else xs[0], training=False), input_signature=specs)
        functions.put(path, fn)
    return fn


def _first(output: Any) -> Any:
    """A layer with several outputs is shown by its first."""
    return output[0] if isinstance(output, (list, tuple)) else output


def compute_activations(workspace: Any, path: str, x: Any) -> np.ndarray:
    """The output of layer `path` for the batch `x` (an array, a dict per input, or strings), as float32."""
    from engine.model_inputs import feed

    model = workspace.require_model()
    fed = feed(model, x)
    arrays = fed if isinstance(fed, list) else [fed]
    converted = []
    for tensor, array in zip(model.inputs, arrays):
        if isinstance(array, np.ndarray):
            expected = tuple(tensor.shape[1:])
            if array.ndim != len(expected) + 1 or any(e is not None and e != s for e, s in zip(expected, array.shape[1:])):
                raise BadInputError(
                    f"Input of shape {tuple(array.shape[1:])} does not fit model input {expected}; "
                    "check the dataset's preprocessing."
                )
            array = np.asarray(array, dtype=tensor.dtype)
        converted.append(array)
    out = _first(layer_function(workspace, path)(*converted))
    return np.asarray(out, dtype=np.float32)


def summarize(path: str, class_name: str, values: np.ndarray, cases: tuple[int, ...],
              images: tuple[np.ndarray | None, ...], seconds: float) -> LayerActivations:
    """Per-case statistics and, for feature maps, per-channel means and maxima."""
    kind = KINDS.get(values.ndim, "other")
    stats = tuple(tensor_stats(v) for v in values)
    channel_mean = channel_max = None
    if kind == "maps":
        flat = values.reshape(values.shape[0], -1, values.shape[-1])
        finite = not any(s.nonfinite for s in stats)
        channel_mean = (flat.mean(axis=1) if finite else np.nanmean(flat, axis=1)).astype(np.float32)
        channel_max = (flat.max(axis=1) if finite else np.nanmax(flat, axis=1)).astype(np.float32)
    return LayerActivations(
        path=path,
        class_name=class_name,
        cases=cases,
        values=values,
        kind=kind,
        stats=stats,
        channel_mean=channel_mean,
        channel_max=channel_max,
        images=images,
        compute_seconds=seconds,
    )


def activations_task(
    ctx: JobContext, path: str, cases: Sequence[int] = (), x: np.ndarray | None = None
) -> LayerActivations:
    """Layer `path`'s output for dataset `cases` (one, or two to compare), or for the batch `x`."""
    from engine.graph import find_layer

    workspace = ctx.workspace
    model = workspace.require_model()
    layer = find_layer(model, path)
    cases = tuple(int(c) for c in cases)
    results = cache.memory(workspace, _RESULT_KEY, MAX_RESULTS, MAX_RESULT_BYTES)
    if x is None:
        dataset = workspace.dataset
        if dataset is None:
            raise BadInputError("No dataset is open: open cases to see a layer's activations.")
        if not cases:
            raise BadInputError("No case selected.")
        bad = [c for c in cases if not 0 <= c < len(dataset)]
        if bad:
            raise BadInputError(f"Case {bad[0]} is not in the dataset ({len(dataset)} cases).")
        key = (path, getattr(dataset, "hash", id(dataset)), cases)
        cached = results.get(key)
        if cached is not None:
            return cached
        x = dataset.inputs(list(cases))
        images: tuple[np.ndarray | None, ...] = (None,) * len(cases)
        if getattr(dataset, "kind", "images") == "images":  # rows of features have no picture
            images = tuple(dataset.display_image(c) for c in cases)
    else:
        key, images = None, (None,) * (len(next(iter(x.values()))) if isinstance(x, dict) else len(x))
    ctx.progress(0.1, f"Activations of {path}")
    ctx.check()
    t0 = time.perf_counter()
    values = compute_activations(workspace, path, x if isinstance(x, dict) else np.asarray(x))
    result = summarize(path, type(layer).__name__, values, cases, images, time.perf_counter() - t0)
    if key is not None:
        results.put(key, result)
    ctx.progress(1.0, f"Activations of {path}")
    return result
