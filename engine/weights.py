"""What a layer learned: its weight tensors, their statistics, histograms and displayable forms.

Everything heavy (statistics over 25M parameters, histograms, downsampling) happens here, on the
engine thread; the GUI receives frozen dataclasses of numpy arrays. The pure functions take numpy
arrays so they can be tested without a model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import BadInputError
from engine.jobs import JobContext

HIST_BINS = 64
NEAR_ZERO_REL = 1e-3  # "near zero" means |w| < NEAR_ZERO_REL * max|w|
MAX_DISPLAY = 2048  # a matrix larger than this in a dimension is downsampled for display
MAX_VALUES = 50_000_000  # tensors up to this size travel to the GUI whole (exact readout)
OUTLIER_Z = 3.5  # modified z-score (MAD based) above which a layer's weight scale is flagged
MIN_MAD = 0.15  # log10 units: with z 3.5 a layer is flagged only when ~6x off the median scale
_CACHE_KEY = "weights:overview"


@dataclass(frozen=True)
class TensorStats:
    """Summary of an array; NaN/Inf are counted and left out of the other figures."""

    count: int
    mean: float
    std: float
    min: float
    max: float
    l2: float
    zero_fraction: float  # exactly 0 (dead units for activations)
    near_zero_fraction: float  # |x| < near_zero_threshold
    near_zero_threshold: float  # NEAR_ZERO_REL * max|x|
    nan: int
    inf: int

    @property
    def nonfinite(self) -> int:
        return self.nan + self.inf


def tensor_stats(values: np.ndarray) -> TensorStats:
    """Statistics over the finite values, accumulated in float64; few passes (it runs per click)."""
    a = np.asarray(values).ravel()
    if not np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float64)
    finite = np.isfinite(a)
    nan = inf = 0
    if not finite.all():
        nan = int(np.count_nonzero(np.isnan(a)))
        inf = int(a.size - nan - np.count_nonzero(finite))
        a = a[finite]
    if a.size == 0:
        return TensorStats(0, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, nan, inf)
    lo, hi = float(a.min()), float(a.max())
    threshold = NEAR_ZERO_REL * max(-lo, hi)
    a64 = a.astype(np.float64)
    mean = float(a64.mean())
    centred = a64 - mean
    return TensorStats(
        count=int(a.size),
        mean=mean,
        std=float(np.sqrt(np.dot(centred, centred) / a.size)),
        min=lo,
        max=hi,
        l2=float(np.sqrt(np.dot(a64, a64))),
        zero_fraction=float(np.count_nonzero(a == 0) / a.size),
        near_zero_fraction=float(np.count_nonzero(np.abs(a) < threshold) / a.size),
        near_zero_threshold=threshold,
        nan=nan,
        inf=inf,
    )


def histogram(values: np.ndarray, bins: int = HIST_BINS) -> tuple[np.ndarray, np.ndarray]:
    """Counts and edges over the finite values (one bin around a constant tensor)."""
    a = np.asarray(values, dtype=np.float64).ravel()
    a = a[np.isfinite(a)]
    if a.size == 0:
        return np.zeros(0, np.int64), np.zeros(1, np.float64)
    lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
        bins = 1
    counts, edges = np.histogram(a, bins=bins, range=(lo, hi))
    return counts.astype(np.int64), edges


@dataclass(frozen=True)
class MatrixDisplay:
    """A 2-D view of a tensor for a heatmap; `image` may be downsampled (see `method`)."""

    image: np.ndarray  # float32 (rows, cols) after downsampling
    shape: tuple[int, int]  # the full matrix's shape (the readout indexes the full matrix)
    block: tuple[int, int]  # rows, cols of the full matrix per displayed pixel
    method: str  # "full" or "block max-abs" (the signed value with the largest |w| in the block)
    row_label: str
    col_label: str


def downsample_max_abs(matrix: np.ndarray, max_dim: int = MAX_DISPLAY) -> tuple[np.ndarray, tuple[int, int]]:
    """Shrink each dimension to <= max_dim by blocks keeping the signed extreme value.

    Max-abs (not mean) so that one exploding weight stays visible after downsampling.
    """
    rows, cols = matrix.shape
    br, bc = -(-rows // max_dim), -(-cols // max_dim)
    if br == 1 and bc == 1:
        return matrix.astype(np.float32, copy=False), (1, 1)
    padded = np.zeros((-(-rows // br) * br, -(-cols // bc) * bc), np.float32)
    padded[:rows, :cols] = np.nan_to_num(matrix, nan=0.0)
    blocks = padded.reshape(padded.shape[0] // br, br, padded.shape[1] // bc, bc)
    high, low = blocks.max(axis=(1, 3)), blocks.min(axis=(1, 3))
    return np.where(-low > high, low, high).astype(np.float32), (br, bc)


def matrix_display(values: np.ndarray, layer_class: str) -> MatrixDisplay:
    """Any tensor of 2+ dimensions as (everything but the last axis) x (last axis)."""
    matrix = values.reshape(-1, values.shape[-1])
    image, block = downsample_max_abs(matrix)
    if values.ndim == 2:
        row_label = "input"
    elif np.prod(values.shape[:-2]) == 1:  # 1x1 convolution
        row_label = "input channel"
    else:
        row_label = "kernel position × input channel"
    return MatrixDisplay(
        image=image,
        shape=(int(matrix.shape[0]), int(matrix.shape[1])),
        block=block,
        method="full" if block == (1, 1) else "block max-abs",
        row_label=row_label,
        col_label="unit" if "Dense" in layer_class else "output channel",
    )


@dataclass(frozen=True)
class FilterTiles:
    """A convolution kernel as small images, one per filter (output channel).

    `mean`: (n, kh, kw) averaged over input channels; `per_channel`: (cin, n, kh, kw), the GUI
    picks one input channel; `rgb`: (n, kh, kw, 3) for first layers that see colour images.
    For depthwise kernels each (input channel, multiplier) pair is its own tile in `mean`.
    """

    mean: np.ndarray
    per_channel: np.ndarray | None
    rgb: np.ndarray | None
    depthwise: bool


def filter_tiles(kernel: np.ndarray, depthwise: bool = False) -> FilterTiles:
    """Tiles of a (kh, kw, cin, cout) kernel; tile j is filter j (output channel j)."""
    if kernel.ndim != 4:
        raise BadInputError(f"A filter grid needs a 4-D (kh, kw, in, out) kernel, got shape {kernel.shape}.")
    kernel = kernel.astype(np.float32, copy=False)
    kh, kw, cin, cout = kernel.shape
    if depthwise:
        tiles = np.ascontiguousarray(kernel.reshape(kh, kw, cin * cout).transpose(2, 0, 1))
        return FilterTiles(mean=tiles, per_channel=None, rgb=None, depthwise=True)
    return FilterTiles(
        mean=np.ascontiguousarray(kernel.mean(axis=2).transpose(2, 0, 1)),
        per_channel=np.ascontiguousarray(kernel.transpose(2, 3, 0, 1)),
        rgb=np.ascontiguousarray(kernel.transpose(3, 0, 1, 2)) if cin == 3 else None,
        depthwise=False,
    )


@dataclass(frozen=True)
class WeightTensor:
    name: str  # "kernel", "bias", "gamma", "moving_mean", ...
    path: str  # the variable's path in the model, e.g. "conv1/kernel"
    shape: tuple[int, ...]
    dtype: str
    trainable: bool
    stats: TensorStats
    hist_counts: np.ndarray
    hist_edges: np.ndarray
    values: np.ndarray | None  # float32, full shape; None above MAX_VALUES
    matrix: MatrixDisplay | None  # heatmap for 2+-D tensors that are not shown as filters
    filters: FilterTiles | None  # filter grid for spatial convolution kernels


@dataclass(frozen=True)
class LayerWeights:
    path: str
    class_name: str
    params: int
    tensors: tuple[WeightTensor, ...]
    elapsed: float


def describe_tensor(name: str, path: str, values: np.ndarray, trainable: bool, layer_class: str) -> WeightTensor:
    """Statistics, histogram and the display form that fits the tensor's role."""
    dtype = str(values.dtype)
    data = values.astype(np.float32, copy=False)
    counts, edges = histogram(data)
    is_spatial_kernel = data.ndim == 4 and data.shape[0] * data.shape[1] > 1
    filters = filter_tiles(data, depthwise="Depthwise" in layer_class or "depthwise" in name) if is_spatial_kernel else None
    matrix = matrix_display(data, layer_class) if data.ndim >= 2 and filters is None else None
    return WeightTensor(
        name=name,
        path=path,
        shape=tuple(int(d) for d in values.shape),
        dtype=dtype,
        trainable=trainable,
        stats=tensor_stats(data),
        hist_counts=counts,
        hist_edges=edges,
        values=data if data.size <= MAX_VALUES else None,
        matrix=matrix,
        filters=filters,
    )


