"""The attribution view: one case, one or several methods, overlays the user can tune and export.

Single mode shows one panel; grid mode shows 2-6 panels of the same case with linked zoom/pan,
each with its own method and parameters (click a panel to edit it in the method form). The grid
of map cells (gui.panels.map_grid, with room for per-map panels under each map) and the exports
(gui.panels.canvas_export) are sub-panels. Every panel's job runs in its own slot of the view's
job helper, so the panels queue instead of replacing each other, and a newer request for a
panel cancels its older one. Results are kept in an engine.cache memory LRU keyed by (case,
method, params, target) on top of the engine's cache, so going back to a case redraws without
even a round trip.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from engine.cache import MemoryCache
from engine.errors import GlassboxError
from engine.fileio import atomic_write_bytes
from engine.jobs import JobError
from engine.ranking import top_classes
from engine.tasks import ExplainCase, ExplainTabular, ListMethods, SetHeadKind, ShowCase
from gui.context import AppContext
from gui.panels.scorecard import ScorecardPanel
from gui.jobs import ViewJobs
from gui.method_defaults import default_method, has_pixels
from gui.panels import canvas_export
from gui.panels.map_grid import MapGrid
from gui.panels.review import seen_record
from gui.widgets.attribution_canvas import AttributionCanvas, DisplaySettings
from gui.widgets.class_target import ClassTarget
from gui.widgets.head_picker import HeadPicker
from gui.widgets.display_controls import DisplayControls
from gui.widgets.method_panel import MethodPanel

QUICK_LOOK = ("saliency", "integrated_gradients", "gradcam", "occlusion")
GRID_FILL = (*QUICK_LOOK, "smoothgrad", "lime", "gradient_x_input", "rise")
MAX_PANELS = 6
HINTS = {
    "images": "Hover the image for pixel values; wheel zooms, drag pans, Home fits.",
    "tabular": "Each bar is one feature's signed attribution, labelled with its raw value; Save PNG exports the chart.",
    "text": "Each word is coloured by its token's attribution; Save PNG exports it.",
}
RESULT_CACHE_SIZE = 96
CASE_CACHE_SIZE = 64
AUTO_RUN_DELAY_MS = 300  # parameter edits settle before a run starts
HIDDEN_IN_TITLE = frozenset({"batch_size"})  # does not change the numbers


@dataclass
class Panel:
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    request: tuple | None = None  # the request whose result this panel shows or awaits
    pending: bool = False
    result: Any = None


class AttributionView(QWidget):
    """See the module docstring. `result_shown(panel)` fires when a panel draws a result."""

    result_shown = Signal(int)
    exported = Signal(list)  # paths written by an export (the record log lists them)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.case = -1
        self.case_view: Any = None
        self.kind = "images"  # the open dataset's kind: it decides the default method and the image-only tools
        self.panels: list[Panel] = [Panel(default_method(self.kind))]
        self.active = 0
        self.results = MemoryCache(RESULT_CACHE_SIZE)
        self.case_views = MemoryCache(CASE_CACHE_SIZE)
        self.methods: list[dict[str, Any]] = []
        self.quick_look_methods: tuple[str, ...] = QUICK_LOOK
        self.jobs = ViewJobs(self, ctx.engine, "canvas", "Could not explain", inline=self._say)
        self.jobs.busy_changed.connect(lambda _busy: self._update_busy())
        self._run_when_shown = False  # a run asked for before the case's predictions arrived
        self._auto_timer = QTimer(self, singleShot=True, interval=AUTO_RUN_DELAY_MS)
        self._auto_timer.timeout.connect(lambda: self.run_panel(self.active))
        self._build()
        state = ctx.state
        state.model_changed.connect(self._on_model_changed)
        state.dataset_changed.connect(self._on_dataset_changed)
        state.predictions_changed.connect(lambda _p: self.case_view is not None and self._fill_target(self.case_view))
        state.case_selected.connect(self.show_case)
        state.explain_requested.connect(self.explain)
        state.methods_ranked.connect(self.order_quick_look)
        self._fetch_methods()

    # ----- construction -----------------------------------------------------------------
    def _build(self) -> None:
        self.toolbar = QToolBar()
        self.run_action = self._action("Run", [QKeySequence("Ctrl+R"), QKeySequence("F5")], self.run_all, False)
        self.home_action = self._action("Fit", [QKeySequence("Home")], lambda: self.map_grid.fit())
        self.home_action.setToolTip("Show the whole image (Home, or double-click a map)")
        self.grid_action = self._action("Grid", [QKeySequence("Ctrl+G")], None)
        self.grid_action.setCheckable(True)
        self.grid_action.toggled.connect(self.set_grid)
        self.quick_action = self._action("Quick look", [QKeySequence("Ctrl+L")], self.quick_look)
        self.panel_count = QSpinBox()
        self.panel_count.setObjectName("panelCount")
        self.panel_count.setRange(2, MAX_PANELS)
        self.panel_count.setValue(4)
        self.panel_count.setPrefix("panels: ")
        self.panel_count.setEnabled(False)
        self.panel_count.valueChanged.connect(self._on_panel_count)
        self.toolbar.addWidget(self.panel_count)
        self.toolbar.addSeparator()
        self._action("Save PNG…", [QKeySequence("Ctrl+Shift+S")], self.choose_png)
        self._action("Export maps…", [QKeySequence("Ctrl+Shift+E")], self.choose_maps)
        self._action("CSV…", [], self.choose_csv)

        self.map_grid = MapGrid()
        self.grid_host = self.map_grid
        self.grid = self.map_grid.grid
        self.readout = QLabel("Select a case to explain it.")
        self.readout.setObjectName("pixelReadout")
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        self.display = DisplayControls(strip=True)  # above the maps: always in sight
        self.display.changed.connect(self._on_display_changed)
        left_layout.addWidget(self.toolbar)
        left_layout.addWidget(self.display)
        left_layout.addWidget(self.grid_host, 1)
        self.scorecard = ScorecardPanel(self.ctx, self, self._is_fast)  # one card per map, under the maps
        left_layout.addWidget(self.scorecard)
        left_layout.addWidget(self.readout)

        self.case_label = QLabel("No case")
        self.case_label.setWordWrap(True)
        self.target = ClassTarget()
        self.target.target_changed.connect(lambda _t: self.run_all())
        self.head_picker = HeadPicker()
        self.head_picker.head_changed.connect(self._on_head_changed)
        self.head_picker.region_changed.connect(self.run_all)
        self.head_picker.kind_chosen.connect(self._on_kind_chosen)
        self.method_panel = MethodPanel()
        self.method_panel.method_changed.connect(self._on_method_changed)
        self.method_panel.params_changed.connect(self._on_params_changed)
        self.auto_run = QCheckBox("Auto-run on case change")
        self.auto_run.setObjectName("autoRun")
        self.auto_run.setChecked(True)
        run_button = QPushButton("Run")
        run_button.setToolTip("Run (Ctrl+R, F5)")
        run_button.clicked.connect(self.run_all)
        self.progress = self.jobs.bar.progress
        self.progress.setObjectName("methodProgress")
        self.elapsed = QLabel("")
        self.elapsed.setObjectName("elapsed")
        buttons = QHBoxLayout()
        buttons.addWidget(run_button)
        buttons.addWidget(self.jobs.bar, 1)

        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.addWidget(_group("Case", self.case_label))
        side_layout.addWidget(_group("Class target", self.target))
        method_box = _group("Method", self.method_panel)
        method_box.layout().addWidget(self.auto_run)
        method_box.layout().addLayout(buttons)
        method_box.layout().addWidget(self.elapsed)
        side_layout.addWidget(method_box)
        # below the method: Run stays visible without scrolling (most models have one head)
        side_layout.addWidget(_group("Output head", self.head_picker))
        side_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(side)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(300)

        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(scroll)
        splitter.setStretchFactor(0, 1)
        splitter.setSizes([900, 330])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self._sync_canvases()

    def _action(self, text: str, keys: list[QKeySequence], slot: Any, in_toolbar: bool = True) -> QAction:
        action = QAction(text, self)
        action.setShortcuts(keys)
        action.setToolTip(f"{text} ({', '.join(k.toString() for k in keys)})")
        if slot is not None:
            action.triggered.connect(lambda _checked=False: slot())
        if in_toolbar:
            self.toolbar.addAction(action)
        self.addAction(action)
        return action

    # ----- methods ----------------------------------------------------------------------
    def _fetch_methods(self) -> None:
        self.jobs.start(ListMethods(), self._on_methods, slot="methods", quiet=True,
                        on_error=lambda error: self.readout.setText(f"No attribution methods: {error.message}"))

    def _say(self, message: str) -> None:
        """The inline half of the job helper's error policy: the readout line under the maps."""
        self.readout.setText(message)

    def _on_methods(self, methods: list[dict[str, Any]]) -> None:
        self.methods = methods
        self.method_panel.set_methods(methods)
        names = {m["name"] for m in methods}
        for panel in self.panels:
            if panel.method not in names and methods:
                panel.method = methods[0]["name"]
        self._edit_panel(self.active)

    def _defaults(self, method: str) -> dict[str, Any]:
        for info in self.methods:
            if info["name"] == method:
                return dict(info["params"])
        return {}

    # ----- panels -----------------------------------------------------------------------
    def set_grid(self, on: bool) -> None:
        """Grid mode: `panel_count` panels (the active one first); single mode keeps the active one."""
        self.panel_count.setEnabled(on)
        if self.grid_action.isChecked() != on:
            self.grid_action.setChecked(on)  # re-enters through toggled
            return
        for index in range(len(self.panels)):
            if index != self.active:
                self.jobs.cancel(_slot(index))
        keep = self.panels[self.active]
        self.panels = [keep]
        self.active = 0
        if on:
            self._resize_panels(self.panel_count.value())
        self._sync_canvases()

    def _on_panel_count(self, count: int) -> None:
        if self.grid_action.isChecked():
            self._resize_panels(count)
            self._sync_canvases()

    def _resize_panels(self, count: int) -> None:
        for index in range(count, len(self.panels)):
            self.jobs.cancel(_slot(index))
        del self.panels[count:]
        self.active = min(self.active, count - 1)
        available = [m["name"] for m in self.methods] or list(GRID_FILL)
        unused = [m for m in (*GRID_FILL, *available) if m in available and m not in {p.method for p in self.panels}]
        while len(self.panels) < count and unused:
            self.panels.append(Panel(unused.pop(0)))

    def quick_look(self) -> None:
        """Saliency, Integrated Gradients, Grad-CAM and occlusion side by side (or the benchmark's
        best methods, best first), run one after another."""
        available = {m["name"] for m in self.methods}
        self.show_grid([(m, {}) for m in self.quick_look_methods if m in available or not available])

    def order_quick_look(self, methods: list[str], show: bool) -> None:
        """Follow the benchmark's ranking (best first) in the quick-look grid."""
        self.quick_look_methods = tuple(methods[:len(QUICK_LOOK)]) or QUICK_LOOK
        if show:
            self.quick_look()

    def show_grid(self, specs: list[tuple[str, dict[str, Any]]]) -> None:
        """Grid mode with one panel per (method, params), 2 to 6 of them, all run in turn."""
        specs = specs[:MAX_PANELS]
        self.cancel()
        self.panel_count.blockSignals(True)
        self.panel_count.setValue(max(2, len(specs)))
        self.panel_count.blockSignals(False)
        self.grid_action.blockSignals(True)
        self.grid_action.setChecked(True)
        self.grid_action.blockSignals(False)
        self.panel_count.setEnabled(True)
        self.panels = [Panel(method, dict(params)) for method, params in specs]
        self.active = 0
        self._sync_canvases()
        self.run_all()

    @property
    def canvases(self) -> list[AttributionCanvas]:
        return self.map_grid.canvases

    def _sync_canvases(self) -> None:
        """Make one map cell per panel, laid out in a grid, views linked, results redrawn."""

        def connect(index: int, canvas: AttributionCanvas) -> None:
            canvas.hovered.connect(self.readout.setText)
            canvas.clicked.connect(lambda i=index: self.set_active(i))

        image = self.case_view.image if self.case_view is not None else None
        self.map_grid.resize_to(len(self.panels), image, self.display.settings(), connect)
        for index in range(len(self.panels)):
            self._refresh_panel(index)
        self.set_active(self.active)

    def set_active(self, index: int) -> None:
        """The panel the method form edits (grid mode)."""
        self.active = max(0, min(index, len(self.panels) - 1))
        for i, canvas in enumerate(self.canvases):
            canvas.set_active(len(self.panels) > 1 and i == self.active)
        self._edit_panel(self.active)

    def _edit_panel(self, index: int) -> None:
        panel = self.panels[index]
        self.method_panel.set_method(panel.method, panel.params)
        panel.params = self.method_panel.params() if self.method_panel.method() == panel.method else panel.params
        self._show_elapsed(panel)

    def _on_method_changed(self, method: str) -> None:
        info = next((m for m in self.methods if m["name"] == method), {})
        self.auto_run.setChecked(bool(info.get("fast")))  # each method says whether it is fast
        self._on_params_changed()

    def _on_params_changed(self) -> None:
        panel = self.panels[self.active]
        panel.method = self.method_panel.method()
        panel.params = self.method_panel.params()
        self._refresh_panel(self.active)
        if panel.result is None and self.auto_run.isChecked() and self.case >= 0:
            self._auto_timer.start()

    # ----- cases ------------------------------------------------------------------------
    def _on_model_changed(self, description: Any) -> None:
        """Everything shown was computed by the old model: recompute for the selected case."""
        self._forget_case_data()
        heads = tuple(getattr(description, "heads", ()) or ())
        self._default_head = next((h.index for h in heads if h.is_classifier), 0)
        self.head_picker.set_heads(heads, self._default_head)
        layers = description.all_layers() if description is not None else []
        self.method_panel.set_layer_paths(
            [info.path for info in layers if isinstance(info.output_shape, tuple) and len(info.output_shape) == 4]
        )
        if self.ctx.state.case >= 0:
            self.show_case(self.ctx.state.case)

    def _on_dataset_changed(self, summary: Any) -> None:
        """New cases, or the same cases under a new recipe: images and maps are stale."""
        keep = self.ctx.state.case
        self._set_kind(getattr(summary, "kind", "images") if summary is not None else self.kind)
        self._forget_case_data()
        if summary is not None and keep >= 0:
            self.show_case(keep)

    def _set_kind(self, kind: str) -> None:
        """Tables and text have no pixels: no overlay settings, no region to draw, no pixel hover.
        A single map still on the old kind's default moves to the new kind's."""
        pictures = has_pixels(kind)
        self.display.setVisible(pictures)
        self.scorecard.set_region_available(pictures)
        self.method_panel.set_kind(kind)
        panel = self.panels[0]
        if len(self.panels) == 1 and panel.method == default_method(self.kind) and kind != self.kind:
            self.panels[0] = Panel(default_method(kind))
            if self.methods:
                self._edit_panel(0)
        self.kind = kind

    def _forget_case_data(self) -> None:
        """A new model or dataset: every cached result and image is stale, and so is anything
        still on its way (the job helper drops it)."""
        self.jobs.forget()
        self._auto_timer.stop()
        self._run_when_shown = False
        self.results.clear()
        self.case_views.clear()
        self.case = -1
        self.case_view = None
        self.target.clear()
        self.case_label.setText("No case")
        for panel in self.panels:
            panel.request, panel.pending, panel.result = None, False, None
        for canvas in self.canvases:
            canvas.set_image(None)
            canvas.set_result(None)
            canvas.set_message("Select a case in the case list to explain it.")
        for cell in self.map_grid.cells:
            cell.show_chart(None)

    def show_case(self, case: int) -> None:
        """Show `case` (cached image and maps at once) and run the panels if auto-run is on."""
        if case < 0:
            return
        self.case = case
        self.target.reset()
        cached = self.case_views.get(case)
        self._apply_case_view(cached)
        if cached is None:
            self.case_label.setText(f"Case {case} (loading…)")
            self.jobs.start(ShowCase(case=case), self._on_case_view, slot="case", quiet=True)
        self._run_when_shown = False
        if self.auto_run.isChecked():
            self.run_all()
        else:
            for index in range(MAX_PANELS):  # the case itself still loads
                self.jobs.cancel(_slot(index))
            self._auto_timer.stop()
            for index in range(len(self.panels)):
                self._refresh_panel(index)

    def _on_case_view(self, view: Any) -> None:
        self.case_views.put(view.case, view)
        if view.case == self.case:
            self._apply_case_view(view)
            if self._run_when_shown:
                self._run_when_shown = False
                self.run_all()

    def _apply_case_view(self, view: Any) -> None:
        self.case_view = view
        for canvas in self.canvases:
            canvas.set_image(None if view is None else view.image)
        if view is None:
            return
        self.head_picker.set_case(view)
        self._fill_target(view)
        dataset = self.ctx.state.dataset
        classes = list(getattr(dataset, "class_names", []) or [])
        label = "unknown" if view.label < 0 else (classes[view.label] if view.label < len(classes) else str(view.label))
        title = view.name if view.name == f"case {view.case}" else f"{view.name} (case {view.case})"
        self.case_label.setText(f"{title}\ntrue label: {label}")  # the case list's mapping
        self.readout.setText(HINTS.get(view.kind, HINTS["images"]))

    def _output_index(self) -> int | None:
        """The head to explain; None for the model's default (first classifier) head."""
        index = self.head_picker.index()
        return None if index is None or index == getattr(self, "_default_head", 0) else index

    def _fill_target(self, view: Any) -> None:
        """Classes of the chosen head: the case's top predictions for the default classifier head,
        else just its targets (labels, regression units, map classes)."""
        head = self.head_picker.head()
        if head is None or (self._output_index() is None and view.top.n_classes):
            self.target.set_predictions(self._top(view), self.ctx.state.class_names)
        else:
            self.target.set_choices(head.n_classes)

    def _top(self, view: Any) -> Any:
        """The case's top-5 from AppState's stored predictions (the case list's numbers, through
        the one to_probabilities) once they are in; the case view's own pass only until then."""
        stored = self.ctx.state.predictions
        if stored is None or not 0 <= view.case < len(stored) or stored.probabilities.shape[1] != view.top.n_classes:
            return view.top
        classes, probabilities = top_classes(stored.probabilities[view.case], len(view.top.classes))
        return dataclasses.replace(view.top, classes=classes, probabilities=probabilities)

    def _on_head_changed(self, _index: Any) -> None:
        self.target.reset()
        if self.case_view is not None:
            self._fill_target(self.case_view)
        self.head_picker.set_case(self.case_view)
        self.run_all()

    def _on_kind_chosen(self, head: int, kind: str) -> None:
        """The user says what a head is: the engine re-kinds it and every view re-reads the model."""
        self.jobs.start(
            SetHeadKind(head=head, kind=kind), self.ctx.state.set_model, slot="head_kind",
            message="Changing the head's kind…",
        )

    def _is_fast(self, method: str) -> bool:
        """Whether `method` says it is fast (MethodInfo.fast): its scores run by themselves."""
        return any(m.get("name") == method and m.get("fast") for m in self.methods)

    def explain(self, case: int, method: str) -> None:
        """Follow `state.explain_requested`: show the case and run `method` (or the current one)."""
        if method and method in {m["name"] for m in self.methods}:
            panel = self.panels[self.active]
            panel.method, panel.params = method, {}
            self._edit_panel(self.active)
        if case != self.ctx.state.case:
            self.ctx.state.select_case(case)
        elif case != self.case:
            self.show_case(case)
        self.run_panel(self.active)

    # ----- running ----------------------------------------------------------------------
    def _params(self, panel: Panel) -> dict[str, Any]:
        """The panel's editable parameters with defaults filled in: one key per effective request."""
        defaults = {k: v for k, v in self._defaults(panel.method).items() if _editable(v)}
        return {**defaults, **panel.params}

    def _target(self) -> int | None:
        """The class to explain: the chosen one, or, for "top prediction", the top-5 table's top
        row once it is known, so the explained class is always the one listed first."""
        target = self.target.target()
        if (target is None and self._output_index() is None and self.case_view is not None
                and self.case_view.case == self.case and self.case_view.top.n_classes):
            return int(self._top(self.case_view).classes[0])
        return target

    def _request(self, panel: Panel) -> tuple:
        params = json.dumps(self._params(panel), sort_keys=True, default=str)
        region = self.head_picker.region_box()
        return (self.case, panel.method, params, self._target(), self._output_index(), str(region))

    def run_all(self) -> None:
        for index in range(len(self.panels)):
            self.run_panel(index)

    def run_panel(self, index: int) -> None:
        """Show the panel's cached result, or ask the engine (replacing the panel's older job)."""
        if self.case < 0 or index >= len(self.panels):
            return
        panel = self.panels[index]
        if self.case_view is None or self.case_view.case != self.case:
            self._run_when_shown = True  # the target ("top prediction") is known with the case
            if panel.request is not None and panel.request[0] != self.case:  # another case's map
                panel.request, panel.pending, panel.result = None, False, None
                self.canvases[index].set_result(None, title=self.method_panel.title(panel.method))
                self.canvases[index].set_message("running…")
            return
        request = self._request(panel)
        if request in self.results:
            self._refresh_panel(index)
            return
        if panel.pending and panel.request == request:
            return
        panel.request, panel.pending, panel.result = request, True, None
        canvas = self.canvases[index]
        canvas.set_result(None, title=self.method_panel.title(panel.method))
        canvas.set_message("running…")
        self.map_grid.cells[index].show_chart(None)
        self.jobs.start(
            ExplainTabular(case=self.case, method=panel.method, params=self._params(panel), target=request[3],
                           output_index=self._output_index())
            if getattr(self.ctx.state.dataset, "kind", "") == "tabular" else  # bars and waterfall
            ExplainCase(
                case=self.case, method=panel.method, params=self._params(panel), target=request[3],
                output_index=self._output_index(), region=self.head_picker.region_box(),
            ),
            lambda result, r=request: self._on_result(r, result),
            slot=_slot(index),
            on_error=lambda error, r=request: self._on_error(r, error),
            message=f"{self.method_panel.title(panel.method)}…",
        )

    def cancel(self) -> None:
        """Cancel every panel's job (Esc); the panels say 'cancelled'."""
        self.jobs.cancel()
        self._auto_timer.stop()

    def _waiting_for(self, request: tuple) -> list[int]:
        """Panels showing or awaiting `request` (a panel may have moved since it asked)."""
        return [i for i, panel in enumerate(self.panels) if panel.request == request]

    def _on_result(self, request: tuple, result: Any) -> None:
        self.results.put(request, result)
        for index in self._waiting_for(request):
            self._refresh_panel(index)
        self._update_busy()

    def _on_error(self, request: tuple, error: JobError) -> None:
        for index in self._waiting_for(request):
            panel = self.panels[index]
            panel.pending, panel.request = False, None
            self.canvases[index].set_message("cancelled" if error.kind == "cancelled" else "failed")
        self._update_busy()

    def _update_busy(self) -> None:
        """The panels no job is computing for any more stop saying "running…"."""
        for index, panel in enumerate(self.panels):
            if panel.pending and not self.jobs.busy(_slot(index)):
                panel.pending = False

    def _refresh_panel(self, index: int) -> None:
        """Draw the panel's cached result for the current request, or clear it."""
        panel = self.panels[index]
        request = self._request(panel)
        result = self.results.get(request)  # marks it recently used
        if result is None:
            if panel.request != request:
                panel.pending, panel.result = False, None
                self.map_grid.cells[index].show_chart(None)
                self.canvases[index].set_result(None, title=self.method_panel.title(panel.method))
                self.canvases[index].set_message("Run (Ctrl+R) to explain this case" if self.case >= 0 else "")
                if index == self.active:
                    self._show_elapsed(panel)
            return
        panel.request, panel.pending, panel.result = request, False, result
        self._draw(index, result)
        if index == self.active:
            self._show_elapsed(panel)

    def _draw(self, index: int, result: Any) -> None:
        listed = ""
        if isinstance(result, dict):  # one map per input: draw the image input's, list the others
            drawn = next((r for r in result.values() if r.heatmap is not None and r.heatmap.ndim == 3), None)
            listed = "\n".join(f"{name}: " + _top_features(r.maps[0], 3).replace("\n", ", ")
                                for name, r in result.items() if r is not drawn)
            result = drawn or next(iter(result.values()))
        heatmap = result.heatmap[0] if result.heatmap is not None else None
        if heatmap is not None and heatmap.ndim == 1:  # a sequence: channels x time heat strip
            heatmap = result.maps[0].T
        segments = result.segments[0] if result.segments is not None and result.segments.ndim == 3 else None
        self.canvases[index].set_result(heatmap, segments, self._title(result))
        self.map_grid.cells[index].show_chart(result if hasattr(result, "feature_names") else None, self._title(result))
        self.ctx.state.seen[index] = seen_record(self.case, result)  # recorded with a verdict
        tokens = (result.provenance or {}).get("tokens")
        words = (result.provenance or {}).get("token_words")
        text = self.map_grid.cells[index].show_text(bool(words))
        if text is not None:  # a sentence: its words coloured, the top tokens, the prediction
            text.set_case(words, result.maps[0], _prediction(self.case_view, self.ctx.state.class_names),
                          self._title(result))
        elif heatmap is None:  # rows or tokens: no image to paint on, list the strongest units
            self.canvases[index].set_message(_top_features(result.maps[0], names=tokens) + ("\n" + listed if listed else ""))
        elif listed:
            self.canvases[index].title.setText(self.canvases[index].title.text() + f"<br><small>{listed}</small>")
        self.result_shown.emit(index)

    def _title(self, result: Any) -> str:
        params = _params_text(result)
        explained = self.ctx.state.class_names.label(int(result.targets[0]))
        gap = result.completeness_gap
        gap = "" if gap is None else f" · completeness gap {float(gap[0]):+.2g}"
        return (
            f"<b>{self.method_panel.title(result.method)}</b> · {result.elapsed:.2f} s · "
            f"{explained}{gap}<br><small>{params}</small>"
        )

    def _show_elapsed(self, panel: Panel) -> None:
        result = panel.result
        if result is None:
            self.elapsed.setText("")
            return
        self.elapsed.setText(f"{self.method_panel.title(result.method)}: {result.elapsed:.2f} s")

    def _on_display_changed(self, settings: DisplaySettings) -> None:
        for canvas in self.canvases:
            canvas.set_display(settings)

    # ----- export -----------------------------------------------------------------------
    def _shown(self) -> list[tuple[int, Panel]]:
        return [(i, p) for i, p in enumerate(self.panels) if p.result is not None]

    def png_bytes(self) -> bytes:
        """The shown maps at the image's resolution, side by side, each with its caption."""
        image = self.case_view.image if self.case_view is not None else None
        settings = self.display.settings()
        panels = []
        for index, panel in self._shown() or [(0, self.panels[0])]:
            result = panel.result
            heatmap = result.heatmap[0] if result is not None and result.heatmap is not None else None
            caption = "no map" if result is None else canvas_export.caption(
                result, self.method_panel.title(result.method), _params_text(result), _model_sha(self.ctx)
            )
            chart = self.map_grid.cells[index].chart if index < len(self.map_grid.cells) else None
            if chart is not None and chart.isVisibleTo(self):  # a tabular case: its bars and waterfall
                panels.append((chart.image_array(), caption))
                continue
            panels.append((canvas_export.composite(image, heatmap, settings), caption))
        return canvas_export.figure_png(panels)

    def export_png(self, path: str | Path) -> Path:
        written = atomic_write_bytes(path, self.png_bytes())
        self.exported.emit([written])
        return written

    def export_maps(self, stem: str | Path) -> list[Path]:
        """Each shown result as <stem>[_<method>]_maps.npy (+ heatmap, segments) and <stem>.json."""
        extra = {"case": self.case, "case_name": getattr(self.case_view, "name", ""), "model": _model_path(self.ctx)}
        written = canvas_export.write_maps(
            stem, [(p.method, p.result) for _, p in self._shown()], extra,
            scores={p.method: self.scorecard.record(p) for _, p in self._shown()},
        )
        self.exported.emit(written)
        return written

    def _export(self, what: str, write: Any) -> None:
        """Run an export; a failure (full disk, no permission) is said like any job error."""
        try:
            written = write()
        except (OSError, ValueError, GlassboxError) as exc:
            self.jobs.report(JobError("internal", f"Could not save the {what}: {exc}"), f"Export {what}")
            return
        paths = written if isinstance(written, list) else [written]
        self.readout.setText(f"Saved {what}: {', '.join(Path(p).name for p in paths)}")

    def choose_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save canvas as PNG", self._suggested_name("png"), "PNG (*.png)")
        if path:
            self._export("PNG", lambda: self.export_png(path if path.lower().endswith(".png") else f"{path}.png"))

    def choose_maps(self) -> None:
        if not self._shown():
            self.readout.setText("Nothing to export: run a method first.")
            return
        title = "Export raw maps (.npy + provenance .json)"
        path, _ = QFileDialog.getSaveFileName(self, title, self._suggested_name(""))
        if path:
            self._export("maps", lambda: self.export_maps(path.removesuffix(".npy").removesuffix(".json")))

    def choose_csv(self) -> None:
        shown = self._shown()
        if not shown:
            self.readout.setText("Nothing to export: run a method first.")
            return
        panel = self.panels[self.active] if self.panels[self.active].result is not None else shown[0][1]
        path, _ = QFileDialog.getSaveFileName(self, "Export the map as CSV", self._suggested_name("csv"), "CSV (*.csv)")
        if path:
            self._export("CSV", lambda: canvas_export.write_csv(path, panel.result))

    def _suggested_name(self, extension: str) -> str:
        name = f"case{self.case}_{'grid' if len(self.panels) > 1 else self.panels[0].method}"
        return f"{name}.{extension}" if extension else name


