"""GUI responsiveness while a long attribution job runs on MobileNetV2 (224x224, weights=None).

The real main window (offscreen) opens MobileNetV2 and a folder of scikit-image sample photos,
then the canvas runs a long method while the GUI thread ticks a 5 ms QTimer and the "user"
pans, zooms and hovers every 50 ms. The longest gap between ticks is the worst freeze a user
would feel; it is printed next to the same measurement with the engine idle. Target: < 100 ms.

    .venv/bin/python bench/gui_latency.py [--method occlusion] [--shot shots/canvas_mobilenet]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")
TICK_MS = 5
INTERACT_MS = 50
IDLE_S = 5.0
LONG_RUNS = {  # about 10-30 s each on 2 cores
    "occlusion": {"patch_size": 32, "stride": 8},
    "rise": {"nb_samples": 512},
}


def setup_task(ctx: Any, folder: str) -> Any:
    """Engine thread: MobileNetV2 without downloaded weights, and the photos written as PNGs."""
    import keras
    import numpy as np
    import skimage.data
    from PIL import Image

    from engine.models import describe

    for name in PHOTOS:
        Image.fromarray(np.asarray(getattr(skimage.data, name)())).save(Path(folder) / f"{name}.png")
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3))
    description = describe(model, path="MobileNetV2(weights=None)")
    ctx.workspace.set_model(model, description)
    return description


class Ticker:
    """Records when the GUI thread gets to run a 5 ms timer; gaps show event-loop stalls."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.stamps: list[float] = []
        self.timer = QTimer(interval=TICK_MS)
        self.timer.timeout.connect(lambda: self.stamps.append(time.perf_counter()))

    def start(self) -> None:
        self.stamps.clear()
        self.cpu0, self.wall0 = time.thread_time(), time.perf_counter()
        self.timer.start()

    def stop(self) -> dict[str, float]:
        import numpy as np

        self.timer.stop()
        cpu = (time.thread_time() - self.cpu0) / (time.perf_counter() - self.wall0)
        gaps = np.diff(np.asarray(self.stamps)) * 1000.0
        if gaps.size == 0:
            nan = float("nan")
            return {"max_ms": nan, "p99_ms": nan, "median_ms": nan, "ticks": 0, "gui_cpu": cpu}
        return {
            "max_ms": float(gaps.max()),
            "p99_ms": float(np.percentile(gaps, 99)),
            "median_ms": float(np.median(gaps)),
            "ticks": int(gaps.size),
            "gui_cpu": float(cpu),  # share of one core the GUI thread used (this loop included)
        }


def wait(app: Any, condition: Any, timeout_s: float = 600.0) -> None:
    deadline = time.perf_counter() + timeout_s
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("gave up waiting")
        app.processEvents()
        time.sleep(0.002)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", choices=sorted(LONG_RUNS), default="occlusion")
    parser.add_argument("--shot", default="", help="save screenshots to <shot>_single.png / _grid.png")
    args = parser.parse_args()

    from gui.app import make_application
    from gui.main_window import MainWindow

    app = make_application(sys.argv)
    window = MainWindow()
    window.resize(1600, 1000)
    window.show()
    engine, state = window.ctx.engine, window.ctx.state
    view = window.views["attribution"]
    engine.start()
    folder = tempfile.mkdtemp(prefix="glassbox_photos_")
    box: dict[str, Any] = {}
    engine.submit("bench", "bench.gui_latency:setup_task", folder=folder,
                  on_result=lambda d: box.setdefault("model", d), on_error=lambda e: box.setdefault("error", e))
    wait(app, lambda: bool(box))
    if "error" in box:
        raise SystemExit(f"setup failed: {box['error'].message}")
    state.set_model(box["model"])
    state.dataset_requested.emit(folder)
    wait(app, lambda: state.dataset is not None and not engine.is_busy())
    view.auto_run.setChecked(False)
    state.select_case(0)
    wait(app, lambda: view.case_view is not None and not engine.is_busy())

    ticker = Ticker()
    params = LONG_RUNS[args.method]
    view.method_panel.set_method(args.method, params)
    rows = [("engine idle", *measure(app, view, ticker, "", {}))]
    # first run: includes tracing the method's tf.function (Python-heavy, holds the GIL often);
    # second run: another seed (no cache hit), same compiled function
    rows.append(("first run (traces)", *measure(app, view, ticker, args.method, params)))
    rows.append(("second run", *measure(app, view, ticker, args.method, {**params, "seed": 1})))

    print(f"machine load (1 min): {os.getloadavg()[0]:.2f}, cores: {os.cpu_count()}")
    print(f"{args.method} {params} on MobileNetV2 224x224, real main window, pan/zoom/hover every {INTERACT_MS} ms")
    for name, run_s, stats in rows:
        print(f"{name:>20}: max gap {stats['max_ms']:6.1f} ms, p99 {stats['p99_ms']:5.1f} ms, "
              f"median {stats['median_ms']:4.1f} ms over {stats['ticks']} ticks, {run_s:.1f} s, "
              f"GUI thread CPU {100 * stats['gui_cpu']:.0f}%")
    warm = rows[2][2]["max_ms"]
    print(f"second run max gap / idle max gap: {warm / rows[0][2]['max_ms']:.1f}x; "
          f"target < 100 ms: {'met' if warm < 100 else 'NOT met'} (second run)")
    switch_s = switch_case_while_running(app, view, state, args.method)
    print(f"switching case {RUN_BEFORE_SWITCH_S:.0f} s into a new {args.method} run: the new case is shown after "
          f"{1000 * switch_s:.0f} ms (the running job is cancelled at its next batch)")
    if args.shot:
        shoot(app, window, view, state, args.shot)
    window.close()
    app.processEvents()


