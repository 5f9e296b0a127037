"""The engine thread: results, progress and errors arrive on the GUI thread; newer jobs replace
older ones for the same view; cancel and shutdown stop a running job cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QThread, QTimer
from PySide6.QtWidgets import QApplication

from engine.jobs import JobError
from gui.engine_thread import EngineThread
from tests.gui import tasks_for_tests as tasks

ROOT = Path(__file__).resolve().parents[2]


class Recorder:
    """Collects callbacks and the thread each one ran on."""

    def __init__(self) -> None:
        self.results: list = []
        self.errors: list[JobError] = []
        self.progress: list[tuple[float, str]] = []
        self.threads: set = set()

    def _here(self) -> None:
        self.threads.add(QThread.currentThread())

    def on_result(self, value) -> None:
        self._here()
        self.results.append(value)

    def on_error(self, error: JobError) -> None:
        self._here()
        self.errors.append(error)

    def on_progress(self, fraction: float, message: str) -> None:
        self._here()
        self.progress.append((fraction, message))

    def callbacks(self) -> dict:
        return {"on_result": self.on_result, "on_error": self.on_error, "on_progress": self.on_progress}

    def done(self) -> bool:
        return bool(self.results or self.errors)


def _wait_started(qtbot, tag: str) -> None:
    qtbot.waitUntil(lambda: "started" in tasks.events(tag), timeout=10000)


def test_result_and_progress_arrive_on_gui_thread(qtbot, engine: EngineThread) -> None:
    rec = Recorder()
    engine.submit(tasks.Steps(n=4), key="a", **rec.callbacks())
    qtbot.waitUntil(rec.done, timeout=10000)
    assert rec.results == [4]
    assert [f for f, _ in rec.progress] == [0.25, 0.5, 0.75, 1.0]
    assert rec.progress[-1][1] == "step 4 of 4"
    assert rec.threads == {QApplication.instance().thread()}

    # ...while the task itself ran on the engine thread, not the GUI thread
    rec2 = Recorder()
    engine.submit(tasks.ThreadName(), key="a", **rec2.callbacks())
    qtbot.waitUntil(rec2.done, timeout=10000)
    assert rec2.results[0] != threading.current_thread().name


def test_newer_job_with_same_key_replaces_running_one(qtbot, engine: EngineThread) -> None:
    old, new = Recorder(), Recorder()
    engine.submit(tasks.Wait(tag="replace-old", result="old"), key="view", **old.callbacks())
    _wait_started(qtbot, "replace-old")
    engine.submit(tasks.Echo(value="new"), key="view", **new.callbacks())
    qtbot.waitUntil(new.done, timeout=10000)
    qtbot.waitUntil(lambda: not engine.is_busy(), timeout=10000)
    qtbot.wait(50)  # let any stray queued delivery of the old job arrive
    assert new.results == ["new"]
    assert old.results == [] and old.errors == [], "the replaced job must deliver nothing"
    assert tasks.events("replace-old") == ["started", "cancelled"]


def test_newer_job_replaces_queued_one_which_never_runs(qtbot, engine: EngineThread) -> None:
    blocker, queued, newest = Recorder(), Recorder(), Recorder()
    engine.submit(tasks.Wait(tag="blocker", seconds=0.3), key="other", **blocker.callbacks())
    _wait_started(qtbot, "blocker")
    engine.submit(tasks.Echo(value=1, tag="queued-old"), key="view", **queued.callbacks())
    engine.submit(tasks.Echo(value=2, tag="queued-new"), key="view", **newest.callbacks())
    qtbot.waitUntil(lambda: newest.done() and blocker.done(), timeout=10000)
    assert blocker.results == ["finished"], "a job for another key is not touched"
    assert newest.results == [2]
    assert queued.results == [] and tasks.events("queued-old") == []


def test_finished_but_undelivered_result_is_dropped_by_a_newer_job(qtbot, engine: EngineThread) -> None:
    """The old job ended on the engine thread, its result is queued for the GUI thread, and
    only then does the view ask again: the old result must not arrive after the new request."""
    old, new = Recorder(), Recorder()
    engine.submit(tasks.Echo(value="old", tag="undelivered"), key="view", **old.callbacks())
    deadline = time.monotonic() + 10
    while not tasks.events("undelivered") and time.monotonic() < deadline:
        time.sleep(0.005)  # no Qt event processing: the result stays queued
    time.sleep(0.05)
    engine.submit(tasks.Echo(value="new"), key="view", **new.callbacks())
    qtbot.waitUntil(new.done, timeout=10000)
    assert new.results == ["new"]
    assert old.results == [] and old.errors == []


def test_cancel_running_job_reports_cancelled_once(qtbot, engine: EngineThread) -> None:
    rec = Recorder()
    engine.submit(tasks.Wait(tag="cancel-me"), key="c", **rec.callbacks())
    _wait_started(qtbot, "cancel-me")
    engine.cancel("c")
    qtbot.waitUntil(lambda: tasks.events("cancel-me") == ["started", "cancelled"], timeout=10000)
    qtbot.waitUntil(lambda: not engine.is_busy(), timeout=10000)
    qtbot.wait(50)
    assert [e.kind for e in rec.errors] == ["cancelled"]
    assert rec.results == []


@pytest.mark.parametrize(
    ("task", "kind", "words"),
    [
        ("ShapeError", "internal", "ValueError"),
        ("OutOfMemory", "out_of_memory", "Out of memory"),
        ("Nan", "numerical", "NaN"),
    ],
)
def test_failing_job_gives_readable_error_and_engine_keeps_working(
    qtbot, engine: EngineThread, task: str, kind: str, words: str
) -> None:
    rec = Recorder()
    engine.submit(getattr(tasks, task)(), key="e", **rec.callbacks())
    qtbot.waitUntil(rec.done, timeout=10000)
    (error,) = rec.errors
    assert error.kind == kind
    assert words in error.message and "\n" not in error.message
    assert bool(error.details) == (kind == "internal"), "only bugs carry a traceback"
    after = Recorder()
    engine.submit(tasks.Echo(value=42), key="e", **after.callbacks())
    qtbot.waitUntil(after.done, timeout=10000)
    assert after.results == [42]


def test_a_task_string_is_refused_at_submit(engine: EngineThread) -> None:
    with pytest.raises(TypeError, match="not a registered Request"):
        engine.submit("tests.gui.tasks_for_tests:echo_task", key="x")  # the old way


def test_interactive_job_runs_while_a_background_job_gives_way(qtbot, engine: EngineThread) -> None:
    """An interactive request queued behind a long background job runs at the background job's
    next ctx.check(), on the engine thread, and the background job then carries on."""
    background, interactive, normal = Recorder(), Recorder(), Recorder()
    engine.submit(tasks.BackgroundWait(tag="bg", seconds=1.0), key="bg", **background.callbacks())
    _wait_started(qtbot, "bg")
    engine.submit(tasks.Wait(tag="normal-queued", seconds=0.0), key="normal", **normal.callbacks())
    engine.submit(tasks.Echo(value="now", tag="urgent"), key="urgent", **interactive.callbacks())
    qtbot.waitUntil(interactive.done, timeout=10000)
    assert interactive.results == ["now"]
    assert tasks.events("bg") == ["started"], "the background job is still running"
    assert tasks.events("normal-queued") == [], "normal work waits for the background job"
    qtbot.waitUntil(lambda: background.done() and normal.done(), timeout=10000)
    assert background.results == ["finished"] and normal.results == ["finished"]
    assert interactive.threads == {QApplication.instance().thread()}


def test_an_interactive_follow_up_runs_before_the_next_background_chunk(qtbot, engine: EngineThread) -> None:
    """Selecting a case asks for the case view, and for its explanation only once the view
    reaches the GUI: that second request must not wait behind another background chunk."""
    tag = "follow-bg"
    follow = Recorder()
    engine.submit(tasks.BackgroundChunks(tag=tag), key="bg", **Recorder().callbacks())
    qtbot.waitUntil(lambda: tasks.events(tag) == ["chunk 0"] or len(tasks.events(tag)) > 1, timeout=10000)

    def ask_again(_result: object) -> None:  # the GUI thread, as the canvas does once it has drawn the case
        QTimer.singleShot(60, lambda: engine.submit(tasks.Echo(value="map", tag="follow-up"), key="map",
                                                    **follow.callbacks()))

    engine.submit(tasks.Echo(value="view", tag="first"), key="view", on_result=ask_again)
    qtbot.waitUntil(follow.done, timeout=10000)
    with tasks._lock:
        order = [what for t, what in tasks.EVENTS if t in (tag, "first", "follow-up")]
    first = order.index("ran")
    assert order[first + 1] == "ran", f"the follow-up waited behind a chunk: {order}"
    qtbot.waitUntil(lambda: len(tasks.events(tag)) == 4, timeout=10000)


def test_queue_runs_interactive_before_normal_before_background(qtbot, engine: EngineThread) -> None:
    order: list[str] = []
    blocker = Recorder()
    engine.submit(tasks.Wait(tag="order-blocker", seconds=0.3), key="blocker", **blocker.callbacks())
    _wait_started(qtbot, "order-blocker")
    engine.submit(tasks.BackgroundWait(tag="order-bg", seconds=0.0), key="b", on_result=lambda _r: order.append("background"))
    engine.submit(tasks.Steps(n=1), key="n", on_result=lambda _r: order.append("normal"))
    engine.submit(tasks.Echo(value=1), key="i", on_result=lambda _r: order.append("interactive"))
    qtbot.waitUntil(lambda: len(order) == 3, timeout=10000)
    assert order == ["interactive", "normal", "background"]


def test_unknown_task_is_an_error_not_a_crash(qtbot, engine: EngineThread) -> None:
    rec = Recorder()
    engine.submit(tasks.Missing(), key="u", **rec.callbacks())
    qtbot.waitUntil(rec.done, timeout=10000)
    assert rec.errors[0].kind == "internal" and "no_such_task" in rec.errors[0].message


def test_shutdown_while_job_runs_stops_it_and_joins(qtbot, engine: EngineThread) -> None:
    rec = Recorder()
    engine.submit(tasks.Wait(tag="shutdown"), key="s", **rec.callbacks())
    engine.submit(tasks.Steps(n=1, tag="after-shutdown"), key="t", **Recorder().callbacks())
    _wait_started(qtbot, "shutdown")
    engine.shutdown()
    assert not engine.isRunning()
    assert tasks.events("shutdown") == ["started", "cancelled"]
    assert tasks.events("after-shutdown") == [], "queued jobs are dropped at shutdown"


def test_shutdown_during_runtime_start_joins(qtbot) -> None:
    thread = EngineThread()
    thread.start()
    thread.shutdown()
    assert not thread.isRunning()


def test_a_long_session_of_signals_does_not_abort_python(tmp_path: Path) -> None:
    """PySide6 6.12.0 drops a reference to True on every emit; on Python 3.11 that aborts the
    process ("bool_dealloc") after a few thousand signals. pyproject.toml keeps that release out."""
    script = textwrap.dedent(
        """
        import threading
        from PySide6.QtCore import QCoreApplication, QObject, Signal
        app = QCoreApplication([])

        class Source(QObject):
            progressed = Signal(str, int, float, str)
            relayed = Signal(str, int, float, str)

        source, seen = Source(), []
        source.progressed.connect(source.relayed.emit)  # signal-to-signal, as superqt does
        source.relayed.connect(lambda *args: seen.append(args[1]))

        def work():
            for i in range(100_000):
                source.progressed.emit("job", i, 0.5, "")

        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
        app.processEvents()
        print("delivered", len(seen), flush=True)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "delivered 100000"


