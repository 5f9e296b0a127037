"""Known-answer localisation: the model looks at one block of the image only, so every method
must put its maximum inside that block."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from engine.explainers import create  # noqa: E402

SIZE, BLOCK = 24, 6
ROWS, COLS = slice(6, 12), slice(12, 18)  # block (1, 2) of the 4x4 grid

METHODS = {
    "occlusion": {"patch_size": 6, "stride": 3},
    "rise": {"nb_samples": 400, "resolution": 4},
    "lime": {"n_segments": 16, "nb_samples": 200},
    "kernel_shap": {"n_segments": 16, "nb_samples": 200},
    "gradcam": {},
    "gradcam_pp": {},
    "layercam": {},
    "scorecam": {},
}


@pytest.fixture(scope="module")
def region_model():
    """Positive 1x1 convolution, zeroed outside the block, averaged: class 0 = brightness there."""
    mask = np.zeros((1, SIZE, SIZE, 1), "float32")
    mask[:, ROWS, COLS] = 1.0
    inputs = keras.Input((SIZE, SIZE, 3))
    h = keras.layers.Conv2D(4, 1, activation="relu", name="conv")(inputs)
    h = keras.layers.Lambda(lambda t: t * mask, name="region")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    outputs = keras.layers.Dense(2, activation="softmax", name="probabilities")(h)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(0)
    model.get_layer("conv").set_weights([rng.uniform(0.5, 1.5, (1, 1, 3, 4)).astype("float32"), np.zeros(4, "float32")])
    model.get_layer("probabilities").set_weights([np.tile([[4.0, -4.0]], (4, 1)).astype("float32"), np.zeros(2, "float32")])
    return model


@pytest.fixture(scope="module")
def scenes():
    """Two images of 4x4 flat colour blocks (clear superpixels), colours in 0.2..1."""
    rng = np.random.default_rng(1)
    return np.stack(
        [np.kron(rng.uniform(0.2, 1.0, (4, 4, 3)), np.ones((BLOCK, BLOCK, 1))) for _ in range(2)]
    ).astype("float32")


@pytest.mark.parametrize("method", sorted(METHODS))
def test_maximum_lies_in_the_only_region_the_model_sees(region_model, scenes, method):
    result = create(method, region_model, batch_size=64, **METHODS[method]).explain(scenes, [0, 0])
    inside = np.zeros((SIZE, SIZE), bool)
    inside[ROWS, COLS] = True
    for heat in result.heatmap:
        row, col = np.unravel_index(np.argmax(heat), heat.shape)
        assert inside[row, col], f"{method}: maximum at {(row, col)}"
        assert heat[inside].mean() > heat[~inside].mean() + 0.05 * np.abs(heat).max()
