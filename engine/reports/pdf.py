"""The same report as a PDF, written offline by fpdf2 (pure Python; core fonts, nothing embedded
from the system, so the file is the same on every machine)."""

from __future__ import annotations

import io
import json
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from engine.reports.content import CaseInfo, MapInfo, Report, case_title
from engine.feature_bars import NEGATIVE, POSITIVE

LABEL_W = 38.0
LINE = 4.6
REPLACEMENTS = str.maketrans({"…": "...", "—": "-", "–": "-", "−": "-", "▸": ">", "’": "'", "“": '"', "”": '"'})


def _latin1(text: Any) -> str:
    """Core PDF fonts are Latin-1: map the few typographic characters we use, replace the rest."""
    return str(text).translate(REPLACEMENTS).encode("latin-1", "replace").decode("latin-1")


class _Pdf(FPDF):
    def __init__(self, report: Report) -> None:
        super().__init__(format="A4")
        self.report = report
        self.set_auto_page_break(True, margin=14)
        self.set_margins(14, 14, 14)
        self.set_title(_latin1(report.title))
        self.set_creator("Glassbox")
        self.set_keywords(f"glassbox-records={report.log_path}")
        self.alias_nb_pages()

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font("Helvetica", size=7)
        self.set_text_color(120)
        self.cell(0, 4, _latin1(f"{self.report.title} - model {self.report.model.sha256[:16]}... - page "
                                f"{self.page_no()}/{{nb}}"), align="C")
        self.set_text_color(0)

    def heading(self, text: str, size: float = 13) -> None:
        self.set_font("Helvetica", "B", size)
        self.multi_cell(0, size * 0.5, _latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1.5)

    def row(self, label: str, value: Any, mono: bool = False, width: float = 0, x: float | None = None) -> None:
        left = self.l_margin if x is None else x
        self.set_x(left)
        self.set_font("Helvetica", "B", 8.5)
        self.cell(LABEL_W, LINE, _latin1(label))
        self.set_font("Courier" if mono else "Helvetica", size=6.5 if mono else 8.5)
        w = width - LABEL_W if width else self.w - self.r_margin - left - LABEL_W
        self.multi_cell(w, LINE, _latin1(value), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def picture(self, data: bytes, x: float, y: float, w: float, h: float | None = None) -> None:
        self.image(io.BytesIO(data), x=x, y=y, w=w, h=h or 0)


def _counts(pdf: _Pdf, title: str, rows: dict[str, dict[str, int]], verdicts: list[str]) -> None:
    pdf.heading(title, 10)
    width = min(32.0, (pdf.w - 28 - 40) / max(1, len(verdicts)))
    pdf.set_font("Helvetica", "B", 8)
    pdf.cell(40, 5, "", border=1)
    for verdict in verdicts:
        pdf.cell(width, 5, _latin1(verdict), border=1)
    pdf.ln()
    pdf.set_font("Helvetica", size=8)
    for name, counts in rows.items():
        pdf.cell(40, 5, _latin1(name), border=1)
        for verdict in verdicts:
            pdf.cell(width, 5, str(counts.get(verdict, 0)), border=1)
        pdf.ln()
    pdf.ln(3)


def _map(pdf: _Pdf, m: MapInfo) -> None:
    if pdf.get_y() + 62 > pdf.h - pdf.b_margin:
        pdf.add_page()
    top, image_w = pdf.get_y(), 52.0
    if m.bars:
        _bars(pdf, m.bars, top, image_w)
    else:
        pdf.picture(m.overlay_png, pdf.l_margin, top, image_w)
        pdf.picture(m.colorbar_png, pdf.l_margin, top + image_w + 1, image_w, 3)
        pdf.set_font("Helvetica", size=7)
        pdf.set_xy(pdf.l_margin, top + image_w + 4.5)
        pdf.cell(image_w / 2, 3, f"{m.levels[0]:.3g}")
        pdf.cell(image_w / 2, 3, f"{m.levels[1]:.3g}", align="R")
    x = pdf.l_margin + image_w + 5
    pdf.set_xy(x, top)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(0, 5, _latin1(m.title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    params = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(m.params.items()))
    scores = ", ".join(f"{k}: {v}" for k, v in sorted(m.scores.items())) or "not computed"
    for label, value, mono in (
        ("Method", m.method, True), ("Target", f"{m.target_name} (class {m.target})", False),
        ("Seed", m.seed, False), ("Parameters", params, True), ("Time (UTC)", m.time, False),
        ("Quality scores", scores, False), ("Record", m.record_id, True), ("Reproduce", m.command, True),
    ):
        pdf.row(label, value, mono, x=x)
    pdf.set_y(max(pdf.get_y(), top + image_w + 9) + 3)


def _bars(pdf: _Pdf, bars: tuple[tuple[str, float], ...], top: float, width: float) -> None:
    """A table's top features in the map's square: label above, a bar from the middle (red
    raises the explained score, blue lowers it), the value at the end."""
    largest = max(abs(v) for _, v in bars) or 1.0
    row = (width + 8) / len(bars)
    middle = pdf.l_margin + width / 2
    for i, (label, value) in enumerate(bars):
        y = top + i * row
        pdf.set_font("Helvetica", size=5.5)
        pdf.set_xy(pdf.l_margin, y)
        pdf.cell(width, 2.4, _latin1(label)[:48])
        length = (width / 2 - 8) * abs(value) / largest
        pdf.set_fill_color(*_rgb(POSITIVE if value >= 0 else NEGATIVE))
        pdf.rect(middle if value >= 0 else middle - length, y + 2.5, max(length, 0.3), 2.0, style="F")
        pdf.set_xy(middle + length + 0.5 if value >= 0 else middle - length - 8.5, y + 2.2)
        pdf.cell(8, 2.6, f"{value:+.3g}", align="L" if value >= 0 else "R")
    pdf.set_draw_color(150)
    pdf.line(middle, top + 2, middle, top + len(bars) * row)
    pdf.set_draw_color(0)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def _case(pdf: _Pdf, case: CaseInfo, new_page: bool) -> None:
    if new_page or pdf.get_y() > pdf.h / 2:
        pdf.add_page()
    else:
        pdf.ln(4)
    pdf.heading(case_title(case))
    top, image_w = pdf.get_y(), 45.0
    if case.image_png:
        pdf.picture(case.image_png, pdf.l_margin, top, image_w)
    x = pdf.l_margin + image_w + 5
    pdf.set_xy(x, top)
    top_classes = "; ".join(f"{name}: {p:.3f}" for name, p in case.top)
    for label, value, mono in (
        ("Case", case.name, False), *([("Counterfactual", case.origin, False)] if case.origin else []),
        ("Content SHA-256", case.sha256, True), ("True label", case.label or "unknown", False),
        ("Prediction (top)", top_classes, False), ("Verdict", case.verdict, False), ("Note", case.note or "none", False),
        ("Reviewer", case.reviewer or "-", False), ("Reviewed (UTC)", case.reviewed or "-", False),
        ("Records", ", ".join(case.record_ids) or "none", True),
    ):
        pdf.row(label, value, mono, x=x)
    pdf.set_y(max(pdf.get_y(), top + image_w) + 4)
    pdf.heading("Explanations looked at", 11)
    if not case.maps:
        pdf.set_font("Helvetica", "I", 9)
        pdf.cell(0, 5, "No explanation was looked at.", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for m in case.maps:
        _map(pdf, m)


def render(report: Report) -> bytes:
    """The report as PDF bytes: a first page (model, cases, summary) then one page per case."""
    pdf = _Pdf(report)
    pdf.add_page()
    pdf.heading(report.title, 16)
    pdf.set_font("Helvetica", size=8.5)
    pdf.multi_cell(0, LINE, _latin1(f"Created {report.created} by {report.exported_by} with Glassbox. Check it "
                                    f"with: python main.py verify {report.log_path}"),
                   align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    m = report.model
    pdf.heading("Model", 11)
    for label, value, mono in (
        ("File", m.name, False), ("SHA-256", m.sha256, True), ("Format", m.format, False),
        ("Parameters", f"{m.total_params:,} ({m.trainable_params:,} trainable)", False),
        ("Inputs", "; ".join(m.inputs), True), ("Outputs", "; ".join(m.outputs), True),
    ):
        pdf.row(label, value, mono)
    pdf.ln(2)
    pdf.heading("Cases", 11)
    for label, value, mono in (
        ("Cases", report.dataset, False), ("Source", report.dataset_source, True),
        ("Dataset hash", report.dataset_hash, True),
        ("Preprocessing", json.dumps(report.recipe, sort_keys=True), True), ("Record log", report.log_path, True),
    ):
        pdf.row(label, value, mono)
    if report.summary:
        pdf.ln(2)
        pdf.heading("Summary", 11)
        verdicts = sorted(report.summary["verdicts"])
        pdf.set_font("Helvetica", size=9)
        counts = ", ".join(f"{v}: {n}" for v, n in sorted(report.summary["verdicts"].items()))
        pdf.multi_cell(0, LINE, _latin1(f"{len(report.cases)} case(s). {counts}"), align="L", new_x=XPos.LMARGIN,
                       new_y=YPos.NEXT)
        pdf.ln(2)
        _counts(pdf, "Per true class", report.summary["per_class"], verdicts)
        _counts(pdf, "Per reviewer", report.summary["per_reviewer"], verdicts)
    for case in report.cases:
        _case(pdf, case, new_page=report.kind == "review")
    return bytes(pdf.output())
