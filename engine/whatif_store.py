"""Counterfactuals: edited cases kept as cases of their own, linked to the case they came from.

A counterfactual is stored as its origin's content hash plus the edit (engine.whatif), never as
a copy of the data, in `<review file stem>.counterfactuals.json` beside the review file (written
atomically, entries only ever appended). Its own case hash is the SHA-256 of the origin's hash
and the edit, so it is stable across recipes, and reviews of it (keyed by name and hash like any
case's) survive reopening. `CounterfactualDataset` lists them after the dataset's own cases,
named "counterfactual N of <origin>"; their inputs are the edit applied to the origin each time
(a counterfactual of a counterfactual works too), and their provenance names the origin and the
edit, so every record about one says what it is a counterfactual of. A row of a CSV / Parquet
table (engine.tabular) is kept the same way: `TableCounterfactuals` appends the edited rows, in
raw units, to the table, so they are encoded by its recipe like every row and listed with their
values; their label is unknown (the label column is left empty).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from engine.data import NOT_IMAGES, Dataset, DatasetSummary, summarize
from engine.errors import BadInputError
from engine.fileio import atomic_write_json
from engine.jobs import JobContext
from engine.preprocessing import thumbnails as make_thumbnails
from engine.tabular import TabularDataset, append_rows
from engine.whatif import apply_strokes, edited_inputs, edited_raw, image_space, is_table

VERSION = 1
MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class Counterfactual:
    id: str  # the counterfactual's own case hash: sha256(origin hash, edit)
    origin_sha256: str
    origin_name: str
    edit: dict[str, Any]
    description: str  # the edit in words ("mean_radius 17.99 -> 25")
    created: str = ""


@dataclass(frozen=True)
class Kept:
    """The answer to keeping a counterfactual: the dataset with it, and where it is listed."""

    summary: DatasetSummary
    case: int


def store_path(review_path: str | os.PathLike[str]) -> Path:
    """`cases.glassbox-review.json` -> `cases.glassbox-review.counterfactuals.json`."""
    path = Path(review_path)
    return path.with_name(path.name.removesuffix(".json") + ".counterfactuals.json")


def counterfactual_id(origin_sha256: str, edit: dict[str, Any]) -> str:
    text = json.dumps(edit, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{origin_sha256}\n{text}".encode()).hexdigest()


def read_store(path: str | os.PathLike[str]) -> list[Counterfactual]:
    """The stored counterfactuals (none when the file does not exist yet)."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data["counterfactuals"]
        if not isinstance(entries, list) or len(entries) > MAX_ENTRIES:
            raise ValueError("'counterfactuals' is not a list of at most 10,000 entries")
        return [Counterfactual(**{k: e[k] for k in Counterfactual.__dataclass_fields__ if k in e}) for e in entries]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInputError(f"{path.name}: not a readable counterfactuals file ({exc}).") from exc


def append_store(path: str | os.PathLike[str], entry: Counterfactual) -> list[Counterfactual]:
    """Add `entry` (once: the same edit of the same case is one counterfactual); atomic."""
    entries = read_store(path)
    if all(e.id != entry.id for e in entries):
        entries.append(entry)
        atomic_write_json(path, {"version": VERSION, "counterfactuals": [asdict(e) for e in entries]})
    return entries


def describe_edit(edit: dict[str, Any], before: Any = None, feature_names: Any = None) -> str:
    """The edit in words, for the case list, the report and the records."""
    if edit["kind"] == "text":
        return f'sentence changed to "{edit["text"]}"' + (f' (was "{before}")' if before is not None else "")
    if edit["kind"] == "columns":  # `before`: the row's raw values by column
        was = dict(before or {})
        return "; ".join(f"{name} {_was(was, name)}{float(value):.4g}" for name, value in edit["values"].items()) \
            or "no feature changed"
    if edit["kind"] == "features":
        names = list(feature_names or [])
        parts = []
        for key, value in sorted(edit["values"].items(), key=lambda kv: int(kv[0])):
            i = int(key)
            name = names[i] if i < len(names) else f"feature {i}"
            old = f"{float(np.ravel(before)[i]):.4g} -> " if before is not None else ""
            parts.append(f"{name} {old}{float(value):.4g}")
        return "; ".join(parts) or "no feature changed"
    ops: dict[str, int] = {}
    for stroke in edit["strokes"]:
        ops[stroke["op"]] = ops.get(stroke["op"], 0) + 1
    return "brushed: " + ", ".join(f"{op} x{n}" for op, n in ops.items()) if ops else "no stroke"


def _was(values: dict[str, Any], name: str) -> str:
    if name not in values:
        return ""
    return "missing -> " if values[name] is None else f"{float(values[name]):.4g} -> "


