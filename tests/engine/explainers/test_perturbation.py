"""Occlusion, RISE, LIME and Kernel SHAP: their numpy kernels, closed forms, efficiency,
determinism and batching."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from skimage.transform import resize  # noqa: E402

from engine.errors import BadInputError  # noqa: E402
from engine.explainers import create  # noqa: E402
from engine.explainers.base import Explainer  # noqa: E402
from engine.explainers.masking import RiseMasks, overlap_average, patch_anchors, patch_masks  # noqa: E402
from engine.explainers.superpixels import segment  # noqa: E402
from engine.explainers.surrogates import (  # noqa: E402
    lime_coalitions,
    lime_fit,
    lime_kernel,
    shap_coalitions,
    shap_solve,
    shapley_kernel,
)

@pytest.fixture(scope="module")
def blocks():
    """Three (12, 12, 3) images of 4x4 flat colour blocks: 16 clear superpixels each."""
    rng = np.random.default_rng(9)
    return np.stack([np.kron(rng.uniform(size=(4, 4, 3)), np.ones((3, 3, 1))) for _ in range(3)]).astype("float32")


STOCHASTIC = {
    "rise": {"nb_samples": 60, "resolution": 3},
    "lime": {"nb_samples": 40, "n_segments": 8},
    "kernel_shap": {"nb_samples": 40, "n_segments": 16},
}


# ------------------------------------------------------------------------------ RISE masks
def test_rise_masks_match_the_reference_upsample_and_crop():
    """Petsiuk et al.'s code: resize the grid to (s+1)*cell with skimage order 1, crop at a shift."""
    masks = RiseMasks.draw(5, 4, 0.5, (10, 13), np.random.default_rng(0))
    cell_h, cell_w = math.ceil(10 / 4), math.ceil(13 / 4)
    rendered = masks.render(0, 5)
    for grid, (dy, dx), mask in zip(masks.grids, masks.shifts, rendered):
        up = resize(grid, (5 * cell_h, 5 * cell_w), order=1, mode="reflect", anti_aliasing=False)
        np.testing.assert_allclose(mask, up[dy : dy + 10, dx : dx + 13], atol=1e-6)


def test_rise_masks_render_the_same_in_any_batches_and_keep_p():
    masks = RiseMasks.draw(400, 7, 0.3, (28, 28), np.random.default_rng(1))
    whole = masks.render(0, 400)
    parts = np.concatenate([masks.render(a, min(a + 64, 400)) for a in range(0, 400, 64)])
    np.testing.assert_array_equal(whole, parts)
    assert whole.min() >= 0 and whole.max() <= 1
    assert abs(whole.mean() - 0.3) < 0.03


def test_rise_masks_rendered_on_the_device_match_the_reference():
    from engine.explainers.rise import render_masks

    masks = RiseMasks.draw(6, 4, 0.5, (10, 13), np.random.default_rng(2))
    device = render_masks(masks.rows, masks.cols, masks.grids, masks.shifts.astype(np.int32), (10, 13))
    np.testing.assert_allclose(np.asarray(device), masks.render(0, 6), atol=1e-6)


# -------------------------------------------------------------------------------- occlusion
def test_patch_anchors_cover_the_far_edge():
    anchors = patch_anchors((10,), (4,), (3,))
    assert anchors[:, 0].tolist() == [0, 3, 6]  # 6 = 10 - 4, flush with the edge
    anchors = patch_anchors((10, 9), (4, 3), (4, 3))
    assert sorted(set(anchors[:, 0])) == [0, 4, 6] and sorted(set(anchors[:, 1])) == [0, 3, 6]
    assert patch_masks(anchors, (4, 3), (10, 9)).max(axis=0).min() == 1.0  # every location covered


def test_overlap_average_is_the_mean_over_covering_patches():
    anchors = patch_anchors((5,), (3,), (1,))  # [0, 1, 2]
    averaged = overlap_average(np.array([[3.0, 6.0, 9.0], [1.0, 1.0, 1.0]]), anchors, (3,), (5,))
    np.testing.assert_allclose(averaged, [[3.0, 4.5, 6.0, 7.5, 9.0], [1.0] * 5])
    grid = patch_anchors((4, 4), (2, 2), (2, 2))
    drops = np.arange(1.0, 5.0)[None]
    np.testing.assert_allclose(overlap_average(drops, grid, (2, 2), (4, 4))[0], np.kron([[1, 2], [3, 4]], np.ones((2, 2))))


