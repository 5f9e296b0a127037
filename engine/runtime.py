"""Start-up of the compute runtime on the engine thread: import TensorFlow once, set up GPUs."""

from __future__ import annotations

import os
from typing import Any

from engine.provenance import versions


def prepare_environment() -> None:
    """Before TensorFlow/Keras are imported: quiet C++ logs, and keep Keras' config file
    (keras.json, which it writes on first import) in Glassbox's cache folder instead of the
    user's home: the app writes only where it says it does."""
    from engine.fileio import cache_dir

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("KERAS_HOME", str(cache_dir("keras")))


def start_runtime(ctx: Any = None) -> dict[str, str]:
    """Import TensorFlow and Keras, turn on GPU memory growth; return the versions for About."""
    prepare_environment()
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised by an earlier call
            pass
    return versions()
