"""Gaps the mutation harness found in the explainers' tests: head explainers that share one
cached view of the model keep their own region, and a regression head has no probabilities."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from engine import explainers  # noqa: E402
from engine.errors import BadInputError  # noqa: E402


def test_two_explainers_of_one_dense_head_keep_their_own_regions() -> None:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 1))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3, padding="same", activation="softmax", name="seg")(inputs))
    x = np.random.default_rng(1).uniform(size=(1, 6, 6, 1)).astype("float32")
    probs = np.asarray(model(x))[0]
    top_left = explainers.create("saliency", model, output="probability", region=(0, 0, 2, 2))
    bottom = explainers.create("saliency", model, output="probability", region=(4, 0, 6, 6))  # same cached view
    np.testing.assert_allclose(top_left.scores(x, [1]), [probs[:2, :2, 1].sum()], rtol=1e-5)
    np.testing.assert_allclose(bottom.scores(x, [1]), [probs[4:, :, 1].sum()], rtol=1e-5)
    np.testing.assert_allclose(top_left.scores(x, [0]), [probs[:2, :2, 0].sum()], rtol=1e-5)


def test_a_regression_head_refuses_probability_output() -> None:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(1, name="price")(inputs))
    with pytest.raises(BadInputError, match=r"^'price' is a regression head: it has no probabilities"):
        explainers.create("saliency", model, output_index=0, output="probability")
    explainer = explainers.create("saliency", model, output_index=0, output="auto")
    result = explainer.explain(np.ones((2, 4), np.float32))
    w = np.asarray(model.layers[-1].kernel)[:, 0]
    np.testing.assert_allclose(np.abs(result.maps), np.broadcast_to(np.abs(w), (2, 4)), rtol=1e-5)


def test_a_method_that_does_not_write_compute_fails_loudly() -> None:
    from engine.explainers.base import Explainer

    class Unfinished(Explainer):
        name, title = "unfinished", "Unfinished"

    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    with pytest.raises(NotImplementedError):
        Unfinished(model).explain(np.ones((1, 3), np.float32), targets=[0])


def test_a_pair_parameter_takes_one_number_or_exactly_two() -> None:
    from engine.explainers.base import Explainer

    class Windowed(Explainer):
        name, title = "windowed", "Windowed"
        defaults = {**Explainer.defaults, "window": (1, 1)}

    assert Windowed._validate({"window": 3})["window"] == (3, 3)
    assert Windowed._validate({"window": [2, 5.0]})["window"] == (2, 5)
    with pytest.raises(BadInputError, match=r"must be 2 numbers, got \(1, 2, 3\)"):
        Windowed._validate({"window": (1, 2, 3)})


def test_progress_moves_batch_by_batch_to_one() -> None:
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    seen: list[float] = []
    explainers.create("saliency", model, batch_size=1).explain(
        np.ones((4, 3), np.float32), targets=[0, 1, 0, 1], progress=seen.append)
    assert seen[:4] == [0.25, 0.5, 0.75, 1.0] and set(seen[4:]) <= {1.0}


def test_a_sequence_map_has_a_per_step_heatmap() -> None:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 2))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(inputs)))
    x = np.random.default_rng(0).normal(size=(3, 8, 2)).astype(np.float32)
    result = explainers.create("saliency", model).explain(x, targets=[0, 1, 0])
    assert result.maps.shape == (3, 8, 2) and result.heatmap.shape == (3, 8)
    np.testing.assert_allclose(result.heatmap, np.abs(result.maps).max(axis=-1), rtol=1e-6)  # saliency: abs max
    flat = explainers.create("saliency", keras.Model(inputs := keras.Input((5,)), keras.layers.Dense(2)(inputs)))
    assert flat.explain(np.ones((1, 5), np.float32), targets=[0]).heatmap is None  # rows: no heatmap


def test_the_base_explainer_refuses_a_model_of_two_outputs() -> None:
    from engine.errors import NotSupportedError
    from engine.explainers.saliency import Saliency

    inputs = keras.Input((3,))
    model = keras.Model(inputs, [keras.layers.Dense(2)(inputs), keras.layers.Dense(1)(inputs)], name="two")
    with pytest.raises(NotSupportedError, match="^Model 'two' has 2 outputs; multi-output models are not supported yet"):
        Saliency(model)


def test_one_logit_becomes_two_class_probabilities() -> None:
    from engine.explainers import caveats

    probs = caveats.probabilities(np.array([[0.0], [np.log(3.0)]]), are_logits=True)
    np.testing.assert_allclose(probs, [[0.5, 0.5], [0.25, 0.75]])
    np.testing.assert_allclose(caveats.probabilities(np.array([[0.2]]), are_logits=False), [[0.8, 0.2]])


def test_a_reshape_to_an_unknown_number_of_rows_breaks_the_cam_layout() -> None:
    """Reshape((-1, 1, C)) of a free-size input mixes rows and columns: the layers after it are not
    CAM layers (an unknown size was once taken for 1, as if the reshape were a (1, 1, C) SE gate)."""
    from engine.explainers.cam import last_spatial_layer, relaid_paths

    inputs = keras.Input((None, 4, 3))
    h = keras.layers.Conv2D(2, 1, name="c1")(inputs)
    r = keras.layers.Reshape((-1, 1, 8), name="r")(h)
    c2 = keras.layers.Conv2D(2, 1, name="c2")(r)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(c2)))
    assert relaid_paths(model) >= {"r", "c2"} and last_spatial_layer(model) == "c1"
    gate = keras.Input((4, 4, 8))
    squeezed = keras.layers.Reshape((1, 1, 8), name="se")(keras.layers.GlobalAveragePooling2D()(gate))
    se = keras.Model(gate, keras.layers.Dense(2)(keras.layers.Flatten()(keras.layers.Multiply()([gate, squeezed]))))
    assert "se" not in relaid_paths(se)  # a (1, 1, C) gate keeps the layout


def test_a_sequence_coalition_estimate_counts_its_time_segments() -> None:
    inputs = keras.Input((200, 1))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs)))
    explainer = explainers.create("kernel_shap", model, n_segments=50, nb_samples=98)
    _, how = explainer.memory_estimate(np.zeros((1, 200, 1), np.float32))
    assert how.startswith("100 samples x 50 units x ")  # 50 time segments, not 1 channel
    rows = keras.Model(i := keras.Input((7,)), keras.layers.Dense(2)(i))
    _, how = explainers.create("kernel_shap", rows, nb_samples=98).memory_estimate(np.zeros((1, 7), np.float32))
    assert how.startswith("100 samples x 7 units x ")


def test_the_single_pass_methods_are_the_fast_ones() -> None:
    """`fast` methods run by themselves when the case changes (gui canvas): one forward/backward
    pass or a few; the sampling and perturbation methods must never be among them."""
    fast = {info.name for info in explainers.available() if info.fast}
    assert fast == {"saliency", "gradient_x_input", "guided_backprop", "integrated_gradients", "gradcam",
                    "gradcam_pp", "layercam"}


def test_patch_sizes_are_one_positive_int_per_axis() -> None:
    from engine.explainers.masking import as_pair

    assert as_pair(3, 2, "patch_size") == (3, 3) and as_pair([2, 4], 2, "stride") == (2, 4)
    for bad in ([2, 0], [1, 2, 3], [0], -1):
        with pytest.raises(BadInputError, match=r"^patch_size must be a positive int or 2 positive ints, got "):
            as_pair(bad, 2, "patch_size")


def test_score_cam_warns_only_when_channel_weights_are_nearly_equal() -> None:
    from engine.explainers.scorecam import equal_weights_warning

    assert equal_weights_warning(np.array([[1.0, 2.0, 3.0], [0.0, 5.0, 5.0]])) == []
    assert len(equal_weights_warning(np.array([[1.0, 1.01, 0.0, 1.0]]))) == 1  # 1 % spread, zeros unused
    assert equal_weights_warning(np.array([[0.0, 4.0, 0.0]])) == []  # one used channel: nothing to compare


def _three_regions() -> np.ndarray:
    image = np.zeros((32, 32, 3))
    image[:16, :16], image[16:, :16], image[:, 16:] = [1, 0, 0], [0, 1, 0], [0, 0, 1]
    return image + np.random.default_rng(0).normal(0, 0.05, image.shape)


@pytest.mark.parametrize("n_segments", [8, 16])
def test_quickshift_gives_about_the_requested_number_of_segments(n_segments) -> None:
    from engine.explainers.superpixels import _quickshift

    count = int(_quickshift(_three_regions(), n_segments).max()) + 1
    assert n_segments / 2 <= count <= 2 * n_segments


def test_slic_is_retried_more_compact_until_a_quarter_of_the_segments_come_out(monkeypatch) -> None:
    import skimage.segmentation

    from engine.explainers.superpixels import _slic

    calls: list[float] = []

    def fake_slic(image, n_segments, compactness, **kwargs):  # noqa: ANN001, ANN003, ANN202
        calls.append(compactness)
        count = 4 if len(calls) == 1 else 5  # a quarter of 20 is 5: the first result is one short
        return np.arange(image.shape[0] * image.shape[1]).reshape(image.shape[:2]) % count

    monkeypatch.setattr(skimage.segmentation, "slic", fake_slic)
    labels = _slic(np.zeros((4, 4, 3)), 20)
    assert calls == [10.0, 100.0] and labels.max() + 1 == 5


def test_unit_range_maps_min_to_0_and_max_to_1() -> None:
    from engine.explainers.superpixels import _unit_range

    np.testing.assert_allclose(_unit_range(np.array([2.0, 4.0, 6.0])), [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(_unit_range(np.full(3, 7.0)), np.zeros(3))


@pytest.mark.parametrize("m", [4, 6])
def test_full_enumeration_weights_of_an_even_count_follow_the_shapley_kernel(m) -> None:
    """With an even number of units the middle size has no partner size: its weight must not be
    halved like the paired sizes' (five units, all paired, cannot show that)."""
    from engine.explainers.surrogates import shap_coalitions, shapley_kernel

    z, w = shap_coalitions(m, 1000, np.random.default_rng(0))
    assert len(z) == 2**m - 2
    expected = np.array([shapley_kernel(m, int(s)) for s in z.sum(axis=1)])
    np.testing.assert_allclose(w / w.sum(), expected / expected.sum(), rtol=1e-9)


