"""Start-up of the compute runtime on the engine thread: import TensorFlow once, set up GPUs.

With the `gpu` extra (TensorFlow's CUDA libraries) and an NVIDIA driver, TensorFlow places the
explainers' and the embedding's work on the first GPU by itself. Memory growth is turned on so
that TensorFlow takes GPU memory as it needs it instead of all of it at once; a job that still
runs out of GPU memory is run again on the CPU (`engine.jobs.run_job`).
"""

from __future__ import annotations

import gc
import os
import sys
from contextlib import AbstractContextManager
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
    """Import TensorFlow and Keras, turn on GPU memory growth; return the versions for About,
    with "device": which device runs the engine ("CPU", or "GPU: <name>").

    Then the objects of everything imported so far (~350,000: TensorFlow, Keras, Qt) are moved
    out of the cyclic garbage collector's reach (gc.freeze): they live as long as the app, and a
    full collection over them took 0.5 s with the GIL held, a frozen window each time tracing or
    an import allocated enough to trigger one.
    """
    prepare_environment()
    import keras  # noqa: F401 - imported here so that its objects are frozen with TensorFlow's
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised by an earlier call
            pass
    gc.freeze()
    return {**versions(), "device": engine_device()}


def engine_device() -> str:
    """"CPU", or "GPU: NVIDIA H200" (with "+N more" when there are several)."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", gpus[0].name)
    return f"GPU: {name}" + (f" (+{len(gpus) - 1} more)" if len(gpus) > 1 else "")


def gpu_in_use() -> bool:
    """True when TensorFlow is loaded and sees a GPU (never imports TensorFlow itself)."""
    tf = sys.modules.get("tensorflow")
    return tf is not None and bool(tf.config.list_logical_devices("GPU"))


def on_cpu() -> AbstractContextManager[Any]:
    """A scope in which TensorFlow places new work on the CPU."""
    import tensorflow as tf

    return tf.device("/CPU:0")
