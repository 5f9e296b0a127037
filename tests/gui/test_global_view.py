"""The Global view through the real engine thread: permutation importance of a tiny model that
uses only features 2 and 5 draws those two bars on top with the engine's numbers, and a click on
a dependence point opens that case."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import Qt

from engine.provenance import sha256_array
from engine.records import read_records, verify
from engine.tasks import OpenDataset, OpenModel
from gui.evidence import Evidence
from gui.context import AppContext
from gui.settings import Settings
from gui.state import AppState
from gui.views.global_view import TABS, GlobalView


@pytest.fixture
def tiny(tmp_path):
    import keras

    kernel = np.zeros((8, 2), np.float32)
    kernel[2], kernel[5] = [-2.0, 2.0], [1.5, -1.5]
    inputs = keras.Input((8,))
    layer = keras.layers.Dense(2, activation="softmax")
    model = keras.Model(inputs, layer(inputs))
    layer.set_weights([kernel, np.zeros(2, np.float32)])
    model.save(tmp_path / "tiny.keras")
    x = np.random.default_rng(0).normal(size=(120, 8)).astype(np.float32)
    y = (x[:, 2] * 4 - x[:, 5] * 3 > 0).astype(np.int64)
    np.savez(tmp_path / "tiny.npz", x=x, y=y)
    return model, x, y, tmp_path


@pytest.fixture
def view(qtbot, engine, tiny, tmp_path):
    _, _, _, folder = tiny
    state = AppState()
    view = GlobalView(AppContext(engine, state, Settings(tmp_path / "settings.json")))
    qtbot.addWidget(view)
    view.resize(1100, 520)
    view.show()
    with qtbot.waitSignal(state.model_changed, timeout=60000):
        engine.submit(OpenModel(path=str(folder / "tiny.keras")), key="model", on_result=state.set_model)
    with qtbot.waitSignal(state.dataset_changed, timeout=60000):
        engine.submit(OpenDataset(path=str(folder / "tiny.npz")), key="cases", on_result=state.set_dataset)
    cases = SimpleNamespace(review_store=SimpleNamespace(path=str(tmp_path / "reviews.json")))  # where the log lives
    view.evidence = Evidence(view.ctx, {"global": view, "cases": cases}, view)
    return view


def test_permutation_bars_and_a_dependence_click(qtbot, view, tiny) -> None:
    from engine.global_explanations import permutation_importance

    model, x, y, _ = tiny
    view.kind.setCurrentIndex(0)
    view.repeats.setValue(3)
    with qtbot.waitSignal(view.result_shown, timeout=60000) as shown:
        qtbot.mouseClick(view.run_button, Qt.MouseButton.LeftButton)
    result = shown.args[0]
    direct = permutation_importance(model, x, y, n_repeats=3, seed=0)
    np.testing.assert_allclose(result.importances, direct.importances)
    assert set(view.bars.order[:2]) == {2, 5}
    np.testing.assert_allclose(view.bars.bar_values()[:2], direct.importances_mean[view.bars.order[:2]])
    assert np.all(view.bars.bar_values()[2:] == 0)
    assert not view.jobs.busy() and "120 cases" in view.message.text()

    # Recorded in the evidence log once (the same result shown again is not recorded twice).
    with qtbot.waitSignal(view.result_shown, timeout=60000):
        view.run()
    records = read_records(view.evidence.log_path())
    assert [r["action"] for r in records] == ["global"]
    details = records[0]["details"]
    assert details["arrays_sha256"]["importances"] == sha256_array(result.importances)
    assert details["top_features"][:2] in (["feature 2", "feature 5"], ["feature 5", "feature 2"])
    assert records[0]["params"]["n_repeats"] == 3 and verify(view.evidence.log_path()).ok

    view.kind.setCurrentIndex(2)  # attribution summary: the beeswarm and the dependence plot
    with qtbot.waitSignal(view.result_shown, timeout=60000):
        view.run()
    assert set(view.swarm.order[:2]) == {2, 5}
    view.tabs.setCurrentIndex(TABS.index("Dependence"))
    qtbot.wait(100)
    assert view.feature.currentData() in (2, 5)
    i = int(np.argmax(view.dependence.coords[:, 1]))  # the top point: nothing drawn on top of it
    state = view.ctx.state
    explained = []
    state.explain_requested.connect(lambda *args: explained.append(list(args)))
    with qtbot.waitSignal(state.case_selected, timeout=2000):
        qtbot.mouseClick(view.dependence.viewport(), Qt.MouseButton.LeftButton,
                         pos=view.dependence.widget_pos(i).toPoint())
    case = int(view.summary.cases[i])
    assert state.case == case and explained == [[case, ""]]


def test_the_controls_build_the_requests(qtbot, tmp_path) -> None:
    from engine.tasks import AttributionSummaryRequest, NormLimeRequest, PermutationImportanceRequest

    class Idle:  # no engine thread needed: the requests are only built
        def submit(self, *args, **kwargs):
            return 0

        def cancel(self, key):
            pass

    view = GlobalView(AppContext(Idle(), AppState(), Settings(tmp_path / "settings.json")))
    qtbot.addWidget(view)
    view.scoring.setCurrentIndex(1)
    view.units.setCurrentIndex(1)
    view.cell.setValue(9)
    assert view.request() == PermutationImportanceRequest(n_repeats=5, scoring="log_loss", max_cases=1000,
                                                          features="slic", cell_size=9, n_segments=9)
    assert view.cell_label.text() == "segments"
    view.kind.setCurrentIndex(1)
    view.repeats.setValue(120)
    assert view.request() == NormLimeRequest(nb_samples=120, max_cases=200, features="slic", cell_size=9, n_segments=9)
    view.kind.setCurrentIndex(2)
    view.method.setCurrentIndex(view.method.findData("integrated_gradients"))
    assert view.request() == AttributionSummaryRequest(method="integrated_gradients", max_cases=500)
    view.run()  # nothing open: said inline, nothing submitted
    assert "Open a model" in view.message.text() and not view.jobs.busy()


def test_the_output_chosen_for_a_two_head_model_is_the_one_explained(qtbot, view, engine, tiny) -> None:
    import keras

    from engine.global_explanations import permutation_importance

    _, x, y, folder = tiny
    inputs = keras.Input((8,))
    layers = [keras.layers.Dense(2, activation="softmax", name=name) for name in ("first", "second")]
    model = keras.Model(inputs, [layer(inputs) for layer in layers])
    for layer, used, sign in zip(layers, (5, 2), (-1.0, 1.0)):  # the labels rise with feature 2, fall with 5
        kernel = np.zeros((8, 2), np.float32)
        kernel[used] = [-3.0 * sign, 3.0 * sign]
        layer.set_weights([kernel, np.zeros(2, np.float32)])
    model.save(folder / "two.keras")
    with qtbot.waitSignal(view.ctx.state.model_changed, timeout=60000):
        engine.submit(OpenModel(path=str(folder / "two.keras")), key="model", on_result=view.ctx.state.set_model)
    assert view.head.isEnabled() and [view.head.itemData(i) for i in range(view.head.count())] == [None, 0, 1]
    view.kind.setCurrentIndex(0)
    view.repeats.setValue(2)
    view.head.setCurrentIndex(2)
    assert view.request().head == 1
    with qtbot.waitSignal(view.result_shown, timeout=60000) as shown:
        view.run()
    direct = permutation_importance(model, x, y, n_repeats=2, seed=0, head=1)
    np.testing.assert_allclose(shown.args[0].importances, direct.importances)
    assert view.bars.order[0] == 2 and np.all(np.delete(shown.args[0].importances_mean, 2) == 0)
    first = permutation_importance(model, x, y, n_repeats=2, seed=0, head=0)
    assert np.argmax(first.importances_mean) == 5 and np.all(np.delete(first.importances_mean, 5) == 0)


def test_normlime_draws_the_beeswarm_and_a_dependence_click_opens_the_case(qtbot, view, tiny) -> None:
    _, x, _, _ = tiny
    view.kind.setCurrentIndex(1)
    view.repeats.setValue(100)
    view.cases.setValue(40)
    with qtbot.waitSignal(view.result_shown, timeout=120000) as shown:
        view.run()
    result = shown.args[0]
    assert view.summary is result and set(view.swarm.order[:2]) == {2, 5}
    np.testing.assert_allclose(view.swarm.scatter.data["x"][:40], result.normalised[:, view.swarm.order[0]])
    view.tabs.setCurrentIndex(TABS.index("Dependence"))
    qtbot.wait(100)
    f = view.feature.currentData()
    assert f in (2, 5) and "NormLIME weight" in view.dependence.getAxis("left").labelText
    np.testing.assert_allclose(view.dependence.coords[:, 0], x[result.cases, f])
    np.testing.assert_allclose(view.dependence.coords[:, 1], result.normalised[:, f])
    i = int(np.argmax(view.dependence.coords[:, 1]))
    with qtbot.waitSignal(view.ctx.state.case_selected, timeout=2000):
        qtbot.mouseClick(view.dependence.viewport(), Qt.MouseButton.LeftButton,
                         pos=view.dependence.widget_pos(i).toPoint())
    assert view.ctx.state.case == int(result.cases[i])
