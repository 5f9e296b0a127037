"""Cases: a folder of images, a few image files, or an .npz of arrays, with a preprocessing recipe.

A `Dataset` keeps the stored data untouched and applies its `Preprocessing` on demand, so
changing the recipe is instant and every view sees exactly the tensor the model sees. Each case
has a content hash (a renamed file keeps its hash, so reviews and caches still match), and the
dataset hash covers the raw data and the recipe: any change to either changes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine import limits
from engine.errors import BadInputError, NotSupportedError
from engine.image_io import is_image_file, list_folder, read_file, read_image
from engine.jobs import JobContext
from engine.preprocessing import Preprocessing, thumbnail, thumbnails

THUMB = 48
# kinds of cases that are not images: no recipe, no picture, grey tiles in the case list
ROWS = ("tabular", "sequence")  # numeric (F,) rows and (T, C) sequences / signals
NOT_IMAGES = (*ROWS, "multi", "text")  # "multi": one array per model input; "text": strings
THUMB_CHUNK = 256  # images per vectorised thumbnail batch
MAX_CLASSES = 100_000  # a label of 10**12 must not build 10**12 class names
MAX_NAME = 200
Loader = Callable[[int], np.ndarray]


class Dataset:
    """Cases the model can be fed; see the module docstring. Only the engine thread uses it."""

    def __init__(
        self,
        *,
        name: str,
        source: str,
        names: Sequence[str],
        labels: np.ndarray,
        class_names: Sequence[str],
        case_hashes: Sequence[str],
        loader: Loader,
        preprocessing: Preprocessing | None = None,
        kind: str = "images",
        skipped: Sequence[str] = (),
        thumbnails: np.ndarray | None = None,
    ) -> None:
        self.name = name
        self.source = source
        self.names = list(names)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.class_names = list(class_names)
        self.case_hashes = list(case_hashes)
        self.kind = kind  # "images", or one of NOT_IMAGES
        self.skipped = list(skipped)  # "file: reason" for files that could not be read
        self.orientations: list[int] = []  # EXIF orientation applied per image file (empty: none)
        self.preprocessing = preprocessing or Preprocessing()
        self._loader = loader
        self._thumbnails = thumbnails
        if not (len(self.names) == len(self.labels) == len(self.case_hashes)):
            raise BadInputError(f"{name}: {len(self.names)} cases but {len(self.labels)} labels.")
        recipe = json.dumps(self.preprocessing.to_dict(), sort_keys=True) if kind == "images" else ""
        digest = hashlib.sha256()
        for case_hash in self.case_hashes:
            digest.update(case_hash.encode())
        digest.update(recipe.encode())
        self.hash = digest.hexdigest()

    def __len__(self) -> int:
        return len(self.names)

    def raw(self, i: int) -> np.ndarray:
        """The case as stored (uint8 / uint16 / float image, or a feature row)."""
        return self._loader(int(i))

    def inputs(self, indices: Sequence[int]) -> Any:
        """Model-ready batch: float32 (n, H, W, C) images, (n, F) rows or (n, T, C) sequences;
        a dict of arrays (one per model input) for "multi"; (n, 1) strings for "text"."""
        if self.kind in ROWS:
            return np.stack([self.raw(i) for i in indices]).astype(np.float32)
        if self.kind == "multi":
            rows = [self.raw(i) for i in indices]
            return {key: np.stack([row[key] for row in rows]) for key in rows[0]} if rows else {}
        if self.kind == "text":
            return np.array([[self.raw(i)] for i in indices], dtype=object)
        return self.preprocessing.apply_batch([self.raw(i) for i in indices])

    def display_image(self, i: int) -> np.ndarray:
        """The case as the model sees it (geometry, channels), float32 0..1, (H, W) or (H, W, 3)."""
        if self.kind in NOT_IMAGES:
            raise NotSupportedError(f"{self.names[i]} is not an image ({self.kind} case).")
        image = self.preprocessing.show(self.raw(i)).astype(np.float32)
        return image[..., 0] if image.shape[2] == 1 else image

    def thumbnail(self, i: int, size: int = THUMB) -> np.ndarray:
        """uint8 (size, size, 3) tile of the stored image (not the preprocessed one)."""
        if self._thumbnails is not None and size == THUMB:
            return self._thumbnails[i]
        if self.kind in NOT_IMAGES:
            return np.full((size, size, 3), 200, np.uint8)
        return thumbnail(self.raw(i), size)

    def thumbnails(self, progress: Callable[[float], None] | None = None) -> np.ndarray:
        """All THUMB tiles, (N, 48, 48, 3) uint8; computed once and kept."""
        if self._thumbnails is None and self.kind in NOT_IMAGES:  # one grey tile, seen N times: no N x 7 kB
            self._thumbnails = np.broadcast_to(np.full((1, THUMB, THUMB, 3), 200, np.uint8), (len(self), THUMB, THUMB, 3))
        if self._thumbnails is None:
            tiles = np.zeros((len(self), THUMB, THUMB, 3), np.uint8)
            for start in range(0, len(self), THUMB_CHUNK):
                stop = min(len(self), start + THUMB_CHUNK)
                tiles[start:stop] = thumbnails([self.raw(i) for i in range(start, stop)])
                if progress is not None:
                    progress(stop / len(self))
            self._thumbnails = tiles
        return self._thumbnails

    def with_preprocessing(self, preprocessing: Preprocessing, kind: str | None = None) -> Dataset:
        """The same cases under another recipe (new hash); the stored data is shared."""
        fitted = Dataset(
            name=self.name,
            source=self.source,
            names=self.names,
            labels=self.labels,
            class_names=self.class_names,
            case_hashes=self.case_hashes,
            loader=self._loader,
            preprocessing=preprocessing,
            kind=kind or self.kind,
            skipped=self.skipped,
            thumbnails=self._thumbnails,
        )
        fitted.orientations = self.orientations
        return fitted

    def case_provenance(self, i: int) -> dict[str, Any]:
        """What an auditor needs to redo the model's input: the stored case's content hash (the
        loader checks the file still has it at every read), how it was turned (EXIF) and the
        full preprocessing recipe."""
        record: dict[str, Any] = {
            "case_sha256": self.case_hashes[i],
            "case_source": self.source,
            "preprocessing": self.preprocessing.to_dict() if self.kind == "images" else None,
        }
        if self.kind == "images":
            record["preprocessing_text"] = self.preprocessing.describe()
        if self.orientations:
            record["exif_orientation"] = int(self.orientations[i])
        return record

    @classmethod
    def from_arrays(
        cls,
        x: np.ndarray,
        y: np.ndarray | None = None,
        class_names: Sequence[str] | None = None,
        name: str = "arrays",
        preprocessing: Preprocessing | None = None,
        source: str = "",
    ) -> Dataset:
        """Images (N, H, W) / (N, H, W, C) or feature rows (N, F) held in memory."""
        x = np.asarray(x)
        if x.dtype == object or x.dtype.kind not in "biuf":
            raise BadInputError(f"{name}: x must be a numeric array, got dtype {x.dtype}.")
        if x.ndim not in (2, 3, 4) or len(x) == 0:
            raise BadInputError(
                f"{name}: x must be (N, H, W[, C]) images or (N, F) features, got shape {x.shape}."
            )
        if x.ndim == 4 and x.shape[3] not in (1, 2, 3, 4):
            raise BadInputError(f"{name}: images must have 1 to 4 channels, got shape {x.shape}.")
        labels = _labels(y, len(x), name)
        if class_names is not None and len(class_names) > MAX_CLASSES:
            raise BadInputError(f"{name}: {len(class_names):,} class names; at most {MAX_CLASSES:,} are supported.")
        classes = [str(c)[:MAX_NAME] for c in class_names] if class_names is not None else _default_classes(labels)
        if class_names is not None and len(labels) and labels.max() >= len(classes):
            raise BadInputError(f"{name}: label {labels.max()} but only {len(classes)} class names.")
        return cls(
            name=name,
            source=source,
            names=[f"case {i}" for i in range(len(x))],
            labels=labels,
            class_names=classes,
            case_hashes=[_hash_array(row) for row in x],
            loader=x.__getitem__,
            preprocessing=preprocessing,
            kind="tabular" if x.ndim == 2 else "images",
        )


    @classmethod
    def from_inputs(cls, arrays: dict[str, np.ndarray], y: np.ndarray | None = None,
                    class_names: Sequence[str] | None = None, name: str = "arrays", source: str = "") -> Dataset:
        """Cases of a multi-input model: one array per input name, the same number of rows each."""
        lengths = {key: len(a) for key, a in arrays.items()}
        if len(set(lengths.values())) != 1 or not all(lengths.values()):
            shown = ", ".join(f"{k}: {n}" for k, n in lengths.items())
            raise BadInputError(f"{name}: every input array needs the same, non-zero number of cases ({shown}).")
        for key, a in arrays.items():
            if a.dtype.kind not in "biuf":
                raise BadInputError(f"{name}: input {key!r} must be numeric, got dtype {a.dtype}.")
        n = next(iter(lengths.values()))
        labels = _labels(y, n, name)
        keys = list(arrays)
        return cls(
            name=name, source=source, names=[f"case {i}" for i in range(n)], labels=labels,
            class_names=list(class_names) if class_names is not None else _default_classes(labels),
            case_hashes=[_hash_array(np.concatenate([arrays[k][i].reshape(-1).astype(np.float64) for k in keys]))
                         for i in range(n)],
            loader=lambda i: {k: arrays[k][i] for k in keys}, kind="multi",
        )

    @classmethod
    def from_texts(cls, texts: Sequence[str], y: np.ndarray | None = None,
                   class_names: Sequence[str] | None = None, name: str = "texts", source: str = "") -> Dataset:
        """Text cases (one string each) for a model that reads strings or token ids."""
        texts = [str(t) for t in texts]
        if not texts:
            raise BadInputError(f"{name}: no text cases (empty file).")
        labels = _labels(y, len(texts), name)
        return cls(
            name=name, source=source, names=[t if len(t) <= 60 else t[:59] + "…" for t in texts], labels=labels,
            class_names=list(class_names) if class_names is not None else _default_classes(labels),
            case_hashes=[hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts],
            loader=texts.__getitem__, kind="text",
        )


def _labels(y: np.ndarray | None, n: int, name: str) -> np.ndarray:
    if y is None:
        return np.full(n, -1, np.int64)
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:  # one-hot
        y = y.argmax(axis=1)
    y = y.reshape(-1)
    if len(y) != n:
        raise BadInputError(f"{name}: y has {len(y)} labels for {n} cases.")
    if y.dtype.kind not in "biuf" or (y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0)):
        raise BadInputError(f"{name}: y must hold integer class indices.")
    if y.size and (y.max() >= MAX_CLASSES or y.min() < -1):
        raise BadInputError(
            f"{name}: labels must be class indices 0..{MAX_CLASSES - 1} (-1: unknown), got {y.min()}..{y.max()}."
        )
    return y.astype(np.int64)


def _default_classes(labels: np.ndarray) -> list[str]:
    return [str(i) for i in range(int(labels.max(initial=-1)) + 1)]


def _hash_array(row: np.ndarray) -> str:
    digest = hashlib.sha256(f"{row.dtype.str}{row.shape}".encode())
    digest.update(np.ascontiguousarray(row).tobytes())
    return digest.hexdigest()


# ----- files ----------------------------------------------------------------------------------
@dataclass
class _ReadFiles:
    """Result of a pass over image files: what opened (with hashes and tiles) and what did not."""

    files: list[Path] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    orientations: list[int] = field(default_factory=list)  # EXIF orientation applied (1: none)
    tiles: list[np.ndarray] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _read_files(ctx: JobContext, files: Sequence[Path], labels: Sequence[int], root: Path) -> _ReadFiles:
    out = _ReadFiles()
    for n, (path, label) in enumerate(zip(files, labels, strict=True)):
        if n % 16 == 0:
            ctx.check()
            ctx.progress(0.95 * n / len(files), f"Reading images {n}/{len(files)}…")
        name = _relative(path, root)
        info: dict = {}
        try:
            data = read_file(path)  # regular files only: a FIFO in the folder never blocks
            tile = thumbnail(read_image(path, data, reduce_to=THUMB, info=info), THUMB)
        except BadInputError as exc:
            out.skipped.append(f"{name}: {str(exc).removeprefix(path.name + ': ')}")
            continue
        except OSError as exc:
            out.skipped.append(f"{name}: {exc.strerror or exc}")
            continue
        out.files.append(path)
        out.labels.append(label)
        out.hashes.append(hashlib.sha256(data).hexdigest())
        out.orientations.append(int(info.get("exif_orientation", 1)))
        out.tiles.append(tile)
    if not out.files:
        shown = "; ".join(out.skipped[:3]) + ("; …" if len(out.skipped) > 3 else "")
        raise BadInputError(f"{root}: none of the {len(files)} image file(s) could be read ({shown}).")
    return out


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


def dataset_from_files(
    ctx: JobContext,
    files: Sequence[Path],
    labels: Sequence[int],
    class_names: Sequence[str],
    root: Path,
    source: str,
) -> Dataset:
    """Read (hash, decode, thumbnail) every file once; unreadable ones are skipped and listed."""
    read = _read_files(ctx, files, labels, root)
    paths = read.files

    def load(i: int) -> np.ndarray:
        """The file as it was when opened: changed bytes are refused, never silently mixed in."""
        data = read_file(paths[i])
        if hashlib.sha256(data).hexdigest() != read.hashes[i]:
            raise BadInputError(
                f"{_relative(paths[i], root)} changed on disk since the cases were opened; reopen them."
            )
        return read_image(paths[i], data)

    dataset = Dataset(
        name=Path(source).name,
        source=source,
        names=[_relative(p, root) for p in paths],
        labels=np.array(read.labels, np.int64),
        class_names=class_names,
        case_hashes=read.hashes,
        loader=load,
        skipped=read.skipped,
        thumbnails=np.stack(read.tiles),
    )
    dataset.orientations = read.orientations
    return dataset


def load_npz(path: Path) -> Dataset:
    """An .npz with `x` and optionally `y` and `class_names` (never unpickled: files are untrusted).

    Every member's declared shape and dtype are read from its header and checked against the
    memory budget (and the zip directory against bombs) before any array is read.
    """
    try:
        with limits.open_regular(path) as handle:
            _check_npz(path, handle)
            with np.load(handle, allow_pickle=False) as archive:
                arrays = {key: archive[key] for key in archive.files}
    except BadInputError as exc:
        raise BadInputError(f"{path.name}: {str(exc).split(': ', 1)[-1]}") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise BadInputError(f"{path.name}: not a readable .npz file ({str(exc).splitlines()[0]}).") from exc
    names = arrays.get("class_names")
    if "x" not in arrays:
        inputs = {k: a for k, a in arrays.items() if k not in ("y", "class_names", "feature_names")}
        if len(inputs) < 2:
            raise BadInputError(
                f"{path.name}: no array named 'x', nor one array per model input (found: {', '.join(arrays) or 'none'})."
            )
        return Dataset.from_inputs(inputs, arrays.get("y"), [str(v) for v in names.reshape(-1)] if names is not None
                                   else None, name=path.name, source=str(path))
    dataset = Dataset.from_arrays(
        arrays["x"],
        arrays.get("y"),
        [str(v) for v in names.reshape(-1)] if names is not None else None,
        name=path.name,
        source=str(path),
    )
    features = arrays.get("feature_names")
    if features is not None and dataset.kind == "tabular" and features.size == arrays["x"].shape[1]:
        dataset.feature_names = tuple(str(v)[:MAX_NAME] for v in features.reshape(-1))  # the chart's labels
    return dataset


def _check_npz(path: Path, handle: Any) -> None:
    """Declared sizes of an .npz's arrays, from the zip directory and each .npy header."""
    with zipfile.ZipFile(handle) as archive:
        limits.check_zip(path, archive)
        total = 0
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, _fortran, dtype = reader(member)
            if dtype.hasobject:
                raise BadInputError(f"{info.filename} holds Python objects, which are never unpickled")
            total += int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
        limits.check_declared(path, total, os.path.getsize(path), "of arrays")
    handle.seek(0)


