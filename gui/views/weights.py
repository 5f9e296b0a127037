"""Weight viewer: what the selected layer learned, and a whole-model table that flags outliers.

"Layer" tab: every weight tensor of the selected layer with shape and dtype, its histogram and
statistics, and a picture: convolution kernels as a filter grid (RGB for first layers, one input
channel or the mean over inputs for deeper ones), matrices as a zoomable heatmap with an exact
readout, vectors as bars. "Model overview" tab: one row per layer, sortable, exploding / dead /
NaN layers highlighted. All statistics come from the engine thread (engine.weights).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.jobs import JobError
from engine.tasks import LayerWeightsRequest, WeightOverviewRequest
from gui.context import AppContext
from gui.jobs import ViewJobs
from gui.widgets.bar_chart import BarChart
from gui.widgets.feature_grid import (
    DIVERGING,
    CompactSize,
    FeatureGrid,
    Panel,
    columns_for,
    normalise_tiles,
    tile_atlas,
)
from gui.widgets.heatmap import Heatmap
from gui.widgets.tensor_stats import StatsPanel, fmt, stack_panels

if TYPE_CHECKING:
    from engine.weights import LayerWeights, WeightOverview, WeightTensor

MODES = {"rgb": "RGB (input colours)", "mean": "Mean over inputs", "channel": "One input channel"}
FLAG_HELP = {
    "nan/inf": "NaN or Inf in the layer's weights",
    "all zero": "every weight of the kernel is 0 (dead layer)",
    "scale outlier (high)": "std·√fan-in far above the other layers' (robust z > 3.5): exploding weights?",
    "scale outlier (low)": "std·√fan-in far below the other layers' (robust z < −3.5): vanishing weights?",
}


class WeightView(QWidget):
    shown = Signal(str)  # layer path, once its weights are drawn
    overview_shown = Signal(int)  # number of rows, once the overview table is filled

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.path = ""
        self.result: LayerWeights | None = None
        self.overview: WeightOverview | None = None
        self._dirty = False
        self.jobs = ViewJobs(self, ctx.engine, "weights", "Weights", inline=self._show_message)
        self._build()
        ctx.state.model_changed.connect(self._on_model)
        ctx.state.layer_selected.connect(self._on_layer)

    # ----- construction -----------------------------------------------------------------------
    def _build(self) -> None:
        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_layer_tab(), "&Layer")
        self.overview_table = OverviewTable(self)
        self.tabs.addTab(self.overview_table, "Model &overview")
        self.tabs.currentChanged.connect(lambda _: self._refresh())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.tabs)
        layout.addWidget(self.jobs.bar)

    def _build_layer_tab(self) -> QWidget:
        self.title = QLabel("Select a layer in the model browser.")
        self.title.setStyleSheet("font-weight: bold")
        self.title.setWordWrap(True)
        self.tensors = QTableWidget(0, 5)
        self.tensors.setHorizontalHeaderLabels(["tensor", "shape", "dtype", "values", "note"])
        self.tensors.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tensors.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tensors.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.tensors.verticalHeader().hide()
        self.tensors.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.tensors.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.tensors.horizontalHeader().setStretchLastSection(True)
        self.tensors.itemSelectionChanged.connect(self._render_tensor)

        self.mode = QComboBox()
        self.mode.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.mode.currentIndexChanged.connect(lambda _: self._render_filters())
        self.channel = QSpinBox()
        self.channel.setPrefix("input channel ")
        self.channel.valueChanged.connect(lambda _: self._render_filters())
        self.filter_controls = QWidget()
        controls = QHBoxLayout(self.filter_controls)
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(QLabel("Filters:"))
        controls.addWidget(self.mode)
        controls.addWidget(self.channel)
        controls.addStretch(1)

        self.filters = FeatureGrid()
        self.filters.tile_hovered.connect(self._on_filter_hover)
        self.heatmap = Heatmap()
        self.heatmap.hovered.connect(lambda text: self.readout.setText(text))
        self.heatmap.resolution_changed.connect(lambda text: self.resolution.setText(f"display: {text}"))
        self.bars = BarChart(x_label="index")
        self.bars.hovered.connect(self._on_bar_hover)
        self.message = QLabel()
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.values_stack = QStackedWidget()
        for widget in (self.message, self.filters, self.heatmap, self.bars):
            self.values_stack.addWidget(widget)

        self.histogram = HistogramPlot()
        self.stats = StatsPanel()
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.histogram, 1)
        right_layout.addWidget(self.stats)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.values_stack)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        self.splitter = splitter

        self.readout = QLabel()
        self.readout.setObjectName("weightReadout")
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.resolution = QLabel()
        self.resolution.setWordWrap(True)
        self.resolution.setStyleSheet("color: gray")
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.addWidget(self.title)
        layout.addWidget(self.tensors)
        layout.addWidget(self.filter_controls)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.readout)
        layout.addWidget(self.resolution)
        self._show_message("Select a layer in the model browser.")
        return tab

    # ----- following the shared state --------------------------------------------------------
    def _on_model(self, description: Any) -> None:
        self.jobs.forget()
        self.path, self.result, self.overview = "", None, None
        self.tensors.setRowCount(0)
        self.overview_table.set_overview(None)
        self._show_message("Select a layer in the model browser." if description else "No model is open.")
        self._refresh()

    def _on_layer(self, path: str) -> None:
        self.path = path
        self.result = None
        self._refresh()

    def _refresh(self) -> None:
        """Fetch what the visible tab needs (a hidden view waits until it is shown)."""
        if not self.isVisible():
            self._dirty = True
            return
        self._dirty = False
        if self.tabs.currentWidget() is self.overview_table:
            if self.overview is None and self.ctx.state.model is not None:
                self.overview_table.start(self.ctx)
        elif self.path and (self.result is None or self.result.path != self.path):
            self.title.setText(f"{self.path} · loading weights…")
            self.jobs.start(LayerWeightsRequest(path=self.path), self._on_result, slot="layer",
                            on_error=self._on_error, message=f"Weights of {self.path}")

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._dirty:
            self._refresh()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        stack_panels(self.splitter, self.width())

    def _on_result(self, result: LayerWeights) -> None:
        if result.path != self.path:
            return
        self.result = result
        self.title.setText(f"{result.path} ({result.class_name}) · {result.params:,} parameters")
        self.tensors.setRowCount(len(result.tensors))
        for row, tensor in enumerate(result.tensors):
            note = "⚠ NaN/Inf" if tensor.stats.nonfinite else ("" if tensor.trainable else "not trainable")
            cells = [tensor.name, " × ".join(map(str, tensor.shape)) or "scalar", tensor.dtype,
                     f"{int(np.prod(tensor.shape)):,}", note]
            for col, text in enumerate(cells):
                self.tensors.setItem(row, col, QTableWidgetItem(text))
        header = self.tensors.horizontalHeader().height()
        self.tensors.setFixedHeight(header + 4 + sum(self.tensors.rowHeight(r) for r in range(len(result.tensors))))
        if result.tensors:
            self.tensors.selectRow(0)
            self._render_tensor()
        else:
            self._show_message(f"{result.path} ({result.class_name}) has no weights.")
        self.shown.emit(result.path)

    def _on_error(self, error: JobError) -> None:
        if error.kind == "cancelled":
            return
        self._show_message(error.message)
        self.title.setText(self.path)

    # ----- drawing -------------------------------------------------------------------------
    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.values_stack.setCurrentWidget(self.message)
        self.filter_controls.hide()
        self.histogram.clear()
        self.histogram.hide()  # no empty axes: the message says what to do
        self.stats.clear_stats()
        self.readout.clear()
        self.resolution.clear()

    def current_tensor(self) -> WeightTensor | None:
        rows = self.tensors.selectionModel().selectedRows()
        if self.result is None or not rows:
            return None
        return self.result.tensors[rows[0].row()]

    def _render_tensor(self) -> None:
        tensor = self.current_tensor()
        if tensor is None:
            return
        self.stats.show_stats(tensor.stats, full=True, prefix=tensor.name)
        self.histogram.show()
        self.histogram.show_histogram(tensor.hist_counts, tensor.hist_edges, tensor.name)
        self.readout.clear()
        self.resolution.clear()
        self.filter_controls.setVisible(tensor.filters is not None)
        if tensor.filters is not None:
            self._set_filter_modes(tensor)
            self._render_filters()
        elif tensor.matrix is not None:
            values = tensor.values.reshape(tensor.matrix.shape) if tensor.values is not None else None
            self.heatmap.set_matrix(tensor.matrix, values)
            self.values_stack.setCurrentWidget(self.heatmap)
        elif tensor.values is not None and tensor.values.ndim == 1:
            self.bars.set_series([tensor.values])
            self.values_stack.setCurrentWidget(self.bars)
        else:
            self.message.setText(f"{tensor.name}: {tensor.values if tensor.values is not None else 'too large'}")
            self.values_stack.setCurrentWidget(self.message)

    def _set_filter_modes(self, tensor: WeightTensor) -> None:
        filters = tensor.filters
        modes = (["rgb"] if filters.rgb is not None else []) + ["mean"]
        if filters.per_channel is not None:
            modes.append("channel")
        previous = self.mode.currentData()
        self.mode.blockSignals(True)
        self.channel.blockSignals(True)
        self.mode.clear()
        for mode in modes:
            label = "Each channel (depthwise)" if filters.depthwise and mode == "mean" else MODES[mode]
            self.mode.addItem(label, mode)
        self.mode.setCurrentIndex(max(0, modes.index(previous) if previous in modes else 0))
        if filters.per_channel is not None:
            self.channel.setRange(0, len(filters.per_channel) - 1)
        self.mode.blockSignals(False)
        self.channel.blockSignals(False)

    def filter_tiles(self) -> tuple[np.ndarray, str]:
        """The tiles for the chosen mode and what they show."""
        tensor = self.current_tensor()
        filters = tensor.filters
        mode = self.mode.currentData()
        if mode == "rgb":
            return filters.rgb, "RGB, each filter scaled to its own range"
        if mode == "channel":
            return filters.per_channel[self.channel.value()], f"input channel {self.channel.value()}"
        return filters.mean, "each channel" if filters.depthwise else "mean over input channels"

    def _render_filters(self) -> None:
        tensor = self.current_tensor()
        if tensor is None or tensor.filters is None:
            return
        self.channel.setVisible(self.mode.currentData() == "channel")
        tiles, what = self.filter_tiles()
        cols = columns_for(len(tiles), *tiles.shape[1:3])
        if tiles.ndim == 4:
            atlas, layout = tile_atlas(normalise_tiles(tiles), cols)
            panel = Panel(f"{len(tiles)} filters · {what}", atlas, layout, colormap=None)
        else:
            top = float(np.nanmax(np.abs(tiles))) or 1.0
            atlas, layout = tile_atlas(tiles, cols)
            panel = Panel(f"{len(tiles)} filters · {what} · ±{fmt(top)}", atlas, layout, (-top, top), DIVERGING)
        self.filters.set_panels([panel])
        self.values_stack.setCurrentWidget(self.filters)

    # ----- readouts ------------------------------------------------------------------------
    def _on_filter_hover(self, _panel: int, tile: int, row: int, col: int) -> None:
        if tile < 0 or self.current_tensor() is None:
            return
        tiles, what = self.filter_tiles()
        value = tiles[tile, row, col]
        text = ", ".join(fmt(float(v)) for v in np.atleast_1d(value))
        self.readout.setText(f"filter {tile} at ({row}, {col}), {what.split(',')[0]}: {text}")

    def _on_bar_hover(self, index: int) -> None:
        tensor = self.current_tensor()
        if tensor is not None and tensor.values is not None and index >= 0:
            self.readout.setText(f"{tensor.name}[{index}] = {float(tensor.values[index]):.6g}")


class HistogramPlot(CompactSize, pg.PlotWidget):
    """Counts per bin as a filled step curve, with a dashed line at zero."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background="w")
        self.setLabel("bottom", "value")
        self.setLabel("left", "count")
        for axis in ("bottom", "left"):  # "value (x0.001)" reads as a unit; the ticks say 0.001
            self.getAxis(axis).enableAutoSIPrefix(False)

    def show_histogram(self, counts: np.ndarray, edges: np.ndarray, name: str) -> None:
        self.clear()
        if len(counts):
            self.plot(edges, counts, stepMode="center", fillLevel=0, brush=(60, 110, 190, 140),
                      pen=pg.mkPen((40, 80, 150)))
            self.addItem(pg.InfiniteLine(0, pen=pg.mkPen((150, 150, 150), style=Qt.PenStyle.DashLine)))
        self.setTitle(f"{name}: {len(counts)} bins")


