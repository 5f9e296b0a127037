"""The main window: engine status, opening models (good, corrupt, unsafe), recent models, About,
settings that survive a restart, and a start-up that does not import TensorFlow before the window."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QTabBar

import gui.main_window as main_window_module
from gui.app import DEMO_MODEL
from gui.main_window import MainWindow
from gui.settings import Settings
from gui.views import VIEWS
from tests.gui import tasks_for_tests as tasks

ROOT = Path(__file__).resolve().parents[2]
FAKE_OPEN = "tests.gui.tasks_for_tests:fake_open_model_task"


def use_fake_open(monkeypatch: pytest.MonkeyPatch) -> None:
    """Serve OpenModel with a TF-free fake (same request type, another function)."""
    import dataclasses

    from engine.tasks import REGISTRY, OpenModel

    monkeypatch.setitem(REGISTRY, OpenModel, dataclasses.replace(REGISTRY[OpenModel], run=FAKE_OPEN))


@pytest.fixture
def window(qtbot, monkeypatch: pytest.MonkeyPatch):
    """Main window with only the model browser, opening models with a TF-free fake task."""
    use_fake_open(monkeypatch)
    monkeypatch.setattr(main_window_module, "VIEWS", [v for v in VIEWS if v.name == "modelBrowser"])
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
    assert not win.ctx.engine.isRunning()


def fake_model(folder: Path, name: str, size: int = 100) -> str:
    path = folder / name
    path.write_bytes(b"PK" + bytes(size - 2))
    return str(path)


def open_and_wait(qtbot, win: MainWindow, path: str, **kwargs) -> None:
    with qtbot.waitSignal(win.ctx.state.model_changed, timeout=60000):
        win.open_model(path, **kwargs)


def error_dialog(qtbot, win: MainWindow) -> QMessageBox:
    qtbot.waitUntil(lambda: win.findChild(QMessageBox, "errorDialog") is not None, timeout=60000)
    return win.findChild(QMessageBox, "errorDialog")


def test_status_bar_shows_engine_loading_then_ready(qtbot, window: MainWindow) -> None:
    assert window.engine_label.text() == "Engine: loading TensorFlow…"
    with qtbot.waitSignal(window.ctx.engine.ready, timeout=60000):
        window.ctx.engine.start()
    device = window.ctx.engine.versions["device"]
    assert device == "CPU" or device.startswith("GPU: ")
    assert window.engine_label.text().startswith(f"Engine ready on {device}: TensorFlow 2.")
    about = window.show_about()
    assert f"<td>device&nbsp;</td><td>{device}</td>" in about.text()
    about.close()


def test_open_model_fills_browser_title_and_recent(qtbot, window: MainWindow, tmp_path: Path) -> None:
    window.ctx.engine.start()
    first, second = fake_model(tmp_path, "first.keras"), fake_model(tmp_path, "second.keras", 300)
    open_and_wait(qtbot, window, first)
    open_and_wait(qtbot, window, second)
    assert window.windowTitle() == "Glassbox — second.keras"
    assert window.ctx.state.model.sha256 == f"{300:064x}"
    assert window.status_label.text() == "Opened second.keras: 6 layers, 259 params"
    browser = window.views["modelBrowser"]
    assert browser.proxy.rowCount() == 3 and "second.keras" in browser.header.text()
    recent = [a.text() for a in window.recent_menu.actions()]
    assert recent == [second, first]
    assert Settings().recent_models == [second, first], "recent models are saved at once"
    # choosing a recent model opens it
    with qtbot.waitSignal(window.ctx.state.model_changed, timeout=60000):
        window.recent_menu.actions()[1].trigger()
    assert window.model_path == first


def test_failed_open_keeps_previous_model_and_shows_error(qtbot, window: MainWindow, tmp_path: Path) -> None:
    window.ctx.engine.start()
    good = fake_model(tmp_path, "good.keras")
    open_and_wait(qtbot, window, good)
    before = window.ctx.state.model
    bad = tmp_path / "x.keras"
    bad.write_bytes(os.urandom(256).replace(b"PK", b"pk"))
    window.open_model(str(bad))
    box = error_dialog(qtbot, window)
    assert box.text() == "x.keras: not a Keras model file (no zip archive inside)."
    assert box.windowTitle() == "Could not open model"
    assert window.ctx.state.model is before
    assert window.windowTitle() == "Glassbox — good.keras"
    assert window.status_label.text() == "Could not open x.keras"
    assert window.ctx.settings.recent_models == [good]


@pytest.mark.parametrize("trusted", [True, False])
def test_unsafe_model_loads_only_when_trusted(
    qtbot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trusted: bool
) -> None:
    asked: list[str] = []

    def confirm(path: str, reason: str) -> bool:
        asked.append(reason)
        return trusted

    monkeypatch.setattr(window, "_confirm_trust", confirm)
    window.ctx.engine.start()
    path = fake_model(tmp_path, "unsafe_lambda.keras")
    if trusted:
        open_and_wait(qtbot, window, path)
        assert window.model_path == path
    else:
        window.open_model(path)
        assert "Lambda layer" in error_dialog(qtbot, window).text()
        assert window.ctx.state.model is None
    sha = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    assert asked == [f"unsafe_lambda.keras: the model contains a Lambda layer (arbitrary code); content SHA-256 {sha}."]


def test_a_file_swapped_while_the_trust_dialog_is_open_is_refused(
    qtbot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trust is given to the content the dialog named: other bytes at the same path are refused."""
    path = fake_model(tmp_path, "unsafe_swap.keras")
    asked: list[str] = []

    def confirm(_path: str, reason: str) -> bool:
        asked.append(reason)
        if len(asked) == 1:
            Path(path).write_bytes(b"PK" + b"evil" * 30)  # swapped while the user reads the dialog
            return True
        return False

    monkeypatch.setattr(window, "_confirm_trust", confirm)
    window.ctx.engine.start()
    window.open_model(path)
    assert "Lambda layer" in error_dialog(qtbot, window).text()
    assert window.ctx.state.model is None
    new_sha = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    assert len(asked) == 2 and new_sha in asked[1]  # asked again, about the new content


