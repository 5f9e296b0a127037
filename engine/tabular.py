"""Tabular cases: a CSV or Parquet table with a header, turned into model inputs by a recipe.

The table is read once (pandas; pyarrow for Parquet) and kept raw: the case list shows the
values as measured, the attribution chart labels each feature with its raw value, and the
model gets `recipe.transform(table)` (engine.tabular_recipe), recomputed whenever the user
changes the recipe. A scaling file beside the table (`<stem>_scaling.json`, `<stem>.scaling.json`
or `scaling.json`) is used automatically; otherwise scaling is fitted on the table's rows.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine import limits
from engine.data import Dataset, _default_classes
from engine.errors import BadInputError
from engine.tabular_recipe import (
    Column,
    Table,
    TabularRecipe,
    file_scaling,
    fit_recipe,
    guess_excluded,
    guess_label,
    is_tabular_recipe,
)

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")
TEXT_COLUMNS = ("text", "sentence", "review", "content", "comment", "message")
SCALING_NAMES = ("{stem}_scaling.json", "{stem}.scaling.json", "scaling.json")
MAX_TABLE_BYTES = 1 << 30


# ----- reading --------------------------------------------------------------------------------
def read_table(path: Path) -> Table:
    """Every column of a CSV / TSV / Parquet file: numbers as float64 (NaN missing), anything
    else as strings (None missing). Only regular files, within the memory budget."""
    import pandas as pd

    data = limits.read_regular(path, max_bytes=min(MAX_TABLE_BYTES, limits.memory_budget() // 8))
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(io.BytesIO(data))
        else:
            frame = pd.read_csv(io.BytesIO(data), sep="\t" if path.suffix.lower() == ".tsv" else ",",
                                skipinitialspace=True)
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise BadInputError(f"{path.name}: not a readable table ({str(exc).splitlines()[0]}).") from None
    except ImportError as exc:
        raise BadInputError(f"{path.name}: reading it needs {exc.name or 'pyarrow'} (pip install pyarrow).") from None
    if frame.empty or len(frame.columns) == 0:
        raise BadInputError(f"{path.name}: needs a header row and at least one case.")
    return table_from_frame(frame)


def table_from_frame(frame: Any) -> Table:
    """A pandas DataFrame as a `Table` (column names made strings)."""
    import pandas as pd

    columns = []
    for name in frame.columns:
        series = frame[name]
        if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
            missing = series.isna().to_numpy()
            values = series.astype(str).str.strip().to_numpy(dtype=object)
            values[missing | (values == "")] = None
        else:
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        columns.append(Column(str(name), values))
    return Table(tuple(columns))


def looks_like_text(table: Table) -> bool:
    """A text CSV (a column of sentences to classify) rather than a table of features."""
    if any(n.strip().lower() in TEXT_COLUMNS for n in table.names):
        return True
    label = guess_label(table.names)
    for column in table.columns:
        if column.numeric or column.name == label:
            continue
        words = [len(v.split()) for v in column.values[:200] if v is not None]
        if words and float(np.median(words)) >= 3:
            return True
    return False


def find_scaling_file(path: Path) -> Path | None:
    """The scaling file beside `path`, if there is one."""
    for pattern in SCALING_NAMES:
        candidate = path.with_name(pattern.format(stem=path.stem))
        if candidate.is_file():
            return candidate
    return None


def read_scaling_file(path: str | Path) -> dict[str, Any]:
    """{"kind": "standardize" | "minmax", "features": {name: {"mean", "std"} | {"min", "max"}},
    optionally "label_column" and "class_names"}; its name and SHA-256 are added."""
    path = Path(path)
    data = limits.read_regular(path, max_bytes=64 << 20)
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"{path.name}: not a JSON scaling file ({exc}).") from None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("features"), dict) or not parsed["features"]:
        raise BadInputError(f"{path.name}: a scaling file needs a 'features' object of per-column parameters.")
    return {**parsed, "file_name": path.name, "path": str(path), "sha256": hashlib.sha256(data).hexdigest()}


# ----- the dataset ----------------------------------------------------------------------------
class TabularDataset(Dataset):
    """Rows of a table. `raw(i)` is the model's input row (like an .npz's (N, F) rows);
    `raw_values(i)` the row as measured; the recipe is part of the hash and the provenance."""

    def __init__(self, table: Table, recipe: TabularRecipe, *, name: str, source: str,
                 scaling_path: str = "", auto: TabularRecipe | None = None,
                 case_hashes: Sequence[str] | None = None) -> None:
        self.table = table
        self.scaling_path = scaling_path
        self.auto_recipe = auto or recipe  # what opening chose: the fallback for a recipe that does not fit
        labels, class_names = _labels(table, recipe)
        self.x = recipe.transform(table)
        super().__init__(
            name=name, source=source, names=_names(table), labels=labels, class_names=class_names,
            case_hashes=case_hashes or _row_hashes(table), loader=self.x.__getitem__, kind="tabular",
        )
        self.preprocessing = recipe  # type: ignore[assignment] - the tabular recipe, with to_dict()
        digest = hashlib.sha256(self.hash.encode())
        digest.update(json.dumps(recipe.to_dict(), sort_keys=True, default=str).encode())
        self.hash = digest.hexdigest()

    @property
    def recipe(self) -> TabularRecipe:
        return self.preprocessing  # type: ignore[return-value]

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.recipe.input_names

    def inputs(self, indices: Sequence[int]) -> np.ndarray:
        return self.x[np.asarray(list(indices), np.int64)]

    def raw_values(self, i: int) -> dict[str, float | str | None]:
        """Every column of row `i` as stored (None: missing)."""
        out: dict[str, float | str | None] = {}
        for column in self.table.columns:
            value = column.values[i]
            out[column.name] = None if value is None or (column.numeric and np.isnan(value)) else (
                float(value) if column.numeric else str(value))
        return out

    def encode(self, values: Mapping[str, float | str | None]) -> np.ndarray:
        """(1, F) float32 model input of one row given by its raw values (columns left out keep
        row 0's), through this dataset's recipe: what an edited case (what-if) feeds the model."""
        return self.recipe.transform(self.row_table(values))

    def row_table(self, values: Mapping[str, float | str | None]) -> Table:
        """A one-row table with this table's columns holding `values` (None or "": missing)."""
        columns = []
        for column in self.table.columns:
            value = values.get(column.name, column.values[0])
            if column.numeric:
                number = np.nan if value is None or value == "" else float(value)
                columns.append(Column(column.name, np.array([number], np.float64)))
            else:
                columns.append(Column(column.name, np.array([None if value in (None, "") else str(value)], object)))
        return Table(tuple(columns))

    def input_labels(self, i: int) -> tuple[str, ...]:
        """Each model input's raw value as text (one-hot inputs: the case's category)."""
        values = self.raw_values(i)
        out = []
        for column in self.recipe.features:
            value = values[column.name]
            text = f"missing → {format_value(column.fill)}" if value is None else format_value(value)
            out += [text] * len(column.input_names)
        return tuple(out)

    def with_preprocessing(self, preprocessing: Any, kind: str | None = None) -> Dataset:
        """An image recipe does not apply to rows: the tabular recipe stays."""
        return self

    def with_recipe(self, recipe: TabularRecipe) -> TabularDataset:
        return TabularDataset(self.table, recipe, name=self.name, source=self.source,
                              scaling_path=self.scaling_path, auto=self.auto_recipe, case_hashes=self.case_hashes)

    def case_provenance(self, i: int) -> dict[str, Any]:
        return {
            "case_sha256": self.case_hashes[i],
            "case_source": self.source,
            "preprocessing": self.recipe.to_dict(),
            "preprocessing_text": self.recipe.describe(),
            "raw_values": self.raw_values(i),
        }


def append_rows(table: Table, rows: Sequence[Table]) -> Table:
    """`table` with the rows of `rows` (tables of the same columns) after its own."""
    if not rows:
        return table
    return Table(tuple(Column(c.name, np.concatenate([c.values, *(r.columns[k].values for r in rows)]))
                       for k, c in enumerate(table.columns)))


def _names(table: Table) -> list[str]:
    """Case names: an id column's values when the table has one, else "case i"."""
    for column in table.columns:
        if column.name.strip().lower() in ("id", "name", "case") and len(set(column.values)) == len(table):
            return [format_value(v) for v in column.values]
    return [f"case {i}" for i in range(len(table))]


def _row_hashes(table: Table) -> list[str]:
    """Each row's content hash over every column (the header, the numbers' float64 bytes, the
    strings), so a review follows the row wherever it moves in the file."""
    header = "\x1f".join(f"{c.name}:{'f' if c.numeric else 's'}" for c in table.columns).encode("utf-8")
    numbers = [c.values for c in table.columns if c.numeric]
    matrix = np.stack(numbers, axis=1) if numbers else np.zeros((len(table), 0))
    matrix = np.ascontiguousarray(np.where(np.isnan(matrix), np.nan, matrix))  # one NaN bit pattern
    texts = [c.values for c in table.columns if not c.numeric]
    strings = ["\x1f".join("\x00" if v is None else v for v in row) for row in zip(*texts)] if texts else [""] * len(table)
    return [hashlib.sha256(header + matrix[i].tobytes() + strings[i].encode("utf-8")).hexdigest()
            for i in range(len(table))]


def _labels(table: Table, recipe: TabularRecipe) -> tuple[np.ndarray, list[str]]:
    """Class indices of the label column (-1: none or unknown) and the class names: the
    recipe's (from the scaling file) when it names them, else integers as they are, else the
    sorted distinct strings."""
    if recipe.label is None:
        return np.full(len(table), -1, np.int64), []
    column = table.column(recipe.label)
    if recipe.class_names:
        names = list(recipe.class_names)
        index = {n: i for i, n in enumerate(names)}
        values = [format_value(v) if column.numeric else v for v in column.values]
        labels = np.array([index.get(v, -1) if v is not None else -1 for v in values], np.int64)
        if column.numeric and (labels < 0).all():  # integer labels with names from the file
            labels = np.nan_to_num(column.values, nan=-1).astype(np.int64)
        return labels, names
    if column.numeric:
        values = column.values
        if np.all(np.isnan(values) | (np.mod(values, 1) == 0)) and np.nanmin(values, initial=0) >= 0:
            labels = np.nan_to_num(values, nan=-1).astype(np.int64)
            return labels, _default_classes(labels)
        raise BadInputError(f"Label column {recipe.label!r} holds non-integer numbers: choose another label column.")
    names = sorted({v for v in column.values if v is not None})
    index = {n: i for i, n in enumerate(names)}
    return np.array([index.get(v, -1) for v in column.values], np.int64), names


def format_value(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return f"{float(value):.6g}"
    return str(value)


def load_table(path: Path) -> TabularDataset:
    """Open a table as tabular cases with the recipe opening guesses (label, excluded columns,
    the scaling file beside it, else scaling fitted on the rows)."""
    table = read_table(path)
    if looks_like_text(table):
        raise BadInputError(f"{path.name}: a text column, not a table of features.")
    return _open(path, table)


def _open(path: Path, table: Table) -> TabularDataset:
    scaling = find_scaling_file(path)
    recipe = fit_recipe(table, scaling_file=read_scaling_file(scaling) if scaling else None)
    return TabularDataset(table, recipe, name=path.name, source=str(path), scaling_path=str(scaling or ""))


def open_table(path: Path) -> TabularDataset | None:
    """`path` as tabular cases, or None for a text CSV (a column of sentences) or one that does
    not read as a table (the text reader then says what is wrong with it). Parquet is always a table."""
    if path.suffix.lower() in (".parquet", ".pq"):
        return load_table(path)
    try:
        table = read_table(path)
    except BadInputError:
        return None
    if looks_like_text(table):
        return None
    return _open(path, table)


# ----- recipe changes ----------------------------------------------------------------------------
def apply_recipe(dataset: TabularDataset, preprocessing: Mapping[str, Any] | None) -> TabularDataset:
    """`dataset` under `preprocessing`: a stored tabular recipe (applied as it is, values
    included: a model's scaling belongs to the model), a refit request
    ({"kind": "tabular", "refit": {choices}}), or anything else (an image recipe, None): the
    recipe opening chose."""
    if not is_tabular_recipe(preprocessing):
        return dataset if dataset.recipe == dataset.auto_recipe else dataset.with_recipe(dataset.auto_recipe)
    assert preprocessing is not None
    if "refit" in preprocessing:
        return dataset.with_recipe(refit(dataset, dict(preprocessing["refit"])))
    try:
        recipe = TabularRecipe.from_dict(preprocessing)
    except (TypeError, ValueError, KeyError) as exc:
        raise BadInputError(f"The stored table recipe is damaged ({exc}); the recipe is guessed again.") from None
    absent = [c.name for c in recipe.features if c.name not in dataset.table.names]
    if absent:
        raise BadInputError(f"The stored recipe needs columns this table lacks: {', '.join(absent[:5])}.")
    return dataset.with_recipe(recipe)


def refit(dataset: TabularDataset, choices: dict[str, Any]) -> TabularRecipe:
    """A new recipe from the user's choices: label, excluded columns, scaling mode, scaling
    source ("file" with `scaling_path`, or "fitted"), per-column encodings and imputations."""
    table = getattr(dataset, "base", dataset).table  # kept counterfactual rows never shape a fitted recipe
    label = choices.get("label", "")
    label = None if label in (None, "(none)") else str(label)
    source = choices.get("scaling_source", "fitted")
    path = choices.get("scaling_path") or dataset.scaling_path
    scaling_file = read_scaling_file(path) if source == "file" and path else None
    scaling = str(choices.get("scaling", "standardize"))
    if scaling_file is not None and file_scaling(scaling_file) != scaling:
        scaling_file = None  # another scaling than the file's: its numbers do not apply, fit them
    excluded = choices.get("excluded")
    if excluded is None and label != dataset.recipe.label:
        excluded = guess_excluded(table, label)
    recipe = fit_recipe(
        table, label=label, excluded=excluded, scaling=scaling,
        scaling_file=scaling_file, encodings=choices.get("encodings"), imputes=choices.get("imputes"),
    )
    if scaling_file is not None and choices.get("scaling_path"):
        dataset.scaling_path = str(path)
    return recipe


@dataclass(frozen=True)
class TableSummary:
    """What the GUI shows of a table: its columns, raw values, roles and missing counts."""

    columns: tuple[str, ...]
    numeric: tuple[bool, ...]
    values: tuple[np.ndarray, ...]  # per column, the raw values (float64 with NaN, or str with None)
    missing: tuple[int, ...]
    label: str | None
    excluded: tuple[str, ...]
    features: tuple[str, ...]  # feature columns in the model's input order
    input_names: tuple[str, ...]
    scaling_path: str
    recipe_text: str
    unseen: dict[str, int] = field(default_factory=dict)  # column -> rows with a category the recipe never saw

    def row(self, i: int) -> dict[str, str]:
        """Row `i`'s raw values as text ("" where missing)."""
        out = {}
        for name, values in zip(self.columns, self.values, strict=True):
            value = values[i]
            out[name] = "" if value is None or (isinstance(value, float) and np.isnan(value)) else format_value(value)
        return out


def table_summary(dataset: TabularDataset) -> TableSummary:
    table = dataset.table
    values = tuple(c.values for c in table.columns)  # formatted only when a row is shown
    recipe = dataset.recipe
    return TableSummary(
        columns=table.names, numeric=tuple(c.numeric for c in table.columns), values=values,
        missing=tuple(int(c.missing.sum()) for c in table.columns), label=recipe.label,
        excluded=recipe.excluded, features=tuple(c.name for c in recipe.features),
        input_names=recipe.input_names, scaling_path=dataset.scaling_path, recipe_text=recipe.describe(),
        unseen=recipe.unseen(table),
    )
