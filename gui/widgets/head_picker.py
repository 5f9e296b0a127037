"""Which output head to explain, every head's output for the case in its own terms, and one line
on what the attribution view cannot do for this kind of model."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

KINDS = ("softmax", "sigmoid", "logits", "regression", "dense")  # engine.heads.KINDS (no engine import here)

# one line per kind of case or head: what the attribution view does differently or cannot do
KIND_NOTES = {
    "text": "Text: one value per token (gradients summed over the embedding); CAM and RISE need images.",
    "sequence": "Sequence: attribution along time as a heat strip (channels x time); CAM and RISE need images.",
    "tabular": "Rows of features: the strongest features are listed; CAM and RISE need images.",
    "multi": "Several inputs: one map per input; the image input is drawn, the others are listed.",
    "regression": "Regression head: the target is the value itself (no probabilities).",
    "dense": "Dense map: the target is a class summed over the whole map.",
}


class HeadPicker(QWidget):
    head_changed = Signal(object)  # int head index
    kind_chosen = Signal(int, str)  # head index, the kind the user says it is
    region_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.heads: tuple[Any, ...] = ()
        self.combo = QComboBox()
        self.combo.setObjectName("headCombo")
        self.combo.currentIndexChanged.connect(self._on_head)
        self.kind = QComboBox()
        self.kind.setObjectName("headKind")
        self.kind.addItems(KINDS)
        self.kind.setToolTip("What this output is, if the detected kind is wrong")
        self.kind.activated.connect(lambda _i: self._on_kind())
        self.region = QLineEdit()
        self.region.setObjectName("headRegion")
        self.region.setPlaceholderText("whole map (or top, left, bottom, right)")
        self.region.setToolTip("Dense maps: explain the class summed over this box of the map")
        self.region.editingFinished.connect(self.region_changed.emit)
        form = QFormLayout()
        form.addRow("Kind", self.kind)
        self.region_label = QLabel("Region")
        form.addRow(self.region_label, self.region)
        self.outputs = QLabel("")
        self.outputs.setObjectName("headOutputs")
        self.outputs.setWordWrap(True)
        self.note = QLabel("")
        self.note.setObjectName("kindNote")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #b07000;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo)
        layout.addLayout(form)
        layout.addWidget(self.outputs)
        layout.addWidget(self.note)
        self._case_kind = "images"

    def set_heads(self, heads: tuple[Any, ...], default: int = 0) -> None:
        """The model's heads (engine.heads.Head); `default` is the one explained unless chosen."""
        self.heads = tuple(heads)
        self.combo.blockSignals(True)
        self.combo.clear()
        for head in self.heads:
            self.combo.addItem(head.title)  # "name (kind, shape)"
        if self.heads:
            self.combo.setCurrentIndex(default)
        self.combo.blockSignals(False)
        self.combo.setEnabled(len(self.heads) > 1)
        self.outputs.setText("")
        self._show_head()

    def region_box(self) -> list[int] | None:
        """The dense head's region as (top, left, bottom, right), or None for the whole map."""
        head = self.head()
        text = self.region.text().replace(",", " ").split()
        if head is None or head.kind != "dense" or len(text) != 4 or not all(t.lstrip("-").isdigit() for t in text):
            return None
        return [int(t) for t in text]

    def _on_head(self, _index: int) -> None:
        self._show_head()
        self.head_changed.emit(self.index())

    def _on_kind(self) -> None:
        head = self.head()
        if head is not None and self.kind.currentText() != head.kind:
            self.kind_chosen.emit(head.index, self.kind.currentText())

    def _show_head(self) -> None:
        head = self.head()
        self.kind.setEnabled(head is not None)
        if head is not None:
            self.kind.setCurrentText(head.kind)
        dense = getattr(head, "kind", "") == "dense"
        self.region.setVisible(dense)
        self.region_label.setVisible(dense)
        self._show_note()

    def index(self) -> int | None:
        return self.combo.currentIndex() if self.heads else None

    def head(self) -> Any:
        index = self.index()
        return None if index is None or index < 0 else self.heads[index]

    def set_case(self, view: Any) -> None:
        """Each head's output for the case (CaseView.heads) and the case's kind."""
        self._case_kind = getattr(view, "kind", "images")
        lines = [f"<b>{o.head.name}</b>: {o.summary}" for o in getattr(view, "heads", ())]
        self.outputs.setText("<br>".join(lines))
        self._show_note()

    def _show_note(self) -> None:
        head = self.head()
        notes = [KIND_NOTES[k] for k in (self._case_kind, getattr(head, "kind", "")) if k in KIND_NOTES]
        self.note.setText("\n".join(notes))
        self.note.setVisible(bool(notes))
