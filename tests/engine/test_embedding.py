"""Embedding: features at a layer, projections that keep clusters apart, disk cache, cancel, regions."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from engine import embedding
from engine.data import Dataset
from engine.decision_regions import decision_regions
from engine.errors import BadInputError, Cancelled
from engine.jobs import CancelToken, JobContext
from engine.workspace import Workspace


def clusters(k: int = 5, per: int = 60, dim: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Well-separated Gaussian clusters: centres ~10 apart per axis, unit noise."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 10.0, (k, dim))
    y = np.repeat(np.arange(k), per)
    return (centres[y] + rng.normal(0.0, 1.0, (k * per, dim))).astype(np.float32), y


@pytest.fixture(scope="module")
def tiny_model():
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dense(6, activation="relu", name="embedding")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="tiny")


def make_workspace(model, n: int = 40, seed: int = 0) -> Workspace:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 8, 8, 1)).astype(np.float32)
    workspace = Workspace(model=model)
    workspace.dataset = Dataset.from_arrays(x, rng.integers(0, 3, n), ["a", "b", "c"], name="tiny cases")
    return workspace


@pytest.mark.parametrize("method", ["pca", "tsne", "umap"])
def test_projection_keeps_separated_clusters_apart(method: str) -> None:
    x, y = clusters()
    coords = embedding.project(x, method, seed=0)
    assert coords.shape == (len(x), 2) and coords.dtype == np.float32
    accuracy = cross_val_score(KNeighborsClassifier(5), coords, y, cv=5).mean()
    assert accuracy > 0.95


def test_projection_is_reproducible_with_a_seed() -> None:
    x, _ = clusters(k=3, per=40)
    first = embedding.project(x, "tsne", {"perplexity": 10.0}, seed=3)
    again = embedding.project(x, "tsne", {"perplexity": 10.0}, seed=3)
    np.testing.assert_allclose(first, again, atol=1e-5)


def test_unknown_method_or_parameter_is_a_bad_input() -> None:
    x, _ = clusters(k=2, per=10)
    with pytest.raises(BadInputError, match="isomap"):
        embedding.project(x, "isomap")
    with pytest.raises(BadInputError, match="perplexity"):
        embedding.project(x, "umap", {"perplexity": 5})


def test_pooling_of_image_features() -> None:
    batch = np.arange(2 * 3 * 3 * 4, dtype=np.float32).reshape(2, 3, 3, 4)
    assert embedding.pool(batch, "avg").shape == (2, 4)
    np.testing.assert_allclose(embedding.pool(batch, "avg")[0], batch[0].mean(axis=(0, 1)))
    np.testing.assert_allclose(embedding.pool(batch, "max")[1], batch[1].max(axis=(0, 1)))
    assert embedding.pool(batch, "flatten").shape == (2, 36)
    assert embedding.pool(batch[:, 0, 0, :], "avg").shape == (2, 4)  # already flat: unchanged


def test_default_layer_is_the_input_of_the_last_dense(tiny_model) -> None:
    import keras

    assert embedding.default_layer(tiny_model) == "embedding"
    seq = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(name="flat"), keras.layers.Dense(2, name="out")])
    assert embedding.default_layer(seq) == "flat"


def test_predictions_from_logits_and_sigmoid() -> None:
    predicted, confidence = embedding.predictions(np.array([[2.0, 0.0, -1.0], [0.0, 3.0, 0.0]]))
    assert predicted.tolist() == [0, 1]
    np.testing.assert_allclose(confidence[1], np.exp(3) / (np.exp(3) + 2), rtol=1e-5)
    predicted, confidence = embedding.predictions(np.array([[0.9], [0.2]]))
    assert predicted.tolist() == [1, 0]
    np.testing.assert_allclose(confidence, [0.9, 0.8], rtol=1e-5)


def test_task_features_predictions_and_regions(tiny_model) -> None:
    workspace = make_workspace(tiny_model)
    result = embedding.embedding_task(JobContext(workspace), method="pca", batch_size=16)
    n = len(workspace.dataset)
    assert result.coords.shape == (n, 2)
    assert result.layer == "embedding" and result.feature_dim == 6 and result.feature_shape == (6,)
    expected = tiny_model.predict(workspace.dataset.inputs(range(n)), verbose=0)
    np.testing.assert_array_equal(result.predicted, expected.argmax(axis=1))
    np.testing.assert_allclose(result.confidence, expected.max(axis=1), rtol=1e-4)
    np.testing.assert_array_equal(result.labels, workspace.dataset.labels)
    assert result.provenance["dataset_hash"] == workspace.dataset.hash
    assert result.provenance["params"] == {} and result.provenance["method"] == "pca"
    assert result.regions is not None
    assert (result.regions.class_at(result.coords) == result.predicted).mean() > 0.9


def test_pooled_conv_layer_and_thumbnails(tiny_model) -> None:
    workspace = make_workspace(tiny_model, n=12)
    result = embedding.embedding_task(
        JobContext(workspace), layer="conv", pooling="flatten", method="pca", regions=False, thumbnails=True
    )
    assert result.feature_shape == (6, 6, 4) and result.feature_dim == 144
    assert result.regions is None
    assert result.thumbnails is not None and result.thumbnails.shape == (12, 48, 48, 3)


def test_second_run_hits_the_disk_cache(tiny_model, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"features": 0, "project": 0}
    real_extract, real_project = embedding.extract_features, embedding._fit  # PCA here, t-SNE in a worker

    def counting_extract(*args, **kwargs):
        calls["features"] += 1
        return real_extract(*args, **kwargs)

    def counting_project(*args, **kwargs):
        calls["project"] += 1
        return real_project(*args, **kwargs)

    monkeypatch.setattr(embedding, "extract_features", counting_extract)
    monkeypatch.setattr(embedding, "_fit", counting_project)
    first = embedding.embedding_task(JobContext(make_workspace(tiny_model)), method="pca")
    assert calls == {"features": 1, "project": 1}
    assert first.cached == {"features": False, "projection": False}

    # A fresh workspace (as after restarting the app) with the same model and data: all from disk.
    second = embedding.embedding_task(JobContext(make_workspace(tiny_model)), method="pca")
    assert calls == {"features": 1, "project": 1}
    assert second.cached == {"features": True, "projection": True}
    np.testing.assert_array_equal(first.coords, second.coords)
    np.testing.assert_array_equal(first.predicted, second.predicted)

    # Another seed re-projects but reuses the features; other data recomputes both.
    embedding.embedding_task(JobContext(make_workspace(tiny_model)), method="tsne", params={"perplexity": 5})
    assert calls == {"features": 1, "project": 2}
    embedding.embedding_task(JobContext(make_workspace(tiny_model, seed=1)), method="pca")
    assert calls == {"features": 2, "project": 3}
    assert len(list(embedding.cache_dir().glob("features-*.npz"))) == 2


class CancelAfter:
    """A dataset wrapper that cancels the job once `after` batches have been read."""

    def __init__(self, dataset: Dataset, token: CancelToken, after: int) -> None:
        self._dataset, self._token, self._after, self.batches = dataset, token, after, 0

    def __getattr__(self, name: str):
        return getattr(self._dataset, name)

    def __len__(self) -> int:
        return len(self._dataset)

    def inputs(self, indices):
        self.batches += 1
        if self.batches == self._after:
            self._token.cancel()
        return self._dataset.inputs(indices)


def test_cancel_mid_features_stops_and_caches_nothing(tiny_model) -> None:
    workspace = make_workspace(tiny_model, n=64)
    token = CancelToken()
    workspace.dataset = CancelAfter(workspace.dataset, token, after=2)
    with pytest.raises(Cancelled):
        embedding.embedding_task(JobContext(workspace, cancel=token), method="pca", batch_size=8)
    assert workspace.dataset.batches == 2  # stopped at the next batch, not at the end (8 batches)
    assert not list(embedding.cache_dir().glob("*.npz"))


def test_cancel_mid_tsne() -> None:
    x, _ = clusters(k=3, per=40)
    seen: list[str] = []
    token = CancelToken()

    def progress(_fraction: float, message: str) -> None:
        seen.append(message)
        if message.startswith("t-SNE iteration"):
            token.cancel()

    with pytest.raises(Cancelled):
        embedding.project(x, "tsne", progress=progress, check=token.raise_if_cancelled)
    assert sum(m.startswith("t-SNE iteration") for m in seen) == 1


def test_task_needs_a_dataset(tiny_model) -> None:
    with pytest.raises(BadInputError, match="dataset"):
        embedding.embedding_task(JobContext(Workspace(model=tiny_model)), method="pca")


def test_decision_regions_agree_with_predictions_and_fade_away_from_cases() -> None:
    rng = np.random.default_rng(1)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    predicted = np.repeat(np.arange(3), 100)
    coords = centres[predicted] + rng.normal(0.0, 1.0, (300, 2))
    predicted[:6] = 2  # a few "odd" predictions inside cluster 0 must not flip the area around them
    regions = decision_regions(coords, predicted, resolution=100)
    assert regions.classes.shape == (100, 100)
    assert (regions.class_at(coords) == predicted).mean() > 0.9
    assert regions.class_at(np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])).tolist() == [0, 1, 2]
    rows, cols = regions.cell_of(np.array([[10.0, 0.0], [10.0, 10.0]]))
    assert regions.support[rows[0], cols[0]] > 0.5
    assert regions.support[rows[1], cols[1]] < 0.05  # the empty corner is not painted with confidence
    assert 0.0 <= regions.confidence.min() and regions.confidence.max() <= 1.0


def test_default_layer_in_nested_models() -> None:
    import keras

    inputs = keras.Input((4, 4, 1))
    backbone = keras.Model(inputs, keras.layers.Dense(5, name="feat")(keras.layers.Flatten(name="flat")(inputs)), name="backbone")
    outer_in = keras.Input((4, 4, 1))
    outer = keras.Model(outer_in, keras.layers.Dense(2, name="head")(backbone(outer_in)), name="outer")
    assert embedding.default_layer(outer) == "backbone"  # the head reads the sub-model's output

    head_in = keras.Input((4, 4, 1))
    head = keras.Model(head_in, keras.layers.Dense(3, name="dense")(keras.layers.Flatten(name="flat")(head_in)), name="clf")
    wrapped_in = keras.Input((4, 4, 1))
    wrapped = keras.Model(wrapped_in, head(wrapped_in), name="wrapped")
    assert embedding.default_layer(wrapped) == "clf/flat"


def test_cancel_mid_umap() -> None:
    x, _ = clusters(k=3, per=40)
    token = CancelToken()
    epochs: list[str] = []

    def progress(_fraction: float, message: str) -> None:
        if message.startswith("UMAP epoch"):
            epochs.append(message)
            token.cancel()

    with pytest.raises(Cancelled):
        embedding.project(x, "umap", progress=progress, check=token.raise_if_cancelled)
    assert len(epochs) == 1 and not epochs[0].endswith("/0")


def test_embedding_and_case_list_read_the_same_probabilities() -> None:
    """Independent sigmoid outputs (multi-label head) must not be softmaxed by the embedding
    while the case list keeps them: one `to_probabilities`, the model's activation honoured."""
    import keras

    from engine.predictions import predict_task

    keras.utils.set_random_seed(4)
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.GlobalAveragePooling2D(name="pool")(keras.layers.Conv2D(4, 3, name="conv")(inputs))
    h = keras.layers.Dense(6, activation="relu", name="embedding")(h)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="sigmoid", name="out")(h))
    workspace = make_workspace(model)
    workspace.description = SimpleNamespace(sha256="", output_activation="sigmoid")
    listed = predict_task(JobContext(workspace))
    mapped = embedding.embedding_task(JobContext(workspace), method="pca", regions=False)
    np.testing.assert_array_equal(mapped.predicted, listed.predicted)
    np.testing.assert_allclose(mapped.confidence, listed.confidence, rtol=1e-6)
    raw = model.predict(workspace.dataset.inputs(range(len(workspace.dataset))), verbose=0)
    np.testing.assert_allclose(listed.confidence, raw.max(axis=1), rtol=1e-5)  # not renormalised
    assert listed.model_sha256 == mapped.provenance["model_sha256"]  # one model identity


def test_tsne_hands_out_the_map_as_it_forms() -> None:
    x, _ = clusters()
    seen: list[np.ndarray] = []
    final = embedding.project(x[:120], "tsne", {"perplexity": 5}, seed=0, partial=seen.append)
    assert seen and all(s.shape == (120, 2) and s.dtype == np.float32 for s in seen)
    assert not np.allclose(seen[0], final)  # an earlier state, not the answer repeated
