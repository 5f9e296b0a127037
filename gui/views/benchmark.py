"""The method benchmark: which attribution methods this model can be trusted with, on real cases.

Choose methods and metrics and the cases (the current case, the embedding's selection, or a
list such as "0-7, 12"), run, and read a table that ranks the methods: per metric the mean and
spread over the cases, and the method's average rank over the metrics (each metric ranked in
its own better direction). Click a method for its per-case scores. Export the table as CSV.
The perturbation metrics' baseline (0, mean, blur, a number) is the scorecard's, from the same
setting; the status line and the CSV name it.
The ranking also orders the canvas's quick-look grid (state.methods_ranked).
"""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.errors import BadInputError
from engine.fileio import atomic_write_bytes
from engine.tasks import ListMethods, ListMetrics, RunBenchmark, job_key
from gui.app import show_error
from gui.context import AppContext
from gui.widgets import baseline_choice

DEFAULT_METHODS = ("saliency", "gradient_x_input", "integrated_gradients", "gradcam", "occlusion")
DEFAULT_METRICS = ("deletion", "insertion", "sparseness")
KEY = job_key("benchmark", "run")


def parse_cases(text: str, n_cases: int) -> list[int]:
    """'0-3, 7' -> [0, 1, 2, 3, 7]; BadInputError naming the bad part."""
    cases: list[int] = []
    for part in (p.strip() for p in text.replace(";", ",").split(",")):
        if not part:
            continue
        low, _, high = part.partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError:
            raise BadInputError(f"Cases: {part!r} is not a number or a range like 0-7.") from None
        if not 0 <= first <= last < max(n_cases, 1):
            raise BadInputError(f"Cases: {part!r} is outside 0-{n_cases - 1}.")
        cases += [c for c in range(first, last + 1) if c not in cases]
    if not cases:
        raise BadInputError("Cases: give at least one case, e.g. 0-7.")
    return cases


def format_cases(cases: list[int]) -> str:
    """[0, 1, 2, 3, 7] -> '0-3, 7' (parse_cases reads it back; runs keep a long selection short)."""
    parts: list[str] = []
    ordered = sorted({int(c) for c in cases})
    start = 0
    for i in range(1, len(ordered) + 1):
        if i == len(ordered) or ordered[i] != ordered[i - 1] + 1:
            first, last = ordered[start], ordered[i - 1]
            parts.append(str(first) if first == last else f"{first}-{last}")
            start = i
    return ", ".join(parts)


def ranking(scores: np.ndarray, better: tuple[str, ...]) -> np.ndarray:
    """(methods,) mean rank over metrics (1 = best) of each method's mean score."""
    means = np.nanmean(scores, axis=2) if scores.size else np.zeros(scores.shape[:2])
    ranks = np.zeros_like(means)
    for k, direction in enumerate(better):
        column = np.where(np.isnan(means[:, k]), np.inf if direction == "lower" else -np.inf, means[:, k])
        order = np.argsort(column if direction == "lower" else -column, kind="stable")
        ranks[order, k] = np.arange(1, len(order) + 1)
    return ranks.mean(axis=1)


