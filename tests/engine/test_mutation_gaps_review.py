"""Gaps the mutation harness found in engine.review's tests: the file's format version, its
size limit, nesting depth, temp files left by a killed writer, and empty notes."""

from __future__ import annotations

import json
import os
from pathlib import Path

from engine import review
from engine.review import ReviewStore


def test_the_file_is_format_version_2_and_a_hand_written_v2_file_reads(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    ReviewStore(path).set_verdict("a.png", "h1", "plausible")
    data = json.loads(path.read_text())
    assert data["format"] == "glassbox-review" and data["version"] == 2  # what other installs read
    store = ReviewStore(path)
    assert not store.read_only and store.get("a.png", "h1").verdict == "plausible"


def test_a_review_file_past_256_mib_is_moved_aside_unread(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    with path.open("wb") as handle:
        handle.truncate((256 << 20) + 1)  # sparse: no disk used, and it is never read
    store = ReviewStore(path)
    assert "larger than the limit of 256.0 MiB" in store.warning
    assert not path.exists() and store.cases == {}


def test_nesting_depth_counts_each_level_once() -> None:
    assert review._depth(1) == 1
    assert review._depth({"a": [1, {"b": 2}]}) == 4
    assert review._depth([[[]]]) == 3
    deep: object = 0
    for _ in range(50):
        deep = [deep]
    assert review._depth(deep, limit=10) == 11  # stops counting just past the limit


def test_opening_removes_temp_files_a_killed_writer_left(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    ReviewStore(path).set_note("a.png", "h1", "first")
    left = tmp_path / ".r.json.abc123.tmp"
    left.write_text("{half")
    os.utime(left, (1, 1))
    store = ReviewStore(path)
    assert not left.exists() and store.get("a.png", "h1").note == "first"


def test_an_empty_note_on_a_new_case_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    store = ReviewStore(path)
    empty = store.set_note("a.png", "h1", "")
    assert empty.note == "" and empty.verdict is None and not path.exists()
    store.set_verdict("a.png", "h1", "needs review")
    assert store.set_note("b.png", "h2", "").note == "" and store.get("b.png", "h2") is None
