"""Quality metrics against known answers: a model that looks at one known region, a linear model
whose exact attribution is known, a model-independent map, seeded repeats and batch sizes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from engine import explainers  # noqa: E402
from engine.errors import BadInputError, Cancelled  # noqa: E402
from engine.metrics import available, create  # noqa: E402

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"
REGION = (slice(2, 5), slice(3, 6))  # the only pixels the region model looks at


def dense_image_model(weights: np.ndarray, name: str) -> keras.Model:
    """(8, 8, 1) -> Flatten -> Dense(K) logits with the given (64, K) weights and zero bias."""
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(weights.shape[1])], name=name)
    model.layers[-1].set_weights([weights.astype("float32"), np.zeros(weights.shape[1], "float32")])
    return model


@pytest.fixture(scope="module")
def region_model() -> keras.Model:
    weights = np.zeros((8, 8, 2))
    weights[REGION + (0,)] = 1.0
    return dense_image_model(weights.reshape(64, 2), "region")


@pytest.fixture(scope="module")
def linear_model() -> keras.Model:
    return dense_image_model(np.random.default_rng(3).normal(size=(64, 3)), "linear")


@pytest.fixture(scope="module")
def smooth_model() -> keras.Model:
    keras.utils.set_random_seed(4)
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(3)], name="smooth")


@pytest.fixture(scope="module")
def cnn() -> keras.Model:
    keras.utils.set_random_seed(2)
    layers = [keras.layers.Conv2D(4, 3, activation="tanh"), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3)]
    return keras.Sequential([keras.Input((8, 8, 1)), *layers], name="cnn")


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(5).uniform(0.5, 1.0, size=(4, 8, 8, 1)).astype("float32")


@pytest.fixture(scope="module")
def demo() -> tuple[keras.Model, np.ndarray]:
    from engine.models import load_model

    model, _ = load_model(DEMO / "digits_cnn.keras")
    x = np.load(DEMO / "digits_cases.npz")["x"][:4].astype("float32") / 255.0
    return model, x


def region_maps(images: np.ndarray) -> dict[str, np.ndarray]:
    concentrated = np.zeros(images.shape[:3], np.float32)
    concentrated[(slice(None),) + REGION] = 1.0
    concentrated += np.random.default_rng(0).uniform(0, 0.01, concentrated.shape).astype("float32")  # no ties
    random = np.random.default_rng(1).normal(size=images.shape[:3]).astype("float32")
    return {"concentrated": concentrated, "random": random, "inverted": -concentrated}


def edge_filter(model: keras.Model, x: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """A model-independent 'explanation': the input's gradient magnitude (Sobel)."""
    from scipy import ndimage

    return np.hypot(ndimage.sobel(x, axis=1), ndimage.sobel(x, axis=2))


def test_registry_lists_every_metric_with_direction_and_meaning() -> None:
    infos = {info.name: info for info in available()}
    assert list(infos) == ["deletion", "insertion", "mufidelity", "max_sensitivity", "randomisation", "sparseness"]
    assert infos["deletion"].better == "lower" and infos["insertion"].better == "higher"
    assert infos["randomisation"].needs_method and not infos["deletion"].needs_method
    assert all(info.description for info in infos.values())
    with pytest.raises(BadInputError, match="Unknown metric"):
        create("nope", None)


def test_deletion_and_insertion_order_maps_on_a_known_region(region_model, images) -> None:
    maps = region_maps(images)
    auc = {
        kind: {name: create(kind, region_model, steps=16, output="logit").evaluate(images, m, 0) for name, m in maps.items()}
        for kind in ("deletion", "insertion")
    }
    d = {name: r.scores for name, r in auc["deletion"].items()}
    i = {name: r.scores for name, r in auc["insertion"].items()}
    assert np.all(d["concentrated"] < d["random"]) and np.all(d["random"] < d["inverted"])
    assert np.all(i["concentrated"] > i["random"]) and np.all(i["random"] > i["inverted"])
    full = images[(slice(None),) + REGION].sum(axis=(1, 2, 3))
    curves = auc["deletion"]["concentrated"].curves
    assert curves.shape == (4, 17) and curves.dtype == np.float64
    np.testing.assert_allclose(curves[:, 0], full, rtol=1e-5)  # nothing removed: the full logit
    np.testing.assert_allclose(curves[:, 3:], 0.0, atol=1e-5)  # 12 of 64 removed: the 9 region pixels are gone
    np.testing.assert_allclose(auc["deletion"]["inverted"].curves[:, -1], 0.0, atol=1e-5)


