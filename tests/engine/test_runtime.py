"""Runtime start-up names the engine's device; a job out of GPU memory runs again on the CPU."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import tensorflow as tf

from engine import runtime
from engine.jobs import Job, run_job
from engine.tasks import Priority, task

ATTEMPTS: list[str] = []


@task(f"{__name__}:device_hungry_task", "builtins:str", Priority.NORMAL)
@dataclass(frozen=True)
class DeviceHungry:
    size: int


def device_hungry_task(ctx, size: int) -> str:
    """Fails like a GPU out of memory on its first run; reports where its tensor lives."""
    placed = tf.zeros((size,)) + 1.0
    ATTEMPTS.append(placed.device)
    if len(ATTEMPTS) == 1:
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")
    return placed.device


def test_start_runtime_names_the_device() -> None:
    info = runtime.start_runtime()
    gpus = tf.config.list_physical_devices("GPU")
    assert info["device"] == ("CPU" if not gpus else runtime.engine_device())
    assert info["tensorflow"] == tf.__version__


def test_out_of_gpu_memory_reruns_the_job_on_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    ATTEMPTS.clear()
    monkeypatch.setattr(runtime, "gpu_in_use", lambda: True)
    messages: list[str] = []
    job = Job(DeviceHungry(size=4))
    device = run_job(job, workspace=None, progress=lambda _f, message: messages.append(message))
    assert len(ATTEMPTS) == 2 and device.endswith("CPU:0")
    assert "Out of GPU memory: running on the CPU" in messages


def test_out_of_memory_without_a_gpu_is_reported_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    ATTEMPTS.clear()
    monkeypatch.setattr(runtime, "gpu_in_use", lambda: False)
    with pytest.raises(tf.errors.ResourceExhaustedError):
        run_job(Job(DeviceHungry(size=4)), workspace=None)
    assert len(ATTEMPTS) == 1


@pytest.mark.skipif(not tf.config.list_physical_devices("GPU"), reason="needs a GPU (pip install -e '.[gpu]')")
def test_gpu_runs_the_engine_with_memory_growth() -> None:
    info = runtime.start_runtime()
    gpu = tf.config.list_physical_devices("GPU")[0]
    assert info["device"].startswith("GPU: ")
    assert tf.config.experimental.get_memory_growth(gpu)
    assert runtime.gpu_in_use()
    assert (tf.zeros((2, 2)) @ tf.ones((2, 2))).device.endswith("GPU:0")
    with runtime.on_cpu():
        assert tf.zeros((2,)).device.endswith("CPU:0")
