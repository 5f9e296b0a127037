"""The attribution view: one case, one or several methods, overlays the user can tune and export.

Single mode shows one panel; grid mode shows 2-6 panels of the same case with linked zoom/pan,
each with its own method and parameters (click a panel to edit it in the method form). Every
panel's job runs under its own engine key, so the panels queue instead of replacing each other,
and a newer request for a panel cancels its older one. Results are kept in a small GUI-side
dict keyed by (case, method, params, target) on top of the engine's cache, so going back to a
case redraws without even a round trip.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QBuffer, QIODevice, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from engine.export import export_explanation
from engine.fileio import atomic_write_bytes
from engine.jobs import JobError
from gui.views.review import seen_record
from gui.app import show_error
from gui.context import AppContext
from gui.panels.scorecard import ScorecardPanel
from gui.widgets.attribution_canvas import AttributionCanvas, DisplaySettings
from gui.widgets.class_target import ClassTarget
from gui.widgets.head_picker import HeadPicker
from gui.widgets.display_controls import DisplayControls
from gui.widgets.method_panel import MethodPanel

TASKS = "engine.explain_service"
QUICK_LOOK = ("saliency", "integrated_gradients", "gradcam", "occlusion")
GRID_FILL = (*QUICK_LOOK, "smoothgrad", "lime", "gradient_x_input", "rise")
FAST_METHODS = frozenset(
    {"saliency", "gradient_x_input", "guided_backprop", "gradcam", "gradcam_pp", "layercam", "integrated_gradients"}
)
MAX_PANELS = 6
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
    case_shown = Signal(int)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.case = -1
        self.case_view: Any = None
        self.panels: list[Panel] = [Panel("saliency")]
        self.canvases: list[AttributionCanvas] = []
        self.active = 0
        self.results: OrderedDict[tuple, Any] = OrderedDict()
        self.case_views: OrderedDict[int, Any] = OrderedDict()
        self.methods: list[dict[str, Any]] = []
        self.quick_look_methods: tuple[str, ...] = QUICK_LOOK
        self._generation = 0  # bumped when model or dataset change: late answers are dropped
        self._auto_timer = QTimer(self, singleShot=True, interval=AUTO_RUN_DELAY_MS)
        self._auto_timer.timeout.connect(lambda: self.run_panel(self.active))
        self._build()
        state = ctx.state
        state.model_changed.connect(self._on_model_changed)
        state.dataset_changed.connect(lambda _summary: self._forget_case_data())
        state.case_selected.connect(self.show_case)
        state.explain_requested.connect(self.explain)
        state.methods_ranked.connect(self.order_quick_look)
        self._fetch_methods()

    # ----- construction -----------------------------------------------------------------
    def _build(self) -> None:
        self.toolbar = QToolBar()
        self.run_action = self._action("Run", [QKeySequence("Ctrl+R"), QKeySequence("F5")], self.run_all, False)
        self.cancel_action = self._action("Cancel", [QKeySequence("Esc")], self.cancel, False)
        self.cancel_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
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

        self.grid_host = QWidget()
        self.grid_host.setObjectName("canvasGrid")
        self.grid = QGridLayout(self.grid_host)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(4)
        self.readout = QLabel("Select a case to explain it.")
        self.readout.setObjectName("pixelReadout")
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.toolbar)
        left_layout.addWidget(self.grid_host, 1)
        self.scorecard = ScorecardPanel(self.ctx, self, FAST_METHODS)  # one card per map, under the maps
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
        run_button, cancel_button = QPushButton("Run"), QPushButton("Cancel")
        run_button.setToolTip("Run (Ctrl+R, F5)")
        cancel_button.setToolTip("Cancel (Esc)")
        run_button.clicked.connect(self.run_all)
        cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setObjectName("methodProgress")
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
        self.elapsed = QLabel("")
        self.elapsed.setObjectName("elapsed")
        buttons = QHBoxLayout()
        buttons.addWidget(run_button)
        buttons.addWidget(cancel_button)
        self.display = DisplayControls()
        self.display.changed.connect(self._on_display_changed)

        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.addWidget(_group("Case", self.case_label))
        side_layout.addWidget(_group("Output head", self.head_picker))
        side_layout.addWidget(_group("Class target", self.target))
        method_box = _group("Method", self.method_panel)
        method_box.layout().addWidget(self.auto_run)
        method_box.layout().addLayout(buttons)
        method_box.layout().addWidget(self.progress)
        method_box.layout().addWidget(self.elapsed)
        side_layout.addWidget(method_box)
        side_layout.addWidget(_group("Overlay", self.display))
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
        self.ctx.engine.submit(
            "canvas.methods",
            f"{TASKS}:available_methods_task",
            on_result=self._on_methods,
            on_error=lambda error: self.readout.setText(f"No attribution methods: {error.message}"),
        )

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
                self.ctx.engine.cancel(_key(index))
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
        for key in range(count, len(self.panels)):
            self.ctx.engine.cancel(_key(key))
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

    def _sync_canvases(self) -> None:
        """Make one canvas per panel, laid out in a grid, views linked, results redrawn."""
        while len(self.canvases) > len(self.panels):
            canvas = self.canvases.pop()
            self.grid.removeWidget(canvas)
            canvas.deleteLater()
        while len(self.canvases) < len(self.panels):
            index = len(self.canvases)
            canvas = AttributionCanvas()
            canvas.hovered.connect(self.readout.setText)
            canvas.clicked.connect(lambda i=index: self.set_active(i))
            canvas.set_display(self.display.settings())
            canvas.set_image(self.case_view.image if self.case_view is not None else None)
            if self.canvases:
                canvas.link_to(self.canvases[0])
            self.canvases.append(canvas)
        columns = 1 if len(self.panels) == 1 else (2 if len(self.panels) <= 4 else 3)
        for index, canvas in enumerate(self.canvases):
            self.grid.addWidget(canvas, index // columns, index % columns)
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
        self.auto_run.setChecked(method in FAST_METHODS)
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
        self.cancel()
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

    def _forget_case_data(self) -> None:
        """A new model or dataset: every cached result and image is stale."""
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
        self._generation += 1

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
            self.ctx.engine.submit(
                "canvas.case",
                f"{TASKS}:case_view_task",
                case=case,
                on_result=self._current(self._on_case_view),
                on_error=lambda error: show_error(self, error, "Could not show the case"),
            )
        if self.auto_run.isChecked():
            self.run_all()
        else:
            self.cancel()
            for index in range(len(self.panels)):
                self._refresh_panel(index)

    def _current(self, callback: Any) -> Any:
        """Wrap a result callback so that an answer about an older model or dataset is dropped."""
        generation = self._generation

        def deliver(result: Any) -> None:
            if generation == self._generation:
                callback(result)

        return deliver

    def _on_case_view(self, view: Any) -> None:
        self.case_views[view.case] = view
        while len(self.case_views) > CASE_CACHE_SIZE:
            self.case_views.popitem(last=False)
        if view.case == self.case:
            self._apply_case_view(view)

    def _apply_case_view(self, view: Any) -> None:
        self.case_view = view
        for canvas in self.canvases:
            canvas.set_image(None if view is None else view.image)
        if view is None:
            return
        self.head_picker.set_case(view)
        self._fill_target(view)
        label = "unknown" if view.label < 0 else self.target.class_name(view.label)
        self.case_label.setText(f"{view.name} (case {view.case})\ntrue label: {label}")
        self.readout.setText("Hover the image for pixel values; wheel zooms, drag pans.")
        self.case_shown.emit(view.case)

    def _output_index(self) -> int | None:
        """The head to explain; None for the model's default (first classifier) head."""
        index = self.head_picker.index()
        return None if index is None or index == getattr(self, "_default_head", 0) else index

    def _fill_target(self, view: Any) -> None:
        """Classes of the chosen head: the case's top predictions for the default classifier head,
        else just its targets (labels, regression units, map classes)."""
        head = self.head_picker.head()
        if head is None or (self._output_index() is None and view.top.n_classes):
            self.target.set_predictions(view.top)
        else:
            self.target.set_choices(head.n_classes)

    def _on_head_changed(self, _index: Any) -> None:
        self.target.reset()
        if self.case_view is not None:
            self._fill_target(self.case_view)
        self.head_picker.set_case(self.case_view)
        self.run_all()

    def _on_kind_chosen(self, head: int, kind: str) -> None:
        """The user says what a head is: the engine re-kinds it and every view re-reads the model."""
        self.ctx.engine.submit(
            "canvas.head_kind",
            "engine.heads:set_head_kind_task",
            head=head,
            kind=kind,
            on_result=self.ctx.state.set_model,
            on_error=lambda error: show_error(self, error, "Could not change the head's kind"),
        )

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

    def _request(self, panel: Panel) -> tuple:
        params = json.dumps(self._params(panel), sort_keys=True, default=str)
        region = self.head_picker.region_box()
        return (self.case, panel.method, params, self.target.target(), self._output_index(), str(region))

    def run_all(self) -> None:
        for index in range(len(self.panels)):
            self.run_panel(index)

    def run_panel(self, index: int) -> None:
        """Show the panel's cached result, or ask the engine (replacing the panel's older job)."""
        if self.case < 0 or index >= len(self.panels):
            return
        panel = self.panels[index]
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
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.ctx.engine.submit(
            _key(index),
            f"{TASKS}:explain_case_task",
            case=self.case,
            method=panel.method,
            params=self._params(panel),
            target=self.target.target(),
            output_index=self._output_index(),
            region=self.head_picker.region_box(),
            on_result=self._current(lambda result, r=request: self._on_result(r, result)),
            on_error=lambda error, r=request: self._on_error(r, error),
            on_progress=self._on_progress,
        )

    def cancel(self) -> None:
        """Cancel every panel's job (Esc); the panels say 'cancelled'."""
        for index in range(MAX_PANELS):
            self.ctx.engine.cancel(_key(index))
        self._auto_timer.stop()

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.progress.setFormat(message or "%p%")

    def _waiting_for(self, request: tuple) -> list[int]:
        """Panels showing or awaiting `request` (a panel may have moved since it asked)."""
        return [i for i, panel in enumerate(self.panels) if panel.request == request]

    def _on_result(self, request: tuple, result: Any) -> None:
        self.results[request] = result
        while len(self.results) > RESULT_CACHE_SIZE:
            self.results.popitem(last=False)
        for index in self._waiting_for(request):
            self._refresh_panel(index)
        self._update_busy()

    def _on_error(self, request: tuple, error: JobError) -> None:
        for index in self._waiting_for(request):
            panel = self.panels[index]
            panel.pending, panel.request = False, None
            self.canvases[index].set_message("cancelled" if error.kind == "cancelled" else "failed")
        if error.kind != "cancelled":
            show_error(self, error, f"Could not explain with {request[1]}")
        self._update_busy()

    def _update_busy(self) -> None:
        self.progress.setVisible(any(panel.pending for panel in self.panels))

    def _refresh_panel(self, index: int) -> None:
        """Draw the panel's cached result for the current request, or clear it."""
        panel = self.panels[index]
        request = self._request(panel)
        result = self.results.get(request)
        if result is None:
            if panel.request != request:
                panel.pending, panel.result = False, None
                self.canvases[index].set_result(None, title=self.method_panel.title(panel.method))
                self.canvases[index].set_message("Run (Ctrl+R) to explain this case" if self.case >= 0 else "")
                if index == self.active:
                    self._show_elapsed(panel)
            return
        self.results.move_to_end(request)
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
        self.ctx.state.seen[index] = seen_record(self.case, result)  # recorded with a verdict
        tokens = (result.provenance or {}).get("tokens")
        if heatmap is None:  # rows or tokens: no image to paint on, list the strongest units
            self.canvases[index].set_message(_top_features(result.maps[0], names=tokens) + ("\n" + listed if listed else ""))
        elif listed:
            self.canvases[index].title.setText(self.canvases[index].title.text() + f"<br><small>{listed}</small>")
        self.result_shown.emit(index)

    def _title(self, result: Any) -> str:
        params = ", ".join(
            f"{k}={_short(v)}" for k, v in result.params.items() if k not in HIDDEN_IN_TITLE and _short(v)
        )
        target = int(result.targets[0])
        name = self.target.class_name(target)
        explained = name if name == f"class {target}" else f"class {target} ({name})"
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
    def png_bytes(self) -> bytes:
        """The panels (single canvas or whole grid) as PNG bytes."""
        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        self.grid_host.grab().save(buffer, "PNG")
        return bytes(buffer.data())

    def export_png(self, path: str | Path) -> Path:
        written = atomic_write_bytes(path, self.png_bytes())
        self.exported.emit([written])
        return written

    def export_maps(self, stem: str | Path) -> list[Path]:
        """Each shown result as <stem>[_<method>]_maps.npy (+ heatmap, segments) and <stem>.json."""
        shown = [p for p in self.panels if p.result is not None]
        written: list[Path] = []
        for panel in shown:
            path = Path(stem) if len(shown) == 1 else Path(f"{stem}_{panel.method}")
            extra = {
                "case": self.case,
                "case_name": getattr(self.case_view, "name", ""),
                "model": _model_path(self.ctx),
                "scores": self.scorecard.record(panel),
            }
            written += export_explanation(path, panel.result, extra)
        self.exported.emit(written)
        return written

    def choose_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save canvas as PNG", self._suggested_name("png"), "PNG (*.png)")
        if path:
            self.export_png(path if path.lower().endswith(".png") else f"{path}.png")

    def choose_maps(self) -> None:
        if not any(p.result is not None for p in self.panels):
            self.readout.setText("Nothing to export: run a method first.")
            return
        title = "Export raw maps (.npy + provenance .json)"
        path, _ = QFileDialog.getSaveFileName(self, title, self._suggested_name(""))
        if path:
            self.export_maps(path.removesuffix(".npy").removesuffix(".json"))

    def _suggested_name(self, extension: str) -> str:
        name = f"case{self.case}_{'grid' if len(self.panels) > 1 else self.panels[0].method}"
        return f"{name}.{extension}" if extension else name


def _key(index: int) -> str:
    return f"canvas.panel{index}"


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


def _editable(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _short(value: Any) -> str:
    if hasattr(value, "shape"):
        return ""
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return text if len(text) <= 24 else text[:21] + "…"


def _model_path(ctx: AppContext) -> str:
    return str(getattr(ctx.state.model, "path", "") or "")
