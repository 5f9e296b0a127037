"""Engine tasks that write a case report or a review report (HTML, PDF, CSV) and record them.

Each report is written atomically, then one "report" record naming every file it wrote (with
their SHA-256) is appended to the log, so `main.py verify REPORT` notices any later edit.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.errors import BadInputError
from engine.fileio import atomic_write_bytes, atomic_write_text
from engine.jobs import JobContext
from engine.records import RecordLog, artefact, default_reviewer, new_record, read_records
from engine.records.signing import load_signer
from engine.reports import html, pdf
from engine.reports.content import Report, gather_case, model_info, now, summary

FORMATS = ("html", "pdf")
CSV_FIELDS = ("case", "case_sha256", "true_label", "predicted", "probability", "verdict", "note", "reviewer",
              "reviewed_utc", "model_sha256", "records")


def _store(review_path: str | os.PathLike[str] | None) -> Any:
    from engine.review import ReviewStore

    return ReviewStore(review_path) if review_path and Path(review_path).exists() else None


def build_report(ctx: JobContext, kind: str, cases: Sequence[int], log_path: Path, review_path: Any,
                 exported_by: str) -> Report:
    """Gather the report's content; progress per case, cancellable between cases."""
    workspace = ctx.workspace
    workspace.require_model()
    dataset = workspace.dataset
    if dataset is None:
        raise BadInputError("No cases are open.")
    store, records = _store(review_path), read_records(log_path)
    gathered = []
    for n, case in enumerate(cases):
        ctx.check()
        ctx.progress(0.9 * n / max(1, len(cases)), f"Report: case {n + 1}/{len(cases)}")
        review = store.get(dataset.names[case], dataset.case_hashes[case]) if store else None
        gathered.append(gather_case(ctx, case, records, review, str(log_path)))
    title = f"Case report: {gathered[0].name}" if kind == "case" else f"Review report: {dataset.name}"
    return Report(
        kind=kind, title=title, created=now(), exported_by=exported_by, model=model_info(ctx),
        dataset=dataset.name, dataset_source=dataset.source, dataset_hash=dataset.hash,
        recipe=dataset.preprocessing.to_dict(), log_path=str(log_path), cases=tuple(gathered),
        summary=summary(tuple(gathered)) if kind == "review" else {},
    )


def verdicts_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for case in report.cases:
        predicted, probability = case.top[0] if case.top else ("", "")
        writer.writerow([case.name, case.sha256, case.label, predicted, probability, case.verdict, case.note,
                         case.reviewer, case.reviewed, report.model.sha256, " ".join(case.record_ids)])
    return buffer.getvalue()


def write_report(report: Report, stem: Path, formats: Sequence[str], log: RecordLog, reviewer: str) -> list[Path]:
    """Write <stem>.html / .pdf (and .csv for a review report), then record them."""
    bad = sorted(set(formats) - set(FORMATS))
    if bad or not formats:
        raise BadInputError(f"Report formats must be html and/or pdf, got {', '.join(formats) or 'none'}.")
    written = []
    if "html" in formats:
        written.append(atomic_write_text(stem.with_suffix(".html"), html.render(report)))
    if "pdf" in formats:
        written.append(atomic_write_bytes(stem.with_suffix(".pdf"), pdf.render(report)))
    if report.kind == "review":
        written.append(atomic_write_text(stem.with_suffix(".csv"), verdicts_csv(report)))
    log.append(new_record(
        "report", reviewer=reviewer, model_sha256=report.model.sha256, model_name=report.model.name,
        case_path=report.cases[0].name if report.kind == "case" else "",
        case_sha256=report.cases[0].sha256 if report.kind == "case" else "",
        artefacts=[artefact(path, f"{report.kind} report", log.folder) for path in written],
        details={"kind": report.kind, "cases": [c.name for c in report.cases],
                 "records": sorted({r for c in report.cases for r in c.record_ids})},
    ))
    return written


def _stem(path: str | os.PathLike[str]) -> Path:
    stem = Path(path)
    return stem.with_suffix("") if stem.suffix.lower() in (".html", ".pdf", ".csv") else stem


def case_report_task(ctx: JobContext, case: int, path: str, log_path: str, review_path: str = "",
                     reviewer: str = "", formats: Sequence[str] = FORMATS) -> list[str]:
    """Case report of one case of the open dataset: <path>.html and <path>.pdf."""
    reviewer = reviewer or default_reviewer()
    log = RecordLog(log_path, signer=load_signer(reviewer))
    report = build_report(ctx, "case", [int(case)], log.path, review_path, reviewer)
    written = write_report(report, _stem(path), formats, log, reviewer)
    ctx.progress(1.0, "Report written")  # the GUI then says which files
    return [str(p) for p in written]


def reviewed_cases(dataset: Any, review_path: Any) -> list[int]:
    """Cases with a verdict or a note, in dataset order."""
    store = _store(review_path)
    if store is None:
        return []
    found = []
    for i, (name, case_hash) in enumerate(zip(dataset.names, dataset.case_hashes)):
        review = store.get(name, case_hash)
        if review is not None and (review.verdict or review.note):
            found.append(i)
    return found


def review_report_task(ctx: JobContext, path: str, log_path: str, review_path: str, reviewer: str = "",
                       formats: Sequence[str] = FORMATS) -> list[str]:
    """Review report of every reviewed case of the open dataset: .html, .pdf and the verdicts .csv."""
    dataset = ctx.workspace.dataset
    if dataset is None:
        raise BadInputError("No cases are open.")
    cases = reviewed_cases(dataset, review_path)
    if not cases:
        raise BadInputError(f"{dataset.name}: no case has a verdict or a note yet; review some cases first.")
    reviewer = reviewer or default_reviewer()
    log = RecordLog(log_path, signer=load_signer(reviewer))
    report = build_report(ctx, "review", cases, log.path, review_path, reviewer)
    written = write_report(report, _stem(path), formats, log, reviewer)
    ctx.progress(1.0, "Report written")  # the GUI then says which files
    return [str(p) for p in written]


def write_review_report(ctx: JobContext, log: RecordLog, stem: Path, formats: Sequence[str],
                        reviewer: str) -> list[Path]:
    """The CLI's report: every case explained into `log`, with verdicts from the dataset's review file."""
    from engine.review import default_review_path

    dataset = ctx.workspace.dataset
    explained = {r.get("case_sha256") for r in read_records(log.path) if r.get("action") == "explain"}
    cases = [i for i, h in enumerate(dataset.case_hashes) if h in explained]
    review_path = default_review_path(dataset.source) if dataset.source else None
    report = build_report(ctx, "review", cases, log.path, review_path, reviewer)
    return write_report(report, stem, formats, log, reviewer)