def _variables(layer: Any) -> list[tuple[str, str, np.ndarray, bool]]:
    """(name, path, numpy value, trainable) of each weight of the layer (and of its sub-layers).

    The name is the path below the layer: "kernel" for a plain layer, "conv/kernel" inside a
    sub-model, so a container's tensors stay distinguishable.
    """
    trainable_ids = {id(v) for v in layer.trainable_weights}
    out = []
    for v in layer.weights:
        path = getattr(v, "path", v.name)
        name = path.removeprefix(f"{layer.name}/")
        out.append((name, path, np.asarray(v.numpy()), id(v) in trainable_ids))
    return out


def layer_weights_task(ctx: JobContext, path: str) -> LayerWeights:
    """Every weight tensor of the layer at `path`, ready to display."""
    from engine.graph import find_layer

    t0 = time.perf_counter()
    layer = find_layer(ctx.workspace.require_model(), path)
    class_name = type(layer).__name__
    variables = _variables(layer)
    tensors = []
    for i, (name, var_path, values, trainable) in enumerate(variables):
        ctx.check()
        ctx.progress(i / max(1, len(variables)), f"Weights of {path}: {name}")
        tensors.append(describe_tensor(name, var_path, values, trainable, class_name))
    ctx.progress(1.0, f"Weights of {path}")
    return LayerWeights(
        path=path,
        class_name=class_name,
        params=int(sum(np.prod(t.shape) for t in tensors)),
        tensors=tuple(tensors),
        elapsed=time.perf_counter() - t0,
    )


