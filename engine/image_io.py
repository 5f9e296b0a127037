"""Reading images from disk, keeping their bit depth: PNG, JPEG, BMP, TIFF, 8 or 16 bit.

Pillow reads the common formats; TIFF goes through tifffile first because Pillow cannot read
16-bit RGB or multi-sample scientific TIFFs. Every failure is a BadInputError naming the file, so
one corrupt file in a folder can be skipped and reported while the rest open.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from engine.errors import BadInputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
TIFF_SUFFIXES = (".tif", ".tiff")


def is_image_file(path: str | os.PathLike[str]) -> bool:
    name = Path(path).name
    return not name.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES)


def read_image(
    path: str | os.PathLike[str], data: bytes | None = None, reduce_to: int | None = None
) -> np.ndarray:
    """Decode one image to uint8 / uint16 / float32, shape (H, W) or (H, W, C) with C in 1..4.

    `data`: the file's bytes when the caller already read them (to hash them). `reduce_to`: a
    JPEG may be decoded at a reduced scale no smaller than this, which makes thumbnails of large
    photos several times faster.
    """
    path = Path(path)
    source = io.BytesIO(data) if data is not None else path
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            array = _read_tiff(source)
        else:
            array = _read_pillow(source, reduce_to)
    except BadInputError:
        raise
    except UnidentifiedImageError as exc:
        raise BadInputError(f"{path.name}: not a readable image (unknown format or corrupt data).") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise BadInputError(f"{path.name}: not a readable image ({_reason(exc)}).") from exc
    return _check(path, array)


def _read_pillow(source: Path | io.BytesIO, reduce_to: int | None = None) -> np.ndarray:
    with Image.open(source) as image:
        if reduce_to and image.format == "JPEG":
            image.draft(image.mode, (reduce_to, reduce_to))
        image.load()
        mode = image.mode
        if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
            return np.asarray(image, dtype=np.uint16)
        if mode == "I":  # 32-bit int container, in practice 16-bit PNGs
            return np.clip(np.asarray(image), 0, 65535).astype(np.uint16)
        if mode == "F":
            return np.asarray(image, dtype=np.float32)
        if mode in ("1", "L"):
            return np.asarray(image.convert("L"), dtype=np.uint8)
        if mode in ("LA", "RGBA", "RGB"):
            return np.asarray(image, dtype=np.uint8)
        if "A" in image.getbands() or "transparency" in image.info:
            return np.asarray(image.convert("RGBA"), dtype=np.uint8)
        return np.asarray(image.convert("RGB"), dtype=np.uint8)  # P, CMYK, YCbCr, ...


def _read_tiff(source: Path | io.BytesIO) -> np.ndarray:
    import tifffile

    try:
        array = tifffile.imread(source)
    except (tifffile.TiffFileError, ValueError, OSError):
        if isinstance(source, io.BytesIO):
            source.seek(0)
        return _read_pillow(source)
    array = np.asarray(array)
    while array.ndim > 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[2] not in (1, 3, 4):
        array = np.moveaxis(array, 0, -1)  # planar (C, H, W) storage
    return array


def _check(path: Path, array: np.ndarray) -> np.ndarray:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (2, 3, 4)):
        raise BadInputError(f"{path.name}: unsupported image shape {array.shape} (multi-page or volume?).")
    if array.size == 0:
        raise BadInputError(f"{path.name}: empty image.")
    if array.dtype not in (np.uint8, np.uint16, np.float32):
        if np.issubdtype(array.dtype, np.floating):
            array = array.astype(np.float32)
        elif array.dtype == np.bool_:
            array = array.astype(np.uint8) * 255
        else:
            array = np.clip(array, 0, 65535).astype(np.uint16)
    return array


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


@dataclass(frozen=True)
class FolderListing:
    """Image files under a folder; sub-folders directly under it are the class names."""

    files: tuple[Path, ...]
    labels: tuple[int, ...]  # index into class_names, -1 for images at the top level
    class_names: tuple[str, ...]


def list_folder(root: str | os.PathLike[str]) -> FolderListing:
    """Files sorted by class then name; images in nested folders belong to their top sub-folder."""
    root = Path(root)
    if not root.is_dir():
        raise BadInputError(f"{root}: not a folder.")
    classes = sorted(
        entry.name
        for entry in root.iterdir()
        if entry.is_dir() and not entry.name.startswith(".") and any(_walk_images(entry))
    )
    files: list[Path] = sorted(p for p in root.iterdir() if p.is_file() and is_image_file(p))
    labels = [-1] * len(files)
    for index, name in enumerate(classes):
        found = sorted(_walk_images(root / name))
        files += found
        labels += [index] * len(found)
    if not files:
        raise BadInputError(f"{root}: no images ({', '.join(IMAGE_SUFFIXES)}) found.")
    return FolderListing(tuple(files), tuple(labels), tuple(classes))


def _walk_images(folder: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if is_image_file(name):
                yield Path(dirpath) / name
