"""The embedding view: every case of the open dataset on one map, coloured, filtered, clickable.

Features and the map are computed on the engine thread (a `ComputeEmbedding` request); this
view only draws the result. The projections describe their own parameters (`ListProjections`),
so the form below the map chooser is built from them, like the canvas's method form. Clicking a point opens that case in the case list and in the
attribution canvas; a box (Shift-drag) or lasso (Ctrl-drag) lists the cases it encloses.
"""

from __future__ import annotations

from html import escape
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QColor, QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QFileDialog,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.fileio import atomic_write_json, atomic_write_text
from engine.jobs import JobError
from engine.tasks import ComputeEmbedding, ListProjections
from gui.context import AppContext
from gui.jobs import ViewJobs
from gui.panels.layer_details import format_shape
from gui.widgets.embedding_scatter import EmbeddingScatter, PointGroup
from gui.widgets.method_panel import MethodPanel

AUTO_LAYER = "Auto: input of the last Dense layer"
POOLINGS = {"avg": "Global average", "max": "Global max", "flatten": "Flatten"}
COLOUR_BY = {
    "label": "True label",
    "predicted": "Predicted label",
    "correct": "Correct / misclassified",
    "confidence": "Confidence",
}
# tab10, then generated hues: distinct for the usual handful of classes.
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
UNKNOWN = QColor("#b0b0b0")
CORRECT, WRONG = QColor(120, 160, 200), QColor(215, 25, 28)
# Confidence bins from high to low (drawn in this order, so unsure cases land on top), coloured
# from a calm blue to an alarming red.
CONFIDENCE_BINS = ((0.99, 1.0), (0.9, 0.99), (0.7, 0.9), (0.5, 0.7), (0.0, 0.5))
CONFIDENCE_COLORS = ("#313695", "#74add1", "#fdae61", "#f46d43", "#d7191c")
REGION_ALPHA = 120
REGION_FLOOR = 0.3  # share of the shading kept far from any case (extrapolated areas stay visible)
MAX_LISTED = 2000
SELECTION_HELP = (
    "Hover a point to see the case, click it to open it. Shift-drag a box or Ctrl-drag a lasso "
    "(or pick Box / Lasso) to list cases here. Wheel or right-drag zooms."
)


def class_colors(n: int) -> list[QColor]:
    if n <= len(PALETTE):
        return [QColor(c) for c in PALETTE[:n]]
    return [pg.intColor(i, hues=n, values=1, maxValue=220) for i in range(n)]


def region_image(classes: np.ndarray, confidence: np.ndarray, support: np.ndarray, colors: list[QColor]) -> np.ndarray:
    """RGBA shading: the class colour, strongest where neighbours agree and cases are near."""
    table = np.array([c.getRgb()[:3] for c in colors] + [UNKNOWN.getRgb()[:3]], dtype=np.uint8)
    rgba = np.empty((*classes.shape, 4), np.uint8)
    rgba[..., :3] = table[np.where(classes >= 0, classes, len(colors))]
    fade = REGION_FLOOR + (1.0 - REGION_FLOOR) * support
    rgba[..., 3] = (REGION_ALPHA * confidence**2 * fade).astype(np.uint8)
    return rgba


def thumbnail_pixmap(tile: np.ndarray, size: int = 96) -> QPixmap:
    tile = np.ascontiguousarray(tile[..., :3], dtype=np.uint8)
    h, w = tile.shape[:2]
    image = QImage(tile.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation)


def layer_paths(description: Any) -> list[tuple[str, str]]:
    """(path, "path  (Class, shape)") for every layer of a model description, nested included."""
    found: list[tuple[str, str]] = []

    def walk(layers: Any) -> None:
        for layer in layers:
            found.append((layer.path, f"{layer.path}  ({layer.class_name}, {format_shape(layer.output_shape)})"))
            walk(layer.children)

    walk(getattr(description, "layers", ()) or ())
    return found


