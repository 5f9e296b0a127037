"""Integrated Gradients: completeness, closed forms for every baseline, localisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

keras = pytest.importorskip("keras")

from engine import explainers  # noqa: E402
from engine.errors import BadInputError  # noqa: E402
from engine.explainers.integrated_gradients import path_weights  # noqa: E402

DEMO = Path(__file__).resolve().parents[3] / "resources" / "demo"


@pytest.fixture(scope="module")
def demo():
    """The demo digits CNN and six of its cases (a tiny CNN if the demo is not there)."""
    if (DEMO / "digits_cnn.keras").exists():
        model = keras.models.load_model(DEMO / "digits_cnn.keras")
        x = np.load(DEMO / "digits_cases.npz")["x"][:6].astype("float32") / 255.0
        return model, x
    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1))
    h = keras.layers.Conv2D(8, 3, activation="relu")(inputs)
    h = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(h))
    return keras.Model(inputs, h), np.random.default_rng(0).uniform(size=(6, 28, 28, 1)).astype("float32")


@pytest.mark.parametrize("rule", ["riemann", "trapezoid"])
def test_completeness_gap_below_one_percent_on_the_demo_cnn(demo, rule):
    model, x = demo
    result = explainers.create("integrated_gradients", model, steps=128, rule=rule, batch_size=64).explain(x)
    probabilities = model.predict(x, verbose=0)
    assert result.targets.tolist() == np.argmax(probabilities, 1).tolist()
    # the gap is measured on the logit: recompute f(x) - f(0) independently
    head = model.layers[-1]
    features = keras.Model(model.inputs, head.input)
    logit = lambda v: (features.predict(v, verbose=0) @ head.kernel.numpy() + head.bias.numpy())[  # noqa: E731
        np.arange(len(x)), result.targets]
    change = logit(x) - logit(np.zeros_like(x))
    np.testing.assert_allclose(result.maps.reshape(6, -1).sum(1) - change, result.completeness_gap, atol=1e-3)
    assert np.all(np.abs(result.completeness_gap) < 0.01 * np.abs(change))


def test_path_weights_sum_to_one_and_trapezoid_has_half_ends():
    alphas, weights = path_weights(4, "riemann")
    np.testing.assert_allclose(alphas, [0.125, 0.375, 0.625, 0.875])
    np.testing.assert_allclose(weights.sum(), 1.0)
    alphas, weights = path_weights(5, "trapezoid")
    np.testing.assert_allclose(alphas, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(weights, [0.125, 0.25, 0.25, 0.25, 0.125])


@pytest.fixture
def x_lin():
    return np.random.default_rng(2).normal(size=(4, 5)).astype("float32")


@pytest.mark.parametrize("rule", ["riemann", "trapezoid"])
@pytest.mark.parametrize("baseline", ["zeros", "constant", 0.25, "array", "batch_array"])
def test_linear_model_gives_x_minus_b_times_w_exactly(linear_model, x_lin, baseline, rule):
    w = linear_model.get_layer("scores").get_weights()[0][:, [0, 1, 2, 0]].T
    if baseline == "zeros":
        b = np.zeros_like(x_lin)
    elif baseline == "constant":
        b = np.broadcast_to(((x_lin.max(1) + x_lin.min(1)) / 2)[:, None], x_lin.shape)
    elif baseline == "array":
        baseline = b = np.linspace(-1, 1, 5).astype("float32")
    elif baseline == "batch_array":
        baseline = b = np.random.default_rng(9).normal(size=x_lin.shape).astype("float32")
    else:
        b = np.full_like(x_lin, baseline)
    result = explainers.create("integrated_gradients", linear_model, steps=3, rule=rule, baseline=baseline)
    out = result.explain(x_lin, [0, 1, 2, 0])
    np.testing.assert_allclose(out.maps, (x_lin - b) * w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.completeness_gap, 0.0, atol=1e-5)


def test_uniform_baseline_is_seeded_and_inside_the_case_range(linear_model, x_lin):
    w = linear_model.get_layer("scores").get_weights()[0][:, 1]
    run = lambda seed: explainers.create(  # noqa: E731
        "integrated_gradients", linear_model, steps=2, baseline="uniform", seed=seed).explain(x_lin, 1)
    a, b, c = run(0), run(0), run(5)
    np.testing.assert_array_equal(a.maps, b.maps)
    assert not np.allclose(a.maps, c.maps)
    implied = x_lin - a.maps / w
    assert np.all(implied >= x_lin.min(1, keepdims=True) - 1e-4) and np.all(implied <= x_lin.max(1, keepdims=True) + 1e-4)
    np.testing.assert_allclose(a.completeness_gap, 0.0, atol=1e-5)


def test_blurred_baseline_on_a_linear_image_model(images):
    keras.utils.set_random_seed(2)
    inputs = keras.Input(images.shape[1:])
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))
    w = model.layers[-1].get_weights()[0][:, 2].reshape(images.shape[1:])
    blurred = ndimage.gaussian_filter(images, sigma=(0, 1.2, 1.2, 0), mode="nearest")
    result = explainers.create("integrated_gradients", model, steps=2, baseline="blurred").explain(images, 2)
    np.testing.assert_allclose(result.maps, (images - blurred) * w, rtol=1e-4, atol=1e-6)


def test_bad_baselines_are_named(linear_model, x_lin):
    with pytest.raises(BadInputError, match="baseline array must have shape"):
        explainers.create("integrated_gradients", linear_model, baseline=np.zeros(4)).explain(x_lin)
    with pytest.raises(BadInputError, match="blurred baseline needs images"):
        explainers.create("integrated_gradients", linear_model, baseline="blurred").explain(x_lin)


def test_probability_output_is_complete_in_probability_space(tiny_cnn, images):
    result = explainers.create("integrated_gradients", tiny_cnn, steps=128, output="probability").explain(images, 3)
    p = tiny_cnn.predict(np.concatenate([images, np.zeros_like(images)]), verbose=0)[:, 3]
    change = p[:6] - p[6:]
    np.testing.assert_allclose(result.maps.reshape(6, -1).sum(1) - change, result.completeness_gap, atol=1e-5)
    assert np.all(np.abs(result.completeness_gap) < 0.01 * np.abs(change) + 1e-6)


def test_known_answer_localisation():
    """Only rows 2..5, columns 6..9 reach the output: IG's maximum is inside that window."""
    keras.utils.set_random_seed(4)
    inputs = keras.Input((12, 12, 1))
    window = keras.layers.Cropping2D(((2, 6), (6, 2)))(inputs)
    h = keras.layers.Conv2D(4, 2, activation="relu", kernel_initializer="ones")(window)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(h))
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(1).uniform(0.2, 1, size=(3, 12, 12, 1)).astype("float32")
    result = explainers.create("integrated_gradients", model, steps=32).explain(x)
    heat = np.abs(result.heatmap)
    for case in heat:
        row, col = np.unravel_index(np.argmax(case), case.shape)
        assert 2 <= row < 6 and 6 <= col < 10
        outside = case.copy()
        outside[2:6, 6:10] = 0
        assert np.all(outside == 0)
