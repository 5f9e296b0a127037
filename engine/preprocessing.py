"""The preprocessing recipe: how a stored image becomes the tensor the model sees.

Explicit and serialisable on purpose: a saliency map is only meaningful if everyone knows the
exact resize, scaling and channel handling the model was fed, so the recipe is shown in the GUI,
stored per model, hashed into the dataset hash and written into provenance records.

Pipeline for one image (any of uint8 / uint16 / bool / float, shape (H, W) or (H, W, C)):
intensities to 0..1 by bit depth (kept as stored for scale "none") -> channels (RGBA drops alpha, gray <-> RGB) -> resize ->
scale. Only numpy and Pillow: the GUI may import this module for the recipe's choices.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from engine.errors import BadInputError

RESIZE_MODES = ("stretch", "pad", "crop")
SCALE_MODES = ("0..1", "-1..1", "imagenet", "caffe", "raw", "none")
# keras.applications preprocess_input modes -> our scale ("tf", "torch", "caffe")
KERAS_MODES = {"tf": "-1..1", "torch": "imagenet", "caffe": "caffe"}
CHANNEL_MODES = ("auto", "gray", "rgb")
RESIZE_TITLES = {"stretch": "Stretch", "pad": "Pad (keep aspect)", "crop": "Centre-crop"}
SCALE_TITLES = {
    "0..1": "0 … 1",
    "-1..1": "-1 … 1 (Keras 'tf' mode)",
    "imagenet": "ImageNet mean/std (Keras 'torch' mode)",
    "caffe": "BGR minus ImageNet mean, 0 … 255 (Keras 'caffe' mode)",
    "raw": "Raw 0 … 255",
    "none": "Stored values (no scaling)",
}
CHANNEL_TITLES = {"auto": "As the model needs", "gray": "Grayscale", "rgb": "RGB"}
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], np.float32)  # as keras.applications.imagenet_utils
# ITU-R 601-2 luma, the weights Pillow's convert("L") uses.
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class Preprocessing:
    """A recipe. `size` (H, W) and `model_channels` come from the model's input spec (`fit`)."""

    resize: str = "stretch"
    scale: str = "0..1"
    channels: str = "auto"
    size: tuple[int, int] | None = None
    model_channels: int | None = None
    adapt: bool = True  # False: refuse inputs whose size or channels differ instead of adapting

    def __post_init__(self) -> None:
        for value, allowed, what in (
            (self.resize, RESIZE_MODES, "resize mode"),
            (self.scale, SCALE_MODES, "scaling"),
            (self.channels, CHANNEL_MODES, "channel mode"),
        ):
            if value not in allowed:
                raise BadInputError(f"Unknown {what} {value!r}; choose one of {', '.join(allowed)}.")
        if self.size is not None:
            size = tuple(int(v) for v in self.size)
            if len(size) != 2 or min(size) < 1:
                raise BadInputError(f"Target size must be two positive integers, got {self.size!r}.")
            object.__setattr__(self, "size", size)

    # ----- serialisation ----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["size"] = list(self.size) if self.size else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Preprocessing:
        """Build from a dict (e.g. settings JSON); unknown keys are ignored, missing ones default."""
        if not data:
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if known.get("size") is not None:
            known["size"] = tuple(known["size"])
        return cls(**known)

    def describe(self) -> str:
        """One line for the GUI and reports, e.g. 'stretch to 28×28, 0..1, 1 channel'."""
        size = f"{self.size[0]}×{self.size[1]}" if self.size else "original size"
        channels = self.out_channels
        ch = "channels as stored" if channels is None else f"{channels} channel{'s' * (channels > 1)}"
        strict = "" if self.adapt else ", strict"
        scale = "no scaling" if self.scale == "none" else self.scale
        return f"{self.resize} to {size}, {scale}, {ch}{strict}"

    # ----- fitting to a model -----------------------------------------------------------
    @property
    def out_channels(self) -> int | None:
        if self.channels == "gray":
            return 1
        if self.channels == "rgb":
            return 3
        return self.model_channels

    def fit(self, input_shape: Sequence[int | None]) -> Preprocessing:
        """Take target size and channels from a model input shape like (None, 224, 224, 3).

        A model with free spatial dimensions (None) keeps the recipe's own size; a model whose
        input is not an image (rank != 4) keeps the recipe unchanged; a channel mode that
        contradicts the model (RGB for a 1-channel model) is a BadInputError.
        """
        shape = tuple(input_shape)
        if len(shape) != 4:
            return self
        _, height, width, channels = shape
        size = (int(height), int(width)) if height and width else self.size
        fitted = replace(self, size=size, model_channels=int(channels) if channels else None)
        out = fitted.out_channels
        if channels and out is not None and out != channels:
            raise BadInputError(
                f"Preprocessing gives {out} channel(s) but the model expects {channels}; "
                "set channels to 'As the model needs'."
            )
        return fitted

    # ----- applying -----------------------------------------------------------------------
    def show(self, image: np.ndarray) -> np.ndarray:
        """The image as the model sees it (geometry, channels) in 0..1, for display.

        Stored values that are not intensities (scale "none", e.g. standardised arrays) are
        stretched from their own min..max.
        """
        if self.scale != "none":
            return np.clip(replace(self, scale="0..1").apply(image), 0.0, 1.0)
        values = self.apply(image)
        low, high = float(values.min()), float(values.max())
        return (values - low) / (high - low) if high > low else np.zeros_like(values)

    def apply(self, image: np.ndarray) -> np.ndarray:
        """One stored image -> float32 (H, W, C) model input."""
        return self._apply_stack(as_hwc(image)[None])[0]

    def apply_batch(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Several images -> float32 (N, H, W, C); sizes must agree after resizing.

        Images that share a shape and dtype (all of an .npz, most of a folder) go through the
        pipeline as one stack: the resize is two matrix products, not a loop over images.
        """
        groups: dict[tuple, list[int]] = defaultdict(list)
        arrays = [as_hwc(image) for image in images]
        for i, array in enumerate(arrays):
            groups[(array.shape, array.dtype.str)].append(i)
        out: list[np.ndarray] = [np.empty(0)] * len(arrays)
        for members in groups.values():
            for i, result in zip(members, self._apply_stack(np.stack([arrays[i] for i in members])), strict=True):
                out[i] = result
        shapes = {x.shape for x in out}
        if len(shapes) > 1:
            raise BadInputError(
                f"Images have different sizes ({', '.join(map(str, sorted(shapes)))}); "
                "open a model or set a target size so they can be resized."
            )
        return np.stack(out) if out else np.zeros((0, 1, 1, 1), np.float32)

    def _apply_stack(self, stack: np.ndarray) -> np.ndarray:
        """(N, H, W, C) stored images of one shape and dtype -> (N, h, w, c) float32."""
        values = stack.astype(np.float32) if self.scale == "none" else to_unit_stack(stack)
        if values.shape[-1] in (2, 4):  # gray+alpha / RGBA: the model never sees alpha
            values = values[..., :-1]
        # Both steps are linear, so their order is free: run the resize on fewer channels.
        if (self.out_channels or values.shape[-1]) < values.shape[-1]:
            values = self._resize(self._convert_channels(values))
        else:
            values = self._convert_channels(self._resize(values))
        return self._scale(values)

    def _convert_channels(self, unit: np.ndarray) -> np.ndarray:
        have = unit.shape[-1]
        want = self.out_channels
        if want is None or want == have:
            return unit
        if not self.adapt:
            raise BadInputError(f"Image has {have} channel(s), the model expects {want} (adapting is off).")
        if have == 1 and want == 3:
            return np.repeat(unit, 3, axis=-1)
        if have == 3 and want == 1:
            return (unit @ LUMA)[..., None]
        raise BadInputError(f"Cannot turn a {have}-channel image into {want} channel(s).")

    def _resize(self, unit: np.ndarray) -> np.ndarray:
        """(N, H, W, C) -> (N, *size, C) by the resize mode."""
        h, w = unit.shape[1:3]
        if self.size is None or (h, w) == self.size:
            return unit
        if not self.adapt:
            raise BadInputError(
                f"Image is {h}×{w}, the model expects {self.size[0]}×{self.size[1]} (adapting is off)."
            )
        th, tw = self.size
        if self.resize == "stretch":
            return resize_stack(unit, th, tw)
        if self.resize == "pad":
            factor = min(th / h, tw / w)
            nh, nw = max(1, round(h * factor)), max(1, round(w * factor))
            out = np.zeros((len(unit), th, tw, unit.shape[3]), np.float32)
            top, left = (th - nh) // 2, (tw - nw) // 2
            out[:, top : top + nh, left : left + nw] = resize_stack(unit, nh, nw)
            return out
        factor = max(th / h, tw / w)  # crop: cover the target, then cut the centre
        nh, nw = max(th, round(h * factor)), max(tw, round(w * factor))
        top, left = (nh - th) // 2, (nw - tw) // 2
        return resize_stack(unit, nh, nw)[:, top : top + th, left : left + tw]

    def _scale(self, unit: np.ndarray) -> np.ndarray:
        if self.scale in ("0..1", "none"):
            return unit
        if self.scale == "-1..1":
            return unit * 2.0 - 1.0
        if self.scale == "raw":
            return unit * 255.0
        channels = unit.shape[-1]
        if self.scale == "caffe":  # VGG16, ResNet50 (v1): BGR order, 0..255 minus the mean pixel
            if channels == 3:
                return (unit[..., ::-1] * 255.0 - CAFFE_MEAN_BGR).astype(np.float32)
            return (unit * 255.0 - CAFFE_MEAN_BGR.mean()).astype(np.float32)
        mean = IMAGENET_MEAN if channels == 3 else IMAGENET_MEAN.mean(keepdims=True)
        std = IMAGENET_STD if channels == 3 else IMAGENET_STD.mean(keepdims=True)
        return ((unit - mean) / std).astype(np.float32)


def to_unit(image: np.ndarray) -> np.ndarray:
    """Intensities of one image to float32 0..1 by bit depth, always (H, W, C); see `to_unit_stack`."""
    return to_unit_stack(as_hwc(image)[None])[0]


def to_unit_stack(stack: np.ndarray) -> np.ndarray:
    """(N, H, W, C) intensities to float32 0..1 by bit depth.

    uint8 / 255, uint16 / 65535 (16-bit medical and microscopy images keep their full range),
    bool as 0/1; float images are taken to be 0..1 already, or 0..255 if any of their values
    exceeds 1 (decided per image, so a batch gives the same numbers as one image at a time).
    """
    if stack.dtype == np.bool_:
        return stack.astype(np.float32)
    if np.issubdtype(stack.dtype, np.integer):
        info = np.iinfo(stack.dtype)
        if info.min >= 0 and stack.dtype.itemsize <= 2:
            return stack.astype(np.float32) / float(info.max)
        top = np.where(_per_image_max(stack) <= 255, 255.0, 65535.0).astype(np.float32)
        return np.clip(stack, 0, top).astype(np.float32) / top
    values = stack.astype(np.float32)
    return values / np.where(_per_image_max(values) > 1.0, 255.0, 1.0).astype(np.float32)


def _per_image_max(stack: np.ndarray) -> np.ndarray:
    """Each image's maximum, shaped (N, 1, 1, 1) to broadcast over its pixels."""
    return stack.reshape(len(stack), -1).max(axis=1, initial=0).reshape(-1, 1, 1, 1)


def as_hwc(image: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, C) with C in 1..4 -> (H, W, C); anything else is a BadInputError."""
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 2, 3, 4):
        raise BadInputError(f"An image must be (H, W) or (H, W, 1..4), got shape {array.shape}.")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise BadInputError("Image contains NaN or infinite values.")
    return array


@functools.lru_cache(maxsize=64)
def _resample_matrix(size: int, new: int) -> Any:
    """Pillow's bilinear (antialiased when shrinking) resampling along one axis, as a sparse
    (new, size) matrix: the coefficients of Pillow's `precompute_coeffs` (triangle filter,
    support widened by the shrink factor), computed directly. Each output mixes only a few
    inputs, so the matrix holds new * support values, never size * size (a 43,844-sample signal
    once built a dense 43844 x 43844 matrix here: 14.7 GB)."""
    from scipy import sparse

    scale = size / new
    filterscale = max(scale, 1.0)
    support = filterscale  # the triangle filter's support is 1
    centers = (np.arange(new) + 0.5) * scale
    lows = np.maximum((centers - support + 0.5).astype(np.int64), 0)
    highs = np.minimum((centers + support + 0.5).astype(np.int64), size)
    width = int((highs - lows).max(initial=1))
    columns = lows[:, None] + np.arange(width)[None, :]
    inside = columns < highs[:, None]
    weights = np.clip(1.0 - np.abs((columns - centers[:, None] + 0.5) / filterscale), 0.0, None) * inside
    totals = weights.sum(axis=1, keepdims=True)
    weights = np.divide(weights, totals, out=np.zeros_like(weights), where=totals != 0)
    rows = np.repeat(np.arange(new), width)
    matrix = sparse.csr_matrix(
        (weights.astype(np.float32).ravel(), (rows, np.minimum(columns, size - 1).ravel())), shape=(new, size)
    )
    matrix.eliminate_zeros()
    return matrix


def _resample_axis(stack: np.ndarray, matrix: Any, axis: int) -> np.ndarray:
    """Apply a sparse (new, size) matrix along `axis` of `stack`: memory ~ input + output."""
    moved = np.moveaxis(stack, axis, 0)
    flat = moved.reshape(moved.shape[0], -1)
    out = np.asarray(matrix @ flat, dtype=np.float32).reshape((matrix.shape[0], *moved.shape[1:]))
    return np.moveaxis(out, 0, axis)


def resize_stack(stack: np.ndarray, height: int, width: int) -> np.ndarray:
    """(N, H, W, C) float -> (N, height, width, C): the same numbers as Pillow's BILINEAR resize."""
    across = _resample_axis(np.asarray(stack, np.float32), _resample_matrix(stack.shape[2], width), 2)
    down = _resample_axis(across, _resample_matrix(stack.shape[1], height), 1)
    return np.ascontiguousarray(down, dtype=np.float32)


