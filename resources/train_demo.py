"""Retrain the demo model deterministically: a small CNN on scikit-learn's digits at 28x28.

    .venv/bin/python resources/train_demo.py            # rewrites resources/demo/*
    .venv/bin/python resources/train_demo.py --out-dir /tmp/demo --epochs 1

No downloads: the 1797 8x8 digits ship inside scikit-learn. They are upsampled to 28x28
(bilinear) so that attribution maps have visible structure, stored as uint8 in
`digits_cases.npz` (x, y, class_names, split) and fed to the model scaled to 0..1.
Same seed, same library versions, same machine type -> the same weights (op determinism on).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SIZE = 28
SEED = 0
EPOCHS = 15


def make_cases() -> dict[str, np.ndarray]:
    """The digits as uint8 (N, 28, 28, 1) with labels, class names and a stratified split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from skimage.transform import resize

    digits = load_digits()
    small = digits.images.astype(np.float64) / 16.0
    big = resize(small, (len(small), SIZE, SIZE), order=1, mode="edge", anti_aliasing=False)
    x = np.clip(np.rint(big * 255.0), 0, 255).astype(np.uint8)[..., None]
    y = digits.target.astype(np.int64)
    _, test_idx = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=SEED)
    split = np.full(len(y), "train", dtype="<U5")
    split[test_idx] = "test"
    class_names = np.array([str(c) for c in range(10)])
    return {"x": x, "y": y, "class_names": class_names, "split": split}


def build_model():  # -> keras.Model
    """conv1 -> conv2 -> pool -> conv3 (7x7x32) -> flatten -> embedding (64) -> probabilities.

    Flatten keeps where a stroke is (global average pooling lost it and trained slowly);
    the stride-2 conv3 keeps the flattened width, and so the file, small (~100k weights).
    """
    import keras
    from keras import layers

    inputs = keras.Input((SIZE, SIZE, 1), name="image")
    h = layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
    h = layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2")(h)
    h = layers.MaxPooling2D(2, name="pool")(h)
    h = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="conv3")(h)
    h = layers.Flatten(name="flatten")(h)
    h = layers.Dense(64, activation="relu", name="embedding")(h)
    outputs = layers.Dense(10, activation="softmax", name="probabilities")(h)
    return keras.Model(inputs, outputs, name="digits_cnn")


def train(out_dir: Path, epochs: int = EPOCHS) -> float:
    """Train, write digits_cnn.keras and digits_cases.npz into `out_dir`; return test accuracy."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()

    cases = make_cases()
    x = cases["x"].astype(np.float32) / 255.0
    train_mask = cases["split"] == "train"

    model = build_model()
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x[train_mask], cases["y"][train_mask], batch_size=32, epochs=epochs, shuffle=True, verbose=0)
    probabilities = model.predict(x[~train_mask], batch_size=256, verbose=0)
    accuracy = float(np.mean(probabilities.argmax(1) == cases["y"][~train_mask]))

    # Save an uncompiled copy: no optimizer state (smaller file) and no "compiled metrics"
    # warnings for whoever opens it.
    clean = build_model()
    clean.set_weights(model.get_weights())
    out_dir.mkdir(parents=True, exist_ok=True)
    _save_atomic(out_dir / "digits_cnn.keras", clean.save)
    _save_atomic(out_dir / "digits_cases.npz", lambda p: np.savez_compressed(p, **cases))
    return accuracy


def _save_atomic(target: Path, save) -> None:
    """Write next to `target` then rename, so a killed run never leaves a half-written file."""
    tmp = target.with_name(f".{target.stem}.tmp{target.suffix}")
    save(str(tmp))
    os.replace(tmp, target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", type=Path, default=HERE / "demo")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    args = parser.parse_args(argv)
    accuracy = train(args.out_dir, args.epochs)
    print(f"test accuracy {accuracy:.4f}; wrote {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
