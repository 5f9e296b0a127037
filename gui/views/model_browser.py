"""The model browser: the open model's header, its layer tree (nested sub-models expandable),
a name/type filter, parameter totals, and the selected layer's details.

The tree is the place where a layer gets selected for every other view: choosing a row calls
`state.select_layer(path)`, and a layer selected elsewhere is selected here too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from html import escape

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    QSortFilterProxyModel,
    Qt,
    QTimer,
)
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSplitter,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from engine.description import LayerInfo, ModelDescription, TensorSpec
from gui.context import AppContext
from gui.panels.layer_details import LayerDetails, format_count, format_shape

COLUMNS = ("Name", "Type", "Output shape", "Params", "Trainable")
LAYER_ROLE = Qt.ItemDataRole.UserRole + 1
EXPAND_ALL_BELOW = 300  # layers; bigger models open with nested sub-models collapsed


def layer_matches(layer: LayerInfo, needle: str) -> bool:
    """The filter: a case-insensitive substring of the layer's name or class."""
    needle = needle.strip().lower()
    return not needle or needle in layer.name.lower() or needle in layer.class_name.lower()


class LayerFilter(QSortFilterProxyModel):
    """Keeps matching layers, their parents (recursive filtering) and a matching model's layers."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.needle = ""
        self.setRecursiveFilteringEnabled(True)
        self.setAutoAcceptChildRows(True)

    def set_needle(self, needle: str) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.10; invalidateRowsFilter is deprecated there
            self.beginFilterChange()
            self.needle = needle
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.needle = needle
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, row: int, parent: QModelIndex | QPersistentModelIndex) -> bool:  # noqa: N802
        layer = self.sourceModel().index(row, 0, parent).data(LAYER_ROLE)
        return layer is not None and layer_matches(layer, self.needle)


class ShaButton(QToolButton):
    """Shows the short SHA-256 of the model file; a click copies the full hash."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shaButton")
        self.setAutoRaise(True)
        self.sha256 = ""
        self.clicked.connect(self.copy)
        self.set_sha("")

    def set_sha(self, sha256: str) -> None:
        self.sha256 = sha256
        self.setVisible(bool(sha256))
        self.setText(f"sha256 {sha256[:12]}…")
        self.setToolTip(f"SHA-256 of the model file:\n{sha256}\nClick to copy.")

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.sha256)
        self.setText("sha256 copied ✓")
        QTimer.singleShot(1500, self, lambda: self.set_sha(self.sha256))  # dropped if deleted


def _specs(specs: tuple[TensorSpec, ...]) -> str:
    return ", ".join(f"{escape(s.name)} {format_shape(s.shape)} {escape(s.dtype)}" for s in specs)


def title_html(model: ModelDescription) -> str:
    file_name = model.path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return f"<b>{escape(file_name)}</b> · {escape(model.format)}"


def io_html(model: ModelDescription) -> str:
    activation = f" ({escape(model.output_activation)} output)" if model.output_activation else ""
    return (
        f"<i>model</i> {escape(model.name)}{activation}<br>"
        f"<i>in</i> {_specs(model.inputs)}<br><i>out</i> {_specs(model.outputs)}"
    )


def totals_text(model: ModelDescription) -> str:
    return (
        f"{model.n_layers} layers · {format_count(model.total_params)} params: "
        f"{format_count(model.trainable_params)} trainable, "
        f"{format_count(model.non_trainable_params)} non-trainable"
    )


def _row(layer: LayerInfo) -> list[QStandardItem]:
    cells = [
        layer.name,
        layer.class_name,
        format_shape(layer.output_shape),
        format_count(layer.params),
        "✓" if layer.trainable else "✗ frozen",
    ]
    items = [QStandardItem(text) for text in cells]
    for item in items:
        item.setEditable(False)
    items[0].setData(layer, LAYER_ROLE)
    items[0].setToolTip(layer.path)
    items[3].setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    for child in layer.children:
        items[0].appendRow(_row(child))
    return items


