"""Every method's scale against a closed form or an exact reference, not only its argmax.

A map that is right up to a factor (RISE not divided by p), right only for additive models
(Kernel SHAP with uniform weights), or right except at an edge case (a patch as large as the
input, an endpoint of the integration path, a negative CAM) passes shape, determinism and
ranking tests; these catch it.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from engine.explainers import create  # noqa: E402
from engine.explainers.masking import RiseMasks  # noqa: E402


def _linear_image_model(shape: tuple[int, ...], kernel: np.ndarray, bias: float) -> keras.Model:
    """score(x) = sum(kernel * x) + bias: one linear output, no activation."""
    model = keras.Sequential([keras.Input(shape), keras.layers.Flatten(), keras.layers.Dense(1)])
    model.layers[-1].set_weights([kernel.reshape(-1, 1).astype("float32"), np.array([bias], "float32")])
    return model


# ------------------------------------------------------------------------------------- RISE
def test_rise_is_the_mask_weighted_score_sum_over_n_p():
    """sum_i f(x * M_i) M_i / (N p), with the masks the seed draws, on a model with a known score."""
    rng = np.random.default_rng(11)
    shape, n, resolution, p, seed = (9, 7, 2), 40, 3, 0.3, 5
    kernel = rng.normal(size=shape)
    model = _linear_image_model(shape, kernel, 0.7)
    x = rng.uniform(size=(1, *shape)).astype("float32")
    result = create("rise", model, nb_samples=n, resolution=resolution, probability=p, seed=seed).explain(x, [0])

    masks = RiseMasks.draw(n, resolution, p, shape[:2], np.random.default_rng(seed)).render(0, n)
    scores = np.array([(kernel * x[0] * m[..., None]).sum() + 0.7 for m in masks])
    expected = np.tensordot(scores, masks, axes=1) / (n * p)
    np.testing.assert_allclose(result.maps[0, ..., 0], expected, rtol=2e-4, atol=1e-5)
    np.testing.assert_allclose(result.heatmap[0], expected, rtol=2e-4, atol=1e-5)


@pytest.mark.parametrize("p, resolution", [(0.5, 4), (0.2, 4), (0.5, 1)])
def test_rise_of_a_constant_score_model_is_that_score_everywhere(p, resolution):
    """E[M] = p, so a model that always scores c gets a map of c (not c * p) at every pixel
    (resolution 1: each mask is all on or all off)."""
    model = _linear_image_model((8, 8, 1), np.zeros((8, 8, 1)), 2.5)
    x = np.random.default_rng(0).uniform(size=(1, 8, 8, 1)).astype("float32")
    result = create("rise", model, nb_samples=3000, resolution=resolution, probability=p, batch_size=500).explain(x, [0])
    heat = result.heatmap[0]
    assert heat.mean() == pytest.approx(2.5, rel=0.03)
    assert np.abs(heat / 2.5 - 1).max() < 0.15


# ------------------------------------------------------------------------------- Kernel SHAP
def _interaction_model() -> keras.Model:
    """f(x) = 2 x0 x1 + 3 x2 + x3 x4 x0: interactions of two and three features."""
    inputs = keras.Input((5,))
    pick = [keras.layers.Dense(1, use_bias=False, name=f"x{i}") for i in range(5)]
    xs = [layer(inputs) for layer in pick]
    terms = keras.layers.Concatenate()([
        keras.layers.Multiply()([xs[0], xs[1]]), xs[2], keras.layers.Multiply()([xs[3], xs[4], xs[0]])
    ])
    out = keras.layers.Dense(1, name="sum")(terms)
    model = keras.Model(inputs, out)
    for i, layer in enumerate(pick):
        layer.set_weights([np.eye(5, dtype="float32")[:, [i]]])
    model.get_layer("sum").set_weights([np.array([[2.0], [3.0], [1.0]], "float32"), np.zeros(1, "float32")])
    return model


def _game(z: np.ndarray, x: np.ndarray, fill: float) -> float:
    v = fill + z * (x - fill)
    return float(2 * v[0] * v[1] + 3 * v[2] + v[3] * v[4] * v[0])


def _exact_shapley(x: np.ndarray, fill: float) -> np.ndarray:
    """phi_i = sum over S without i of |S|! (M - |S| - 1)! / M! (v(S + i) - v(S)), every S enumerated."""
    m = len(x)
    phi = np.zeros(m)
    for i in range(m):
        others = [j for j in range(m) if j != i]
        for size in range(m):
            for members in itertools.combinations(others, size):
                z = np.zeros(m)
                z[list(members)] = 1
                weight = math.factorial(size) * math.factorial(m - size - 1) / math.factorial(m)
                with_i = z.copy()
                with_i[i] = 1
                phi[i] += weight * (_game(with_i, x, fill) - _game(z, x, fill))
    return phi


def test_exact_shapley_reference_is_the_known_answer():
    np.testing.assert_allclose(_exact_shapley(np.ones(5), 0.0), [1 + 1 / 3, 1, 3, 1 / 3, 1 / 3], atol=1e-12)


@pytest.mark.parametrize("nb_samples", [30, 1000])
def test_kernel_shap_equals_exact_shapley_values_with_interactions(nb_samples):
    """Every coalition fits in the budget (2^5 - 2 = 30): the kernel-weighted fit is exact."""
    model = _interaction_model()
    x = np.array([[1.0, 1.0, 1.0, 1.0, 1.0], [0.5, -1.2, 2.0, 1.5, -0.7]], "float32")
    fill = 0.25
    result = create("kernel_shap", model, nb_samples=nb_samples, fill_value=fill, seed=2).explain(x, [0, 0])
    for got, case in zip(result.maps, x):
        np.testing.assert_allclose(got, _exact_shapley(case.astype(np.float64), fill), rtol=1e-4, atol=1e-4)


# --------------------------------------------------------------------------------- occlusion
def test_occlusion_patch_as_large_as_the_image():
    """One patch hides everything: every pixel gets f(x) - f(fill), whatever the stride."""
    rng = np.random.default_rng(3)
    kernel = rng.normal(size=(6, 6, 2))
    model = _linear_image_model((6, 6, 2), kernel, 0.4)
    x = rng.uniform(size=(2, 6, 6, 2)).astype("float32")
    drop = (kernel * (x - 0.1)).sum(axis=(1, 2, 3))
    for stride in (1, 4, 6):
        result = create("occlusion", model, patch_size=6, stride=stride, fill_value=0.1).explain(x, [0, 0])
        np.testing.assert_allclose(result.heatmap, np.broadcast_to(drop[:, None, None], (2, 6, 6)), rtol=1e-4, atol=1e-5)


def test_occlusion_patch_as_wide_as_the_image():
    """6x5 image, 5x5 patches, stride 3: anchors (0, 0) and (1, 0), flush with the bottom edge."""
    rng = np.random.default_rng(13)
    kernel = rng.normal(size=(6, 5, 1))
    model = _linear_image_model((6, 5, 1), kernel, 0.0)
    x = rng.uniform(size=(1, 6, 5, 1)).astype("float32")
    result = create("occlusion", model, patch_size=5, stride=3, fill_value=0.0).explain(x, [0])
    rows = (kernel * x[0]).sum(axis=(1, 2))  # each row's contribution
    top, bottom = rows[0:5].sum(), rows[1:6].sum()
    expected = np.array([top] + [(top + bottom) / 2] * 4 + [bottom])
    np.testing.assert_allclose(result.heatmap[0], np.repeat(expected[:, None], 5, axis=1), rtol=1e-4, atol=1e-5)


def test_occlusion_patch_as_large_as_a_tabular_row(linear_model):
    x = np.random.default_rng(4).normal(size=(3, 5)).astype("float32")
    result = create("occlusion", linear_model, patch_size=5, stride=2, fill_value=-0.2).explain(x, [0, 1, 2])
    weights, _ = linear_model.get_layer("scores").get_weights()
    drop = ((x + 0.2) * weights[:, [0, 1, 2]].T).sum(axis=1)
    np.testing.assert_allclose(result.maps, np.repeat(drop[:, None], 5, axis=1), rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------- IG's path endpoints
def _power_model(shape: tuple[int, ...], power: int) -> keras.Model:
    """f(x) = sum(x ** power), from Multiply layers (no Lambda)."""
    inputs = keras.Input(shape)
    h = keras.layers.Multiply()([inputs] * power) if power > 1 else inputs
    out = keras.layers.Dense(1, use_bias=False)(keras.layers.Flatten()(h))
    model = keras.Model(inputs, out)
    model.layers[-1].set_weights([np.ones((int(np.prod(shape)), 1), "float32")])
    return model


@pytest.mark.parametrize("rule, steps", [("riemann", 1), ("riemann", 4), ("trapezoid", 2), ("trapezoid", 5)])
def test_ig_is_exact_for_a_quadratic_where_the_rule_is(rule, steps):
    """d/dx x^2 is linear along the path: the midpoint and trapezoid rules integrate it exactly,
    with any number of steps; an endpoint shifted by half a step does not."""
    x = np.random.default_rng(5).uniform(-1, 2, size=(2, 6)).astype("float32")
    result = create("integrated_gradients", _power_model((6,), 2), steps=steps, rule=rule).explain(x, [0, 0])
    np.testing.assert_allclose(result.maps, x**2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.completeness_gap, 0.0, atol=1e-4)


@pytest.mark.parametrize("rule, steps, factor", [
    ("riemann", 2, 3 * (0.25**2 + 0.75**2) / 2),  # alphas 1/4, 3/4
    ("riemann", 3, 3 * (1 / 36 + 9 / 36 + 25 / 36) / 3),  # alphas 1/6, 1/2, 5/6
    ("trapezoid", 3, 3 * (0.5 * 0 + 0.25 + 0.5 * 1) / 2),  # alphas 0, 1/2, 1
])
def test_ig_of_a_cube_is_the_quadrature_of_its_rule(rule, steps, factor):
    """x^3: the integrand 3 a^2 x^2 is curved, so each rule gives its own known fraction of x^3."""
    x = np.random.default_rng(6).uniform(-1, 1.5, size=(2, 4)).astype("float32")
    result = create("integrated_gradients", _power_model((4,), 3), steps=steps, rule=rule).explain(x, [0, 0])
    np.testing.assert_allclose(result.maps, factor * x**3, rtol=1e-4, atol=1e-6)
    gap = result.maps.sum(axis=1) - (x**3).sum(axis=1)
    np.testing.assert_allclose(result.completeness_gap, gap, rtol=1e-3, atol=1e-5)


# -------------------------------------------------------- the final ReLU of the CAM methods
def _signed_cam_model() -> keras.Model:
    """An identity 1x1 conv 'conv' (A_k = x_k), then GAP and a linear head: score = mean(x_0 - 2 x_1)."""
    inputs = keras.Input((6, 6, 2))
    conv = keras.layers.Conv2D(2, 1, use_bias=False, name="conv")(inputs)
    out = keras.layers.Dense(1, use_bias=False)(keras.layers.GlobalAveragePooling2D()(conv))
    model = keras.Model(inputs, out)
    model.get_layer("conv").set_weights([np.eye(2, dtype="float32").reshape(1, 1, 2, 2)])
    model.layers[-1].set_weights([np.array([[1.0], [-2.0]], "float32")])
    return model


def _opposed_channels() -> np.ndarray:
    """Channel 0 bright on the left half, channel 1 on the right: weighted maps change sign."""
    rng = np.random.default_rng(8)
    x = rng.uniform(0.0, 0.2, size=(1, 6, 6, 2)).astype("float32")
    x[0, :, :3, 0] += 0.8
    x[0, :, 3:, 1] += 0.8
    return x


def test_gradcam_is_zero_where_the_weighted_map_is_negative():
    """d score / d A_k = w_k / 36 everywhere, so Grad-CAM = ReLU(sum_k w_k A_k) / 36 (6x6: no resize)."""
    x = _opposed_channels()
    result = create("gradcam", _signed_cam_model(), layer="conv").explain(x, [0])
    raw = (x[0, ..., 0] - 2 * x[0, ..., 1]) / 36
    assert raw.min() < 0 < raw.max()
    np.testing.assert_allclose(result.heatmap[0], np.maximum(raw, 0), rtol=1e-4, atol=1e-7)


def test_scorecam_is_zero_where_the_weighted_map_is_negative():
    """Score-CAM's weight of channel k is the score of x * H_k, H_k = min-max scaled A_k; on the
    logit (which can be negative) the weighted sum changes sign and only its positive part stays."""
    x = _opposed_channels()
    result = create("scorecam", _signed_cam_model(), layer="conv", output="logit").explain(x, [0])
    a = x[0]
    masks = [(a[..., k] - a[..., k].min()) / (a[..., k].max() - a[..., k].min()) for k in range(2)]
    weights = [((a[..., 0] - 2 * a[..., 1]) * m).mean() for m in masks]
    raw = weights[0] * a[..., 0] + weights[1] * a[..., 1]
    assert weights[0] > 0 > weights[1] and raw.min() < 0 < raw.max()
    np.testing.assert_allclose(result.heatmap[0], np.maximum(raw, 0), rtol=1e-4, atol=1e-6)
