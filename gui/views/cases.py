"""The case browser: open cases, see each one's thumbnail, labels, prediction and verdict.

The view composes sub-panels (gui/panels/): the table model, the filters and the review-file
chooser; opening, preprocessing and predicting are the session's (gui.session), whose one
progress bar this view shows. The list follows `AppState`: a new dataset, new predictions and
the selected case.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSize, Qt
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QSplitter,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.errors import GlassboxError
from engine.jobs import JobError
from gui.app import show_error
from gui.context import AppContext
from gui.panels.case_filters import CaseFilters
from gui.panels.case_table import CONFIDENCE, NAME, PREDICTED, TRUE, VERDICT, CaseTableModel, allow_several
from gui.panels.preprocessing import PreprocessingPanel
from gui.panels.review import ReviewPanel, shown_for
from gui.panels.review_files import SETTINGS_REVIEWER, ReviewFiles
from gui.panels.tabular_details import TabularDetails
from gui.panels.tabular_recipe import TabularRecipePanel

__all__ = ["CONFIDENCE", "NAME", "PREDICTED", "TRUE", "VERDICT", "CaseView"]

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff);;All files (*)"
NPZ_FILTER = ("Case files (*.npz *.csv *.tsv *.parquet *.pq *.txt);;NumPy arrays (*.npz);;"
              "Tables (*.csv *.tsv *.parquet *.pq);;All files (*)")
LABELS_FILTER = "Labels (*.txt *.json);;All files (*)"


class CaseView(QWidget):
    """The case list with its open buttons, preprocessing panel, filters and review panel."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.session = ctx.session
        self.jobs = self.session.jobs  # the session's jobs: its bar is shown here, Esc here stops them
        self.table_model = CaseTableModel(self)
        self.reviews = ReviewFiles(ctx.settings, self)
        self._build()
        state = ctx.state
        state.dataset_changed.connect(self._show_summary)
        state.predictions_changed.connect(self._set_predictions)
        state.model_changed.connect(self._on_model_changed)
        state.case_selected.connect(self._on_case_selected_elsewhere)
        state.region_drawn.connect(self._store_region)
        self.session.recipe_problem.connect(self._on_recipe_problem)
        self.session.skipped.connect(self._report_skipped)
        self.session.recipe_guessed.connect(self.preprocessing.set_note)
        self.reviews.store_changed.connect(self._on_store_changed)
        self.jobs.watch_escape(self)

    # ----- what the shared state holds ----------------------------------------------------------
    @property
    def summary(self) -> Any:
        return self.ctx.state.dataset

    @property
    def predictions(self) -> Any:
        return self.ctx.state.predictions

    @property
    def model(self) -> Any:
        return self.ctx.state.model

    @property
    def review_store(self) -> Any:
        return self.reviews.store

    # ----- construction ------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(self._build_open_row())
        self.preprocessing = PreprocessingPanel(self)
        self.preprocessing.recipe_edited.connect(self.session.set_recipe)
        layout.addWidget(self.preprocessing)
        self.tabular_recipe = TabularRecipePanel(self)  # a table of features: its columns' recipe
        self.tabular_recipe.recipe_edited.connect(self.session.set_recipe)
        self.tabular_recipe.hide()
        layout.addWidget(self.tabular_recipe)
        self.filters = CaseFilters(self)
        self.filters.changed.connect(self.update_filter)
        self.name_filter = self.filters.name_filter
        self.class_combo = self.filters.class_combo
        self.misclassified_check = self.filters.misclassified_check
        self.confidence_slider = self.filters.confidence_slider
        layout.addWidget(self.filters)
        layout.addWidget(self.jobs.bar)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self._build_table())
        self.tabular_details = TabularDetails(self)  # the selected row's raw values
        self.tabular_details.hide()
        splitter.addWidget(self.tabular_details)
        self.review = ReviewPanel(self)
        self.review.seen = lambda case: shown_for(self.ctx.state.seen, case)
        self.review.reviewer.setText(self.reviews.reviewer())
        self.review.who.addWidget(self.reviews.button)  # where the verdicts are saved, beside who gives them
        self.review.reviewer_changed.connect(lambda name: self.ctx.settings.set(SETTINGS_REVIEWER, name))
        self.review.verdict_saved.connect(self.table_model.set_verdict)
        self.review.verdict_saved.connect(lambda *_: self._update_status())
        splitter.addWidget(self.review)
        splitter.setStretchFactor(0, 1)
        splitter.setCollapsible(0, False)
        layout.addWidget(splitter, 1)
        self.setAcceptDrops(True)
        self.status = QLabel("Open images, a folder or an .npz file (or drop them here).")
        self.status.setObjectName("caseStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        for keys, step in (("J", 1), ("K", -1), ("PgDown", 1), ("PgUp", -1)):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(lambda s=step: self.step(s))

    def _action(self, text: str, shortcut: str, slot: Any) -> QToolButton:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setToolTip(f"{text.rstrip('…')} ({shortcut})")
        action.triggered.connect(slot)
        self.addAction(action)
        button = QToolButton()
        button.setDefaultAction(action)
        return button

    def _build_open_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(2)
        row.addWidget(self._action("Folder…", "Ctrl+Shift+O", self.choose_folder))
        row.addWidget(self._action("Images…", "Ctrl+Shift+I", self.choose_images))
        row.addWidget(self._action(".npz…", "Ctrl+Shift+N", self.choose_npz))
        row.addStretch(1)
        self.labels_button = QToolButton()
        self.labels_button.setText("Labels…")  # short: the row fits the default dock width
        self.labels_button.setToolTip("Name the model's classes from a labels file (one per line, or JSON)")
        self.labels_button.clicked.connect(self.choose_labels_file)
        row.addWidget(self.labels_button)
        return row

    def _build_table(self) -> QTableView:
        table = QTableView()
        table.setObjectName("caseTable")
        table.setModel(self.table_model)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        allow_several(table, self.table_model, self.ctx.state.cases_chosen.emit)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setIconSize(QSize(40, 40))
        table.setWordWrap(False)
        table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        table.verticalHeader().hide()
        table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        table.verticalHeader().setDefaultSectionSize(44)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(30)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        table.setSortingEnabled(True)
        table.selectionModel().currentRowChanged.connect(self._on_current_row)
        self.table = table
        return table

    # ----- opening cases -----------------------------------------------------------------------
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of images", self._start_dir())
        if folder:
            self.open(folder)

    def choose_images(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Open images", self._start_dir(), IMAGE_FILTER)
        if files:
            self.open(files[0], paths=files)

    def choose_npz(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open cases (.npz)", self._start_dir(), NPZ_FILTER)
        if path:
            self.open(path)

    def choose_labels_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Class names for this model", self._start_dir(), LABELS_FILTER)
        if path:
            self.session.set_labels_file(path)

    def _start_dir(self) -> str:
        return str(Path(self.summary.source).parent) if self.summary else ""

    def open(self, path: str, paths: list[str] | None = None) -> None:
        """Open cases (folder, .npz, image files): the session does it, this list follows."""
        self.session.open(path, paths)

    def _show_summary(self, summary: Any) -> None:
        """A new dataset (or a new recipe): reset list, filters, review file.

        Under a new recipe the same cases stay open, so the selected case stays selected.
        """
        keep = self.ctx.state.case
        self.preprocessing.set_recipe(summary.preprocessing if summary is not None else {})
        table = getattr(summary, "table", None)
        self.preprocessing.setVisible(table is None and getattr(summary, "kind", "") != "text")  # pixels only
        self.tabular_recipe.setVisible(table is not None)
        self.tabular_details.setVisible(table is not None)
        self.tabular_details.set_case(None, -1)
        if table is not None:
            self.tabular_recipe.set_summary(summary)
        self.table.verticalHeader().setDefaultSectionSize(44 if table is None else self.table.fontMetrics().height() + 8)
        if summary is None:
            return
        self.reviews.open_for(summary.source)
        store = self.reviews.store
        verdicts = store.verdicts(summary.names, summary.case_hashes) if store else []
        self.table_model.set_summary(summary, verdicts or [None] * len(summary))
        self._fill_class_combo()
        self._size_columns(summary.class_names)
        self.review.set_case(None)
        self.update_filter()
        if keep >= 0 and self.table_model.row_of(keep) >= 0:
            self.select_row(self.table_model.row_of(keep))

    def _size_columns(self, class_names: tuple[str, ...]) -> None:
        """Widths from the font, once per dataset: ResizeToContents would read thousands of rows
        on every change."""
        metrics = self.table.fontMetrics()
        longest = max(class_names, key=len, default="")
        class_width = min(160, max(metrics.horizontalAdvance(w) for w in (longest, "Pred.")) + 16)
        widths = {TRUE: class_width, PREDICTED: class_width, CONFIDENCE: metrics.horizontalAdvance("0.000") + 16}
        widths[VERDICT] = metrics.horizontalAdvance("spurious") + 16
        for column, width in widths.items():
            self.table.setColumnWidth(column, width)

    def _fill_class_combo(self) -> None:
        names = self.ctx.state.class_names
        self.filters.fill_classes(
            tuple(self.summary.class_names), names, self.table_model.misclassified is not None,
            self.predictions is not None,
        )

    def _report_skipped(self, skipped: tuple[str, ...]) -> None:
        box = QMessageBox(self)
        box.setObjectName("skippedDialog")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Some files were skipped")
        box.setText(f"{len(skipped)} file(s) could not be read and were skipped; the others are open.")
        box.setDetailedText("\n".join(skipped))
        box.open()

    # ----- model, recipe and predictions ----------------------------------------------------------
    def _on_model_changed(self, description: Any) -> None:
        self.review.model_sha256 = getattr(description, "sha256", "") or ""

    def _on_recipe_problem(self, message: str) -> None:
        """A recipe that does not fit: the working recipe comes back, the problem is said in place."""
        if message and self.summary is not None:
            self.preprocessing.set_recipe(self.summary.preprocessing)
            if self.summary.table is not None:
                self.tabular_recipe.set_summary(self.summary)
        self.preprocessing.set_problem(message)
        self.tabular_recipe.set_problem(message)

    def _set_predictions(self, predictions: Any) -> None:
        if self.summary is None:
            return
        self.table_model.set_predictions(predictions, self.ctx.state.class_names)
        self._fill_class_combo()
        self.update_filter()

    # ----- filtering -----------------------------------------------------------------------------
    def filter_mask(self) -> np.ndarray:
        """Which cases pass the name, class, misclassified and confidence filters."""
        return self.filters.mask(self.summary, self.predictions, self.table_model.misclassified)

    def update_filter(self) -> None:
        if self.summary is None:
            return
        current = self.current_case()
        self.table_model.set_mask(self.filter_mask())
        row = self.table_model.row_of(current)
        if row >= 0:  # a reset clears the selection: keep the case selected if still shown
            self.select_row(row)
        self._update_status()

    def _update_status(self) -> None:
        s = self.summary
        if s is None:
            return
        parts = [f"{len(s)} cases", f"{self.table_model.rowCount()} shown"]
        labelled = int((s.labels >= 0).sum())
        wrong = self.table_model.misclassified
        if wrong is not None and labelled:
            parts.append(f"{int(wrong.sum())} misclassified (accuracy {1 - wrong.sum() / labelled:.1%})")
        reviewed = sum(v is not None for v in self.table_model.verdicts)
        if reviewed:
            parts.append(f"{reviewed} reviewed")
        if s.skipped:
            parts.append(f"{len(s.skipped)} skipped")
        mismatch = self.ctx.state.class_names.mismatch if self.predictions is not None else ""
        self.status.setText(" · ".join(parts) + (f"\n{mismatch}" if mismatch else ""))

    # ----- selection and navigation ----------------------------------------------------------------
    def _on_current_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            return
        case = self.table_model.case_at(current.row())
        self._show_review(case)
        self.ctx.state.select_case(case)

    def _show_review(self, case: int) -> None:
        s = self.summary
        self.review.set_case((case, s.names[case], s.case_hashes[case]), s.source)
        self.tabular_details.set_case(s.table, case)

    def _on_case_selected_elsewhere(self, case: int) -> None:
        if self.summary is None or not 0 <= case < len(self.summary) or case == self.current_case():
            return
        row = self.table_model.row_of(case)
        if row >= 0:
            self.select_row(row)
        else:  # hidden by a filter: still review it
            self._show_review(case)

    def current_case(self) -> int:
        current = self.table.currentIndex()
        if not current.isValid():
            return -1
        return self.table_model.case_at(current.row())

    def select_row(self, row: int) -> None:
        """Select the `row`-th visible case (in the current sort and filter)."""
        if not 0 <= row < self.table_model.rowCount():
            return
        index = self.table_model.index(row, 0)
        self.table.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        )
        self.table.scrollTo(index)

    def step(self, delta: int) -> None:
        """Next (+1) or previous (-1) visible case: J/K, PageDown/PageUp."""
        current = self.table.currentIndex()
        self.select_row(max(0, current.row() + delta) if current.isValid() else 0)

    # ----- review file ---------------------------------------------------------------------------
    def _on_store_changed(self, store: Any) -> None:
        self.review.set_store(store)
        self.ctx.state.set_review_path(str(store.path) if store is not None else "")
        if store is not None and self.summary is not None and self.table_model.summary is self.summary:
            self.table_model.set_verdicts(store.verdicts(self.summary.names, self.summary.case_hashes))
            case = self.current_case()
            if case >= 0:
                self._show_review(case)

    def _store_region(self, case: int, region: Any) -> None:
        """The canvas's region of interest goes into the case's review (as an event)."""
        if self.review_store is None or self.summary is None or not 0 <= case < len(self.summary):
            return
        sha = str(getattr(self.model, "sha256", "") or "")
        try:
            self.review_store.set_region(self.summary.names[case], self.summary.case_hashes[case], region, sha,
                                         source=self.summary.source)
        except (OSError, GlassboxError) as exc:
            show_error(self, JobError("bad_input", f"The region was not saved: {exc}"), "Review file")

    def use_review_file(self, path: str) -> None:
        """Keep reviews in `path` from now on; carries over the current ones if it is new."""
        self.review.flush()
        self.reviews.use(path)

    def hideEvent(self, event: Any) -> None:  # noqa: N802 - Qt override: closing the window hides us
        self.review.flush()
        super().hideEvent(event)

    # ----- drag and drop: a folder, an .npz or image files --------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls() and all(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        paths = [url.toLocalFile() for url in event.mimeData().urls()]
        if len(paths) == 1:
            self.open(paths[0])
        elif paths:
            self.open(paths[0], paths=paths)
        event.acceptProposedAction()
