"""The What-if view (LIT's datapoint editor, native): edit the selected case, see the model answer.

Text cases: edit the sentence; tabular cases: change a feature (a field, or a slider over the
range seen in the dataset); image cases: paint, erase, blur or shift under a brush. Each edit is
debounced (EDIT_DELAY_MS), then sent as two INTERACTIVE requests in their own job slots: the
prediction (engine.whatif.whatif_predict_task) and the map of the chosen fast method
(whatif_explain_task). A newer edit replaces both, and the job helper drops any stale answer
by request id. The time from the edit to each answer is shown and kept in `timings` (the bench
reads it). "Keep as counterfactual" stores the edit beside the review file and lists the edited
case as a new case, linked to its origin.
"""

from __future__ import annotations

import html
import time
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from engine.jobs import JobError
from engine.tasks.requests import KeepCounterfactual, ListMethods, LoadCounterfactuals, WhatIfCaseRequest, WhatIfExplain, WhatIfPredict
from gui.context import AppContext
from gui.jobs import ViewJobs
from gui.method_defaults import default_method
from gui.panels.text_tokens import TextTokens
from gui.panels.whatif_editors import BrushEditor, FeatureEditor, SentenceEditor

EDIT_DELAY_MS = 25  # typing and sliders settle this long before the engine is asked
MAP_METHODS = ("saliency", "gradient_x_input", "integrated_gradients", "smoothgrad")
TOP_FEATURES = 10