def load_dataset(ctx: JobContext, path: str, paths: Sequence[str] | None = None) -> Dataset:
    """A folder, an .npz, one image file, or several image files (`paths`)."""
    if paths:
        files = [Path(p) for p in paths]
        root = Path(_common_parent(files))
        return dataset_from_files(ctx, files, [-1] * len(files), [], root, str(root))
    target = Path(path)
    if not target.exists():
        raise BadInputError(f"{path}: no such file or folder.")
    if target.is_dir():
        listing = list_folder(target)
        return dataset_from_files(
            ctx, listing.files, listing.labels, listing.class_names, target, str(target)
        )
    if target.suffix.lower() == ".npz":
        return load_npz(target)
    if target.suffix.lower() in (".csv", ".tsv", ".parquet", ".pq"):
        from engine.tabular import open_table  # tables of features; text CSVs fall through

        table = open_table(target)
        if table is not None:
            return table
    if target.suffix.lower() in (".txt", ".csv", ".tsv"):
        return load_texts(target)
    if is_image_file(target):
        return dataset_from_files(ctx, [target], [-1], [], target.parent, str(target))
    raise BadInputError(f"{target.name}: not an image, a folder of images, an .npz file, a table (.csv, .parquet) or text (.txt, .csv).")


TEXT_COLUMNS = ("text", "sentence", "review", "content", "comment", "message")
LABEL_COLUMNS = ("label", "labels", "y", "class", "target")


