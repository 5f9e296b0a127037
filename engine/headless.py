"""`main.py explain` and `main.py reproduce`: the GUI's explanation path, without the GUI.

Both drive the same engine tasks the GUI submits (open_model_task, open_dataset_task with the
same recipe resolution, explain_case_task), so a map computed here equals the canvas's bit for
bit. explain writes one .npy per case and method, a provenance JSON beside it and a record in
DIR/records.jsonl; reproduce recomputes one of them, with a fresh cache, and compares.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import BadInputError, NotSupportedError
from engine.export import npy_bytes, provenance_record
from engine.fileio import atomic_write_bytes, atomic_write_json
from engine.jobs import JobContext
from engine.provenance import sha256_array, sha256_file
from engine.records import LOG_NAME, RecordLog, artefact, read_records
from engine.records.results import explain_record, reproduce_spec
from engine.records.signing import load_signer
from engine.tabular_recipe import unseen_text
from engine.workspace import Workspace

Say = Callable[[str], None]


def parse_params(pairs: Sequence[str], defaults: dict[str, Any]) -> dict[str, Any]:
    """KEY=VALUE strings typed by the default's type (bool, int, float, str; JSON otherwise)."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise BadInputError(f"--param {pair!r}: write it as KEY=VALUE.")
        params[key] = _typed(key, text, defaults.get(key))
    return params


def _typed(key: str, text: str, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return text.lower() in ("true", "1", "yes")
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, str):
            return text
    except ValueError:
        raise BadInputError(f"--param {key}={text}: expected a {type(default).__name__}.") from None
    try:
        return json.loads(text)
    except ValueError:
        return text


@contextmanager
def fresh_cache() -> Iterator[None]:
    """A throw-away disk cache, so reproduce recomputes instead of reading yesterday's result."""
    saved = os.environ.get("GLASSBOX_CACHE_DIR")
    with tempfile.TemporaryDirectory(prefix="glassbox-reproduce-") as folder:
        os.environ["GLASSBOX_CACHE_DIR"] = folder
        try:
            yield
        finally:
            if saved is None:
                os.environ.pop("GLASSBOX_CACHE_DIR", None)
            else:
                os.environ["GLASSBOX_CACHE_DIR"] = saved


def open_session(model: str, cases: str, trust: bool, recipe: dict | None = None) -> JobContext:
    """Model and cases opened exactly as the GUI opens them (recipe fitted to the model)."""
    from engine.data import open_dataset_task
    from engine.models import open_model_task

    ctx = JobContext(Workspace())
    open_model_task(ctx, model, trust=trust)
    open_dataset_task(ctx, cases, preprocessing=recipe)
    return ctx


def method_infos(names: str) -> list[Any]:
    from engine import explainers

    known = {info.name: info for info in explainers.available()}
    chosen = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in known]
    if unknown or not chosen:
        raise BadInputError(f"Unknown method {', '.join(unknown) or '(none)'}; available: {', '.join(known)}.")
    return [known[name] for name in chosen]


def workspace_spec(ctx: JobContext, case: int, method: str, params: dict[str, Any], target: int | None,
                   trust: bool) -> dict[str, Any]:
    """The reproduce spec of a result computed in this workspace."""
    dataset, description = ctx.workspace.dataset, ctx.workspace.description
    return reproduce_spec(
        model=description.path, model_sha256=description.sha256, cases=dataset.source, case=case,
        case_name=str(dataset.names[case]), case_sha256=str(dataset.case_hashes[case]),
        preprocessing=dataset.preprocessing.to_dict(), method=method, params=params, target=target, trust=trust,
    )


def _stem(case: int, name: str, method: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).with_suffix("").as_posix()).strip("_")
    return f"{case:05d}_{safe or 'case'}_{method}"


@dataclass(frozen=True)
class ExplainRun:
    out: Path
    log: Path
    results: int
    reports: tuple[Path, ...]


