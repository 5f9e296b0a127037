"""The tabular recipe: how the columns of a table become the model's input row.

Explicit for the same reason as the image recipe (engine.preprocessing): an attribution of
"mean_radius" is only meaningful if everyone knows which columns went in, in which order, how
categories were encoded, how missing values were filled and how each value was scaled. The
recipe is plain data (numpy only, no pandas, no Qt: the GUI imports it for its choices), it is
shown with its values, stored per model and hashed into the dataset hash and provenance.

Pipeline for one column: missing values imputed (in raw units) -> categorical columns encoded
(one-hot: one input per category; ordinal: the category's index) -> numeric columns scaled as
(value - offset) / scale, with offset/scale the mean/std (standardise), min/max-min (min-max) or
0/1 (none), taken from a scaling file or fitted on the table's rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from engine.errors import BadInputError

SCALINGS = ("standardize", "minmax", "none")
SCALING_TITLES = {"standardize": "Standardise (x − mean) / std", "minmax": "Min-max to 0 … 1", "none": "None (raw values)"}
ENCODINGS = ("onehot", "ordinal")
ENCODING_TITLES = {"onehot": "One-hot", "ordinal": "Ordinal (category index)"}
NUMERIC_IMPUTES = ("mean", "median", "zero")
CATEGORICAL_IMPUTES = ("most_frequent", "category")  # "category": missing is its own category
MISSING_CATEGORY = "(missing)"
# columns guessed to be the label, best first (the user can choose another in the GUI)
LABEL_GUESSES = ("label", "labels", "diagnosis", "target", "class", "y", "outcome", "species", "category")
# columns that are neither features nor label: split markers, row ids
EXCLUDED_GUESSES = ("split", "fold", "set", "subset", "partition", "id", "index", "row", "case", "name", "uid")
TRAIN_VALUES = ("train", "training")


@dataclass(frozen=True)
class Column:
    """One raw column of a table: float64 values (NaN missing) or strings (None missing)."""

    name: str
    values: np.ndarray  # float64 (N,) for numeric columns, object (N,) of str | None for others

    @property
    def numeric(self) -> bool:
        return self.values.dtype.kind == "f"

    @property
    def missing(self) -> np.ndarray:
        return np.isnan(self.values) if self.numeric else np.array([v is None for v in self.values], bool)


@dataclass(frozen=True)
class Table:
    """Raw columns by name, in the file's order; every column has the same number of rows."""

    columns: tuple[Column, ...]

    def __len__(self) -> int:
        return len(self.columns[0].values) if self.columns else 0

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise BadInputError(f"The table has no column {name!r} (columns: {', '.join(self.names)}).")


@dataclass(frozen=True)
class ColumnRecipe:
    """How one feature column becomes one (numeric, ordinal) or several (one-hot) inputs."""

    name: str
    kind: str  # "numeric" | "categorical"
    encoding: str = ""  # categorical: "onehot" | "ordinal"; numeric: ""
    impute: str = "mean"  # NUMERIC_IMPUTES or CATEGORICAL_IMPUTES
    fill: float | str | None = None  # the value missing entries get (raw units, or a category)
    categories: tuple[str, ...] = ()
    offset: float = 0.0  # input = (value - offset) / scale (numeric and ordinal columns)
    scale: float = 1.0
    missing: int = 0  # missing entries in the table the recipe was made for

    def __post_init__(self) -> None:
        if self.kind not in ("numeric", "categorical") or (self.kind == "categorical" and self.encoding not in ENCODINGS):
            raise BadInputError(f"Column {self.name!r}: unknown kind {self.kind!r} / encoding {self.encoding!r}.")
        if not all(isinstance(v, int | float) and np.isfinite(v) for v in (self.offset, self.scale)) or self.scale == 0:
            raise BadInputError(f"Column {self.name!r}: offset and scale must be finite numbers, scale not 0.")

    @property
    def input_names(self) -> tuple[str, ...]:
        if self.kind == "categorical" and self.encoding == "onehot":
            return tuple(f"{self.name}={c}" for c in self.categories)
        return (self.name,)

    def transform(self, column: Column) -> np.ndarray:
        """(N, len(input_names)) float64 inputs of this column."""
        if self.kind == "numeric":
            if not column.numeric:
                raise BadInputError(f"Column {self.name!r} holds text, the recipe expects numbers.")
            values = np.where(np.isnan(column.values), float(self.fill or 0.0), column.values)
            return ((values - self.offset) / self.scale)[:, None]
        codes = self._codes(column)
        if self.encoding == "ordinal":
            return ((codes.astype(np.float64) - self.offset) / self.scale)[:, None]
        onehot = np.zeros((len(codes), len(self.categories)))
        known = codes >= 0  # a category the recipe never saw: every one-hot input 0
        onehot[np.nonzero(known)[0], codes[known]] = 1.0
        return onehot

    def unseen(self, column: Column) -> int:
        """Rows of a categorical column whose category the recipe never saw: they encode as no
        category (one-hot all 0, ordinal -1), which the reviewer must be told."""
        return 0 if self.kind == "numeric" else int(np.sum(self._codes(column) < 0))

    def _codes(self, column: Column) -> np.ndarray:
        """Each row's category index (missing entries take the fill), -1 for an unknown category."""
        strings = [self.fill if v is None else v for v in _as_strings(column)]
        index = {c: i for i, c in enumerate(self.categories)}
        return np.array([index.get(s, -1) for s in strings], np.int64)


