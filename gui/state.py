"""What the user is looking at, shared by every view: the model, the selected layer, the case.

Views never talk to each other directly; they set and follow this state.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal


class AppState(QObject):
    model_changed = Signal(object)  # engine.models.ModelDescription (or None)
    layer_selected = Signal(str)  # layer path: "name" or "submodel/name" for nested layers
    dataset_requested = Signal(str)  # a path the case browser should open (e.g. the demo cases)
    dataset_changed = Signal(object)  # dataset summary published by the case browser
    case_selected = Signal(int)  # index of the case in the open dataset
    explain_requested = Signal(int, str)  # case index, method name: "open this case in the canvas"
    cases_chosen = Signal(object)  # int array: several cases picked (embedding selection)
    region_drawn = Signal(int, object)  # case, {"box_top_left_bottom_right", "maps"} or None (removed)
    methods_ranked = Signal(object, bool)  # method names best first (benchmark); True: show them now

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model: Any = None
        self.layer: str = ""
        self.dataset: Any = None
        self.case: int = -1
        self.seen: dict[int, dict] = {}  # canvas panel -> what it shows (see gui.views.review.seen_record)

    def set_model(self, description: Any) -> None:
        self.model = description
        self.layer = ""
        self.model_changed.emit(description)

    def select_layer(self, path: str) -> None:
        if path != self.layer:
            self.layer = path
            self.layer_selected.emit(path)

    def set_dataset(self, summary: Any) -> None:
        self.dataset = summary
        self.case = -1
        self.seen = {}  # case indices of the old dataset mean nothing now
        self.dataset_changed.emit(summary)

    def select_case(self, index: int) -> None:
        if index != self.case:
            self.case = index
            self.case_selected.emit(index)
