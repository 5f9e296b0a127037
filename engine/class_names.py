"""The one mapping from a model's output index to a class name, used by every view.

Names come, in this order, from a labels file kept with the model's settings (one name per
line, or JSON: a list, or an {index: name} object such as Keras' ImageNet index), else from the
dataset (folder names, or the .npz's class_names) when they match the model's outputs. When
the dataset's classes do not match the outputs, `mismatch` says so in words instead of letting
views print "class 0" for what is really the dataset's first folder.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.errors import BadInputError

MAX_LABELS_BYTES = 4 << 20


@dataclass(frozen=True)
class ClassNames:
    names: tuple[str, ...]  # one per model output; "" where nothing names it
    source: str  # "labels file", "dataset", or "" (indices only)
    mismatch: str = ""  # why the dataset's classes were not used ("" when they were, or fit)

    def name(self, index: int) -> str:
        """The class's name, or "class i" when nothing names it."""
        if 0 <= index < len(self.names) and self.names[index]:
            return self.names[index]
        return f"class {index}"

    def label(self, index: int) -> str:
        """"3 (cat)" when a name is known, else "class 3": for titles that must show the index."""
        named = 0 <= index < len(self.names) and self.names[index]
        return f"{index} ({self.names[index]})" if named and self.names[index] != str(index) else f"class {index}"


def read_labels_file(path: str | Path) -> tuple[str, ...]:
    """Names from a labels file: one per line, a JSON list, or a JSON {index: name or [id, name]}."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_LABELS_BYTES:
            raise BadInputError(f"{path.name}: a labels file over 4 MB is not a labels file.")
        text = path.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path.name}: cannot read the labels file ({exc}).") from exc
    stripped = text.strip()
    if stripped.startswith(("[", "{")):
        try:
            data = json.loads(stripped)
        except ValueError as exc:
            raise BadInputError(f"{path.name}: not valid JSON ({exc}).") from exc
        return _from_json(data, path.name)
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def _from_json(data: object, name: str) -> tuple[str, ...]:
    if isinstance(data, list):
        return tuple(str(item) for item in data)
    if isinstance(data, dict):
        try:
            items = {int(k): v for k, v in data.items()}
        except ValueError as exc:
            raise BadInputError(f"{name}: JSON keys must be class indices.") from exc
        if not items or min(items) < 0:
            raise BadInputError(f"{name}: no class indices in the file.")
        names = [""] * (max(items) + 1)
        for index, value in items.items():
            names[index] = str(value[-1]) if isinstance(value, list) and value else str(value)
        return tuple(names)
    raise BadInputError(f"{name}: expected a JSON list of names or an object of index: name.")


def resolve(n_outputs: int | None, dataset_classes: Sequence[str] = (), labels: Sequence[str] = ()) -> ClassNames:
    """The names for a model with `n_outputs` classes (None: unknown, e.g. no model yet)."""
    k = n_outputs if n_outputs else max(len(labels), len(dataset_classes))
    if labels:
        mismatch = "" if len(labels) == k else f"The labels file names {len(labels)} classes; the model has {k} outputs."
        return ClassNames(tuple(labels[:k]) + ("",) * max(0, k - len(labels)), "labels file", mismatch)
    classes = tuple(str(c) for c in dataset_classes)
    numeric = classes == tuple(str(i) for i in range(len(classes)))
    if classes and (len(classes) == k or (numeric and len(classes) <= k)):
        return ClassNames(classes + ("",) * (k - len(classes)), "dataset")
    mismatch = ""
    if classes:
        mismatch = (
            f"The dataset has {len(classes)} classes ({', '.join(classes[:4])}{', …' if len(classes) > 4 else ''}) "
            f"but the model has {k} outputs: predictions are shown by index. Add a labels file to name them."
        )
    return ClassNames(("",) * k, "", mismatch)


def display_name(case_name: str, class_name: str) -> str:
    """A case's name without a leading folder that only repeats its class ("cat/001.png" -> "001.png")."""
    folder, sep, rest = case_name.partition("/")
    return rest if sep and class_name and folder == class_name else case_name
