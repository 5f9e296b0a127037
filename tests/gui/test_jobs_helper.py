"""gui.jobs.ViewJobs on test tasks (no TensorFlow work): one progress bar per view, stale
answers dropped by request id, one error policy, Esc, and forget() on a model change."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox, QVBoxLayout, QWidget

from engine.jobs import JobError
from gui.engine_thread import EngineThread
from gui.jobs import ViewJobs
from tests.gui import tasks_for_tests as tasks


@pytest.fixture
def view(qtbot, engine: EngineThread):
    widget = QWidget()
    qtbot.addWidget(widget)
    said: list[str] = []
    jobs = ViewJobs(widget, engine, "testview", "Test failed", inline=said.append)
    layout = QVBoxLayout(widget)
    layout.addWidget(QLabel("a view"))
    layout.addWidget(jobs.bar)
    widget.show()
    return widget, jobs, said


def test_progress_bar_shows_while_busy_and_results_arrive(qtbot, view) -> None:
    widget, jobs, _ = view
    results: list = []
    busy: list[bool] = []
    jobs.busy_changed.connect(busy.append)
    assert jobs.bar.isHidden()
    jobs.start(tasks.Wait(tag="jobs-bar", seconds=0.3), results.append, message="working…")
    assert jobs.bar.isVisible() and jobs.busy() and jobs.busy("") and jobs.bar.progress.format() == "working…"
    qtbot.waitUntil(lambda: results == ["finished"], timeout=10000)
    assert jobs.bar.isHidden() and not jobs.busy() and busy == [True, False]


def test_a_newer_request_in_the_same_slot_drops_the_older_answer(qtbot, view) -> None:
    _, jobs, _ = view
    old, new, other = [], [], []
    first = jobs.start(tasks.Wait(tag="jobs-old", seconds=30, result="old"), old.append, slot="a")
    jobs.start(tasks.Steps(n=2, tag="jobs-b"), other.append, slot="b")  # another slot: queued, kept
    second = jobs.start(tasks.Echo(value="new"), new.append, slot="a")
    assert second != first and jobs.current("a") == second
    qtbot.waitUntil(lambda: new == ["new"] and other == [2], timeout=10000)
    qtbot.wait(50)
    assert old == [], "the replaced request's answer is dropped"


def test_forget_drops_answers_already_on_their_way(qtbot, view) -> None:
    _, jobs, _ = view
    got: list = []
    jobs.start(tasks.Wait(tag="jobs-forget", seconds=0.2, result="stale"), got.append, slot="x")
    jobs.forget()  # the model changed
    assert not jobs.busy() and jobs.bar.isHidden()
    qtbot.wait(400)
    assert got == []


def test_error_policy_inline_for_input_problems_dialog_for_the_rest(qtbot, view) -> None:
    widget, jobs, said = view
    errors: list[JobError] = []
    jobs.start(tasks.Nan(), on_error=errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=10000)
    assert errors[0].kind == "numerical" and said == [errors[0].message]  # inline, no dialog
    assert widget.findChild(QMessageBox, "errorDialog") is None
    jobs.start(tasks.OutOfMemory(), on_error=errors.append)
    qtbot.waitUntil(lambda: widget.findChild(QMessageBox, "errorDialog") is not None, timeout=10000)
    box = widget.findChild(QMessageBox, "errorDialog")
    assert "Out of memory" in box.text() and box.windowTitle() == "Test failed" and len(said) == 1
    jobs.start(tasks.Nan(), on_error=lambda e: True)  # a view that handled it itself: nothing shown
    qtbot.waitUntil(lambda: not jobs.busy(), timeout=10000)
    assert len(said) == 1


def test_escape_inside_the_view_cancels_its_jobs_and_says_nothing(qtbot, view) -> None:
    widget, jobs, said = view
    errors: list[JobError] = []
    jobs.start(tasks.Wait(tag="jobs-esc", seconds=30), on_error=errors.append)
    qtbot.waitUntil(lambda: "started" in tasks.events("jobs-esc"), timeout=10000)
    qtbot.keyClick(widget, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: bool(errors), timeout=10000)
    assert errors[0].kind == "cancelled" and said == [] and widget.findChild(QMessageBox) is None
    qtbot.waitUntil(lambda: tasks.events("jobs-esc") == ["started", "cancelled"], timeout=10000)
