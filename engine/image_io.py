"""Reading images from disk, keeping their bit depth: PNG, JPEG, BMP, TIFF, 8 or 16 bit.

Pillow reads the common formats; TIFF goes through tifffile first because Pillow cannot read
16-bit RGB or multi-sample scientific TIFFs. Every failure is a BadInputError naming the file, so
one corrupt file in a folder can be skipped and reported while the rest open.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from engine import limits
from engine.errors import BadInputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
TIFF_SUFFIXES = (".tif", ".tiff")
MAX_PIXELS = 1 << 27  # 134 M pixels (~11600 x 11600): past it a file is a decompression bomb
EXIF_ORIENTATION = 0x0112


def is_image_file(path: str | os.PathLike[str]) -> bool:
    name = Path(path).name
    return not name.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES)


def read_image(
    path: str | os.PathLike[str],
    data: bytes | None = None,
    reduce_to: int | None = None,
    info: dict | None = None,
) -> np.ndarray:
    """Decode one image to uint8 / uint16 / float32, shape (H, W) or (H, W, C) with C in 1..4.

    `data`: the file's bytes when the caller already read them (to hash them). `reduce_to`: a
    JPEG may be decoded at a reduced scale no smaller than this, which makes thumbnails of large
    photos several times faster. Images are turned as the camera meant them (EXIF orientation);
    `info`, if given, receives {"exif_orientation": 1..8}. A file declaring more than MAX_PIXELS
    or more bytes than the memory budget is refused from its header, before decoding.
    """
    path = Path(path)
    if data is None:
        data = read_file(path)
    source = io.BytesIO(data)
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            array = _read_tiff(source, info)
        else:
            array = _read_pillow(source, reduce_to, info)
    except BadInputError as exc:
        raise BadInputError(f"{path.name}: {exc}") from None
    except UnidentifiedImageError as exc:
        raise BadInputError(f"{path.name}: not a readable image (unknown format or corrupt data).") from exc
    except Image.DecompressionBombError as exc:
        raise BadInputError(f"{path.name}: {_reason(exc)}") from exc
    except MemoryError as exc:
        raise BadInputError(f"{path.name}: not enough memory to decode it.") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise BadInputError(f"{path.name}: not a readable image ({_reason(exc)}).") from exc
    return _check(path, array)


def read_file(path: Path) -> bytes:
    """An image file's bytes: regular files only (a FIFO would block), within the budget."""
    try:
        return limits.read_regular(path)
    except BadInputError as exc:
        raise BadInputError(f"{path.name}: {str(exc).removeprefix(os.fspath(path) + ': ')}") from None


def check_pixels(width: int, height: int, channels: int, itemsize: int) -> None:
    """Refuse a declared size past MAX_PIXELS or the memory budget (before any decoding)."""
    pixels = int(width) * int(height)
    size = pixels * max(1, channels) * max(1, itemsize) * 4  # decoded + float32 working copies
    budget = limits.memory_budget()
    if pixels > MAX_PIXELS or size > budget:
        raise BadInputError(
            f"declares {width}×{height} pixels ({limits.human(size)} to decode), past the limit of "
            f"{MAX_PIXELS:,} pixels / {limits.human(budget)} (a decompression bomb?)"
        )


def _read_pillow(source: io.BytesIO, reduce_to: int | None = None, info: dict | None = None) -> np.ndarray:
    with warnings.catch_warnings():  # our own limit (check_pixels) decides, with a clear message
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        opened = Image.open(source)
    with opened:
        if reduce_to and opened.format == "JPEG":
            opened.draft(opened.mode, (reduce_to, reduce_to))
        check_pixels(opened.width, opened.height, len(opened.getbands()), 2 if opened.mode.startswith("I") else 1)
        orientation = int(opened.getexif().get(EXIF_ORIENTATION, 1) or 1)
        if info is not None:
            info["exif_orientation"] = orientation if 1 <= orientation <= 8 else 1
        opened.load()
        image = ImageOps.exif_transpose(opened) if orientation != 1 else opened
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


def _read_tiff(source: io.BytesIO, info: dict | None = None) -> np.ndarray:
    import tifffile

    try:
        with tifffile.TiffFile(source) as tiff:
            series = tiff.series[0]
            shape = tuple(int(d) for d in series.shape) or (0, 0)
            if len(shape) >= 3 and shape[-1] in (1, 2, 3, 4):
                height, width, channels = shape[-3], shape[-2], shape[-1] * int(np.prod(shape[:-3]))
            else:
                height, width, channels = shape[-2] if len(shape) > 1 else 1, shape[-1], int(np.prod(shape[:-2]))
            check_pixels(width, height, channels, np.dtype(series.dtype).itemsize)
            array = series.asarray()
    except (tifffile.TiffFileError, ValueError, OSError, IndexError):
        source.seek(0)
        return _read_pillow(source, None, info)
    if info is not None:
        info["exif_orientation"] = 1
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
    # Not only regular files: a FIFO or device named like an image is listed, then skipped with
    # its reason by the reader (which never opens it), rather than silently ignored.
    files: list[Path] = sorted(p for p in root.iterdir() if is_image_file(p) and not p.is_dir())
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
