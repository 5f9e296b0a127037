"""The whole window on the model kinds a user brings: a single-sigmoid binary classifier, a
two-head model (box regression + face probability), a text classifier and a signal classifier.

Each opens with its cases, selects a case, explains it, shows every head in its own terms and
says what the view cannot do for that kind; a screenshot of each (1400x900) lands in shots/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from gui.main_window import MainWindow

SHOTS = Path(__file__).resolve().parents[2] / "shots"
TEXTS = ["the cat sat on the mat", "a dog ran far away", "the dog sat", "what a great film", "an awful film"]


def sigmoid_binary(folder: Path) -> tuple[Path, Path]:
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 1), name="image")
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    h = keras.layers.GlobalAveragePooling2D()(h)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="p")(h), name="binary")
    x = np.random.default_rng(0).uniform(0, 1, (6, 16, 16, 1)).astype("float32")
    return _save(folder, model, "binary", x=x, y=np.arange(6) % 2)


def two_heads(folder: Path) -> tuple[Path, Path]:
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3), name="image")
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    h = keras.layers.GlobalAveragePooling2D()(h)
    box = keras.layers.Dense(4, name="box")(h)
    face = keras.layers.Dense(1, activation="sigmoid", name="face")(h)
    x = np.random.default_rng(1).uniform(0, 1, (6, 16, 16, 3)).astype("float32")
    return _save(folder, keras.Model(inputs, [box, face], name="detector"), "detector", x=x)


def text(folder: Path) -> tuple[Path, Path]:
    import keras

    keras.utils.set_random_seed(0)
    vectorize = keras.layers.TextVectorization(max_tokens=40, output_sequence_length=8, name="vectorize")
    vectorize.adapt(TEXTS)
    inputs = keras.Input((1,), dtype="string", name="text")
    h = keras.layers.Embedding(40, 8, name="embedding")(vectorize(inputs))
    h = keras.layers.LSTM(4, name="lstm")(h)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="sentiment")(h), name="text")
    model.save(folder / "text.keras")
    (folder / "text.txt").write_text("\n".join(TEXTS) + "\n")
    return folder / "text.keras", folder / "text.txt"


def signal(folder: Path) -> tuple[Path, Path]:
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((64, 2), name="signal")
    h = keras.layers.Conv1D(6, 5, activation="relu", name="conv1d")(inputs)
    h = keras.layers.GlobalAveragePooling1D()(h)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="rhythm")(h), name="signal")
    t = np.linspace(0, 4 * np.pi, 64)
    x = np.stack([np.stack([np.sin(t * (1 + k)), np.cos(t)], axis=1) for k in range(6)]).astype("float32")
    return _save(folder, model, "signal", x=x, y=np.arange(6) % 3)


def _save(folder: Path, model: Any, name: str, **arrays: np.ndarray) -> tuple[Path, Path]:
    model.save(folder / f"{name}.keras")
    np.savez(folder / f"{name}.npz", **arrays)
    return folder / f"{name}.keras", folder / f"{name}.npz"


KINDS = {"sigmoid_binary": (sigmoid_binary, "p (one sigmoid: classes 1 - p and p"),
         "two_heads": (two_heads, "face (one sigmoid"),
         "text": (text, "Text: one value per token"),
         "signal": (signal, "Sequence: attribution along time")}


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(KINDS))
def test_window_explains_the_kind(qtbot, tmp_path: Path, kind: str) -> None:
    build, expected = KINDS[kind]
    model_path, cases_path = build(tmp_path)
    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    win.ctx.engine.start()
    canvas = win.views["attribution"]
    with qtbot.waitSignal(win.ctx.state.model_changed, timeout=120000):
        win.open_model(str(model_path), dataset=str(cases_path))
    qtbot.waitUntil(lambda: len(win.views["cases"].table_model.summary.names if win.views["cases"].summary else []) > 0,
                    timeout=120000)
    win.ctx.state.select_case(1)
    qtbot.waitUntil(lambda: canvas.case_view is not None and canvas.panels[canvas.active].result is not None,
                    timeout=120000)
    assert win.findChild(QMessageBox, "errorDialog") is None
    picker = canvas.head_picker
    shown = picker.combo.currentText() + " " + picker.note.text()
    assert expected in shown, shown
    assert len(canvas.case_view.heads) == len(win.ctx.state.model.heads)
    if kind == "two_heads":
        assert picker.combo.count() == 2 and "box (regression values" in picker.combo.itemText(0)
        assert "values:" in picker.outputs.text()  # the box head as numbers, not classes
        assert canvas.target.spin.maximum() == 1  # face: two classes, p and 1 - p
        picker.combo.setCurrentIndex(0)  # explain the box head: its four values are the targets
        assert picker.kind.currentText() == "regression" and canvas.target.spin.maximum() == 3
        qtbot.waitUntil(lambda: canvas.panels[canvas.active].result is not None
                        and canvas.panels[canvas.active].request[-2] == 0, timeout=120000)
        assert canvas.panels[canvas.active].result.targets.tolist() == [0]  # unit 0, not an argmax
    if kind == "text":
        assert "Top tokens" in canvas.map_grid.cells[canvas.active].text.top.text()  # words, not the image canvas
    SHOTS.mkdir(exist_ok=True)
    qtbot.wait(300)
    win.grab().save(str(SHOTS / f"kind_{kind}.png"))
    win.close()