def test_deletion_takes_an_image_map_or_a_channel_map(region_model, images) -> None:
    metric = create("deletion", region_model, output="logit")
    heat = region_maps(images)["concentrated"]
    np.testing.assert_array_equal(metric.evaluate(images, heat, 0).scores, metric.evaluate(images, heat[..., None], 0).scores)
    with pytest.raises(BadInputError, match="maps must have shape"):
        metric.evaluate(images, heat[:, :4], 0)


def test_mufidelity_of_a_linear_models_exact_attribution_is_one(linear_model, images) -> None:
    targets = np.array([0, 1, 2, 1])
    weights = linear_model.layers[-1].get_weights()[0].reshape(8, 8, 3)
    exact = np.moveaxis(weights[..., targets], -1, 0)[..., None] * images  # gradient x input, baseline 0
    for correlation in ("spearman", "pearson"):
        metric = create("mufidelity", linear_model, output="logit", grid_size=4, nb_samples=32, correlation=correlation)
        assert np.all(np.abs(metric.evaluate(images, exact, targets).scores - 1.0) < 0.05)
    noise = np.random.default_rng(2).normal(size=images.shape)
    assert np.all(create("mufidelity", linear_model, output="logit", grid_size=4).evaluate(images, noise, targets).scores < 0.6)


def test_randomisation_fails_an_edge_filter_and_passes_saliency_of_the_trained_demo(demo) -> None:
    model, x = demo
    weights = [w.copy() for w in model.get_weights()]
    edges = create("randomisation", model, method=edge_filter).evaluate(x, edge_filter(model, x, None))
    assert not edges.passed.any() and np.all(edges.scores > 0.99)
    saliency = explainers.create("saliency", model, output="probability").explain(x)
    result = create("randomisation", model, method="saliency", method_params={"output": "probability"}).evaluate(
        x, saliency.maps, saliency.targets
    )
    assert result.passed.all() and np.all(result.scores < result.threshold)
    assert result.details["cascade"].shape == (4, 3)
    for before, after in zip(weights, model.get_weights()):  # the model is given back untouched
        np.testing.assert_array_equal(before, after)


def test_randomisation_restores_the_weights_when_cancelled(demo) -> None:
    model, x = demo
    weights = [w.copy() for w in model.get_weights()]
    metric = create("randomisation", model, method="saliency", batch_size=1)
    calls = iter(range(100))
    with pytest.raises(Cancelled):
        metric.evaluate(x, np.ones(x.shape), 0, cancel=lambda: next(calls) > 2)
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_max_sensitivity_of_a_smooth_model_is_far_below_a_random_maps(smooth_model) -> None:
    x = np.random.default_rng(6).uniform(-1, 1, size=(5, 6)).astype("float32")
    saliency = explainers.create("saliency", smooth_model, output="logit").explain(x, 0).maps
    smooth = create("max_sensitivity", smooth_model, method="saliency", method_params={"output": "logit"}).evaluate(x, saliency, 0)
    rng = np.random.default_rng(7)
    noise = create("max_sensitivity", smooth_model, method=lambda m, xs, t: rng.normal(size=xs.shape)).evaluate(
        x, rng.normal(size=x.shape), 0
    )
    assert np.all(smooth.scores < 0.1 * noise.scores) and np.all(noise.scores > 0.5)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("mufidelity", {"grid_size": 4, "nb_samples": 16}),
        ("max_sensitivity", {"method": "smoothgrad", "method_params": {"nb_samples": 4}, "nb_samples": 3}),
        ("randomisation", {"method": "saliency"}),
    ],
)
def test_seeded_metrics_repeat_bit_for_bit(name, params, cnn, images) -> None:
    maps = np.random.default_rng(8).normal(size=images.shape)
    first = create(name, cnn, seed=3, **params).evaluate(images, maps)
    again = create(name, cnn, seed=3, **params).evaluate(images, maps)
    other = create(name, cnn, seed=4, **params).evaluate(images, maps)
    np.testing.assert_array_equal(first.scores, again.scores)
    assert not np.array_equal(first.scores, other.scores)
    assert first.provenance["seed"] == 3 and first.provenance["maps_sha256"] == again.provenance["maps_sha256"]


@pytest.mark.parametrize("name", ["deletion", "insertion", "mufidelity", "max_sensitivity", "sparseness"])
def test_batch_size_does_not_change_scores(name, cnn, images) -> None:
    maps = np.random.default_rng(9).normal(size=images.shape)
    small = create(name, cnn, batch_size=3).evaluate(images, maps, [0, 1, 2, 0])
    large = create(name, cnn, batch_size=64).evaluate(images, maps, [0, 1, 2, 0])
    np.testing.assert_allclose(small.scores, large.scores, rtol=1e-5, atol=1e-7)


