"""Training-data explanation figures: the recorder's overhead per epoch, and TracIn time per test case.

    .venv/bin/python bench/training.py              # overhead on the digits demo model, influence at 1,000 and 50,000
    .venv/bin/python bench/training.py --epochs 4   # quicker

Overhead: the demo CNN is trained on the demo training split (1,437 cases, batch 32) with
TrainingRecorder (checkpoint every epoch, the worst case, and every 5 as the demo runs do). Timing
callbacks before and after the recorder split every epoch into its own time (training) and the
recorder's; the figure is the median over epochs of (own + recorder) / own, the first (tracing)
epoch dropped. Measuring both in the same epoch keeps a busy machine from skewing the ratio. The
floor is one inference pass over the training cases, printed too.
Influence: a run folder with N training cases' features (random h and probabilities, the demo
model's 64-wide last layer, 3 checkpoints of the demo weights); 100 demo test cases scored.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

N_TEST = 100
CHECKPOINTS = 3


def timers():
    """Two Keras callbacks to put around the recorder: the first stamps the end of the epoch's
    own work, the second the end of the recorder's, so both are measured in the same epoch and
    load on the machine hits them alike."""
    import keras

    class Stamp(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.begin: list[float] = []
            self.end: list[float] = []

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.begin.append(time.perf_counter())

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            self.end.append(time.perf_counter())

    return Stamp(), Stamp()


def demo_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    with np.load(ROOT / "resources" / "demo" / "digits_cases.npz") as data:
        x, y, split = data["x"].astype(np.float32) / 255.0, data["y"], data["split"]
    return x[split == "train"], y[split == "train"], x[split == "test"], y[split == "test"]


def epoch_times(x: np.ndarray, y: np.ndarray, epochs: int, run_dir: Path, every: int) -> tuple[np.ndarray, np.ndarray]:
    """(epoch's own seconds, recorder's seconds) per epoch, the first (tracing) epoch dropped."""
    import keras

    from engine.training import TrainingRecorder
    from resources.train_demo import build_model

    keras.utils.set_random_seed(0)
    model = build_model()
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    before, after = timers()
    recorder = TrainingRecorder(x, y, run_dir, checkpoint_every=every)
    model.fit(x, y, batch_size=32, epochs=epochs, verbose=0, callbacks=[before, recorder, after])
    own = np.array(before.end) - np.array(before.begin)
    return own[1:], (np.array(after.end) - np.array(before.end))[1:]


def inference_time(model, x: np.ndarray) -> float:
    from engine.training.recorder import feature_function, predict_features

    function = feature_function(model)
    predict_features(function, x, 512)
    start = time.perf_counter()
    for _ in range(3):
        predict_features(function, x, 512)
    return (time.perf_counter() - start) / 3


def synthetic_run(root: Path, n: int, model) -> Path:
    """A run folder with n cases' checkpoint features, as the recorder would write them."""
    from engine.fileio import atomic_write_json
    from engine.training.run import FORMAT, RECORD, write_array, write_npz

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, n)
    write_array(root / "labels.npy", labels)
    write_array(root / "case_index.npy", np.arange(n))
    write_array(root / "epochs/0001.npy", np.zeros(n, RECORD))
    checkpoints = []
    for epoch in range(1, CHECKPOINTS + 1):
        logits = rng.normal(0, 3, (n, 10))
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        write_npz(root / f"checkpoints/{epoch:04d}.features.npz", compress=False, h=np.abs(rng.normal(0, 1, (n, 64))).astype(np.float16),
                  probabilities=p.astype(np.float16))
        write_npz(root / f"checkpoints/{epoch:04d}.weights.npz", compress=False, **{f"w{i}": w for i, w in enumerate(model.get_weights())})
        checkpoints.append({"epoch": epoch, "learning_rate": 1e-3, "weights": f"checkpoints/{epoch:04d}.weights.npz",
                            "features": f"checkpoints/{epoch:04d}.features.npz"})
    atomic_write_json(root / "manifest.json", {
        "format": FORMAT, "n_cases": n, "labels": "labels.npy", "case_index": "case_index.npy", "complete": True,
        "epochs": [{"epoch": 1, "file": "epochs/0001.npy", "scalars": {}}], "checkpoints": checkpoints,
    })
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args(argv)
    from engine.models import load_model
    from engine.training import influence

    x, y, x_test, y_test = demo_data()
    with tempfile.TemporaryDirectory() as tmp:
        model, _ = load_model(ROOT / "resources" / "demo" / "digits_cnn.keras")
        print(f"one inference pass over the {len(x)} training cases: {inference_time(model, x) * 1e3:.0f} ms")
        for every in (1, 5):
            own, recorder = epoch_times(x, y, args.epochs, Path(tmp) / f"run{every}", every)
            ratio = np.median((own + recorder) / own)
            print(f"recorder, checkpoint every {every}: epoch {np.median(own) * 1e3:.0f} ms + recorder "
                  f"{np.median(recorder) * 1e3:.0f} ms -> {ratio:.2f}x the epoch's own time  [target < 1.2x]")
        for n in (1_000, 50_000):
            run_dir = synthetic_run(Path(tmp) / f"n{n}", n, model)
            influence(run_dir, model, x_test[:2], y_test[:2])  # warm-up: tracing
            start = time.perf_counter()
            influence(run_dir, model, x_test[:N_TEST], y_test[:N_TEST], top_k=10)
            per_case = (time.perf_counter() - start) / N_TEST
            print(f"influence (TracIn, {CHECKPOINTS} checkpoints, last layer 64 wide): {n:>6,} training cases -> "
                  f"{per_case * 1e3:.2f} ms per test case ({N_TEST} test cases in one call)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
