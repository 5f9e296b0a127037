"""Record the demo training runs the Training view opens out of the box.

    .venv/bin/python resources/train_runs.py            # rewrites resources/demo/runs/*
    .venv/bin/python resources/train_runs.py --out-dir /tmp/runs --epochs 2

Trains the demo architecture (train_demo.build_model) on the demo cases' training split twice,
with engine.training.TrainingRecorder attached: once on the true labels ("digits") and once with
5% of the training labels flipped to another class, seeded ("digits-flipped-5pct"; the flipped
case indices are in its flipped.npy, for checking the mislabel list). `case_index` maps every
recorded case to its row in digits_cases.npz, so a click in the view opens that case.
The committed digits_cnn.keras is not touched (train_demo.py makes it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # engine/, when run as a script from anywhere

from resources.train_demo import EPOCHS, SEED, build_model, make_cases  # noqa: E402

FLIP_FRACTION = 0.05
CHECKPOINT_EVERY = 5


def flip_labels(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(new labels, flipped indices): each flipped label moves to a different class, seeded."""
    rng = np.random.default_rng(seed)
    flipped = np.sort(rng.choice(len(y), int(round(fraction * len(y))), replace=False))
    out = y.copy()
    out[flipped] = (out[flipped] + rng.integers(1, 10, len(flipped))) % 10
    return out, flipped


def record(run_dir: Path, x: np.ndarray, y: np.ndarray, case_index: np.ndarray, epochs: int) -> None:
    import keras

    from engine.training import TrainingRecorder

    keras.utils.set_random_seed(SEED)
    model = build_model()
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    if run_dir.exists():
        shutil.rmtree(run_dir)
    recorder = TrainingRecorder(x, y, run_dir, checkpoint_every=CHECKPOINT_EVERY, case_index=case_index)
    model.fit(x, y, batch_size=32, epochs=epochs, shuffle=True, verbose=0, callbacks=[recorder])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", type=Path, default=HERE / "demo" / "runs")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    cases = make_cases()
    train = np.flatnonzero(cases["split"] == "train")
    x = cases["x"][train].astype(np.float32) / 255.0
    y = cases["y"][train]
    record(args.out_dir / "digits", x, y, train, args.epochs)
    noisy, flipped = flip_labels(y, FLIP_FRACTION, SEED)
    record(args.out_dir / "digits-flipped-5pct", x, noisy, train, args.epochs)
    np.save(args.out_dir / "digits-flipped-5pct" / "flipped.npy", flipped)
    print(f"wrote {args.out_dir}: {len(train)} cases, {len(flipped)} labels flipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