class ModelBrowser(QWidget):
    """See the module docstring. Built with the app context, filled by `state.model_changed`."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.model: ModelDescription | None = None
        self._items: dict[str, QStandardItem] = {}
        self._quiet = False

        self.header = QLabel("No model open.")
        self.header.setObjectName("modelHeader")
        self.header.setWordWrap(True)
        self.io = QLabel("")
        self.io.setObjectName("modelInputsOutputs")
        self.io.setWordWrap(True)
        self.io.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notes = QLabel("")
        self.notes.setObjectName("modelNotes")
        self.notes.setWordWrap(True)
        self.notes.setStyleSheet("color: #9a6700")  # caveats, e.g. a SavedModel's hidden layers
        self.notes.hide()
        self.sha_button = ShaButton(self)
        self.filter = QLineEdit()
        self.filter.setObjectName("layerFilter")
        self.filter.setPlaceholderText("Filter layers by name or type (Ctrl+F)")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._apply_filter)
        self.filter.returnPressed.connect(self._select_first_match)
        self.totals = QLabel("")
        self.totals.setObjectName("modelTotals")
        self.totals.setWordWrap(True)  # labels that grow must not widen the dock

        self.source = QStandardItemModel(0, len(COLUMNS), self)
        self.source.setHorizontalHeaderLabels(COLUMNS)
        self.proxy = LayerFilter(self)
        self.proxy.setSourceModel(self.source)
        self.tree = QTreeView()
        self.tree.setObjectName("layerTree")
        self.tree.setModel(self.proxy)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.tree.selectionModel().currentRowChanged.connect(self._on_current_row)

        self.details = LayerDetails()
        self.details.layer_activated.connect(self.ctx.state.select_layer)

        top = QHBoxLayout()
        top.addWidget(self.header, 1)
        top.addWidget(self.sha_button)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.tree)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([420, 280])
        self.splitter = splitter
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.io)
        layout.addWidget(self.notes)
        layout.addWidget(self.filter)
        layout.addWidget(self.totals)
        layout.addWidget(splitter, 1)

        find = QShortcut(QKeySequence.StandardKey.Find, self)
        find.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        find.activated.connect(self._focus_filter)
        clear = QShortcut(QKeySequence(Qt.Key.Key_Escape), self.filter)
        clear.setContext(Qt.ShortcutContext.WidgetShortcut)
        clear.activated.connect(self.filter.clear)

        ctx.state.model_changed.connect(self.set_model)
        ctx.state.layer_selected.connect(self.show_layer)
        if ctx.state.model is not None:
            self.set_model(ctx.state.model)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        """Wide enough for the five columns of a typical CNN without scrolling."""
        return QSize(460, 720)

    # ----- filling -------------------------------------------------------------------------
    def set_model(self, model: ModelDescription | None) -> None:
        self.model = model
        self.source.removeRows(0, self.source.rowCount())
        self._items.clear()
        self.details.show_layer(None)
        self.notes.setText("\n".join(f"⚠ {note}" for note in model.notes) if model else "")
        self.notes.setVisible(bool(model and model.notes))
        if model is None:
            self.header.setText("No model open.")
            self.io.setText("")
            self.sha_button.set_sha("")
            self.totals.setText("")
            return
        self.header.setText(title_html(model))
        self.io.setText(io_html(model))
        self.header.setToolTip(model.path)
        self.sha_button.set_sha(model.sha256)
        for layer in model.layers:
            self.source.appendRow(_row(layer))
        self._index_items(QModelIndex())
        self._apply_filter(self.filter.text())
        if self.ctx.state.layer:
            self.show_layer(self.ctx.state.layer)

    def _index_items(self, parent: QModelIndex) -> None:
        for row in range(self.source.rowCount(parent)):
            index = self.source.index(row, 0, parent)
            self._items[index.data(LAYER_ROLE).path] = self.source.itemFromIndex(index)
            self._index_items(index)

    # ----- filter ----------------------------------------------------------------------------
    def _apply_filter(self, text: str) -> None:
        # Hiding the current row moves Qt's current index to a neighbour: that is not a choice
        # of the user's, so it must not change the selected layer for every view.
        with self._quietly():
            self.proxy.set_needle(text)
        if self.model is None:
            return
        totals = totals_text(self.model)
        if text.strip():
            matches = sum(layer_matches(layer, text) for layer in self.model.all_layers())
            totals += f"<br>{matches} of {self.model.n_layers} layers match “{escape(text.strip())}”"
            self.tree.expandAll()
        elif self.model.n_layers <= EXPAND_ALL_BELOW:
            self.tree.expandAll()
        self.totals.setText(totals)
        self._select_in_tree(self.details.layer.path if self.details.layer else "")

    def _focus_filter(self) -> None:
        self.filter.setFocus()
        self.filter.selectAll()

    def _select_first_match(self) -> None:
        """Enter in the filter box: jump to the first layer that matches (depth-first)."""
        needle = self.filter.text()
        if self.model is None or not needle.strip():
            return
        first = next((layer for layer in self.model.all_layers() if layer_matches(layer, needle)), None)
        if first is not None:
            self.ctx.state.select_layer(first.path)
            self.tree.setFocus()

    # ----- selection -------------------------------------------------------------------------
    def _on_current_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        layer = current.siblingAtColumn(0).data(LAYER_ROLE) if current.isValid() else None
        if layer is not None and not self._quiet:
            self.ctx.state.select_layer(layer.path)

    def show_layer(self, path: str) -> None:
        """Follow `state.layer_selected`: select the row and show the layer's details."""
        item = self._items.get(path)
        layer: LayerInfo | None = item.data(LAYER_ROLE) if item is not None else None
        if layer is not self.details.layer:
            self.details.show_layer(layer)
        self._select_in_tree(path)

    def _select_in_tree(self, path: str) -> None:
        """Make `path` the tree's current row, or select nothing if it is absent or filtered out."""
        item = self._items.get(path)
        index = self.proxy.mapFromSource(item.index()) if item is not None else QModelIndex()
        if index == self.tree.currentIndex():
            return
        with self._quietly():
            if index.isValid():
                self.tree.setCurrentIndex(index)
                self.tree.scrollTo(index)
            else:
                self.tree.selectionModel().clear()

    @contextmanager
    def _quietly(self) -> Iterator[None]:
        """Current-row changes made by code (not by the user) do not select a layer."""
        self._quiet = True
        try:
            yield
        finally:
            self._quiet = False
