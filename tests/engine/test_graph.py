"""tap_model reaches layers inside nested sub-models with the same values as the sub-model itself."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from engine.errors import BadInputError
from engine.graph import find_layer, layer_paths, tap_model


def _nested_model() -> keras.Model:
    keras.utils.set_random_seed(1)
    block = keras.Model(
        inp := keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 1, name="a")(inp), name="block"
    )
    mid_in = keras.Input((8, 8, 3))
    mid = keras.Model(mid_in, keras.layers.Flatten(name="flat")(block(mid_in)), name="mid")
    features = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="c1"), keras.layers.ReLU(name="r1")],
        name="features",
    )
    x_in = keras.Input((8, 8, 3))
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(features(x_in))
    joined = keras.layers.Concatenate(name="join")([pooled, mid(x_in)])
    return keras.Model(x_in, keras.layers.Dense(3, activation="softmax", name="out")(joined))


def test_layer_paths_lists_nested_layers_depth_first() -> None:
    assert layer_paths(_nested_model()) == [
        "features", "features/c1", "features/r1", "gap", "mid", "mid/block", "mid/block/a",
        "mid/flat", "join", "out",
    ]


def test_tap_model_values_match_each_sub_model() -> None:
    model = _nested_model()
    x = np.random.default_rng(0).random((3, 8, 8, 3), dtype=np.float32)
    c1, a, gap, final = tap_model(model, ["features/c1", "mid/block/a", "gap"]).predict(x, verbose=0)
    features = find_layer(model, "features")
    block = find_layer(model, "mid/block")
    np.testing.assert_allclose(c1, features.layers[0](x).numpy(), atol=1e-6)
    np.testing.assert_allclose(a, block(x).numpy(), atol=1e-6)
    np.testing.assert_allclose(gap, np.maximum(c1, 0).mean(axis=(1, 2)), atol=1e-6)
    np.testing.assert_allclose(final, model.predict(x, verbose=0), atol=1e-6)


def test_tap_model_gradients_flow_to_the_tapped_layer() -> None:
    import tensorflow as tf

    model = _nested_model()
    tapped = tap_model(model, ["features/c1"])
    x = tf.constant(np.random.default_rng(1).random((2, 8, 8, 3), dtype=np.float32))
    with tf.GradientTape() as tape:
        act, out = tapped(x)
        score = tf.reduce_sum(out[:, 0])
    grad = tape.gradient(score, act)
    assert grad is not None and grad.shape == act.shape
    assert float(tf.reduce_max(tf.abs(grad))) > 0


def test_unknown_path_is_a_clear_error_and_multi_input_models_are_tapped() -> None:
    model = _nested_model()
    with pytest.raises(BadInputError, match="features/nope"):
        tap_model(model, ["features/nope"])
    a, b = keras.Input((2,)), keras.Input((2,))
    added = keras.layers.Add(name="add")([a, b])
    two = keras.Model([a, b], keras.layers.Dense(1, name="out")(added))
    tapped = tap_model(two, ["add"])
    x = [np.ones((1, 2), "float32"), np.full((1, 2), 2.0, "float32")]
    summed, final = tapped(x)
    np.testing.assert_allclose(np.asarray(summed), [[3.0, 3.0]])
    np.testing.assert_allclose(np.asarray(final), np.asarray(two(x)), rtol=1e-6)
