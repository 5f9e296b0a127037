"""The weight view: filter modes with exact readouts, a downsampled heatmap that turns exact when
zoomed, and the model overview that highlights a layer with exploding weights."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import QRectF, Qt

from engine.jobs import JobContext
from gui.context import AppContext
from gui.settings import Settings
from gui.state import AppState
from gui.views.weights import FLAGGED, WeightView
from tests.gui.tasks_for_tests import submit_call

INSTALL = "tests.gui.test_weight_view:install_task"
SHOTS = Path(__file__).resolve().parents[2] / "shots"  # gitignored; screenshots when it exists


def install_task(ctx: JobContext) -> dict[str, np.ndarray]:
    """An RGB conv, a 144x3000 dense kernel (wider than the display) and a layer blown up 1e4x."""
    import keras

    keras.utils.set_random_seed(0)
    x_in = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="rgb")(x_in)
    x = keras.layers.Flatten(name="flat")(x)
    x = keras.layers.Dense(3000, name="wide")(x)
    for name in ("d1", "d2", "d3"):
        x = keras.layers.Dense(16, name=name)(x)
    model = keras.Model(x_in, keras.layers.Dense(2, name="out")(x))
    blown = model.get_layer("d2").kernel
    blown.assign(blown.numpy() * 1e4)
    ctx.workspace.set_model(model, None)
    return {name: model.get_layer(name).kernel.numpy() for name in ("rgb", "wide")}


@pytest.fixture
def setup(qtbot, engine) -> Iterator[tuple[WeightView, AppContext, dict[str, np.ndarray]]]:
    ctx = AppContext(engine, AppState(), Settings())
    out: list = []
    submit_call(engine, INSTALL, on_result=out.append, on_error=out.append)
    qtbot.waitUntil(lambda: bool(out), timeout=30000)
    view = WeightView(ctx)
    qtbot.addWidget(view)
    view.resize(1000, 700)
    view.show()
    ctx.state.set_model(SimpleNamespace(name="test"))
    yield view, ctx, out[0]


def select(qtbot, view: WeightView, ctx: AppContext, path: str) -> None:
    with qtbot.waitSignal(view.shown, timeout=30000):
        ctx.state.select_layer(path)


def test_rgb_filters_modes_and_exact_readout(qtbot, setup) -> None:
    view, ctx, kernels = setup
    select(qtbot, view, ctx, "rgb")
    kernel = kernels["rgb"]
    assert [view.mode.itemData(i) for i in range(view.mode.count())] == ["rgb", "mean", "channel"]
    tiles, _ = view.filter_tiles()
    assert tiles.shape == (4, 3, 3, 3)
    panel = view.filters.panels[0]
    assert panel.colormap is None and panel.layout.n == 4
    view._on_filter_hover(0, 2, 1, 0)
    values = ", ".join(f"{v:.4g}" for v in kernel[1, 0, :, 2])
    assert view.readout.text() == f"filter 2 at (1, 0), RGB: {values}"

    view.mode.setCurrentIndex(2)
    view.channel.setValue(1)
    assert view.channel.isVisible()
    view._on_filter_hover(0, 3, 2, 2)
    assert view.readout.text() == f"filter 3 at (2, 2), input channel 1: {kernel[2, 2, 1, 3]:.4g}"
    top = float(np.abs(kernel[:, :, 1, :]).max())
    assert view.filters.panels[0].levels == (-top, top)

    view.tensors.selectRow(1)  # the bias: bars
    assert view.values_stack.currentWidget() is view.bars and view.bars.n == 4
    assert view.stats.text().startswith("bias")


def test_wide_matrix_is_downsampled_then_exact_when_zoomed(qtbot, setup) -> None:
    view, ctx, kernels = setup
    select(qtbot, view, ctx, "wide")
    heatmap = view.heatmap
    assert heatmap.display.shape == (144, 3000) and heatmap.display.block == (1, 2)
    assert heatmap.image.image.shape == (144, 1500)
    assert "block max-abs" in view.resolution.text()
    if SHOTS.is_dir():
        view.grab().save(str(SHOTS / "weights_downsampled_heatmap.png"))
    full = kernels["wide"]
    assert heatmap.value_text(100, 2999) == f"input 100, unit 2999: {full[100, 2999]:.6g}"
    with qtbot.waitSignal(heatmap.resolution_changed, timeout=5000) as blocker:
        heatmap.getPlotItem().vb.setRange(QRectF(1000, 10, 200, 50), padding=0)
    assert blocker.args == ["exact"]
    r0, r1, c0, c1 = heatmap._exact_region
    np.testing.assert_array_equal(heatmap.image.image, full[r0:r1, c0:c1])
    assert c0 <= 1000 and c1 >= 1200
    if SHOTS.is_dir():
        view.grab().save(str(SHOTS / "weights_zoomed_exact_heatmap.png"))


def test_overview_highlights_the_exploding_layer_and_opens_it(qtbot, setup) -> None:
    view, ctx, _ = setup
    with qtbot.waitSignal(view.overview_shown, timeout=30000) as blocker:
        view.tabs.setCurrentIndex(1)
    assert blocker.args == [6]
    table = view.overview_table
    assert not table.compute.isVisible() and not view.jobs.bar.isVisible()
    model = table.model
    assert [r.path for r in model.rows] == ["rgb", "wide", "d1", "d2", "d3", "out"]
    flagged = [r.path for r in model.rows if r.flags]
    assert flagged == ["d2"]
    d2 = model.index(3, 0)
    assert model.data(d2, Qt.ItemDataRole.BackgroundRole).color() == FLAGGED
    assert "exploding" in model.data(d2, Qt.ItemDataRole.ToolTipRole)

    std_column = 5
    table.table.sortByColumn(std_column, Qt.SortOrder.DescendingOrder)
    assert table.proxy.data(table.proxy.index(0, 0)) == "d2"
    table.flagged.setChecked(True)
    assert table.proxy.rowCount() == 1

    with qtbot.waitSignal(view.shown, timeout=30000):
        table._open_layer(table.proxy.index(0, 0))
    assert ctx.state.layer == "d2" and view.tabs.currentIndex() == 0
    assert view.result.tensors[0].stats.max > 100


def test_stats_panel_warns_about_nan_and_inf(qtbot) -> None:
    from engine.weights import tensor_stats
    from gui.widgets.tensor_stats import StatsPanel

    panel = StatsPanel()
    qtbot.addWidget(panel)
    panel.show_stats(tensor_stats(np.array([1.0, np.nan, np.inf, -np.inf, 0.0])), full=True, prefix="kernel")
    assert panel.nonfinite == 3 and "⚠ 1 NaN, 2 Inf" in panel.text()
    assert "std 0.5" in panel.text() and "zeros 50.0%" in panel.text()
    panel.show_stats(tensor_stats(np.array([2.0, 4.0])))
    assert panel.nonfinite == 0 and "NaN" not in panel.text() and "std" not in panel.text()
