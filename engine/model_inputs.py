"""Feed a dataset batch to a model of any input kind: arrays, one array per input, or strings.

numpy at import; TensorFlow only when strings are fed (so the GUI may import this module).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.errors import BadInputError


def input_names(model: Any) -> list[str]:
    try:
        return [str(t.name) for t in model.inputs]
    except (AttributeError, ValueError, TypeError):
        return []


def feed(model: Any, x: Any) -> Any:
    """`x` as the model takes it: a dict checked against the input names (one array each, in the
    model's order), strings as a tf.string tensor of the input's rank, arrays as they are."""
    if isinstance(x, dict):
        names = input_names(model)
        missing = [n for n in names if n not in x]
        if missing:
            raise BadInputError(
                f"The cases have no array for input {missing[0]!r}; the model's inputs are {', '.join(names)} "
                f"and the cases hold {', '.join(x)}: name the .npz arrays after the inputs."
            )
        return [x[n] for n in names]
    array = np.asarray(x)
    if array.dtype == object or array.dtype.kind in "US":
        import tensorflow as tf

        rank = len(model.inputs[0].shape) if input_names(model) else 2
        strings = array.astype(str).reshape(len(array), *([1] if rank == 2 else []))
        return tf.constant(strings)
    return array


def n_cases(x: Any) -> int:
    return len(next(iter(x.values()))) if isinstance(x, dict) else len(x)
