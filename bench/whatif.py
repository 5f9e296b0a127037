"""What-if latency: from an edit to the new prediction and to the new map, on the real window.

The window runs offscreen with its engine thread. For each demo the What-if view is raised, a
case is selected, and the "user" makes edits one after another (each waits for its map): the
text demo's sentence is retyped word by word, the digits demo is brushed (erase, paint, blur,
shift strokes) and a tabular model (the breast-cancer MLP, fed the standardised features of its
CSV) gets one feature changed per edit. Times include the view's debounce (25 ms), the queue
to the engine thread and back; the first edit of each model also pays the map method's first
trace, so it is listed apart. Targets: prediction < 100 ms, map < 300 ms.

    .venv/bin/python bench/whatif.py [--edits 20]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
DEMO = ROOT / "resources" / "demo"
TIMEOUT_S = 120


def breast_cancer_npz(folder: Path) -> Path:
    """The demo CSV's rows standardised with the demo's scaling file, as an .npz of features."""
    scaling = json.loads((DEMO / "breast_cancer_scaling.json").read_text())
    names = list(scaling["features"])
    with open(DEMO / "breast_cancer.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    raw = np.array([[float(r[n]) for n in names] for r in rows])
    mean = np.array([scaling["features"][n]["mean"] for n in names])
    std = np.array([scaling["features"][n]["std"] for n in names])
    y = np.array([scaling["class_names"].index(r["diagnosis"]) for r in rows])
    path = folder / "breast_cancer_scaled.npz"
    np.savez(path, x=((raw - mean) / std).astype(np.float32), y=y, class_names=np.array(scaling["class_names"]),
             feature_names=np.array(names))
    return path


def wait(app, until, what: str) -> None:
    import time

    deadline = time.perf_counter() + TIMEOUT_S
    while not until():
        app.processEvents()
        time.sleep(0.001)
        if time.perf_counter() > deadline:
            raise SystemExit(f"timed out waiting for {what}")


def run(app, model: str, cases: str, edits: list, apply) -> list[dict[str, float]]:
    from gui.main_window import MainWindow

    win = MainWindow()
    win.resize(1400, 900)
    win.show()
    win.ctx.engine.start()
    win.open_model(model, dataset=cases)
    wait(app, lambda: win.ctx.state.predictions is not None, "the predictions")
    dock = win.docks["whatif"]
    dock.show()
    dock.raise_()
    view = win.views["whatif"]
    win.ctx.state.select_case(5)
    wait(app, lambda: view.explanation is not None, "the case")
    view.timings.clear()
    for edit in edits:
        done = len(view.timings)
        apply(view, edit)
        wait(app, lambda: len(view.timings) > done and "map_ms" in view.timings[-1], "the map")
    timings = list(view.timings)
    win.close()
    return timings


def report(name: str, timings: list[dict[str, float]]) -> None:
    first, rest = timings[0], timings[1:] or timings
    p = np.array([t["prediction_ms"] for t in rest])
    m = np.array([t["map_ms"] for t in rest])
    print(f"{name:<34} first edit: prediction {first['prediction_ms']:6.0f} ms, map {first['map_ms']:6.0f} ms | "
          f"then median {np.median(p):5.0f} / {np.median(m):5.0f} ms, p90 {np.percentile(p, 90):5.0f} / "
          f"{np.percentile(m, 90):5.0f} ms, max {p.max():5.0f} / {m.max():5.0f} ms (prediction / map, n={len(rest)}); "
          f"of which in the engine: median {np.median([t['prediction_engine_ms'] for t in rest]):4.0f} / "
          f"{np.median([t['map_engine_ms'] for t in rest]):4.0f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=20)
    args = parser.parse_args(argv)
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    n = args.edits
    words = "the staff was rude and slow but the room was clean and wonderful today honestly".split()
    sentences = [" ".join(words[: 1 + i % len(words)]) for i in range(n)]
    report("text demo (sentence typed)", run(app, str(DEMO / "review_sentiment.keras"), str(DEMO / "reviews.csv"),
                                             sentences, lambda v, s: v.sentence.set_text(s)))

    ops = ["erase", "paint", "blur", "shift"]

    def brush(view, i: int) -> None:
        view.brush.op.setCurrentIndex(view.brush.op.findData(ops[i % 4]))
        view.brush.stroke([[4 + i % 20, 4], [4 + i % 20, 24]])

    report("digits demo (brush strokes)", run(app, str(DEMO / "digits_cnn.keras"), str(DEMO / "digits_cases.npz"),
                                              list(range(n)), brush))
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        cases = breast_cancer_npz(Path(folder))
        changes = [(int(rng.integers(30)), float(rng.normal())) for _ in range(n)]
        report("breast-cancer MLP (feature field)", run(app, str(DEMO / "breast_cancer_mlp.keras"), str(cases), changes,
                                                        lambda v, c: v.features.set_value(*c)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
