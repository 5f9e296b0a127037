"""The embedding view: demo map computed through the engine, click/hover/box/lasso, filters, cancel."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from engine.decision_regions import decision_regions
from engine.embedding import Embedding
from engine.tasks import OpenDataset, OpenModel
from gui.app import DEMO_CASES, DEMO_MODEL
from gui.context import AppContext
from gui.engine_thread import EngineThread
from gui.settings import Settings
from gui.state import AppState
from gui.views.embedding import EmbeddingView
from gui.widgets.embedding_scatter import point_in_polygon

needs_demo = pytest.mark.skipif(not DEMO_MODEL.exists() or not DEMO_CASES.exists(), reason="demo not built yet")


def synthetic(n: int = 600, k: int = 3, wrong: int = 30, seed: int = 0) -> Embedding:
    """A map of k Gaussian blobs; the first `wrong` cases of each blob are predicted as the next class."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % k
    coords = (np.array([[0, 0], [20, 0], [0, 20], [20, 20]])[labels % 4] + rng.normal(0, 1, (n, 2))).astype(np.float32)
    predicted = labels.copy()
    predicted[:wrong] = (labels[:wrong] + 1) % k
    return Embedding(
        coords=coords, labels=labels.astype(np.int64), predicted=predicted.astype(np.int64),
        confidence=rng.uniform(0.3, 1.0, n).astype(np.float32), class_names=tuple(f"c{i}" for i in range(k)),
        names=tuple(f"case {i}" for i in range(n)), layer="embedding", pooling="avg", method="pca", params={},
        seed=0, feature_shape=(8,), feature_dim=8, regions=decision_regions(coords, predicted), cached={},
        elapsed=0.0, provenance={}, thumbnails=np.full((n, 48, 48, 3), 128, np.uint8),
    )


@pytest.fixture
def offline_view(qtbot):
    """A view whose engine thread never starts: results are handed to it directly."""
    view = EmbeddingView(AppContext(EngineThread(), AppState(), Settings()))
    qtbot.addWidget(view)
    view.resize(1000, 600)
    view.show()
    qtbot.waitExposed(view)
    return view


def settle(qtbot) -> None:
    qtbot.wait(60)  # layout, then the rate-limited hover proxy


@needs_demo
def test_demo_map_through_the_engine_and_a_click_opens_the_case(qtbot, engine) -> None:
    state = AppState()
    view = EmbeddingView(AppContext(engine, state, Settings()))
    qtbot.addWidget(view)
    view.resize(1100, 650)
    view.show()
    with qtbot.waitSignal(state.model_changed, timeout=60000):
        engine.submit(OpenModel(path=str(DEMO_MODEL)), key="model", on_result=state.set_model)
    assert view.layer.count() > 5 and view.layer.findData("embedding") > 0
    with qtbot.waitSignal(state.dataset_changed, timeout=60000):
        engine.submit(OpenDataset(path=str(DEMO_CASES)), key="cases", on_result=state.set_dataset)
    assert view.request().thumbnails is False  # the case browser's summary has them

    view.method.setCurrentIndex(view.method.findData("pca"))
    view.compute_button.click()
    qtbot.waitUntil(lambda: view.result is not None, timeout=120000)
    result = view.result
    assert result.coords.shape == (1797, 2) and result.layer == "embedding" and result.feature_dim == 64
    assert 0 < view.wrong.sum() < 100  # the demo model is trained: a few mistakes
    assert sum(view.scatter.cloud.counts()) == 1797
    assert view.compute_button.isEnabled() and view.jobs.bar.isHidden()

    # Click a misclassified case: it becomes the selected case and the canvas is asked to explain it.
    case = int(np.flatnonzero(view.wrong)[0])
    settle(qtbot)
    explained = []
    state.explain_requested.connect(lambda i, method: explained.append((i, method)))
    target = view.scatter.nearest(QPointF(*map(float, result.coords[case])), radius_px=0.5)
    assert target >= 0  # the case itself or one drawn at the very same pixel
    with qtbot.waitSignal(state.case_selected, timeout=2000) as selected:
        qtbot.mouseClick(view.scatter.viewport(), Qt.MouseButton.LeftButton, pos=view.scatter.widget_pos(case).toPoint())
    assert selected.args == [target] and state.case == target
    assert explained == [(target, "")]
    assert np.allclose(result.coords[target], result.coords[case], atol=0.05 * np.ptp(result.coords, axis=0).max())


