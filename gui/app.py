"""QApplication set-up, the shared error dialog, and the GUI entry point."""

from __future__ import annotations

import faulthandler
import sys
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from engine.jobs import JobError

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
# --startup-check: a process still up this long after the engine was ready prints every thread's
# stack and exits 1, so a hang in CI or bench/ is a failure that says where it waits.
STARTUP_CHECK_EXIT_S = 90.0
DEMO_MODEL = RESOURCES / "demo" / "digits_cnn.keras"
DEMO_CASES = RESOURCES / "demo" / "digits_cases.npz"
# File > Open demo: (menu text, model, cases); the first is what a bare start opens.
DEMOS = (
    ("&Digits CNN (images)", DEMO_MODEL, DEMO_CASES),
    ("&Breast-cancer MLP (tabular)", RESOURCES / "demo" / "breast_cancer_mlp.keras",
     RESOURCES / "demo" / "breast_cancer.csv"),
    ("&Review sentiment (text)", RESOURCES / "demo" / "review_sentiment.keras", RESOURCES / "demo" / "reviews.csv"),
)

ERROR_TITLES = {
    "cancelled": "Cancelled",
    "out_of_memory": "Out of memory",
    "numerical": "Numerical problem",
    "not_supported": "Not supported",
    "internal": "Unexpected error",
}


def show_error(parent: QWidget | None, error: JobError, title: str = "") -> None:
    """One dialog for every failure: a readable line, and the traceback only for real bugs."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning if error.kind != "internal" else QMessageBox.Icon.Critical)
    box.setWindowTitle(title or ERROR_TITLES.get(error.kind, "Error"))
    box.setText(error.message)
    if error.details:
        box.setDetailedText(error.details)
    box.setObjectName("errorDialog")
    box.open()


def make_application(argv: list[str]) -> QApplication:
    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName("Glassbox")
    app.setOrganizationName("Glassbox")
    app.setWindowIcon(QIcon(str(RESOURCES / "icons" / "glassbox.svg")))
    return app  # type: ignore[return-value]


def run(model_path: str | None, trust: bool = False, startup_check: bool = False) -> int:
    """Show the window frame first, then build the views, then let the engine thread import
    TensorFlow behind them (the import holds the GIL for seconds: it would slow the views down)."""
    t0 = time.perf_counter()
    app = make_application(sys.argv)
    from gui.main_window import MainWindow

    window = MainWindow(build_views=False)
    window.show()
    app.processEvents()  # paint the frame before the views' imports
    if startup_check:
        print(
            f"window shown after {time.perf_counter() - t0:.3f} s "
            f"(TensorFlow imported: {'tensorflow' in sys.modules})",
            flush=True,
        )
    window.build_views()
    if startup_check:
        print(f"views built after {time.perf_counter() - t0:.3f} s", flush=True)

        def on_ready(_versions: dict) -> None:
            print(f"engine ready after {time.perf_counter() - t0:.3f} s", flush=True)
            faulthandler.dump_traceback_later(STARTUP_CHECK_EXIT_S, exit=True)
            QTimer.singleShot(0, lambda: _close_for_check(app, window))

        window.ctx.engine.ready.connect(on_ready)
    window.start(model_path, trust=trust)
    return app.exec()


def _close_for_check(app: QApplication, window: QWidget) -> None:
    """Close the window as a user would, then name any window still open (an error dialog shown
    during start-up, or a stray top-level widget that would keep the process up)."""
    window.close()
    for other in app.topLevelWidgets():
        if other.isVisible() and other.testAttribute(Qt.WidgetAttribute.WA_QuitOnClose):
            text = other.text() if isinstance(other, QMessageBox) else ""
            print(f"still open after the main window closed: {type(other).__name__} "
                  f"{other.objectName()!r} {other.windowTitle()!r} {text!r}", file=sys.stderr, flush=True)