def thumbnails(images: Sequence[np.ndarray], size: int = 48) -> np.ndarray:
    """uint8 (N, size, size, 3) RGB tiles of stored images, aspect kept, padded with black."""
    tiles = Preprocessing(resize="pad", channels="rgb", size=(size, size)).apply_batch(images)
    return np.clip(tiles * 255.0 + 0.5, 0, 255).astype(np.uint8)


def thumbnail(image: np.ndarray, size: int = 48) -> np.ndarray:
    """uint8 (size, size, 3) tile of one stored image; see `thumbnails`."""
    return thumbnails([image], size)[0]


SCALE_IN_MODEL = frozenset({"Rescaling", "Normalization"})
MINUS_ONE_TO_ONE_FAMILIES = ("mobilenet", "inception", "xception", "nasnet", "efficientnetv2")


def guess_recipe(description: Any) -> tuple[Preprocessing, str]:
    """A first recipe for a model seen for the first time, and why (shown to the user).

    Never silently inherited from the previous model: a model that scales its own input (a
    Rescaling or Normalization layer right after the input) gets raw 0..255 values; the Keras
    application families trained on -1..1 (MobileNet, Inception, Xception, NASNet) get -1..1;
    anything else 0..1. Size and channels always come from the input layer.
    """
    inputs = getattr(description, "inputs", ()) or ()
    shape = tuple(inputs[0].shape) if inputs else ()
    if len(shape) == 2:  # rows of features or token ids: the image recipe does not apply, nothing to say
        return Preprocessing(), ""
    layers = [layer for layer in getattr(description, "layers", ()) or () if layer.class_name != "InputLayer"]
    first = layers[0].class_name if layers else ""
    name = str(getattr(description, "name", "")).lower()
    if first in SCALE_IN_MODEL:
        scale, why = "raw", f"the model's first layer ({first}) scales raw 0…255 pixels itself"
    elif any(family in name for family in MINUS_ONE_TO_ONE_FAMILIES):
        scale, why = "-1..1", f"{getattr(description, 'name', 'the model')} is a family trained on -1…1 inputs"
    else:
        scale, why = "0..1", "no scaling layer in the model: pixels scaled to 0…1"
    recipe = Preprocessing(scale=scale)
    if len(shape) == 4:
        recipe = recipe.fit(shape)
    size = f"{recipe.size[0]}×{recipe.size[1]}" if recipe.size else "any size"
    return recipe, f"Recipe guessed from the input layer ({size}): {why}. Check it under Preprocessing."
