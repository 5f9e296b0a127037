"""QApplication set-up, the shared error dialog, and the GUI entry point."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from engine.jobs import JobError

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
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
            QTimer.singleShot(0, window.close)

        window.ctx.engine.ready.connect(on_ready)
    window.start(model_path, trust=trust)
    return app.exec()
