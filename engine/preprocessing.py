"""The preprocessing recipe: how a stored image becomes the tensor the model sees.

Explicit and serialisable on purpose: a saliency map is only meaningful if everyone knows the
exact resize, scaling and channel handling the model was fed, so the recipe is shown in the GUI,
stored per model, hashed into the dataset hash and written into provenance records.

Pipeline for one image (any of uint8 / uint16 / bool / float, shape (H, W) or (H, W, C)):
intensities to 0..1 by bit depth (kept as stored for scale "none") -> channels (RGBA drops alpha, gray <-> RGB) -> resize ->
scale. Only numpy and Pillow: the GUI may import this module for the recipe's choices.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from PIL import Image

from engine.errors import BadInputError

RESIZE_MODES = ("stretch", "pad", "crop")
SCALE_MODES = ("0..1", "-1..1", "imagenet", "raw", "none")
CHANNEL_MODES = ("auto", "gray", "rgb")
RESIZE_TITLES = {"stretch": "Stretch", "pad": "Pad (keep aspect)", "crop": "Centre-crop"}
SCALE_TITLES = {
    "0..1": "0 … 1",
    "-1..1": "-1 … 1",
    "imagenet": "ImageNet mean/std",
    "raw": "Raw 0 … 255",
    "none": "Stored values (no scaling)",
}
CHANNEL_TITLES = {"auto": "As the model needs", "gray": "Grayscale", "rgb": "RGB"}
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
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
        unit = as_hwc(image).astype(np.float32) if self.scale == "none" else to_unit(image)
        unit = self._convert_channels(unit)
        unit = self._resize(unit)
        return self._scale(unit)

    def apply_batch(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Several images -> float32 (N, H, W, C); sizes must agree after resizing."""
        out = [self.apply(image) for image in images]
        shapes = {x.shape for x in out}
        if len(shapes) > 1:
            raise BadInputError(
                f"Images have different sizes ({', '.join(map(str, sorted(shapes)))}); "
                "open a model or set a target size so they can be resized."
            )
        return np.stack(out) if out else np.zeros((0, 1, 1, 1), np.float32)

    def _convert_channels(self, unit: np.ndarray) -> np.ndarray:
        have = unit.shape[2]
        if have == 4 or have == 2:  # RGBA / gray+alpha: the model never sees alpha
            unit = unit[..., : have - 1]
            have -= 1
        want = self.out_channels
        if want is None or want == have:
            return unit
        if not self.adapt:
            raise BadInputError(f"Image has {have} channel(s), the model expects {want} (adapting is off).")
        if have == 1 and want == 3:
            return np.repeat(unit, 3, axis=2)
        if have == 3 and want == 1:
            return (unit @ LUMA)[..., None]
        raise BadInputError(f"Cannot turn a {have}-channel image into {want} channel(s).")

    def _resize(self, unit: np.ndarray) -> np.ndarray:
        if self.size is None or unit.shape[:2] == self.size:
            return unit
        if not self.adapt:
            h, w = unit.shape[:2]
            raise BadInputError(
                f"Image is {h}×{w}, the model expects {self.size[0]}×{self.size[1]} (adapting is off)."
            )
        th, tw = self.size
        h, w = unit.shape[:2]
        if self.resize == "stretch":
            return resize_unit(unit, th, tw)
        if self.resize == "pad":
            factor = min(th / h, tw / w)
            nh, nw = max(1, round(h * factor)), max(1, round(w * factor))
            out = np.zeros((th, tw, unit.shape[2]), np.float32)
            top, left = (th - nh) // 2, (tw - nw) // 2
            out[top : top + nh, left : left + nw] = resize_unit(unit, nh, nw)
            return out
        factor = max(th / h, tw / w)  # crop: cover the target, then cut the centre
        nh, nw = max(th, round(h * factor)), max(tw, round(w * factor))
        scaled = resize_unit(unit, nh, nw)
        top, left = (nh - th) // 2, (nw - tw) // 2
        return scaled[top : top + th, left : left + tw]

    def _scale(self, unit: np.ndarray) -> np.ndarray:
        if self.scale in ("0..1", "none"):
            return unit
        if self.scale == "-1..1":
            return unit * 2.0 - 1.0
        if self.scale == "raw":
            return unit * 255.0
        channels = unit.shape[2]
        mean = IMAGENET_MEAN if channels == 3 else IMAGENET_MEAN.mean(keepdims=True)
        std = IMAGENET_STD if channels == 3 else IMAGENET_STD.mean(keepdims=True)
        return ((unit - mean) / std).astype(np.float32)


def to_unit(image: np.ndarray) -> np.ndarray:
    """Intensities to float32 0..1 by bit depth, always (H, W, C).

    uint8 / 255, uint16 / 65535 (16-bit medical and microscopy images keep their full range),
    bool as 0/1; floats are taken to be 0..1 already, or 0..255 if any value exceeds 1.
    """
    array = as_hwc(image)
    if array.dtype == np.bool_:
        return array.astype(np.float32)
    if np.issubdtype(array.dtype, np.integer):
        info = np.iinfo(array.dtype)
        if info.min < 0 or array.dtype.itemsize > 2:
            top = 255.0 if array.max(initial=0) <= 255 else 65535.0
            return np.clip(array, 0, top).astype(np.float32) / top
        return array.astype(np.float32) / float(info.max)
    array = array.astype(np.float32)
    return array / 255.0 if array.max(initial=0.0) > 1.0 else array


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


def resize_unit(unit: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of a float (H, W, C) image, channel by channel with Pillow's float mode."""
    planes = [
        np.asarray(Image.fromarray(unit[..., c]).resize((width, height), Image.Resampling.BILINEAR))
        for c in range(unit.shape[2])
    ]
    return np.stack(planes, axis=2).astype(np.float32)


def thumbnail(image: np.ndarray, size: int = 48) -> np.ndarray:
    """uint8 (size, size, 3) RGB tile of a stored image, aspect kept, padded with black."""
    tile = Preprocessing(resize="pad", channels="rgb", size=(size, size)).apply(image)
    return np.clip(tile * 255.0 + 0.5, 0, 255).astype(np.uint8)