class WhatIfView(QWidget):
    """See the module docstring. `answered(what)` fires with "prediction" or "map"."""

    answered = Signal(str)

    wants_height = 0.45  # of the window, when raised: the brush and its map need the room

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.case = -1
        self.kind = ""
        self.edit: dict[str, Any] | None = None
        self.origin_prediction: Any = None
        self.prediction: Any = None
        self.explanation: Any = None
        self.timings: list[dict[str, float]] = []  # per answered edit: ms from the edit to each answer
        self._edited_at = 0.0
        self._pending = False  # the shown case is stale until this view is visible
        self.jobs = ViewJobs(self, ctx.engine, "whatif", "What-if", inline=self._say)
        self._timer = QTimer(self, singleShot=True, interval=EDIT_DELAY_MS)
        self._timer.timeout.connect(self._submit)
        self._build()
        state = ctx.state
        state.case_selected.connect(self._on_case_selected)
        state.model_changed.connect(lambda _d: self._reset())
        state.dataset_changed.connect(lambda _s: self._reset())
        state.review_file_changed.connect(self._load_counterfactuals)
        self.jobs.start(ListMethods(), self._on_methods, slot="methods", quiet=True)

    # ----- construction -----------------------------------------------------------------
    def _build(self) -> None:
        self.header = QLabel("Select a case to edit it.")
        self.header.setObjectName("whatifHeader")
        self.header.setWordWrap(True)
        self.method = QComboBox()
        self.method.setObjectName("whatifMethod")
        for name in MAP_METHODS:
            self.method.addItem(name, name)
        self.method.currentIndexChanged.connect(lambda _i: self._schedule())
        self.sentence = SentenceEditor()
        self.features = FeatureEditor()
        self.brush = BrushEditor()
        self.none = QLabel("What-if editing handles text, tabular and image cases.")
        self.editors = QStackedWidget()
        for widget in (self.none, self.sentence, self.features, self.brush):
            self.editors.addWidget(widget)
        for editor in (self.sentence, self.features, self.brush):
            editor.edited.connect(self.on_edit)
        self.tokens = TextTokens(compact=True)
        self.feature_map = QLabel("")
        self.feature_map.setObjectName("whatifFeatureMap")
        self.feature_map.setWordWrap(True)
        self.maps = QStackedWidget()
        for widget in (QLabel(""), self.tokens, self.feature_map):
            self.maps.addWidget(widget)
        self.predicted = QLabel("")
        self.predicted.setObjectName("whatifPrediction")
        self.predicted.setWordWrap(True)
        self.latency = QLabel("")
        self.latency.setObjectName("whatifLatency")
        self.reset_button = QPushButton("Reset")
        self.reset_button.clicked.connect(lambda: self._load_case(self.case))
        self.keep_button = QPushButton("Keep as counterfactual")
        self.keep_button.setObjectName("keepCounterfactual")
        self.keep_button.setToolTip("Add the edited case to the case list, linked to this one (saved beside the review file)")
        self.keep_button.clicked.connect(self.keep)
        self.keep_button.setEnabled(False)
        self.header.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.predicted.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.latency.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        method_row = QHBoxLayout()
        method_row.addWidget(QLabel("Map:"))
        method_row.addWidget(self.method, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.reset_button)
        buttons.addWidget(self.keep_button)
        buttons.addStretch(1)
        self.status = QWidget()  # the answer in words and the actions: under the editor, or beside the image
        status_layout = QVBoxLayout(self.status)
        status_layout.setContentsMargins(0, 0, 0, 0)
        status_layout.addWidget(self.latency)
        status_layout.addLayout(buttons)
        status_layout.addWidget(self.jobs.bar)
        status_layout.addStretch(1)
        left, right = QWidget(), QWidget()
        self.left_layout, self.right_layout = QVBoxLayout(left), QVBoxLayout(right)
        for column in (self.left_layout, self.right_layout):
            column.setContentsMargins(0, 0, 0, 0)
        self.left_layout.addWidget(self.editors, 1)
        self.right_layout.addLayout(method_row)
        self.right_layout.addWidget(self.maps, 1)
        self.left_layout.addWidget(self.status)
        splitter = QSplitter(Qt.Orientation.Horizontal)  # the editor beside the answer: the bottom dock is wide
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setChildrenCollapsible(False)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([2000, 3000])
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(self.predicted)  # the answer stays in sight however short the dock is
        layout.addWidget(splitter, 1)

    def _say(self, message: str) -> None:
        self.latency.setText(message)

    def _on_methods(self, methods: list[dict[str, Any]]) -> None:
        """Fast methods only: a map must follow an edit within a fraction of a second."""
        keep = self.method.currentData()
        self.method.blockSignals(True)
        self.method.clear()
        for info in methods:
            if info.get("fast") and not info.get("image_only"):
                self.method.addItem(info.get("title") or info["name"], info["name"])
        index = self.method.findData(keep)
        self.method.setCurrentIndex(max(0, index))
        self.method.blockSignals(False)

    # ----- cases ------------------------------------------------------------------------
    def _reset(self) -> None:
        self.jobs.forget()
        self._timer.stop()
        self.case, self.edit, self.prediction, self.origin_prediction = -1, None, None, None
        self.keep_button.setEnabled(False)
        self.editors.setCurrentWidget(self.none)
        self.header.setText("Select a case to edit it.")

    def _on_case_selected(self, case: int) -> None:
        if self.isVisible():
            self._load_case(case)
        else:
            self._pending = True  # loaded when the view is shown

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._pending or (self.case < 0 and self.ctx.state.case >= 0):
            self._pending = False
            self._load_case(self.ctx.state.case)

    def _load_case(self, case: int) -> None:
        if case < 0 or self.ctx.state.dataset is None:
            return
        self.jobs.forget()
        self._timer.stop()
        self.case, self.edit, self.prediction, self.explanation = case, None, None, None
        self.keep_button.setEnabled(False)
        self.header.setText(f"Loading case {case}…")
        self.jobs.start(WhatIfCaseRequest(case=case), self._on_case, slot="case", quiet=True)

    def _on_case(self, case: Any) -> None:
        if case.case != self.case:
            return
        if case.kind != self.kind:  # each kind starts with the map that suits it
            self.method.blockSignals(True)
            self.method.setCurrentIndex(max(0, self.method.findData(default_method(case.kind))))
            self.method.blockSignals(False)
            image = case.kind == "images"  # its map is drawn on the brush canvas: the words go beside it
            (self.right_layout if image else self.left_layout).addWidget(self.status)
        self.kind = case.kind
        editor = {"text": self.sentence, "tabular": self.features, "images": self.brush}[case.kind]
        editor.set_case(case)
        self.editors.setCurrentWidget(editor)
        self.maps.setCurrentIndex({"text": 1, "tabular": 2}.get(case.kind, 0))
        self.maps.setVisible(case.kind != "images")  # an image's map is drawn on the brush canvas
        name = str(self.ctx.state.dataset.names[case.case])
        title = f"case {case.case}" if name == f"case {case.case}" else f"case {case.case}: {html.escape(name)}"
        self.header.setText(f"<b>What if</b> {title} were different? Edit it; the prediction and the map follow.")
        self.on_edit(self._unedited(case), origin=True)

    @staticmethod
    def _unedited(case: Any) -> dict[str, Any]:
        if case.kind == "text":
            return {"kind": "text", "text": case.text}
        if case.kind == "tabular":
            return {"kind": "columns" if case.by_name else "features", "values": {}}
        return {"kind": "brush", "strokes": []}

    # ----- edits ------------------------------------------------------------------------
    def on_edit(self, edit: dict[str, Any], origin: bool = False) -> None:
        """An editor changed the case: ask for the new prediction and map once typing settles."""
        if self.case < 0:
            return
        self.edit = edit
        self._origin = origin
        self._edited_at = time.perf_counter()
        self._timer.start()

    def _schedule(self) -> None:
        if self.edit is not None:
            self.on_edit(self.edit, origin=self.origin_prediction is None)

    def _submit(self) -> None:
        if self.edit is None or self.case < 0:
            return
        edit, edited_at, origin = self.edit, self._edited_at, self._origin
        self.jobs.start(WhatIfPredict(case=self.case, edit=edit),
                        lambda p: self._on_prediction(p, edited_at, origin), slot="predict", quiet=True)
        method = self.method.currentData() or "saliency"
        self.jobs.start(WhatIfExplain(case=self.case, edit=edit, method=method),
                        lambda e: self._on_map(e, edited_at), slot="map", quiet=True,
                        on_error=self._on_map_error)

    def _on_prediction(self, prediction: Any, edited_at: float, origin: bool) -> None:
        if origin:
            self.origin_prediction = prediction
        self.prediction = prediction
        self.timings.append({"prediction_ms": 1000 * (time.perf_counter() - edited_at),
                             "prediction_engine_ms": 1000 * prediction.elapsed})
        self.keep_button.setEnabled(not origin and self._changed(prediction.edit))
        self.predicted.setText(self._prediction_html(prediction))
        if prediction.image is not None:
            self.brush.canvas.set_image(prediction.image)
        self.latency.setText(f"prediction {self.timings[-1]['prediction_ms']:.0f} ms after the edit")
        self.answered.emit("prediction")

    def _on_map(self, explanation: Any, edited_at: float) -> None:
        self.explanation = explanation
        ms = 1000 * (time.perf_counter() - edited_at)
        if self.timings:
            self.timings[-1]["map_ms"] = ms
            self.timings[-1]["map_engine_ms"] = 1000 * explanation.elapsed
        values = explanation.maps[0]
        if self.kind == "text" and explanation.provenance.get("token_words"):
            self.tokens.set_case(explanation.provenance["token_words"], values, (),
                                 f"<b>{html.escape(explanation.method)}</b> of the edited sentence")
        elif self.kind == "tabular":
            self.feature_map.setText(self._feature_html(np.ravel(values)))
        elif explanation.heatmap is not None:
            self.brush.canvas.set_result(explanation.heatmap[0], title=f"<b>{html.escape(explanation.method)}</b> of the edited image")
        self.latency.setText(self.latency.text().split(" · ")[0] + f" · map {ms:.0f} ms after the edit")
        self.answered.emit("map")

    def _on_map_error(self, error: JobError) -> bool:
        if error.kind != "cancelled":
            self._say(f"No map: {error.message}")
        return True

    @staticmethod
    def _changed(edit: dict[str, Any]) -> bool:
        return bool(edit.get("values") or edit.get("strokes") or edit["kind"] == "text")

    # ----- showing ----------------------------------------------------------------------
    def _top(self, prediction: Any) -> list[tuple[str, float]]:
        if prediction is None:
            return []
        names = self.ctx.state.class_names
        return [(names.label(int(c)), float(p)) for c, p in zip(prediction.classes, prediction.probabilities)]

    def _prediction_html(self, prediction: Any) -> str:
        def line(p: Any) -> str:
            return ", ".join(f"{html.escape(n)} {100 * v:.1f}%" for n, v in self._top(p)[:3]) or "no classes"
        was = self.origin_prediction
        text = f"<b>Edited:</b> {line(prediction)}"
        if was is not None and was is not prediction:
            text += f"<br><b>Was:</b> {line(was)}"
        return text

    def _feature_html(self, values: np.ndarray) -> str:
        names = self.features.table
        order = np.argsort(-np.abs(values), kind="stable")[:TOP_FEATURES]
        rows = "".join(
            f"<tr><td>{html.escape(names.item(int(i), 0).text() if names.item(int(i), 0) else str(i))}</td>"
            f"<td align='right' style='color:{'#c0392b' if values[i] > 0 else '#2e6fd8'}'>{values[i]:+.4g}</td></tr>"
            for i in order
        )
        return f"<b>Top features ({html.escape(str(self.method.currentText()))})</b><table cellspacing='4'>{rows}</table>"

    # ----- counterfactuals --------------------------------------------------------------
    def keep(self) -> None:
        """Keep the edited case as a new case (a counterfactual of this one)."""
        path = self.ctx.state.review_path
        if not path or self.edit is None or self.case < 0:
            self._say("Keeping needs a review file (the Cases view opens one with the cases).")
            return
        reviewer = str(self.ctx.settings.get("reviewer_name") or "")
        self.jobs.start(KeepCounterfactual(path=path, case=self.case, edit=self.edit, reviewer=reviewer),
                        self._on_kept, slot="keep", message="Keeping the counterfactual…")

    def _on_kept(self, kept: Any) -> None:
        self.ctx.session.show_dataset(kept.summary)
        self.ctx.state.select_case(kept.case)

    def _load_counterfactuals(self, path: str) -> None:
        if path and self.ctx.state.dataset is not None:
            self.jobs.start(LoadCounterfactuals(path=path), self._on_counterfactuals, slot="load", quiet=True)

    def _on_counterfactuals(self, summary: Any) -> None:
        if self.ctx.state.dataset is not None and len(summary) != len(self.ctx.state.dataset):
            self.ctx.session.show_dataset(summary)
