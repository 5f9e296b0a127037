"""Lists of training cases with thumbnails: the mislabel suspects, and a case's influencers."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

ThumbnailFn = Callable[[int], QPixmap | None]
VERDICT_COLOURS = {"mislabeled": QColor("#c62828"), "correct label": QColor("#2e7d32")}


class CaseList(QListWidget):
    """Rows of (thumbnail, text) for training cases; the run index rides in UserRole."""

    case_activated = Signal(int)  # index into the run: a row was selected (click, keys), or Enter / double-click

    def __init__(self, thumbnail: ThumbnailFn, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thumbnail = thumbnail
        self.setIconSize(QSize(40, 40))
        self.setUniformItemSizes(True)
        self.itemActivated.connect(self._activated)
        # Selection, not the current item: focusing the list makes its first row current, and that
        # must not open a case.
        self.itemSelectionChanged.connect(self._selection_changed)

    def add_case(self, case: int, text: str, verdict: str | None = None) -> QListWidgetItem:
        item = QListWidgetItem()
        item.setData(Qt.ItemDataRole.UserRole, int(case))
        pixmap = self.thumbnail(case)
        if pixmap is not None:
            item.setIcon(QIcon(pixmap))
        self.addItem(item)
        self.set_text(self.count() - 1, text, verdict)
        return item

    def set_text(self, row: int, text: str, verdict: str | None) -> None:
        item = self.item(row)
        item.setText(text)
        item.setForeground(VERDICT_COLOURS.get(verdict, self.palette().text().color()))

    def case_at(self, row: int) -> int:
        item = self.item(row)
        return -1 if item is None else int(item.data(Qt.ItemDataRole.UserRole))

    def current_case(self) -> int:
        return self.case_at(self.currentRow())

    def _selection_changed(self) -> None:
        items = self.selectedItems()
        if items:
            self._activated(items[0])

    def _activated(self, item: QListWidgetItem) -> None:
        self.case_activated.emit(int(item.data(Qt.ItemDataRole.UserRole)))