def test_click_selects_the_point_under_the_mouse(qtbot, offline_view) -> None:
    view = offline_view
    view.show_result(synthetic())
    settle(qtbot)
    for case in (5, 123, 599):
        with qtbot.waitSignal(view.ctx.state.case_selected, timeout=2000) as selected:
            qtbot.mouseClick(view.scatter.viewport(), Qt.MouseButton.LeftButton, pos=view.scatter.widget_pos(case).toPoint())
        clicked = selected.args[0]
        assert np.linalg.norm(view.result.coords[clicked] - view.result.coords[case]) < 0.15
    # A click on empty space selects nothing.
    corner = view.scatter.widget_pos(0)
    view.scatter.view_box.setRange(xRange=(100, 110), yRange=(100, 110), padding=0)
    settle(qtbot)
    before = view.ctx.state.case
    qtbot.mouseClick(view.scatter.viewport(), Qt.MouseButton.LeftButton, pos=corner.toPoint())
    assert view.ctx.state.case == before


def test_hover_shows_the_case_card(qtbot, offline_view) -> None:
    view = offline_view
    view.show_result(synthetic())
    settle(qtbot)
    case = 7  # misclassified (first 30 are)
    QTest.mouseMove(view.scatter.viewport(), view.scatter.widget_pos(case).toPoint())
    qtbot.waitUntil(lambda: view.scatter.card.isVisible(), timeout=2000)
    hovered = view.scatter.hovered
    assert np.linalg.norm(view.result.coords[hovered] - view.result.coords[case]) < 0.15
    assert view.scatter.card.image.pixmap().width() == 96
    text = view.scatter.card.text.text()
    assert f"case {hovered}" in text and ("misclassified" in text) == bool(view.wrong[hovered])


def test_colour_modes_and_filters(qtbot, offline_view) -> None:
    view = offline_view
    result = synthetic()
    view.show_result(result)

    def drawn() -> dict[str, int]:
        return dict(zip((g.name for g in view.groups(view.visible_mask())), view.scatter.cloud.counts(), strict=True))

    assert drawn() == {"c0": 200, "c1": 200, "c2": 200}
    view.colour_by.setCurrentIndex(view.colour_by.findData("correct"))
    assert drawn() == {"correct": 570, "misclassified": 30}
    view.colour_by.setCurrentIndex(view.colour_by.findData("confidence"))
    assert sum(drawn().values()) == 600 and len(drawn()) >= 3
    view.misclassified_only.setChecked(True)
    assert len(view.scatter.visible) == 30 and view.wrong[view.scatter.visible].all()
    view.misclassified_only.setChecked(False)
    view.colour_by.setCurrentIndex(view.colour_by.findData("label"))
    view.class_filter.setCurrentIndex(view.class_filter.findData(2))
    assert drawn() == {"c2": 200}
    assert (result.labels[view.scatter.visible] == 2).all()
    view.show_regions.setChecked(False)
    assert view.scatter.regions.image is None


def test_box_drag_and_lasso_list_the_enclosed_cases(qtbot, offline_view) -> None:
    view = offline_view
    result = synthetic()
    view.show_result(result)
    settle(qtbot)
    # Drag a box around the blob at (20, 0) (class 1). Box mode (B), since QTest's mouse moves
    # carry no keyboard modifiers (Shift-drag is the same path once the drag starts).
    scatter = view.scatter
    view.mode_buttons["box"].click()
    assert scatter.view_box.mode == "box"
    scatter.view_box.setRange(xRange=(-10, 30), yRange=(-10, 30), padding=0)
    settle(qtbot)
    corner_a = scatter.mapFromScene(scatter.view_box.mapViewToScene(QPointF(12, -6)))
    corner_b = scatter.mapFromScene(scatter.view_box.mapViewToScene(QPointF(28, 6)))
    viewport = scatter.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, corner_a)
    for t in np.linspace(0.1, 1.0, 8):
        QTest.mouseMove(viewport, (corner_a + (corner_b - corner_a) * t))
        qtbot.wait(20)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, corner_b)
    expected = np.flatnonzero(result.labels == 1)
    assert sorted(view.selection.tolist()) == expected.tolist()
    assert view.selection_list.count() == 200
    assert "10 misclassified" in view.selection_title.text()

    # Clicking a listed case opens it.
    item = view.selection_list.item(3)
    view.selection_list.itemClicked.emit(item)
    assert view.ctx.state.case == item.data(Qt.ItemDataRole.UserRole)

    # A lasso (triangle x + y < 20) selects by polygon, not by bounding box: the blobs at (20, 0)
    # and (0, 20) are cut in halves, the one at (0, 0) is inside.
    triangle = np.array([[-5.0, -5.0], [25.0, -5.0], [-5.0, 25.0]])
    scatter.view_box.polygon_drawn.emit(triangle)
    chosen = result.labels[view.selection]
    assert (chosen == 0).sum() == 200
    assert 50 < (chosen == 1).sum() < 150 and 50 < (chosen == 2).sum() < 150
    inside = point_in_polygon(result.coords.astype(float), triangle)
    assert sorted(view.selection.tolist()) == np.flatnonzero(inside).tolist()


