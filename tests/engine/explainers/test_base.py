"""The Explainer base: parameters, targets, logit/probability head, batching, cancel, OOM, cache."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from engine import explainers  # noqa: E402
from engine.errors import BadInputError, Cancelled, OutOfMemoryError  # noqa: E402
from engine.explainers import base  # noqa: E402
from engine.explainers.result import Explanation, MethodInfo  # noqa: E402


def _softmax_dense(units: int = 3, features: int = 5, seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((features,))
    return keras.Model(inputs, keras.layers.Dense(units, activation="softmax", name="head")(inputs))


@pytest.fixture(scope="module")
def softmax_dense():
    return _softmax_dense()


@pytest.fixture
def x5():
    return np.random.default_rng(0).normal(size=(4, 5)).astype("float32")


# ---------------------------------------------------------------------------- registry
def test_available_lists_known_methods_in_registry_order():
    infos = explainers.available()
    names = [info.name for info in infos]
    assert names == [n for n in explainers.METHODS if n in names]
    for mine in ("saliency", "gradient_x_input", "smoothgrad", "vargrad", "squaregrad",
                 "integrated_gradients", "expected_gradients", "guided_backprop"):
        assert mine in names
    ig = next(i for i in infos if i.name == "integrated_gradients")
    assert isinstance(ig, MethodInfo)
    assert ig.params["steps"] == 64 and ig.params["baseline"] == "zeros" and ig.params["batch_size"] == 32
    assert ig.choices["output"] == ["auto", "logit", "probability"]
    assert "blurred" in ig.choices["baseline"] and ig.stochastic is False
    assert next(i for i in infos if i.name == "smoothgrad").stochastic is True


def test_create_unknown_method_is_bad_input(linear_model):
    with pytest.raises(BadInputError, match="no_such_method"):
        explainers.create("no_such_method", linear_model)


def test_a_registered_method_whose_module_or_class_is_missing_fails_loudly(monkeypatch, linear_model):
    """Every registered module exists, so a missing one is a bug to see at once, not a method
    silently left out of the list (engine/registry.py)."""
    monkeypatch.setitem(explainers.METHODS, "later", "engine.explainers.not_written_yet:Later")
    with pytest.raises(ModuleNotFoundError, match="not_written_yet"):
        explainers.available()
    with pytest.raises(ModuleNotFoundError, match="not_written_yet"):
        explainers.create("later", linear_model)
    monkeypatch.delitem(explainers.METHODS, "later")
    monkeypatch.setitem(explainers.METHODS, "broken", "engine.explainers.saliency:NoSuchClass")
    with pytest.raises(AttributeError):
        explainers.available()
    monkeypatch.delitem(explainers.METHODS, "broken")
    with pytest.raises(BadInputError, match="later"):
        explainers.create("later", linear_model)  # unknown now: the error lists the known names


# -------------------------------------------------------------------------- parameters
@pytest.mark.parametrize(
    "params, message",
    [
        ({"stepz": 3}, "unknown parameter 'stepz'"),
        ({"steps": "many"}, "integer"),
        ({"steps": 0}, "between"),
        ({"steps": 2.5}, "integer"),
        ({"baseline": "purple"}, "one of"),
        ({"output": "logits"}, "one of"),
        ({"batch_size": True}, "integer"),
        ({"rule": "trapezoid", "steps": 1}, "steps >= 2"),
    ],
)
def test_bad_parameters_are_named(linear_model, params, message):
    with pytest.raises(BadInputError, match=message):
        explainers.create("integrated_gradients", linear_model, **params)


def test_parameters_normalised_and_arrays_only_where_allowed(linear_model):
    ig = explainers.create("integrated_gradients", linear_model, steps=np.int64(8), baseline=0.5)
    assert ig.params["steps"] == 8 and type(ig.params["steps"]) is int and ig.params["baseline"] == 0.5
    with pytest.raises(BadInputError, match="array"):
        explainers.create("saliency", linear_model, seed=np.zeros(3))
    smooth = explainers.create("smoothgrad", linear_model, noise=1)
    assert smooth.params["noise"] == 1.0 and isinstance(smooth.params["noise"], float)


# ------------------------------------------------------------------------------ inputs
def test_multi_input_model_gives_one_map_per_input(two_input_model):
    """A linear two-input model: each input's saliency is its own block of the kernel."""
    saliency = explainers.create("saliency", two_input_model)
    with pytest.raises(BadInputError, match="list or a dict"):
        saliency.explain(np.zeros((1, 4), "float32"))
    x = {"a": np.ones((3, 4), "float32"), "b": np.zeros((3, 4), "float32")}
    maps = saliency.explain(x, 1)
    kernel = two_input_model.layers[-1].get_weights()[0][:, 1]
    np.testing.assert_allclose(maps["a"].maps, np.tile(kernel[:4], (3, 1)), rtol=1e-6)
    np.testing.assert_allclose(maps["b"].maps, np.tile(kernel[4:], (3, 1)), rtol=1e-6)
    as_list = saliency.explain([x["a"], x["b"]], 1)
    np.testing.assert_allclose(as_list[1].maps, maps["b"].maps)