def load_texts(path: Path) -> Dataset:
    """Text cases: a .txt with one case per line, or a CSV/TSV with a text column (and a label
    column, integer classes or names); the text column is named text/sentence/review... or is
    the first column that is not all numbers."""
    import csv

    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path.name}: cannot read it as UTF-8 text ({exc}).") from exc
    if path.suffix.lower() == ".txt":
        return Dataset.from_texts([line for line in raw.splitlines() if line.strip()], name=path.name, source=str(path))
    rows = list(csv.reader(raw.splitlines(), delimiter="\t" if path.suffix.lower() == ".tsv" else ","))
    if len(rows) < 2:
        raise BadInputError(f"{path.name}: needs a header row and at least one case.")
    header, body = [h.strip().lower() for h in rows[0]], [r for r in rows[1:] if any(c.strip() for c in r)]
    def column(index: int) -> list[str]:
        return [r[index] if index < len(r) else "" for r in body]
    def numeric(values: list[str]) -> bool:
        try:
            [float(v) for v in values]
        except ValueError:
            return False
        return True
    text_at = next((header.index(c) for c in TEXT_COLUMNS if c in header), None)
    if text_at is None:
        text_at = next((i for i in range(len(header)) if not numeric(column(i))), None)
    if text_at is None:
        raise BadInputError(f"{path.name}: no text column (name one of {', '.join(TEXT_COLUMNS)}).")
    label_at = next((header.index(c) for c in LABEL_COLUMNS if c in header), None)
    labels, names = None, None
    if label_at is not None:
        values = [v.strip() for v in column(label_at)]
        if numeric(values):
            labels = np.array([float(v) for v in values])
        else:
            names = sorted(set(values))
            labels = np.array([names.index(v) for v in values])
    return Dataset.from_texts(column(text_at), labels, names, name=path.name, source=str(path))


