"""The tabular chart's rows: top k by |attribution| with raw values, and a waterfall whose steps
run from the base value to base + sum(attributions) (no model needed)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from gui.panels.tabular_chart import TabularChart, top_features, waterfall

NAMES = ("age", "colour=red", "score", "bmi")
RAW = ("61", "red", "2.5", "missing → 24")
VALUES = np.array([0.5, -2.0, 1.0, 0.1])


def test_top_features_are_sorted_by_magnitude_with_raw_values() -> None:
    assert top_features(VALUES, NAMES, RAW, 3) == [("colour=red (red)", -2.0), ("score = 2.5", 1.0), ("age = 61", 0.5)]


def test_waterfall_runs_from_the_base_to_base_plus_sum() -> None:
    steps = waterfall(VALUES, NAMES, RAW, 2, base=1.0)
    assert [s.label for s in steps] == ["2 other features", "score = 2.5", "colour=red (red)"]
    assert steps[0].start == 1.0 and steps[0].value == pytest.approx(0.6)
    assert all(a.end == pytest.approx(b.start) for a, b in zip(steps, steps[1:]))  # each step starts where the last ended
    assert steps[-1].end == pytest.approx(1.0 + VALUES.sum())
    assert len(waterfall(VALUES, NAMES, RAW, 4, base=0.0)) == 4  # no "other" row when every feature is shown


def test_chart_shows_the_waterfall_only_for_additive_results(qtbot) -> None:
    chart = TabularChart()
    qtbot.addWidget(chart)
    chart.resize(600, 700)
    chart.show()
    result = SimpleNamespace(maps=VALUES[None], feature_names=NAMES, feature_values=RAW, base_value=1.0,
                             output_value=1.0 + VALUES.sum())
    chart.set_result(result, "Kernel SHAP")
    assert len(chart.bars.items) == 4 and chart.waterfall.isVisible() and chart.k_box.maximum() == 4
    assert "miss" not in chart.note.text()  # the steps end at the output: no gap to report
    chart.set_result(SimpleNamespace(**{**vars(result), "output_value": 2.0}), "Integrated Gradients")
    assert "miss the output by -1.4" in chart.note.text()  # 1 + (-0.4) ends 1.4 short of 2
    chart.k_box.setValue(2)
    assert [label for label, _ in chart.bars.items] == ["colour=red (red)", "score = 2.5"]
    assert not chart.bars.unsigned and "Red raises" in chart.note.text()
    chart.set_result(SimpleNamespace(**{**vars(result), "maps": np.abs(VALUES)[None], "base_value": None}), "Saliency")
    assert not chart.waterfall.isVisible()
    assert chart.bars.unsigned and "magnitude" in chart.note.text()  # |gradient|: no direction to colour
    assert chart.image_array().shape[2] == 3


def test_settings_keep_good_table_recipes_and_drop_damaged_ones() -> None:
    from gui.settings import sanitize

    good = {"kind": "tabular", "features": [{"name": "age", "kind": "numeric", "offset": 50.0, "scale": 10.0}],
            "label": "y"}
    damaged = {"kind": "tabular", "features": [{"name": "age", "kind": "numeric", "nonsense": 1, "offset": []}]}
    kept, dropped = sanitize({"preprocessing": {"a" * 64: good, "b" * 64: damaged}})
    assert kept["preprocessing"] == {"a" * 64: good} and dropped
