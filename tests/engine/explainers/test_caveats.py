"""Plain warnings when a map means nothing, and the CAM layer fixes found with real models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.errors import BadInputError
from engine.explainers import create
from engine.explainers.cam import last_spatial_layer

keras = pytest.importorskip("keras")

DEMO = Path(__file__).resolve().parents[3] / "resources" / "demo"
SHAPE = (12, 10, 3)


@pytest.fixture(scope="module")
def flat_model():
    """A CNN whose last Dense is all zero: the output is exactly uniform, whatever the input."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input(SHAPE)
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    h = keras.layers.GlobalAveragePooling2D()(h)
    outputs = keras.layers.Dense(5, activation="softmax", kernel_initializer="zeros", name="head")(h)
    return keras.Model(inputs, outputs, name="flat")


@pytest.fixture(scope="module")
def permuted_model():
    """conv_a -> Permute(rows <-> columns) -> conv_after: only conv_a keeps the image's layout."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input(SHAPE)
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_a")(inputs)
    h = keras.layers.Permute((2, 1, 3), name="swap")(h)
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_after")(h)
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(h))
    return keras.Model(inputs, outputs, name="permuted")


@pytest.fixture(scope="module")
def gated_model():
    """A squeeze-excite gate (GAP -> Reshape(1, 1, C)) does not move the layout: 'last' stays the default."""
    keras.utils.set_random_seed(2)
    inputs = keras.Input(SHAPE)
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="first")(inputs)
    gate = keras.layers.Reshape((1, 1, 4))(keras.layers.GlobalAveragePooling2D()(h))
    h = keras.layers.Multiply()([h, gate])
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="last")(h)
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(h))
    return keras.Model(inputs, outputs, name="gated")


@pytest.fixture(scope="module")
def twin_model():
    """Two nested blocks that both hold a layer named 'conv' (and one unique 'only_here')."""
    keras.utils.set_random_seed(3)

    def block(name, extra):
        layers = [keras.Input(SHAPE), keras.layers.Conv2D(3, 3, padding="same", name="conv")]
        return keras.Sequential(layers + ([keras.layers.Conv2D(3, 1, name="only_here")] if extra else []), name=name)

    inputs = keras.Input(SHAPE)
    h = keras.layers.Add()([block("left", True)(inputs), block("right", False)(inputs)])
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalAveragePooling2D()(h))
    return keras.Model(inputs, outputs, name="twins")


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(0).uniform(0, 1, size=(2, *SHAPE)).astype("float32")


def test_a_bare_unique_name_finds_a_nested_layer(nested_cnn, images):
    by_name = create("gradcam", nested_cnn, layer="conv_b")
    assert by_name.layer_path() == "features/conv_b"
    np.testing.assert_array_equal(
        by_name.explain(images[:2]).maps, create("gradcam", nested_cnn, layer="features/conv_b").explain(images[:2]).maps
    )


def test_an_ambiguous_bare_name_lists_the_matching_paths(twin_model):
    assert create("gradcam", twin_model, layer="only_here").layer_path() == "left/only_here"
    with pytest.raises(BadInputError, match="ambiguous.*left/conv, right/conv"):
        create("gradcam", twin_model, layer="conv")


def test_the_default_cam_layer_keeps_the_inputs_layout(permuted_model, gated_model, x):
    assert last_spatial_layer(permuted_model) == "conv_a"
    assert last_spatial_layer(gated_model) == "last"
    assert not any("permute" in w for w in create("gradcam", permuted_model).explain(x).warnings)
    chosen = create("gradcam", permuted_model, layer="conv_after").explain(x)
    assert any("reshape or permute" in w for w in chosen.warnings)


def test_a_uniform_output_and_an_all_zero_map_are_warned_about(flat_model, x):
    from engine.explainers import caveats

    result = create("integrated_gradients", flat_model).explain(x)  # finds its targets from the outputs
    assert isinstance(result.warnings, tuple)
    assert any("nearly uniform" in w for w in result.warnings)
    assert any("all zero" in w for w in result.warnings)
    saliency = create("saliency", flat_model).explain(x)  # resolves its class in its one pass: map checks only
    assert any("all zero" in w for w in saliency.warnings) and not any("uniform" in w for w in saliency.warnings)
    probs = np.full((2, 5), 0.2)
    completed = caveats.add_output_warnings(saliency.warnings, probs, probs[:, 0], saliency.maps, "The Saliency")
    assert any("nearly uniform" in w for w in completed) and sum("all zero" in w for w in completed) == 1
    scorecam = create("scorecam", flat_model).explain(x)
    assert any("channel weights are nearly equal" in w for w in scorecam.warnings)


def test_a_negligible_map_is_warned_about(tiny_cnn, images):
    from engine.explainers import caveats

    assert caveats.map_warnings(np.full((1, 4), 1e-13) * [[1, 2, 3, 4]], np.array([1e-3]))  # untrained MobileNetV2
    assert caveats.map_warnings(np.full((1, 4), 1e-3) * [[1, 2, 3, 4]], np.array([1.0])) == []
    assert "constant" in caveats.map_warnings(np.ones((1, 4)), np.array([1.0]))[0]


def test_guided_backprop_says_when_there_is_no_relu(tiny_cnn, images):
    keras.utils.set_random_seed(4)
    smooth = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(3)])
    features = np.random.default_rng(1).normal(size=(2, 5)).astype("float32")
    assert any("no ReLU" in w for w in create("guided_backprop", smooth).explain(features).warnings)
    assert not any("no ReLU" in w for w in create("guided_backprop", tiny_cnn).explain(images[:2]).warnings)


def test_the_trained_demo_gets_no_warnings():
    from engine.models import load_model

    model, _ = load_model(DEMO / "digits_cnn.keras")
    cases = np.load(DEMO / "digits_cases.npz")["x"][:3].astype("float32") / 255.0
    for method in ("saliency", "gradcam", "guided_backprop"):
        assert create(method, model).explain(cases).warnings == (), method
