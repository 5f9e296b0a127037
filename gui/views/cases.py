"""The case browser: open cases, see each one's thumbnail, labels, prediction and verdict.

Scales to tens of thousands of cases: the table model reads numpy columns, sorts with argsort
and filters with a boolean mask (see `CaseTableModel`).
Thumbnails become QImages only when a row is painted. Predictions run on the engine thread after
the cases open and whenever the model or the preprocessing changes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QBrush,
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QImage,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QSplitter,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QDoubleRangeSlider

from engine.errors import GlassboxError
from engine.jobs import JobError
from engine.review import VERDICT_TITLES, ReviewStore, default_review_path
from gui.app import RESOURCES, show_error
from gui.context import AppContext
from gui.settings import config_dir
from gui.views.preprocessing import PreprocessingPanel
from gui.views.review import VERDICT_COLOURS, ReviewPanel, shown_for

Index = QModelIndex | QPersistentModelIndex
COLUMNS = ("Case", "True", "Pred.", "Conf.", "Verdict")
COLUMN_TIPS = ("File or case name", "True label", "Predicted class", "Probability of the predicted class", "Reviewer's verdict")
SETTINGS_REVIEWER = "reviewer_name"
SHORT_VERDICTS = {"plausible": "plausible", "spurious feature": "spurious", "needs review": "review"}
NAME, TRUE, PREDICTED, CONFIDENCE, VERDICT = range(len(COLUMNS))
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff);;All files (*)"
NPZ_FILTER = "NumPy arrays (*.npz);;All files (*)"
SETTINGS_RECIPES = "preprocessing"  # {model sha256: recipe dict}
SETTINGS_REVIEW_FILES = "review_files"  # {case source: chosen review file}
MISCLASSIFIED_COLOUR = QColor("#c62828")
MAX_CACHED_IMAGES = 2048


class CaseTableModel(QAbstractTableModel):
    """Rows are the visible cases in sort order: `rows` = `order` (all cases, sorted) where `mask`.

    Sorting and filtering are numpy work here rather than a QSortFilterProxyModel: with 50k cases
    a Python `filterAcceptsRow` costs ~0.4 s per filter change and `lessThan` sorting seconds,
    while argsort and a boolean mask take milliseconds.
    """

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.summary: Any = None
        self.predictions: Any = None
        self.verdicts: list[str | None] = []
        self.misclassified: np.ndarray | None = None  # None: no predictions, or other classes
        self.order = np.zeros(0, np.int64)
        self.mask = np.zeros(0, bool)
        self.rows = np.zeros(0, np.int64)
        self._row_of = np.zeros(0, np.int64)  # case -> row, -1 when filtered out
        self._images: dict[int, QImage] = {}
        self._name_keys: np.ndarray | None = None
        self._sort: tuple[int, Qt.SortOrder] = (-1, Qt.SortOrder.AscendingOrder)

    # ----- data in ------------------------------------------------------------------------
    def set_summary(self, summary: Any, verdicts: list[str | None]) -> None:
        self.beginResetModel()
        self.summary = summary
        self.predictions = None
        self.misclassified = None
        self.verdicts = list(verdicts)
        self._name_keys = None
        self.mask = np.ones(len(summary) if summary is not None else 0, bool)
        self.order = self._sorted_order()  # a new dataset keeps the user's sort column
        self._images.clear()
        self._update_rows()
        self.endResetModel()

    def set_predictions(self, predictions: Any) -> None:
        self.predictions = predictions
        self.misclassified = misclassified(self.summary, predictions)
        self._resort()
        self._changed(PREDICTED, CONFIDENCE)

    def set_verdicts(self, verdicts: list[str | None]) -> None:
        self.verdicts = list(verdicts)
        self._changed(VERDICT, VERDICT)

    def set_verdict(self, case: int, verdict: str | None) -> None:
        self.verdicts[case] = verdict
        row = self.row_of(case)
        if row >= 0:
            self.dataChanged.emit(self.index(row, VERDICT), self.index(row, VERDICT))

    def set_mask(self, mask: np.ndarray) -> None:
        """Show only the cases where `mask` is true (a reset: rows appear and disappear)."""
        self.beginResetModel()
        self.mask = np.asarray(mask, bool)
        self._update_rows()
        self.endResetModel()

    def _update_rows(self) -> None:
        self.rows = self.order[self.mask[self.order]]
        self._row_of = np.full(len(self.order), -1, np.int64)
        self._row_of[self.rows] = np.arange(len(self.rows))

    def _changed(self, first: int, last: int) -> None:
        if self.rowCount():
            self.dataChanged.emit(self.index(0, first), self.index(self.rowCount() - 1, last))

    # ----- Qt model API -------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return COLUMN_TIPS[section]
        return None

    def case_at(self, row: int) -> int:
        return int(self.rows[row])

    def row_of(self, case: int) -> int:
        """The row showing `case`, or -1 if a filter hides it."""
        return int(self._row_of[case]) if 0 <= case < len(self._row_of) else -1

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        case, column = int(self.rows[index.row()]), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(case, column)
        if role == Qt.ItemDataRole.DecorationRole and column == NAME:
            return self._image(case)
        if role == Qt.ItemDataRole.ForegroundRole and column == PREDICTED and self._wrong(case):
            return QBrush(MISCLASSIFIED_COLOUR)
        if role == Qt.ItemDataRole.ForegroundRole and column == VERDICT and self.verdicts[case]:
            return QBrush(QColor(VERDICT_COLOURS[self.verdicts[case]]))
        if role == Qt.ItemDataRole.ToolTipRole and column == NAME:
            return self.summary.names[case]
        if role == Qt.ItemDataRole.ToolTipRole and column == VERDICT and self.verdicts[case]:
            return VERDICT_TITLES[self.verdicts[case]]
        if role == Qt.ItemDataRole.TextAlignmentRole and column == CONFIDENCE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _class(self, label: int) -> str:
        names = self.summary.class_names
        if label < 0:
            return ""
        return names[label] if label < len(names) else str(label)

    def _wrong(self, case: int) -> bool:
        return self.misclassified is not None and bool(self.misclassified[case])

    def _text(self, case: int, column: int) -> str:
        if column == NAME:
            return self.summary.names[case]
        if column == TRUE:
            return self._class(int(self.summary.labels[case]))
        if column == VERDICT:
            verdict = self.verdicts[case]
            return SHORT_VERDICTS[verdict] if verdict else ""
        if self.predictions is None:
            return "…"
        if column == PREDICTED:
            predicted = int(self.predictions.predicted[case])
            if predicted < 0:  # the model has no classifier head (regression, dense map)
                return "—"
            return self._class(predicted) if self.misclassified is not None else str(predicted)
        confidence = float(self.predictions.confidence[case])
        return "" if np.isnan(confidence) else f"{confidence:.3f}"

    def _image(self, case: int) -> QImage:
        image = self._images.get(case)
        if image is None:
            if len(self._images) >= MAX_CACHED_IMAGES:  # bounded: scrolling 50k rows must not hoard
                self._images.clear()
            tile = np.ascontiguousarray(self.summary.thumbnails[case])
            h, w, _ = tile.shape
            image = QImage(tile.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
            self._images[case] = image
        return image

    # ----- sorting with numpy -------------------------------------------------------------------
    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort = (column, order)
        self._resort()

    def _sorted_order(self) -> np.ndarray:
        """All cases in the current sort (file order when unsorted)."""
        column, order = self._sort
        if self.summary is None or column < 0:
            return np.arange(len(self.summary) if self.summary is not None else 0)
        new = np.argsort(self.sort_keys(column), kind="stable")
        return (new[::-1] if order == Qt.SortOrder.DescendingOrder else new).astype(np.int64)

    def _resort(self) -> None:
        if self.summary is None or self._sort[0] < 0:
            return
        self.layoutAboutToBeChanged.emit()
        old_rows = self.rows
        self.order = self._sorted_order()
        self._update_rows()
        for index in self.persistentIndexList():
            row = int(self._row_of[old_rows[index.row()]])
            self.changePersistentIndex(index, self.index(row, index.column()))
        self.layoutChanged.emit()

    def sort_keys(self, column: int) -> np.ndarray:
        s, p = self.summary, self.predictions
        n = len(s)
        if column == NAME:
            if self._name_keys is None:  # ~0.2 s for 50k names: once per dataset
                self._name_keys = np.array([natural_key(name) for name in s.names])
            return self._name_keys
        if column == TRUE:
            return np.asarray(s.labels, np.float64)
        if column == VERDICT:
            rank = {None: 0, "plausible": 1, "needs review": 2, "spurious feature": 3}
            return np.array([rank[v] for v in self.verdicts], np.float64)
        if p is None:
            return np.zeros(n)
        return np.asarray(p.predicted if column == PREDICTED else p.confidence, np.float64)


def natural_key(name: str) -> str:
    """'case 9' before 'case 10': digit runs zero-padded, case folded, as one sortable string."""
    return re.sub(r"\d+", lambda m: m.group().zfill(12), name.casefold())


def misclassified(summary: Any, predictions: Any) -> np.ndarray | None:
    """Cases whose prediction differs from a known true label.

    None when the model's classes are evidently not the dataset's (a folder of 4 class names
    under a 1000-class model): comparing indices there would invent mistakes.
    """
    if predictions is None:
        return None
    names = summary.class_names
    k = predictions.probabilities.shape[1]
    numeric = tuple(names) == tuple(str(i) for i in range(len(names)))
    if len(names) != k and not (numeric and len(names) <= k):
        return None
    return (summary.labels >= 0) & (predictions.predicted != summary.labels)


class CaseView(QWidget):
    """The case list with its open buttons, preprocessing panel, filters and review panel."""

    predictions_changed = Signal(object)  # engine.predictions.Predictions, or None

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.summary: Any = None
        self.predictions: Any = None
        self.model: Any = None  # ModelDescription of the open model
        self.review_store: ReviewStore | None = None
        self.table_model = CaseTableModel(self)
        self._build()
        state = ctx.state
        state.dataset_requested.connect(self.open)
        state.model_changed.connect(self._on_model_changed)
        state.case_selected.connect(self._on_case_selected_elsewhere)
        state.region_drawn.connect(self._store_region)

    # ----- construction ------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(self._build_open_row())
        self.preprocessing = PreprocessingPanel(self)
        self.preprocessing.recipe_edited.connect(self._on_recipe_edited)
        layout.addWidget(self.preprocessing)
        layout.addLayout(self._build_filter_rows())
        layout.addLayout(self._build_progress_row())
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self._build_table())
        self.review = ReviewPanel(self)
        self.review.seen = lambda case: shown_for(self.ctx.state.seen, case)
        self.review.reviewer.setText(self._reviewer())
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
        row.addWidget(self._action("Open folder…", "Ctrl+Shift+O", self.choose_folder))
        row.addWidget(self._action("Open images…", "Ctrl+Shift+I", self.choose_images))
        row.addWidget(self._action("Open .npz…", "Ctrl+Shift+N", self.choose_npz))
        row.addStretch(1)
        self.review_file_button = QToolButton()
        self.review_file_button.setText("Review file…")
        self.review_file_button.setToolTip("Where verdicts and notes for these cases are saved")
        self.review_file_button.clicked.connect(self.choose_review_file)
        self.review_file_button.setEnabled(False)
        row.addWidget(self.review_file_button)
        return row

    def _build_filter_rows(self) -> QVBoxLayout:
        rows = QVBoxLayout()
        first = QHBoxLayout()
        self.name_filter = QLineEdit()
        self.name_filter.setPlaceholderText("Filter by name…")
        self.name_filter.setClearButtonEnabled(True)
        self.name_filter.textChanged.connect(self.update_filter)
        self.misclassified_check = QCheckBox("Misclassified")
        self.misclassified_check.setToolTip("Only cases whose prediction differs from the true label")
        self.misclassified_check.toggled.connect(self.update_filter)
        self.class_combo = QComboBox()
        self.class_combo.setToolTip("Only cases of one true or predicted class")
        self.class_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.class_combo.currentIndexChanged.connect(self.update_filter)
        first.addWidget(self.name_filter, 1)
        first.addWidget(self.class_combo)
        first.addWidget(self.misclassified_check)
        second = QHBoxLayout()
        second.addWidget(QLabel("Confidence"))
        self.confidence_slider = QDoubleRangeSlider(Qt.Orientation.Horizontal)
        self.confidence_slider.setRange(0.0, 1.0)
        self.confidence_slider.setSingleStep(0.01)
        self.confidence_slider.setValue((0.0, 1.0))
        self.confidence_slider.setToolTip("Only cases whose predicted-class probability is in this range")
        self.confidence_label = QLabel()
        self.confidence_label.setMinimumWidth(self.fontMetrics().horizontalAdvance("0.00 – 0.00") + 4)
        self.confidence_slider.valueChanged.connect(self._on_confidence)
        self._on_confidence(self.confidence_slider.value())
        second.addWidget(self.confidence_slider, 1)
        second.addWidget(self.confidence_label)
        rows.addLayout(first)
        rows.addLayout(second)
        return rows

    def _build_progress_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_button)
        self._set_busy("")
        return row

    def _build_table(self) -> QTableView:
        table = QTableView()
        table.setObjectName("caseTable")
        table.setModel(self.table_model)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
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

    def _start_dir(self) -> str:
        return str(Path(self.summary.source).parent) if self.summary else ""

    def open(self, path: str, paths: list[str] | None = None) -> None:
        """Open cases (folder, .npz, image files) on the engine thread, fitted to the model."""
        engine = self.ctx.engine
        engine.cancel("cases.refit")
        engine.cancel("cases.predict")
        self._set_busy(f"Opening {Path(path).name}…")
        engine.submit(
            "cases.open",
            "engine.data:open_dataset_task",
            path=path,
            paths=paths,
            preprocessing=self._recipe_for_model(),
            on_result=self._on_opened,
            on_error=lambda error: self._on_job_error(error, "Could not open cases"),
            on_progress=self._on_progress,
        )

    def _on_opened(self, summary: Any) -> None:
        self._set_busy("")
        self._show_summary(summary)
        if summary.skipped:
            self._report_skipped(summary.skipped)
        self.predict()

    def _show_summary(self, summary: Any) -> None:
        """A new dataset (or a new recipe): reset list, filters, review file; publish it.

        Under a new recipe the same cases stay open, so the selected case stays selected.
        """
        same_cases = self.summary is not None and self.summary.case_hashes == summary.case_hashes
        keep = self.current_case() if same_cases else -1
        self.summary = summary
        self.predictions = None
        self.preprocessing.set_recipe(summary.preprocessing)
        self.preprocessing.set_problem("")
        self._open_review_store(summary)
        verdicts = self.review_store.verdicts(summary.names, summary.case_hashes) if self.review_store else []
        self.table_model.set_summary(summary, verdicts or [None] * len(summary))
        self._fill_class_combo()
        self._size_columns(summary.class_names)
        self.review.set_case(None)
        self.update_filter()
        self.ctx.state.set_dataset(summary)
        self.predictions_changed.emit(None)
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
        """True-label entries, and predicted-class entries when the model's classes are ours."""
        kept = self.class_combo.currentData()
        kinds = ("true", "predicted") if self.table_model.misclassified is not None else ("true",)
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        self.class_combo.addItem("All classes", None)
        for kind in kinds:
            for index, name in enumerate(self.summary.class_names):
                self.class_combo.addItem(f"{kind.capitalize()}: {name}", (kind, index))
        self.class_combo.setCurrentIndex(max(0, self.class_combo.findData(kept)))
        self.class_combo.blockSignals(False)
        comparable = self.table_model.misclassified is not None
        self.misclassified_check.setEnabled(comparable)
        self.misclassified_check.setToolTip(
            "Only cases whose prediction differs from the true label"
            if comparable or self.predictions is None
            else "The model's classes are not this dataset's classes"
        )

    def _report_skipped(self, skipped: tuple[str, ...]) -> None:
        box = QMessageBox(self)
        box.setObjectName("skippedDialog")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Some files were skipped")
        box.setText(f"{len(skipped)} file(s) could not be read and were skipped; the others are open.")
        box.setDetailedText("\n".join(skipped))
        box.open()

    # ----- model and preprocessing ---------------------------------------------------------------
    def _recipe_for_model(self) -> dict | None:
        """The recipe stored for this model, else the current one (refitted), else the default."""
        if self.model is not None:
            stored = self.ctx.settings.get(SETTINGS_RECIPES, {}).get(self.model.sha256)
            if stored:
                return stored
        return self.summary.preprocessing if self.summary is not None else None

    def _on_model_changed(self, description: Any) -> None:
        self.model = description
        self.review.model_sha256 = getattr(description, "sha256", "") or ""
        if self.summary is None:
            return
        if description is None:  # model closed: its predictions go with it
            self.ctx.engine.cancel("cases.predict")
            self._set_predictions(None)
        else:
            self._refit(self._recipe_for_model())

    def _on_recipe_edited(self, recipe: dict) -> None:
        if self.summary is not None:
            self._refit(recipe)

    def _remember_recipe(self) -> None:
        """Store the recipe that just gave predictions for this model (by sha256) in settings."""
        recipes = dict(self.ctx.settings.get(SETTINGS_RECIPES, {}))
        if recipes.get(self.model.sha256) != self.summary.preprocessing:
            recipes[self.model.sha256] = self.summary.preprocessing
            self.ctx.settings.set(SETTINGS_RECIPES, recipes)

    def _refit(self, recipe: dict | None) -> None:
        self.ctx.engine.cancel("cases.predict")
        self._set_busy("Applying preprocessing…")
        self.ctx.engine.submit(
            "cases.refit",
            "engine.data:set_preprocessing_task",
            preprocessing=recipe,
            on_result=self._on_refitted,
            on_error=self._on_refit_error,
            on_progress=self._on_progress,
        )

    def _on_refitted(self, summary: Any) -> None:
        self._set_busy("")
        self.preprocessing.set_problem("")
        if summary.hash != self.summary.hash:
            self._show_summary(summary)
        self.predict()

    def _on_refit_error(self, error: JobError) -> None:
        self._set_busy("")
        if error.kind == "cancelled":
            return
        self.preprocessing.set_recipe(self.summary.preprocessing)
        self.preprocessing.set_problem(error.message)
        self._set_predictions(None)

    # ----- predictions ---------------------------------------------------------------------------
    def predict(self) -> None:
        """Predict every case in the background (needs an open model and cases)."""
        if self.summary is None or self.model is None:
            return
        self._set_busy("Predicting…")
        self.ctx.engine.submit(
            "cases.predict",
            "engine.predictions:predict_task",
            on_result=self._on_predicted,
            on_error=self._on_predict_error,
            on_progress=self._on_progress,
        )

    def _on_predicted(self, predictions: Any) -> None:
        self._set_busy("")
        if self.summary is None or predictions.dataset_hash != self.summary.hash:
            return  # made for an older dataset or recipe; a newer job is on its way
        self._set_predictions(predictions)
        if self.model is not None and predictions.model_sha256 == self.model.sha256:
            self._remember_recipe()

    def _set_predictions(self, predictions: Any) -> None:
        self.predictions = predictions
        self.table_model.set_predictions(predictions)
        self._fill_class_combo()
        self.update_filter()
        self.predictions_changed.emit(predictions)

    def cancel(self) -> None:
        for key in ("cases.open", "cases.refit", "cases.predict"):
            self.ctx.engine.cancel(key)

    def _on_job_error(self, error: JobError, title: str) -> None:
        self._set_busy("")
        if error.kind != "cancelled":
            show_error(self, error, title)

    def _on_predict_error(self, error: JobError) -> None:
        """Cases that do not fit the model: said in place, under the recipe that has to change."""
        if error.kind == "bad_input":
            self._set_busy("")
            self.preprocessing.set_problem(error.message)
        else:
            self._on_job_error(error, "Could not predict the cases")

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        if message:
            self.progress.setFormat(message)

    def _set_busy(self, message: str) -> None:
        busy = bool(message)
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.progress.setValue(0)
        self.progress.setFormat(message)

    # ----- filtering -----------------------------------------------------------------------------
    def filter_mask(self) -> np.ndarray:
        """Which cases pass the name, class, misclassified and confidence filters."""
        s, p = self.summary, self.predictions
        mask = np.ones(len(s), bool)
        text = self.name_filter.text().strip().lower()
        if text:
            mask &= np.fromiter((text in name.lower() for name in s.names), bool, len(s))
        choice = self.class_combo.currentData()
        if choice is not None:
            kind, index = choice
            if kind == "true":
                mask &= s.labels == index
            else:  # no predictions yet: nothing is known to be predicted as this class
                mask &= (p.predicted == index) if p is not None else False
        wrong = self.table_model.misclassified
        if self.misclassified_check.isChecked():
            mask &= wrong if wrong is not None else False
        low, high = self.confidence_slider.value()
        if p is not None and (low > 0.0 or high < 1.0):
            mask &= (p.confidence >= low - 1e-6) & (p.confidence <= high + 1e-6)
        return mask

    def _on_confidence(self, value: tuple[float, float]) -> None:
        self.confidence_label.setText(f"{value[0]:.2f} – {value[1]:.2f}")
        self.update_filter()

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
        self.status.setText(" · ".join(parts))

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
    def _review_path(self, source: str) -> Path:
        chosen = self.ctx.settings.get(SETTINGS_REVIEW_FILES, {}).get(source)
        if chosen:
            return Path(chosen)
        fallback = config_dir() / "reviews"
        if Path(source).resolve().is_relative_to(RESOURCES.resolve()):
            fallback.mkdir(parents=True, exist_ok=True)
            return default_review_path(fallback / Path(source).name, None)  # bundled demo: read-only
        return default_review_path(source, fallback)

    def _reviewer(self) -> str:
        """The reviewer name from the settings ("reviewer_name"), recorded with the OS user."""
        name = self.ctx.settings.get(SETTINGS_REVIEWER, "")
        return name if isinstance(name, str) else ""

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

    def _open_review_store(self, summary: Any) -> None:
        if self.review_store is not None and self.review_store.source == summary.source:
            return  # same cases under a new recipe: keep the store
        self.review.set_store(None)
        self.review_store = None
        try:
            self.review_store = ReviewStore(
                self._review_path(summary.source), source=summary.source, reviewer=self._reviewer()
            )
        except (OSError, GlassboxError) as exc:
            show_error(self, JobError("bad_input", f"Reviews are off for these cases: {exc}"))
        self.review.set_store(self.review_store)
        self.review_file_button.setEnabled(self.review_store is not None)
        if self.review_store is not None:
            self.review_file_button.setToolTip(f"Reviews are saved in {self.review_store.path}")
            if self.review_store.warning:
                show_error(self, JobError("bad_input", self.review_store.warning), "Review file")

    def choose_review_file(self) -> None:
        if self.summary is None or self.review_store is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Save reviews in", str(self.review_store.path), "Review files (*.json)"
        )
        if path:
            self.use_review_file(path)

    def use_review_file(self, path: str) -> None:
        """Keep reviews in `path` from now on; carries over the current ones if it is new."""
        self.review.flush()
        previous = self.review_store
        store = ReviewStore(path, source=self.summary.source, reviewer=self._reviewer())
        if previous is not None and previous.cases:
            store.merge_from(previous)  # every event of the old file comes along, nothing replaced
        files = dict(self.ctx.settings.get(SETTINGS_REVIEW_FILES, {}))
        files[self.summary.source] = str(Path(path).resolve())
        self.ctx.settings.set(SETTINGS_REVIEW_FILES, files)
        self.review_store = store
        self.review.set_store(store)
        self.review_file_button.setToolTip(f"Reviews are saved in {store.path}")
        self.table_model.set_verdicts(store.verdicts(self.summary.names, self.summary.case_hashes))
        case = self.current_case()
        if case >= 0:
            self._show_review(case)

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
