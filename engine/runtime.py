"""Start-up of the compute runtime on the engine thread: import TensorFlow once, set up GPUs."""

from __future__ import annotations

import os
from typing import Any

from engine.provenance import versions


def start_runtime(ctx: Any = None) -> dict[str, str]:
    """Import TensorFlow and Keras, turn on GPU memory growth; return the versions for About."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised by an earlier call
            pass
    return versions()
