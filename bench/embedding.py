"""Embedding figures: demo features, PCA / t-SNE / UMAP at 5,000 and 50,000 points, decision
regions, and the scatter's redraw / hover-pick time for 50,000 points.

    .venv/bin/python bench/embedding.py            # everything (t-SNE/UMAP of 50,000 take minutes)
    .venv/bin/python bench/embedding.py --quick    # skips t-SNE / UMAP of 50,000 points

Large maps use synthetic 64-D Gaussian clusters (10 classes); "kNN acc" is the 5-NN accuracy of
the class on the 2-D map (held-out half), a check that the map keeps the clusters apart.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["GLASSBOX_CACHE_DIR"] = tempfile.mkdtemp(prefix="glassbox-bench-")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def clusters(n: int, k: int = 10, dim: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 3.0, (k, dim))
    y = rng.integers(0, k, n)
    return (centres[y] + rng.normal(0.0, 1.0, (n, dim))).astype(np.float32), y


def knn_accuracy(coords: np.ndarray, y: np.ndarray) -> float:
    from sklearn.neighbors import KNeighborsClassifier

    half = len(y) // 2
    return float(KNeighborsClassifier(5).fit(coords[:half], y[:half]).score(coords[half:], y[half:]))


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def bench_demo_features() -> None:
    import keras

    from engine.data import fit_to_model, load_npz
    from engine.embedding import embedding_task, extract_features
    from engine.jobs import JobContext
    from engine.preprocessing import Preprocessing
    from engine.workspace import Workspace

    workspace = Workspace()
    workspace.model = keras.saving.load_model(ROOT / "resources/demo/digits_cnn.keras")
    workspace.dataset = fit_to_model(load_npz(ROOT / "resources/demo/digits_cases.npz"), Preprocessing(), workspace)
    n = len(workspace.dataset)
    extract_features(workspace.model, workspace.dataset, "embedding", "avg", cache=workspace.cache)  # warm-up
    (features, _, _), seconds = timed(
        extract_features, workspace.model, workspace.dataset, "embedding", "avg", cache=workspace.cache
    )
    print(f"demo features      {n} digits at 'embedding' ({features.shape[1]} values): {seconds:6.2f} s "
          f"({n / seconds:,.0f} cases/s)")
    (_, _, _), seconds = timed(extract_features, workspace.model, workspace.dataset, "conv3", "avg", cache=workspace.cache)
    print(f"demo features      {n} digits at 'conv3' (avg pooled):            {seconds:6.2f} s")
    first, seconds = timed(embedding_task, JobContext(workspace), method="pca")
    fresh = Workspace(model=workspace.model, dataset=workspace.dataset)
    second, cached = timed(embedding_task, JobContext(fresh), method="pca")
    assert second.cached == {"features": True, "projection": True}
    print(f"demo PCA map task  first run {seconds:6.2f} s, second run from disk cache {cached:6.2f} s "
          f"({seconds / cached:.0f}x)")


def bench_projections(sizes: list[int], large_nonlinear: bool) -> None:
    from engine.decision_regions import decision_regions
    from engine.embedding import project

    print(f"\n{'points':>8} {'method':>6} {'seconds':>9} {'kNN acc':>8}")
    for n in sizes:
        x, y = clusters(n)
        for method in ("pca", "tsne", "umap"):
            if n > 10000 and method != "pca" and not large_nonlinear:
                print(f"{n:>8} {method:>6} {'skipped (--quick)':>18}")
                continue
            coords, seconds = timed(project, x, method, seed=0)
            print(f"{n:>8} {method:>6} {seconds:9.2f} {knn_accuracy(coords, y):8.3f}", flush=True)
        _, seconds = timed(decision_regions, coords, y)
        print(f"{n:>8} {'regions':>6} {seconds:9.2f}   (kNN on a 200x200 grid)", flush=True)


def bench_scatter() -> None:
    from PySide6.QtCore import QPointF
    from PySide6.QtWidgets import QApplication

    from engine.decision_regions import decision_regions
    from engine.embedding import Embedding
    from gui.context import AppContext
    from gui.engine_thread import EngineThread
    from gui.settings import Settings
    from gui.state import AppState
    from gui.views.embedding import EmbeddingView

    app = QApplication.instance() or QApplication([])
    view = EmbeddingView(AppContext(EngineThread(), AppState(), Settings()))
    view.resize(1200, 700)
    view.show()
    app.processEvents()
    print(f"\n{'points':>8} {'show+paint':>11} {'recolour+paint':>15} {'filter+paint':>13} {'pan+paint':>10} {'hover pick':>11}")
    for n in (5000, 50000):
        rng = np.random.default_rng(0)
        labels = rng.integers(0, 10, n)
        coords = (rng.normal(0, 1, (n, 2)) + labels[:, None] * 3).astype(np.float32)
        predicted = np.where(rng.random(n) < 0.05, (labels + 1) % 10, labels)
        result = Embedding(
            coords=coords, labels=labels, predicted=predicted, confidence=rng.random(n).astype(np.float32),
            class_names=tuple(str(i) for i in range(10)), names=tuple(f"case {i}" for i in range(n)),
            layer="bench", pooling="avg", method="pca", params={}, seed=0, feature_shape=(64,), feature_dim=64,
            regions=decision_regions(coords, predicted), cached={}, elapsed=0.0, provenance={},
        )

        def paint() -> None:
            view.scatter.grab()

        _, show = timed(lambda: (view.show_result(result), paint()))
        view.colour_by.setCurrentIndex(view.colour_by.findData("label"))
        _, recolour = timed(lambda: (view.colour_by.setCurrentIndex(view.colour_by.findData("confidence")), paint()))
        _, filtered = timed(lambda: (view.class_filter.setCurrentIndex(view.class_filter.findData(3)), paint()))
        view.class_filter.setCurrentIndex(0)
        box = view.scatter.view_box
        _, pan = timed(lambda: (box.translateBy(x=0.5, y=0.5), paint()))
        at = QPointF(*map(float, coords[n // 2]))
        picks, reps = 0.0, 50
        for _ in range(reps):
            _, seconds = timed(view.scatter.nearest, at)
            picks += seconds
        print(f"{n:>8} {show * 1e3:9.0f}ms {recolour * 1e3:13.0f}ms {filtered * 1e3:11.0f}ms {pan * 1e3:8.0f}ms "
              f"{picks / reps * 1e3:9.2f}ms")
    view.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip t-SNE / UMAP of 50,000 points")
    parser.add_argument("--scatter", action="store_true", help="only the scatter (recolour / filter of 50,000)")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}")
    if args.scatter:
        bench_scatter()
        return
    bench_demo_features()
    bench_scatter()
    bench_projections([5000, 50000], large_nonlinear=not args.quick)


if __name__ == "__main__":
    main()