def explain(model: str, cases: str, methods: str, params: Sequence[str], target: int | None, out: str,
            reports: Sequence[str], trust: bool, reviewer: str, say: Say,
            scores: Sequence[str] = ()) -> ExplainRun:
    """Explain every case with every method; write maps, provenance, records (and the maps' `scores`,
    through the scorecard's own task) and reports."""
    from engine.explain_service import explain_case_task
    from engine.metrics import METRICS

    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise BadInputError(f"--out {out}: not a folder.")
    bad = sorted(set(reports) - {"html", "pdf"})
    if bad:
        raise BadInputError(f"--report {','.join(bad)}: choose html, pdf or html,pdf.")
    unknown = [name for name in scores if name not in METRICS]
    if unknown:
        raise BadInputError(f"--score {','.join(unknown)}: unknown metric; available: {', '.join(METRICS)}.")
    infos = method_infos(methods)
    requests = [(info, _params_for(info, params, infos)) for info in infos]
    say(f"opening {Path(model).name} and {Path(cases).name}")
    ctx = open_session(model, cases, trust)
    dataset = ctx.workspace.dataset
    if hasattr(dataset, "table") and (unseen := unseen_text(dataset.recipe.unseen(dataset.table))):
        say(f"warning: {unseen}")
    log = RecordLog(folder / LOG_NAME, signer=load_signer(reviewer))
    n_cases = len(ctx.workspace.dataset)
    total, done = n_cases * len(requests), 0
    for case in range(n_cases):
        for info, typed in requests:
            done += 1
            say(f"[{done}/{total}] {ctx.workspace.dataset.names[case]}: {info.name}")
            result = explain_case_task(ctx, case, info.name, typed, target)
            spec = workspace_spec(ctx, case, info.name, dict(result.params), target, trust)
            written = write_result(log, result, spec, reviewer, _stem(case, spec["case_name"], info.name))
            if scores:
                write_scores(ctx, log, case, info.name, typed, target, scores, spec, reviewer, written)
    written = tuple(write_reports(ctx, log, folder / "report", reports, reviewer, say)) if reports else ()
    return ExplainRun(folder, log.path, total, written)


def _params_for(info: Any, pairs: Sequence[str], infos: list[Any]) -> dict[str, Any]:
    """The --param values this method knows; a key no chosen method knows is an error."""
    parse_params([p for p in pairs if "=" not in p], {})  # a pair without "=" fails here
    keys = {pair.partition("=")[0] for pair in pairs}
    unknown = sorted(k for k in keys if all(k not in other.params for other in infos))
    if unknown:
        raise BadInputError(f"No chosen method has a parameter {', '.join(unknown)}.")
    mine = [pair for pair in pairs if pair.partition("=")[0] in info.params]
    return parse_params(mine, info.params)


def write_result(log: RecordLog, result: Any, spec: dict[str, Any], reviewer: str,
                 stem: str) -> dict[str, Any]:
    """<stem>.npy (the maps) and <stem>.json (provenance, reproduce spec); then the record."""
    data = npy_bytes(np.asarray(result.maps))
    npy = atomic_write_bytes(log.folder / f"{stem}.npy", data)
    command = f"python main.py reproduce {shlex.quote(str(log.folder / f'{stem}.json'))}"
    meta = provenance_record(result, {npy.name: sha256_file(npy)},
                             {"reproduce": spec, "maps_file": npy.name, "command": command})
    json_path = atomic_write_json(log.folder / f"{stem}.json", meta)
    files = [artefact(npy, "maps", log.folder), artefact(json_path, "provenance", log.folder)]
    return log.append(explain_record(result, spec, reviewer, files))


def write_scores(ctx: JobContext, log: RecordLog, case: int, method: str, params: dict[str, Any],
                 target: int | None, names: Sequence[str], spec: dict[str, Any], reviewer: str,
                 explained: dict[str, Any]) -> None:
    """Score the map just written (the GUI scorecard's task) and record one score per metric."""
    from engine.records.results import score_records
    from engine.scorecard_service import score_case_task

    scorecard = score_case_task(ctx, case, method, params, target, tuple(names))
    maps = [a for a in explained["artefacts"] if a["kind"] == "maps"]
    for record in score_records(scorecard, model_sha256=spec["model_sha256"], model_name=Path(spec["model"]).name,
                                case_path=spec["case_name"], case_sha256=spec["case_sha256"], reviewer=reviewer,
                                files=maps):
        log.append(record)


def write_reports(ctx: JobContext, log: RecordLog, stem: Path, formats: Sequence[str], reviewer: str,
                  say: Say) -> list[Path]:
    from engine.reports.tasks import write_review_report

    say(f"writing the {'/'.join(formats)} report")
    return write_review_report(ctx, log, stem, formats, reviewer)


# ----- reproduce -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reproduction:
    max_abs_diff: float
    identical: bool
    versions_changed: tuple[str, ...]  # "tensorflow 2.21.0 -> 2.20.0"

    def line(self) -> str:
        verdict = "identical" if self.identical else "differs"
        why = f"; versions changed: {', '.join(self.versions_changed)}" if self.versions_changed else ""
        if np.isnan(self.max_abs_diff):  # only the map's hash was recorded (shown in the GUI, not saved)
            return f"largest absolute difference: unknown (differs: the map's SHA-256 is not the record's{why})"
        return f"largest absolute difference: {self.max_abs_diff:.6g} ({verdict}{why})"


