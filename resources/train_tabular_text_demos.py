"""Retrain the tabular and text demos deterministically (no downloads).

    .venv/bin/python resources/train_tabular_text_demos.py          # rewrites resources/demo/*
    .venv/bin/python resources/train_tabular_text_demos.py --out-dir /tmp/demo

Tabular: scikit-learn's bundled breast-cancer data (569 cases, 30 numeric features). The CSV keeps
the raw feature values and a `diagnosis` column (malignant / benign), because a validator reads a
case in the units it was measured in. The model takes the standardised features; the scaling
(mean and standard deviation per feature, fitted on the training split) is a separate JSON file,
so that how columns become the model's input stays an explicit, visible recipe.

Text: generated product reviews from templates (a seeded choice of words, no corpus), labelled
negative / positive by the words they were built from. The model holds its TextVectorization, so
it reads raw strings, as a deployed text classifier does.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 0

POSITIVE = ["excellent", "great", "friendly", "fast", "reliable", "wonderful", "clean", "helpful"]
NEGATIVE = ["terrible", "slow", "rude", "broken", "dirty", "awful", "late", "useless"]
NEUTRAL_SUBJECTS = ["the service", "the staff", "the delivery", "the product", "the room", "the support",
                    "the food", "the app"]
LINKS = ["was", "seemed", "felt", "is", "has been"]
FILLERS = ["today", "overall", "as usual", "this time", "for the price", "honestly", ""]


def breast_cancer_table() -> tuple[list[str], np.ndarray, np.ndarray, list[str], np.ndarray]:
    """Feature names, raw features (N, 30), labels, class names and a stratified train/test split."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    data = load_breast_cancer()
    names = [str(n).replace(" ", "_") for n in data.feature_names]
    y = data.target.astype(np.int64)
    _, test_idx = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=SEED)
    split = np.full(len(y), "train", dtype="<U5")
    split[test_idx] = "test"
    return names, data.data.astype(np.float64), y, [str(c) for c in data.target_names], split


def make_sentences(n: int = 600) -> tuple[list[str], np.ndarray]:
    """Seeded template sentences; a positive review uses positive words, a negative one negative
    words, sometimes with a contrasting clause ("but ...") so that order and context matter a little."""
    rng = np.random.default_rng(SEED)
    texts, labels = [], []
    for i in range(n):
        label = i % 2
        main, other = (POSITIVE, NEGATIVE) if label else (NEGATIVE, POSITIVE)
        words = [rng.choice(NEUTRAL_SUBJECTS), rng.choice(LINKS), rng.choice(main)]
        if rng.random() < 0.5:
            words += ["and", rng.choice(main)]
        if rng.random() < 0.25:
            words += ["but", rng.choice(NEUTRAL_SUBJECTS), rng.choice(LINKS), rng.choice(other), "sometimes"]
        words.append(rng.choice(FILLERS))
        texts.append(" ".join(w for w in words if w))
        labels.append(label)
    return texts, np.array(labels, dtype=np.int64)


def train_breast_cancer(out_dir: Path, epochs: int = 60) -> float:
    import keras

    names, x, y, class_names, split = breast_cancer_table()
    train = split == "train"
    mean, std = x[train].mean(axis=0), x[train].std(axis=0)
    z = ((x - mean) / std).astype(np.float32)

    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((len(names),), name="features")
    h = keras.layers.Dense(16, activation="relu", name="hidden1")(inputs)
    h = keras.layers.Dense(8, activation="relu", name="hidden2")(h)
    outputs = keras.layers.Dense(2, activation="softmax", name="diagnosis")(h)
    model = keras.Model(inputs, outputs, name="breast_cancer_mlp")
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(z[train], y[train], epochs=epochs, batch_size=32, shuffle=True, verbose=0)
    accuracy = float(model.evaluate(z[~train], y[~train], verbose=0)[1])

    model.save(out_dir / "breast_cancer_mlp.keras")
    with open(out_dir / "breast_cancer.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*names, "diagnosis", "split"])
        for row, label, part in zip(x, y, split):
            writer.writerow([*(f"{v:.6g}" for v in row), class_names[label], part])
    scaling = {"kind": "standardize", "fitted_on": "breast_cancer.csv rows with split == train",
               "label_column": "diagnosis", "class_names": class_names,
               "features": {n: {"mean": float(m), "std": float(s)} for n, m, s in zip(names, mean, std)}}
    (out_dir / "breast_cancer_scaling.json").write_text(json.dumps(scaling, indent=1) + "\n", encoding="utf-8")
    return accuracy


def train_text(out_dir: Path, epochs: int = 30) -> float:
    import keras

    texts, y = make_sentences()
    test = np.arange(len(y)) % 5 == 0
    keras.utils.set_random_seed(SEED)
    vectorize = keras.layers.TextVectorization(max_tokens=64, output_sequence_length=14, name="vectorize")
    vectorize.adapt(np.array([t for t, held_out in zip(texts, test) if not held_out]))
    inputs = keras.Input((1,), dtype="string", name="text")
    h = keras.layers.Embedding(64, 8, name="embedding")(vectorize(inputs))
    h = keras.layers.GlobalAveragePooling1D(name="pool")(h)
    h = keras.layers.Dense(8, activation="relu", name="hidden")(h)
    outputs = keras.layers.Dense(2, activation="softmax", name="sentiment")(h)
    model = keras.Model(inputs, outputs, name="review_sentiment")
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    import tensorflow as tf

    def strings(mask: np.ndarray):  # Keras refuses object arrays; a string tensor is what it takes
        return tf.constant([[t] for t, keep in zip(texts, mask) if keep])

    model.fit(strings(~test), y[~test], epochs=epochs, batch_size=32, verbose=0)
    accuracy = float(model.evaluate(strings(test), y[test], verbose=0)[1])

    model.save(out_dir / "review_sentiment.keras")
    with open(out_dir / "reviews.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for text, label in zip(texts, y):
            writer.writerow([text, ["negative", "positive"][label]])
    return accuracy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=HERE / "demo")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    print(f"breast cancer MLP: test accuracy {train_breast_cancer(args.out_dir):.3f}")
    print(f"review sentiment: test accuracy {train_text(args.out_dir):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
