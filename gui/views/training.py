"""The Training view: curves of recorded runs, the data map, mislabel suspects, and influence.

Runs come from engine.training.TrainingRecorder (or are TensorBoard log folders, curves only); the
bundled demo runs open at start. Training cases link to the open dataset through the run's
case_index: a click on the data map, a suspect or an influencer opens that case in the case list
and the canvas. For the case in the canvas, the Influence tab lists the training cases whose
TracIn scores helped or harmed its label most. Every engine call goes through `TrainingJobs`.
"""

from __future__ import annotations

import os
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.errors import GlassboxError
from engine.jobs import JobError
from engine.tasks import CaseInfluenceRequest, OpenTrainingRun, job_key
from engine.training.labels import LABEL_VERDICTS, LabelReviewStore, corrected_labels_csv
from gui.app import RESOURCES, show_error
from gui.context import AppContext
from gui.panels.training_curves import CurvesPanel
from gui.panels.training_lists import CaseList
from gui.settings import config_dir
from gui.views.cases import SETTINGS_REVIEWER
from gui.views.embedding import thumbnail_pixmap
from gui.widgets.embedding_scatter import EmbeddingScatter, PointGroup

DEMO_RUNS = RESOURCES / "demo" / "runs"
MAX_SUSPECTS = 300
REFRESH_MS = 3000  # how often a run that is still being recorded is read again
REGIONS = ("easy", "ambiguous", "hard-to-learn")  # engine.training.analysis.REGIONS, by code
REGION_COLOURS = ("#4575b4", "#fdae61", "#d73027")
FORGETTING_GROUPS = (("never forgotten", "#4575b4"), ("forgotten once", "#91bfdb"), ("twice", "#fdae61"),
                     ("3+ times", "#f46d43"), ("never learned", "#a50026"))
COLOUR_BY = ("region", "forgetting events")
TABS = ("Curves", "Data map", "Mislabels", "Influence")


class TrainingJobs:
    """The view's engine calls in one place: open a run, TracIn for a case, cancel."""

    INFLUENCE_KEY = job_key("training", "influence")

    def __init__(self, view: TrainingView) -> None:
        self.view = view
        self.engine = view.ctx.engine

    def open_run(self, path: str) -> None:
        self.engine.submit(OpenTrainingRun(path=path), key=job_key("training", f"open:{path}"), on_result=self.view.add_run,
                           on_error=lambda error: self.view.on_error(error, f"Could not open {Path(path).name}"),
                           on_progress=self.view.on_progress)

    def influence(self, path: str, case: int, top_k: int = 10) -> None:
        self.view.set_busy(True)
        self.engine.submit(CaseInfluenceRequest(path=path, case=case, top_k=top_k), key=self.INFLUENCE_KEY,
                           on_result=self.view.show_influence, on_error=self.view.on_influence_error,
                           on_progress=self.view.on_progress)

    def cancel(self) -> None:
        self.engine.cancel(self.INFLUENCE_KEY)


