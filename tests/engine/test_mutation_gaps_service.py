"""Gaps the mutation harness found in engine.explain_service's tests: the picture a sequence or a
multi-input case is drawn as, a head without classes, and a cancel that comes at the very end."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from engine import explain_service  # noqa: E402
from engine.data import Dataset  # noqa: E402
from engine.errors import Cancelled  # noqa: E402
from engine.jobs import JobContext  # noqa: E402
from engine.workspace import Workspace  # noqa: E402


class _Cases:
    def __init__(self, kind: str, raw: object) -> None:
        self.kind, self._raw = kind, raw

    def raw(self, case: int) -> object:
        return self._raw


def test_a_sequence_is_drawn_as_a_strip_scaled_per_channel_and_repeated() -> None:
    t = np.arange(40, dtype=np.float64)
    raw = np.stack([t, np.full(40, 5.0), -2 * t], axis=1)  # (T=40, C=3)
    picture = explain_service._picture(_Cases("sequence", raw), 0, "sequence")
    repeat = round(40 / (4 * 3))  # 3: each channel drawn 3 rows high, a strip about 4:1
    assert picture.dtype == np.float32 and picture.shape == (3 * repeat, 40)
    expected = np.stack([t / 39, np.zeros(40), 1 - t / 39])  # a flat channel is 0, not a division by 0
    np.testing.assert_allclose(picture, np.repeat(expected, repeat, axis=0), atol=1e-6)
    long_channels = explain_service._picture(_Cases("sequence", np.ones((2, 9))), 0, "sequence")
    assert long_channels.shape == (9, 2)  # more channels than steps: one row each, never zero


def test_a_multi_input_case_is_drawn_as_its_first_image_input() -> None:
    gray = np.array([[0.0, 2.0], [4.0, 8.0]])[..., None]
    raw = {"table": np.arange(5.0), "mask": np.zeros((2, 2, 2)), "photo": gray, "rgb": np.ones((2, 2, 3))}
    picture = explain_service._picture(_Cases("multi", raw), 0, "multi")
    np.testing.assert_array_equal(picture, [[0.0, 0.25], [0.5, 1.0]])  # (H, W): the channel dropped
    rgb = explain_service._picture(_Cases("multi", {"rgb": np.arange(12.0).reshape(2, 2, 3)}), 0, "multi")
    assert rgb.shape == (2, 2, 3) and rgb.min() == 0.0 and rgb.max() == 1.0
    flat = explain_service._picture(_Cases("multi", {"photo": np.full((2, 2, 1), 7.0)}), 0, "multi")
    np.testing.assert_array_equal(flat, np.zeros((2, 2)))
    assert explain_service._picture(_Cases("multi", {"table": np.arange(3.0)}), 0, "multi") is None
    assert explain_service._picture(_Cases("rows", None), 0, "rows") is None


@pytest.fixture(scope="module")
def regression_ctx():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(1, name="price")(inputs))  # one linear unit
    workspace = Workspace()
    workspace.set_model(model, SimpleNamespace(sha256="e" * 64, output_activation=None))
    workspace.dataset = Dataset.from_arrays(np.ones((2, 4), np.float32), np.array([0, 0]))
    return JobContext(workspace)


def test_a_head_without_classes_has_no_top_predictions(regression_ctx) -> None:
    top = explain_service.top_predictions_task(regression_ctx, case=0)
    assert top.classes.shape == (0,) and top.probabilities.shape == (0,) and top.n_classes == 0
    assert top.classes.dtype == np.int64 and top.class_names == ()


def test_a_cancel_during_the_last_step_keeps_nothing(regression_ctx) -> None:
    def cancel_at_the_end(fraction: float, message: str) -> None:
        if fraction >= 1.0:
            ctx.cancel.cancel()

    ctx = JobContext(regression_ctx.workspace, progress=cancel_at_the_end)
    with pytest.raises(Cancelled):
        explain_service.explain_case_task(ctx, case=1, method="saliency")
    assert len(explain_service.cache.memory(ctx.workspace, explain_service.CACHE_NAME, 1)) == 0
    assert not list(explain_service.DISK.folder.glob("*.npz"))


def test_a_1000_class_model_takes_imagenet_names_only_when_the_cases_name_none(monkeypatch, tmp_path) -> None:
    """The ImageNet index (here a stand-in in KERAS_HOME) names the classes of unnamed cases;
    a dataset's own 1000 names are never replaced by it."""
    import json

    (tmp_path / "models").mkdir()
    index = {str(i): [f"n{i:08d}", f"imagenet_{i}"] for i in range(1000)}
    (tmp_path / "models" / "imagenet_class_index.json").write_text(json.dumps(index))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    keras.utils.set_random_seed(1)
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1000, activation="softmax")(inputs))
    workspace = Workspace()
    workspace.set_model(model, SimpleNamespace(sha256="d" * 64, output_activation="softmax"))
    own = [f"mine_{i}" for i in range(1000)]
    workspace.dataset = Dataset.from_arrays(np.ones((1, 3), np.float32), np.array([0]), class_names=own)
    top = explain_service.top_predictions_task(JobContext(workspace), case=0, k=2)
    assert top.class_names == tuple(own) and top.n_classes == 1000 and top.classes.shape == (2,)
    workspace.dataset = Dataset.from_arrays(np.ones((1, 3), np.float32), np.array([0]))
    unnamed = explain_service.top_predictions_task(JobContext(workspace), case=0, k=2)
    assert unnamed.class_names[7] == "imagenet_7" and len(unnamed.class_names) == 1000