def test_sparseness_is_the_gini_index(linear_model) -> None:
    x = np.zeros((3, 8, 8, 1), np.float32)
    maps = np.zeros((3, 8, 8))
    maps[1] = 1.0  # even: 0
    maps[2, 0, 0] = -5.0  # one pixel holds everything: (n - 1) / n
    scores = create("sparseness", linear_model).evaluate(x, maps).scores
    np.testing.assert_allclose(scores, [0.0, 0.0, 63 / 64])


def test_region_scores_point_and_weigh_the_map_inside_the_box() -> None:
    from engine.metrics.region import region_scores

    heat = np.zeros((8, 8))
    heat[2, 3], heat[6, 6] = 3.0, 1.0
    inside = region_scores(heat, (1, 2, 4, 5), (8, 8))
    assert inside.pointing_hit and inside.mass_inside == pytest.approx(0.75)
    outside = region_scores(heat, (5, 5, 8, 8), (8, 8))
    assert not outside.pointing_hit and outside.mass_inside == pytest.approx(0.25)
    coarse = np.zeros((4, 4))
    coarse[1, 1], coarse[3, 3] = 2.0, 2.0  # a (4, 4) map of an (8, 8) image: the box is its top-left quarter
    scores = region_scores(coarse, (0, 0, 4, 4), (8, 8))
    assert scores.pointing_hit and scores.mass_inside == pytest.approx(0.5)
    with pytest.raises(BadInputError, match="does not overlap"):
        region_scores(heat, (9, 9, 12, 12), (8, 8))


def _deletion_curve_by_hand(x: np.ndarray, fill: np.ndarray, saliency: np.ndarray, w: np.ndarray, steps: int) -> np.ndarray:
    """The linear model's logit as the top-ranked pixels of one case take the baseline's values."""
    order = np.argsort(-saliency.ravel(), kind="stable")
    curve = []
    for count in np.round(np.linspace(0, x.size, steps + 1)).astype(int):
        z = x.ravel().astype(np.float64).copy()
        z[order[:count]] = fill.ravel()[order[:count]]
        curve.append(z @ w.ravel())
    return np.array(curve)


def test_baselines_mean_blur_and_arrays_have_their_known_answers(linear_model, images) -> None:
    from scipy.ndimage import gaussian_filter

    targets = np.array([0, 1, 2, 1])
    weights = linear_model.layers[-1].get_weights()[0].reshape(8, 8, 3)
    maps = np.random.default_rng(7).normal(size=images.shape[:3]).astype("float32")
    per_case = np.random.default_rng(8).uniform(size=images.shape).astype("float32")
    fills = {
        "mean": np.broadcast_to(images.mean(axis=(1, 2), keepdims=True), images.shape),
        "blur": gaussian_filter(images.astype(np.float64), (0, 1.5, 1.5, 0), mode="nearest"),
        "array": per_case,
        "one case's array": np.broadcast_to(per_case[0], images.shape),
        "number": np.full(images.shape, 0.25),
    }
    given = {"mean": "mean", "blur": "blur", "array": per_case, "one case's array": per_case[0], "number": 0.25}
    for name, fill in fills.items():
        deletion = create("deletion", linear_model, output="logit", steps=8, baseline=given[name], blur_sigma=1.5)
        result = deletion.evaluate(images, maps, targets)
        for i, t in enumerate(targets):
            expected = _deletion_curve_by_hand(images[i], fill[i], maps[i], weights[..., t], 8)
            np.testing.assert_allclose(result.curves[i], expected, rtol=1e-4, atol=1e-4, err_msg=name)
        insertion = create("insertion", linear_model, output="logit", steps=8, baseline=given[name], blur_sigma=1.5)
        start = insertion.evaluate(images, maps, targets).curves[:, 0]  # nothing revealed yet: f(baseline)
        np.testing.assert_allclose(start, [fill[i].ravel() @ weights[..., t].ravel() for i, t in enumerate(targets)],
                                   rtol=1e-4, atol=1e-4, err_msg=name)
        exact = np.moveaxis(weights[..., targets], -1, 0)[..., None] * (images - fill)  # exact for this baseline
        fidelity = create("mufidelity", linear_model, output="logit", grid_size=4, nb_samples=32,
                          baseline=given[name], blur_sigma=1.5)
        assert np.all(np.abs(fidelity.evaluate(images, exact, targets).scores - 1.0) < 0.05), name
    flat = np.full((2, 8, 8, 1), 0.7, np.float32)  # blurring a constant image changes nothing: a flat curve
    curves = create("deletion", linear_model, output="logit", baseline="blur").evaluate(flat, maps[:2], [0, 1]).curves
    np.testing.assert_allclose(curves, np.repeat(curves[:, :1], curves.shape[1], axis=1), rtol=1e-5)
    assert "sha256=" in create("deletion", linear_model, baseline=per_case).evaluate(images, maps).params["baseline"]


