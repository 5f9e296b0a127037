"""Gaps the mutation harness found in engine.records' tests: a torn first record, a torn line
past the tail, the head's count, the reviewer's name, signing keys and recorded versions."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from engine.errors import BadInputError
from engine.records import RecordLog, new_record, read_records, verify
from engine.records.log import GENESIS, TAIL_BYTES, default_reviewer, glassbox_version, head_path, library_versions
from engine.records.results import explain_record
from engine.records.signing import create_key


def _fresh_log_with_torn_line(tmp_path: Path, torn: bytes) -> RecordLog:
    """The state a kill leaves during the very first append: head at 0, half a line written."""
    log = RecordLog(tmp_path / "records.jsonl")
    head_path(log.path).write_text(json.dumps({"count": 0, "sha256": GENESIS}))
    log.path.write_bytes(torn)
    return log


def test_a_torn_first_record_is_dropped_and_the_chain_starts_at_one(tmp_path: Path) -> None:
    log = _fresh_log_with_torn_line(tmp_path, b'{"action":"no')
    written = log.append(new_record("note", reviewer="ana"))
    assert written["seq"] == 1 and written["prev_sha256"] == GENESIS
    assert verify(log.path).message == "1 records intact"
    assert [r["reviewer"] for r in read_records(log.path)] == ["ana"]


def test_a_torn_line_longer_than_the_tail_is_refused(tmp_path: Path) -> None:
    log = _fresh_log_with_torn_line(tmp_path, b"x" * (TAIL_BYTES + 10))
    with pytest.raises(BadInputError, match=rf"a record longer than {TAIL_BYTES} bytes; the log is damaged\.$"):
        log.append(new_record("note"))
    assert log.path.stat().st_size == TAIL_BYTES + 10  # nothing cut, nothing appended


@pytest.mark.parametrize("count", [-1, "2", None, 1.0])
def test_a_head_with_a_count_that_is_not_a_record_number_is_refused(tmp_path: Path, count) -> None:
    log = RecordLog(tmp_path / "records.jsonl")
    for n in range(2):
        last = log.append(new_record("note", details={"n": n}))
    head_path(log.path).write_text(json.dumps({"count": count, "sha256": last["sha256"]}))
    assert verify(log.path).message == "records.jsonl.head: unreadable count"
    head_path(log.path).write_text(json.dumps({"count": 1, "sha256": last["sha256"]}))  # names record 1...
    assert "differs from the record the log's head names" in verify(log.path).message  # ...with record 2's hash


def test_the_reviewer_is_the_name_given_else_the_login(tmp_path: Path) -> None:
    assert new_record("note", reviewer="ana")["reviewer"] == "ana"
    assert new_record("note")["reviewer"] == new_record("note", reviewer="")["reviewer"] == default_reviewer()


def test_a_second_key_for_a_reviewer_needs_overwrite(tmp_path: Path) -> None:
    first = create_key("ana b")
    with pytest.raises(BadInputError, match=r"^ana b already has a signing key \(.*ana_b\.ed25519\.pem\)\.$"):
        create_key("ana b")
    assert create_key("ana b", overwrite=True).public_hex != first.public_hex


def test_an_explain_record_carries_the_results_versions_and_map_hash() -> None:
    from engine.provenance import sha256_array

    maps = np.arange(6, dtype=np.float32).reshape(1, 2, 3)
    result = SimpleNamespace(method="saliency", params={"abs": True}, seed=3, maps=maps, targets=np.array([2]),
                             provenance={"versions": {"numpy": "9.9"}})
    spec = {"model_sha256": "ab" * 32, "model": "/m/net.keras", "case_name": "c1", "case_sha256": "cd" * 32,
            "target": 2}
    record = explain_record(result, spec, reviewer="ana")
    assert record["versions"] == {"numpy": "9.9", "glassbox": glassbox_version()}
    assert record["model_name"] == "net.keras" and record["method"] == "saliency" and record["seed"] == 3
    assert record["details"]["maps_sha256"] == sha256_array(maps) and record["details"]["targets"] == [2]
    no_provenance = explain_record(SimpleNamespace(**{**vars(result), "provenance": None}), spec, reviewer="ana")
    assert no_provenance["versions"] == {**library_versions(), "glassbox": glassbox_version()}