def _slot(index: int) -> str:
    return f"panel{index}"


def _params_text(result: Any) -> str:
    return ", ".join(f"{k}={_short(v)}" for k, v in result.params.items() if k not in HIDDEN_IN_TITLE and _short(v))


def _model_sha(ctx: AppContext) -> str:
    return str(getattr(ctx.state.model, "sha256", "") or "")


def _group(title: str, widget: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.addWidget(widget)
    return box


def _top_features(attribution: Any, k: int = 8, names: list[str] | None = None) -> str:
    """The k strongest units: features by index, or tokens by word (padding skipped)."""
    values = np.ravel(attribution)
    order = [i for i in np.argsort(-np.abs(values)) if not names or (i < len(names) and names[i])][:k]
    if names:
        return "\n".join(f"token {i} {names[i]!r}: {values[i]:+.4g}" for i in order)
    return "\n".join(f"feature {i}: {values[i]:+.4g}" for i in order)


def _prediction(view: Any, names: Any) -> list[tuple[str, float]]:
    """(class, probability) of the case's top classes, most probable first."""
    top = getattr(view, "top", None)
    if top is None:
        return []
    return [(names.label(int(c)), float(p)) for c, p in zip(top.classes, top.probabilities)]


def _editable(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _short(value: Any) -> str:
    if hasattr(value, "shape"):
        return ""
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return text if len(text) <= 24 else text[:21] + "…"


def _model_path(ctx: AppContext) -> str:
    return str(getattr(ctx.state.model, "path", "") or "")