def test_wrong_shape_nan_and_non_numeric_inputs_are_bad_input(linear_model):
    saliency = explainers.create("saliency", linear_model)
    with pytest.raises(BadInputError, match=r"\(N, 5\)"):
        saliency.explain(np.zeros((2, 4), "float32"))
    with pytest.raises(BadInputError, match="NaN"):
        saliency.explain(np.full((1, 5), np.nan, "float32"))
    with pytest.raises(BadInputError, match="numeric"):
        saliency.explain(np.array([["a"] * 5]))


def test_targets_validated_and_broadcast(linear_model, x5):
    saliency = explainers.create("saliency", linear_model)
    with pytest.raises(BadInputError, match="class indices"):
        saliency.explain(x5, [0, 1, 3, 0])
    with pytest.raises(BadInputError, match="integers"):
        saliency.explain(x5, [0.0, 1.0, 2.0, 0.0])
    result = saliency.explain(x5, 2)
    assert result.targets.tolist() == [2, 2, 2, 2]
    weights = linear_model.get_layer("scores").get_weights()[0]
    np.testing.assert_allclose(result.maps, np.tile(weights[:, 2], (4, 1)), rtol=1e-6)


def test_none_targets_are_the_predicted_classes(tiny_cnn, images):
    predicted = np.argmax(tiny_cnn.predict(images, verbose=0), axis=1)
    for name in ("saliency", "integrated_gradients"):  # resolved in-pass / up front
        result = explainers.create(name, tiny_cnn, steps=4).explain(images) if name != "saliency" else \
            explainers.create(name, tiny_cnn).explain(images)
        assert result.targets.tolist() == predicted.tolist()


# ------------------------------------------------------------------ logit / probability
def test_auto_explains_the_logit_of_a_softmax_dense_layer(softmax_dense, x5):
    weights = softmax_dense.get_layer("head").get_weights()[0]
    targets = np.array([0, 2, 1, 2])
    for output in ("auto", "logit"):
        result = explainers.create("saliency", softmax_dense, output=output).explain(x5, targets)
        np.testing.assert_allclose(result.maps, weights[:, targets].T, rtol=1e-5, atol=1e-6)
    # probability: d p_t / d x = p_t (w_t - sum_k p_k w_k)
    p = softmax_dense.predict(x5, verbose=0).astype(np.float64)
    expected = p[np.arange(4), targets][:, None] * (weights[:, targets].T - p @ weights.T)
    result = explainers.create("saliency", softmax_dense, output="probability").explain(x5, targets)
    np.testing.assert_allclose(result.maps, expected, rtol=1e-4, atol=1e-6)
    assert softmax_dense.get_layer("head").activation is keras.activations.softmax  # restored


