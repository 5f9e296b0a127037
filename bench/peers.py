"""Glassbox against xplique and tf-keras-vis: same model, inputs and settings; times and agreement.

For every method a peer also offers, on the demo CNN (28x28x1) and on MobileNetV2(weights=None)
at 224x224, this prints Glassbox's time per case, the peer's, their ratio (peer / Glassbox: above
1 means Glassbox is faster; the median of adjacent pairs, which ran under the same machine load)
and the Pearson r between the two heatmaps (mean over cases).

Equal settings: every tool explains the same logit model (the softmax is removed from the demo
CNN; MobileNetV2 is built with classifier_activation=None) for the same target (the predicted
class), with batch size 32. The CAMs use the same layer; occlusion uses non-overlapping patches
(xplique sums overlapping patches, Glassbox averages them; with patch = stride they agree);
LIME and Kernel SHAP get Glassbox's superpixels, fill value 0, the same sample count and, for
LIME, the same ridge surrogate and proximity kernel. Known differences that lower r on purpose:
xplique upsamples Grad-CAM bicubically, its Grad-CAM++ averages instead of normalising the
alphas, its RISE divides by the mask sum; tf-keras-vis upsamples with scipy's zoom (the last
column compares its coarse CAM upsampled the way Glassbox does, i.e. the formulas alone). RISE, LIME
and Kernel SHAP are Monte Carlo estimates with different random draws, so their r is an
agreement between two noisy estimates, not an identity check. Glassbox's Kernel SHAP map holds
each unit's value spread over its pixels (it sums to f(x) - f(baseline)); it is compared per unit.

The peers are optional (the `peers` extra). tf-keras-vis 0.8.7 installs into the venv as is.
xplique 2.x pins tensorflow<=2.20, so `pip install xplique` would downgrade TensorFlow; to compare
with it, install it beside the venv without its dependencies and put that directory first:

    .venv/bin/pip install --no-deps --target /tmp/xplique-site xplique opencv-python-headless \\
        tensorflow-probability==0.25.0 tf-keras einops dm-tree decorator matplotlib contourpy \\
        cycler fonttools kiwisolver pyparsing python-dateutil
    PYTHONPATH=/tmp/xplique-site .venv/bin/python bench/peers.py
    .venv/bin/python bench/peers.py --models demo --methods gradcam,occlusion --repeats 3
    PYTHONPATH=/tmp/xplique-site .venv/bin/python bench/peers.py --models mobilenet --methods rise \
        --size 160 --rise-samples 256                  # the RISE comparison of issue 11
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
from engine.explainers.cam import last_spatial_layer, upsample  # noqa: E402
from engine.explainers.superpixels import segment  # noqa: E402
from engine.explainers.surrogates import lime_kernel  # noqa: E402

BATCH = 32
Runner = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (x, targets) -> heatmaps (N, H, W)


# ----------------------------------------------------------------------------------- models
def demo(cases: int) -> tuple[keras.Model, np.ndarray]:
    folder = ROOT / "resources" / "demo"
    model = keras.models.load_model(folder / "digits_cnn.keras")
    model.layers[-1].activation = keras.activations.linear  # the same logits for every tool
    data = np.load(folder / "digits_cases.npz")
    test = np.flatnonzero(data["split"] == "test")[:cases]
    return model, data["x"][test].astype("float32") / 255.0


def mobilenet(cases: int, size: int = 224) -> tuple[keras.Model, np.ndarray]:
    from skimage import data, transform

    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(weights=None, input_shape=(size, size, 3), classifier_activation=None)
    images = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket()][:cases]
    x = np.stack([transform.resize(i, (size, size), anti_aliasing=True) for i in images]) * 2.0 - 1.0
    return model, x.astype("float32")


RISE_SAMPLES = {"demo": 2000, "mobilenet": 500}  # --rise-samples overrides


def settings(label: str, model: keras.Model) -> dict[str, dict]:
    """Per-method parameters, the same for Glassbox and the peers."""
    small = label == "demo"
    return {
        "gradcam": {"layer": last_spatial_layer(model)},
        "gradcam_pp": {"layer": last_spatial_layer(model)},
        "layercam": {"layer": last_spatial_layer(model)},
        "scorecam": {"layer": last_spatial_layer(model)},
        "occlusion": {"patch_size": 4 if small else 16, "stride": 4 if small else 16, "fill_value": 0.0},
        "rise": {"nb_samples": RISE_SAMPLES[label], "resolution": 7, "probability": 0.5},
        "lime": {"nb_samples": 500 if small else 256, "n_segments": 25 if small else 50, "kernel_width": 0.25},
        "kernel_shap": {"nb_samples": 500 if small else 256, "n_segments": 25 if small else 50},
    }


# ------------------------------------------------------------------------------------ peers
def load_xplique() -> tuple[object | None, str]:
    try:
        import xplique.attributions as xa

        return xa, f"xplique {__import__('xplique').__version__}"
    except Exception as exc:  # noqa: BLE001 - any failure means "skip this peer"
        return None, (
            f"xplique: NOT AVAILABLE ({type(exc).__name__}: {exc}). xplique 2.x pins tensorflow<=2.20, "
            "so it cannot be pip-installed beside TF 2.21 without a downgrade; see this script's "
            "docstring to install it with --no-deps on PYTHONPATH. Skipped."
        )


def load_tf_keras_vis() -> tuple[object | None, str]:
    try:
        import tf_keras_vis

        return tf_keras_vis, f"tf-keras-vis {tf_keras_vis.__version__}"
    except Exception as exc:  # noqa: BLE001
        return None, (
            f"tf-keras-vis: NOT AVAILABLE ({type(exc).__name__}: {exc}); "
            "`.venv/bin/pip install tf-keras-vis` to compare. Skipped."
        )


def one_hot(targets: np.ndarray, model: keras.Model) -> np.ndarray:
    return np.eye(int(model.outputs[0].shape[-1]), dtype="float32")[targets]


def xplique_runners(xa, model: keras.Model, params: dict[str, dict]) -> dict[str, Runner]:
    from sklearn.linear_model import Ridge

    def run(factory: Callable[[], object], per_unit: bool = False) -> Runner:
        def runner(x: np.ndarray, targets: np.ndarray) -> np.ndarray:
            maps = np.asarray(factory().explain(x, one_hot(targets, model)))
            return maps[..., 0] if maps.ndim == 4 else maps

        return runner

    def segments_of(n_segments: int) -> Callable:
        return lambda inp: tf.constant(segment(np.asarray(inp), n_segments, "slic"), tf.int32)

    lime, shap = params["lime"], params["kernel_shap"]

    def proximity(original, interp_samples, perturbed):  # Glassbox's kernel on the coalitions
        return tf.constant(lime_kernel(np.asarray(interp_samples), lime["kernel_width"]), tf.float32)

    layer = params["gradcam"]["layer"]
    occ, rise = params["occlusion"], params["rise"]
    return {
        "gradcam": run(lambda: xa.GradCAM(model, conv_layer=layer, batch_size=BATCH)),
        "gradcam_pp": run(lambda: xa.GradCAMPP(model, conv_layer=layer, batch_size=BATCH)),
        "occlusion": run(lambda: xa.Occlusion(model, batch_size=BATCH, patch_size=occ["patch_size"],
                                              patch_stride=occ["stride"], occlusion_value=occ["fill_value"])),
        "rise": run(lambda: xa.Rise(model, batch_size=BATCH, nb_samples=rise["nb_samples"],
                                    grid_size=rise["resolution"], preservation_probability=rise["probability"])),
        "lime": run(lambda: xa.Lime(model, batch_size=BATCH, nb_samples=lime["nb_samples"],
                                    interpretable_model=Ridge(alpha=1.0), similarity_kernel=proximity,
                                    map_to_interpret_space=segments_of(lime["n_segments"]),
                                    ref_value=np.zeros(model.inputs[0].shape[-1], "float32"))),
        "kernel_shap": run(lambda: xa.KernelShap(model, batch_size=BATCH, nb_samples=shap["nb_samples"],
                                                 map_to_interpret_space=segments_of(shap["n_segments"]),
                                                 ref_value=np.zeros(model.inputs[0].shape[-1], "float32"))),
    }


def tf_keras_vis_runners(model: keras.Model, params: dict[str, dict]) -> dict[str, Runner]:
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
    from tf_keras_vis.layercam import Layercam
    from tf_keras_vis.scorecam import Scorecam
    from tf_keras_vis.utils.scores import CategoricalScore

    layer = params["gradcam"]["layer"]

    def run(cls: type, **call: object) -> Runner:
        def runner(x: np.ndarray, targets: np.ndarray, expand: bool = True) -> np.ndarray:
            explainer = cls(model, clone=False)
            cam = np.asarray(explainer(CategoricalScore(list(targets)), x, penultimate_layer=layer,
                                       seek_penultimate_conv_layer=False,  # else it walks back to a Conv
                                       normalize_cam=False, expand_cam=expand, **call))
            return cam if expand else upsample(tf.constant(cam), x.shape[1:3]).numpy()

        return runner

    return {
        "gradcam": run(Gradcam),
        "gradcam_pp": run(GradcamPlusPlus),
        "layercam": run(Layercam),
        "scorecam": run(Scorecam, batch_size=BATCH),
    }


def glassbox_runner(model: keras.Model, method: str, params: dict) -> tuple[Runner, Callable]:
    explainer = explainers.create(method, model, batch_size=BATCH, **params)
    last: dict = {}

    def runner(x: np.ndarray, targets: np.ndarray) -> np.ndarray:
        result = explainer.explain(x, targets)
        last["result"] = result
        return result.heatmap

    return runner, lambda: last["result"]


# ---------------------------------------------------------------------------------- compare
def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over cases of Pearson r between two heatmaps (NaN if one is constant)."""
    rs = []
    for u, v in zip(a.reshape(len(a), -1), b.reshape(len(b), -1)):
        rs.append(np.corrcoef(u, v)[0, 1] if u.std() > 0 and v.std() > 0 else np.nan)
    return float(np.nanmean(rs)) if not np.all(np.isnan(rs)) else float("nan")


