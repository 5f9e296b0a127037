"""Every method in `available()` honours the common contract (shapes, progress, cancel, batch-size
invariance, seeds, per-case targets, tabular input, one map per input of a multi-input model)."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from engine import explainers  # noqa: E402
from engine.errors import BadInputError, Cancelled, NotSupportedError  # noqa: E402

INFOS = {info.name: info for info in explainers.available()}
NAMES = list(INFOS)
DETERMINISTIC = [n for n in NAMES if not INFOS[n].stochastic]
STOCHASTIC = [n for n in NAMES if INFOS[n].stochastic]
TABULAR = [n for n in NAMES if not INFOS[n].image_only]
SMALL = {"steps": 4, "nb_samples": 8, "n_segments": 32}  # keep every run tiny
PER_FEATURE = {"patch_size": 1, "stride": 1}  # occlusion of tabular rows: one feature at a time


def make(name: str, model, **params):
    small = {k: v for k, v in SMALL.items() if k in INFOS[name].params}
    return explainers.create(name, model, **{**small, **params})


@pytest.fixture(scope="module")
def tabular_model():
    keras.utils.set_random_seed(3)
    inputs = keras.Input((6,))
    h = keras.layers.Dense(8, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h))


@pytest.fixture(scope="module")
def rows():
    return np.random.default_rng(5).normal(size=(4, 6)).astype("float32")


def test_every_method_file_is_registered_and_describes_its_speed():
    """No hard-coded count: each module that defines a named Explainer is in the index, with
    its class, and every method says whether it is fast (the canvas auto-runs fast ones)."""
    import importlib
    import pkgutil

    from engine.explainers.base import Explainer

    defined = {}
    for module in pkgutil.iter_modules(explainers.__path__):
        loaded = importlib.import_module(f"engine.explainers.{module.name}")
        for value in vars(loaded).values():
            if isinstance(value, type) and issubclass(value, Explainer) and value.__module__ == loaded.__name__:
                if "name" in vars(value) and value.name:
                    defined[value.name] = f"{loaded.__name__}:{value.__name__}"
    assert defined == explainers.METHODS
    assert set(NAMES) <= set(explainers.METHODS)
    infos = {info.name: info for info in explainers.available()}
    assert infos["saliency"].fast and infos["gradcam"].fast
    assert not infos["occlusion"].fast and not infos["lime"].fast and not infos["kernel_shap"].fast


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("model_name", ["tiny_cnn", "nested_cnn"])
def test_shapes_dtype_and_finite_values(name, model_name, request, images):
    model = request.getfixturevalue(model_name)
    x = images[:3]
    explainer = make(name, model)
    result = explainer.explain(x)
    assert result.maps.shape == x.shape and result.maps.dtype == np.float32
    assert result.heatmap.shape == x.shape[:3] and result.heatmap.dtype == np.float32
    assert np.all(np.isfinite(result.maps)) and np.all(np.isfinite(result.heatmap))
    assert np.abs(result.maps).max() > 0
    assert result.targets.tolist() == np.argmax(model.predict(x, verbose=0), axis=1).tolist()
    assert result.method == name and set(result.params) == set(INFOS[name].params)
    assert result.provenance["method"] == name and result.seed == 0


@pytest.mark.parametrize("name", NAMES)
def test_progress_monotonic_ending_at_one_and_cancel_within_one_batch(name, tiny_cnn, images):
    seen: list[float] = []
    make(name, tiny_cnn, batch_size=2).explain(images[:3], progress=seen.append)
    assert seen and seen[-1] == 1.0 and np.all(np.diff(seen) >= 0) and 0 <= min(seen)
    assert seen[0] < 1.0 and seen.index(1.0) >= len(seen) - 2  # done only at the end (last batch, then explain)

    seen.clear()
    explainer = make(name, tiny_cnn, batch_size=1)
    with pytest.raises(Cancelled):
        explainer.explain(images[:3], progress=seen.append, cancel=lambda: len(seen) > 0)
    assert sum(explainer.evaluations.values()) <= 2  # at most the batch in flight after cancel


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_batch_size_invariance(name, tiny_cnn, images):
    x, targets = images[:3], np.array([0, 1, 3])
    maps = [make(name, tiny_cnn, batch_size=b).explain(x, targets).maps for b in (1, 7, 64)]
    scale = np.abs(maps[0]).max()
    for other in maps[1:]:
        np.testing.assert_allclose(other, maps[0], rtol=1e-4, atol=1e-5 * scale)


@pytest.mark.parametrize("name", STOCHASTIC)
def test_seeded_determinism_and_seed_sensitivity(name, tiny_cnn, images):
    x = images[:2]
    first = make(name, tiny_cnn, seed=11).explain(x, 1).maps
    again = make(name, tiny_cnn, seed=11, batch_size=5).explain(x, 1).maps
    other = make(name, tiny_cnn, seed=12).explain(x, 1).maps
    scale = np.abs(first).max()
    np.testing.assert_allclose(again, first, rtol=1e-4, atol=1e-5 * scale)
    assert not np.allclose(other, first, rtol=1e-3, atol=1e-3 * scale)


@pytest.mark.parametrize("name", NAMES)
def test_per_case_targets_in_one_batch(name, tiny_cnn, images):
    x = images[:2]
    mixed = make(name, tiny_cnn).explain(x, [1, 2])
    ones = make(name, tiny_cnn).explain(x, [1, 1])
    twos = make(name, tiny_cnn).explain(x, [2, 2])
    assert mixed.targets.tolist() == [1, 2]
    scale = np.abs(mixed.maps).max()
    np.testing.assert_allclose(mixed.maps[0], ones.maps[0], rtol=1e-4, atol=1e-5 * scale)
    np.testing.assert_allclose(mixed.maps[1], twos.maps[1], rtol=1e-4, atol=1e-5 * scale)
    assert not np.allclose(ones.maps[1], twos.maps[1])


@pytest.mark.parametrize("name", NAMES)
def test_tabular_input(name, tabular_model, rows):
    if INFOS[name].image_only:
        with pytest.raises(NotSupportedError):
            make(name, tabular_model).explain(rows)
        return
    per_feature = {k: v for k, v in PER_FEATURE.items() if k in INFOS[name].params}
    result = make(name, tabular_model, **per_feature).explain(rows)
    assert result.maps.shape == rows.shape and result.maps.dtype == np.float32 and result.heatmap is None
    assert np.all(np.isfinite(result.maps)) and np.abs(result.maps).max() > 0


@pytest.mark.parametrize("name", NAMES)
def test_multi_input_models_give_a_map_per_input_and_unknown_parameters_are_refused(name, two_input_model, tiny_cnn):
    x = {"a": np.ones((2, 4), "float32"), "b": np.full((2, 4), 0.5, "float32")}
    if INFOS[name].image_only:
        with pytest.raises(NotSupportedError):
            make(name, two_input_model).explain(x, 1)
    else:
        per_feature = {k: v for k, v in PER_FEATURE.items() if k in INFOS[name].params}
        result = make(name, two_input_model, **per_feature).explain(x, 1)
        assert list(result) == ["a", "b"] and all(r.maps.shape == (2, 4) for r in result.values())
        assert all(np.isfinite(r.maps).all() for r in result.values())
    with pytest.raises(BadInputError, match="unknown parameter"):
        explainers.create(name, tiny_cnn, not_a_parameter=1)


@pytest.mark.parametrize("name", ["saliency", "gradient_x_input", "guided_backprop", "gradcam", "gradcam_pp", "layercam"])
def test_methods_that_resolve_the_predicted_class_spend_one_pass_per_case(name, tiny_cnn, images):
    """Without targets these take the predicted class inside their one forward+backward pass:
    no extra forward pass to find it first."""
    explainer = make(name, tiny_cnn, batch_size=2)
    result = explainer.explain(images[:3])
    assert dict(explainer.evaluations) == {"gradient": 3}
    predicted = np.argmax(tiny_cnn.predict(images[:3], verbose=0), axis=-1)
    np.testing.assert_array_equal(result.targets, predicted)
