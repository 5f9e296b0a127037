"""The main window: docks for every view, File/View/Help menus, status bar, model opening."""

from __future__ import annotations

import importlib
import traceback
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QKeyEvent,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QApplication,
    QProgressBar,
    QScrollArea,
    QTabBar,
    QWidget,
)

import engine
from engine.jobs import JobError, describe_error
from gui import trust as trusting
from engine.tasks import OpenModel
from gui.app import DEMOS, show_error
from gui.context import AppContext
from gui.engine_thread import EngineThread
from gui.jobs import ViewJobs
from gui.settings import Settings
from gui.state import AppState
from gui.views import VIEWS

AREAS = {
    "left": Qt.DockWidgetArea.LeftDockWidgetArea,
    "right": Qt.DockWidgetArea.RightDockWidgetArea,
    "bottom": Qt.DockWidgetArea.BottomDockWidgetArea,
}
MODEL_FILTER = "Keras models (*.keras *.h5 *.hdf5);;All files (*)"
# First-start sizes: at 1400x900 the canvas keeps over half the width (1400 - 360 - 320).
DOCK_SIZE_LIMITS = {
    "left": (Qt.Orientation.Horizontal, 360),
    "right": (Qt.Orientation.Horizontal, 320),
    "bottom": (Qt.Orientation.Vertical, 250),
}
STACKED_AREAS = frozenset({"left"})  # the model tree above the case list, both in sight


