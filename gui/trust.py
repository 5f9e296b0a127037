"""Trusting content, not paths: the trust dialogs and the custom-objects menu entry.

What the user agrees to is the SHA-256 the engine reported (or, for a custom-object module,
the hash of the bytes shown in the dialog); the engine then loads only that content, so a file
swapped while a dialog is open is refused instead of run.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from engine.tasks import LoadCustomObjects

SHA_PATTERN = re.compile(r"SHA-256 ([0-9a-f]{64})")
MAX_MODULE_BYTES = 4 << 20


def reported_sha(message: str) -> str | None:
    """The content hash an UnsafeModelError names (what a "Yes" will trust)."""
    match = SHA_PATTERN.search(message)
    return match.group(1) if match else None


def ask(parent: QWidget, title: str, text: str, name: str = "trustDialog") -> bool:
    """A warning with "No" as the default, so Enter never trusts anything."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text,
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, parent)
    box.setObjectName(name)
    box.setDefaultButton(QMessageBox.StandardButton.No)
    return box.exec() == QMessageBox.StandardButton.Yes


def module_sha(path: str) -> str:
    """SHA-256 of a small Python file, hashed here so the dialog can show what is trusted."""
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read(MAX_MODULE_BYTES + 1)).hexdigest()


def confirm_custom_objects(parent: QWidget, path: str) -> str | None:
    """The SHA-256 to trust if the user says Yes to running `path`, else None."""
    try:
        sha = module_sha(path)
    except OSError as exc:
        QMessageBox.warning(parent, "Custom objects", f"{Path(path).name}: cannot be read ({exc.strerror}).")
        return None
    text = (f"{Path(path).name} is Python code: loading it runs it with your permissions.\n\n"
            f"Content SHA-256 {sha}\n\nLoad it only if you wrote it or trust where it came from.")
    return sha if ask(parent, "Run this custom-object module?", text, "customObjectsDialog") else None


def load_custom_objects(window: QWidget, jobs: object, status: object) -> None:
    """File ▸ Load custom objects…: pick a .py file, confirm, then run exactly those bytes."""
    path, _ = QFileDialog.getOpenFileName(window, "Load custom objects", "", "Python modules (*.py)")
    if not path:
        return
    sha = confirm_custom_objects(window, path)
    if sha is None:
        return

    def done(names: tuple[str, ...]) -> None:
        status.setText(f"Custom objects from {Path(path).name}: {', '.join(names) or 'none'}")

    jobs.start(LoadCustomObjects(path=path, sha256=sha), done, slot="custom-objects", quiet=True)