def _common_parent(files: Sequence[Path]) -> str:
    return os.path.commonpath([str(p.resolve().parent) for p in files])


# ----- fitting to the model and tasks ---------------------------------------------------------
def model_input_shape(workspace: Any) -> tuple[int | None, ...] | None:
    """The first input's shape from the model description (or the model itself), or None."""
    description = workspace.description
    inputs = getattr(description, "inputs", None)
    if inputs:
        return tuple(inputs[0].shape)
    model = workspace.model
    if model is None:
        return None
    return tuple(model.inputs[0].shape)


def fit_to_model(dataset: Dataset, recipe: Preprocessing, workspace: Any) -> Dataset:
    """Apply `recipe` fitted to the open model's input and check it on the first case.

    Checking one case now turns a size or channel mismatch into a clear message when the user
    changes the recipe, rather than later inside a prediction job.
    """
    shape = model_input_shape(workspace)
    if dataset.kind in ("multi", "text"):
        return dataset.with_preprocessing(recipe)
    if dataset.kind == "images" and shape is not None and len(shape) == 3 and dataset.raw(0).ndim == 2:
        dataset = dataset.with_preprocessing(recipe, kind="sequence")  # (T, C) signals, not grey images
    if dataset.kind == "sequence":
        if shape is not None and tuple(dataset.raw(0).shape) != tuple(d or s for d, s in zip(shape[1:], dataset.raw(0).shape)):
            raise BadInputError(f"{dataset.name}: cases are {dataset.raw(0).shape}, the model expects input {_shape_text(shape)}.")
        return dataset.with_preprocessing(recipe)
    if dataset.kind == "tabular":
        if shape is not None and (len(shape) != 2 or shape[1] not in (None, dataset.raw(0).shape[0])):
            raise BadInputError(
                f"{dataset.name}: cases have {dataset.raw(0).shape[0]} features, the model expects "
                f"input {_shape_text(shape)}."
            )
        return dataset.with_preprocessing(recipe)
    if shape is not None:
        if len(shape) != 4:
            raise BadInputError(
                f"{dataset.name}: cases are images, the model expects input {_shape_text(shape)}."
            )
        recipe = recipe.fit(shape)
    fitted = dataset.with_preprocessing(recipe)
    fitted.inputs([0])
    return fitted