def test_point_in_polygon_against_a_square_and_a_concave_shape() -> None:
    points = np.array([[0.5, 0.5], [1.5, 0.5], [0.5, 1.5], [1.5, 1.5], [-1.0, 0.0]])
    square = np.array([[0, 0], [2, 0], [2, 2], [0, 2]], dtype=float)
    assert point_in_polygon(points, square).tolist() == [True, True, True, True, False]
    ell = np.array([[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2]], dtype=float)  # an L: (1.5, 1.5) is out
    assert point_in_polygon(points, ell).tolist() == [True, True, True, False, False]


def test_fifty_thousand_points_draw_and_pick(qtbot, offline_view) -> None:
    view = offline_view
    view.show_result(synthetic(n=50000, k=4, wrong=500))
    settle(qtbot)
    assert len(view.scatter.visible) == 50000 and len(view.scatter.group_items) == 4
    case = 31337
    picked = view.scatter.nearest(QPointF(*map(float, view.result.coords[case])), radius_px=0.5)
    assert np.linalg.norm(view.result.coords[picked] - view.result.coords[case]) < 0.1
    assert view.grab().width() > 0


@needs_demo
def test_cancel_stops_the_computation(qtbot, engine) -> None:
    state = AppState()
    view = EmbeddingView(AppContext(engine, state, Settings()))
    qtbot.addWidget(view)
    with qtbot.waitSignal(state.model_changed, timeout=60000):
        engine.submit(OpenModel(path=str(DEMO_MODEL)), key="model", on_result=state.set_model)
    with qtbot.waitSignal(state.dataset_changed, timeout=60000):
        engine.submit(OpenDataset(path=str(DEMO_CASES)), key="cases", on_result=state.set_dataset)
    view.layer.setCurrentIndex(view.layer.findData("conv1"))
    view.pooling.setCurrentIndex(view.pooling.findData("avg"))
    view.compute()
    qtbot.waitUntil(lambda: view.progress.value() > 0, timeout=60000)  # running, not just queued
    view.cancel_button.click()
    qtbot.waitUntil(lambda: view.compute_button.isEnabled(), timeout=60000)
    assert view.result is None and view.status.text() == "Cancelled."


def test_save_map_writes_csv_and_provenance(qtbot, offline_view, tmp_path) -> None:
    import csv
    import json

    view = offline_view
    assert not view.save_button.isEnabled()
    result = synthetic(n=60)
    result = Embedding(**{**result.__dict__, "provenance": {"model_sha256": "abc", "method": "pca", "seed": 0}})
    view.show_result(result)
    target = tmp_path / "map.csv"
    view.save_map(str(target))
    rows = list(csv.DictReader(target.open()))
    assert len(rows) == 60 and rows[7]["case"] == "case 7"
    assert float(rows[7]["x"]) == pytest.approx(result.coords[7, 0], rel=1e-5)
    assert rows[7]["misclassified"] == "1" and rows[40]["misclassified"] == "0"
    record = json.loads((tmp_path / "map.csv.json").read_text())
    assert record["model_sha256"] == "abc" and record["cases"] == 60 and "not the model" in record["decision_regions"]


def test_a_ringed_case_wins_over_a_case_on_the_same_pixel(qtbot, offline_view) -> None:
    view = offline_view
    result = synthetic(n=90)
    coords = result.coords.copy()
    coords[50] = coords[5] + 1e-4  # case 5 is misclassified (ringed), case 50 is not
    view.show_result(Embedding(**{**result.__dict__, "coords": coords}))
    settle(qtbot)
    assert view.wrong[5] and not view.wrong[50]
    assert view.scatter.nearest(QPointF(*map(float, coords[50]))) == 5
    view.mark_misclassified.setChecked(False)  # no rings: plain nearest
    assert view.scatter.nearest(QPointF(*map(float, coords[50]))) == 50
