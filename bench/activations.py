"""Selection-to-grid latency of the activation viewer on MobileNetV2 (224x224, weights=None).

Prints, for 96-channel layers, the first selection of a layer (tap model built and traced) and
later selections (compiled; new case, so no result cache), measured two ways:
  engine  activations_task alone (compute + statistics), plus the GUI's atlas build (numpy);
  gui     state.select_layer -> ActivationView.shown -> synchronous repaint, through the real
          EngineThread and an offscreen QApplication (queueing, signal delivery, drawing).
Also the weight overview time for MobileNetV2 and ResNet50 (weights=None).

    .venv/bin/python bench/activations.py [--skip-resnet]
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

LAYERS = ["block_1_expand_relu", "block_1_depthwise_relu"]  # 112x112x96 and 56x56x96
TARGET_MS = 300.0


class RandomCases:
    """Eight random 224x224 RGB cases in -1..1 (the Dataset interface the task needs)."""

    def __init__(self) -> None:
        self.x = np.random.default_rng(0).uniform(-1, 1, (8, 224, 224, 3)).astype(np.float32)
        self.hash = "bench"

    def __len__(self) -> int:
        return len(self.x)

    def inputs(self, indices):
        return self.x[list(indices)]

    def display_image(self, i: int) -> np.ndarray:
        return (self.x[i] + 1) / 2


def install_task(ctx, name: str = "mobilenet") -> str:
    """Runs on the engine thread (or inline): the model and the cases into the workspace."""
    import keras

    if name == "resnet":
        model = keras.applications.ResNet50(weights=None)
    else:
        model = keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3))
    ctx.workspace.set_model(model, None)
    ctx.workspace.dataset = RandomCases()
    return model.name


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def bench_engine() -> None:
    from engine.activations import activations_task
    from engine.jobs import JobContext
    from engine.weights import weight_overview_task
    from engine.workspace import Workspace
    from gui.widgets.feature_grid import columns_for, normalise_tiles, tile_atlas

    ctx = JobContext(Workspace())
    install_task(ctx)
    print("engine (activations_task + atlas build in numpy):")
    later: list[float] = []
    for round_ in range(4):
        for path in LAYERS:
            t0 = time.perf_counter()
            result = activations_task(ctx, path, cases=[round_])
            t1 = time.perf_counter()
            tiles = normalise_tiles(np.moveaxis(result.values[0], -1, 0))
            tile_atlas(tiles, columns_for(len(tiles), *tiles.shape[1:]))
            t2 = time.perf_counter()
            kind = "first" if round_ == 0 else "later"
            if round_:
                later.append(t2 - t0)
            print(f"  {path:24s} {kind}: task {_ms(t1 - t0)}  atlas {_ms(t2 - t1)}  total {_ms(t2 - t0)}")
    t0 = time.perf_counter()
    activations_task(ctx, LAYERS[0], cases=[1])
    print(f"  same layer and case again (result cache): {_ms(time.perf_counter() - t0)}")
    print(f"  later selections: median {_ms(statistics.median(later))}, max {_ms(max(later))}")
    t0 = time.perf_counter()
    overview = weight_overview_task(ctx)
    print(f"weight overview MobileNetV2: {len(overview.rows)} layers, {overview.total_params:,} params "
          f"in {time.perf_counter() - t0:.2f} s")


def bench_gui() -> float:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from gui.context import AppContext
    from gui.engine_thread import EngineThread
    from gui.settings import Settings
    from gui.state import AppState
    from gui.views.activations import ActivationView

    app = QApplication.instance() or QApplication([])
    engine = EngineThread()
    ready: list = []
    engine.ready.connect(ready.append)
    engine.start()

    def wait(condition, timeout: float = 300.0) -> None:
        end = time.perf_counter() + timeout
        while not condition():
            if time.perf_counter() > end:
                raise TimeoutError("bench: the engine did not answer in time")
            app.processEvents()
            time.sleep(0.001)

    wait(lambda: ready)
    done: list = []
    engine.submit(InstallRequest(), key="bench", on_result=done.append, on_error=done.append)
    wait(lambda: done)
    ctx = AppContext(engine, AppState(), Settings())
    view = ActivationView(ctx)
    view.resize(1200, 800)
    view.show()
    ctx.state.set_model(SimpleNamespace(name="mobilenet"))
    shown: list[str] = []
    view.shown.connect(shown.append)
    engine_done: list[float] = []  # stamped on the engine thread when the task returns
    engine.finished_job.connect(lambda key, *_: engine_done.append(time.perf_counter()),
                                Qt.ConnectionType.DirectConnection)
    print("gui (select_layer -> engine done -> drawn (shown) -> painted (grab), offscreen):")
    later: list[float] = []
    for round_ in range(4):
        ctx.state.select_case(round_)
        for path in LAYERS:
            shown.clear()
            engine_done.clear()
            t0 = time.perf_counter()
            ctx.state.select_layer(path)
            wait(lambda: shown)
            t1 = time.perf_counter()
            view.grab()  # forces the ImageItems to render now
            t2 = time.perf_counter()
            if round_:
                later.append(t2 - t0)
            kind = "first" if round_ == 0 else "later"
            print(f"  {path:24s} {kind}: engine {_ms(engine_done[-1] - t0)}  drawn {_ms(t1 - engine_done[-1])}"
                  f"  paint {_ms(t2 - t1)}  total {_ms(t2 - t0)}")
            ctx.state.select_layer("")  # so the same layer counts as a new selection next round
    median = statistics.median(later)
    print(f"  later selections: median {_ms(median)}, max {_ms(max(later))} "
          f"(target {TARGET_MS:.0f} ms: {'met' if max(later) <= TARGET_MS / 1000 else 'MISSED'})")
    engine.shutdown()
    return median


def bench_resnet_overview() -> None:
    from engine.jobs import JobContext
    from engine.weights import weight_overview_task
    from engine.workspace import Workspace

    ctx = JobContext(Workspace())
    install_task(ctx, "resnet")
    t0 = time.perf_counter()
    overview = weight_overview_task(ctx)
    flagged = sum(1 for r in overview.rows if r.flags)
    print(f"weight overview ResNet50: {len(overview.rows)} layers, {overview.total_params:,} params, "
          f"{flagged} flagged, in {time.perf_counter() - t0:.2f} s")


def _install_request() -> type:
    """The bench's own set-up step, registered like any engine task (the GUI never builds it)."""
    from dataclasses import dataclass

    from engine.tasks import task

    @task("__main__:install_task", "builtins:object")
    @dataclass(frozen=True)
    class Install:
        pass

    return Install


InstallRequest = _install_request()

if __name__ == "__main__":
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other work inflates every figure)")
    bench_engine()
    bench_gui()
    if "--skip-resnet" not in sys.argv:
        bench_resnet_overview()
