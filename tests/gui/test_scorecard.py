"""The scorecard under the canvas's maps and the Benchmark view, on the demo model."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from engine.errors import BadInputError
from engine.jobs import JobContext
from engine.metrics.region import polygon_scores
from gui.views.benchmark import BenchmarkView, format_cases, parse_cases, ranking
from tests.gui.test_canvas import _run, _select, _shot, demo, view  # noqa: F401 - shared fixtures

SCORED = ("deletion", "insertion", "sparseness")


def flat_workspace_task(ctx: JobContext) -> Any:
    """A CNN whose last Dense is all zero (uniform output, like an untrained network)."""
    import keras

    from engine.data import Dataset

    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    h = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, activation="relu")(inputs))
    outputs = keras.layers.Dense(4, activation="softmax", kernel_initializer="zeros")(h)
    ctx.workspace.set_model(keras.Model(inputs, outputs), None)
    x = np.random.default_rng(0).integers(0, 256, size=(2, 16, 16, 3), dtype=np.uint8)
    ctx.workspace.dataset = Dataset.from_arrays(x, np.arange(2))
    return 2


def _scores(canvas, panel: int = 0) -> dict[str, Any]:
    return canvas.scorecard.scores.get(canvas.scorecard.key(canvas.panels[panel]), {})


def direct_deletion_task(ctx: JobContext, case: int, maps: np.ndarray, target: int, **params: Any) -> float:
    """The engine's own deletion score of `maps` on the open model's `case` (what the card must show)."""
    from engine.metrics import create

    x = np.ascontiguousarray(ctx.workspace.dataset.inputs([case]), dtype=np.float32)
    return float(create("deletion", ctx.workspace.require_model(), **params).evaluate(x, maps, [target]).scores[0])


def test_fast_scores_appear_by_themselves_and_slow_ones_on_a_click(qtbot, demo, tmp_path):  # noqa: F811
    _select(qtbot, demo, 3)
    qtbot.waitUntil(lambda: set(SCORED) <= set(_scores(demo)), timeout=60000)
    card = demo.scorecard.cards[0]
    assert float(card.values["deletion"].text()) < float(card.values["insertion"].text())
    assert card.curves["deletion"].curve.shape == (11,) and card.curves["deletion"].curve[0] > 0.9
    assert "lower is better" in card.values["deletion"].toolTip()
    assert card.values["randomisation"].text() == "—" and not card.warnings.isVisible()
    qtbot.mouseClick(card.sanity_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "randomisation" in _scores(demo), timeout=60000)
    assert card.values["randomisation"].text().startswith("passes")
    drawn: list = []
    demo.ctx.state.region_drawn.connect(lambda case, region: drawn.append((case, region)))
    demo.scorecard.region_button.setChecked(True)  # the middle half of the digit
    assert "of mass inside" in card.values["region"].text()
    assert drawn and drawn[-1][0] == 3 and "saliency" in drawn[-1][1]["maps"]
    assert drawn[-1][1]["box_top_left_bottom_right"] == [7.0, 7.0, 21.0, 21.0]
    demo.scorecard.region_shape.setCurrentIndex(demo.scorecard.region_shape.findData("polygon"))
    tool = demo.scorecard.region
    assert tool.box is None and tool.polygon.shape == (8, 2) and "polygon_x_y" in drawn[-1][1]
    roi = tool.rois[0]
    roi.movePoint(roi.getHandles()[0], QPointF(27.0, 14.0))  # the reviewer drags a vertex to the right edge
    assert tool.polygon[0].tolist() == [27.0, 14.0]
    heat = demo.panels[0].result.heatmap[0]
    expected = polygon_scores(heat, tool.polygon, (28, 28))
    assert card.values["region"].text() == (
        f"peak {'inside' if expected.pointing_hit else 'outside'}, {100 * expected.mass_inside:.0f}% of mass inside")
    _shot(demo, "scorecard_free_form_region")
    _shot(demo, "scorecard_demo")
    written = demo.export_maps(tmp_path / "case3")
    record = json.loads(written[-1].read_text())
    assert set(record["scores"]) == {*SCORED, "randomisation", "region"} and record["warnings"] == []
    assert record["scores"]["region"]["polygon_x_y"][0] == [27.0, 14.0]
    assert record["scores"]["region"]["mass_inside"] == pytest.approx(expected.mass_inside)
    assert record["scores"]["deletion"]["score"] == pytest.approx(_scores(demo)["deletion"].score)


def test_an_untrained_like_model_shows_its_warnings(qtbot, view):  # noqa: F811
    _run(qtbot, view.ctx.engine, "tests.gui.test_scorecard:flat_workspace_task")
    view.ctx.state.set_model(None)
    view.show_case(0)
    qtbot.waitUntil(lambda: view.panels[0].result is not None, timeout=60000)
    card = view.scorecard.cards[0]
    qtbot.waitUntil(card.warnings.isVisible, timeout=10000)
    assert "nearly uniform" in card.warnings.text() and "all zero" in card.warnings.text()


def test_the_benchmark_ranks_methods_exports_csv_and_orders_the_quick_look(qtbot, demo, tmp_path):  # noqa: F811
    bench = BenchmarkView(demo.ctx)
    qtbot.addWidget(bench)
    qtbot.waitUntil(lambda: bench.method_list.count() > 0 and bench.metric_list.count() > 0, timeout=30000)
    bench.n_cases = 100
    bench.cases.setText("0-1")
    ranked: list = []
    demo.ctx.state.methods_ranked.connect(lambda methods, show: ranked.append(methods))
    bench.run()
    qtbot.waitUntil(lambda: bench.result is not None, timeout=120000)
    assert bench.table.rowCount() == len(bench.result.methods) == 5
    assert bench.result.scores.shape == (5, 3, 2) and np.isfinite(bench.result.scores).all()
    assert ranked and demo.quick_look_methods == tuple(ranked[0][:4])
    bench.show_cases(1)
    assert bench.detail.rowCount() == 2
    bench.export_csv(str(tmp_path / "bench.csv"))
    lines = (tmp_path / "bench.csv").read_text().splitlines()
    assert lines[0] == "method,metric,better,case,score,baseline" and len(lines) == 1 + 5 * 3 * (2 + 2)
    assert lines[1].endswith(",0") and "baseline 0." in bench.status.text()  # deletion names its baseline


def test_choosing_the_blur_baseline_scores_the_map_as_the_engine_does_and_says_so(qtbot, demo, tmp_path):  # noqa: F811
    """Blur (sigma 2 px) on the scorecard: the card's deletion is the engine's deletion with
    baseline="blur", not the zero baseline's; the choice is in the settings, the tooltip, the
    exported record and the Benchmark view (which reads the same setting)."""
    _select(qtbot, demo, 3)
    qtbot.waitUntil(lambda: set(SCORED) <= set(_scores(demo)), timeout=60000)
    zero = _scores(demo)["deletion"].score
    choice = demo.scorecard.baseline
    choice.kind.setCurrentIndex(choice.kind.findData("blur"))
    choice.value.setValue(2.0)
    qtbot.waitUntil(lambda: set(SCORED) <= set(_scores(demo)), timeout=60000)
    blurred = _scores(demo)["deletion"]
    result = demo.panels[0].result
    direct = _run(qtbot, demo.ctx.engine, "tests.gui.test_scorecard:direct_deletion_task", case=3,
                  maps=result.maps, target=int(result.targets[0]), baseline="blur", blur_sigma=2.0)
    assert blurred.score == pytest.approx(direct, rel=1e-6) and abs(blurred.score - zero) > 1e-3
    assert demo.ctx.settings.get("metric_baseline") == {"baseline": "blur", "blur_sigma": 2.0}
    card = demo.scorecard.cards[0]
    assert card.values["deletion"].text() == f"{direct:.3f}"
    assert "Baseline: blur, σ 2 px" in card.values["deletion"].toolTip()
    assert "Baseline" not in card.values["sparseness"].toolTip()  # sparseness takes no baseline
    record = json.loads(demo.export_maps(tmp_path / "case3")[-1].read_text())
    assert record["scores"]["deletion"]["provenance"]["params"]["baseline"] == "blur"
    assert record["scores"]["deletion"]["provenance"]["params"]["blur_sigma"] == 2.0
    choice.kind.setCurrentIndex(choice.kind.findData("zero"))  # back: the zero scores are still cached
    assert _scores(demo)["deletion"].score == zero
    choice.kind.setCurrentIndex(choice.kind.findData("blur"))
    bench = BenchmarkView(demo.ctx)
    qtbot.addWidget(bench)
    assert bench.baseline.params() == {"baseline": "blur", "blur_sigma": 2.0}
    for size in ((1400, 900), (1920, 1080)):
        bench.resize(*size)
        _shot(bench, f"benchmark_baseline_{size[0]}x{size[1]}")
    demo.resize(1400, 900)
    _shot(demo, "scorecard_blur_baseline_1400x900")
    demo.resize(1920, 1080)
    _shot(demo, "scorecard_blur_baseline_1920x1080")


def test_case_lists_and_the_ranking_rule():
    assert parse_cases("0-3, 7; 2", 10) == [0, 1, 2, 3, 7]
    assert format_cases([7, 2, 0, 3, 1, 9, 10]) == "0-3, 7, 9-10" and format_cases([]) == ""
    assert parse_cases(format_cases([5, 1, 2, 8]), 10) == [1, 2, 5, 8]
    with pytest.raises(BadInputError, match="outside"):
        parse_cases("5-12", 10)
    scores = np.array([[[0.1, 0.2], [0.9, 0.8]], [[0.5, 0.4], [0.3, 0.2]]])  # (methods, metrics, cases)
    np.testing.assert_array_equal(ranking(scores, ("lower", "higher")), [1.0, 2.0])


def test_each_map_cell_carries_its_own_card_with_mufidelity(qtbot, main_window):
    """The cards live in the maps' cells (2 and 4 maps, two window sizes); MuFidelity on a click."""
    window = main_window
    window.resize(1400, 900)
    window.show()
    with qtbot.waitSignal(window.ctx.state.dataset_changed, timeout=120000):
        window.start()
    canvas = window.views["attribution"]
    canvas.set_grid(True)
    for count in (2, 4):
        canvas.panel_count.setValue(count)
        _select(qtbot, canvas, 3 + count, panels=count)
        qtbot.waitUntil(lambda c=count: all(canvas.panels[i].result is not None for i in range(c)), timeout=60000)
        qtbot.waitUntil(lambda: not canvas.scorecard.busy, timeout=60000)
        cards = canvas.scorecard.cards
        assert len(cards) == count
        for cell, card in zip(canvas.map_grid.cells, cards):
            assert card.parent() is cell and card.isVisible()
            assert card.geometry().top() >= cell.canvas.geometry().bottom()  # under its own map
        qtbot.mouseClick(cards[-1].fidelity_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda c=count: "mufidelity" in _scores(canvas, c - 1), timeout=60000)
        fidelity = _scores(canvas, count - 1)["mufidelity"].score
        assert -1.0 <= fidelity <= 1.0 and cards[-1].values["mufidelity"].text() == f"{fidelity:.3f}"
        assert all(card.values["mufidelity"].text() == "—" for card in cards[:-1])
        for width, height in ((1400, 900), (1920, 1080)):
            window.resize(width, height)
            qtbot.wait(50)
            _shot(window, f"scorecard_cells_{count}maps_{width}x{height}")


