"""Through the real window on the demo: maps shown, verdicts, notes and exports become records;
File ▸ Export case report / review report write HTML + PDF (+ CSV) that verify checks."""

from __future__ import annotations

import shutil
from pathlib import Path

from engine.records import read_records, verify
from gui.main_window import MainWindow

SHOTS = Path(__file__).resolve().parents[2] / "shots" / "evidence"
SCORED = ("deletion", "insertion", "sparseness")
REVIEWED = {3: "plausible", 10: "spurious feature", 25: "needs review", 42: "plausible", 77: "plausible"}


def _show(qtbot, window: MainWindow, case: int, method: str) -> None:
    canvas = window.views["attribution"]
    canvas.explain(case, method)
    qtbot.waitUntil(lambda: canvas.case == case and canvas.panels[canvas.active].result is not None
                    and canvas.panels[canvas.active].result.method == method, timeout=60000)


def _review(qtbot, window: MainWindow, case: int, verdict: str, note: str) -> None:
    review = window.views["cases"].review
    window.ctx.state.select_case(case)
    qtbot.waitUntil(lambda: review._case is not None and review._case[0] == case, timeout=30000)
    review.set_verdict(verdict)
    review.note.setPlainText(note)
    review.save_note()


def _export(qtbot, window: MainWindow, export, path: Path) -> list[str]:
    with qtbot.waitSignal(window.evidence.report_written, timeout=120000) as blocker:
        export(str(path))
    return blocker.args[0]


def test_gui_records_and_reports_verify(qtbot, main_window: MainWindow, tmp_path: Path) -> None:
    window = main_window
    window.resize(1400, 900)
    with qtbot.waitSignal(window.ctx.state.dataset_changed, timeout=120000):
        window.start()
    qtbot.waitUntil(lambda: window.evidence.log_path() is not None, timeout=30000)
    log = window.evidence.log_path()

    canvas = window.views["attribution"]
    _show(qtbot, window, 3, "saliency")  # a fast method: the scorecard scores it by itself
    qtbot.waitUntil(lambda: set(SCORED) <= set(canvas.scorecard.scores.get(canvas.scorecard.key(canvas.panels[0]), {})),
                    timeout=60000)
    _show(qtbot, window, 3, "gradcam")
    _show(qtbot, window, 3, "saliency")  # shown again: the same result is not recorded twice
    _review(qtbot, window, 3, "plausible", "strokes of the 3, background ignored")
    for case, verdict in REVIEWED.items():
        if case != 3:
            _show(qtbot, window, case, "gradient_x_input")
            _review(qtbot, window, case, verdict, f"case {case}: {verdict}")
    _show(qtbot, window, 3, "saliency")  # back to the first case: its map comes from the cache
    qtbot.waitUntil(lambda: not canvas.scorecard.busy, timeout=60000)  # scores still coming are records too
    assert canvas.export_maps(tmp_path / "case3")

    records = read_records(log)
    actions = [r["action"] for r in records]
    scored = [r for r in records if r["action"] == "score" and r["case_path"] == "case 3" and r["method"] == "saliency"]
    assert sorted(r["details"]["metric"] for r in scored) == sorted(SCORED)  # once each, though shown twice
    explained = next(r for r in records if r["action"] == "explain" and r["method"] == "saliency")
    deletion = next(r for r in scored if r["details"]["metric"] == "deletion")
    assert deletion["details"]["maps_sha256"] == explained["details"]["maps_sha256"]
    assert deletion["params"] == explained["params"] and deletion["target"] == explained["target"]
    assert deletion["details"]["metric_params"]["steps"] == 10 and deletion["seed"] == 0
    assert deletion["details"]["scores"]["deletion"] == canvas.scorecard.scores[canvas.scorecard.key(canvas.panels[0])]["deletion"].score
    assert actions.count("explain") == 2 + 4 and actions.count("verdict") == 5 and actions.count("note") == 5
    assert actions[-1] == "export" and len(records[-1]["artefacts"]) >= 2
    first = records[0]
    assert (first["method"], first["case_path"]) == ("saliency", "case 3")
    assert first["model_sha256"] == window.ctx.state.model.sha256 and first["details"]["reproduce"]["cases"]

    case_files = _export(qtbot, window, window.evidence.export_case_report, tmp_path / "case3_report.html")
    assert sorted(Path(p).suffix for p in case_files) == [".html", ".pdf"]
    html = Path(case_files[0]).read_text()
    assert "Saliency" in html and "Grad-CAM" in html and "strokes of the 3" in html
    assert f"deletion: {deletion['details']['scores']['deletion']}" in html  # the score record, in the report
    public = window.evidence.create_signing_key()  # from now on this reviewer's records are signed
    review_files = _export(qtbot, window, window.evidence.export_review_report, tmp_path / "review_report.html")
    assert read_records(log)[-1]["signature"]["public_key"] == public
    assert sorted(Path(p).suffix for p in review_files) == [".csv", ".html", ".pdf"]
    csv_rows = Path(next(p for p in review_files if p.endswith(".csv"))).read_text().splitlines()
    assert len(csv_rows) == 1 + len(REVIEWED)
    assert [row.split(",")[0] for row in csv_rows[1:]] == [f"case {c}" for c in sorted(REVIEWED)]

    total = len(records) + 2
    reports = [p for p in (*case_files, *review_files) if not p.endswith(".csv")]  # a CSV names no log
    for path in (log, *reports):
        assert verify(path).message == f"{total} records intact"
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert "Wrote review_report" in window.status_label.text()
    window.grab().save(str(SHOTS / "window.png"))
    for path in (*case_files, *review_files):
        shutil.copy(path, SHOTS / Path(path).name)
