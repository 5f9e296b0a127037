"""Engine-style tasks with their registered Requests, and model descriptions for GUI tests.

Each task is registered in engine.tasks like a real one (a frozen Request dataclass), so these
run exactly like engine tasks but need neither TensorFlow work nor a model file. `EVENTS`
records what the tasks did, from the engine thread, so tests can tell a cancelled job from one
that never started.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.description import LayerInfo, ModelDescription, TensorSpec, WeightInfo
from engine.errors import ModelLoadError, NumericalError, UnsafeModelError
from engine.jobs import JobContext
from engine.tasks import Priority, task

T = "tests.gui.tasks_for_tests:"

EVENTS: list[tuple[str, str]] = []  # (tag, what happened), appended on the engine thread
_lock = threading.Lock()


def _record(tag: str, what: str) -> None:
    with _lock:
        EVENTS.append((tag, what))


def events(tag: str) -> list[str]:
    with _lock:
        return [what for t, what in EVENTS if t == tag]


def echo_task(ctx: JobContext, value: Any, tag: str = "echo") -> Any:
    _record(tag, "ran")
    return value


def thread_name_task(ctx: JobContext) -> str:
    return threading.current_thread().name


def steps_task(ctx: JobContext, n: int = 5, tag: str = "steps") -> int:
    """Reports progress n times, then returns n."""
    for i in range(n):
        ctx.check()
        ctx.progress((i + 1) / n, f"step {i + 1} of {n}")
    _record(tag, "done")
    return n


def wait_task(ctx: JobContext, tag: str, seconds: float = 30.0, result: Any = "finished") -> Any:
    """Runs until cancelled (checking every 10 ms) or until `seconds` have passed."""
    _record(tag, "started")
    ctx.progress(0.3, f"{tag}: 30%")
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            ctx.check()
            time.sleep(0.01)
    except BaseException:
        _record(tag, "cancelled")
        raise
    _record(tag, "finished")
    return result


def chunks_task(ctx: JobContext, tag: str, n: int = 4, seconds: float = 0.4) -> int:
    """A background job of n chunks of `seconds` each, giving way only between chunks."""
    for i in range(n):
        ctx.check()
        time.sleep(seconds)
        _record(tag, f"chunk {i}")
    return n


def shape_error_task(ctx: JobContext) -> Any:
    """A bug-style failure: numpy refuses mismatched shapes."""
    return np.ones((2, 3)) @ np.ones((4, 5))


def memory_error_task(ctx: JobContext) -> Any:
    raise MemoryError("Unable to allocate 74.5 GiB for an array with shape (100000, 100000)")


def nan_task(ctx: JobContext) -> float:
    """Produces a NaN and reports it the way engine code must: a NumericalError naming it."""
    with np.errstate(invalid="ignore"):
        value = np.log(np.array([-1.0]))
    if not np.isfinite(value).all():
        raise NumericalError("The attribution map contains NaN: check the model's output layer.")
    return float(value[0])


# ----- model descriptions ----------------------------------------------------------------------
def _dense(path: str, units: int, fan_in: int, inbound: str, activation: str = "relu") -> LayerInfo:
    name = path.rsplit("/", 1)[-1]
    params = fan_in * units + units
    return LayerInfo(
        path=path,
        name=name,
        class_name="Dense",
        output_shape=(None, units),
        params=params,
        trainable_params=params,
        trainable=True,
        dtype="float32",
        activation=activation,
        config={"name": name, "units": units, "activation": activation, "use_bias": True,
                "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}}},
        inbound=(inbound,),
        weights=(WeightInfo(f"{name}/kernel", (fan_in, units), "float32"),
                 WeightInfo(f"{name}/bias", (units,), "float32")),
    )


def make_description(path: str = "/tmp/tiny.keras", sha256: str = "ab" * 32) -> ModelDescription:
    """A small model with a nested sub-model ("encoder") and a frozen BatchNormalization."""
    inp = LayerInfo("input", "input", "InputLayer", (None, 8), 0, 0, True, "float32", None,
                    {"name": "input", "batch_shape": [None, 8]})
    enc_children = (
        LayerInfo("encoder/enc_in", "enc_in", "InputLayer", (None, 8), 0, 0, True, "float32", None,
                  {"name": "enc_in"}),
        _dense("encoder/enc_dense", 16, 8, "encoder/enc_in"),
        LayerInfo("encoder/enc_bn", "enc_bn", "BatchNormalization", (None, 16), 64, 0, False,
                  "float32", None, {"name": "enc_bn", "momentum": 0.99, "epsilon": 0.001},
                  ("encoder/enc_dense",),
                  tuple(WeightInfo(f"enc_bn/{w}", (16,), "float32", False)
                        for w in ("gamma", "beta", "moving_mean", "moving_variance"))),
    )
    encoder = LayerInfo("encoder", "encoder", "Functional", (None, 16), 208, 144, True, "float32",
                        None, {"name": "encoder", "layers": ["enc_in", "enc_dense", "enc_bn"]},
                        ("input",), (), enc_children)
    head = _dense("probabilities", 3, 16, "encoder", "softmax")
    layers = (inp, encoder, head)
    return ModelDescription(
        path=path, format="keras", sha256=sha256, name="tiny_classifier",
        inputs=(TensorSpec("input", (None, 8), "float32"),),
        outputs=(TensorSpec("probabilities", (None, 3), "float32"),),
        total_params=259, trainable_params=195, non_trainable_params=64,
        n_layers=6, layers=layers, output_activation="softmax",
    )


def fake_open_model_task(ctx: JobContext, path: str, trust: bool | str = False) -> ModelDescription:
    """Stands in for engine.models:open_model_task: "unsafe" in the name needs trust (of the
    content's SHA-256, like the real task), bad bytes fail."""
    name = Path(path).name
    data = Path(path).read_bytes() if Path(path).is_file() else b""
    sha = hashlib.sha256(data).hexdigest()
    if "unsafe" in name and trust != sha:
        raise UnsafeModelError(f"{name}: the model contains a Lambda layer (arbitrary code); content SHA-256 {sha}.")
    if not data.startswith(b"PK"):
        raise ModelLoadError(f"{name}: not a Keras model file (no zip archive inside).")
    description = make_description(path=str(Path(path).resolve()), sha256=f"{len(data):064x}")
    ctx.workspace.description = description
    return description


# ----- the Requests of the tasks above ----------------------------------------------------------
@task(T + "echo_task", "builtins:object", Priority.INTERACTIVE)
@dataclass(frozen=True)
class Echo:
    value: Any
    tag: str = "echo"


@task(T + "thread_name_task", "builtins:str")
@dataclass(frozen=True)
class ThreadName:
    pass


@task(T + "steps_task", "builtins:int")
@dataclass(frozen=True)
class Steps:
    n: int = 5
    tag: str = "steps"


@task(T + "wait_task", "builtins:object")
@dataclass(frozen=True)
class Wait:
    tag: str
    seconds: float = 30.0
    result: Any = "finished"


@task(T + "wait_task", "builtins:object", Priority.BACKGROUND, "background wait")
@dataclass(frozen=True)
class BackgroundWait:
    tag: str
    seconds: float = 30.0
    result: Any = "finished"


@task(T + "chunks_task", "builtins:int", Priority.BACKGROUND, "background chunks")
@dataclass(frozen=True)
class BackgroundChunks:
    tag: str
    n: int = 4
    seconds: float = 0.4


@task(T + "shape_error_task", "builtins:object")
@dataclass(frozen=True)
class ShapeError:
    pass


@task(T + "memory_error_task", "builtins:object")
@dataclass(frozen=True)
class OutOfMemory:
    pass


@task(T + "nan_task", "builtins:float")
@dataclass(frozen=True)
class Nan:
    pass


@task(T + "no_such_task", "builtins:object")
@dataclass(frozen=True)
class Missing:
    pass


def call_task(ctx: JobContext, function: str, kwargs: dict[str, Any]) -> Any:
    """Tests only: run any ``module:function(ctx, **kwargs)`` on the engine thread (set-up steps)."""
    from engine.tasks.registry import resolve

    return resolve(function)(ctx, **kwargs)


@task(T + "call_task", "builtins:object")
@dataclass(frozen=True)
class Call:
    function: str
    kwargs: dict[str, Any]


def submit_call(engine: Any, function: str, key: str = "test", **kwargs: Any) -> Any:
    """engine.submit of a `Call`; callbacks (on_result, ...) pass through."""
    callbacks = {k: kwargs.pop(k) for k in ("on_result", "on_error", "on_progress") if k in kwargs}
    return engine.submit(Call(function, kwargs), key=key, **callbacks)


def tampered_cache_task(ctx: JobContext, folder: str) -> bool:
    """Save a verified cache entry, change its bytes as an attacker would, read it back."""
    from engine import cache

    disk = cache.DiskCache(folder, max_bytes=1 << 20, title="test map")
    key = cache.key_of("tampered")
    disk.save(key, {"maps": np.ones(4, np.float32)})
    with np.load(disk.path(key), allow_pickle=False) as data:
        content = {name: data[name] for name in data.files}
    content["maps"] = np.full(4, 7.0, np.float32)
    with open(disk.path(key), "wb") as handle:
        np.savez(handle, **content)
    return disk.load(key) is None


@task(T + "tampered_cache_task", "builtins:bool")
@dataclass(frozen=True)
class TamperedCache:
    folder: str