class BenchmarkView(QWidget):
    """See the module docstring. `scored(Scorecard)` fires for each (method, case) scored."""

    scored = Signal(object)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.result: Any = None
        self.order: list[int] = []
        self.titles: dict[str, str] = {}
        self.n_cases = 0
        self._build()
        ctx.state.dataset_changed.connect(self._on_dataset)
        ctx.state.model_changed.connect(lambda _d: self._clear())
        ctx.state.case_selected.connect(lambda case: self.current.setText(f"current case: {case}"))
        ctx.state.cases_chosen.connect(lambda cases: len(cases) and self.set_cases(list(cases)))
        ctx.engine.submit(ListMethods(), key=job_key("benchmark", "methods"), on_result=self._on_methods)
        ctx.engine.submit(ListMetrics(), key=job_key("benchmark", "metrics"), on_result=self._on_metrics)

    def _build(self) -> None:
        self.method_list, self.metric_list = QListWidget(), QListWidget()
        self.method_list.setObjectName("benchmarkMethods")
        self.metric_list.setObjectName("benchmarkMetrics")
        self.cases = QLineEdit("0-7")
        self.cases.setObjectName("benchmarkCases")
        self.cases.setToolTip("Case numbers and ranges, e.g. 0-7, 12; selecting several cases in the case list "
                              "(Ctrl/Shift-click) or in the embedding fills it in.")
        self.current = QLabel("current case: none")
        use_current = QPushButton("Use current case")
        use_current.clicked.connect(lambda: self.cases.setText(str(max(self.ctx.state.case, 0))))
        self.baseline = baseline_choice.BaselineChoice()
        self.baseline.setObjectName("benchmarkBaseline")
        self.baseline.set_params(self.ctx.settings.get(baseline_choice.SETTINGS_KEY, baseline_choice.DEFAULT))
        self.baseline.changed.connect(lambda params: self.ctx.settings.set(baseline_choice.SETTINGS_KEY, params))
        self.run_button, self.cancel_button = QPushButton("Run benchmark"), QPushButton("Cancel")
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(lambda: self.ctx.engine.cancel(KEY))
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(self.choose_csv)
        self.quick_button = QPushButton("Quick look in this order")
        self.quick_button.setToolTip("Open the canvas's quick-look grid with the best-ranked methods first.")
        self.quick_button.clicked.connect(lambda: self._publish(show=True))
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
        self.status = QLabel("Choose methods, metrics and cases, then run.")
        self.status.setWordWrap(True)
        self.table = QTableWidget()
        self.table.setObjectName("benchmarkTable")
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.cellClicked.connect(lambda row, _col: self.show_cases(row))
        self.detail = QTableWidget()
        self.detail.setObjectName("benchmarkPerCase")
        self.detail.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for table in (self.table, self.detail):
            table.verticalHeader().setVisible(False)

        choices = QVBoxLayout()
        for label, widget in (("Methods", self.method_list), ("Metrics", self.metric_list)):
            choices.addWidget(QLabel(label))
            choices.addWidget(widget, 1)
        cases_row = QHBoxLayout()
        cases_row.addWidget(QLabel("Cases"))
        cases_row.addWidget(self.cases, 1)
        cases_row.addWidget(use_current)
        cases_row.addWidget(self.current)
        cases_row.addWidget(self.baseline)
        buttons = QHBoxLayout()
        for button in (self.run_button, self.cancel_button, self.export_button, self.quick_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        tables = QGridLayout()
        tables.addWidget(QLabel("Methods ranked for this model (click one for its cases)"), 0, 0)
        tables.addWidget(QLabel("Per case"), 0, 1)
        tables.addWidget(self.table, 1, 0)
        tables.addWidget(self.detail, 1, 1)
        tables.setColumnStretch(0, 3)
        tables.setColumnStretch(1, 2)
        results = QVBoxLayout()
        results.addLayout(cases_row)
        results.addLayout(buttons)
        results.addWidget(self.progress)
        results.addWidget(self.status)
        results.addLayout(tables, 1)
        layout = QHBoxLayout(self)
        layout.addLayout(choices, 1)
        layout.addLayout(results, 3)

    # ----- choices ------------------------------------------------------------------------
    def _on_methods(self, methods: list[dict[str, Any]]) -> None:
        self.titles.update({m["name"]: m["title"] for m in methods})
        _fill(self.method_list, [(m["name"], m["title"], m["description"]) for m in methods], DEFAULT_METHODS)

    def _on_metrics(self, infos: list[dict[str, Any]]) -> None:
        self.better = {i["name"]: i["better"] for i in infos}
        self.titles.update({i["name"]: i["title"] for i in infos})
        rows = [(i["name"], f"{i['title']} ({i['better']} is better)", i["description"]) for i in infos]
        _fill(self.metric_list, rows, DEFAULT_METRICS)

    def _on_dataset(self, summary: Any) -> None:
        self.n_cases = len(summary) if summary is not None else 0
        self._clear()

    def _clear(self) -> None:
        self.result = None
        self.table.clear()
        self.table.setRowCount(0)
        self.detail.clear()
        self.detail.setRowCount(0)

    def set_cases(self, cases: list[int]) -> None:
        """Benchmark these cases (the case list's or the embedding's selection)."""
        self.cases.setText(format_cases(cases))

    # ----- running ------------------------------------------------------------------------
    def run(self) -> None:
        methods, names = _checked(self.method_list), _checked(self.metric_list)
        try:
            cases = parse_cases(self.cases.text(), self.n_cases or 10**9)
            if not methods or not names:
                raise BadInputError("Choose at least one method and one metric.")
        except BadInputError as exc:
            self.status.setText(str(exc))
            return
        self.baseline.set_params(self.ctx.settings.get(baseline_choice.SETTINGS_KEY, baseline_choice.DEFAULT))  # the scorecard's may be newer
        self.status.setText(f"Running {len(methods)} methods x {len(names)} metrics on {len(cases)} cases…")
        self.progress.setVisible(True)
        self.ctx.engine.submit(
            RunBenchmark(cases=list(cases), methods=list(methods), names=list(names), metric_params=self.baseline.params()),
            key=KEY,
            on_result=self.show_result, on_error=self._on_error, on_progress=self._on_progress,
        )

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.progress.setFormat(message or "%p%")

    def _on_error(self, error: Any) -> None:
        self.progress.setVisible(False)
        self.status.setText("Cancelled." if error.kind == "cancelled" else f"Failed: {error.message}")
        if error.kind != "cancelled":
            show_error(self, error, "Benchmark failed")

    def show_result(self, result: Any) -> None:
        """Fill the ranked table (methods by mean rank) and publish the order to the canvas."""
        self.progress.setVisible(False)
        self.result = result
        ranks = ranking(result.scores, result.better)
        self.order = [int(i) for i in np.argsort(ranks, kind="stable")]
        headers = ["rank", "method", "mean rank"] + [
            f"{self.titles.get(n, n)} ({'↓' if b == 'lower' else '↑'})" for n, b in zip(result.metrics, result.better)
        ]
        self.table.clear()
        self.table.setColumnCount(len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setRowCount(len(self.order))
        for row, m in enumerate(self.order):
            cells = [str(row + 1), self.titles.get(result.methods[m], result.methods[m]), f"{ranks[m]:.2f}"]
            cells += [_mean_spread(result.scores[m, k]) for k in range(len(result.metrics))]
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        failed = f" {len(result.failures)} failed: {'; '.join(result.failures[:3])}" if result.failures else ""
        self.status.setText(f"{len(result.methods)} methods on {len(result.cases)} cases (mean ± sd), "
                            f"baseline {self._baseline_used() or 'none'}.{failed}")
        if self.order:
            self.table.selectRow(0)
            self.show_cases(0)
        self._publish(show=False)
        for scorecard in result.scorecards:
            self.scored.emit(scorecard)

    def _baseline_used(self, metric: str | None = None) -> str:
        """The baseline the shown result's scores (of `metric`, or any) were made with, from
        their records; '' where that metric takes none."""
        for scorecard in getattr(self.result, "scorecards", ()):
            for name, score in scorecard.scores.items():
                params = score.provenance.get("params", {})
                if metric == name or (metric is None and "baseline" in params):
                    return baseline_choice.describe(params) if "baseline" in params else ""
        return ""

    def show_cases(self, row: int) -> None:
        """The per-case scores of the method in table row `row`."""
        if self.result is None or not 0 <= row < len(self.order):
            return
        m, result = self.order[row], self.result
        self.detail.clear()
        self.detail.setColumnCount(1 + len(result.metrics))
        self.detail.setHorizontalHeaderLabels(["case"] + [self.titles.get(n, n) for n in result.metrics])
        self.detail.setRowCount(len(result.cases))
        for n, case in enumerate(result.cases):
            self.detail.setItem(n, 0, QTableWidgetItem(str(case)))
            for k in range(len(result.metrics)):
                self.detail.setItem(n, k + 1, QTableWidgetItem(f"{result.scores[m, k, n]:.4f}"))
        self.detail.resizeColumnsToContents()

    def _publish(self, show: bool) -> None:
        if self.result is not None:
            self.ctx.state.methods_ranked.emit([self.result.methods[m] for m in self.order], show)

    # ----- export -------------------------------------------------------------------------
    def csv_text(self) -> str:
        """One row per method, metric and case, then one summary row per method and metric."""
        result = self.result
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["method", "metric", "better", "case", "score", "baseline"])
        for m in self.order:
            for k, name in enumerate(result.metrics):
                used = self._baseline_used(name)
                for n, case in enumerate(result.cases):
                    writer.writerow([result.methods[m], name, result.better[k], case, f"{result.scores[m, k, n]:.6g}", used])
                values = result.scores[m, k]
                writer.writerow([result.methods[m], name, result.better[k], "mean", f"{np.nanmean(values):.6g}", used])
                writer.writerow([result.methods[m], name, result.better[k], "sd", f"{np.nanstd(values):.6g}", used])
        return out.getvalue()

    def export_csv(self, path: str) -> None:
        atomic_write_bytes(path, self.csv_text().encode("utf-8"))

    def choose_csv(self) -> None:
        if self.result is None:
            self.status.setText("Nothing to export: run the benchmark first.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export benchmark", "benchmark.csv", "CSV (*.csv)")
        if path:
            self.export_csv(path)


def _fill(widget: QListWidget, rows: list[tuple[str, str, str]], checked: tuple[str, ...]) -> None:
    widget.clear()
    for name, title, tip in rows:
        item = QListWidgetItem(title)
        item.setData(Qt.ItemDataRole.UserRole, name)
        item.setToolTip(tip)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if name in checked else Qt.CheckState.Unchecked)
        widget.addItem(item)


def _checked(widget: QListWidget) -> list[str]:
    return [
        widget.item(i).data(Qt.ItemDataRole.UserRole)
        for i in range(widget.count())
        if widget.item(i).checkState() == Qt.CheckState.Checked
    ]


def _mean_spread(values: np.ndarray) -> str:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return "—"
    return f"{finite.mean():.3f} ± {finite.std():.3f}"