# ----- whole-model overview ---------------------------------------------------------------
COLUMNS = ["layer", "type", "params", "tensor", "mean", "std", "min", "max", "L2", "std·√fan-in",
           "near zero", "NaN/Inf", "flags"]
FLAGGED = QColor(255, 215, 210)


class OverviewModel(QAbstractTableModel):
    """Rows of engine.weights.OverviewRow; the sort role holds raw numbers."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[Any] = []

    def set_rows(self, rows: list[Any]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt override
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt override
        return len(COLUMNS)

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole and COLUMNS[section] == "std·√fan-in":
            return "Weight scale relative to a variance-preserving init (~1): comparable across layers"
        return None

    @staticmethod
    def raw(row: Any, column: int) -> Any:
        s = row.stats
        return [row.path, row.class_name, row.params, row.tensor, s.mean, s.std, s.min, s.max, s.l2,
                row.gain, s.near_zero_fraction, row.nonfinite, ", ".join(row.flags)][column]

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        row = self.rows[index.row()]
        value = self.raw(row, index.column())
        if role == Qt.ItemDataRole.UserRole:
            return value if not isinstance(value, float) or np.isfinite(value) else -np.inf
        if role == Qt.ItemDataRole.DisplayRole:
            if COLUMNS[index.column()] == "near zero":
                return f"{value:.1%}"
            if isinstance(value, float):
                return fmt(value) if np.isfinite(value) else "–"
            return f"{value:,}" if isinstance(value, int) else value
        if role == Qt.ItemDataRole.BackgroundRole and row.flags:
            return QBrush(FLAGGED)
        if role == Qt.ItemDataRole.ToolTipRole and row.flags:
            return "\n".join(FLAG_HELP.get(f, f) for f in row.flags)
        if role == Qt.ItemDataRole.TextAlignmentRole and isinstance(value, (int, float)):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class OverviewProxy(QSortFilterProxyModel):
    """Filters by layer name, optionally only flagged rows."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.only_flagged = False
        self.setSortRole(Qt.ItemDataRole.UserRole)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterKeyColumn(0)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex) -> bool:  # noqa: N802
        if self.only_flagged and not self.sourceModel().rows[source_row].flags:
            return False
        return super().filterAcceptsRow(source_row, source_parent)