def per_unit(result) -> np.ndarray:
    """Kernel SHAP heatmap as each unit's value on all its pixels (undo the spreading)."""
    out = np.empty_like(result.heatmap)
    for i, labels in enumerate(result.segments):
        sizes = np.bincount(labels.ravel())
        out[i] = result.heatmap[i] * sizes[labels]
    return out


def timed(runner: Runner, x: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    maps = runner(x, targets)
    return time.perf_counter() - start, maps


def compare(label: str, model: keras.Model, x: np.ndarray, methods: list[str], peers: dict, repeats: int) -> list[tuple]:
    targets = np.argmax(model.predict(x, verbose=0), axis=1)
    params = settings(label, model)
    runners = {}
    if peers.get("xplique") is not None:
        runners["xplique"] = xplique_runners(peers["xplique"], model, params)
    if peers.get("tf-keras-vis") is not None:
        runners["tf-keras-vis"] = tf_keras_vis_runners(model, params)
    rows = []
    for method in methods:
        ours, result = glassbox_runner(model, method, params[method])
        for peer, available in runners.items():
            if method not in available:
                continue
            theirs = available[method]
            try:
                timed(ours, x, targets)  # warm-up: both trace their functions
                _, peer_maps = timed(theirs, x, targets)
                our_times, peer_times = [], []
                for _ in range(repeats):
                    t, our_maps = timed(ours, x, targets)
                    our_times.append(t)
                    t, peer_maps = timed(theirs, x, targets)
                    peer_times.append(t)
            except Exception as exc:  # noqa: BLE001 - a peer that breaks is reported, not fatal
                print(f"  {label:9s} {method:12s} {peer:13s} FAILED: {type(exc).__name__}: {str(exc)[:200]}", flush=True)
                rows.append((label, method, peer, None, None, None, None, None))
                continue
            mine = per_unit(result()) if method == "kernel_shap" else our_maps
            r = pearson(mine, np.asarray(peer_maps).reshape(mine.shape))
            # tf-keras-vis returns its coarse CAM too: upsampled like Glassbox's, only the formula differs
            same = pearson(mine, theirs(x, targets, expand=False)) if peer == "tf-keras-vis" else None
            ratio = float(np.median(np.array(peer_times) / np.array(our_times)))
            n = len(x)
            row = (label, method, peer, min(our_times) / n, min(peer_times) / n, ratio, r, same)
            rows.append(row)
            print(f"  {label:9s} {method:12s} {peer:13s} glassbox {1e3 * row[3]:9.1f} ms/case  "
                  f"peer {1e3 * row[4]:9.1f}  ratio {ratio:5.2f}  r {r:6.3f}", flush=True)
    return rows


def table(rows: list[tuple]) -> str:
    head = (f"{'model':9s} {'method':12s} {'peer':13s} {'glassbox ms/case':>16s} {'peer ms/case':>12s} "
            f"{'peer/gb':>7s} {'r':>6s} {'r same upsampling':>17s}")
    lines = [head, "-" * len(head)]
    for label, method, peer, ours, theirs, ratio, r, same in rows:
        if ours is None:
            lines.append(f"{label:9s} {method:12s} {peer:13s} {'failed':>16s}")
            continue
        same_text = "-" if same is None else f"{same:.3f}"
        lines.append(f"{label:9s} {method:12s} {peer:13s} {1e3 * ours:16.1f} {1e3 * theirs:12.1f} "
                     f"{ratio:7.2f} {r:6.3f} {same_text:>17s}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="demo,mobilenet", help="demo and/or mobilenet")
    parser.add_argument("--methods", default="", help="comma-separated (default: every method a peer offers)")
    parser.add_argument("--cases", type=int, default=0, help="cases per model (default 8 demo / 1 MobileNet)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per tool and method")
    parser.add_argument("--size", type=int, default=224, help="MobileNetV2 input size")
    parser.add_argument("--rise-samples", type=int, default=0, help="RISE masks on both models")
    args = parser.parse_args(argv)
    if args.rise_samples:
        RISE_SAMPLES.update(demo=args.rise_samples, mobilenet=args.rise_samples)

    shared = ["gradcam", "gradcam_pp", "layercam", "scorecam", "occlusion", "rise", "lime", "kernel_shap"]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()] or shared
    unknown = sorted(set(methods) - set(shared))
    if unknown:
        parser.error(f"no peer offers {', '.join(unknown)}; shared methods: {', '.join(shared)}")

    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}; {args.repeats} timed runs per tool", flush=True)
    peers = {}
    for name, load in (("xplique", load_xplique), ("tf-keras-vis", load_tf_keras_vis)):
        module, message = load()
        peers[name] = module
        print(message, flush=True)
    if not any(peers.values()):
        print("No peer library is usable: nothing to compare.")
        return
    rows = []
    for label in [m.strip() for m in args.models.split(",") if m.strip()]:
        if label not in ("demo", "mobilenet"):
            parser.error(f"unknown model {label!r} (demo, mobilenet)")
        model, x = demo(args.cases or 8) if label == "demo" else mobilenet(args.cases or 1, args.size)
        print(f"{label}: {len(x)} cases of shape {x.shape[1:]}", flush=True)
        rows += compare(label, model, x, methods, peers, args.repeats)
    print()
    print(table(rows))


if __name__ == "__main__":
    main()
