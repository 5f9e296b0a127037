"""The committed demo model and cases: the agreed layout, >= 95% test accuracy, reproducible."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from engine.models import load_model

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo"
MODEL, CASES = DEMO / "digits_cnn.keras", DEMO / "digits_cases.npz"


@pytest.fixture(scope="module")
def demo() -> tuple[keras.Model, object]:
    return load_model(MODEL)  # safe mode, no trust needed


@pytest.fixture(scope="module")
def cases() -> dict[str, np.ndarray]:
    with np.load(CASES) as data:
        return {key: data[key] for key in data.files}


def test_demo_files_are_small() -> None:
    assert MODEL.stat().st_size < 1_000_000
    assert CASES.stat().st_size < 2_000_000


def test_demo_has_the_agreed_layers(demo: tuple) -> None:
    model, desc = demo
    names = [layer.path for layer in desc.all_layers()]
    assert names == ["conv1", "conv2", "pool", "conv3", "flatten", "embedding", "probabilities"]
    assert desc.inputs[0].shape == (None, 28, 28, 1) and desc.inputs[0].dtype == "float32"
    four_d = [layer.name for layer in desc.layers if isinstance(layer.output_shape, tuple) and len(layer.output_shape) == 4]
    assert four_d[-1] == "conv3"
    assert desc.layer("embedding").output_shape == (None, 64)
    assert desc.layer("probabilities").inbound == ("embedding",)
    assert desc.layer("probabilities").config["units"] == 10
    assert desc.output_activation == "softmax"
    assert model.get_layer("probabilities").input.shape == (None, 64)


def test_cases_have_the_agreed_layout(cases: dict[str, np.ndarray]) -> None:
    assert cases["x"].dtype == np.uint8 and cases["x"].shape == (1797, 28, 28, 1)
    assert cases["y"].dtype == np.int64 and sorted(set(cases["y"].tolist())) == list(range(10))
    assert cases["class_names"].tolist() == [str(c) for c in range(10)]
    assert set(cases["split"].tolist()) == {"train", "test"}
    assert 300 <= int(np.sum(cases["split"] == "test")) <= 400
    assert cases["x"].max() == 255 and cases["x"].min() == 0


def test_demo_scores_at_least_95_percent_on_its_test_split(demo: tuple, cases: dict[str, np.ndarray]) -> None:
    model, _ = demo
    test = cases["split"] == "test"
    probabilities = model.predict(cases["x"][test].astype(np.float32) / 255.0, batch_size=256, verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    accuracy = float(np.mean(probabilities.argmax(axis=1) == cases["y"][test]))
    assert accuracy >= 0.95, accuracy


def _train(*out_dirs: Path) -> None:
    """One epoch per folder, in child processes side by side.

    Children because op determinism is process-wide: it must not leak into other tests.
    """
    script = str(ROOT / "resources" / "train_demo.py")
    children = [
        subprocess.Popen([sys.executable, script, "--out-dir", str(d), "--epochs", "1"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for d in out_dirs
    ]
    try:
        assert [child.wait(timeout=300) for child in children] == [0] * len(children)
    finally:
        for child in children:
            child.kill()


@pytest.mark.timeout(600)
def test_training_script_is_deterministic(tmp_path: Path, cases: dict[str, np.ndarray]) -> None:
    _train(tmp_path / "a", tmp_path / "b")
    first = keras.saving.load_model(tmp_path / "a" / "digits_cnn.keras").get_weights()
    second = keras.saving.load_model(tmp_path / "b" / "digits_cnn.keras").get_weights()
    assert len(first) == 10
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[-2], keras.saving.load_model(MODEL).get_weights()[-2])  # it did train anew
    with np.load(tmp_path / "a" / "digits_cases.npz") as rebuilt:
        for key, value in cases.items():
            np.testing.assert_array_equal(rebuilt[key], value)