def test_logit_through_a_softmax_layer_after_a_nested_model(nested_cnn, images):
    logits = keras.Model(nested_cnn.inputs, nested_cnn.get_layer("logits").output)
    x = tf.constant(images[:3])
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = tf.reduce_sum(logits(x)[:, 1])
    expected = tape.gradient(score, x).numpy()
    result = explainers.create("saliency", nested_cnn).explain(images[:3], 1)
    np.testing.assert_allclose(result.maps, expected, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(nested_cnn.predict(images[:3], verbose=0).sum(axis=1), 1.0, rtol=1e-5)


def test_probability_of_a_logit_model_applies_softmax(linear_model, x5):
    fn = explainers.create("saliency", linear_model, output="probability")
    outputs = fn.outputs(x5)
    z = linear_model.predict(x5, verbose=0).astype(np.float64)
    expected = np.exp(z - z.max(1, keepdims=True))
    np.testing.assert_allclose(outputs, expected / expected.sum(1, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(explainers.create("saliency", linear_model).outputs(x5), z, rtol=1e-5)


# ---------------------------------------------------------------------------- batching
def _oom_when_larger_than(limit: int):
    calls: list[int] = []

    def fn(x):
        calls.append(len(x))
        if len(x) > limit:
            raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")
        return x * 2.0

    return fn, calls


def test_out_of_memory_retries_at_half_batch_size(linear_model):
    explainer = explainers.create("saliency", linear_model, batch_size=16)
    fn, calls = _oom_when_larger_than(4)
    data = np.arange(80, dtype=np.float32).reshape(40, 2)
    (out,) = explainer.run_batches(fn, 40, lambda a, b: (data[a:b],))
    np.testing.assert_array_equal(out, data * 2)
    assert calls[:3] == [16, 8, 4] and max(calls[3:]) == 4


def test_out_of_memory_at_batch_size_one_is_an_error(linear_model):
    explainer = explainers.create("saliency", linear_model, batch_size=4)
    fn, calls = _oom_when_larger_than(0)
    with pytest.raises(OutOfMemoryError, match="batch size 1"):
        explainer.run_batches(fn, 3, lambda a, b: (np.zeros((b - a, 2), "float32"),))
    assert calls == [3, 2, 1]  # halved down to one row before giving up


def test_one_trace_serves_every_batch_length_without_padding(linear_model):
    explainer = explainers.create("saliency", linear_model, batch_size=16)
    traces: list[int] = []

    @tf.function
    def fn(x):
        traces.append(1)  # runs only while tracing
        return x * 2.0, tf.fill(tf.shape(x)[:1], tf.shape(x)[0])

    data = np.arange(21, dtype=np.float32)[:, None]
    doubled, lengths = explainer.run_batches(fn, 21, lambda a, b: (data[a:b],))
    np.testing.assert_array_equal(doubled, data * 2)
    assert lengths.tolist() == [16] * 16 + [5] * 5 and len(traces) == 1
    explainer.run_batches(fn, 3, lambda a, b: (data[a:b],))
    assert len(traces) == 1


def test_progress_monotonic_and_cancel_between_batches(tiny_cnn, images):
    explainer = explainers.create("smoothgrad", tiny_cnn, nb_samples=8, batch_size=4)
    seen: list[float] = []
    explainer.explain(images[:2], progress=seen.append)
    assert seen[-1] == 1.0 and np.all(np.diff(seen) >= 0) and len(seen) >= 4
    seen.clear()
    with pytest.raises(Cancelled):
        explainer.explain(images[:2], progress=seen.append, cancel=lambda: len(seen) >= 2)
    assert len(seen) == 2  # stopped before the next batch
    assert explainer.evaluations["gradient"] == 4  # one batch of 4 rows, then cancelled


def test_compiled_functions_are_released_with_the_model(images):
    keras.utils.set_random_seed(0)
    inputs = keras.Input(images.shape[1:])
    h = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(2, 3)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(h))
    explainer = explainers.create("integrated_gradients", model, steps=4)
    explainer.explain(images[:2])
    explainers.create("guided_backprop", model).explain(images[:2])
    assert model in base._CACHE and len(base._CACHE[model].functions) >= 3
    ref = weakref.ref(model)
    del model, explainer, inputs, h
    gc.collect()
    assert ref() is None


def test_release_drops_the_cache(linear_model, x5):
    explainers.create("saliency", linear_model).explain(x5)
    assert linear_model in base._CACHE
    base.release(linear_model)
    assert linear_model not in base._CACHE


# ------------------------------------------------------------------------------ result
def test_result_fields_heatmap_and_provenance(tiny_cnn, images):
    result = explainers.create("gradient_x_input", tiny_cnn, batch_size=5).explain(images, np.arange(6) % 4)
    assert isinstance(result, Explanation)
    assert result.maps.dtype == np.float32 and result.maps.shape == images.shape
    np.testing.assert_allclose(result.heatmap, result.maps.sum(axis=-1), rtol=1e-6)
    assert result.targets.tolist() == [0, 1, 2, 3, 0, 1] and result.method == "gradient_x_input"
    assert result.params == {"batch_size": 5, "seed": 0, "output": "auto"} and result.elapsed > 0
    assert result.provenance["input_sha256"] and result.provenance["params"]["batch_size"] == 5
    assert result.provenance["versions"]["tensorflow"] and result.completeness_gap is None
    saliency = explainers.create("saliency", tiny_cnn).explain(images[:2])
    np.testing.assert_allclose(saliency.heatmap, np.abs(saliency.maps).max(axis=-1))


def test_tabular_result_has_no_heatmap(linear_model, x5):
    result = explainers.create("saliency", linear_model).explain(x5)
    assert result.heatmap is None and result.maps.shape == (4, 5)


def test_array_parameters_are_recorded_by_hash(linear_model, x5):
    result = explainers.create("integrated_gradients", linear_model, baseline=np.ones(5, "float32")).explain(x5)
    assert result.params["baseline"].startswith("array(5,) sha256=")


def test_sigmoid_head_kept_by_auto_and_stripped_by_logit(x5):
    keras.utils.set_random_seed(2)
    inputs = keras.Input((5,))
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="head")(inputs))
    w = model.get_layer("head").get_weights()[0][:, 0]
    logit = explainers.create("saliency", model, output="logit")
    np.testing.assert_allclose(logit.explain(x5, 1).maps, np.tile(w, (4, 1)), rtol=1e-5)
    np.testing.assert_allclose(logit.explain(x5, 0).maps, -np.tile(w, (4, 1)), rtol=1e-5)  # logit of 1 - p is -z
    p = model.predict(x5, verbose=0)
    auto = explainers.create("saliency", model).explain(x5, 1).maps
    np.testing.assert_allclose(auto, (p * (1 - p)) * w, rtol=1e-4, atol=1e-7)
