"""Adversarial corpus, GUI side: settings of the wrong shape fall back per key and the window
starts; a case folder full of FIFOs, devices and bombs opens with a "skipped" message and the
window still closes; the trust dialog names the ops of a hostile SavedModel and its SHA-256."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

import gui.main_window as main_window_module
from gui.main_window import MainWindow
from gui.settings import Settings, config_dir
from gui.trust import reported_sha
from gui.views import VIEWS
from gui.views.cases import CaseView
from tests import hostile

GOOD_RECIPE = {"resize": "pad", "scale": "0..1"}
# name -> settings.json text, and the keys (with values) that must survive
SETTINGS = {
    "a_list": ("[1, 2, 3]", {}),
    "a_string": ('"settings"', {}),
    "a_number": ("42", {}),
    "null": ("null", {}),
    "not_json": ("{recent_models: [", {}),
    "deep": (hostile.deep_json(100_000), {}),
    "binary": ("\udcff\udcfe", {}),
    "recent_a_number": ('{"recent_models": 5, "reviewer_name": "Ada"}', {"reviewer_name": "Ada"}),
    "nulls_in_recent": ('{"recent_models": [null, 3, "/m/a.keras", ["x"]]}', {"recent_models": ["/m/a.keras"]}),
    "geometry_a_list": ('{"window_geometry": [1, 2], "window_state": {"a": 1}}', {}),
    "recipes_wrong": (json.dumps({"preprocessing": {"m1": {"size": "abc"}, "m2": [1], "m3": GOOD_RECIPE}}),
                      {"preprocessing": {"m3": GOOD_RECIPE}}),
    "recipes_a_string": ('{"preprocessing": "stretch"}', {}),
    "review_files_wrong": ('{"review_files": {"/a": 5, "/b": "/b.json", "/c": null}}', {"review_files": {"/b": "/b.json"}}),
    "deep_value": ('{"reviewer_name": ' + hostile.deep_json(500) + "}", {}),
    "unknown_keys_kept": ('{"someone_elses": {"x": [1]}, "recent_models": []}', {"someone_elses": {"x": [1]}}),
}


def _write_settings(text: str) -> Path:
    path = config_dir() / "settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    return path


@pytest.mark.parametrize("case", sorted(SETTINGS))
def test_settings_of_the_wrong_shape_fall_back_per_key(case: str) -> None:
    text, kept = SETTINGS[case]
    _write_settings(text)
    settings = Settings()
    for key, value in kept.items():
        assert settings.get(key) == value
    assert all(isinstance(p, str) for p in settings.recent_models)
    assert isinstance(settings.get("preprocessing", {}), dict)
    assert not isinstance(settings.get("window_geometry"), (list, dict))
    settings.add_recent_model("/m/new.keras")  # and it still saves
    assert Settings().recent_models[0] == str(Path("/m/new.keras").resolve())


@pytest.mark.parametrize("case", ["a_list", "geometry_a_list", "deep"])
def test_the_window_starts_whatever_the_settings(qtbot, monkeypatch, case: str) -> None:
    _write_settings(SETTINGS[case][0])
    monkeypatch.setattr(main_window_module, "VIEWS", [v for v in VIEWS if v.name == "modelBrowser"])
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    assert window.isVisible()
    expected = {"a_list": "the file holds list, not settings", "deep": "the whole file (unreadable)",
                "geometry_a_list": "window_geometry, window_state"}[case]
    assert window.status_label.text() == f"Settings reset to defaults: {expected}"
    window.close()


def test_a_hostile_case_folder_opens_and_the_window_still_closes(qtbot, tmp_path: Path) -> None:
    folder = tmp_path / "cases"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((8, 8), 50 * i, np.uint8)).save(folder / f"good{i}.png")
    hostile.fifo(folder, "pipe.png")
    sub = folder / "cats"
    sub.mkdir()
    hostile.fifo(sub, "deep_pipe.jpg")
    hostile.symlink(folder, "zero.png", "/dev/zero")
    hostile.png_declaring(folder / "bomb.png", 50_000, 50_000)
    hostile.tiff_declaring(folder / "bomb.tif", 50_000, 50_000)
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    window.ctx.engine.start()
    window.ctx.state.dataset_requested.emit(str(folder))
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "skippedDialog") is not None, timeout=60000)
    box = window.findChild(QMessageBox, "skippedDialog")
    assert box.text().startswith("5 file(s) could not be read and were skipped")
    details = box.detailedText()
    assert "pipe.png: is a FIFO" in details and "cats/deep_pipe.jpg: is a FIFO" in details
    assert "zero.png: is a character device" in details and "bomb.png" in details and "bomb.tif" in details
    cases = window.findChild(CaseView)
    assert cases.summary is not None and len(cases.summary) == 3
    box.close()
    window.close()
    assert not window.ctx.engine.isRunning()  # closing did not hang on anything in the folder


def test_trust_dialog_names_the_ops_and_the_content_hash(qtbot, monkeypatch) -> None:
    monkeypatch.setattr(main_window_module, "VIEWS", [v for v in VIEWS if v.name == "modelBrowser"])
    window = MainWindow()
    qtbot.addWidget(window)
    message = ("Cannot open /m/sm: its graph runs file, network or Python-callback ops (ReadFile in f, WriteFile in f) "
               f"when loaded or called; content SHA-256 {'ab' * 32}; open it only if you trust it (--trust)")
    seen: dict = {}

    def answer() -> None:
        box = QApplication.activeModalWidget()
        seen["text"] = box.text()
        box.defaultButton().click()

    QTimer.singleShot(100, answer)
    assert window._confirm_trust("/m/sm", message) is False
    assert "ReadFile in f, WriteFile in f" in seen["text"] and "ab" * 32 in seen["text"]
    assert reported_sha(message) == "ab" * 32
    assert reported_sha("Cannot open x: Lambda layer; open it only if you trust it") is None  # nothing to trust
    window.close()


def test_temp_files_of_a_killed_save_are_cleaned_on_the_next_open() -> None:
    path = _write_settings('{"reviewer_name": "Ada"}')
    old, fresh = path.with_name(".settings.json.k1ll3d.tmp"), path.with_name(".settings.json.wr1t1ng.tmp")
    old.write_text("{half")
    fresh.write_text("{half")
    os.utime(old, (1, 1))
    assert Settings().get("reviewer_name") == "Ada"
    assert not old.exists() and fresh.exists()  # another instance may still be writing the fresh one


@pytest.mark.parametrize("answer", [True, False])
def test_load_custom_objects_asks_first_and_trusts_the_hash_it_showed(qtbot, monkeypatch, tmp_path, answer) -> None:
    import hashlib

    from engine.tasks import LoadCustomObjects
    from gui import trust

    module = tmp_path / "mylab.py"
    module.write_text("X = 1\n")
    monkeypatch.setattr(main_window_module, "VIEWS", [v for v in VIEWS if v.name == "modelBrowser"])
    window = MainWindow()
    qtbot.addWidget(window)
    asked, submitted = [], []
    monkeypatch.setattr(trust.QFileDialog, "getOpenFileName", lambda *a, **k: (str(module), ""))
    monkeypatch.setattr(trust, "ask", lambda _parent, title, text, name: asked.append(text) or answer)
    monkeypatch.setattr(window.ctx.engine, "submit", lambda request, **kwargs: submitted.append(request) or 1)
    action = next(a for a in window.menuBar().actions()[0].menu().actions() if "custom objects" in a.text())
    action.trigger()
    sha = hashlib.sha256(module.read_bytes()).hexdigest()
    assert len(asked) == 1 and sha in asked[0] and "Python code" in asked[0]
    if answer:
        assert submitted == [LoadCustomObjects(path=str(module), sha256=sha)]
    else:
        assert submitted == []
    window.close()
