"""Place every case of the open dataset on one 2-D map, as the model sees it.

Features are a layer's output for each case (by default the input of the last Dense layer, where
the model's classes should be separable), computed in batches in the same pass as the model's
prediction, flattened or globally pooled when they are images. The map is PCA, t-SNE (openTSNE)
or UMAP (umap-learn), after PCA to 50 dimensions when the features are wider. Both are cached on
disk, so reopening the same model and dataset, or trying another projection, is quick: features
by (model sha256, dataset hash, layer, pooling), maps by (features key, method, params, seed).
"""

from __future__ import annotations

import dataclasses
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine import cache, worker_process
from engine.decision_regions import Regions, decision_regions
from engine.errors import BadInputError, NotSupportedError, NumericalError, OutOfMemoryError, is_out_of_memory
from engine.explainers.result import MethodInfo
from engine.fileio import cache_dir as fileio_cache_dir
from engine.identity import model_identity
from engine.jobs import JobContext
from engine.predictions import to_probabilities
from engine.provenance import plain
from engine.runtime import versions


def _projection(name: str, title: str, params: dict[str, Any], bounds: dict[str, tuple[float, float]], text: str) -> MethodInfo:
    return MethodInfo(name, title, params, {}, stochastic=name != "pca", image_only=False, description=text,
                      bounds=bounds, fast=name == "pca")


# Projections describe their parameters the way explainers do, so the GUI builds their form.
PROJECTIONS: dict[str, MethodInfo] = {
    info.name: info
    for info in (
        _projection("tsne", "t-SNE", {"perplexity": 30.0}, {"perplexity": (2.0, 500.0)},
                    "Keeps neighbours, not distances. Perplexity: roughly how many neighbours each case keeps close."),
        _projection("umap", "UMAP", {"n_neighbors": 15, "min_dist": 0.1}, {"n_neighbors": (2, 500), "min_dist": (0.0, 1.0)},
                    "Keeps neighbours and more of the global layout; n_neighbors larger keeps more of it, "
                    "min_dist is how tightly cases may pack."),
        _projection("pca", "PCA", {}, {}, "Linear and fast: the two directions of largest variance."),
    )
}
METHODS = tuple(PROJECTIONS)
TITLES = {name: info.title for name, info in PROJECTIONS.items()}
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {name: dict(info.params) for name, info in PROJECTIONS.items()}
POOLINGS = ("avg", "max", "flatten")
WORKER_METHODS = ("tsne", "umap")  # fitted in a worker process (engine.worker_process)
PCA_DIMS = 50
MAX_FEATURE_BYTES = 2 << 30  # flattened conv features beyond this: ask for pooling instead
DISK = cache.DiskCache("embedding", max_bytes=1 << 30, title="embedding")

Progress = Callable[[float, str], None]
Check = Callable[[], None]


@dataclass(frozen=True)
class Embedding:
    """A 2-D map of the open dataset, with what the scatter needs to colour and label it."""

    coords: np.ndarray  # float32 (N, 2)
    labels: np.ndarray  # int64 (N,), -1 where unknown
    predicted: np.ndarray  # int64 (N,), the model's class (-1 if it is not a classifier)
    confidence: np.ndarray  # float32 (N,), probability of the predicted class
    class_names: tuple[str, ...]
    names: tuple[str, ...]
    layer: str
    pooling: str
    method: str
    params: dict[str, Any]
    seed: int
    feature_shape: tuple[int, ...]  # the layer's output shape for one case
    feature_dim: int  # after pooling / flattening
    regions: Regions | None
    cached: dict[str, bool]  # {"features": hit?, "projection": hit?}
    elapsed: float
    provenance: dict[str, Any]
    thumbnails: np.ndarray | None = None  # uint8 (N, h, w, 3) only when asked for
    timings: dict[str, float] = field(default_factory=dict)


# ----- disk cache -------------------------------------------------------------------------
def cache_dir() -> Path:
    """Where features and maps are kept (engine.cache verifies and prunes them)."""
    return fileio_cache_dir("embedding")