def _shape_text(shape: Sequence[int | None]) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


@dataclass(frozen=True)
class DatasetSummary:
    """What the GUI gets about the open dataset: plain data, thumbnails included."""

    name: str
    source: str
    hash: str
    names: tuple[str, ...]
    labels: np.ndarray  # int64 (N,), -1 where unknown
    class_names: tuple[str, ...]
    thumbnails: np.ndarray  # uint8 (N, 48, 48, 3)
    preprocessing: dict[str, Any]
    case_hashes: tuple[str, ...]
    kind: str  # "images" | "tabular" | "sequence" | "multi" | "text"
    skipped: tuple[str, ...]  # "file: reason" for each file that could not be read
    input_shape: tuple[int, ...] | None  # one case as the model gets it, e.g. (28, 28, 1)
    table: Any = None  # engine.tabular.TableSummary for a CSV / Parquet table of features

    def __len__(self) -> int:
        return len(self.names)


def summarize(dataset: Dataset, ctx: JobContext | None = None) -> DatasetSummary:
    """Plain data for the GUI; computing thumbnails (if not yet done) reports progress and cancels."""

    def progress(fraction: float) -> None:
        if ctx is not None:
            ctx.check()
            ctx.progress(fraction, "Thumbnails…")  # JobContext never lets progress go backwards

    try:
        first = dataset.inputs([0])
        input_shape: tuple[int, ...] | None = None if isinstance(first, dict) else tuple(first.shape[1:])
    except BadInputError:
        input_shape = None
    return DatasetSummary(
        name=dataset.name,
        source=dataset.source,
        hash=dataset.hash,
        names=tuple(dataset.names),
        labels=dataset.labels,
        class_names=tuple(dataset.class_names),
        thumbnails=dataset.thumbnails(progress),
        preprocessing=dataset.preprocessing.to_dict(),
        case_hashes=tuple(dataset.case_hashes),
        kind=dataset.kind,
        skipped=tuple(dataset.skipped),
        input_shape=input_shape,
        table=_table_summary(dataset),
    )