class _Kept:
    """What both kinds of datasets with counterfactuals share: the link of each kept case to
    its origin, and provenance that names the origin and the edit. `base` is the dataset as
    opened, `entries` the (counterfactual, origin index) pairs listed after its cases."""

    base: Any
    entries: list[tuple[Counterfactual, int]]
    names: list[str]

    def origin_of(self, i: int) -> tuple[int, Counterfactual] | None:
        """(origin case index, entry) for a counterfactual; None for the dataset's own cases."""
        if i < len(self.base):
            return None
        entry, origin = self.entries[i - len(self.base)]
        return origin, entry

    def case_provenance(self, i: int) -> dict[str, Any]:
        found = self.origin_of(i)
        if found is None:
            return self.base.case_provenance(i)
        origin, entry = found
        record = super().case_provenance(i)  # type: ignore[misc] - the dataset class beside this one
        record["counterfactual_of"] = {
            "case": origin, "name": self.names[origin], "case_sha256": entry.origin_sha256,
            "edit": entry.edit, "description": entry.description, "id": entry.id,
        }
        return record


def _linked(base: Dataset, entries: list[Counterfactual]) -> list[tuple[Counterfactual, int]]:
    """The entries whose origin is among `base`'s cases or the entries before them, with the
    origin's index; an edit kept twice is listed once."""
    known = {h: i for i, h in enumerate(base.case_hashes)}
    kept: list[tuple[Counterfactual, int]] = []
    for entry in entries:
        if entry.origin_sha256 in known and entry.id not in known:
            known[entry.id] = len(base) + len(kept)
            kept.append((entry, known[entry.origin_sha256]))
    return kept


def _names(base: Dataset, kept: list[tuple[Counterfactual, int]]) -> list[str]:
    """"counterfactual N of <origin's name>" (an origin kept before is named as it is listed)."""
    names = list(base.names)
    for n, (_, origin) in enumerate(kept):
        names.append(f"counterfactual {n + 1} of {names[origin]}")
    return names[len(base):]


class CounterfactualDataset(_Kept, Dataset):
    """`base`'s cases, then its counterfactuals (those whose origin is among the cases)."""

    def __init__(self, base: Dataset, entries: list[Counterfactual]) -> None:
        base = getattr(base, "base", base)  # always wrap the dataset as opened
        kept = _linked(base, entries)
        self.base, self.entries = base, kept
        self._raws: dict[int, Any] = {}
        super().__init__(
            name=base.name, source=base.source, names=[*base.names, *_names(base, kept)],
            labels=np.concatenate([base.labels, np.full(len(kept), -1, np.int64)]),
            class_names=base.class_names, case_hashes=[*base.case_hashes, *(e.id for e, _ in kept)],
            loader=self._load, preprocessing=base.preprocessing, kind=base.kind, skipped=base.skipped,
        )
        for key, value in base.__dict__.items():  # what a loader adds (feature names, ...) stays
            self.__dict__.setdefault(key, value)
        if base.orientations:
            self.orientations = [*base.orientations, *([1] * len(kept))]
        if base._thumbnails is not None and kept and base.kind not in NOT_IMAGES:
            self._thumbnails = np.concatenate([base._thumbnails, make_thumbnails([self.raw(len(base) + n)
                                                                                for n in range(len(kept))])])
        elif base._thumbnails is not None and not kept:
            self._thumbnails = base._thumbnails

    def _load(self, i: int) -> Any:
        if i < len(self.base):
            return self.base.raw(i)
        if i not in self._raws:
            entry, origin = self.entries[i - len(self.base)]
            if entry.edit["kind"] == "brush":  # the edited image in the brush's space is the stored form
                unit, recipe = image_space(self, origin)
                low, high = (float(unit.min()), float(unit.max())) if recipe.scale == "none" else (0.0, 1.0)
                self._raws[i] = apply_strokes(unit, entry.edit["strokes"], low, high)
            else:
                self._raws[i] = edited_raw(self, origin, entry.edit)
        return self._raws[i]

    def with_preprocessing(self, preprocessing: Any, kind: str | None = None) -> Dataset:
        return CounterfactualDataset(self.base.with_preprocessing(preprocessing, kind), [e for e, _ in self.entries])


class TableCounterfactuals(_Kept, TabularDataset):
    """A table's rows, then its kept edited rows (raw values: the origin's row with the edited
    columns changed and the label left empty), encoded by the table's recipe like every row."""

    def __init__(self, base: TabularDataset, entries: list[Counterfactual]) -> None:
        base = getattr(base, "base", base)
        kept = _linked(base, entries)
        rows: list[dict[str, Any]] = []
        for entry, origin in kept:  # an origin is a row of the table or a counterfactual before it
            values = base.raw_values(origin) if origin < len(base) else dict(rows[origin - len(base)])
            values.update({name: float(value) for name, value in entry.edit.get("values", {}).items()})
            if base.recipe.label is not None:
                values[base.recipe.label] = None
            rows.append(values)
        self.base, self.entries = base, kept
        super().__init__(
            append_rows(base.table, [base.row_table(v) for v in rows]), base.recipe, name=base.name,
            source=base.source, scaling_path=base.scaling_path, auto=base.auto_recipe,
            case_hashes=[*base.case_hashes, *(e.id for e, _ in kept)],
        )
        self.names = [*base.names, *_names(base, kept)]

    def with_recipe(self, recipe: Any) -> TabularDataset:
        base = self.base.with_recipe(recipe)
        base.scaling_path = self.scaling_path  # a refit may have chosen another scaling file
        return TableCounterfactuals(base, [e for e, _ in self.entries])