@dataclass(frozen=True)
class TabularRecipe:
    """The whole recipe; `features` are in the model's input order."""

    features: tuple[ColumnRecipe, ...]
    label: str | None = None
    excluded: tuple[str, ...] = ()
    scaling: str = "standardize"
    scaling_source: str = "fitted"  # "fitted" or "file"
    scaling_file: str = ""  # the file's name when scaling_source == "file"
    scaling_sha256: str = ""
    fit_rows: str = "all rows"  # which rows the fitted values come from
    class_names: tuple[str, ...] = ()
    kind: str = field(default="tabular")

    def __post_init__(self) -> None:
        if self.scaling not in SCALINGS:
            raise BadInputError(f"Unknown scaling {self.scaling!r}; choose one of {', '.join(SCALINGS)}.")
        if not self.features:
            raise BadInputError("The recipe has no feature columns: choose at least one.")

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(name for column in self.features for name in column.input_names)

    def transform(self, table: Table) -> np.ndarray:
        """(N, F) float32 model inputs of every row of `table`."""
        parts = [column.transform(table.column(column.name)) for column in self.features]
        return np.concatenate(parts, axis=1).astype(np.float32)

    def unseen(self, table: Table) -> dict[str, int]:
        """Per categorical column, the rows whose category the recipe never saw (nonzero only)."""
        counts = {c.name: c.unseen(table.column(c.name)) for c in self.features if c.kind == "categorical"}
        return {name: n for name, n in counts.items() if n}

    def describe(self) -> str:
        """One line for the GUI and reports."""
        categorical = sum(c.kind == "categorical" for c in self.features)
        missing = sum(c.missing for c in self.features)
        source = f"from {self.scaling_file}" if self.scaling_source == "file" else f"fitted on {self.fit_rows}"
        scaling = "no scaling" if self.scaling == "none" else f"{self.scaling} {source}"
        parts = [f"{len(self.features)} columns → {len(self.input_names)} inputs"]
        if categorical:
            parts.append(f"{categorical} categorical")
        parts += [scaling, f"label {self.label or 'none'}"]
        if missing:
            parts.append(f"{missing} missing imputed")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["features"] = [asdict(c) for c in self.features]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TabularRecipe:
        """Build from `to_dict`'s output (settings JSON); unknown keys are ignored."""
        columns = []
        for item in data.get("features") or ():
            known = {k: v for k, v in item.items() if k in ColumnRecipe.__dataclass_fields__}
            known["categories"] = tuple(known.get("categories") or ())
            columns.append(ColumnRecipe(**known))
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "features"}
        for key in ("excluded", "class_names"):
            known[key] = tuple(known.get(key) or ())
        return cls(features=tuple(columns), **known)


