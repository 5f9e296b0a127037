"""The record log: every kind of tampering is caught and the right record named; appends survive
SIGKILL and two writers at once; signatures tie records to a reviewer's key."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from engine.errors import BadInputError
from engine.records import RecordLog, artefact, log_path_for_review, new_record, read_records, verify
from engine.records.log import canonical, head_path, record_hash
from engine.records.signing import create_key, load_signer

ROOT = Path(__file__).resolve().parents[2]


def _append_result(log: RecordLog, folder: Path, n: int) -> None:
    """An explain record with a map and its provenance JSON, as `main.py explain` writes them."""
    npy = folder / f"case{n}_saliency.npy"
    np.save(npy, np.arange(16, dtype=np.float32).reshape(4, 4) * n)
    meta = folder / f"case{n}_saliency.json"
    meta.write_text(json.dumps({"method": "saliency", "case": n}))
    log.append(new_record(
        "explain", reviewer="alice", model_sha256="ab" * 32, case_path=f"case {n}", case_sha256="cd" * 32,
        method="saliency", params={"abs": True, "n": n}, seed=0, target=1,
        artefacts=[artefact(npy, "maps", folder), artefact(meta, "provenance", folder)],
    ))


def build_folder(folder: Path, signed: bool) -> Path:
    """Five explain records, a verdict and a report record: seven records in all."""
    folder.mkdir(parents=True, exist_ok=True)
    signer = create_key("alice") if signed else None
    log = RecordLog(folder / "records.jsonl", signer=signer)
    for n in range(1, 6):
        _append_result(log, folder, n)
    log.append(new_record("verdict", reviewer="alice", case_path="case 2", details={"verdict": "plausible"}))
    report = folder / "report.html"
    report.write_text("<html><body>report</body></html>")
    log.append(new_record("report", reviewer="alice", artefacts=[artefact(report, "report", folder)]))
    return log.path


def _lines(log: Path) -> list[bytes]:
    return log.read_bytes().split(b"\n")[:-1]


def _write_lines(log: Path, lines: list[bytes]) -> None:
    log.write_bytes(b"".join(line + b"\n" for line in lines))


def _edit(log: Path, n: int, change: Callable[[dict], None], rehash: bool = False) -> None:
    lines = _lines(log)
    record = json.loads(lines[n - 1])
    change(record)
    if rehash:
        record["sha256"] = record_hash(record)
    lines[n - 1] = canonical(record)
    _write_lines(log, lines)


def flip_byte(folder: Path) -> None:
    data = bytearray((folder / "case3_saliency.npy").read_bytes())
    data[-3] ^= 0x01
    (folder / "case3_saliency.npy").write_bytes(bytes(data))


def edit_param(folder: Path) -> None:
    _edit(folder / "records.jsonl", 2, lambda r: r["params"].update(n=99))


def edit_time(folder: Path) -> None:
    _edit(folder / "records.jsonl", 4, lambda r: r.update(time="2020-01-01T00:00:00.000Z"))


def remove_record(folder: Path) -> None:
    lines = _lines(folder / "records.jsonl")
    del lines[2]
    _write_lines(folder / "records.jsonl", lines)


def swap_records(folder: Path) -> None:
    lines = _lines(folder / "records.jsonl")
    lines[2], lines[3] = lines[3], lines[2]
    _write_lines(folder / "records.jsonl", lines)


def truncate_mid_line(folder: Path) -> None:
    log = folder / "records.jsonl"
    data = log.read_bytes()
    log.write_bytes(data[: len(data) - 40])


def drop_last_record(folder: Path) -> None:
    lines = _lines(folder / "records.jsonl")
    _write_lines(folder / "records.jsonl", lines[:-1])


def edit_report(folder: Path) -> None:
    report = folder / "report.html"
    report.write_text(report.read_text().replace("report", "all fine"))


def delete_map(folder: Path) -> None:
    (folder / "case4_saliency.npy").unlink()


def delete_provenance(folder: Path) -> None:
    (folder / "case1_saliency.json").unlink()


def append_wrong_prev(folder: Path) -> None:
    log = folder / "records.jsonl"
    last = json.loads(_lines(log)[-1])
    forged = {**last, "seq": last["seq"] + 1, "id": "f" * 16, "prev_sha256": "e" * 64, "action": "verdict"}
    forged.pop("signature", None)
    forged["sha256"] = record_hash(forged)
    with log.open("ab") as handle:
        handle.write(canonical(forged) + b"\n")


def delete_head(folder: Path) -> None:
    head_path(folder / "records.jsonl").unlink()


def resign_other_key(folder: Path) -> None:
    mallory = create_key("mallory")

    def forge(record: dict) -> None:
        record["details"] = {"verdict": "spurious feature"}
        record["sha256"] = record_hash(record)
        record["signature"] = mallory.sign(record)

    _edit(folder / "records.jsonl", 6, forge)


def rehash_signed(folder: Path) -> None:
    _edit(folder / "records.jsonl", 5, lambda r: r["params"].update(n=7), rehash=True)


def strip_signature(folder: Path) -> None:
    _edit(folder / "records.jsonl", 3, lambda r: r.pop("signature"))


TAMPERING = [  # (what, how, signed log?, first bad record, words in the reason)
    ("byte flipped in a map", flip_byte, False, 3, "artefact case3_saliency.npy changed"),
    ("parameter edited", edit_param, False, 2, "edited"),
    ("time edited", edit_time, False, 4, "edited"),
    ("record removed", remove_record, False, 3, "missing"),
    ("two records swapped", swap_records, False, 3, "out of order"),
    ("log truncated mid-line", truncate_mid_line, False, 7, "truncated mid-line"),
    ("last record removed", drop_last_record, False, 7, "missing"),
    ("report edited", edit_report, False, 7, "artefact report.html changed"),
    ("map deleted", delete_map, False, 4, "artefact case4_saliency.npy is missing"),
    ("provenance deleted", delete_provenance, False, 1, "artefact case1_saliency.json is missing"),
    ("record appended with a wrong previous hash", append_wrong_prev, False, 8, "chain broken"),
    ("head file deleted", delete_head, False, 7, "head file"),
    ("signature from another key", resign_other_key, True, 6, "another key"),
    ("edited and rehashed in a signed log", rehash_signed, True, 5, "bad signature"),
    ("signature stripped", strip_signature, True, 3, "unsigned, but alice signs (key of record 1)"),
]


@pytest.mark.parametrize(("what", "tamper", "signed", "bad", "reason"), TAMPERING, ids=[t[0] for t in TAMPERING])
def test_tampering_is_detected_naming_the_record(
    tmp_path: Path, what: str, tamper: Callable[[Path], None], signed: bool, bad: int, reason: str
) -> None:
    build_folder(tmp_path, signed)
    assert verify(tmp_path).message == "7 records intact"
    tamper(tmp_path)
    result = verify(tmp_path)
    assert not result.ok
    assert result.message.startswith(f"record {bad}:") or result.message.startswith(f"record {bad} (id ")
    assert reason in result.message
    assert "\n" not in result.message


def test_a_log_re_signed_throughout_by_another_key_fails_only_against_a_pinned_key(tmp_path: Path) -> None:
    log = build_folder(tmp_path, signed=True)
    alice = load_signer("alice").public_hex
    mallory = create_key("mallory")
    lines, previous = [], "0" * 64
    for line in _lines(log):  # rewrite every record: new verdict, new chain, mallory's signature
        record = json.loads(line)
        if record["action"] == "verdict":
            record["details"] = {"verdict": "spurious feature"}
        record["prev_sha256"] = previous
        record["sha256"] = previous = record_hash(record)
        record["signature"] = mallory.sign(record)
        lines.append(canonical(record))
    _write_lines(log, lines)
    head_path(log).write_text(json.dumps({"count": len(lines), "sha256": previous}))
    assert verify(tmp_path).ok  # nothing inside the log can tell
    pinned = verify(tmp_path, keys={"alice": alice})
    assert pinned.message.startswith("record 1 (id ") and "not alice's key given with --key" in pinned.message


def test_report_path_verifies_through_the_log_it_names(tmp_path: Path) -> None:
    log = build_folder(tmp_path, signed=False)
    report = tmp_path / "elsewhere" / "case.html"
    report.parent.mkdir()
    report.write_text(f'<meta name="glassbox-records" content="glassbox-records={log}">')
    assert "not named by any record" in verify(report).message
    RecordLog(log).append(new_record("report", artefacts=[artefact(report, "report", log.parent)]))
    assert verify(report).message == "8 records intact"
    report.write_text(report.read_text() + " ")
    assert verify(report).message.startswith("record 8 (id ")


def test_records_hold_the_contract_fields_and_chain(tmp_path: Path) -> None:
    log = build_folder(tmp_path, signed=True)
    records = read_records(log)
    first, second = records[0], records[1]
    for field in ("time", "reviewer", "action", "model_sha256", "case_path", "case_sha256", "method", "params",
                  "seed", "target", "versions", "artefacts", "prev_sha256", "sha256", "signature", "id", "seq"):
        assert field in first
    assert first["prev_sha256"] == "0" * 64 and second["prev_sha256"] == first["sha256"]
    assert {"numpy", "python", "glassbox"} <= set(first["versions"])
    assert first["signature"]["public_key"] == load_signer("alice").public_hex
    assert first["time"].endswith("Z")


def test_log_beside_review_file() -> None:
    assert log_path_for_review(Path("/d/.glassbox-review.json")) == Path("/d/.glassbox-records.jsonl")
    assert log_path_for_review(Path("/d/cases.npz.review.json")) == Path("/d/cases.npz.records.jsonl")


def test_torn_unacknowledged_line_is_dropped_but_a_cut_record_is_refused(tmp_path: Path) -> None:
    log = RecordLog(tmp_path / "records.jsonl")
    for n in range(3):
        log.append(new_record("note", details={"n": n}))
    with log.path.open("ab") as handle:  # a kill during the 4th write: the head still says 3
        handle.write(b'{"action":"no')
    log.append(new_record("note", details={"n": 3}))
    assert verify(log.path).message == "4 records intact"
    assert [r["details"]["n"] for r in read_records(log.path)] == [0, 1, 2, 3]
    log.path.write_bytes(log.path.read_bytes()[:-10])  # an acknowledged record cut short
    with pytest.raises(BadInputError, match="cut off"):
        log.append(new_record("note"))


WRITER = """
import sys
sys.path.insert(0, {root!r})
from engine.records import RecordLog, new_record
log = RecordLog(sys.argv[1])
for n in range(int(sys.argv[3])):
    record = log.append(new_record("note", reviewer=sys.argv[2], details={{"n": n, "pad": "x" * 2000}}))
    print(record["seq"], flush=True)
