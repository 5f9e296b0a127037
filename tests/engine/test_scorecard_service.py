"""Scorecard and benchmark tasks: the canvas's map scored, cached, ranked over cases."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from engine import metrics, scorecard_service  # noqa: E402
from engine.data import Dataset  # noqa: E402
from engine.jobs import JobContext  # noqa: E402
from engine.workspace import Workspace  # noqa: E402

SHAPE = (10, 10, 3)


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input(SHAPE)
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(h))
    return keras.Model(inputs, outputs)


@pytest.fixture
def ctx(model):
    workspace = Workspace()
    workspace.set_model(model, SimpleNamespace(sha256="", output_activation="softmax"))
    x = np.random.default_rng(3).integers(0, 256, size=(3, *SHAPE), dtype=np.uint8)
    workspace.dataset = Dataset.from_arrays(x, np.array([0, 1, 2]), class_names=list("abc"))
    return JobContext(workspace)


def test_a_scorecard_scores_the_canvas_map_and_is_cached(ctx, monkeypatch):
    card = scorecard_service.score_case_task(ctx, 1, "saliency", {}, None)
    assert set(card.scores) == set(scorecard_service.FAST_METRICS)
    assert card.scores["deletion"].curve.shape == (11,)
    x = ctx.workspace.dataset.inputs([1]).astype("float32")
    explanation = scorecard_service.explain_service.explain_case_task(ctx, 1, "saliency", {}, None)
    direct = metrics.create("deletion", ctx.workspace.model).evaluate(x, explanation.maps, explanation.targets)
    assert card.scores["deletion"].score == pytest.approx(float(direct.scores[0]))
    monkeypatch.setattr(metrics, "create", lambda *a, **k: pytest.fail("scores must come from the cache"))
    again = scorecard_service.score_case_task(ctx, 1, "saliency", {}, None)
    assert again.scores["deletion"] is card.scores["deletion"]


def test_the_sanity_check_explains_again_with_the_maps_own_method(ctx):
    card = scorecard_service.score_case_task(ctx, 0, "gradient_x_input", {}, None, ["randomisation"])
    score = card.scores["randomisation"]
    assert score.passed is not None and score.threshold == 0.5
    assert score.provenance["params"]["method"] == "gradient_x_input"


def test_the_benchmark_fills_methods_by_metrics_by_cases(ctx):
    bench = scorecard_service.benchmark_task(ctx, [0, 2], ["saliency", "gradcam", "nope"], ["deletion", "sparseness"])
    assert bench.scores.shape == (3, 2, 2) and bench.better == ("lower", "higher")
    assert np.isfinite(bench.scores[:2]).all() and np.isnan(bench.scores[2]).all()
    assert len(bench.failures) == 2 and "nope" in bench.failures[0]


def test_text_cases_are_refused_with_a_reason_not_a_float_conversion_error(ctx):
    from engine.errors import NotSupportedError

    ctx.workspace.dataset = Dataset.from_texts(["a good day", "a bad day"], np.array([0, 1]))
    with pytest.raises(NotSupportedError, match="text cases are not scored"):
        scorecard_service._score(ctx, 0, None, ["deletion"], (0.0, 1.0))
