"""The scorecard of the canvas's maps: for each map shown, how far to trust it.

In each map's own cell (gui.panels.map_grid.MapCell.add_panel), under the map: its warnings in
plain words, deletion and insertion AUC with their curves drawn small, MuFidelity, sparseness,
the sanity verdict (model-parameter randomisation), stability (max-sensitivity) and the
region-of-interest scores, each with its meaning on hover (and the baseline a score was made
with). The row under the grid holds the region tool and the perturbation metrics' baseline (kept
in the settings; a new baseline scores the maps again). The fast scores run by
themselves for fast methods; the slow ones (they explain the case again, several times) run
on a click. Scores are cached per map request (the same key as the canvas's result cache) and
exported with the map. Jobs go through the engine thread like every view's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from engine.tasks import ListMetrics, ScoreCase, job_key
from gui.panels.region import RegionTool
from gui.widgets import baseline_choice
from gui.widgets.sparkline import Sparkline

FAST = ("deletion", "insertion", "sparseness")
FIDELITY, SANITY, STABILITY = ("mufidelity",), ("randomisation",), ("max_sensitivity",)
# (metric, label) in the card's two columns, row by row; "region" spans the last row
# (short labels: a cell of a 2x2 grid at 1400x900 is ~230 px wide; the full meaning is on hover)
ROWS = ((("deletion", "Delete"), ("insertion", "Insert")),
        (("mufidelity", "μFidel."), ("sparseness", "Sparse")),
        (("randomisation", "Sanity"), ("max_sensitivity", "Stable")))
NAMES = tuple(name for row in ROWS for name, _ in row) + ("region",)
REGION_MEANING = ("Pointing game (is the map's peak inside the reviewer's region?) and the share of the map's "
                  "positive mass inside it: where the reviewer says the evidence is.")
WARNING_STYLE = "color: #b34700; font-weight: 600;"


class MapCard(QFrame):
    """One map's scores, in the map's own cell (MapCell.add_panel). `run(names)` is connected by the panel."""

    def __init__(self, meanings: dict[str, str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("scorecardCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)  # never squeezed in height
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(1)
        self.warnings = QLabel()
        self.warnings.setObjectName("mapWarnings")
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet(WARNING_STYLE)
        layout.addWidget(self.warnings)
        grid = QGridLayout()
        grid.setVerticalSpacing(0)
        grid.setHorizontalSpacing(6)
        self.values: dict[str, QLabel] = {}
        self.curves: dict[str, Sparkline] = {}
        self.titles: dict[str, QLabel] = {}
        for row, pairs in enumerate(ROWS):
            for side, (name, label) in enumerate(pairs):
                self._add(grid, row, 3 * side, name, label, meanings, span=1)
        self._add(grid, len(ROWS), 0, "region", "Region", meanings, span=5)
        for column in (2, 5):  # the curves take the spare width, beside their values
            grid.setColumnStretch(column, 1)
        layout.addLayout(grid)
        buttons = QHBoxLayout()
        buttons.setSpacing(2)
        self.score_button = QPushButton("Score")
        self.fidelity_button = QPushButton("Fidelity")
        self.sanity_button = QPushButton("Sanity")
        self.stability_button = QPushButton("Stability")
        self.score_button.setToolTip("Deletion, insertion and sparseness of this map (a few forward passes).")
        self.fidelity_button.setToolTip(meanings.get("mufidelity", "") + " 128 masked forward passes.")
        self.sanity_button.setToolTip(meanings.get("randomisation", "") + " Explains the case again 3 times.")
        self.stability_button.setToolTip(meanings.get("max_sensitivity", "") + " Explains the case again 10 times.")
        for button in self.buttons:
            button.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            buttons.addWidget(button)
        layout.addLayout(buttons)
        self.show_scores((), {})

    def _add(self, grid: QGridLayout, row: int, column: int, name: str, label: str, meanings: dict[str, str],
             span: int) -> None:
        title, value = QLabel(label), QLabel("—")
        value.setObjectName(f"score_{name}")
        for widget in (title, value):
            widget.setToolTip(meanings.get(name, ""))
        grid.addWidget(title, row, column)
        grid.addWidget(value, row, column + 1, 1, span)
        self.titles[name], self.values[name] = title, value
        if name in ("deletion", "insertion"):
            line = Sparkline("#c0392b" if name == "deletion" else "#27864a")
            line.setToolTip(meanings.get(name, ""))
            grid.addWidget(line, row, column + 2)
            self.curves[name] = line

    @property
    def buttons(self) -> tuple[QPushButton, ...]:
        return self.score_button, self.fidelity_button, self.sanity_button, self.stability_button

    def set_meanings(self, meanings: dict[str, str]) -> None:
        for name in NAMES:
            for widget in (self.titles[name], self.values[name]):
                widget.setToolTip(meanings.get(name, ""))

    def show_scores(self, warnings: tuple[str, ...], scores: dict[str, Any], busy: str = "",
                    region: Any = None) -> None:
        # the headline of each warning (before its colon) on the card, every full sentence on hover
        self.warnings.setText("\n".join(f"⚠ {w.split(': ', 1)[0]}" for w in warnings))
        self.warnings.setToolTip("\n\n".join(warnings))
        self.warnings.setVisible(bool(warnings))
        for name, label in self.values.items():
            label.setText(_format(scores.get(name)) if name in scores else ("…" if busy and name in busy else "—"))
            label.setToolTip(self.titles[name].toolTip() + _made_with(scores.get(name)))
        for name, line in self.curves.items():
            line.set_curve(getattr(scores.get(name), "curve", None))
        for widget in (self.titles["region"], self.values["region"]):  # a row only while a region is drawn
            widget.setVisible(region is not None)
        if region is not None:
            self.values["region"].setText(
                f"peak {'inside' if region.pointing_hit else 'outside'}, {100 * region.mass_inside:.0f}% of mass inside")


def _made_with(score: Any) -> str:
    """'\nBaseline: blur, σ 5 px' for a score made with a baseline, else ''."""
    params = (getattr(score, "provenance", None) or {}).get("params", {})
    return f"\nBaseline: {baseline_choice.describe(params)}" if "baseline" in params else ""


def _format(score: Any) -> str:
    if score.passed is not None:
        verdict = "passes" if score.passed else "FAILS"
        return f"{verdict} (ρ {score.score:.2f}, < {score.threshold:g})"
    if score.score is None or math.isnan(score.score):
        return "undefined"
    if score.metric == "max_sensitivity":
        return f"{score.score:.3f} ({'stable' if score.score < 0.2 else 'unstable'})"
    return f"{score.score:.3f}"


class ScorecardPanel(QWidget):
    """Cards for the canvas `view`'s panels; see the module docstring. `scored(Scorecard)` fires
    for every set of scores that arrives (the record log's hook, gui/evidence.py)."""

    scored = Signal(object)

    def __init__(self, ctx: Any, view: Any, is_fast: Callable[[str], bool], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx, self.view, self.is_fast = ctx, view, is_fast  # is_fast: the method says it is fast
        self.meanings: dict[str, str] = {}
        self.scores: dict[tuple, dict[str, Any]] = {}  # map request -> metric -> MetricScore
        self.busy: dict[int, str] = {}
        self.region = RegionTool(view)
        self.region.changed.connect(self.refresh)
        self.region_button = QPushButton("Region of interest")
        self.region_button.setObjectName("regionButton")
        self.region_button.setCheckable(True)
        self.region_button.setToolTip("Draw where the evidence should be; each map is scored against it "
                                      "and the region is stored with the case's review.")
        self.region_button.toggled.connect(self.region.set_enabled)
        self.region_shape = QComboBox()
        self.region_shape.setObjectName("regionShape")
        self.region_shape.addItem("Box", "box")
        self.region_shape.addItem("Free-form", "polygon")
        self.region_shape.setToolTip("Box: drag its corners. Free-form: drag the vertices; click an edge to add "
                                     "a vertex there, so any outline can be traced.")
        self.region_shape.currentIndexChanged.connect(lambda _i: self.region.set_shape(self.region_shape.currentData()))
        self.baseline = baseline_choice.BaselineChoice()
        self.baseline.setObjectName("scorecardBaseline")
        self.baseline.set_params(ctx.settings.get(baseline_choice.SETTINGS_KEY, baseline_choice.DEFAULT))
        self.baseline.changed.connect(self._on_baseline)
        self.layout_ = QHBoxLayout(self)  # the region tool's row; the cards sit in the maps' own cells
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.addWidget(self.region_button)
        self.layout_.addWidget(self.region_shape)
        self.layout_.addWidget(self.baseline)
        self.layout_.addStretch(1)
        for cell in view.map_grid.cells:
            self._attach(cell)
        view.map_grid.cell_added.connect(self._attach)
        ctx.state.case_selected.connect(lambda _c: self.region_button.setChecked(False))
        view.result_shown.connect(self._on_result_shown)
        ctx.state.model_changed.connect(lambda _d: self.scores.clear())
        ctx.engine.submit(ListMetrics(), key="scorecard/metrics", on_result=self._on_metrics)

    def set_region_available(self, available: bool) -> None:
        """A region of interest is drawn on pixels: tables and text cases have none."""
        if not available:
            self.region_button.setChecked(False)
        self.region_button.setVisible(available)
        self.region_shape.setVisible(available)

    @property
    def cards(self) -> list[MapCard]:
        """The card of each map cell, in the canvas's panel order."""
        return [cell.findChild(MapCard) for cell in self.view.map_grid.cells]

    def _attach(self, cell: Any) -> None:
        """A new map cell gets its card (deleted with the cell)."""
        index = self.view.map_grid.cells.index(cell)
        card = MapCard(self.meanings)
        for button, names in zip(card.buttons, (FAST, FIDELITY, SANITY, STABILITY)):
            button.clicked.connect(lambda _c=False, i=index, n=names: self.run(i, n))
        cell.add_panel(card)

    def _on_metrics(self, infos: list[dict[str, Any]]) -> None:
        for info in infos:
            direction = "lower is better" if info["better"] == "lower" else "higher is better"
            self.meanings[info["name"]] = f"{info['description']} ({direction})"
        self.meanings["region"] = REGION_MEANING
        for card in self.cards:
            card.set_meanings(self.meanings)
        self.refresh()

    def record(self, panel: Any) -> dict[str, Any]:
        """The panel's scores as JSON-ready data, for the export beside its map."""
        record = {name: score.as_record() for name, score in self.scores.get(self.key(panel), {}).items()}
        region = self.region.scores(panel)
        if region is not None:
            record["region"] = region.as_record()
        return record

    def refresh(self) -> None:
        """Each map cell's card shows its map's cached scores."""
        for index, (panel, card) in enumerate(zip(self.view.panels, self.cards)):
            result = panel.result
            warnings = tuple(getattr(result, "warnings", ()) or ())
            card.show_scores(warnings, self.scores.get(self.key(panel), {}), self.busy.get(index, ""),
                             self.region.scores(panel))
            for button in card.buttons:
                button.setEnabled(result is not None)

    def run(self, index: int, names: tuple[str, ...]) -> None:
        """Score panel `index`'s map with `names` (cached scores are not asked for again)."""
        panel = self.view.panels[index]
        if panel.result is None or panel.request is None:
            return
        cached = self.scores.get(self.key(panel), {})
        missing = [n for n in names if n not in cached]
        if not missing:
            return
        request, metric_params = self.key(panel), self.baseline.params()
        self.busy[index] = self.busy.get(index, "") + " ".join(missing)
        self.refresh()
        self.ctx.engine.submit(
            ScoreCase(
                case=panel.request[0], method=panel.method, names=tuple(missing),
                params=self.view._params(panel), target=panel.request[3], metric_params=metric_params,
            ),
            key=job_key("scorecard", f"panel{index}.{missing[0]}"),
            on_result=lambda card, r=request, i=index: self._on_scores(i, r, card),
            on_error=lambda error, i=index: self._on_error(i, error),
        )

    def key(self, panel: Any) -> tuple:
        """A map's scores are kept per map request and baseline."""
        return panel.request, json.dumps(self.baseline.params(), sort_keys=True)

    def _on_baseline(self, params: dict[str, Any]) -> None:
        """Keep the new baseline, show the scores made with it, and score the fast methods' maps again."""
        self.ctx.settings.set(baseline_choice.SETTINGS_KEY, params)
        self.refresh()
        for index, panel in enumerate(self.view.panels):
            if panel.result is not None and self.is_fast(panel.method):
                self.run(index, FAST)

    def _on_result_shown(self, index: int) -> None:
        if len(self.region.rois) != len(self.view.canvases):
            self.region.sync()
        self.refresh()
        panel = self.view.panels[index] if index < len(self.view.panels) else None
        if panel is not None and self.is_fast(panel.method):
            self.run(index, FAST)

    def _on_scores(self, index: int, request: tuple, card: Any) -> None:
        self.scores.setdefault(request, {}).update(card.scores)
        self.busy.pop(index, None)
        self.refresh()
        self.scored.emit(card)

    def _on_error(self, index: int, error: Any) -> None:
        self.busy.pop(index, None)
        self.refresh()
        if index < len(self.cards) and error.kind != "cancelled":
            lead = "Not scored" if error.kind == "not_supported" else "Scoring failed"  # a limit, not a fault
            self.cards[index].warnings.setText(f"{lead}: {error.message}")
            self.cards[index].warnings.setVisible(True)
