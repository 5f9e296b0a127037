"""Explain service (cache, targets, errors, cancel), overlay preparation and map export."""

from __future__ import annotations

import hashlib
import json
from types import SimpleNamespace

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from engine import explain_service, explainers, overlay  # noqa: E402
from engine.data import Dataset  # noqa: E402
from engine.errors import BadInputError, Cancelled  # noqa: E402
from engine.export import export_explanation  # noqa: E402
from engine.jobs import JobContext  # noqa: E402
from engine.workspace import Workspace  # noqa: E402

SHAPE = (12, 12, 3)


def _model(activation: str | None = "softmax", seed: int = 0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(SHAPE)
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    h = keras.layers.GlobalAveragePooling2D()(h)
    return keras.Model(inputs, keras.layers.Dense(5, activation=activation)(h))


@pytest.fixture(scope="module")
def cases():
    x = np.random.default_rng(3).integers(0, 256, size=(4, *SHAPE), dtype=np.uint8)
    return Dataset.from_arrays(x, np.array([0, 1, 2, 3]), class_names=list("abcde"))


@pytest.fixture(scope="module")
def softmax_model():
    return _model("softmax")


@pytest.fixture
def ctx(cases, softmax_model):
    workspace = Workspace()
    workspace.set_model(softmax_model, SimpleNamespace(sha256="f" * 64, output_activation="softmax"))
    workspace.dataset = cases
    return JobContext(workspace)


@pytest.fixture
def count_creates(monkeypatch):
    calls = []
    real = explainers.create

    def counting(name, model, **params):
        calls.append((name, params))
        return real(name, model, **params)

    monkeypatch.setattr(explainers, "create", counting)
    return calls


def test_explain_case_matches_direct_explainer_and_records_provenance(ctx, cases, softmax_model):
    result = explain_service.explain_case_task(ctx, case=2, method="saliency", params={}, target=None)
    direct = explainers.create("saliency", softmax_model).explain(cases.inputs([2]))
    assert result.maps.shape == (1, *SHAPE) and result.heatmap.shape == (1, 12, 12)
    np.testing.assert_allclose(result.maps, direct.maps, rtol=1e-5, atol=1e-7)
    assert int(result.targets[0]) == int(direct.targets[0])
    assert result.provenance["model_sha256"] == "f" * 64
    assert result.provenance["case"] == 2 and result.provenance["dataset_hash"] == cases.hash


def test_cache_answers_same_request_and_separates_params_seed_target(ctx, count_creates):
    first = explain_service.explain_case_task(ctx, case=1, method="saliency", params={}, target=None)
    again = explain_service.explain_case_task(ctx, case=1, method="saliency", params={"seed": 0}, target=None)
    assert again is first and len(count_creates) == 1  # defaults filled in: same key
    explain_service.explain_case_task(ctx, case=1, method="saliency", params={"seed": 5}, target=None)
    other = explain_service.explain_case_task(ctx, case=1, method="saliency", params={}, target=3)
    assert len(count_creates) == 3
    assert int(other.targets[0]) == 3
    explain_service.explain_case_task(ctx, case=0, method="saliency", params={}, target=None)
    assert len(count_creates) == 4


def test_cache_is_dropped_with_the_model_and_bounded(ctx, softmax_model, count_creates, monkeypatch):
    explain_service.explain_case_task(ctx, case=0, method="saliency", params={}, target=None)
    ctx.workspace.set_model(softmax_model, SimpleNamespace(sha256="e" * 64, output_activation="softmax"))
    explain_service.explain_case_task(ctx, case=0, method="saliency", params={}, target=None)
    assert len(count_creates) == 2
    monkeypatch.setattr(explain_service, "CACHE_SIZE", 2)
    ctx.workspace.set_model(softmax_model, SimpleNamespace(sha256="d" * 64, output_activation="softmax"))
    for target in range(4):
        explain_service.explain_case_task(ctx, case=0, method="saliency", params={}, target=target)
    assert len(_memory(ctx.workspace)) == 2


def test_cancelled_job_raises_and_caches_nothing(ctx):
    ctx.cancel.cancel()
    with pytest.raises(Cancelled):
        explain_service.explain_case_task(ctx, case=0, method="saliency", params={}, target=None)
    assert not len(_memory(ctx.workspace))
    assert not list(explain_service.DISK.folder.glob("*.npz"))


def test_disk_cache_serves_a_new_session_and_is_pruned(ctx, cases, softmax_model, count_creates, monkeypatch):
    first = explain_service.explain_case_task(ctx, case=2, method="smoothgrad", params={"nb_samples": 4}, target=1)
    session = Workspace()  # a new app session: empty memory cache, same model file and cases
    session.set_model(softmax_model, SimpleNamespace(sha256="f" * 64, output_activation="softmax"))
    session.dataset = cases
    again = explain_service.explain_case_task(JobContext(session), case=2, method="smoothgrad",
                                              params={"nb_samples": 4}, target=1)
    assert len(count_creates) == 1 and again is not first
    np.testing.assert_array_equal(again.maps, first.maps)
    np.testing.assert_array_equal(again.heatmap, first.heatmap)
    assert again.params["nb_samples"] == 4 and again.provenance == first.provenance and again.seed == first.seed
    entry = max(p.stat().st_size for p in explain_service.DISK.folder.glob("*.npz"))
    monkeypatch.setattr(explain_service.DISK, "max_bytes", int(2.5 * entry))
    for target in (2, 3):
        explain_service.explain_case_task(ctx, case=2, method="saliency", params={}, target=target)
    assert len(list(explain_service.DISK.folder.glob("*.npz"))) == 2


def test_model_without_file_is_named_by_its_weights(cases, softmax_model, count_creates):
    """One identity policy: an in-memory model is its weights' hash, so the same weights find
    their cached results in a new session and other weights never do."""
    from engine.identity import weights_sha256

    workspace = Workspace()
    workspace.set_model(softmax_model, None)
    workspace.dataset = cases
    result = explain_service.explain_case_task(JobContext(workspace), case=0, method="saliency")
    assert result.provenance["model_sha256"] == weights_sha256(softmax_model)
    assert len(_memory(workspace)) == 1 and len(list(explain_service.DISK.folder.glob("*.npz"))) == 1
    again = Workspace()
    again.set_model(softmax_model, None)
    again.dataset = cases
    explain_service.explain_case_task(JobContext(again), case=0, method="saliency")
    assert len(count_creates) == 1
    softmax_model.layers[-1].bias.assign(softmax_model.layers[-1].bias + 1.0)
    changed = Workspace()
    changed.set_model(softmax_model, None)
    changed.dataset = cases
    explain_service.explain_case_task(JobContext(changed), case=0, method="saliency")
    assert len(count_creates) == 2
    softmax_model.layers[-1].bias.assign(softmax_model.layers[-1].bias - 1.0)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"case": 9, "method": "saliency"}, "Case 9 does not exist"),
        ({"case": 0, "method": "no_such_method"}, "Unknown attribution method"),
        ({"case": 0, "method": "saliency", "params": {"steps": 3}}, "no parameter steps"),
    ],
)
def test_bad_requests_name_the_problem(ctx, kwargs, fragment):
    with pytest.raises(BadInputError, match=fragment):
        explain_service.explain_case_task(ctx, **kwargs)


