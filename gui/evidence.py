"""The GUI's side of the record log: what the user is shown and decides becomes records, and
File ▸ Export case report… / Export review report… run as engine jobs.

Hooked from outside the views (signals only), so the canvas and the case browser stay unaware
of it: every map drawn (once per distinct result), every score of a map (the scorecard's and the
benchmark's, once per map and metric), every verdict and note saved, every export
appends one record to the log kept beside the dataset's review file. An append is one small
fsynced write, like the review file's own save, so it runs on the GUI thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from engine.errors import GlassboxError
from engine.global_explanations.records import global_record
from engine.jobs import JobError
from engine.provenance import sha256_array
from engine.records import RecordLog, artefact, default_reviewer, log_path_for_review, new_record
from engine.records.results import explain_record, reproduce_spec, score_records
from engine.records.signing import create_key, key_path, load_signer
from engine.tasks import CaseReport, ReviewReport, job_key
from gui.app import show_error
from gui.context import AppContext
from gui.views.cases import SETTINGS_REVIEWER  # the name typed in the review panel's Reviewer field

JOB_KEY = job_key("evidence", "report")


class Evidence(QObject):
    """Appends records for the views' events; exports reports. `appended(record)` after each."""

    appended = Signal(dict)
    report_written = Signal(list)  # paths of the files a report export wrote
    failed = Signal(str)

    def __init__(self, ctx: AppContext, views: dict[str, QWidget], window: QWidget) -> None:
        super().__init__(window)
        self.ctx = ctx
        self.window = window
        self.canvas = views.get("attribution")
        self.cases = views.get("cases")
        self.benchmark = views.get("benchmark")
        self._seen: set[tuple] = set()
        self._warned = False
        for signal, slot in (
            (getattr(self.canvas, "result_shown", None), self._on_shown),
            (getattr(self.canvas, "exported", None), self._on_exported),
            (getattr(getattr(self.canvas, "scorecard", None), "scored", None), self._on_scored),
            (getattr(self.benchmark, "scored", None), self._on_scored),
            (getattr(views.get("global"), "result_shown", None), self._on_global),
            (getattr(getattr(self.cases, "review", None), "verdict_saved", None), self._on_verdict),
            (getattr(getattr(self.cases, "review", None), "note_saved", None), self._on_note),
        ):
            if signal is not None:
                signal.connect(slot)

    # ----- where and who ----------------------------------------------------------------
    def review_path(self) -> Path | None:
        store = getattr(self.cases, "review_store", None)
        return Path(store.path) if store is not None else None

    def log_path(self) -> Path | None:
        review = self.review_path()
        return log_path_for_review(review) if review is not None else None

    def reviewer(self) -> str:
        return str(self.ctx.settings.get(SETTINGS_REVIEWER) or default_reviewer())

    def _append(self, record: dict[str, Any]) -> dict[str, Any] | None:
        path = self.log_path()
        if path is None:
            return None
        try:
            written = RecordLog(path, signer=load_signer(self.reviewer())).append(record)
        except (OSError, GlassboxError) as exc:
            message = f"Could not add to the record log {path}: {exc}"
            self.failed.emit(message)
            if not self._warned:  # say it once, not on every map
                self._warned = True
                show_error(self.window, JobError("bad_input", message), "Record log")
            return None
        self.appended.emit(written)
        return written

    def _case(self, case: int) -> tuple[str, str]:
        summary = self.ctx.state.dataset
        return str(summary.names[case]), str(summary.case_hashes[case])

    def _model(self) -> tuple[str, str]:
        model = self.ctx.state.model
        return str(getattr(model, "path", "") or ""), str(getattr(model, "sha256", "") or "")

    # ----- events -----------------------------------------------------------------------
    def _on_shown(self, index: int) -> None:
        result = self.canvas.panels[index].result
        case, summary = self.canvas.case, self.ctx.state.dataset
        if result is None or summary is None or not 0 <= case < len(summary):
            return
        model_path, model_sha = self._model()
        name, case_hash = self._case(case)
        key = (model_sha, case_hash, result.method, sha256_array(result.maps))
        if key in self._seen:
            return
        self._seen.add(key)
        spec = reproduce_spec(
            model=model_path, model_sha256=model_sha, cases=summary.source, case=case, case_name=name,
            case_sha256=case_hash, preprocessing=summary.preprocessing, method=result.method,
            params=dict(result.params), target=int(result.targets[0]), trust=False,
        )
        self._append(explain_record(result, spec, self.reviewer()))

    def _on_scored(self, scorecard: Any) -> None:
        """One score record per metric of a map not recorded with that metric before."""
        summary = self.ctx.state.dataset
        if summary is None or not 0 <= scorecard.case < len(summary):
            return
        model_path, model_sha = self._model()
        name, case_hash = self._case(scorecard.case)
        for record in score_records(scorecard, model_sha256=model_sha, model_name=Path(model_path).name,
                                    case_path=name, case_sha256=case_hash, reviewer=self.reviewer()):
            details = record["details"]
            key = ("score", model_sha, case_hash, details["maps_sha256"], details["metric"],
                   json.dumps(details["metric_params"], sort_keys=True))
            if key not in self._seen:
                self._seen.add(key)
                self._append(record)

    def _on_global(self, result: Any) -> None:
        """A global explanation drawn (gui.views.global_view): one record per distinct result."""
        summary = self.ctx.state.dataset
        key = ("global", result.kind, result.provenance.get("model_sha256"), result.provenance.get("dataset_hash"),
               repr(sorted(result.params.items())), result.provenance.get("cases_sha256"))
        if summary is None or key in self._seen:
            return
        self._seen.add(key)
        self._append(global_record(result, self.reviewer(), self._model()[0], str(summary.source), summary.preprocessing))

    def _review_record(self, action: str, case: int, details: dict[str, Any]) -> None:
        if self.ctx.state.dataset is None:
            return
        model_path, model_sha = self._model()
        name, case_hash = self._case(case)
        self._append(new_record(action, reviewer=self.reviewer(), model_sha256=model_sha,
                                model_name=Path(model_path).name, case_path=name, case_sha256=case_hash,
                                details=details))

    def _on_verdict(self, case: int, verdict: Any) -> None:
        self._review_record("verdict", case, {"verdict": verdict})

    def _on_note(self, case: int, note: str) -> None:
        self._review_record("note", case, {"note": note})

    def _on_exported(self, paths: list[Any]) -> None:
        log = self.log_path()
        if log is None or not paths:
            return
        model_path, model_sha = self._model()
        case = getattr(self.canvas, "case", -1)
        name, case_hash = self._case(case) if self.ctx.state.dataset is not None and case >= 0 else ("", "")
        files = [artefact(p, Path(p).suffix.lstrip(".") or "file", log.parent) for p in paths]
        self._append(new_record("export", reviewer=self.reviewer(), model_sha256=model_sha,
                                model_name=Path(model_path).name, case_path=name, case_sha256=case_hash,
                                artefacts=files))

    def create_signing_key(self) -> str:
        """A new Ed25519 key for the reviewer: their records are signed from now on. Returns the public key."""
        reviewer = self.reviewer()
        try:
            signer = create_key(reviewer)
        except (OSError, GlassboxError) as exc:
            show_error(self.window, JobError("bad_input", str(exc)), "Create signing key")
            return ""
        box = QMessageBox(QMessageBox.Icon.Information, "Signing key created",
                          f"Records by {reviewer} are signed from now on.\n\nKey: {key_path(reviewer)}\n"
                          f"Public key: {signer.public_hex}", parent=self.window)
        box.setObjectName("signingKeyDialog")
        box.open()
        return signer.public_hex

    # ----- reports ------------------------------------------------------------------------
    def _ready(self) -> str:
        """'' when a report can be exported now, else why not."""
        if self.ctx.state.model is None or self.ctx.state.dataset is None:
            return "Open a model and its cases first."
        if self.log_path() is None:
            return "These cases have no review file, so there is no record log to report from."
        return ""

    def export_case_report(self, path: str | None = None) -> None:
        """The selected case's report (.html and .pdf next to each other)."""
        case = self.ctx.state.case
        problem = self._ready() or ("" if case >= 0 else "Select a case first.")
        if problem:
            show_error(self.window, JobError("bad_input", problem), "Export case report")
            return
        name = Path(self._case(case)[0]).with_suffix("").name.replace(" ", "_")
        path = path or self._choose("Export case report", f"{name}_report.html")
        if path:
            self._submit("Export case report", lambda common: CaseReport(case=case, path=path, **common))

    def export_review_report(self, path: str | None = None) -> None:
        """All reviewed cases of the dataset (.html, .pdf and the verdicts as .csv)."""
        problem = self._ready()
        if problem:
            show_error(self.window, JobError("bad_input", problem), "Export review report")
            return
        path = path or self._choose("Export review report", "review_report.html")
        if path:
            self._submit("Export review report", lambda common: ReviewReport(path=path, **common))

    def _choose(self, title: str, suggested: str) -> str:
        start = self.review_path().parent / suggested
        path, _ = QFileDialog.getSaveFileName(self.window, title, str(start), "HTML and PDF report (*.html)")
        return path

    def _submit(self, title: str, make: Callable[[dict[str, str]], Any]) -> None:
        """Submit the report Request `make` builds from the log, review file and reviewer."""
        review = getattr(self.cases, "review", None)
        if review is not None:
            review.flush()  # a note still being typed belongs in the report
        common = {"log_path": str(self.log_path()), "review_path": str(self.review_path()), "reviewer": self.reviewer()}
        self.ctx.engine.submit(
            make(common), key=JOB_KEY,
            on_result=lambda paths: self.report_written.emit(list(paths)),
            on_error=lambda error: self._report_failed(error, title),
        )

    def _report_failed(self, error: JobError, title: str) -> None:
        self.failed.emit(error.message)
        if error.kind != "cancelled":
            show_error(self.window, error, title)
