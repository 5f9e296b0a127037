"""The default layout on the demo, looked at: 1400x900 and 1920x1080 screenshots (shots/), the
canvas's share of the width, model tree and case list both in sight, Ctrl+1..5 show and raise."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from gui.app import DEMO_MODEL

SHOTS = Path(__file__).resolve().parents[2] / "shots"
pytestmark = pytest.mark.skipif(not DEMO_MODEL.exists(), reason="demo model not built yet")


def _shot(window, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    QApplication.processEvents()
    window.grab().save(str(SHOTS / f"{name}.png"))


def test_default_layout_and_view_shortcuts(qtbot, main_window) -> None:
    window = main_window
    window.resize(1400, 900)
    window.show()
    canvas = window.views["attribution"]
    state = window.ctx.state
    with qtbot.waitSignal(state.predictions_changed, timeout=180000, check_params_cb=lambda p: p is not None):
        window.start()
    state.select_case(3)
    qtbot.waitUntil(lambda: canvas.panels[0].result is not None, timeout=120000)
    qtbot.wait(100)
    assert canvas.width() >= window.width() // 2, "the canvas gets at least half of the width"
    model, cases = window.docks["modelBrowser"], window.docks["cases"]
    assert window.tabifiedDockWidgets(model) == [] and model.isVisible() and cases.isVisible()
    assert model.geometry().bottom() < cases.geometry().top(), "model tree above the case list"
    run_button = next(b for b in canvas.findChildren(type(canvas.jobs.bar.cancel_button).__base__) if b.text() == "Run")
    assert run_button.isVisible() and not run_button.visibleRegion().isEmpty()
    assert canvas.display.mode.isVisible() and not canvas.display.mode.visibleRegion().isEmpty()
    embedding = window.views["embedding"]
    assert embedding.compute_button.isVisible() and not embedding.compute_button.visibleRegion().isEmpty()
    _shot(window, "layout_1400x900")

    cases.close()  # Ctrl+2 shows it again (it used to toggle it closed)
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert cases.isVisible()
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert cases.isVisible(), "a second Ctrl+2 keeps it open"
    weights = window.docks["weights"]
    qtbot.keyClick(window, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)
    assert weights.isVisible() and not weights.visibleRegion().isEmpty(), "raised over its tabbed sibling"

    window.resize(1920, 1080)
    qtbot.wait(200)
    canvas.show_grid([("saliency", {}), ("integrated_gradients", {}), ("gradcam", {}), ("gradient_x_input", {})])
    qtbot.waitUntil(lambda: all(p.result is not None for p in canvas.panels), timeout=120000)
    qtbot.wait(100)
    for cell in canvas.map_grid.cells:  # every map shows its whole image, filling its cell
        (x0, x1), (y0, y1) = cell.canvas.view.viewRange()
        assert x0 <= 0.5 and x1 >= 27.5 and y0 <= 0.5 and y1 >= 27.5 and min(x1 - x0, y1 - y0) < 29.5
    _shot(window, "layout_1920x1080_grid4")
    for specs in (
        [("saliency", {}), ("gradcam", {})],
        [("saliency", {}), ("integrated_gradients", {}), ("gradcam", {}), ("gradient_x_input", {}),
         ("guided_backprop", {}), ("layercam", {})],
    ):
        canvas.show_grid(specs)
        qtbot.waitUntil(lambda: all(p.result is not None for p in canvas.panels), timeout=120000)
        qtbot.wait(100)
        _shot(window, f"layout_1920x1080_grid{len(specs)}")
    canvas.set_grid(False)
    qtbot.wait(100)
    (x0, x1), (y0, y1) = canvas.canvases[0].view.viewRange()
    assert min(x1 - x0, y1 - y0) < 29.5, "back to one panel: the image fills it (not zoomed out)"
    _shot(window, "layout_1920x1080_single")
    for mode in ("absolute", "positive", "top_k"):
        canvas.display.set_mode(mode)
        _shot(window, f"layout_1920x1080_display_{mode}")