class MainWindow(QMainWindow):
    def __init__(self, settings: Settings | None = None, build_views: bool = True) -> None:
        """`build_views=False` leaves the docks empty until `build_views()`: the app entry point
        shows the frame first, because importing the views (pyqtgraph, superqt) takes a while."""
        super().__init__()
        self.setWindowTitle("Glassbox")
        self.setObjectName("mainWindow")
        self.ctx = AppContext(EngineThread(self), AppState(self), settings or Settings())
        self.views: dict[str, QWidget] = {}
        self.view_errors: dict[str, str] = {}
        self.docks: dict[str, QDockWidget] = {}
        self.model_path: str | None = None
        self.evidence: Any = None  # gui.evidence.Evidence, once the views are built
        self.jobs = ViewJobs(self, self.ctx.engine, "model", "Could not open model")
        self._build_status_bar()
        self._build_docks()
        self._build_menus()
        self._restore_geometry()
        if build_views:
            self.build_views()
        self.setAcceptDrops(True)
        engine = self.ctx.engine
        engine.ready.connect(self._on_engine_ready)
        engine.failed.connect(self._on_engine_failure)
        engine.progressed.connect(self._on_progress)
        engine.busy_changed.connect(self._on_busy)
        engine.finished_job.connect(lambda key, job_id, _result: self._on_job_end(job_id, ""))
        engine.failed.connect(lambda key, job_id, error: self._on_job_end(job_id, error.message))
        engine.reported.connect(self.status_label.setText)
        self.ctx.state.notice.connect(self.status_label.setText)
        self._progress_message: tuple[int, str] = (0, "")  # (job id, text) shown from progress


    # ----- construction -----------------------------------------------------------------
    def _build_status_bar(self) -> None:
        """Left: what happened (opened, repaired), kept until the next notice. Right: the running
        job's progress line, then the engine's state, which outlives messages."""
        self.status_label = QLabel("")
        self.status_label.setObjectName("statusMessage")
        self.job_label = QLabel("")
        self.job_label.setObjectName("jobMessage")
        self.engine_label = QLabel("Engine: loading TensorFlow…")
        self.engine_label.setObjectName("engineStatus")
        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumWidth(220)
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.hide()
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addPermanentWidget(self.job_label)
        if self.ctx.settings.dropped:  # a settings file of the wrong shape: say what fell back
            self.status_label.setText(f"Settings reset to defaults: {', '.join(self.ctx.settings.dropped)}")
        self.statusBar().addPermanentWidget(self.progress_bar)
        self.statusBar().addPermanentWidget(self.engine_label)

    def _build_docks(self) -> None:
        self.setDockOptions(
            QMainWindow.DockOption.AllowTabbedDocks | QMainWindow.DockOption.AnimatedDocks
        )
        # Side docks run the full height; the bottom dock sits between them under the canvas.
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        first_in_area: dict[str, QDockWidget] = {}
        for spec in VIEWS:
            if spec.area == "center":
                continue
            dock = QDockWidget(spec.title, self)
            dock.setObjectName(f"{spec.name}Dock")
            dock.setWidget(_placeholder("Loading…"))
            self.docks[spec.name] = dock
            self.addDockWidget(AREAS[spec.area], dock)
            if spec.area in first_in_area and spec.area in STACKED_AREAS:
                self.splitDockWidget(first_in_area[spec.area], dock, Qt.Orientation.Vertical)
            elif spec.area in first_in_area:
                self.tabifyDockWidget(first_in_area[spec.area], dock)
            else:
                first_in_area[spec.area] = dock
        for dock in first_in_area.values():
            dock.raise_()
        self.setCentralWidget(_placeholder("Open a model with File ▸ Open model… (Ctrl+O)"))
        if not self.ctx.settings.get("window_state"):
            QTimer.singleShot(0, self._size_docks)

    def build_views(self) -> None:
        """Import and build every view into its dock (once).

        A view that fails to build is replaced by its error, so one broken view does not keep
        the app from starting; `view_errors` lists them (tests assert it is empty).
        """
        if self.views:
            return
        for spec in VIEWS:
            module_name, _, class_name = spec.factory.partition(":")
            try:
                view = getattr(importlib.import_module(module_name), class_name)(self.ctx, self)
            except Exception as exc:  # noqa: BLE001 - shown in the dock, traceback on stderr
                traceback.print_exc()
                self.view_errors[spec.name] = describe_error(exc).message
                view = _placeholder(f"The {spec.title} view failed to load:\n{self.view_errors[spec.name]}")
            view.setObjectName(spec.name)
            self.views[spec.name] = view
            if spec.area == "center":
                self.setCentralWidget(view)
            else:
                self.docks[spec.name].setWidget(_scrollable(view))
                if getattr(view, "wants_height", 0.0):
                    self.docks[spec.name].visibilityChanged.connect(
                        lambda shown, name=spec.name: shown and QTimer.singleShot(0, lambda: self._grow_dock(name)))
        from gui.evidence import Evidence

        self.evidence = Evidence(self.ctx, self.views, self)
        self.evidence.report_written.connect(lambda paths: self.status_label.setText(
            "Wrote " + ", ".join(Path(p).name for p in paths)))
        if not self.ctx.settings.get("window_state"):
            QTimer.singleShot(0, self._size_docks)  # once the new widgets are laid out

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        QTimer.singleShot(0, self._hide_stray_tab_bars)

    def _hide_stray_tab_bars(self) -> None:
        """Work around a Qt 6 bug: tabifying docks in a second dock area before the window is
        shown leaves a stale copy of that area's tab bar floating over the canvas. The real bar
        sits right under its docks; the stray one touches none of them."""
        for bar in self.findChildren(QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly):
            if bar.isVisible() and not any(_under(bar, dock) for dock in self.docks.values()):
                bar.hide()

    def _grow_dock(self, name: str) -> None:
        """A view that needs room to work in (the What-if brush) takes `wants_height` of the
        window's height when it is raised, if its dock area is shorter; the user's drag wins after."""
        dock, view = self.docks[name], self.views[name]
        wanted = int(self.height() * view.wants_height)
        if dock.isVisible() and dock.height() < wanted:
            self.resizeDocks([dock], [wanted], Qt.Orientation.Vertical)

    def _size_docks(self) -> None:
        """First-start sizes (later starts restore the user's layout): the limits above, and in
        the stacked left area a third for the model tree, two thirds for the case list."""
        for area, (orientation, size) in DOCK_SIZE_LIMITS.items():
            first = next((self.docks[spec.name] for spec in VIEWS if spec.area == area), None)
            if first is not None:
                self.resizeDocks([first], [size], orientation)
        stacked = [self.docks[spec.name] for spec in VIEWS if spec.area in STACKED_AREAS]
        if len(stacked) > 1:
            self.resizeDocks(stacked, [1] + [2] * (len(stacked) - 1), Qt.Orientation.Vertical)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_action = QAction("&Open model…", self)
        open_action.setShortcut(QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self.choose_model)
        file_menu.addAction(open_action)
        folder_action = QAction("Open Saved&Model folder…", self)
        folder_action.triggered.connect(self.choose_savedmodel)
        file_menu.addAction(folder_action)
        demo_menu = file_menu.addMenu("Open &demo")
        for number, (text, _, _) in enumerate(DEMOS):
            demo_menu.addAction(text).triggered.connect(lambda _=False, number=number: self.open_demo(number))
        self.recent_menu = file_menu.addMenu("&Recent models")
        self._fill_recent_menu()
        custom_action = QAction("Load &custom objects…", self)
        custom_action.triggered.connect(lambda: trusting.load_custom_objects(self, self.jobs, self.status_label))
        file_menu.addAction(custom_action)
        file_menu.addSeparator()
        for text, name in (("Export &case report…", "export_case_report"),
                           ("Export re&view report…", "export_review_report"),
                           ("Create si&gning key…", "create_signing_key")):
            action = QAction(text, self)
            action.triggered.connect(lambda _=False, name=name: self.evidence and getattr(self.evidence, name)())
            file_menu.addAction(action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        view_menu = self.menuBar().addMenu("&View")
        for spec in VIEWS:
            if spec.name not in self.docks:
                continue
            action = QAction(f"Show {spec.title}", self)
            if spec.shortcut:
                action.setShortcut(QKeySequence(spec.shortcut))
            action.triggered.connect(lambda _=False, name=spec.name: self.show_view(name))
            view_menu.addAction(action)
        view_menu.addSeparator()
        for spec in VIEWS:  # closing a view stays possible, without a shortcut that surprises
            if spec.name in self.docks:
                view_menu.addAction(self.docks[spec.name].toggleViewAction())

        help_menu = self.menuBar().addMenu("&Help")
        about_action = QAction("&About Glassbox", self)
        about_action.triggered.connect(self.show_about)
        help_menu.addAction(about_action)

    def _restore_geometry(self) -> None:
        """The geometry is restored only on the Qt platform that saved it: one saved by an
        offscreen run (a test, a start-up check: an 800x600 screen) made a tiny window on a
        real screen. The dock layout is relative, so it is restored either way."""
        geometry = self.ctx.settings.get("window_geometry")
        state = self.ctx.settings.get("window_state")
        if geometry and self.ctx.settings.get("window_platform") == QApplication.platformName():
            self.restoreGeometry(QByteArray.fromBase64(geometry.encode()))
        else:
            self.resize(1400, 900)
        if state:
            self.restoreState(QByteArray.fromBase64(state.encode()))

    # ----- start-up and model opening ---------------------------------------------------
    def start(self, model_path: str | None = None, trust: bool = False) -> None:
        """Start the engine thread and open `model_path`, or the demo model and its cases."""
        self.ctx.engine.start()
        if model_path:
            self.open_model(model_path, trust=trust)
        else:
            self.open_demo()

    def open_demo(self, number: int = 0) -> None:
        """One of `DEMOS` with its cases; 0, the digits, is what a bare start opens."""
        _, model, cases = DEMOS[number]
        self.open_model(str(model), dataset=str(cases))

    def choose_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open model", self._start_dir(), MODEL_FILTER)
        if path:
            self.open_model(path)

    def choose_savedmodel(self) -> None:
        """A TensorFlow SavedModel is a folder, which the file dialog above cannot pick."""
        path = QFileDialog.getExistingDirectory(self, "Open SavedModel folder", self._start_dir())
        if path:
            self.open_model(path)

    def _start_dir(self) -> str:
        return str(Path(self.model_path).parent) if self.model_path else ""

    def show_view(self, name: str) -> None:
        """Ctrl+1..5: show the view's dock if it was closed, raise its tab, focus it."""
        dock = self.docks[name]
        dock.show()
        dock.raise_()
        view = self.views.get(name)
        if view is not None:
            view.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        """An Esc no view took (the focus is outside every view): cancel as `cancel_focused_job`."""
        if event.key() == Qt.Key.Key_Escape:
            self.cancel_focused_job()
            return
        super().keyPressEvent(event)

    def cancel_focused_job(self) -> None:
        """Esc, from anywhere in the window: cancel the jobs of the view that has the focus
        (each view's job helper catches Esc inside it; this is the rest of the window)."""
        widget = QApplication.focusWidget()
        while widget is not None:
            jobs = getattr(widget, "jobs", None)
            if isinstance(jobs, ViewJobs) and widget is not self:
                jobs.cancel()
                return
            widget = widget.parentWidget()
        central = self.centralWidget()
        if isinstance(getattr(central, "jobs", None), ViewJobs):  # no focus in a dock: the canvas
            central.jobs.cancel()

    def open_model(self, path: str, trust: bool | str = False, dataset: str | None = None) -> None:
        """Load in the engine; the open model stays until the new one has loaded."""
        self.status_label.setText(f"Opening {Path(path).name}…")
        self.jobs.start(
            OpenModel(path=path, trust=trust),
            lambda desc: self._on_model_opened(path, desc, dataset),
            on_error=lambda error: self._on_model_error(path, error, dataset),
            quiet=True,
        )

    def _on_model_opened(self, path: str, description: Any, dataset: str | None) -> None:
        self.model_path = path
        self.setWindowTitle(f"Glassbox — {Path(path).name}")
        self.ctx.settings.add_recent_model(path)
        self._fill_recent_menu()
        self.status_label.setText(
            f"Opened {Path(path).name}: {description.n_layers} layers, {description.total_params:,} params"
        )
        self.ctx.state.set_model(description)
        if dataset:
            self.ctx.state.dataset_requested.emit(dataset)

    def _on_model_error(self, path: str, error: JobError, dataset: str | None) -> bool:
        """Unsafe files ask for trust (True: handled); other failures follow the job helper's policy."""
        self.status_label.setText(f"Could not open {Path(path).name}")
        sha = trusting.reported_sha(error.message) if error.kind == "unsafe_model" else None
        if sha and self._confirm_trust(path, error.message):  # only the content the user saw
            QTimer.singleShot(0, lambda: self.open_model(path, trust=sha, dataset=dataset))
            return True
        return False

    def _confirm_trust(self, path: str, reason: str) -> bool:
        """Ask before unsafe deserialisation; "No" is the default, so Enter never trusts a file."""
        return trusting.ask(
            self,
            "Trust this model file?",
            f"{reason}\n\nLoading it runs code stored in the file. Load {Path(path).name} only if "
            "you trust where it came from; only the content with this SHA-256 will be loaded.",
        )

    def _fill_recent_menu(self) -> None:
        """Rebuilt whenever the list changes (a disabled menu never emits aboutToShow)."""
        self.recent_menu.clear()
        for path in self.ctx.settings.recent_models:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.open_model(p))
        self.recent_menu.setEnabled(bool(self.ctx.settings.recent_models))

    # ----- engine feedback --------------------------------------------------------------
    def _on_engine_ready(self, versions: dict) -> None:
        self.engine_label.setText(
            f"Engine ready on {versions.get('device', '?')}: "
            f"TensorFlow {versions.get('tensorflow', '?')}, Keras {versions.get('keras', '?')}"
        )

    def _on_engine_failure(self, key: str, _job_id: int, error: JobError) -> None:
        if key == "engine":
            self.engine_label.setText("Engine failed to start")
            show_error(self, error, "Engine failed to start")

    def _on_progress(self, _key: str, job_id: int, fraction: float, message: str) -> None:
        self.progress_bar.setValue(int(fraction * 1000))
        if message:
            self.job_label.setText(message)
            self._progress_message = (job_id, message)

    def _on_job_end(self, job_id: int, error_message: str) -> None:
        """A finished, failed or cancelled job's last progress line must not linger as if running."""
        shown_id, shown_text = self._progress_message
        if shown_id == job_id and self.job_label.text() == shown_text:
            self.job_label.setText(error_message)
            self._progress_message = (0, "")

    def _on_busy(self, busy: bool) -> None:
        self.progress_bar.setVisible(busy)
        if busy:
            self.progress_bar.setValue(0)

    def show_about(self) -> QMessageBox:
        """Versions of everything that shapes results (the engine's once TensorFlow is loaded)."""
        from PySide6 import __version__ as pyside_version

        versions = dict(self.ctx.engine.versions) or {"engine": "still loading"}
        versions["PySide6"] = pyside_version
        versions["glassbox"] = engine.__version__
        rows = "".join(f"<tr><td>{k}&nbsp;</td><td>{v}</td></tr>" for k, v in sorted(versions.items()))
        box = QMessageBox(self)
        box.setObjectName("aboutDialog")
        box.setWindowTitle("About Glassbox")
        box.setIconPixmap(self.windowIcon().pixmap(48, 48))
        box.setText(f"<b>Glassbox</b> explains Keras models case by case, offline.<table>{rows}</table>")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        """Dropping a model file (or SavedModel folder) on the window opens it."""
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            self.open_model(paths[0])
            event.acceptProposedAction()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        settings = self.ctx.settings
        settings.data["window_geometry"] = bytes(self.saveGeometry().toBase64()).decode()
        settings.data["window_platform"] = QApplication.platformName()
        settings.data["window_state"] = bytes(self.saveState().toBase64()).decode()
        settings.save()
        self.ctx.engine.shutdown()
        super().closeEvent(event)


def _placeholder(text: str) -> QLabel:
    label = QLabel(text)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return label


def _scrollable(view: QWidget) -> QScrollArea:
    """A dock's view scrolls instead of forcing its minimum size on the whole window."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(view)
    return area


def _under(bar: QTabBar, dock: QDockWidget) -> bool:
    """Is `bar` the tab strip just below `dock` (tabs sit under the docks they switch)?"""
    frame = dock.geometry()
    return (
        dock.isVisible()
        and abs(bar.y() - (frame.bottom() + 1)) <= 4
        and frame.left() - 4 <= bar.x() <= frame.right()
    )
