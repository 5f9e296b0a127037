"""Time per case of every attribution method, and its ratio to the floor.

The floor is what the same model evaluations cost with nothing around them: the rows each
method actually evaluated (counted by the explainer, by kind: forward for perturbation methods,
forward+backward for gradient methods) run as one plain loop of full batches of the same batch
size through a compiled tf.function, in the same process, right after the method (method and
floor alternate after a warm-up that traces; each time is the best of --repeats runs, the
least disturbed by other work on a shared machine; ratios are best over best, in wall time and
in this process's CPU time, which other programs on a shared machine do not inflate).
Target: every method within 1.3x its floor.

    .venv/bin/python bench/explainers.py                 # demo CNN and MobileNetV2, defaults
    .venv/bin/python bench/explainers.py --quick         # fewer cases, MobileNet with fewer samples
    .venv/bin/python bench/explainers.py --methods saliency,rise --cases 16 --models demo
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from engine import explainers  # noqa: E402

TARGET = 1.3
# --quick on MobileNet: fewer samples per case so that the whole table takes minutes.
QUICK_MOBILENET = {"steps": 16, "nb_samples": 64, "stride": 16}


def demo_model(cases: int) -> tuple[keras.Model, np.ndarray]:
    demo = ROOT / "resources" / "demo"
    model = keras.models.load_model(demo / "digits_cnn.keras")
    x = np.load(demo / "digits_cases.npz")["x"][:cases].astype("float32") / 255.0
    return model, x


def mobilenet_model(cases: int) -> tuple[keras.Model, np.ndarray]:
    """Untrained MobileNetV2 on scikit-image's bundled photos (superpixels need real images)."""
    from skimage import data, transform

    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3))
    photos = [data.astronaut, data.chelsea, data.coffee, data.rocket]
    x = [transform.resize(photos[i % len(photos)](), (224, 224), anti_aliasing=True) for i in range(cases)]
    return model, (np.stack(x) * 2 - 1).astype("float32")  # MobileNetV2 scaling: -1..1


class Clock:
    """Wall time and this process's CPU time (all threads) of a block.

    On a shared machine the wall time also counts other programs' turns on the CPU; the CPU
    time counts only the work done here, so the CPU ratio is the steadier overhead measure.
    """

    def __enter__(self) -> Clock:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


