"""The breast-cancer demo end to end in the main window (issue 15): the table opens with its
recipe, a case shows its raw values, and an explanation is drawn as bars and a waterfall.

Set GLASSBOX_SHOTS to a folder to also save screenshots at 1400x900 and 1920x1080."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from gui.main_window import MainWindow

pytestmark = pytest.mark.slow
SHOTS = os.environ.get("GLASSBOX_SHOTS", "")


def shoot(qtbot, window: MainWindow, name: str) -> None:
    if not SHOTS:
        return
    for width, height in ((1400, 900), (1920, 1080)):
        window.resize(width, height)
        qtbot.wait(200)
        window.grab().save(str(Path(SHOTS) / f"{name}_{width}x{height}.png"))


def test_breast_cancer_demo_bars_waterfall_and_recipe(qtbot, main_window: MainWindow) -> None:
    window = main_window
    window.resize(1400, 900)
    window.show()
    state = window.ctx.state
    window.ctx.engine.start()
    with qtbot.waitSignal(state.predictions_changed, timeout=120000, check_params_cb=lambda p: p is not None):
        window.open_demo(1)  # Breast-cancer MLP (tabular)
    cases, canvas = window.views["cases"], window.views["attribution"]
    summary = state.dataset
    assert summary.kind == "tabular" and len(summary) == 569 and summary.input_shape == (30,)
    assert summary.class_names == ("malignant", "benign")
    assert cases.tabular_recipe.isVisible() and not cases.preprocessing.isVisible()
    recipe = cases.tabular_recipe
    assert recipe.label_combo.currentText() == "diagnosis"
    assert recipe.source_combo.currentData() == "file" and recipe.columns.rowCount() == 32
    assert recipe.columns.item(0, 0).text() == "mean_radius"
    assert float(recipe.columns.item(0, 6).text()) == pytest.approx(summary.preprocessing["features"][0]["offset"])
    accuracy = float((state.predictions.predicted == summary.labels).mean())
    assert accuracy > 0.9  # the demo's scaling reached the model

    case = 12
    canvas.auto_run.setChecked(False)
    canvas.method_panel.set_method("kernel_shap", {"nb_samples": 256})
    canvas._on_params_changed()
    cases.select_row(cases.table_model.row_of(case))
    assert state.case == case
    details = cases.tabular_details
    assert details.item(0, 0).text() == "mean_radius"
    assert details.item(0, 1).text() == summary.table.row(case)["mean_radius"]  # raw, not scaled
    with qtbot.waitSignal(canvas.result_shown, timeout=120000):
        canvas.run_all()
    cell = canvas.map_grid.cells[0]
    chart = cell.chart
    assert chart is not None and chart.isVisible() and not cell.canvas.isVisible()
    result = chart.result
    values = np.ravel(result.maps[0])
    bars = chart.bars.items
    assert len(bars) == 10
    magnitudes = [abs(v) for _, v in bars]
    assert magnitudes == sorted(magnitudes, reverse=True) and magnitudes[0] == pytest.approx(np.abs(values).max())
    top = int(np.argmax(np.abs(values)))
    name = summary.table.input_names[top]
    assert bars[0][0] == f"{name} = {summary.table.row(case)[name]}"
    steps = chart.waterfall.steps
    assert chart.waterfall.isVisible() and len(steps) == 11  # 20 other features, then the top 10
    assert steps[0].start == pytest.approx(result.base_value)
    assert steps[-1].end == pytest.approx(result.output_value, abs=1e-4)  # Kernel SHAP is exact
    shoot(qtbot, window, "tabular_kernel_shap")
    png = canvas.png_bytes()  # the export shows the chart, not an empty image
    from PySide6.QtGui import QImage

    exported = QImage.fromData(png)
    assert exported.width() >= chart.scroll.widget().width() and exported.height() > 200

    chart.k_box.setValue(5)
    assert len(chart.bars.items) == 5 and chart.bars.items == bars[:5]
    canvas.method_panel.set_method("saliency", {})
    canvas._on_params_changed()
    with qtbot.waitSignal(canvas.result_shown, timeout=120000):
        canvas.run_all()
    assert chart.isVisible() and not chart.waterfall.isVisible()  # not additive: bars only
    recipe.collapsible.expand(animate=False)
    shoot(qtbot, window, "tabular_recipe_saliency")
    if SHOTS:
        recipe.dialog.show()
        qtbot.wait(200)
        recipe.dialog.grab().save(str(Path(SHOTS) / "tabular_recipe_columns.png"))
        recipe.dialog.hide()

    models = window.ctx.settings.get("preprocessing", {})
    assert models[state.model.sha256]["kind"] == "tabular"  # stored per model, like the image recipe
    with qtbot.waitSignal(state.predictions_changed, timeout=120000, check_params_cb=lambda p: p is not None):
        recipe.scaling_combo.setCurrentIndex(recipe.scaling_combo.findData("minmax"))
    assert state.dataset.hash != summary.hash and state.dataset.preprocessing["scaling"] == "minmax"
    assert state.dataset.preprocessing["scaling_source"] == "fitted"  # min-max is not the file's scaling
    assert recipe.source_combo.currentData() == "fitted"
