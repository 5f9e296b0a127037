"""Weight statistics equal numpy's, filter tiles keep the kernel's layout, the overview flags outliers."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from engine.jobs import CancelToken, JobContext
from engine.weights import (
    NEAR_ZERO_REL,
    downsample_max_abs,
    fan_in,
    filter_tiles,
    histogram,
    layer_weights_task,
    scale_outliers,
    tensor_stats,
    weight_overview_task,
)
from engine.workspace import Workspace


def _ctx(model: keras.Model, progress=None) -> JobContext:
    workspace = Workspace()
    workspace.set_model(model, None)
    return JobContext(workspace, progress)


def _small_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    inner_in = keras.Input((6, 6, 4))
    inner = keras.Model(inner_in, keras.layers.Conv2D(5, 3, name="conv_in")(inner_in), name="inner")
    x_in = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="rgb")(x_in)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = inner(x)
    x = keras.layers.Flatten(name="flat")(x)
    x = keras.layers.Dense(7, name="dense")(x)
    return keras.Model(x_in, keras.layers.Dense(3, name="out")(x))


def test_stats_equal_numpy_and_skip_nonfinite() -> None:
    rng = np.random.default_rng(0)
    w = rng.normal(size=(40, 30)).astype(np.float32)
    w[0, :5] = 0.0
    w[1, 0] = 1e-6
    stats = tensor_stats(w)
    assert stats.count == w.size
    np.testing.assert_allclose(stats.mean, w.astype(np.float64).mean(), rtol=1e-9)
    np.testing.assert_allclose(stats.std, w.astype(np.float64).std(), rtol=1e-9)
    np.testing.assert_allclose(stats.l2, np.linalg.norm(w.astype(np.float64)), rtol=1e-9)
    assert (stats.min, stats.max) == (w.min(), w.max())
    assert stats.zero_fraction == pytest.approx(5 / w.size)
    threshold = NEAR_ZERO_REL * np.abs(w).max()
    assert stats.near_zero_fraction == pytest.approx(np.mean(np.abs(w) < threshold))

    w[2, 0], w[2, 1], w[2, 2] = np.nan, np.inf, -np.inf
    bad = tensor_stats(w)
    assert (bad.nan, bad.inf, bad.count) == (1, 2, w.size - 3)
    np.testing.assert_allclose(bad.mean, w[np.isfinite(w)].astype(np.float64).mean(), rtol=1e-9)


def test_histogram_counts_every_finite_value() -> None:
    w = np.array([0.0, 0.1, 0.1, 0.9, 1.0, np.nan], np.float32)
    counts, edges = histogram(w, bins=10)
    assert counts.sum() == 5 and len(edges) == 11
    assert edges[0] == 0.0 and edges[-1] == pytest.approx(1.0)
    assert counts[1] == 2  # both 0.1s in [0.1, 0.2)
    const_counts, _ = histogram(np.ones(7))
    assert const_counts.tolist() == [7]


def test_filter_tiles_layout_for_a_known_kernel() -> None:
    kh, kw, cin, cout = 2, 3, 3, 4
    # value encodes its position: 1000*out + 100*in + 10*row + col
    r, c, i, o = np.meshgrid(np.arange(kh), np.arange(kw), np.arange(cin), np.arange(cout), indexing="ij")
    kernel = (1000 * o + 100 * i + 10 * r + c).astype(np.float32)
    tiles = filter_tiles(kernel)
    assert tiles.per_channel.shape == (cin, cout, kh, kw)
    assert tiles.per_channel[2, 3, 1, 2] == 3212  # input 2, filter 3, row 1, col 2
    assert tiles.mean.shape == (cout, kh, kw)
    assert tiles.mean[1, 0, 1] == 1000 + 100 + 1  # mean over inputs 0, 1, 2 -> 100
    assert tiles.rgb.shape == (cout, kh, kw, 3)
    assert tiles.rgb[3, 1, 0].tolist() == [3010, 3110, 3210]
    depthwise = filter_tiles(kernel[:, :, :, :2], depthwise=True)
    assert depthwise.mean.shape == (cin * 2, kh, kw) and depthwise.per_channel is None
    assert depthwise.mean[2 * 1 + 1, 1, 2] == 1112  # channel 1, multiplier 1


def test_downsample_keeps_the_signed_extreme_of_each_block() -> None:
    m = np.zeros((5000, 10), np.float32)
    m[4999, 3] = -7.0
    m[10, 9] = 3.0
    image, block = downsample_max_abs(m, max_dim=2048)
    assert block == (3, 1) and image.shape == (1667, 10)
    assert image[4999 // 3, 3] == -7.0 and image[10 // 3, 9] == 3.0
    assert np.count_nonzero(image) == 2


def test_layer_weights_of_conv_bn_dense_and_nested_layers() -> None:
    model = _small_model()
    ctx = _ctx(model)
    conv = layer_weights_task(ctx, "rgb")
    assert [t.name for t in conv.tensors] == ["kernel", "bias"]
    kernel = conv.tensors[0]
    np.testing.assert_array_equal(kernel.values, model.get_layer("rgb").kernel.numpy())
    assert kernel.filters is not None and kernel.filters.rgb.shape == (4, 3, 3, 3)
    assert kernel.hist_counts.sum() == 3 * 3 * 3 * 4
    assert conv.params == 3 * 3 * 3 * 4 + 4

    bn = layer_weights_task(ctx, "bn")
    assert [t.name for t in bn.tensors] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [t.trainable for t in bn.tensors] == [True, True, False, False]
    assert bn.tensors[0].stats.mean == 1.0

    dense = layer_weights_task(ctx, "dense").tensors[0]
    assert dense.matrix is not None and dense.matrix.shape == (4 * 4 * 5, 7)
    assert dense.matrix.method == "full" and dense.matrix.row_label == "input"
    np.testing.assert_array_equal(dense.matrix.image, model.get_layer("dense").kernel.numpy())

    nested = layer_weights_task(ctx, "inner/conv_in")
    assert nested.tensors[0].shape == (3, 3, 4, 5)
    assert nested.tensors[0].filters.rgb is None
    container = layer_weights_task(ctx, "inner")
    assert [t.name for t in container.tensors] == ["conv_in/kernel", "conv_in/bias"]


def test_scale_outliers_and_fan_in() -> None:
    gains = np.array([1.0, 1.1, 0.9, 1.05, 0.95, 1000.0, 0.001, np.nan])
    assert scale_outliers(gains).tolist() == [0, 0, 0, 0, 0, 1, -1, 0]
    assert fan_in((3, 3, 16, 32), "Conv2D") == 144
    assert fan_in((3, 3, 16, 1), "DepthwiseConv2D") == 9
    assert fan_in((64, 10), "Dense") == 64


def test_overview_flags_exploding_zero_and_nan_layers() -> None:
    keras.utils.set_random_seed(0)
    x_in = keras.Input((16,))
    x = x_in
    for i in range(6):
        x = keras.layers.Dense(16, name=f"d{i}")(x)
    model = keras.Model(x_in, x)
    model.get_layer("d1").kernel.assign(model.get_layer("d1").kernel.numpy() * 1e4)
    model.get_layer("d2").kernel.assign(np.zeros((16, 16), np.float32))
    bias = np.zeros(16, np.float32)
    bias[3] = np.nan
    model.get_layer("d3").bias.assign(bias)
    overview = weight_overview_task(_ctx(model))
    flags = {row.path: row.flags for row in overview.rows}
    assert [row.path for row in overview.rows] == [f"d{i}" for i in range(6)]
    assert flags["d1"] == ("scale outlier (high)",)
    assert flags["d2"] == ("all zero",)
    assert flags["d3"] == ("nan/inf",)
    assert flags["d0"] == flags["d4"] == ()
    assert overview.total_params == 6 * (16 * 16 + 16)
    d0 = overview.rows[0]
    np.testing.assert_allclose(d0.gain, model.get_layer("d0").kernel.numpy().std() * 4.0, rtol=1e-5)


def test_a_kernel_followed_by_batchnorm_is_not_a_scale_outlier() -> None:
    """BatchNorm divides a conv's output scale out, so a conv kernel 1000x larger than its
    neighbours' is normal there (MobileNet-style conv+BN); the same kernel before a ReLU is not."""
    keras.utils.set_random_seed(0)
    x_in = keras.Input((8, 8, 4))
    x = x_in
    for i in range(5):
        x = keras.layers.Conv2D(4, 3, padding="same", name=f"c{i}")(x)
        if i == 2:
            x = keras.layers.BatchNormalization(name="bn")(x)
    model = keras.Model(x_in, x)
    for name in ("c2", "c4"):
        model.get_layer(name).kernel.assign(model.get_layer(name).kernel.numpy() * 1e3)
    flags = {row.path: row.flags for row in weight_overview_task(_ctx(model)).rows}
    assert flags["c2"] == () and flags["c4"] == ("scale outlier (high)",)


@pytest.mark.slow
def test_resnet50_overview_with_progress_and_cancel() -> None:
    from engine.errors import Cancelled

    model = keras.applications.ResNet50(weights=None)
    fractions: list[float] = []
    ctx = _ctx(model, lambda fraction, _message: fractions.append(fraction))
    overview = weight_overview_task(ctx)
    assert overview.total_params == model.count_params() == 25_636_712
    assert len(overview.rows) == sum(1 for layer in model.layers if layer.weights)
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) > 100
    assert not [row.path for row in overview.rows if row.flags]  # a healthy init flags nothing
    dense = layer_weights_task(ctx, "predictions").tensors[0]
    assert dense.matrix.shape == (2048, 1000) and dense.matrix.method == "full"

    token = CancelToken()
    cancelled = JobContext(ctx.workspace, lambda fraction, _m: fraction > 0.1 and token.cancel(), token)
    ctx.workspace.cache.clear()
    with pytest.raises(Cancelled):
        weight_overview_task(cancelled)
