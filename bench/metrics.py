"""Time per case of every quality metric, and its ratio to the floor.

Each metric scores saliency maps of the cases. The floor is the model evaluations the metric
needed (counted by kind: forward rows for deletion / insertion / MuFidelity, forward+backward
rows for the methods max-sensitivity and randomisation explain again), run as one plain loop
of full batches of the same batch size through a compiled tf.function, right after the metric;
timing as in bench/explainers.py (best of --repeats, wall and CPU ratios). Sparseness needs no
model evaluation, so it has no floor (its time is shown). Target: every metric within 1.3x.

    .venv/bin/python bench/metrics.py                  # demo CNN (16 cases) and MobileNetV2 (2)
    .venv/bin/python bench/metrics.py --quick          # 4 demo cases, 1 MobileNetV2 case
    .venv/bin/python bench/metrics.py --metrics deletion,mufidelity --models demo
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import explainers as bench_explainers  # noqa: E402  (bench/explainers.py: models, Clock, floor)
import numpy as np  # noqa: E402

from engine import explainers, metrics  # noqa: E402

TARGET = bench_explainers.TARGET
# max_sensitivity and randomisation explain again with saliency (the cheapest method), so the
# figure is the metric's own overhead rather than the method's.
PARAMS = {"max_sensitivity": {"method": "saliency"}, "randomisation": {"method": "saliency"}}


def bench_model(label: str, model, x: np.ndarray, names: list[str], repeats: int) -> dict:
    saliency = explainers.create("saliency", model, output="probability").explain(x)
    floors: dict = {}
    results = {}
    for name in names:
        metric = metrics.create(name, model, **PARAMS.get(name, {}))
        metric.evaluate(x, saliency.maps, saliency.targets)  # warm-up: traces every batch shape
        counts = dict(metric.evaluations)
        batch_size = int(metric.params["batch_size"])
        floor = floors.setdefault(batch_size, bench_explainers.floor_runner(model, x.shape[1:], batch_size))
        floor(counts)
        metric_times, floor_times = [], []
        for _ in range(repeats):
            with bench_explainers.Clock() as clock:
                metric.evaluate(x, saliency.maps, saliency.targets)
            metric_times.append((clock.wall, clock.cpu))
            floor_times.append(floor(counts))
        (wall, cpu), (floor_wall, floor_cpu) = np.min(metric_times, axis=0), np.min(floor_times, axis=0)
        n = len(x)
        evaluated = sum(counts.values()) > 0  # sparseness evaluates nothing: no floor
        wall_ratio = wall / floor_wall if evaluated else float("nan")
        cpu_ratio = cpu / floor_cpu if evaluated else float("nan")
        results[name] = (wall / n, floor_wall / n, wall_ratio, cpu_ratio, {k: v / n for k, v in counts.items()})
        print(f"  {label:9s} {name:16s} {1e3 * wall / n:10.1f} ms/case  floor {1e3 * floor_wall / n:10.1f}  "
              f"ratio wall {wall_ratio:5.2f}  cpu {cpu_ratio:5.2f}", flush=True)
    return results


def table(columns: dict[str, dict], names: list[str]) -> str:
    head = f"{'metric':16s}"
    for label in columns:
        head += f" | {label + ' ms/case':>17s} {'floor':>9s} {'wall x':>6s} {'cpu x':>6s} {'fwd+grad/case':>13s}"
    lines = [head + " | verdict (cpu)", "-" * (len(head) + 16)]
    for name in names:
        line, ratios = f"{name:16s}", []
        for results in columns.values():
            t, f, wall_ratio, cpu_ratio, evals = results[name]
            ratios += [] if np.isnan(cpu_ratio) else [cpu_ratio]
            counts = f"{evals.get('forward', 0):.0f}+{evals.get('gradient', 0):.0f}"
            line += f" | {1e3 * t:17.1f} {1e3 * f:9.1f} {wall_ratio:6.2f} {cpu_ratio:6.2f} {counts:>13s}"
        verdict = "no model evaluation" if not ratios else "ok" if max(ratios) <= TARGET else f"MISS (> {TARGET}x)"
        lines.append(f"{line} | {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--metrics", default="", help="comma-separated names (default: every metric)")
    parser.add_argument("--cases", type=int, default=0, help="cases per model (default 16 demo / 2 MobileNet)")
    parser.add_argument("--models", default="demo,mobilenet", help="demo and/or mobilenet")
    parser.add_argument("--repeats", type=int, default=0, help="timed runs per metric (best is kept)")
    parser.add_argument("--quick", action="store_true", help="4 demo cases, 1 MobileNet case")
    args = parser.parse_args(argv)
    names = list(metrics.METRICS)
    if args.metrics:
        names = [m.strip() for m in args.metrics.split(",") if m.strip()]
        unknown = sorted(set(names) - set(metrics.METRICS))
        if unknown:
            parser.error(f"unknown metrics: {', '.join(unknown)}; available: {', '.join(metrics.METRICS)}")
    repeats = args.repeats or (2 if args.quick else 3)
    print(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; best of {repeats}", flush=True)
    columns: dict[str, dict] = {}
    for label in [m.strip() for m in args.models.split(",") if m.strip()]:
        loaders = {"demo": bench_explainers.demo_model, "mobilenet": bench_explainers.mobilenet_model}
        if label not in loaders:
            parser.error(f"unknown model {label!r} (demo, mobilenet)")
        default = {"demo": 4 if args.quick else 16, "mobilenet": 1 if args.quick else 2}[label]
        model, x = loaders[label](args.cases or default)
        print(f"{label}: {len(x)} cases of shape {x.shape[1:]}", flush=True)
        columns[label] = bench_model(label, model, x, names, repeats)
    print()
    print(table(columns, names))


if __name__ == "__main__":
    main()
