"""Qt-free units of work: progress, cooperative cancel, and a typed error at the end.

A task is a plain function ``task(ctx: JobContext, **kwargs) -> result`` living in an engine
module. The GUI names it by its dotted path (``"engine.tasks:load_model"``) so that gui/ never
imports TensorFlow, not even indirectly: the module is imported on the engine thread.
Results are plain data (numpy arrays, frozen dataclasses).
"""

from __future__ import annotations

import importlib
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.errors import Cancelled, GlassboxError, OutOfMemoryError

ProgressCallback = Callable[[float, str], None]


class CancelToken:
    """Set from any thread, polled by the job between batches."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def __call__(self) -> bool:
        """Lets a token be passed where an explainer expects ``cancel: Callable[[], bool]``."""
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("Cancelled.")


@dataclass(frozen=True)
class JobError:
    """What the GUI shows when a job fails: a kind, a one-line message, and details for bugs."""

    kind: str
    message: str
    details: str = ""


class JobContext:
    """Handed to every task: the engine's workspace, progress reporting and the cancel token."""

    def __init__(
        self,
        workspace: Any,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        self.workspace = workspace
        self.cancel = cancel or CancelToken()
        self._progress = progress
        self._last_fraction = 0.0

    def progress(self, fraction: float, message: str = "") -> None:
        """Report progress; fractions are clamped to [0, 1] and never go backwards."""
        fraction = min(1.0, max(self._last_fraction, float(fraction)))
        self._last_fraction = fraction
        if self._progress is not None:
            self._progress(fraction, message)

    def cancelled(self) -> bool:
        return self.cancel.cancelled

    def check(self) -> None:
        """Raise `Cancelled` if the job was cancelled; call it between batches."""
        self.cancel.raise_if_cancelled()


@dataclass
class Job:
    """A request for work: which task, its keyword arguments, and the view it belongs to.

    `key` names the requesting view: a newer job with the same key replaces an older one.
    """

    task: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    key: str = ""
    id: int = 0
    token: CancelToken = field(default_factory=CancelToken)
    submitted: float = field(default_factory=time.perf_counter)


def resolve_task(task: str) -> Callable[..., Any]:
    """Import ``"package.module:function"`` and return the function."""
    module_name, _, attr = task.partition(":")
    if not attr:
        raise ValueError(f"task must look like 'module:function', got {task!r}")
    return getattr(importlib.import_module(module_name), attr)


def _is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, (MemoryError, OutOfMemoryError)):
        return True
    return type(exc).__name__ == "ResourceExhaustedError"


def describe_error(exc: BaseException) -> JobError:
    """Turn any exception into something a user can read; bugs keep their traceback."""
    if isinstance(exc, GlassboxError):
        return JobError(exc.kind, str(exc) or exc.kind)
    if _is_out_of_memory(exc):
        return JobError("out_of_memory", f"Out of memory: {_first_line(exc)}")
    details = "".join(traceback.format_exception(exc))
    return JobError("internal", f"{type(exc).__name__}: {_first_line(exc)}", details)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def run_job(job: Job, workspace: Any, progress: ProgressCallback | None = None) -> Any:
    """Run a job synchronously on the calling thread (the engine thread, a test or the CLI).

    Raises whatever the task raises; callers turn it into a `JobError` with `describe_error`.
    A task that runs out of memory while a GPU is in use runs once more, on the CPU.
    """
    job.token.raise_if_cancelled()
    task = resolve_task(job.task)
    try:
        result = task(JobContext(workspace, progress, job.token), **job.kwargs)
    except Exception as exc:  # noqa: BLE001 - only running out of GPU memory is handled here
        # engine.runtime imports TensorFlow, so it is named, not imported (the GUI imports this module)
        if not (_is_out_of_memory(exc) and resolve_task("engine.runtime:gpu_in_use")()):
            raise
        if progress is not None:
            progress(0.0, "Out of GPU memory: running on the CPU")
        with resolve_task("engine.runtime:on_cpu")():  # the CPU has more memory; the same request, anew
            result = task(JobContext(workspace, progress, job.token), **job.kwargs)
    job.token.raise_if_cancelled()
    return result
