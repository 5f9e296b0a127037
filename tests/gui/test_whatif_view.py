"""The text case view and the What-if view in the real window, on the text and digits demos.

Token colours are symmetric around 0; the text demo's case shows its words coloured in the map
cell; editing the sentence gives the model's prediction of the new sentence; a kept edit is a
new case in the case list, named after its origin; a brush stroke on a digit updates the
prediction and the map. Screenshots (1400x900 and 1920x1080) land in shots/.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from gui.main_window import MainWindow
from gui.panels.text_tokens import LUT_SIZE, colour_index, diverging_lut, token_colours

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo"
SHOTS = ROOT / "shots"
TIMEOUT = 120000


def test_token_colours_are_symmetric_around_zero() -> None:
    lut = diverging_lut()
    for v in (0.1, 0.37, 0.9, 2.0):
        assert colour_index(-v, 2.0) == LUT_SIZE - 1 - colour_index(v, 2.0)
    assert colour_index(0.0, 2.0) == LUT_SIZE // 2
    colours = token_colours([-0.5, 0.5, 0.0, -1.0, 1.0], lut)
    assert colours[0] == tuple(lut[LUT_SIZE - 1 - colour_index(0.5, 1.0)])
    assert colours[3] == tuple(lut[0]) and colours[4] == tuple(lut[-1])  # the ends are -m and +m
    assert colours[0] != colours[1]
    middle = np.asarray(colours[2])
    assert np.all(middle > 200)  # white at 0 (CET-D1)
    # mirrored: -v's colour is the mirror entry of +v's, and the two sides differ in hue (blue vs red)
    assert colours[0][2] > colours[0][0] and colours[1][0] > colours[1][2]


def _open(qtbot, model: str, cases: str, size: tuple[int, int] = (1400, 900)) -> MainWindow:
    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(*size)
    win.show()
    win.ctx.engine.start()
    with qtbot.waitSignal(win.ctx.state.model_changed, timeout=TIMEOUT):
        win.open_model(str(DEMO / model), dataset=str(DEMO / cases))
    qtbot.waitUntil(lambda: win.views["cases"].summary is not None and win.ctx.state.predictions is not None,
                    timeout=TIMEOUT)
    return win


def _show_whatif(win: MainWindow) -> object:
    dock = win.docks["whatif"]
    dock.show()
    dock.raise_()
    return win.views["whatif"]


def _shot(qtbot, win: MainWindow, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    for size in ((1400, 900), (1920, 1080)):
        win.resize(*size)
        qtbot.wait(250)
        win.grab().save(str(SHOTS / f"{name}_{size[0]}x{size[1]}.png"))


@pytest.mark.slow
def test_text_demo_tokens_edit_and_counterfactual(qtbot) -> None:
    import keras
    import tensorflow as tf

    win = _open(qtbot, "review_sentiment.keras", "reviews.csv")
    canvas, whatif = win.views["attribution"], _show_whatif(win)
    win.ctx.state.explain_requested.emit(0, "gradient_x_input")  # signed, and differs word by word
    qtbot.waitUntil(lambda: canvas.panels[canvas.active].result is not None
                    and canvas.panels[canvas.active].result.method == "gradient_x_input", timeout=TIMEOUT)
    cell = canvas.map_grid.cells[canvas.active]
    assert cell.text is not None and cell.text.isVisible() and not cell.canvas.isVisible()
    sentence = cell.text.sentence.text()
    assert "background-color:rgb" in sentence and "padding" in sentence  # coloured words, padding counted
    assert "Top tokens" in cell.text.top.text() and "%" in cell.text.prediction.text()

    qtbot.waitUntil(lambda: whatif.prediction is not None and whatif.explanation is not None, timeout=TIMEOUT)
    new = "the staff was rude and awful today"
    with qtbot.waitSignal(whatif.answered, timeout=TIMEOUT, check_params_cb=lambda what: what == "map"):
        whatif.sentence.set_text(new)
    model = keras.saving.load_model(DEMO / "review_sentiment.keras")
    direct = np.asarray(model(tf.constant([[new]]), training=False))[0]
    assert whatif.prediction.edit == {"kind": "text", "text": new}
    np.testing.assert_allclose(whatif.prediction.probabilities, np.sort(direct)[::-1], rtol=1e-5)
    assert "rude" in whatif.tokens.sentence.text()
    assert whatif.timings[-1]["prediction_ms"] > 0 and whatif.timings[-1]["map_ms"] > 0
    _shot(qtbot, win, "whatif_text")

    n = len(win.ctx.state.dataset)
    assert whatif.keep_button.isEnabled()
    whatif.keep()
    qtbot.waitUntil(lambda: win.ctx.state.dataset is not None and len(win.ctx.state.dataset) == n + 1
                    and win.ctx.state.case == n, timeout=TIMEOUT)
    summary = win.ctx.state.dataset
    assert summary.names[n] == f"counterfactual 1 of {summary.names[0]}"
    assert win.views["cases"].table_model.rowCount() == n + 1
    assert win.findChild(QMessageBox, "errorDialog") is None
    win.close()


@pytest.mark.slow
def test_digits_brush_updates_prediction_and_map(qtbot) -> None:
    win = _open(qtbot, "digits_cnn.keras", "digits_cases.npz")
    whatif = _show_whatif(win)
    win.ctx.state.select_case(3)
    qtbot.waitUntil(lambda: whatif.prediction is not None and whatif.explanation is not None, timeout=TIMEOUT)
    before = whatif.prediction
    whatif.brush.op.setCurrentIndex(whatif.brush.op.findData("erase"))
    whatif.brush.radius.setValue(4.0)
    with qtbot.waitSignal(whatif.answered, timeout=TIMEOUT, check_params_cb=lambda what: what == "map"):
        whatif.brush.stroke([[8, 8], [20, 20]])
    after = whatif.prediction
    assert after.edit["strokes"][0]["op"] == "erase"
    assert after.image.shape == before.image.shape
    changed = after.image != before.image
    assert changed.any() and not changed[0, :].any()  # the top row is far from the stroke
    assert not np.allclose(after.probabilities, before.probabilities)
    assert whatif.brush.canvas.heatmap is not None
    _shot(qtbot, win, "whatif_digits")
    win.close()


@pytest.mark.slow
def test_breast_cancer_row_kept_as_counterfactual_is_listed_with_its_values(qtbot) -> None:
    """Edit two columns of a demo CSV row in the What-if view, click "Keep as counterfactual": the
    edited row is a new case in the case list, with its raw values, and explains as bars."""
    win = _open(qtbot, "breast_cancer_mlp.keras", "breast_cancer.csv")
    whatif, cases, canvas = _show_whatif(win), win.views["cases"], win.views["attribution"]
    origin, n = 19, len(win.ctx.state.dataset)
    cases.select_row(cases.table_model.row_of(origin))
    qtbot.waitUntil(lambda: whatif.case == origin and whatif.prediction is not None, timeout=TIMEOUT)
    assert whatif.prediction.classes[0] == 1  # benign
    names = whatif.features.names
    with qtbot.waitSignal(whatif.answered, timeout=TIMEOUT, check_params_cb=lambda what: what == "prediction"):
        whatif.features.set_value(names.index("mean_radius"), 25.0)
        whatif.features.set_value(names.index("worst_area"), 2100.0)
    qtbot.waitUntil(lambda: whatif.prediction.edit["values"] == {"mean_radius": 25.0, "worst_area": 2100.0},
                    timeout=TIMEOUT)
    assert whatif.prediction.classes[0] == 0 and whatif.keep_button.isEnabled()  # now called malignant

    qtbot.mouseClick(whatif.keep_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(win.ctx.state.dataset) == n + 1 and win.ctx.state.case == n
                    and win.ctx.state.predictions is not None and len(win.ctx.state.predictions.predicted) == n + 1,
                    timeout=TIMEOUT)
    summary = win.ctx.state.dataset
    assert summary.names[n] == f"counterfactual 1 of {summary.names[origin]}"
    assert cases.table_model.rowCount() == n + 1
    row = cases.table_model.row_of(n)
    tip = cases.table_model.data(cases.table_model.index(row, 0), Qt.ItemDataRole.ToolTipRole)
    assert "mean_radius = 25" in tip
    assert cases.tabular_details.item(0, 0).text() == "mean_radius" and cases.tabular_details.item(0, 1).text() == "25"
    assert int(win.ctx.state.predictions.predicted[n]) == 0
    win.ctx.state.explain_requested.emit(n, "gradient_x_input")
    qtbot.waitUntil(lambda: canvas.panels[canvas.active].result is not None
                    and canvas.panels[canvas.active].result.method == "gradient_x_input", timeout=TIMEOUT)
    chart = canvas.map_grid.cells[canvas.active].chart
    assert chart is not None and chart.isVisible() and len(chart.bars.items) == 10
    qtbot.waitUntil(lambda: whatif.case == n and whatif.prediction is not None, timeout=TIMEOUT)
    assert "counterfactual 1 of" in whatif.header.text()
    assert win.findChild(QMessageBox, "errorDialog") is None
    _shot(qtbot, win, "whatif_table_counterfactual")
    win.close()


@pytest.mark.slow
def test_each_kind_opens_with_its_own_default_map_and_tools(qtbot) -> None:
    """Text opens on Gradient x Input (Saliency colours every word of an averaging model alike)
    with no region tool or pixel hint; back on images, Saliency and the region tool return. A
    method the user chose is kept across kinds."""
    win = _open(qtbot, "review_sentiment.keras", "reviews.csv")
    canvas = win.views["attribution"]
    scorecard = canvas.scorecard
    assert [p.method for p in canvas.panels] == ["gradient_x_input"]
    assert canvas.method_panel.method() in ("gradient_x_input", "")
    assert scorecard.region_button.isHidden() and scorecard.region_shape.isHidden()
    assert canvas.display.isHidden()
    assert win.views["cases"].preprocessing.isHidden()  # an image recipe means nothing for sentences
    qtbot.waitUntil(lambda: bool(canvas.method_panel.methods), timeout=TIMEOUT)
    canvas.method_panel.set_method("kernel_shap")
    assert "nb_samples" in canvas.method_panel.editors  # a word's units are its tokens: no segmentation
    assert not {"n_segments", "segmentation"} & set(canvas.method_panel.editors)
    canvas.method_panel.set_method("gradient_x_input")
    win.ctx.state.select_case(0)
    qtbot.waitUntil(lambda: canvas.case_view is not None and canvas.case_view.case == 0, timeout=TIMEOUT)
    assert "word" in canvas.readout.text() and "pixel" not in canvas.readout.text()
    with qtbot.waitSignal(win.ctx.state.model_changed, timeout=TIMEOUT):
        win.open_model(str(DEMO / "digits_cnn.keras"), dataset=str(DEMO / "digits_cases.npz"))
    qtbot.waitUntil(lambda: canvas.kind == "images", timeout=TIMEOUT)
    assert [p.method for p in canvas.panels] == ["saliency"]
    assert not scorecard.region_button.isHidden() and not canvas.display.isHidden()
    assert not win.views["cases"].preprocessing.isHidden()
    canvas.method_panel.set_method("kernel_shap")
    assert {"n_segments", "segmentation"} <= set(canvas.method_panel.editors)
    canvas.method_panel.set_method("saliency")
    canvas.panels[0].method = "occlusion"  # the user's choice, not a default: it stays
    canvas._set_kind("text")
    assert [p.method for p in canvas.panels] == ["occlusion"]
