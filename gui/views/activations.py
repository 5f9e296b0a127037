"""Activation viewer: what the selected layer computes for the selected case, or for two cases.

Follows `state.layer_selected` and `state.case_selected`; the engine computes the layer's output
(a `LayerActivationsRequest`) and this view draws it: a paged grid of feature maps for
4-D outputs, bars for 2-D outputs, a heat strip for 3-D outputs, an enlarged channel (optionally
over the input image), statistics, and "compare" (case A, case B, A − B). A hidden view does no
work until it is shown again.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLabel,
    QSpinBox,
    QSplitter,
    QSizePolicy,
    QStackedWidget,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.jobs import JobError
from engine.tasks import LayerActivationsRequest
from gui.context import AppContext
from gui.jobs import ViewJobs
from gui.widgets.bar_chart import BarChart, top_indices
from gui.widgets.feature_grid import (
    DIVERGING,
    FeatureGrid,
    Panel,
    TileLayout,
    columns_for,
    normalise_tiles,
    symmetric_tiles,
    tile_atlas,
    upsample,
)
from gui.widgets.tensor_stats import StatsPanel, fmt, stack_panels

if TYPE_CHECKING:
    from engine.activations import LayerActivations

PAGE = 144  # feature maps per page: 96-channel layers fit on one
TOP_UNITS = 5
SORTS = {"Channel index": None, "Mean activation": "channel_mean", "Max activation": "channel_max"}
OVERLAY_OPACITY = 0.8


class ActivationView(QWidget):
    shown = Signal(str)  # layer path, once its activations are drawn (tests and benchmarks wait on it)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.path = ""
        self.result: LayerActivations | None = None
        self.page = 0
        self.channel = -1
        self._channels = np.zeros(0, int)  # channels on the current page, in grid order
        self._dirty = False
        self.jobs = ViewJobs(self, ctx.engine, "activations", "Activations", inline=self._show_message)
        self._build()
        state = ctx.state
        state.model_changed.connect(self._on_model)
        state.layer_selected.connect(self._on_layer)
        state.case_selected.connect(lambda _case: self.request())
        state.dataset_changed.connect(lambda _summary: self.request())

    # ----- construction -------------------------------------------------------------------
    def _build(self) -> None:
        self.title = QLabel("No layer")  # the message in the middle says what to do
        self.title.setObjectName("activationTitle")
        self.title.setStyleSheet("font-weight: bold")
        self.title.setWordWrap(True)
        self.sort = QComboBox()
        self.sort.addItems(list(SORTS))
        self.sort.currentIndexChanged.connect(lambda _: self._render())
        self.sort_label = QLabel("&Sort")
        self.sort_label.setBuddy(self.sort)
        self.prev_page = QToolButton(text="◀", toolTip="Previous page (Page Up)")
        self.next_page = QToolButton(text="▶", toolTip="Next page (Page Down)")
        self.prev_page.clicked.connect(lambda: self.turn_page(-1))
        self.next_page.clicked.connect(lambda: self.turn_page(1))
        self.page_label = QLabel()
        self.overlay = QCheckBox("&Overlay on input")
        self.overlay.setChecked(True)
        self.overlay.toggled.connect(lambda _: self._render_detail())
        self.compare = QCheckBox("&Compare with case")
        self.compare.setToolTip("Show case A (selected), case B (this number) and A − B side by side")
        self.compare_case = QSpinBox()
        self.compare_case.setRange(0, 10**9)
        self.compare.toggled.connect(self._on_compare_toggled)
        self.compare_case.valueChanged.connect(lambda _: self.compare.isChecked() and self.request())

        controls = QToolBar()  # in a narrow dock the last controls move behind its » button
        self._control_actions = {}
        for widget in (self.sort_label, self.sort, self.prev_page, self.page_label, self.next_page,
                       self.overlay, self.compare, self.compare_case):
            self._control_actions[widget] = controls.addWidget(widget)

        self.grid = FeatureGrid()
        self.grid.tile_clicked.connect(self._on_tile_clicked)
        self.grid.tile_hovered.connect(self._on_grid_hover)
        self.bars = BarChart()
        self.diff_bars = BarChart(y_label="A − B")
        self.bars.hovered.connect(self._on_bar_hover)
        self.diff_bars.hovered.connect(self._on_bar_hover)
        bars_box = QSplitter(Qt.Orientation.Vertical)
        bars_box.addWidget(self.bars)
        bars_box.addWidget(self.diff_bars)
        self.message = QLabel()
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.stack = QStackedWidget()
        for widget in (self.message, self.grid, bars_box):
            self.stack.addWidget(widget)
        self.detail = FeatureGrid()
        self.detail.tile_hovered.connect(self._on_detail_hover)
        self.detail_label = QLabel()
        self.detail_label.setWordWrap(True)
        detail_box = QWidget()
        detail_layout = QVBoxLayout(detail_box)
        detail_layout.setContentsMargins(0, 0, 0, 0)
        detail_layout.addWidget(self.detail, 1)
        detail_layout.addWidget(self.detail_label)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.stack)
        self.splitter.addWidget(detail_box)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.detail_box = detail_box

        self.stats = [StatsPanel(), StatsPanel()]
        self.readout = QLabel()
        self.readout.setObjectName("activationReadout")
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(controls)
        layout.addWidget(self.jobs.bar)
        layout.addWidget(self.splitter, 1)
        for panel in self.stats:
            layout.addWidget(panel)
        layout.addWidget(self.readout)
        for keys, step in ((QKeySequence.StandardKey.MoveToPreviousPage, -1),
                           (QKeySequence.StandardKey.MoveToNextPage, 1)):
            shortcut = QShortcut(QKeySequence(keys), self, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(lambda s=step: self.turn_page(s))
        self._show_message("Select a layer in the model browser.")

    # ----- following the shared state ----------------------------------------------------
    def _on_model(self, description: Any) -> None:
        self.jobs.forget()
        self.path, self.result, self.channel = "", None, -1
        self.title.setText("No layer" if description else "No model")
        self._show_message("Select a layer in the model browser." if description else "No model is open.")

    def _on_layer(self, path: str) -> None:
        self.path, self.page, self.channel = path, 0, -1
        self.request()

    def _on_compare_toggled(self, on: bool) -> None:
        if on:
            self.compare_case.setValue(max(self.ctx.state.case, 0))
        self.request()

    def cases(self) -> list[int]:
        """Case A (the selected one) and, when comparing, case B; [] before any selection."""
        case = self.ctx.state.case
        if case < 0:
            return []
        return [case, self.compare_case.value()] if self.compare.isChecked() else [case]

    def request(self) -> None:
        """Ask the engine for the current layer and cases (later, if the view is hidden)."""
        if not self.path:
            return
        if not self.cases():  # the canvas says "No case" too: nothing is shown for a case not chosen
            self.result = None
            self.title.setText(f"{self.path} · no case selected")
            self._show_message("Select a case in the case list to see what this layer computes for it.")
            return
        if not self.isVisible():
            self._dirty = True
            return
        self._dirty = False
        self.title.setText(f"{self.path} · computing…")
        self.jobs.start(LayerActivationsRequest(path=self.path, cases=tuple(self.cases())), self._on_result,
                        on_error=self._on_error, message=f"Activations of {self.path}")

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._dirty:
            self.request()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        stack_panels(self.splitter, self.width())

    def _on_result(self, result: LayerActivations) -> None:
        if result.path != self.path:
            return
        self.result = result
        self._render()
        self.shown.emit(result.path)

    def _on_error(self, error: JobError) -> None:
        if error.kind == "cancelled":
            return
        self.result = None
        self._show_message(error.message)
        self.title.setText(self.path)

    # ----- drawing ---------------------------------------------------------------------------
    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.stack.setCurrentWidget(self.message)
        self.detail_box.hide()
        for panel in self.stats:
            panel.clear_stats()
        self.readout.clear()
        self.page_label.clear()

    def _case_names(self) -> list[str]:
        r = self.result
        return [f"case {c}" for c in r.cases] if r and r.cases else ["input"]

    def _render(self) -> None:
        r = self.result
        if r is None:
            return
        names = self._case_names()
        files = getattr(self.ctx.state.dataset, "names", None)
        titled = [
            f"{n} ({files[c]})" if files and 0 <= c < len(files) and files[c] != n else n  # not "case 7 (case 7)"
            for n, c in zip(names, r.cases)
        ]
        shape = " × ".join(str(d) for d in r.values.shape[1:])
        dead = ""
        if r.kind == "maps":
            n_dead = int(np.count_nonzero((r.channel_max[0] == 0) & (r.channel_mean[0] == 0)))
            dead = f" · {n_dead} of {r.values.shape[-1]} channels all zero" if n_dead else ""
        self.title.setText(f"{r.path} ({r.class_name}) · {' vs '.join(titled or names)} · output {shape}{dead}")
        for i, panel in enumerate(self.stats):
            panel.setVisible(i < len(r.stats))
            if i < len(r.stats):
                panel.show_stats(r.stats[i], prefix=names[i])
        for widget in (self.sort_label, self.sort, self.prev_page, self.next_page, self.page_label, self.overlay):
            self._control_actions[widget].setVisible(r.kind == "maps")
        self.detail_box.setVisible(r.kind == "maps")
        self.readout.clear()
        if r.kind == "maps":
            self._render_maps()
        elif r.kind == "vector":
            self._render_vector()
        elif r.kind == "sequence":
            self._render_sequence()
        else:
            self._show_message(f"No picture for a {r.values.ndim - 1}-D output; see its statistics.")
            for i, panel in enumerate(self.stats[: len(r.stats)]):
                panel.show_stats(r.stats[i], prefix=names[i])

    def channel_order(self) -> np.ndarray:
        """All channels in the chosen order (largest mean / max first, for case A)."""
        r = self.result
        key = SORTS[self.sort.currentText()]
        n = r.values.shape[-1]
        return np.arange(n) if key is None else np.argsort(-getattr(r, key)[0], kind="stable")

    def turn_page(self, step: int) -> None:
        if self.result is not None and self.result.kind == "maps":
            self.page += step
            self._render_maps()

    def _render_maps(self) -> None:
        r = self.result
        order = self.channel_order()
        pages = math.ceil(len(order) / PAGE)
        self.page = min(max(self.page, 0), pages - 1)
        self._channels = order[self.page * PAGE : (self.page + 1) * PAGE]
        self.page_label.setText(
            f"channels {self.page * PAGE + 1}–{self.page * PAGE + len(self._channels)} of {len(order)}"
        )
        self.prev_page.setEnabled(self.page > 0)
        self.next_page.setEnabled(self.page < pages - 1)
        tiles = [np.moveaxis(v[..., self._channels], -1, 0) for v in r.values]  # (k, H, W) per case
        panel_aspect = 1.4 if len(tiles) == 1 else 1.4 / 3  # compare: three panels side by side
        cols = columns_for(len(self._channels), *tiles[0].shape[1:], aspect=panel_aspect)
        names = self._case_names()
        if len(tiles) == 2:
            shown = [normalise_tiles(tiles[0], tiles[1]), normalise_tiles(tiles[1], tiles[0])]
            panels = [self._atlas_panel(names[i], shown[i], cols) for i in range(2)]
            panels.append(self._atlas_panel("A − B", symmetric_tiles(tiles[0] - tiles[1]), cols, DIVERGING))
        else:
            panels = [self._atlas_panel(names[0], normalise_tiles(tiles[0]), cols)]
        self.grid.set_panels(panels)
        self.stack.setCurrentWidget(self.grid)
        if self.channel < 0 or self.channel >= r.values.shape[-1]:
            self.channel = int(order[0])
        self._render_detail()

    def _mark_channel(self) -> None:
        on_page = np.flatnonzero(self._channels == self.channel)
        self.grid.mark(int(on_page[0]) if len(on_page) else -1)

    @staticmethod
    def _atlas_panel(title: str, tiles: np.ndarray, cols: int, colormap: str | None = None) -> Panel:
        atlas, layout = tile_atlas(tiles, cols)
        if colormap == DIVERGING:
            return Panel(title, atlas, layout, levels=(-1.0, 1.0), colormap=DIVERGING)
        return Panel(title, atlas, layout)

    def _on_tile_clicked(self, _panel: int, tile: int) -> None:
        if 0 <= tile < len(self._channels):
            self.channel = int(self._channels[tile])
            self._render_detail()

    def _render_detail(self) -> None:
        """The chosen channel, large, for each case (over the input when asked) and A − B."""
        r = self.result
        if r is None or r.kind != "maps" or self.channel < 0:
            return
        maps = [v[..., self.channel] for v in r.values]
        lo = float(np.nanmin(maps)) if np.isfinite(maps).any() else 0.0
        hi = float(np.nanmax(maps)) if np.isfinite(maps).any() else 1.0
        scale = hi - lo if hi > lo else 1.0
        panels = []
        for name, m, image in zip(self._case_names(), maps, r.images):
            shown = (m - lo) / scale
            if self.overlay.isChecked() and image is not None:
                shown = upsample(shown, image.shape[:2])
                panels.append(Panel(name, shown, TileLayout(1, *shown.shape, 1, 0), background=image,
                                    opacity=OVERLAY_OPACITY, colormap="inferno"))
            else:
                panels.append(Panel(name, shown, TileLayout(1, *shown.shape, 1, 0)))
        if len(maps) == 2:
            diff = maps[0] - maps[1]
            top = float(np.nanmax(np.abs(diff))) or 1.0
            shape = panels[0].image.shape[:2]  # the grid the case panels use, so linked zoom agrees
            diff = upsample(diff, shape) if shape != diff.shape else diff
            panels.append(Panel("A − B", diff, TileLayout(1, *diff.shape, 1, 0), (-top, top), DIVERGING))
        self.detail.set_panels(panels)
        self._mark_channel()
        parts = [f"{n}: {fmt(float(np.nanmin(m)))} … {fmt(float(np.nanmax(m)))}"
                 for n, m in zip(self._case_names(), maps)]
        self.detail_label.setText(f"channel {self.channel} · " + " · ".join(parts))

    def _render_vector(self) -> None:
        r = self.result
        names = self._case_names()
        values = list(r.values)
        if len(values) == 2:
            self.bars.set_series(values, names)
            self.diff_bars.set_series([values[0] - values[1]])
            self.diff_bars.show()
        else:
            self.bars.set_series(values, top_k=TOP_UNITS)
            self.diff_bars.hide()
        top = top_indices(values[0], TOP_UNITS)
        self.readout.setText(
            f"top units ({names[0]}): " + ", ".join(f"{i} ({fmt(float(values[0][i]))})" for i in top)
        )
        self.stack.setCurrentIndex(2)

    def _render_sequence(self) -> None:
        """Each case as one image, features down and positions across; A − B in blue-red."""
        r = self.result
        strips = [v.T for v in r.values]  # (D, T)
        lo, hi = float(np.nanmin(r.values)), float(np.nanmax(r.values))
        layout = TileLayout(1, *strips[0].shape, 1, 0)
        levels = (lo, hi if hi > lo else lo + 1)
        panels = [Panel(n, s, layout, levels, square_pixels=False) for n, s in zip(self._case_names(), strips)]
        if len(strips) == 2:
            diff = strips[0] - strips[1]
            top = float(np.nanmax(np.abs(diff))) or 1.0
            panels.append(Panel("A − B", diff, layout, (-top, top), DIVERGING, square_pixels=False))
        self.grid.set_panels(panels)
        self.stack.setCurrentWidget(self.grid)

    # ----- readouts ---------------------------------------------------------------------------
    def _values_text(self, index: tuple) -> str:
        values = [float(v[index]) for v in self.result.values]
        parts = [f"{n} {fmt(x)}" for n, x in zip(self._case_names(), values)]
        if len(values) == 2:
            parts.append(f"A − B {fmt(values[0] - values[1])}")
        return " · ".join(parts)

    def _on_grid_hover(self, _panel: int, tile: int, row: int, col: int) -> None:
        r = self.result
        if r is None or tile < 0:
            return
        if r.kind == "maps" and tile < len(self._channels):
            channel = int(self._channels[tile])
            self.readout.setText(f"channel {channel} at ({row}, {col}): {self._values_text((row, col, channel))}")
        elif r.kind == "sequence":
            self.readout.setText(f"position {col}, feature {row}: {self._values_text((col, row))}")

    def _on_detail_hover(self, _panel: int, tile: int, row: int, col: int) -> None:
        r = self.result
        if r is None or tile < 0 or self.channel < 0:
            return
        layout = self.detail.panels[0].layout
        h, w = r.values.shape[1:3]
        y, x = row * h // layout.height, col * w // layout.width
        self.readout.setText(f"channel {self.channel} at ({y}, {x}): {self._values_text((y, x, self.channel))}")

    def _on_bar_hover(self, unit: int) -> None:
        if self.result is not None and unit >= 0:
            self.readout.setText(f"unit {unit}: {self._values_text((unit,))}")
