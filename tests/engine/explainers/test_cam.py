"""CAM methods against hand computations in numpy, default and nested layers, Score-CAM."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from skimage.transform import resize  # noqa: E402

from engine.errors import BadInputError, NotSupportedError  # noqa: E402
from engine.explainers import create  # noqa: E402
from engine.explainers.cam import last_spatial_layer  # noqa: E402

SHAPE = (8, 8, 2)


@pytest.fixture(scope="module")
def known():
    """x -> Conv1x1(3, relu) 'conv' -> MaxPool2 'pool' (4x4x3) -> Flatten -> Dense(3, softmax).

    The dense layer sees every location separately, so the gradients at 'pool' vary over
    space (Grad-CAM++'s alphas and LayerCAM's per-location weights matter).
    """
    rng = np.random.default_rng(3)
    inputs = keras.Input(SHAPE)
    h = keras.layers.Conv2D(3, 1, activation="relu", name="conv")(inputs)
    h = keras.layers.MaxPooling2D(2, name="pool")(h)
    h = keras.layers.Flatten()(h)
    outputs = keras.layers.Dense(3, activation="softmax", name="probabilities")(h)
    model = keras.Model(inputs, outputs)
    weights = {
        "conv": [rng.normal(size=(1, 1, 2, 3)).astype("float32"), rng.normal(0, 0.1, 3).astype("float32")],
        "probabilities": [rng.normal(size=(48, 3)).astype("float32"), rng.normal(size=3).astype("float32")],
    }
    for name, values in weights.items():
        model.get_layer(name).set_weights(values)
    x = rng.uniform(0, 1, size=(2, *SHAPE)).astype("float32")
    return model, weights, x


def _hand_activations(weights: dict, x: np.ndarray) -> np.ndarray:
    kernel, bias = weights["conv"]
    conv = np.maximum(x @ kernel[0, 0] + bias, 0.0)  # (N, 8, 8, 3)
    n = len(x)
    return conv.reshape(n, 4, 2, 4, 2, 3).max(axis=(2, 4))  # 2x2 max pool -> (N, 4, 4, 3)


def _hand_gradients(weights: dict, targets: list[int]) -> np.ndarray:
    """d logit_t / d pool: the dense weights of the target, reshaped to the pool's map."""
    dense = weights["probabilities"][0]
    return np.stack([dense[:, t].reshape(4, 4, 3) for t in targets])


