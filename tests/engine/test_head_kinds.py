"""A head's kind as the user says it, and a dense head's region, reach every engine view."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from engine import explain_service, explainers  # noqa: E402
from engine.data import Dataset  # noqa: E402
from engine.errors import BadInputError  # noqa: E402
from engine.heads import set_head_kind_task  # noqa: E402
from engine.jobs import JobContext  # noqa: E402
from engine.models import describe  # noqa: E402
from engine.predictions import predict_task  # noqa: E402
from engine.workspace import Workspace  # noqa: E402


def test_a_linear_unit_re_kinded_as_a_binary_logit() -> None:
    """Detected as regression; the user says it is a logit: probabilities [1 - s(z), s(z)] everywhere."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(1, name="z")(inputs))
    x = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    ws = Workspace(model=model, description=describe(model), dataset=Dataset.from_arrays(x))
    assert ws.description.heads[0].kind == "regression"
    assert predict_task(JobContext(ws)).head == ""  # no classifier: no invented classes
    new = set_head_kind_task(JobContext(ws), 0, "logits")
    assert new.heads[0].kind == "logits" and new.heads[0].detected == "regression"
    z = np.asarray(model(x))[:, 0]
    p = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(predict_task(JobContext(ws)).probabilities[:, 1], p, rtol=1e-5)
    view = explain_service.case_view_task(JobContext(ws), 0)
    np.testing.assert_allclose(view.top.probabilities.sum(), 1.0, rtol=1e-6)
    saliency = explain_service.explain_case_task(JobContext(ws), 0, "saliency", target=0)
    w = model.get_layer("z").get_weights()[0][:, 0]
    np.testing.assert_allclose(saliency.maps[0], -p[0] * (1 - p[0]) * w, rtol=1e-4)  # d(1 - p)/dx
    assert set_head_kind_task(JobContext(ws), 0, "regression").heads[0].detected == ""
    with pytest.raises(BadInputError, match="no output 3"):
        set_head_kind_task(JobContext(ws), 3, "logits")


def test_dense_region_is_the_class_summed_over_the_box() -> None:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 1))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3, padding="same", activation="softmax", name="seg")(inputs))
    x = np.random.default_rng(1).uniform(size=(1, 6, 6, 1)).astype("float32")
    probs = np.asarray(model(x))[0]
    box = explainers.create("saliency", model, output="probability", region=(1, 2, 4, 6))
    np.testing.assert_allclose(box.scores(x, [1]), [probs[1:4, 2:6, 1].sum()], rtol=1e-5)
    mask = np.zeros((6, 6), bool)
    mask[0, 0] = True
    one = explainers.create("saliency", model, output="probability", region=mask)
    np.testing.assert_allclose(one.scores(x, [0]), [probs[0, 0, 0]], rtol=1e-5)
    with pytest.raises(BadInputError, match="region is empty"):
        explainers.create("saliency", model, region=np.zeros((6, 6)))
    ws = Workspace(model=model, description=describe(model), dataset=Dataset.from_arrays(x))
    result = explain_service.explain_case_task(JobContext(ws), 0, "occlusion", {"patch_size": 2, "stride": 2},
                                               target=1, region=[0, 0, 2, 2])
    far = np.abs(result.maps[0, 4:, 4:]).max()  # a 3x3 conv: cells 2+ away from the box cannot move it
    assert far == 0.0 and np.abs(result.maps[0, :2, :2]).max() > 0


def test_views_do_not_keep_a_closed_model_alive() -> None:
    import gc
    import weakref

    inputs = keras.Input((4,))
    model = keras.Model(inputs, [keras.layers.Dense(2, name="a")(inputs), keras.layers.Dense(1, name="b")(inputs)])
    explainers.create("saliency", model, output_index=1).explain(np.ones((1, 4), "float32"), 0)
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None