def test_no_dataset_is_a_readable_error(softmax_model):
    workspace = Workspace()
    workspace.set_model(softmax_model, None)
    with pytest.raises(BadInputError, match="No cases are open"):
        explain_service.top_predictions_task(JobContext(workspace), case=0)


def test_top_predictions_sorted_and_softmaxed_for_logits(ctx, cases, softmax_model):
    top = explain_service.top_predictions_task(ctx, case=1, k=3)
    probs = softmax_model(cases.inputs([1])).numpy()[0]
    assert top.classes.tolist() == np.argsort(-probs)[:3].tolist()
    np.testing.assert_allclose(top.probabilities, np.sort(probs)[::-1][:3], rtol=1e-5)
    assert top.n_classes == 5 and top.class_names == tuple("abcde")

    ctx.workspace.set_model(_model(None, seed=1), SimpleNamespace(sha256="1" * 64, output_activation=None))
    logits_top = explain_service.top_predictions_task(ctx, case=1, k=5)
    assert abs(float(logits_top.probabilities.sum()) - 1.0) < 1e-5
    assert np.all(np.diff(logits_top.probabilities) <= 0)


def test_case_view_carries_image_label_and_predictions(ctx):
    view = explain_service.case_view_task(ctx, case=3)
    assert view.image.shape == SHAPE and view.image.dtype == np.float32
    assert 0.0 <= view.image.min() and view.image.max() <= 1.0
    assert view.label == 3 and view.name == "case 3" and len(view.top.classes) == 5


def test_available_methods_are_plain_dicts(ctx):
    methods = explain_service.available_methods_task(ctx)
    saliency = next(m for m in methods if m["name"] == "saliency")
    assert saliency["params"]["seed"] == 0 and isinstance(saliency["choices"], dict)


