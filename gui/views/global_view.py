"""The Global view: how the model uses its features over the whole open dataset.

Run permutation importance, NormLIME or an attribution summary (any local method, every case)
as a background engine job (progress bar, Cancel, Esc). Read the importance bars with their
spread (std over repeats, or over cases), a SHAP-style beeswarm (each case a dot per feature:
its attribution, coloured by the feature's value), a dependence plot (a feature's value against
its attribution; click a point to open that case in the canvas), and for images the
class-average maps. Results are cached by the engine and recorded in the evidence log
(`result_shown`, gui.evidence).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.global_explanations.results import AttributionSummary, GlobalResult, NormLime, PermutationImportance
from engine.tasks import AttributionSummaryRequest, NormLimeRequest, PermutationImportanceRequest
from gui.context import AppContext
from gui.jobs import ViewJobs
from gui.panels.global_plots import IMPACT, Beeswarm, ClassMaps, DependencePlot, ImportanceChart

KINDS = ("Permutation importance", "NormLIME", "Attribution summary")
DEFAULT_CASES = (1000, 200, 500)
SUMMARY_METHODS = (
    ("gradient_x_input", "Gradient x Input"), ("integrated_gradients", "Integrated Gradients"),
    ("saliency", "Saliency"), ("smoothgrad", "SmoothGrad"), ("expected_gradients", "Expected Gradients"),
    ("kernel_shap", "Kernel SHAP"), ("occlusion", "Occlusion"),
)
TABS = ("Importance", "Beeswarm", "Dependence", "Class maps")


class GlobalView(QWidget):
    result_shown = Signal(object)  # a GlobalResult just drawn (gui.evidence records it)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.jobs = ViewJobs(self, ctx.engine, "global", "Global explanation failed", inline=self._say)
        self.result: GlobalResult | None = None  # what the Importance tab shows
        self.summary: AttributionSummary | NormLime | None = None  # what the beeswarm and dependence plots show
        self._build()
        ctx.state.model_changed.connect(lambda _: self.reset())
        ctx.state.dataset_changed.connect(lambda _: self.reset())
        self.reset()

    # ----- layout -------------------------------------------------------------------------
    def _build(self) -> None:
        self.kind = QComboBox()
        self.kind.setObjectName("globalKind")
        self.kind.addItems(KINDS)
        self.method = QComboBox()
        self.method.setObjectName("globalMethod")
        for name, title in SUMMARY_METHODS:
            self.method.addItem(title, name)
        self.scoring = QComboBox()
        self.scoring.setObjectName("globalScoring")
        self.scoring.addItem("accuracy", "accuracy")
        self.scoring.addItem("log loss", "log_loss")
        self.repeats = _spin(1, 100, 5, "globalRepeats", "Permutation importance: repeats of each permutation; "
                             "NormLIME: LIME samples per case")
        self.cases = _spin(2, 1_000_000, DEFAULT_CASES[0], "globalCases", "At most this many cases (a seeded sample beyond)")
        self.cell = _spin(1, 256, 4, "globalCell", "Images: the side of a grid cell, in pixels (one feature per cell); "
                          "with superpixels, how many SLIC segments of the mean image")
        self.units = QComboBox()
        self.units.setObjectName("globalUnits")
        self.units.setToolTip("Images: what one feature is, for permutation importance and NormLIME")
        self.units.addItem("grid cells", "grid")
        self.units.addItem("superpixels", "slic")
        self.head = QComboBox()
        self.head.setObjectName("globalHead")
        self.head.setToolTip("The output explained (a model with several heads): its importances are its own")
        self.run_button = QPushButton("Run")
        self.run_button.setObjectName("globalRun")
        self.run_button.clicked.connect(self.run)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        form = QGridLayout()
        form.setContentsMargins(0, 0, 0, 0)
        for row, (label, widget) in enumerate((("explain", self.kind), ("method", self.method), ("output", self.head))):
            form.addWidget(QLabel(label), row, 0)
            form.addWidget(widget, row, 1, 1, 3)
        self.repeats_label = QLabel("repeats")
        self.cell_label = QLabel("image cell")
        self.units.currentIndexChanged.connect(
            lambda _: self.cell_label.setText("segments" if self.units.currentData() == "slic" else "image cell"))
        for i, (label, widget) in enumerate((("scoring", self.scoring), (self.repeats_label, self.repeats),
                                             ("cases", self.cases), (self.cell_label, self.cell))):
            form.addWidget(label if isinstance(label, QLabel) else QLabel(label), 3 + i // 2, 2 * (i % 2))
            form.addWidget(widget, 3 + i // 2, 2 * (i % 2) + 1)
        form.addWidget(QLabel("image features"), 5, 0, 1, 2)
        form.addWidget(self.units, 5, 2, 1, 2)
        form.addWidget(self.run_button, 6, 0, 1, 4)
        self.message = QLabel("")
        self.message.setObjectName("globalMessage")
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        side = QWidget()
        side.setObjectName("globalControls")
        side.setFixedWidth(340)
        column = QVBoxLayout(side)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(form)
        column.addWidget(self.jobs.bar)
        column.addWidget(self.message, 1)

        self.bars = ImportanceChart()
        self.class_choice = QComboBox()
        self.class_choice.setObjectName("globalClass")
        self.class_choice.currentIndexChanged.connect(lambda _: self._draw_importance())
        self.swarm = Beeswarm()
        self.dependence = DependencePlot()
        self.dependence.picked.connect(self.open_point)
        self.feature = QComboBox()
        self.feature.setObjectName("globalFeature")
        self.feature.currentIndexChanged.connect(lambda _: self._draw_dependence())
        self.maps = ClassMaps()

        self.tabs = QTabWidget()
        self.tabs.setObjectName("globalTabs")
        self.tabs.addTab(_with_header(self.bars, QLabel("class"), self.class_choice), TABS[0])
        legend = QLabel("dot: one case · colour: the feature's value, <span style='color:#008afa'>low</span>"
                        " → <span style='color:#ff0052'>high</span>")
        self.tabs.addTab(_hinted(_with_header(self.swarm, legend)), TABS[1])
        self.tabs.addTab(_hinted(_with_header(self.dependence, QLabel("feature"), self.feature)), TABS[2])
        self.maps_note = QLabel("")
        self.maps_note.setWordWrap(True)
        self.tabs.addTab(_hinted(_with_header(self.maps, self.maps_note)), TABS[3])
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(side)
        layout.addWidget(self.tabs, 1)
        self._kind_changed(0)

    def _kind_changed(self, index: int) -> None:
        self.method.setEnabled(index == 2)
        self.scoring.setEnabled(index == 0)
        self.repeats.setEnabled(index in (0, 1))
        images = getattr(self.ctx.state.dataset, "kind", "images") == "images"  # the region controls mean nothing for rows
        self.units.setEnabled(index in (0, 1) and images)
        self.cell.setEnabled(index in (0, 1) and images)
        self.repeats_label.setText("samples" if index == 1 else "repeats")
        self.repeats.setRange(*((10, 100_000) if index == 1 else (1, 100)))
        self.repeats.setValue(300 if index == 1 else 5)
        self.cases.setValue(DEFAULT_CASES[index])

    # ----- running ------------------------------------------------------------------------
    def request(self) -> Any:
        """The Request the controls describe."""
        index, cases, cell = self.kind.currentIndex(), self.cases.value(), self.cell.value()
        units = {"features": self.units.currentData(), "cell_size": cell, "n_segments": cell}
        head = self.head.currentData()
        if index == 0:
            return PermutationImportanceRequest(n_repeats=self.repeats.value(), scoring=self.scoring.currentData(),
                                                max_cases=cases, head=head, **units)
        if index == 1:
            return NormLimeRequest(nb_samples=self.repeats.value(), max_cases=cases, head=head, **units)
        return AttributionSummaryRequest(method=self.method.currentData(), max_cases=cases, head=head)

    def run(self) -> None:
        state = self.ctx.state
        if state.model is None or state.dataset is None:
            self._say("Open a model and its cases first.")
            return
        self._say("")
        self.jobs.start(self.request(), self.show_result, message=f"{self.kind.currentText()}…")

    def reset(self) -> None:
        """The model or the dataset changed: nothing shown belongs to it any more."""
        self.jobs.forget()
        self.result = self.summary = None
        for plot in (self.bars, self.swarm, self.dependence):
            plot.clear()
        self.maps.clear()
        self.feature.clear()
        self._fill_heads()
        self._fill_classes(None)
        self._kind_changed(self.kind.currentIndex())
        self._hint("Run NormLIME or an attribution summary to see every case here.")
        self._say("Choose what to explain and press Run: it runs over the open cases."
                  if self.ctx.state.dataset is not None else "Open a model and its cases first.")

    # ----- showing ------------------------------------------------------------------------
    def show_result(self, result: GlobalResult) -> None:
        self.result = result
        self._fill_classes(result)
        self._draw_importance()
        per_case = _per_case(result)
        if per_case is not None:
            self.summary = result
            self._hint("")
            values, feature_values, ranking, quantity = per_case
            self.swarm.show_values(result.feature_names, values, feature_values,
                                   IMPACT if quantity == "attribution" else f"{quantity}, signed as the case's LIME weight")
            self.feature.blockSignals(True)
            self.feature.clear()
            for f in np.argsort(-ranking, kind="stable"):
                self.feature.addItem(result.feature_names[f], int(f))
            self.feature.blockSignals(False)
            self._draw_dependence()
        self._draw_maps(result)
        self._hint_maps()
        took = f"{len(result.cases)} cases, {result.rows:,} model rows in {result.model_calls:,} calls, {result.elapsed:.1f} s"
        labels = result.provenance.get("labels", "")
        self._say(f"{self.kind.itemText(_kind_index(result))}: {took}" + (f"; scored against {labels}" if labels else ""))
        self.result_shown.emit(result)

    def _fill_heads(self) -> None:
        """One entry per output of the open model, the first classifier head chosen (None: as the engine picks)."""
        heads = tuple(getattr(self.ctx.state.model, "heads", ()) or ())
        self.head.clear()
        self.head.addItem("first classifier head" if len(heads) != 1 else heads[0].title, None)
        for h in heads if len(heads) > 1 else ():
            self.head.addItem(h.title, h.index)
        self.head.setEnabled(len(heads) > 1)

    def _fill_classes(self, result: GlobalResult | None) -> None:
        self.class_choice.blockSignals(True)
        self.class_choice.clear()
        self.class_choice.addItem("all classes", -1)
        counts = getattr(result, "class_counts", None)
        if counts is not None:
            for k, n in enumerate(counts):
                if n:
                    self.class_choice.addItem(f"{self._class_name(k)} ({n} cases)", k)
        self.class_choice.setEnabled(counts is not None)
        self.class_choice.blockSignals(False)

    def _draw_importance(self) -> None:
        r = self.result
        if r is None:
            return
        k = self.class_choice.currentData()
        k = -1 if k is None else int(k)
        if isinstance(r, PermutationImportance):
            label = f"drop in {r.scoring.replace('neg_', '').replace('_', ' ')} (mean ± std over {r.importances.shape[1]} repeats)"
            self.bars.show_values(r.feature_names, r.importances_mean, r.importances_std, label)
        elif isinstance(r, NormLime):
            normalised = np.abs(r.normalised)
            rows = normalised if k < 0 else normalised[r.classes == k]
            values = r.importances if k < 0 else r.by_class[k]
            self.bars.show_values(r.feature_names, values, rows.std(axis=0), "NormLIME weight (mean ± std over cases)")
        elif isinstance(r, AttributionSummary):
            rows = np.abs(r.values) if k < 0 else np.abs(r.values[r.classes == k])
            values = r.mean_abs if k < 0 else r.mean_abs_by_class[k]
            self.bars.show_values(r.feature_names, values, rows.std(axis=0), f"mean |{r.method}| (± std over cases)")

    def _draw_dependence(self) -> None:
        r, f = self.summary, self.feature.currentData()
        if r is None or f is None:
            return
        names = [self._class_name(k) for k in range(len(r.class_counts))]
        values, feature_values, _, quantity = _per_case(r)
        self.dependence.show_values(feature_values[:, f], values[:, f], r.classes, r.feature_names[f], names, quantity)

    def _draw_maps(self, r: GlobalResult) -> None:
        scale = "one colour scale for all maps, black 0 → yellow the largest"
        self.maps_note.setText({
            AttributionSummary: f"mean |{getattr(r, 'method', '')}| per pixel over the cases explained as each class; {scale}",
            PermutationImportance: f"each region's permutation importance (drop in score, negatives as 0); {scale}",
            NormLime: f"each region's NormLIME weight over the cases predicted as each class; {scale}",
        }[type(r)])
        if isinstance(r, AttributionSummary) and r.shape:
            shown = np.flatnonzero(r.class_counts)
            self.maps.show_maps([r.mean_abs_by_class[k].reshape(r.shape) for k in shown],
                                [self._class_name(int(k)) for k in shown])
        elif r.segments is not None and isinstance(r, PermutationImportance):
            self.maps.show_maps([np.clip(r.importances_mean, 0, None)[r.segments]], ["all classes"])
        elif r.segments is not None and isinstance(r, NormLime):
            shown = np.flatnonzero(r.class_counts)
            self.maps.show_maps([r.by_class[k][r.segments] for k in shown], [self._class_name(int(k)) for k in shown])

    def open_point(self, index: int) -> None:
        """A dependence point was clicked: open its case in the canvas."""
        if self.summary is None or not 0 <= index < len(self.summary.cases):
            return
        case = int(self.summary.cases[index])
        self.ctx.state.select_case(case)
        self.ctx.state.explain_requested.emit(case, "")

    # ----- small helpers ------------------------------------------------------------------
    def _class_name(self, k: int) -> str:
        return self.ctx.state.class_names.name(k)

    def _say(self, text: str) -> None:
        self.message.setText(text)

    def _hint(self, text: str) -> None:
        """Say what to run where the beeswarm and dependence plot have nothing to show."""
        for i in (1, 2):
            self.tabs.widget(i).hint(text)
        self._hint_maps()

    def _hint_maps(self) -> None:
        images = getattr(self.ctx.state.dataset, "kind", "") == "images"
        empty = "Run a global explanation to see the class-average maps." if images else "Class-average maps are drawn for images."
        self.tabs.widget(3).hint("" if self.maps.maps else empty)


class _Hinted(QStackedWidget):
    """A plot, or a line saying what to run to fill it."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__()
        self.label = QLabel("")
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setWordWrap(True)
        self.addWidget(widget)
        self.addWidget(self.label)

    def hint(self, text: str) -> None:
        self.label.setText(text)
        self.setCurrentIndex(1 if text else 0)