def cache_key(kind: str, *parts: Any) -> str:
    """Entry names start with their kind ("features-…", "map-…") so a folder listing reads."""
    return f"{kind}-{cache.key_of(kind, *parts)}"


def projections_task(ctx: JobContext) -> list[dict[str, Any]]:
    """The projections as plain dicts (name, title, params, bounds, ...) for the GUI's form."""
    return [dataclasses.asdict(info) for info in PROJECTIONS.values()]


# ----- features ---------------------------------------------------------------------------
def default_layer(model: Any) -> str:
    """The path of the layer feeding the last Dense layer (the model's "embedding")."""
    import keras

    from engine.graph import SEP, find_layer, layer_paths

    paths = layer_paths(model)
    dense = [p for p in paths if isinstance(find_layer(model, p), keras.layers.Dense)]
    if not dense:
        raise NotSupportedError(f"Model {model.name!r} has no Dense layer: choose a layer for the embedding.")
    last = dense[-1]
    prefix = last.rpartition(SEP)[0]
    try:
        producer = find_layer(model, last).input._keras_history.operation
    except (AttributeError, ValueError):
        producer = None
    if producer is None or isinstance(producer, keras.layers.InputLayer):
        index = paths.index(last)
        if index == 0:
            raise NotSupportedError(f"The last Dense layer {last!r} reads the model input: choose a layer.")
        return paths[index - 1]
    return f"{prefix}{SEP}{producer.name}" if prefix else producer.name


def pool(batch: np.ndarray, pooling: str) -> np.ndarray:
    """(n, ...) layer outputs -> (n, D): global average/max over the spatial axes, or flatten."""
    if batch.ndim <= 2:
        return batch.reshape(len(batch), -1)
    if pooling == "avg":
        return batch.mean(axis=tuple(range(1, batch.ndim - 1)))
    if pooling == "max":
        return batch.max(axis=tuple(range(1, batch.ndim - 1)))
    return batch.reshape(len(batch), -1)


