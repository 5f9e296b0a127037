"""The reviewer's verdict buttons and note editor for the selected case.

Every verdict click is written at once; the note is written after a short pause in typing
(superqt's qdebounced) and immediately when the editor loses focus, the case changes or the view
closes, so at most the last half-second of typing is at risk if the app is killed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import qdebounced

from engine.errors import GlassboxError
from engine.provenance import plain, sha256_array
from engine.review import VERDICT_TITLES, VERDICTS, ReviewStore

NOTE_DEBOUNCE_MS = 500
SHORT_TITLES = {"plausible": "Plausible", "spurious feature": "Spurious", "needs review": "Needs review"}
VERDICT_COLOURS = {"plausible": "#2e7d32", "spurious feature": "#c62828", "needs review": "#ef6c00"}


def seen_record(case: int, result: Any) -> dict[str, Any]:
    """What a canvas panel shows: method, parameters, target and the hash of the map drawn."""
    shown = result.heatmap[0] if result.heatmap is not None else result.maps[0]
    return {"case": int(case), "method": result.method, "params": plain(result.params),
            "target": int(result.targets[0]), "map_sha256": sha256_array(shown)}


def shown_for(seen: dict[int, dict], case: int) -> dict[str, Any] | None:
    """The panels showing `case` now, for the review record (None if none shows it)."""
    panels = [record for _index, record in sorted(seen.items()) if record.get("case") == case]
    return {"panels": panels} if panels else None


def _when(iso: str) -> str:
    """'2026-11-24T02:59:48+00:00' -> '2026-11-24 02:59 UTC'."""
    return iso.replace("T", " ")[:16] + " UTC"


class ReviewPanel(QWidget):
    """Verdict + note of one case, saved to a `ReviewStore`; see the module docstring."""

    verdict_saved = Signal(int, object)  # case index, verdict (str) or None
    note_saved = Signal(int, str)  # case index, note
    save_failed = Signal(str)
    reviewer_changed = Signal(str)  # the name typed in the "Reviewer" field (kept in the settings)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store: ReviewStore | None = None
        self.model_sha256 = ""
        self.seen: Callable[[int], dict | None] = lambda _case: None  # what the reviewer sees now
        self._case: tuple[int, str, str] | None = None  # index, name, content hash
        self._source: str | None = None  # the dataset the case belongs to
        self.buttons = QButtonGroup(self)
        self.buttons.setExclusive(False)  # clicking the checked verdict again clears it
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        for number, verdict in enumerate(VERDICTS, start=1):
            button = QPushButton(f"{number} {SHORT_TITLES[verdict]}")  # the three fit a 320 px dock
            button.setCheckable(True)
            button.setToolTip(f"{VERDICT_TITLES[verdict]} ({number} or Alt+{number}); click again to clear")
            button.setStyleSheet(f"QPushButton:checked {{ background: {VERDICT_COLOURS[verdict]}; color: white; }}")
            self.buttons.addButton(button, number - 1)
            row.addWidget(button)
        self.buttons.idClicked.connect(self._clicked)
        self.note = QPlainTextEdit()
        self.note.setObjectName("reviewNote")
        self.note.setPlaceholderText("Note on this case (saved as you type)")
        self.note.setMaximumHeight(90)
        self.note.textChanged.connect(self._note_typed)
        self.note.installEventFilter(self)
        self._save_note_later = qdebounced(self.save_note, timeout=NOTE_DEBOUNCE_MS, parent=self)
        self.reviewer = QLineEdit()
        self.reviewer.setObjectName("reviewerName")
        self.reviewer.setPlaceholderText("your name, recorded with every verdict and note")
        self.reviewer.setToolTip("Recorded with each entry, beside your system user name")
        self.reviewer.editingFinished.connect(self._reviewer_edited)
        self.status = QLabel()
        self.status.setObjectName("reviewStatus")
        self.status.setWordWrap(True)  # a long review-file path must not widen the case view
        self.status.setStyleSheet("color: palette(mid);")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        layout.addLayout(row)
        self.who = who = QHBoxLayout()  # the case view adds its review-file button here
        who.setContentsMargins(0, 0, 0, 0)
        who.addWidget(QLabel("Reviewer"))
        who.addWidget(self.reviewer, 1)
        layout.addLayout(who)
        layout.addWidget(self.note)
        layout.addWidget(self.status)
        self._shortcuts()
        self.set_case(None)

    def _shortcuts(self) -> None:
        """1/2/3 (typed text goes to the note editor, not here) and Alt+1/2/3 anywhere in the view."""
        target = self.parentWidget() or self
        for number, verdict in enumerate(VERDICTS, start=1):
            for keys in (str(number), f"Alt+{number}"):
                shortcut = QShortcut(QKeySequence(keys), target)
                shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                shortcut.activated.connect(lambda v=verdict: self.toggle_verdict(v))

    def _reviewer_edited(self) -> None:
        name = " ".join(self.reviewer.text().split())
        if self.store is not None:
            self.store.reviewer = name
        self.reviewer_changed.emit(name)

    # ----- case and store -------------------------------------------------------------------
    def set_store(self, store: ReviewStore | None) -> None:
        self.flush()
        self.store = store
        self.set_case(None)

    def set_case(self, case: tuple[int, str, str] | None, source: str | None = None) -> None:
        """Show the review of (index, name, hash) of dataset `source`; the previous case's note
        is saved first. The store refuses writes for a case of another dataset."""
        self.flush()
        self._case = case
        self._source = source
        review = self.store.get(case[1], case[2]) if (self.store and case) else None
        self._show_verdict(review.verdict if review else None)
        self.note.blockSignals(True)
        self.note.setPlainText(review.note if review else "")
        self.note.blockSignals(False)
        enabled = case is not None and self.store is not None
        for button in self.buttons.buttons():
            button.setEnabled(enabled)
        self.note.setEnabled(enabled)
        earlier = self.store.earlier_versions(case[1], case[2]) if (self.store and case) else []
        if review:
            self.status.setText(f"Reviewed {_when(review.updated)} {self._where()}")
        elif earlier:
            last = max(earlier, key=lambda r: r.updated)
            self.status.setText(
                f"The file changed since it was reviewed ({last.verdict or 'no verdict'}, "
                f"{_when(last.updated)}); the earlier review is kept in its history."
            )
        else:
            self.status.setText(f"Not reviewed yet; saved {self._where()}" if enabled else "Select a case to review it.")

    def _where(self) -> str:
        if self.store is None:
            return ""
        self.status.setToolTip(str(self.store.path))
        return f"in {self.store.path.name}"

    def _show_verdict(self, verdict: str | None) -> None:
        for index, button in enumerate(self.buttons.buttons()):
            button.setChecked(VERDICTS[index] == verdict)

    # ----- writing ----------------------------------------------------------------------------
    def _clicked(self, button_id: int) -> None:
        verdict = VERDICTS[button_id]
        checked = self.buttons.button(button_id).isChecked()
        self.set_verdict(verdict if checked else None)

    def toggle_verdict(self, verdict: str) -> None:
        current = self.verdict()
        self.set_verdict(None if current == verdict else verdict)

    def verdict(self) -> str | None:
        for index, button in enumerate(self.buttons.buttons()):
            if button.isChecked():
                return VERDICTS[index]
        return None

    def set_verdict(self, verdict: str | None) -> None:
        if self._case is None or self.store is None:
            return
        self._show_verdict(verdict)
        index, name, case_hash = self._case
        if self._write(lambda: self.store.set_verdict(
            name, case_hash, verdict, self.model_sha256, seen=self.seen(index), source=self._source
        )):
            self.verdict_saved.emit(index, verdict)

    def _note_typed(self) -> None:
        self.status.setText("Unsaved note…")
        self._save_note_later()

    def save_note(self) -> None:
        if self._case is None or self.store is None:
            return
        index, name, case_hash = self._case
        text = self.note.toPlainText()
        if self._write(lambda: self.store.set_note(
            name, case_hash, text, self.model_sha256, seen=self.seen(index), source=self._source
        )):
            self.note_saved.emit(index, text)

    def flush(self) -> None:
        """Write a pending note now (before switching case, on focus-out, on close)."""
        self._save_note_later.cancel()
        if self._case is not None and self.store is not None:
            review = self.store.get(self._case[1], self._case[2])
            if self.note.toPlainText() != (review.note if review else ""):
                self.save_note()

    def _write(self, action) -> bool:  # noqa: ANN001 - a zero-argument callable returning a Review
        try:
            review = action()
        except (OSError, GlassboxError) as exc:
            message = f"Could not save the review to {self.store.path}: {exc}"
            self.status.setText(message)
            self.save_failed.emit(message)
            return False
        self.status.setText(f"Saved {_when(review.updated)} {self._where()}")
        return True

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self.note and event.type() == QEvent.Type.FocusOut:
            self.flush()
        return super().eventFilter(watched, event)
