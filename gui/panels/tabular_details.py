"""The selected tabular case's values, as measured: one row per column (label and unused ones marked).

Thirty features do not fit as columns of the case list, so the list keeps its columns and this
pane under it shows the selected row in full (raw values, never the scaled inputs), the features
first in the model's input order, then the label and the excluded columns.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QWidget

MUTED = QColor("#777777")


class TabularDetails(QTableWidget):
    """`set_case(summary, case)` fills it; (None, -1) empties it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 2, parent)
        self.setObjectName("tabularDetails")
        self.setHorizontalHeaderLabels(("Column", "Value (raw)"))
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)

    def set_case(self, table: Any, case: int) -> None:
        if table is None or case < 0:
            self.setRowCount(0)
            return
        row = table.row(case)
        order = [*table.features, *([table.label] if table.label else []),
                 *(n for n in table.columns if n not in table.features and n != table.label)]
        self.setRowCount(len(order))
        for i, name in enumerate(order):
            role = "feature" if name in table.features else "label" if name == table.label else "not used"
            value = row[name] or "missing"
            items = (QTableWidgetItem(name if role == "feature" else f"{name} ({role})"), QTableWidgetItem(value))
            for column, item in enumerate(items):
                if role != "feature" or not row[name]:
                    item.setForeground(MUTED)
                self.setItem(i, column, item)
