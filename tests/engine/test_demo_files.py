"""The tabular and text demos in resources/demo agree with their data: the model, its cases and
the scaling file were written together by resources/train_tabular_text_demos.py."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from engine.data import load_texts
from gui.app import DEMOS, RESOURCES

DEMO = RESOURCES / "demo"
keras = pytest.importorskip("keras")


def test_every_demo_has_its_model_and_cases() -> None:
    assert len(DEMOS) == 3
    for _, model, cases in DEMOS:
        assert model.is_file() and cases.is_file()


def test_breast_cancer_scaling_file_and_model_agree() -> None:
    scaling = json.loads((DEMO / "breast_cancer_scaling.json").read_text())
    with open(DEMO / "breast_cancer.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    names = list(scaling["features"])
    assert len(rows) == 569 and len(names) == 30
    x = np.array([[float(r[n]) for n in names] for r in rows])
    train = np.array([r["split"] == "train" for r in rows])
    mean = np.array([scaling["features"][n]["mean"] for n in names])
    np.testing.assert_allclose(mean, x[train].mean(axis=0), rtol=1e-5)  # fitted on the training rows
    model = keras.saving.load_model(DEMO / "breast_cancer_mlp.keras")
    std = np.array([scaling["features"][n]["std"] for n in names])
    predicted = model.predict(((x - mean) / std).astype(np.float32), verbose=0).argmax(axis=1)
    truth = np.array([scaling["class_names"].index(r["diagnosis"]) for r in rows])
    assert (predicted[~train] == truth[~train]).mean() > 0.9


def test_review_demo_reads_raw_strings() -> None:
    dataset = load_texts(DEMO / "reviews.csv")
    model = keras.saving.load_model(DEMO / "review_sentiment.keras")
    texts = [dataset.raw(i) for i in range(len(dataset))]
    import tensorflow as tf

    predicted = model.predict(tf.constant([[str(t)] for t in texts]), verbose=0).argmax(axis=1)
    assert len(dataset) == 600 and dataset.class_names == ["negative", "positive"]
    assert (predicted == dataset.labels).mean() > 0.9
