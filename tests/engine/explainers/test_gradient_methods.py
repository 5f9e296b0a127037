"""Gradient methods against closed forms and hand computations."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from engine import explainers  # noqa: E402


@pytest.fixture
def x_lin():
    return np.random.default_rng(3).normal(size=(5, 5)).astype("float32")


def _weights(linear_model):
    return linear_model.get_layer("scores").get_weights()[0]


TARGETS = np.array([0, 1, 2, 1, 0])


def test_linear_closed_forms(linear_model, x_lin):
    w = _weights(linear_model)[:, TARGETS].T  # (5 cases, 5 features)
    run = lambda name, **p: explainers.create(name, linear_model, **p).explain(x_lin, TARGETS).maps  # noqa: E731
    np.testing.assert_allclose(run("saliency"), w, rtol=1e-6)
    np.testing.assert_allclose(run("gradient_x_input"), x_lin * w, rtol=1e-6)
    np.testing.assert_allclose(run("smoothgrad", nb_samples=6), w, rtol=1e-5)  # gradient is constant
    np.testing.assert_allclose(run("squaregrad", nb_samples=6), w * w, rtol=1e-5)
    np.testing.assert_allclose(run("vargrad", nb_samples=6), 0.0, atol=1e-6)
    np.testing.assert_allclose(run("guided_backprop"), w, rtol=1e-6)  # no ReLU: the gradient


def test_expected_gradients_on_a_linear_model_is_exact(linear_model, x_lin):
    w = _weights(linear_model)[:, TARGETS].T
    one = np.random.default_rng(4).normal(size=5).astype("float32")
    single = explainers.create("expected_gradients", linear_model, nb_samples=8, reference=one, noise=0.0)
    np.testing.assert_allclose(single.explain(x_lin, TARGETS).maps, (x_lin - one) * w, rtol=1e-4, atol=1e-5)
    reference = np.random.default_rng(4).normal(size=(7, 5)).astype("float32")
    explainer = explainers.create("expected_gradients", linear_model, nb_samples=16, reference=reference, noise=0.0)
    result = explainer.explain(x_lin, TARGETS)
    np.testing.assert_allclose(result.completeness_gap, 0.0, atol=1e-4)  # linear: exact per sample
    implied = x_lin - result.maps / w  # maps = (x - mean of the drawn reference rows) * w
    lo, hi = reference.min(0), reference.max(0)
    assert np.all(implied >= lo - 1e-3) and np.all(implied <= hi + 1e-3)
    assert not np.allclose(implied, implied[0])  # each case draws its own rows


def test_expected_gradients_default_reference_is_zeros_plus_noise(linear_model, x_lin):
    quiet = explainers.create("expected_gradients", linear_model, noise=0.0, nb_samples=4).explain(x_lin, TARGETS)
    w = _weights(linear_model)[:, TARGETS].T
    np.testing.assert_allclose(quiet.maps, x_lin * w, rtol=1e-5, atol=1e-6)
    noisy = explainers.create("expected_gradients", linear_model, nb_samples=4).explain(x_lin, TARGETS)
    assert not np.allclose(noisy.maps, quiet.maps)
    np.testing.assert_allclose(noisy.completeness_gap, 0.0, atol=1e-4)


def test_smoothgrad_with_zero_noise_is_saliency(tiny_cnn, images):
    saliency = explainers.create("saliency", tiny_cnn).explain(images, 1).maps
    smooth = explainers.create("smoothgrad", tiny_cnn, noise=0.0, nb_samples=3).explain(images, 1).maps
    np.testing.assert_allclose(smooth, saliency, rtol=1e-4, atol=1e-7)


def test_smoothgrad_family_matches_a_direct_computation(tiny_cnn, images):
    """mean, mean of squares and variance of gradients at the very noisy points used."""
    x = images[:2]
    nb, fraction = 5, 0.2
    explainer = explainers.create("smoothgrad", tiny_cnn, nb_samples=nb, noise=fraction, seed=3)
    smooth = explainer.explain(x, [1, 2]).maps
    spread = x.reshape(2, -1).max(1) - x.reshape(2, -1).min(1)
    grads = []
    for case, target in enumerate([1, 2]):
        noise = explainer.case_rng(case).standard_normal((nb, *x.shape[1:]), dtype=np.float32) * (fraction * spread[case])
        points = tf.constant(x[case] + noise)
        with tf.GradientTape() as tape:
            tape.watch(points)
            logits = keras.Model(tiny_cnn.inputs, tiny_cnn.get_layer("gap").output)(points) @ \
                tiny_cnn.get_layer("probabilities").kernel + tiny_cnn.get_layer("probabilities").bias
            score = tf.reduce_sum(logits[:, target])
        grads.append(tape.gradient(score, points).numpy())
    grads = np.stack(grads)
    np.testing.assert_allclose(smooth, grads.mean(1), rtol=1e-3, atol=1e-6)
    square = explainers.create("squaregrad", tiny_cnn, nb_samples=nb, noise=fraction, seed=3).explain(x, [1, 2]).maps
    np.testing.assert_allclose(square, (grads**2).mean(1), rtol=1e-3, atol=1e-9)
    var = explainers.create("vargrad", tiny_cnn, nb_samples=nb, noise=fraction, seed=3).explain(x, [1, 2]).maps
    np.testing.assert_allclose(var, grads.var(1), rtol=1e-2, atol=1e-9)


def _relu_mlp(kind: str) -> keras.Model:
    rng = np.random.default_rng(5)
    inputs = keras.Input((4,))
    if kind == "activation":
        h = keras.layers.Dense(6, activation="relu", name="hidden")(inputs)
    else:
        relu = keras.layers.ReLU(max_value=6.0 if kind == "relu6_layer" else None, name="relu")
        h = relu(keras.layers.Dense(6, name="hidden")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3, name="out")(h))
    model.get_layer("hidden").set_weights([4 * rng.normal(size=(4, 6)).astype("float32"), rng.normal(size=6).astype("float32")])
    model.get_layer("out").set_weights([rng.normal(size=(6, 3)).astype("float32"), np.zeros(3, "float32")])
    return model


@pytest.mark.parametrize("kind", ["activation", "relu_layer", "relu6_layer"])
def test_guided_backprop_hand_computation(kind):
    model = _relu_mlp(kind)
    w1, b1 = model.get_layer("hidden").get_weights()
    w2 = model.get_layer("out").get_weights()[0]
    x = np.random.default_rng(6).normal(size=(6, 4)).astype("float32")
    targets = np.array([0, 1, 2, 0, 1, 2])
    upstream = w2[:, targets].T  # (cases, 6)
    h = x @ w1 + b1
    active = (h > 0) & (h < 6) if kind == "relu6_layer" else h > 0
    assert kind != "relu6_layer" or np.any(h > 6)  # the cap matters in this test
    expected = (upstream * (upstream > 0) * active) @ w1.T
    result = explainers.create("guided_backprop", model, batch_size=4).explain(x, targets)
    np.testing.assert_allclose(result.maps, expected, rtol=1e-5, atol=1e-5)
    plain = explainers.create("saliency", model).explain(x, targets).maps
    np.testing.assert_allclose(plain, (upstream * active) @ w1.T, rtol=1e-5, atol=1e-5)
    assert not np.allclose(plain, expected)  # guided differs from the plain gradient here


def test_guided_backprop_restores_relus_and_reaches_nested_models(nested_cnn, images):
    result = explainers.create("guided_backprop", nested_cnn).explain(images[:2], 1)
    saliency = explainers.create("saliency", nested_cnn).explain(images[:2], 1)
    assert result.maps.shape == images[:2].shape and not np.allclose(result.maps, saliency.maps)
    features = nested_cnn.get_layer("features")
    assert features.get_layer("conv_a").activation is keras.activations.relu
    assert "call" not in vars(features.get_layer("relu_b"))
    np.testing.assert_allclose(nested_cnn.predict(images[:2], verbose=0).sum(1), 1.0, rtol=1e-5)


def test_stochastic_methods_depend_on_the_seed_only(tiny_cnn, images):
    for name in ("smoothgrad", "vargrad", "squaregrad", "expected_gradients"):
        run = lambda seed: explainers.create(name, tiny_cnn, nb_samples=4, seed=seed).explain(images[:2], 0).maps  # noqa: E731
        a, b, c = run(0), run(0), run(1)
        np.testing.assert_array_equal(a, b)
        assert not np.allclose(a, c), name
