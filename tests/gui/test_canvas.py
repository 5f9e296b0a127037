"""The attribution view on the demo model: case display, overlays, target, form, grid, cache, export, cancel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from engine import overlay
from engine.jobs import JobContext
from gui.app import DEMO_CASES, DEMO_MODEL
from gui.context import AppContext
from gui.settings import Settings
from gui.state import AppState
from gui.views.canvas import AttributionView
from engine import cache, explain_service
from tests.gui.tasks_for_tests import submit_call

SHOTS = Path(__file__).resolve().parents[2] / "shots"
MID_SIZE = 96  # long-job model: occlusion with stride 1 makes ~8000 occluded copies


def long_job_workspace_task(ctx: JobContext) -> Any:
    """A mid-size CNN on 96x96 RGB noise images, set as the engine's model and dataset."""
    import keras

    from engine.data import Dataset

    keras.utils.set_random_seed(0)
    inputs = keras.Input((MID_SIZE, MID_SIZE, 3))
    h = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    h = keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(h)
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="last_conv")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h))
    ctx.workspace.set_model(model, None)
    x = np.random.default_rng(0).integers(0, 256, (3, MID_SIZE, MID_SIZE, 3), dtype=np.uint8)
    ctx.workspace.dataset = Dataset.from_arrays(x, np.arange(3))
    return len(ctx.workspace.dataset)


def tabular_workspace_task(ctx: JobContext) -> Any:
    """A dense model on 6 features and four rows of them (no image to paint on)."""
    import keras

    from engine.data import Dataset

    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    ctx.workspace.set_model(keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs)), None)
    ctx.workspace.dataset = Dataset.from_arrays(np.random.default_rng(1).normal(size=(4, 6)).astype("float32"))
    return 4


def _run(qtbot, engine, task: str, **kwargs: Any) -> Any:
    box: dict[str, Any] = {}
    submit_call(engine, task, key="test.setup", on_result=lambda r: box.setdefault("r", r),
                on_error=lambda e: box.setdefault("e", e), **kwargs)
    qtbot.waitUntil(lambda: bool(box), timeout=60000)
    assert "e" not in box, box.get("e")
    return box["r"]


@pytest.fixture
def view(qtbot, engine, tmp_path):
    state = AppState()
    widget = AttributionView(AppContext(engine, state, Settings(tmp_path / "settings.json")))
    qtbot.addWidget(widget)
    widget.resize(1300, 800)
    widget.show()
    qtbot.waitUntil(lambda: bool(widget.methods), timeout=30000)
    yield widget
    widget.cancel()


@pytest.fixture
def demo(qtbot, engine, view):
    """The demo digits model and its cases, announced through the shared state."""
    description = _run(qtbot, engine, "engine.models:open_model_task", path=str(DEMO_MODEL))
    view.ctx.state.set_model(description)
    summary = _run(qtbot, engine, "engine.data:open_dataset_task", path=str(DEMO_CASES), preprocessing=None)
    view.ctx.state.set_dataset(summary)
    return view


def _select(qtbot, view: AttributionView, case: int, panels: int = 1) -> None:
    shown: set[int] = set()
    view.result_shown.connect(shown.add)
    view.ctx.state.select_case(case)
    qtbot.waitUntil(lambda: len(shown) >= panels and view.case_view is not None and view.case_view.case == case,
                    timeout=60000)
    view.result_shown.disconnect(shown.add)


