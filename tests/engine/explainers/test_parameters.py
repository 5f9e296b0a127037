"""Every method's parameter defaults and bounds: the published values, enforced at their edges.

Defaults follow the papers' and reference implementations' values (RISE: 7x7 cells at p = 0.5;
lime_image: kernel width 0.25, 1000 samples, SLIC; SmoothGrad: 25 samples at 15% noise;
Expected Gradients: 32 references at 10% noise); a changed default changes every map a user
sees, so it must be a deliberate edit of this table too. Bounds are what the GUI offers and
the engine accepts: each edge value is accepted and the next value beyond it refused.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from engine import explainers  # noqa: E402
from engine.errors import BadInputError  # noqa: E402
from engine.explainers import create  # noqa: E402

COMMON_DEFAULTS = {"batch_size": 32, "seed": 0, "output": "auto"}
COMMON_BOUNDS = {"batch_size": (1, 65536), "seed": (0, 2**32 - 1)}
SMOOTHING = ({"nb_samples": 25, "noise": 0.15}, {"nb_samples": (1, 100000), "noise": (0.0, 10.0)})
COALITIONS = {"n_segments": 50, "segmentation": "slic", "nb_samples": 1000, "fill_value": 0.0}
COALITION_BOUNDS = {"n_segments": (1, 100000), "nb_samples": (4, 10**7)}

EXPECTED: dict[str, tuple[dict, dict]] = {
    "saliency": ({}, {}),
    "gradient_x_input": ({}, {}),
    "smoothgrad": SMOOTHING,
    "vargrad": SMOOTHING,
    "squaregrad": SMOOTHING,
    "integrated_gradients": ({"steps": 64, "baseline": "zeros", "rule": "riemann"}, {"steps": (1, 100000)}),
    "expected_gradients": ({"nb_samples": 32, "noise": 0.1, "reference": None},
                           {"nb_samples": (1, 100000), "noise": (0.0, 10.0)}),
    "guided_backprop": ({}, {}),
    "gradcam": ({"layer": None}, {}),
    "gradcam_pp": ({"layer": None}, {}),
    "layercam": ({"layer": None}, {}),
    "scorecam": ({"layer": None, "output": "probability"}, {}),  # the paper scores probabilities
    # 0 = scaled to the input (issue 9): an eighth of its smallest side, stride half a patch
    "occlusion": ({"patch_size": 0, "stride": 0, "fill_value": 0.0}, {"patch_size": (0, 100000), "stride": (0, 100000)}),
    "rise": ({"nb_samples": 2000, "resolution": 7, "probability": 0.5},
             {"nb_samples": (1, 10**7), "resolution": (1, 4096), "probability": (0.01, 0.99)}),
    "lime": ({**COALITIONS, "kernel_width": 0.25, "distance": "cosine"},
             {**COALITION_BOUNDS, "kernel_width": (0.001, 1000.0)}),
    "kernel_shap": (COALITIONS, COALITION_BOUNDS),
}


def _class(name: str):
    return explainers._REGISTRY.load(name)


def test_every_method_is_in_the_table():
    assert sorted(info.name for info in explainers.available()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_defaults_and_bounds_are_the_published_ones(name):
    defaults, bounds = EXPECTED[name]
    cls = _class(name)
    assert cls.defaults == {**COMMON_DEFAULTS, **defaults}
    assert cls.bounds == {**COMMON_BOUNDS, **bounds}


def _beyond(value, direction: int):
    return value + direction if isinstance(value, int) else value + direction * max(1e-6, abs(value) * 1e-3)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_bound_is_accepted_at_its_edge_and_refused_beyond(name, tiny_cnn):
    cls = _class(name)
    for key, (low, high) in cls.bounds.items():
        if isinstance(cls.defaults[key], float):
            low, high = float(low), float(high)
        for edge, direction in ((low, -1), (high, 1)):
            assert create(name, tiny_cnn, **{key: edge}).params[key] == edge
            with pytest.raises(BadInputError, match=f"'{key}' must be between"):
                create(name, tiny_cnn, **{key: _beyond(edge, direction)})


def test_results_are_frozen(linear_model):
    result = create("saliency", linear_model).explain(np.ones((1, 5), "float32"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.maps = None


@pytest.mark.parametrize("value", ["0.5", None, float("nan"), True])
def test_a_number_parameter_refuses_what_is_not_a_finite_number(value, tiny_cnn):
    with pytest.raises(BadInputError, match="'probability' must be a number"):
        create("rise", tiny_cnn, probability=value)


def test_an_empty_batch_is_refused(linear_model):
    with pytest.raises(BadInputError, match="non-empty batch"):
        create("saliency", linear_model).explain(np.zeros((0, 5), "float32"))


def test_method_infos_are_frozen():
    info = explainers.available()[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.name = "other"


def test_spatial_parameters_are_named_and_ignored_by_table_rows(linear_model):
    """The form hides what a table's rows ignore: the coalition methods' segmentation. On (N, F)
    rows the units are the features whatever n_segments says, so the map is the same."""
    spatial = {info.name: set(info.spatial_params) for info in explainers.available()}
    assert spatial["kernel_shap"] == spatial["lime"] == {"n_segments", "segmentation"}
    assert all(not names for name, names in spatial.items() if name not in ("kernel_shap", "lime"))
    for name in ("kernel_shap", "lime"):
        assert spatial[name] <= set(explainers.create(name, linear_model).info().params)
    x = np.random.default_rng(0).normal(size=(2, linear_model.input_shape[-1])).astype("float32")
    few = explainers.create("kernel_shap", linear_model, n_segments=2, nb_samples=64).explain(x)
    many = explainers.create("kernel_shap", linear_model, n_segments=500, nb_samples=64).explain(x)
    np.testing.assert_array_equal(few.maps, many.maps)
