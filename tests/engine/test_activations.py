"""Activations equal a manual keras.Model(inputs, layer.output) call, nested layers included."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from engine import cache
from engine.activations import _FN_KEY, activations_task
from engine.errors import BadInputError
from engine.jobs import JobContext
from tests.array_cases import ArrayCases
from engine.workspace import Workspace



def _model() -> keras.Model:
    keras.utils.set_random_seed(0)
    inner_in = keras.Input((5, 5, 4))
    inner = keras.Model(
        inner_in, keras.layers.Conv2D(6, 3, activation="relu", name="conv_in")(inner_in), name="inner"
    )
    x_in = keras.Input((7, 7, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(x_in)
    x = inner(x)
    x = keras.layers.Reshape((9, 6), name="seq")(x)
    x = keras.layers.Flatten(name="flat")(x)
    x = keras.layers.Dense(8, name="dense")(x)
    return keras.Model(x_in, keras.layers.Dense(3, activation="softmax", name="out")(x))


@pytest.fixture
def setup() -> tuple[keras.Model, JobContext, np.ndarray]:
    model = _model()
    x = np.random.default_rng(0).random((4, 7, 7, 1), dtype=np.float32)
    workspace = Workspace()
    workspace.set_model(model, None)
    workspace.dataset = ArrayCases(x)
    return model, JobContext(workspace), x


def test_conv_and_dense_values_equal_a_manual_sub_model(setup) -> None:
    model, ctx, x = setup
    for name, kind in (("conv", "maps"), ("dense", "vector"), ("seq", "sequence")):
        result = activations_task(ctx, name, cases=[2])
        manual = keras.Model(model.inputs[0], model.get_layer(name).output)(x[2:3]).numpy()
        assert result.kind == kind and result.cases == (2,)
        np.testing.assert_allclose(result.values, manual, atol=1e-6)
        assert result.stats[0].max == pytest.approx(manual.max())


def test_nested_layer_values_equal_the_sub_model_on_its_input(setup) -> None:
    model, ctx, x = setup
    result = activations_task(ctx, "inner/conv_in", cases=[0, 3])
    conv_out = keras.Model(model.inputs[0], model.get_layer("conv").output)(x[[0, 3]])
    inner = model.get_layer("inner")
    manual = keras.Model(inner.inputs[0], inner.get_layer("conv_in").output)(conv_out).numpy()
    np.testing.assert_allclose(result.values, manual, atol=1e-6)
    assert result.values.shape == (2, 3, 3, 6)
    np.testing.assert_allclose(result.channel_mean, manual.mean(axis=(1, 2)), atol=1e-6)
    np.testing.assert_allclose(result.channel_max, manual.max(axis=(1, 2)), atol=1e-6)
    assert result.stats[1].zero_fraction == pytest.approx(np.mean(manual[1] == 0))
    np.testing.assert_array_equal(result.images[1], x[3, ..., 0])


def test_function_built_once_per_layer_and_results_cached(setup) -> None:
    _, ctx, x = setup
    first = activations_task(ctx, "conv", cases=[1])
    functions = cache.memory(ctx.workspace, _FN_KEY, 1)
    fn = functions.get("conv")
    assert fn is not None
    second = activations_task(ctx, "conv", cases=[0])
    assert cache.memory(ctx.workspace, _FN_KEY, 1).get("conv") is fn
    assert activations_task(ctx, "conv", cases=[1]) is first
    assert not np.allclose(first.values, second.values)
    explicit = activations_task(ctx, "conv", x=x[1:2])
    np.testing.assert_allclose(explicit.values, first.values)
    ctx.workspace.set_model(_model(), None)
    assert cache.memory(ctx.workspace, _FN_KEY, 1).get("conv") is None


def test_bad_requests_name_the_problem(setup) -> None:
    _, ctx, _ = setup
    with pytest.raises(BadInputError, match="Case 9"):
        activations_task(ctx, "conv", cases=[9])
    with pytest.raises(BadInputError, match="'nope'"):
        activations_task(ctx, "nope", cases=[0])
    with pytest.raises(BadInputError, match="does not fit"):
        activations_task(ctx, "conv", x=np.zeros((1, 8, 8, 1), np.float32))
    ctx.workspace.dataset = None
    with pytest.raises(BadInputError, match="No dataset"):
        activations_task(ctx, "conv", cases=[0])


def test_tabular_cases_have_no_overlay_image() -> None:
    keras.utils.set_random_seed(0)
    x_in = keras.Input((5,))
    model = keras.Model(x_in, keras.layers.Dense(2, name="d")(keras.layers.Dense(4, name="h")(x_in)))
    rows = ArrayCases(np.random.default_rng(0).random((3, 5), dtype=np.float32))
    rows.kind = "tabular"
    rows.display_image = None  # a tabular dataset refuses to draw a row as an image
    workspace = Workspace()
    workspace.set_model(model, None)
    workspace.dataset = rows
    result = activations_task(JobContext(workspace), "h", cases=[1])
    assert result.kind == "vector" and result.images == (None,)
    manual = keras.Model(model.inputs[0], model.get_layer("h").output)(rows.x[1:2]).numpy()
    np.testing.assert_allclose(result.values, manual, atol=1e-6)