@pytest.mark.parametrize(("baseline", "words"), [
    ("wobble", "'mean' or 'blur'"), (np.zeros((3, 3)), "must have the input's shape"),
])
def test_a_bad_baseline_is_a_clear_error(linear_model, images, baseline, words) -> None:
    with pytest.raises(BadInputError, match=words):
        create("deletion", linear_model, baseline=baseline).evaluate(images, images[..., 0])


def test_blur_needs_an_image(smooth_model) -> None:
    x = np.random.default_rng(0).normal(size=(2, 6)).astype("float32")
    with pytest.raises(BadInputError, match="needs image input"):
        create("deletion", smooth_model, baseline="blur").evaluate(x, x)
    mean = create("deletion", smooth_model, baseline="mean", output="logit").evaluate(x, x).curves[:, -1]
    expected = smooth_model(np.repeat(x.mean(axis=1, keepdims=True), 6, axis=1)).numpy()  # every feature: the row mean
    target = np.argmax(smooth_model(x).numpy(), axis=1)
    np.testing.assert_allclose(mean, expected[np.arange(2), target], rtol=1e-5)


def test_a_free_form_region_scores_the_pixels_it_encloses() -> None:
    from engine.metrics.region import polygon_scores, region_scores

    rng = np.random.default_rng(3)
    heat = rng.random((8, 8))
    square = np.array([(2, 1), (5, 1), (5, 4), (2, 4)], float)  # (x, y): columns 2-4, rows 1-3
    as_polygon, as_box = polygon_scores(heat, square, (8, 8)), region_scores(heat, (1, 2, 4, 5), (8, 8))
    assert as_polygon.mass_inside == pytest.approx(as_box.mass_inside) and as_polygon.box == as_box.box
    triangle = np.array([(0, 0), (8, 0), (0, 8)], float)  # the pixels whose centre has row + col < 7
    rows, cols = np.indices((8, 8))
    expected = heat[rows + cols < 7].sum() / heat.sum()
    found = polygon_scores(heat, triangle, (8, 8))
    assert found.mass_inside == pytest.approx(expected)
    assert found.pointing_hit == bool(sum(np.unravel_index(np.argmax(heat), heat.shape)) < 7)
    assert found.as_record()["polygon_x_y"] == [[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]]
    coarse = np.zeros((2, 2))
    coarse[0, 0], coarse[1, 1] = 1.0, 3.0  # a (2, 2) map of the (8, 8) image: the triangle covers 3 cells
    assert polygon_scores(coarse, triangle, (8, 8)).mass_inside == pytest.approx(0.25)
    with pytest.raises(BadInputError, match="holds no pixel"):
        polygon_scores(heat, np.array([(20, 20), (30, 20), (30, 30)], float), (8, 8))


def test_rank_rows_is_scipys_rankdata_ties_included() -> None:
    from scipy.stats import rankdata

    from engine.metrics.base import rank_rows

    rng = np.random.default_rng(9)
    continuous = np.abs(rng.normal(size=(5, 300)))
    continuous[:, :40] = 0.0  # dead pixels: one long tie
    for values in (continuous, rng.integers(0, 4, size=(6, 2, 25)).astype(float), np.zeros((2, 7))):
        np.testing.assert_array_equal(rank_rows(values), rankdata(values, axis=-1))


def test_randomisation_keeps_its_draws_and_follows_the_weights_scale(cnn, images) -> None:
    """The same seed re-draws the same standard normals; a model whose weights changed in place is
    drawn at its new scale (weights x 3: every re-drawn value x 3), and is given back each time."""
    seen: list[list[np.ndarray]] = []

    def snapshot(model, x, targets):  # a callable method: records the weights it is shown
        seen.append([w.copy() for w in model.get_weights()])
        return np.abs(x)

    trained = [w.copy() for w in cnn.get_weights()]
    create("randomisation", cnn, method=snapshot, stages=1, seed=5).evaluate(images, np.abs(images))
    cnn.set_weights([3 * w for w in trained])
    try:
        create("randomisation", cnn, method=snapshot, stages=1, seed=5).evaluate(images, np.abs(images))
        for first, scaled in zip(seen[0], seen[1]):
            np.testing.assert_allclose(scaled, 3 * first, rtol=1e-4, atol=1e-6)
        for now, given in zip(cnn.get_weights(), trained):
            np.testing.assert_array_equal(now, 3 * given)
    finally:
        cnn.set_weights(trained)
    assert not np.allclose(seen[0][0], trained[0])  # it did re-draw
