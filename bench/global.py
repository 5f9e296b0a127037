"""Time of each global explanation on the demos and on 10,000 generated tabular cases, beside the
plain batched model passes it needs.

For each workload (the digits CNN on its 1,797 demo cases; the breast-cancer MLP on its 569
cases, standardised with the demo's breast_cancer_scaling.json; the same MLP on 10,000 generated
cases of 30 standard-normal features) it runs permutation importance, NormLIME and an
attribution summary (Gradient x Input) through engine.global_explanations, and then the floor:
as many model rows of each kind (forward, forward+backward) as the explanation evaluated, as a
plain loop of full batches of the same batch size through a compiled tf.function
(bench/explainers.py's floor). The ratio is explanation / floor (wall and CPU time; best of
--repeats). What the ratio adds is building the permuted or masked copies, the per-case LIME
fits and the bookkeeping.

    .venv/bin/python bench/global.py                 # all three workloads
    .venv/bin/python bench/global.py --quick         # fewer repeats and LIME samples
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import explainers as bench_explainers  # noqa: E402  (bench/explainers.py: Clock, floor_runner)
import numpy as np  # noqa: E402

from engine.global_explanations import attribution_summary, normlime, permutation_importance  # noqa: E402

DEMO = ROOT / "resources" / "demo"


def digits() -> tuple:
    """The digits CNN and its demo cases, preprocessed as the app does (engine tasks)."""
    from engine.jobs import Job, run_job
    from engine.tasks import OpenDataset, OpenModel
    from engine.workspace import Workspace

    workspace = Workspace()
    run_job(Job(OpenModel(path=str(DEMO / "digits_cnn.keras"))), workspace)
    run_job(Job(OpenDataset(path=str(DEMO / "digits_cases.npz"))), workspace)
    dataset = workspace.dataset
    return workspace.model, dataset.inputs(range(len(dataset))), dataset.labels


def breast_cancer(n_generated: int = 0) -> tuple:
    """The MLP and its 569 cases standardised by the demo's scaling file (or n generated cases)."""
    import keras

    model = keras.saving.load_model(DEMO / "breast_cancer_mlp.keras")
    scaling = json.loads((DEMO / "breast_cancer_scaling.json").read_text())
    names = list(scaling["features"])
    if n_generated:
        x = np.random.default_rng(0).normal(size=(n_generated, len(names))).astype(np.float32)
        return model, x, np.asarray(model(x)).argmax(axis=1)
    with open(DEMO / "breast_cancer.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    stats = scaling["features"]
    x = np.array([[(float(r[n]) - stats[n]["mean"]) / stats[n]["std"] for n in names] for r in rows], np.float32)
    classes = scaling["class_names"]
    y = np.array([classes.index(r[scaling["label_column"]]) if r[scaling["label_column"]] in classes
                  else int(r[scaling["label_column"]]) for r in rows])
    return model, x, y


def runs(model, x: np.ndarray, y: np.ndarray, quick: bool) -> dict:
    samples = 100 if quick else 300
    return {
        "permutation importance": (lambda: permutation_importance(model, x, y, n_repeats=5, seed=0, batch_size=256), 256),
        f"NormLIME ({samples} samples)": (lambda: normlime(model, x, nb_samples=samples, seed=0, batch_size=256), 256),
        "summary (Gradient x Input)": (lambda: attribution_summary(model, x, "gradient_x_input"), 32),
    }


def bench(label: str, model, x: np.ndarray, y: np.ndarray, repeats: int, quick: bool) -> None:
    print(f"{label}: {len(x):,} cases of shape {x.shape[1:]}")
    floors: dict = {}
    for name, (run, batch_size) in runs(model, x, y, quick).items():
        result = run()  # warm-up: traces every function
        counts = dict(result.evaluations)
        floor = floors.setdefault(batch_size, bench_explainers.floor_runner(model, x.shape[1:], batch_size))
        floor(counts)
        times, floor_times = [], []
        for _ in range(repeats):
            with bench_explainers.Clock() as clock:
                run()
            times.append((clock.wall, clock.cpu))
            floor_times.append(floor(counts))
        (wall, cpu), (floor_wall, floor_cpu) = np.min(times, axis=0), np.min(floor_times, axis=0)
        rows = ", ".join(f"{v:,} {k}" for k, v in counts.items())
        print(f"  {name:30s} {wall:8.2f} s   plain passes {floor_wall:8.2f} s   ratio {wall / floor_wall:5.2f} wall, "
              f"{cpu / floor_cpu:5.2f} CPU   ({rows} rows, {result.model_calls:,} calls)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="1 repeat, 100 LIME samples per case")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    bench("digits CNN", *digits(), repeats, args.quick)
    bench("breast-cancer MLP", *breast_cancer(), repeats, args.quick)
    bench("breast-cancer MLP, generated", *breast_cancer(10_000), repeats, args.quick)


if __name__ == "__main__":
    main()