"""


def _writer(log: Path, name: str, count: int) -> subprocess.Popen:
    code = WRITER.format(root=str(ROOT))
    return subprocess.Popen([sys.executable, "-I", "-c", code, str(log), name, str(count)],
                            stdout=subprocess.PIPE, text=True)


def test_sigkill_loop_never_loses_an_acknowledged_record(tmp_path: Path) -> None:
    log = tmp_path / "records.jsonl"
    rng = random.Random(0)
    acknowledged = 0
    for _ in range(12):
        child = _writer(log, "killed", 100000)
        first = child.stdout.readline()  # started appending
        time.sleep(rng.uniform(0.0, 0.15))
        os.kill(child.pid, signal.SIGKILL)
        rest = child.stdout.read()
        child.wait()
        seqs = [int(s) for s in (first + rest).split()]
        acknowledged = max([acknowledged, *seqs])
        result = verify(log)
        assert result.ok, result.message
        assert result.count >= acknowledged
    assert acknowledged > 12


def test_two_processes_append_at_once_without_losing_records(tmp_path: Path) -> None:
    log = tmp_path / "records.jsonl"
    writers = [_writer(log, name, 150) for name in ("one", "two")]
    for child in writers:
        child.communicate()
        assert child.returncode == 0
    assert verify(log).message == "300 records intact"
    records = read_records(log)
    for name in ("one", "two"):
        assert [r["details"]["n"] for r in records if r["reviewer"] == name] == list(range(150))


def test_copy_of_an_intact_folder_verifies(tmp_path: Path) -> None:
    build_folder(tmp_path / "a", signed=True)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert verify(tmp_path / "b" / "records.jsonl").message == "7 records intact"
