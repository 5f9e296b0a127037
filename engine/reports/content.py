"""What a report says, gathered on the engine thread into plain data the HTML and PDF writers share.

"Every explanation that was looked at" is read from the record log: each explain record of the
case (against this model) is one map in the report, recomputed through explain_case_task (a
cache hit when it was just shown) so the picture is the one the record's hashes describe.
Verdicts and notes come from the review file through engine.review's public API.
"""

from __future__ import annotations

import datetime as _dt
import json
import shlex
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.jobs import JobContext
from engine.reports.images import case_png, colorbar_png, overlay_png

MAX_MAPS_PER_CASE = 8
REPORT_BARS = 10  # the top features a table's map lists, as the canvas shows by default
NOT_REVIEWED = "not reviewed"


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: str
    sha256: str
    format: str
    total_params: int
    trainable_params: int
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class MapInfo:
    method: str
    title: str
    params: dict[str, Any]
    seed: int | None
    target: int
    target_name: str
    time: str
    record_id: str
    overlay_png: bytes
    colorbar_png: bytes
    levels: tuple[float, float]
    scores: dict[str, Any]
    command: str
    bars: tuple[tuple[str, float], ...] = ()  # a table's case: top features ("name = raw", value), the canvas's chart


@dataclass(frozen=True)
class CaseInfo:
    index: int
    name: str
    sha256: str
    label: str  # true class name ("" when unknown)
    image_png: bytes | None
    top: tuple[tuple[str, float], ...]  # (class, probability), most probable first
    verdict: str  # a VERDICTS value or NOT_REVIEWED
    note: str
    reviewer: str
    reviewed: str  # when the verdict was given (UTC)
    maps: tuple[MapInfo, ...]
    record_ids: tuple[str, ...]  # every record about this case
    origin: str = ""  # for a counterfactual: "counterfactual of case X (...)" and the edit

    @property
    def predicted(self) -> str:
        return self.top[0][0] if self.top else ""


@dataclass(frozen=True)
class Report:
    kind: str  # "case" or "review"
    title: str
    created: str
    exported_by: str
    model: ModelInfo
    dataset: str
    dataset_source: str
    dataset_hash: str
    recipe: dict[str, Any]
    log_path: str
    cases: tuple[CaseInfo, ...]
    summary: dict[str, Any] = field(default_factory=dict)  # review reports: the counts


def model_info(ctx: JobContext) -> ModelInfo:
    from engine.cli import _spec  # the one formatter of tensor specs ("x (None, 8, 8, 1) float32")

    d = ctx.workspace.description
    return ModelInfo(
        name=Path(d.path).name or d.name, path=str(d.path), sha256=d.sha256, format=d.format,
        total_params=int(d.total_params), trainable_params=int(d.trainable_params),
        inputs=tuple(_spec(s) for s in d.inputs),
        outputs=tuple(_spec(s) + (f" [{d.output_activation}]" if d.output_activation else "") for s in d.outputs),
    )


def _class_name(dataset: Any, index: int) -> str:
    names = list(getattr(dataset, "class_names", []) or [])
    if index < 0:
        return ""
    return names[index] if index < len(names) and names[index] else str(index)


def _params_key(record: dict[str, Any]) -> str:
    return json.dumps([record.get("method"), record.get("params"), record.get("target")], sort_keys=True)


def case_records(records: list[dict[str, Any]], case_sha256: str, model_sha256: str) -> list[dict[str, Any]]:
    return [r for r in records if r.get("case_sha256") == case_sha256 and r.get("model_sha256") in ("", model_sha256)]


def gather_case(ctx: JobContext, case: int, records: list[dict[str, Any]], review: Any, log_path: str) -> CaseInfo:
    """One case: image, prediction, the maps its records name, verdict and note."""
    from engine.explain_service import case_view_task

    dataset = ctx.workspace.dataset
    model_sha = ctx.workspace.description.sha256
    mine = case_records(records, dataset.case_hashes[case], model_sha)
    view = case_view_task(ctx, case, k=3)
    top = tuple((_class_name(dataset, int(c)) or str(int(c)), float(p))
                for c, p in zip(view.top.classes, view.top.probabilities))
    verdicts = [r for r in mine if r.get("action") == "verdict"]
    return CaseInfo(
        index=case, name=str(dataset.names[case]), sha256=dataset.case_hashes[case],
        label=_class_name(dataset, int(dataset.labels[case])) if len(dataset.labels) else "",
        image_png=None if view.image is None else case_png(view.image), top=top,
        verdict=(review.verdict if review is not None and review.verdict else NOT_REVIEWED),
        note=review.note if review is not None else "",
        reviewer=_reviewer(review, verdicts),
        reviewed=review.updated if review is not None else "",
        maps=tuple(_maps(ctx, case, mine, view.image, log_path)),
        record_ids=tuple(str(r.get("id")) for r in mine),
        origin=counterfactual_text(dataset, case),
    )


