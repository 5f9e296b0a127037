"""The Training view on the bundled demo runs, through the real engine thread.

Curves of both runs, the data map (a click opens the case), the mislabel list finding the
flipped labels, verdicts saved outside resources/ and exported as corrected labels, and the
influence of the case in the canvas (a high-loss training case is its own top proponent).
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PySide6.QtCore import Qt

from engine.tasks import OpenDataset, OpenModel
from gui.app import DEMO_CASES, DEMO_MODEL, RESOURCES
from gui.context import AppContext
from gui.settings import Settings
from gui.state import AppState
from gui.views.training import DEMO_RUNS, MAX_SUSPECTS, TABS, TrainingView
from tests.training_runs import write_run

needs_demo = pytest.mark.skipif(not (DEMO_RUNS / "digits" / "manifest.json").exists(), reason="demo runs not built")


@pytest.fixture
def demo_view(qtbot, engine, tmp_path):
    state = AppState()
    settings = Settings(tmp_path / "settings.json")
    settings.set("reviewer_name", "Ada")
    view = TrainingView(AppContext(engine, state, settings))
    qtbot.addWidget(view)
    view.resize(1200, 520)
    view.show()
    qtbot.waitUntil(lambda: len(view.runs) == 2, timeout=60000)
    with qtbot.waitSignal(state.model_changed, timeout=60000):
        engine.submit(OpenModel(path=str(DEMO_MODEL)), key="model", on_result=state.set_model)
    with qtbot.waitSignal(state.dataset_changed, timeout=60000):
        engine.submit(OpenDataset(path=str(DEMO_CASES)), key="cases", on_result=state.set_dataset)
    return view


def choose(view: TrainingView, name: str) -> None:
    view.run_combo.setCurrentIndex(view.run_combo.findData(str(DEMO_RUNS / name)))


@needs_demo
def test_demo_runs_curves_map_and_suspects(qtbot, demo_view, tmp_path) -> None:
    view, state = demo_view, demo_view.ctx.state
    assert view.linked()
    view.curves.scalar.setCurrentText("accuracy")
    assert sorted(view.curves.plotted()) == ["digits", "digits-flipped-5pct"]

    choose(view, "digits-flipped-5pct")
    a = view.analysis()
    assert len(a) == 1437 and view.suspects.count() == MAX_SUSPECTS
    flipped = np.load(DEMO_RUNS / "digits-flipped-5pct" / "flipped.npy")
    listed = [view.suspects.case_at(r) for r in range(len(flipped))]
    precision = len(np.intersect1d(listed, flipped)) / len(flipped)
    assert precision >= 0.6, precision  # chance: 5%
    assert sum(view.map.cloud.counts()) == 1437  # every case drawn, in its group's colour (one PointCloud)

    # A click on the data map opens that training case, by its index in the demo cases.
    view.tabs.setCurrentIndex(TABS.index("Data map"))
    qtbot.wait(100)
    i = int(a.mislabel_ranking[0])
    target = view.map.nearest(view.map.view_box.mapSceneToView(view.map.mapToScene(view.map.widget_pos(i).toPoint())))
    with qtbot.waitSignal(state.case_selected, timeout=2000) as selected:
        qtbot.mouseClick(view.map.viewport(), Qt.MouseButton.LeftButton, pos=view.map.widget_pos(i).toPoint())
    assert selected.args == [int(a.case_index[target])]

    # Verdicts: saved in the config folder (never into resources/), exported as corrected labels.
    view.tabs.setCurrentIndex(TABS.index("Mislabels"))
    with qtbot.waitSignal(state.explain_requested, timeout=2000) as explained:
        view.suspects.setCurrentRow(0)
    assert explained.args == [int(a.case_index[a.mislabel_ranking[0]]), ""]
    view.set_verdict("mislabeled")
    assert view.suspects.currentRow() == 1 and "[mislabeled]" in view.suspects.item(0).text()
    view.set_verdict("correct label")
    assert not view.store.path.resolve().is_relative_to(RESOURCES.resolve()) and view.store.path.exists()
    assert view.export(str(tmp_path / "fixed.csv")) == 2
    with open(tmp_path / "fixed.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    first, second = int(a.mislabel_ranking[0]), int(a.mislabel_ranking[1])
    assert sorted((int(r["case"]), int(r["corrected_label"])) for r in rows) == sorted([
        (first, int(a.predicted[first])), (second, int(a.labels[second]))])  # rows in case order
    assert view.store.history(f"case {first}", f"{a.dataset_sha256}:{first}")[0]["reviewer"] == "Ada"
    view.show_run()  # a fresh store reads the same verdicts back
    assert view.verdicts[first] == "mislabeled" and view.verdicts[second] == "correct label"


@needs_demo
def test_influence_of_the_case_in_the_canvas(qtbot, demo_view) -> None:
    view, state = demo_view, demo_view.ctx.state
    choose(view, "digits")
    a = view.analysis()
    view.tabs.setCurrentIndex(TABS.index("Influence"))
    i = int(np.argmin(a.aum))  # the hardest training case: a large, distinctive gradient
    state.select_case(int(a.case_index[i]))
    qtbot.waitUntil(lambda: view.influence is not None, timeout=60000)
    assert view.influence.case == int(a.case_index[i])
    provenance = view.influence.provenance
    assert provenance["method"] == "tracin" and provenance["model_sha256"] == state.model.sha256
    assert provenance["params"]["checkpoints"] == [5, 10, 15] and len(provenance["input_sha256"]) == 64
    assert view.current_run().provenance["method"] == "training-analysis"
    assert view.helpful.count() == view.harmful.count() == 10
    assert view.helpful.case_at(0) == i  # a training case is its own top proponent
    assert np.all(view.influence.scores > 0) and np.all(view.influence.opponent_scores < 0)
    assert view.helpful.item(0).icon().isNull() is False
    with qtbot.waitSignal(state.case_selected, timeout=2000) as selected:
        view.harmful.setCurrentRow(0)  # selecting a row (click or keys) opens that training case
    assert selected.args == [int(a.case_index[view.harmful.case_at(0)])]


def test_tensorboard_logs_open_as_curves(qtbot, engine, tmp_path) -> None:
    import tensorflow as tf  # tests may; the gui package may not

    writer = tf.summary.create_file_writer(str(tmp_path / "logs" / "train"))
    with writer.as_default():
        for step, value in enumerate([0.9, 0.4, 0.2]):
            tf.summary.write("epoch_loss", tf.constant(value), step=step)
    writer.close()
    view = TrainingView(AppContext(engine, AppState(), Settings(tmp_path / "settings.json")))
    qtbot.addWidget(view)
    view.jobs.open_run(str(tmp_path / "logs"))
    qtbot.waitUntil(lambda: str(tmp_path / "logs") in view.runs, timeout=60000)
    view.run_combo.setCurrentIndex(view.run_combo.findData(str(tmp_path / "logs")))
    assert view.run_combo.currentText() == "logs (TensorBoard)" and view.analysis() is None
    assert "curves only" in view.status.text() and view.suspects.count() == 0
    view.curves.scalar.setCurrentText("train/epoch_loss")
    assert view.curves.plotted() == ["logs"]
    x, y = view.curves.plot.plotItem.listDataItems()[0].getData()
    np.testing.assert_allclose(y, [0.9, 0.4, 0.2], rtol=1e-6)


def test_a_run_still_being_recorded_is_read_again_until_complete(qtbot, engine, tmp_path) -> None:
    labels = np.arange(6) % 3

    def write(epochs: int, complete: bool) -> None:
        write_run(tmp_path / "live", np.tile(labels, (epochs, 1)), np.full((epochs, 6), 0.8), np.full((epochs, 6), 0.1),
                  labels, complete=complete)
    write(2, complete=False)
    view = TrainingView(AppContext(engine, AppState(), Settings(tmp_path / "settings.json")))
    qtbot.addWidget(view)
    view._refresh.setInterval(100)
    view.jobs.open_run(str(tmp_path / "live"))
    qtbot.waitUntil(lambda: str(tmp_path / "live") in view.runs, timeout=60000)
    view.run_combo.setCurrentIndex(view.run_combo.findData(str(tmp_path / "live")))
    assert "still recording" in view.status.text() and view._refresh.isActive()
    write(3, complete=True)  # the recorder wrote another epoch and finished
    qtbot.waitUntil(lambda: len(view.analysis().epochs) == 3, timeout=10000)
    assert "still recording" not in view.status.text() and not view._refresh.isActive()
    view.curves.scalar.setCurrentText("loss")
    live = next(item for item in view.curves.plot.plotItem.listDataItems() if item.name() == "live")
    assert live.getData()[1].tolist() == [0.0, 1.0, 2.0]
