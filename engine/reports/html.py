"""A report as one self-contained HTML file: images base64-embedded, no external reference of any
kind (an auditor opens it offline, years later), print styles that put each case on its page."""

from __future__ import annotations

import base64
import html
import json
from typing import Any

from engine.reports.content import CaseInfo, MapInfo, Report, case_title
from engine.feature_bars import NEGATIVE, POSITIVE

CSS = """
body{font:13px/1.45 "DejaVu Sans",Helvetica,Arial,sans-serif;color:#1d1d1f;margin:24px auto;max-width:980px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:18px 0 8px;border-bottom:1px solid #ccc}
h3{font-size:14px;margin:10px 0 4px}.muted{color:#666}code,.hash{font:11px "DejaVu Sans Mono",monospace}
table{border-collapse:collapse;margin:4px 0 10px}td,th{border:1px solid #ddd;padding:3px 7px;text-align:left;
vertical-align:top}th{background:#f3f3f3}.facts th{width:150px}.case{page-break-before:always;break-before:page}
.row{display:flex;gap:18px;flex-wrap:wrap}.row>.facts-box{flex:1;min-width:320px}
td code,td .hash{word-break:break-all}.map{width:300px;break-inside:avoid;page-break-inside:avoid}
.map table{table-layout:fixed;width:300px}.map th{width:88px}
.map img.overlay,.case img.case-image{image-rendering:pixelated;border:1px solid #bbb;width:224px}
.map table.feature-bars{font-size:10px}.feature-bars caption{text-align:left;color:#666;font-size:10px}
.feature-bars td{border:none;padding:1px 3px}.feature-bars td.feature{width:140px;word-break:break-all}
.feature-bars td.bars{width:90px}.feature-bars td.bars span{display:block;height:10px}
.bar{display:flex;justify-content:space-between;width:224px;font-size:10px}.bar img{width:224px;height:12px}
.verdict{font-weight:bold;padding:2px 8px;border-radius:4px;background:#eee}
.v-plausible{background:#d8f0d8}.v-spurious-feature{background:#f7d4d4}.v-needs-review{background:#fbeec4}
@page{size:A4;margin:14mm}@media print{body{margin:0;max-width:none}a{color:inherit}}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _img(data: bytes, cls: str, alt: str) -> str:
    return f'<img class="{cls}" alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def _facts(rows: list[tuple[str, Any]], cls: str = "facts") -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="{cls}">{body}</table>'


def _counts(title: str, rows: dict[str, dict[str, int]], verdicts: list[str]) -> str:
    head = "".join(f"<th>{_e(v)}</th>" for v in verdicts)
    body = "".join(
        f"<tr><th>{_e(name)}</th>" + "".join(f"<td>{counts.get(v, 0)}</td>" for v in verdicts) + "</tr>"
        for name, counts in rows.items()
    )
    return f"<h3>{_e(title)}</h3><table><tr><th></th>{head}</tr>{body}</table>"


def verdict_badge(verdict: str) -> str:
    return f'<span class="verdict v-{_e(verdict.replace(" ", "-"))}">{_e(verdict)}</span>'


def _map(m: MapInfo) -> str:
    params = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(m.params.items()))
    scores = "".join(f"<br>{_e(k)}: {_e(v)}" for k, v in sorted(m.scores.items())) or "<br>not computed"
    picture = _bars(m.bars) if m.bars else (
        f'{_img(m.overlay_png, "overlay", m.title)}'
        f'<div class="bar">{_img(m.colorbar_png, "colorbar", "colour bar")}</div>'
        f'<div class="bar"><span>{m.levels[0]:.3g}</span><span>0</span><span>{m.levels[1]:.3g}</span></div>')
    return (
        f'<div class="map"><h3>{_e(m.title)}</h3>{picture}'
        + _facts([
            ("Method", f"<code>{_e(m.method)}</code>"),
            ("Target", _e(f"{m.target_name} (class {m.target})")),
            ("Seed", _e(m.seed)),
            ("Parameters", f"<code>{_e(params)}</code>"),
            ("Time (UTC)", _e(m.time)),
            ("Quality scores", scores[4:]),
            ("Record", f'<code class="hash">{_e(m.record_id)}</code>'),
            ("Reproduce", f"<code>{_e(m.command)}</code>"),
        ])
        + "</div>"
    )


def _bars(bars: tuple[tuple[str, float], ...]) -> str:
    """A table's top features as the canvas draws them: red raises the explained score, blue lowers it."""
    largest = max(abs(v) for _, v in bars) or 1.0
    rows = "".join(
        f'<tr><td class="feature">{_e(label)}</td><td class="bars"><span style="width:{100 * abs(v) / largest:.1f}%;'
        f'background:{POSITIVE if v >= 0 else NEGATIVE}"></span></td><td>{v:+.3g}</td></tr>'
        for label, v in bars)
    return (f'<table class="feature-bars"><caption>Top {len(bars)} attributions by |value|: red raises the '
            f'explained score, blue lowers it</caption>{rows}</table>')


