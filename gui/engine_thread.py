"""The one QThread that runs all TensorFlow work, one job at a time, most urgent first.

The GUI calls `submit(request, key=...)` with a frozen Request from `engine.tasks`; progress,
results and errors come back as signals on the GUI thread. A newer job with the same key
replaces a queued one and cancels a running one, whose result is then dropped. Views do not call
this directly: they use `gui.jobs.ViewJobs`, which adds the progress bar, cancel, the error
policy and stale-result dropping.

Scheduling: the queue is ordered by the request's priority (interactive, normal, background),
first come first served within one priority. While a background job runs, every `ctx.check()`
between its chunks runs the interactive jobs that are waiting, on this same thread, before the
background job goes on: clicking a case while a whole dataset is being predicted shows it
after one chunk, not after the whole pass. The first thing the thread does is load TensorFlow,
so the window is on screen before that 3 s import has finished.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from engine.jobs import Job, JobError, describe_error, run_job
from engine.tasks import Priority, spec_of
from engine.tasks.registry import start_runtime
from engine.workspace import Workspace

FOLLOW_UP_S = 0.25  # how long a background job waits for the GUI's next interactive request

ResultCallback = Callable[[Any], None]
ErrorCallback = Callable[[JobError], None]
ProgressCallback = Callable[[float, str], None]


@dataclass
class _Callbacks:
    key: str
    on_result: ResultCallback | None
    on_error: ErrorCallback | None
    on_progress: ProgressCallback | None
    on_partial: ResultCallback | None = None


class EngineThread(QThread):
    """Runs engine jobs off the GUI thread; see the module docstring."""

    ready = Signal(dict)  # library versions, once TensorFlow is loaded
    started_job = Signal(str, int)  # key, job id
    progressed = Signal(str, int, float, str)  # key, job id, fraction, message
    finished_job = Signal(str, int, object)  # key, job id, result
    failed = Signal(str, int, object)  # key, job id, JobError
    partial = Signal(str, int, object)  # key, job id, an intermediate result
    busy_changed = Signal(bool)
    reported = Signal(str)  # something the user should know that is not an error (cache repairs)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.workspace = Workspace()
        self.versions: dict[str, str] = {}
        self._lock = threading.Condition()
        self._queue: list[Job] = []
        self._running: list[Job] = []  # the outer job, and an interactive one run while it gives way
        self._stopping = False
        self._next_id = 1
        self._callbacks: dict[int, _Callbacks] = {}
        self.finished_job.connect(self._deliver_result)
        self.failed.connect(self._deliver_error)
        self.progressed.connect(self._deliver_progress)
        self.partial.connect(self._deliver_partial)

    # ----- GUI thread API -------------------------------------------------------------
    def submit(
        self,
        request: Any,
        *,
        key: str,
        on_result: ResultCallback | None = None,
        on_error: ErrorCallback | None = None,
        on_progress: ProgressCallback | None = None,
        on_partial: ResultCallback | None = None,
    ) -> int:
        """Queue `request` under `key`, replacing that key's queued or running job."""
        spec_of(request)  # a TypeError here, in the caller, for anything not registered
        with self._lock:
            job = Job(request=request, key=key, id=self._next_id)
            self._next_id += 1
            self._drop_key_locked(key)
            # Older jobs of this key deliver nothing, not even a result already on its way.
            self._callbacks = {i: c for i, c in self._callbacks.items() if c.key != key}
            self._callbacks[job.id] = _Callbacks(key, on_result, on_error, on_progress, on_partial)
            self._queue.append(job)
            self._lock.notify_all()
        return job.id

    def cancel(self, key: str) -> None:
        """Cancel whatever `key` has queued or running; its callbacks get a cancelled error."""
        with self._lock:
            dropped = self._drop_key_locked(key)
        for job in dropped:
            self.failed.emit(job.key, job.id, JobError("cancelled", "Cancelled."))

    def is_busy(self, key: str | None = None) -> bool:
        with self._lock:
            return any(key is None or job.key == key for job in [*self._queue, *self._running])

    def shutdown(self) -> None:
        """Cancel everything and wait for the thread to end (called when the window closes).

        The wait has no time limit on purpose: a QThread destroyed while running aborts the
        process, and the longest uninterruptible step (importing TensorFlow) takes seconds.
        Jobs check their cancel token between batches, so a running job stops soon.
        """
        with self._lock:
            self._stopping = True
            for job in [*self._queue, *self._running]:
                job.token.cancel()
            self._queue.clear()
            self._lock.notify_all()
        if self.isRunning():
            self.wait()

    def _drop_key_locked(self, key: str) -> list[Job]:
        """Unqueue `key`'s waiting job and cancel its running one; return both."""
        dropped = [job for job in self._queue if job.key == key]
        for job in dropped:
            self._queue.remove(job)
        for job in self._running:
            if job.key == key and not job.token.cancelled:
                job.token.cancel()
                dropped.append(job)
        return dropped

    def _pop_locked(self, most: Priority) -> Job | None:
        """The first queued job of the most urgent priority, if it is at most `most`."""
        candidates = [job for job in self._queue if job.priority <= most]
        if not candidates:
            return None
        job = min(candidates, key=lambda j: j.priority)  # min keeps queue order among equals
        self._queue.remove(job)
        self._running.append(job)
        return job

    # ----- engine thread ----------------------------------------------------------------
    def run(self) -> None:  # noqa: D401 - QThread entry point
        try:
            self.versions = start_runtime()
            self.ready.emit(dict(self.versions))
        except Exception as exc:  # noqa: BLE001 - shown to the user, the thread keeps serving
            self.failed.emit("engine", 0, describe_error(exc))
        while True:
            with self._lock:
                while not self._queue and not self._stopping:
                    self._lock.wait()
                if self._stopping:
                    return
                job = self._pop_locked(Priority.BACKGROUND)
            self.busy_changed.emit(True)
            self._execute(job)
            with self._lock:
                idle = not self._queue
            if idle:
                self.busy_changed.emit(False)

    def _give_way(self) -> None:
        """Called from a background job's `ctx.check()`: run the interactive jobs waiting now.

        After running one, wait up to FOLLOW_UP_S for the next: selecting a case asks for the
        case view first and its explanation only once that answer reaches the GUI, so without
        the wait the explanation would queue behind another background chunk."""
        ran = False
        while True:
            with self._lock:
                if self._stopping or len(self._running) != 1 or self._running[0].priority < Priority.BACKGROUND:
                    return
                job = self._pop_locked(Priority.INTERACTIVE)
                if job is None and ran:
                    self._lock.wait(FOLLOW_UP_S)  # submit() notifies
                    job = self._pop_locked(Priority.INTERACTIVE)
            if job is None:
                return
            self._execute(job)
            ran = True

    def _execute(self, job: Job) -> None:
        self.started_job.emit(job.key, job.id)

        def progress(fraction: float, message: str) -> None:
            if not job.token.cancelled:
                self.progressed.emit(job.key, job.id, fraction, message)

        def partial(value: Any) -> None:
            self.partial.emit(job.key, job.id, value)

        give_way = self._give_way if job.priority == Priority.BACKGROUND else None
        try:
            result = run_job(job, self.workspace, progress, give_way, partial)
        except BaseException as exc:  # noqa: BLE001 - every failure becomes a JobError
            self.failed.emit(job.key, job.id, describe_error(exc))
        else:
            self.finished_job.emit(job.key, job.id, result)
        finally:
            with self._lock:
                self._running.remove(job)
            self._report_cache_problems()

    def _report_cache_problems(self) -> None:
        from engine import cache

        for message in cache.take_reports():
            self.reported.emit(message)

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

    @Slot(str, int, object)
    def _deliver_partial(self, key: str, job_id: int, value: Any) -> None:
        callbacks = self._callbacks.get(job_id)
        if callbacks is not None and callbacks.on_partial is not None:
            callbacks.on_partial(value)