# ----- overlay ---------------------------------------------------------------------------
def test_overlay_modes_clip_and_levels():
    heat = np.array([[-4.0, -1.0, 0.0], [1.0, 2.0, 100.0]], np.float32)
    signed = overlay.prepare(heat, "signed", clip_percentile=100)
    assert signed.levels == (-100.0, 100.0) and signed.diverging
    clipped = overlay.prepare(heat, "signed", clip_percentile=50)
    bound = float(np.percentile(np.abs(heat), 50))
    assert clipped.levels == (-bound, bound) and clipped.values.max() == pytest.approx(bound)
    absolute = overlay.prepare(heat, "absolute", clip_percentile=100)
    assert absolute.values[0, 0] == 4.0 and absolute.levels == (0.0, 100.0) and not absolute.diverging
    positive = overlay.prepare(heat, "positive", clip_percentile=100)
    assert positive.values[0, 0] == 0.0 and positive.values[1, 1] == 2.0
    zeros = overlay.prepare(np.zeros((3, 3)), "signed")
    assert zeros.levels == (-1.0, 1.0)
    magnitudes = overlay.prepare(np.abs(heat), "signed", clip_percentile=100)  # saliency, Grad-CAM, RISE
    assert not magnitudes.diverging and magnitudes.levels == (0.0, 100.0), "sequential, bar from 0"


def test_top_k_mask_keeps_the_largest_magnitudes():
    heat = np.arange(100, dtype=np.float32).reshape(10, 10) - 50
    prepared = overlay.prepare(heat, "top_k", top_k=10)
    assert prepared.mask.sum() == 10
    kept = np.sort(np.abs(heat[prepared.mask]))
    np.testing.assert_array_equal(kept, np.sort(np.abs(heat).ravel())[-10:])
    assert kept.min() == 45 and prepared.values[prepared.mask].min() == 1.0


def test_segment_boundaries_and_alpha_ramp():
    segments = np.zeros((4, 4), int)
    segments[:, 2:] = 1
    edges = overlay.segment_boundaries(segments)
    assert edges[:, 1].all() and edges.sum() == 4
    fine = overlay.outline_mask(segments, min_size=16)
    assert fine.shape == (16, 16) and fine[:, 7].all() and fine.sum() == 16  # one line between pixels
    ramp = overlay.alpha_ramp(255, diverging=True)
    assert ramp[127] == 0 and ramp[0] == 255 and ramp[-1] == 255
    assert overlay.alpha_ramp(10, diverging=False)[0] == 0


# ----- export ----------------------------------------------------------------------------
def test_export_writes_npy_and_verifiable_provenance(ctx, tmp_path):
    result = explain_service.explain_case_task(ctx, case=0, method="saliency", params={}, target=1)
    written = export_explanation(tmp_path / "case0_saliency", result, {"model": "m.keras"})
    names = sorted(p.name for p in written)
    assert names == [f"case0_saliency{suffix}" for suffix in (".json", "_heatmap.npy", "_maps.npy", "_targets.npy")]
    np.testing.assert_array_equal(np.load(tmp_path / "case0_saliency_maps.npy"), result.maps)
    record = json.loads((tmp_path / "case0_saliency.json").read_text())
    digest = hashlib.sha256((tmp_path / "case0_saliency_maps.npy").read_bytes()).hexdigest()
    assert record["files_sha256"]["case0_saliency_maps.npy"] == digest
    assert record["method"] == "saliency" and record["targets"] == [1] and record["model"] == "m.keras"
    assert record["provenance"]["model_sha256"] == "f" * 64
    provenance = record["provenance"]  # what an auditor needs to rebuild the model's input
    assert provenance["case_sha256"] == ctx.workspace.dataset.case_hashes[0]
    assert provenance["preprocessing"] == ctx.workspace.dataset.preprocessing.to_dict()
    assert provenance["preprocessing_text"] == ctx.workspace.dataset.preprocessing.describe()
    assert provenance["versions"]["glassbox"] and provenance["versions"]["numpy"] == np.__version__
    assert not list(tmp_path.glob("*.tmp"))


def test_one_output_unit_is_the_probability_of_class_one():
    """A single unit: a sigmoid's value, or a value already in [0, 1], is p; anything else is a logit."""
    from engine.predictions import to_probabilities

    np.testing.assert_allclose(to_probabilities(np.array([[0.3]]), None), [[0.7, 0.3]], rtol=1e-6)
    np.testing.assert_allclose(to_probabilities(np.array([[0.3]]), "sigmoid"), [[0.7, 0.3]], rtol=1e-6)
    p = 1 / (1 + np.exp(-2.0))
    np.testing.assert_allclose(to_probabilities(np.array([[2.0]]), None), [[1 - p, p]], rtol=1e-6)
    np.testing.assert_allclose(to_probabilities(np.array([[0.3]]), None, kind="logits"),
                               [[1 - 1 / (1 + np.exp(-0.3)), 1 / (1 + np.exp(-0.3))]], rtol=1e-6)


def _memory(workspace):
    from engine import cache

    return cache.memory(workspace, explain_service.CACHE_NAME, explain_service.CACHE_SIZE)