def extract_features(
    model: Any,
    dataset: Any,
    layer: str,
    pooling: str,
    batch_size: int = 128,
    progress: Progress | None = None,
    check: Check | None = None,
    cache: dict[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """(features (N, D) float32, model outputs (N, K) float32, the layer's per-case shape).

    One pass per batch through a model tapped at `layer`; the batch halves on out-of-memory.
    """
    from engine.graph import tap_model
    from engine.model_inputs import feed

    cache = {} if cache is None else cache
    tapped = cache.get(("embedding.tap", layer))
    if tapped is None:
        tapped = cache[("embedding.tap", layer)] = tap_model(model, [layer])
    n = len(dataset)
    features: np.ndarray | None = None
    outputs: np.ndarray | None = None
    layer_shape: tuple[int, ...] = ()
    start = 0
    while start < n:
        if check is not None:
            check()
        stop = min(n, start + batch_size)
        x = feed(model, dataset.inputs(list(range(start, stop))))  # dicts per input, strings
        try:
            tap, out = tapped.predict_on_batch(x)
        except Exception as exc:  # noqa: BLE001 - only out-of-memory is retried
            if not is_out_of_memory(exc) or batch_size == 1:
                raise
            batch_size = max(1, batch_size // 2)
            continue
        tap, out = np.asarray(tap), np.asarray(out).reshape(stop - start, -1)
        if features is None:
            layer_shape = tuple(int(d) for d in tap.shape[1:])
            dim = pool(tap[:1], pooling).shape[1]
            if n * dim * 4 > MAX_FEATURE_BYTES:
                raise OutOfMemoryError(
                    f"Layer {layer!r} flattened is {dim} values per case, too large for {n} cases: "
                    "choose average or max pooling."
                )
            features = np.empty((n, dim), np.float32)
            outputs = np.empty((n, out.shape[1]), np.float32)
        features[start:stop] = pool(tap, pooling)
        outputs[start:stop] = out
        start = stop
        if progress is not None:
            progress(stop / n, f"Features at {layer}: {stop}/{n}")
    if features is None or outputs is None:
        raise BadInputError("The dataset is empty.")
    if not np.isfinite(features).all():
        raise NumericalError(f"Layer {layer!r} gives NaN or Inf for some cases.")
    return features, outputs, layer_shape


def predictions(outputs: np.ndarray, activation: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(predicted class, its probability), through the one `to_probabilities` (the case list's)."""
    probs = to_probabilities(outputs, activation)
    predicted = probs.argmax(axis=1).astype(np.int64)
    return predicted, probs[np.arange(len(probs)), predicted].astype(np.float32)


# ----- projection -------------------------------------------------------------------------
def resolve_params(method: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """All parameters of `method`, defaults filled in (they go into cache keys and provenance)."""
    if method not in METHODS:
        raise BadInputError(f"Unknown projection {method!r}; choose one of {', '.join(METHODS)}.")
    unknown = set(params or {}) - set(DEFAULT_PARAMS[method])
    if unknown:
        raise BadInputError(f"Unknown parameter(s) for {method}: {', '.join(sorted(unknown))}.")
    return {**DEFAULT_PARAMS[method], **(params or {})}


def _tqdm_bridge(
    progress: Progress | None, check: Check | None, lo: float, hi: float,
    partial: Callable[[np.ndarray], None] | None = None,
) -> dict[str, Any]:
    """tqdm keyword arguments that turn umap-learn's epoch loop into progress, cancel points and
    the map as it forms.

    umap-learn has no epoch callback; its layout loop (umap.layouts.optimize_layout_euclidean)
    moves `head_embedding` in place between epochs and refreshes its tqdm bar there, so the bar's
    writer finds that array in the loop's frame and hands on a copy (every half second at most).
    If a umap-learn version names it otherwise, the map simply appears at the end.
    """
    shown = [0.0]

    def forming() -> None:
        if partial is None or time.perf_counter() - shown[0] < 0.5:
            return
        frame = sys._getframe(1)
        while frame is not None and "head_embedding" not in frame.f_locals:
            frame = frame.f_back
        if frame is not None and getattr(frame.f_locals["head_embedding"], "ndim", 0) == 2:
            shown[0] = time.perf_counter()
            partial(np.array(frame.f_locals["head_embedding"], dtype=np.float32))

    class Writer:
        def write(self, text: str) -> None:
            if check is not None:
                check()
            done, _, total = text.strip().partition("/")
            if progress is not None and done.isdigit() and total.isdigit() and int(total):
                progress(lo + (hi - lo) * int(done) / int(total), f"UMAP epoch {done}/{total}")
            forming()

        def flush(self) -> None:
            pass

    return {"disable": False, "file": Writer(), "bar_format": "{n}/{total}", "mininterval": 0.2}


def project(
    features: np.ndarray,
    method: str,
    params: dict[str, Any] | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    check: Check | None = None,
    partial: Callable[[np.ndarray], None] | None = None,
) -> np.ndarray:
    """(N, D) features -> (N, 2) float32 map; PCA to 50 dims first for t-SNE / UMAP.

    `partial` receives the t-SNE or UMAP map as it forms (a copy, every half second at most).
    """
    from sklearn.decomposition import PCA

    params = resolve_params(method, params)
    report = progress or (lambda _f, _m: None)
    x = np.asarray(features, dtype=np.float32)
    n = len(x)
    if n < 3:
        raise BadInputError(f"A map needs at least 3 cases, the dataset has {n}.")
    if method == "pca" or x.shape[1] > PCA_DIMS:
        dims = 2 if method == "pca" else PCA_DIMS
        dims = min(dims, x.shape[1], n)
        report(0.02, f"PCA to {dims} dimensions")
        x = PCA(n_components=dims, random_state=seed).fit_transform(x).astype(np.float32)
        if method == "pca":
            if x.shape[1] < 2:
                x = np.pad(x, ((0, 0), (0, 2 - x.shape[1])))
            return x
    if check is not None:
        check()
    if method == "tsne":
        return _tsne(x, float(params["perplexity"]), seed, report, check, partial)
    return _umap(x, int(params["n_neighbors"]), float(params["min_dist"]), seed, report, check, partial)


def _tsne(
    x: np.ndarray, perplexity: float, seed: int, report: Progress, check: Check | None,
    partial: Callable[[np.ndarray], None] | None = None,
) -> np.ndarray:
    from openTSNE import TSNE

    perplexity = max(1.0, min(perplexity, (len(x) - 1) / 3.0))
    iterations = {"early_exaggeration_iter": 250, "n_iter": 500}
    every = 25
    calls = [0]
    total = sum(iterations.values()) // every
    shown = [0.0]

    def callback(_iteration: int, _error: float, embedding: np.ndarray) -> bool:
        if check is not None:
            check()
        calls[0] += 1
        if partial is not None and time.perf_counter() - shown[0] > 0.5:
            shown[0] = time.perf_counter()
            partial(np.array(embedding, dtype=np.float32))
        report(0.1 + 0.9 * calls[0] / total, f"t-SNE iteration {calls[0] * every}/{total * every}")
        return False

    report(0.05, "t-SNE: nearest neighbours")
    tsne = TSNE(
        perplexity=perplexity,
        random_state=seed,
        n_jobs=2,
        callbacks=callback,
        callbacks_every_iters=every,
        **iterations,
    )
    return np.asarray(tsne.fit(x), dtype=np.float32)


def _umap(
    x: np.ndarray, n_neighbors: int, min_dist: float, seed: int, report: Progress, check: Check | None,
    partial: Callable[[np.ndarray], None] | None = None,
) -> np.ndarray:
    import umap

    report(0.05, "UMAP: nearest neighbours")
    reducer = umap.UMAP(
        n_neighbors=max(2, min(n_neighbors, len(x) - 1)),
        min_dist=min_dist,
        random_state=seed,
        tqdm_kwds=_tqdm_bridge(report, check, 0.3, 1.0, partial),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "n_jobs overridden by random_state": seeded is serial
        coords = reducer.fit_transform(x)
    return np.asarray(coords, dtype=np.float32)


def fit_projection(
    features: np.ndarray, method: str, params: dict[str, Any], seed: int, progress: Progress,
    partial: Callable[[np.ndarray], None],
) -> np.ndarray:
    """In a worker process (engine.worker_process): `project` with no cancel points, since
    cancelling kills the process."""
    return project(features, method, params, seed, progress, None, partial)


# ----- the task ---------------------------------------------------------------------------
def _sub(progress: Progress, lo: float, hi: float) -> Progress:
    """A progress callback mapping 0..1 onto lo..hi of the whole job."""
    return lambda fraction, message="": progress(lo + (hi - lo) * fraction, message)


def _features(
    ctx: JobContext, layer: str, pooling: str, batch_size: int, model_sha: str
) -> tuple[str, np.ndarray, np.ndarray, tuple[int, ...], bool]:
    """Features and model outputs from memory, disk, or the model (in that order)."""
    dataset = ctx.workspace.dataset
    key = cache_key("features", model_sha, dataset.hash, layer, pooling)
    memo = cache.memory(ctx.workspace, "embedding.features", 1)
    if key in memo:
        return (*memo.get(key), True)
    loaded = DISK.load(key)
    stored = loaded[0] if loaded is not None else None
    if stored is not None and len(stored["features"]) == len(dataset):
        found = (key, stored["features"], stored["outputs"], tuple(int(d) for d in stored["layer_shape"]))
        return (*memo.put(key, found), True)
    features, outputs, shape = extract_features(
        ctx.workspace.model, dataset, layer, pooling, batch_size,
        progress=_sub(ctx.progress, 0.0, 0.6), check=ctx.check, cache=ctx.workspace.cache,
    )
    DISK.save(key, {"features": features, "outputs": outputs, "layer_shape": np.asarray(shape, np.int64)})
    memo.put(key, (key, features, outputs, shape))
    return key, features, outputs, shape, False


def embedding_task(
    ctx: JobContext,
    layer: str = "",
    pooling: str = "avg",
    method: str = "tsne",
    params: dict[str, Any] | None = None,
    seed: int = 0,
    regions: bool = True,
    thumbnails: bool = False,
    batch_size: int = 128,
) -> Embedding:
    """Features at `layer` ("" = input of the last Dense) -> 2-D map -> decision regions."""
    started = time.perf_counter()
    model = ctx.workspace.require_model()
    dataset = ctx.workspace.dataset
    if dataset is None:
        raise BadInputError("No dataset is open: open cases first.")
    if pooling not in POOLINGS:
        raise BadInputError(f"Unknown pooling {pooling!r}; choose one of {', '.join(POOLINGS)}.")
    params = resolve_params(method, params)
    layer = layer or default_layer(model)
    model_sha = model_identity(ctx.workspace)
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    features_key, features, outputs, shape, features_hit = _features(ctx, layer, pooling, batch_size, model_sha)
    timings["features"] = time.perf_counter() - t0
    heads = tuple(getattr(ctx.workspace.description, "heads", ()) or ())
    if heads and not heads[0].is_classifier:  # the tap's output is head 0: a box, a value or a map
        predicted, confidence = np.full(len(features), -1, np.int64), np.full(len(features), np.nan, np.float32)
        regions = False  # no classes to shade by
    else:
        predicted, confidence = predictions(outputs, getattr(ctx.workspace.description, "output_activation", None))

    t0 = time.perf_counter()
    map_key = cache_key("map", features_key, method, params, int(seed))
    loaded = DISK.load(map_key)
    stored = loaded[0] if loaded is not None else None
    map_hit = stored is not None and len(stored["coords"]) == len(features)
    if map_hit:
        coords = stored["coords"]
    else:
        ctx.progress(0.6, f"{TITLES[method]} of {len(features)} cases")
        coords = _fit(ctx, features, method, params, int(seed))
        if not np.isfinite(coords).all():
            raise NumericalError(f"The {method} map has NaN or Inf coordinates.")
        DISK.save(map_key, {"coords": coords})
    timings["projection"] = time.perf_counter() - t0
    ctx.check()

    shading = None
    if regions:
        t0 = time.perf_counter()
        ctx.progress(0.96, "Decision regions")
        shading = decision_regions(coords, predicted)
        timings["regions"] = time.perf_counter() - t0
    thumbs = None
    if thumbnails:
        ctx.progress(0.98, "Thumbnails")
        thumbs = np.stack([dataset.thumbnail(i) for i in range(len(dataset))])
    ctx.progress(1.0, f"{TITLES[method]} map of {len(features)} cases")
    return Embedding(
        coords=np.asarray(coords, np.float32),
        labels=np.asarray(dataset.labels, np.int64),
        predicted=predicted,
        confidence=confidence,
        class_names=tuple(str(c) for c in dataset.class_names),
        names=tuple(str(n) for n in dataset.names),
        layer=layer,
        pooling=pooling,
        method=method,
        params=params,
        seed=int(seed),
        feature_shape=shape,
        feature_dim=int(features.shape[1]),
        regions=shading,
        cached={"features": features_hit, "projection": map_hit},
        elapsed=time.perf_counter() - started,
        provenance=_provenance(model_sha, dataset, layer, pooling, method, params, seed),
        thumbnails=thumbs,
        timings=timings,
    )


def _fit(ctx: JobContext, features: np.ndarray, method: str, params: dict[str, Any], seed: int) -> np.ndarray:
    """PCA here; t-SNE and UMAP in a worker process: their compiled loops hold the GIL for long
    stretches and would freeze the window (the engine thread meanwhile waits, gives way to
    interactive jobs, and kills the worker on cancel)."""
    progress = _sub(ctx.progress, 0.6, 0.95)
    if method not in WORKER_METHODS:
        return project(features, method, params, seed, progress, ctx.check, ctx.partial)
    return worker_process.run(
        "engine.embedding:fit_projection", {"features": features, "method": method, "params": params, "seed": seed},
        progress, ctx.check, ctx.partial, title=TITLES[method],
    )


def _provenance(
    model_sha: str, dataset: Any, layer: str, pooling: str, method: str, params: dict, seed: int
) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    found = versions()
    for package in ("openTSNE", "umap-learn"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return {
        "model_sha256": model_sha,
        "dataset_hash": dataset.hash,
        "layer": layer,
        "pooling": pooling,
        "method": method,
        "params": plain(params),
        "seed": int(seed),
        "pca_dims": PCA_DIMS,
        "versions": found,
    }

