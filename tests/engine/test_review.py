"""Review file: verdicts and notes survive reopening, renames, crashes mid-write, and bad files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.errors import BadInputError
from engine.review import ReviewStore, default_review_path


def test_write_reopen_read_back(tmp_path: Path) -> None:
    path = tmp_path / ".glassbox-review.json"
    store = ReviewStore(path, source=str(tmp_path))
    store.set_verdict("cats/a.png", "h1", "spurious feature", model_sha256="m" * 64)
    store.set_note("cats/a.png", "h1", "looks at the watermark", model_sha256="m" * 64)
    store.set_verdict("b.png", "h2", "plausible")
    store.set_verdict("b.png", "h2", "needs review")
    again = ReviewStore(path)
    a = again.get("cats/a.png", "h1")
    assert a is not None and a.verdict == "spurious feature" and a.note == "looks at the watermark"
    assert a.model_sha256 == "m" * 64 and a.updated.endswith("+00:00")
    assert again.get("b.png", "h2").verdict == "needs review"
    history = json.loads(path.read_text())["cases"]["b.png"]["h2"]["history"]
    assert [h["value"] for h in history] == ["plausible", "needs review"]
    assert again.verdicts(["b.png", "cats/a.png", "c.png"], ["h2", "h1", "h3"]) == [
        "needs review",
        "spurious feature",
        None,
    ]


def test_identical_bytes_in_two_files_are_two_cases_and_changed_content_is_flagged(tmp_path: Path) -> None:
    """A case is path + content hash: same bytes elsewhere never share (or steal) an entry."""
    store = ReviewStore(tmp_path / "r.json")
    store.set_verdict("a.png", "h1", "plausible")
    assert store.get("copy_of_a.png", "h1") is None  # identical bytes, another file
    store.set_verdict("copy_of_a.png", "h1", "spurious feature")
    again = ReviewStore(tmp_path / "r.json")
    assert again.verdicts(["a.png", "copy_of_a.png"], ["h1", "h1"]) == ["plausible", "spurious feature"]
    assert again.get("a.png", "other-content") is None  # edited image: not the old verdict...
    earlier = again.earlier_versions("a.png", "other-content")
    assert [(r.verdict, r.case_hash) for r in earlier] == [("plausible", "h1")]  # ...but flagged, kept
    again.set_verdict("a.png", "other-content", "needs review")
    assert ReviewStore(tmp_path / "r.json").get("a.png", "h1").verdict == "plausible"


def test_unchanged_value_does_not_rewrite(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "r.json")
    store.set_note("a", "h", "x")
    before = (tmp_path / "r.json").stat().st_mtime_ns
    time.sleep(0.01)
    store.set_note("a", "h", "x")
    assert (tmp_path / "r.json").stat().st_mtime_ns == before


def test_unknown_verdict_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="Unknown verdict"):
        ReviewStore(tmp_path / "r.json").set_verdict("a", "h", "great")


def test_crash_mid_write_leaves_valid_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "r.json"
    store = ReviewStore(path)
    store.set_note("a", "h", "first")

    def crash(*_args: object) -> None:
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(os, "replace", crash)  # dies after writing the temp file, before the rename
    with pytest.raises(KeyboardInterrupt):
        store.set_note("a", "h", "second " * 10000)
    monkeypatch.undo()
    assert ReviewStore(path).get("a", "h").note == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".r.json.lock", "r.json"]  # no temp file left


def test_killed_writer_process_never_leaves_broken_json(tmp_path: Path) -> None:
    """A real SIGKILL at a random point in a stream of large writes."""
    path = tmp_path / "r.json"
    script = (
        "import sys; from engine.review import ReviewStore\n"
        f"s = ReviewStore({str(path)!r})\n"
        "i = 0\n"
        "while True:\n"
        "    i += 1; s.set_note('case %d' % (i % 50), 'h%d' % (i % 50), 'note %d ' % i * 2000)\n"
        "    if i == 5: print('go', flush=True)\n"
    )
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=root, stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"go"
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    data = json.loads(path.read_text())
    assert data["format"] == "glassbox-review" and len(data["cases"]) >= 5


def test_unreadable_file_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text("{ not json")
    store = ReviewStore(path)
    assert "unreadable" in store.warning and store.cases == {}
    assert any(p.name.startswith("r.json.unreadable-") for p in tmp_path.iterdir())


def test_default_locations(tmp_path: Path) -> None:
    folder = tmp_path / "cases"
    folder.mkdir()
    assert default_review_path(folder) == folder / ".glassbox-review.json"
    assert default_review_path(tmp_path / "d.npz") == tmp_path / "d.npz.review.json"
    folder.chmod(0o500)
    try:
        inside = folder / "x.npz"
        fallback = default_review_path(inside, tmp_path / "reviews")
        if not os.access(folder, os.W_OK):  # root ignores permissions
            assert fallback.parent == tmp_path / "reviews" and fallback.name.startswith("x.npz-")
    finally:
        folder.chmod(0o700)