def test_occlusion_on_a_linear_model_is_the_closed_form(linear_model):
    x = np.random.default_rng(2).normal(size=(4, 5)).astype("float32")
    targets = np.array([0, 2, 1, 2])
    result = create("occlusion", linear_model, patch_size=1, stride=1, fill_value=0.3).explain(x, targets)
    weights = linear_model.get_layer("scores").get_weights()[0]
    np.testing.assert_allclose(result.maps, weights[:, targets].T * (x - 0.3), rtol=1e-5, atol=1e-5)
    assert result.heatmap is None


def test_occlusion_on_images_sums_channels_and_spreads_patches():
    """For a linear image model and 2x2 patches every pixel gets the mean of its patches' drops."""
    rng = np.random.default_rng(4)
    model = keras.Sequential([keras.Input((6, 6, 2)), keras.layers.Flatten(), keras.layers.Dense(2)])
    w = rng.normal(size=(72, 2)).astype("float32")
    model.layers[-1].set_weights([w, np.zeros(2, "float32")])
    x = rng.uniform(size=(1, 6, 6, 2)).astype("float32")
    result = create("occlusion", model, patch_size=2, stride=2, fill_value=0.0).explain(x, [1])
    contribution = (w[:, 1].reshape(6, 6, 2) * x[0]).sum(-1)
    expected = np.kron(contribution.reshape(3, 2, 3, 2).sum(axis=(1, 3)), np.ones((2, 2)))
    np.testing.assert_allclose(result.heatmap[0], expected, rtol=1e-5, atol=1e-5)


def test_occlusion_patch_larger_than_input_is_refused(linear_model):
    with pytest.raises(BadInputError, match="patch_size"):
        create("occlusion", linear_model, patch_size=8).explain(np.zeros((1, 5), "float32"))


def test_occlusion_default_patch_scales_with_the_input(linear_model):
    """The default no longer hides a whole 8x8 input at once: 1x1 patches there, 28x28 at 224."""
    from engine.explainers.masking import patch_anchors

    explainer = create("occlusion", linear_model)
    assert explainer.params["patch_size"] == 0 and explainer.params["stride"] == 0
    result = explainer.explain(np.random.default_rng(0).normal(size=(1, 5)).astype("float32"))
    assert np.count_nonzero(result.maps[0]) == 5  # one feature per patch: the closed form's support
    assert len(patch_anchors((224, 224), (28, 28), (14, 14))) == 15 * 15


# ------------------------------------------------------------------------------ superpixels
def test_segment_labels_are_consecutive_and_preprocessing_invariant():
    rng = np.random.default_rng(5)
    image = np.kron(rng.uniform(size=(3, 3, 3)), np.ones((5, 5, 1))).astype("float32")
    for method in ("slic", "quickshift"):
        labels = segment(image, 9, method)
        assert labels.shape == (15, 15) and labels.dtype == np.int32
        assert set(np.unique(labels)) == set(range(labels.max() + 1))
        assert 4 <= labels.max() + 1 <= 20
        np.testing.assert_array_equal(labels, segment(image * 255.0 - 120.0, 9, method))
    noise = np.random.default_rng(0).uniform(size=(48, 48, 3)).astype("float32")
    assert segment(noise, 40, "slic").max() + 1 >= 10  # texture does not collapse SLIC to one segment
    gray = segment(image[..., :1], 9, "quickshift")
    assert gray.shape == (15, 15)
    np.testing.assert_array_equal(segment(np.zeros(7, "float32"), 3), np.arange(7))
    with pytest.raises(BadInputError):
        segment(image, 9, "watershed")
    with pytest.raises(BadInputError, match="n_segments must be at least 1"):
        segment(image, 0)


def test_a_flat_image_segments_without_dividing_by_zero():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 0 / 0 in the scaling would warn
        labels = segment(np.full((10, 10, 3), 0.3, "float32"), 4)
    assert labels.shape == (10, 10) and labels.min() == 0
    np.testing.assert_array_equal(labels, segment(np.full((10, 10, 3), -7.0, "float32"), 4))