def measure(app: Any, view: Any, ticker: Ticker, method: str, params: dict[str, Any]) -> tuple[float, dict]:
    """Run `method` on the selected case while the user pans, zooms and hovers; tick statistics.

    With no method, the same interaction for IDLE_S seconds with the engine idle (the baseline).
    """
    from PySide6.QtCore import QTimer

    canvas = view.canvases[0]
    step = {"n": 0}

    def interact() -> None:
        step["n"] += 1
        canvas.view.translateBy(x=1 if step["n"] % 2 else -1)
        canvas.view.scaleBy((1.02, 1.02) if step["n"] % 4 < 2 else (1 / 1.02, 1 / 1.02))
        canvas.hovered.emit(canvas.readout(step["n"] % 224, 100))

    mover = QTimer(interval=INTERACT_MS)
    mover.timeout.connect(interact)
    ticker.start()
    mover.start()
    t0 = time.perf_counter()
    if method:
        view.panels[0].method, view.panels[0].params = method, dict(params)
        view.run_all()
        wait(app, lambda: view.panels[0].result is not None)
    else:
        wait(app, lambda: time.perf_counter() - t0 > IDLE_S)
    run_s = time.perf_counter() - t0
    mover.stop()
    return run_s, ticker.stop()


RUN_BEFORE_SWITCH_S = 3.0


def switch_case_while_running(app: Any, view: Any, state: Any, method: str) -> float:
    """Seconds from selecting another case mid-run until its image and predictions are shown."""
    view.panels[0].params = {**LONG_RUNS[method], "seed": 2}  # not cached: a real run
    view.run_all()
    t0 = time.perf_counter()
    wait(app, lambda: time.perf_counter() - t0 > RUN_BEFORE_SWITCH_S)
    t0 = time.perf_counter()
    state.select_case(1)
    wait(app, lambda: view.case_view is not None and view.case_view.case == 1)
    return time.perf_counter() - t0


def shoot(app: Any, window: Any, view: Any, state: Any, stem: str) -> None:
    """Screenshots: the first run's map (cached), then a quick-look grid sized for 224x224 on 2 cores."""
    Path(stem).parent.mkdir(parents=True, exist_ok=True)
    for dock in window.docks.values():  # the canvas alone, as with the docks closed
        dock.hide()
    state.select_case(0)
    view.panels[0].params = dict(LONG_RUNS[view.panels[0].method])
    view.run_all()
    wait(app, lambda: view.panels[0].result is not None and view.case_view.case == 0)
    view.canvases[0].view.autoRange(items=[view.canvases[0].image_item], padding=0.02)
    app.processEvents()
    window.grab().save(f"{stem}_single.png")
    view.display.set_mode("absolute")
    app.processEvents()
    window.grab().save(f"{stem}_absolute.png")
    view.display.set_mode("signed")
    view.show_grid([("saliency", {}), ("integrated_gradients", {"steps": 16}), ("gradcam", {}),
                    ("occlusion", LONG_RUNS["occlusion"])])
    wait(app, lambda: all(p.result is not None for p in view.panels))
    app.processEvents()
    window.grab().save(f"{stem}_grid.png")
    print(f"screenshots: {stem}_single.png, {stem}_absolute.png, {stem}_grid.png")


if __name__ == "__main__":
    main()