def _hinted(widget: QWidget) -> _Hinted:
    return _Hinted(widget)


def _with_header(plot: QWidget, *header: QWidget) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    row = QHBoxLayout()
    for widget in header:
        row.addWidget(widget)
    row.addStretch(1)
    layout.addLayout(row)
    layout.addWidget(plot, 1)
    return box


def _spin(low: int, high: int, value: int, name: str, tip: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    spin.setObjectName(name)
    spin.setToolTip(tip)
    return spin


def _kind_index(result: GlobalResult) -> int:
    return {PermutationImportance: 0, NormLime: 1, AttributionSummary: 2}.get(type(result), 0)


def _per_case(r: GlobalResult) -> tuple[np.ndarray, np.ndarray, np.ndarray, str] | None:
    """What the beeswarm and the dependence plot draw of a result with per-case values: (N, F)
    values, (N, F) feature values, (F,) the ranking score and the quantity's name; None for
    permutation importance (one number per feature and repeat, no per-case values)."""
    if isinstance(r, AttributionSummary):
        return r.values, r.feature_values, r.mean_abs, "attribution"
    if isinstance(r, NormLime):
        shown = r.normalised
        known = r.feature_values if r.feature_values is not None else np.zeros_like(shown)
        return shown, known, r.importances, "NormLIME weight"
    return None