def test_trust_dialog_defaults_to_no(qtbot, window: MainWindow) -> None:
    seen: dict = {}

    def answer() -> None:
        box = QApplication.activeModalWidget()
        seen["name"] = box.objectName()
        seen["text"] = box.text()
        seen["default"] = box.defaultButton() is box.button(QMessageBox.StandardButton.No)
        box.defaultButton().click()

    QTimer.singleShot(100, answer)
    assert window._confirm_trust("/m/model.keras", "model.keras: Lambda layer") is False
    assert seen["name"] == "trustDialog" and seen["default"]
    assert seen["text"].startswith("model.keras: Lambda layer") and "trust" in seen["text"]


def test_about_lists_versions(qtbot, window: MainWindow) -> None:
    assert "still loading" in window.show_about().text()
    with qtbot.waitSignal(window.ctx.engine.ready, timeout=60000):
        window.ctx.engine.start()
    text = window.show_about().text()
    for name in ("glassbox", "tensorflow", "keras", "numpy", "PySide6", "python"):
        assert f"<td>{name}&nbsp;</td>" in text


def test_geometry_and_dock_state_survive_restart(qtbot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(main_window_module, "VIEWS", [v for v in VIEWS if v.name == "modelBrowser"])
    first = MainWindow()
    qtbot.addWidget(first)
    first.show()
    first.resize(640, 480)  # inside the offscreen 800x600 screen
    first.docks["modelBrowser"].hide()
    first.close()
    second = MainWindow()
    qtbot.addWidget(second)
    second.show()
    assert (second.width(), second.height()) == (640, 480)
    assert second.docks["modelBrowser"].isHidden()
    second.close()


def test_geometry_saved_on_another_platform_is_not_restored(qtbot, monkeypatch: pytest.MonkeyPatch) -> None:
    """An offscreen run's geometry must not shrink the window on a real screen (and back)."""
    monkeypatch.setattr(main_window_module, "VIEWS", [v for v in VIEWS if v.name == "modelBrowser"])
    first = MainWindow()
    qtbot.addWidget(first)
    first.show()
    first.resize(640, 480)
    first.close()
    assert first.ctx.settings.get("window_platform") == "offscreen"
    first.ctx.settings.data["window_platform"] = "xcb"  # as if saved under X11
    first.ctx.settings.save()
    second = MainWindow()
    qtbot.addWidget(second)
    assert (second.width(), second.height()) == (1400, 900)  # the first-start size
    second.close()


def test_demo_opens_and_corrupt_file_keeps_it(qtbot, main_window: MainWindow, tmp_path: Path) -> None:
    """End to end with the real model loader and every view: demo, then a corrupt .keras file."""
    with qtbot.waitSignal(main_window.ctx.state.model_changed, timeout=120000):
        main_window.start()
    assert main_window.view_errors == {}
    demo = main_window.ctx.state.model
    assert Path(demo.path).name == DEMO_MODEL.name and demo.output_activation == "softmax"
    browser = main_window.views["modelBrowser"]
    names = [browser.proxy.index(r, 0).data() for r in range(browser.proxy.rowCount())]
    assert {"conv1", "conv2", "embedding", "probabilities"} <= set(names)
    bad = tmp_path / "x.keras"
    bad.write_bytes(os.urandom(4096))
    main_window.open_model(str(bad))
    box = error_dialog(qtbot, main_window)
    assert "x.keras" in box.text() and "\n" not in box.text()
    assert main_window.ctx.state.model is demo
    assert browser.model is demo


def test_no_duplicate_dock_tab_bars_and_window_fits(qtbot, main_window: MainWindow) -> None:
    """Qt leaves a stale copy of a second dock area's tab bar over the canvas; it is hidden.
    Views scroll inside their docks, so together they never force the window past 1400 px."""
    main_window.resize(1400, 900)
    main_window.show()
    qtbot.waitExposed(main_window)
    qtbot.wait(50)
    bars = [
        tuple(bar.tabText(i) for i in range(bar.count()))
        for bar in main_window.findChildren(QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly)
        if bar.isVisible()
    ]
    assert len(bars) == len(set(bars)) and ("Activations", "Weights") in bars
    assert ("Model", "Cases") not in bars, "model tree and case list are stacked, both in sight"
    assert main_window.width() <= 1400


def test_broken_view_shows_its_error_and_the_rest_works(qtbot, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = VIEWS[0]._replace(name="broken", title="Broken", factory="gui.views.no_such_module:View")
    monkeypatch.setattr(main_window_module, "VIEWS", [broken, *VIEWS[:1]])
    win = MainWindow()
    qtbot.addWidget(win)
    assert set(win.view_errors) == {"broken"} and "no_such_module" in win.view_errors["broken"]
    assert "failed to load" in win.views["broken"].text()
    assert type(win.views["modelBrowser"]).__name__ == "ModelBrowser"
    win.close()


def test_startup_check_shows_window_before_tensorflow(tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", GLASSBOX_CONFIG_DIR=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, "main.py", "--startup-check"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("window shown after ") and lines[0].endswith("(TensorFlow imported: False)")
    assert any(line.startswith("engine ready after ") for line in lines)
    assert "Destroyed while thread" not in proc.stderr


def test_startup_check_names_a_window_left_open_after_the_main_window(qtbot, window: MainWindow, capsys) -> None:
    """A parentless window still shown keeps a Qt app running after its main window closes:
    the start-up check's close says which one, instead of leaving a silent hang."""
    from PySide6.QtWidgets import QWidget

    from gui.app import _close_for_check

    stray = QWidget()
    stray.setObjectName("stray")
    stray.setWindowTitle("left over")
    qtbot.addWidget(stray)
    stray.show()
    _close_for_check(QApplication.instance(), window)
    assert not window.isVisible() and not window.ctx.engine.isRunning()
    err = capsys.readouterr().err
    assert err == "still open after the main window closed: QWidget 'stray' 'left over' ''\n"


def test_status_bar_drops_progress_of_a_finished_or_cancelled_job(qtbot, window: MainWindow) -> None:
    with qtbot.waitSignal(window.ctx.engine.ready, timeout=60000):
        window.ctx.engine.start()
    engine = window.ctx.engine
    with qtbot.waitSignal(engine.finished_job, timeout=30000):
        engine.submit(tasks.Steps(n=2), key="quick")
    assert window.job_label.text() == "", "a finished job's progress line stays up"
    window.status_label.setText("Opened digits.keras")  # a notice is not wiped by a job's progress
    with qtbot.waitSignal(engine.progressed, timeout=30000):
        engine.submit(tasks.Wait(tag="occlusion", seconds=30), key="slow")
    assert window.job_label.text() == "occlusion: 30%"
    engine.cancel("slow")
    qtbot.waitUntil(lambda: not engine.is_busy(), timeout=30000)
    assert window.job_label.text() == "Cancelled."
    assert window.status_label.text() == "Opened digits.keras"


def test_a_tampered_cache_entry_is_reported_in_the_status_bar(qtbot, window: MainWindow) -> None:
    with qtbot.waitSignal(window.ctx.engine.ready, timeout=60000):
        window.ctx.engine.start()
    results: list = []
    with qtbot.waitSignal(window.ctx.engine.reported, timeout=30000):
        window.ctx.engine.submit(tasks.TamperedCache(folder="tamper-test"), key="t", on_result=results.append)
    qtbot.waitUntil(lambda: results == [True], timeout=30000)  # discarded: the caller recomputes
    assert "test map failed its integrity check" in window.status_label.text()