def _hand_gradcam(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    w = g.mean(axis=(1, 2), keepdims=True)
    return np.maximum((w * a).sum(-1), 0)


def _hand_gradcam_pp(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    out = []
    for ai, gi in zip(a, g):
        alpha = np.zeros_like(gi)
        for k in range(gi.shape[-1]):
            total = ai[..., k].sum()
            for i in range(4):
                for j in range(4):
                    den = 2 * gi[i, j, k] ** 2 + total * gi[i, j, k] ** 3
                    alpha[i, j, k] = gi[i, j, k] ** 2 / den if den != 0 else 0.0
            norm = alpha[..., k].sum()
            alpha[..., k] /= norm if norm != 0 else 1.0
        w = (alpha * np.maximum(gi, 0)).sum(axis=(0, 1))
        out.append(np.maximum((w * ai).sum(-1), 0))
    return np.stack(out)


def _hand_layercam(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    return np.maximum((np.maximum(g, 0) * a).sum(-1), 0)


def _up(maps: np.ndarray) -> np.ndarray:
    return np.stack([resize(m, SHAPE[:2], order=1, mode="edge", anti_aliasing=False) for m in maps])


@pytest.mark.parametrize(
    "method, hand", [("gradcam", _hand_gradcam), ("gradcam_pp", _hand_gradcam_pp), ("layercam", _hand_layercam)]
)
def test_cam_equals_hand_computation_on_the_logit(known, method, hand):
    model, weights, x = known
    targets = [2, 0]
    result = create(method, model, layer="pool").explain(x, targets)
    expected = _up(hand(_hand_activations(weights, x), _hand_gradients(weights, targets)))
    assert expected.max() > 0.1  # the comparison is not between two blank maps
    np.testing.assert_allclose(result.heatmap, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(result.maps, np.repeat(expected[..., None], 2, axis=-1), rtol=1e-4, atol=1e-5)
    assert result.targets.tolist() == targets


def test_gradcam_pp_differs_from_gradcam_when_gradients_vary(known):
    model, _, x = known
    a = create("gradcam", model, layer="pool").explain(x, [1, 1]).heatmap
    b = create("gradcam_pp", model, layer="pool").explain(x, [1, 1]).heatmap
    assert np.abs(a - b).max() > 0.05 * max(a.max(), b.max())


def test_scorecam_equals_hand_computation(known):
    model, weights, x = known
    targets = [1, 2]
    result = create("scorecam", model, layer="pool", batch_size=4).explain(x, targets)
    acts = _hand_activations(weights, x)
    expected = []
    for n, t in enumerate(targets):
        w = np.zeros(3)
        for k in range(3):
            up = resize(acts[n, ..., k], SHAPE[:2], order=1, mode="edge", anti_aliasing=False)
            if up.max() == up.min():
                continue
            mask = (up - up.min()) / (up.max() - up.min())
            w[k] = model.predict(x[n : n + 1] * mask[None, ..., None], verbose=0)[0, t]  # softmax probability
        expected.append(np.maximum((w * acts[n]).sum(-1), 0))
    np.testing.assert_allclose(result.heatmap, _up(np.stack(expected)), rtol=1e-4, atol=1e-6)
    assert result.params["output"] == "probability"


def test_default_layer_is_the_last_4d_one(tiny_cnn, nested_cnn, known):
    assert last_spatial_layer(tiny_cnn) == "last_conv"
    assert last_spatial_layer(nested_cnn) == "features/relu_b"
    assert last_spatial_layer(known[0]) == "pool"
    model, _, x = known
    default = create("gradcam", model).explain(x, [0, 1]).heatmap
    named = create("gradcam", model, layer="pool").explain(x, [0, 1]).heatmap
    np.testing.assert_array_equal(default, named)


def test_bad_layers_are_refused_with_their_name(known, linear_model):
    model = known[0]
    with pytest.raises(BadInputError, match="nowhere"):
        create("gradcam", model, layer="nowhere")
    with pytest.raises(BadInputError, match="probabilities"):
        create("layercam", model, layer="probabilities")
    with pytest.raises(NotSupportedError):
        create("gradcam", linear_model)


@pytest.mark.parametrize("method", ["gradcam", "gradcam_pp", "layercam", "scorecam"])
def test_cam_on_a_layer_inside_a_nested_submodel(nested_cnn, images, method):
    """No 'Graph disconnected': the map equals one computed by calling the inner layers by hand."""
    result = create(method, nested_cnn, layer="features/conv_b", batch_size=4).explain(images, [0, 1, 2, 3, 0, 1])
    assert result.heatmap.shape == images.shape[:3]
    assert np.all(np.isfinite(result.heatmap)) and result.heatmap.max() > 0
    if method != "gradcam":
        return
    features = nested_cnn.get_layer("features")
    with tf.GradientTape() as tape:
        acts = features.get_layer("conv_b")(features.get_layer("conv_a")(images))
        tape.watch(acts)
        h = nested_cnn.get_layer("gap")(features.get_layer("relu_b")(acts))
        logits = nested_cnn.get_layer("logits")(h)
        score = tf.gather(logits, [0, 1, 2, 3, 0, 1], axis=1, batch_dims=1)
    grads = tape.gradient(score, acts).numpy()
    expected = _hand_gradcam(acts.numpy(), grads)
    expected = tf.image.resize(expected[..., None], images.shape[1:3], method="bilinear")[..., 0].numpy()
    np.testing.assert_allclose(result.heatmap, expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("method", ["gradcam_pp", "scorecam"])
def test_cam_is_batch_size_invariant_and_targets_default_to_predicted(tiny_cnn, images, method):
    one = create(method, tiny_cnn, batch_size=1).explain(images)
    many = create(method, tiny_cnn, batch_size=7).explain(images)
    np.testing.assert_allclose(one.heatmap, many.heatmap, rtol=1e-5, atol=1e-6)
    assert one.targets.tolist() == np.argmax(tiny_cnn.predict(images, verbose=0), axis=1).tolist()