class TrainingView(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.jobs = TrainingJobs(self)
        self.runs: dict[str, Any] = {}  # path -> engine.training.tasks.OpenedRun
        self.store: LabelReviewStore | None = None
        self.verdicts: list[str | None] = []
        self.influence: Any = None  # engine.training.tasks.CaseInfluence of the case shown
        self._influence_wanted = (None, -1)  # (run path, case) of the last request
        self._build()
        self._refresh = QTimer(self, interval=REFRESH_MS)
        self._refresh.timeout.connect(self._reread_growing_runs)
        ctx.state.case_selected.connect(lambda _case: self._on_case())
        ctx.state.dataset_changed.connect(lambda _summary: self.show_run())
        if DEMO_RUNS.is_dir():
            for path in sorted(p for p in DEMO_RUNS.iterdir() if p.is_dir()):
                self.jobs.open_run(str(path))

    # ----- construction -----------------------------------------------------------------
    def _build(self) -> None:
        self.run_combo = QComboBox()
        self.run_combo.setObjectName("trainingRun")
        self.run_combo.setToolTip("The run whose data map, suspects and influence are shown; curves show every run")
        self.run_combo.currentIndexChanged.connect(lambda _i: self.show_run())
        open_button = QPushButton("Open run…")
        open_button.setToolTip("A folder written by engine.training.TrainingRecorder, or TensorBoard logs (curves)")
        open_button.clicked.connect(self.choose_run)
        self.colour_combo = QComboBox()
        self.colour_combo.setObjectName("dataMapColour")
        self.colour_combo.addItems(COLOUR_BY)
        self.colour_combo.currentIndexChanged.connect(lambda _i: self._draw_map())
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(140)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.jobs.cancel)
        self.cancel_button.hide()
        self.run_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.status = QLabel("")
        self.status.setObjectName("trainingStatus")
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # never widens the dock
        top = QHBoxLayout()
        for widget in (QLabel("Run:"), self.run_combo, open_button, QLabel("Colour:"), self.colour_combo):
            top.addWidget(widget)
        top.addWidget(self.status, 1)
        top.addWidget(self.progress)
        top.addWidget(self.cancel_button)

        self.curves = CurvesPanel()
        self.map = EmbeddingScatter()
        self.map.setObjectName("dataMap")
        self.map.setLabel("bottom", "variability (std of p(label) over epochs)")
        self.map.setLabel("left", "confidence (mean p(label))")
        for axis in ("bottom", "left"):
            self.map.getAxis(axis).enableAutoSIPrefix(False)
        self.map.card_provider = self.describe_case
        self.map.point_clicked.connect(self.open_case)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("trainingTabs")
        for title, widget in zip(TABS, (self.curves, self.map, self._build_suspects(), self._build_influence())):
            self.tabs.addTab(widget, title)
        self.tabs.currentChanged.connect(lambda _i: self._on_case())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)

    def _build_suspects(self) -> QWidget:
        self.suspects = CaseList(self.thumbnail)
        self.suspects.setObjectName("mislabelList")
        self.suspects.case_activated.connect(self.open_case)
        side = QVBoxLayout()
        self.verdict_buttons: dict[str | None, QPushButton] = {}
        for verdict, key in ((LABEL_VERDICTS[0], "M"), (LABEL_VERDICTS[1], "C"), (None, "0")):
            title = verdict.capitalize() if verdict else "Clear verdict"
            button = QPushButton(f"{title} ({key})")
            button.clicked.connect(lambda _=False, v=verdict: self.set_verdict(v))
            QShortcut(QKeySequence(key), self.suspects, activated=lambda v=verdict: self.set_verdict(v))
            self.verdict_buttons[verdict] = button
            side.addWidget(button)
        self.export_button = QPushButton("Export corrected labels…")
        self.export_button.setToolTip("CSV of every judged case; a mislabeled case takes the model's predicted class")
        self.export_button.clicked.connect(self.choose_export)
        side.addWidget(self.export_button)
        self.suspect_note = QLabel("")
        self.suspect_note.setWordWrap(True)
        side.addWidget(self.suspect_note)
        side.addStretch(1)
        host = QWidget()
        row = QHBoxLayout(host)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.suspects, 1)
        row.addLayout(side)
        return host

    def _build_influence(self) -> QWidget:
        self.influence_title = QLabel("Select a case to see the training cases that drove its prediction.")
        self.influence_title.setObjectName("influenceTitle")
        self.influence_title.setWordWrap(True)
        self.helpful = CaseList(self.thumbnail)
        self.helpful.setObjectName("helpfulList")
        self.harmful = CaseList(self.thumbnail)
        self.harmful.setObjectName("harmfulList")
        columns = QHBoxLayout()
        for title, listing in (("Most helpful (proponents)", self.helpful), ("Most harmful (opponents)", self.harmful)):
            listing.case_activated.connect(self.open_case)
            column = QVBoxLayout()
            column.addWidget(QLabel(f"<b>{title}</b>"))
            column.addWidget(listing, 1)
            columns.addLayout(column)
        host = QWidget()
        layout = QVBoxLayout(host)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.influence_title)
        layout.addLayout(columns, 1)
        return host

    # ----- runs -------------------------------------------------------------------------
    def choose_run(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open training run or TensorBoard logs")
        if path:
            self.jobs.open_run(path)

    def add_run(self, run: Any) -> None:
        old = self.runs.get(run.path)
        self.runs[run.path] = run
        self.curves.set_runs(list(self.runs.values()))
        if self.run_combo.findData(run.path) < 0:  # becoming current shows it
            self.run_combo.addItem(f"{run.name}" + ("" if run.kind == "run" else " (TensorBoard)"), run.path)
        elif self.run_combo.currentData() == run.path and _grew(old, run):
            self.show_run()
        if any(_growing(r) for r in self.runs.values()):
            self._refresh.start()
        else:
            self._refresh.stop()

    def _reread_growing_runs(self) -> None:
        """A run still being recorded (`fit()` running elsewhere) is read again every few seconds."""
        for run in self.runs.values():
            if _growing(run):
                self.jobs.open_run(run.path)

    def current_run(self) -> Any:
        return self.runs.get(self.run_combo.currentData())

    def analysis(self) -> Any:
        run = self.current_run()
        return None if run is None else run.analysis

    def show_run(self) -> None:
        """A new current run (or a new dataset): data map, suspects, verdict store, influence."""
        a = self.analysis()
        self._open_store()
        self.influence = None
        self._influence_wanted = (None, -1)
        self.helpful.clear()
        self.harmful.clear()
        self.map.set_points(np.zeros((0, 2)) if a is None else np.stack([a.variability, a.confidence], axis=1))
        self._draw_map()
        self._fill_suspects()
        if a is None:
            self.status.setText("TensorBoard logs: curves only." if self.current_run() else "")
        else:
            linked = "linked to the open cases" if self.linked() else "not linked to the open cases"
            self.status.setText(f"{len(a):,} cases, {len(a.epochs)} epochs{'' if a.complete else ' (still recording)'}, {linked}")
        self._on_case()

    def linked(self) -> bool:
        """Do the run's cases sit in the open dataset? Its case_index fits and most labels agree
        (a run on deliberately flipped labels still agrees on the rest)."""
        a, summary = self.analysis(), self.ctx.state.dataset
        if a is None or summary is None or not len(a) or a.case_index.max() >= len(summary) or a.case_index.min() < 0:
            return False
        return float(np.mean(np.asarray(summary.labels)[a.case_index] == a.labels)) >= 0.5

    def _open_store(self) -> None:
        a = self.analysis()
        self.store, self.verdicts = None, []
        if a is None:
            return
        try:
            reviewer = self.ctx.settings.get(SETTINGS_REVIEWER, "")
            self.store = LabelReviewStore(_verdict_path(a.path), a.dataset_sha256, source=str(a.path),
                                          reviewer=reviewer if isinstance(reviewer, str) else "")
        except (OSError, GlassboxError) as exc:
            show_error(self, JobError("bad_input", f"Label verdicts are off for this run: {exc}"))
            return
        self.verdicts = self.store.case_verdicts(len(a))

    # ----- data map ---------------------------------------------------------------------
    def _draw_map(self) -> None:
        a = self.analysis()
        if a is None:
            self.map.set_groups([])
            return
        if self.colour_combo.currentText() == "region":
            groups = [PointGroup(name, QColor(colour), np.flatnonzero(a.region == code))
                      for code, (name, colour) in enumerate(zip(REGIONS, REGION_COLOURS))]
        else:
            count = np.where(a.never_learned, 4, np.minimum(a.forgetting_events, 3))
            groups = [PointGroup(name, QColor(colour), np.flatnonzero(count == code))
                      for code, (name, colour) in enumerate(FORGETTING_GROUPS)]
        judged = np.flatnonzero([v == "mislabeled" for v in self.verdicts]) if self.verdicts else None
        self.map.set_groups([g for g in groups if len(g.indices)], judged, "judged mislabeled")
        self.map.set_current(self.run_index(self.ctx.state.case))

    def describe_case(self, i: int) -> tuple[QPixmap | None, str]:
        a = self.analysis()
        text = (
            f"<b>{escape(self.case_name(i))}</b><br>label {escape(self.class_name(a.labels[i]))}, "
            f"predicted {escape(self.class_name(a.predicted[i]))}<br>confidence {a.confidence[i]:.2f}, "
            f"variability {a.variability[i]:.2f}<br>AUM {a.aum[i]:+.2f}, forgotten {a.forgetting_events[i]}×"
            f"{' (never learned)' if a.never_learned[i] else ''}<br>region: {REGIONS[a.region[i]]}"
            + ("<br><i>click to open</i>" if self.linked() else "")
        )
        return self.thumbnail(i, 96), text

    # ----- mislabel suspects ------------------------------------------------------------
    def _fill_suspects(self) -> None:
        self.suspects.clear()
        a = self.analysis()
        for button in (*self.verdict_buttons.values(), self.export_button):
            button.setEnabled(self.store is not None)
        if a is None:
            self.suspect_note.setText("")
            return
        for rank, i in enumerate(a.mislabel_ranking[:MAX_SUSPECTS]):
            self.suspects.add_case(int(i), self._suspect_text(rank, int(i)), self.verdicts[i])
        self._note_judged()

    def _note_judged(self) -> None:
        judged = sum(v is not None for v in self.verdicts)
        self.suspect_note.setText(
            f"Most suspicious first: low area under the margin, steady over epochs (AUM + variability). "
            f"{judged} judged; saved in {self.store.path if self.store else '—'}."
        )

    def _suspect_text(self, rank: int, i: int) -> str:
        a = self.analysis()
        verdict = self.verdicts[i]
        return (f"{rank + 1}. {self.case_name(i)}   label {self.class_name(a.labels[i])} → predicted "
                f"{self.class_name(a.predicted[i])}   AUM {a.aum[i]:+.2f}" + (f"   [{verdict}]" if verdict else ""))

    def set_verdict(self, verdict: str | None) -> None:
        """Judge the selected suspect; the next one is selected so a reviewer can go down the list."""
        row = self.suspects.currentRow()
        case = self.suspects.case_at(row)
        if self.store is None or case < 0:
            return
        try:
            self.store.set_case(case, verdict)
        except (OSError, GlassboxError) as exc:
            show_error(self, JobError("bad_input", f"Could not save the verdict: {exc}"))
            return
        self.verdicts[case] = verdict
        self.suspects.set_text(row, self._suspect_text(row, case), verdict)
        self._note_judged()
        self._draw_map()
        self.suspects.setCurrentRow(min(row + 1, self.suspects.count() - 1))

    def choose_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export corrected labels", "corrected-labels.csv", "CSV (*.csv)")
        if path:
            self.export(path)

    def export(self, path: str) -> int:
        a = self.analysis()
        if a is None:
            return 0
        names = tuple(self.ctx.state.dataset.class_names) if self.linked() else ()
        try:
            rows = corrected_labels_csv(path, self.verdicts, a.labels, a.predicted, a.case_index, names)
        except OSError as exc:
            show_error(self, JobError("bad_input", f"Could not write {Path(path).name}: {exc}"))
            return 0
        self.status.setText(f"Wrote {rows} corrected labels to {Path(path).name}")
        return rows

    # ----- influence --------------------------------------------------------------------
    def _on_case(self) -> None:
        """The case in the canvas changed (or the tab or run did): ask for its influencers when shown."""
        a, case = self.analysis(), self.ctx.state.case
        self.map.set_current(self.run_index(case))
        if self.tabs.currentIndex() != TABS.index("Influence"):
            return
        run = self.current_run()
        if a is None or not run.checkpoints:
            self.influence_title.setText("This run has no checkpoints: record it with checkpoint_every to see influence.")
            return
        if not self.linked() or case < 0:
            self.influence_title.setText("Open the run's cases and select one to see which training cases drove it.")
            return
        if self._influence_wanted != (run.path, case):
            self._influence_wanted = (run.path, case)
            self.influence_title.setText(f"Computing TracIn for case {case}…")
            self.jobs.influence(run.path, case)

    def show_influence(self, result: Any) -> None:
        self.set_busy(False)
        self.influence = result
        a = self.analysis()
        if a is None or self._influence_wanted[1] != result.case:
            return
        self.helpful.clear()
        self.harmful.clear()
        for listing, cases, scores in ((self.helpful, result.proponents, result.scores),
                                       (self.harmful, result.opponents, result.opponent_scores)):
            for i, score in zip(cases, scores):
                listing.add_case(int(i), f"{self.case_name(int(i))}   label {self.class_name(a.labels[i])}   "
                                         f"score {score:+.3g}", self.verdicts[i] if self.verdicts else None)
        summary = self.ctx.state.dataset
        name = summary.names[result.case] if summary is not None else str(result.case)
        self.influence_title.setText(
            f"Case <b>{escape(name)}</b> (label {escape(self.class_name(result.label))}): TracIn over "
            f"{len(self.current_run().checkpoints)} checkpoints of {escape(self.current_run().name)}, last layer."
        )

    def on_influence_error(self, error: JobError) -> None:
        self.set_busy(False)
        self._influence_wanted = (None, -1)
        if error.kind == "cancelled":
            self.influence_title.setText("Cancelled.")
            return
        self.influence_title.setText(f"Influence failed: {error.message}")

    # ----- shared -----------------------------------------------------------------------
    def run_index(self, case: int) -> int:
        """The run's index of dataset case `case`, or -1."""
        a = self.analysis()
        if a is None or case < 0 or not self.linked():
            return -1
        hits = np.flatnonzero(a.case_index == case)
        return int(hits[0]) if len(hits) else -1

    def open_case(self, i: int) -> None:
        """Open training case `i` of the run in the case list and the canvas."""
        a = self.analysis()
        if a is None or not self.linked():
            self.status.setText("Open the run's cases (e.g. the demo cases) to open a training case.")
            return
        case = int(a.case_index[i])
        self.ctx.state.select_case(case)
        self.ctx.state.explain_requested.emit(case, "")

    def thumbnail(self, i: int, size: int = 40) -> QPixmap | None:
        a, summary = self.analysis(), self.ctx.state.dataset
        if a is None or not self.linked():
            return None
        return thumbnail_pixmap(summary.thumbnails[a.case_index[i]], size)

    def case_name(self, i: int) -> str:
        a, summary = self.analysis(), self.ctx.state.dataset
        return summary.names[a.case_index[i]] if self.linked() else f"case {i}"

    def class_name(self, label: int) -> str:
        summary = self.ctx.state.dataset
        names = summary.class_names if summary is not None and self.linked() else ()
        return names[label] if 0 <= label < len(names) else str(int(label))

    def set_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.progress.setValue(0)

    def on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))

    def on_error(self, error: JobError, title: str) -> None:
        self.set_busy(False)
        if error.kind != "cancelled":
            show_error(self, error, title)


def _growing(run: Any) -> bool:
    return run.analysis is not None and not run.analysis.complete


def _grew(old: Any, new: Any) -> bool:
    """Did a re-read bring new epochs (or finish the run)? Otherwise keep the reviewer's place."""
    if old is None or old.analysis is None or new.analysis is None:
        return True
    return len(old.analysis.epochs) != len(new.analysis.epochs) or old.analysis.complete != new.analysis.complete


def _verdict_path(run_dir: Path) -> Path:
    """Next to the run; in the config folder for the bundled (read-only) demo runs or a read-only run."""
    own = Path(run_dir) / "label-review.json"
    if not Path(run_dir).resolve().is_relative_to(RESOURCES.resolve()) and os.access(run_dir, os.W_OK):
        return own
    return config_dir() / "label-reviews" / f"{Path(run_dir).name}.label-review.json"