class EmbeddingView(QWidget):
    """Controls on top, the map in the middle, the selected cases on the right."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.result: Any = None
        self.wrong = np.zeros(0, dtype=bool)  # misclassified cases of the result
        self.selection = np.zeros(0, np.int64)
        self._regions_shown: Any = None  # the Regions whose shading is on the map
        self.scatter = EmbeddingScatter(self)
        self.scatter.card_provider = self.describe_case
        self.jobs = ViewJobs(self, ctx.engine, "embedding", "Could not compute the embedding")
        self.jobs.busy_changed.connect(self._on_busy)
        self._build_controls()
        self._build_side_panel()
        self._build_layout()
        self._build_shortcuts()
        self.scatter.point_clicked.connect(self.open_case)
        self.scatter.selection_changed.connect(self._on_selection)
        ctx.state.model_changed.connect(self._on_model_changed)
        ctx.state.dataset_changed.connect(lambda _summary: self.clear("New cases (or a new recipe): no map yet."))
        ctx.state.case_selected.connect(self.scatter.set_current)
        self._on_model_changed(ctx.state.model)
        self.jobs.start(ListProjections(), self.method_panel.set_methods, slot="projections", quiet=True)

    # ----- construction ------------------------------------------------------------------
    def _combo(self, name: str, items: dict[str, str], tip: str) -> QComboBox:
        combo = QComboBox()
        combo.setObjectName(name)
        for key, title in items.items():
            combo.addItem(title, key)
        combo.setToolTip(tip)
        return combo

    def _build_controls(self) -> None:
        self.layer = QComboBox()
        self.layer.setObjectName("embeddingLayer")
        self.layer.setMinimumContentsLength(18)
        self.layer.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.layer.setToolTip("The layer whose output places the cases (default: what the classifier head reads).")
        self.pooling = self._combo("embeddingPooling", POOLINGS, "How image-shaped (4-D) layer outputs become one vector per case.")
        self.method_panel = MethodPanel()  # built from the projections' own descriptions
        self.method = self.method_panel.combo
        self.method.setObjectName("embeddingMethod")
        self.method.setToolTip("PCA is linear and fast; t-SNE and UMAP keep neighbours, not distances.")
        self.tool_actions: dict[QWidget, QAction] = {}  # a toolbar widget is shown/hidden by its action
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=0)
        self.seed.setToolTip("Random seed: the same seed gives the same map.")
        self.compute_button = QPushButton("Compute")
        self.compute_button.setObjectName("embeddingCompute")
        self.compute_button.setToolTip("Compute features and the map (Ctrl+Enter). Results are cached on disk.")
        self.compute_button.clicked.connect(self.compute)
        self.cancel_button = self.jobs.bar.cancel_button
        self.progress = self.jobs.bar.progress
        self.save_button = QPushButton("Save map…")
        self.save_button.setToolTip("Save every case's coordinates, label and prediction (CSV) with the provenance (JSON).")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.choose_save_path)

        self.colour_by = self._combo("embeddingColour", COLOUR_BY, "What the point colours show.")
        self.class_filter = QComboBox()
        self.class_filter.setObjectName("embeddingClassFilter")
        self.class_filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.class_filter.setToolTip("Show only the cases of one class (true label; predicted label when colouring by it).")
        self.misclassified_only = QCheckBox("Misclassified only")
        self.mark_misclassified = QCheckBox("Ring misclassified")
        self.mark_misclassified.setChecked(True)
        self.show_regions = QCheckBox("Decision regions")
        self.show_regions.setChecked(True)
        self.show_regions.setToolTip("Shade the map by the class predicted around each area (computed with the map).")
        for signal in (
            self.colour_by.currentIndexChanged,
            self.class_filter.currentIndexChanged,
            self.misclassified_only.toggled,
            self.mark_misclassified.toggled,
            self.show_regions.toggled,
        ):
            signal.connect(self.refresh)
        self.modes = QButtonGroup(self)
        self.mode_buttons: dict[str, QToolButton] = {}
        for mode, title, key in (("pan", "Pan", "P"), ("box", "Box", "B"), ("lasso", "Lasso", "L")):
            button = QToolButton()
            button.setText(title)
            button.setCheckable(True)
            button.setToolTip(f"Left-drag to {'pan' if mode == 'pan' else 'select with a ' + mode} ({key})")
            button.setChecked(mode == "pan")
            button.clicked.connect(lambda _=False, m=mode: self.set_mode(m))
            self.modes.addButton(button)
            self.mode_buttons[mode] = button
        self.status = QLabel("Open a model and its cases, then Compute (Ctrl+Enter).")
        self.status.setToolTip(SELECTION_HELP)
        self.status.setObjectName("embeddingStatus")

    def _build_side_panel(self) -> None:
        self.selection_title = QLabel()
        self.selection_title.setWordWrap(True)
        self.selection_list = QListWidget()
        self.selection_list.setObjectName("embeddingSelection")
        self.selection_list.itemClicked.connect(self._on_list_item)
        self.selection_list.itemActivated.connect(self._on_list_item)
        self.clear_selection_button = QPushButton("Clear selection")
        self.clear_selection_button.clicked.connect(lambda: self._on_selection(np.zeros(0, np.int64)))

    def _toolbar(self, name: str, widgets: tuple) -> QToolBar:
        """A row of controls that folds what does not fit into a » menu (docks can be narrow)."""
        bar = QToolBar(name)
        bar.setObjectName(name)
        for widget in widgets:
            self.tool_actions[widget] = bar.addWidget(widget)
        return bar

    def _build_layout(self) -> None:
        """Compute controls in a column left of the map (their buttons first, never folded away),
        display controls above the map, the selected cases right of it."""
        controls = QWidget()
        controls.setObjectName("embeddingControls")
        form = QFormLayout(controls)
        form.setContentsMargins(0, 0, 0, 0)
        buttons = QHBoxLayout()
        buttons.addWidget(self.compute_button)
        buttons.addWidget(self.save_button)
        form.addRow(buttons)
        form.addRow(self.jobs.bar)
        form.addRow("Layer", self.layer)
        form.addRow("Pooling", self.pooling)
        form.addRow("Map", self.method_panel)
        form.addRow("Seed", self.seed)
        column = QScrollArea()
        column.setWidget(controls)
        column.setWidgetResizable(True)
        column.setFrameShape(QFrame.Shape.NoFrame)
        column.setMinimumWidth(250)
        column.setMaximumWidth(330)
        display_bar = self._toolbar("embeddingDisplayBar", (
            QLabel("Colour "), self.colour_by, QLabel(" Class "), self.class_filter, self.misclassified_only,
            self.mark_misclassified, self.show_regions, *self.mode_buttons.values(),
        ))
        self.layer.setMinimumContentsLength(10)
        side = self.side_panel = QWidget()  # shown while cases are selected
        side.hide()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.selection_title)
        side_layout.addWidget(self.selection_list, 1)
        side_layout.addWidget(self.clear_selection_button)
        side.setMinimumWidth(140)
        map_box = QWidget()
        map_layout = QVBoxLayout(map_box)
        map_layout.setContentsMargins(0, 0, 0, 0)
        map_layout.setSpacing(2)
        map_layout.addWidget(display_bar)
        self.hint = QLabel()  # instead of empty axes: what to do to get a map
        self.hint.setObjectName("embeddingHint")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)
        map_layout.addWidget(self.hint, 1)
        map_layout.addWidget(self.scatter, 1)
        map_layout.addWidget(self.status)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(column)
        splitter.addWidget(map_box)
        splitter.addWidget(side)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([280, 800, 240])
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        layout.addWidget(splitter, 1)

    def _build_shortcuts(self) -> None:
        context = Qt.ShortcutContext.WidgetWithChildrenShortcut
        for keys, slot in (
            ("Ctrl+Return", self.compute),
            ("P", lambda: self.set_mode("pan")),
            ("B", lambda: self.set_mode("box")),
            ("L", lambda: self.set_mode("lasso")),
        ):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(context)
            shortcut.activated.connect(slot)

    # ----- model, dataset, compute -------------------------------------------------------
    def _on_model_changed(self, description: Any) -> None:
        self.layer.clear()
        self.layer.addItem(AUTO_LAYER, "")
        for path, title in layer_paths(description):
            self.layer.addItem(title, path)
        self.clear("Model opened: no map yet." if description is not None else "Open a model.")

    def clear(self, message: str) -> None:
        """Forget the map (and stop computing one) when the model or the cases change."""
        self.jobs.cancel("map")
        self.result = None
        self.wrong = np.zeros(0, dtype=bool)
        self.save_button.setEnabled(False)
        self.scatter.set_points(np.zeros((0, 2), np.float32))
        self.scatter.set_regions(None)
        self._regions_shown = None
        self._on_selection(np.zeros(0, np.int64))
        self.status.setText(message)
        cases = self.ctx.state.dataset
        self.hint.setText(
            f"{message}\nPress Compute (Ctrl+Enter) to place the {len(cases)} cases on a map."
            if cases is not None and self.ctx.state.model is not None
            else "Open a model and its cases; then Compute (Ctrl+Enter) places every case on a map."
        )
        self.hint.show()
        self.scatter.hide()

    def request(self) -> ComputeEmbedding:
        """The request the controls describe."""
        summary = self.ctx.state.dataset
        return ComputeEmbedding(
            layer=self.layer.currentData() or "",
            pooling=self.pooling.currentData(),
            method=self.method_panel.method() or "pca",
            params=self.method_panel.params(),
            seed=int(self.seed.value()),
            regions=True,
            thumbnails=getattr(summary, "thumbnails", None) is None,
        )

    def compute(self) -> None:
        self.status.setText("Computing…")
        self.jobs.start(self.request(), self.show_result, slot="map", on_error=self._on_error, message="Computing…",
                        on_partial=self.show_forming)

    def show_forming(self, coords: np.ndarray) -> None:
        """The t-SNE or UMAP map as it forms, coloured by true label (Esc or Cancel stops it)."""
        cases = self.ctx.state.dataset
        if cases is None or len(coords) != len(cases):
            return
        self.hint.hide()
        self.scatter.show()
        labels = np.asarray(cases.labels)
        colors = class_colors(len(cases.class_names))
        if len(self.scatter.coords) != len(coords):
            self.scatter.set_points(coords)
        else:  # same points moving: keep the zoom the user chose
            self.scatter.coords = np.asarray(coords, np.float32)
            self.scatter.cloud.set_points(self.scatter.coords)
            self.scatter.view_box.autoRange(padding=0.04)
        groups = [PointGroup(name, colors[i], np.flatnonzero(labels == i)) for i, name in enumerate(cases.class_names)]
        self.scatter.set_groups([g for g in groups if len(g.indices)])

    def cancel(self) -> None:
        self.jobs.cancel()

    def _on_busy(self, busy: bool) -> None:
        self.compute_button.setEnabled(not busy)

    def _on_error(self, error: JobError) -> None:
        self.status.setText("Cancelled." if error.kind == "cancelled" else f"Failed: {error.message}")

    def show_result(self, result: Any) -> None:
        """Draw a computed `engine.embedding.Embedding`."""
        self.result = result
        self.hint.hide()
        self.scatter.show()
        self.wrong = self._misclassified()
        self.save_button.setEnabled(True)
        self.class_filter.blockSignals(True)
        self.class_filter.clear()
        self.class_filter.addItem("All classes", -1)
        for i, name in enumerate(result.class_names):
            self.class_filter.addItem(name, i)
        self.class_filter.blockSignals(False)
        self.show_regions.setToolTip(result.regions.meaning if result.regions is not None else "No regions.")
        self.scatter.set_points(result.coords)
        self.scatter.set_current(self.ctx.state.case)
        self._on_selection(np.zeros(0, np.int64))
        self.refresh()
        cached = [what for what, hit in result.cached.items() if hit]
        wrong = int(self.wrong.sum())
        self.status.setText(
            f"{self.method_panel.title(result.method)} of {len(result.coords)} cases at {result.layer} "
            f"({result.feature_dim} values); {wrong} misclassified; {result.elapsed:.1f} s"
            + (f" ({', '.join(cached)} from cache)" if cached else "")
            + ". Hover, click, or Shift/Ctrl-drag to select."
        )

    def choose_save_path(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save map", f"map_{self.result.method}.csv", "CSV (*.csv)")
        if path:
            self.save_map(path)

    def save_map(self, path: str) -> None:
        """CSV of the map (one row per case) and `<path>.json` with how it was made."""
        r = self.result
        rows = ["case,x,y,label,predicted,confidence,misclassified"]
        for i in range(len(r.coords)):
            label = r.class_names[r.labels[i]] if r.labels[i] >= 0 else ""
            predicted = r.class_names[r.predicted[i]] if 0 <= r.predicted[i] < len(r.class_names) else ""
            name = r.names[i].replace('"', '""')
            rows.append(
                f'"{name}",{r.coords[i, 0]:.6g},{r.coords[i, 1]:.6g},"{label}","{predicted}",'
                f"{r.confidence[i]:.6g},{int(self.wrong[i])}"
            )
        atomic_write_text(path, "\n".join(rows) + "\n")
        meaning = r.regions.meaning if r.regions is not None else None
        atomic_write_json(f"{path}.json", {**r.provenance, "cases": len(r.coords), "decision_regions": meaning})
        self.status.setText(f"Saved the map to {path} (+ .json provenance)")

    # ----- drawing -----------------------------------------------------------------------
    def _misclassified(self) -> np.ndarray:
        r = self.result
        return (r.labels >= 0) & (r.predicted >= 0) & (r.labels != r.predicted)

    def visible_mask(self) -> np.ndarray:
        r = self.result
        mask = np.ones(len(r.coords), dtype=bool)
        chosen = self.class_filter.currentData()
        if chosen is not None and chosen >= 0:
            by_predicted = self.colour_by.currentData() == "predicted" or not (r.labels >= 0).any()
            mask &= (r.predicted if by_predicted else r.labels) == chosen
        if self.misclassified_only.isChecked():
            mask &= self.wrong
        return mask

    def groups(self, mask: np.ndarray) -> list[PointGroup]:
        """The colour groups of the visible cases under the current colour mode."""
        r = self.result
        mode = self.colour_by.currentData()
        colors = class_colors(len(r.class_names))
        if mode in ("label", "predicted"):
            values = r.labels if mode == "label" else r.predicted
            found = [PointGroup(name, colors[i], np.flatnonzero(mask & (values == i))) for i, name in enumerate(r.class_names)]
            found.append(PointGroup("unknown", UNKNOWN, np.flatnonzero(mask & (values < 0))))
        elif mode == "correct":
            unknown = (r.labels < 0) | (r.predicted < 0)
            found = [
                PointGroup("correct", CORRECT, np.flatnonzero(mask & ~self.wrong & ~unknown)),
                PointGroup("misclassified", WRONG, np.flatnonzero(mask & self.wrong)),
                PointGroup("no label", UNKNOWN, np.flatnonzero(mask & unknown)),
            ]
        else:
            found = []
            for (lo, hi), color in zip(CONFIDENCE_BINS, CONFIDENCE_COLORS):
                inside = (r.confidence >= lo) & ((r.confidence < hi) | (hi >= 1.0))
                found.append(PointGroup(f"confidence {lo:.2f}–{hi:.2f}", QColor(color), np.flatnonzero(mask & inside)))
        return [g for g in found if len(g.indices)]

    def refresh(self) -> None:
        """Redraw from the current result and display controls (no recomputation)."""
        if self.result is None:
            return
        mask = self.visible_mask()
        flagged = np.flatnonzero(mask & self.wrong) if self.mark_misclassified.isChecked() else None
        self.scatter.set_groups(self.groups(mask), flagged, "ring: misclassified")  # numpy only
        self.scatter.set_selection(self.selection)
        regions = self.result.regions
        if self.show_regions.isChecked() and regions is not None:
            if self._regions_shown is not regions:  # a recolour or a filter leaves the shading as is
                colors = class_colors(len(self.result.class_names))
                rgba = region_image(regions.classes, regions.confidence, regions.support, colors)
                self.scatter.set_regions(rgba, regions.extent)
                self._regions_shown = regions
        else:
            self.scatter.set_regions(None)
            self._regions_shown = None

    def set_mode(self, mode: str) -> None:
        self.scatter.view_box.mode = mode
        self.mode_buttons[mode].setChecked(True)

    # ----- cases -------------------------------------------------------------------------
    def thumbnails(self) -> np.ndarray | None:
        if self.result is not None and self.result.thumbnails is not None:
            return self.result.thumbnails
        tiles = getattr(self.ctx.state.dataset, "thumbnails", None)
        return tiles if tiles is not None and self.result is not None and len(tiles) == len(self.result.coords) else None

    def case_text(self, i: int) -> str:
        r = self.result
        label = r.class_names[r.labels[i]] if r.labels[i] >= 0 else "?"
        predicted = r.class_names[r.predicted[i]] if 0 <= r.predicted[i] < len(r.class_names) else "?"
        return f"{r.names[i]}: {label} → {predicted} ({r.confidence[i]:.0%})"

    def describe_case(self, i: int) -> tuple[QPixmap | None, str]:
        """The hover card's thumbnail and text for case `i`."""
        r = self.result
        tiles = self.thumbnails()
        label = escape(r.class_names[r.labels[i]]) if r.labels[i] >= 0 else "unknown"
        predicted = escape(r.class_names[r.predicted[i]]) if 0 <= r.predicted[i] < len(r.class_names) else "?"
        verdict = "<br><span style='color:#d7191c'><b>misclassified</b></span>" if self.wrong[i] else ""
        text = (
            f"<b>{escape(r.names[i])}</b><br>label: {label}<br>predicted: {predicted} "
            f"({r.confidence[i]:.1%}){verdict}<br><i>click to open</i>"
        )
        return (thumbnail_pixmap(tiles[i]) if tiles is not None else None), text

    def open_case(self, i: int) -> None:
        """Open case `i` in the case list and the attribution canvas."""
        self.ctx.state.select_case(int(i))
        self.ctx.state.explain_requested.emit(int(i), "")

    def _on_selection(self, indices: np.ndarray) -> None:
        self.selection = np.asarray(indices, dtype=np.int64)
        self.scatter.set_selection(self.selection)
        self.selection_list.clear()
        self.side_panel.setVisible(bool(len(self.selection)))
        self.ctx.state.cases_chosen.emit(self.selection)
        if not len(self.selection):
            return
        wrong = int(self.wrong[self.selection].sum())
        self.selection_title.setText(f"Selected {len(self.selection)} cases, {wrong} misclassified. Click one to open it.")
        for i in self.selection[:MAX_LISTED]:
            item = QListWidgetItem(self.case_text(int(i)))
            item.setData(Qt.ItemDataRole.UserRole, int(i))
            if self.wrong[i]:
                item.setForeground(WRONG)
            self.selection_list.addItem(item)
        if len(self.selection) > MAX_LISTED:
            self.selection_list.addItem(f"… and {len(self.selection) - MAX_LISTED} more")

    def _on_list_item(self, item: QListWidgetItem) -> None:
        index = item.data(Qt.ItemDataRole.UserRole)
        if index is not None:
            self.open_case(int(index))