# ----- whole-model overview ------------------------------------------------------------------
@dataclass(frozen=True)
class OverviewRow:
    path: str
    class_name: str
    params: int
    tensor: str  # which tensor the statistics describe (the kernel, else the largest)
    stats: TensorStats
    gain: float  # std * sqrt(fan_in): ~1 at variance-preserving init, comparable across layers
    nonfinite: int  # NaN + Inf over all the layer's tensors
    flags: tuple[str, ...]  # "nan/inf", "all zero", "scale outlier (high)", "scale outlier (low)"


@dataclass(frozen=True)
class WeightOverview:
    rows: tuple[OverviewRow, ...]
    total_params: int
    elapsed: float


def fan_in(shape: tuple[int, ...], layer_class: str) -> int:
    """Inputs feeding one output unit: all but the last axis (only the spatial ones for depthwise)."""
    if len(shape) < 2:
        return 1
    spatial = shape[:-2] if len(shape) > 2 else ()
    if "Depthwise" in layer_class:
        return int(np.prod(spatial)) if spatial else 1
    return int(np.prod(shape[:-1]))


def scale_outliers(gains: np.ndarray, z: float = OUTLIER_Z) -> np.ndarray:
    """+1 / -1 where log10(gain) is a robust (median/MAD) outlier above / below, else 0."""
    out = np.zeros(len(gains), np.int8)
    positive = np.isfinite(gains) & (gains > 0)
    if positive.sum() < 4:
        return out
    logs = np.log10(gains[positive])
    median = np.median(logs)
    mad = max(float(np.median(np.abs(logs - median))), MIN_MAD)
    scores = 0.6745 * (logs - median) / mad
    out[np.flatnonzero(positive)] = np.where(scores > z, 1, np.where(scores < -z, -1, 0))
    return out