def floor_runner(model: keras.Model, shape: tuple[int, ...], batch_size: int) -> Callable[[dict], float]:
    """A function timing `counts` = {"forward": rows, "gradient": rows} as plain batched loops."""

    @tf.function(reduce_retracing=True)
    def forward(x: tf.Tensor) -> tf.Tensor:
        return model(x, training=False)

    @tf.function(reduce_retracing=True)
    def gradient(x: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = tf.reduce_sum(model(x, training=False)[:, 0])
        return tape.gradient(score, x)

    rng = np.random.default_rng(1)
    batches: dict[int, tf.Tensor] = {}

    def batch(rows: int) -> tf.Tensor:
        if rows not in batches:
            batches[rows] = tf.constant(rng.uniform(0, 1, size=(rows, *shape)).astype("float32"))
        return batches[rows]

    def loop(fn: Callable, rows: int) -> None:
        full, rest = divmod(rows, batch_size)
        for _ in range(full):
            out = fn(batch(batch_size))
        if rest:
            out = fn(batch(rest))
        if rows:
            out.numpy()  # wait for the last batch

    def run(counts: dict) -> tuple[float, float]:
        with Clock() as clock:
            loop(forward, counts.get("forward", 0))
            loop(gradient, counts.get("gradient", 0))
        return clock.wall, clock.cpu

    return run


def bench_model(label: str, model: keras.Model, x: np.ndarray, names: list[str], overrides: dict, repeats: int) -> dict:
    """{method: (seconds per case, floor seconds per case, evaluations per case)}."""
    results = {}
    floors: dict[int, Callable[[dict], float]] = {}
    for name in names:
        info = next(i for i in explainers.available() if i.name == name)
        params = {k: v for k, v in overrides.items() if k in info.params}
        explainer = explainers.create(name, model, **params)
        explainer.explain(x)  # warm-up: traces every batch shape
        counts = dict(explainer.evaluations)
        batch_size = int(explainer.params["batch_size"])
        floor = floors.setdefault(batch_size, floor_runner(model, x.shape[1:], batch_size))
        floor(counts)  # warm-up
        method_times, floor_times = [], []
        for _ in range(repeats):
            with Clock() as clock:
                explainer.explain(x)
            method_times.append((clock.wall, clock.cpu))
            floor_times.append(floor(counts))
        n = len(x)
        (wall, cpu), (floor_wall, floor_cpu) = np.min(method_times, axis=0), np.min(floor_times, axis=0)
        results[name] = (wall / n, floor_wall / n, wall / floor_wall, cpu / floor_cpu, {k: v / n for k, v in counts.items()})
        print(f"  {label:9s} {name:22s} {1e3 * wall / n:10.1f} ms/case  floor {1e3 * floor_wall / n:10.1f}  "
              f"ratio wall {wall / floor_wall:5.2f}  cpu {cpu / floor_cpu:5.2f}", flush=True)
    return results


def table(columns: dict[str, dict], names: list[str]) -> str:
    """One row per method; per model: wall time per case, floor, wall and CPU ratios, evaluations.

    The verdict uses the CPU-time ratio (steadier on a shared machine, see `Clock`).
    """
    head = f"{'method':22s}"
    for label in columns:
        head += f" | {label + ' ms/case':>17s} {'floor':>9s} {'wall x':>6s} {'cpu x':>6s} {'fwd+grad/case':>13s}"
    lines = [head + " | verdict (cpu)", "-" * (len(head) + 16)]
    for name in names:
        line, worst = f"{name:22s}", 0.0
        for results in columns.values():
            t, f, wall_ratio, cpu_ratio, evals = results[name]
            worst = max(worst, cpu_ratio)
            counts = f"{evals.get('forward', 0):.0f}+{evals.get('gradient', 0):.0f}"
            line += f" | {1e3 * t:17.1f} {1e3 * f:9.1f} {wall_ratio:6.2f} {cpu_ratio:6.2f} {counts:>13s}"
        lines.append(line + (" | ok" if worst <= TARGET else f" | MISS (> {TARGET}x)"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default="", help="comma-separated names (default: every available method)")
    parser.add_argument("--cases", type=int, default=0, help="cases per model (default 16 demo / 2 MobileNet)")
    parser.add_argument("--models", default="demo,mobilenet", help="demo and/or mobilenet")
    parser.add_argument("--repeats", type=int, default=0, help="timed runs per method (best is kept)")
    parser.add_argument("--quick", action="store_true", help="4 demo cases, 1 MobileNet case with fewer samples")
    args = parser.parse_args(argv)

    names = [i.name for i in explainers.available()]
    if args.methods:
        wanted = [m.strip() for m in args.methods.split(",") if m.strip()]
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            parser.error(f"unknown methods: {', '.join(unknown)}; available: {', '.join(names)}")
        names = wanted
    repeats = args.repeats or (3 if args.quick else 5)
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}; best of {repeats}", flush=True)
    columns: dict[str, dict] = {}
    for label in [m.strip() for m in args.models.split(",") if m.strip()]:
        if label == "demo":
            model, x = demo_model(args.cases or (4 if args.quick else 16))
            overrides: dict = {}
        elif label == "mobilenet":
            model, x = mobilenet_model(args.cases or (1 if args.quick else 2))
            overrides = QUICK_MOBILENET if args.quick else {}
        else:
            parser.error(f"unknown model {label!r} (demo, mobilenet)")
        print(f"{label}: {len(x)} cases of shape {x.shape[1:]}" + (f", overrides {overrides}" if overrides else ""))
        columns[label] = bench_model(label, model, x, names, overrides, repeats)
    print()
    print(table(columns, names))


if __name__ == "__main__":
    main()
