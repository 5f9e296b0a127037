"""Scalars from TensorBoard event files (what keras.callbacks.TensorBoard writes), for the curves.

Read with TensorFlow's own event iterator: no tensorboard package needed. TF2 summaries store a
scalar as a 0-d tensor; TF1 ones as `simple_value`; both are read.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from engine.errors import BadInputError


def event_files(log_dir: str | os.PathLike[str]) -> list[Path]:
    return sorted(Path(log_dir).rglob("events.out.tfevents.*"))


def read_scalars(log_dir: str | os.PathLike[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{"train/epoch_loss": (steps, values), ...}: tag names prefixed by their sub-folder."""
    import tensorflow as tf

    root = Path(log_dir)
    files = event_files(root)
    if not files:
        raise BadInputError(f"{root.name}: no TensorBoard event files (events.out.tfevents.*) inside.")
    series: dict[str, dict[int, float]] = {}
    for path in files:
        prefix = "" if path.parent == root else f"{path.parent.relative_to(root).as_posix()}/"
        try:
            for event in tf.compat.v1.train.summary_iterator(str(path)):
                for value in event.summary.value:
                    number = _scalar(value, tf)
                    if number is not None:
                        series.setdefault(prefix + value.tag, {})[int(event.step)] = number
        except tf.errors.DataLossError:
            continue  # a file still being written ends mid-record: keep what was complete
    return {tag: (np.array(sorted(v)), np.array([v[s] for s in sorted(v)])) for tag, v in sorted(series.items())}


def _scalar(value: object, tf: object) -> float | None:
    if value.HasField("simple_value"):  # type: ignore[attr-defined]
        return float(value.simple_value)  # type: ignore[attr-defined]
    if value.HasField("tensor"):  # type: ignore[attr-defined]
        array = tf.make_ndarray(value.tensor)  # type: ignore[attr-defined]
        if array.ndim == 0 and np.issubdtype(array.dtype, np.number):
            return float(array)
    return None