def load_reproduction(record: str, log: str | None) -> tuple[dict[str, Any], np.ndarray | None, str, dict]:
    """(spec, stored maps or None, stored maps' array SHA-256, stored versions) of a JSON or record id."""
    found = find_record(record, log)
    if found is None:
        path = Path(record)
        meta = _json(path)
        stored = _stored_maps(path.parent / str(meta.get("maps_file", "")))
        return meta["reproduce"], stored, "", meta.get("provenance", {}).get("versions", {})
    entry, _, log_path = found
    spec = entry.get("details", {}).get("reproduce")
    if not spec or entry.get("action") not in ("explain", None):
        raise NotSupportedError(f"record {record}: a {entry.get('action') or 'bare'} record; "
                                "reproduce reruns explain and global records.")
    maps = next((a for a in entry.get("artefacts", []) if a.get("kind") == "maps"), None)
    stored = _stored_maps(log_path.parent / maps["path"]) if maps else None
    versions = {k: v for k, v in entry.get("versions", {}).items() if k != "glassbox"}
    return spec, stored, entry["details"].get("maps_sha256", ""), versions


def find_record(record: str, log: str | None) -> tuple[dict[str, Any], list[dict[str, Any]], Path] | None:
    """(the record, the records before it, the log) for a record id; None for a provenance JSON."""
    path = Path(record)
    if path.suffix == ".json" and path.is_file():
        return None
    log_path = Path(log) if log else Path(LOG_NAME)
    records = read_records(log_path)
    for i, entry in enumerate(records):
        if entry.get("id") == record:
            return entry, records[:i], log_path
    raise BadInputError(f"{record}: not a provenance JSON, nor a record id in {log_path}.")


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInputError(f"{path}: not a readable provenance JSON ({exc}).") from exc
    if not isinstance(data, dict) or "reproduce" not in data:
        raise BadInputError(f"{path}: no reproduce section (written by an older Glassbox or by hand?).")
    return data


def _stored_maps(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise BadInputError(f"{path}: the stored map cannot be read ({exc}).") from exc


def reproduce(record: str, log: str | None, say: Say) -> Any:
    """Recompute a recorded result from its files and compare it with the stored map (an explain
    record or its provenance JSON; a counterfactual case is rebuilt from its origin and edit), or
    rerun a global explanation and compare every array's SHA-256 (engine.reproduce_global)."""
    from engine.explain_service import explain_case_task
    from engine.whatif_store import counterfactuals_in, with_counterfactuals

    found = find_record(record, log)
    if found is not None and found[0].get("action") == "global":
        from engine.reproduce_global import reproduce_global

        return reproduce_global(found[0], found[1], say)
    spec, stored, stored_sha, stored_versions = load_reproduction(record, log)
    say(f"recomputing {spec['method']} of {spec['case_name']}")
    with fresh_cache():
        ctx = open_session(spec["model"], spec["cases"], bool(spec.get("trust")), spec.get("preprocessing"))
        if ctx.workspace.description.sha256 != spec["model_sha256"]:
            raise BadInputError(f"{spec['model']}: the model file changed since the result was recorded.")
        kept = counterfactuals_in([*found[1], found[0]]) if found is not None else []
        if kept and spec["case_sha256"] not in ctx.workspace.dataset.case_hashes:  # an edited case: rebuild it
            ctx.workspace.dataset = with_counterfactuals(ctx.workspace.dataset, kept)
        case = _find_case(ctx.workspace.dataset, spec)
        result = explain_case_task(ctx, case, spec["method"], spec["params"], spec.get("target"))
    changed = versions_changed(stored_versions)
    maps = np.asarray(result.maps)
    if stored is None:  # shown in the GUI, never saved: compare the recorded hash
        same = sha256_array(maps) == stored_sha
        return Reproduction(0.0 if same else float("nan"), same, changed)
    if stored.shape != maps.shape:
        return Reproduction(float("inf"), False, changed)
    diff = float(np.max(np.abs(stored.astype(np.float64) - maps.astype(np.float64)))) if maps.size else 0.0
    return Reproduction(diff, diff == 0.0 and np.array_equal(stored, maps), changed)


def versions_changed(stored: dict[str, str]) -> tuple[str, ...]:
    """"tensorflow 2.21.0 -> 2.20.0" for each library whose version is not the recorded one."""
    from engine.provenance import versions as current_versions

    now = current_versions()
    return tuple(f"{k} {v} -> {now.get(k, 'none')}" for k, v in sorted(stored.items()) if now.get(k) != v)


def _find_case(dataset: Any, spec: dict[str, Any]) -> int:
    """The recorded case by name and content; found again by content if it was renamed."""
    index = int(spec.get("case", -1))
    if 0 <= index < len(dataset) and dataset.case_hashes[index] == spec["case_sha256"]:
        return index
    for i, case_hash in enumerate(dataset.case_hashes):
        if case_hash == spec["case_sha256"]:
            return i
    raise BadInputError(f"{spec['cases']}: case {spec['case_name']} is not there any more (or its content changed).")
