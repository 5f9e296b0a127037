"""GUI fixtures: a main window / engine thread that is always shut down, and no dangling QThreads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gui.engine_thread import EngineThread


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
    """The real main window, started on the demo model; closed (and its thread joined) after."""
    from gui.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    yield window
    window.close()
    assert not window.ctx.engine.isRunning(), "engine thread still running after close"
