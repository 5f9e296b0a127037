"""The case list's table model: numpy columns, sorted with argsort, filtered with a mask.

Scales to tens of thousands of cases: sorting and filtering are numpy work rather than a
QSortFilterProxyModel, and thumbnails become QImages only when a row is painted.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from collections.abc import Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QImage
from PySide6.QtWidgets import QAbstractItemView, QTableView

from engine.class_names import ClassNames, display_name, resolve
from engine.review import VERDICT_TITLES
from gui.panels.review import VERDICT_COLOURS

Index = QModelIndex | QPersistentModelIndex
COLUMNS = ("Case", "True", "Pred.", "Conf.", "Verdict")
COLUMN_TIPS = ("File or case name", "True label", "Predicted class", "Probability of the predicted class", "Reviewer's verdict")
SHORT_VERDICTS = {"plausible": "plausible", "spurious feature": "spurious", "needs review": "review"}
NAME, TRUE, PREDICTED, CONFIDENCE, VERDICT = range(len(COLUMNS))
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
        self.names = ClassNames((), "")  # the model's class names (engine.class_names)
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

    def set_predictions(self, predictions: Any, names: ClassNames | None = None) -> None:
        self.predictions = predictions
        k = predictions.probabilities.shape[1] if predictions is not None else None
        self.names = names or resolve(k, self.summary.class_names if self.summary is not None else ())
        self.misclassified = misclassified(self.summary, predictions, self.names)
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
            return None if getattr(self.summary, "table", None) is not None else self._image(case)  # rows: no picture
        if role == Qt.ItemDataRole.ForegroundRole and column == PREDICTED and self._wrong(case):
            return QBrush(MISCLASSIFIED_COLOUR)
        if role == Qt.ItemDataRole.ForegroundRole and column == VERDICT and self.verdicts[case]:
            return QBrush(QColor(VERDICT_COLOURS[self.verdicts[case]]))
        if role == Qt.ItemDataRole.ToolTipRole and column == NAME and getattr(self.summary, "table", None) is not None:
            table = self.summary.table  # a row of features: its first values, raw
            row = table.row(case)
            return "\n".join(f"{name} = {row[name] or 'missing'}" for name in table.features[:12])
        if role == Qt.ItemDataRole.ToolTipRole and column == NAME:
            return self.summary.names[case]  # the full name, folder included
        if role == Qt.ItemDataRole.ToolTipRole and column == VERDICT and self.verdicts[case]:
            return VERDICT_TITLES[self.verdicts[case]]
        if role == Qt.ItemDataRole.TextAlignmentRole and column == CONFIDENCE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _class(self, label: int) -> str:
        """A true label: the dataset's class name."""
        names = self.summary.class_names
        if label < 0:
            return ""
        return names[label] if label < len(names) else str(label)

    def _predicted(self, index: int) -> str:
        """A predicted class: the model's name for it (the canvas uses the same mapping)."""
        return self.names.names[index] if 0 <= index < len(self.names.names) and self.names.names[index] else str(index)

    def _wrong(self, case: int) -> bool:
        return self.misclassified is not None and bool(self.misclassified[case])

    def _text(self, case: int, column: int) -> str:
        if column == NAME:
            return display_name(self.summary.names[case], self._class(int(self.summary.labels[case])))
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
            return self._predicted(predicted)
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


def misclassified(summary: Any, predictions: Any, names: ClassNames) -> np.ndarray | None:
    """Cases whose prediction differs from a known true label.

    None when the model's classes are evidently not the dataset's (a folder of 4 class names
    under a 1000-class model): comparing indices there would invent mistakes. With a labels
    file, true labels are matched to the model's classes by name.
    """
    if predictions is None or summary is None:
        return None
    labels = np.asarray(summary.labels)
    if names.source == "labels file":
        position = {name: i for i, name in enumerate(names.names) if name}
        lookup = np.array([position.get(str(c), -2) for c in summary.class_names] + [-1], np.int64)
        if (lookup[:-1] == -2).any():
            return None
        labels = lookup[np.where(labels >= 0, labels, len(summary.class_names))]
    elif names.source != "dataset":
        return None
    return (labels >= 0) & (predictions.predicted != labels)


def allow_several(table: QTableView, model: CaseTableModel, chosen: Callable[[np.ndarray], Any]) -> None:
    """Ctrl/Shift-click and Ctrl+A select several cases of `table`: whenever two or more rows are
    selected, `chosen` gets their dataset indices in row order (the benchmark's cases, like the
    embedding's selection). The current row stays the one case the other views show."""
    table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)

    def changed(*_args: Any) -> None:
        rows = sorted({index.row() for index in table.selectionModel().selectedRows()})
        if len(rows) >= 2:
            chosen(np.array([model.case_at(row) for row in rows], dtype=np.int64))

    table.selectionModel().selectionChanged.connect(changed)