def test_the_baseline_choice_round_trips_and_a_bad_stored_one_falls_back(qtbot):
    from gui.settings import sanitize
    from gui.widgets.baseline_choice import BaselineChoice, describe

    choice = BaselineChoice()
    qtbot.addWidget(choice)
    emitted: list = []
    choice.changed.connect(emitted.append)
    choice.set_params({"baseline": -0.5})
    assert choice.kind.currentData() == "number" and choice.value.value() == -0.5 and not emitted
    choice.value.setValue(0.25)
    assert emitted[-1] == {"baseline": 0.25} and describe(emitted[-1]) == "0.25"
    choice.kind.setCurrentIndex(choice.kind.findData("mean"))
    assert emitted[-1] == {"baseline": "mean"} and choice.value.isHidden()
    choice.set_params({"baseline": "wobble"})  # not a baseline: the default (0)
    assert choice.params() == {"baseline": 0.0}
    kept, dropped = sanitize({"metric_baseline": {"baseline": "blur", "blur_sigma": -1}})
    assert "metric_baseline" not in kept and dropped == ["metric_baseline"]
    assert sanitize({"metric_baseline": {"baseline": "blur", "blur_sigma": 3}})[0] == {"metric_baseline": {"baseline": "blur", "blur_sigma": 3}}