def test_sampling_checks_for_cancel_every_few_thousand_draws_throughout() -> None:
    from engine.explainers.surrogates import CHECK_EVERY, shap_coalitions

    calls = []
    z, _ = shap_coalitions(24, 3 * CHECK_EVERY, np.random.default_rng(0), check=lambda: calls.append(len(calls)))
    assert 3 <= len(calls) <= 12  # a few per CHECK_EVERY draws, never one per draw


def test_a_coalition_drawn_twice_is_one_row_weighted_twice() -> None:
    from engine.explainers.surrogates import _add_sampled

    rows: list = []
    weights: list = []
    seen: dict = {}
    z = np.array([1.0, 0.0, 1.0], np.float32)
    assert _add_sampled(z, rows, weights, seen) == 1 and _add_sampled(z.copy(), rows, weights, seen) == 0
    assert _add_sampled(1.0 - z, rows, weights, seen) == 1
    assert len(rows) == 2 and weights == [2.0, 1.0]


def test_an_integer_input_without_an_embedding_is_refused() -> None:
    from engine.errors import NotSupportedError

    inputs = keras.Input((4,), dtype="int32", name="ids")
    floats = keras.layers.Lambda(lambda t: keras.ops.cast(t, "float32"))(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(floats))
    with pytest.raises(NotSupportedError, match="^Input 'ids' is int32 and no single Embedding layer follows it"):
        explainers.create("saliency", model, output_index=0)


def test_a_multi_input_model_with_one_free_dimension_is_refused() -> None:
    from engine.errors import NotSupportedError

    seq, row = keras.Input((None, 3), name="seq"), keras.Input((4,), name="row")
    pooled = keras.layers.GlobalAveragePooling1D()(seq)
    model = keras.Model([seq, row], keras.layers.Dense(2)(keras.layers.Concatenate()([pooled, row])))
    with pytest.raises(NotSupportedError, match="needs every input's shape to be known"):
        explainers.create("saliency", model)
