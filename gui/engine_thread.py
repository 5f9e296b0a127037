"""The one QThread that runs all TensorFlow work, one job at a time.

The GUI calls `submit(key, task, **kwargs)` with plain data; progress, results and errors come back
as signals on the GUI thread. A newer job with the same key replaces a queued one and cancels a
running one, whose result is then dropped. The first thing the thread does is load TensorFlow, so
the window is on screen before that 3 s import has finished.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from engine.jobs import Job, JobError, describe_error, resolve_task, run_job
from engine.workspace import Workspace

ResultCallback = Callable[[Any], None]
ErrorCallback = Callable[[JobError], None]
ProgressCallback = Callable[[float, str], None]


@dataclass
class _Callbacks:
    key: str
    on_result: ResultCallback | None
    on_error: ErrorCallback | None
    on_progress: ProgressCallback | None


class EngineThread(QThread):
    """Runs engine jobs off the GUI thread; see the module docstring."""

    ready = Signal(dict)  # library versions, once TensorFlow is loaded
    started_job = Signal(str, int)  # key, job id
    progressed = Signal(str, int, float, str)  # key, job id, fraction, message
    finished_job = Signal(str, int, object)  # key, job id, result
    failed = Signal(str, int, object)  # key, job id, JobError
    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.workspace = Workspace()
        self.versions: dict[str, str] = {}
        self._lock = threading.Condition()
        self._queue: deque[Job] = deque()
        self._running: Job | None = None
        self._stopping = False
        self._next_id = 1
        self._callbacks: dict[int, _Callbacks] = {}
        self.finished_job.connect(self._deliver_result)
        self.failed.connect(self._deliver_error)
        self.progressed.connect(self._deliver_progress)

    # ----- GUI thread API -------------------------------------------------------------
    def submit(
        self,
        key: str,
        task: str,
        *,
        on_result: ResultCallback | None = None,
        on_error: ErrorCallback | None = None,
        on_progress: ProgressCallback | None = None,
        **kwargs: Any,
    ) -> int:
        """Queue `task` for view `key`, replacing that view's queued or running job."""
        with self._lock:
            job = Job(task=task, kwargs=kwargs, key=key, id=self._next_id)
            self._next_id += 1
            self._drop_key_locked(key)
            # Older jobs of this view deliver nothing, not even a result already on its way.
            self._callbacks = {i: c for i, c in self._callbacks.items() if c.key != key}
            self._callbacks[job.id] = _Callbacks(key, on_result, on_error, on_progress)
            self._queue.append(job)
            self._lock.notify_all()
        return job.id

    def cancel(self, key: str) -> None:
        """Cancel whatever view `key` has queued or running; its callbacks get a cancelled error."""
        with self._lock:
            dropped = self._drop_key_locked(key)
        for job in dropped:
            self.failed.emit(job.key, job.id, JobError("cancelled", "Cancelled."))

    def is_busy(self, key: str | None = None) -> bool:
        with self._lock:
            jobs = list(self._queue) + ([self._running] if self._running else [])
            return any(key is None or job.key == key for job in jobs)

    def shutdown(self) -> None:
        """Cancel everything and wait for the thread to end (called when the window closes).

        The wait has no time limit on purpose: a QThread destroyed while running aborts the
        process, and the longest uninterruptible step (importing TensorFlow) takes seconds.
        Jobs check their cancel token between batches, so a running job stops soon.
        """
        with self._lock:
            self._stopping = True
            for job in self._queue:
                job.token.cancel()
            self._queue.clear()
            if self._running is not None:
                self._running.token.cancel()
            self._lock.notify_all()
        if self.isRunning():
            self.wait()

    def _drop_key_locked(self, key: str) -> list[Job]:
        """Unqueue view `key`'s waiting job and cancel its running one; return both."""
        dropped = [job for job in self._queue if job.key == key]
        for job in dropped:
            self._queue.remove(job)
        if self._running is not None and self._running.key == key and not self._running.token.cancelled:
            self._running.token.cancel()
            dropped.append(self._running)
        return dropped

    # ----- engine thread ----------------------------------------------------------------
    def run(self) -> None:  # noqa: D401 - QThread entry point
        try:
            self.versions = resolve_task("engine.runtime:start_runtime")()
            self.ready.emit(dict(self.versions))
        except Exception as exc:  # noqa: BLE001 - shown to the user, the thread keeps serving
            self.failed.emit("engine", 0, describe_error(exc))
        while True:
            with self._lock:
                while not self._queue and not self._stopping:
                    self._lock.wait()
                if self._stopping:
                    return
                job = self._queue.popleft()
                self._running = job
            self.busy_changed.emit(True)
            self.started_job.emit(job.key, job.id)
            self._execute(job)
            with self._lock:
                self._running = None
                idle = not self._queue
            if idle:
                self.busy_changed.emit(False)

    def _execute(self, job: Job) -> None:
        def progress(fraction: float, message: str) -> None:
            if not job.token.cancelled:
                self.progressed.emit(job.key, job.id, fraction, message)

        try:
            result = run_job(job, self.workspace, progress)
        except BaseException as exc:  # noqa: BLE001 - every failure becomes a JobError
            self.failed.emit(job.key, job.id, describe_error(exc))
        else:
            self.finished_job.emit(job.key, job.id, result)

    # ----- back on the GUI thread -------------------------------------------------------
    @Slot(str, int, object)
    def _deliver_result(self, key: str, job_id: int, result: Any) -> None:
        callbacks = self._callbacks.pop(job_id, None)
        if callbacks is not None and callbacks.on_result is not None:
            callbacks.on_result(result)

    @Slot(str, int, object)
    def _deliver_error(self, key: str, job_id: int, error: JobError) -> None:
        callbacks = self._callbacks.pop(job_id, None)
        if callbacks is not None and callbacks.on_error is not None:
            callbacks.on_error(error)

    @Slot(str, int, float, str)
    def _deliver_progress(self, key: str, job_id: int, fraction: float, message: str) -> None:
        callbacks = self._callbacks.get(job_id)
        if callbacks is not None and callbacks.on_progress is not None:
            callbacks.on_progress(fraction, message)