def test_closing_app_with_running_job_exits_cleanly(tmp_path: Path) -> None:
    """A real process: close the window while a job runs; no Qt abort message, exit code 0."""
    script = textwrap.dedent(
        """
        import sys, time
        from dataclasses import dataclass
        from PySide6.QtCore import QTimer
        from engine.tasks import task
        from gui.app import make_application
        from gui.main_window import MainWindow
        EVENTS = []

        @task("__main__:wait_task", "builtins:object")
        @dataclass(frozen=True)
        class WaitRequest:
            pass

        def wait_task(ctx):  # resolved by the engine thread as "__main__:wait_task"
            EVENTS.append("started")
            try:
                while True:
                    ctx.check()
                    time.sleep(0.01)
            except BaseException:
                EVENTS.append("cancelled")
                raise

        app = make_application(sys.argv)
        window = MainWindow()
        window.show()
        window.ctx.engine.start()
        def go(_versions):
            window.ctx.engine.submit(WaitRequest(), key="x")
        def running(key, _job_id):  # start-up jobs (demo model, runs) may be queued ahead of it
            if key == "x":
                QTimer.singleShot(300, window.close)
        window.ctx.engine.ready.connect(go)
        window.ctx.engine.started_job.connect(running)
        QTimer.singleShot(90000, window.close)  # never started: fail on the events, do not hang
        code = app.exec()
        print("events", EVENTS, flush=True)
        sys.exit(code)
        """
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", GLASSBOX_CONFIG_DIR=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Destroyed while thread" not in proc.stderr
    assert "events ['started', 'cancelled']" in proc.stdout
