"""Tabular cases (issue 15): how long opening a table, changing its recipe and explaining a row take.

Prints, for generated tables of 30 numeric + 2 categorical columns (5% missing) as CSV and as
Parquet, the time to open them (read, guess and fit the recipe, transform) and to build the GUI's
summary (raw values as text), and the time of a refit (min-max); then, on the breast-cancer demo,
the time of each method through ExplainTabular (first call, then the cached one).

    .venv/bin/python bench/tabular.py [--rows 10000,100000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GLASSBOX_CACHE_DIR", tempfile.mkdtemp(prefix="glassbox-bench-"))  # first calls compute
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

DEMO = Path(__file__).resolve().parent.parent / "resources" / "demo"
METHODS = ("saliency", "integrated_gradients", "kernel_shap", "expected_gradients", "lime")


def table(rows: int, folder: Path) -> tuple[Path, Path]:
    import pandas as pd

    rng = np.random.default_rng(0)
    data = {f"f{i}": rng.normal(size=rows).round(4) for i in range(30)}
    data["colour"] = rng.choice(["red", "green", "blue"], rows)
    data["site"] = rng.choice([f"s{i}" for i in range(12)], rows)
    data["label"] = rng.integers(0, 2, rows)
    frame = pd.DataFrame(data)
    for name in ("f0", "f7", "colour"):
        frame.loc[rng.random(rows) < 0.05, name] = None
    csv, parquet = folder / f"t{rows}.csv", folder / f"t{rows}.parquet"
    frame.to_csv(csv, index=False)
    frame.to_parquet(parquet)
    return csv, parquet


def timed(fn):  # noqa: ANN001, ANN201 - a bench helper
    start = time.perf_counter()
    value = fn()
    return value, (time.perf_counter() - start) * 1000


def bench_tables(sizes: list[int]) -> None:
    from engine.tabular import apply_recipe, load_table, table_summary

    print(f"{'table':<22}{'open ms':>10}{'summary ms':>12}{'refit ms':>10}{'inputs':>14}")
    with tempfile.TemporaryDirectory() as folder:
        for rows in sizes:
            for path in table(rows, Path(folder)):
                dataset, opened = timed(lambda p=path: load_table(p))
                _, summary = timed(lambda d=dataset: table_summary(d))
                _, refit = timed(lambda d=dataset: apply_recipe(d, {"kind": "tabular", "refit": {"scaling": "minmax"}}))
                print(f"{path.name:<22}{opened:>10.0f}{summary:>12.0f}{refit:>10.0f}{str(dataset.x.shape):>14}")


def bench_explain() -> None:
    from engine.data import open_dataset_task
    from engine.jobs import JobContext
    from engine.models import open_model_task
    from engine.tabular_explain import explain_tabular_task
    from engine.workspace import Workspace

    ctx = JobContext(Workspace())
    open_model_task(ctx, str(DEMO / "breast_cancer_mlp.keras"))
    open_dataset_task(ctx, str(DEMO / "breast_cancer.csv"))
    print(f"\n{'method (demo, case 3)':<24}{'first ms':>10}{'cached ms':>11}  waterfall check")
    for method in METHODS:
        result, first = timed(lambda m=method: explain_tabular_task(ctx, 3, m))
        _, again = timed(lambda m=method: explain_tabular_task(ctx, 3, m))
        check = ""
        if result.base_value is not None:
            check = f"sum - (output - base) = {float(result.maps.sum()) - (result.output_value - result.base_value):+.2g}"
        print(f"{method:<24}{first:>10.0f}{again:>11.1f}  {check}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10000,100000")
    args = parser.parse_args()
    bench_tables([int(n) for n in args.rows.split(",")])
    bench_explain()


if __name__ == "__main__":
    main()
