"""Peak memory (and the cancel delay) of Glassbox on hostile inputs, one child process each.

    .venv/bin/python bench/hostile.py

Each case runs in a fresh interpreter and reports its peak resident memory (ru_maxrss) minus
what the same interpreter held after its imports, so the figures are what the hostile input
cost. The promises: a 13 KB .keras declaring a 2 GiB weight, a zip bomb, a 50000 x 50000 TIFF,
a .npz declaring terabytes and a 43,844-sample signal each stay within tens of MB; kernel_shap
with 10**7 samples on a 28x28 case is refused with its figure (far under 1 GB) and a large
accepted draw cancels within one batch of sampling.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PRELUDE = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
import numpy as np
folder = Path({folder!r})
from tests import hostile
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
"""

CASES = {
    "inspect .keras declaring a 2 GiB weight": """
        from tests.engine.test_models import small_cnn
        from engine import cli
        import zipfile
        small_cnn().save(folder / "ok.keras")
        with zipfile.ZipFile(folder / "ok.keras") as z:
            member = next(n for n in z.namelist() if n.endswith(".h5"))
        path = hostile.with_member(folder / "ok.keras", folder / "w.keras", member,
                                   hostile.huge_h5(folder / "w.h5").read_bytes())
        base = peak(); t = time.perf_counter()
        code = cli.main(["inspect", str(path)])
    """,
    "inspect .keras zip bomb (bzip2, 8 MiB member)": """
        from engine import cli
        import keras
        path = hostile.bzip2_bomb(folder / "b.keras", "model.weights.h5", extra={"config.json": b"{}"})
        base = peak(); t = time.perf_counter()
        code = cli.main(["inspect", str(path)])
    """,
    "open a folder with a 50000x50000 TIFF and PNG": """
        from engine.data import load_dataset
        from engine.jobs import JobContext
        from PIL import Image
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(folder / "ok.png")
        hostile.tiff_declaring(folder / "bomb.tif", 50000, 50000)
        hostile.png_declaring(folder / "bomb.png", 50000, 50000)
        base = peak(); t = time.perf_counter()
        code = len(load_dataset(JobContext(None), str(folder)).skipped)
    """,
    ".npz declaring 7.3 TiB": """
        from engine.data import load_npz
        from engine.errors import BadInputError
        path = hostile.npz_members(folder / "a.npz", {"x.npy": hostile.npy_declaring((10**6, 10**6, 2))})
        base = peak(); t = time.perf_counter()
        try:
            load_npz(path); code = 0
        except BadInputError:
            code = 2
    """,
    "resize a 43,844-sample signal to 2048": """
        from engine.preprocessing import Preprocessing
        signal = np.random.default_rng(0).random((1, 43844), dtype=np.float32)
        base = peak(); t = time.perf_counter()
        code = Preprocessing(size=(1, 2048), scale="none").apply(signal).shape[1]
    """,
    "kernel_shap nb_samples=10**7 on 28x28": """
        import keras
        from engine import explainers
        from engine.errors import OutOfMemoryError
        inputs = keras.Input((28, 28, 1))
        h = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(2, 3)(inputs))
        model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h))
        x = np.random.default_rng(0).random((1, 28, 28, 1), dtype=np.float32)
        explainer = explainers.create("kernel_shap", model, nb_samples=10**7, n_segments=50)
        base = peak(); t = time.perf_counter()
        try:
            explainer.explain(x, targets=[0]); code = 0
        except OutOfMemoryError as exc:
            code = 2; print(str(exc), file=sys.stderr)
    """,
    "kernel_shap nb_samples=400,000: cancel delay": """
        import keras, threading
        from engine import explainers
        from engine.errors import Cancelled
        inputs = keras.Input((28, 28, 1))
        h = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(2, 3)(inputs))
        model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h))
        x = np.random.default_rng(0).random((1, 28, 28, 1), dtype=np.float32)
        explainer = explainers.create("kernel_shap", model, nb_samples=400000, n_segments=50)
        clicked = []
        threading.Timer(0.5, lambda: clicked.append(time.perf_counter())).start()
        base = peak(); t = time.perf_counter()
        try:
            explainer.explain(x, targets=[0], cancel=lambda: bool(clicked)); code = 0
        except Cancelled:
            code = 2
        t = clicked[0] if clicked else t  # report the delay from the click to the stop
    """,
}

EPILOGUE = """
print(json.dumps({"code": code, "seconds": time.perf_counter() - t, "peak_mb": (peak() - base) / 2**20,
                  "total_mb": peak() / 2**20}))
"""


def run(name: str, body: str) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        script = PRELUDE.format(root=str(ROOT), folder=folder) + textwrap.dedent(body) + EPILOGUE
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                              env={"TF_CPP_MIN_LOG_LEVEL": "3", "GLASSBOX_MEMORY_BUDGET": "1G",
                                   "PATH": "/usr/bin:/bin", "HOME": folder, "GLASSBOX_CACHE_DIR": folder})
    if done.returncode != 0 or not done.stdout.strip():
        return {"error": done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    print(f"{'case':<48} {'result':>6} {'seconds':>8} {'peak MB':>8} {'process MB':>10}")
    for name, body in CASES.items():
        r = run(name, body)
        if "error" in r:
            print(f"{name:<48} error: {r['error']}")
            continue
        print(f"{name:<48} {r['code']:>6} {r['seconds']:>8.3f} {r['peak_mb']:>8.1f} {r['total_mb']:>10.1f}")


if __name__ == "__main__":
    main()
