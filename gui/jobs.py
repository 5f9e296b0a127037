"""The one view-side job helper (in the spirit of Orange3's ConcurrentWidgetMixin).

Every view owns one `ViewJobs`. It starts typed requests on the engine thread under the view's
job keys (`engine.tasks.job_key(view, slot)`), shows one progress bar with a Cancel button for
the whole view (visible only while something runs), cancels (button, Esc, or a newer request
for the same slot), keeps the view's busy state, drops stale results by request id, and applies
one error policy:

- cancelled: nothing is shown (the view's own `on_error` may still mark a panel "cancelled");
- a problem with the user's input or model (bad input, not supported, numerical): an inline
  message in the view when it gave one (`inline`), else the shared error dialog;
- anything else (out of memory, a bug): the shared error dialog, with details for bugs.

`forget()` cancels everything and drops whatever is still on its way: views call it when the
model or the dataset changes, so no view keeps a generation counter of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QToolButton, QWidget

from engine.jobs import JobError
from engine.tasks import job_key
from gui.app import show_error

INLINE_KINDS = frozenset({"bad_input", "not_supported", "numerical", "model_load"})


class JobBar(QWidget):
    """A progress bar and its Cancel button; hidden while the view is idle."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("jobBar")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.progress = QProgressBar()
        self.progress.setObjectName("jobProgress")
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.cancel_button = QToolButton()
        self.cancel_button.setObjectName("jobCancel")
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Cancel (Esc)")
        layout.addWidget(self.progress, 1)
        layout.addWidget(self.cancel_button)
        self.hide()

    def show_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.progress.setFormat(message or "%p%")


class ViewJobs(QObject):
    """See the module docstring. `busy_changed(bool)` fires when the view starts or stops working."""

    busy_changed = Signal(bool)

    def __init__(
        self,
        view: QWidget | None,
        engine: Any,
        name: str,
        error_title: str = "",
        inline: Callable[[str], None] | None = None,
        inline_slots: frozenset[str] | None = None,
    ) -> None:
        super().__init__(view)
        self.view = view  # None for a controller: its bar is placed in a view later
        self.engine = engine
        self.name = name
        self.error_title = error_title or f"{name.capitalize()}: the job failed"
        self.inline = inline
        self.inline_slots = inline_slots  # None: every slot's input problems are said inline
        self.bar = JobBar(view)
        self.bar.cancel_button.clicked.connect(lambda: self.cancel())
        self._current: dict[str, int] = {}  # slot -> id of the request whose answer is awaited
        if view is not None:
            self.watch_escape(view)

    def watch_escape(self, widget: QWidget) -> None:
        """Esc pressed anywhere inside `widget` (and not used by a child) cancels this view's jobs."""
        widget.jobs = self  # type: ignore[attr-defined]  # the main window finds it here too
        widget.installEventFilter(self)
        if self.view is None:  # a controller's jobs: its dialogs belong to the view showing its bar
            self.view = widget

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Escape and self.busy():
            self.cancel()
            return True
        return False

    # ----- starting and stopping ----------------------------------------------------------
    def start(
        self,
        request: Any,
        on_result: Callable[[Any], None] | None = None,
        *,
        slot: str = "",
        on_error: Callable[[JobError], bool | None] | None = None,
        message: str = "",
        quiet: bool = False,
        on_partial: Callable[[Any], None] | None = None,
    ) -> int:
        """Submit `request` for `slot` (replacing that slot's older job); returns its id.

        `quiet` jobs (listing methods, say) do not show the progress bar.
        """
        was_busy = self.busy()
        job_id = -1

        def deliver(result: Any) -> None:
            if self._finish(slot, job_id) and on_result is not None:
                on_result(result)

        def forming(value: Any) -> None:
            if self._current.get(slot) == job_id and on_partial is not None:
                on_partial(value)

        def fail(error: JobError) -> None:
            if self._finish(slot, job_id):
                handled = on_error(error) if on_error is not None else None
                if handled is not True:  # a view that resolved it itself (a trust prompt) says so
                    self.report(error, slot=slot)

        job_id = self.engine.submit(
            request,
            key=job_key(self.name, slot),
            on_result=deliver,
            on_error=fail,
            on_progress=lambda f, m: self._on_progress(slot, job_id, f, m),
            on_partial=forming if on_partial is not None else None,
        )
        self._current[slot] = job_id
        if not quiet:
            self.bar.show_progress(0.0, message)
            self.bar.show()
        if not was_busy:
            self.busy_changed.emit(True)
        return job_id

    def cancel(self, slot: str | None = None) -> None:
        """Cancel one slot's job, or all of this view's (Cancel button, Esc)."""
        for name in [slot] if slot is not None else list(self._current):
            if name in self._current:
                self.engine.cancel(job_key(self.name, name))

    def forget(self) -> None:
        """Cancel everything and drop any answer still on its way (model or dataset changed)."""
        slots = list(self._current)
        self._current.clear()
        for slot in slots:
            self.engine.cancel(job_key(self.name, slot))
        self._idle_check(bool(slots))

    def busy(self, slot: str | None = None) -> bool:
        return bool(self._current) if slot is None else slot in self._current

    def current(self, slot: str = "") -> int:
        """The id of the request `slot` awaits (-1 when idle)."""
        return self._current.get(slot, -1)

    # ----- errors -------------------------------------------------------------------------
    def report(self, error: JobError, title: str = "", slot: str = "") -> None:
        """The one error policy (module docstring); views use it for their own errors too."""
        if error.kind == "cancelled":
            return
        inline_here = self.inline_slots is None or slot in self.inline_slots
        if self.inline is not None and inline_here and error.kind in INLINE_KINDS:
            self.inline(error.message)
            return
        show_error(self.view, error, title or self.error_title)

    # ----- internals ----------------------------------------------------------------------
    def _finish(self, slot: str, job_id: int) -> bool:
        """Mark `slot` done if `job_id` is the answer it awaits; False for a stale answer."""
        if self._current.get(slot) != job_id:
            return False
        del self._current[slot]
        self._idle_check(True)
        return True

    def _idle_check(self, was_busy: bool) -> None:
        if not self._current:
            self.bar.hide()
            if was_busy:
                self.busy_changed.emit(False)

    def _on_progress(self, slot: str, job_id: int, fraction: float, message: str) -> None:
        if self._current.get(slot) == job_id:
            self.bar.show_progress(fraction, message)
