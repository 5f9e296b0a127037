"""Tiny models shared by the explainer tests (both explainer helpers use them).

Each is built once per session with fixed weights, so tests stay fast and deterministic.
"""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

IMAGE_SHAPE = (12, 12, 3)
N_CLASSES = 4


@pytest.fixture(scope="session")
def linear_model():
    """Dense(3) without activation on 5 features: score_k(x) = x . W[:, k] + b_k."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((5,), name="features")
    outputs = keras.layers.Dense(3, name="scores")(inputs)
    model = keras.Model(inputs, outputs, name="linear")
    rng = np.random.default_rng(1)
    model.get_layer("scores").set_weights(
        [rng.normal(size=(5, 3)).astype("float32"), rng.normal(size=3).astype("float32")]
    )
    return model


@pytest.fixture(scope="session")
def tiny_cnn():
    """(12, 12, 3) -> conv(relu) -> conv(relu) 'last_conv' -> GAP -> Dense(4, softmax)."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input(IMAGE_SHAPE, name="image")
    h = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv1")(inputs)
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="last_conv")(h)
    h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
    outputs = keras.layers.Dense(N_CLASSES, activation="softmax", name="probabilities")(h)
    return keras.Model(inputs, outputs, name="tiny_cnn")


@pytest.fixture(scope="session")
def nested_cnn():
    """A CNN whose convolutions live inside a nested Sequential 'features' (path features/conv_b)."""
    keras.utils.set_random_seed(1)
    features = keras.Sequential(
        [
            keras.Input(IMAGE_SHAPE),
            keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv_a"),
            keras.layers.Conv2D(8, 3, padding="same", name="conv_b"),
            keras.layers.ReLU(name="relu_b"),
        ],
        name="features",
    )
    inputs = keras.Input(IMAGE_SHAPE, name="image")
    h = keras.layers.GlobalAveragePooling2D(name="gap")(features(inputs))
    logits = keras.layers.Dense(N_CLASSES, name="logits")(h)
    outputs = keras.layers.Softmax(name="softmax")(logits)
    return keras.Model(inputs, outputs, name="nested_cnn")


@pytest.fixture(scope="session")
def two_input_model():
    a = keras.Input((4,), name="a")
    b = keras.Input((4,), name="b")
    outputs = keras.layers.Dense(2)(keras.layers.Concatenate()([a, b]))
    return keras.Model([a, b], outputs, name="two_inputs")


@pytest.fixture(scope="session")
def images():
    """Six deterministic images in 0..1 for the tiny CNNs."""
    return np.random.default_rng(7).uniform(0, 1, size=(6, *IMAGE_SHAPE)).astype("float32")
