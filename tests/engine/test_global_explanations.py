"""Global explanations: permutation importance is scikit-learn's, draw for draw; only the
features a model uses matter; NormLIME ranks them first; summaries of a linear model are |w x|."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.errors import Cancelled
from engine.global_explanations import attribution_summary, normlime, permutation_importance
from engine.global_explanations.results import from_storage, to_storage


@pytest.fixture(scope="module")
def fitted():
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    x, y = make_classification(n_samples=300, n_features=6, n_informative=3, n_redundant=1, n_classes=3,
                               random_state=1)
    return LogisticRegression(max_iter=500).fit(x, y), x, y


class Wrapped:
    """A fitted scikit-learn estimator as a model: called on a batch, it gives probabilities."""

    def __init__(self, estimator):
        self.estimator = estimator

    def __call__(self, x, training=False):
        return self.estimator.predict_proba(x)


@pytest.mark.parametrize("ours, theirs", [("accuracy", "accuracy"), ("log_loss", "neg_log_loss"), ("log-loss", "neg_log_loss")])
def test_permutation_importance_equals_scikit_learns(fitted, ours, theirs) -> None:
    from sklearn.inspection import permutation_importance as sklearn_pi

    estimator, x, y = fitted
    mine = permutation_importance(Wrapped(estimator), x, y, n_repeats=4, seed=3, scoring=ours, batch_size=97)
    ref = sklearn_pi(estimator, x, y, n_repeats=4, random_state=3, scoring=theirs)
    assert mine.importances.shape == (6, 4) and mine.importances_mean.shape == (6,)
    np.testing.assert_allclose(mine.importances, ref.importances, atol=1e-6)
    np.testing.assert_allclose(mine.importances_mean, ref.importances_mean, atol=1e-6)
    np.testing.assert_allclose(mine.importances_std, ref.importances_std, atol=1e-6)
    assert mine.scoring == theirs


def test_seeds_repeat_and_differ(fitted) -> None:
    estimator, x, y = fitted
    model = Wrapped(estimator)
    a = permutation_importance(model, x, y, n_repeats=3, seed=7)
    b = permutation_importance(model, x, y, n_repeats=3, seed=7, batch_size=31)
    c = permutation_importance(model, x, y, n_repeats=3, seed=8)
    np.testing.assert_array_equal(a.importances, b.importances)  # batch size does not matter
    assert not np.array_equal(a.importances, c.importances)


def test_a_callable_scoring_is_higher_is_better(fitted) -> None:
    estimator, x, y = fitted

    def balanced(y_true, p):
        predicted = p.argmax(axis=1)
        return float(np.mean([np.mean(predicted[y_true == k] == k) for k in np.unique(y_true)]))

    r = permutation_importance(Wrapped(estimator), x, y, n_repeats=2, scoring=balanced)
    assert r.scoring == "balanced" and r.baseline_score == pytest.approx(balanced(y, estimator.predict_proba(x)))


def _linear(kernel: np.ndarray, bias: np.ndarray | None = None):
    import keras

    inputs = keras.Input(kernel.shape[:1])
    layer = keras.layers.Dense(kernel.shape[1], activation="softmax")
    model = keras.Model(inputs, layer(inputs))
    layer.set_weights([kernel.astype(np.float32), np.zeros(kernel.shape[1], np.float32) if bias is None else bias])
    return model


@pytest.fixture(scope="module")
def uses_2_and_5():
    kernel = np.zeros((8, 2))
    kernel[2], kernel[5] = [-2.0, 2.0], [1.5, -1.5]
    x = np.random.default_rng(0).normal(size=(400, 8)).astype(np.float32)
    model = _linear(kernel)
    y = (x[:, 2] * 4 - x[:, 5] * 3 > 0).astype(np.int64)
    return model, x, y


def test_only_the_used_features_matter(uses_2_and_5) -> None:
    model, x, y = uses_2_and_5
    r = permutation_importance(model, x, y, n_repeats=5, seed=0, batch_size=256)
    others = np.delete(r.importances, [2, 5], axis=0)
    assert np.all(others == 0.0)  # the output does not change at all
    assert r.importances_mean[2] > 0.1 and r.importances_mean[5] > 0.1
    n, rows = len(x), 8 * 5 * len(x)
    assert r.rows == n + rows and r.model_calls == math.ceil(n / 256) + math.ceil(rows / 256)


def test_normlime_ranks_the_used_features_first(uses_2_and_5) -> None:
    model, x, _ = uses_2_and_5
    r = normlime(model, x[:64], nb_samples=300, seed=0)
    assert set(np.argsort(-r.importances)[:2]) == {2, 5}
    assert r.by_class.shape == (2, 8) and r.class_counts.sum() == 64
    predicted = np.asarray(model(x[:64])).argmax(axis=1)
    np.testing.assert_array_equal(r.classes, predicted)
    normalised = r.weights**2 / np.abs(r.weights).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(r.by_class[1], normalised[predicted == 1].mean(axis=0), rtol=1e-6)
    # The beeswarm's per-case values: the normalised weights signed as the LIME weights, over the rows.
    np.testing.assert_allclose(r.normalised, np.sign(r.weights) * normalised, rtol=1e-12)
    np.testing.assert_allclose(np.abs(r.normalised).mean(axis=0), r.importances, rtol=1e-9)
    np.testing.assert_array_equal(r.feature_values, x[:64])
    back = from_storage(*to_storage(r))
    np.testing.assert_array_equal(back.feature_values, r.feature_values)
    _, meta = to_storage(r)
    arrays = {k: v for k, v in to_storage(r)[0].items() if k != "feature_values"}  # cached before it was kept
    assert from_storage(arrays, meta).feature_values is None


def test_summary_of_a_linear_model_is_mean_abs_w_times_x() -> None:
    rng = np.random.default_rng(2)
    kernel = rng.normal(size=(5, 3))
    x = rng.normal(size=(90, 5)).astype(np.float32)
    model = _linear(kernel)
    r = attribution_summary(model, x, "gradient_x_input")
    predicted = (x @ kernel).argmax(axis=1)
    np.testing.assert_array_equal(r.classes, predicted)
    expected = kernel[:, predicted].T * x  # the logit's gradient is the class's weights
    np.testing.assert_allclose(r.values, expected, rtol=1e-4, atol=1e-6)
    for k in range(3):
        np.testing.assert_allclose(r.mean_abs_by_class[k], np.abs(expected[predicted == k]).mean(axis=0), rtol=1e-4)
    np.testing.assert_allclose(r.mean_abs, np.abs(expected).mean(axis=0), rtol=1e-4)
    back = from_storage(*to_storage(r))
    np.testing.assert_array_equal(back.values, r.values) and back.feature_names == r.feature_names


def test_images_use_shared_regions() -> None:
    """A model that reads only the top-left 4x4 cell of an 8x8 image: only that cell matters."""
    import keras

    kernel = np.zeros((8, 8, 1, 2), np.float32)
    kernel[:4, :4, 0] = [-1.0, 1.0]
    inputs = keras.Input((8, 8, 1))
    dense = keras.layers.Dense(2, activation="softmax")
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    dense.set_weights([kernel.reshape(64, 2), np.zeros(2, np.float32)])
    x = np.random.default_rng(1).normal(size=(60, 8, 8, 1)).astype(np.float32)
    y = np.asarray(model(x)).argmax(axis=1)
    r = permutation_importance(model, x, y, n_repeats=3, cell_size=4)
    assert r.importances.shape == (4, 3) and r.segments.shape == (8, 8)
    assert r.importances_mean[0] > 0.2 and np.all(r.importances[1:] == 0.0)
    s = attribution_summary(model, x, "gradient_x_input")
    maps = s.mean_abs_by_class.reshape(-1, 8, 8)
    assert s.shape == (8, 8) and maps.shape == (2, 8, 8)
    assert np.all(maps[:, 4:, :] == 0) and np.all(maps[:, :4, :4] > 0)
    lime = normlime(model, x[:8], nb_samples=50, cell_size=4)  # a region's value: its pixels' mean
    cells = x[:8, :, :, 0].reshape(8, 2, 4, 2, 4).mean(axis=(2, 4)).reshape(8, 4)
    np.testing.assert_allclose(lime.feature_values, cells, rtol=1e-5, atol=1e-6)


def test_cancel_stops_it(uses_2_and_5) -> None:
    model, x, y = uses_2_and_5
    seen = []
    with pytest.raises(Cancelled):
        permutation_importance(model, x, y, batch_size=64, progress=seen.append, cancel=lambda: len(seen) > 3)
    assert 3 < len(seen) < 20 and seen == sorted(seen)


def test_tasks_sample_cache_and_record_provenance(uses_2_and_5, monkeypatch) -> None:
    from engine import global_explanations
    from engine.data import Dataset
    from engine.jobs import Job, run_job
    from engine.tasks import NormLimeRequest, PermutationImportanceRequest
    from engine.workspace import Workspace

    model, x, y = uses_2_and_5
    workspace = Workspace(model=model, dataset=Dataset.from_arrays(x, y))
    request = PermutationImportanceRequest(n_repeats=2, max_cases=150, seed=4)
    first = run_job(Job(request), workspace)
    assert len(first.cases) == 150 and np.all(np.diff(first.cases) > 0)
    direct = global_explanations.permutation_importance(model, x[first.cases], y[first.cases], n_repeats=2, seed=4)
    np.testing.assert_array_equal(first.importances, direct.importances)
    assert first.provenance["dataset_hash"] == workspace.dataset.hash and first.provenance["labels"] == "dataset labels"
    assert first.provenance["model_sha256"] and first.provenance["n_cases"] == 150
    assert run_job(Job(request), workspace) is first  # memory cache

    calls = []
    monkeypatch.setattr(global_explanations.tasks, "permutation_importance", lambda *a, **k: calls.append(1))
    workspace.cache.clear()
    again = run_job(Job(request), workspace)  # from the verified disk cache, not recomputed
    assert calls == [] and again is not first
    np.testing.assert_array_equal(again.importances, first.importances)
    np.testing.assert_array_equal(again.cases, first.cases)
    assert again.feature_names == first.feature_names and again.provenance == first.provenance

    unknown = Workspace(model=model, dataset=Dataset.from_arrays(x[:40]))
    lime = run_job(Job(NormLimeRequest(nb_samples=50)), unknown)
    assert lime.importances.shape == (8,) and len(lime.cases) == 40


def test_lime_fit_is_scikit_learns_weighted_ridge() -> None:
    from sklearn.linear_model import Ridge

    from engine.explainers.surrogates import lime_coalitions, lime_fit, lime_kernel

    rng = np.random.default_rng(5)
    z = lime_coalitions(12, 300, rng)
    scores = z @ rng.normal(size=12) + rng.normal(scale=0.1, size=300) + 2.0
    weights = lime_kernel(z, 0.25)
    for alpha in (1.0, 0.01):
        ref = Ridge(alpha=alpha).fit(z.astype(np.float64), scores, sample_weight=weights).coef_
        np.testing.assert_allclose(lime_fit(z, scores, weights, alpha), ref, rtol=1e-5, atol=1e-6)


def _two_head_model():
    """Head 0 ("first") reads only feature 0, head 1 ("second") only feature 3: fixed weights."""
    import keras

    inputs = keras.Input((4,))
    first = keras.layers.Dense(2, activation="softmax", name="first")
    second = keras.layers.Dense(2, activation="softmax", name="second")
    model = keras.Model(inputs, [first(inputs), second(inputs)])
    w0 = np.zeros((4, 2), np.float32)
    w0[0] = [-4.0, 4.0]
    w1 = np.zeros((4, 2), np.float32)
    w1[3] = [-4.0, 4.0]
    first.set_weights([w0, np.zeros(2, np.float32)])
    second.set_weights([w1, np.zeros(2, np.float32)])
    return model


def test_each_head_of_a_two_head_model_has_its_own_importances() -> None:
    model = _two_head_model()
    x = np.random.default_rng(0).normal(size=(200, 4)).astype(np.float32)
    y0, y1 = (x[:, 0] > 0).astype(int), (x[:, 3] > 0).astype(int)
    by_default = permutation_importance(model, x, y0, n_repeats=3, seed=0)
    first = permutation_importance(model, x, y0, n_repeats=3, seed=0, head=0)
    second = permutation_importance(model, x, y1, n_repeats=3, seed=0, head="second")
    np.testing.assert_array_equal(by_default.importances, first.importances)
    assert first.baseline_score == second.baseline_score == 1.0
    assert np.argmax(first.importances_mean) == 0 and np.argmax(second.importances_mean) == 3
    assert first.importances_mean[0] > 0.3 and second.importances_mean[3] > 0.3
    np.testing.assert_array_equal(first.importances[1:], 0.0)
    np.testing.assert_array_equal(second.importances[:3], 0.0)
    assert (first.params["head"], second.params["head"]) == (0, 1)


def test_an_unknown_head_is_refused_with_the_outputs_named() -> None:
    from engine.errors import BadInputError

    x = np.zeros((4, 4), np.float32)
    with pytest.raises(BadInputError, match="0: first, 1: second"):
        permutation_importance(_two_head_model(), x, np.zeros(4, int), n_repeats=1, head=2)


def test_normlime_and_the_summary_explain_the_chosen_head() -> None:
    model = _two_head_model()
    x = np.random.default_rng(1).normal(size=(24, 4)).astype(np.float32)
    for head, used in ((0, 0), ("second", 3)):
        lime = normlime(model, x, nb_samples=200, seed=0, head=head)
        summary = attribution_summary(model, x, "gradient_x_input", head=head)
        assert np.argmax(lime.importances) == used and np.argmax(summary.mean_abs) == used
        np.testing.assert_allclose(np.delete(summary.mean_abs, used), 0.0, atol=1e-6)
        assert lime.params["head"] == summary.params["head"] == head