class OverviewTable(QWidget):
    """The "Model overview" tab: computed in the engine with progress and cancel."""

    def __init__(self, view: WeightView) -> None:
        super().__init__()
        self.view = view
        self.model = OverviewModel(self)
        self.proxy = OverviewProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.doubleClicked.connect(self._open_layer)
        self.search = QLineEdit(placeholderText="Filter layers…", clearButtonEnabled=True)
        self.search.textChanged.connect(self.proxy.setFilterFixedString)
        self.flagged = QCheckBox("Only &flagged")
        self.flagged.toggled.connect(self._filter_flagged)
        self.summary = QLabel()
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.compute = QPushButton("&Compute")
        self.compute.setToolTip("Compute the weight statistics of every layer (after a cancel or an error)")
        self.compute.clicked.connect(lambda: self.start(self.view.ctx))
        self._busy(False)
        top = QHBoxLayout()
        for widget in (self.search, self.flagged, self.compute):
            top.addWidget(widget)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        hint = QLabel("Red rows are flagged (hover for why). Double-click a row to open the layer.")
        hint.setStyleSheet("color: gray")
        hint.setWordWrap(True)
        layout.addWidget(hint)

    def start(self, ctx: AppContext) -> None:
        jobs = self.view.jobs
        if jobs.busy("overview") or ctx.state.model is None:
            return
        self._busy(True)
        self.summary.setText("Computing weight statistics…")
        jobs.start(WeightOverviewRequest(), self._on_result, slot="overview", on_error=self._on_error,
                   message="Weight statistics of every layer")

    def _busy(self, busy: bool) -> None:
        self.compute.setVisible(not busy and self.view.overview is None and self.view.ctx.state.model is not None)

    def _on_result(self, overview: WeightOverview) -> None:
        self.view.overview = overview
        self._busy(False)
        self.set_overview(overview)
        self.view.overview_shown.emit(len(overview.rows))

    def _on_error(self, error: JobError) -> None:
        self._busy(False)
        self.summary.setText(error.message)

    def set_overview(self, overview: WeightOverview | None) -> None:
        rows = overview.rows if overview else ()
        self.model.set_rows(rows)
        if overview is None:
            self.summary.clear()
            self._busy(self.view.jobs.busy("overview"))
            return
        flagged = sum(1 for r in rows if r.flags)
        self.summary.setText(
            f"{len(rows)} layers with weights · {overview.total_params:,} parameters · "
            f"{flagged} flagged · {overview.elapsed:.2f} s"
        )

    def _filter_flagged(self, on: bool) -> None:
        self.proxy.only_flagged = on
        self.proxy.invalidate()

    def _open_layer(self, index: QModelIndex) -> None:
        row = self.model.rows[self.proxy.mapToSource(index).row()]
        self.view.tabs.setCurrentIndex(0)
        self.view.ctx.state.select_layer(row.path)