def _table_summary(dataset: Dataset) -> Any:
    if not hasattr(dataset, "table"):
        return None
    from engine.tabular import table_summary

    return table_summary(dataset)


def open_dataset_task(
    ctx: JobContext,
    path: str,
    preprocessing: dict | None = None,
    paths: Sequence[str] | None = None,
) -> DatasetSummary:
    """Open cases and make them the workspace's dataset, fitted to the open model if any.

    A recipe that does not fit the model still opens the cases (listed, unpredicted); the
    mismatch surfaces as a clear error from the prediction job.
    """
    dataset = load_dataset(ctx, path, paths)
    try:
        dataset = _fit(dataset, preprocessing, ctx.workspace)
    except BadInputError:
        dataset = _fit(dataset, None, None) if hasattr(dataset, "table") else dataset.with_preprocessing(
            Preprocessing.from_dict(preprocessing))
    ctx.check()
    summary = summarize(dataset, ctx)
    ctx.workspace.dataset = dataset
    ctx.progress(1.0, f"Opened {len(dataset)} cases from {dataset.name}")
    return summary


def _fit(dataset: Dataset, preprocessing: dict | None, workspace: Any) -> Dataset:
    """`dataset` under `preprocessing`, fitted to the open model (`workspace`; None: no check)."""
    if hasattr(dataset, "table"):
        from engine.tabular import apply_recipe

        dataset = apply_recipe(dataset, preprocessing)
        return fit_to_model(dataset, Preprocessing(), workspace) if workspace is not None else dataset
    return fit_to_model(dataset, Preprocessing.from_dict(preprocessing), workspace)


def set_preprocessing_task(ctx: JobContext, preprocessing: dict | None = None) -> DatasetSummary:
    """Re-fit the open dataset to the open model under `preprocessing` (None: keep its recipe).

    Called when the user edits the recipe and whenever the model changes; raises BadInputError
    (and keeps the previous recipe) if the cases cannot be adapted to the model.
    """
    dataset = ctx.workspace.dataset
    if dataset is None:
        raise BadInputError("No cases are open.")
    fitted = _fit(dataset, preprocessing if preprocessing is not None else dataset.preprocessing.to_dict(),
                  ctx.workspace)
    ctx.workspace.dataset = fitted
    return summarize(fitted, ctx)
