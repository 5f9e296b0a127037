"""Which review file the open cases' verdicts and notes go to (per case source, in settings).

The review store's semantics live in engine.review; this only chooses the file: the one the
user picked for these cases, else one beside the cases (or in the config folder for the
read-only bundled demo), and carries reviews over when the user picks a new, empty file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QToolButton, QWidget

from engine.errors import GlassboxError
from engine.fileio import config_dir
from engine.jobs import JobError
from engine.review import ReviewStore, default_review_path
from gui.app import RESOURCES, show_error

SETTINGS_REVIEW_FILES = "review_files"  # {case source: chosen review file}
SETTINGS_REVIEWER = "reviewer_name"


class ReviewFiles(QObject):
    """Owns the open `ReviewStore`; `store_changed(store or None)` when it is replaced."""

    store_changed = Signal(object)

    def __init__(self, settings: Any, parent: QWidget) -> None:
        super().__init__(parent)
        self.settings = settings
        self.parent_widget = parent
        self.store: ReviewStore | None = None
        self.source = ""
        self.button = QToolButton()
        self.button.setText("Reviews…")
        self.button.setToolTip("Where verdicts and notes for these cases are saved")
        self.button.clicked.connect(self.choose)
        self.button.setEnabled(False)

    def reviewer(self) -> str:
        """The reviewer name from the settings ("reviewer_name"), recorded with the OS user."""
        name = self.settings.get(SETTINGS_REVIEWER, "")
        return name if isinstance(name, str) else ""

    def path_for(self, source: str) -> Path:
        chosen = self.settings.get(SETTINGS_REVIEW_FILES, {}).get(source)
        if chosen:
            return Path(chosen)
        fallback = config_dir() / "reviews"
        if Path(source).resolve().is_relative_to(RESOURCES.resolve()):
            fallback.mkdir(parents=True, exist_ok=True)
            return default_review_path(fallback / Path(source).name, None)  # bundled demo: read-only
        return default_review_path(source, fallback)

    def open_for(self, source: str) -> None:
        """The store for cases from `source` (kept when the same cases get a new recipe)."""
        if self.store is not None and self.source == source:
            return
        self.source = source
        self.store = None
        self.store_changed.emit(None)
        try:
            self.store = ReviewStore(self.path_for(source), source=source, reviewer=self.reviewer())
        except (OSError, GlassboxError) as exc:
            show_error(self.parent_widget, JobError("bad_input", f"Reviews are off for these cases: {exc}"), "Review file")
        self.button.setEnabled(self.store is not None)
        if self.store is not None:
            self.button.setToolTip(f"Reviews are saved in {self.store.path}")
            if self.store.warning:
                show_error(self.parent_widget, JobError("bad_input", self.store.warning), "Review file")
        self.store_changed.emit(self.store)

    def choose(self) -> None:
        if self.store is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self.parent_widget, "Save reviews in", str(self.store.path), "Review files (*.json)"
        )
        if path:
            self.use(path)

    def use(self, path: str) -> None:
        """Keep reviews in `path` from now on; every event of the current file comes along."""
        previous = self.store
        store = ReviewStore(path, source=self.source, reviewer=self.reviewer())
        if previous is not None and previous.cases:
            store.merge_from(previous)  # nothing replaced (engine.review)
        files = dict(self.settings.get(SETTINGS_REVIEW_FILES, {}))
        files[self.source] = str(Path(path).resolve())
        self.settings.set(SETTINGS_REVIEW_FILES, files)
        self.store = store
        self.button.setToolTip(f"Reviews are saved in {store.path}")
        self.store_changed.emit(store)