def with_counterfactuals(dataset: Dataset, entries: list[Counterfactual]) -> Dataset:
    """The dataset as opened, then the counterfactuals of `entries` whose origin it holds."""
    base = getattr(dataset, "base", dataset)
    return TableCounterfactuals(base, entries) if is_table(base) else CounterfactualDataset(base, entries)


# ----- tasks ------------------------------------------------------------------------------------
def load_counterfactuals_task(ctx: JobContext, path: str) -> DatasetSummary:
    """The open cases with the counterfactuals stored beside the review file `path`."""
    ctx.workspace.dataset = with_counterfactuals(_open(ctx), read_store(store_path(path)))
    return summarize(ctx.workspace.dataset, ctx)


def keep_counterfactual_task(ctx: JobContext, path: str, case: int, edit: dict[str, Any], reviewer: str = "") -> Kept:
    """Keep the edit of `case` as a new case (stored beside the review file `path`, recorded in
    its log); answers with the dataset that lists it and its index there."""
    dataset = _open(ctx)
    if not 0 <= case < len(dataset):
        raise BadInputError(f"Case {case} does not exist: the dataset has {len(dataset)} cases.")
    table = is_table(dataset)
    if table and isinstance(edit, dict) and edit.get("kind") != "columns":
        raise BadInputError("A row of a table is kept as an edit of its columns (kind 'columns').")
    edited_inputs(dataset, case, edit)  # the edit applies to the case: fails here, before it is stored
    origin_sha = dataset.case_hashes[case]
    before = dataset.raw_values(case) if table else dataset.raw(case) if edit["kind"] != "brush" else None
    entry = Counterfactual(
        id=counterfactual_id(origin_sha, edit), origin_sha256=origin_sha, origin_name=str(dataset.names[case]),
        edit=edit, description=describe_edit(edit, before, getattr(dataset, "feature_names", None)),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    extended = with_counterfactuals(dataset, append_store(store_path(path), entry))
    ctx.workspace.dataset = extended
    _record(ctx, path, extended, entry, reviewer)
    return Kept(summarize(extended, ctx), extended.case_hashes.index(entry.id))


def _record(ctx: JobContext, path: str, dataset: Dataset, entry: Counterfactual, reviewer: str) -> None:
    """A "counterfactual" record in the review file's log: which case, which edit, by whom."""
    from engine.identity import model_identity
    from engine.records import RecordLog, new_record
    from engine.records.log import log_path_for_review
    from engine.records.signing import load_signer

    record = new_record(
        "counterfactual", reviewer=reviewer, model_sha256=model_identity(ctx.workspace) or "",
        case_path=dataset.names[dataset.case_hashes.index(entry.id)], case_sha256=entry.id,
        details={"counterfactual_of": {"name": entry.origin_name, "case_sha256": entry.origin_sha256},
                 "edit": entry.edit, "description": entry.description},
    )
    RecordLog(log_path_for_review(path), signer=load_signer(reviewer)).append(record)


def _open(ctx: JobContext) -> Dataset:
    dataset = ctx.workspace.dataset
    if dataset is None:
        raise BadInputError("No cases are open.")
    return dataset


def counterfactuals_in(records: list[dict[str, Any]]) -> list[Counterfactual]:
    """The counterfactuals a record log names, in its order: each "counterfactual" record, and the
    origin and edit any record about a counterfactual carries; one whose id is not the hash of
    its origin and edit is left out. `main.py reproduce` rebuilds kept cases from these."""
    found: dict[str, Counterfactual] = {}
    for record in records:
        details = record.get("details") or {}
        link = details.get("counterfactual_of") or {}
        edit = details.get("edit") if record.get("action") == "counterfactual" else link.get("edit")
        ident = record.get("case_sha256") if record.get("action") == "counterfactual" else link.get("id")
        origin = link.get("case_sha256")
        if not (isinstance(edit, dict) and isinstance(origin, str) and ident == counterfactual_id(origin, edit)):
            continue
        description = details.get("description") if record.get("action") == "counterfactual" else link.get("description")
        found.setdefault(ident, Counterfactual(id=ident, origin_sha256=origin, origin_name=str(link.get("name", "")),
                                               edit=edit, description=str(description or "")))
    return list(found.values())