def _shot(widget, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    QApplication.processEvents()  # let layouts settle (colour bar axis width) before grabbing
    widget.grab().save(str(SHOTS / f"{name}.png"))


def _wait_result(qtbot, view: AttributionView, panel: int = 0) -> Any:
    qtbot.waitUntil(lambda: view.panels[panel].result is not None and not view.panels[panel].pending, timeout=60000)
    return view.panels[panel].result


def test_case_shows_image_top5_and_auto_runs_saliency(qtbot, demo):
    _select(qtbot, demo, 7)
    canvas, result = demo.canvases[0], demo.panels[0].result
    assert result.method == "saliency" and result.heatmap.shape == (1, 28, 28)
    assert canvas.image.shape == (28, 28) and canvas.heatmap.shape == (28, 28)
    table = demo.target.table
    probs = [float(table.item(r, 2).text()) for r in range(table.rowCount())]
    assert len(probs) == 5 and probs == sorted(probs, reverse=True) and probs[0] > 0.2
    assert int(result.targets[0]) == int(table.item(0, 0).text())  # explains the top class
    assert "Saliency" in canvas.title.text() and " s " in canvas.title.text()
    assert "saliency" in demo.elapsed.text().lower()
    assert "x=3 y=5" in canvas.readout(5, 3) and "attribution=" in canvas.readout(5, 3)
    _shot(demo, "canvas_signed")


def test_overlay_modes(qtbot, demo):
    _select_method(demo, "integrated_gradients")  # a signed map (saliency's is |gradient|)
    _select(qtbot, demo, 3)
    canvas = demo.canvases[0]
    heat = canvas.heatmap
    assert demo.panels[0].result.method == "integrated_gradients" and heat.min() < 0 < heat.max()
    _shot(demo, "canvas_signed_ig")
    demo.display.set_mode("absolute")
    assert canvas.overlay_item.image.min() >= 0 and canvas.colorbar.isVisible()
    _shot(demo, "canvas_absolute")
    demo.display.set_mode("positive")
    assert np.all(canvas.overlay_item.image[heat < 0] == 0)
    _shot(demo, "canvas_positive")
    demo.display.top_k.setValue(5)
    demo.display.set_mode("top_k")
    kept = canvas.overlay_item.image > 0.5
    assert kept.sum() == int(np.ceil(heat.size * 0.05)) and not canvas.colorbar.isVisible()
    assert np.abs(heat[kept]).min() >= np.abs(heat[~kept]).max()
    _shot(demo, "canvas_topk")
    demo.display.set_mode("signed")
    demo.display.opacity.setValue(30)
    assert canvas.overlay_item.opacity() == pytest.approx(0.3)
    lo, hi = canvas.colorbar.levels()
    assert lo == pytest.approx(-hi) and hi > 0


def test_switching_target_recomputes_for_that_class(qtbot, demo):
    _select(qtbot, demo, 11)
    top = int(demo.panels[0].result.targets[0])
    other = (top + 4) % 10
    demo.target.set_target(other)
    result = _wait_result(qtbot, demo)
    assert int(result.targets[0]) == other
    assert f"class {other}" in demo.canvases[0].title.text()


def test_going_back_to_a_case_redraws_without_engine_work(qtbot, demo, monkeypatch):
    _select(qtbot, demo, 1)
    first = demo.canvases[0].heatmap.copy()
    _select(qtbot, demo, 2)
    submitted: list[str] = []
    real_submit = demo.ctx.engine.submit
    monkeypatch.setattr(
        demo.ctx.engine, "submit", lambda request, **kw: submitted.append(request) or real_submit(request, **kw)
    )
    demo.ctx.state.select_case(1)  # synchronously: image, predictions and map from the GUI cache
    assert submitted == []
    assert demo.case_view.case == 1
    np.testing.assert_array_equal(demo.canvases[0].heatmap, first)


def test_method_form_parameters_reach_the_engine(qtbot, demo):
    _select(qtbot, demo, 4)
    combo = demo.method_panel.combo
    combo.setCurrentIndex(combo.findData("integrated_gradients"))
    steps = demo.method_panel.editors["steps"]
    assert steps.value() > 1 and (steps.minimum(), steps.maximum()) == (1, 100000)  # the method's bounds
    assert demo.method_panel.editors["seed"].maximum() == 2**31 - 1
    steps.setValue(8)
    demo.run_all()
    result = _wait_result(qtbot, demo)
    assert result.method == "integrated_gradients" and result.params["steps"] == 8
    assert "steps=8" in demo.canvases[0].title.text()
    assert f"completeness gap {float(result.completeness_gap[0]):+.2g}" in demo.canvases[0].title.text()


def test_quick_look_grid_links_views_and_runs_four_methods(qtbot, demo):
    _select(qtbot, demo, 9)
    qtbot.keyClick(demo, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert len(demo.canvases) == len(demo.panels) >= 2
    for index in range(len(demo.panels)):
        _wait_result(qtbot, demo, index)
    methods = [p.result.method for p in demo.panels]
    assert methods[:2] == ["saliency", "integrated_gradients"] and len(set(methods)) == len(methods)
    lead = demo.canvases[0].view
    assert all(c.view.linkedView(0) is lead and c.view.linkedView(1) is lead for c in demo.canvases[1:])
    lead.setRange(xRange=(0, 10), yRange=(0, 10), padding=0)
    x_range, lead_range = demo.canvases[-1].view.viewRange()[0], lead.viewRange()[0]
    width, lead_width = x_range[1] - x_range[0], lead_range[1] - lead_range[0]
    assert sum(x_range) / 2 == pytest.approx(5.0, abs=0.5) and width == pytest.approx(lead_width, rel=0.15)  # followed
    lead.autoRange(padding=0.02)
    _shot(demo, "grid_quick_look_demo")
    demo.set_active(1)  # the form follows the clicked panel
    assert demo.method_panel.method() == "integrated_gradients"


def test_export_png_and_maps(qtbot, demo, tmp_path):
    _select(qtbot, demo, 5)
    png = demo.export_png(tmp_path / "canvas.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    with Image.open(png) as image:  # the 28x28 map at full resolution, enlarged 10x, plus a caption
        width, height = image.size
    assert width == 280 and height > 280
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    demo._export("PNG", lambda: demo.export_png(blocked / "canvas.png"))  # cannot be written
    qtbot.waitUntil(lambda: demo.findChild(QMessageBox, "errorDialog") is not None, timeout=5000)
    assert "Could not save the PNG" in demo.findChild(QMessageBox, "errorDialog").text()
    written = demo.export_maps(tmp_path / "case5")
    names = {p.name for p in written}
    assert {"case5_maps.npy", "case5.json"} <= names
    np.testing.assert_array_equal(np.load(tmp_path / "case5_maps.npy"), demo.panels[0].result.maps)


def test_explain_requested_selects_case_and_method(qtbot, demo):
    demo.ctx.state.explain_requested.emit(6, "gradient_x_input")
    qtbot.waitUntil(lambda: demo.panels[0].result is not None and demo.panels[0].result.method == "gradient_x_input",
                    timeout=60000)
    assert demo.ctx.state.case == 6 and demo.case == 6
    assert demo.method_panel.method() == "gradient_x_input"


def test_lime_shows_superpixel_outlines(qtbot, demo):
    demo.auto_run.setChecked(False)
    _select_method(demo, "lime")
    demo.ctx.state.select_case(2)
    demo.run_all()
    result = _wait_result(qtbot, demo)
    canvas = demo.canvases[0]
    assert result.segments is not None and result.segments.shape == (1, 28, 28)
    outlines = canvas.outline_item.image
    expected = overlay.outline_mask(result.segments[0])
    assert outlines.shape == (448, 448, 4) and 0 < expected.sum() < 0.2 * expected.size  # thin lines
    np.testing.assert_array_equal(outlines[..., 3] > 0, expected)
    assert canvas.outline_item.mapRectToParent(canvas.outline_item.boundingRect()).width() == 28
    _shot(demo, "canvas_lime_outlines")
    demo.display.outlines.setChecked(False)
    assert canvas.outline_item.image is None


def _select_method(view: AttributionView, method: str) -> None:
    view.method_panel.combo.setCurrentIndex(view.method_panel.combo.findData(method))
    assert view.method_panel.method() == method


def test_escape_cancels_a_long_job_within_a_batch_and_the_next_run_works(qtbot, engine, view, monkeypatch):
    """Occlusion with stride 1 on a 96x96 CNN (~250 batches); Esc after the first progress."""
    from engine.jobs import JobContext as Context

    reports: list[tuple[float, bool]] = []  # (fraction, already cancelled), on the engine thread
    real_progress = Context.progress
    monkeypatch.setattr(Context, "progress",
                        lambda self, f, m="": reports.append((f, self.cancelled())) or real_progress(self, f, m))
    _run(qtbot, engine, "tests.gui.test_canvas:long_job_workspace_task")
    view.ctx.state.set_dataset(None)
    view.auto_run.setChecked(False)
    _select_method(view, "occlusion")
    view.method_panel.editors["stride"].setValue(1)
    view.ctx.state.select_case(0)
    qtbot.waitUntil(lambda: view.case_view is not None, timeout=30000)
    view.run_all()
    qtbot.waitUntil(lambda: view.progress.value() > 0, timeout=60000)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    # the cancelled error is delivered at once, before the engine has even stopped
    assert not view.panels[0].pending and view.canvases[0].message.toPlainText() == "cancelled"
    qtbot.waitUntil(lambda: not engine.is_busy(), timeout=60000)
    after_cancel = [f for f, cancelled in reports if cancelled]
    print(f"reports: {len(reports)}, after cancel: {len(after_cancel)}, last fraction {reports[-1][0]:.3f}")
    assert len(after_cancel) <= 2, f"{len(after_cancel)} batches ran after cancel"
    assert max(f for f, _ in reports) < 0.5  # stopped early, not at the end
    assert not len(cache.memory(engine.workspace, explain_service.CACHE_NAME, 1))  # nothing half-done cached

    _select_method(view, "saliency")
    view.run_all()
    result = _wait_result(qtbot, view)
    assert result.method == "saliency" and result.heatmap.shape == (1, MID_SIZE, MID_SIZE)


def test_cam_layer_is_chosen_from_the_models_spatial_layers(qtbot, demo):
    demo.auto_run.setChecked(False)
    _select_method(demo, "gradcam")
    layer = demo.method_panel.editors["layer"]
    paths = [layer.itemData(i) for i in range(layer.count())]
    assert paths == [None, "conv1", "conv2", "pool", "conv3"]  # 4-D outputs only, auto first
    layer.setCurrentIndex(paths.index("conv2"))
    demo.ctx.state.select_case(8)
    demo.run_all()
    result = _wait_result(qtbot, demo)
    assert result.method == "gradcam" and result.params["layer"] == "conv2"


def test_grid_panel_count_and_back_to_single(qtbot, demo):
    demo.auto_run.setChecked(False)
    demo.ctx.state.select_case(10)
    qtbot.waitUntil(lambda: demo.case_view is not None, timeout=30000)
    assert demo.panels[0].result is None and not demo.jobs.busy("panel0")  # no auto-run
    _select_method(demo, "gradient_x_input")
    qtbot.keyClick(demo, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert len(demo.canvases) == 4 and demo.panels[0].method == "gradient_x_input"
    assert len({p.method for p in demo.panels}) == 4
    demo.panel_count.setValue(6)
    assert len(demo.canvases) == 6 and demo.grid.getItemPosition(demo.grid.indexOf(demo.map_grid.cells[5]))[:2] == (1, 2)
    demo.panel_count.setValue(2)
    assert len(demo.canvases) == 2
    demo.set_active(1)
    second = demo.panels[1].method
    demo.set_grid(False)
    assert len(demo.canvases) == 1 and demo.panels[0].method == second == demo.method_panel.method()


def test_tabular_case_lists_strongest_features_instead_of_an_image(qtbot, engine, view):
    _run(qtbot, engine, "tests.gui.test_canvas:tabular_workspace_task")
    view.ctx.state.set_dataset(None)
    view.ctx.state.select_case(2)
    result = _wait_result(qtbot, view)
    qtbot.waitUntil(lambda: view.case_view is not None, timeout=30000)
    assert view.case_view.image is None and result.heatmap is None and result.maps.shape == (1, 6)
    lines = view.canvases[0].message.toPlainText().splitlines()
    strongest = int(np.argmax(np.abs(result.maps[0])))
    assert len(lines) == 6 and lines[0].startswith(f"feature {strongest}:")


def test_panel_kept_when_leaving_the_grid_gets_its_running_result(qtbot, demo):
    _select(qtbot, demo, 13)
    demo.quick_look()
    demo.set_active(3)  # occlusion, still queued behind the other three
    assert demo.panels[3].pending
    demo.set_grid(False)
    result = _wait_result(qtbot, demo)
    assert result.method == "occlusion" and len(demo.panels) == 1
    assert demo.canvases[0].heatmap is not None and "Occlusion" in demo.canvases[0].title.text()


def test_top5_and_top_prediction_target_read_the_stored_predictions(qtbot, demo):
    """The canvas's top-5 is AppState's predictions row (the case list's numbers), not its own pass."""
    from engine.predictions import Predictions, to_probabilities

    _select(qtbot, demo, 3)
    engine_top = [int(demo.target.table.item(r, 0).text()) for r in range(5)]
    n = len(demo.ctx.state.dataset.names)
    logits = np.zeros((n, 10))
    logits[3] = np.arange(10)[::-1] * 0.5  # class 0 first, then 1, 2, ...: unlike the model's ranking
    logits[3, engine_top[0]] = -5.0  # the model's own top class last
    probs = to_probabilities(logits, None)
    stored = Predictions(probs, probs.argmax(axis=1), probs.max(axis=1), "sha", demo.ctx.state.dataset.hash)
    demo.ctx.state.set_predictions(stored)
    table = demo.target.table
    shown = [int(table.item(r, 0).text()) for r in range(table.rowCount())]
    expected = [c for c in range(10) if c != engine_top[0]][:5]
    assert shown == expected
    assert [float(table.item(r, 2).text()) for r in range(5)] == pytest.approx(probs[3, expected], abs=5e-4)
    assert demo._target() == expected[0]  # "top prediction" explains the table's top row
    demo.ctx.state.set_predictions(None)  # no stored predictions: the case view's own pass again
    assert demo._target() == engine_top[0]