def _case(case: CaseInfo, page_break: bool) -> str:
    top = "<br>".join(f"{_e(name)}: {p:.3f}" for name, p in case.top)
    image = _img(case.image_png, "case-image", case.name) if case.image_png else ""
    facts = _facts([
        ("Case", _e(case.name)),
        *([("Counterfactual", _e(case.origin))] if case.origin else []),
        ("Content SHA-256", f'<span class="hash">{_e(case.sha256)}</span>'),
        ("True label", _e(case.label or "unknown")),
        ("Prediction (top classes)", top),
        ("Verdict", verdict_badge(case.verdict)),
        ("Note", _e(case.note) or '<span class="muted">none</span>'),
        ("Reviewer", _e(case.reviewer or "-")),
        ("Reviewed (UTC)", _e(case.reviewed or "-")),
        ("Records", f'<code class="hash">{_e(", ".join(case.record_ids) or "none")}</code>'),
    ])
    maps = "".join(_map(m) for m in case.maps) or '<p class="muted">No explanation was looked at.</p>'
    return (
        f'<section class="{"case" if page_break else "case-first"}"><h2>{_e(case_title(case))}</h2>'
        f'<div class="row"><div>{image}</div><div class="facts-box">{facts}</div></div>'
        f'<h2>Explanations looked at</h2><div class="row">{maps}</div></section>'
    )


def render(report: Report) -> str:
    """The whole report as one HTML string."""
    m = report.model
    model = _facts([
        ("File", _e(m.name)),
        ("SHA-256", f'<span class="hash">{_e(m.sha256)}</span>'),
        ("Format", _e(m.format)),
        ("Parameters", _e(f"{m.total_params:,} ({m.trainable_params:,} trainable)")),
        ("Inputs", "<br>".join(_e(s) for s in m.inputs)),
        ("Outputs", "<br>".join(_e(s) for s in m.outputs)),
    ])
    dataset = _facts([
        ("Cases", _e(report.dataset)),
        ("Source", _e(report.dataset_source)),
        ("Dataset hash", f'<span class="hash">{_e(report.dataset_hash)}</span>'),
        ("Preprocessing", f"<code>{_e(json.dumps(report.recipe, sort_keys=True))}</code>"),
        ("Record log", f"<code>{_e(report.log_path)}</code>"),
    ])
    parts = [
        f"<h1>{_e(report.title)}</h1>",
        f'<p class="muted">Created {_e(report.created)} by {_e(report.exported_by)} with Glassbox. '
        f"Check it with <code>python main.py verify {_e(report.log_path)}</code>.</p>",
        "<h2>Model</h2>", model, "<h2>Cases</h2>", dataset,
    ]
    if report.summary:
        verdicts = sorted(report.summary["verdicts"])
        parts += [
            "<h2>Summary</h2>",
            f"<p>{len(report.cases)} case(s): "
            + ", ".join(f"{verdict_badge(v)} {n}" for v, n in sorted(report.summary["verdicts"].items())) + "</p>",
            _counts("Per true class", report.summary["per_class"], verdicts),
            _counts("Per reviewer", report.summary["per_reviewer"], verdicts),
        ]
    parts += [_case(case, page_break=bool(report.summary) or i > 0) for i, case in enumerate(report.cases)]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="glassbox-records" content="glassbox-records={_e(report.log_path)}">'
        f"<title>{_e(report.title)}</title><style>{CSS}</style></head><body>"
        + "\n".join(parts) + "</body></html>\n"
    )