def counterfactual_text(dataset: Any, case: int) -> str:
    """"counterfactual of case 3 (name, SHA-256 ...): <the edit>", or "" for a case of the dataset."""
    origin = dataset.case_provenance(case).get("counterfactual_of") if hasattr(dataset, "case_provenance") else None
    if not origin:
        return ""
    return (f"counterfactual of case {origin['case']} ({origin['name']}, SHA-256 {origin['case_sha256'][:16]}…): "
            f"{origin['description']}")


def _reviewer(review: Any, verdicts: list[dict[str, Any]]) -> str:
    """Who gave the verdict: the review file's latest event (name, else OS user), else the log."""
    for event in reversed(getattr(review, "history", ()) or ()):
        if event.get("kind") == "verdict" and (event.get("reviewer") or event.get("os_user")):
            return str(event.get("reviewer") or event.get("os_user"))
    return verdicts[-1].get("reviewer", "") if verdicts else ""


def _maps(ctx: JobContext, case: int, mine: list[dict[str, Any]], image: np.ndarray | None, log_path: str) -> list[MapInfo]:
    """The latest record of each distinct (method, params, target) looked at, recomputed."""
    from engine import explainers
    from engine.explain_service import explain_case_task

    infos = {info.name: info for info in explainers.available()}
    latest: dict[str, dict[str, Any]] = {}
    for record in mine:
        if record.get("action") == "explain" and record.get("method") in infos:
            latest.pop(_params_key(record), None)
            latest[_params_key(record)] = record
    scores = [r for r in mine if r.get("action") == "score"]
    out = []
    for record in list(latest.values())[-MAX_MAPS_PER_CASE:]:
        info = infos[record["method"]]
        params = {k: v for k, v in (record.get("params") or {}).items() if k in info.params}
        result = explain_case_task(ctx, case, info.name, params, record.get("target"))
        heatmap = result.heatmap[0] if result.heatmap is not None else np.abs(result.maps[0]).reshape(1, -1)
        picture, levels = overlay_png(image if image is not None else np.zeros(heatmap.shape), heatmap)
        target = int(np.asarray(result.targets).reshape(-1)[0])
        out.append(MapInfo(
            method=info.name, title=info.title, params=dict(record.get("params") or {}), seed=record.get("seed"),
            target=target, target_name=_class_name(ctx.workspace.dataset, target) or str(target),
            time=str(record.get("time", "")), record_id=str(record.get("id", "")), overlay_png=picture,
            colorbar_png=colorbar_png(levels[0] < 0), levels=levels,
            scores=_scores_for(scores, record),
            command=f"python main.py reproduce {record.get('id')} --log {shlex.quote(log_path)}",
            bars=_bars(ctx, case, result),
        ))
    return out


def _bars(ctx: JobContext, case: int, result: Any) -> tuple[tuple[str, float], ...]:
    """A CSV / Parquet row's top features, or a sentence's top tokens (padding left out): bars,
    not a one-row strip. () for images."""
    from engine.feature_bars import top_features
    from engine.tabular_explain import feature_labels

    dataset = ctx.workspace.dataset
    if hasattr(dataset, "input_labels"):
        names, raw = feature_labels(dataset, case)
        return tuple(top_features(result.maps[0], names, raw, REPORT_BARS))
    tokens = list((result.provenance or {}).get("tokens") or ())
    values = np.ravel(result.maps[0])
    if not tokens or len(tokens) != values.size:
        return ()
    read = [i for i, token in enumerate(tokens) if str(token)]  # "" is padding past the sentence's end
    return tuple(top_features(values[read], tuple(str(tokens[i]) for i in read), (), REPORT_BARS))


def _scores_for(scores: list[dict[str, Any]], record: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for score in scores:
        if score.get("method") == record.get("method") and score.get("params") == record.get("params"):
            found.update(score.get("details", {}).get("scores", {}))
    return found


def case_title(case: CaseInfo) -> str:
    return case.name if case.name.lower().startswith("case") else f"Case {case.name}"


def summary(cases: tuple[CaseInfo, ...]) -> dict[str, Any]:
    """Verdict counts overall, per true class and per reviewer (for the review report's first page)."""
    def table(key: Any) -> dict[str, dict[str, int]]:
        rows: dict[str, Counter] = {}
        for case in cases:
            rows.setdefault(key(case) or "(unknown)", Counter())[case.verdict] += 1
        return {name: dict(counter) for name, counter in sorted(rows.items())}

    return {
        "verdicts": dict(Counter(case.verdict for case in cases)),
        "per_class": table(lambda c: c.label),
        "per_reviewer": table(lambda c: c.reviewer),
    }


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
