"""The preprocessing recipe: numbers checked by hand for each resize, scale and channel mode."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import BadInputError
from engine.preprocessing import IMAGENET_MEAN, IMAGENET_STD, Preprocessing, thumbnail, to_unit


def test_bit_depth_scaling_uint8_uint16_float() -> None:
    assert to_unit(np.array([[0, 255]], np.uint8))[0, 1, 0] == 1.0
    wide = to_unit(np.array([[0, 65535, 32768]], np.uint16))
    np.testing.assert_allclose(wide[0, :, 0], [0.0, 1.0, 32768 / 65535])
    np.testing.assert_allclose(to_unit(np.array([[0.25]], np.float32))[0, 0, 0], 0.25)
    np.testing.assert_allclose(to_unit(np.array([[0.0, 127.5]], np.float32))[0, 1, 0], 0.5)


def test_scale_modes_follow_their_formulas() -> None:
    image = np.array([[[0, 128, 255]]], np.uint8)  # one RGB pixel
    unit = np.array([0, 128, 255], np.float32) / 255
    got = {s: Preprocessing(scale=s).apply(image)[0, 0] for s in ("0..1", "-1..1", "raw", "imagenet")}
    np.testing.assert_allclose(got["0..1"], unit, rtol=1e-6)
    np.testing.assert_allclose(got["-1..1"], unit * 2 - 1, rtol=1e-6)
    np.testing.assert_allclose(got["raw"], [0, 128, 255], rtol=1e-5)
    np.testing.assert_allclose(got["imagenet"], (unit - IMAGENET_MEAN) / IMAGENET_STD, rtol=1e-5)
    np.testing.assert_allclose(got["imagenet"][0], -0.485 / 0.229, rtol=1e-5)


def test_stretch_resizes_both_axes() -> None:
    image = np.zeros((10, 20), np.uint8)
    out = Preprocessing(resize="stretch", size=(5, 5)).apply(image)
    assert out.shape == (5, 5, 1)


def test_pad_keeps_aspect_ratio_with_zeros() -> None:
    image = np.full((10, 20), 255, np.uint8)  # wide white image into a square
    out = Preprocessing(resize="pad", size=(20, 20)).apply(image)[..., 0]
    assert out.shape == (20, 20)
    np.testing.assert_allclose(out[:5], 0.0)  # letterbox bands top and bottom
    np.testing.assert_allclose(out[15:], 0.0)
    np.testing.assert_allclose(out[5:15], 1.0, atol=1e-6)  # the image itself, 20×10 at scale 1


def test_crop_takes_the_centre() -> None:
    image = np.zeros((10, 30), np.uint8)
    image[:, 10:20] = 255  # white centre third
    out = Preprocessing(resize="crop", size=(10, 10)).apply(image)[..., 0]
    np.testing.assert_allclose(out, 1.0, atol=1e-6)
    image2 = np.zeros((30, 10), np.uint8)
    image2[:10] = 255  # top third only: the crop must not see it
    np.testing.assert_allclose(Preprocessing(resize="crop", size=(10, 10)).apply(image2), 0.0)


def test_channels_gray_to_rgb_rgba_and_luma() -> None:
    gray = np.full((4, 4), 51, np.uint8)
    rgb = Preprocessing().fit((None, 4, 4, 3)).apply(gray)
    assert rgb.shape == (4, 4, 3)
    np.testing.assert_allclose(rgb, 0.2)
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 255, 10  # red, nearly transparent: alpha is dropped
    to_gray = Preprocessing().fit((None, 4, 4, 1)).apply(rgba)
    assert to_gray.shape == (4, 4, 1)
    np.testing.assert_allclose(to_gray, 0.299, rtol=1e-6)
    assert Preprocessing().apply(rgba).shape == (4, 4, 3)


def test_wrong_channels_refused_when_adapting_is_off() -> None:
    strict = Preprocessing(adapt=False).fit((None, 4, 4, 1))
    with pytest.raises(BadInputError, match="3 channel"):
        strict.apply(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(BadInputError, match="8×8"):
        strict.apply(np.zeros((8, 8), np.uint8))
    assert strict.apply(np.zeros((4, 4), np.uint8)).shape == (4, 4, 1)


def test_channel_mode_contradicting_model_is_refused() -> None:
    with pytest.raises(BadInputError, match="expects 1"):
        Preprocessing(channels="rgb").fit((None, 28, 28, 1))
    with pytest.raises(BadInputError, match="into 2 channel"):
        Preprocessing().fit((None, 4, 4, 2)).apply(np.zeros((4, 4, 3), np.uint8))


def test_fit_takes_size_and_channels_and_keeps_size_for_free_dims() -> None:
    fitted = Preprocessing(scale="-1..1").fit((None, 224, 224, 3))
    assert (fitted.size, fitted.out_channels, fitted.scale) == ((224, 224), 3, "-1..1")
    assert Preprocessing(size=(64, 64)).fit((None, None, None, 3)).size == (64, 64)
    assert Preprocessing().fit((None, 30)) == Preprocessing()


def test_round_trip_and_validation() -> None:
    recipe = Preprocessing(resize="pad", scale="imagenet", channels="rgb", size=(7, 9), adapt=False)
    assert Preprocessing.from_dict(recipe.to_dict()) == recipe
    assert Preprocessing.from_dict(None) == Preprocessing()
    assert Preprocessing.from_dict({"scale": "raw", "future_key": 1}).scale == "raw"
    with pytest.raises(BadInputError, match="scaling"):
        Preprocessing(scale="0..255")
    with pytest.raises(BadInputError, match="positive"):
        Preprocessing(size=(0, 4))
    assert "pad to 7×9" in recipe.describe()


def test_display_is_unit_scaled_and_thumbnail_is_square_uint8() -> None:
    recipe = Preprocessing(scale="imagenet").fit((None, 8, 8, 3))
    np.testing.assert_allclose(recipe.show(np.full((4, 4), 255, np.uint8)), 1.0)
    standardised = np.array([[-2.0, 0.0], [1.0, 2.0]], np.float32)
    stored = Preprocessing(scale="none")
    np.testing.assert_array_equal(stored.apply(standardised)[..., 0], standardised)  # no rescaling
    np.testing.assert_allclose(stored.show(standardised)[..., 0], [[0.0, 0.5], [0.75, 1.0]])
    tile = thumbnail(np.full((10, 40), 65535, np.uint16), 48)
    assert tile.shape == (48, 48, 3) and tile.dtype == np.uint8
    assert tile[24, 24, 0] == 255 and tile[0, 24, 0] == 0


def test_nan_and_bad_shapes_are_bad_input() -> None:
    with pytest.raises(BadInputError, match="NaN"):
        to_unit(np.array([[np.nan]], np.float32))
    with pytest.raises(BadInputError, match="shape"):
        to_unit(np.zeros((2, 2, 5)))
    with pytest.raises(BadInputError, match="different sizes"):
        Preprocessing().apply_batch([np.zeros((2, 2)), np.zeros((3, 3))])


def test_stack_resize_matches_pillow_and_batches_match_single_images() -> None:
    from PIL import Image

    from engine.preprocessing import resize_stack

    rng = np.random.default_rng(0)
    plane = rng.random((37, 53)).astype(np.float32)
    for height, width in ((10, 20), (100, 70), (37, 8)):  # shrink (antialiased), grow, one axis
        expected = np.asarray(Image.fromarray(plane).resize((width, height), Image.Resampling.BILINEAR))
        np.testing.assert_allclose(resize_stack(plane[None, ..., None], height, width)[0, ..., 0], expected, atol=1e-6)
    images = [rng.integers(0, 255, (9, 13, 3), dtype=np.uint8), rng.integers(0, 65535, (20, 20), dtype=np.uint16)]
    images.append(images[0] // 2)
    recipe = Preprocessing(resize="crop", scale="imagenet").fit((None, 8, 8, 1))
    batch = recipe.apply_batch(images)
    for i, image in enumerate(images):
        np.testing.assert_allclose(batch[i], recipe.apply(image), atol=1e-6)


def test_imagenet_statistics_are_the_published_ones():
    np.testing.assert_array_equal(IMAGENET_MEAN, np.array([0.485, 0.456, 0.406], np.float32))
    np.testing.assert_array_equal(IMAGENET_STD, np.array([0.229, 0.224, 0.225], np.float32))


def test_pad_keeps_a_one_pixel_wide_image_one_pixel_wide():
    tall = np.broadcast_to(np.linspace(0.2, 1.0, 100, dtype=np.float32)[:, None, None], (100, 1, 3)).copy()
    out = Preprocessing(resize="pad", size=(10, 10), channels="rgb").apply(tall)
    assert out.shape == (10, 10, 3)
    assert np.flatnonzero(out.any(axis=(0, 2))).tolist() == [4]  # one column, centred
    wide = np.ascontiguousarray(tall.transpose(1, 0, 2))
    out = Preprocessing(resize="pad", size=(10, 10), channels="rgb").apply(wide)
    assert np.flatnonzero(out.any(axis=(1, 2))).tolist() == [4]


def test_crop_covers_the_target_then_cuts_the_centre():
    """20x40 to 10x10: scaled by 1/2 to 10x20, then columns 5..14 kept: the middle half of a ramp."""
    ramp = np.broadcast_to(np.linspace(0.0, 1.0, 40, dtype=np.float32)[None, :, None], (20, 40, 3)).copy()
    out = Preprocessing(resize="crop", size=(10, 10), channels="rgb").apply(ramp)
    assert out.shape == (10, 10, 3)
    row = out[5, :, 0]
    assert np.all(np.diff(row) > 0)
    assert row[0] == pytest.approx(0.25, abs=0.03) and row[-1] == pytest.approx(0.75, abs=0.03)


@pytest.mark.parametrize("mode", ["caffe", "torch", "tf"])
def test_keras_application_modes_match_keras_preprocess_input(mode: str) -> None:
    """caffe (BGR, mean pixel subtracted), torch (ImageNet mean/std), tf (-1..1) give exactly
    what keras.applications.imagenet_utils.preprocess_input gives on the same 0..255 pixels."""
    keras = pytest.importorskip("keras")
    from engine.preprocessing import KERAS_MODES

    image = np.random.default_rng(0).integers(0, 256, (4, 5, 3)).astype(np.uint8)
    ours = Preprocessing(scale=KERAS_MODES[mode]).apply(image)
    theirs = keras.applications.imagenet_utils.preprocess_input(image.astype("float32")[None], mode=mode)[0]
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-5, atol=1e-4)


def test_a_first_recipe_is_guessed_from_the_input_layer() -> None:
    """Never inherited from the previous model: size from the input, scaling from the model."""
    from types import SimpleNamespace

    from engine.description import TensorSpec
    from engine.preprocessing import guess_recipe

    def model(name: str, first: str, shape=(None, 224, 224, 3)):
        layers = (SimpleNamespace(class_name="InputLayer"), SimpleNamespace(class_name=first))
        return SimpleNamespace(name=name, inputs=(TensorSpec("x", shape, "float32"),), layers=layers)

    recipe, why = guess_recipe(model("mobilenetv2_1.00_224", "Conv2D"))
    assert recipe.scale == "-1..1" and recipe.size == (224, 224) and recipe.model_channels == 3
    assert "224×224" in why and "-1…1" in why
    recipe, why = guess_recipe(model("my_net", "Rescaling"))
    assert recipe.scale == "raw" and "Rescaling" in why
    recipe, _ = guess_recipe(model("digits_cnn", "Conv2D", (None, 28, 28, 1)))
    assert recipe.scale == "0..1" and recipe.size == (28, 28) and recipe.model_channels == 1
    tabular, why = guess_recipe(model("tab", "Dense", (None, 6)))
    assert tabular.size is None and why == ""  # rows of features: no image recipe to announce