# ----------------------------------------------------------------------------- LIME kernels
def test_lime_kernel_weighs_by_closeness_to_the_full_case():
    z = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]], dtype=np.float32)
    cosine = lime_kernel(z, 0.25)
    d = 1 - np.array([1.0, 2 / (math.sqrt(2) * 2), 1 / 2, 0.0])
    d[-1] = 1.0  # empty coalition: as far as possible
    np.testing.assert_allclose(cosine, np.sqrt(np.exp(-(d**2) / 0.0625)), rtol=1e-6)
    euclid = lime_kernel(z, 1.0, "euclidean")
    np.testing.assert_allclose(euclid, np.sqrt(np.exp(-np.array([0, 2, 3, 4]) / 4.0)), rtol=1e-6)


def test_lime_surrogate_recovers_a_linear_score():
    rng = np.random.default_rng(6)
    z = lime_coalitions(6, 500, rng)
    assert z[0].tolist() == [1] * 6 and set(np.unique(z)) == {0, 1}
    effects = np.array([3.0, -1.0, 0.0, 2.0, 0.5, -2.5])
    coef = lime_fit(z, z @ effects + 4.0, lime_kernel(z, 0.25), alpha=1e-6)
    np.testing.assert_allclose(coef, effects, atol=1e-3)


def test_lime_on_a_linear_tabular_model_ranks_like_the_truth(linear_model):
    x = np.random.default_rng(7).normal(size=(2, 5)).astype("float32")
    result = create("lime", linear_model, nb_samples=400, kernel_width=1.0).explain(x, [1, 0])
    weights = linear_model.get_layer("scores").get_weights()[0]
    truth = weights[:, [1, 0]].T * x
    for got, want in zip(result.maps, truth):
        assert np.corrcoef(got, want)[0, 1] > 0.99
    assert result.segments is None


# ------------------------------------------------------------------------ Kernel SHAP kernels
def test_full_enumeration_uses_shapley_kernel_weights():
    z, w = shap_coalitions(5, 1000, np.random.default_rng(0))
    assert len(z) == 2**5 - 2 and len({row.tobytes() for row in z}) == len(z)
    sizes = z.sum(axis=1).astype(int)
    expected = np.array([shapley_kernel(5, s) for s in sizes])
    np.testing.assert_allclose(w / w.sum(), expected / expected.sum(), rtol=1e-9)


def test_shap_solve_gives_exact_shapley_values_of_a_game():
    """v(S) = 2*[0 in S and 1 in S] + 3*[2 in S] + 1*[3 in S]*[4 in S]*[0 in S]: known Shapley values."""
    def game(z):
        return 2 * z[0] * z[1] + 3 * z[2] + z[3] * z[4] * z[0]

    z, w = shap_coalitions(5, 10**4, np.random.default_rng(0))
    values = shap_solve(z, np.array([game(r) for r in z]), w, f_x=game(np.ones(5)), f_baseline=0.0)
    np.testing.assert_allclose(values, [1 + 1 / 3, 1, 3, 1 / 3, 1 / 3], atol=1e-5)


def test_sampled_coalitions_come_in_pairs_and_keep_efficiency():
    m = 12
    z, w = shap_coalitions(m, 300, np.random.default_rng(1))
    assert len(z) <= 300 and np.all(w > 0)
    sizes = z.sum(axis=1)
    assert sizes.min() >= 1 and sizes.max() <= m - 1
    assert {1, m - 1} <= set(sizes.astype(int).tolist())  # the heaviest sizes are enumerated
    scores = np.random.default_rng(2).normal(size=len(z))
    values = shap_solve(z, scores, w, f_x=5.0, f_baseline=1.5)
    assert values.sum() == pytest.approx(3.5, abs=1e-5)


def test_kernel_shap_is_exact_on_a_linear_tabular_model(linear_model):
    x = np.random.default_rng(8).normal(size=(3, 5)).astype("float32")
    result = create("kernel_shap", linear_model, nb_samples=64, fill_value=-0.5).explain(x, [2, 1, 0])
    weights = linear_model.get_layer("scores").get_weights()[0]
    np.testing.assert_allclose(result.maps, weights[:, [2, 1, 0]].T * (x + 0.5), rtol=1e-4, atol=1e-5)


