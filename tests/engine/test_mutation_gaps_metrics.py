"""Gaps the mutation harness found in engine.metrics' tests: the region scores' known answers, the
metric classes' flags (insertion's reveal, stochastic, frozen info) and the randomisation cascade."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import BadInputError
from engine.metrics.region import region_mask, region_scores


def test_a_box_of_no_height_or_no_width_is_refused() -> None:
    for box in [(2, 0, 2, 4), (0, 3, 4, 3)]:
        with pytest.raises(BadInputError, match="does not overlap the image"):
            region_mask((4, 4), box, (4, 4))
    assert region_mask((2, 2), (0, 0, 2, 2), (4, 4)).tolist() == [[True, False], [False, False]]  # scaled


def test_mass_inside_counts_positive_mass_unless_the_map_has_none() -> None:
    mixed = np.array([[3.0, -5.0], [0.0, 1.0]])
    scores = region_scores(mixed, (0, 0, 1, 1), (2, 2))
    assert scores.pointing_hit and scores.mass_inside == pytest.approx(3 / 4)  # negatives do not count
    negative = np.array([[-1.0, -3.0], [0.0, 0.0]])
    assert region_scores(negative, (0, 1, 1, 2), (2, 2)).mass_inside == pytest.approx(3 / 4)  # |values|
    assert np.isnan(region_scores(np.zeros((2, 2)), (0, 0, 1, 1), (2, 2)).mass_inside)


def test_spearman_ranks_each_row_with_shared_ranks_for_ties() -> None:
    from engine.metrics.base import correlate_rows, rank_rows

    np.testing.assert_array_equal(rank_rows(np.array([[10.0, 30.0, 20.0], [5.0, 5.0, 1.0]])),
                                  [[1, 3, 2], [2.5, 2.5, 1]])
    a = np.array([[1.0, 2.0, 3.0, 4.0], [4.0, 1.0, 3.0, 2.0]])
    b = a ** 3  # monotone: Spearman 1, Pearson below 1
    np.testing.assert_allclose(correlate_rows(a, b, "spearman"), [1.0, 1.0])
    assert np.all(correlate_rows(a, b) < 1.0)


# ---------------------------------------------------------------- gaps in the metric classes
keras = pytest.importorskip("keras")

from engine import explainers  # noqa: E402
from engine.metrics import available, create  # noqa: E402


def _linear(seed: int = 3) -> keras.Model:
    """(8, 8, 1) -> Flatten -> Dense(3) logits, zero bias: f(z) = z . w_t exactly."""
    weights = np.random.default_rng(seed).normal(size=(64, 3)).astype("float32")
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(3)], name=f"linear{seed}")
    model.layers[-1].set_weights([weights, np.zeros(3, "float32")])
    return model


def test_insertion_reveals_what_deletion_removes_so_their_curves_sum_to_a_constant() -> None:
    """For a linear f, at every count k: f(x with the top k set to b) + f(b with the top k set to
    x's values) = f(x) + f(b). Insertion that removed instead of revealing breaks it."""
    model, rng = _linear(), np.random.default_rng(11)
    x = rng.uniform(0.2, 1.0, size=(3, 8, 8, 1)).astype("float32")
    maps, targets, fill = rng.normal(size=(3, 8, 8)), np.array([0, 2, 1]), 0.25
    deletion = create("deletion", model, output="logit", steps=6, baseline=fill).evaluate(x, maps, targets)
    insertion = create("insertion", model, output="logit", steps=6, baseline=fill).evaluate(x, maps, targets)
    w = model.layers[-1].get_weights()[0][:, targets].T  # (3, 64)
    total = (x.reshape(3, -1) * w).sum(axis=1) + fill * w.sum(axis=1)
    np.testing.assert_allclose(deletion.curves + insertion.curves, np.repeat(total[:, None], 7, axis=1), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(insertion.curves[:, -1], deletion.curves[:, 0], rtol=1e-5)  # all revealed: f(x)
    np.testing.assert_allclose(deletion.scores + insertion.scores, total, rtol=1e-4, atol=1e-4)


def test_the_stochastic_flag_names_exactly_the_metrics_whose_seed_changes_the_score() -> None:
    model, rng = _linear(), np.random.default_rng(12)
    x = rng.uniform(0.2, 1.0, size=(2, 8, 8, 1)).astype("float32")
    maps = rng.normal(size=(2, 8, 8))
    flags = {info.name: info.stochastic for info in available()}
    assert {name for name, on in flags.items() if on} == {"mufidelity", "max_sensitivity", "randomisation"}
    for name in ["mufidelity", "deletion"]:  # one of each kind: the seed moves the score or it does not
        params = {"grid_size": 4, "nb_samples": 8} if name == "mufidelity" else {}
        first = create(name, model, seed=1, **params).evaluate(x, maps, [0, 1]).scores
        other = create(name, model, seed=2, **params).evaluate(x, maps, [0, 1]).scores
        assert (not np.array_equal(first, other)) == flags[name], name


def test_metric_info_and_results_are_frozen_plain_data() -> None:
    """The GUI shares one MetricInfo between forms and one result between views: none may edit it."""
    import dataclasses

    info = available()[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.title = "edited"  # type: ignore[misc]
    result = create("sparseness", _linear()).evaluate(np.ones((1, 8, 8, 1), np.float32), np.ones((1, 8, 8)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.scores = np.zeros(1)  # type: ignore[misc]


def _deep(layers: int = 6) -> keras.Model:
    keras.utils.set_random_seed(13)
    dense = [keras.layers.Dense(5, activation="tanh", name=f"d{i}") for i in range(1, layers)]
    return keras.Sequential([keras.Input((4,)), *dense, keras.layers.Dense(3, name=f"d{layers}")], name="deep")


def test_randomisation_cascades_in_three_stages_by_default_top_layers_first() -> None:
    """Six weighted layers, reversed (d6 .. d1), split in 3 equal groups: the stages end at d5,
    d3 and d1, and the cascade has one column per stage."""
    model = _deep()
    x = np.random.default_rng(14).normal(size=(3, 4)).astype("float32")
    result = create("randomisation", model).evaluate(x, np.abs(x), [0, 1, 2])
    assert result.details["stage_layers"] == ["d5", "d3", "d1"]
    assert result.details["cascade"].shape == (3, 3)
    np.testing.assert_array_equal(result.scores, result.details["cascade"][:, -1])
    assert create("randomisation", model, stages=2).evaluate(x, np.abs(x), [0, 1, 2]).details["stage_layers"] == ["d4", "d1"]


def test_randomisation_reports_each_stage_in_its_own_share_of_the_progress() -> None:
    """Two stages, each explaining 4 cases in 2 batches: stage 1 moves progress 0 -> 1/2, stage 2
    1/2 -> 1 (a named method re-drawn in place); saliency's one-call cascade moves per batch."""
    model = _deep()
    x = np.random.default_rng(15).normal(size=(4, 4)).astype("float32")
    seen: list[float] = []
    create("randomisation", model, method="gradient_x_input", stages=2, batch_size=2).evaluate(
        x, np.abs(x), [0, 1, 2, 0], progress=seen.append)
    assert sorted(set(seen)) == [0.25, 0.5, 0.75, 1.0] and seen == sorted(seen)
    seen.clear()
    create("randomisation", model, stages=2, batch_size=2).evaluate(x, np.abs(x), [0, 1, 2, 0], progress=seen.append)
    assert sorted(set(seen)) == [0.5, 1.0]


def test_saliencys_in_graph_cascade_equals_the_assigned_cascade_and_writes_no_weight() -> None:
    """The StatelessScope cascade (method "saliency") and the re-draw-in-place cascade (the same
    saliency as a callable) see the same re-drawn weights: the same maps, bit for bit; the
    in-graph one counts one gradient row per case and stage, as the bench's floor replays."""
    model = _deep()
    x = np.random.default_rng(16).normal(size=(5, 4)).astype("float32")
    maps = explainers.create("saliency", model).explain(x, [0, 1, 2, 0, 1]).maps
    trained = [w.copy() for w in model.get_weights()]
    seen: list[list[np.ndarray]] = []

    def saliency(m: keras.Model, xs: np.ndarray, t: np.ndarray) -> np.ndarray:
        seen.append([w.copy() for w in m.get_weights()])
        return explainers.create("saliency", m).explain(xs, t).maps

    metric = create("randomisation", model, seed=7, batch_size=2)
    in_graph = metric.evaluate(x, maps, [0, 1, 2, 0, 1])
    assigned = create("randomisation", model, method=saliency, seed=7).evaluate(x, maps, [0, 1, 2, 0, 1])
    np.testing.assert_array_equal(in_graph.details["cascade"], assigned.details["cascade"])
    assert not np.allclose(seen[-1][0], trained[0])  # the callable did see re-drawn weights
    assert metric.evaluations == {"forward": 0, "gradient": 3 * 5}
    for now, given in zip(model.get_weights(), trained):
        np.testing.assert_array_equal(now, given)


def test_a_map_that_keeps_its_whole_rank_order_fails_even_the_loosest_threshold() -> None:
    """The input itself as the 'map' (model-independent): rho is exactly 1 after randomisation,
    and passing needs rho strictly below the threshold, so threshold 1 still fails it."""
    model = _deep()
    x = np.random.default_rng(17).normal(size=(3, 4)).astype("float32")
    result = create("randomisation", model, method=lambda m, xs, t: np.abs(xs), threshold=1.0).evaluate(x, np.abs(x), [0, 1, 2])
    np.testing.assert_array_equal(result.scores, [1.0, 1.0, 1.0])
    assert not result.passed.any()


def test_a_model_without_weights_is_refused_in_words() -> None:
    from engine.errors import NotSupportedError

    model = keras.Sequential([keras.Input((2, 2, 1)), keras.layers.Flatten()], name="weightless")
    x = np.random.default_rng(18).normal(size=(2, 2, 2, 1)).astype("float32")
    with pytest.raises(NotSupportedError, match="no weights to randomise"):
        create("randomisation", model, method=lambda m, xs, t: xs).evaluate(x, x, [0, 1])


def test_a_box_on_a_wide_image_scales_rows_and_columns_apart() -> None:
    """A (8, 16) image, a (4, 4) map: rows scale by 1/2, columns by 1/4; the bottom half of the
    image is the bottom two rows of the map, every column."""
    mask = region_mask((4, 4), (4, 0, 8, 16), (8, 16))
    np.testing.assert_array_equal(mask, np.repeat([[False], [False], [True], [True]], 4, axis=1))
    from engine.metrics.region import polygon_mask

    right_quarter = np.array([[12.0, 0.0], [16.0, 0.0], [16.0, 8.0], [12.0, 8.0]])  # (x, y): the last 4 columns
    np.testing.assert_array_equal(polygon_mask((4, 4), right_quarter, (8, 16)), np.repeat([[False, False, False, True]], 4, axis=0))


def test_metric_defaults_are_the_documented_api() -> None:
    """The issue's contract: create("deletion", model, steps=10, baseline=0.0, output="probability",
    batch_size=32) is what create("deletion", model) means; every metric batches 32 rows."""
    infos = {info.name: info for info in available()}
    assert {k: infos["deletion"].params[k] for k in ("steps", "baseline", "output", "batch_size")} == {
        "steps": 10, "baseline": 0.0, "output": "probability", "batch_size": 32}
    assert {info.params["batch_size"] for info in infos.values()} == {32}


def test_mufidelity_reaches_full_progress_only_with_its_last_batch() -> None:
    """One case, 8 subsets in batches of 2: the reference pass ends at 5%, then the four masked
    batches share the remaining 95% evenly."""
    model = _linear()
    x = np.random.default_rng(19).uniform(size=(1, 8, 8, 1)).astype("float32")
    seen: list[float] = []
    create("mufidelity", model, nb_samples=8, grid_size=4, batch_size=2).evaluate(x, np.ones((1, 8, 8)), [0], progress=seen.append)
    np.testing.assert_allclose(sorted(set(seen)), [0.05, 0.2875, 0.525, 0.7625, 1.0])
