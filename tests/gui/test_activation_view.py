"""Selecting a layer updates both viewers (conv, dense, nested); the activation view's grid, pages,
sorting, enlarged channel and compare mode show the engine's numbers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtWidgets import QHBoxLayout, QWidget

from engine.jobs import JobContext
from tests.array_cases import ArrayCases
from gui.context import AppContext
from gui.settings import Settings
from gui.state import AppState
from gui.views.activations import PAGE, ActivationView
from gui.views.weights import WeightView
from gui.widgets.feature_grid import TileLayout, columns_for, indexed, normalise_tiles, tile_atlas, upsample
from tests.gui.tasks_for_tests import submit_call

INSTALL = "tests.gui.test_activation_view:install_task"
SHOTS = Path(__file__).resolve().parents[2] / "shots"  # gitignored; screenshots when it exists



def install_task(ctx: JobContext, wide: int = 4) -> str:
    """On the engine thread: a tiny model with a nested sub-model, and 5 random 12x12 cases.

    `wide` is the number of channels of the first convolution (PAGE+ tests paging).
    """
    import keras

    keras.utils.set_random_seed(0)
    inner_in = keras.Input((10, 10, wide))
    inner = keras.Model(inner_in, keras.layers.Conv2D(3, 3, activation="relu", name="conv_in")(inner_in),
                        name="inner")
    x_in = keras.Input((12, 12, 1))
    x = keras.layers.Conv2D(wide, 3, activation="relu", name="conv")(x_in)
    x = inner(x)
    x = keras.layers.Reshape((64, 3), name="seq")(x)
    x = keras.layers.Flatten(name="flat")(x)
    x = keras.layers.Dense(6, name="dense")(x)
    model = keras.Model(x_in, keras.layers.Dense(3, activation="softmax", name="out")(x), name="tiny")
    ctx.workspace.set_model(model, None)
    ctx.workspace.dataset = ArrayCases(np.random.default_rng(0).random((5, 12, 12, 1), dtype=np.float32))
    return model.name


def reference_task(ctx: JobContext, name: str, case: int) -> np.ndarray:
    """A manual keras.Model(inputs, layer.output) call, the number the views must show."""
    import keras

    model = ctx.workspace.model
    return keras.Model(model.inputs[0], model.get_layer(name).output)(ctx.workspace.dataset.x[case:case + 1]).numpy()


def run(qtbot, engine, task: str, **kwargs):
    out = []
    submit_call(engine, task, on_result=out.append, on_error=out.append, **kwargs)
    qtbot.waitUntil(lambda: bool(out), timeout=30000)
    return out[0]


@pytest.fixture
def ctx(qtbot, engine) -> AppContext:
    context = AppContext(engine, AppState(), Settings())
    run(qtbot, engine, INSTALL)
    context.state.set_model(SimpleNamespace(name="tiny"))
    context.state.select_case(0)
    return context


@pytest.fixture
def views(qtbot, ctx) -> Iterator[tuple[ActivationView, WeightView]]:
    host = QWidget()
    qtbot.addWidget(host)
    activations, weights = ActivationView(ctx), WeightView(ctx)
    layout = QHBoxLayout(host)
    layout.addWidget(activations)
    layout.addWidget(weights)
    host.resize(1400, 600)
    host.show()
    yield activations, weights  # the fixture keeps `host` alive (qtbot holds only a weak reference)


def select(qtbot, ctx, views, path: str) -> None:
    activations, weights = views
    with qtbot.waitSignals([activations.shown, weights.shown], timeout=30000):
        ctx.state.select_layer(path)


def test_atlas_layout_puts_tile_i_at_row_i_div_cols() -> None:
    tiles = np.arange(5 * 2 * 3, dtype=np.float32).reshape(5, 2, 3)
    atlas, layout = tile_atlas(tiles, cols=2, gap=1)
    assert atlas.shape == (3 * 3 - 1, 2 * 4 - 1)
    np.testing.assert_array_equal(atlas[3:5, 4:7], tiles[3])  # tile 3: row 1, column 1
    assert np.isnan(atlas[2]).all() and np.isnan(atlas[:, 3]).all()  # gaps
    assert np.isnan(atlas[6:8, 4:7]).all()  # no tile 5
    assert layout.locate(5, 4) == (3, 1, 1)
    assert layout.locate(3, 0)[0] == -1 and layout.locate(4, 6)[0] == -1
    rgb, _ = tile_atlas(np.ones((3, 2, 2, 3), np.float32), cols=3)
    assert rgb.shape == (2, 8, 3)
    norm = normalise_tiles(np.stack([np.arange(4.0).reshape(2, 2), np.full((2, 2), 7.0)]))
    np.testing.assert_allclose(norm[0], [[0, 1 / 3], [2 / 3, 1]], rtol=1e-6)
    assert (norm[1] == 0).all()
    assert columns_for(96, 112, 112) == 12
    assert upsample(np.array([[0.0, 1.0]]), (1, 4)).tolist() == [[0.0, 0.25, 0.75, 1.0]]
    assert TileLayout(1, 4, 4, 1, 0).locate(3.5, 3.5) == (0, 3, 3)
    assert indexed(np.array([[-1.0, 0.5, 2.0, np.nan]]), (-1.0, 2.0)).tolist() == [[0, 127, 254, 255]]


def test_selecting_conv_dense_and_nested_layers_updates_both_viewers(qtbot, engine, ctx, views) -> None:
    activations, weights = views
    ctx.state.select_case(2)

    select(qtbot, ctx, views, "conv")
    expected = run(qtbot, engine, "tests.gui.test_activation_view:reference_task", name="conv", case=2)
    np.testing.assert_allclose(activations.result.values, expected, atol=1e-6)
    assert activations.stack.currentWidget() is activations.grid
    panel = activations.grid.panels[0]
    assert panel.layout.n == 4 and panel.title == "case 2"
    assert weights.result.path == "conv" and weights.values_stack.currentWidget() is weights.filters
    assert [weights.tensors.item(r, 0).text() for r in range(2)] == ["kernel", "bias"]
    assert weights.filters.panels[0].layout.n == 4

    select(qtbot, ctx, views, "dense")
    expected = run(qtbot, engine, "tests.gui.test_activation_view:reference_task", name="dense", case=2)
    np.testing.assert_allclose(activations.result.values, expected, atol=1e-6)
    assert activations.bars.isVisible() and activations.bars.n == 6
    assert activations.readout.text().startswith("top units (case 2): " + str(int(np.argmax(expected))))
    assert weights.values_stack.currentWidget() is weights.heatmap
    assert weights.heatmap.display.shape == (8 * 8 * 3, 6)

    select(qtbot, ctx, views, "inner/conv_in")
    assert activations.result.values.shape == (1, 8, 8, 3)
    assert activations.grid.panels[0].layout.n == 3
    assert weights.result.tensors[0].shape == (3, 3, 4, 3)
    assert "inner/conv_in" in weights.title.text()

    with qtbot.waitSignal(activations.shown, timeout=30000):
        ctx.state.select_case(4)
    assert activations.result.cases == (4,)

    select(qtbot, ctx, views, "seq")  # 3-D output: a heat strip, features down, positions across
    strip = activations.grid.panels[0]
    np.testing.assert_array_equal(strip.image, activations.result.values[0].T)
    assert strip.image.shape == (3, 64) and strip.layout.n == 1
    assert weights.message.text() == "seq (Reshape) has no weights."
    activations._on_grid_hover(0, 0, 2, 10)
    assert activations.readout.text().startswith(f"position 10, feature 2: case 4 {activations.result.values[0, 10, 2]:.4g}")
    if SHOTS.is_dir():
        activations.grab().save(str(SHOTS / "activation_heat_strip.png"))


def test_sort_click_overlay_and_compare(qtbot, engine, ctx, views) -> None:
    activations, weights = views
    ctx.state.select_case(-1)
    with qtbot.waitSignal(weights.shown, timeout=30000):
        ctx.state.select_layer("conv")
    # no case chosen yet: the view says so, like the canvas ("No case"), instead of showing case 0
    assert activations.result is None and "no case selected" in activations.title.text()
    assert "Select a case" in activations.message.text()
    with qtbot.waitSignal(activations.shown, timeout=30000):
        ctx.state.select_case(0)
    result = activations.result
    activations.sort.setCurrentText("Max activation")
    order = activations.channel_order()
    np.testing.assert_array_equal(order, np.argsort(-result.values[0].max(axis=(0, 1)), kind="stable"))
    assert activations.channel == int(order[0]) or activations.channel >= 0
    activations._on_tile_clicked(0, 2)
    assert activations.channel == int(order[2])
    detail = activations.detail.panels[0]
    assert detail.background is not None and detail.image.shape == (12, 12)  # upsampled onto the input
    m = result.values[0][..., activations.channel]
    assert activations.detail_label.text().endswith(f"{float(m.min()):.4g} … {float(m.max()):.4g}")
    activations.overlay.setChecked(False)
    assert activations.detail.panels[0].image.shape == (10, 10)

    with qtbot.waitSignal(activations.shown, timeout=30000):
        activations.compare.setChecked(True)  # B = the current case (0)
    with qtbot.waitSignal(activations.shown, timeout=30000):
        activations.compare_case.setValue(3)
    assert activations.result.cases == (0, 3)
    assert [p.title for p in activations.grid.panels] == ["case 0", "case 3", "A − B"]
    assert [p.title for p in activations.detail.panels] == ["case 0", "case 3", "A − B"]
    a, b = activations.result.values
    ch = activations.channel
    np.testing.assert_allclose(activations.detail.panels[2].image, a[..., ch] - b[..., ch])  # no overlay
    activations.overlay.setChecked(True)
    assert {p.image.shape for p in activations.detail.panels} == {(12, 12)}  # diff upsampled alike
    assert activations.stats[1].isVisible()


def test_pages_for_wide_layers_and_errors_shown_inline(qtbot, engine, ctx, views) -> None:
    activations, _ = views
    run(qtbot, engine, INSTALL, wide=PAGE + 6)
    ctx.state.set_model(SimpleNamespace(name="wide"))
    select(qtbot, ctx, views, "conv")
    assert activations.grid.panels[0].layout.n == PAGE
    assert activations.page_label.text() == f"channels 1–{PAGE} of {PAGE + 6}"
    activations.turn_page(1)
    assert activations.grid.panels[0].layout.n == 6
    assert not activations.next_page.isEnabled()

    ctx.state.select_case(99)
    qtbot.waitUntil(lambda: activations.stack.currentWidget() is activations.message, timeout=30000)
    assert "Case 99" in activations.message.text()
