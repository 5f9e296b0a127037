"""Review file: verdicts and notes survive reopening, renames, crashes mid-write, and bad files."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.errors import BadInputError
from engine.review import ReviewStore, default_review_path, os_user


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


ROOT = Path(__file__).resolve().parents[2]
WRITER = (
    "import sys; sys.path.insert(0, sys.argv[1]); from engine.review import ReviewStore\n"
    "s = ReviewStore(sys.argv[2], source='cases', reviewer=sys.argv[3])\n"
    "for i in range(int(sys.argv[4])):\n"
    "    s.set_note('case %d' % (i % 7), 'h%d' % (i % 7), '%s note %d ' % (sys.argv[3], i) + 'x' * 3000)\n"
    "    print('ack', i, flush=True)\n"
)


def _writer(path: Path, who: str, n: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-I", "-c", WRITER, str(ROOT), str(path), who, str(n)],
                            stdout=subprocess.PIPE, text=True)


def _notes(path: Path) -> set[str]:
    store = ReviewStore(path)
    return {e["value"].split(" x")[0].strip() for (name, h) in store._cases for e in store.history(name, h)}


def test_two_instances_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    """Lock, re-read, merge, write: 2 x 40 notes from two processes all end up in the file."""
    path = tmp_path / "r.json"
    procs = [_writer(path, who, 40) for who in ("alice", "bob")]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    expected = {f"{who} note {i}" for who in ("alice", "bob") for i in range(40)}
    assert _notes(path) == expected
    store = ReviewStore(path)
    assert {e["reviewer"] for n, h in store._cases for e in store.history(n, h)} == {"alice", "bob"}


def test_kill_9_loop_loses_no_acknowledged_note_and_leaves_no_temp_files(tmp_path: Path) -> None:
    """12 writers killed at random moments: every note whose write returned is in the file."""
    path = tmp_path / "r.json"
    rng = random.Random(0)
    acked: set[str] = set()
    for round_ in range(12):
        proc = _writer(path, f"w{round_}", 10**6)
        assert proc.stdout.readline().startswith("ack")
        acked.add(f"w{round_} note 0")
        deadline = time.monotonic() + rng.uniform(0.05, 0.4)
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            acked.add(f"w{round_} note {line.split()[1]}")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert acked <= _notes(path)
    assert not list(tmp_path.glob(".r.json.*.tmp"))  # what the killed writers left is cleaned on open
    assert len(acked) > 12


def test_a_bad_entry_is_quarantined_and_the_rest_loads(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    good = ReviewStore(path)
    good.set_verdict("good.png", "h1", "plausible")
    data = json.loads(path.read_text())
    deep: object = "x"
    for _ in range(200):
        deep = [deep]
    data["cases"]["null.png"] = None
    data["cases"]["list.png"] = ["plausible"]
    data["cases"]["deep.png"] = {"h": {"history": [deep]}}
    data["cases"]["wrong.png"] = {"h2": {"history": [{"kind": "verdict", "value": "great"}]}}
    path.write_text(json.dumps(data))
    store = ReviewStore(path)
    assert store.get("good.png", "h1").verdict == "plausible"
    assert "4 entries could not be read and were quarantined" in store.warning
    assert all(name in store.warning for name in ("null.png", "list.png", "deep.png"))
    store.set_verdict("new.png", "h3", "needs review")  # still writable; the bad entries are kept aside
    saved = json.loads(path.read_text())
    assert sorted(q["case"] for q in saved["quarantined"]) == ["deep.png", "list.png", "null.png", "wrong.png"]
    assert ReviewStore(path).warning == ""  # quarantined once, not again on every open


def test_a_file_from_a_newer_version_opens_read_only(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    ReviewStore(path).set_verdict("a.png", "h", "plausible")
    data = json.loads(path.read_text())
    data["version"] = 99
    data["future"] = {"something": "we do not know"}
    path.write_text(json.dumps(data))
    before = path.read_bytes()
    store = ReviewStore(path)
    assert store.read_only and "newer Glassbox (format version 99)" in store.warning
    assert store.get("a.png", "h").verdict == "plausible"
    with pytest.raises(BadInputError, match="read-only"):
        store.set_verdict("a.png", "h", "needs review")
    assert path.read_bytes() == before


def test_a_verdict_is_never_saved_to_another_datasets_case(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "r.json", source="/data/set-a")
    store.set_verdict("x.png", "h", "plausible", source="/data/set-a")
    with pytest.raises(BadInputError, match="belongs to /data/set-b"):
        store.set_verdict("x.png", "h", "spurious feature", source="/data/set-b")
    assert ReviewStore(tmp_path / "r.json").get("x.png", "h").verdict == "plausible"


def test_every_edit_is_appended_with_who_when_and_what_was_seen(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "r.json", reviewer="Dr. Ada")
    seen = {"panels": [{"method": "saliency", "params": {"seed": 0}, "target": 3, "map_sha256": "f" * 64}]}
    store.set_verdict("a.png", "h", "plausible", "m" * 64, seen=seen)
    store.set_verdict("a.png", "h", None, "m" * 64)  # cleared: an event too, nothing deleted
    store.set_note("a.png", "h", "first")
    store.set_note("a.png", "h", "")
    history = ReviewStore(tmp_path / "r.json").history("a.png", "h")
    assert [(e["kind"], e["value"]) for e in history] == [
        ("verdict", "plausible"), ("verdict", None), ("note", "first"), ("note", "")]
    assert history[0]["seen"] == seen and history[0]["reviewer"] == "Dr. Ada"
    assert history[0]["os_user"] == os_user() and history[0]["time"].endswith("+00:00")
    assert ReviewStore(tmp_path / "r.json").get("a.png", "h").verdict is None


def test_version_1_files_are_read_with_their_history(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"format": "glassbox-review", "version": 1, "source": "", "cases": {
        "a.png": {"verdict": "needs review", "note": "old note", "hash": "h1", "model_sha256": "m",
                  "updated": "2026-01-01T00:00:02+00:00",
                  "history": [{"verdict": "plausible", "time": "2026-01-01T00:00:00+00:00", "model_sha256": "m",
                               "hash": "h1"},
                              {"verdict": "needs review", "time": "2026-01-01T00:00:01+00:00",
                               "model_sha256": "m", "hash": "h1"}]}}}))
    store = ReviewStore(path)
    review = store.get("a.png", "h1")
    assert (review.verdict, review.note) == ("needs review", "old note") and len(review.history) == 3
    store.set_verdict("a.png", "h1", "plausible")
    assert json.loads(path.read_text())["version"] == 2 and len(ReviewStore(path).history("a.png", "h1")) == 4


def test_a_region_of_interest_is_stored_with_the_review(tmp_path):
    from engine.review import ReviewStore

    store = ReviewStore(tmp_path / "reviews.json")
    region = {"box_top_left_bottom_right": [1, 2, 5, 6], "maps": {"saliency": {"pointing_hit": True, "mass_inside": 0.4}}}
    store.set_verdict("a.png", "h1", "plausible")
    store.set_region("a.png", "h1", region)
    store.set_region("a.png", "h1", {**region, "maps": {}})  # moved: a new event, the old one kept
    again = ReviewStore(tmp_path / "reviews.json")
    review = again.get("a.png", "h1")
    assert review.region == {**region, "maps": {}} and review.verdict == "plausible"
    assert [e["value"] for e in review.history if e["kind"] == "region"] == [region, {**region, "maps": {}}]


def test_unreadable_file_that_cannot_be_moved_aside_is_a_clear_error(tmp_path: Path) -> None:
    """The aside name adds '.unreadable-<time>' (27 characters): past the 255-byte name limit the
    rename fails, and the user reads why instead of a bare OSError."""
    path = tmp_path / ("r" * 240 + ".json")
    path.write_text("{ not json")
    with pytest.raises(BadInputError, match="unreadable review file"):
        ReviewStore(path)
    assert path.read_text() == "{ not json"  # nothing lost
