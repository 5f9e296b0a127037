"""Gaps the mutation harness found in engine.preprocessing's tests: the recipe's one-line
description, Keras' caffe mode on a non-square image, the default thumbnail, and which input a
recipe is guessed from."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from engine.errors import BadInputError
from engine.preprocessing import CAFFE_MEAN_BGR, Preprocessing, guess_recipe, thumbnail


@pytest.mark.parametrize(
    ("recipe", "text"),
    [
        (Preprocessing(), "stretch to original size, 0..1, channels as stored"),
        (Preprocessing(resize="pad", scale="none", channels="gray", size=(28, 14), adapt=False),
         "pad to 28×14, no scaling, 1 channel, strict"),
        (Preprocessing(channels="rgb", scale="imagenet"), "stretch to original size, imagenet, 3 channels"),
        (Preprocessing(model_channels=1), "stretch to original size, 0..1, 1 channel"),
        (Preprocessing(model_channels=4, scale="raw"), "stretch to original size, raw, 4 channels"),
    ],
)
def test_describe_says_size_scale_and_channels(recipe, text) -> None:
    assert recipe.describe() == text


def test_a_channel_count_that_cannot_be_made_is_refused() -> None:
    with pytest.raises(BadInputError, match=r"^Cannot turn a 3-channel image into 2 channel\(s\)\.$"):
        Preprocessing(model_channels=2).apply(np.zeros((2, 2, 3), np.uint8))


def test_caffe_mode_on_a_wide_rgb_image_flips_to_bgr_and_subtracts_the_mean_pixel() -> None:
    image = np.zeros((2, 5, 3), np.uint8)  # neither side is 3: only the last axis holds channels
    image[..., 0] = 255  # pure red
    out = Preprocessing(scale="caffe").apply(image)
    np.testing.assert_allclose(out[0, 0], [0.0 - 103.939, 0.0 - 116.779, 255.0 - 123.68], rtol=1e-6)
    gray = Preprocessing(scale="caffe").apply(np.full((3, 3), 255, np.uint8))  # 3 rows, 1 channel
    np.testing.assert_allclose(gray[..., 0], 255.0 - CAFFE_MEAN_BGR.mean(), rtol=1e-6)


def test_thumbnail_default_is_a_48_pixel_square() -> None:
    assert thumbnail(np.zeros((5, 9), np.uint8)).shape == (48, 48, 3)


def _description(*shapes: tuple) -> SimpleNamespace:
    return SimpleNamespace(inputs=[SimpleNamespace(shape=s) for s in shapes], layers=[], name="net")


def test_the_recipe_is_guessed_from_the_first_input() -> None:
    recipe, why = guess_recipe(_description((None, 28, 20, 1), (None, 6)))
    assert recipe.size == (28, 20) and recipe.model_channels == 1 and "28×20" in why
    table_first, why = guess_recipe(_description((None, 6), (None, 28, 20, 1)))
    assert table_first == Preprocessing() and why == ""  # rows first: no image recipe to guess


def test_a_target_size_is_stored_as_a_tuple_of_ints() -> None:
    recipe = Preprocessing(size=[np.int64(28), 14.0])
    assert recipe.size == (28, 14) and all(type(v) is int for v in recipe.size)
    assert recipe == Preprocessing(size=(28, 14)) and hash(recipe) == hash(Preprocessing(size=(28, 14)))
