"""The tabular recipe panel: how the table's columns become the model's input, with the values.

The tabular counterpart of the image preprocessing panel (gui.panels.preprocessing): one line
always visible, and when expanded the label column, the scaling and where its parameters come
from (a scaling file, or fitted on the rows), and one row per column with its role, type,
encoding, missing values (and what they are filled with) and the offset and scale every value
goes through. An edit sends the user's choices to the engine, which refits the recipe
(engine.tabular.refit); values are shown, never typed.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from superqt import QCollapsible

from engine.tabular_recipe import CATEGORICAL_IMPUTES, ENCODING_TITLES, NUMERIC_IMPUTES, SCALING_TITLES, unseen_text

NO_LABEL = "(none)"
ROLES = ("feature", "excluded")
HEADERS = ("Column", "Role", "Type", "Encoding", "Missing", "Filled with", "Offset", "Scale")
SCALE_HEADERS = {"standardize": ("Offset (mean)", "Scale (std)"), "minmax": ("Offset (min)", "Scale (range)")}
COLUMN, ROLE, TYPE, ENCODING, MISSING, FILL, OFFSET, SCALE = range(len(HEADERS))


class TabularRecipePanel(QWidget):
    """Shows a table's recipe (summary.preprocessing, summary.table); emits refit requests."""

    recipe_edited = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.recipe: dict[str, Any] = {}
        self.table_summary: Any = None
        self.scaling_path = ""
        self._filling = False
        self.collapsible = QCollapsible("Table recipe", self, expandedIcon="▾", collapsedIcon="▸")
        self.collapsible.setObjectName("tabularRecipeCollapsible")
        self.collapsible.layout().setContentsMargins(0, 0, 0, 0)
        body = QWidget()
        form = QFormLayout(body)
        form.setContentsMargins(16, 0, 0, 4)
        self.label_combo = QComboBox()
        self.label_combo.setObjectName("tabularLabel")
        self.label_combo.setToolTip("The column that holds each case's true class")
        self.scaling_combo = QComboBox()
        self.scaling_combo.setObjectName("tabularScaling")
        for key, title in SCALING_TITLES.items():
            self.scaling_combo.addItem(title, key)
        self.source_combo = QComboBox()
        self.source_combo.setObjectName("tabularScalingSource")
        self.source_combo.setToolTip("Where the scaling's numbers come from: the model's own scaling file, "
                                     "or fitted on these rows (training rows when a split column says so)")
        file_button = QPushButton("File…")
        file_button.setToolTip("Take the scaling (and the feature order) from a JSON scaling file")
        file_button.clicked.connect(self.choose_scaling_file)
        source_row = QHBoxLayout()
        source_row.addWidget(self.source_combo, 1)
        source_row.addWidget(file_button)
        self.columns = QTableWidget(0, len(HEADERS))
        self.columns.setObjectName("tabularColumns")
        self.columns.setHorizontalHeaderLabels(HEADERS)
        self.columns.verticalHeader().hide()
        self.columns.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.columns.horizontalHeader().setSectionResizeMode(COLUMN, QHeaderView.ResizeMode.Stretch)
        self.dialog = QDialog(self)  # eight columns do not fit the case list's width: a window of their own
        self.dialog.setObjectName("tabularColumnsDialog")
        self.dialog.setWindowTitle("Table recipe: columns and values")
        self.dialog.resize(900, 640)
        self.dialog_text = QLabel()
        self.dialog_text.setWordWrap(True)
        dialog_layout = QVBoxLayout(self.dialog)
        dialog_layout.addWidget(self.dialog_text)
        dialog_layout.addWidget(self.columns, 1)
        columns_button = QPushButton("Columns and values…")
        columns_button.setObjectName("tabularColumnsButton")
        columns_button.setToolTip("Every column's role, type, encoding, missing values and the scaling's numbers")
        columns_button.clicked.connect(self.dialog.show)
        self.summary_label = QLabel()
        self.summary_label.setObjectName("tabularRecipeSummary")
        self.summary_label.setWordWrap(True)
        form.addRow("Label", self.label_combo)
        form.addRow("Scaling", self.scaling_combo)
        form.addRow("Parameters", source_row)
        form.addRow(self.summary_label)
        form.addRow(columns_button)
        self.collapsible.addWidget(body)
        self.problem_label = QLabel()
        self.problem_label.setObjectName("tabularRecipeProblem")
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("color: #b3261e;")
        self.problem_label.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.collapsible)
        layout.addWidget(self.problem_label)
        for combo in (self.label_combo, self.scaling_combo, self.source_combo):
            combo.currentIndexChanged.connect(self._edited)

    # ----- showing ---------------------------------------------------------------------------
    def set_summary(self, summary: Any) -> None:
        """Show the recipe the engine applied (without emitting an edit)."""
        self.table_summary = summary.table
        self.recipe = dict(summary.preprocessing)
        self.scaling_path = summary.table.scaling_path
        self._filling = True
        try:
            self._fill_form()
            self._fill_columns()
        finally:
            self._filling = False
        warning = " · ⚠ unseen categories" if getattr(summary.table, "unseen", None) else ""  # seen when folded too
        self.collapsible.setText(f"Table recipe: {len(summary.table.input_names)} inputs, {_scaling_word(self.recipe)}{warning}")
        self.collapsible.setToolTip(summary.table.recipe_text)
        self.summary_label.setText(_summary_text(summary.table, self.recipe))
        self.dialog_text.setText(f"{summary.name}: {summary.table.recipe_text}. Inputs are "
                                 "(value − offset) / scale, in this order; one-hot columns give one 0/1 input per category.")

    def _fill_form(self) -> None:
        table, recipe = self.table_summary, self.recipe
        self.label_combo.clear()
        self.label_combo.addItems([NO_LABEL, *table.columns])
        self.label_combo.setCurrentText(recipe.get("label") or NO_LABEL)
        self.scaling_combo.setCurrentIndex(self.scaling_combo.findData(recipe.get("scaling")))
        self.source_combo.clear()
        if self.scaling_path:
            self.source_combo.addItem(f"From {self.scaling_path.rsplit('/', 1)[-1]}", "file")
        self.source_combo.addItem(f"Fitted on {recipe.get('fit_rows', 'all rows')}", "fitted")
        self.source_combo.setCurrentIndex(max(0, self.source_combo.findData(recipe.get("scaling_source"))))

    def _fill_columns(self) -> None:
        table, recipe = self.table_summary, self.recipe
        features = {c["name"]: c for c in recipe.get("features", ())}
        order = [*features, *(n for n in table.columns if n not in features)]
        from_file = recipe.get("scaling_source") == "file"
        offset, scale = SCALE_HEADERS.get(recipe.get("scaling", ""), ("Offset", "Scale"))
        self.columns.setHorizontalHeaderLabels((*HEADERS[:OFFSET], offset, scale))
        self.columns.setRowCount(len(order))
        for row, name in enumerate(order):
            index = table.columns.index(name)
            spec = features.get(name)
            self._item(row, COLUMN, name)
            if name == recipe.get("label"):
                self._item(row, ROLE, "label")
            else:
                role = self._combo(ROLES, {r: r for r in ROLES}, "feature" if spec else "excluded")
                role.setEnabled(not from_file)  # the scaling file names the model's features
                role.setToolTip("The scaling file names the model's features" if from_file else "")
                self.columns.setCellWidget(row, ROLE, role)
            self._item(row, TYPE, "numeric" if table.numeric[index] else "categorical")
            self._item(row, MISSING, str(table.missing[index]))
            if spec is None:
                continue
            if spec["kind"] == "categorical":
                self.columns.setCellWidget(row, ENCODING, self._combo(tuple(ENCODING_TITLES), ENCODING_TITLES,
                                                                      spec["encoding"]))
            imputes = NUMERIC_IMPUTES if spec["kind"] == "numeric" else CATEGORICAL_IMPUTES
            self.columns.setCellWidget(row, FILL, self._combo(imputes, {i: i.replace("_", " ") for i in imputes},
                                                              spec["impute"], _fill_text(spec["fill"])))
            if spec["kind"] == "numeric" or spec["encoding"] == "ordinal":
                self._item(row, OFFSET, f"{spec['offset']:.6g}")
                self._item(row, SCALE, f"{spec['scale']:.6g}")
            else:
                self._item(row, OFFSET, f"{len(spec['categories'])} categories")
                self.columns.item(row, OFFSET).setToolTip(", ".join(spec["categories"]))
                self._item(row, SCALE, "0/1")

    def _item(self, row: int, column: int, text: str) -> None:
        self.columns.removeCellWidget(row, column)
        self.columns.setItem(row, column, QTableWidgetItem(text))

    def _combo(self, keys: tuple[str, ...], titles: dict[str, str], current: str, suffix: str = "") -> QComboBox:
        combo = QComboBox()
        for key in keys:
            combo.addItem(titles[key] + (f" ({suffix})" if suffix and key == current else ""), key)
        combo.setCurrentIndex(max(0, combo.findData(current)))
        combo.currentIndexChanged.connect(self._edited)
        return combo

    def set_problem(self, message: str) -> None:
        self.problem_label.setText(message)
        self.problem_label.setVisible(bool(message))

    # ----- editing ---------------------------------------------------------------------------
    def choices(self) -> dict[str, Any]:
        """The user's choices as engine.tabular.refit takes them."""
        label = self.label_combo.currentText()
        excluded, encodings, imputes = [], {}, {}
        for row in range(self.columns.rowCount()):
            name = self.columns.item(row, COLUMN).text()
            role = self.columns.cellWidget(row, ROLE)
            if isinstance(role, QComboBox) and role.currentData() == "excluded":
                excluded.append(name)
            for column, into in ((ENCODING, encodings), (FILL, imputes)):
                widget = self.columns.cellWidget(row, column)
                if isinstance(widget, QComboBox):
                    into[name] = widget.currentData()
        if label != self.recipe.get("label"):
            excluded = None  # a new label: the engine guesses the other columns' roles again
        return {
            "label": None if label == NO_LABEL else label, "excluded": excluded,
            "scaling": self.scaling_combo.currentData(), "scaling_source": self.source_combo.currentData(),
            "scaling_path": self.scaling_path, "encodings": encodings, "imputes": imputes,
        }

    def _edited(self) -> None:
        if not self._filling and self.table_summary is not None:
            self.recipe_edited.emit({"kind": "tabular", "refit": self.choices()})

    def choose_scaling_file(self) -> None:
        start = self.scaling_path or ""
        path, _ = QFileDialog.getOpenFileName(self, "Scaling file (JSON)", start, "JSON (*.json);;All files (*)")
        if path:
            self.use_scaling_file(path)

    def use_scaling_file(self, path: str) -> None:
        """Take the scaling (and the feature order) from `path`."""
        self.scaling_path = path
        choices = {**self.choices(), "scaling_source": "file", "scaling_path": path}
        self.recipe_edited.emit({"kind": "tabular", "refit": choices})


def _fill_text(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _summary_text(table: Any, recipe: dict[str, Any]) -> str:
    """Two lines under the form: the inputs, what is not used, and the missing values."""
    missing = sum(table.missing[table.columns.index(c["name"])] for c in recipe.get("features", ()))
    excluded = ", ".join(table.excluded) or "none"
    text = (f"{len(table.input_names)} model inputs from {len(table.features)} columns; not used: {excluded}.\n"
            f"Missing values in the features: {missing}" + (" (imputed as the columns say)." if missing else "."))
    unseen = unseen_text(getattr(table, "unseen", {}) or {})
    return text + (f"\n⚠ {unseen}" if unseen else "")


def _scaling_word(recipe: dict[str, Any]) -> str:
    if recipe.get("scaling") == "none":
        return "no scaling"
    source = "from file" if recipe.get("scaling_source") == "file" else "fitted"
    return f"{recipe.get('scaling')} {source}"
