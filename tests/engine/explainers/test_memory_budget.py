"""Requests are sized before they run: refused with the figure past the budget, cancelled within
one batch of sample generation, and the batch size that actually ran is what provenance records."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from engine import explainers
from engine.errors import Cancelled, OutOfMemoryError
from engine.explainers import base

keras = pytest.importorskip("keras")


@pytest.fixture(scope="module")
def digits_cnn():
    """A 28x28x1 classifier, the shape of the promise (kernel_shap, 10**7 samples, 28x28)."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1))
    h = keras.layers.Conv2D(2, 3, activation="relu")(inputs)
    h = keras.layers.GlobalAveragePooling2D()(h)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h))


def test_ten_million_kernel_shap_samples_are_refused_with_the_figure_under_1_gb(digits_cnn, monkeypatch) -> None:
    monkeypatch.setenv("GLASSBOX_MEMORY_BUDGET", "1G")
    x = np.random.default_rng(0).random((1, 28, 28, 1), dtype=np.float32)
    explainer = explainers.create("kernel_shap", digits_cnn, nb_samples=10**7, n_segments=50)
    tracemalloc.start()
    try:
        with pytest.raises(OutOfMemoryError) as info:
            explainer.explain(x, progress=lambda _f: None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(info.value)
    # 10,000,002 coalitions x (50 units x 20 bytes + 16 for score and weight) = 9.5 GiB, budget 1 GiB
    assert "needs about 9.5 GiB" in message and "10,000,002 samples x 50 units" in message
    assert "budget of 1.0 GiB" in message and "\n" not in message
    assert peak < 64 << 20  # refused before anything big was allocated
    assert sum(explainer.evaluations.values()) == 0


def test_a_large_accepted_draw_is_cancelled_before_the_first_model_call(digits_cnn, monkeypatch) -> None:
    """Coalition sampling checks cancel every few thousand draws, like the model batches."""
    monkeypatch.setenv("GLASSBOX_MEMORY_BUDGET", "2G")
    x = np.random.default_rng(0).random((1, 28, 28, 1), dtype=np.float32)
    explainer = explainers.create("kernel_shap", digits_cnn, nb_samples=400_000, n_segments=50)
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 3  # the user clicks Cancel while the coalitions are being drawn

    with pytest.raises(Cancelled):
        explainer.explain(x, targets=[0], cancel=cancel)
    assert sum(explainer.evaluations.values()) == 0  # stopped inside the draw, no batch ran
    assert len(calls) == 4


def test_the_batch_size_used_after_out_of_memory_halving_is_recorded(digits_cnn, monkeypatch) -> None:
    import tensorflow as tf

    real = base._concrete

    def limited(fn, arrays, cache):  # noqa: ANN001, ANN202 - a device that only fits 8 rows
        concrete = real(fn, arrays, cache)

        def call(*tensors):  # noqa: ANN002, ANN202
            if int(tensors[0].shape[0]) > 8:
                raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")
            return concrete(*tensors)

        return call

    monkeypatch.setattr(base, "_concrete", limited)
    x = np.random.default_rng(0).random((20, 28, 28, 1), dtype=np.float32)
    result = explainers.create("saliency", digits_cnn, batch_size=32).explain(x)
    assert result.params["batch_size"] == 8 and result.params["batch_size_requested"] == 32
    assert result.provenance["params"]["batch_size"] == 8
    unhalved = explainers.create("saliency", digits_cnn, batch_size=8).explain(x[:4])
    assert unhalved.params["batch_size"] == 8 and "batch_size_requested" not in unhalved.params
