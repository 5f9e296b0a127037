"""The case browser on the demo model: listing, predictions, filters, selection, review persistence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.review import ReviewStore
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from engine.tasks import OpenModel
from gui.app import DEMO_CASES, DEMO_MODEL
from gui.context import AppContext
from gui.settings import Settings
from gui.state import AppState
from gui.views.benchmark import BenchmarkView, parse_cases
from gui.views.cases import CONFIDENCE, NAME, PREDICTED, VERDICT, CaseView

pytestmark = pytest.mark.skipif(not DEMO_MODEL.exists(), reason="demo model not built yet")


@pytest.fixture
def make_view(qtbot, engine):
    """A CaseView on the shared engine thread; the demo model is opened once per view."""

    def make() -> CaseView:
        ctx = AppContext(engine, AppState(), Settings())
        view = CaseView(ctx)
        qtbot.addWidget(view)
        view.resize(460, 800)
        view.show()
        with qtbot.waitSignal(ctx.state.model_changed, timeout=60000):
            engine.submit(OpenModel(path=str(DEMO_MODEL)), key="model", on_result=ctx.state.set_model)
        return view

    return make


def open_demo_cases(qtbot, view: CaseView) -> None:
    with qtbot.waitSignal(view.ctx.state.predictions_changed, timeout=60000, check_params_cb=lambda p: p is not None):
        view.ctx.state.dataset_requested.emit(str(DEMO_CASES))


def test_demo_cases_listed_predicted_filtered_and_selected(qtbot, make_view) -> None:
    view = make_view()
    published = []
    view.ctx.state.dataset_changed.connect(published.append)
    open_demo_cases(qtbot, view)
    assert view.table_model.rowCount() == 1797
    assert len(published) == 1 and len(published[0]) == 1797
    p = view.predictions
    assert p.probabilities.shape == (1797, 10) and view.summary.hash == p.dataset_hash
    wrong = np.flatnonzero(p.predicted != view.summary.labels)
    assert 0 < len(wrong) < 100  # a trained model: a few mistakes
    first = view.table_model.index(0, PREDICTED).data()
    assert first == view.summary.class_names[p.predicted[0]]

    view.misclassified_check.setChecked(True)
    assert view.table_model.rowCount() == len(wrong)
    shown = sorted(view.table_model.case_at(r) for r in range(len(wrong)))
    assert shown == wrong.tolist()
    view.misclassified_check.setChecked(False)

    view.class_combo.setCurrentIndex(view.class_combo.findText("True: 3"))
    assert view.table_model.rowCount() == int((view.summary.labels == 3).sum())
    view.class_combo.setCurrentIndex(0)
    view.confidence_slider.setValue((0.0, 0.9))
    assert view.table_model.rowCount() == int((p.confidence <= 0.9 + 1e-6).sum())
    view.confidence_slider.setValue((0.0, 1.0))

    view.table.sortByColumn(NAME, Qt.SortOrder.AscendingOrder)  # natural order: case 9 before case 10
    assert [view.table_model.index(r, NAME).data() for r in (9, 10)] == ["case 9", "case 10"]
    view.table.sortByColumn(CONFIDENCE, Qt.SortOrder.AscendingOrder)
    conf = [float(view.table_model.index(r, CONFIDENCE).data()) for r in range(5)]
    assert conf == sorted(conf) and conf[0] == pytest.approx(float(p.confidence.min()), abs=1e-3)

    with qtbot.waitSignal(view.ctx.state.case_selected) as selected:
        view.select_row(0)
    assert selected.args == [int(np.argmin(p.confidence))]
    with qtbot.waitSignal(view.ctx.state.case_selected) as selected:
        qtbot.keyClick(view.table, Qt.Key.Key_J)
    assert selected.args == [view.table_model.case_at(1)]
    with qtbot.waitSignal(view.ctx.state.case_selected) as selected:
        qtbot.keyClick(view.table, Qt.Key.Key_PageDown)
    assert selected.args == [view.table_model.case_at(2)]
    with qtbot.waitSignal(view.ctx.state.case_selected) as selected:
        qtbot.keyClick(view.table, Qt.Key.Key_Up)
    assert selected.args == [view.table_model.case_at(1)]

    bench = BenchmarkView(view.ctx)  # several cases selected in the list feed the benchmark
    qtbot.addWidget(bench)
    chosen: list = []
    view.ctx.state.cases_chosen.connect(lambda cases: chosen.append(list(cases)))
    for row, modifier in ((4, Qt.KeyboardModifier.ControlModifier), (6, Qt.KeyboardModifier.ShiftModifier)):
        rect = view.table.visualRect(view.table_model.index(row, NAME))
        with qtbot.waitSignal(view.ctx.state.case_selected) as selected:
            qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, modifier, rect.center())
        assert selected.args == [view.table_model.case_at(row)]  # the canvas follows the clicked case
    rows = [1, 4, 5, 6]  # the current row 1, Ctrl+row 4, Shift to row 6
    assert chosen[-1] == [view.table_model.case_at(r) for r in rows]
    assert parse_cases(bench.cases.text(), 1797) == sorted(chosen[-1])
    assert view.ctx.state.case == view.table_model.case_at(6) == view.current_case()
    view.ctx.state.set_model(None)  # model closed: no stale predictions
    assert view.predictions is None and view.table_model.index(0, PREDICTED).data() == "…"


def test_verdict_and_note_persist_across_reopen(qtbot, make_view, tmp_path: Path) -> None:
    view = make_view()
    open_demo_cases(qtbot, view)
    view.select_row(3)
    case = view.current_case()
    view.review.reviewer.setText("Dr. Ada")
    view.review.reviewer.editingFinished.emit()
    shown = {"case": case, "method": "saliency", "params": {"seed": 0}, "target": 2, "map_sha256": "c" * 64}
    view.ctx.state.seen = {0: shown, 1: {**shown, "case": case + 1}}  # what the canvas panels draw
    qtbot.keyClick(view.table, Qt.Key.Key_2)  # spurious feature
    assert view.review.verdict() == "spurious feature"
    assert view.table_model.index(3, VERDICT).data() == "spurious"
    view.review.note.setFocus()
    qtbot.keyClicks(view.review.note, "looks at the border")
    path = view.review_store.path
    assert path.parent.name == "reviews"  # bundled demo cases: reviews live in the config folder
    qtbot.waitUntil(lambda: "looks at the border" in path.read_text(), timeout=3000)  # debounced write
    qtbot.keyClicks(view.review.note, " too")
    view.review.flush()  # what focus-out and closing do
    entry = json.loads(path.read_text())["cases"][view.summary.names[case]][view.summary.case_hashes[case]]
    history = entry["history"]  # every edit appended, none replaced
    assert [e["value"] for e in history if e["kind"] == "verdict"] == ["spurious feature"]
    notes = [e["value"] for e in history if e["kind"] == "note"]
    assert notes[-1] == "looks at the border too" and "looks at the border" in notes
    assert {e["model_sha256"] for e in history} == {view.model.sha256}
    assert all(e["os_user"] and "time" in e for e in history)
    assert history[0]["reviewer"] == "Dr. Ada" and history[0]["seen"] == {"panels": [shown]}
    assert view.ctx.settings.get("reviewer_name") == "Dr. Ada"

    again = make_view()
    open_demo_cases(qtbot, again)
    assert again.table_model.verdicts[case] == "spurious feature"
    again.ctx.state.select_case(case)
    assert again.current_case() == case
    assert again.review.verdict() == "spurious feature"
    assert again.review.note.toPlainText() == "looks at the border too"

    chosen = tmp_path / "audit" / "digits-review.json"  # a chosen location takes the reviews along
    again.use_review_file(str(chosen))
    again.review.set_verdict("plausible")
    name, case_hash = again.summary.names[case], again.summary.case_hashes[case]
    assert ReviewStore(chosen).get(name, case_hash).verdict == "plausible"
    assert [e["value"] for e in ReviewStore(chosen).history(name, case_hash) if e["kind"] == "verdict"] == [
        "spurious feature", "plausible"]  # the old file's history came along
    assert ReviewStore(path).get(name, case_hash).verdict == "spurious feature"
    third = make_view()
    open_demo_cases(qtbot, third)
    assert third.review_store.path == chosen.resolve() and third.table_model.verdicts[case] == "plausible"


def test_folder_with_corrupt_file_and_recipe_edit(qtbot, make_view, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.fromarray(rng.integers(0, 255, (40, 30, 3), dtype=np.uint8)).save(tmp_path / cls / f"{i}.png")
    (tmp_path / "a" / "bad.jpg").write_bytes(b"not a jpeg")
    view = make_view()
    with qtbot.waitSignal(view.ctx.state.predictions_changed, timeout=60000, check_params_cb=lambda p: p is not None):
        view.open(str(tmp_path))
    assert view.table_model.rowCount() == 6 and view.summary.skipped[0].startswith("a/bad.jpg")
    assert view.summary.preprocessing["size"] == [28, 28]  # fitted to the demo model
    assert view.findChild(object, "skippedDialog") is not None
    old_hash = view.summary.hash
    view.select_row(4)
    selected = view.current_case()
    with qtbot.waitSignal(view.ctx.state.predictions_changed, timeout=60000, check_params_cb=lambda p: p is not None):
        view.preprocessing.resize_combo.setCurrentIndex(view.preprocessing.resize_combo.findData("pad"))
    assert view.summary.preprocessing["resize"] == "pad" and view.summary.hash != old_hash
    assert view.current_case() == selected and view.ctx.state.case == selected  # kept across recipes
    sha = view.model.sha256
    assert view.ctx.settings.get("preprocessing")[sha]["resize"] == "pad"  # stored per model
    view.preprocessing.channels_combo.setCurrentIndex(view.preprocessing.channels_combo.findData("rgb"))
    qtbot.waitUntil(lambda: view.preprocessing.problem_label.isVisible(), timeout=60000)
    assert "expects 1" in view.preprocessing.problem_label.text()
    assert view.preprocessing.channels_combo.currentData() == "auto"  # reverted to the working recipe

    again = make_view()  # the same model opened again: its stored recipe comes back
    with qtbot.waitSignal(again.ctx.state.predictions_changed, timeout=60000, check_params_cb=lambda p: p is not None):
        again.open(str(tmp_path))
    assert again.summary.preprocessing["resize"] == "pad"
    assert again.preprocessing.resize_combo.currentData() == "pad"

    again.open(str(tmp_path / "missing"))  # a bad path: a readable error, the view keeps working
    qtbot.waitUntil(lambda: again.findChild(QMessageBox, "errorDialog") is not None, timeout=30000)
    assert "no such file" in again.findChild(QMessageBox, "errorDialog").text()
    assert again.table_model.rowCount() == 6


def test_main_window_opens_demo_with_cases_listed(qtbot, main_window) -> None:
    view = main_window.views["cases"]
    with qtbot.waitSignal(view.ctx.state.predictions_changed, timeout=120000, check_params_cb=lambda p: p is not None):
        main_window.start()
    assert view.table_model.rowCount() == 1797
    assert main_window.ctx.state.dataset is view.summary
    with qtbot.waitSignal(main_window.ctx.state.case_selected) as selected:
        view.select_row(5)
    assert selected.args == [5]
