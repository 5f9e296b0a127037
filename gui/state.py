"""What the user is looking at, shared by every view: model, dataset, predictions, selection.

This is the one owner of the open model's description, the open dataset's summary and that
dataset's predictions; `gui.session.Session` is the controller that fills them (it runs the
open / preprocessing / predict jobs). Views never talk to each other directly: they read this
state and follow its signals, so the case list, the canvas and the embedding all show the same
predictions.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from engine.class_names import ClassNames


class AppState(QObject):
    model_changed = Signal(object)  # engine.description.ModelDescription (or None)
    layer_selected = Signal(str)  # layer path: "name" or "submodel/name" for nested layers
    dataset_requested = Signal(str)  # a path the session should open (e.g. the demo cases)
    dataset_changed = Signal(object)  # engine.data.DatasetSummary (or None)
    predictions_changed = Signal(object)  # engine.predictions.Predictions for the dataset (or None)
    case_selected = Signal(int)  # index of the case in the open dataset
    explain_requested = Signal(int, str)  # case index, method name: "open this case in the canvas"
    cases_chosen = Signal(object)  # int array: several cases picked (embedding selection)
    region_drawn = Signal(int, object)  # case, {"box_top_left_bottom_right" or "polygon_x_y", "maps"} or None (removed)
    methods_ranked = Signal(object, bool)  # method names best first (benchmark); True: show them now
    notice = Signal(str)  # a line for the status bar (e.g. "recipe guessed from the input layer")
    review_file_changed = Signal(str)  # the open cases' review file ("" when reviews are off)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model: Any = None
        self.layer: str = ""
        self.dataset: Any = None
        self.predictions: Any = None
        self.class_names = ClassNames((), "")  # the model's classes, named (filled by the session)
        self.case: int = -1
        self.seen: dict[int, dict] = {}  # canvas panel -> what it shows (see gui.panels.review.seen_record)
        self.review_path: str = ""  # counterfactuals are kept beside it (engine.whatif_store)

    def set_model(self, description: Any) -> None:
        self.model = description
        self.layer = ""
        self.set_predictions(None)
        self.model_changed.emit(description)

    def select_layer(self, path: str) -> None:
        if path != self.layer:
            self.layer = path
            self.layer_selected.emit(path)

    def set_dataset(self, summary: Any) -> None:
        """A new dataset or a new recipe for the same cases (the selection stays if they match)."""
        same_cases = (
            self.dataset is not None and summary is not None and self.dataset.case_hashes == summary.case_hashes
        )
        self.dataset = summary
        if not same_cases:
            self.case = -1
        self.seen = {}  # case indices of the old dataset mean nothing now
        self.set_predictions(None)
        self.dataset_changed.emit(summary)

    def set_predictions(self, predictions: Any) -> None:
        """Predictions that belong to the open dataset (others are ignored)."""
        if predictions is not None and getattr(self.dataset, "hash", None) != predictions.dataset_hash:
            return
        if predictions is None and self.predictions is None:
            return
        self.predictions = predictions
        self.predictions_changed.emit(predictions)

    def set_review_path(self, path: str) -> None:
        if path != self.review_path:
            self.review_path = path
            self.review_file_changed.emit(path)

    def select_case(self, index: int) -> None:
        if index != self.case:
            self.case = index
            self.case_selected.emit(index)