def test_kernel_shap_efficiency_on_images(tiny_cnn, blocks):
    """Sampled (not enumerated) coalitions: the map still sums to f(x) - f(baseline)."""
    result = create("kernel_shap", tiny_cnn, n_segments=16, nb_samples=64, fill_value=0.2).explain(blocks[:2], [1, 3])
    logits = keras.Model(tiny_cnn.inputs, tiny_cnn.get_layer("gap").output)
    dense = tiny_cnn.get_layer("probabilities")
    w, b = dense.get_weights()
    f = logits.predict(blocks[:2], verbose=0) @ w + b
    f0 = logits.predict(np.full_like(blocks[:2], 0.2), verbose=0) @ w + b
    gap = f[[0, 1], [1, 3]] - f0[[0, 1], [1, 3]]
    np.testing.assert_allclose(result.maps.sum(axis=(1, 2, 3)), gap, rtol=1e-3, atol=1e-5)
    assert result.segments.shape == (2, 12, 12) and result.segments.max() == 15


# ------------------------------------------------------------- determinism, segments, batching
@pytest.mark.parametrize("method", sorted(STOCHASTIC))
def test_seeded_determinism_and_batch_size_invariance(tiny_cnn, blocks, method):
    params = STOCHASTIC[method]
    first = create(method, tiny_cnn, seed=3, batch_size=16, **params).explain(blocks)
    again = create(method, tiny_cnn, seed=3, batch_size=7, **params).explain(blocks)
    other = create(method, tiny_cnn, seed=4, batch_size=16, **params).explain(blocks)
    np.testing.assert_allclose(first.maps, again.maps, rtol=1e-5, atol=1e-6)
    assert not np.allclose(first.maps, other.maps)
    assert first.seed == 3 and first.params["seed"] == 3


@pytest.mark.parametrize("method", ["lime", "kernel_shap"])
def test_maps_are_constant_on_each_superpixel(tiny_cnn, blocks, method):
    result = create(method, tiny_cnn, **STOCHASTIC[method]).explain(blocks)
    for heat, labels in zip(result.heatmap, result.segments):
        for label in np.unique(labels):
            values = heat[labels == label]
            assert np.ptp(values) <= 1e-6 * max(1.0, np.abs(values).max())


def _spy_batches(monkeypatch) -> list[int]:
    """Record the number of rows of every batch an explainer evaluates."""
    sizes: list[int] = []
    original = Explainer.run_batches

    def spy(self, fn, n_rows, rows, consume=None, span=(0.0, 1.0)):
        def counted(a, b):
            arrays = rows(a, b)
            sizes.append(len(arrays[0]))
            return arrays

        return original(self, fn, n_rows, counted, consume, span)

    monkeypatch.setattr(Explainer, "run_batches", spy)
    return sizes


@pytest.mark.parametrize(
    "method, params, evaluations",
    [
        ("occlusion", {"patch_size": 4, "stride": 4}, 3 * 9 + 3),  # 9 patches per case + the case itself
        ("rise", {"nb_samples": 50}, 3 * 50),
        ("lime", {"nb_samples": 30}, 3 * 30),
        ("scorecam", {}, None),
    ],
)
def test_every_evaluation_runs_in_batches_of_batch_size(tiny_cnn, images, monkeypatch, method, params, evaluations):
    sizes = _spy_batches(monkeypatch)
    explainer = create(method, tiny_cnn, batch_size=8, **params)
    explainer.explain(images[:3], [0, 1, 2])
    assert max(sizes) <= 8
    assert sum(sizes[:-1]) > 8  # many rows, several full batches
    if evaluations is not None:
        assert sum(explainer.evaluations.values()) == evaluations


def test_progress_is_monotonic_and_cancel_stops(tiny_cnn, images):
    seen: list[float] = []
    create("rise", tiny_cnn, nb_samples=64, batch_size=8).explain(images[:2], progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) > 10
    calls = itertools.count()
    from engine.errors import Cancelled

    with pytest.raises(Cancelled):
        create("occlusion", tiny_cnn, patch_size=2, stride=1, batch_size=4).explain(
            images[:2], cancel=lambda: next(calls) >= 3
        )