def unseen_text(unseen: dict[str, int]) -> str:
    """The sentence the recipe panel and the CLI give for categories the recipe never saw."""
    if not unseen:
        return ""
    counts = ", ".join(f"{name} {n} row{'s' if n != 1 else ''}" for name, n in unseen.items())
    return f"Categories the recipe never saw ({counts}): encoded as no category; refit or check the data."


def is_tabular_recipe(data: Any) -> bool:
    return isinstance(data, Mapping) and data.get("kind") == "tabular"


# ----- guessing and fitting -----------------------------------------------------------------
def guess_label(names: Sequence[str]) -> str | None:
    lowered = {n.strip().lower(): n for n in names}
    return next((lowered[g] for g in LABEL_GUESSES if g in lowered), None)


def guess_excluded(table: Table, label: str | None) -> tuple[str, ...]:
    """Split markers, row ids and free-text columns (a string per row): never model inputs."""
    out = []
    for column in table.columns:
        lowered = column.name.strip().lower()
        if column.name == label:
            continue
        id_like = lowered in EXCLUDED_GUESSES or lowered.endswith("_id") or lowered.startswith("unnamed:")
        if not column.numeric and not id_like:
            distinct = len({v for v in column.values if v is not None})
            id_like = distinct > max(30, len(table) // 2)
        if id_like:
            out.append(column.name)
    return tuple(out)


def fit_rows(table: Table, excluded: Sequence[str]) -> tuple[np.ndarray, str]:
    """The rows fitted values come from: a split column's training rows if there is one."""
    for name in excluded:
        column = table.column(name)
        if not column.numeric and column.name.strip().lower() in EXCLUDED_GUESSES[:5]:
            train = np.array([str(v).strip().lower() in TRAIN_VALUES for v in column.values])
            if train.any():
                return train, f"rows with {column.name} == {column.values[np.argmax(train)]}"
    return np.ones(len(table), bool), "all rows"


def fit_recipe(
    table: Table,
    *,
    label: str | None = "",
    excluded: Sequence[str] | None = None,
    scaling: str = "standardize",
    scaling_file: Mapping[str, Any] | None = None,
    encodings: Mapping[str, str] | None = None,
    imputes: Mapping[str, str] | None = None,
) -> TabularRecipe:
    """A recipe for `table`. `label` "" guesses it (None: no label); `excluded` None guesses;
    `scaling_file` (see `read_scaling_file`) gives the feature order and scaling parameters,
    and its label and class names, instead of fitting them."""
    file_features = dict((scaling_file or {}).get("features") or {})
    if label == "":
        label = (scaling_file or {}).get("label_column") or guess_label(table.names)
        label = label if label in table.names else guess_label(table.names)
    if label is not None:
        table.column(label)  # a clear error for a label that is not a column
    excluded = tuple(guess_excluded(table, label) if excluded is None else (e for e in excluded if e != label))
    if file_features:
        missing = [n for n in file_features if n not in table.names]
        if missing:
            raise BadInputError(f"The scaling file names columns the table lacks: {', '.join(missing[:5])}.")
        names = list(file_features)
        excluded = tuple(n for n in table.names if n not in names and n != label)
        scaling = file_scaling(scaling_file or {})
    else:
        names = [n for n in table.names if n != label and n not in excluded]
    rows, rows_text = fit_rows(table, excluded)
    encodings, imputes = dict(encodings or {}), dict(imputes or {})
    columns = []
    for name in names:
        column = table.column(name)
        spec = file_features.get(name)
        if column.numeric:
            columns.append(_fit_numeric(column, rows, scaling, imputes.get(name, "mean"), spec))
        else:
            columns.append(_fit_categorical(column, rows, scaling, encodings.get(name, "onehot"),
                                            imputes.get(name, "most_frequent"), spec))
    class_names = tuple(str(c) for c in (scaling_file or {}).get("class_names") or ())
    return TabularRecipe(
        features=tuple(columns), label=label, excluded=excluded, scaling=scaling,
        scaling_source="file" if file_features else "fitted",
        scaling_file=str((scaling_file or {}).get("file_name", "")) if file_features else "",
        scaling_sha256=str((scaling_file or {}).get("sha256", "")) if file_features else "",
        fit_rows=rows_text, class_names=class_names,
    )


def file_scaling(data: Mapping[str, Any]) -> str:
    kind = str(data.get("kind", "standardize")).lower().replace("standardise", "standardize").replace("min-max", "minmax")
    if kind not in SCALINGS:
        raise BadInputError(f"The scaling file's kind {kind!r} is not one of {', '.join(SCALINGS)}.")
    return kind


def _scale_of(values: np.ndarray, scaling: str, spec: Mapping[str, Any] | None, name: str) -> tuple[float, float]:
    """(offset, scale) from the file's entry for the column, or fitted on `values`."""
    if scaling == "none":
        return 0.0, 1.0
    if spec is not None:
        try:
            offset, high = ((float(spec["mean"]), float(spec["std"])) if scaling == "standardize"
                            else (float(spec["min"]), float(spec["max"]) - float(spec["min"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInputError(f"The scaling file's entry for {name!r} lacks a number ({exc}).") from None
        return offset, high if high > 0 else 1.0
    values = values[~np.isnan(values)]
    if not values.size:
        return 0.0, 1.0
    if scaling == "standardize":
        offset, spread = float(values.mean()), float(values.std())  # population std, as StandardScaler
    else:
        offset, spread = float(values.min()), float(values.max() - values.min())
    return offset, spread if spread > 0 else 1.0  # a constant column stays finite


def _fit_numeric(column: Column, rows: np.ndarray, scaling: str, impute: str,
                 spec: Mapping[str, Any] | None) -> ColumnRecipe:
    if impute not in NUMERIC_IMPUTES:
        raise BadInputError(f"Unknown imputation {impute!r} for {column.name!r}; choose one of {', '.join(NUMERIC_IMPUTES)}.")
    fitted = column.values[rows]
    present = fitted[~np.isnan(fitted)]
    fill = 0.0 if impute == "zero" or not present.size else float(np.mean(present) if impute == "mean" else np.median(present))
    offset, scale = _scale_of(fitted, scaling, spec, column.name)
    return ColumnRecipe(column.name, "numeric", "", impute, fill, (), offset, scale, int(column.missing.sum()))


def _fit_categorical(column: Column, rows: np.ndarray, scaling: str, encoding: str, impute: str,
                     spec: Mapping[str, Any] | None) -> ColumnRecipe:
    if encoding not in ENCODINGS:
        raise BadInputError(f"Unknown encoding {encoding!r} for {column.name!r}; choose one of {', '.join(ENCODINGS)}.")
    if impute not in CATEGORICAL_IMPUTES:
        raise BadInputError(f"Unknown imputation {impute!r} for {column.name!r}; choose one of {', '.join(CATEGORICAL_IMPUTES)}.")
    strings = _as_strings(column)
    present = [s for s in strings if s is not None]
    categories = sorted(set(present))
    missing = int(column.missing.sum())
    if impute == "category":
        fill = MISSING_CATEGORY
        categories += [MISSING_CATEGORY] if missing else []
    else:
        fitted = [s for s, keep in zip(strings, rows, strict=True) if keep and s is not None] or present
        counts = Counter(fitted or [""])
        fill = max(sorted(counts), key=counts.__getitem__)  # the most frequent; a tie goes to the first name
    recipe = ColumnRecipe(column.name, "categorical", encoding, impute, fill, tuple(categories), missing=missing)
    if encoding == "ordinal":
        codes = np.array([categories.index(fill if s is None else s) for s in strings], np.float64)
        offset, scale = _scale_of(codes[rows], scaling, spec, column.name)
        recipe = replace(recipe, offset=offset, scale=scale)
    return recipe


def _as_strings(column: Column) -> list[str | None]:
    if column.numeric:  # a numeric column the user treats as categories
        return [None if np.isnan(v) else f"{v:g}" for v in column.values]
    return [None if v is None else str(v) for v in column.values]