def _main_tensor(variables: list[tuple[str, str, np.ndarray, bool]]) -> tuple[str, np.ndarray]:
    """The kernel (the largest tensor with 2+ axes), else the largest tensor."""
    matrices = [v for v in variables if v[2].ndim >= 2] or variables
    name, _, values, _ = max(matrices, key=lambda v: v[2].size)
    return name, values


def _leaf_paths(paths: list[str]) -> list[str]:
    """Layers that are not containers of other listed layers (their weights are counted once)."""
    parents = {p.rsplit("/", 1)[0] for p in paths if "/" in p}
    return [p for p in paths if p not in parents]


def weight_overview_task(ctx: JobContext) -> WeightOverview:
    """One row per layer that owns weights; flags make exploding or dead layers stand out."""
    from engine.graph import find_layer, layer_paths

    model = ctx.workspace.require_model()
    cached = ctx.workspace.cache.get(_CACHE_KEY)
    if cached is not None:
        return cached
    t0 = time.perf_counter()
    paths = _leaf_paths(layer_paths(model))
    partial: list[tuple[str, str, int, str, TensorStats, float, int]] = []
    for i, path in enumerate(paths):
        ctx.check()
        ctx.progress(i / max(1, len(paths)), f"Weight statistics: {path}")
        layer = find_layer(model, path)
        variables = _variables(layer)
        if not variables:
            continue
        class_name = type(layer).__name__
        name, values = _main_tensor(variables)
        stats = tensor_stats(values)
        gain = stats.std * np.sqrt(fan_in(values.shape, class_name)) if values.ndim >= 2 else np.nan
        nonfinite = sum(int(np.count_nonzero(~np.isfinite(v))) for _, _, v, _ in variables)
        params = sum(int(v.size) for _, _, v, _ in variables)
        partial.append((path, class_name, params, name, stats, float(gain), nonfinite))
    normalised = _normalised_by_next(model, [p[0] for p in partial])
    # A kernel followed by BatchNorm has no meaningful scale (BN divides it out): not compared.
    outliers = scale_outliers(np.array([np.nan if p[0] in normalised else p[5] for p in partial], np.float64))
    rows = tuple(
        OverviewRow(*p, flags=_flags(p[4], p[5], p[6], int(o))) for p, o in zip(partial, outliers, strict=True)
    )
    ctx.progress(1.0, "Weight statistics done")
    overview = WeightOverview(rows, sum(r.params for r in rows), time.perf_counter() - t0)
    ctx.workspace.cache[_CACHE_KEY] = overview
    return overview


NORMALISERS = frozenset({"BatchNormalization", "LayerNormalization", "GroupNormalization"})


def _normalised_by_next(model: Any, paths: list[str]) -> set[str]:
    """Layers whose every consumer is a normalisation layer (their weights' scale is free)."""
    from engine.graph import find_layer

    found = set()
    for path in paths:
        layer = find_layer(model, path)
        consumers = [node.operation for node in getattr(layer, "_outbound_nodes", []) if getattr(node, "operation", None)]
        if consumers and all(type(c).__name__ in NORMALISERS for c in consumers):
            found.add(path)
    return found


def _flags(stats: TensorStats, gain: float, nonfinite: int, outlier: int) -> tuple[str, ...]:
    flags = []
    if nonfinite:
        flags.append("nan/inf")
    if stats.count and stats.max == 0 and stats.min == 0:
        flags.append("all zero")
    if outlier > 0:
        flags.append("scale outlier (high)")
    elif outlier < 0:
        flags.append("scale outlier (low)")
    return tuple(flags)
