"""GUI fixtures: a main window / engine thread that is always shut down, and no dangling QThreads."""

from __future__ import annotations

import traceback
import weakref
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QThread

from gui.engine_thread import EngineThread


@pytest.fixture(autouse=True)
def _dangling_qthreads(monkeypatch: pytest.MonkeyPatch, qtbot) -> Iterator[None]:
    """Fail a test that leaves a QThread running (it would crash the process at exit).

    Like napari's fixture of the same name: remember where every QThread was started, and after
    the test give running ones a moment to finish before naming them.
    """
    started: weakref.WeakKeyDictionary[QThread, str] = weakref.WeakKeyDictionary()
    original_start = QThread.start

    def start_and_remember(self: QThread, *args, **kwargs) -> None:
        started[self] = "".join(traceback.format_stack(limit=6)[:-1])
        original_start(self, *args, **kwargs)

    monkeypatch.setattr(QThread, "start", start_and_remember)
    yield
    dangling = []
    for thread, where in list(started.items()):
        if thread.isRunning() and not thread.wait(2000):
            dangling.append(f"{type(thread).__name__} started at:\n{where}")
    if dangling:
        pytest.fail("QThreads still running after the test:\n" + "\n".join(dangling))


@pytest.fixture
def engine(qtbot) -> Iterator[EngineThread]:
    """A started engine thread whose TensorFlow runtime is loaded."""
    thread = EngineThread()
    with qtbot.waitSignal(thread.ready, timeout=60000):
        thread.start()
    yield thread
    thread.shutdown()
    assert not thread.isRunning(), "engine thread still running after shutdown"


@pytest.fixture
def main_window(qtbot):
    """The real main window, engine not started yet (call `start`); closed and joined after."""
    from gui.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    yield window
    window.close()
    assert not window.ctx.engine.isRunning(), "engine thread still running after close"
