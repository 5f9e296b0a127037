"""The model browser: tree of layers (nested), filter keeping parents, totals, details, selection
shared through AppState in both directions, SHA copy."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import QModelIndex
from PySide6.QtGui import QGuiApplication

from gui.context import AppContext
from gui.settings import Settings
from gui.state import AppState
from gui.views.model_browser import LAYER_ROLE, ModelBrowser
from tests.gui.tasks_for_tests import make_description


@pytest.fixture
def browser(qtbot) -> ModelBrowser:
    ctx = AppContext(engine=None, state=AppState(), settings=Settings())  # type: ignore[arg-type]
    view = ModelBrowser(ctx)
    qtbot.addWidget(view)
    view.resize(520, 800)
    ctx.state.set_model(make_description())
    return view


def visible_rows(view: ModelBrowser, parent: QModelIndex | None = None, depth: int = 0) -> list[tuple]:
    """(depth, name, type, shape, params, trainable) for every row the filter lets through."""
    parent = parent or QModelIndex()
    proxy = view.proxy
    rows = []
    for r in range(proxy.rowCount(parent)):
        index = proxy.index(r, 0, parent)
        rows.append((depth, *(proxy.index(r, c, parent).data() for c in range(5))))
        rows.extend(visible_rows(view, index, depth + 1))
    return rows


def test_tree_shows_nested_layers_with_columns(browser: ModelBrowser) -> None:
    assert visible_rows(browser) == [
        (0, "input", "InputLayer", "(None, 8)", "0", "✓"),
        (0, "encoder", "Functional", "(None, 16)", "208", "✓"),
        (1, "enc_in", "InputLayer", "(None, 8)", "0", "✓"),
        (1, "enc_dense", "Dense", "(None, 16)", "144", "✓"),
        (1, "enc_bn", "BatchNormalization", "(None, 16)", "64", "✗ frozen"),
        (0, "probabilities", "Dense", "(None, 3)", "51", "✓"),
    ]
    assert browser.tree.isExpanded(browser.proxy.index(1, 0))


def test_header_and_totals(browser: ModelBrowser) -> None:
    assert browser.header.text() == "<b>tiny.keras</b> · keras"
    io = browser.io.text()
    assert "tiny_classifier (softmax output)" in io
    assert "input (None, 8) float32" in io and "probabilities (None, 3) float32" in io
    assert browser.totals.text() == "6 layers · 259 params: 195 trainable, 64 non-trainable"
    assert browser.sha_button.text() == "sha256 abababababab…"


@pytest.mark.parametrize(
    ("needle", "names"),
    [
        ("dense", ["encoder", "enc_dense", "probabilities"]),  # parent of a match stays
        ("BATCHNORM", ["encoder", "enc_bn"]),  # by type, case-insensitive
        ("functional", ["encoder", "enc_in", "enc_dense", "enc_bn"]),  # a matching model keeps its layers
        ("nothing-like-this", []),
        ("", ["input", "encoder", "enc_in", "enc_dense", "enc_bn", "probabilities"]),
    ],
)
def test_filter_by_name_or_type(browser: ModelBrowser, needle: str, names: list[str]) -> None:
    browser.filter.setText(needle)
    assert [row[1] for row in visible_rows(browser)] == names
    if needle:
        matches = sum(needle.lower() in (r[1] + r[2]).lower() for r in visible_rows(browser))
        assert browser.totals.text().endswith(f"<br>{matches} of 6 layers match “{needle}”")


def test_selecting_a_row_selects_the_layer_everywhere(qtbot, browser: ModelBrowser) -> None:
    state = browser.ctx.state
    encoder = browser.proxy.index(1, 0)
    dense = browser.proxy.index(1, 0, encoder)
    with qtbot.waitSignal(state.layer_selected) as signal:
        browser.tree.setCurrentIndex(dense)
    assert signal.args == ["encoder/enc_dense"]
    assert state.layer == "encoder/enc_dense"
    details = browser.details
    assert details.summary.text().startswith("<b>encoder/enc_dense</b> &nbsp;Dense · float32")
    assert "params 144: 144 trainable, 0 non-trainable" in details.summary.text()
    weights = [
        [details.weights.topLevelItem(i).text(c) for c in range(5)]
        for i in range(details.weights.topLevelItemCount())
    ]
    assert weights == [
        ["enc_dense/kernel", "(8, 16)", "float32", "128", "yes"],
        ["enc_dense/bias", "(16,)", "float32", "16", "yes"],
    ]
    assert details.tabs.tabText(1) == "Weights (2)"
    config = {
        details.config.tree.topLevelItem(i).text(0): details.config.tree.topLevelItem(i).text(1)
        for i in range(details.config.tree.topLevelItemCount())
    }
    assert config["units"] == "16" and config["activation"] == "relu"


def test_follows_layer_selected_elsewhere(browser: ModelBrowser) -> None:
    browser.ctx.state.select_layer("encoder/enc_bn")
    assert browser.tree.currentIndex().data(LAYER_ROLE).path == "encoder/enc_bn"
    assert "<b>frozen</b>" in browser.details.summary.text()
    assert browser.details.weights.topLevelItemCount() == 4
    browser.ctx.state.select_layer("no/such/layer")
    assert browser.details.layer is None
    assert not browser.tree.selectionModel().hasSelection()


def test_filter_hiding_the_selected_layer_keeps_the_selection(browser: ModelBrowser) -> None:
    state = browser.ctx.state
    state.select_layer("encoder/enc_bn")
    browser.filter.setText("dense")
    assert state.layer == "encoder/enc_bn", "filtering must not select another layer"
    assert browser.details.layer.path == "encoder/enc_bn"
    browser.filter.clear()
    assert browser.tree.currentIndex().data(LAYER_ROLE).path == "encoder/enc_bn"


def test_enter_in_filter_selects_first_match(browser: ModelBrowser) -> None:
    browser.filter.setText("dense")
    browser.filter.returnPressed.emit()
    assert browser.ctx.state.layer == "encoder/enc_dense"


def test_inbound_link_selects_that_layer(browser: ModelBrowser) -> None:
    browser.ctx.state.select_layer("probabilities")
    assert 'href="encoder"' in browser.details.summary.text()
    browser.details.summary.linkActivated.emit("encoder")
    assert browser.ctx.state.layer == "encoder"
    assert browser.tree.currentIndex().data(LAYER_ROLE).path == "encoder"


def test_config_search_keeps_matching_keys(browser: ModelBrowser) -> None:
    browser.ctx.state.select_layer("encoder/enc_bn")
    config = browser.details.config
    config.filter.setText("epsilon")
    shown = [
        config.tree.topLevelItem(i).text(0)
        for i in range(config.tree.topLevelItemCount())
        if not config.tree.topLevelItem(i).isHidden()
    ]
    assert shown == ["epsilon"]
    browser.ctx.state.select_layer("encoder/enc_dense")  # the search survives a new layer
    assert config.filter.text() == "epsilon"


def test_sha_click_copies_full_hash(qtbot, browser: ModelBrowser) -> None:
    QGuiApplication.clipboard().clear()
    browser.sha_button.click()
    assert QGuiApplication.clipboard().text() == "ab" * 32
    assert "copied" in browser.sha_button.text()
    qtbot.waitUntil(lambda: browser.sha_button.text().startswith("sha256 abab"), timeout=3000)


def test_notes_are_shown_only_when_present(browser: ModelBrowser) -> None:
    assert browser.notes.isHidden()
    noted = dataclasses.replace(make_description(), notes=("SavedModel: the layers inside are not visible.",))
    browser.ctx.state.set_model(noted)
    assert not browser.notes.isHidden()
    assert browser.notes.text() == "⚠ SavedModel: the layers inside are not visible."


def test_real_nested_keras_model(qtbot, browser: ModelBrowser) -> None:
    """A description made by engine.models from a real Keras model with a nested sub-model."""
    keras = pytest.importorskip("keras")
    from engine.models import describe

    inner_in = keras.Input((6,), name="inner_in")
    inner = keras.Model(inner_in, keras.layers.Dense(4, name="inner_dense")(inner_in), name="block")
    inputs = keras.Input((6,), name="x")
    bn = keras.layers.BatchNormalization(name="bn")
    bn.trainable = False
    outputs = keras.layers.Dense(2, activation="softmax", name="head")(bn(inner(inputs)))
    model = keras.Model(inputs, outputs, name="nested")
    browser.ctx.state.set_model(describe(model, path="/m/nested.keras", sha256="cd" * 32))
    assert visible_rows(browser) == [
        (0, "block", "Functional", "(None, 4)", "28", "✓"),
        (1, "inner_dense", "Dense", "(None, 4)", "28", "✓"),
        (0, "bn", "BatchNormalization", "(None, 4)", "16", "✗ frozen"),
        (0, "head", "Dense", "(None, 2)", "10", "✓"),
    ]
    assert browser.totals.text() == "4 layers · 54 params: 38 trainable, 16 non-trainable"
    browser.ctx.state.select_layer("block/inner_dense")
    assert browser.tree.currentIndex().data(LAYER_ROLE).name == "inner_dense"
    assert browser.details.weights.topLevelItemCount() == 2


def test_new_model_replaces_tree_and_none_clears(browser: ModelBrowser) -> None:
    state = browser.ctx.state
    state.select_layer("probabilities")
    smaller = dataclasses.replace(make_description(), layers=make_description().layers[:1], n_layers=1)
    state.set_model(smaller)
    assert [r[1] for r in visible_rows(browser)] == ["input"]
    assert browser.details.layer is None
    state.set_model(None)
    assert visible_rows(browser) == [] and browser.header.text() == "No model open."
    assert not browser.sha_button.isVisibleTo(browser)

