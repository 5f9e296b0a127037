"""Qt-free units of work: progress, cooperative cancel, and a typed error at the end.

A task is a plain function ``task(ctx: JobContext, **fields) -> Result`` living in an engine
module, registered with its frozen Request dataclass in `engine.tasks`. The GUI submits a
Request; the engine thread imports the function by its dotted path, so gui/ never imports
TensorFlow, not even indirectly. Results are plain data (numpy arrays, frozen dataclasses).
"""

from __future__ import annotations

import importlib
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.errors import Cancelled, GlassboxError, is_out_of_memory
from engine.tasks.registry import Priority, run_request, spec_of

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
        give_way: Callable[[], None] | None = None,
        partial: Callable[[Any], None] | None = None,
    ) -> None:
        self.workspace = workspace
        self._partial = partial
        self.cancel = cancel or CancelToken()
        self._progress = progress
        self._give_way = give_way
        self._last_fraction = 0.0

    def progress(self, fraction: float, message: str = "") -> None:
        """Report progress; fractions are clamped to [0, 1] and never go backwards."""
        fraction = min(1.0, max(self._last_fraction, float(fraction)))
        self._last_fraction = fraction
        if self._progress is not None:
            self._progress(fraction, message)

    def cancelled(self) -> bool:
        return self.cancel.cancelled

    def partial(self, value: Any) -> None:
        """Hand the view an intermediate result (a t-SNE map forming); plain data, copied."""
        if self._partial is not None and not self.cancel.cancelled:
            self._partial(value)

    def check(self) -> None:
        """Raise `Cancelled` if the job was cancelled; call it between batches.

        It is also where a background job gives way: the engine thread may run queued
        interactive jobs here (on the same thread, so Keras stays single-threaded) before the
        background job's next chunk.
        """
        self.cancel.raise_if_cancelled()
        if self._give_way is not None:
            self._give_way()
            self.cancel.raise_if_cancelled()


@dataclass
class Job:
    """A submitted Request, the job key of the view slot it belongs to, and its cancel token.

    A newer job with the same `key` replaces an older one (see `engine.tasks.job_key`).
    """

    request: Any
    key: str = ""
    id: int = 0
    token: CancelToken = field(default_factory=CancelToken)

    @property
    def priority(self) -> Priority:
        return spec_of(self.request).priority




def describe_error(exc: BaseException) -> JobError:
    """Turn any exception into something a user can read; bugs keep their traceback."""
    if isinstance(exc, GlassboxError):
        return JobError(exc.kind, str(exc) or exc.kind)
    if is_out_of_memory(exc):
        return JobError("out_of_memory", f"Out of memory: {_first_line(exc)}")
    details = "".join(traceback.format_exception(exc))
    return JobError("internal", f"{type(exc).__name__}: {_first_line(exc)}", details)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def run_job(
    job: Job,
    workspace: Any,
    progress: ProgressCallback | None = None,
    give_way: Callable[[], None] | None = None,
    partial: Callable[[Any], None] | None = None,
) -> Any:
    """Run a job synchronously on the calling thread (the engine thread, a test or the CLI).

    Raises whatever the task raises; callers turn it into a `JobError` with `describe_error`.
    A task that runs out of memory while a GPU is in use runs once more, on the CPU.
    """
    job.token.raise_if_cancelled()
    ctx = JobContext(workspace, progress, job.token, give_way, partial)
    try:
        result = run_request(ctx, job.request)
    except Exception as exc:  # noqa: BLE001 - only running out of GPU memory is handled here
        # engine.runtime imports TensorFlow, so it is imported here, not at the top (the GUI imports this module)
        runtime = importlib.import_module("engine.runtime")
        if not (is_out_of_memory(exc) and runtime.gpu_in_use()):
            raise
        if progress is not None:
            progress(0.0, "Out of GPU memory: running on the CPU")
        with runtime.on_cpu():  # the CPU has more memory; the same request, anew
            result = run_request(ctx, job.request)
    job.token.raise_if_cancelled()
    return result
